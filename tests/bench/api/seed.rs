//! Users with a history: registered over HTTP, their mood logs and factors written straight
//! into the server's database with SQL (100,000 logs over HTTP would take far too long),
//! their journal entries over HTTP (the host encrypts them), and refresh sessions to rotate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use mindflow_tests::{Server, accounts};
use serde_json::json;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

use super::endpoints::{FACTORS, NOTES, index_below, journal_text, mix64, send_json, string_field};

/// Mood-log ids kept per user for `GET /mood/logs/{id}` (a sample spread over the history).
const KEPT_IDS: usize = 2_000;

/// Logs per multi-row `INSERT`, and per transaction.
const ROWS_PER_INSERT: usize = 1_000;
const ROWS_PER_TRANSACTION: usize = 10_000;

/// A registered user and what was seeded for them.
pub struct SeededUser {
    /// The login email.
    pub email: String,
    /// The user id.
    pub id: String,
    /// The newest access token.
    pub access_token: String,
    /// The newest refresh token of the user's own session (used to renew `access_token`).
    pub refresh_token: String,
    /// A sample of the user's mood-log ids, spread over the whole history.
    pub mood_ids: Vec<String>,
    /// The user's journal entry ids.
    pub journal_ids: Vec<String>,
}

/// Registers a user (password [`accounts::PASSWORD`]).
pub async fn register(server: &Server, tag: &str) -> Result<SeededUser> {
    let email = accounts::email(tag);
    let body = accounts::register(server, &email)
        .await
        .with_context(|| format!("registering {email}"))?;
    Ok(SeededUser {
        id: body["user"]["id"]
            .as_str()
            .map(str::to_owned)
            .context("no user id in the registration")?,
        access_token: string_field(&body, "access_token")?,
        refresh_token: string_field(&body, "refresh_token")?,
        email,
        mood_ids: Vec::new(),
        journal_ids: Vec::new(),
    })
}

