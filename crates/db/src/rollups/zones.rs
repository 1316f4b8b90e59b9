//! The UTC offsets of a time zone as rows of `time_zone_offsets`, from the host's own zone
//! data (chrono-tz), so SQL places an instant in the user's local weekday and hour exactly as
//! the aggregate scan does with chrono-tz.
//!
//! chrono-tz's data is a finite list of transitions (the first in 1845, the last in 2099 for
//! the data this build embeds), the last offset holding forever after it. The offsets are
//! sampled every [`STEP`] seconds from 1800 to 2101 and each change is located to the second
//! by bisection, so the table equals chrono-tz's wherever two transitions are more than
//! [`STEP`] apart (all of them, in the data used here).

use chrono::{DateTime, Offset, TimeZone};
use chrono_tz::Tz;

use crate::{Backend, DbError, Param, Transaction};

/// The sampling step, in seconds (3 hours).
const STEP: i64 = 3 * 3600;
/// 1800-01-01T00:00:00Z: before chrono-tz's first transition.
const FIRST: i64 = -5_364_662_400;
/// 2101-01-01T00:00:00Z: after chrono-tz's last transition.
const LAST: i64 = 4_133_980_800;
/// Where a zone's first row starts: before any instant the schema can hold.
pub(super) const BEGINNING: i64 = -999_999_999_999;

/// The offset of `zone` from UTC at Unix second `t`, in seconds.
fn offset_at(zone: Tz, t: i64) -> i64 {
    DateTime::from_timestamp(t, 0).map_or(0, |utc| {
        i64::from(
            zone.offset_from_utc_datetime(&utc.naive_utc())
                .fix()
                .local_minus_utc(),
        )
    })
}

/// The zone a name means to the aggregate scan: the IANA zone, or UTC for a name it does
/// not know.
pub(super) fn zone_named(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

/// `(starts_at, offset_seconds)` rows for `zone`: the first from [`BEGINNING`], then one per
/// transition.
pub(super) fn offsets(zone: Tz) -> Vec<(i64, i64)> {
    let mut rows = vec![(BEGINNING, offset_at(zone, FIRST))];
    let mut t = FIRST;
    while t < LAST {
        let next = t + STEP;
        let (before, after) = (offset_at(zone, t), offset_at(zone, next));
        if before != after {
            // The first second at which the offset is `after`.
            let (mut lo, mut hi) = (t, next);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset_at(zone, mid) == after {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            rows.push((hi, after));
        }
        t = next;
    }
    rows
}

/// Rows per INSERT (three parameters each).
const ROWS_PER_INSERT: usize = 300;

/// Whether `name`'s offsets are loaded.
pub(super) async fn loaded(tx: &mut Transaction, name: &str) -> Result<bool, DbError> {
    Ok(tx
        .fetch_optional(
            "SELECT 1 AS one FROM time_zone_offsets WHERE zone = $1 LIMIT 1",
            &[Param::Text(name.to_owned())],
        )
        .await?
        .is_some())
}

/// Loads `name`'s offsets unless they are there (zone data does not change while the
/// process runs; a concurrent load of the same zone inserts the same rows).
pub(super) async fn load(tx: &mut Transaction, name: &str) -> Result<(), DbError> {
    if loaded(tx, name).await? {
        return Ok(());
    }
    let rows = offsets(zone_named(name));
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut params = Vec::with_capacity(chunk.len() * 3);
        let mut values = Vec::with_capacity(chunk.len());
        for (starts_at, offset) in chunk {
            params.push(Param::Text(name.to_owned()));
            params.push(Param::Int(*starts_at));
            params.push(Param::Int(*offset));
            let n = params.len();
            values.push(format!("(${}, ${}, ${})", n - 2, n - 1, n));
        }
        let sql = format!(
            "INSERT INTO time_zone_offsets (zone, starts_at, offset_seconds) VALUES {} \
             ON CONFLICT (zone, starts_at) DO NOTHING",
            values.join(", ")
        );
        tx.execute(&sql, &params).await?;
    }
    Ok(())
}

/// The backend a transaction runs on.
pub(super) fn backend_of(tx: &Transaction) -> Backend {
    match tx {
        Transaction::Sqlite(..) => Backend::Sqlite,
        Transaction::Postgres(_) => Backend::Postgres,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, Timelike};

    use super::*;

    /// The table's offset at `t`, as the SQL looks it up.
    fn lookup(rows: &[(i64, i64)], t: i64) -> i64 {
        rows.iter()
            .rev()
            .find(|(starts, _)| *starts <= t)
            .map_or(0, |(_, offset)| *offset)
    }

    #[test]
    fn offsets_match_chrono_tz_hour_by_hour_around_transitions() {
        for name in [
            "Europe/Berlin",
            "America/New_York",
            "Asia/Kolkata",
            "Australia/Lord_Howe",
        ] {
            let zone = zone_named(name);
            let rows = offsets(zone);
            assert!(rows.len() > 1, "{name}");
            for (starts, _) in rows.iter().skip(1) {
                for t in [
                    starts - 3601,
                    starts - 1,
                    *starts,
                    starts + 1,
                    starts + 3599,
                ] {
                    assert_eq!(lookup(&rows, t), offset_at(zone, t), "{name} at {t}");
                }
            }
            // And a spread of instants from 1850 to 2200, local weekday and hour included.
            let mut t = -3_786_825_600_i64;
            while t < 7_258_118_400 {
                let local = DateTime::from_timestamp(t + lookup(&rows, t), 0).expect("instant");
                let expected = DateTime::from_timestamp(t, 0)
                    .expect("instant")
                    .with_timezone(&zone);
                assert_eq!(local.hour(), expected.hour(), "{name} at {t}");
                assert_eq!(local.weekday(), expected.weekday(), "{name} at {t}");
                t += 86_400 * 7 + 3_607;
            }
        }
        assert_eq!(offsets(zone_named("Not/AZone")), vec![(BEGINNING, 0)]);
    }
}
