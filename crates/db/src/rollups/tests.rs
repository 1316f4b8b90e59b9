//! Rollups against the scan they replace, on SQLite and (with `MINDFLOW_TEST_DATABASE_URL`)
//! PostgreSQL: after seeded random sequences of writes of every kind, a zone change, a
//! purge, concurrent writers, and a rebuild of rows that predate the triggers.

use chrono::{Duration, TimeZone, Utc};
use uuid::Uuid;

use crate::catalog::{self, Collection, Value, collection};
use crate::collections::{
    AggregateFn, AggregateRequest, AggregateRow, Comparison, Filter, Grouping, Record, Write,
};
use crate::profiles::ProfileChanges;
use crate::{Database, Param, statement_log};

/// Relative tolerance of standard deviations (the only figure not computed identically;
/// see `figures`).
const STDDEV_TOLERANCE: f64 = 1e-12;

struct TestDb {
    db: Database,
    _dir: Option<tempfile::TempDir>,
}

async fn backends() -> Vec<TestDb> {
    let (db, dir) = crate::testing::sqlite().await;
    let mut all = vec![TestDb {
        db,
        _dir: Some(dir),
    }];
    if let Some((db, _)) = crate::testing::postgres().await {
        all.push(TestDb { db, _dir: None });
    }
    all
}

fn logs() -> &'static Collection {
    collection("mood_logs").expect("mood_logs")
}

async fn user(db: &Database) -> Uuid {
    let email = format!("{}@example.com", Uuid::new_v4().simple());
    db.create_user(&email, "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA", None)
        .await
        .expect("user")
        .id
}

async fn set_zone(db: &Database, user: Uuid, zone: &str) {
    db.update_profile(
        user,
        &ProfileChanges {
            timezone: Some(zone.to_owned()),
            ..ProfileChanges::default()
        },
    )
    .await
    .expect("profile")
    .expect("live user");
}

async fn zone_of(db: &Database, user: Uuid) -> String {
    db.profile(user)
        .await
        .expect("profile")
        .expect("live user")
        .timezone
}

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    fn score(&mut self) -> Value {
        Value::Integer(i64::try_from(1 + self.below(10)).unwrap_or(1))
    }

    fn maybe_score(&mut self) -> Value {
        if self.below(4) == 0 {
            Value::Null
        } else {
            self.score()
        }
    }

    /// An instant from 1901 to 2098, often near a DST change or midnight.
    fn instant(&mut self) -> Value {
        let (base, span) = match self.below(3) {
            // Around the 2026 European and American DST changes.
            0 => (Utc.with_ymd_and_hms(2026, 3, 29, 0, 0, 0), 4 * 86_400),
            1 => (Utc.with_ymd_and_hms(2026, 11, 1, 4, 0, 0), 4 * 86_400),
            _ => (
                Utc.with_ymd_and_hms(1901, 1, 1, 0, 0, 0),
                197 * 365 * 86_400,
            ),
        };
        let base = base.single().expect("a valid instant");
        let seconds = i64::try_from(self.next() % span).unwrap_or(0);
        let micros = i64::try_from(self.next() % 1_000_000).unwrap_or(0);
        let at = base + Duration::seconds(seconds) + Duration::microseconds(micros);
        Value::Timestamp(catalog::format_timestamp(&at))
    }

    fn part(&mut self) -> Value {
        match self.below(5) {
            0 => Value::Null,
            1 => Value::Text("morning".into()),
            2 => Value::Text("afternoon".into()),
            3 => Value::Text("evening".into()),
            _ => Value::Text("night ".into()),
        }
    }

    fn row(&mut self) -> Record {
        vec![
            ("mood_score".into(), self.score()),
            ("energy_level".into(), self.maybe_score()),
            ("anxiety_level".into(), self.maybe_score()),
            ("logged_at".into(), self.instant()),
            ("time_of_day".into(), self.part()),
        ]
    }

    fn changes(&mut self) -> Record {
        let mut changes = Vec::new();
        if self.below(2) == 0 {
            changes.push(("mood_score".into(), self.score()));
        }
        if self.below(2) == 0 {
            changes.push(("energy_level".into(), self.maybe_score()));
        }
        if self.below(3) == 0 {
            changes.push(("logged_at".into(), self.instant()));
        }
        if self.below(3) == 0 {
            changes.push(("time_of_day".into(), self.part()));
        }
        if self.below(4) == 0 {
            // A column no rollup watches.
            changes.push(("location_type".into(), Value::Text("home".into())));
        }
        changes
    }
}

