//! An example partner plugin for the content library: a content provider (world
//! `mindflow:platform/content-provider`) with a handful of mindfulness items.
//!
//! A partner ships a component like this one; the operator declares it in the manifest
//! (`kind = "content-provider"`) and installs and activates its versions through the admin
//! API. On activation the host checks every item and syncs the catalogue into the content
//! library under the component's name; items a later version drops are deactivated, and a
//! rollback brings them back under the same ids. Built with feature `v2` it is the partner's
//! next version (one item withdrawn, one description revised), used by the tests.

#![warn(missing_docs)]

/// One item (the WIT `content-item`, as static data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// Stable id.
    pub id: &'static str,
    /// Content type.
    pub content_type: &'static str,
    /// Title.
    pub title: &'static str,
    /// Summary.
    pub description: &'static str,
    /// The text.
    pub body: &'static str,
    /// Minutes.
    pub minutes: i16,
    /// Difficulty.
    pub difficulty: &'static str,
    /// Moods.
    pub moods: &'static [&'static str],
    /// Factors.
    pub factors: &'static [&'static str],
    /// Premium only.
    pub premium: bool,
}

const MOUNTAIN_DESCRIPTION: &str = if cfg!(feature = "v2") {
    "Sit steady as a mountain while thoughts and feelings pass like weather (revised)."
} else {
    "Sit steady as a mountain while thoughts and feelings pass like weather."
};

/// The catalogue of this version.
pub fn items() -> Vec<Item> {
    let mut items = vec![
        Item {
            id: "partner-mindfulness/raisin",
            content_type: "mindfulness",
            title: "Eating one raisin mindfully",
            description: "Five minutes of full attention on one small thing.",
            body: "Take one raisin (or any small piece of food). 1. Look at it as if you had never seen one before: its colour, folds and shine. 2. Feel its texture between your fingers. 3. Smell it. 4. Place it on your tongue without chewing for ten seconds. 5. Chew slowly, noticing the taste change. 6. Swallow, and notice the aftertaste. When your mind wanders, gently return to the raisin.",
            minutes: 5,
            difficulty: "beginner",
            moods: &["stressed", "neutral"],
            factors: &["diet:eating_habits"],
            premium: false,
        },
        Item {
            id: "partner-mindfulness/mountain",
            content_type: "mindfulness",
            title: "Mountain meditation",
            description: MOUNTAIN_DESCRIPTION,
            body: "Sit upright with your feet flat on the floor. 1. Picture a mountain: its wide base, its steady slopes, its peak. 2. Imagine your body becoming the mountain, grounded where you sit. 3. As thoughts, feelings and sensations arise, picture them as weather passing over: clouds, rain, sunshine. 4. The mountain stays. Rest here for ten minutes, returning to the image whenever you drift.",
            minutes: 10,
            difficulty: "intermediate",
            moods: &["anxious", "overwhelmed", "stressed"],
            factors: &["work:stress"],
            premium: true,
        },
        Item {
            id: "partner-mindfulness/three-minute-space",
            content_type: "mindfulness",
            title: "Three-minute breathing space",
            description: "Awareness, gathering, expanding: one minute each.",
            body: "Minute one: notice what is here now: thoughts, feelings, body sensations, without changing them. Minute two: gather your attention on the breath in your belly, following each in-breath and out-breath. Minute three: widen your attention to your whole body breathing, including any discomfort, and carry this wider awareness into the next part of your day.",
            minutes: 3,
            difficulty: "beginner",
            moods: &["stressed", "anxious", "low"],
            factors: &["work:stress", "sleep:racing_thoughts"],
            premium: false,
        },
    ];
    if !cfg!(feature = "v2") {
        items.push(Item {
            id: "partner-mindfulness/body-check-in",
            content_type: "mindfulness",
            title: "One-minute body check-in",
            description: "A quick scan from head to toe.",
            body: "Close your eyes or lower your gaze. Spend ten seconds each on your head and face, neck and shoulders, arms and hands, chest and belly, hips and legs, and feet. Notice any tension, warmth or ease without trying to change it. Finish with one slow breath before you carry on.",
            minutes: 1,
            difficulty: "beginner",
            moods: &["tired", "stressed"],
            factors: &["health:tension"],
            premium: false,
        });
    }
    items
}

/// One call per instance: allocations bump through a static arena.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: mindflow_instance_arena::Bump = mindflow_instance_arena::Bump;

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

    impl Guest for Component {
        fn items() -> Vec<ContentItem> {
            super::items()
                .into_iter()
                .map(|i| ContentItem {
                    external_id: i.id.into(),
                    content_type: i.content_type.into(),
                    title: i.title.into(),
                    description: Some(i.description.into()),
                    content_body: Some(i.body.into()),
                    duration_minutes: Some(i.minutes),
                    difficulty: Some(i.difficulty.into()),
                    target_moods: i.moods.iter().map(|s| (*s).to_owned()).collect(),
                    target_factors: i.factors.iter().map(|s| (*s).to_owned()).collect(),
                    audio_url: None,
                    image_url: None,
                    is_premium: i.premium,
                })
                .collect()
        }
    }

    export!(Component);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_unique_ids() {
        let all = items();
        let mut ids: Vec<&str> = all.iter().map(|i| i.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), all.len());
        assert_eq!(all.len(), if cfg!(feature = "v2") { 3 } else { 4 });
    }
}
