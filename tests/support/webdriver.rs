//! A tiny W3C WebDriver client over HTTP (reqwest), enough to drive a headless Chromium
//! through the clinician console: a throwaway `chromedriver` (the binary named by
//! `MINDFLOW_CHROMEDRIVER`; `scripts/chromium-for-tests.sh` provides one and `cargo xtask
//! test` sets it) on a free loopback port, one browser session, elements found by CSS
//! selector, clicks, typing, scripts and the browser's log.
//!
//! The browser is the `chromium` beside chromedriver, or `MINDFLOW_CHROMIUM`. It runs
//! headless with `--no-sandbox` (the tests may run as root) and a profile of its own.
//! chromedriver is started in a process group of its own, and the whole group (chromedriver
//! and the browsers it started) is stopped when the [`Chromedriver`] is dropped.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// The key W3C WebDriver names a web element by.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The chromedriver binary, from `MINDFLOW_CHROMEDRIVER`.
///
/// # Errors
/// A message saying how to get one when the variable is unset or names no file.
pub fn binary() -> Result<PathBuf> {
    let path = std::env::var_os("MINDFLOW_CHROMEDRIVER")
        .map(PathBuf::from)
        .context(
            "MINDFLOW_CHROMEDRIVER must name a chromedriver binary: run \
             `scripts/chromium-for-tests.sh` (it installs Debian's chromium and \
             chromium-driver and prints chromedriver's path); `cargo xtask test` sets it",
        )?;
    if !path.is_file() {
        bail!("MINDFLOW_CHROMEDRIVER names no file: {}", path.display());
    }
    Ok(path)
}