fn id_of(record: &Record) -> String {
    record
        .iter()
        .find_map(|(name, value)| match (name.as_str(), value) {
            ("id", Value::Uuid(id)) => Some(id.clone()),
            _ => None,
        })
        .expect("id")
}

/// The measures of `GET /mood/stats`, plus `count(*)`.
fn measures() -> Vec<(String, AggregateFn)> {
    let mut all = vec![("*".to_owned(), AggregateFn::Count)];
    for field in ["mood_score", "energy_level", "anxiety_level"] {
        for function in [
            AggregateFn::Count,
            AggregateFn::Avg,
            AggregateFn::Min,
            AggregateFn::Max,
            AggregateFn::Stddev,
        ] {
            all.push((field.to_owned(), function));
        }
    }
    all
}

const GROUPINGS: [(Grouping, Option<&str>); 4] = [
    (Grouping::None, None),
    (Grouping::Weekday, Some("logged_at")),
    (Grouping::Hour, None),
    (Grouping::FieldValue, Some("time_of_day")),
];

fn request(grouping: Grouping, field: Option<&str>, filters: Vec<Filter>) -> AggregateRequest {
    AggregateRequest {
        filters,
        measures: measures(),
        grouping,
        group_field: field.map(str::to_owned),
    }
}

/// A filter every row passes, which makes the aggregate scan.
fn everything() -> Vec<Filter> {
    vec![Filter {
        field: "logged_at".into(),
        comparison: Comparison::Ge,
        value: Value::Timestamp("0001-01-01T00:00:00.000000Z".into()),
    }]
}

fn assert_same(rollup: &[AggregateRow], scan: &[AggregateRow], context: &str) {
    assert_eq!(
        rollup.len(),
        scan.len(),
        "{context}: groups\n{rollup:?}\n{scan:?}"
    );
    for (a, b) in rollup.iter().zip(scan) {
        assert_eq!(a.group, b.group, "{context}");
        assert_eq!(a.values.len(), b.values.len(), "{context}");
        for (i, (x, y)) in a.values.iter().zip(&b.values).enumerate() {
            let stddev = measures()[i].1 == AggregateFn::Stddev;
            match (x, y) {
                (Some(x), Some(y)) if stddev => assert!(
                    (x - y).abs() <= STDDEV_TOLERANCE * y.abs().max(1e-300),
                    "{context}: group {:?} measure {i}: {x} vs {y}",
                    a.group
                ),
                _ => assert_eq!(x, y, "{context}: group {:?} measure {i}", a.group),
            }
        }
    }
}

/// Checks every kept grouping: the rollup answers, and as the scan does.
async fn check(db: &Database, user: Uuid, context: &str) {
    let zone = zone_of(db, user).await;
    for (grouping, field) in GROUPINGS {
        let rollup = db
            .storage_aggregate(user, logs(), request(grouping, field, Vec::new()), &zone)
            .await
            .expect("aggregate");
        let scan = db
            .storage_aggregate(user, logs(), request(grouping, field, everything()), &zone)
            .await
            .expect("scan");
        assert_same(&rollup, &scan, &format!("{context}, {grouping:?}"));
        // And it was the rollup that answered.
        statement_log::start();
        db.storage_aggregate(user, logs(), request(grouping, field, Vec::new()), &zone)
            .await
            .expect("aggregate");
        let statements = statement_log::take();
        assert!(
            statements.len() == 1 && statements[0].0.contains("storage_rollups"),
            "{context}, {grouping:?}: {statements:?}"
        );
    }
}

