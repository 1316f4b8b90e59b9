//! `storage-probe`: MindFlow's `storage` capability over HTTP with JSON, for the black-box
//! tests and the storage benchmark. It has no logic of its own: every request becomes one
//! storage call for the caller, and the answer (or the storage error) becomes JSON.
//!
//! Routes (relative to the component's route):
//! - `GET /whoami` → `{"user": id | null}` (from `context`);
//! - `POST /insert/{collection}` with a row object → `201 {"row": …}`;
//! - `GET /get/{collection}/{id}` → `{"row": …}`;
//! - `PATCH /update/{collection}/{id}` with the changes → `{"row": …}`;
//! - `DELETE /delete/{collection}/{id}` → `204`;
//! - `POST /query/{collection}` with `{"filters", "order_by", "descending", "limit", "cursor"}`
//!   → `{"rows": […], "next_cursor": …}`;
//! - `POST /children/{collection}` with `{"field", "parent_ids": […]}` → `{"rows": […]}`;
//! - `POST /aggregate/{collection}` with `{"filters", "measures": [[field, fn]…], "grouping",
//!   "group_field"}` → `{"groups": [{"group", "values"}…]}`;
//! - `POST /nearest/{collection}` with `{"field", "target", "k", "filters"}` →
//!   `{"rows": [{"row", "distance"}…]}`;
//! - `POST /batch` with `{"writes": [{"op": "insert"|"update"|"delete", "collection", "id",
//!   "row"}…]}` → `{"results": [row | null…]}`.
//!
//! Values in JSON: `null`, booleans, integers, floats and strings map to the same storage
//! values (the host parses text for UUID, timestamp and date fields); an array of numbers is a
//! vector; `{"$json": …}`, `{"$hex": "…"}` (bytes), `{"$timestamp"|"$date"|"$uuid"|"$text":
//! "…"}` and `{"$vector": […]}` are explicit; any other object or array is a JSON document.
//! Rows read back: JSON documents embedded as JSON, bytes as `{"$hex": …}`.
//!
//! Filters: `{"field", "op": "eq"|"ne"|"lt"|"le"|"gt"|"ge", "value"}`. Storage errors become
//! problem documents: `not-found` 404, `invalid` 422 (naming the field), `conflict` 409,
//! `unavailable` 503, `not-granted` 500 (the component's bug).

use serde_json::{Map, Value as Json, json};
use spin_sdk::http::{Method, Request, Response};

mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit",
        world: "mindflow:platform/domain-imports",
        generate_all,
    });
}

use bindings::mindflow::platform::context;
use bindings::mindflow::platform::storage::{
    self, AggregateFn, AggregateRequest, Column, Comparison, Filter, Grouping, PageRequest,
    StorageError, Value, Write,
};

fn json_response(status: u16, body: &Json) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}

fn problem(status: u16, slug: &str, detail: &str, extra: Option<(&str, Json)>) -> Response {
    let mut body = json!({
        "type": format!("urn:mindflow:problem:{slug}"),
        "title": slug,
        "status": status,
        "detail": detail,
    });
    if let (Some((key, value)), Some(object)) = (extra, body.as_object_mut()) {
        object.insert(key.to_owned(), value);
    }
    Response::builder()
        .status(status)
        .header("content-type", "application/problem+json")
        .body(body.to_string())
        .build()
}

fn bad_request(detail: &str) -> Response {
    problem(400, "bad-request", detail, None)
}

fn storage_problem(error: StorageError) -> Response {
    match error {
        StorageError::NotGranted(message) => problem(500, "storage-not-granted", &message, None),
        StorageError::NotFound => problem(404, "not-found", "no such row", None),
        StorageError::Invalid(e) => problem(
            422,
            "validation-failed",
            &format!("`{}`: {}", e.field, e.message),
            Some(("errors", json!([{"field": e.field, "message": e.message}]))),
        ),
        StorageError::Conflict(message) => problem(409, "conflict", &message, None),
        StorageError::Unavailable => problem(503, "unavailable", "storage is unavailable", None),
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn numbers(items: &[Json]) -> Option<Vec<f32>> {
    #[allow(clippy::cast_possible_truncation)]
    items.iter().map(|x| x.as_f64().map(|f| f as f32)).collect()
}

fn to_value(json: &Json) -> Result<Value, String> {
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Float(n.as_f64().ok_or("a number out of range")?),
        },
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(items) if !items.is_empty() && items.iter().all(Json::is_number) => {
            Value::Vector(numbers(items).ok_or("a vector of numbers")?)
        }
        Json::Object(map) if map.len() == 1 => {
            let Some((key, inner)) = map.iter().next() else {
                return Ok(Value::Json(json.to_string()));
            };
            let text = || {
                inner
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("`{key}` needs a string"))
            };
            match key.as_str() {
                "$json" => Value::Json(inner.to_string()),
                "$hex" => Value::Bytes(hex_decode(&text()?).ok_or("`$hex` needs hex digits")?),
                "$timestamp" => Value::Timestamp(text()?),
                "$date" => Value::Date(text()?),
                "$uuid" => Value::Uuid(text()?),
                "$text" => Value::Text(text()?),
                "$vector" => Value::Vector(
                    inner
                        .as_array()
                        .and_then(|items| numbers(items))
                        .ok_or("`$vector` needs an array of numbers")?,
                ),
                _ => Value::Json(json.to_string()),
            }
        }
        Json::Array(_) | Json::Object(_) => Value::Json(json.to_string()),
    })
}

