//! The figures of an aggregate from a rollup's buckets: each group's histogram of each
//! rolled-up field, turned into the measures the aggregate scan computes from the rows.
//!
//! Counts, sums and sums of squares are exact integers here. The mean is the exact sum
//! divided by the count, which is what the scan computes too (its f64 sums of integers are
//! exact below 2^53), so counts, means, minima and maxima are identical to the scan's. The
//! sample standard deviation is computed from the exact integers
//! (`sqrt((n·Σv² − (Σv)²) / (n·(n−1)))`, one rounding before the square root), the scan's
//! two-pass sum differs from it by rounding only: within 1e-12 relative, which the tests
//! check.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::collections::{AggregateFn, AggregateRow};

/// A measure of the request: `count(*)` or a function of a rolled-up field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Measure {
    /// The rows of the group.
    Rows,
    /// `function(field)`.
    Of(&'static str, AggregateFn),
}

/// How group keys read: numbers (weekdays, hours, integer fields) or text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyKind {
    /// Ordered and shown as integers.
    Int,
    /// Ordered by bytes, shown as stored.
    Text,
}

/// The buckets of one grouping: group key → field (`*` for rows) → value → rows.
#[derive(Debug, Default)]
pub(super) struct Buckets(pub BTreeMap<String, BTreeMap<String, BTreeMap<i64, i64>>>);

impl Buckets {
    /// Adds `n` rows holding `value` in `field` to group `key`.
    pub fn add(&mut self, key: String, field: String, value: i64, n: i64) {
        *self
            .0
            .entry(key)
            .or_default()
            .entry(field)
            .or_default()
            .entry(value)
            .or_default() += n;
    }

    /// Whether a row's group could not be placed (its zone was not loaded): `?`.
    pub fn has_unplaced(&self) -> bool {
        self.0.contains_key("?")
    }
}

/// The group of a stored key: `None` for the NULL group (`n`) and for all rows (`''`).
#[derive(Debug, Clone, PartialEq)]
enum Key {
    Int(i64),
    Text(String),
}

fn parse_key(stored: &str, kind: KeyKind) -> Option<Option<Key>> {
    match stored {
        "" | "n" => Some(None),
        _ => {
            let text = stored.strip_prefix('v')?;
            Some(Some(match kind {
                KeyKind::Int => Key::Int(text.parse().ok()?),
                KeyKind::Text => Key::Text(text.to_owned()),
            }))
        }
    }
}

/// The histogram of one field in one group: `(value, rows)`.
fn figure(histogram: Option<&BTreeMap<i64, i64>>, function: AggregateFn) -> Option<f64> {
    let empty = BTreeMap::new();
    let histogram = histogram.unwrap_or(&empty);
    let present = histogram.iter().filter(|(_, n)| **n > 0);
    let n: i128 = present.clone().map(|(_, n)| i128::from(*n)).sum();
    #[allow(clippy::cast_precision_loss)]
    let as_f64 = |x: i128| x as f64;
    match function {
        AggregateFn::Count => Some(as_f64(n)),
        _ if n == 0 => None,
        AggregateFn::Avg => {
            let sum: i128 = present.map(|(v, c)| i128::from(*v) * i128::from(*c)).sum();
            Some(as_f64(sum) / as_f64(n))
        }
        #[allow(clippy::cast_precision_loss)]
        AggregateFn::Min => present.map(|(v, _)| *v as f64).next(),
        #[allow(clippy::cast_precision_loss)]
        AggregateFn::Max => present.map(|(v, _)| *v as f64).next_back(),
        AggregateFn::Stddev => {
            if n < 2 {
                return None;
            }
            let (sum, squares) = present.fold((0i128, 0i128), |(s, q), (v, c)| {
                let (v, c) = (i128::from(*v), i128::from(*c));
                (s + v * c, q + v * v * c)
            });
            let numerator = n * squares - sum * sum;
            Some((as_f64(numerator) / as_f64(n * (n - 1))).sqrt())
        }
    }
}

/// The aggregate rows of `buckets`, as the scan returns them: groups with rows, in key
/// order, the NULL group last; with `all`, exactly one row.
pub(super) fn rows(
    buckets: &Buckets,
    measures: &[Measure],
    kind: KeyKind,
    all: bool,
) -> Option<Vec<AggregateRow>> {
    let mut groups: Vec<(Option<Key>, Vec<Option<f64>>)> = Vec::new();
    for (stored, fields) in &buckets.0 {
        let rows: i64 = fields
            .get("*")
            .map_or(0, |h| h.values().filter(|n| **n > 0).sum());
        if rows == 0 && !all {
            continue;
        }
        let key = parse_key(stored, kind)?;
        let values = measures
            .iter()
            .map(|measure| match measure {
                Measure::Rows => figure(fields.get("*"), AggregateFn::Count),
                Measure::Of(field, function) => figure(fields.get(*field), *function),
            })
            .collect();
        groups.push((key, values));
    }
    if all {
        let values = match groups.pop() {
            Some((_, values)) if groups.is_empty() => values,
            Some(_) => return None,
            None => measures
                .iter()
                .map(|m| match m {
                    Measure::Rows | Measure::Of(_, AggregateFn::Count) => Some(0.0),
                    Measure::Of(..) => None,
                })
                .collect(),
        };
        return Some(vec![AggregateRow {
            group: None,
            values,
        }]);
    }
    groups.sort_by(|(a, _), (b, _)| match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(Key::Int(a)), Some(Key::Int(b))) => a.cmp(b),
        (Some(Key::Text(a)), Some(Key::Text(b))) => a.cmp(b),
        (Some(Key::Int(_)), Some(Key::Text(_))) => Ordering::Less,
        (Some(Key::Text(_)), Some(Key::Int(_))) => Ordering::Greater,
    });
    Some(
        groups
            .into_iter()
            .map(|(key, values)| AggregateRow {
                group: key.map(|k| match k {
                    Key::Int(i) => i.to_string(),
                    Key::Text(t) => t,
                }),
                values,
            })
            .collect(),
    )
}
