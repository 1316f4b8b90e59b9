//! The SQL of the rollups, generated from a collection's [`Rollup`] declaration for each
//! backend: the bucket entries a row contributes, the statements that add or remove them,
//! and the triggers that run those statements on every write.
//!
//! Every identifier here comes from the catalog (`&'static str`s) or this module; user ids
//! are `NEW.user_id`, `OLD.user_id`, `NEW.id` or a `$n` placeholder.

use crate::Backend;
use crate::catalog::{Collection, Rollup, RollupGrouping};

/// One bucket series of a rollup: a grouping, and a rolled-up field (`None`: the rows, `*`).
pub(super) type Series = (RollupGrouping, Option<&'static str>);

/// Every series of `rollup`, grouping-major; the first is `(All, *)`.
pub(super) fn series(rollup: &Rollup) -> Vec<Series> {
    let mut all = Vec::new();
    for grouping in rollup.groupings {
        all.push((*grouping, None));
        for field in rollup.fields {
            all.push((*grouping, Some(*field)));
        }
    }
    all
}

/// Where the entries' values come from.
#[derive(Clone, Copy)]
pub(super) enum Source<'a> {
    /// The row of a row-level trigger: `NEW` or `OLD`.
    Row(&'static str),
    /// Rows of a relation (the collection's table, a transition table, a subquery), as `r`:
    /// all users' rows or those of one user (an SQL expression).
    Rows {
        /// The relation.
        from: &'a str,
        /// Only this user's rows.
        user: Option<&'a str>,
    },
}

impl Source<'_> {
    fn alias(self) -> &'static str {
        match self {
            Self::Row(name) => name,
            Self::Rows { .. } => "r",
        }
    }
}

/// The instant `column` of row `r` as whole Unix seconds, rounded down (on SQLite the text,
/// checked by the schema to be `YYYY-MM-DDTHH:MM:SS.ffffffZ`, is cut to the whole second
/// first, so no rounding of the fraction is left to `unixepoch`).
fn epoch(backend: Backend, r: &str, column: &str) -> String {
    match backend {
        Backend::Sqlite => format!("unixepoch(substr({r}.{column}, 1, 19))"),
        Backend::Postgres => {
            format!("CAST(floor(EXTRACT(EPOCH FROM {r}.{column})) AS BIGINT)")
        }
    }
}

/// The local weekday or hour of `column` of row `r` as a group key (`v<number>`), given the
/// zone's offset `o.offset_seconds`.
fn local_key(backend: Backend, grouping: RollupGrouping, r: &str, column: &str) -> String {
    match backend {
        Backend::Sqlite => {
            let shifted = |format: &str| {
                format!("strftime('{format}', {r}.{column}, o.offset_seconds || ' seconds')")
            };
            match grouping {
                RollupGrouping::Weekday(_) => {
                    format!("'v' || ((CAST({} AS INTEGER) + 6) % 7 + 1)", shifted("%w"))
                }
                _ => format!("'v' || CAST({} AS INTEGER)", shifted("%H")),
            }
        }
        Backend::Postgres => {
            let local = format!(
                "(({r}.{column} AT TIME ZONE 'UTC') + o.offset_seconds * INTERVAL '1 second')"
            );
            let part = match grouping {
                RollupGrouping::Weekday(_) => "ISODOW",
                _ => "HOUR",
            };
            format!("'v' || CAST(CAST(EXTRACT({part} FROM {local}) AS INTEGER) AS TEXT)")
        }
    }
}

/// The group key of row `r` for `grouping`: `''` for all rows, `n` when the field is NULL,
/// `v<key>` otherwise, and `?` for a zoned grouping whose zone has no offsets loaded yet.
fn group_key(backend: Backend, grouping: RollupGrouping, r: &str) -> String {
    match grouping {
        RollupGrouping::All => "CAST('' AS TEXT)".to_owned(),
        RollupGrouping::Value(column) => format!(
            "CASE WHEN {r}.{column} IS NULL THEN 'n' ELSE 'v' || CAST({r}.{column} AS TEXT) END"
        ),
        RollupGrouping::Weekday(column) | RollupGrouping::Hour(column) => format!(
            "CASE WHEN {r}.{column} IS NULL THEN 'n' ELSE COALESCE((\
             SELECT {key} FROM time_zone_offsets o \
             WHERE o.zone = (SELECT COALESCE(u.timezone, 'UTC') FROM users u WHERE u.id = {r}.user_id) \
             AND o.starts_at <= {epoch} ORDER BY o.starts_at DESC LIMIT 1), '?') END",
            key = local_key(backend, grouping, r, column),
            epoch = epoch(backend, r, column),
        ),
    }
}

