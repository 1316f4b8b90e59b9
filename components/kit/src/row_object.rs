//! Rows written as JSON objects straight from their columns.
//!
//! [`row_json`](crate::storage::row_json) builds a `serde_json::Map` (a B-tree of cloned
//! names and values) that is serialised once and dropped: for a page of twenty mood logs
//! with their factors, building, ordering and freeing those maps was most of the
//! component's own CPU time. A [`RowObject`] borrows the row and writes the same text: its
//! members in name order (the order a `Map` keeps), each value as
//! [`Value::to_json`](crate::storage::Value::to_json) shows it.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::storage::{Row, Value};

/// One member of a [`RowObject`].
#[derive(Debug)]
pub enum Member<'a> {
    /// A column's value.
    Column(&'a Value),
    /// Text, or `null`.
    Text(Option<&'a str>),
    /// An array of rows (a parent's children).
    Rows(Vec<RowObject<'a>>),
    /// Any JSON value (a short list of labels, say).
    Json(serde_json::Value),
}

/// A row as a JSON object, written without building one (see the module's docs).
/// `RowObject::default()` is the empty object, to build one member by member.
#[derive(Debug, Default)]
pub struct RowObject<'a> {
    /// Sorted by name, names unique.
    members: Vec<(&'a str, Member<'a>)>,
}

impl<'a> RowObject<'a> {
    /// Every column of `row`.
    pub fn new(row: &'a Row) -> Self {
        let mut members: Vec<(&str, Member)> = row
            .iter()
            .map(|(name, value)| (name.as_str(), Member::Column(value)))
            .collect();
        members.sort_unstable_by(|a, b| a.0.cmp(b.0));
        members.dedup_by(|a, b| a.0 == b.0);
        Self { members }
    }

    /// Without the members named in `names`.
    #[must_use]
    pub fn without(mut self, names: &[&str]) -> Self {
        self.members.retain(|(name, _)| !names.contains(name));
        self
    }

    /// With `member` as `name`, in place of a member of that name if there is one.
    #[must_use]
    pub fn with(mut self, name: &'a str, member: Member<'a>) -> Self {
        match self.members.binary_search_by(|(n, _)| (*n).cmp(name)) {
            Ok(at) => self.members[at].1 = member,
            Err(at) => self.members.insert(at, (name, member)),
        }
        self
    }
}

impl RowObject<'_> {
    /// The object as a `serde_json::Map`, for a caller that adds to it (a create's answer
    /// with its crisis assessment, say).
    pub fn to_map(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            // A `RowObject` always serialises to an object.
            _ => serde_json::Map::new(),
        }
    }
}

impl Serialize for RowObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.members.len()))?;
        for (name, member) in &self.members {
            map.serialize_entry(name, member)?;
        }
        map.end()
    }
}

impl Serialize for Member<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Column(value) => ValueJson(value).serialize(serializer),
            Self::Text(Some(text)) => serializer.serialize_str(text),
            Self::Text(None) => serializer.serialize_unit(),
            Self::Json(value) => value.serialize(serializer),
            Self::Rows(rows) => {
                let mut seq = serializer.serialize_seq(Some(rows.len()))?;
                for row in rows {
                    seq.serialize_element(row)?;
                }
                seq.end()
            }
        }
    }
}

/// A value written as [`Value::to_json`] shows it.
struct ValueJson<'a>(&'a Value);

impl Serialize for ValueJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Float(f) if f.is_finite() => serializer.serialize_f64(*f),
            Value::Text(s) | Value::Timestamp(s) | Value::Date(s) | Value::Uuid(s) => {
                serializer.serialize_str(s)
            }
            // Rare in a row a client sees: parsed as `to_json` parses it.
            Value::Json(_) => self.0.to_json().serialize(serializer),
            Value::Float(_) | Value::Null | Value::Other | Value::Bytes(_) | Value::Vector(_) => {
                serializer.serialize_unit()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value as Json;

    use super::*;
    use crate::storage::row_json;

    fn every_kind() -> Row {
        vec![
            ("z_null".into(), Value::Null),
            ("bool".into(), Value::Bool(true)),
            ("int".into(), Value::Int(-42)),
            ("float".into(), Value::Float(0.1 + 0.2)),
            ("nan".into(), Value::Float(f64::NAN)),
            ("text".into(), Value::Text("a \"quoted\"\n line é ✓".into())),
            ("at".into(), Value::Timestamp("2026-12-05T10:00:00Z".into())),
            ("day".into(), Value::Date("2026-12-05".into())),
            (
                "id".into(),
                Value::Uuid("5f1d7f0e-2c1a-4b8e-9d3f-0a1b2c3d4e5f".into()),
            ),
            (
                "doc".into(),
                Value::Json(r#"{"b":[1,2.5,null],"a":"x"}"#.into()),
            ),
            ("bad_doc".into(), Value::Json("{not json".into())),
            ("bytes".into(), Value::Bytes(vec![1, 2, 3])),
            ("vector".into(), Value::Vector(vec![0.5])),
            ("other".into(), Value::Other),
            ("Upper".into(), Value::Int(1)),
            ("_under".into(), Value::Int(2)),
        ]
    }

    #[test]
    fn a_row_is_written_as_its_map_would_be() {
        let row = every_kind();
        let object = serde_json::to_string(&RowObject::new(&row)).expect("object");
        let map = serde_json::to_string(&Json::Object(row_json(&row))).expect("map");
        assert_eq!(object, map);
    }

    #[test]
    fn members_are_replaced_added_and_removed_in_order() {
        let row = every_kind();
        let child = vec![("k".to_owned(), Value::Int(1))];
        let object = RowObject::new(&row)
            .without(&["bytes", "nope"])
            .with("text", Member::Text(Some("replaced")))
            .with("kids", Member::Rows(vec![RowObject::new(&child)]))
            .with("note", Member::Text(None))
            .with("labels", Member::Json(serde_json::json!(["b", "a"])));
        let mut map = row_json(&row);
        map.remove("bytes");
        map.insert("text".into(), Json::from("replaced"));
        map.insert("kids".into(), serde_json::json!([{"k": 1}]));
        map.insert("note".into(), Json::Null);
        map.insert("labels".into(), serde_json::json!(["b", "a"]));
        assert_eq!(
            serde_json::to_string(&object).expect("object"),
            serde_json::to_string(&Json::Object(map)).expect("map")
        );
    }
}
