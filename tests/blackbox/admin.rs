//! The admin API: identity required, upload, activate, roll back, list, audit; and the CLI.

use mindflow_tests::admin::{activate, upload, version_of, versioned_manifest};
use mindflow_tests::{Server, ServerOptions, component, manifest, server};
use serde_json::Value;

#[tokio::test]
async fn admin_api_needs_an_admin_identity() {
    let server = server(versioned_manifest()).await;
    let anonymous = server
        .http
        .get(server.url("/api/v1/admin/components"))
        .send()
        .await
        .expect("get");
    assert_eq!(anonymous.status(), 401);
    let (user, _) = server
        .register("plain@example.com")
        .await
        .expect("register");
    let forbidden = server
        .http
        .get(server.url("/api/v1/admin/components"))
        .bearer_auth(&user)
        .send()
        .await
        .expect("get");
    assert_eq!(forbidden.status(), 403);
    let tampered = server
        .http
        .get(server.url("/api/v1/admin/components"))
        .bearer_auth(format!("{user}x"))
        .send()
        .await
        .expect("get");
    assert_eq!(tampered.status(), 401);
    let upload = upload(&server, &user, "versioned", "v2", "versioned-v2").await;
    assert_eq!(upload.status(), 403);
}

#[tokio::test]
async fn upload_activate_rollback_and_audit() {
    let server = server(versioned_manifest()).await;
    let admin = server.admin_token().await.expect("admin");
    assert_eq!(version_of(&server).await, "v1");

    let uploaded = upload(&server, &admin, "versioned", "v2", "versioned-v2").await;
    assert_eq!(uploaded.status(), 201);
    let body: Value = uploaded.json().await.expect("json");
    assert_eq!(body["version"]["status"], "installed");
    assert_eq!(body["gate_report"]["passed"], true);
    assert_eq!(
        version_of(&server).await,
        "v1",
        "installing does not activate"
    );

    let duplicate = upload(&server, &admin, "versioned", "v2", "versioned-v2").await;
    assert_eq!(duplicate.status(), 409);
    let unknown = upload(&server, &admin, "nobody", "v1", "versioned-v2").await;
    assert_eq!(unknown.status(), 404);
    let wrong_world = upload(&server, &admin, "versioned", "greedy", "greedy-imports").await;
    assert_eq!(wrong_world.status(), 422);
    let garbage = server
        .http
        .post(server.url("/api/v1/admin/components/versioned/versions?version=junk"))
        .bearer_auth(&admin)
        .body("not wasm")
        .send()
        .await
        .expect("upload");
    assert_eq!(garbage.status(), 422);

    assert_eq!(
        activate(&server, &admin, "versioned", "v2").await.status(),
        200
    );
    assert_eq!(version_of(&server).await, "v2");
    assert_eq!(
        activate(&server, &admin, "versioned", "v9").await.status(),
        404
    );

    let rollback = server
        .http
        .post(server.url("/api/v1/admin/components/versioned/rollback"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("rollback");
    assert_eq!(rollback.status(), 200);
    assert_eq!(version_of(&server).await, "v1");

    let list: Value = server
        .http
        .get(server.url("/api/v1/admin/components"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let versioned = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|c| c["name"] == "versioned")
        .expect("versioned listed")
        .clone();
    assert_eq!(versioned["versions"].as_array().expect("versions").len(), 2);
    assert!(
        versioned["active_version"]
            .as_str()
            .expect("active")
            .starts_with("manifest-")
    );

    let audit: Value = server
        .http
        .get(server.url("/api/v1/admin/audit"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("audit")
        .json()
        .await
        .expect("json");
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "component.install",
        "component.activate",
        "component.rollback",
        "user.grant_admin",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
}

#[tokio::test]
async fn active_version_survives_a_restart() {
    let mut server = server(versioned_manifest()).await;
    let admin = server.admin_token().await.expect("admin");
    assert_eq!(
        upload(&server, &admin, "versioned", "v2", "versioned-v2")
            .await
            .status(),
        201
    );
    assert_eq!(
        activate(&server, &admin, "versioned", "v2").await.status(),
        200
    );
    assert!(server.terminate().expect("terminate"));
    let data_dir = server.data_dir.clone();
    let restarted = Server::start(ServerOptions {
        manifest: versioned_manifest().into(),
        database_url: server.database_url.clone(),
        env: Vec::new(),
        flags: Vec::new(),
        data_dir: Some(data_dir),
    })
    .await
    .expect("restart");
    assert_eq!(version_of(&restarted).await, "v2");
    drop(server);
}

#[tokio::test]
async fn cli_installs_activates_and_rolls_back() {
    let server = server(versioned_manifest()).await;
    let file = component("versioned-v2");
    let install = server
        .cli(&[
            "component",
            "install",
            "versioned",
            file.to_str().expect("utf-8"),
            "--version",
            "cli-v2",
        ])
        .expect("cli");
    assert!(
        install.status.success(),
        "{}",
        String::from_utf8_lossy(&install.stderr)
    );
    let activate = server
        .cli(&["component", "activate", "versioned", "cli-v2"])
        .expect("cli");
    assert!(
        activate.status.success(),
        "{}",
        String::from_utf8_lossy(&activate.stderr)
    );
    // The running server picks up the CLI's change (PostgreSQL notification or SQLite poll).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while version_of(&server).await != "v2" {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not pick up the activation"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let list = server.cli(&["component", "list"]).expect("cli");
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("* cli-v2"), "{text}");
    let rollback = server
        .cli(&["component", "rollback", "versioned"])
        .expect("cli");
    assert!(rollback.status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while version_of(&server).await != "v1" {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not pick up the rollback"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn crisis_rules_upload_runs_the_gate_and_keeps_its_report() {
    let server = server(versioned_manifest()).await;
    let admin = server.admin_token().await.expect("admin");
    let uploaded = upload(
        &server,
        &admin,
        "crisis-rules",
        "same-rules",
        "crisis-rules",
    )
    .await;
    assert_eq!(uploaded.status(), 201);
    let body: Value = uploaded.json().await.expect("json");
    let report = &body["gate_report"];
    assert_eq!(report["gate"], "crisis-rules");
    assert_eq!(report["passed"], true);
    assert!(report["details"]["cases"].as_u64().expect("cases") >= 300);
    assert_eq!(report["details"]["compared_with_active"], true);
    assert_eq!(
        report["details"]["regressions"]
            .as_array()
            .expect("list")
            .len(),
        0
    );
}

#[tokio::test]
async fn watch_reloads_a_component_whose_file_changes() {
    let folder = tempfile::tempdir().expect("tempdir");
    let wasm = folder.path().join("versioned.wasm");
    std::fs::copy(component("versioned-v1"), &wasm).expect("copy v1");
    let text = manifest(&format!(
        r#"
[[trigger.http]]
route = "/api/v1/versioned/..."
component = "versioned"

[component.versioned]
source = "{}"
[component.versioned.tool.mindflow]
authentication = "none"
"#,
        wasm.display()
    ));
    let mut options = ServerOptions::new(text).await.expect("options");
    options.flags.push("--watch".into());
    let server = Server::start(options).await.expect("server");
    assert_eq!(version_of(&server).await, "v1");
    // A developer rebuilds the component: the new bytes replace the file.
    let staged = folder.path().join("versioned.wasm.tmp");
    std::fs::copy(component("versioned-v2"), &staged).expect("copy v2");
    std::fs::rename(&staged, &wasm).expect("replace");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while version_of(&server).await != "v2" {
        assert!(
            std::time::Instant::now() < deadline,
            "--watch did not load the new file:\n{}",
            server.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
