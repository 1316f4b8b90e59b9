//! A content provider that misbehaves, for the host's tests: whatever its `items` does, the
//! host must refuse the version and keep serving everything else.

#![warn(missing_docs)]

/// The export of the `content-provider` world (wit-bindgen's own `unsafe` glue).
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod component {
    wit_bindgen::generate!({
        path: "../../../wit",
        world: "mindflow:platform/content-provider",
    });

    use exports::mindflow::platform::catalogue::{ContentItem, Guest};

    struct Component;

    fn item(title: &str, url: Option<&str>) -> ContentItem {
        ContentItem {
            external_id: "hostile/1".into(),
            content_type: "breathing".into(),
            title: title.into(),
            description: None,
            content_body: None,
            duration_minutes: Some(3),
            difficulty: Some("beginner".into()),
            target_moods: Vec::new(),
            target_factors: Vec::new(),
            audio_url: url.map(Into::into),
            image_url: None,
            is_premium: false,
        }
    }

    impl Guest for Component {
        fn items() -> Vec<ContentItem> {
            if cfg!(feature = "loop") {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            if cfg!(feature = "memory") {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            if cfg!(feature = "absurd") {
                return vec![item("nul\0title", Some("javascript:alert(1)"))];
            }
            panic!("a content provider that traps")
        }
    }

    export!(Component);
}
