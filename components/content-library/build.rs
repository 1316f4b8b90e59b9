//! Compiles `items.toml` into a static table (`$OUT_DIR/items.rs`), so the component
//! answers `items` without parsing anything at run time (it runs under an instruction
//! budget), and a malformed item fails the build instead of an install.

use std::collections::HashSet;
use std::fmt::Write as _;

use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    item: Vec<Item>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    id: String,
    #[serde(rename = "type")]
    content_type: String,
    title: String,
    description: Option<String>,
    body: Option<String>,
    duration: Option<i16>,
    difficulty: Option<String>,
    #[serde(default)]
    moods: Vec<String>,
    #[serde(default)]
    factors: Vec<String>,
    audio_url: Option<String>,
    image_url: Option<String>,
    #[serde(default)]
    premium: bool,
}

fn main() {
    println!("cargo:rerun-if-changed=items.toml");
    let text = std::fs::read_to_string("items.toml").expect("items.toml");
    let file: File = toml::from_str(&text).unwrap_or_else(|e| panic!("items.toml: {e}"));
    let mut ids = HashSet::new();
    let mut out =
        String::from("/// The catalogue, from items.toml.\npub static ITEMS: &[Item] = &[\n");
    for item in &file.item {
        assert!(
            ids.insert(item.id.clone()),
            "items.toml: `{}` twice",
            item.id
        );
        assert!(!item.title.trim().is_empty(), "{}: empty title", item.id);
        let opt = |s: &Option<String>| match s {
            Some(s) => format!("Some({:?})", s.trim()),
            None => "None".to_owned(),
        };
        let list = |l: &[String]| format!("&{l:?}");
        writeln!(
            out,
            "    Item {{ id: {:?}, content_type: {:?}, title: {:?}, description: {}, body: {}, \
             duration_minutes: {:?}, difficulty: {}, moods: {}, factors: {}, audio_url: {}, \
             image_url: {}, premium: {} }},",
            item.id,
            item.content_type,
            item.title.trim(),
            opt(&item.description),
            opt(&item.body),
            item.duration,
            opt(&item.difficulty),
            list(&item.moods),
            list(&item.factors),
            opt(&item.audio_url),
            opt(&item.image_url),
            item.premium,
        )
        .expect("write");
    }
    out.push_str("];\n");
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("items.rs");
    std::fs::write(dest, out).expect("write items.rs");
}
