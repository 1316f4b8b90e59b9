//! A finished span as OTLP describes it, and its fields turned into attributes.
//!
//! Only this host's own spans are exported (see [`super::layer`]), and their fields hold no
//! user data by construction: route *patterns*, methods, statuses, component names and
//! versions, collection names, and this host's SQL text with placeholders.

use tracing::field::{Field, Visit};

/// OTLP's span kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// Work inside the process (a component call, a capability call).
    Internal = 1,
    /// An incoming request.
    Server = 2,
    /// A call out of the process (a database statement).
    Client = 3,
}

impl SpanKind {
    /// The kind of a span by its name.
    pub fn of(name: &str) -> Self {
        match name {
            "request" => Self::Server,
            "db.statement" => Self::Client,
            _ => Self::Internal,
        }
    }
}

/// An attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text.
    Text(String),
    /// A whole number.
    Int(i64),
    /// A float.
    Float(f64),
    /// A flag.
    Bool(bool),
}

/// A span, finished, ready to encode.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedSpan {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub span_id: String,
    /// The parent's span id, when it has one (in this process or the caller's).
    pub parent_span_id: Option<String>,
    /// The span's name (`request`, `component`, `capability.storage.insert`, …).
    pub name: &'static str,
    /// Its kind.
    pub kind: SpanKind,
    /// Start, in nanoseconds since the Unix epoch.
    pub start_unix_ns: u64,
    /// End, likewise.
    pub end_unix_ns: u64,
    /// Its attributes, with semantic-convention names where one exists.
    pub attributes: Vec<(String, Value)>,
    /// Whether it ended in an error (a 5xx answer).
    pub error: bool,
}

/// The trace fields a span may carry instead of inheriting them.
#[derive(Debug, Default, Clone)]
pub struct TraceFields {
    /// `trace_id`: 32 hex digits.
    pub trace_id: Option<String>,
    /// `span_id`: 16 hex digits.
    pub span_id: Option<String>,
    /// `parent_span_id`: the caller's span.
    pub parent_span_id: Option<String>,
    /// `trace_flags`: `00` is not sampled.
    pub flags: Option<String>,
}

/// The OTLP attribute name of a span field: OpenTelemetry's semantic conventions where they
/// name it, else `mindflow.<field>`.
pub fn attribute_name(field: &str) -> String {
    match field {
        "method" => "http.request.method".into(),
        "route" => "http.route".into(),
        "status" => "http.response.status_code".into(),
        "sql" => "db.query.text".into(),
        "verb" => "db.operation.name".into(),
        "component" => "mindflow.component".into(),
        "version" => "mindflow.component.version".into(),
        other => format!("mindflow.{other}"),
    }
}

/// Collects a span's fields: the trace fields apart, the rest as attributes.
#[derive(Debug, Default)]
pub struct Fields {
    /// The trace fields.
    pub trace: TraceFields,
    /// The other fields, by OTLP name.
    pub attributes: Vec<(String, Value)>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        let text = || match &value {
            Value::Text(text) => Some(text.clone()),
            _ => None,
        };
        match field.name() {
            "trace_id" => self.trace.trace_id = text(),
            "span_id" => self.trace.span_id = text(),
            "parent_span_id" => self.trace.parent_span_id = text(),
            "trace_flags" => self.trace.flags = text(),
            name => {
                let key = attribute_name(name);
                match self.attributes.iter_mut().find(|(k, _)| *k == key) {
                    Some(slot) => slot.1 = value,
                    None => self.attributes.push((key, value)),
                }
            }
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::Text(value.to_owned()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::Int(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::Int(i64::try_from(value).unwrap_or(i64::MAX)));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::Float(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // `%value` fields arrive here already formatted with Display.
        self.put(field, Value::Text(format!("{value:?}")));
    }
}

/// Whether the attributes say the request failed on the server's side (a 5xx status).
pub fn is_error(attributes: &[(String, Value)]) -> bool {
    attributes.iter().any(|(key, value)| {
        key == "http.response.status_code"
            && match value {
                Value::Int(status) => *status >= 500,
                Value::Text(status) => status.parse::<i64>().is_ok_and(|s| s >= 500),
                _ => false,
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_map_to_semantic_convention_names() {
        assert_eq!(attribute_name("route"), "http.route");
        assert_eq!(attribute_name("sql"), "db.query.text");
        assert_eq!(attribute_name("collection"), "mindflow.collection");
        assert_eq!(SpanKind::of("request"), SpanKind::Server);
        assert_eq!(SpanKind::of("db.statement"), SpanKind::Client);
        assert_eq!(SpanKind::of("component"), SpanKind::Internal);
    }

    #[test]
    fn a_5xx_status_marks_an_error() {
        let with = |v: Value| vec![("http.response.status_code".to_owned(), v)];
        assert!(is_error(&with(Value::Int(503))));
        assert!(is_error(&with(Value::Text("500".into()))));
        assert!(!is_error(&with(Value::Int(404))));
        assert!(!is_error(&[]));
    }
}