/// `SELECT user_id, group_by, group_key, field, val` of the entries `source` contributes to
/// `series` (one per series, for each row whose field is not NULL).
pub(super) fn entries(backend: Backend, source: Source<'_>, series: &[Series]) -> String {
    let r = source.alias();
    series
        .iter()
        .map(|(grouping, field)| {
            let (name, val, present) = match field {
                None => ("*", "CAST(0 AS BIGINT)".to_owned(), "1 = 1".to_owned()),
                Some(f) => (
                    *f,
                    format!("CAST({r}.{f} AS BIGINT)"),
                    format!("{r}.{f} IS NOT NULL"),
                ),
            };
            let (from, user) = match source {
                Source::Row(_) => (String::new(), String::new()),
                Source::Rows { from, user } => (
                    format!(" FROM {from} r"),
                    user.map(|u| format!(" AND r.user_id = {u}"))
                        .unwrap_or_default(),
                ),
            };
            format!(
                "SELECT {r}.user_id AS user_id, CAST('{group_by}' AS TEXT) AS group_by, \
                 {key} AS group_key, CAST('{name}' AS TEXT) AS field, {val} AS val{from} \
                 WHERE {present}{user}",
                group_by = grouping.key(),
                key = group_key(backend, *grouping, r),
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

const KEY: &str = "user_id, collection, group_by, group_key, field, val";

/// Adds `delta` (a row source) or the row counts (a relation) to the buckets of `series`,
/// creating missing buckets (in user order, so that claims take their locks in order).
pub(super) fn add(
    backend: Backend,
    collection: &Collection,
    source: Source<'_>,
    series: &[Series],
    delta: i64,
) -> String {
    let (n, group) = match source {
        Source::Row(_) => (delta.to_string(), String::new()),
        Source::Rows { .. } => (
            "COUNT(*)".to_owned(),
            " GROUP BY e.user_id, e.group_by, e.group_key, e.field, e.val ORDER BY e.user_id"
                .to_owned(),
        ),
    };
    format!(
        "INSERT INTO storage_rollups ({KEY}, n) \
         SELECT e.user_id, '{name}', e.group_by, e.group_key, e.field, e.val, {n} \
         FROM ({entries}) e WHERE 1 = 1{group} \
         ON CONFLICT ({KEY}) DO UPDATE SET n = storage_rollups.n + excluded.n",
        name = collection.name,
        entries = entries(backend, source, series),
    )
}

/// Takes the rows of a relation from the buckets of `series` they were counted in
/// (PostgreSQL; never creates a bucket).
pub(super) fn subtract_rows(collection: &Collection, from: &str, series: &[Series]) -> String {
    format!(
        "UPDATE storage_rollups SET n = storage_rollups.n - e.c FROM (\
         SELECT e.user_id, e.group_by, e.group_key, e.field, e.val, COUNT(*) AS c FROM ({entries}) e \
         GROUP BY e.user_id, e.group_by, e.group_key, e.field, e.val) e \
         WHERE storage_rollups.user_id = e.user_id AND storage_rollups.collection = '{name}' \
         AND storage_rollups.group_by = e.group_by AND storage_rollups.group_key = e.group_key \
         AND storage_rollups.field = e.field AND storage_rollups.val = e.val",
        name = collection.name,
        entries = entries(Backend::Postgres, Source::Rows { from, user: None }, series),
    )
}

/// Locks, in user order, the `(all, *)` buckets of `collection` of the users of a relation
/// (PostgreSQL, in PL/pgSQL: `PERFORM`).
fn claim_users(collection: &Collection, from: &str) -> String {
    format!(
        "PERFORM 1 FROM storage_rollups WHERE collection = '{name}' AND group_by = 'all' \
         AND group_key = '' AND field = '*' AND val = 0 \
         AND user_id IN (SELECT r.user_id FROM {from} r) ORDER BY user_id FOR UPDATE",
        name = collection.name,
    )
}

/// Takes one from the buckets of `series` a trigger row counted in (never creates one: a
/// row deleted with its user finds its buckets gone with the user).
pub(super) fn subtract(
    backend: Backend,
    collection: &Collection,
    row: &'static str,
    series: &[Series],
) -> String {
    format!(
        "UPDATE storage_rollups SET n = n - 1 WHERE collection = '{name}' \
         AND (user_id, group_by, group_key, field, val) IN \
         (SELECT e.user_id, e.group_by, e.group_key, e.field, e.val FROM ({entries}) e)",
        name = collection.name,
        entries = entries(backend, Source::Row(row), series),
    )
}

/// Creates or locks (a no-op update) the user's `(all, *)` bucket of `collection`. Every
/// write that changes a user's buckets of the collection touches this bucket first, so on
/// PostgreSQL they take turns per user and collection (no lost update, no deadlock), and a
/// rebuild that takes it first sees every write before it and none after.
pub(super) fn claim(collection: &Collection, user: &str) -> String {
    format!(
        "INSERT INTO storage_rollups ({KEY}, n) VALUES ({user}, '{name}', 'all', '', '*', 0, 0) \
         ON CONFLICT ({KEY}) DO UPDATE SET n = storage_rollups.n",
        name = collection.name,
    )
}

/// The zoned groupings' keys of `rollup`, quoted for an `IN` list.
fn zoned_keys(rollup: &Rollup) -> Vec<String> {
    rollup
        .groupings
        .iter()
        .filter(|g| g.zoned())
        .map(|g| format!("'{}'", g.key()))
        .collect()
}

/// The statements that rebuild `user`'s zoned buckets of `collection` from its rows in the
/// user's current zone (empty when the rollup has no zoned grouping).
pub(super) fn rebuild_zoned(backend: Backend, collection: &Collection, user: &str) -> Vec<String> {
    let Some(rollup) = &collection.rollup else {
        return Vec::new();
    };
    let zoned: Vec<Series> = series(rollup)
        .into_iter()
        .filter(|(g, _)| g.zoned())
        .collect();
    if zoned.is_empty() {
        return Vec::new();
    }
    vec![
        claim(collection, user),
        format!(
            "DELETE FROM storage_rollups WHERE user_id = {user} AND collection = '{name}' \
             AND group_by IN ({keys})",
            name = collection.name,
            keys = zoned_keys(rollup).join(", "),
        ),
        add(
            backend,
            collection,
            Source::Rows {
                from: collection.name,
                user: Some(user),
            },
            &zoned,
            0,
        ),
    ]
}

/// The statements that rebuild every user's buckets of `collection` from its rows.
pub(super) fn rebuild_all(backend: Backend, collection: &Collection) -> Vec<String> {
    let Some(rollup) = &collection.rollup else {
        return Vec::new();
    };
    vec![
        format!(
            "DELETE FROM storage_rollups WHERE collection = '{}'",
            collection.name
        ),
        add(
            backend,
            collection,
            Source::Rows {
                from: collection.name,
                user: None,
            },
            &series(rollup),
            0,
        ),
    ]
}

/// The columns whose change moves a row between buckets.
fn watched(rollup: &Rollup) -> Vec<&'static str> {
    let mut columns: Vec<&'static str> = Vec::new();
    for column in rollup
        .fields
        .iter()
        .copied()
        .chain(rollup.groupings.iter().filter_map(|g| g.field()))
    {
        if !columns.contains(&column) {
            columns.push(column);
        }
    }
    columns
}

/// A trigger: its name, the event, and the statements of its body.
pub(super) struct Trigger {
    /// The trigger's (and on PostgreSQL its function's) name.
    pub name: String,
    /// The table.
    pub table: &'static str,
    /// `AFTER …` event, e.g. `INSERT` or `UPDATE OF a, b`.
    pub event: String,
    /// The condition on SQLite (`WHEN …`), if any; PostgreSQL's is the same with
    /// `IS DISTINCT FROM`.
    pub when: Option<(String, String)>,
    /// PostgreSQL: a statement-level trigger with these transition tables
    /// (`NEW TABLE AS new_rows`); otherwise a row-level one.
    pub transition: Option<&'static str>,
    /// The statements, in order.
    pub body: Vec<String>,
}

/// The rows of an update whose watched columns changed: their new versions (`new_rows`)
/// or their old ones.
fn changed(rollup: &Rollup, version: &str) -> String {
    let columns = watched(rollup);
    let list = |alias: &str| {
        columns
            .iter()
            .map(|c| format!("{alias}.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "(SELECT {version}.* FROM new_rows n JOIN old_rows o ON o.id = n.id \
         WHERE ({}) IS DISTINCT FROM ({}))",
        list("o"),
        list("n")
    )
}

/// The triggers that keep `collection`'s rollup (insert, update, delete): row-level on
/// SQLite; statement-level with transition tables on PostgreSQL, so a multi-row statement
/// (a bulk insert, a purge) updates each bucket once rather than once per row.
pub(super) fn collection_triggers(backend: Backend, collection: &Collection) -> Vec<Trigger> {
    let Some(rollup) = &collection.rollup else {
        return Vec::new();
    };
    let all = series(rollup);
    let (first, rest) = all.split_at(1);
    let name = collection.name;
    let trigger = |op: &str, event: String, transition, body: Vec<String>| Trigger {
        name: format!("storage_rollup_{name}_{op}"),
        table: name,
        event,
        when: None,
        transition,
        body,
    };
    let rows = |from| Source::Rows { from, user: None };
    match backend {
        Backend::Sqlite => vec![
            trigger(
                "insert",
                "INSERT".to_owned(),
                None,
                vec![
                    add(backend, collection, Source::Row("NEW"), first, 1),
                    add(backend, collection, Source::Row("NEW"), rest, 1),
                ],
            ),
            trigger(
                "update",
                format!("UPDATE OF {}", watched(rollup).join(", ")),
                None,
                vec![
                    claim(collection, "NEW.user_id"),
                    subtract(backend, collection, "OLD", rest),
                    add(backend, collection, Source::Row("NEW"), rest, 1),
                ],
            ),
            trigger(
                "delete",
                "DELETE".to_owned(),
                None,
                vec![
                    subtract(backend, collection, "OLD", first),
                    subtract(backend, collection, "OLD", rest),
                ],
            ),
        ],
        Backend::Postgres => {
            let (old, new) = (changed(rollup, "o"), changed(rollup, "n"));
            vec![
                trigger(
                    "insert",
                    "INSERT".to_owned(),
                    Some("NEW TABLE AS new_rows"),
                    vec![
                        add(backend, collection, rows("new_rows"), first, 0),
                        add(backend, collection, rows("new_rows"), rest, 0),
                    ],
                ),
                trigger(
                    "update",
                    "UPDATE".to_owned(),
                    Some("OLD TABLE AS old_rows NEW TABLE AS new_rows"),
                    vec![
                        claim_users(collection, &new),
                        subtract_rows(collection, &old, rest),
                        add(backend, collection, rows(&new), rest, 0),
                    ],
                ),
                trigger(
                    "delete",
                    "DELETE".to_owned(),
                    Some("OLD TABLE AS old_rows"),
                    vec![
                        claim_users(collection, "old_rows"),
                        subtract_rows(collection, "old_rows", &all),
                    ],
                ),
            ]
        }
    }
}

/// The trigger that rebuilds a user's zoned buckets when their time zone changes (`None`
/// when no rollup has a zoned grouping).
pub(super) fn rezone_trigger(backend: Backend, collections: &[&Collection]) -> Option<Trigger> {
    let body: Vec<String> = collections
        .iter()
        .flat_map(|c| rebuild_zoned(backend, c, "NEW.id"))
        .collect();
    (!body.is_empty()).then(|| Trigger {
        name: "storage_rollup_users_rezone".to_owned(),
        table: "users",
        event: "UPDATE OF timezone".to_owned(),
        when: Some((
            "OLD.timezone IS NOT NEW.timezone".to_owned(),
            "OLD.timezone IS DISTINCT FROM NEW.timezone".to_owned(),
        )),
        transition: None,
        body,
    })
}

/// The DDL that (re)creates `trigger`, statement by statement.
pub(super) fn trigger_ddl(backend: Backend, trigger: &Trigger) -> Vec<String> {
    let Trigger {
        name,
        table,
        event,
        when,
        transition,
        body,
    } = trigger;
    match backend {
        Backend::Sqlite => {
            let when = when
                .as_ref()
                .map(|(sqlite, _)| format!(" WHEN {sqlite}"))
                .unwrap_or_default();
            vec![
                format!("DROP TRIGGER IF EXISTS {name}"),
                format!(
                    "CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} BEGIN {}; END",
                    body.join("; ")
                ),
            ]
        }
        Backend::Postgres => {
            let when = when
                .as_ref()
                .map(|(_, pg)| format!(" WHEN ({pg})"))
                .unwrap_or_default();
            vec![
                format!(
                    "CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS \
                     $rollup$ BEGIN {}; RETURN NULL; END $rollup$",
                    body.join("; ")
                ),
                {
                    let each = match transition {
                        Some(tables) => format!("REFERENCING {tables} FOR EACH STATEMENT"),
                        None => "FOR EACH ROW".to_owned(),
                    };
                    format!(
                        "CREATE OR REPLACE TRIGGER {name} AFTER {event} ON {table} {each}{when} \
                         EXECUTE FUNCTION {name}()"
                    )
                },
            ]
        }
    }
}
