//! Keeping `content_library` in step with a content provider's catalogue.
//!
//! Why a sync and not a table the provider owns: the library is shared by every component
//! (the journal's prompts, the chat's action cards, the content API) and referenced by rows
//! that must outlive a catalogue change (recommendations, journal entries written from a
//! prompt). So the host owns the rows and the provider only says what they should hold:
//!
//! - an item is matched to its row by `(provider, external_id)`; a new item gets a fresh
//!   host UUID that never changes afterwards;
//! - an item whose values differ from its row's is updated in place (and reactivated if it
//!   had been deactivated), stamping `updated_at`;
//! - a row whose item left the catalogue is deactivated (`is_active = false`), never
//!   deleted;
//! - an unchanged item is not written at all, so syncing the same catalogue twice changes
//!   nothing, not even a timestamp.
//!
//! All of it runs in one transaction, under a per-provider lock on PostgreSQL so replicas
//! that sync the same activation take turns: a reader sees the old catalogue or the new one,
//! never half of each. Rows of other providers, and rows without a provider, are never
//! touched.

use std::collections::HashMap;
use std::fmt;

use chrono::Utc;
use serde::Serialize;
use uuid::Uuid;

use super::validate::CatalogueItem;
use crate::db::content::{ContentValues, StoredContent};
use crate::db::{Database, DbError};

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// The provider (the component's name).
    pub provider: String,
    /// Items new to the library.
    pub inserted: Vec<String>,
    /// Items whose row changed (or came back).
    pub updated: Vec<String>,
    /// Items that left the catalogue, now inactive.
    pub deactivated: Vec<String>,
    /// Items already as the catalogue says.
    pub unchanged: usize,
}

impl SyncReport {
    /// Whether the sync wrote nothing.
    pub fn is_noop(&self) -> bool {
        self.inserted.is_empty() && self.updated.is_empty() && self.deactivated.is_empty()
    }
}

impl fmt::Display for SyncReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} inserted, {} updated, {} deactivated, {} unchanged",
            self.provider,
            self.inserted.len(),
            self.updated.len(),
            self.deactivated.len(),
            self.unchanged
        )
    }
}

