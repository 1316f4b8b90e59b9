//! The endpoints under load, each as an [`Op`] over a [`Target`]: a group of seeded users
//! (tokens, ids of their mood logs and journal entries) and a pool of refresh sessions.

use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, anyhow, bail};
use mindflow_tests::accounts::PASSWORD;
use serde_json::{Value, json};

use super::mix::Mix;
use super::openloop::{Call, Op};

/// One endpoint under load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /api/v1/mood/logs?limit=20`: the newest page, each log with its factors.
    MoodList,
    /// `GET /api/v1/mood/logs/{id}`: one of the user's logs, anywhere in the history.
    MoodGet,
    /// `GET /api/v1/mood/stats`: no range, so over the whole history (the default).
    MoodStats,
    /// `GET /api/v1/mood/trends`: daily series of the last 30 days (the default).
    MoodTrends,
    /// `GET /api/v1/journal/entries?limit=20`: the newest page, decrypted.
    JournalList,
    /// `GET /api/v1/journal/entries/{id}`: one entry, decrypted.
    JournalGet,
    /// `POST /api/v1/mood/logs`: a note and two factors.
    MoodCreate,
    /// `POST /api/v1/journal/entries`: about a hundred words.
    JournalCreate,
    /// `POST /api/v1/auth/refresh`: rotates a session's refresh token.
    Refresh,
}

impl Endpoint {
    /// Every endpoint, in the order of the tables.
    pub const ALL: [Self; 9] = [
        Self::MoodList,
        Self::MoodGet,
        Self::MoodStats,
        Self::MoodTrends,
        Self::JournalList,
        Self::JournalGet,
        Self::MoodCreate,
        Self::JournalCreate,
        Self::Refresh,
    ];

    /// The request, as printed in the tables.
    pub fn label(self) -> &'static str {
        match self {
            Self::MoodList => "GET /mood/logs?limit=20",
            Self::MoodGet => "GET /mood/logs/{id}",
            Self::MoodStats => "GET /mood/stats (all time)",
            Self::MoodTrends => "GET /mood/trends (30 days)",
            Self::JournalList => "GET /journal/entries?limit=20",
            Self::JournalGet => "GET /journal/entries/{id}",
            Self::MoodCreate => "POST /mood/logs",
            Self::JournalCreate => "POST /journal/entries",
            Self::Refresh => "POST /auth/refresh",
        }
    }

    /// Whether the cost can depend on the size of the user's mood history (the others run
    /// only for the first history size).
    pub fn reads_mood_history(self) -> bool {
        matches!(
            self,
            Self::MoodList | Self::MoodGet | Self::MoodStats | Self::MoodTrends | Self::MoodCreate
        )
    }
}

/// A user the requests act as.
pub struct Actor {
    /// A bearer access token.
    pub token: String,
    /// Ids of some of the user's mood logs (spread over the whole history).
    pub mood_ids: Vec<String>,
    /// Ids of the user's journal entries.
    pub journal_ids: Vec<String>,
}

/// One refresh session: a login's newest refresh token.
struct Session {
    email: String,
    refresh_token: String,
}

/// Refresh sessions, one per worker slot. A slot's session is only used by that slot's
/// worker, one request at a time, so rotation never races with itself.
pub struct Sessions {
    slots: Vec<Mutex<Session>>,
}

impl Sessions {
    /// Sessions from `(email, refresh_token)` pairs.
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self {
            slots: pairs
                .into_iter()
                .map(|(email, refresh_token)| {
                    Mutex::new(Session {
                        email,
                        refresh_token,
                    })
                })
                .collect(),
        }
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    fn slot(&self, slot: usize) -> Result<&Mutex<Session>> {
        if self.slots.is_empty() {
            bail!("no refresh sessions");
        }
        Ok(&self.slots[slot % self.slots.len()])
    }