#[tokio::test]
async fn rollups_equal_the_scan_after_random_writes() {
    for TestDb { db, .. } in backends().await {
        let backend = db.backend();
        let alice = user(&db).await;
        let bob = user(&db).await;
        let mut rng = Rng(0x5eed_2026);
        let mut ids: Vec<(Uuid, String)> = Vec::new();
        check(&db, alice, &format!("{backend:?} empty")).await;
        for step in 0..260 {
            let who = if rng.below(4) == 0 { bob } else { alice };
            let mine: Vec<String> = ids
                .iter()
                .filter(|(u, _)| *u == who)
                .map(|(_, id)| id.clone())
                .collect();
            match rng.below(10) {
                0..=3 => {
                    let row = db
                        .storage_insert(who, logs(), rng.row())
                        .await
                        .expect("insert");
                    ids.push((who, id_of(&row)));
                }
                4 | 5 if !mine.is_empty() => {
                    let id = mine[rng.below(mine.len())].clone();
                    db.storage_update(who, logs(), &id, rng.changes())
                        .await
                        .expect("update");
                }
                6 if !mine.is_empty() => {
                    let id = mine[rng.below(mine.len())].clone();
                    db.storage_delete(who, logs(), &id).await.expect("delete");
                    ids.retain(|(_, i)| *i != id);
                }
                7 => {
                    // A batch: inserts, an update and a delete of earlier rows, and a factor.
                    let mut writes = Vec::new();
                    let inserts = 1 + rng.below(3);
                    for _ in 0..inserts {
                        writes.push(Write::Insert {
                            collection: logs(),
                            row: rng.row(),
                        });
                    }
                    if let Some(id) = mine.first() {
                        writes.push(Write::Update {
                            collection: logs(),
                            id: id.clone(),
                            changes: rng.changes(),
                        });
                    }
                    let deleted = mine.get(1).cloned();
                    if let Some(id) = &deleted {
                        writes.push(Write::Delete {
                            collection: logs(),
                            id: id.clone(),
                        });
                    }
                    let results = db.storage_batch(who, writes).await.expect("batch");
                    for row in results.iter().take(inserts).flatten() {
                        ids.push((who, id_of(row)));
                    }
                    if let Some(id) = deleted {
                        ids.retain(|(_, i)| *i != id);
                    }
                }
                8 if !mine.is_empty() => {
                    // Delete the row holding the smallest or largest mood score.
                    let rows = db
                        .storage_aggregate(
                            who,
                            logs(),
                            AggregateRequest {
                                filters: Vec::new(),
                                measures: vec![
                                    ("mood_score".into(), AggregateFn::Min),
                                    ("mood_score".into(), AggregateFn::Max),
                                ],
                                grouping: Grouping::None,
                                group_field: None,
                            },
                            &zone_of(&db, who).await,
                        )
                        .await
                        .expect("extremes");
                    let pick = rows[0].values[rng.below(2)].expect("a score");
                    #[allow(clippy::cast_possible_truncation)]
                    let target = db
                        .fetch_optional(
                            "SELECT id FROM mood_logs WHERE user_id = $1 AND mood_score = $2 LIMIT 1",
                            &[Param::Uuid(who), Param::Int(pick as i64)],
                        )
                        .await
                        .expect("extreme row")
                        .expect("a row")
                        .uuid("id")
                        .expect("id")
                        .to_string();
                    db.storage_delete(who, logs(), &target)
                        .await
                        .expect("delete");
                    ids.retain(|(_, i)| *i != target);
                }
                _ => {
                    // The zone changes (a loaded one, or one not loaded yet).
                    let zones = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"];
                    set_zone(&db, who, zones[rng.below(zones.len())]).await;
                }
            }
            if step % 13 == 0 {
                check(&db, alice, &format!("{backend:?} alice step {step}")).await;
                check(&db, bob, &format!("{backend:?} bob step {step}")).await;
            }
        }
        check(&db, alice, &format!("{backend:?} alice at the end")).await;
        check(&db, bob, &format!("{backend:?} bob at the end")).await;

        // Deleting the user takes their rollups with them.
        db.execute("DELETE FROM users WHERE id = $1", &[Param::Uuid(bob)])
            .await
            .expect("delete user");
        let left = db
            .fetch_optional(
                "SELECT COUNT(*) AS n FROM storage_rollups WHERE user_id = $1",
                &[Param::Uuid(bob)],
            )
            .await
            .expect("count")
            .expect("row")
            .int("n")
            .expect("n");
        assert_eq!(left, 0, "{backend:?}");
        check(&db, alice, &format!("{backend:?} alice after bob left")).await;
    }
}

#[tokio::test]
async fn the_retention_purge_and_plain_sql_keep_rollups_exact() {
    for TestDb { db, .. } in backends().await {
        let backend = db.backend();
        let who = user(&db).await;
        set_zone(&db, who, "Europe/Berlin").await;
        let mut rng = Rng(7);
        for _ in 0..40 {
            db.storage_insert(who, logs(), rng.row())
                .await
                .expect("insert");
        }
        // Plain SQL, as the benchmark seeds its histories.
        for k in 0..20 {
            db.execute(
                "INSERT INTO mood_logs (id, user_id, mood_score, energy_level, logged_at, time_of_day) \
                 VALUES ($1, $2, $3, NULL, $4, 'evening')",
                &[
                    Param::Uuid(Uuid::new_v4()),
                    Param::Uuid(who),
                    Param::Int(1 + k % 10),
                    Param::Time(Utc::now() - Duration::days(k * 40)),
                ],
            )
            .await
            .expect("plain insert");
        }
        check(&db, who, &format!("{backend:?} seeded")).await;
        db.execute(
            "UPDATE users SET data_retention_days = 365 WHERE id = $1",
            &[Param::Uuid(who)],
        )
        .await
        .expect("retention");
        let purged = db.purge_expired(Utc::now()).await.expect("purge");
        assert!(purged.total() > 0, "{backend:?}: {purged}");
        check(&db, who, &format!("{backend:?} purged")).await;
    }
}

