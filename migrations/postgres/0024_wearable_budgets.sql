-- Wearables: the sync scheduler's request budgets, shared by every replica. One row per
-- budget and UTC minute (minutes since 1970-01-01): `used` counts what was admitted in that
-- minute (a connection's `fetch` calls, under the adapter's declared budget; a provider's
-- outbound requests over all users, under the operator's budget). Rows of past minutes are
-- removed by the scheduler.
CREATE TABLE wearable_request_budgets (
    budget_key VARCHAR(80) NOT NULL,
    minute BIGINT NOT NULL,
    used BIGINT NOT NULL,
    PRIMARY KEY (budget_key, minute)
);
CREATE INDEX idx_wearable_request_budgets_minute ON wearable_request_budgets(minute);
