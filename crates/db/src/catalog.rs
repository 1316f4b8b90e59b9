//! The storage catalog: every collection a component may be granted, its columns and their
//! types, which columns a component may write, filter and sort on, and how a row belongs to a
//! user. It also types the values a component sends before any SQL runs.
//!
//! Owns: the mapping from collection and field names (component-supplied text) to the
//! schema's tables and columns (this module's `&'static str`s), the value checks (lengths,
//! ranges, `CHECK` bounds, UUID/RFC 3339/date shapes, finite floats, vector dimension) and the
//! opaque pagination cursor. Never gives: an identifier that is not in this file, the
//! `user_id` column (a component never reads or writes it), or write access to host-owned
//! columns (`user_id`, `created_at`, `updated_at`; `id` only as the optional id of a new row)
//! and host-owned collections.
//!
//! Each collection is declared here once, and everything that handles collections reads that
//! declaration: the storage capability (columns, types, ownership, who writes), the manifest's
//! grants (which names exist), the GDPR export (which columns, where in the document, what is
//! sealed under which purpose), the retention purge (which instant or day ages a row) and the
//! rollups (which all-time aggregates are kept at write time, see `rollups`).
//! Adding a collection is a migration per backend plus one entry in [`CATALOG`].
//!
//! The columns mirror `migrations/{postgres,sqlite}`; a unit test checks them against the
//! migrated SQLite schema (and PostgreSQL's when `MINDFLOW_TEST_DATABASE_URL` is set).

use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use mindflow_contract::purpose;

use super::Param;

/// The embedding dimension used when `MINDFLOW_EMBEDDING_DIM` is not set.
pub const DEFAULT_EMBEDDING_DIM: usize = 384;
/// The largest embedding dimension (pgvector's HNSW index supports up to 2,000).
pub const MAX_EMBEDDING_DIM: usize = 2000;

/// The dimension of vector columns in this process's database. Set once at start-up by
/// [`super::Database::prepare_embedding_column`]; a process opens one database.
static EMBEDDING_DIM: AtomicUsize = AtomicUsize::new(DEFAULT_EMBEDDING_DIM);

/// The dimension of vector columns (`chat_messages.embedding`).
pub fn embedding_dimension() -> usize {
    EMBEDDING_DIM.load(Ordering::Relaxed)
}

pub(super) fn set_embedding_dimension(dim: usize) {
    EMBEDDING_DIM.store(dim, Ordering::Relaxed);
}

/// The type of a column, with the bounds the schema enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// UUID (lowercase text in SQLite).
    Uuid,
    /// TEXT or VARCHAR(n): at most `max_chars` characters when set.
    Text {
        /// The VARCHAR length, in characters.
        max_chars: Option<usize>,
    },
    /// SMALLINT or INTEGER, with its range narrowed by any CHECK.
    Int {
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
    },
    /// FLOAT (double precision; REAL in SQLite). Finite values only.
    Float,
    /// BOOLEAN (INTEGER 0/1 in SQLite).
    Bool,
    /// TIMESTAMPTZ, microsecond precision (RFC 3339 UTC text in SQLite).
    Timestamp,
    /// DATE (`YYYY-MM-DD` text in SQLite).
    Date,
    /// JSONB (text in SQLite).
    Json,
    /// BYTEA (BLOB in SQLite).
    Bytes,
    /// `vector(N)` (a BLOB of little-endian f32 in SQLite), N = [`embedding_dimension`].
    Vector,
}

const SMALLINT: ColumnType = ColumnType::Int {
    min: i16::MIN as i64,
    max: i16::MAX as i64,
};
const INTEGER: ColumnType = ColumnType::Int {
    min: i32::MIN as i64,
    max: i32::MAX as i64,
};
const fn between(min: i64, max: i64) -> ColumnType {
    ColumnType::Int { min, max }
}
const fn varchar(n: usize) -> ColumnType {
    ColumnType::Text { max_chars: Some(n) }
}
const TEXT: ColumnType = ColumnType::Text { max_chars: None };

/// Who writes a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// The component (on insert and update).
    Component,
    /// The host only (`id`, `created_at`, `updated_at`).
    Host,
}

/// A foreign key the host checks before writing, so a component cannot point at another
/// user's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference {
    /// The referenced table.
    pub table: &'static str,
    /// Whether the referenced table is user-owned (by `user_id`): the row must be the caller's.
    pub owned: bool,
}

/// One column of a collection.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// The column's name (also the field name components use).
    pub name: &'static str,
    /// Its type.
    pub ty: ColumnType,
    /// NOT NULL in the schema.
    pub not_null: bool,
    /// NOT NULL without a default: an insert must give it.
    pub required: bool,
    /// Who writes it.
    pub writer: Writer,
    /// A foreign key other than the ownership link.
    pub references: Option<Reference>,
    /// Left out of the GDPR export although readable (see [`Column::exported`]).
    pub unexported: bool,
    /// The host's alone: no storage call can read, filter on or write it, and the export
    /// leaves it out (a wearable connection's sealed tokens, the sync scheduler's state).
    pub hidden: bool,
}

impl Column {
    const fn new(name: &'static str, ty: ColumnType) -> Self {
        Self {
            name,
            ty,
            not_null: false,
            required: false,
            writer: Writer::Component,
            references: None,
            unexported: false,
            hidden: false,
        }
    }

    /// The host's alone (see [`Column::hidden`]).
    const fn hidden(mut self) -> Self {
        self.hidden = true;
        self.unexported = true;
        self.writer = Writer::Host;
        self
    }

    /// Left out of the GDPR export: derived data that means nothing to the person (keyed
    /// hashes made for search).
    const fn unexported(mut self) -> Self {
        self.unexported = true;
        self
    }

    /// Whether the GDPR export shows this column. Bytes never are (sealed values are opened
    /// by the export, see [`Collection::sealed`]; tokens are secrets), nor vectors (an
    /// embedding is derived from text the export already holds).
    pub fn exported(&self) -> bool {
        !self.unexported && !matches!(self.ty, ColumnType::Bytes | ColumnType::Vector)
    }

    /// NOT NULL with a default.
    const fn not_null(mut self) -> Self {
        self.not_null = true;
        self
    }

    /// NOT NULL without a default.
    const fn required(mut self) -> Self {
        self.not_null = true;
        self.required = true;
        self
    }

    const fn host(mut self) -> Self {
        self.writer = Writer::Host;
        self
    }

