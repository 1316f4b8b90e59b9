//! A throwaway `redis-server` for the shared rate-limit tests and benchmark: the binary
//! named by `MINDFLOW_REDIS_SERVER` (`scripts/redis-for-tests.sh` provides one; `cargo xtask
//! test` sets it), on a free loopback port, with a password, persisting nothing. Killed when
//! dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The password every test Redis requires (so the tests can check that it is never logged).
pub const PASSWORD: &str = "redis-test-secret-4f1c";

/// A running `redis-server`.
pub struct Redis {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

/// The binary, from `MINDFLOW_REDIS_SERVER`.
///
/// # Errors
/// A message saying how to get one when the variable is unset or names no file.
pub fn binary() -> Result<PathBuf> {
    let path = std::env::var_os("MINDFLOW_REDIS_SERVER").map(PathBuf::from).context(
        "MINDFLOW_REDIS_SERVER must name a redis-server binary: run `scripts/redis-for-tests.sh` \
         (it installs one and prints its path); `cargo xtask test` sets it",
    )?;
    if !path.is_file() {
        bail!("MINDFLOW_REDIS_SERVER names no file: {}", path.display());
    }
    Ok(path)
}

impl Redis {
    /// Starts a server and waits until it answers `PING`.
    ///
    /// # Errors
    /// When the binary is missing or the server does not answer within 10 s.
    pub async fn start() -> Result<Self> {
        for _ in 0..5 {
            // A port picked here and freed: another process may take it meanwhile, so a
            // server that does not come up is retried on another.
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            if let Ok(redis) = Self::start_on(port).await {
                return Ok(redis);
            }
        }
        bail!("redis-server did not start (5 ports tried)")
    }

    /// Starts a server on `port` (a restart after [`kill`](Self::kill): the same URL).
    ///
    /// # Errors
    /// When the binary is missing or the server does not answer within 10 s.
    pub async fn start_on(port: u16) -> Result<Self> {
        let binary = binary()?;
        {
            let child = Command::new(&binary)
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args([
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--requirepass",
                    PASSWORD,
                ])
                .args(["--protected-mode", "no", "--loglevel", "warning"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .with_context(|| format!("cannot start {}", binary.display()))?;
            let mut redis = Self {
                child: Some(child),
                port,
            };
            if redis.wait_ready().await {
                return Ok(redis);
            }
            redis.kill();
        }
        bail!("redis-server did not start on port {port}")
    }

    async fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && matches!(child.try_wait(), Ok(Some(_)))
            {
                return false;
            }
            if self.ping().await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Whether the server answers an authenticated `PING`.
    pub async fn ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)).await else {
            return false;
        };
        let command = format!("AUTH {PASSWORD}\r\nPING\r\n");
        if stream.write_all(command.as_bytes()).await.is_err() {
            return false;
        }
        let mut answer = Vec::new();
        let mut buffer = [0u8; 64];
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buffer)).await {
                Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buffer[..n]),
                Ok(_) => return false,
                Err(_) => {}
            }
            if answer.windows(5).any(|w| w == b"+PONG") {
                return true;
            }
        }
        false
    }

    /// `redis://:PASSWORD@127.0.0.1:PORT`, for `REDIS_URL`.
    pub fn url(&self) -> String {
        format!("redis://:{PASSWORD}@127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL) and waits until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}
