//! Tests of the ruleset compiler (the code `build.rs` runs): malformed rulesets must fail with
//! a clear `file:line: message`.

use crate::compile::compile;

const MINIMAL: &str = r#"
[ruleset]
version = "t1"
flags = ["ideation"]

[[rule]]
id = "a"
severity = "high"
weight = 0.5
phrases = ["kill myself"]
flags = ["ideation"]
"#;

fn errors(src: &str) -> Vec<String> {
    match compile("r.toml", src) {
        Ok(_) => panic!("expected an error for:\n{src}"),
        Err(e) => e,
    }
}

fn has(errors: &[String], needle: &str) -> bool {
    errors.iter().any(|e| e.contains(needle))
}

#[test]
fn the_shipped_ruleset_compiles() {
    let src = include_str!("../rules/ruleset.toml");
    if let Err(e) = compile("rules/ruleset.toml", src) {
        panic!("{}", e.join("\n"));
    }
}

#[test]
fn a_minimal_ruleset_compiles() {
    let code = compile("r.toml", MINIMAL).expect("compiles");
    assert!(code.contains("pub const VERSION: &str = \"t1\";"));
}

#[test]
fn syntax_errors_name_the_line() {
    let e = errors("[ruleset]\nversion = 1.2.3\n");
    assert!(has(&e, "r.toml:2:"), "{e:?}");
    let e = errors("[ruleset]\nversion = \"x\n");
    assert!(has(&e, "unterminated string"), "{e:?}");
    let e = errors("[ruleset]\nversion \"x\"\n");
    assert!(has(&e, "expected `=`"), "{e:?}");
    let e = errors("[ruleset]\nversion = \"x\"\n[[rule]]\nphrases = [\"a\",\n");
    assert!(has(&e, "unterminated array"), "{e:?}");
}

#[test]
fn semantic_errors_are_reported() {
    let bad_severity = MINIMAL.replace("\"high\"", "\"severe\"");
    assert!(has(&errors(&bad_severity), "is not a severity"));
    let bad_weight = MINIMAL.replace("0.5", "1.5");
    assert!(has(&errors(&bad_weight), "outside 0..=1"));
    let bad_flag = MINIMAL.replace(
        "phrases = [\"kill myself\"]\nflags = [\"ideation\"]",
        "phrases = [\"kill myself\"]\nflags = [\"ideaton\"]",
    );
    assert!(has(&errors(&bad_flag), "unknown flag `ideaton`"));
    let unknown_key = MINIMAL.replace("weight = 0.5", "weight = 0.5\nwieght = 1");
    assert!(has(&errors(&unknown_key), "unknown key `wieght`"));
    let no_version = MINIMAL.replace("version = \"t1\"\n", "");
    assert!(has(&errors(&no_version), "missing `version`"));
    let dup = format!(
        "{MINIMAL}\n[[rule]]\nid = \"a\"\nseverity = \"low\"\nweight = 0.1\nphrases = [\"x\"]\n"
    );
    assert!(has(&errors(&dup), "used twice"));
    let unknown_table = format!("{MINIMAL}\n[rulez]\n");
    assert!(has(&errors(&unknown_table), "unknown table [rulez]"));
}

#[test]
fn phrase_errors_are_reported() {
    for (phrase, needle) in [
        ("(kill myself", "unbalanced `(`"),
        ("kill myself)", "unbalanced `)`"),
        ("* kill", "start and end with a word"),
        ("kill *", "start and end with a word"),
        ("a | b", "`|` outside parentheses"),
        ("$nope x", "unknown class `$nope`"),
        ("a *99 b", "gap `*99`"),
        ("a * b * c * d * e", "at most 3 gaps"),
    ] {
        let src = MINIMAL.replace("\"kill myself\"", &format!("{phrase:?}"));
        let e = errors(&src);
        assert!(has(&e, needle), "{phrase}: {e:?}");
        assert!(has(&e, "r.toml:"), "{e:?}");
    }
}

#[test]
fn alias_errors_are_reported() {
    let chained = format!("{MINIMAL}\n[aliases]\nkms = \"kill myself\"\nkmss = \"kms\"\n");
    assert!(has(&errors(&chained), "contains another alias"));
    let listed = format!("{MINIMAL}\n[aliases]\nim = \"i am\"\n[words]\nfirst_person = [\"im\"]\n");
    assert!(has(&errors(&listed), "is an alias of"));
}

#[test]
fn optional_end_anchor_and_number_word_compile() {
    let src = MINIMAL.replace(
        "phrases = [\"kill myself\"]",
        "phrases = [\"kill (my)? self\", \"this is it <end>\", \"took many pills\"]",
    ) + "\n[engine]\nnumber_word = \"many\"\n";
    let code = compile("r.toml", &src).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(code.contains("pub const NUMBER_WORD: u16 = "));
    let bad = MINIMAL.replace("\"kill myself\"", "\"kill <end> myself\"");
    assert!(has(&errors(&bad), "`<end>` may only come last"));
    let bad = MINIMAL.replace("\"kill myself\"", "\"? kill\"");
    assert!(has(&errors(&bad), "`?` must follow a word or a group"));
}