    const fn references(mut self, table: &'static str, owned: bool) -> Self {
        self.references = Some(Reference { table, owned });
        self
    }

    /// Whether filters may name this column: scalar columns (not long text, JSON, bytes or
    /// vectors).
    pub fn filterable(&self) -> bool {
        match self.ty {
            ColumnType::Text { max_chars } => max_chars.is_some(),
            ColumnType::Json | ColumnType::Bytes | ColumnType::Vector => false,
            _ => true,
        }
    }

    /// Whether a page may be ordered by this column: numbers, instants, dates and `id`.
    pub fn sortable(&self) -> bool {
        matches!(
            self.ty,
            ColumnType::Int { .. } | ColumnType::Float | ColumnType::Timestamp | ColumnType::Date
        ) || self.name == "id"
    }

    /// Whether the column holds numbers (for `avg`, `min`, `max`, `stddev`).
    pub fn numeric(&self) -> bool {
        matches!(self.ty, ColumnType::Int { .. } | ColumnType::Float)
    }

    /// The column without its NOT NULL, range and length rules: what a filter or cursor
    /// value is checked against (`mood_score < 11` is a fair question).
    pub fn relaxed(&self) -> Self {
        Self {
            not_null: false,
            ty: match self.ty {
                ColumnType::Int { .. } => ColumnType::Int {
                    min: i64::MIN,
                    max: i64::MAX,
                },
                ColumnType::Text { .. } => ColumnType::Text { max_chars: None },
                other => other,
            },
            ..*self
        }
    }
}

/// How a collection's rows belong to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Directly, by the table's `user_id`.
    User,
    /// Through a parent row: `column` references `table`, whose `user_id` is the owner.
    Parent {
        /// The column holding the parent's id.
        column: &'static str,
        /// The parent table (owned by `user_id`).
        table: &'static str,
    },
    /// Not user-owned: shared by every user (read-only to components).
    Shared,
}

/// Who may write a collection's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Components may insert, update and delete their caller's rows.
    ReadWrite,
    /// Components may only read; the host (another capability) writes.
    ReadOnly,
}

/// Where the GDPR export (`GET /users/me/export`) puts a collection's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// A list under `key` of the document, ordered by the `order` columns.
    List {
        /// The document's key.
        key: &'static str,
        /// Columns to order by (the last one unique).
        order: &'static [&'static str],
    },
    /// At most one row: an object (or `null`) under `key`.
    One {
        /// The document's key.
        key: &'static str,
    },
    /// A list under `key` in each parent's record (the parent of [`Ownership::Parent`]),
    /// without the link column.
    Nested {
        /// The key in the parent's record.
        key: &'static str,
        /// Columns to order by within a parent (the last one unique).
        order: &'static [&'static str],
    },
    /// Not exported: shared rows that are nobody's.
    Never,
}

/// What the retention purge deletes once a user's `data_retention_days` have passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Rows whose instant (the first non-null of these timestamp columns) is before the
    /// cut-off. Nullable references from other collections to a deleted row are cleared.
    OlderThan(&'static [&'static str]),
    /// Rows whose calendar day (a date column) is before the cut-off's day.
    DayBefore(&'static str),
    /// Rows go with their parent row (`ON DELETE CASCADE`).
    WithParent,
    /// Kept while the account is: what the person set up (a safety plan, a device
    /// connection), not a record of their days.
    Kept,
    /// Shared rows: not user data.
    Shared,
}

/// A collection: a table of the schema, as components see it.
#[derive(Debug)]
pub struct Collection {
    /// The collection's (and table's) name.
    pub name: &'static str,
    /// How rows belong to a user.
    pub ownership: Ownership,
    /// Whether components may write.
    pub access: Access,
    /// The columns a component can see (never `user_id`).
    pub columns: &'static [Column],
    /// The table has `created_at`, set by the host on insert.
    pub created_at: bool,
    /// The table has `updated_at`, set by the host on insert and update.
    pub updated_at: bool,
    /// The default field for time groupings in aggregates.
    pub time_field: Option<&'static str>,
    /// The value the rows hold sealed, if any (the GDPR export opens it; a component opens
    /// only its own purposes).
    pub sealed: Option<Sealing>,
    /// Where the GDPR export puts the rows.
    pub export: Export,
    /// What the retention purge deletes.
    pub retention: Retention,
    /// The per-user rollups kept for all-time aggregates, if any (see `rollups`).
    pub rollup: Option<Rollup>,
}

/// The most distinct values a rolled-up field may take: its rollup is a histogram (rows per
/// value), so a field qualifies only when its declared range is this small.
pub const MAX_ROLLUP_VALUES: i64 = 64;

/// Per-user rollups of a collection, maintained at write time (triggers the host installs
/// from this declaration), from which an all-time aggregate is answered without reading
/// the rows.
#[derive(Debug, Clone, Copy)]
pub struct Rollup {
    /// The rolled-up fields: integer fields whose declared range spans at most
    /// [`MAX_ROLLUP_VALUES`] values. Count, avg, min, max and stddev of each are answered.
    pub fields: &'static [&'static str],
    /// The groupings kept; [`RollupGrouping::All`] always comes first.
    pub groupings: &'static [RollupGrouping],
}

/// A grouping a rollup keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollupGrouping {
    /// One group: all of the user's rows.
    All,
    /// ISO weekday (1 Monday to 7 Sunday) of a timestamp field, in the user's zone.
    Weekday(&'static str),
    /// Hour (0 to 23) of a timestamp field, in the user's zone.
    Hour(&'static str),
    /// The value of a filterable text or integer field.
    Value(&'static str),
}

impl RollupGrouping {
    /// The name stored in `storage_rollups.group_by`.
    pub fn key(self) -> String {
        match self {
            Self::All => "all".to_owned(),
            Self::Weekday(field) => format!("weekday:{field}"),
            Self::Hour(field) => format!("hour:{field}"),
            Self::Value(field) => format!("value:{field}"),
        }
    }

    /// Whether the groups depend on the user's time zone.
    pub fn zoned(self) -> bool {
        matches!(self, Self::Weekday(_) | Self::Hour(_))
    }

    /// The field grouped on, if any.
    pub fn field(self) -> Option<&'static str> {
        match self {
            Self::All => None,
            Self::Weekday(f) | Self::Hour(f) | Self::Value(f) => Some(f),
        }
    }
}

/// Where a collection keeps a sealed value and under which crypto purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sealing {
    /// The crypto purpose it is sealed under.
    pub purpose: &'static str,
    /// The field the opened value is shown as (in the API and the export).
    pub field: &'static str,
    /// The column of the ciphertext (with its tag); null when there is no value.
    pub ciphertext: &'static str,
    /// The column of its nonce.
    pub nonce: &'static str,
}

