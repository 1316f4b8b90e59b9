//! A broken manifest stops start-up with a message naming the component and the field.

use mindflow_tests::{Manifest, manifest, start_failure};

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
