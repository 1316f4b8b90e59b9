//! Storage SQL tests on a fresh SQLite database, and on a fresh PostgreSQL database too when
//! `MINDFLOW_TEST_DATABASE_URL` names a server (as `cargo xtask test` sets it).

use std::collections::HashSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::catalog::{CATALOG, collection};

const DIM: usize = 3;

struct TestDb {
    db: Database,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> TestDb {
    let (db, dir) = crate::testing::sqlite().await;
    db.prepare_embedding_column(DIM).await.expect("embedding");
    TestDb {
        db,
        _dir: Some(dir),
    }
}

async fn postgres() -> Option<TestDb> {
    let (db, _) = crate::testing::postgres().await?;
    db.prepare_embedding_column(DIM).await.expect("embedding");
    Some(TestDb { db, _dir: None })
}

/// Every backend available to this run.
async fn backends() -> Vec<TestDb> {
    let mut all = vec![sqlite().await];
    all.extend(postgres().await);
    all
}

async fn user(db: &Database) -> Uuid {
    let email = format!("{}@example.com", Uuid::new_v4().simple());
    db.create_user(&email, "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA", None)
        .await
        .expect("user")
        .id
}

fn table(name: &str) -> &'static Collection {
    collection(name).expect("collection")
}

fn rec(fields: &[(&str, Value)]) -> Record {
    fields
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.clone()))
        .collect()
}

fn field<'a>(record: &'a Record, name: &str) -> &'a Value {
    record
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .expect("field present")
}

fn id_of(record: &Record) -> String {
    match field(record, "id") {
        Value::Uuid(id) => id.clone(),
        other => panic!("id is {other:?}"),
    }
}

fn ts(time: DateTime<Utc>) -> Value {
    Value::Timestamp(catalog::format_timestamp(&time))
}

