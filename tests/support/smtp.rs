//! A fake SMTP relay for the black-box tests: the third party (a mail provider) the host
//! cannot reach here. It speaks the part of RFC 5321 a client needs to deliver plain-text mail
//! (greeting, EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT), keeps what
//! it was given, and can refuse the first recipients with a temporary failure.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One message the relay accepted.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`), as written.
    pub from: String,
    /// The envelope recipients (`RCPT TO`), as written.
    pub to: Vec<String>,
    /// The message (headers and body), dot-unstuffed, with CRLF line ends.
    pub data: String,
}

#[derive(Default)]
struct Shared {
    received: Vec<ReceivedMail>,
    refused: usize,
}

/// A relay listening on a loopback port until dropped.
pub struct FakeRelay {
    /// Where it listens.
    pub address: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeRelay {
    /// Starts a relay that answers the first `refuse_first` recipients with `451` (try again
    /// later) and accepts everything after.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start(refuse_first: usize) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let state = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let _ = session(stream, state, refuse_first).await;
                });
            }
        });
        Ok(Self {
            address,
            shared,
            task,
        })
    }

    /// How many recipients were refused so far.
    pub fn refused(&self) -> usize {
        self.lock().refused
    }

    /// Waits until `count` messages arrived (or `timeout` passed); returns what arrived.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.lock().received.clone();
            if received.len() >= count || Instant::now() > deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for FakeRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn session(
    stream: TcpStream,
    shared: Arc<Mutex<Shared>>,
    refuse_first: usize,
) -> std::io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    writer.write_all(b"220 relay.test ESMTP ready\r\n").await?;
    let mut from = String::new();
    let mut to = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-relay.test\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("HELO") {
            b"250 relay.test\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = command["MAIL FROM:".len()..].trim().to_owned();
            to.clear();
            b"250 2.1.0 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            let mut state = shared
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if state.refused < refuse_first {
                state.refused += 1;
                b"451 4.3.0 try again later\r\n"
            } else {
                to.push(command["RCPT TO:".len()..].trim().to_owned());
                b"250 2.1.5 OK\r\n"
            }
        } else if upper == "DATA" {
            writer
                .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut data = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            shared
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .received
                .push(ReceivedMail {
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    data,
                });
            b"250 2.0.0 queued\r\n"
        } else if upper == "RSET" {
            from.clear();
            to.clear();
            b"250 2.0.0 OK\r\n"
        } else if upper == "NOOP" {
            b"250 2.0.0 OK\r\n"
        } else if upper == "QUIT" {
            writer.write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 5.5.2 command not implemented\r\n"
        };
        writer.write_all(reply).await?;
    }
}
