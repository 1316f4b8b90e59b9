//! The bodies of `POST /logs` and `PATCH /logs/{id}`: parsed from JSON by hand, so every
//! problem names its field (`mood_score`, `factors[2].impact_score`) and every problem is
//! reported at once. Unknown members are refused; members the server computes are refused
//! with a message saying so.

use chrono::{DateTime, Duration, Utc};
use mindflow_component_kit::FieldError;
use mindflow_component_kit::instant::parse_instant;
use mindflow_component_kit::validate::{keep, object};
use serde_json::{Map, Value};

/// Where a log was written (`location_type`).
pub const LOCATION_TYPES: [&str; 7] = [
    "home", "work", "school", "outdoors", "commute", "social", "other",
];
/// The longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 5000;
/// The most factors on one log.
pub const MAX_FACTORS: usize = 20;
/// The longest `factor_type`, in characters (the column is VARCHAR(30)).
pub const MAX_FACTOR_TYPE_CHARS: usize = 30;
/// The longest `factor_value`, in characters (VARCHAR(50)).
pub const MAX_FACTOR_VALUE_CHARS: usize = 50;
/// How far in the future `logged_at` may be (clock skew between a phone and the server).
pub const FUTURE_TOLERANCE: Duration = Duration::minutes(5);

/// Columns the server computes: a client may read them but never send them.
const COMPUTED: [&str; 7] = [
    "id",
    "note_sentiment",
    "time_of_day",
    "day_of_week",
    "processed_for_insights",
    "crisis_flag_triggered",
    "created_at",
];

/// A factor as sent by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorInput {
    /// The kind of factor, trimmed and lowercased (`sleep`, `exercise`, …).
    pub factor_type: String,
    /// A free-form value (`7h`, `run`).
    pub factor_value: Option<String>,
    /// How much it helped (+) or hurt (−), −5..5.
    pub impact_score: Option<i64>,
}

/// A new mood log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLog {
    /// 1..10.
    pub mood_score: i64,
    /// 1..10.
    pub energy_level: Option<i64>,
    /// 1..10.
    pub anxiety_level: Option<i64>,
    /// At most [`MAX_NOTE_CHARS`] characters.
    pub note: Option<String>,
    /// When the mood was felt; `None`: now.
    pub logged_at: Option<DateTime<Utc>>,
    /// One of [`LOCATION_TYPES`].
    pub location_type: Option<String>,
    /// At most [`MAX_FACTORS`].
    pub factors: Vec<FactorInput>,
}

/// A partial update: an outer `None` keeps the stored value; `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogPatch {
    /// New mood score (never null).
    pub mood_score: Option<i64>,
    /// New energy level.
    pub energy_level: Option<Option<i64>>,
    /// New anxiety level.
    pub anxiety_level: Option<Option<i64>>,
    /// New note.
    pub note: Option<Option<String>>,
    /// New instant (never null).
    pub logged_at: Option<DateTime<Utc>>,
    /// New location type.
    pub location_type: Option<Option<String>>,
    /// The new factor list, replacing the old one (`null` clears it).
    pub factors: Option<Vec<FactorInput>>,
}