    /// Rotates slot `slot`'s session. When the server refuses it (e.g. a previous run was
    /// cut off after the server rotated the token, so the stored one was already used and
    /// its family is now revoked), the slot logs in again for a new session; the request
    /// still counts as failed.
    async fn refresh(&self, base: &str, call: &Call) -> Result<()> {
        let cell = self.slot(call.slot)?;
        let (email, token) = {
            let session = cell.lock().map_err(|_| anyhow!("session lock poisoned"))?;
            (session.email.clone(), session.refresh_token.clone())
        };
        let answer = send_json(
            call.client
                .post(format!("{base}/api/v1/auth/refresh"))
                .json(&json!({"refresh_token": token})),
        )
        .await;
        let renewed = match &answer {
            Ok(body) => Some(string_field(body, "refresh_token")?),
            Err(error) if error.to_string().starts_with("HTTP 401") => {
                let login = send_json(
                    call.client
                        .post(format!("{base}/api/v1/auth/login"))
                        .json(&json!({"email": email, "password": PASSWORD})),
                )
                .await
                .context("logging in again after a refused refresh")?;
                Some(string_field(&login, "refresh_token")?)
            }
            Err(_) => None,
        };
        if let Some(renewed) = renewed {
            cell.lock()
                .map_err(|_| anyhow!("session lock poisoned"))?
                .refresh_token = renewed;
        }
        answer.map(drop)
    }
}

/// What the ops of one run act on.
pub struct Target {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The users; request `seq` acts as user `seq % len`.
    pub actors: Vec<Actor>,
    /// Refresh sessions, one per worker slot.
    pub sessions: Arc<Sessions>,
}

impl Target {
    fn actor(&self, seq: u64) -> Result<&Actor> {
        if self.actors.is_empty() {
            bail!("no users to act as");
        }
        Ok(&self.actors[index_below(seq, self.actors.len())])
    }

    /// Sends `endpoint`'s request for `call`.
    pub async fn request(&self, endpoint: Endpoint, call: &Call) -> Result<()> {
        let base = &self.base;
        let client = &call.client;
        if endpoint == Endpoint::Refresh {
            return self.sessions.refresh(base, call).await;
        }
        let actor = self.actor(call.seq)?;
        // A different, well-spread pick for each request (ids, note texts).
        let spread = mix64(call.seq);
        let request = match endpoint {
            Endpoint::MoodList => client.get(format!("{base}/api/v1/mood/logs?limit=20")),
            Endpoint::MoodGet => client.get(format!(
                "{base}/api/v1/mood/logs/{}",
                pick(&actor.mood_ids, spread).context("the user has no mood logs")?
            )),
            Endpoint::MoodStats => client.get(format!("{base}/api/v1/mood/stats")),
            Endpoint::MoodTrends => client.get(format!("{base}/api/v1/mood/trends")),
            Endpoint::JournalList => client.get(format!("{base}/api/v1/journal/entries?limit=20")),
            Endpoint::JournalGet => client.get(format!(
                "{base}/api/v1/journal/entries/{}",
                pick(&actor.journal_ids, spread).context("the user has no journal entries")?
            )),
            Endpoint::MoodCreate => client
                .post(format!("{base}/api/v1/mood/logs"))
                .json(&mood_body(spread)),
            Endpoint::JournalCreate => client
                .post(format!("{base}/api/v1/journal/entries"))
                .json(&json!({"content": journal_text(spread, 100), "entry_type": "freeform"})),
            Endpoint::Refresh => unreachable!("handled above"),
        };
        send(request.bearer_auth(&actor.token)).await.map(drop)
    }
}

/// An [`Op`] sending `endpoint`'s request.
pub fn op(endpoint: Endpoint, target: &Arc<Target>) -> Op {
    let target = target.clone();
    Arc::new(move |call: Call| {
        let target = target.clone();
        Box::pin(async move { target.request(endpoint, &call).await })
    })
}

/// An [`Op`] sending, for each request, an endpoint drawn from `mix`.
pub fn mix_op(mix: &Arc<Mix>, target: &Arc<Target>) -> Op {
    let (mix, target) = (mix.clone(), target.clone());
    Arc::new(move |call: Call| {
        let (mix, target) = (mix.clone(), target.clone());
        Box::pin(async move { target.request(mix.pick(call.seq), &call).await })
    })
}

