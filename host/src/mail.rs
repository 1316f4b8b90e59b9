//! Mail: the outbox consumer and the mailers it delivers through.
//!
//! Changes that send mail (a password-reset request) write an `outbox` row in their own
//! transaction; [`spawn_outbox_consumer`] delivers pending rows through the configured
//! [`Mailer`], counts every attempt, retries with back-off and marks delivered rows (dropping
//! their payload). Replicas may all run the consumer: an attempt is claimed by a conditional
//! update, so one message is not delivered twice by two hosts at once.
//!
//! Logs name only the message id and kind, never the address or the payload (a reset token
//! is a credential).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use thiserror::Error;

use crate::db::Database;
use crate::db::outbox::OutboxMessage;

/// How often the consumer looks for pending messages.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Attempts after which a message is left undelivered.
pub const MAX_ATTEMPTS: i64 = 12;
/// Messages handled per poll.
const BATCH: i64 = 50;

/// Which mailer delivers the outbox (`MINDFLOW_MAILER`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum MailerKind {
    /// Development: each message is written as JSON into `<data-dir>/outbox-mail/`.
    #[default]
    File,
}

/// Why a message was not delivered.
#[derive(Debug, Error)]
pub enum MailError {
    /// The message file could not be written.
    #[error("cannot write the message file: {0}")]
    Io(#[from] std::io::Error),
    /// No template exists for the message's kind.
    #[error("no template for this kind of message")]
    UnknownKind,
    /// The payload lacks what the template needs.
    #[error("the message payload is incomplete")]
    BadPayload,
}

/// A message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
}

/// Renders an outbox message into an e-mail.
///
/// # Errors
/// [`MailError::UnknownKind`] or [`MailError::BadPayload`].
pub fn render(message: &OutboxMessage) -> Result<Rendered, MailError> {
    match message.kind.as_str() {
        "password_reset" => {
            let token = message
                .payload
                .get("token")
                .and_then(|t| t.as_str())
                .ok_or(MailError::BadPayload)?;
            Ok(Rendered {
                subject: "Reset your MindFlow password".into(),
                text: format!(
                    "Someone (hopefully you) asked to reset the password of your MindFlow account.\n\n\
                     Your reset code, valid for one hour and usable once:\n\n    {token}\n\n\
                     If you did not ask for this, ignore this message: your password stays as it is.\n"
                ),
            })
        }
        _ => Err(MailError::UnknownKind),
    }
}

/// Writes each message as a JSON file (`<id>.json`) into a folder only the owner can read.
#[derive(Debug, Clone)]
pub struct FileMailer {
    dir: PathBuf,
}

impl FileMailer {
    /// A file mailer writing into `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The folder messages are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn write(dir: &Path, message: &OutboxMessage, rendered: &Rendered) -> Result<(), MailError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let document = json!({
            "id": message.id,
            "kind": message.kind,
            "to": message.recipient,
            "subject": rendered.subject,
            "text": rendered.text,
            "payload": message.payload,
            "queued_at": message.created_at,
        });
        let bytes = serde_json::to_vec_pretty(&document)
            .map_err(|e| MailError::Io(std::io::Error::other(e)))?;
        let partial = dir.join(format!(".{}.json.partial", message.id));
        let _ = std::fs::remove_file(&partial);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&partial)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        drop(file);
        // Renamed into place: a reader never sees half a message.
        std::fs::rename(&partial, dir.join(format!("{}.json", message.id)))?;
        Ok(())
    }
}

/// The configured mailer.
#[derive(Debug, Clone)]
pub enum Mailer {
    /// See [`FileMailer`].
    File(FileMailer),
}

impl Mailer {
    /// The mailer for a configuration.
    pub fn from_config(kind: MailerKind, data_dir: &Path) -> Self {
        match kind {
            MailerKind::File => Self::File(FileMailer::new(data_dir.join("outbox-mail"))),
        }
    }

