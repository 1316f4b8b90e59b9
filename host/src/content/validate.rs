//! What the host accepts of a content provider's catalogue.
//!
//! A catalogue comes from a plugin, so every value is checked before it is kept: the
//! catalog's column bounds (`crates/db/src/catalog.rs`: `content_type` 30, `title` 200,
//! `difficulty` 20, URLs 500 characters), plus the host's own limits on what a provider may
//! ask it to store (item count, text sizes, list lengths). One bad item refuses the whole
//! version, naming the item and the field: half a catalogue is never synced.

use std::collections::HashSet;

use thiserror::Error;

use super::ContentItem;
use crate::db::content::ContentValues;

/// The most items one catalogue may hold.
pub const MAX_ITEMS: usize = 2_000;
/// The most bytes of text one catalogue may hold in all.
pub const MAX_TOTAL_BYTES: usize = 8 << 20;
/// The longest external id, in characters (`content_library.external_id`).
pub const MAX_EXTERNAL_ID: usize = 200;
/// The longest content type (`content_library.content_type`).
pub const MAX_CONTENT_TYPE: usize = 30;
/// The longest title (`content_library.title`).
pub const MAX_TITLE: usize = 200;
/// The longest description, in characters.
pub const MAX_DESCRIPTION: usize = 1_000;
/// The longest body, in characters.
pub const MAX_BODY: usize = 20_000;
/// The longest URL (`content_library.audio_url`, `image_url`).
pub const MAX_URL: usize = 500;
/// The longest item, in minutes.
pub const MAX_DURATION_MINUTES: i16 = 240;
/// The most moods or factors one item may name.
pub const MAX_TARGETS: usize = 20;
/// The longest mood or factor name.
pub const MAX_TARGET: usize = 60;
/// The difficulties the library knows.
pub const DIFFICULTIES: [&str; 3] = ["beginner", "intermediate", "advanced"];

/// A checked item: the provider's id for it and the values to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueItem {
    /// The provider's stable id for the item.
    pub external_id: String,
    /// What the library stores.
    pub values: ContentValues,
}

/// A checked catalogue, in the provider's order.
pub type Catalogue = Vec<CatalogueItem>;

/// Why a catalogue was refused.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum CatalogueError {
    /// Too many items.
    #[error("{0} items; a catalogue holds at most {MAX_ITEMS}")]
    TooManyItems(usize),
    /// Too much text.
    #[error("{0} bytes of text; a catalogue holds at most {MAX_TOTAL_BYTES}")]
    TooLarge(usize),
    /// One item's field is wrong.
    #[error("item {index} (`{external_id}`): `{field}` {message}")]
    Item {
        /// Its position in the catalogue.
        index: usize,
        /// Its external id, as given (cut short).
        external_id: String,
        /// The field at fault.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Checks a provider's items and turns them into what the library stores.
///
/// # Errors
/// [`CatalogueError`] for the first problem found.
pub fn check(items: Vec<ContentItem>) -> Result<Catalogue, CatalogueError> {
    if items.len() > MAX_ITEMS {
        return Err(CatalogueError::TooManyItems(items.len()));
    }
    let total: usize = items.iter().map(text_bytes).sum();
    if total > MAX_TOTAL_BYTES {
        return Err(CatalogueError::TooLarge(total));
    }
    let mut seen = HashSet::new();
    let mut catalogue = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let fail = |field: &'static str, message: String| CatalogueError::Item {
            index,
            external_id: item.external_id.chars().take(80).collect(),
            field,
            message,
        };
        check_item(&item).map_err(|(field, message)| fail(field, message))?;
        if !seen.insert(item.external_id.clone()) {
            return Err(fail("external-id", "appears twice in the catalogue".into()));
        }
        catalogue.push(CatalogueItem {
            external_id: item.external_id,
            values: ContentValues {
                content_type: item.content_type,
                title: item.title,
                description: item.description,
                content_body: item.content_body,
                duration_minutes: item.duration_minutes,
                difficulty: item.difficulty,
                target_moods: item.target_moods,
                target_factors: item.target_factors,
                audio_url: item.audio_url,
                image_url: item.image_url,
                is_premium: item.is_premium,
            },
        });
    }
    Ok(catalogue)
}

/// Every byte of text an item holds.
pub fn text_bytes(item: &ContentItem) -> usize {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    item.external_id.len()
        + item.content_type.len()
        + item.title.len()
        + opt(&item.description)
        + opt(&item.content_body)
        + opt(&item.difficulty)
        + opt(&item.audio_url)
        + opt(&item.image_url)
        + item.target_moods.iter().map(String::len).sum::<usize>()
        + item.target_factors.iter().map(String::len).sum::<usize>()
        + 16
}

