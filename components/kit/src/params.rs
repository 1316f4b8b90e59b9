//! Query parameters: `limit`, `cursor` and `from`/`to`; any other through [`Params::get`].
//!
//! Values are percent-decoded; a `+` stays a `+` (none of these parameters holds spaces, and
//! an offset such as `+01:00` sent unencoded then still parses). Unknown parameters are
//! ignored; when a parameter is repeated, the first one counts.

use chrono::{DateTime, Utc};

use crate::FieldError;
use crate::instant::{format_instant, parse_instant};
use crate::storage::{Comparison, Filter, Value};

/// The default page size.
pub const DEFAULT_LIMIT: u32 = 20;
/// The largest page size.
pub const MAX_LIMIT: u32 = 100;

/// A parsed query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses `a=1&b=2` (without the `?`).
    pub fn parse(query: &str) -> Self {
        let pairs = query
            .split('&')
            .filter(|part| !part.is_empty())
            .map(|part| {
                let (key, value) = part.split_once('=').unwrap_or((part, ""));
                (percent_decode(key), percent_decode(value))
            })
            .collect();
        Self { pairs }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `limit`: 1..=100, default 20.
    ///
    /// # Errors
    /// Anything else.
    pub fn limit(&self) -> Result<u32, FieldError> {
        match self.get("limit") {
            None => Ok(DEFAULT_LIMIT),
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    FieldError::new("limit", format!("must be an integer from 1 to {MAX_LIMIT}"))
                }),
        }
    }

    /// `cursor`, when given and not empty.
    pub fn cursor(&self) -> Option<String> {
        self.get("cursor")
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
    }

    /// `from` (inclusive) and `to` (exclusive), RFC 3339 instants.
    ///
    /// # Errors
    /// A malformed instant, or `from` not before `to`.
    pub fn range(&self) -> Result<Range, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut instant = |name: &str| {
            self.get(name).and_then(|text| {
                parse_instant(text)
                    .map_err(|m| errors.push(FieldError::new(name, m)))
                    .ok()
            })
        };
        let from = instant("from");
        let to = instant("to");
        if let (Some(f), Some(t)) = (from, to)
            && f >= t
        {
            errors.push(FieldError::new("to", "must be later than `from`"));
        }
        if errors.is_empty() {
            Ok(Range { from, to })
        } else {
            Err(errors)
        }
    }
}

/// A half-open range of instants on the listed timestamp column (`logged_at`, `created_at`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Range {
    /// Inclusive lower bound.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound.
    pub to: Option<DateTime<Utc>>,
}

impl Range {
    /// The storage filters that keep the rows whose timestamp `field` lies in the range.
    pub fn filters(self, field: &str) -> Vec<Filter> {
        let bound = |at: DateTime<Utc>| Value::Timestamp(format_instant(&at));
        let mut filters = Vec::new();
        if let Some(from) = self.from {
            filters.push(Filter::new(field, Comparison::Ge, bound(from)));
        }
        if let Some(to) = self.to {
            filters.push(Filter::new(field, Comparison::Lt, bound(to)));
        }
        filters
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| char::from(b).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_percent_decoded_and_plus_is_kept() {
        let p = Params::parse(
            "from=2026-11-01T00%3A00%3A00%2B01%3A00&to=2026-11-02T00:00:00+01:00&x&cursor=",
        );
        assert_eq!(p.get("from"), Some("2026-11-01T00:00:00+01:00"));
        assert_eq!(p.get("to"), Some("2026-11-02T00:00:00+01:00"));
        assert_eq!(p.get("x"), Some(""));
        assert_eq!(p.cursor(), None);
        assert_eq!(Params::parse("a=%zz%4").get("a"), Some("%zz%4"));
        assert_eq!(Params::parse("a=%41").get("a"), Some("A"));
    }

    #[test]
    fn limit_defaults_to_20_and_stays_within_1_to_100() {
        assert_eq!(Params::parse("").limit(), Ok(20));
        assert_eq!(Params::parse("limit=1").limit(), Ok(1));
        assert_eq!(Params::parse("limit=100").limit(), Ok(100));
        for bad in [
            "limit=0",
            "limit=101",
            "limit=-1",
            "limit=abc",
            "limit=",
            "limit=2.5",
        ] {
            assert_eq!(
                Params::parse(bad).limit().map_err(|e| e.field),
                Err("limit".to_owned()),
                "{bad}"
            );
        }
    }

    #[test]
    fn ranges_are_half_open_and_ordered() {
        let r = Params::parse("from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z")
            .range()
            .expect("valid");
        assert!(r.from < r.to);
        assert_eq!(Params::parse("").range(), Ok(Range::default()));
        let fields = |q: &str| {
            Params::parse(q)
                .range()
                .expect_err("invalid")
                .into_iter()
                .map(|e| e.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(fields("from=yesterday"), vec!["from"]);
        assert_eq!(fields("from=2026-11-01T00:00:00Z&to=bad"), vec!["to"]);
        assert_eq!(
            fields("from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z"),
            vec!["to"]
        );
        let since = Params::parse("from=2026-11-01T01:00:00+01:00").range();
        assert_eq!(
            since.map(|r| r.filters("created_at")),
            Ok(vec![Filter::new(
                "created_at",
                Comparison::Ge,
                Value::Timestamp("2026-11-01T00:00:00.000000Z".into())
            )])
        );
        assert_eq!(
            r.filters("logged_at")
                .iter()
                .map(|f| f.comparison)
                .collect::<Vec<_>>(),
            [Comparison::Ge, Comparison::Lt]
        );
    }
}