/// The sealed `content` of journal entries and safety plans.
const fn sealed_content(purpose: &'static str) -> Option<Sealing> {
    Some(Sealing {
        purpose,
        field: "content",
        ciphertext: "content_encrypted",
        nonce: "content_iv",
    })
}

impl Collection {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name && !c.hidden)
    }

    /// The columns storage calls see (every one but the host's own, [`Column::hidden`]).
    pub fn visible_columns(&self) -> impl Iterator<Item = &'static Column> {
        self.columns.iter().filter(|c| !c.hidden)
    }

    /// The column `name`, hidden or not (the schema checks).
    pub fn any_column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

const ID: Column = Column::new("id", ColumnType::Uuid).required().host();
/// The export order of most collections: oldest first.
const CREATED: &[&str] = &["created_at", "id"];
const CREATED_AT: Column = Column::new("created_at", ColumnType::Timestamp)
    .not_null()
    .host();

/// Every collection. The order matters to the retention purge (a row's children and the rows
/// that point at it are handled after it) and is the order of the export document.
pub static CATALOG: &[Collection] = &[
    Collection {
        name: "mood_logs",
        ownership: Ownership::User,
        access: Access::ReadWrite,
        columns: &[
            ID,
            Column::new("mood_score", between(1, 10)).required(),
            Column::new("energy_level", between(1, 10)),
            Column::new("anxiety_level", between(1, 10)),
            // Notes are sealed (`note_encrypted`, `note_iv`); `note` holds only what versions
            // before sealing stored, until start-up seals it (`host/src/crypto/backfill.rs`).
            Column::new("note", TEXT).host(),
            Column::new("note_encrypted", ColumnType::Bytes),
            Column::new("note_iv", ColumnType::Bytes),
            Column::new("note_sentiment", ColumnType::Float),
            Column::new("logged_at", ColumnType::Timestamp).not_null(),
            Column::new("time_of_day", varchar(20)),
            Column::new("day_of_week", SMALLINT),
            Column::new("location_type", varchar(30)),
            Column::new("processed_for_insights", ColumnType::Bool),
            Column::new("crisis_flag_triggered", ColumnType::Bool),
            CREATED_AT,
        ],
        created_at: true,
        updated_at: false,
        time_field: Some("logged_at"),
        sealed: Some(Sealing {
            purpose: purpose::MOOD_NOTE,
            field: "note",
            ciphertext: "note_encrypted",
            nonce: "note_iv",
        }),
        export: Export::List {
            key: "mood_logs",
            order: &["logged_at", "id"],
        },
        retention: Retention::OlderThan(&["logged_at"]),
        // `GET /mood/stats` over all time: the scores overall, by weekday and hour in the
        // user's zone, and by part of the day.
        rollup: Some(Rollup {
            fields: &["mood_score", "energy_level", "anxiety_level"],
            groupings: &[
                RollupGrouping::All,
                RollupGrouping::Weekday("logged_at"),
                RollupGrouping::Hour("logged_at"),
                RollupGrouping::Value("time_of_day"),
            ],
        }),
    },
    Collection {
        name: "mood_factors",
        ownership: Ownership::Parent {
            column: "mood_log_id",
            table: "mood_logs",
        },
        access: Access::ReadWrite,
        columns: &[
            ID,
            Column::new("mood_log_id", ColumnType::Uuid).required(),
            Column::new("factor_type", varchar(30)).required(),
            Column::new("factor_value", varchar(50)),
            Column::new("impact_score", between(-5, 5)),
        ],
        created_at: false,
        updated_at: false,
        time_field: None,
        sealed: None,
        export: Export::Nested {
            key: "factors",
            order: &["id"],
        },
        retention: Retention::WithParent,
        rollup: None,
    },
    Collection {
        name: "journal_entries",
        ownership: Ownership::User,
        access: Access::ReadWrite,
        columns: &[
            ID,
            Column::new("content_encrypted", ColumnType::Bytes).required(),
            Column::new("content_iv", ColumnType::Bytes).required(),
            Column::new("content_hash", varchar(64)),
            Column::new("word_count", INTEGER),
            Column::new("entry_type", varchar(20)),
            Column::new("prompt_id", ColumnType::Uuid),
            Column::new("sentiment_score", ColumnType::Float),
            Column::new("primary_emotion", varchar(30)),
            // Topics say what the text is about: the journal works them out from the opened
            // text when it shows an entry and never stores them; the column holds only what versions
            // before that stored, until start-up clears it (`host/src/crypto/backfill.rs`).
            Column::new("topics", ColumnType::Json).host().unexported(),
            // Keyed hashes of the entry's distinct words, for search (migration 0007).
            Column::new("term_hashes", ColumnType::Json).unexported(),
            CREATED_AT,
            Column::new("updated_at", ColumnType::Timestamp).host(),
        ],
        created_at: true,
        updated_at: true,
        time_field: Some("created_at"),
        sealed: sealed_content(purpose::JOURNAL),
        export: Export::List {
            key: "journal_entries",
            order: CREATED,
        },
        retention: Retention::OlderThan(&["created_at"]),
        rollup: None,
    },
    Collection {
        name: "chat_sessions",
        ownership: Ownership::User,
        access: Access::ReadWrite,
        columns: &[
            ID,
            Column::new("title", varchar(100)),
            Column::new("session_type", varchar(30)),
            // The running summary of a long conversation, sealed like the messages it
            // summarises (migration 0018/0019).
            Column::new("context_summary_encrypted", ColumnType::Bytes),
            Column::new("context_summary_iv", ColumnType::Bytes),
            Column::new("mood_context", ColumnType::Json),
            Column::new("is_active", ColumnType::Bool),
            Column::new("message_count", INTEGER),
            CREATED_AT,
            Column::new("last_message_at", ColumnType::Timestamp),
        ],
        created_at: true,
        updated_at: false,
        time_field: Some("created_at"),
        sealed: Some(Sealing {
            purpose: purpose::CHAT_SUMMARY,
            field: "context_summary",
            ciphertext: "context_summary_encrypted",
            nonce: "context_summary_iv",
        }),
        export: Export::List {
            key: "chat_sessions",
            order: CREATED,
        },
        retention: Retention::OlderThan(&["last_message_at", "created_at"]),
        rollup: None,
    },
    Collection {
        name: "chat_messages",
        ownership: Ownership::Parent {
            column: "session_id",
            table: "chat_sessions",
        },
        access: Access::ReadWrite,
        columns: &[
            ID,
            Column::new("session_id", ColumnType::Uuid).required(),
            Column::new("role", varchar(10)).required(),
            // The text, sealed under the user's key (migration 0018/0019); never stored plain.
            Column::new("content_encrypted", ColumnType::Bytes).required(),
            Column::new("content_iv", ColumnType::Bytes).required(),
            Column::new("model_used", varchar(50)),
            Column::new("tokens_used", INTEGER),
            Column::new("response_time_ms", INTEGER),
            Column::new("crisis_detected", ColumnType::Bool),
            Column::new("content_filtered", ColumnType::Bool),
            Column::new("embedding", ColumnType::Vector),
            CREATED_AT,
        ],
        created_at: true,
        updated_at: false,
        time_field: Some("created_at"),
        sealed: Some(Sealing {
            purpose: purpose::CHAT_MESSAGE,
            field: "content",
            ciphertext: "content_encrypted",
            nonce: "content_iv",
        }),
        // A top-level list beside the sessions (each message names its `session_id`): sealed
        // values are opened for the export per collection.
        export: Export::List {
            key: "chat_messages",
            order: CREATED,
        },
        retention: Retention::OlderThan(&["created_at"]),
        rollup: None,
    },
    Collection {
        name: "user_insights",
        ownership: Ownership::User,
        access: Access::ReadWrite,
        columns: &[
            ID,
            Column::new("insight_type", varchar(30)).required(),
            Column::new("title", varchar(200)).required(),
            Column::new("description", TEXT).required(),
            Column::new("data_points", ColumnType::Json),
            Column::new("confidence_score", ColumnType::Float),
            Column::new("shown_at", ColumnType::Timestamp),
            Column::new("dismissed_at", ColumnType::Timestamp),
            Column::new("helpful_rating", SMALLINT),
            Column::new("valid_from", ColumnType::Timestamp),
            Column::new("valid_until", ColumnType::Timestamp),
            CREATED_AT,
        ],
        created_at: true,
        updated_at: false,
        time_field: Some("created_at"),
        sealed: None,
        export: Export::List {
            key: "insights",
            order: CREATED,
        },
        retention: Retention::OlderThan(&["created_at"]),
        rollup: None,
    },
    Collection {
        name: "recommendations",
        ownership: Ownership::User,
        access: Access::ReadWrite,
        columns: &[
            ID,
            Column::new("insight_id", ColumnType::Uuid).references("user_insights", true),
            Column::new("content_id", ColumnType::Uuid).references("content_library", false),
            Column::new("reason", TEXT),
            Column::new("priority", SMALLINT),
            Column::new("shown_at", ColumnType::Timestamp),
            Column::new("clicked_at", ColumnType::Timestamp),
            Column::new("completed_at", ColumnType::Timestamp),
            Column::new("feedback", varchar(20)),
            Column::new("expires_at", ColumnType::Timestamp),
            CREATED_AT,
        ],
        created_at: true,
        updated_at: false,
        time_field: Some("created_at"),
        sealed: None,
        export: Export::List {
            key: "recommendations",
            order: CREATED,
        },
        retention: Retention::OlderThan(&["created_at"]),
        rollup: None,
    },
    Collection {
        name: "wearable_connections",
        ownership: Ownership::User,
        // Components read a connection's provider and state, never its tokens (not even
        // sealed: the token columns are not in the catalog, so no storage call can name
        // them, and the export leaves them out).
        access: Access::ReadWrite,
        columns: &[
            ID,
            Column::new("provider", varchar(30)).required(),
            Column::new("provider_user_id", varchar(255)),
            Column::new("access_token_encrypted", ColumnType::Bytes).hidden(),
            Column::new("refresh_token_encrypted", ColumnType::Bytes).hidden(),
            Column::new("token_expires_at", ColumnType::Timestamp),
            Column::new("scopes", ColumnType::Json),
            Column::new("last_sync_at", ColumnType::Timestamp),
            Column::new("sync_status", varchar(20)),
            Column::new("sync_error", TEXT),
            Column::new("next_sync_at", ColumnType::Timestamp).hidden(),
            Column::new("lease_until", ColumnType::Timestamp).hidden(),
            Column::new("synced_through", ColumnType::Date).hidden(),
            Column::new("sync_attempts", INTEGER).not_null().hidden(),
            CREATED_AT,
        ],
        created_at: true,
        updated_at: false,
        time_field: Some("created_at"),
        sealed: None,
        export: Export::List {
            key: "wearable_connections",
            order: CREATED,
        },
        retention: Retention::Kept,
        rollup: None,
    },
    Collection {
        name: "wearable_metrics",
        ownership: Ownership::User,
        access: Access::ReadWrite,
        columns: &[
            ID,
            Column::new("connection_id", ColumnType::Uuid).references("wearable_connections", true),
            Column::new("provider", varchar(30)),
            Column::new("metric_date", ColumnType::Date).required(),
            Column::new("sleep_duration_minutes", INTEGER),
            Column::new("sleep_quality_score", SMALLINT),
            Column::new("deep_sleep_minutes", INTEGER),
            Column::new("rem_sleep_minutes", INTEGER),
            Column::new("steps", INTEGER),
            Column::new("active_minutes", INTEGER),
            Column::new("calories_burned", INTEGER),
            Column::new("avg_heart_rate", INTEGER),
            Column::new("hrv_avg", ColumnType::Float),
            Column::new("stress_score", SMALLINT),
            Column::new("readiness_score", SMALLINT),
            CREATED_AT,
        ],
        created_at: true,
        updated_at: false,
        time_field: Some("metric_date"),
        sealed: None,
        export: Export::List {
            key: "wearable_metrics",
            order: &["metric_date", "id"],
        },
        retention: Retention::DayBefore("metric_date"),
        rollup: None,
    },
    Collection {
        name: "crisis_events",
        ownership: Ownership::User,
        access: Access::ReadOnly,
        columns: &[
            ID,
            Column::new("trigger_source", varchar(30)).required(),
            Column::new("trigger_content_hash", varchar(64)),
            Column::new("severity", varchar(20)).required(),
            Column::new("detection_confidence", ColumnType::Float),
            Column::new("resources_shown", ColumnType::Json),
            Column::new("resource_clicked", varchar(50)),
            Column::new("hotline_called", ColumnType::Bool),
            Column::new("resolved_at", ColumnType::Timestamp),
            Column::new("resolution_type", varchar(30)),
            Column::new("follow_up_scheduled", ColumnType::Bool),
            CREATED_AT,
        ],
        created_at: true,
        updated_at: false,
        time_field: Some("created_at"),
        sealed: None,
        export: Export::List {
            key: "crisis_events",
            order: CREATED,
        },
        retention: Retention::OlderThan(&["created_at"]),
        rollup: None,
    },
    Collection {
        name: "safety_plans",
        ownership: Ownership::User,
        access: Access::ReadOnly,
        columns: &[
            ID,
            Column::new("content_encrypted", ColumnType::Bytes).required(),
            Column::new("content_iv", ColumnType::Bytes).required(),
            CREATED_AT,
            Column::new("updated_at", ColumnType::Timestamp)
                .not_null()
                .host(),
        ],
        created_at: true,
        updated_at: true,
        time_field: Some("created_at"),
        sealed: sealed_content(purpose::SAFETY_PLAN),
        export: Export::One { key: "safety_plan" },
        retention: Retention::Kept,
        rollup: None,
    },
    Collection {
        name: "content_library",
        ownership: Ownership::Shared,
        access: Access::ReadOnly,
        columns: &[
            ID,
            Column::new("content_type", varchar(30)).required(),
            Column::new("title", varchar(200)).required(),
            Column::new("description", TEXT),
            Column::new("content_body", TEXT),
            Column::new("duration_minutes", SMALLINT),
            Column::new("difficulty", varchar(20)),
            Column::new("target_moods", ColumnType::Json),
            Column::new("target_factors", ColumnType::Json),
            Column::new("audio_url", varchar(500)),
            Column::new("image_url", varchar(500)),
            Column::new("is_premium", ColumnType::Bool),
            Column::new("is_active", ColumnType::Bool),
            Column::new("view_count", INTEGER),
            Column::new("avg_rating", ColumnType::Float),
            CREATED_AT,
            // Which content provider supplies the row, and its id there: written only by the
            // host's catalogue sync (`host/src/content/sync.rs`), never through storage.
            Column::new("provider", varchar(100)).host(),
            Column::new("external_id", varchar(200)).host(),
            // When a sync last changed the row (null: never since it was created).
            Column::new("updated_at", ColumnType::Timestamp).host(),
        ],
        created_at: true,
        // Set by the sync, only when an item changed (components never write this table).
        updated_at: true,
        time_field: Some("created_at"),
        sealed: None,
        export: Export::Never,
        retention: Retention::Shared,
        rollup: None,
    },
];

