//! The wasm32 glue: the Spin HTTP export, and [`Platform`] implemented with the
//! `mindflow:platform` imports (bound by `wit-bindgen` from the `domain-imports` world; only
//! the interfaces called here become imports of the component).

use chrono::{DateTime, Utc};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

use crate::api;
use crate::platform::{
    AggregateFn, AggregateRequest, AggregateRow, Comparison, CrisisOutcome, CrisisResource,
    CrisisUnavailable, Filter, Grouping, Page, PageRequest, Platform, Row, StorageError, User,
    Value, Write,
};

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "mindflow:platform/domain-imports",
        generate_all,
    });
}

use bindings::mindflow::platform::{context, crisis, ml, storage, types};

const OPENAPI_JSON: &[u8] = include_bytes!("../openapi.json");
/// The component's OpenAPI 3.1 fragment (paths relative to `/api/v1/mood`), read by the host
/// from this custom section.
#[unsafe(link_section = "mindflow:openapi")]
#[used]
static OPENAPI: [u8; OPENAPI_JSON.len()] = *include_bytes!("../openapi.json");

#[http_component]
fn handle(req: Request) -> Response {
    let path = req
        .header("spin-path-info")
        .and_then(|h| h.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let full = req.path();
            full.strip_prefix(api::BASE_PATH).unwrap_or(full).to_owned()
        });
    let method = match req.method() {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Patch => "PATCH",
        Method::Head => "HEAD",
        Method::Options => "OPTIONS",
        Method::Connect => "CONNECT",
        Method::Trace => "TRACE",
        Method::Other(other) => other.as_str(),
    };
    let reply = api::handle(
        &Host,
        &api::Request {
            method,
            path: &path,
            query: req.query(),
            body: req.body(),
        },
    );
    let mut response = Response::builder();
    response.status(reply.status);
    for (name, value) in reply.headers {
        response.header(name, value);
    }
    response.body(reply.body).build()
}

/// The host, through the WIT imports.
struct Host;

fn to_wit(value: Value) -> storage::Value {
    match value {
        Value::Null | Value::Other => storage::Value::Null,
        Value::Bytes(b) => storage::Value::Bytes(b),
        Value::Bool(b) => storage::Value::Boolean(b),
        Value::Int(i) => storage::Value::Integer(i),
        Value::Float(f) => storage::Value::Float(f),
        Value::Text(s) => storage::Value::Text(s),
        Value::Timestamp(s) => storage::Value::Timestamp(s),
        Value::Date(s) => storage::Value::Date(s),
        Value::Uuid(s) => storage::Value::Uuid(s),
        Value::Json(s) => storage::Value::Json(s),
    }
}

fn from_wit(value: storage::Value) -> Value {
    match value {
        storage::Value::Null => Value::Null,
        storage::Value::Boolean(b) => Value::Bool(b),
        storage::Value::Integer(i) => Value::Int(i),
        storage::Value::Float(f) => Value::Float(f),
        storage::Value::Text(s) => Value::Text(s),
        storage::Value::Timestamp(s) => Value::Timestamp(s),
        storage::Value::Date(s) => Value::Date(s),
        storage::Value::Uuid(s) => Value::Uuid(s),
        storage::Value::Json(s) => Value::Json(s),
        storage::Value::Bytes(b) => Value::Bytes(b),
        storage::Value::Vector(_) => Value::Other,
    }
}

fn row_to_wit(row: Row) -> Vec<storage::Column> {
    row.into_iter()
        .map(|(name, value)| storage::Column {
            name,
            value: to_wit(value),
        })
        .collect()
}

fn row_from_wit(row: Vec<storage::Column>) -> Row {
    row.into_iter()
        .map(|c| (c.name, from_wit(c.value)))
        .collect()
}

fn filter_to_wit(filter: Filter) -> storage::Filter {
    storage::Filter {
        field: filter.field,
        comparison: match filter.comparison {
            Comparison::Eq => storage::Comparison::Eq,
            Comparison::Ne => storage::Comparison::Ne,
            Comparison::Lt => storage::Comparison::Lt,
            Comparison::Le => storage::Comparison::Le,
            Comparison::Gt => storage::Comparison::Gt,
            Comparison::Ge => storage::Comparison::Ge,
        },
        value: to_wit(filter.value),
    }
}

fn error_from_wit(error: storage::StorageError) -> StorageError {
    match error {
        storage::StorageError::NotGranted(c) => StorageError::NotGranted(c),
        storage::StorageError::NotFound => StorageError::NotFound,
        storage::StorageError::Invalid(e) => StorageError::Invalid {
            field: e.field,
            message: e.message,
        },
        storage::StorageError::Conflict(c) => StorageError::Conflict(c),
        storage::StorageError::Unavailable => StorageError::Unavailable,
    }
}

