-- Per-user rollups of the collections the catalog declares `rollup` for (see
-- crates/db/src/rollups.rs): for each group of a declared grouping, a histogram of each
-- rolled-up field (how many rows hold each value; field '*' counts the group's rows).
-- Kept exact at write time by triggers the host installs at start-up from the catalog, so
-- an all-time aggregate reads a few hundred rows whatever the history.
CREATE TABLE storage_rollups (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    collection TEXT NOT NULL,
    -- 'all', 'weekday:<field>', 'hour:<field>' or 'value:<field>'.
    group_by TEXT NOT NULL,
    -- 'v<key>', 'n' (the field is NULL), '?' (the user's zone was not loaded), '' for 'all'.
    group_key TEXT NOT NULL,
    -- A rolled-up field, or '*' (every row of the group, val 0).
    field TEXT NOT NULL,
    val INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (user_id, collection, group_by, group_key, field, val)
) STRICT, WITHOUT ROWID;

-- UTC offsets of the IANA zones users are in, from the host's zone data (chrono-tz), so
-- SQL can place an instant in a user's local week and day exactly as the host does:
-- from `starts_at` (Unix seconds) on, the zone is `offset_seconds` ahead of UTC.
CREATE TABLE time_zone_offsets (
    zone TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    offset_seconds INTEGER NOT NULL,
    PRIMARY KEY (zone, starts_at)
) STRICT, WITHOUT ROWID;

INSERT INTO time_zone_offsets (zone, starts_at, offset_seconds) VALUES ('UTC', -999999999999, 0);