/// One write the sync makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<'a> {
    /// A new item.
    Insert(&'a CatalogueItem),
    /// A changed (or returning) item, in its row.
    Update(Uuid, &'a CatalogueItem),
    /// A row whose item is gone.
    Deactivate(Uuid, &'a str),
}

/// The writes that make `stored` (a provider's rows) match `catalogue`, and how many items
/// need none. Pure, so the diff is tested without a database.
pub fn plan<'a>(
    stored: &'a [StoredContent],
    catalogue: &'a [CatalogueItem],
) -> (Vec<Change<'a>>, usize) {
    let by_id: HashMap<&str, &StoredContent> = stored
        .iter()
        .map(|row| (row.external_id.as_str(), row))
        .collect();
    let mut changes = Vec::new();
    let mut unchanged = 0;
    for item in catalogue {
        match by_id.get(item.external_id.as_str()) {
            None => changes.push(Change::Insert(item)),
            Some(row) if row.is_active && same(&row.values, &item.values) => unchanged += 1,
            Some(row) => changes.push(Change::Update(row.id, item)),
        }
    }
    let listed: std::collections::HashSet<&str> =
        catalogue.iter().map(|i| i.external_id.as_str()).collect();
    for row in stored {
        if row.is_active && !listed.contains(row.external_id.as_str()) {
            changes.push(Change::Deactivate(row.id, &row.external_id));
        }
    }
    (changes, unchanged)
}

/// Whether a row already holds an item's values.
fn same(stored: &ContentValues, wanted: &ContentValues) -> bool {
    stored == wanted
}

/// Writes `catalogue` into the library under `provider` (see the module documentation).
///
/// # Errors
/// [`DbError`]; nothing is written then (the transaction rolls back).
pub async fn sync(
    db: &Database,
    provider: &str,
    catalogue: &[CatalogueItem],
) -> Result<SyncReport, DbError> {
    let mut tx = db.begin().await?;
    tx.lock_content_provider(provider).await?;
    let stored = tx.provider_content(provider).await?;
    let (changes, unchanged) = plan(&stored, catalogue);
    let mut report = SyncReport {
        provider: provider.to_owned(),
        unchanged,
        ..SyncReport::default()
    };
    if changes.is_empty() {
        // Nothing to write: end the read-only transaction without a commit record.
        drop(tx);
        return Ok(report);
    }
    let now = Utc::now();
    for change in changes {
        match change {
            Change::Insert(item) => {
                tx.insert_content(provider, &item.external_id, &item.values)
                    .await?;
                report.inserted.push(item.external_id.clone());
            }
            Change::Update(id, item) => {
                tx.update_content(id, &item.values, now).await?;
                report.updated.push(item.external_id.clone());
            }
            Change::Deactivate(id, external_id) => {
                tx.deactivate_content(id, now).await?;
                report.deactivated.push(external_id.to_owned());
            }
        }
    }
    tx.commit().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Param;

    fn item(id: &str, title: &str) -> CatalogueItem {
        CatalogueItem {
            external_id: id.into(),
            values: ContentValues {
                content_type: "breathing".into(),
                title: title.into(),
                description: Some("A short one.".into()),
                content_body: Some("Breathe in for four, out for six.".into()),
                duration_minutes: Some(3),
                difficulty: Some("beginner".into()),
                target_moods: vec!["anxious".into()],
                target_factors: vec!["sleep:quality".into()],
                audio_url: None,
                image_url: None,
                is_premium: false,
            },
        }
    }

    fn row(id: &str, title: &str, active: bool) -> StoredContent {
        StoredContent {
            id: Uuid::new_v4(),
            external_id: id.into(),
            values: item(id, title).values,
            is_active: active,
        }
    }

    #[test]
    fn the_plan_inserts_updates_deactivates_and_leaves_the_rest() {
        let stored = vec![
            row("same", "Same", true),
            row("changed", "Old title", true),
            row("gone", "Gone", true),
            row("back", "Back", false),
            row("long-gone", "Long gone", false),
        ];
        let catalogue = vec![
            item("same", "Same"),
            item("changed", "New title"),
            item("back", "Back"),
            item("new", "New"),
        ];
        let (changes, unchanged) = plan(&stored, &catalogue);
        assert_eq!(unchanged, 1);
        assert_eq!(
            changes,
            vec![
                Change::Update(stored[1].id, &catalogue[1]),
                Change::Update(stored[3].id, &catalogue[2]),
                Change::Insert(&catalogue[3]),
                Change::Deactivate(stored[2].id, "gone"),
            ]
        );
        // The same catalogue against rows that match it: nothing to do.
        let matching: Vec<StoredContent> = catalogue
            .iter()
            .map(|i| row(&i.external_id, &i.values.title, true))
            .collect();
        let (changes, unchanged) = plan(&matching, &catalogue);
        assert!(changes.is_empty());
        assert_eq!(unchanged, 4);
    }

    #[test]
    fn every_value_counts_as_a_change() {
        let base = item("x", "X");
        let stored = vec![StoredContent {
            id: Uuid::new_v4(),
            external_id: "x".into(),
            values: base.values.clone(),
            is_active: true,
        }];
        type Edit = Box<dyn Fn(&mut ContentValues)>;
        let changes: Vec<Edit> = vec![
            Box::new(|v| v.content_type = "grounding".into()),
            Box::new(|v| v.description = None),
            Box::new(|v| v.content_body = Some("Other".into())),
            Box::new(|v| v.duration_minutes = Some(4)),
            Box::new(|v| v.difficulty = Some("advanced".into())),
            Box::new(|v| v.target_moods.push("sad".into())),
            Box::new(|v| v.target_factors.clear()),
            Box::new(|v| v.audio_url = Some("https://a.example/x.mp3".into())),
            Box::new(|v| v.image_url = Some("https://a.example/x.png".into())),
            Box::new(|v| v.is_premium = true),
        ];
        for change in changes {
            let mut wanted = base.clone();
            change(&mut wanted.values);
            let catalogue = vec![wanted];
            let (plan, _) = plan(&stored, &catalogue);
            assert_eq!(plan.len(), 1, "{:?}", catalogue[0].values);
        }
    }

    async fn rows(db: &Database, provider: &str) -> Vec<(String, String, bool, Option<String>)> {
        db.fetch_all(
            "SELECT id, external_id, is_active, updated_at FROM content_library \
             WHERE provider = $1 ORDER BY external_id",
            &[Param::Text(provider.into())],
        )
        .await
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r.uuid("id").expect("id").to_string(),
                r.text("external_id").expect("external id"),
                r.bool("is_active").expect("active"),
                r.opt_time("updated_at")
                    .expect("updated")
                    .map(|t| t.to_rfc3339()),
            )
        })
        .collect()
    }

    async fn databases() -> Vec<Database> {
        let (sqlite, dir) = crate::db::testing::sqlite().await;
        std::mem::forget(dir);
        let mut all = vec![sqlite];
        if let Some((pg, _)) = crate::db::testing::postgres().await {
            all.push(pg);
        }
        all
    }

    #[tokio::test]
    async fn a_sync_keeps_ids_deactivates_and_is_idempotent() {
        for db in databases().await {
            let first = vec![item("a", "A"), item("b", "B"), item("c", "C")];
            let report = sync(&db, "partner", &first).await.expect("first sync");
            assert_eq!(report.inserted, ["a", "b", "c"]);
            let before = rows(&db, "partner").await;
            assert!(before.iter().all(|r| r.2 && r.3.is_none()));

            let again = sync(&db, "partner", &first).await.expect("again");
            assert!(again.is_noop(), "{again}");
            assert_eq!(again.unchanged, 3);
            assert_eq!(rows(&db, "partner").await, before, "nothing moved");

            let second = vec![item("a", "A"), item("b", "B, revised")];
            let report = sync(&db, "partner", &second).await.expect("second");
            assert_eq!(report.updated, ["b"]);
            assert_eq!(report.deactivated, ["c"]);
            let after = rows(&db, "partner").await;
            let ids = |rows: &[(String, String, bool, Option<String>)]| {
                rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>()
            };
            assert_eq!(ids(&after), ids(&before), "the host's ids stay");
            assert!(after[0].2 && after[0].3.is_none(), "a is untouched");
            assert!(after[1].2 && after[1].3.is_some(), "b is updated");
            assert!(
                !after[2].2 && after[2].3.is_some(),
                "c is inactive, not deleted"
            );

            // Back to the first catalogue: c returns under its old id.
            let report = sync(&db, "partner", &first).await.expect("rollback");
            assert_eq!(report.updated, ["b", "c"]);
            let back = rows(&db, "partner").await;
            assert_eq!(ids(&back), ids(&before));
            assert!(back.iter().all(|r| r.2));

            // Another provider's sync touches none of these rows.
            sync(&db, "other", &[]).await.expect("empty");
            assert_eq!(rows(&db, "partner").await, back);
            // Nor the built-in library's prompts.
            let prompts = db
                .fetch_all(
                    "SELECT id FROM content_library WHERE provider = 'content-library' AND is_active = TRUE",
                    &[],
                )
                .await
                .expect("prompts");
            assert_eq!(prompts.len(), 14);
        }
    }
}
