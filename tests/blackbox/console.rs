//! The clinician console (`/console/`), end to end in a real headless Chromium driven over
//! W3C WebDriver (`MINDFLOW_CHROMEDRIVER`; the test fails without it): its security headers,
//! a non-admin refused, an admin signing in, listing components, uploading crisis-rules
//! versions and reading their gate reports (one let in, one refused with its regressions),
//! activating, rolling back, reading the audit log, a session that ends returning to
//! sign-in, and a page that loads with no script error or Content-Security-Policy violation.

use std::time::Duration;

use mindflow_tests::accounts::{self, PASSWORD};
use mindflow_tests::http::post;
use mindflow_tests::webdriver::{Browser, Chromedriver};
use mindflow_tests::{Manifest, Server, component, server};
use serde_json::{Value, json};

/// How long a wait in the page may take (an upload runs the crisis gate on a debug build,
/// which on two shared cores under a parallel suite has taken minutes).
const PATIENCE: Duration = Duration::from_secs(600);
/// How long a plain page update may take.
const SHORT: Duration = Duration::from_secs(30);

async fn registered(server: &Server, tag: &str) -> String {
    let email = accounts::email(tag);
    server.register(&email).await.expect("register");
    email
}

async fn sign_in(browser: &Browser, email: &str) {
    browser.fill("#email", email).await.expect("email");
    browser.fill("#password", PASSWORD).await.expect("password");
    browser.click_on("#sign-in").await.expect("sign in");
}

/// Chooses `file` (a built component) under `label` and uploads it.
async fn upload(browser: &Browser, label: &str, file: &str) {
    browser
        .fill("#upload-version", label)
        .await
        .expect("version label");
    let path = component(file);
    let input = browser.find("#upload-file").await.expect("file input");
    browser
        .type_into(&input, path.to_str().expect("utf-8 path"))
        .await
        .expect("choose file");
    browser.click_on("#upload").await.expect("upload");
}

/// Panics with `error` and the end of the server's log.
fn failed(server: &Server, error: &anyhow::Error) -> ! {
    let log = server.log();
    let tail: Vec<&str> = log.lines().rev().take(40).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    panic!(
        "{error:#}\nthe server's log ends with:\n{}",
        tail.join("\n")
    )
}

fn active_version_of(name: &str) -> String {
    format!(
        "(document.querySelector('.component[data-component=\"{name}\"] .active-version') || {{}}).textContent"
    )
}

/// Log entries that betray a broken page: a script error, a Content-Security-Policy or
/// Trusted Types violation. Failed loads (`network`) are the API's own 4xx answers, which
/// the test provokes.
fn page_problems(log: &[Value]) -> Vec<&Value> {
    log.iter()
        .filter(|entry| {
            let message = entry["message"].as_str().unwrap_or_default();
            let severe = entry["level"] == "SEVERE" && entry["source"] != "network";
            severe
                || message.contains("Content Security Policy")
                || message.contains("Trusted Type")
                || message.contains("Refused to")
        })
        .collect()
}