/// Registers `count` users, a few at a time (each registration hashes a password).
pub async fn register_many(server: &Server, tag: &str, count: usize) -> Result<Vec<SeededUser>> {
    futures::stream::iter(0..count)
        .map(|i| async move { register(server, &format!("{tag}-{i}")).await })
        .buffered(4)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Gives each user a fresh access token through their own refresh session.
pub async fn renew_tokens(server: &Server, users: &mut [SeededUser]) -> Result<()> {
    for user in users {
        let body = send_json(
            server
                .http
                .post(server.url("/api/v1/auth/refresh"))
                .json(&json!({"refresh_token": user.refresh_token})),
        )
        .await
        .with_context(|| format!("renewing the tokens of {}", user.email))?;
        user.access_token = string_field(&body, "access_token")?;
        user.refresh_token = string_field(&body, "refresh_token")?;
    }
    Ok(())
}

/// `count` new sessions (`(email, refresh_token)`), by logging in as the users in turn: a
/// login starts a new refresh-token family, so the sessions rotate independently.
pub async fn sessions(
    server: &Server,
    users: &[SeededUser],
    count: usize,
) -> Result<Vec<(String, String)>> {
    if users.is_empty() {
        bail!("no users to log in as");
    }
    futures::stream::iter(0..count)
        .map(|i| {
            let email = users[i % users.len()].email.clone();
            async move {
                let body = send_json(
                    server
                        .http
                        .post(server.url("/api/v1/auth/login"))
                        .json(&json!({"email": email, "password": accounts::PASSWORD})),
                )
                .await
                .with_context(|| format!("logging in as {email}"))?;
                Ok((email, string_field(&body, "refresh_token")?))
            }
        })
        .buffered(4)
        .collect::<Vec<Result<_>>>()
        .await
        .into_iter()
        .collect()
}

/// Writes `per_user` journal entries of about 100 words for each user over HTTP, eight at
/// a time; records their ids.
pub async fn journal(server: &Server, users: &mut [SeededUser], per_user: usize) -> Result<()> {
    let url = server.url("/api/v1/journal/entries");
    let jobs: Vec<(usize, String, u64)> = users
        .iter()
        .enumerate()
        .flat_map(|(u, user)| {
            (0..per_user).map(move |i| (u, user.access_token.clone(), (u * 1_000_003 + i) as u64))
        })
        .collect();
    let created: Vec<Result<(usize, String)>> = futures::stream::iter(jobs)
        .map(|(u, token, salt)| {
            let entry_type = ["freeform", "gratitude", "reflection"][(salt % 3) as usize];
            let request = server.http.post(&url).bearer_auth(token).json(&json!({
                "content": journal_text(salt, 60 + (mix64(salt) % 80) as usize),
                "entry_type": entry_type,
            }));
            async move {
                let body = send_json(request)
                    .await
                    .context("seeding a journal entry")?;
                Ok((u, string_field(&body, "id")?))
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for result in created {
        let (u, id) = result?;
        users[u].journal_ids.push(id);
    }
    Ok(())
}

/// The mood-log count `GET /mood/stats` reports for the user (the whole history).
pub async fn mood_count(server: &Server, user: &SeededUser) -> Result<u64> {
    let body = send_json(
        server
            .http
            .get(server.url("/api/v1/mood/stats"))
            .bearer_auth(&user.access_token),
    )
    .await?;
    body["count"].as_u64().context("no `count` in the stats")
}

/// A connection to the server's own database.
pub enum Db {
    /// The `mindflow.db` of the server's data directory.
    Sqlite(sqlx::SqliteConnection),
    /// The server's PostgreSQL database.
    Postgres(sqlx::PgConnection),
}

impl Db {
    /// Connects to the database `server` uses.
    pub async fn open(server: &Server) -> Result<Self> {
        Ok(match &server.database_url {
            Some(url) => Self::Postgres(sqlx::PgConnection::connect(url).await?),
            None => Self::Sqlite(
                sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(server.data_dir.join("mindflow.db"))
                    .busy_timeout(Duration::from_secs(30))
                    .connect()
                    .await?,
            ),
        })
    }

    /// Runs `sql` (one or more statements, made here from generated values only).
    pub(crate) async fn execute(&mut self, sql: String) -> Result<()> {
        match self {
            Self::Sqlite(connection) => {
                sqlx::raw_sql(AssertSqlSafe(sql))
                    .execute(connection)
                    .await?;
            }
            Self::Postgres(connection) => {
                sqlx::raw_sql(AssertSqlSafe(sql))
                    .execute(connection)
                    .await?;
            }
        }
        Ok(())
    }

    /// The statement that opens a write transaction.
    pub(crate) fn begin(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "BEGIN IMMEDIATE;\n",
            Self::Postgres(_) => "BEGIN;\n",
        }
    }

    /// Closes the connection.
    pub async fn close(self) -> Result<()> {
        match self {
            Self::Sqlite(connection) => connection.close().await?,
            Self::Postgres(connection) => connection.close().await?,
        }
        Ok(())
    }

    /// Turns off the retention purge for these users (`data_retention_days` NULL keeps
    /// everything): a history of 100,000 logs at three a day goes back 91 years, past the
    /// default 365 days, and the server's hourly purge first runs a minute after start.
    pub async fn keep_history(&mut self, users: &[SeededUser]) -> Result<()> {
        let ids: Vec<String> = users.iter().map(|u| quote(&u.id)).collect();
        if ids.is_empty() {
            return Ok(());
        }
        self.execute(format!(
            "UPDATE users SET data_retention_days = NULL WHERE id IN ({})",
            ids.join(", ")
        ))
        .await
    }

    /// Inserts `count` mood logs with two factors each for `user`, three a day going back
    /// from yesterday (08:xx, 13:xx and 19:xx UTC, the user's default zone), in multi-row
    /// statements and large transactions; keeps a sample of the ids in `user.mood_ids`.
    pub async fn mood_history(&mut self, user: &mut SeededUser, count: usize) -> Result<()> {
        let today =
            i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())? / 86_400;
        let salt = mix64(
            user.id
                .bytes()
                .fold(0u64, |h, b| h.wrapping_mul(31) ^ u64::from(b)),
        );
        let keep_every = (count / KEPT_IDS).max(1);
        let user_id = quote(&user.id);
        let mut start = 0;
        while start < count {
            let end = (start + ROWS_PER_TRANSACTION).min(count);
            let mut sql = self.begin().to_owned();
            for chunk in (start..end).step_by(ROWS_PER_INSERT) {
                let mut logs = Vec::with_capacity(ROWS_PER_INSERT);
                let mut factors = Vec::with_capacity(2 * ROWS_PER_INSERT);
                for k in chunk..(chunk + ROWS_PER_INSERT).min(end) {
                    let log = MoodRow::new(today, k, salt);
                    let id = uuid::Uuid::new_v4().to_string();
                    if k.is_multiple_of(keep_every) {
                        user.mood_ids.push(id.clone());
                    }
                    let id = quote(&id);
                    logs.push(format!(
                        "({id}, {user_id}, {}, {}, {}, {}, {:.3}, {at}, {}, {}, {}, FALSE, {at})",
                        log.mood,
                        log.energy,
                        log.anxiety,
                        quote(log.note),
                        log.sentiment,
                        quote(log.time_of_day),
                        log.day_of_week,
                        quote(log.location),
                        at = quote(&log.logged_at),
                    ));
                    for (factor, value, impact) in log.factors {
                        factors.push(format!(
                            "({id}, {}, {}, {impact})",
                            quote(factor),
                            quote(value)
                        ));
                    }
                }
                sql.push_str(
                    "INSERT INTO mood_logs (id, user_id, mood_score, energy_level, anxiety_level, \
                     note, note_sentiment, logged_at, time_of_day, day_of_week, location_type, \
                     crisis_flag_triggered, created_at) VALUES\n",
                );
                sql.push_str(&logs.join(",\n"));
                sql.push_str(";\nINSERT INTO mood_factors (mood_log_id, factor_type, factor_value, impact_score) VALUES\n");
                sql.push_str(&factors.join(",\n"));
                sql.push_str(";\n");
            }
            sql.push_str("COMMIT;\n");
            self.execute(sql)
                .await
                .with_context(|| format!("inserting mood logs {start}..{end}"))?;
            start = end;
        }
        Ok(())
    }
}

/// A SQL string literal (the values are generated here, but quote them properly anyway).
pub(crate) fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The values of one seeded mood log.
struct MoodRow {
    mood: u64,
    energy: u64,
    anxiety: u64,
    note: &'static str,
    sentiment: f64,
    logged_at: String,
    time_of_day: &'static str,
    day_of_week: i64,
    location: &'static str,
    factors: [(&'static str, &'static str, i64); 2],
}

impl MoodRow {
    /// Log `k` (0 is the newest) of a user whose values are varied by `salt`.
    fn new(today: i64, k: usize, salt: u64) -> Self {
        const PARTS: [(u32, &str); 3] = [(19, "evening"), (13, "afternoon"), (8, "morning")];
        const LOCATIONS: [&str; 4] = ["home", "work", "outdoors", "social"];
        let r = mix64(salt ^ k as u64);
        let day = today - 1 - i64::try_from(k / 3).expect("a log's index");
        let (hour, time_of_day) = PARTS[k % 3];
        let (year, month, date) = civil_from_days(day);
        let minute = r % 60;
        let second = (r >> 6) % 60;
        // Weekends a little better, plus noise: 1..=10.
        let day_of_week = (day + 3).rem_euclid(7) + 1;
        let mood = (4 + (r >> 12) % 5 + u64::from(day_of_week >= 6)).min(10);
        let first = index_below(r >> 20, FACTORS.len());
        let second_factor = (first + 1 + index_below(r >> 24, FACTORS.len() - 1)) % FACTORS.len();
        Self {
            mood,
            energy: 1 + (r >> 28) % 10,
            anxiety: 1 + (r >> 32) % 10,
            note: NOTES[index_below(r >> 36, NOTES.len())],
            sentiment: crate::float((r >> 40) % 200) / 100.0 - 1.0,
            logged_at: format!(
                "{year:04}-{month:02}-{date:02}T{hour:02}:{minute:02}:{second:02}.000000Z"
            ),
            time_of_day,
            day_of_week,
            location: LOCATIONS[index_below(r >> 44, LOCATIONS.len())],
            factors: [
                (
                    FACTORS[first].0,
                    FACTORS[first].1,
                    ((r >> 48) % 7).cast_signed() - 3,
                ),
                (
                    FACTORS[second_factor].0,
                    FACTORS[second_factor].1,
                    ((r >> 52) % 5).cast_signed() - 2,
                ),
            ],
        }
    }
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).expect("a day of the month");
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).expect("a month");
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
