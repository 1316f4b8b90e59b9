//! MindFlow's built-in content library: a content provider (the WIT world
//! `mindflow:platform/content-provider`) whose catalogue is `items.toml`, compiled into a
//! static table by `build.rs`.
//!
//! The component imports nothing. The host calls `items` when a version is prepared, checks
//! every item, and keeps the `content_library` table in step with it (see the host's
//! `content` module); the content API, the journal's prompts and the chat's action cards
//! read that table.

#![warn(missing_docs)]

/// One item of the catalogue (the WIT `content-item`, as static data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// Stable id (the WIT `external-id`).
    pub id: &'static str,
    /// `breathing`, `grounding`, ...
    pub content_type: &'static str,
    /// Title.
    pub title: &'static str,
    /// One-line summary.
    pub description: Option<&'static str>,
    /// The whole text.
    pub body: Option<&'static str>,
    /// Minutes.
    pub duration_minutes: Option<i16>,
    /// `beginner`, `intermediate` or `advanced`.
    pub difficulty: Option<&'static str>,
    /// Mood words.
    pub moods: &'static [&'static str],
    /// `factor_type:factor_value`.
    pub factors: &'static [&'static str],
    /// Audio version.
    pub audio_url: Option<&'static str>,
    /// Illustration.
    pub image_url: Option<&'static str>,
    /// Premium tier only.
    pub premium: bool,
}

include!(concat!(env!("OUT_DIR"), "/items.rs"));

/// One call per instance: allocations bump through a static arena.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: mindflow_instance_arena::Bump = mindflow_instance_arena::Bump;

/// The export of the `content-provider` world. wit-bindgen's `export!` expands to
/// `export_name` functions and `unsafe` lowering of the results, all of its own making.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod component {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "mindflow:platform/content-provider",
    });

    use exports::mindflow::platform::catalogue::{ContentItem, Guest};

    struct Component;

    fn owned(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    impl Guest for Component {
        fn items() -> Vec<ContentItem> {
            super::ITEMS
                .iter()
                .map(|i| ContentItem {
                    external_id: i.id.into(),
                    content_type: i.content_type.into(),
                    title: i.title.into(),
                    description: i.description.map(Into::into),
                    content_body: i.body.map(Into::into),
                    duration_minutes: i.duration_minutes,
                    difficulty: i.difficulty.map(Into::into),
                    target_moods: owned(i.moods),
                    target_factors: owned(i.factors),
                    audio_url: i.audio_url.map(Into::into),
                    image_url: i.image_url.map(Into::into),
                    is_premium: i.premium,
                })
                .collect()
        }
    }

    export!(Component);
}

#[cfg(test)]
mod tests;
