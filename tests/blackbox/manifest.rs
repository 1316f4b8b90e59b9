//! A broken manifest stops start-up with a message naming the component and the field.

use mindflow_tests::{Manifest, manifest, start_failure, start_failure_with};

#[tokio::test]
async fn missing_source_file_names_component_and_field() {
    let stderr = start_failure(&manifest(
        r#"
[component.ghost]
source = "{components}/no-such-component.wasm"
"#,
    ))
    .await
    .expect("refused");
    assert!(stderr.contains("component `ghost`"), "{stderr}");
    assert!(stderr.contains("field `source`"), "{stderr}");
}

#[tokio::test]
async fn malformed_grant_names_component_and_field() {
    let stderr = start_failure(
        &Manifest::product(&["hello"])
            .set("component.hello.tool.mindflow.timeout_ms", 0)
            .to_string(),
    )
    .await
    .expect("refused");
    assert!(stderr.contains("component `hello`"), "{stderr}");
    assert!(stderr.contains("tool.mindflow.timeout_ms"), "{stderr}");
}

#[tokio::test]
async fn route_to_an_unknown_component_is_refused() {
    let stderr = start_failure(&manifest(
        r#"
[[trigger.http]]
route = "/x/..."
component = "nobody"
"#,
    ))
    .await
    .expect("refused");
    assert!(stderr.contains("trigger.http[0].component"), "{stderr}");
}

#[tokio::test]
async fn a_pure_component_that_imports_something_is_refused() {
    // hello-spin imports wasi:http and friends: it cannot be a crisis-rules component.
    let stderr = start_failure(&manifest(
        r#"
[component.rules]
source = "{components}/hello-spin.wasm"
[component.rules.tool.mindflow]
kind = "crisis-rules"
"#,
    ))
    .await
    .expect("refused");
    assert!(stderr.contains("rules"), "{stderr}");
    assert!(stderr.contains("must import nothing"), "{stderr}");
}

#[tokio::test]
async fn a_missing_or_corrupt_embedding_model_stops_start_up_and_names_the_fix() {
    let product = Manifest::product(&["crisis-rules"]).to_string();
    let stderr = start_failure_with(&product, &[("MINDFLOW_EMBEDDING_MODEL", None)])
        .await
        .expect("refused");
    assert!(stderr.contains("scripts/fetch-models.sh"), "{stderr}");

    // A model folder whose weights are not the pinned ones (truncated here).
    let real = std::path::PathBuf::from(
        std::env::var("MINDFLOW_EMBEDDING_MODEL").expect("the suite runs with the model"),
    );
    let corrupt = tempfile::tempdir().expect("temp dir");
    for name in ["config.json", "tokenizer.json"] {
        std::fs::copy(real.join(name), corrupt.path().join(name)).expect("copy");
    }
    let weights = std::fs::read(real.join("model.safetensors")).expect("weights");
    std::fs::write(
        corrupt.path().join("model.safetensors"),
        &weights[..weights.len() / 2],
    )
    .expect("write");
    let folder = corrupt.path().to_string_lossy().into_owned();
    let stderr = start_failure_with(&product, &[("MINDFLOW_EMBEDDING_MODEL", Some(&folder))])
        .await
        .expect("refused");
    assert!(stderr.contains("SHA-256"), "{stderr}");
    assert!(stderr.contains("scripts/fetch-models.sh"), "{stderr}");
}
