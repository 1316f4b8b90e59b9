//! An adapter's conformance fixture (the WIT `fixture` record, exported by `conformance`):
//! canned exchanges with the provider in its real wire format, and what `fetch`,
//! `identify`, `read-notification` and `upload` must make of them. The host replays it on
//! install with no network and refuses a version whose answers differ; the adapter's own
//! native tests replay it through [`Fixture::canned`], so a fixture that does not round
//! trip fails `cargo test` before it fails an install.
//!
//! Ship the provider's answers as files and build the fixture with `include_str!`:
//!
//! ```ignore
//! Fixture::default()
//!     .get_json("https://api.acme.example/v1/days?start=2026-11-01", include_str!("../fixture/days.json"))
//!     .fetch("2026-11-01", "2026-11-02", expected_batch)
//!     .identify("acme-user-1")
//! ```

use crate::model::{Batch, Error, Notification};
use crate::transport::{Canned, Response};

/// One canned request and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The method (`GET`).
    pub method: String,
    /// The absolute URL, exactly as the adapter requests it.
    pub url: String,
    /// The answer.
    pub response: Response,
}

/// A `fetch` of `start..=end` and the batch it must return.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchCase {
    /// `YYYY-MM-DD`.
    pub start: String,
    /// `YYYY-MM-DD`, inclusive.
    pub end: String,
    /// The batch.
    pub expected: Batch,
}

/// A verified webhook body and what it must read as.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationCase {
    /// The raw body.
    pub body: Vec<u8>,
    /// What `read-notification` must answer (one notification per user the body names).
    pub expected: Vec<Notification>,
}

/// A file and the batch an upload of it must return.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadCase {
    /// The file's name (`export.xml`).
    pub filename: String,
    /// Its bytes.
    pub content: Vec<u8>,
    /// The batch.
    pub expected: Batch,
}

/// The whole fixture.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fixture {
    /// The provider's answers.
    pub exchanges: Vec<Exchange>,
    /// The fetch to replay (OAuth adapters).
    pub fetch: Option<FetchCase>,
    /// The user id `identify` must answer (OAuth adapters).
    pub identify: Option<String>,
    /// A webhook body to read, when the adapter takes webhooks.
    pub notification: Option<NotificationCase>,
    /// A file to upload (upload-only adapters).
    pub upload: Option<UploadCase>,
}