#[tokio::test]
async fn start_up_builds_rollups_of_rows_that_predate_them() {
    for TestDb { db, .. } in backends().await {
        let backend = db.backend();
        let who = user(&db).await;
        set_zone(&db, who, "America/New_York").await;
        let mut rng = Rng(11);
        for _ in 0..30 {
            db.storage_insert(who, logs(), rng.row())
                .await
                .expect("insert");
        }
        // As before the migration: no rollups, no triggers recorded.
        db.execute("DELETE FROM storage_rollups", &[])
            .await
            .expect("forget");
        db.execute(
            "DELETE FROM platform_settings WHERE key = 'storage.rollups.version'",
            &[],
        )
        .await
        .expect("forget the version");
        db.execute("DELETE FROM time_zone_offsets WHERE zone <> 'UTC'", &[])
            .await
            .expect("forget the zones");
        db.install_rollups().await.expect("install");
        check(&db, who, &format!("{backend:?} rebuilt")).await;
        // Installing again changes nothing.
        db.install_rollups().await.expect("install again");
        check(&db, who, &format!("{backend:?} again")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_lose_no_update() {
    for TestDb { db, .. } in backends().await {
        let backend = db.backend();
        let who = user(&db).await;
        set_zone(&db, who, "Europe/Berlin").await;
        let mut tasks = Vec::new();
        for task in 0..8u64 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let mut rng = Rng(task);
                let mut mine = Vec::new();
                for i in 0..15 {
                    let row = db
                        .storage_insert(who, logs(), rng.row())
                        .await
                        .expect("insert");
                    mine.push(id_of(&row));
                    if i % 4 == 3 {
                        let id = mine.remove(0);
                        db.storage_delete(who, logs(), &id).await.expect("delete");
                    }
                    if i % 5 == 4 {
                        db.storage_update(who, logs(), &mine[0], rng.changes())
                            .await
                            .expect("update");
                    }
                }
            }));
        }
        // A zone change among them.
        set_zone(&db, who, "Asia/Kolkata").await;
        for task in tasks {
            task.await.expect("task");
        }
        check(&db, who, &format!("{backend:?} concurrent")).await;
        let rows = db
            .storage_aggregate(
                who,
                logs(),
                request(Grouping::None, None, Vec::new()),
                "Asia/Kolkata",
            )
            .await
            .expect("aggregate");
        assert_eq!(rows[0].values[0], Some(8.0 * 12.0), "{backend:?}");
    }
}