type FieldProblem = (&'static str, String);

fn check_item(item: &ContentItem) -> Result<(), FieldProblem> {
    text("external-id", &item.external_id, MAX_EXTERNAL_ID)?;
    if item.external_id.chars().any(char::is_whitespace) {
        return Err(("external-id", "must not contain whitespace".into()));
    }
    text("content-type", &item.content_type, MAX_CONTENT_TYPE)?;
    if !item
        .content_type
        .chars()
        .all(|c| c.is_ascii_lowercase() || c == '_')
    {
        return Err((
            "content-type",
            "must be lowercase letters and `_` (e.g. `breathing`)".into(),
        ));
    }
    text("title", &item.title, MAX_TITLE)?;
    optional("description", item.description.as_deref(), MAX_DESCRIPTION)?;
    optional("content-body", item.content_body.as_deref(), MAX_BODY)?;
    if let Some(minutes) = item.duration_minutes
        && !(1..=MAX_DURATION_MINUTES).contains(&minutes)
    {
        return Err((
            "duration-minutes",
            format!("must be from 1 to {MAX_DURATION_MINUTES}, not {minutes}"),
        ));
    }
    if let Some(difficulty) = &item.difficulty
        && !DIFFICULTIES.contains(&difficulty.as_str())
    {
        return Err((
            "difficulty",
            format!("must be one of {}", DIFFICULTIES.join(", ")),
        ));
    }
    targets("target-moods", &item.target_moods, false)?;
    targets("target-factors", &item.target_factors, true)?;
    url("audio-url", item.audio_url.as_deref())?;
    url("image-url", item.image_url.as_deref())?;
    Ok(())
}

/// Required text: not blank, at most `max` characters, no NUL or other control character
/// but line breaks and tabs.
fn text(field: &'static str, value: &str, max: usize) -> Result<(), FieldProblem> {
    if value.trim().is_empty() {
        return Err((field, "must not be empty".into()));
    }
    optional(field, Some(value), max)
}

fn optional(field: &'static str, value: Option<&str>, max: usize) -> Result<(), FieldProblem> {
    let Some(value) = value else {
        return Ok(());
    };
    let chars = value.chars().count();
    if chars > max {
        return Err((field, format!("has {chars} characters; at most {max}")));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
    {
        return Err((field, "must not contain NUL or control characters".into()));
    }
    Ok(())
}

/// Moods (`anxious`) or factors (`sleep:quality`): lowercase words, bounded, no duplicates.
fn targets(field: &'static str, values: &[String], factor: bool) -> Result<(), FieldProblem> {
    if values.len() > MAX_TARGETS {
        return Err((
            field,
            format!("names {} values; at most {MAX_TARGETS}", values.len()),
        ));
    }
    let mut seen = HashSet::new();
    for value in values {
        let word = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        let shaped = if factor {
            value
                .split_once(':')
                .is_some_and(|(category, name)| word(category) && word(name))
        } else {
            word(value)
        };
        if !shaped || value.len() > MAX_TARGET {
            let expected = if factor {
                "`category:name` (lowercase letters, digits and `_`)"
            } else {
                "a lowercase word"
            };
            return Err((field, format!("`{value}` is not {expected}")));
        }
        if !seen.insert(value) {
            return Err((field, format!("names `{value}` twice")));
        }
    }
    Ok(())
}

/// An optional `http` or `https` URL.
fn url(field: &'static str, value: Option<&str>) -> Result<(), FieldProblem> {
    let Some(value) = value else {
        return Ok(());
    };
    optional(field, Some(value), MAX_URL)?;
    let lower = value.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or((field, "must be an http(s) URL".to_owned()))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') {
        return Err((field, "must be an http(s) URL with a host".into()));
    }
    if !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err((
            field,
            "must be a URL without spaces or non-ASCII characters".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn item(id: &str) -> ContentItem {
        ContentItem {
            external_id: id.into(),
            content_type: "breathing".into(),
            title: "Box breathing".into(),
            description: Some("Four counts in, hold, out, hold.".into()),
            content_body: Some("1. Breathe in for four.\n2. Hold for four.".into()),
            duration_minutes: Some(4),
            difficulty: Some("beginner".into()),
            target_moods: vec!["anxious".into(), "stressed".into()],
            target_factors: vec!["work:deadline".into()],
            audio_url: None,
            image_url: Some("https://cdn.example.org/box.png".into()),
            is_premium: false,
        }
    }

    fn refused(change: impl FnOnce(&mut ContentItem)) -> CatalogueError {
        let mut bad = item("bad");
        change(&mut bad);
        check(vec![item("good"), bad]).expect_err("refused")
    }

    fn field_of(error: &CatalogueError) -> &'static str {
        match error {
            CatalogueError::Item { field, index, .. } => {
                assert_eq!(*index, 1, "the bad item is named");
                field
            }
            other => panic!("not an item error: {other}"),
        }
    }

    #[test]
    fn a_good_catalogue_is_kept_in_order() {
        let catalogue = check(vec![item("a"), item("b")]).expect("good");
        assert_eq!(catalogue.len(), 2);
        assert_eq!(catalogue[0].external_id, "a");
        assert_eq!(catalogue[1].values.title, "Box breathing");
        assert_eq!(catalogue[1].values.target_factors, ["work:deadline"]);
    }

    #[test]
    fn every_field_is_held_to_its_bounds() {
        type Edit = Box<dyn FnOnce(&mut ContentItem)>;
        let cases: Vec<(&str, Edit)> = vec![
            ("external-id", Box::new(|i| i.external_id = String::new())),
            ("external-id", Box::new(|i| i.external_id = "a b".into())),
            ("external-id", Box::new(|i| i.external_id = "x".repeat(201))),
            (
                "content-type",
                Box::new(|i| i.content_type = "Breathing!".into()),
            ),
            (
                "content-type",
                Box::new(|i| i.content_type = "a".repeat(31)),
            ),
            ("title", Box::new(|i| i.title = "  ".into())),
            ("title", Box::new(|i| i.title = "t".repeat(201))),
            ("title", Box::new(|i| i.title = "nul\0inside".into())),
            (
                "content-body",
                Box::new(|i| i.content_body = Some("\0".into())),
            ),
            (
                "content-body",
                Box::new(|i| i.content_body = Some("b".repeat(MAX_BODY + 1))),
            ),
            (
                "description",
                Box::new(|i| i.description = Some("d".repeat(1_001))),
            ),
            (
                "duration-minutes",
                Box::new(|i| i.duration_minutes = Some(0)),
            ),
            (
                "duration-minutes",
                Box::new(|i| i.duration_minutes = Some(-5)),
            ),
            (
                "duration-minutes",
                Box::new(|i| i.duration_minutes = Some(i16::MAX)),
            ),
            (
                "difficulty",
                Box::new(|i| i.difficulty = Some("easy".into())),
            ),
            (
                "target-moods",
                Box::new(|i| i.target_moods = vec!["Sad".into()]),
            ),
            (
                "target-moods",
                Box::new(|i| i.target_moods = vec!["sad".into(), "sad".into()]),
            ),
            (
                "target-moods",
                Box::new(|i| i.target_moods = vec!["m".into(); 21]),
            ),
            (
                "target-factors",
                Box::new(|i| i.target_factors = vec!["sleep".into()]),
            ),
            (
                "target-factors",
                Box::new(|i| i.target_factors = vec!["sleep:".into()]),
            ),
            (
                "audio-url",
                Box::new(|i| i.audio_url = Some("javascript:alert(1)".into())),
            ),
            (
                "audio-url",
                Box::new(|i| i.audio_url = Some("file:///etc/passwd".into())),
            ),
            (
                "image-url",
                Box::new(|i| i.image_url = Some("not a url".into())),
            ),
            (
                "image-url",
                Box::new(|i| i.image_url = Some(format!("https://e.org/{}", "p".repeat(500)))),
            ),
        ];
        for (field, change) in cases {
            let error = refused(change);
            assert_eq!(field_of(&error), field, "{error}");
        }
    }

    #[test]
    fn external_ids_are_unique_and_catalogues_bounded() {
        let error = check(vec![item("same"), item("same")]).expect_err("twice");
        assert_eq!(field_of(&error), "external-id");
        let many: Vec<ContentItem> = (0..=MAX_ITEMS).map(|i| item(&i.to_string())).collect();
        assert_eq!(
            check(many).expect_err("too many"),
            CatalogueError::TooManyItems(MAX_ITEMS + 1)
        );
        let mut big = Vec::new();
        for i in 0..500 {
            let mut it = item(&i.to_string());
            it.content_body = Some("b".repeat(MAX_BODY));
            big.push(it);
        }
        assert!(matches!(check(big), Err(CatalogueError::TooLarge(_))));
    }
}