fn from_value(value: Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::Bool(b),
        Value::Integer(i) => Json::from(i),
        Value::Float(f) => Json::from(f),
        Value::Text(t) | Value::Timestamp(t) | Value::Date(t) | Value::Uuid(t) => Json::String(t),
        Value::Json(text) => serde_json::from_str(&text).unwrap_or(Json::String(text)),
        Value::Bytes(bytes) => json!({"$hex": hex_encode(&bytes)}),
        Value::Vector(v) => Json::from(v.into_iter().map(f64::from).collect::<Vec<_>>()),
    }
}

fn to_row(json: &Json) -> Result<Vec<Column>, String> {
    let object = json.as_object().ok_or("a row must be a JSON object")?;
    object
        .iter()
        .map(|(name, value)| {
            Ok(Column {
                name: name.clone(),
                value: to_value(value).map_err(|e| format!("`{name}`: {e}"))?,
            })
        })
        .collect()
}

fn from_row(row: Vec<Column>) -> Json {
    Json::Object(
        row.into_iter()
            .map(|column| (column.name, from_value(column.value)))
            .collect::<Map<_, _>>(),
    )
}

fn to_filters(json: Option<&Json>) -> Result<Vec<Filter>, String> {
    let Some(items) = json else {
        return Ok(Vec::new());
    };
    let items = items.as_array().ok_or("`filters` must be an array")?;
    items
        .iter()
        .map(|item| {
            let field = item["field"].as_str().ok_or("a filter needs a `field`")?;
            let comparison = match item["op"].as_str().unwrap_or("eq") {
                "eq" => Comparison::Eq,
                "ne" => Comparison::Ne,
                "lt" => Comparison::Lt,
                "le" => Comparison::Le,
                "gt" => Comparison::Gt,
                "ge" => Comparison::Ge,
                other => return Err(format!("unknown comparison `{other}`")),
            };
            Ok(Filter {
                field: field.to_owned(),
                comparison,
                value: to_value(&item["value"])?,
            })
        })
        .collect()
}

fn body_json(req: &Request) -> Result<Json, String> {
    if req.body().is_empty() {
        return Ok(Json::Object(Map::new()));
    }
    serde_json::from_slice(req.body()).map_err(|e| format!("the body is not JSON: {e}"))
}

fn insert(collection: &str, body: &Json) -> Response {
    let row = match to_row(body) {
        Ok(row) => row,
        Err(e) => return bad_request(&e),
    };
    match storage::insert(collection, &row) {
        Ok(row) => json_response(201, &json!({"row": from_row(row)})),
        Err(e) => storage_problem(e),
    }
}

fn update(collection: &str, id: &str, body: &Json) -> Response {
    let row = match to_row(body) {
        Ok(row) => row,
        Err(e) => return bad_request(&e),
    };
    match storage::update(collection, id, &row) {
        Ok(row) => json_response(200, &json!({"row": from_row(row)})),
        Err(e) => storage_problem(e),
    }
}

