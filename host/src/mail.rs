//! Mail: the outbox consumer and the mailers it delivers through.
//!
//! Changes that send mail (a password-reset request, a registration) write an `outbox` row in their own
//! transaction; [`spawn_outbox_consumer`] delivers pending rows through the configured
//! [`Mailer`], counts every attempt, retries with back-off and marks delivered rows (dropping
//! their payload). Replicas may all run the consumer: an attempt is claimed by a conditional
//! update, so one message is not delivered twice by two hosts at once.
//!
//! Logs name only the message id and kind, never the address or the payload (a reset token
//! is a credential), nor the SMTP URL (it may hold the relay's password).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use thiserror::Error;

use crate::db::Database;
use crate::db::outbox::OutboxMessage;
use crate::db::registrations::{ACCOUNT_EXISTS, VERIFY_EMAIL};

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
    /// Production: each message is sent through an SMTP relay (`MINDFLOW_SMTP_URL`) from
    /// `MINDFLOW_MAIL_FROM`.
    Smtp,
}

/// How long one SMTP delivery may take (connect, greet, send) before it counts as failed.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// What the mailer is configured with.
#[derive(Debug, Clone)]
pub struct MailSettings<'a> {
    /// Which mailer.
    pub kind: MailerKind,
    /// The data directory (the file mailer writes under it).
    pub data_dir: &'a Path,
    /// The relay, for SMTP: `smtp://[user:password@]host[:port][?tls=required]` (STARTTLS
    /// when required) or `smtps://…` (TLS from the start).
    pub smtp_url: Option<&'a str>,
    /// The sender, for SMTP: `no-reply@example.com` or `MindFlow <no-reply@example.com>`.
    pub from: Option<&'a str>,
}

/// Why the mailer configuration was refused (at start-up).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MailConfigError {
    /// The SMTP mailer needs a setting that is missing.
    #[error("the smtp mailer needs {0}")]
    Missing(&'static str),
    /// The SMTP URL is not one (the URL itself is not repeated: it may hold a password).
    #[error("MINDFLOW_SMTP_URL is not a valid smtp:// or smtps:// URL")]
    SmtpUrl,
    /// The sender is not a mailbox.
    #[error("MINDFLOW_MAIL_FROM `{0}` is not a mail address")]
    From(String),
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
    /// The recipient is not a mail address.
    #[error("the recipient is not a mail address")]
    Recipient,
    /// The relay refused the message or could not be reached.
    #[error("the SMTP relay did not take the message: {0}")]
    Smtp(String),
}

/// A message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
}

/// The code a message carries (`payload.token`).
fn token_of(message: &OutboxMessage) -> Result<&str, MailError> {
    message
        .payload
        .get("token")
        .and_then(|t| t.as_str())
        .ok_or(MailError::BadPayload)
}

/// Renders an outbox message into an e-mail.
///
/// # Errors
/// [`MailError::UnknownKind`] or [`MailError::BadPayload`].
pub fn render(message: &OutboxMessage) -> Result<Rendered, MailError> {
    match message.kind.as_str() {
        "password_reset" => {
            let token = token_of(message)?;
            Ok(Rendered {
                subject: "Reset your MindFlow password".into(),
                text: format!(
                    "Someone (hopefully you) asked to reset the password of your MindFlow account.\n\n\
                     Your reset code, valid for one hour and usable once:\n\n    {token}\n\n\
                     If you did not ask for this, ignore this message: your password stays as it is.\n"
                ),
            })
        }
        VERIFY_EMAIL => {
            let token = token_of(message)?;
            Ok(Rendered {
                subject: "Finish creating your MindFlow account".into(),
                text: format!(
                    "Someone (hopefully you) asked to create a MindFlow account with this address.\n\n\
                     Your code, valid for 24 hours and usable once:\n\n    {token}\n\n\
                     Enter it in the app to finish. If you did not ask for this, ignore this \
                     message: no account is created without the code.\n"
                ),
            })
        }
        ACCOUNT_EXISTS => Ok(Rendered {
            subject: "Someone tried to sign up with your address".into(),
            text: "Someone (perhaps you) tried to create a MindFlow account with this address, \
                   which already has one. Nothing about your account changed.\n\n\
                   If it was you, sign in instead; if you forgot your password, use \
                   \"Forgot password\" in the app. If it was not you, you can ignore this \
                   message.\n"
                .into(),
        }),
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

/// Sends each message through an SMTP relay, one connection per message.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    // The transport holds the relay's credentials: not printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A mailer for the relay at `url`, sending from `from`.
    ///
    /// # Errors
    /// [`MailConfigError`] when the URL or the sender is malformed.
    pub fn new(url: &str, from: &str) -> Result<Self, MailConfigError> {
        let from = from
            .parse::<lettre::message::Mailbox>()
            .map_err(|_| MailConfigError::From(from.to_owned()))?;
        let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
            .map_err(|_| MailConfigError::SmtpUrl)?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Self { transport, from })
    }

    async fn send(&self, message: &OutboxMessage, rendered: Rendered) -> Result<(), MailError> {
        use lettre::AsyncTransport;

        let to = message
            .recipient
            .parse::<lettre::message::Mailbox>()
            .map_err(|_| MailError::Recipient)?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject)
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(rendered.text)
            .map_err(|_| MailError::Recipient)?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|e| MailError::Smtp(e.to_string()))
    }
}