/// The collection named `name`, if it exists.
pub fn collection(name: &str) -> Option<&'static Collection> {
    CATALOG.iter().find(|c| c.name == name)
}

/// A column value as components send and receive it (`mindflow:platform/storage` `value`).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// NULL.
    Null,
    /// A boolean.
    Boolean(bool),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// Text.
    Text(String),
    /// An instant, RFC 3339 (read back in UTC with 6 fractional digits).
    Timestamp(String),
    /// A date, `YYYY-MM-DD`.
    Date(String),
    /// A UUID (read back lowercase, hyphenated).
    Uuid(String),
    /// A JSON document as text (read back compact, keys sorted).
    Json(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// An embedding.
    Vector(Vec<f32>),
}

/// A value checked against its column: what is bound to SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    /// NULL.
    Null,
    /// A UUID.
    Uuid(Uuid),
    /// Text.
    Text(String),
    /// An integer within the column's range.
    Int(i64),
    /// A finite float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// An instant, truncated to microseconds.
    Timestamp(DateTime<Utc>),
    /// A date.
    Date(NaiveDate),
    /// A JSON document.
    Json(serde_json::Value),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A vector of the configured dimension.
    Vector(Vec<f32>),
}

impl Typed {
    /// The parameter for a column of type `ty` (NULLs are typed by the column).
    pub fn into_param(self, ty: ColumnType) -> Param {
        match (self, ty) {
            (Self::Uuid(u), _) => Param::OptUuid(Some(u)),
            (Self::Text(t), _) => Param::OptText(Some(t)),
            (Self::Int(i), _) => Param::OptInt(Some(i)),
            (Self::Float(f), _) => Param::OptFloat(Some(f)),
            (Self::Bool(b), _) => Param::OptBool(Some(b)),
            (Self::Timestamp(t), _) => Param::OptTime(Some(t)),
            (Self::Date(d), _) => Param::OptDate(Some(d)),
            (Self::Json(j), _) => Param::OptJson(Some(j)),
            (Self::Bytes(b), _) => Param::OptBytes(Some(b)),
            (Self::Vector(v), _) => Param::OptVector(Some(v)),
            (Self::Null, ColumnType::Uuid) => Param::OptUuid(None),
            (Self::Null, ColumnType::Text { .. }) => Param::OptText(None),
            (Self::Null, ColumnType::Int { .. }) => Param::OptInt(None),
            (Self::Null, ColumnType::Float) => Param::OptFloat(None),
            (Self::Null, ColumnType::Bool) => Param::OptBool(None),
            (Self::Null, ColumnType::Timestamp) => Param::OptTime(None),
            (Self::Null, ColumnType::Date) => Param::OptDate(None),
            (Self::Null, ColumnType::Json) => Param::OptJson(None),
            (Self::Null, ColumnType::Bytes) => Param::OptBytes(None),
            (Self::Null, ColumnType::Vector) => Param::OptVector(None),
        }
    }