fn invalid_field(error: CollectionError) -> String {
    match error {
        CollectionError::Invalid { field, .. } => field,
        other => panic!("expected invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn crud_is_scoped_to_the_caller() {
    for TestDb { db, .. } in backends().await {
        let (alice, bob) = (user(&db).await, user(&db).await);
        let logs = table("mood_logs");
        let row = db
            .storage_insert(
                alice,
                logs,
                rec(&[
                    ("mood_score", Value::Integer(7)),
                    ("location_type", Value::Text("home".into())),
                    ("note_sentiment", Value::Float(0.25)),
                    ("logged_at", Value::Text("2026-03-01T10:00:00+01:00".into())),
                ]),
            )
            .await
            .expect("insert");
        let id = id_of(&row);
        assert_eq!(field(&row, "mood_score"), &Value::Integer(7));
        assert_eq!(
            field(&row, "logged_at"),
            &Value::Timestamp("2026-03-01T09:00:00.000000Z".into())
        );
        assert_eq!(
            field(&row, "processed_for_insights"),
            &Value::Boolean(false)
        );
        assert_eq!(field(&row, "energy_level"), &Value::Null);
        assert!(row.iter().all(|(n, _)| n != "user_id"));

        assert_eq!(db.storage_get(alice, logs, &id).await.expect("get"), row);
        for result in [
            db.storage_get(bob, logs, &id).await.map(|_| ()),
            db.storage_update(bob, logs, &id, rec(&[("mood_score", Value::Integer(1))]))
                .await
                .map(|_| ()),
            db.storage_delete(bob, logs, &id).await,
        ] {
            assert!(
                matches!(result, Err(CollectionError::NotFound)),
                "{result:?}"
            );
        }
        let missing = Uuid::new_v4().to_string();
        assert!(matches!(
            db.storage_get(alice, logs, &missing).await,
            Err(CollectionError::NotFound)
        ));

        let updated = db
            .storage_update(
                alice,
                logs,
                &id,
                rec(&[
                    ("mood_score", Value::Integer(3)),
                    ("location_type", Value::Null),
                ]),
            )
            .await
            .expect("update");
        assert_eq!(field(&updated, "mood_score"), &Value::Integer(3));
        assert_eq!(field(&updated, "location_type"), &Value::Null);
        assert_eq!(field(&updated, "created_at"), field(&row, "created_at"));

        let page = db
            .storage_query(
                bob,
                logs,
                PageRequest {
                    fields: Vec::new(),
                    filters: vec![],
                    order_by: "logged_at".into(),
                    descending: true,
                    limit: 10,
                    cursor: None,
                },
            )
            .await
            .expect("query");
        assert!(page.rows.is_empty());

        db.storage_delete(alice, logs, &id).await.expect("delete");
        assert!(matches!(
            db.storage_get(alice, logs, &id).await,
            Err(CollectionError::NotFound)
        ));
    }
}

#[tokio::test]
async fn journal_updated_at_is_host_managed() {
    for TestDb { db, .. } in backends().await {
        let alice = user(&db).await;
        let journal = table("journal_entries");
        let row = db
            .storage_insert(
                alice,
                journal,
                rec(&[
                    ("content_encrypted", Value::Bytes(vec![0, 1, 2, 255])),
                    ("content_iv", Value::Bytes(vec![9; 12])),
                    (
                        "term_hashes",
                        Value::Json(r#"{"b": 1, "a": [true, null]}"#.into()),
                    ),
                ]),
            )
            .await
            .expect("insert");
        assert_eq!(
            field(&row, "content_encrypted"),
            &Value::Bytes(vec![0, 1, 2, 255])
        );
        assert_eq!(
            field(&row, "term_hashes"),
            &Value::Json(r#"{"a":[true,null],"b":1}"#.into())
        );
        assert_eq!(field(&row, "entry_type"), &Value::Text("freeform".into()));
        assert!(matches!(field(&row, "updated_at"), Value::Timestamp(_)));
        let refused = db
            .storage_update(
                alice,
                journal,
                &id_of(&row),
                rec(&[("updated_at", ts(Utc::now()))]),
            )
            .await
            .expect_err("host column");
        assert_eq!(invalid_field(refused), "updated_at");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let updated = db
            .storage_update(
                alice,
                journal,
                &id_of(&row),
                rec(&[("word_count", Value::Integer(12))]),
            )
            .await
            .expect("update");
        let (Value::Timestamp(before), Value::Timestamp(after)) =
            (field(&row, "updated_at"), field(&updated, "updated_at"))
        else {
            panic!("timestamps");
        };
        assert!(after > before, "{after} > {before}");
    }
}

#[tokio::test]
async fn values_are_refused_before_any_sql_with_the_field_named() {
    for TestDb { db, .. } in backends().await {
        let alice = user(&db).await;
        let logs = table("mood_logs");
        let cases: Vec<(Record, &str)> = vec![
            (rec(&[("mood_score", Value::Integer(11))]), "mood_score"),
            (
                rec(&[("mood_score", Value::Text("7".into()))]),
                "mood_score",
            ),
            (
                rec(&[("location_type", Value::Text("x".into()))]),
                "mood_score",
            ),
            (
                rec(&[
                    ("mood_score", Value::Integer(5)),
                    ("time_of_day", Value::Text("x".repeat(21))),
                ]),
                "time_of_day",
            ),
            (
                rec(&[
                    ("mood_score", Value::Integer(5)),
                    ("id", Value::Uuid("not-a-uuid".into())),
                ]),
                "id",
            ),
            (
                rec(&[
                    ("mood_score", Value::Integer(5)),
                    ("user_id", Value::Uuid(Uuid::new_v4().to_string())),
                ]),
                "user_id",
            ),
            (
                rec(&[
                    ("mood_score", Value::Integer(5)),
                    ("created_at", ts(Utc::now())),
                ]),
                "created_at",
            ),
            (
                rec(&[
                    ("mood_score", Value::Integer(5)),
                    ("mood_score", Value::Integer(6)),
                ]),
                "mood_score",
            ),
            (
                rec(&[
                    ("mood_score", Value::Integer(5)),
                    ("logged_at", Value::Text("yesterday".into())),
                ]),
                "logged_at",
            ),
        ];
        for (record, expected) in cases {
            let error = db
                .storage_insert(alice, logs, record)
                .await
                .expect_err("refused");
            assert_eq!(invalid_field(error), expected);
        }
        let factors = table("mood_factors");
        let error = db
            .storage_insert(
                alice,
                factors,
                rec(&[
                    ("mood_log_id", Value::Uuid(Uuid::new_v4().to_string())),
                    ("factor_type", Value::Text("sleep".into())),
                    ("impact_score", Value::Integer(6)),
                ]),
            )
            .await
            .expect_err("refused");
        assert_eq!(invalid_field(error), "impact_score");
        assert!(matches!(
            db.storage_insert(alice, table("content_library"), rec(&[]))
                .await,
            Err(CollectionError::ReadOnly("content_library"))
        ));
        assert!(matches!(
            db.storage_insert(alice, table("crisis_events"), rec(&[]))
                .await,
            Err(CollectionError::ReadOnly("crisis_events"))
        ));
        let page = db
            .storage_query(
                alice,
                logs,
                PageRequest {
                    fields: Vec::new(),
                    filters: vec![],
                    order_by: String::new(),
                    descending: false,
                    limit: 100,
                    cursor: None,
                },
            )
            .await
            .expect("query");
        assert!(page.rows.is_empty(), "nothing was written");
    }
}

#[tokio::test]
async fn child_rows_need_a_parent_of_the_caller() {
    for TestDb { db, .. } in backends().await {
        let (alice, bob) = (user(&db).await, user(&db).await);
        let log = db
            .storage_insert(
                alice,
                table("mood_logs"),
                rec(&[("mood_score", Value::Integer(4))]),
            )
            .await
            .expect("log");
        let factor = |mood_log: &str| {
            rec(&[
                ("mood_log_id", Value::Uuid(mood_log.to_owned())),
                ("factor_type", Value::Text("sleep".into())),
                ("impact_score", Value::Integer(-2)),
            ])
        };
        let factors = table("mood_factors");
        assert!(matches!(
            db.storage_insert(bob, factors, factor(&id_of(&log))).await,
            Err(CollectionError::NotFound)
        ));
        let own = db
            .storage_insert(alice, factors, factor(&id_of(&log)))
            .await
            .expect("own factor");
        assert!(matches!(
            db.storage_get(bob, factors, &id_of(&own)).await,
            Err(CollectionError::NotFound)
        ));
        // Moving the factor under another user's log is refused too.
        let bobs_log = db
            .storage_insert(
                bob,
                table("mood_logs"),
                rec(&[("mood_score", Value::Integer(4))]),
            )
            .await
            .expect("bob's log");
        assert!(matches!(
            db.storage_update(
                alice,
                factors,
                &id_of(&own),
                rec(&[("mood_log_id", Value::Uuid(id_of(&bobs_log)))])
            )
            .await,
            Err(CollectionError::NotFound)
        ));
        // References other than the parent: another user's insight is "no such row".
        let insight = db
            .storage_insert(
                bob,
                table("user_insights"),
                rec(&[
                    ("insight_type", Value::Text("pattern".into())),
                    ("title", Value::Text("t".into())),
                    ("description", Value::Text("d".into())),
                ]),
            )
            .await
            .expect("insight");
        let error = db
            .storage_insert(
                alice,
                table("recommendations"),
                rec(&[("insight_id", Value::Uuid(id_of(&insight)))]),
            )
            .await
            .expect_err("someone else's insight");
        assert_eq!(invalid_field(error), "insight_id");
        // Deleting the log cascades to its factors.
        db.storage_delete(alice, table("mood_logs"), &id_of(&log))
            .await
            .expect("delete");
        assert!(matches!(
            db.storage_get(alice, factors, &id_of(&own)).await,
            Err(CollectionError::NotFound)
        ));
    }
}

#[tokio::test]
async fn unique_violations_are_conflicts() {
    for TestDb { db, .. } in backends().await {
        let alice = user(&db).await;
        let connection = db
            .storage_insert(
                alice,
                table("wearable_connections"),
                rec(&[("provider", Value::Text("oura".into()))]),
            )
            .await
            .expect("connection");
        let metric = rec(&[
            ("connection_id", Value::Uuid(id_of(&connection))),
            ("metric_date", Value::Date("2026-11-20".into())),
            ("steps", Value::Integer(9000)),
        ]);
        let first = db
            .storage_insert(alice, table("wearable_metrics"), metric.clone())
            .await
            .expect("first");
        assert_eq!(
            field(&first, "metric_date"),
            &Value::Date("2026-11-20".into())
        );
        assert!(matches!(
            db.storage_insert(alice, table("wearable_metrics"), metric)
                .await,
            Err(CollectionError::Conflict(_))
        ));
    }
}

/// Reads every page and returns the ids in order.
/// The first ten of `user`'s mood factors.
/// The first page of `limit` rows, newest `logged_at` first, every field.
fn newest_first(limit: u32) -> PageRequest {
    PageRequest {
        fields: Vec::new(),
        filters: Vec::new(),
        order_by: "logged_at".into(),
        descending: true,
        limit,
        cursor: None,
    }
}

async fn mood_factors_of(db: &Database, user: Uuid) -> Vec<Record> {
    db.storage_query(
        user,
        table("mood_factors"),
        PageRequest {
            fields: Vec::new(),
            filters: vec![],
            order_by: String::new(),
            descending: false,
            limit: 10,
            cursor: None,
        },
    )
    .await
    .expect("factors")
    .rows
}

async fn all_pages(
    db: &Database,
    user: Uuid,
    order_by: &str,
    descending: bool,
    limit: u32,
    filters: Vec<Filter>,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor = None;
    for _ in 0..100 {
        let page = db
            .storage_query(
                user,
                table("mood_logs"),
                PageRequest {
                    fields: Vec::new(),
                    filters: filters.clone(),
                    order_by: order_by.into(),
                    descending,
                    limit,
                    cursor: cursor.clone(),
                },
            )
            .await
            .expect("page");
        assert!(page.rows.len() <= limit as usize);
        ids.extend(page.rows.iter().map(id_of));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return ids,
        }
    }
    panic!("too many pages");
}

#[tokio::test]
async fn keyset_pages_have_no_duplicates_or_gaps() {
    for TestDb { db, .. } in backends().await {
        let alice = user(&db).await;
        let base = Utc
            .with_ymd_and_hms(2026, 11, 1, 8, 0, 0)
            .single()
            .expect("time");
        // 23 rows over 4 distinct instants; every third has no energy level.
        let mut expected: Vec<(DateTime<Utc>, Option<i64>, String)> = Vec::new();
        for i in 0..23i64 {
            let at = base + Duration::hours(i % 4);
            let energy = (i % 3 != 0).then_some(i % 5 + 1);
            let row = db
                .storage_insert(
                    alice,
                    table("mood_logs"),
                    rec(&[
                        ("mood_score", Value::Integer(i % 10 + 1)),
                        ("logged_at", ts(at)),
                        ("energy_level", energy.map_or(Value::Null, Value::Integer)),
                    ]),
                )
                .await
                .expect("insert");
            expected.push((at, energy, id_of(&row)));
        }
        let other = user(&db).await;
        db.storage_insert(
            other,
            table("mood_logs"),
            rec(&[("mood_score", Value::Integer(1))]),
        )
        .await
        .expect("other");

        let mut by_time = expected.clone();
        by_time.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.cmp(&b.2)));
        let ascending: Vec<String> = by_time.iter().map(|r| r.2.clone()).collect();
        for limit in [1, 5, 7, 23, 100] {
            assert_eq!(
                all_pages(&db, alice, "logged_at", false, limit, vec![]).await,
                ascending
            );
            let mut descending = ascending.clone();
            descending.reverse();
            assert_eq!(
                all_pages(&db, alice, "logged_at", true, limit, vec![]).await,
                descending
            );
        }

        // A nullable order field: NULLs after every value ascending, first descending.
        let mut by_energy = expected.clone();
        by_energy.sort_by(|a, b| match (a.1, b.1) {
            (Some(x), Some(y)) => x.cmp(&y).then(a.2.cmp(&b.2)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.2.cmp(&b.2),
        });
        let ascending: Vec<String> = by_energy.iter().map(|r| r.2.clone()).collect();
        let mut descending = ascending.clone();
        descending.reverse();
        for limit in [2, 4, 6] {
            assert_eq!(
                all_pages(&db, alice, "energy_level", false, limit, vec![]).await,
                ascending
            );
            assert_eq!(
                all_pages(&db, alice, "energy_level", true, limit, vec![]).await,
                descending
            );
        }

        // Filters apply to every page.
        let cutoff = base + Duration::hours(2);
        let filtered = all_pages(
            &db,
            alice,
            "logged_at",
            false,
            3,
            vec![Filter {
                field: "logged_at".into(),
                comparison: Comparison::Ge,
                value: ts(cutoff),
            }],
        )
        .await;
        let wanted: Vec<String> = by_time
            .iter()
            .filter(|r| r.0 >= cutoff)
            .map(|r| r.2.clone())
            .collect();
        assert_eq!(filtered, wanted);
        let none = all_pages(
            &db,
            alice,
            "id",
            false,
            50,
            vec![Filter {
                field: "energy_level".into(),
                comparison: Comparison::Eq,
                value: Value::Null,
            }],
        )
        .await;
        assert_eq!(
            none.len(),
            expected.iter().filter(|r| r.1.is_none()).count()
        );
        let unique: HashSet<&String> = none.iter().collect();
        assert_eq!(unique.len(), none.len());

        // A cursor from another order is refused; so is garbage.
        let page = db
            .storage_query(
                alice,
                table("mood_logs"),
                PageRequest {
                    fields: Vec::new(),
                    filters: vec![],
                    order_by: "logged_at".into(),
                    descending: false,
                    limit: 5,
                    cursor: None,
                },
            )
            .await
            .expect("page");
        for (order_by, cursor) in [
            ("mood_score", page.next_cursor.clone()),
            ("logged_at", Some("garbage".to_owned())),
        ] {
            let error = db
                .storage_query(
                    alice,
                    table("mood_logs"),
                    PageRequest {
                        fields: Vec::new(),
                        filters: vec![],
                        order_by: order_by.into(),
                        descending: false,
                        limit: 5,
                        cursor,
                    },
                )
                .await
                .expect_err("bad cursor");
            assert_eq!(invalid_field(error), "cursor");
        }
        let error = db
            .storage_query(
                alice,
                table("mood_logs"),
                PageRequest {
                    fields: Vec::new(),
                    filters: vec![],
                    order_by: "note".into(),
                    descending: false,
                    limit: 5,
                    cursor: None,
                },
            )
            .await
            .expect_err("not sortable");
        assert_eq!(invalid_field(error), "order-by");
    }
}

#[test]
fn time_groupings_follow_the_zone_across_dst() {
    let tz: Tz = "America/New_York".parse().expect("zone");
    let at = |y, m, d, h, min| {
        Typed::Timestamp(
            Utc.with_ymd_and_hms(y, m, d, h, min, 0)
                .single()
                .expect("time"),
        )
    };
    // 2026-03-08: clocks spring forward at 02:00 EST (07:00Z) to 03:00 EDT.
    // 2026-11-01: clocks fall back at 02:00 EDT (06:00Z) to 01:00 EST.
    let rows = vec![
        (at(2026, 3, 8, 6, 30), vec![Some(2.0)]), // 01:30 EST, Sunday
        (at(2026, 3, 8, 7, 30), vec![Some(4.0)]), // 03:30 EDT, Sunday
        (at(2026, 3, 9, 3, 30), vec![Some(6.0)]), // 23:30 EDT, Sunday 8th
        (at(2026, 11, 1, 5, 30), vec![Some(1.0)]), // 01:30 EDT, Sunday
        (at(2026, 11, 1, 6, 30), vec![Some(3.0)]), // 01:30 EST, Sunday
        (at(2026, 11, 2, 4, 59), vec![Some(5.0)]), // 23:59 EST, Sunday 1st
        (at(2026, 11, 2, 5, 0), vec![None]),      // 00:00 EST, Monday 2nd
        (Typed::Null, vec![Some(9.0)]),
    ];
    // One value per measure: the same field for both.
    let rows: Vec<(Typed, Vec<Option<f64>>)> = rows
        .into_iter()
        .map(|(key, values)| (key, vec![values[0], values[0]]))
        .collect();
    let functions = [AggregateFn::Count, AggregateFn::Avg];
    let hours = aggregate_rows(rows.clone(), &functions, Grouping::Hour, tz);
    let groups: Vec<(Option<String>, Vec<Option<f64>>)> =
        hours.into_iter().map(|r| (r.group, r.values)).collect();
    assert_eq!(
        groups,
        vec![
            (Some("0".into()), vec![Some(0.0), None]),
            (Some("1".into()), vec![Some(3.0), Some(2.0)]),
            (Some("3".into()), vec![Some(1.0), Some(4.0)]),
            (Some("23".into()), vec![Some(2.0), Some(5.5)]),
            (None, vec![Some(1.0), Some(9.0)]),
        ]
    );
    let days = aggregate_rows(rows.clone(), &functions, Grouping::Day, tz);
    let keys: Vec<Option<String>> = days.iter().map(|r| r.group.clone()).collect();
    assert_eq!(
        keys,
        vec![
            Some("2026-03-08".into()),
            Some("2026-11-01".into()),
            Some("2026-11-02".into()),
            None
        ]
    );
    assert_eq!(days[0].values, vec![Some(3.0), Some(4.0)]);
    assert_eq!(days[1].values, vec![Some(3.0), Some(3.0)]);
    let weekdays = aggregate_rows(rows.clone(), &functions, Grouping::Weekday, tz);
    assert_eq!(weekdays[0].group.as_deref(), Some("1"));
    assert_eq!(weekdays[1].group.as_deref(), Some("7"));
    assert_eq!(weekdays[1].values[0], Some(6.0));
    let weeks = aggregate_rows(rows.clone(), &functions, Grouping::IsoWeek, tz);
    let keys: Vec<Option<&str>> = weeks.iter().map(|r| r.group.as_deref()).collect();
    assert_eq!(
        keys,
        vec![Some("2026-W10"), Some("2026-W44"), Some("2026-W45"), None]
    );
    // In UTC the same instants fall elsewhere.
    let utc_hours = aggregate_rows(rows, &functions, Grouping::Hour, Tz::UTC);
    assert_eq!(utc_hours[0].group.as_deref(), Some("3"));

    // No grouping: always one row, even with no input.
    let empty = aggregate_rows(
        Vec::new(),
        &[AggregateFn::Count, AggregateFn::Stddev],
        Grouping::None,
        tz,
    );
    assert_eq!(
        empty,
        vec![AggregateRow {
            group: None,
            values: vec![Some(0.0), None]
        }]
    );
}

#[test]
fn measures_match_sql_semantics() {
    let values = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
    assert_eq!(measure(AggregateFn::Count, &values), Some(8.0));
    assert_eq!(measure(AggregateFn::Avg, &values), Some(5.0));
    assert_eq!(measure(AggregateFn::Min, &values), Some(2.0));
    assert_eq!(measure(AggregateFn::Max, &values), Some(9.0));
    let stddev = measure(AggregateFn::Stddev, &values).expect("stddev");
    assert!((stddev - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
    assert_eq!(measure(AggregateFn::Stddev, &[1.0]), None);
    assert_eq!(measure(AggregateFn::Avg, &[]), None);
}

#[tokio::test]
async fn aggregates_group_in_the_users_zone() {
    for TestDb { db, .. } in backends().await {
        let (alice, bob) = (user(&db).await, user(&db).await);
        let logs = table("mood_logs");
        // Monday 2026-11-23 23:30 in New York is Tuesday 04:30 UTC.
        for (at, score) in [
            ("2026-11-24T04:30:00Z", 4),
            ("2026-11-24T04:45:00Z", 6),
            ("2026-11-24T15:00:00Z", 9),
        ] {
            db.storage_insert(
                alice,
                logs,
                rec(&[
                    ("mood_score", Value::Integer(score)),
                    ("logged_at", Value::Text(at.into())),
                ]),
            )
            .await
            .expect("insert");
        }
        db.storage_insert(bob, logs, rec(&[("mood_score", Value::Integer(1))]))
            .await
            .expect("bob");
        let request = |grouping| AggregateRequest {
            filters: vec![],
            measures: vec![
                ("*".into(), AggregateFn::Count),
                ("mood_score".into(), AggregateFn::Avg),
                ("mood_score".into(), AggregateFn::Max),
            ],
            grouping,
            group_field: None,
        };
        let weekday = db
            .storage_aggregate(alice, logs, request(Grouping::Weekday), "America/New_York")
            .await
            .expect("weekday");
        assert_eq!(
            weekday,
            vec![
                AggregateRow {
                    group: Some("1".into()),
                    values: vec![Some(2.0), Some(5.0), Some(6.0)]
                },
                AggregateRow {
                    group: Some("2".into()),
                    values: vec![Some(1.0), Some(9.0), Some(9.0)]
                },
            ]
        );
        let hour = db
            .storage_aggregate(alice, logs, request(Grouping::Hour), "America/New_York")
            .await
            .expect("hour");
        let keys: Vec<Option<&str>> = hour.iter().map(|r| r.group.as_deref()).collect();
        assert_eq!(keys, vec![Some("10"), Some("23")]);
        let utc = db
            .storage_aggregate(alice, logs, request(Grouping::Weekday), "Not/AZone")
            .await
            .expect("utc");
        assert_eq!(utc.len(), 1);
        assert_eq!(utc[0].group.as_deref(), Some("2"));
        let by_score = db
            .storage_aggregate(
                alice,
                logs,
                AggregateRequest {
                    filters: vec![Filter {
                        field: "mood_score".into(),
                        comparison: Comparison::Ge,
                        value: Value::Integer(5),
                    }],
                    measures: vec![("mood_score".into(), AggregateFn::Count)],
                    grouping: Grouping::FieldValue,
                    group_field: Some("mood_score".into()),
                },
                "UTC",
            )
            .await
            .expect("by value");
        let keys: Vec<Option<&str>> = by_score.iter().map(|r| r.group.as_deref()).collect();
        assert_eq!(keys, vec![Some("6"), Some("9")]);
        let error = db
            .storage_aggregate(
                alice,
                logs,
                AggregateRequest {
                    filters: vec![],
                    measures: vec![("note".into(), AggregateFn::Avg)],
                    grouping: Grouping::None,
                    group_field: None,
                },
                "UTC",
            )
            .await
            .expect_err("not numeric");
        assert_eq!(invalid_field(error), "note");
    }
}

#[tokio::test]
async fn nearest_ranks_the_callers_rows_by_cosine_distance() {
    for TestDb { db, .. } in backends().await {
        let (alice, bob) = (user(&db).await, user(&db).await);
        let mut sessions = Vec::new();
        for owner in [alice, bob] {
            sessions.push(
                db.storage_insert(owner, table("chat_sessions"), rec(&[]))
                    .await
                    .expect("session"),
            );
        }
        let messages = table("chat_messages");
        let vectors: [(&str, [f32; 3]); 4] = [
            ("east", [1.0, 0.0, 0.0]),
            ("north-east", [1.0, 1.0, 0.0]),
            ("north", [0.0, 1.0, 0.0]),
            ("west", [-1.0, 0.0, 0.0]),
        ];
        for (label, vector) in vectors {
            db.storage_insert(
                alice,
                messages,
                rec(&[
                    ("session_id", Value::Uuid(id_of(&sessions[0]))),
                    ("role", Value::Text("user".into())),
                    ("content_encrypted", Value::Bytes(label.as_bytes().to_vec())),
                    ("content_iv", Value::Bytes(vec![7; 24])),
                    ("embedding", Value::Vector(vector.to_vec())),
                ]),
            )
            .await
            .expect("message");
        }
        db.storage_insert(
            alice,
            messages,
            rec(&[
                ("session_id", Value::Uuid(id_of(&sessions[0]))),
                ("role", Value::Text("user".into())),
                (
                    "content_encrypted",
                    Value::Bytes("no embedding".as_bytes().to_vec()),
                ),
                ("content_iv", Value::Bytes(vec![7; 24])),
            ]),
        )
        .await
        .expect("message");
        db.storage_insert(
            bob,
            messages,
            rec(&[
                ("session_id", Value::Uuid(id_of(&sessions[1]))),
                ("role", Value::Text("user".into())),
                ("content_encrypted", Value::Bytes("bob".as_bytes().to_vec())),
                ("content_iv", Value::Bytes(vec![7; 24])),
                ("embedding", Value::Vector(vec![1.0, 0.0, 0.0])),
            ]),
        )
        .await
        .expect("bob's message");
        let found = db
            .storage_nearest(alice, messages, "embedding", vec![2.0, 0.1, 0.0], 3, vec![])
            .await
            .expect("nearest");
        let labels: Vec<&Value> = found
            .iter()
            .map(|s| field(&s.row, "content_encrypted"))
            .collect();
        assert_eq!(
            labels,
            vec![
                &Value::Bytes(b"east".to_vec()),
                &Value::Bytes(b"north-east".to_vec()),
                &Value::Bytes(b"north".to_vec())
            ]
        );
        let expected = cosine_distance(&[2.0, 0.1, 0.0], &[1.0, 1.0, 0.0]);
        assert!((f64::from(found[1].distance) - expected).abs() < 1e-5);
        assert_eq!(
            field(&found[0].row, "embedding"),
            &Value::Vector(vec![1.0, 0.0, 0.0])
        );
        let filtered = db
            .storage_nearest(
                alice,
                messages,
                "embedding",
                vec![1.0, 0.0, 0.0],
                10,
                vec![Filter {
                    field: "content_encrypted".into(),
                    comparison: Comparison::Ne,
                    value: Value::Bytes(b"east".to_vec()),
                }],
            )
            .await;
        // Sealed bytes are not filterable.
        assert_eq!(
            invalid_field(filtered.expect_err("not filterable")),
            "content_encrypted"
        );
        let all = db
            .storage_nearest(
                alice,
                messages,
                "embedding",
                vec![1.0, 0.0, 0.0],
                100,
                vec![],
            )
            .await
            .expect("all");
        assert_eq!(all.len(), 4);
        assert!((all[3].distance - 2.0).abs() < 1e-6);
        for (target, name) in [(vec![1.0, 0.0], "target"), (vec![0.0; 3], "target")] {
            let error = db
                .storage_nearest(alice, messages, "embedding", target, 3, vec![])
                .await
                .expect_err("bad target");
            assert_eq!(invalid_field(error), name);
        }
    }
}

#[tokio::test]
async fn batches_are_all_or_nothing() {
    for TestDb { db, .. } in backends().await {
        let alice = user(&db).await;
        let logs = table("mood_logs");
        let existing = db
            .storage_insert(alice, logs, rec(&[("mood_score", Value::Integer(2))]))
            .await
            .expect("existing");
        let results = db
            .storage_batch(
                alice,
                vec![
                    Write::Insert {
                        collection: logs,
                        row: rec(&[("mood_score", Value::Integer(8))]),
                    },
                    Write::Update {
                        collection: logs,
                        id: id_of(&existing),
                        changes: rec(&[("mood_score", Value::Integer(3))]),
                    },
                    Write::Delete {
                        collection: logs,
                        id: id_of(&existing),
                    },
                ],
            )
            .await
            .expect("batch");
        assert_eq!(results.len(), 3);
        assert!(results[0].is_some() && results[1].is_some() && results[2].is_none());
        let count = |db: Database| async move {
            db.storage_aggregate(
                alice,
                table("mood_logs"),
                AggregateRequest {
                    filters: vec![],
                    measures: vec![("*".into(), AggregateFn::Count)],
                    grouping: Grouping::None,
                    group_field: None,
                },
                "UTC",
            )
            .await
            .expect("count")[0]
                .values[0]
        };
        assert_eq!(count(db.clone()).await, Some(1.0));
        // A failing write (a row that is gone) undoes the insert before it.
        let error = db
            .storage_batch(
                alice,
                vec![
                    Write::Insert {
                        collection: logs,
                        row: rec(&[("mood_score", Value::Integer(8))]),
                    },
                    Write::Delete {
                        collection: logs,
                        id: id_of(&existing),
                    },
                ],
            )
            .await
            .expect_err("second write fails");
        assert!(matches!(error, CollectionError::NotFound));
        assert_eq!(count(db.clone()).await, Some(1.0));
        let error = db
            .storage_batch(
                alice,
                vec![
                    Write::Insert {
                        collection: logs,
                        row: rec(&[("mood_score", Value::Integer(8))]),
                    },
                    Write::Insert {
                        collection: logs,
                        row: rec(&[("mood_score", Value::Integer(80))]),
                    },
                ],
            )
            .await
            .expect_err("invalid");
        assert_eq!(invalid_field(error), "writes[1].mood_score");
        assert_eq!(count(db.clone()).await, Some(1.0));
    }
}

#[tokio::test]
async fn a_different_embedding_dimension_is_refused_at_start_up() {
    for TestDb { db, .. } in backends().await {
        db.prepare_embedding_column(DIM)
            .await
            .expect("same dimension again");
        let error = db
            .prepare_embedding_column(DIM + 1)
            .await
            .expect_err("another dimension");
        let message = error.to_string();
        assert!(message.contains("MINDFLOW_EMBEDDING_DIM"), "{message}");
        assert!(message.contains(&format!("{DIM}-dimensional")), "{message}");
    }
}

/// The catalog mirrors the migrated schema: names, nullability, defaults and (on
/// PostgreSQL) types and VARCHAR lengths.
#[tokio::test]
async fn catalog_matches_the_migrated_schema() {
    for TestDb { db, .. } in backends().await {
        for collection in CATALOG {
            let rows = match db.backend() {
                Backend::Sqlite => db
                    .fetch_all(
                        &format!(
                            "SELECT name AS column_name, \"notnull\" AS not_null, \
                             dflt_value IS NOT NULL AS has_default, type AS data_type, \
                             NULL AS max_chars FROM pragma_table_info('{}')",
                            collection.name
                        ),
                        &[],
                    )
                    .await
                    .expect("pragma"),
                Backend::Postgres => db
                    .fetch_all(
                        "SELECT column_name::text AS column_name, \
                         CASE WHEN is_nullable = 'NO' THEN 1 ELSE 0 END AS not_null, \
                         CASE WHEN column_default IS NOT NULL THEN 1 ELSE 0 END AS has_default, \
                         udt_name::text AS data_type, \
                         character_maximum_length::int8 AS max_chars \
                         FROM information_schema.columns \
                         WHERE table_schema = current_schema() AND table_name = $1",
                        &[Param::Text(collection.name.into())],
                    )
                    .await
                    .expect("information_schema"),
            };
            let mut seen = HashSet::new();
            for row in &rows {
                let name = row.text("column_name").expect("name");
                let not_null = row.int("not_null").expect("notnull") != 0;
                let has_default = row.int("has_default").expect("default") != 0;
                let data_type = row.text("data_type").expect("type").to_lowercase();
                seen.insert(name.clone());
                if name == "user_id" {
                    assert!(
                        collection.ownership == Ownership::User,
                        "{}.user_id",
                        collection.name
                    );
                    continue;
                }
                let column = collection
                    .any_column(&name)
                    .unwrap_or_else(|| panic!("{}.{name} is not in the catalog", collection.name));
                let host_default = column.writer == Writer::Host;
                assert_eq!(
                    column.not_null, not_null,
                    "{}.{name} NOT NULL",
                    collection.name
                );
                if column.writer == Writer::Component {
                    assert_eq!(
                        column.required,
                        not_null && !has_default,
                        "{}.{name} required",
                        collection.name
                    );
                } else {
                    assert!(host_default || has_default);
                }
                let expected: &[&str] = match (db.backend(), column.ty) {
                    (Backend::Sqlite, ColumnType::Int { .. } | ColumnType::Bool) => &["integer"],
                    (Backend::Sqlite, ColumnType::Float) => &["real"],
                    (Backend::Sqlite, ColumnType::Bytes | ColumnType::Vector) => &["blob"],
                    (Backend::Sqlite, _) => &["text"],
                    (Backend::Postgres, ColumnType::Uuid) => &["uuid"],
                    (Backend::Postgres, ColumnType::Text { max_chars: Some(_) }) => &["varchar"],
                    (Backend::Postgres, ColumnType::Text { max_chars: None }) => &["text"],
                    (Backend::Postgres, ColumnType::Int { min, .. }) if min >= -32_768 => &["int2"],
                    (Backend::Postgres, ColumnType::Int { .. }) => &["int4"],
                    (Backend::Postgres, ColumnType::Float) => &["float8"],
                    (Backend::Postgres, ColumnType::Bool) => &["bool"],
                    (Backend::Postgres, ColumnType::Timestamp) => &["timestamptz"],
                    (Backend::Postgres, ColumnType::Date) => &["date"],
                    (Backend::Postgres, ColumnType::Json) => &["jsonb"],
                    (Backend::Postgres, ColumnType::Bytes) => &["bytea"],
                    (Backend::Postgres, ColumnType::Vector) => &["vector"],
                };
                assert!(
                    expected.contains(&data_type.as_str()),
                    "{}.{name}: {data_type}, expected {expected:?}",
                    collection.name
                );
                if db.backend() == Backend::Postgres {
                    let max = row.opt_int("max_chars").expect("max");
                    let catalog_max = match column.ty {
                        ColumnType::Text { max_chars } => {
                            max_chars.and_then(|m| i64::try_from(m).ok())
                        }
                        _ => None,
                    };
                    assert_eq!(max, catalog_max, "{}.{name} length", collection.name);
                }
            }
            for column in collection.columns {
                assert!(
                    seen.contains(column.name),
                    "{}.{} is not in the schema",
                    collection.name,
                    column.name
                );
            }
        }
    }
}

/// On PostgreSQL, with many other users' embeddings the planner may answer from the HNSW
/// index, which filters after the scan; the caller must still get all of their own rows.
#[tokio::test]
async fn nearest_is_complete_for_one_user_among_many() {
    let Some(TestDb { db, .. }) = postgres().await else {
        return;
    };
    let (alice, crowd) = (user(&db).await, user(&db).await);
    let crowd_session = db
        .storage_insert(crowd, table("chat_sessions"), rec(&[]))
        .await
        .expect("session");
    db.execute(
        "INSERT INTO chat_messages (id, session_id, role, content_encrypted, content_iv, embedding) \
         SELECT gen_random_uuid(), $1, 'user', '\\x63726f7764'::bytea, '\\x00'::bytea, \
         CAST(ARRAY[random() + 0.01, random(), random()] AS vector) FROM generate_series(1, 5000)",
        &[Param::Uuid(parse_id(&id_of(&crowd_session)).expect("id"))],
    )
    .await
    .expect("crowd");
    db.execute("ANALYZE chat_messages", &[])
        .await
        .expect("analyze");
    let session = db
        .storage_insert(alice, table("chat_sessions"), rec(&[]))
        .await
        .expect("session");
    for vector in [[0.0f32, 0.0, 1.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.0]] {
        db.storage_insert(
            alice,
            table("chat_messages"),
            rec(&[
                ("session_id", Value::Uuid(id_of(&session))),
                ("role", Value::Text("user".into())),
                (
                    "content_encrypted",
                    Value::Bytes("alice".as_bytes().to_vec()),
                ),
                ("content_iv", Value::Bytes(vec![7; 24])),
                ("embedding", Value::Vector(vector.to_vec())),
            ]),
        )
        .await
        .expect("message");
    }
    let found = db
        .storage_nearest(
            alice,
            table("chat_messages"),
            "embedding",
            vec![1.0, 1.0, 1.0],
            10,
            vec![],
        )
        .await
        .expect("nearest");
    assert_eq!(found.len(), 3);
    assert!(
        found
            .iter()
            .all(|s| field(&s.row, "content_encrypted") == &Value::Bytes(b"alice".to_vec()))
    );
    let distances: Vec<f32> = found.iter().map(|s| s.distance).collect();
    assert!(distances.windows(2).all(|w| w[0] <= w[1]), "{distances:?}");
}

/// An id an insert brings names the row within its batch only: the row is stored under a
/// fresh id the host makes, and the batch's later writes that name it point at that. So a
/// taken id looks exactly like a free one, whoever took it (issue 18, finding 4).
#[tokio::test]
async fn a_chosen_id_names_a_row_in_its_batch_and_is_never_stored() {
    for TestDb { db, .. } in backends().await {
        let (alice, bob) = (user(&db).await, user(&db).await);
        let chosen = Uuid::new_v4().to_string();
        let log_and_factor = || {
            vec![
                Write::Insert {
                    collection: table("mood_logs"),
                    row: rec(&[
                        ("id", Value::Uuid(chosen.clone())),
                        ("mood_score", Value::Integer(6)),
                    ]),
                },
                Write::Insert {
                    collection: table("mood_factors"),
                    row: rec(&[
                        ("mood_log_id", Value::Uuid(chosen.clone())),
                        ("factor_type", Value::Text("sleep".into())),
                    ]),
                },
                Write::Update {
                    collection: table("mood_logs"),
                    id: chosen.clone(),
                    changes: rec(&[("energy_level", Value::Integer(2))]),
                },
            ]
        };
        let results = db
            .storage_batch(alice, log_and_factor())
            .await
            .expect("batch");
        let log = results[0].as_ref().expect("log");
        let stored = id_of(log);
        assert_ne!(stored, chosen);
        let factor = results[1].as_ref().expect("factor");
        assert_eq!(field(factor, "mood_log_id"), &Value::Uuid(stored.clone()));
        let updated = results[2].as_ref().expect("update");
        assert_eq!(field(updated, "energy_level"), &Value::Integer(2));
        // The same name again, by Alice or by Bob: the same answer as a fresh one.
        for who in [alice, bob] {
            let again = db
                .storage_batch(who, log_and_factor())
                .await
                .expect("the name is free again");
            let again = id_of(again[0].as_ref().expect("log"));
            assert!(again != stored && again != chosen);
            let single = db
                .storage_insert(
                    who,
                    table("mood_logs"),
                    rec(&[
                        ("id", Value::Uuid(chosen.clone())),
                        ("mood_score", Value::Integer(1)),
                    ]),
                )
                .await
                .expect("insert");
            assert_ne!(id_of(&single), chosen);
        }
        // Nothing is stored under the chosen id; Bob cannot see Alice's row; an id never
        // changes.
        for who in [alice, bob] {
            assert!(matches!(
                db.storage_get(who, table("mood_logs"), &chosen).await,
                Err(CollectionError::NotFound)
            ));
        }
        assert!(matches!(
            db.storage_get(bob, table("mood_logs"), &stored).await,
            Err(CollectionError::NotFound)
        ));
        let error = db
            .storage_update(
                alice,
                table("mood_logs"),
                &stored,
                rec(&[("id", Value::Uuid(Uuid::new_v4().to_string()))]),
            )
            .await
            .expect_err("id is fixed");
        assert_eq!(invalid_field(error), "id");
        // One name for two rows of a batch is refused before anything is written.
        let mut twice = log_and_factor();
        twice.push(log_and_factor().remove(0));
        let error = db.storage_batch(alice, twice).await.expect_err("twice");
        assert_eq!(invalid_field(error), "writes[3].id");
    }
}

/// A batch trusts its own earlier inserts as the caller's parents, but not one it deleted
/// again, nor another user's row.
#[tokio::test]
async fn a_batch_child_needs_a_parent_still_there_and_the_callers() {
    for TestDb { db, .. } in backends().await {
        let (alice, bob) = (user(&db).await, user(&db).await);
        let log = |id: &str| Write::Insert {
            collection: table("mood_logs"),
            row: rec(&[
                ("id", Value::Uuid(id.to_owned())),
                ("mood_score", Value::Integer(4)),
            ]),
        };
        let factor = |parent: &str| Write::Insert {
            collection: table("mood_factors"),
            row: rec(&[
                ("mood_log_id", Value::Uuid(parent.to_owned())),
                ("factor_type", Value::Text("sleep".into())),
            ]),
        };
        let deleted = Uuid::new_v4().to_string();
        let result = db
            .storage_batch(
                alice,
                vec![
                    log(&deleted),
                    Write::Delete {
                        collection: table("mood_logs"),
                        id: deleted.clone(),
                    },
                    factor(&deleted),
                ],
            )
            .await;
        assert!(
            matches!(result, Err(CollectionError::NotFound)),
            "{result:?}"
        );
        let stored = db
            .storage_batch(alice, vec![log(&Uuid::new_v4().to_string())])
            .await
            .expect("alice's log");
        let alices = id_of(stored[0].as_ref().expect("log"));
        let result = db
            .storage_batch(bob, vec![log(&Uuid::new_v4().to_string()), factor(&alices)])
            .await;
        assert!(
            matches!(result, Err(CollectionError::NotFound)),
            "{result:?}"
        );
        // Nothing of the refused batches stays: Alice has her one log, Bob nothing.
        for (who, logs) in [(alice, vec![alices.clone()]), (bob, vec![])] {
            assert_eq!(all_pages(&db, who, "", false, 10, vec![]).await, logs);
            assert!(mood_factors_of(&db, who).await.is_empty());
        }
    }
}

#[tokio::test]
async fn text_ranges_compare_bytes_on_both_backends() {
    for TestDb { db, .. } in backends().await {
        let alice = user(&db).await;
        for label in ["a", "B", "b", "á"] {
            db.storage_insert(
                alice,
                table("mood_logs"),
                rec(&[
                    ("mood_score", Value::Integer(5)),
                    ("time_of_day", Value::Text(label.into())),
                ]),
            )
            .await
            .expect("insert");
        }
        let page = db
            .storage_query(
                alice,
                table("mood_logs"),
                PageRequest {
                    fields: Vec::new(),
                    filters: vec![Filter {
                        field: "time_of_day".into(),
                        comparison: Comparison::Gt,
                        value: Value::Text("a".into()),
                    }],
                    order_by: String::new(),
                    descending: false,
                    limit: 10,
                    cursor: None,
                },
            )
            .await
            .expect("query");
        let mut labels: Vec<String> = page
            .rows
            .iter()
            .map(|row| match field(row, "time_of_day") {
                Value::Text(t) => t.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        labels.sort();
        assert_eq!(labels, vec!["b".to_owned(), "á".to_owned()]);
    }
}

/// A log and its factors in one batch (one statement on PostgreSQL): what the batch returns
/// is what is stored, every type round-trips, and a refused batch leaves nothing behind.
#[tokio::test]
async fn a_batch_of_a_parent_and_its_children_returns_the_rows_as_stored() {
    for TestDb { db, .. } in backends().await {
        let alice = user(&db).await;
        let log_id = Uuid::new_v4().to_string();
        let log = Write::Insert {
            collection: table("mood_logs"),
            row: rec(&[
                ("id", Value::Uuid(log_id.clone())),
                ("mood_score", Value::Integer(7)),
                ("energy_level", Value::Integer(3)),
                ("location_type", Value::Text("outdoors".into())),
                ("note_sentiment", Value::Float(0.25)),
                ("crisis_flag_triggered", Value::Boolean(false)),
            ]),
        };
        let factor = |kind: &str, impact: i64| Write::Insert {
            collection: table("mood_factors"),
            row: rec(&[
                ("mood_log_id", Value::Uuid(log_id.clone())),
                ("factor_type", Value::Text(kind.into())),
                ("impact_score", Value::Integer(impact)),
            ]),
        };
        let results = db
            .storage_batch(
                alice,
                vec![log.clone(), factor("sleep", -2), factor("exercise", 3)],
            )
            .await
            .expect("batch");
        let [Some(stored_log), Some(sleep), Some(exercise)] = &results[..] else {
            panic!("three rows back: {results:?}");
        };
        let stored_id = id_of(stored_log);
        assert_eq!(
            &db.storage_get(alice, table("mood_logs"), &stored_id)
                .await
                .expect("log"),
            stored_log
        );
        assert_eq!(field(stored_log, "note_sentiment"), &Value::Float(0.25));
        assert_eq!(field(stored_log, "energy_level"), &Value::Integer(3));
        for (row, kind, impact) in [(sleep, "sleep", -2), (exercise, "exercise", 3)] {
            assert_eq!(
                &db.storage_get(alice, table("mood_factors"), &id_of(row))
                    .await
                    .expect("factor"),
                row
            );
            assert_eq!(field(row, "factor_type"), &Value::Text(kind.into()));
            assert_eq!(field(row, "impact_score"), &Value::Integer(impact));
            assert_eq!(field(row, "mood_log_id"), &Value::Uuid(stored_id.clone()));
        }
        // A batch whose last write points at a log that is not there: refused whole.
        let orphan = Write::Insert {
            collection: table("mood_factors"),
            row: rec(&[
                ("mood_log_id", Value::Uuid(Uuid::new_v4().to_string())),
                ("factor_type", Value::Text("work".into())),
            ]),
        };
        let result = db.storage_batch(alice, vec![log, orphan]).await;
        assert!(
            matches!(result, Err(CollectionError::NotFound)),
            "{result:?}"
        );
        assert_eq!(
            mood_factors_of(&db, alice).await.len(),
            2,
            "the refused batch's factor is not there"
        );
        let logs = db
            .storage_query(
                alice,
                table("mood_logs"),
                PageRequest {
                    fields: Vec::new(),
                    filters: vec![],
                    order_by: String::new(),
                    descending: false,
                    limit: 10,
                    cursor: None,
                },
            )
            .await
            .expect("logs");
        assert_eq!(logs.rows.len(), 1, "the refused batch's log is not there");
    }
}

/// The SQLite query plan of a recorded statement, one line per step.
async fn sqlite_plan(db: &Database, sql: &str, params: &[Param]) -> Vec<String> {
    let Database::Sqlite(pool, _) = db else {
        panic!("SQLite only");
    };
    let explain = format!("EXPLAIN QUERY PLAN {sql}");
    let rows = crate::params::bind_sqlite(sqlx::query(sqlx::AssertSqlSafe(explain)), params)
        .fetch_all(pool)
        .await
        .expect("explain");
    rows.iter()
        .map(|row| sqlx::Row::get::<String, _>(row, "detail"))
        .collect()
}

/// Every statement of a storage call pinned to a row or a parent (get, update, delete,
/// children, a query or aggregate filtered by parent, inserts and their reference checks)
/// reaches its rows through an index on SQLite: no table scan, and no list of all the user's
/// parent rows built per call. So a child row's ownership check costs O(log n) however long
/// the user's history, which is what keeps reads flat as a history grows.
#[tokio::test]
async fn pinned_statements_use_indexes_on_sqlite() {
    let test = sqlite().await;
    let db = &test.db;
    let (alice, bob) = (user(db).await, user(db).await);
    let logs = table("mood_logs");
    let factors = table("mood_factors");
    let sessions = table("chat_sessions");
    let messages = table("chat_messages");
    let mut log_ids = Vec::new();
    for owner in [alice, bob] {
        for score in 1..=5 {
            let log = db
                .storage_insert(owner, logs, rec(&[("mood_score", Value::Integer(score))]))
                .await
                .expect("log");
            log_ids.push(id_of(&log));
        }
    }
    let session = db
        .storage_insert(alice, sessions, rec(&[("title", Value::Text("t".into()))]))
        .await
        .expect("session");
    let session_id = id_of(&session);
    let by_parent = |field: &str, id: &str| Filter {
        field: field.into(),
        comparison: Comparison::Eq,
        value: Value::Uuid(id.to_owned()),
    };

    crate::statement_log::start();
    let factor = db
        .storage_insert(
            alice,
            factors,
            rec(&[
                ("mood_log_id", Value::Uuid(log_ids[0].clone())),
                ("factor_type", Value::Text("sleep".into())),
            ]),
        )
        .await
        .expect("factor");
    let factor_id = id_of(&factor);
    db.storage_get(alice, factors, &factor_id)
        .await
        .expect("get");
    db.storage_children(alice, factors, "mood_log_id", &log_ids)
        .await
        .expect("children");
    db.storage_query(
        alice,
        factors,
        PageRequest {
            fields: Vec::new(),
            filters: vec![by_parent("mood_log_id", &log_ids[0])],
            order_by: "id".into(),
            descending: false,
            limit: 20,
            cursor: None,
        },
    )
    .await
    .expect("query");
    db.storage_aggregate(
        alice,
        factors,
        AggregateRequest {
            filters: vec![by_parent("mood_log_id", &log_ids[0])],
            measures: vec![("impact_score".into(), AggregateFn::Avg)],
            grouping: Grouping::None,
            group_field: None,
        },
        "UTC",
    )
    .await
    .expect("aggregate");
    db.storage_update(
        alice,
        factors,
        &factor_id,
        rec(&[("impact_score", Value::Integer(2))]),
    )
    .await
    .expect("update");
    let message = db
        .storage_insert(
            alice,
            messages,
            rec(&[
                ("session_id", Value::Uuid(session_id.clone())),
                ("role", Value::Text("user".into())),
                (
                    "content_encrypted",
                    Value::Bytes("hello".as_bytes().to_vec()),
                ),
                ("content_iv", Value::Bytes(vec![7; 24])),
            ]),
        )
        .await
        .expect("message");
    db.storage_get(alice, messages, &id_of(&message))
        .await
        .expect("get message");
    db.storage_query(
        alice,
        messages,
        PageRequest {
            fields: Vec::new(),
            filters: vec![by_parent("session_id", &session_id)],
            order_by: "created_at".into(),
            descending: false,
            limit: 20,
            cursor: None,
        },
    )
    .await
    .expect("messages");
    db.storage_get(alice, logs, &log_ids[0]).await.expect("log");
    db.storage_query(alice, logs, newest_first(20))
        .await
        .expect("logs");
    db.storage_query_with_children(alice, logs, newest_first(20), factors, "mood_log_id")
        .await
        .expect("logs with factors");
    db.storage_delete(alice, factors, &factor_id)
        .await
        .expect("delete");
    let statements = crate::statement_log::take();
    assert!(statements.len() >= 13, "{statements:?}");

    for (sql, params) in &statements {
        let plan = sqlite_plan(db, sql, params).await;
        for step in &plan {
            // Scanning `page`, the page of at most 1,001 rows a statement has just read
            // by index, is not scanning a table.
            let scans_a_table = step.starts_with("SCAN ") && step != "SCAN page";
            assert!(
                !step.contains("LIST SUBQUERY") && !scans_a_table,
                "`{sql}` is planned with `{step}` (whole plan: {plan:?})"
            );
        }
    }
}

#[tokio::test]
async fn children_answer_a_page_of_parents_in_one_scoped_statement() {
    for TestDb { db, .. } in backends().await {
        let (alice, bob) = (user(&db).await, user(&db).await);
        let logs = table("mood_logs");
        let factors = table("mood_factors");
        let mut alice_logs = Vec::new();
        for n in 0..3 {
            let log = db
                .storage_insert(alice, logs, rec(&[("mood_score", Value::Integer(5))]))
                .await
                .expect("log");
            for kind in (0..n).map(|k| format!("f{k}")) {
                db.storage_insert(
                    alice,
                    factors,
                    rec(&[
                        ("mood_log_id", Value::Uuid(id_of(&log))),
                        ("factor_type", Value::Text(kind)),
                    ]),
                )
                .await
                .expect("factor");
            }
            alice_logs.push(id_of(&log));
        }
        let bobs = db
            .storage_insert(bob, logs, rec(&[("mood_score", Value::Integer(1))]))
            .await
            .expect("bob's log");
        db.storage_insert(
            bob,
            factors,
            rec(&[
                ("mood_log_id", Value::Uuid(id_of(&bobs))),
                ("factor_type", Value::Text("secret".into())),
            ]),
        )
        .await
        .expect("bob's factor");

        let mut asked = alice_logs.clone();
        asked.push(id_of(&bobs));
        asked.push(alice_logs[2].clone());
        let rows = db
            .storage_children(alice, factors, "mood_log_id", &asked)
            .await
            .expect("children");
        assert_eq!(rows.len(), 3, "0 + 1 + 2 factors of Alice's, none of Bob's");
        let parents: Vec<String> = rows
            .iter()
            .map(|r| match field(r, "mood_log_id") {
                Value::Uuid(id) => id.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        let mut sorted = parents.clone();
        sorted.sort();
        assert_eq!(parents, sorted);
        assert!(!parents.contains(&id_of(&bobs)));
        assert!(
            db.storage_children(alice, factors, "mood_log_id", &[])
                .await
                .expect("none")
                .is_empty()
        );
        let too_many: Vec<String> = (0..=MAX_CHILDREN_PARENTS)
            .map(|_| Uuid::new_v4().to_string())
            .collect();
        for (field_name, ids) in [
            ("factor_type", vec![alice_logs[0].clone()]),
            ("id", vec![alice_logs[0].clone()]),
            ("mood_log_id", vec!["nope".to_owned()]),
            ("mood_log_id", too_many),
        ] {
            assert!(
                matches!(
                    db.storage_children(alice, factors, field_name, &ids).await,
                    Err(CollectionError::Invalid { .. })
                ),
                "{field_name}"
            );
        }
    }
}

/// The *generic* PostgreSQL plan of a recorded statement (PostgreSQL 16's
/// `EXPLAIN (GENERIC_PLAN)`: the plan a prepared statement switches to after a few
/// executions), as text lines, planned with nested-loop joins disabled. A per-row lookup
/// that is not a join (a subplan) is unaffected; an ownership check the planner *may* turn
/// into a join shows up as a hash or merge join over the parent table, which is what it
/// becomes under load with statistics that favour it.
async fn postgres_generic_plan_without_nested_loops(db: &Database, sql: &str) -> Vec<String> {
    let Database::Postgres(pool) = db else {
        panic!("PostgreSQL only");
    };
    let mut connection = pool.acquire().await.expect("connection");
    sqlx::raw_sql("SET enable_nestloop = off")
        .execute(&mut *connection)
        .await
        .expect("set");
    let explain = format!("EXPLAIN (GENERIC_PLAN) {sql}");
    let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(explain))
        .fetch_all(&mut *connection)
        .await
        .expect("explain");
    sqlx::raw_sql("RESET enable_nestloop")
        .execute(&mut *connection)
        .await
        .expect("reset");
    rows.iter()
        .map(|row| sqlx::Row::get::<String, _>(row, "QUERY PLAN"))
        .collect()
}

/// On PostgreSQL, with a long history, the pinned statements a page of mood logs needs (its
/// factors by `children`, one factor by id, a log's factors by query) reach each parent by
/// primary key whatever the planner prefers: no sequential scan and no hash or merge join
/// over the user's logs, even in the generic plan with nested loops off. (An `EXISTS` form
/// of the ownership check can be planned as a semi-join over every log of the user; with it,
/// a page of a 100,000-log history fell to 46 req/s under load.) Runs only when a PostgreSQL
/// server is configured.
#[tokio::test]
async fn pinned_statements_stay_per_row_on_postgres_with_a_long_history() {
    let Some(TestDb { db, .. }) = postgres().await else {
        return;
    };
    let alice = user(&db).await;
    db.execute(
        "INSERT INTO mood_logs (user_id, mood_score, logged_at) \
         SELECT $1, 1 + g % 10, NOW() - g * INTERVAL '8 hours' FROM generate_series(1, 30000) g",
        &[Param::Uuid(alice)],
    )
    .await
    .expect("logs");
    db.execute(
        "INSERT INTO mood_factors (mood_log_id, factor_type) \
         SELECT id, f FROM mood_logs, (VALUES ('sleep'), ('work')) v(f) WHERE user_id = $1",
        &[Param::Uuid(alice)],
    )
    .await
    .expect("factors");
    db.execute("ANALYZE mood_logs", &[]).await.expect("analyze");
    db.execute("ANALYZE mood_factors", &[])
        .await
        .expect("analyze");
    let logs = table("mood_logs");
    let factors = table("mood_factors");
    let page = db
        .storage_query(alice, logs, newest_first(20))
        .await
        .expect("page");
    let ids: Vec<String> = page.rows.iter().map(id_of).collect();

    crate::statement_log::start();
    let children = db
        .storage_children(alice, factors, "mood_log_id", &ids)
        .await
        .expect("children");
    assert_eq!(children.len(), 40);
    db.storage_get(alice, factors, &id_of(&children[0]))
        .await
        .expect("get");
    db.storage_query(
        alice,
        factors,
        PageRequest {
            fields: Vec::new(),
            filters: vec![Filter {
                field: "mood_log_id".into(),
                comparison: Comparison::Eq,
                value: Value::Uuid(ids[0].clone()),
            }],
            order_by: "id".into(),
            descending: false,
            limit: 20,
            cursor: None,
        },
    )
    .await
    .expect("query");
    let (page, children) = db
        .storage_query_with_children(alice, logs, newest_first(20), factors, "mood_log_id")
        .await
        .expect("page with factors");
    assert_eq!((page.rows.len(), children.len()), (20, 40));
    let statements = crate::statement_log::take();
    assert_eq!(statements.len(), 4);
    for (sql, _) in &statements {
        let plan = postgres_generic_plan_without_nested_loops(&db, sql).await;
        for step in &plan {
            assert!(
                !step.contains("Seq Scan") && !step.contains("Hash") && !step.contains("Merge"),
                "`{sql}` is planned with `{}` (whole plan: {plan:#?})",
                step.trim()
            );
        }
    }
}

#[tokio::test]
async fn a_projected_page_holds_only_the_fields_asked_for() {
    for TestDb { db, .. } in backends().await {
        let alice = user(&db).await;
        let base = Utc
            .with_ymd_and_hms(2026, 11, 1, 8, 0, 0)
            .single()
            .expect("time");
        for i in 0..5i64 {
            db.storage_insert(
                alice,
                table("mood_logs"),
                rec(&[
                    ("mood_score", Value::Integer(i + 1)),
                    ("energy_level", Value::Integer(3)),
                    ("logged_at", ts(base + Duration::hours(i))),
                ]),
            )
            .await
            .expect("insert");
        }
        let mut cursor = None;
        let mut scores = Vec::new();
        loop {
            let page = db
                .storage_query(
                    alice,
                    table("mood_logs"),
                    PageRequest {
                        fields: vec!["mood_score".into()],
                        filters: vec![],
                        order_by: "logged_at".into(),
                        descending: true,
                        limit: 2,
                        cursor: cursor.clone(),
                    },
                )
                .await
                .expect("page");
            for row in &page.rows {
                let names: Vec<&str> = row.iter().map(|(name, _)| name.as_str()).collect();
                assert_eq!(names, ["id", "mood_score", "logged_at"]);
                scores.push(field(row, "mood_score").clone());
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let expected: Vec<Value> = (1..=5).rev().map(Value::Integer).collect();
        assert_eq!(scores, expected, "every row once, newest first");
        let unknown = db
            .storage_query(
                alice,
                table("mood_logs"),
                PageRequest {
                    fields: vec!["password_hash".into()],
                    filters: vec![],
                    order_by: "logged_at".into(),
                    descending: true,
                    limit: 2,
                    cursor: None,
                },
            )
            .await;
        assert!(
            matches!(unknown, Err(CollectionError::Invalid { ref field, .. }) if field == "fields"),
            "{unknown:?}"
        );
    }
}

/// `storage_query_with_children` answers, page by page, exactly what `storage_query` and
/// `storage_children` of its rows answer, in one statement per page; it never shows another
/// user's children, and refuses what either refuses. Ordered by a NOT NULL column (with
/// ties) and by a nullable one, both directions.
#[tokio::test]
async fn a_page_with_its_children_is_what_a_page_and_its_children_are_in_one_statement() {
    for TestDb { db, .. } in backends().await {
        let (alice, bob) = (user(&db).await, user(&db).await);
        let logs = table("mood_logs");
        let factors = table("mood_factors");
        let start = Utc
            .with_ymd_and_hms(2026, 1, 1, 8, 0, 0)
            .single()
            .expect("time");
        for n in 0..23i64 {
            let mut row = vec![
                ("mood_score", Value::Integer(1 + n % 10)),
                // Every third log shares its time with the one before: ties broken by id.
                ("logged_at", ts(start + Duration::hours(n - n % 3 / 2))),
            ];
            if n % 4 != 0 {
                row.push(("energy_level", Value::Integer(1 + n % 5)));
            }
            let log = db
                .storage_insert(alice, logs, rec(&row))
                .await
                .expect("log");
            for k in 0..n % 4 {
                db.storage_insert(
                    alice,
                    factors,
                    rec(&[
                        ("mood_log_id", Value::Uuid(id_of(&log))),
                        ("factor_type", Value::Text(format!("f{k}"))),
                    ]),
                )
                .await
                .expect("factor");
            }
        }
        let bobs = db
            .storage_insert(bob, logs, rec(&[("mood_score", Value::Integer(1))]))
            .await
            .expect("bob's log");
        db.storage_insert(
            bob,
            factors,
            rec(&[
                ("mood_log_id", Value::Uuid(id_of(&bobs))),
                ("factor_type", Value::Text("secret".into())),
            ]),
        )
        .await
        .expect("bob's factor");

        for (order_by, descending, fields) in [
            ("logged_at", true, Vec::new()),
            ("logged_at", false, vec!["mood_score".to_owned()]),
            ("energy_level", true, Vec::new()),
            ("energy_level", false, Vec::new()),
        ] {
            let request = |cursor: Option<String>| PageRequest {
                fields: fields.clone(),
                filters: Vec::new(),
                order_by: order_by.into(),
                descending,
                limit: 5,
                cursor,
            };
            let (mut cursor, mut seen, mut pages) = (None, 0, 0);
            loop {
                crate::statement_log::start();
                let (page, children) = db
                    .storage_query_with_children(
                        alice,
                        logs,
                        request(cursor.clone()),
                        factors,
                        "mood_log_id",
                    )
                    .await
                    .expect("page with children");
                let statements = crate::statement_log::take();
                assert_eq!(statements.len(), 1, "one statement");
                assert!(
                    !crate::may_write(&statements[0].0),
                    "a read, which takes no writer's turn on SQLite"
                );
                let alone = db
                    .storage_query(alice, logs, request(cursor.clone()))
                    .await
                    .expect("page");
                assert_eq!(page, alone, "{order_by} {descending}: the same page");
                let ids: Vec<String> = page.rows.iter().map(id_of).collect();
                let expected = db
                    .storage_children(alice, factors, "mood_log_id", &ids)
                    .await
                    .expect("children");
                let as_set = |rows: &[Record]| -> HashSet<String> {
                    rows.iter().map(|row| format!("{row:?}")).collect()
                };
                assert_eq!(children.len(), expected.len());
                assert_eq!(as_set(&children), as_set(&expected));
                // Children follow the page's order.
                let parent_order: Vec<usize> = children
                    .iter()
                    .map(|child| match field(child, "mood_log_id") {
                        Value::Uuid(id) => ids.iter().position(|p| p == id).expect("a page row"),
                        other => panic!("{other:?}"),
                    })
                    .collect();
                assert!(parent_order.windows(2).all(|w| w[0] <= w[1]));
                seen += page.rows.len();
                pages += 1;
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            assert_eq!((seen, pages), (23, 5), "{order_by} {descending}");
        }

        // Bob's page has only Bob's factor.
        let (page, children) = db
            .storage_query_with_children(
                bob,
                logs,
                PageRequest {
                    fields: Vec::new(),
                    filters: Vec::new(),
                    order_by: "logged_at".into(),
                    descending: true,
                    limit: 100,
                    cursor: None,
                },
                factors,
                "mood_log_id",
            )
            .await
            .expect("bob's page");
        assert_eq!(page.rows.len(), 1);
        assert_eq!(children.len(), 1);
        assert_eq!(
            field(&children[0], "factor_type"),
            &Value::Text("secret".into())
        );

        for (order_by, field_name) in [
            ("logged_at", "factor_type"),
            ("logged_at", "id"),
            ("note", "mood_log_id"),
        ] {
            let outcome = db
                .storage_query_with_children(
                    alice,
                    logs,
                    PageRequest {
                        fields: Vec::new(),
                        filters: Vec::new(),
                        order_by: order_by.into(),
                        descending: true,
                        limit: 5,
                        cursor: None,
                    },
                    factors,
                    field_name,
                )
                .await;
            assert!(
                matches!(outcome, Err(CollectionError::Invalid { .. })),
                "{order_by} {field_name}: {outcome:?}"
            );
        }
    }
}