/// The configured mailer.
#[derive(Debug, Clone)]
pub enum Mailer {
    /// See [`FileMailer`].
    File(FileMailer),
    /// See [`SmtpMailer`] (boxed: the transport is large).
    Smtp(Box<SmtpMailer>),
}

impl Mailer {
    /// The mailer for a configuration.
    ///
    /// # Errors
    /// [`MailConfigError`] when the SMTP mailer lacks its relay or sender, or either is
    /// malformed.
    pub fn from_config(settings: &MailSettings<'_>) -> Result<Self, MailConfigError> {
        match settings.kind {
            MailerKind::File => Ok(Self::File(FileMailer::new(
                settings.data_dir.join("outbox-mail"),
            ))),
            MailerKind::Smtp => {
                let url = settings
                    .smtp_url
                    .filter(|u| !u.trim().is_empty())
                    .ok_or(MailConfigError::Missing("MINDFLOW_SMTP_URL"))?;
                let from = settings
                    .from
                    .filter(|f| !f.trim().is_empty())
                    .ok_or(MailConfigError::Missing("MINDFLOW_MAIL_FROM"))?;
                Ok(Self::Smtp(Box::new(SmtpMailer::new(url, from)?)))
            }
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
            Self::Smtp(mailer) => mailer.send(message, rendered).await,
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

/// Wakes this host's outbox consumer when a request has just queued a message, so a code
/// the person is waiting for goes out at once instead of at the next poll. Cheap to clone.
#[derive(Clone, Default)]
pub struct OutboxSignal(std::sync::Arc<tokio::sync::Notify>);

impl OutboxSignal {
    /// Says a message was queued (call it after the commit).
    pub fn queued(&self) {
        self.0.notify_one();
    }
}

/// Runs the outbox consumer for the life of the process: every [`POLL_INTERVAL`] (messages
/// other replicas or tools queued, retries), and whenever `signal` says this host queued one.
pub fn spawn_outbox_consumer(
    db: Database,
    mailer: Mailer,
    signal: OutboxSignal,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(POLL_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                () = signal.0.notified() => {}
            }
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
    fn renders_registration_mails() {
        let code = render(&message(VERIFY_EMAIL, 0)).expect("rendered");
        assert!(
            code.text.contains("\n    tok_123\n"),
            "the code on a line of its own"
        );
        let mut exists = message(ACCOUNT_EXISTS, 0);
        exists.payload = json!({});
        let told = render(&exists).expect("rendered");
        assert!(told.text.contains("already has one"));
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

    #[test]
    fn the_smtp_mailer_needs_a_valid_relay_and_sender() {
        let dir = Path::new(".");
        let smtp = |url: Option<&'static str>, from: Option<&'static str>| {
            Mailer::from_config(&MailSettings {
                kind: MailerKind::Smtp,
                data_dir: dir,
                smtp_url: url,
                from,
            })
        };
        let from = Some("MindFlow <no-reply@example.com>");
        assert!(matches!(
            smtp(Some("smtps://user:secret@mail.example.com"), from),
            Ok(Mailer::Smtp(_))
        ));
        assert!(matches!(
            smtp(
                Some("smtp://mail.example.com:2525?tls=required"),
                Some("no-reply@example.com")
            ),
            Ok(Mailer::Smtp(_))
        ));
        assert_eq!(
            smtp(None, from).err(),
            Some(MailConfigError::Missing("MINDFLOW_SMTP_URL"))
        );
        assert_eq!(
            smtp(Some("smtp://mail.example.com"), Some(" ")).err(),
            Some(MailConfigError::Missing("MINDFLOW_MAIL_FROM"))
        );
        assert_eq!(
            smtp(Some("smtp://mail.example.com"), Some("not an address")).err(),
            Some(MailConfigError::From("not an address".into()))
        );
        // A malformed URL is refused without repeating it: it may hold a password.
        let error = smtp(Some("https://user:hunter2@mail.example.com"), from).expect_err("refused");
        assert_eq!(error, MailConfigError::SmtpUrl);
        assert!(!error.to_string().contains("hunter2"));
        let mailer = smtp(Some("smtps://user:hunter2@mail.example.com"), from).expect("mailer");
        assert!(!format!("{mailer:?}").contains("hunter2"));
    }

    #[tokio::test]
    async fn the_file_mailer_writes_owner_only_json() {
        let temp = tempfile::tempdir().expect("temp");
        let mailer = Mailer::from_config(&MailSettings {
            kind: MailerKind::File,
            data_dir: temp.path(),
            smtp_url: None,
            from: None,
        })
        .expect("file mailer");
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