#[tokio::test]
async fn clinician_console_in_a_headless_browser() {
    let server = server(Manifest::product(&["crisis-rules"])).await;

    // The page and its assets carry the policy; nothing is cached or framed.
    let page = server
        .http
        .get(server.url("/console"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    assert_eq!(page.url().path(), "/console/", "/console redirects");
    for (name, expected) in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
        ("x-frame-options", "DENY"),
    ] {
        assert_eq!(
            page.headers().get(name).and_then(|v| v.to_str().ok()),
            Some(expected),
            "{name}"
        );
    }
    let policy = page
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .expect("a Content-Security-Policy")
        .to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ] {
        assert!(policy.contains(directive), "{directive} missing: {policy}");
    }
    let script = server
        .http
        .get(server.url("/console/console.js"))
        .send()
        .await
        .expect("script");
    assert_eq!(script.status(), 200);
    assert!(
        script
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/javascript"))
    );
    // The console is not part of the API document.
    let document: Value = server
        .http
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    assert!(document["paths"].get("/console/").is_none());
    // CSRF: a request that carries cookies but no bearer token is anonymous.
    let forged = server
        .http
        .post(server.url("/api/v1/admin/components/crisis-rules/rollback"))
        .header("cookie", "session=anything")
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("forged");
    assert_eq!(forged.status(), 401);

    let admin_email = registered(&server, "console-admin").await;
    let granted = server
        .cli(&["user", "grant-admin", &admin_email])
        .expect("cli");
    assert!(
        granted.status.success(),
        "{}",
        String::from_utf8_lossy(&granted.stderr)
    );
    let plain_email = registered(&server, "console-plain").await;

    let driver = Chromedriver::start().await.expect("chromedriver");
    let browser = driver.session().await.expect("browser session");
    browser.goto(&server.url("/console/")).await.expect("open");
    browser
        .wait_for(
            "the script",
            "document.documentElement.dataset.ready === 'true'",
            SHORT,
        )
        .await
        .expect("the console's script runs");
    let loaded = browser.browser_log().await.expect("browser log");
    let severe: Vec<&Value> = loaded.iter().filter(|e| e["level"] == "SEVERE").collect();
    assert!(severe.is_empty(), "the page loads cleanly: {severe:?}");

    // A person without the admin role is told so and sees nothing of the console.
    sign_in(&browser, &plain_email).await;
    let refusal = browser
        .wait_for(
            "the refusal",
            "document.getElementById('sign-in-error').textContent",
            SHORT,
        )
        .await
        .expect("refusal");
    assert!(
        refusal
            .as_str()
            .is_some_and(|t| t.contains("not an administrator")),
        "{refusal}"
    );
    assert_eq!(
        browser
            .execute(
                "return document.getElementById('console-view').hidden",
                vec![]
            )
            .await
            .expect("hidden"),
        true
    );

    // An administrator sees the components and the active version.
    sign_in(&browser, &admin_email).await;
    browser
        .wait_for(
            "the component list",
            "!document.getElementById('console-view').hidden && document.querySelector('.component[data-component=\"crisis-rules\"]')",
            SHORT,
        )
        .await
        .expect("components listed");
    let manifest_version = browser
        .execute(
            &format!("return {}", active_version_of("crisis-rules")),
            vec![],
        )
        .await
        .expect("active version");
    let manifest_version = manifest_version.as_str().unwrap_or_default().to_owned();
    assert!(
        manifest_version.starts_with("manifest-"),
        "{manifest_version}"
    );
    assert_eq!(
        browser.text_of("#who-email").await.expect("who"),
        Some(admin_email.clone())
    );

    // An improved ruleset: the gate lets it in, and its report is there to read.
    upload(&browser, "improved", "crisis-rules-improved").await;
    browser
        .wait_for(
            "the improved version's report",
            "(document.getElementById('report-verdict') || {}).textContent === 'gate passed'",
            PATIENCE,
        )
        .await
        .unwrap_or_else(|e| failed(&server, &e));
    let severities = browser
        .execute(
            "return [...document.querySelectorAll('#report-severity tbody tr')].map(r => [...r.cells].map(c => c.textContent))",
            vec![],
        )
        .await
        .expect("severity table");
    let severities = severities.as_array().expect("rows").clone();
    assert_eq!(severities.len(), 5, "{severities:?}");
    let imminent = severities
        .iter()
        .find(|row| row[0] == "imminent")
        .expect("imminent row");
    // Recall (candidate) is 100 %; the active version's figures are shown beside it.
    assert_eq!(imminent[3], "100.0%", "{imminent}");
    assert_ne!(imminent[2], "—", "old figures shown: {imminent}");
    assert_ne!(imminent[4], "—", "old precision shown: {imminent}");
    assert!(
        browser
            .execute(
                "return !!document.querySelector('#report-changed tr[data-case=\"high-047\"]')",
                vec![]
            )
            .await
            .expect("changed")
            == true,
        "the improvement is listed among the changed cases"
    );
    assert_eq!(
        browser
            .execute(
                "return document.getElementById('report-regressions').tagName",
                vec![]
            )
            .await
            .expect("regressions"),
        "P",
        "no regressions"
    );

    // Activate it: the list says so, and so does the API.
    browser
        .click_on(".component[data-component=\"crisis-rules\"] button.activate[data-version=\"improved\"]")
        .await
        .expect("activate");
    browser
        .wait_for(
            "the activation",
            &format!("{} === 'improved'", active_version_of("crisis-rules")),
            SHORT,
        )
        .await
        .expect("improved is active");
    let login: Value = accounts::login(&server, &admin_email, PASSWORD)
        .await
        .json()
        .await
        .expect("login");
    let token = login["access_token"].as_str().expect("token").to_owned();
    let listed: Value = server
        .http
        .get(server.url("/api/v1/admin/components"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(listed["items"][0]["active_version"], "improved");

    // A weakened ruleset: refused, and the report shows why.
    upload(&browser, "weakened", "crisis-rules-weakened").await;
    browser
        .wait_for(
            "the weakened version's report",
            "(document.getElementById('report-verdict') || {}).textContent === 'gate refused'",
            PATIENCE,
        )
        .await
        .unwrap_or_else(|e| failed(&server, &e));
    assert!(
        browser
            .execute(
                "return !!document.querySelector('#report-regressions tr[data-case=\"high-047\"]')",
                vec![]
            )
            .await
            .expect("regressions")
            == true,
        "the missed case is listed among the regressions"
    );
    assert!(
        browser
            .execute(
                "return document.querySelectorAll('#report-reasons li').length",
                vec![]
            )
            .await
            .expect("reasons")
            .as_u64()
            .is_some_and(|n| n > 0)
    );
    let status = browser.text_of("#status").await.expect("status");
    assert!(
        status.as_deref().is_some_and(|s| s.contains("refused")),
        "{status:?}"
    );
    browser
        .wait_for(
            "the refused version in the list",
            "document.querySelector('.component[data-component=\"crisis-rules\"] button.activate[data-version=\"weakened\"]')",
            SHORT,
        )
        .await
        .expect("weakened listed");
    assert_eq!(
        browser
            .execute(
                "return document.querySelector('.component[data-component=\"crisis-rules\"] button.activate[data-version=\"weakened\"]').disabled",
                vec![]
            )
            .await
            .expect("disabled"),
        true,
        "a refused version cannot be activated"
    );

    // Roll back to the manifest's version.
    browser
        .click_on(".component[data-component=\"crisis-rules\"] button.rollback")
        .await
        .expect("roll back");
    browser
        .wait_for(
            "the rollback",
            &format!(
                "{} === '{manifest_version}'",
                active_version_of("crisis-rules")
            ),
            SHORT,
        )
        .await
        .expect("rolled back");

    // The audit log, newest first.
    let actions = browser
        .wait_for(
            "the audit log",
            "(() => { const a = [...document.querySelectorAll('#audit tbody tr')].map(r => r.dataset.action); return a[0] === 'component.rollback' ? a : null; })()",
            SHORT,
        )
        .await
        .expect("audit entries");
    let actions: Vec<&str> = actions
        .as_array()
        .expect("actions")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for action in [
        "component.install",
        "component.activate",
        "component.rollback",
        "user.grant_admin",
    ] {
        assert!(actions.contains(&action), "{action} missing: {actions:?}");
    }

    // Every session ends with a password reset: the console's next call finds its token
    // refused, its refresh token too, and returns to the sign-in form.
    let forgot = post(
        &server,
        "/api/v1/auth/forgot-password",
        json!({"email": admin_email}),
    )
    .await;
    assert!(forgot.status().is_success(), "{}", forgot.status());
    let code = accounts::mailed_code(&server, &admin_email, "password_reset")
        .await
        .expect("reset code");
    let reset = post(
        &server,
        "/api/v1/auth/reset-password",
        json!({"token": code, "new_password": "another long passphrase"}),
    )
    .await;
    assert_eq!(reset.status(), 204);
    browser
        .click_on("#reload-audit")
        .await
        .expect("reload audit");
    browser
        .wait_for(
            "the sign-in form",
            "!document.getElementById('sign-in-view').hidden && document.getElementById('console-view').hidden && document.getElementById('sign-in-error').textContent.includes('session has ended')",
            SHORT,
        )
        .await
        .expect("back to sign-in");
    assert_eq!(
        browser
            .execute(
                "return document.querySelectorAll('#audit tbody tr').length + document.querySelectorAll('#components *').length",
                vec![]
            )
            .await
            .expect("cleared"),
        0,
        "nothing of the console is left on the page"
    );

    // No violation or script error on the way, by the page's own count and the browser's.
    let counted = browser
        .execute(
            "const d = document.documentElement.dataset; return [d.cspViolations || '0', d.scriptErrors || '0']",
            vec![],
        )
        .await
        .expect("counts");
    assert_eq!(counted, json!(["0", "0"]));
    let log = browser.browser_log().await.expect("browser log");
    let problems = page_problems(&log);
    assert!(problems.is_empty(), "{problems:?}");
    // The log is really read: the refused upload's 422 is in it.
    assert!(
        log.iter().any(|e| e["source"] == "network"
            && e["message"].as_str().is_some_and(|m| m.contains("422"))),
        "{log:?}"
    );

    // And the policy is really in force: markup written as a string is refused (Trusted
    // Types), which both the page's count and the browser's log see.
    let refused = browser
        .execute(
            "try { document.body.appendChild(document.createElement('div')).innerHTML = '<b>x</b>'; return 'parsed'; } catch (e) { return e.name; }",
            vec![],
        )
        .await
        .expect("probe");
    assert_eq!(refused, "TypeError");
    browser
        .wait_for(
            "the violation to be counted",
            "document.documentElement.dataset.cspViolations === '1'",
            SHORT,
        )
        .await
        .expect("counted");
    let log = browser.browser_log().await.expect("browser log");
    assert_eq!(page_problems(&log).len(), 1, "{log:?}");
    browser.quit().await.expect("quit");
}