impl Fixture {
    /// Answers `GET url` with `status`, `headers` and `body`.
    #[must_use]
    pub fn answer(
        mut self,
        url: &str,
        status: u16,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> Self {
        self.exchanges.push(Exchange {
            method: "GET".into(),
            url: url.to_owned(),
            response: Response {
                status,
                headers: headers
                    .iter()
                    .map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_owned()))
                    .collect(),
                body: body.into(),
            },
        });
        self
    }

    /// Answers `GET url` with 200 and the JSON document `body` (e.g. an `include_str!` of a
    /// file holding the provider's real answer).
    #[must_use]
    pub fn get_json(self, url: &str, body: &str) -> Self {
        self.answer(
            url,
            200,
            &[("content-type", "application/json")],
            body.as_bytes(),
        )
    }

    /// `fetch(start, end)` must return `expected`.
    #[must_use]
    pub fn fetch(mut self, start: &str, end: &str, expected: Batch) -> Self {
        self.fetch = Some(FetchCase {
            start: start.to_owned(),
            end: end.to_owned(),
            expected,
        });
        self
    }

    /// `identify()` must answer `user`.
    #[must_use]
    pub fn identify(mut self, user: &str) -> Self {
        self.identify = Some(user.to_owned());
        self
    }

    /// `read-notification(body)` must answer `expected`.
    #[must_use]
    pub fn notification(mut self, body: impl Into<Vec<u8>>, expected: Vec<Notification>) -> Self {
        self.notification = Some(NotificationCase {
            body: body.into(),
            expected,
        });
        self
    }

    /// Uploading `content` as `filename` must return `expected`.
    #[must_use]
    pub fn upload(mut self, filename: &str, content: impl Into<Vec<u8>>, expected: Batch) -> Self {
        self.upload = Some(UploadCase {
            filename: filename.to_owned(),
            content: content.into(),
            expected,
        });
        self
    }

    /// Replays the fixture natively, as the host does on install: `fetch` of the fetch case
    /// and `identify` against [`Fixture::canned`], `read_notification` of the webhook body,
    /// each compared with what the fixture expects; every exchange must have been asked for.
    ///
    /// # Errors
    /// The first answer that differs, with both sides.
    pub fn replay(
        &self,
        fetch: impl FnOnce(&mut Canned, &str, &str) -> Result<Batch, Error>,
        identify: impl FnOnce(&mut Canned) -> Result<String, Error>,
        read_notification: impl FnOnce(&[u8]) -> Result<Vec<Notification>, Error>,
    ) -> Result<(), String> {
        let mut canned = self.canned();
        if let Some(case) = &self.fetch {
            let got = fetch(&mut canned, &case.start, &case.end);
            if got.as_ref() != Ok(&case.expected) {
                return Err(format!("fetch: expected {:?}, got {got:?}", case.expected));
            }
        }
        if let Some(user) = &self.identify {
            let got = identify(&mut canned);
            if got.as_ref() != Ok(user) {
                return Err(format!("identify: expected {user}, got {got:?}"));
            }
        }
        if let Some(case) = &self.notification {
            let got = read_notification(&case.body);
            if got.as_ref() != Ok(&case.expected) {
                return Err(format!(
                    "read-notification: expected {:?}, got {got:?}",
                    case.expected
                ));
            }
        }
        match self
            .exchanges
            .iter()
            .find(|e| !canned.requested.contains(&e.url))
        {
            Some(unused) => Err(format!("exchange {} was never asked for", unused.url)),
            None => Ok(()),
        }
    }

    /// A [`Canned`] transport answering from the exchanges, for the native replay.
    #[must_use]
    pub fn canned(&self) -> Canned {
        Canned {
            answers: self
                .exchanges
                .iter()
                .map(|e| (e.url.clone(), e.response.clone()))
                .collect(),
            requested: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Transport;

    #[test]
    fn a_fixture_answers_its_exchanges_and_nothing_else() {
        let fixture = Fixture::default()
            .get_json("https://api.acme.example/v1/a", r#"{"ok": true}"#)
            .answer(
                "https://api.acme.example/v1/b",
                429,
                &[("Retry-After", "5")],
                "",
            );
        let mut canned = fixture.canned();
        let a = canned
            .get("https://api.acme.example/v1/a", &[])
            .expect("a")
            .json()
            .expect("json");
        assert_eq!(a["ok"], true);
        assert_eq!(
            canned
                .get("https://api.acme.example/v1/b", &[])
                .expect("b")
                .ok(),
            Err(crate::model::Error::RateLimited(5))
        );
        assert!(canned.get("https://api.acme.example/v1/c", &[]).is_err());
    }

    #[test]
    fn the_native_replay_compares_every_answer_and_wants_every_exchange() {
        let mut expected = Batch::default();
        expected.day("2026-11-01").steps = Some(7);
        let fixture = Fixture::default()
            .get_json("https://api.acme.example/v1/a", r#"{"steps": 7}"#)
            .fetch("2026-11-01", "2026-11-01", expected)
            .identify("u1")
            .notification("{}", Vec::new());
        let fetch = |t: &mut Canned, start: &str, _: &str| {
            let page = t.get("https://api.acme.example/v1/a", &[])?.json()?;
            let mut batch = Batch::default();
            batch.day(start).steps = page["steps"].as_i64().and_then(|s| i32::try_from(s).ok());
            Ok(batch)
        };
        let user = |_: &mut Canned| Ok("u1".to_owned());
        let ignore = |_: &[u8]| Ok(Vec::new());
        assert_eq!(fixture.replay(fetch, user, ignore), Ok(()));
        let other = |_: &mut Canned| Ok("u2".to_owned());
        assert!(fixture.replay(fetch, other, ignore).is_err());
        let lazy = |_: &mut Canned, _: &str, _: &str| Ok(Batch::default());
        assert!(fixture.replay(lazy, user, ignore).is_err());
        let mut unused = fixture
            .clone()
            .get_json("https://api.acme.example/v1/b", "{}");
        unused.fetch = fixture.fetch.clone();
        assert_eq!(
            unused.replay(fetch, user, ignore),
            Err("exchange https://api.acme.example/v1/b was never asked for".into())
        );
    }
}