    /// Delivers one message.
    ///
    /// # Errors
    /// [`MailError`].
    pub async fn deliver(&self, message: &OutboxMessage) -> Result<(), MailError> {
        let rendered = render(message)?;
        match self {
            Self::File(mailer) => {
                let dir = mailer.dir.clone();
                let message = message.clone();
                tokio::task::spawn_blocking(move || FileMailer::write(&dir, &message, &rendered))
                    .await
                    .map_err(|e| MailError::Io(std::io::Error::other(e)))?
            }
        }
    }
}

/// Whether a message that failed `attempts` times is due again: attempt `n + 1` waits until
/// `2^n` seconds after the message was queued (about an hour in all before giving up).
fn is_due(message: &OutboxMessage, now: chrono::DateTime<Utc>) -> bool {
    if message.attempts <= 0 {
        return true;
    }
    let wait = 1i64 << message.attempts.clamp(0, 20);
    message.created_at + chrono::Duration::seconds(wait) <= now
}

/// Delivers the pending messages that are due; returns how many were delivered.
///
/// # Errors
/// [`crate::db::DbError`] when the outbox cannot be read or updated.
pub async fn deliver_pending(db: &Database, mailer: &Mailer) -> Result<usize, crate::db::DbError> {
    let mut delivered = 0;
    let now = Utc::now();
    for message in db.undelivered_outbox(MAX_ATTEMPTS, BATCH).await? {
        if !is_due(&message, now) {
            continue;
        }
        if !db
            .claim_outbox_attempt(message.id, message.attempts)
            .await?
        {
            continue;
        }
        let attempt = message.attempts + 1;
        match mailer.deliver(&message).await {
            Ok(()) => {
                db.mark_outbox_delivered(message.id, Utc::now()).await?;
                delivered += 1;
                tracing::info!(message_id = %message.id, kind = %message.kind, attempt, "outbox message delivered");
            }
            Err(error) => {
                tracing::warn!(message_id = %message.id, kind = %message.kind, attempt, %error, "outbox message not delivered");
            }
        }
    }
    Ok(delivered)
}

/// Runs the outbox consumer for the life of the process.
pub fn spawn_outbox_consumer(db: Database, mailer: Mailer) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(POLL_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(error) = deliver_pending(&db, &mailer).await {
                tracing::warn!(%error, "the outbox consumer cannot reach the database");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn message(kind: &str, attempts: i64) -> OutboxMessage {
        OutboxMessage {
            id: Uuid::new_v4(),
            kind: kind.into(),
            recipient: "ada@example.com".into(),
            payload: json!({"token": "tok_123"}),
            created_at: Utc::now(),
            attempts,
        }
    }

    #[test]
    fn renders_password_resets_and_refuses_unknown_kinds() {
        let rendered = render(&message("password_reset", 0)).expect("rendered");
        assert!(rendered.text.contains("tok_123"));
        assert!(matches!(
            render(&message("newsletter", 0)),
            Err(MailError::UnknownKind)
        ));
        let mut empty = message("password_reset", 0);
        empty.payload = json!({});
        assert!(matches!(render(&empty), Err(MailError::BadPayload)));
    }

    #[test]
    fn retries_back_off() {
        let fresh = message("password_reset", 0);
        assert!(is_due(&fresh, fresh.created_at));
        let failed = message("password_reset", 3);
        assert!(!is_due(
            &failed,
            failed.created_at + chrono::Duration::seconds(7)
        ));
        assert!(is_due(
            &failed,
            failed.created_at + chrono::Duration::seconds(8)
        ));
    }

    #[tokio::test]
    async fn the_file_mailer_writes_owner_only_json() {
        let temp = tempfile::tempdir().expect("temp");
        let mailer = Mailer::from_config(MailerKind::File, temp.path());
        let message = message("password_reset", 0);
        mailer.deliver(&message).await.expect("delivered");
        let dir = temp.path().join("outbox-mail");
        let path = dir.join(format!("{}.json", message.id));
        let written: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("file")).expect("json");
        assert_eq!(written["to"], "ada@example.com");
        assert_eq!(written["payload"]["token"], "tok_123");
        assert_eq!(written["kind"], "password_reset");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&path), 0o600);
        }
        assert_eq!(
            std::fs::read_dir(&dir).expect("dir").count(),
            1,
            "no partial file left"
        );
    }
}