    /// The value as a component reads it.
    pub fn into_value(self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Uuid(u) => Value::Uuid(u.to_string()),
            Self::Text(t) => Value::Text(t),
            Self::Int(i) => Value::Integer(i),
            Self::Float(f) => Value::Float(f),
            Self::Bool(b) => Value::Boolean(b),
            Self::Timestamp(t) => Value::Timestamp(format_timestamp(&t)),
            Self::Date(d) => Value::Date(d.format("%Y-%m-%d").to_string()),
            Self::Json(j) => Value::Json(j.to_string()),
            Self::Bytes(b) => Value::Bytes(b),
            Self::Vector(v) => Value::Vector(v),
        }
    }
}

/// An instant as components read it: RFC 3339, UTC, exactly 6 fractional digits.
pub fn format_timestamp(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses an RFC 3339 instant (any offset) into UTC, truncated to microseconds (what both
/// databases keep).
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let time = DateTime::parse_from_rfc3339(text.trim())
        .ok()?
        .with_timezone(&Utc);
    let nanos = time.timestamp_subsec_nanos();
    let time = time.checked_sub_signed(chrono::Duration::nanoseconds(i64::from(nanos % 1000)))?;
    // PostgreSQL's range ends at 294276 AD; SQLite's text form needs four-digit years.
    (0..=9999)
        .contains(&chrono::Datelike::year(&time))
        .then_some(time)
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    if text.len() != 10 {
        return None;
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    (0..=9999)
        .contains(&chrono::Datelike::year(&date))
        .then_some(date)
}

/// Whether a JSON document holds a NUL character (PostgreSQL's JSONB refuses `\u0000`).
fn json_has_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(json_has_nul),
        serde_json::Value::Object(map) => {
            map.iter().any(|(k, v)| k.contains('\0') || json_has_nul(v))
        }
        _ => false,
    }
}

fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) => "integer",
        Value::Float(_) => "float",
        Value::Text(_) => "text",
        Value::Timestamp(_) => "timestamp",
        Value::Date(_) => "date",
        Value::Uuid(_) => "uuid",
        Value::Json(_) => "json",
        Value::Bytes(_) => "bytes",
        Value::Vector(_) => "vector",
    }
}

fn type_name(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Uuid => "a uuid",
        ColumnType::Text { .. } => "text",
        ColumnType::Int { .. } => "an integer",
        ColumnType::Float => "a float",
        ColumnType::Bool => "a boolean",
        ColumnType::Timestamp => "a timestamp",
        ColumnType::Date => "a date",
        ColumnType::Json => "json",
        ColumnType::Bytes => "bytes",
        ColumnType::Vector => "a vector",
    }
}

impl Column {
    /// Checks `value` against this column's type and bounds. Besides the exact variant, text
    /// is accepted for UUID, timestamp and date columns (and parsed), and an integer for a
    /// float column. `dim` is the vector dimension.
    ///
    /// # Errors
    /// A message fit for an API client (the caller names the field).
    pub fn check(&self, value: Value, dim: usize) -> Result<Typed, String> {
        let wrong =
            |value: &Value| format!("expected {}, got {}", type_name(self.ty), kind_name(value));
        match (self.ty, value) {
            (_, Value::Null) => {
                if self.not_null {
                    Err("must not be null".into())
                } else {
                    Ok(Typed::Null)
                }
            }
            (ColumnType::Uuid, Value::Uuid(text) | Value::Text(text)) => Uuid::parse_str(&text)
                .ok()
                .filter(|_| text.len() == 36)
                .map(Typed::Uuid)
                .ok_or_else(|| "not a UUID in hyphenated form".into()),
            (ColumnType::Text { max_chars }, Value::Text(text)) => {
                if text.contains('\0') {
                    return Err("must not contain NUL characters".into());
                }
                if let Some(max) = max_chars
                    && text.chars().count() > max
                {
                    return Err(format!("at most {max} characters"));
                }
                Ok(Typed::Text(text))
            }
            (ColumnType::Int { min, max }, Value::Integer(i)) => {
                if (min..=max).contains(&i) {
                    Ok(Typed::Int(i))
                } else {
                    Err(format!("must be between {min} and {max}"))
                }
            }
            (ColumnType::Float, Value::Float(f)) => {
                if f.is_finite() {
                    Ok(Typed::Float(f))
                } else {
                    Err("must be a finite number".into())
                }
            }
            #[allow(clippy::cast_precision_loss)]
            (ColumnType::Float, Value::Integer(i)) => Ok(Typed::Float(i as f64)),
            (ColumnType::Bool, Value::Boolean(b)) => Ok(Typed::Bool(b)),
            (ColumnType::Timestamp, Value::Timestamp(text) | Value::Text(text)) => {
                parse_timestamp(&text).map(Typed::Timestamp).ok_or_else(|| {
                    "not an RFC 3339 timestamp (e.g. 2026-11-25T14:03:07.123456Z)".into()
                })
            }
            (ColumnType::Date, Value::Date(text) | Value::Text(text)) => parse_date(&text)
                .map(Typed::Date)
                .ok_or_else(|| "not a date (YYYY-MM-DD)".into()),
            (ColumnType::Json, Value::Json(text)) => {
                let json: serde_json::Value =
                    serde_json::from_str(&text).map_err(|_| "not valid JSON".to_owned())?;
                if json_has_nul(&json) {
                    return Err("JSON text must not contain NUL characters".into());
                }
                Ok(Typed::Json(json))
            }
            (ColumnType::Bytes, Value::Bytes(bytes)) => Ok(Typed::Bytes(bytes)),
            (ColumnType::Vector, Value::Vector(vector)) => {
                if vector.len() != dim {
                    return Err(format!("must have {dim} dimensions, not {}", vector.len()));
                }
                if vector.iter().any(|x| !x.is_finite()) {
                    return Err("must hold finite numbers only".into());
                }
                if vector.iter().all(|x| *x == 0.0) {
                    return Err("must not be the zero vector (it has no direction)".into());
                }
                Ok(Typed::Vector(vector))
            }
            (_, other) => Err(wrong(&other)),
        }
    }
}

/// Where a page ends: the last row's order value and id, plus what the page was ordered by
/// (a cursor is refused under another order). Opaque to components: base64url of JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// The order field.
    #[serde(rename = "f")]
    pub field: String,
    /// Descending order.
    #[serde(rename = "d")]
    pub descending: bool,
    /// The last row's order value (`null` for NULL).
    #[serde(rename = "v")]
    pub value: serde_json::Value,
    /// The last row's id.
    #[serde(rename = "i")]
    pub id: Uuid,
}

impl Cursor {
    /// Makes a cursor after a row whose `field` holds `value`.
    pub fn after(field: &str, descending: bool, value: &Typed, id: Uuid) -> Self {
        let value = match value {
            Typed::Int(i) => serde_json::Value::from(*i),
            Typed::Float(f) => serde_json::Value::from(*f),
            Typed::Timestamp(t) => serde_json::Value::from(format_timestamp(t)),
            Typed::Date(d) => serde_json::Value::from(d.format("%Y-%m-%d").to_string()),
            Typed::Uuid(u) => serde_json::Value::from(u.to_string()),
            Typed::Text(t) => serde_json::Value::from(t.clone()),
            Typed::Bool(b) => serde_json::Value::from(*b),
            Typed::Null | Typed::Json(_) | Typed::Bytes(_) | Typed::Vector(_) => {
                serde_json::Value::Null
            }
        };
        Self {
            field: field.to_owned(),
            descending,
            value,
            id,
        }
    }

