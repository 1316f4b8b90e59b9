//! A real HAProxy in front of replicas, for the scale-out tests and benchmark: the binary
//! named by `MINDFLOW_HAPROXY` (`scripts/haproxy-for-tests.sh` provides one; `cargo xtask
//! test` sets it), on free loopback ports, in the foreground, with a configuration written
//! for the replicas given. Killed when dropped.
//!
//! The configuration is what an operator would run: round robin, active health checks on
//! `/readyz` (a replica leaves the pool within half a second of failing them), retries only
//! on connection failures (never a request the replica may have acted on), the client's
//! address in `X-Forwarded-For`, and each answer marked with the replica that served it
//! (`x-served-by`, the server's name `r0`, `r1`, …) so a test can see the spread. A stats
//! listener answers CSV (`/stats;csv`) with each replica's state.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The header naming the replica that served an answer.
pub const SERVED_BY: &str = "x-served-by";

/// The binary, from `MINDFLOW_HAPROXY`.
///
/// # Errors
/// A message saying how to get one when the variable is unset or names no file.
pub fn binary() -> Result<PathBuf> {
    let path = std::env::var_os("MINDFLOW_HAPROXY")
        .map(PathBuf::from)
        .context(
            "MINDFLOW_HAPROXY must name an haproxy binary: run `scripts/haproxy-for-tests.sh` (it \
         installs one and prints its path); `cargo xtask test` sets it",
        )?;
    if !path.is_file() {
        bail!("MINDFLOW_HAPROXY names no file: {}", path.display());
    }
    Ok(path)
}

/// A running HAProxy.
pub struct Balancer {
    child: Option<Child>,
    /// Processes of earlier configurations, finishing their connections after a reload.
    retired: Vec<Child>,
    dir: tempfile::TempDir,
    /// The port clients use, on 127.0.0.1.
    pub port: u16,
    stats_port: u16,
}

/// A replica's state as the balancer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaState {
    /// `r0`, `r1`, …
    pub name: String,
    /// `UP`, `DOWN`, `MAINT`, or a transition such as `UP 1/2`.
    pub status: String,
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The configuration for `replicas` (`127.0.0.1:PORT` each, named `r0`, `r1`, … in order).
fn configuration(port: u16, stats_port: u16, replicas: &[String]) -> String {
    let servers: String = replicas
        .iter()
        .enumerate()
        .map(|(i, address)| format!("    server r{i} {address}\n"))
        .collect();
    format!(
        "global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 10s
    # A connection refused or reset before the request was sent is retried on another
    # replica; nothing a replica may have acted on is sent twice.
    retries 3
    option redispatch 1
    retry-on conn-failure
    option forwardfor

frontend api
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server check inter 250ms fastinter 100ms downinter 250ms fall 2 rise 2
    http-response set-header {SERVED_BY} %[srv_name]
{servers}
listen stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri /stats
"
    )
}