fn severity(s: types::Severity) -> &'static str {
    match s {
        types::Severity::None => "none",
        types::Severity::Low => "low",
        types::Severity::Moderate => "moderate",
        types::Severity::High => "high",
        types::Severity::Imminent => "imminent",
    }
}

impl Platform for Host {
    fn current_user(&self) -> Option<User> {
        context::current_user().map(|u| User {
            id: u.id,
            premium: matches!(u.tier, types::Tier::Premium),
            timezone: u.timezone,
        })
    }

    fn get(&self, collection: &str, id: &str) -> Result<Row, StorageError> {
        storage::get(collection, id)
            .map(row_from_wit)
            .map_err(error_from_wit)
    }

    fn delete(&self, collection: &str, id: &str) -> Result<(), StorageError> {
        storage::delete(collection, id).map_err(error_from_wit)
    }

    fn query(&self, collection: &str, request: PageRequest) -> Result<Page, StorageError> {
        let request = storage::PageRequest {
            filters: request.filters.into_iter().map(filter_to_wit).collect(),
            order_by: request.order_by,
            descending: request.descending,
            limit: request.limit,
            cursor: request.cursor,
        };
        storage::query(collection, &request)
            .map(|page| Page {
                rows: page.rows.into_iter().map(row_from_wit).collect(),
                next_cursor: page.next_cursor,
            })
            .map_err(error_from_wit)
    }

    fn children(
        &self,
        collection: &str,
        field: &str,
        parent_ids: &[String],
    ) -> Result<Vec<Row>, StorageError> {
        storage::children(collection, field, parent_ids)
            .map(|rows| rows.into_iter().map(row_from_wit).collect())
            .map_err(error_from_wit)
    }

    fn aggregate(
        &self,
        collection: &str,
        request: AggregateRequest,
    ) -> Result<Vec<AggregateRow>, StorageError> {
        let request = storage::AggregateRequest {
            filters: request.filters.into_iter().map(filter_to_wit).collect(),
            measures: request
                .measures
                .into_iter()
                .map(|(field, f)| {
                    let f = match f {
                        AggregateFn::Count => storage::AggregateFn::Count,
                        AggregateFn::Avg => storage::AggregateFn::Avg,
                        AggregateFn::Min => storage::AggregateFn::Min,
                        AggregateFn::Max => storage::AggregateFn::Max,
                        AggregateFn::Stddev => storage::AggregateFn::Stddev,
                    };
                    (field, f)
                })
                .collect(),
            grouping: match request.grouping {
                Grouping::None => storage::Grouping::None,
                Grouping::Day => storage::Grouping::Day,
                Grouping::IsoWeek => storage::Grouping::IsoWeek,
                Grouping::Weekday => storage::Grouping::Weekday,
                Grouping::Hour => storage::Grouping::Hour,
                Grouping::FieldValue => storage::Grouping::FieldValue,
            },
            group_field: request.group_field,
        };
        storage::aggregate(collection, &request)
            .map(|rows| {
                rows.into_iter()
                    .map(|r| AggregateRow {
                        group: r.group,
                        values: r.values,
                    })
                    .collect()
            })
            .map_err(error_from_wit)
    }

    fn batch(&self, writes: Vec<Write>) -> Result<Vec<Option<Row>>, StorageError> {
        let writes: Vec<storage::Write> = writes
            .into_iter()
            .map(|w| match w {
                Write::Insert(c, row) => storage::Write::Insert((c, row_to_wit(row))),
                Write::Update(c, id, row) => storage::Write::Update((c, id, row_to_wit(row))),
                Write::Delete(c, id) => storage::Write::Delete((c, id)),
            })
            .collect();
        storage::batch(&writes)
            .map(|rows| rows.into_iter().map(|r| r.map(row_from_wit)).collect())
            .map_err(error_from_wit)
    }

    fn sentiment(&self, text: &str) -> f32 {
        ml::sentiment(text)
    }

    fn assess(&self, text: &str, source: &str) -> Result<CrisisOutcome, CrisisUnavailable> {
        let outcome = crisis::assess(text, source).map_err(|_| CrisisUnavailable)?;
        Ok(CrisisOutcome {
            severity: severity(outcome.severity),
            triggered: outcome.triggered,
            about_someone_else: outcome.about_someone_else,
            resources: outcome
                .resources
                .into_iter()
                .map(|r| CrisisResource {
                    name: r.name,
                    description: r.description,
                    phone_number: r.phone_number,
                    sms_number: r.sms_number,
                    website_url: r.website_url,
                    available_24_7: r.available_24_7,
                })
                .collect(),
        })
    }

    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(std::time::SystemTime::now())
    }

    fn new_id(&self) -> String {
        uuid::Uuid::new_v4().hyphenated().to_string()
    }
}