    /// The opaque text form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Parses a cursor made by [`Cursor::encode`]; `None` when it is not one.
    pub fn decode(text: &str) -> Option<Self> {
        if text.len() > 1024 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The order value typed by its column, or `None` when it does not fit the column.
    pub fn typed_value(&self, column: &Column) -> Option<Typed> {
        let value = match (&self.value, column.ty) {
            (serde_json::Value::Null, _) => return Some(Typed::Null),
            (serde_json::Value::Number(n), ColumnType::Int { .. }) => Value::Integer(n.as_i64()?),
            (serde_json::Value::Number(n), ColumnType::Float) => Value::Float(n.as_f64()?),
            (serde_json::Value::String(s), _) => Value::Text(s.clone()),
            _ => return None,
        };
        // Checked without the NOT NULL and range rules: the value only positions the page.
        column.relaxed().check(value, embedding_dimension()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    /// What the export and the retention purge read from a declaration makes sense: keys are
    /// unique, named columns exist with the right types, a nested or parent-bound collection
    /// has a parent declared before it, sealed collections hold the sealed columns.
    #[test]
    fn export_and_retention_declarations_are_consistent() {
        let mut keys = std::collections::HashSet::new();
        for (position, c) in CATALOG.iter().enumerate() {
            let parent_position = match c.ownership {
                Ownership::Parent { table, .. } => CATALOG.iter().position(|p| p.name == table),
                _ => None,
            };
            let order = match c.export {
                Export::List { key, order } => {
                    assert!(keys.insert(key), "{}: export key {key} twice", c.name);
                    order
                }
                Export::One { key } => {
                    assert!(keys.insert(key), "{}: export key {key} twice", c.name);
                    &[]
                }
                Export::Nested { order, .. } => {
                    assert!(
                        c.sealed.is_none(),
                        "{}: nested rows are never sealed",
                        c.name
                    );
                    assert!(
                        parent_position.is_some_and(|p| p < position),
                        "{} is nested but has no parent declared before it",
                        c.name
                    );
                    order
                }
                Export::Never => {
                    assert_eq!(c.ownership, Ownership::Shared, "{} is a user's", c.name);
                    &[]
                }
            };
            for field in order {
                assert!(c.column(field).is_some(), "{}: order by {field}", c.name);
            }
            match c.retention {
                Retention::OlderThan(fields) => {
                    assert!(!fields.is_empty());
                    for field in fields {
                        let column = c.column(field).expect("retention field");
                        assert_eq!(column.ty, ColumnType::Timestamp, "{}.{field}", c.name);
                    }
                }
                Retention::DayBefore(field) => {
                    let column = c.column(field).expect("retention field");
                    assert_eq!(column.ty, ColumnType::Date, "{}.{field}", c.name);
                }
                Retention::WithParent => assert!(parent_position.is_some(), "{}", c.name),
                Retention::Shared => assert_eq!(c.ownership, Ownership::Shared, "{}", c.name),
                Retention::Kept => {}
            }
            if c.ownership == Ownership::Shared {
                assert_eq!(c.retention, Retention::Shared, "{}", c.name);
                assert_eq!(c.export, Export::Never, "{}", c.name);
            }
            if let Some(sealing) = c.sealed {
                for field in [sealing.ciphertext, sealing.nonce] {
                    let column = c.column(field).expect("sealed columns");
                    assert_eq!(column.ty, ColumnType::Bytes, "{}.{field}", c.name);
                }
            }
        }
    }

    #[test]
    fn rollups_are_well_formed() {
        for c in CATALOG {
            let Some(rollup) = &c.rollup else { continue };
            assert_eq!(
                c.ownership,
                Ownership::User,
                "{}: rollups are per user",
                c.name
            );
            assert_eq!(
                rollup.groupings.first(),
                Some(&RollupGrouping::All),
                "{}",
                c.name
            );
            for (i, grouping) in rollup.groupings.iter().enumerate() {
                assert!(!rollup.groupings[..i].contains(grouping), "{}", c.name);
                let Some(field) = grouping.field() else {
                    continue;
                };
                let column = c.column(field).expect("grouping field");
                let fits = match grouping {
                    RollupGrouping::Weekday(_) | RollupGrouping::Hour(_) => {
                        column.ty == ColumnType::Timestamp
                    }
                    _ => {
                        column.filterable()
                            && matches!(column.ty, ColumnType::Text { .. } | ColumnType::Int { .. })
                    }
                };
                assert!(fits, "{}.{field} cannot be grouped that way", c.name);
            }
            assert!(!rollup.fields.is_empty(), "{}", c.name);
            for (i, field) in rollup.fields.iter().enumerate() {
                assert!(!rollup.fields[..i].contains(field), "{}", c.name);
                let column = c.column(field).expect("rolled-up field");
                let ColumnType::Int { min, max } = column.ty else {
                    panic!("{}.{field}: only integer fields are rolled up", c.name);
                };
                assert!(
                    max - min < MAX_ROLLUP_VALUES,
                    "{}.{field}: the range is too wide for a histogram",
                    c.name
                );
            }
        }
    }

    #[test]
    fn catalog_is_consistent() {
        for c in CATALOG {
            let id = c.column("id").expect("every collection has an id");
            assert_eq!(id.writer, Writer::Host);
            assert!(
                c.column("user_id").is_none(),
                "{}: user_id is never visible",
                c.name
            );
            assert_eq!(c.created_at, c.column("created_at").is_some(), "{}", c.name);
            assert_eq!(c.updated_at, c.column("updated_at").is_some(), "{}", c.name);
            if let Some(created) = c.column("created_at") {
                assert_eq!(created.writer, Writer::Host);
            }
            if let Some(updated) = c.column("updated_at") {
                assert_eq!(updated.writer, Writer::Host);
            }
            if let Ownership::Parent { column, table } = c.ownership {
                let parent = collection(table).expect("parent collection");
                assert_eq!(parent.ownership, Ownership::User);
                let link = c.column(column).expect("ownership column");
                assert!(link.required && link.ty == ColumnType::Uuid);
            }
            if let Some(field) = c.time_field {
                let column = c.column(field).expect("time field");
                assert!(matches!(
                    column.ty,
                    ColumnType::Timestamp | ColumnType::Date
                ));
            }
            for column in c.columns {
                if let Some(reference) = column.references {
                    let target = collection(reference.table).expect("referenced collection");
                    assert_eq!(reference.owned, target.ownership == Ownership::User);
                }
                let mut names = c.columns.iter().filter(|x| x.name == column.name);
                names.next();
                assert!(names.next().is_none(), "{}.{} twice", c.name, column.name);
            }
        }
        assert_eq!(
            collection("content_library").map(|c| (c.ownership, c.access)),
            Some((Ownership::Shared, Access::ReadOnly))
        );
        for name in ["crisis_events", "safety_plans"] {
            assert_eq!(collection(name).map(|c| c.access), Some(Access::ReadOnly));
        }
    }

    fn mood(field: &str) -> &'static Column {
        collection("mood_logs")
            .and_then(|c| c.column(field))
            .expect("column")
    }

    #[test]
    fn values_are_checked_against_their_column() {
        let score = mood("mood_score");
        assert_eq!(score.check(Value::Integer(7), 3), Ok(Typed::Int(7)));
        assert!(score.check(Value::Integer(11), 3).is_err());
        assert!(score.check(Value::Integer(0), 3).is_err());
        assert!(score.check(Value::Null, 3).is_err());
        assert!(score.check(Value::Text("7".into()), 3).is_err());
        assert!(score.check(Value::Float(7.0), 3).is_err());
        let impact = collection("mood_factors")
            .and_then(|c| c.column("impact_score"))
            .expect("impact_score");
        assert!(impact.check(Value::Integer(-5), 3).is_ok());
        assert!(impact.check(Value::Integer(-6), 3).is_err());
        let day = mood("day_of_week");
        assert!(day.check(Value::Integer(32_767), 3).is_ok());
        assert!(day.check(Value::Integer(32_768), 3).is_err());

        let time_of_day = mood("time_of_day");
        assert!(time_of_day.check(Value::Text("a".repeat(20)), 3).is_ok());
        assert!(time_of_day.check(Value::Text("é".repeat(20)), 3).is_ok());
        assert!(time_of_day.check(Value::Text("a".repeat(21)), 3).is_err());
        assert!(mood("note").check(Value::Text("a\0b".into()), 3).is_err());

        let sentiment = mood("note_sentiment");
        assert_eq!(sentiment.check(Value::Integer(1), 3), Ok(Typed::Float(1.0)));
        assert!(sentiment.check(Value::Float(f64::NAN), 3).is_err());
        assert!(sentiment.check(Value::Float(f64::INFINITY), 3).is_err());

        let logged = mood("logged_at");
        let parsed = logged
            .check(Value::Text("2026-11-25T15:03:07.123456789+01:00".into()), 3)
            .expect("timestamp");
        assert_eq!(
            parsed.into_value(),
            Value::Timestamp("2026-11-25T14:03:07.123456Z".into())
        );
        assert!(logged.check(Value::Text("2026-11-25".into()), 3).is_err());
        assert!(logged.check(Value::Null, 3).is_err());

        let id = collection("mood_factors")
            .and_then(|c| c.column("mood_log_id"))
            .expect("mood_log_id");
        let upper = "6F9619FF-8B86-D011-B42D-00C04FC964FF";
        assert_eq!(
            id.check(Value::Uuid(upper.into()), 3)
                .map(Typed::into_value),
            Ok(Value::Uuid(upper.to_lowercase()))
        );
        assert!(
            id.check(Value::Uuid("6f9619ff8b86d011b42d00c04fc964ff".into()), 3)
                .is_err()
        );

        let date = collection("wearable_metrics")
            .and_then(|c| c.column("metric_date"))
            .expect("metric_date");
        assert!(date.check(Value::Date("2026-02-28".into()), 3).is_ok());
        assert!(date.check(Value::Date("2026-02-30".into()), 3).is_err());
        assert!(date.check(Value::Date("2026-2-3".into()), 3).is_err());

        let topics = collection("journal_entries")
            .and_then(|c| c.column("topics"))
            .expect("topics");
        assert!(topics.check(Value::Json("[\"work\"]".into()), 3).is_ok());
        assert!(topics.check(Value::Json("[work".into()), 3).is_err());
        assert!(topics.check(Value::Json("\"\\u0000\"".into()), 3).is_err());
        assert!(topics.check(Value::Text("[]".into()), 3).is_err());

        let embedding = collection("chat_messages")
            .and_then(|c| c.column("embedding"))
            .expect("embedding");
        assert!(
            embedding
                .check(Value::Vector(vec![1.0, 0.0, 0.5]), 3)
                .is_ok()
        );
        assert!(embedding.check(Value::Vector(vec![1.0, 0.0]), 3).is_err());
        assert!(embedding.check(Value::Vector(vec![0.0; 3]), 3).is_err());
        assert!(
            embedding
                .check(Value::Vector(vec![f32::NAN, 1.0, 1.0]), 3)
                .is_err()
        );
    }

    #[test]
    fn filterable_and_sortable_follow_the_type() {
        assert!(mood("mood_score").sortable() && mood("mood_score").filterable());
        assert!(mood("logged_at").sortable());
        assert!(mood("id").sortable());
        assert!(!mood("note").filterable() && !mood("note").sortable());
        assert!(mood("time_of_day").filterable() && !mood("time_of_day").sortable());
        let embedding = collection("chat_messages")
            .and_then(|c| c.column("embedding"))
            .expect("embedding");
        assert!(!embedding.filterable());
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let id = Uuid::new_v4();
        let time = parse_timestamp("2026-11-25T14:03:07.123456Z").expect("time");
        for (field, value) in [
            ("logged_at", Typed::Timestamp(time)),
            ("mood_score", Typed::Int(7)),
            ("note_sentiment", Typed::Float(-0.1)),
            ("energy_level", Typed::Null),
        ] {
            let cursor = Cursor::after(field, true, &value, id);
            let text = cursor.encode();
            assert!(
                text.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{text}"
            );
            let back = Cursor::decode(&text).expect("decodes");
            assert_eq!(back, cursor);
            assert_eq!(back.typed_value(mood(field)), Some(value));
        }
        assert!(Cursor::decode("not a cursor!").is_none());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode(b"{}")).is_none());
        let cursor = Cursor::after("mood_score", false, &Typed::Int(3), id);
        assert!(cursor.typed_value(mood("logged_at")).is_none());
    }
}