#[tokio::test]
async fn an_all_time_aggregate_costs_the_same_statements_whatever_the_history() {
    for TestDb { db, .. } in backends().await {
        let backend = db.backend();
        let small = user(&db).await;
        let large = user(&db).await;
        for (who, count) in [(small, 3), (large, 400)] {
            let mut rng = Rng(count);
            let mut writes = Vec::new();
            for _ in 0..count {
                writes.push(Write::Insert {
                    collection: logs(),
                    row: rng.row(),
                });
                if writes.len() == 100 {
                    db.storage_batch(who, std::mem::take(&mut writes))
                        .await
                        .expect("batch");
                }
            }
            db.storage_batch(who, writes).await.expect("batch");
        }
        let mut costs = Vec::new();
        for who in [small, large] {
            statement_log::start();
            for (grouping, field) in GROUPINGS {
                db.storage_aggregate(who, logs(), request(grouping, field, Vec::new()), "UTC")
                    .await
                    .expect("aggregate");
            }
            let statements = statement_log::take();
            costs.push(statements.len());
        }
        assert_eq!(
            costs,
            vec![4, 4],
            "{backend:?}: one statement per aggregate"
        );
        // A range still scans (its cost is the range's).
        statement_log::start();
        db.storage_aggregate(
            large,
            logs(),
            request(Grouping::None, None, everything()),
            "UTC",
        )
        .await
        .expect("scan");
        let statements = statement_log::take();
        assert!(
            statements
                .iter()
                .all(|(sql, _)| !sql.contains("storage_rollups")),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn requests_the_rollup_does_not_keep_are_scanned() {
    for TestDb { db, .. } in backends().await {
        let who = user(&db).await;
        let mut rng = Rng(3);
        for _ in 0..10 {
            db.storage_insert(who, logs(), rng.row())
                .await
                .expect("insert");
        }
        let cases = [
            // A field the rollup does not keep.
            AggregateRequest {
                filters: Vec::new(),
                measures: vec![("note_sentiment".into(), AggregateFn::Avg)],
                grouping: Grouping::None,
                group_field: None,
            },
            // A grouping it does not keep.
            request(Grouping::Day, None, Vec::new()),
            request(Grouping::FieldValue, Some("location_type"), Vec::new()),
        ];
        for case in cases {
            statement_log::start();
            db.storage_aggregate(who, logs(), case.clone(), "UTC")
                .await
                .expect("aggregate");
            let statements = statement_log::take();
            assert!(
                statements
                    .iter()
                    .any(|(sql, _)| sql.starts_with("SELECT id")),
                "{case:?}: {statements:?}"
            );
        }
        // A zone other than the user's: the scan answers, in that zone.
        let berlin = db
            .storage_aggregate(
                who,
                logs(),
                request(Grouping::Hour, None, Vec::new()),
                "Europe/Berlin",
            )
            .await
            .expect("aggregate");
        let scan = db
            .storage_aggregate(
                who,
                logs(),
                request(Grouping::Hour, None, everything()),
                "Europe/Berlin",
            )
            .await
            .expect("scan");
        assert_eq!(berlin, scan);
    }
}

#[tokio::test]
async fn a_profile_update_loads_the_new_zone_before_the_rollups_move_to_it() {
    for TestDb { db, .. } in backends().await {
        let backend = db.backend();
        let who = user(&db).await;
        let mut rng = Rng(9);
        for _ in 0..10 {
            db.storage_insert(who, logs(), rng.row())
                .await
                .expect("insert");
        }
        set_zone(&db, who, "Australia/Adelaide").await;
        let unplaced = db
            .fetch_optional(
                "SELECT COUNT(*) AS n FROM storage_rollups WHERE user_id = $1 AND group_key = '?' AND n <> 0",
                &[Param::Uuid(who)],
            )
            .await
            .expect("count")
            .expect("row")
            .int("n")
            .expect("n");
        assert_eq!(unplaced, 0, "{backend:?}");
        check(&db, who, &format!("{backend:?} Adelaide")).await;
    }
}

#[tokio::test]
async fn a_zone_not_loaded_yet_is_loaded_and_rebuilt_on_first_read() {
    for TestDb { db, .. } in backends().await {
        let backend = db.backend();
        let who = user(&db).await;
        let mut rng = Rng(5);
        for _ in 0..25 {
            db.storage_insert(who, logs(), rng.row())
                .await
                .expect("insert");
        }
        // Neither zone has offsets yet (an unknown name means UTC, as to the scan), and the
        // zone is set with plain SQL, so nothing loads it first (a profile update would).
        for zone in ["Pacific/Chatham", "Mars/Olympus_Mons"] {
            db.execute(
                "UPDATE users SET timezone = $1 WHERE id = $2",
                &[Param::Text(zone.to_owned()), Param::Uuid(who)],
            )
            .await
            .expect("zone");
            let unplaced = |db: Database| async move {
                db.fetch_optional(
                    "SELECT COUNT(*) AS n FROM storage_rollups WHERE user_id = $1 AND group_key = '?' AND n <> 0",
                    &[Param::Uuid(who)],
                )
                .await
                .expect("count")
                .expect("row")
                .int("n")
                .expect("n")
            };
            assert!(unplaced(db.clone()).await > 0, "{backend:?} {zone}");
            // New rows go to `?` too until the zone is loaded.
            db.storage_insert(who, logs(), rng.row())
                .await
                .expect("insert");
            check(&db, who, &format!("{backend:?} {zone}")).await;
            assert_eq!(unplaced(db.clone()).await, 0, "{backend:?} {zone}");
            db.storage_insert(who, logs(), rng.row())
                .await
                .expect("insert");
            check(&db, who, &format!("{backend:?} {zone}, loaded")).await;
        }
    }
}