impl Balancer {
    /// Starts HAProxy in front of `replicas` (base URLs or `127.0.0.1:PORT` addresses) and
    /// waits until it answers its stats page and sees every replica up.
    ///
    /// # Errors
    /// When the binary is missing, the configuration is refused, or a replica is not seen
    /// up within 20 s.
    pub async fn start(replicas: &[&str]) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("mindflow-lb").tempdir()?;
        let mut balancer = Self {
            child: None,
            retired: Vec::new(),
            dir,
            port: 0,
            stats_port: 0,
        };
        for _ in 0..5 {
            // Ports picked here and freed: another process may take one meanwhile, so a
            // balancer that does not come up is tried again on others.
            balancer.port = free_port()?;
            balancer.stats_port = free_port()?;
            if balancer.launch(replicas, None).is_ok()
                && balancer.wait_all_up(replicas.len()).await.is_ok()
            {
                return Ok(balancer);
            }
            balancer.kill();
        }
        bail!("haproxy did not start (5 port pairs tried)")
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("haproxy.cfg")
    }

    /// Writes the configuration and starts a process for it (`-sf old` hands over from a
    /// running one: it stops listening and finishes its connections).
    fn launch(&mut self, replicas: &[&str], old: Option<u32>) -> Result<()> {
        let addresses: Vec<String> = replicas
            .iter()
            .map(|r| {
                r.trim_start_matches("http://")
                    .trim_end_matches('/')
                    .to_owned()
            })
            .collect();
        let path = self.config_path();
        std::fs::write(&path, configuration(self.port, self.stats_port, &addresses))?;
        check_configuration(&path)?;
        let mut command = Command::new(binary()?);
        command.arg("-db").arg("-f").arg(&path);
        if let Some(pid) = old {
            command.arg("-sf").arg(pid.to_string());
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start haproxy")?;
        if let Some(previous) = self.child.replace(child) {
            self.retired.push(previous);
        }
        Ok(())
    }

    /// Replaces the pool by `replicas` without dropping a connection (a graceful reload, as
    /// an operator scales out or replaces a replica), and waits until every one is up.
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub async fn reload(&mut self, replicas: &[&str]) -> Result<()> {
        let old = self.child.as_ref().map(Child::id);
        self.launch(replicas, old)?;
        self.wait_all_up(replicas.len()).await
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Each replica's state, from the stats page.
    ///
    /// # Errors
    /// When the stats page does not answer.
    pub async fn states(&self) -> Result<Vec<ReplicaState>> {
        let csv = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/stats;csv", self.stats_port))
            .timeout(Duration::from_secs(2))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        Ok(parse_states(&csv))
    }

    /// Waits (at most 20 s) until `count` replicas are `UP`.
    ///
    /// # Errors
    /// When they are not, with the states last seen.
    pub async fn wait_all_up(&self, count: usize) -> Result<()> {
        self.wait_until(Duration::from_secs(20), |states| {
            states.len() == count && states.iter().all(|s| s.status == "UP")
        })
        .await
    }

    /// Waits (at most `limit`) until the replica `name` is `DOWN`.
    ///
    /// # Errors
    /// When it is not, with the states last seen.
    pub async fn wait_down(&self, name: &str, limit: Duration) -> Result<()> {
        self.wait_until(limit, |states| {
            states
                .iter()
                .any(|s| s.name == name && s.status.starts_with("DOWN"))
        })
        .await
    }

    async fn wait_until(
        &self,
        limit: Duration,
        done: impl Fn(&[ReplicaState]) -> bool,
    ) -> Result<()> {
        let started = Instant::now();
        let mut last = Vec::new();
        while started.elapsed() < limit {
            if let Some(child) = &self.child
                && !process_alive(child.id())
            {
                bail!("haproxy exited");
            }
            if let Ok(states) = self.states().await {
                if done(&states) {
                    return Ok(());
                }
                last = states;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the balancer's replicas after {limit:?}: {last:?}")
    }

    fn kill(&mut self) {
        for mut child in self.child.take().into_iter().chain(self.retired.drain(..)) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.split(' ').nth(2) == Some("Z"))
}

/// `haproxy -c`: a configuration HAProxy refuses is an error with its message, not a
/// balancer that silently never comes up.
fn check_configuration(path: &Path) -> Result<()> {
    let output = Command::new(binary()?)
        .arg("-c")
        .arg("-q")
        .arg("-f")
        .arg(path)
        .output()
        .context("cannot run haproxy -c")?;
    if !output.status.success() {
        bail!(
            "haproxy refuses the configuration: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// The servers of the `replicas` backend in HAProxy's stats CSV (`pxname,svname,…,status,…`).
fn parse_states(csv: &str) -> Vec<ReplicaState> {
    let mut lines = csv.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let columns: Vec<&str> = header.trim_start_matches("# ").split(',').collect();
    let at = |name: &str| columns.iter().position(|c| *c == name);
    let (Some(proxy), Some(server), Some(status)) = (at("pxname"), at("svname"), at("status"))
    else {
        return Vec::new();
    };
    lines
        .map(|line| line.split(',').collect::<Vec<_>>())
        .filter(|fields| {
            fields.get(proxy) == Some(&"replicas")
                && fields
                    .get(server)
                    .is_some_and(|s| *s != "BACKEND" && *s != "FRONTEND")
        })
        .map(|fields| ReplicaState {
            name: fields.get(server).copied().unwrap_or_default().to_owned(),
            status: fields.get(status).copied().unwrap_or_default().to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stats_csv_gives_each_replica_its_state() {
        let csv = "# pxname,svname,qcur,status,weight\n\
                   api,FRONTEND,,OPEN,\n\
                   replicas,r0,0,UP,1\n\
                   replicas,r1,0,DOWN,1\n\
                   replicas,BACKEND,0,UP,1\n\
                   stats,FRONTEND,,OPEN,\n";
        assert_eq!(
            parse_states(csv),
            vec![
                ReplicaState {
                    name: "r0".into(),
                    status: "UP".into()
                },
                ReplicaState {
                    name: "r1".into(),
                    status: "DOWN".into()
                },
            ]
        );
    }

    #[test]
    fn the_configuration_names_replicas_in_order() {
        let text = configuration(
            8000,
            8001,
            &["127.0.0.1:9000".to_owned(), "127.0.0.1:9001".to_owned()],
        );
        assert!(text.contains("server r0 127.0.0.1:9000\n"));
        assert!(text.contains("server r1 127.0.0.1:9001\n"));
        assert!(text.contains("bind 127.0.0.1:8000"));
        assert!(text.contains("retry-on conn-failure"));
    }
}