impl LogPatch {
    /// Whether the patch changes nothing at all.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Parses the body of `POST /logs`.
///
/// # Errors
/// Every field problem found.
pub fn parse_new(body: &[u8], now: DateTime<Utc>) -> Result<NewLog, Vec<FieldError>> {
    let object = object(body)?;
    let mut errors = Vec::new();
    let fields = Fields::read(&object, &mut errors);
    let mood_score = match fields.mood_score {
        None => {
            errors.push(FieldError::new("mood_score", "is required"));
            None
        }
        Some(v) => keep(score("mood_score", v, 1, 10, false), &mut errors).flatten(),
    };
    let log = NewLog {
        mood_score: mood_score.unwrap_or_default(),
        energy_level: fields
            .energy_level
            .and_then(|v| keep(score("energy_level", v, 1, 10, true), &mut errors))
            .flatten(),
        anxiety_level: fields
            .anxiety_level
            .and_then(|v| keep(score("anxiety_level", v, 1, 10, true), &mut errors))
            .flatten(),
        note: fields
            .note
            .and_then(|v| keep(note(v), &mut errors))
            .flatten(),
        logged_at: fields
            .logged_at
            .and_then(|v| keep(logged_at(v, now), &mut errors)),
        location_type: fields
            .location_type
            .and_then(|v| keep(location_type(v), &mut errors))
            .flatten(),
        factors: fields
            .factors
            .and_then(|v| keep(factors(v), &mut errors))
            .unwrap_or_default(),
    };
    if errors.is_empty() {
        Ok(log)
    } else {
        Err(errors)
    }
}

/// Parses the body of `PATCH /logs/{id}`.
///
/// # Errors
/// Every field problem found.
pub fn parse_patch(body: &[u8], now: DateTime<Utc>) -> Result<LogPatch, Vec<FieldError>> {
    let object = object(body)?;
    let mut errors = Vec::new();
    let fields = Fields::read(&object, &mut errors);
    let patch = LogPatch {
        mood_score: fields
            .mood_score
            .and_then(|v| keep(score("mood_score", v, 1, 10, false), &mut errors))
            .flatten(),
        energy_level: fields
            .energy_level
            .and_then(|v| keep(score("energy_level", v, 1, 10, true), &mut errors)),
        anxiety_level: fields
            .anxiety_level
            .and_then(|v| keep(score("anxiety_level", v, 1, 10, true), &mut errors)),
        note: fields.note.and_then(|v| keep(note(v), &mut errors)),
        logged_at: fields
            .logged_at
            .and_then(|v| keep(logged_at(v, now), &mut errors)),
        location_type: fields
            .location_type
            .and_then(|v| keep(location_type(v), &mut errors)),
        factors: fields.factors.and_then(|v| keep(factors(v), &mut errors)),
    };
    if errors.is_empty() {
        Ok(patch)
    } else {
        Err(errors)
    }
}

/// The members a client may send, as found in the body.
struct Fields<'a> {
    mood_score: Option<&'a Value>,
    energy_level: Option<&'a Value>,
    anxiety_level: Option<&'a Value>,
    note: Option<&'a Value>,
    logged_at: Option<&'a Value>,
    location_type: Option<&'a Value>,
    factors: Option<&'a Value>,
}

impl<'a> Fields<'a> {
    fn read(object: &'a Map<String, Value>, errors: &mut Vec<FieldError>) -> Self {
        let mut fields = Self {
            mood_score: None,
            energy_level: None,
            anxiety_level: None,
            note: None,
            logged_at: None,
            location_type: None,
            factors: None,
        };
        for (name, value) in object {
            let slot = match name.as_str() {
                "mood_score" => &mut fields.mood_score,
                "energy_level" => &mut fields.energy_level,
                "anxiety_level" => &mut fields.anxiety_level,
                "note" => &mut fields.note,
                "logged_at" => &mut fields.logged_at,
                "location_type" => &mut fields.location_type,
                "factors" => &mut fields.factors,
                computed if COMPUTED.contains(&computed) => {
                    errors.push(FieldError::new(
                        computed,
                        "is computed by the server and cannot be set",
                    ));
                    continue;
                }
                unknown => {
                    errors.push(FieldError::new(unknown, "unknown field"));
                    continue;
                }
            };
            *slot = Some(value);
        }
        fields
    }
}