fn query(collection: &str, body: &Json) -> Response {
    let filters = match to_filters(body.get("filters")) {
        Ok(filters) => filters,
        Err(e) => return bad_request(&e),
    };
    let request = PageRequest {
        filters,
        order_by: body["order_by"].as_str().unwrap_or_default().to_owned(),
        descending: body["descending"].as_bool().unwrap_or(false),
        limit: body["limit"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(50),
        cursor: body["cursor"].as_str().map(str::to_owned),
    };
    match storage::query(collection, &request) {
        Ok(page) => json_response(
            200,
            &json!({
                "rows": page.rows.into_iter().map(from_row).collect::<Vec<_>>(),
                "next_cursor": page.next_cursor,
            }),
        ),
        Err(e) => storage_problem(e),
    }
}

fn aggregate(collection: &str, body: &Json) -> Response {
    let filters = match to_filters(body.get("filters")) {
        Ok(filters) => filters,
        Err(e) => return bad_request(&e),
    };
    let mut measures = Vec::new();
    for measure in body["measures"].as_array().into_iter().flatten() {
        let (Some(field), Some(function)) = (measure[0].as_str(), measure[1].as_str()) else {
            return bad_request("a measure is [field, function]");
        };
        let function = match function {
            "count" => AggregateFn::Count,
            "avg" => AggregateFn::Avg,
            "min" => AggregateFn::Min,
            "max" => AggregateFn::Max,
            "stddev" => AggregateFn::Stddev,
            other => return bad_request(&format!("unknown function `{other}`")),
        };
        measures.push((field.to_owned(), function));
    }
    let grouping = match body["grouping"].as_str().unwrap_or("none") {
        "none" => Grouping::None,
        "day" => Grouping::Day,
        "iso-week" => Grouping::IsoWeek,
        "weekday" => Grouping::Weekday,
        "hour" => Grouping::Hour,
        "field-value" => Grouping::FieldValue,
        other => return bad_request(&format!("unknown grouping `{other}`")),
    };
    let request = AggregateRequest {
        filters,
        measures,
        grouping,
        group_field: body["group_field"].as_str().map(str::to_owned),
    };
    match storage::aggregate(collection, &request) {
        Ok(groups) => json_response(
            200,
            &json!({
                "groups": groups
                    .into_iter()
                    .map(|g| json!({"group": g.group, "values": g.values}))
                    .collect::<Vec<_>>(),
            }),
        ),
        Err(e) => storage_problem(e),
    }
}

fn nearest(collection: &str, body: &Json) -> Response {
    let filters = match to_filters(body.get("filters")) {
        Ok(filters) => filters,
        Err(e) => return bad_request(&e),
    };
    let Some(target) = body["target"].as_array().and_then(|items| numbers(items)) else {
        return bad_request("`target` must be an array of numbers");
    };
    let field = body["field"].as_str().unwrap_or("embedding");
    let k = body["k"]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(5);
    match storage::nearest(collection, field, &target, k, &filters) {
        Ok(rows) => json_response(
            200,
            &json!({
                "rows": rows
                    .into_iter()
                    .map(|s| json!({"row": from_row(s.row), "distance": s.distance}))
                    .collect::<Vec<_>>(),
            }),
        ),
        Err(e) => storage_problem(e),
    }
}

fn children(collection: &str, body: &Json) -> Response {
    let field = body["field"].as_str().unwrap_or_default();
    let Some(ids) = body["parent_ids"].as_array() else {
        return bad_request("`parent_ids` must be an array of strings");
    };
    let ids: Vec<String> = ids
        .iter()
        .map(|id| id.as_str().unwrap_or_default().to_owned())
        .collect();
    match storage::children(collection, field, &ids) {
        Ok(rows) => json_response(
            200,
            &json!({"rows": rows.into_iter().map(from_row).collect::<Vec<_>>()}),
        ),
        Err(e) => storage_problem(e),
    }
}

fn batch(body: &Json) -> Response {
    let mut writes = Vec::new();
    for write in body["writes"].as_array().into_iter().flatten() {
        let collection = write["collection"].as_str().unwrap_or_default().to_owned();
        let id = write["id"].as_str().unwrap_or_default().to_owned();
        let row = || to_row(write.get("row").unwrap_or(&Json::Object(Map::new())));
        writes.push(match write["op"].as_str() {
            Some("insert") => match row() {
                Ok(row) => Write::Insert((collection, row)),
                Err(e) => return bad_request(&e),
            },
            Some("update") => match row() {
                Ok(row) => Write::Update((collection, id, row)),
                Err(e) => return bad_request(&e),
            },
            Some("delete") => Write::Delete((collection, id)),
            _ => return bad_request("a write's `op` is insert, update or delete"),
        });
    }
    match storage::batch(&writes) {
        Ok(results) => json_response(
            200,
            &json!({
                "results": results
                    .into_iter()
                    .map(|row| row.map_or(Json::Null, from_row))
                    .collect::<Vec<_>>(),
            }),
        ),
        Err(e) => storage_problem(e),
    }
}

fn handle(req: Request) -> Response {
    let path = req
        .header("spin-path-info")
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| req.path())
        .to_owned();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let body = match body_json(&req) {
        Ok(body) => body,
        Err(e) => return bad_request(&e),
    };
    match (req.method(), segments.as_slice()) {
        (Method::Get, ["whoami"]) => {
            let user = context::current_user().map(|u| u.id);
            json_response(200, &json!({"user": user}))
        }
        (Method::Post, ["insert", collection]) => insert(collection, &body),
        (Method::Get, ["get", collection, id]) => match storage::get(collection, id) {
            Ok(row) => json_response(200, &json!({"row": from_row(row)})),
            Err(e) => storage_problem(e),
        },
        (Method::Patch, ["update", collection, id]) => update(collection, id, &body),
        (Method::Delete, ["delete", collection, id]) => match storage::delete(collection, id) {
            Ok(()) => Response::builder().status(204).build(),
            Err(e) => storage_problem(e),
        },
        (Method::Post, ["query", collection]) => query(collection, &body),
        (Method::Post, ["children", collection]) => children(collection, &body),
        (Method::Post, ["aggregate", collection]) => aggregate(collection, &body),
        (Method::Post, ["nearest", collection]) => nearest(collection, &body),
        (Method::Post, ["batch"]) => batch(&body),
        _ => problem(404, "not-found", "no such probe route", None),
    }
}

/// The wasi:http export. Spin's `#[http_component]` expands to an `export_name` function and
/// `unsafe` conversions of resource handles, all of Spin's own making.
#[allow(unsafe_code)]
mod export {
    use spin_sdk::http::{Request, Response};

    #[spin_sdk::http_component]
    fn handle(req: Request) -> Response {
        super::handle(req)
    }
}