/// Sends a request and reads the whole body; anything but a 2xx is an error naming the
/// status and the problem type (`HTTP 503 urn:mindflow:problem:…`).
pub async fn send(request: reqwest::RequestBuilder) -> Result<Vec<u8>> {
    let response = request.send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    if !status.is_success() {
        let problem = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|b| b["type"].as_str().map(str::to_owned))
            .unwrap_or_default();
        bail!("HTTP {} {problem}", status.as_u16());
    }
    Ok(body.to_vec())
}

/// [`send`], then parses the body as JSON.
pub async fn send_json(request: reqwest::RequestBuilder) -> Result<Value> {
    let body = send(request).await?;
    serde_json::from_slice(&body).context("the body is not JSON")
}

/// A string field of a JSON document, or an error naming it.
pub fn string_field(document: &Value, field: &str) -> Result<String> {
    document[field]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no `{field}` in the answer"))
}

/// A well-mixed 64-bit hash (splitmix64's finaliser).
pub fn mix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick(items: &[String], spread: u64) -> Option<&str> {
    if items.is_empty() {
        return None;
    }
    Some(&items[index_below(spread, items.len())])
}

/// `spread` reduced to an index below `len` (not 0).
pub fn index_below(spread: u64, len: usize) -> usize {
    usize::try_from(spread % len as u64).expect("a remainder below a usize is a usize")
}

/// Everyday notes (nothing a crisis assessment would flag).
pub const NOTES: [&str; 8] = [
    "Slept well and the morning run felt easy.",
    "Busy day at work, a bit tired but fine.",
    "Lovely dinner with friends, laughed a lot.",
    "Rainy and grey, stayed in and read a book.",
    "Stressful meeting, calmer after a walk.",
    "Quiet evening, cooked something new.",
    "Headache in the afternoon, better now.",
    "Good focus today, finished the report.",
];

/// Factor types and a value each.
pub const FACTORS: [(&str, &str); 6] = [
    ("sleep", "7h"),
    ("exercise", "walk"),
    ("social", "friends"),
    ("work", "deadline"),
    ("weather", "rain"),
    ("diet", "home cooked"),
];

/// An everyday note no earlier request sent: real notes differ, and the server remembers
/// the embeddings of recent texts, so a repeated note would measure that memory instead of
/// the crisis assessment every new note costs.
fn unique_note(spread: u64) -> String {
    let note = NOTES[index_below(spread >> 16, NOTES.len())];
    format!(
        "{}, day {}.",
        note.trim_end_matches('.'),
        spread % 1_000_000
    )
}

/// A new mood log: scores, a note and two factors.
fn mood_body(spread: u64) -> Value {
    let first = index_below(spread, FACTORS.len());
    let second = (first + 1 + index_below(spread >> 8, FACTORS.len() - 1)) % FACTORS.len();
    json!({
        "mood_score": 1 + spread % 10,
        "energy_level": 1 + (spread >> 4) % 10,
        "anxiety_level": 1 + (spread >> 12) % 10,
        "note": unique_note(spread),
        "location_type": "home",
        "factors": [
            {"factor_type": FACTORS[first].0, "factor_value": FACTORS[first].1, "impact_score": ((spread >> 20) % 7).cast_signed() - 3},
            {"factor_type": FACTORS[second].0, "factor_value": FACTORS[second].1, "impact_score": ((spread >> 24) % 5).cast_signed() - 2}
        ]
    })
}

/// About `words` words of an everyday journal entry, varied by `spread`.
pub fn journal_text(spread: u64, words: usize) -> String {
    const WORDS: [&str; 32] = [
        "today",
        "I",
        "walked",
        "to",
        "work",
        "and",
        "thought",
        "about",
        "the",
        "week",
        "ahead",
        "feeling",
        "calm",
        "tired",
        "hopeful",
        "grateful",
        "for",
        "small",
        "things",
        "again",
        "coffee",
        "with",
        "a",
        "friend",
        "in",
        "park",
        "sunny",
        "afternoon",
        "music",
        "read",
        "evening",
        "garden",
    ];
    let mut state = spread | 1;
    let mut text = Vec::with_capacity(words);
    for _ in 0..words {
        state = mix64(state);
        text.push(WORDS[index_below(state, WORDS.len())]);
    }
    let mut text = text.join(" ");
    text.push('.');
    text
}