/// The browser: `MINDFLOW_CHROMIUM`, else the `chromium` beside chromedriver, else
/// `/usr/bin/chromium`.
///
/// # Errors
/// When none of them is a file.
pub fn chromium(driver: &std::path::Path) -> Result<PathBuf> {
    let candidates = [
        std::env::var_os("MINDFLOW_CHROMIUM").map(PathBuf::from),
        driver.parent().map(|dir| dir.join("chromium")),
        Some(PathBuf::from("/usr/bin/chromium")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|path| path.is_file())
        .context("no chromium beside chromedriver (set MINDFLOW_CHROMIUM)")
}

/// A running chromedriver; it and every browser it started are killed when dropped.
pub struct Chromedriver {
    child: Option<Child>,
    browser: PathBuf,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    http: reqwest::Client,
}

impl Chromedriver {
    /// Starts chromedriver on a free port and waits until it says it is ready.
    ///
    /// # Errors
    /// When the binary is missing or chromedriver is not ready within 20 s.
    pub async fn start() -> Result<Self> {
        let driver = binary()?;
        let browser = chromium(&driver)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()?;
        for _ in 0..5 {
            // A port picked here and freed: another process may take it meanwhile, so a
            // chromedriver that does not come up is retried on another.
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let child = Command::new(&driver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .with_context(|| format!("cannot start {}", driver.display()))?;
            let mut started = Self {
                child: Some(child),
                browser: browser.clone(),
                url: format!("http://127.0.0.1:{port}"),
                http: http.clone(),
            };
            if started.wait_ready().await.is_ok() {
                return Ok(started);
            }
            started.stop();
        }
        bail!("chromedriver did not start (5 ports tried)")
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!("chromedriver exited with {status}");
            }
            if let Ok(response) = self.http.get(format!("{}/status", self.url)).send().await
                && let Ok(status) = response.json::<Value>().await
                && status["value"]["ready"] == true
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("chromedriver was not ready within 20 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A new headless browser session (its browser log kept at every level).
    ///
    /// # Errors
    /// When chromedriver cannot start the browser.
    pub async fn session(&self) -> Result<Browser> {
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": self.browser,
                        "args": [
                            "--headless=new",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-dev-shm-usage",
                            "--no-first-run",
                            "--disable-extensions",
                            "--disable-background-networking",
                            "--disable-sync",
                            "--window-size=1280,1024",
                        ],
                    },
                    "goog:loggingPrefs": {"browser": "ALL"},
                    "unhandledPromptBehavior": "dismiss",
                }
            }
        });
        let answer = call(
            &self.http,
            reqwest::Method::POST,
            &format!("{}/session", self.url),
            Some(capabilities),
        )
        .await
        .context("cannot start a browser session")?;
        let id = answer["sessionId"]
            .as_str()
            .context("no session id in chromedriver's answer")?;
        Ok(Browser {
            http: self.http.clone(),
            session: format!("{}/session/{id}", self.url),
        })
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let group = i32::try_from(child.id()).unwrap_or(0);
            if group > 0 {
                // SAFETY: `kill` only sends a signal, to the process group this value
                // started (chromedriver leads it; its browsers belong to it).
                #[allow(unsafe_code, reason = "stopping the process group we started")]
                unsafe {
                    libc::kill(-group, libc::SIGKILL);
                }
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One command to chromedriver; the answer's `value`, or an error naming WebDriver's.
async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value> {
    let mut request = http.request(method.clone(), url);
    if let Some(body) = body {
        request = request.json(&body);
    } else if method == reqwest::Method::POST {
        request = request.json(&json!({}));
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("WebDriver {method} {url}"))?;
    let status = response.status();
    let answer: Value = response
        .json()
        .await
        .with_context(|| format!("WebDriver {method} {url}: the answer is not JSON"))?;
    let value = answer.get("value").cloned().unwrap_or(Value::Null);
    if !status.is_success() {
        bail!(
            "WebDriver {method} {url}: {status} {}: {}",
            value["error"].as_str().unwrap_or("?"),
            value["message"].as_str().unwrap_or("?")
        );
    }
    Ok(value)
}

/// A web element of the current page.
#[derive(Debug, Clone)]
pub struct Element(String);

/// A browser session.
pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`.
    session: String,
}

impl Browser {
    async fn command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        call(&self.http, method, &format!("{}{path}", self.session), body).await
    }

    /// Opens `url` and waits for the page to load.
    ///
    /// # Errors
    /// When navigation fails.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.command(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await
            .map(drop)
    }

    /// The first element matching the CSS `selector`.
    ///
    /// # Errors
    /// When there is none.
    pub async fn find(&self, selector: &str) -> Result<Element> {
        let value = self
            .command(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": selector})),
            )
            .await?;
        element_of(&value).with_context(|| format!("no element id for `{selector}`"))
    }

    /// Clicks `element`.
    ///
    /// # Errors
    /// When it cannot be clicked (hidden, disabled, covered, gone).
    pub async fn click(&self, element: &Element) -> Result<()> {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{}/click", element.0),
            None,
        )
        .await
        .map(drop)
    }

    /// Clears a text field.
    ///
    /// # Errors
    /// When it cannot be cleared.
    pub async fn clear(&self, element: &Element) -> Result<()> {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{}/clear", element.0),
            None,
        )
        .await
        .map(drop)
    }

    /// Types `text` into `element` (for a file input: the path of a local file to choose).
    ///
    /// # Errors
    /// When it cannot take keys.
    pub async fn type_into(&self, element: &Element, text: &str) -> Result<()> {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{}/value", element.0),
            Some(json!({"text": text})),
        )
        .await
        .map(drop)
    }

    /// Clicks the element matching `selector`.
    ///
    /// # Errors
    /// As [`find`](Self::find) and [`click`](Self::click).
    pub async fn click_on(&self, selector: &str) -> Result<()> {
        let element = self.find(selector).await?;
        self.click(&element).await
    }

    /// Clears the field matching `selector` and types `text` into it.
    ///
    /// # Errors
    /// As [`find`](Self::find) and [`type_into`](Self::type_into).
    pub async fn fill(&self, selector: &str, text: &str) -> Result<()> {
        let element = self.find(selector).await?;
        self.clear(&element).await?;
        self.type_into(&element, text).await
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    ///
    /// # Errors
    /// When the script throws.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// The visible text of the first element matching `selector`, or `None`.
    ///
    /// # Errors
    /// When the script cannot run.
    pub async fn text_of(&self, selector: &str) -> Result<Option<String>> {
        let value = self
            .execute(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
                vec![json!(selector)],
            )
            .await?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// Polls the JavaScript `expression` until it is truthy; its value. `what` names the
    /// wait in the error, which also carries the page's status line.
    ///
    /// # Errors
    /// When `timeout` passes first.
    pub async fn wait_for(&self, what: &str, expression: &str, timeout: Duration) -> Result<Value> {
        let script = format!("return ({expression});");
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.execute(&script, Vec::new()).await?;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
                Value::String(s) => !s.is_empty(),
                Value::Array(_) | Value::Object(_) => true,
            };
            if truthy {
                return Ok(value);
            }
            if Instant::now() > deadline {
                let status = self.text_of("#status").await.ok().flatten();
                bail!("timed out waiting for {what} (page status: {status:?})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The browser's log entries since the last call (`level`, `message`, `source`,
    /// `timestamp`): console messages, script errors, Content-Security-Policy violations
    /// and failed loads. chromedriver's `se/log` extension.
    ///
    /// # Errors
    /// When chromedriver does not give the log.
    pub async fn browser_log(&self) -> Result<Vec<Value>> {
        let value = self
            .command(
                reqwest::Method::POST,
                "/se/log",
                Some(json!({"type": "browser"})),
            )
            .await?;
        Ok(value.as_array().cloned().unwrap_or_default())
    }

    /// Ends the session (the browser quits).
    ///
    /// # Errors
    /// When chromedriver refuses.
    pub async fn quit(self) -> Result<()> {
        call(&self.http, reqwest::Method::DELETE, &self.session, None)
            .await
            .map(drop)
    }
}

fn element_of(value: &Value) -> Option<Element> {
    value[ELEMENT_KEY].as_str().map(|id| Element(id.to_owned()))
}