/// An integer score in `min..=max`; `Ok(None)` for `null` when `nullable`. A number with no
/// fractional part (`7.0`) is an integer, as JSON Schema counts it.
fn score(
    field: &str,
    value: &Value,
    min: i64,
    max: i64,
    nullable: bool,
) -> Result<Option<i64>, FieldError> {
    let range = || FieldError::new(field, format!("must be an integer from {min} to {max}"));
    match value {
        Value::Null if nullable => Ok(None),
        Value::Null => Err(FieldError::new(field, "must not be null")),
        Value::Number(n) => {
            // The range is small: find the score equal to the number instead of casting.
            let integral = n.as_i64().or_else(|| {
                let f = n.as_f64()?;
                (min..=max).find(|&i| i32::try_from(i).is_ok_and(|i| f64::from(i) == f))
            });
            match integral {
                Some(i) if (min..=max).contains(&i) => Ok(Some(i)),
                _ => Err(range()),
            }
        }
        _ => Err(range()),
    }
}

/// Text of at most `max` characters, without NUL; `Ok(None)` for `null`.
fn text(field: &str, value: &Value, max: usize) -> Result<Option<String>, FieldError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.contains('\0') => {
            Err(FieldError::new(field, "must not contain NUL characters"))
        }
        Value::String(s) if s.chars().count() > max => Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        )),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(FieldError::new(field, "must be a string")),
    }
}

fn note(value: &Value) -> Result<Option<String>, FieldError> {
    text("note", value, MAX_NOTE_CHARS)
}

fn logged_at(value: &Value, now: DateTime<Utc>) -> Result<DateTime<Utc>, FieldError> {
    let Value::String(s) = value else {
        let message = if value.is_null() {
            "must not be null (omit it to mean now)"
        } else {
            "must be an RFC 3339 timestamp string"
        };
        return Err(FieldError::new("logged_at", message));
    };
    let instant = parse_instant(s).map_err(|m| FieldError::new("logged_at", m))?;
    if instant > now + FUTURE_TOLERANCE {
        return Err(FieldError::new(
            "logged_at",
            "must not be more than 5 minutes in the future",
        ));
    }
    Ok(instant)
}

fn location_type(value: &Value) -> Result<Option<String>, FieldError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if LOCATION_TYPES.contains(&s.as_str()) => Ok(Some(s.clone())),
        _ => Err(FieldError::new(
            "location_type",
            format!("must be one of {}", LOCATION_TYPES.join(", ")),
        )),
    }
}

fn factors(value: &Value) -> Result<Vec<FactorInput>, FieldError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => return Err(FieldError::new("factors", "must be an array of factors")),
    };
    if items.len() > MAX_FACTORS {
        return Err(FieldError::new(
            "factors",
            format!("must hold at most {MAX_FACTORS} factors"),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        out.push(factor(i, item)?);
    }
    Ok(out)
}

fn factor(index: usize, value: &Value) -> Result<FactorInput, FieldError> {
    let at = |name: &str| format!("factors[{index}].{name}");
    let Value::Object(object) = value else {
        return Err(FieldError::new(
            format!("factors[{index}]"),
            "must be an object with factor_type, factor_value and impact_score",
        ));
    };
    let mut factor_type = None;
    let mut factor_value = None;
    let mut impact_score = None;
    for (name, value) in object {
        match name.as_str() {
            "factor_type" => {
                let field = at("factor_type");
                let raw = text(&field, value, usize::MAX)?
                    .ok_or_else(|| FieldError::new(&field, "must not be null"))?;
                let normalized = raw.trim().to_lowercase();
                if normalized.is_empty() {
                    return Err(FieldError::new(field, "must not be empty"));
                }
                if normalized.chars().count() > MAX_FACTOR_TYPE_CHARS {
                    return Err(FieldError::new(
                        field,
                        format!("must be at most {MAX_FACTOR_TYPE_CHARS} characters"),
                    ));
                }
                factor_type = Some(normalized);
            }
            "factor_value" => {
                factor_value = text(&at("factor_value"), value, MAX_FACTOR_VALUE_CHARS)?;
            }
            "impact_score" => {
                impact_score = score(&at("impact_score"), value, -5, 5, true)?;
            }
            "id" | "mood_log_id" => {
                return Err(FieldError::new(
                    at(name),
                    "is computed by the server and cannot be set",
                ));
            }
            other => return Err(FieldError::new(at(other), "unknown field")),
        }
    }
    let factor_type =
        factor_type.ok_or_else(|| FieldError::new(at("factor_type"), "is required"))?;
    Ok(FactorInput {
        factor_type,
        factor_value,
        impact_score,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        parse_instant("2026-11-25T12:00:00Z").expect("now")
    }

    fn new(body: &Value) -> Result<NewLog, Vec<FieldError>> {
        parse_new(body.to_string().as_bytes(), now())
    }

    /// The fields at fault, sorted (the order of the errors is not part of the contract).
    fn fields(errors: &[FieldError]) -> Vec<&str> {
        let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        fields.sort_unstable();
        fields
    }

    #[test]
    fn a_minimal_log_needs_only_a_mood_score() {
        let log = new(&json!({"mood_score": 7})).expect("valid");
        assert_eq!(log.mood_score, 7);
        assert_eq!(log.logged_at, None);
        assert!(log.factors.is_empty());
    }

    #[test]
    fn a_full_log_is_parsed_and_factor_types_normalised() {
        let log = new(&json!({
            "mood_score": 4, "energy_level": 3, "anxiety_level": null,
            "note": "Tired", "logged_at": "2026-11-25T08:30:00+01:00",
            "location_type": "work",
            "factors": [{"factor_type": " Sleep ", "factor_value": "5h", "impact_score": -3},
                        {"factor_type": "caffeine"}]
        }))
        .expect("valid");
        assert_eq!(log.energy_level, Some(3));
        assert_eq!(log.anxiety_level, None);
        assert_eq!(log.location_type.as_deref(), Some("work"));
        assert_eq!(log.logged_at, parse_instant("2026-11-25T07:30:00Z").ok());
        assert_eq!(
            log.factors,
            vec![
                FactorInput {
                    factor_type: "sleep".into(),
                    factor_value: Some("5h".into()),
                    impact_score: Some(-3)
                },
                FactorInput {
                    factor_type: "caffeine".into(),
                    factor_value: None,
                    impact_score: None
                },
            ]
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let errors = new(&json!({
            "mood_score": 11, "energy_level": "high", "anxiety_level": 2.5,
            "note": 42, "logged_at": "yesterday", "location_type": "moon",
            "mood": 3, "note_sentiment": 0.5
        }))
        .expect_err("invalid");
        assert_eq!(
            fields(&errors),
            vec![
                "anxiety_level",
                "energy_level",
                "location_type",
                "logged_at",
                "mood",
                "mood_score",
                "note",
                "note_sentiment",
            ]
        );
        let computed = errors
            .iter()
            .find(|e| e.field == "note_sentiment")
            .expect("computed");
        assert!(computed.message.contains("computed"));
    }

    #[test]
    fn scores_must_be_integers_in_range() {
        for bad in [
            json!(0),
            json!(11),
            json!(-1),
            json!(7.5),
            json!("7"),
            json!(true),
            json!(null),
        ] {
            let errors = new(&json!({"mood_score": bad})).expect_err("invalid");
            assert_eq!(fields(&errors), vec!["mood_score"], "{bad}");
        }
        assert_eq!(
            fields(&new(&json!({})).expect_err("missing")),
            vec!["mood_score"]
        );
        // A number without a fractional part is an integer (JSON Schema's rule).
        let whole = new(&json!({"mood_score": 7.0, "energy_level": 1e0})).expect("valid");
        assert_eq!((whole.mood_score, whole.energy_level), (7, Some(1)));
        for good in [1, 10] {
            assert!(new(&json!({"mood_score": good})).is_ok());
        }
    }

    #[test]
    fn notes_are_limited_to_5000_characters() {
        let long = "é".repeat(MAX_NOTE_CHARS);
        assert!(new(&json!({"mood_score": 5, "note": long})).is_ok());
        let longer = "é".repeat(MAX_NOTE_CHARS + 1);
        let errors = new(&json!({"mood_score": 5, "note": longer})).expect_err("too long");
        assert_eq!(fields(&errors), vec!["note"]);
        let errors = new(&json!({"mood_score": 5, "note": "a\u{0}b"})).expect_err("nul");
        assert_eq!(fields(&errors), vec!["note"]);
    }

    #[test]
    fn logged_at_needs_an_offset_and_may_be_at_most_five_minutes_ahead() {
        for ok in ["2026-11-25T12:05:00Z", "2020-01-01T00:00:00-08:00"] {
            assert!(
                new(&json!({"mood_score": 5, "logged_at": ok})).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            json!("2026-11-25T12:05:01Z"),
            json!("2026-11-25T12:00:00"),
            json!("2026-11-25"),
            json!(null),
            json!(1_764_072_000),
        ] {
            let errors = new(&json!({"mood_score": 5, "logged_at": bad})).expect_err("invalid");
            assert_eq!(fields(&errors), vec!["logged_at"], "{bad}");
        }
    }

    #[test]
    fn factors_are_checked_one_by_one() {
        let cases = [
            (json!("sleep"), "factors"),
            (json!([1]), "factors[0]"),
            (json!([{"factor_value": "x"}]), "factors[0].factor_type"),
            (json!([{"factor_type": "   "}]), "factors[0].factor_type"),
            (
                json!([{"factor_type": "a".repeat(31)}]),
                "factors[0].factor_type",
            ),
            (
                json!([{"factor_type": "sleep"}, {"factor_type": "x", "factor_value": "v".repeat(51)}]),
                "factors[1].factor_value",
            ),
            (
                json!([{"factor_type": "sleep", "impact_score": 6}]),
                "factors[0].impact_score",
            ),
            (
                json!([{"factor_type": "sleep", "impact_score": -6}]),
                "factors[0].impact_score",
            ),
            (
                json!([{"factor_type": "sleep", "weight": 1}]),
                "factors[0].weight",
            ),
            (
                json!([{"factor_type": "sleep", "mood_log_id": "x"}]),
                "factors[0].mood_log_id",
            ),
        ];
        for (factors, field) in cases {
            let errors = new(&json!({"mood_score": 5, "factors": factors})).expect_err("invalid");
            assert_eq!(fields(&errors), vec![field], "{factors}");
        }
        let many: Vec<Value> = (0..=MAX_FACTORS)
            .map(|i| json!({"factor_type": format!("f{i}")}))
            .collect();
        let errors = new(&json!({"mood_score": 5, "factors": many})).expect_err("too many");
        assert_eq!(fields(&errors), vec!["factors"]);
        let twenty: Vec<Value> = (0..MAX_FACTORS)
            .map(|i| json!({"factor_type": format!("f{i}")}))
            .collect();
        assert!(new(&json!({"mood_score": 5, "factors": twenty})).is_ok());
    }

    #[test]
    fn bodies_must_be_json_objects() {
        for body in [&b""[..], b"  ", b"[1]", b"{", b"null"] {
            let errors = parse_new(body, now()).expect_err("invalid");
            assert_eq!(fields(&errors), vec!["body"]);
        }
    }

    #[test]
    fn patches_distinguish_absent_from_null() {
        let patch =
            parse_patch(br#"{"energy_level": null, "note": "better"}"#, now()).expect("valid");
        assert_eq!(patch.energy_level, Some(None));
        assert_eq!(patch.anxiety_level, None);
        assert_eq!(patch.note, Some(Some("better".into())));
        assert_eq!(patch.factors, None);
        let clear = parse_patch(br#"{"factors": null}"#, now()).expect("valid");
        assert_eq!(clear.factors, Some(Vec::new()));
        assert!(parse_patch(b"{}", now()).expect("valid").is_empty());
        let errors = parse_patch(
            br#"{"mood_score": null, "logged_at": null, "id": "x"}"#,
            now(),
        )
        .expect_err("invalid");
        assert_eq!(fields(&errors), vec!["id", "logged_at", "mood_score"]);
    }
}
