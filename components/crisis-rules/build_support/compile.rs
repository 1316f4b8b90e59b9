//! Compiles `rules/ruleset.toml` into Rust tables (run by `build.rs`; also compiled into the
//! crate's unit tests so that malformed rulesets are tested).
//!
//! The output is Rust source defining the statics that `src/tables.rs` declares the types of:
//! the word list and its hash table, three tries (aliases, negation cues, rule phrases), the
//! rules, combinations and signal rules, and the engine parameters.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::normalize;
use crate::toml_lite::{self, Entry, Table, Value};

/// Severity names, in order.
pub const SEVERITIES: [&str; 5] = ["none", "low", "moderate", "high", "imminent"];
/// Flags with a meaning in the engine; they need no declaration in `[ruleset] flags`.
pub const RESERVED_FLAGS: [&str; 8] = [
    "suppress",
    "idiom",
    "echo",
    "directed",
    "writer",
    "question",
    "answer-no",
    "answer-yes",
];
/// Child keys at or above this value are gaps (`GAP_BASE + n`: skip 0..=n words).
pub const GAP_BASE: u16 = 0xFF00;
/// The child key of `<end>`: the clause or text ends here (a break or the end follows).
pub const END_KEY: u16 = 0xFEFF;
/// The widest gap a phrase may ask for (`*8`).
pub const MAX_GAP: u8 = 8;
/// The most gaps in one phrase.
pub const MAX_GAPS_PER_PHRASE: usize = 3;
/// The most word sequences one phrase may expand to.
pub const MAX_EXPANSION: usize = 100_000;

const TABLES: [&str; 9] = [
    "ruleset", "engine", "words", "negation", "aliases", "classes", "rule", "combo", "signal",
];

/// Person classes of words (bits 0-1 of a word's attributes).
const PERSON_FIRST: u8 = 1;
const PERSON_SECOND: u8 = 2;
const PERSON_THIRD: u8 = 3;
const ATTR_SUBJECT: u8 = 1 << 2;
const ATTR_CLAUSE_BREAK: u8 = 1 << 3;
const ATTR_ALIAS_START: u8 = 1 << 4;
const ATTR_RULE_START: u8 = 1 << 5;
const ATTR_NEG_START: u8 = 1 << 6;
const ATTR_NOT_SUBJECT: u8 = 1 << 7;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Item {
    Word(String),
    Gap(u8),
    End,
}

#[derive(Debug, Clone)]
enum Node {
    Word(String),
    Gap(u8),
    End,
    Alt(Vec<Vec<Node>>),
}

struct Errors {
    file: String,
    list: Vec<String>,
}

impl Errors {
    fn at(&mut self, line: usize, message: impl AsRef<str>) {
        self.list
            .push(format!("{}:{}: {}", self.file, line, message.as_ref()));
    }
}

/// Reads typed fields of one table, reporting unknown or mistyped keys.
struct Fields<'a> {
    table: &'a Table,
    what: String,
}

impl<'a> Fields<'a> {
    fn new(table: &'a Table, what: String, allowed: &[&str], errors: &mut Errors) -> Self {
        for e in &table.entries {
            if !allowed.contains(&e.key.as_str()) {
                errors.at(
                    e.line,
                    format!(
                        "{what}: unknown key `{}` (allowed: {})",
                        e.key,
                        allowed.join(", ")
                    ),
                );
            }
        }
        Fields { table, what }
    }

    fn entry(&self, key: &str) -> Option<&'a Entry> {
        self.table.entries.iter().find(|e| e.key == key)
    }

    fn string(&self, key: &str, required: bool, errors: &mut Errors) -> Option<(String, usize)> {
        match self.entry(key) {
            Some(Entry {
                value: Value::Str(s),
                line,
                ..
            }) => Some((s.clone(), *line)),
            Some(e) => {
                errors.at(
                    e.line,
                    format!(
                        "{}: `{key}` must be a string, not {}",
                        self.what,
                        e.value.kind()
                    ),
                );
                None
            }
            None => {
                if required {
                    errors.at(self.table.line, format!("{}: missing `{key}`", self.what));
                }
                None
            }
        }
    }

    fn number(&self, key: &str, required: bool, errors: &mut Errors) -> Option<(f64, usize)> {
        match self.entry(key) {
            Some(Entry {
                value: Value::Num(n),
                line,
                ..
            }) => Some((*n, *line)),
            Some(e) => {
                errors.at(
                    e.line,
                    format!(
                        "{}: `{key}` must be a number, not {}",
                        self.what,
                        e.value.kind()
                    ),
                );
                None
            }
            None => {
                if required {
                    errors.at(self.table.line, format!("{}: missing `{key}`", self.what));
                }
                None
            }
        }
    }

    /// A number in `lo..=hi`.
    fn ranged(
        &self,
        key: &str,
        required: bool,
        lo: f64,
        hi: f64,
        errors: &mut Errors,
    ) -> Option<f64> {
        let (n, line) = self.number(key, required, errors)?;
        if n < lo || n > hi {
            errors.at(
                line,
                format!("{}: `{key}` = {n} is outside {lo}..={hi}", self.what),
            );
            return None;
        }
        Some(n)
    }

    /// A boolean, `default` when absent.
    fn boolean(&self, key: &str, default: bool, errors: &mut Errors) -> bool {
        match self.entry(key) {
            Some(Entry {
                value: Value::Bool(b),
                ..
            }) => *b,
            Some(e) => {
                errors.at(
                    e.line,
                    format!(
                        "{}: `{key}` must be true or false, not {}",
                        self.what,
                        e.value.kind()
                    ),
                );
                default
            }
            None => default,
        }
    }

    /// A whole number in `lo..=hi`.
    fn int(&self, key: &str, default: u32, lo: u32, hi: u32, errors: &mut Errors) -> u32 {
        match self.ranged(key, false, f64::from(lo), f64::from(hi), errors) {
            // A whole number within `lo..=hi`, both `u32`: the cast is exact.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Some(n) if n.fract() == 0.0 => n as u32,
            Some(_) => {
                errors.at(
                    self.table.line,
                    format!("{}: `{key}` must be a whole number", self.what),
                );
                default
            }
            None => default,
        }
    }

    fn strings(&self, key: &str, required: bool, errors: &mut Errors) -> Vec<(String, usize)> {
        match self.entry(key) {
            Some(Entry {
                value: Value::Arr(items),
                ..
            }) => {
                let mut out = Vec::new();
                for (v, line) in items {
                    match v {
                        Value::Str(s) => out.push((s.clone(), *line)),
                        other => errors.at(
                            *line,
                            format!(
                                "{}: `{key}` must hold strings, not {}",
                                self.what,
                                other.kind()
                            ),
                        ),
                    }
                }
                if required && out.is_empty() {
                    errors.at(
                        self.table.line,
                        format!("{}: `{key}` must not be empty", self.what),
                    );
                }
                out
            }
            Some(e) => {
                errors.at(
                    e.line,
                    format!(
                        "{}: `{key}` must be an array of strings, not {}",
                        self.what,
                        e.value.kind()
                    ),
                );
                Vec::new()
            }
            None => {
                if required {
                    errors.at(self.table.line, format!("{}: missing `{key}`", self.what));
                }
                Vec::new()
            }
        }
    }

    fn severity(&self, key: &str, default: Option<u8>, errors: &mut Errors) -> u8 {
        match self.string(key, default.is_none(), errors) {
            Some((s, line)) => match SEVERITIES.iter().position(|n| *n == s) {
                Some(i) => narrow(i),
                None => {
                    errors.at(
                        line,
                        format!(
                            "{}: `{key}` = \"{s}\" is not a severity (one of {})",
                            self.what,
                            SEVERITIES.join(", ")
                        ),
                    );
                    0
                }
            },
            None => default.unwrap_or(0),
        }
    }
}

struct Alias {
    lhs: Vec<String>,
    rhs: Vec<String>,
    line: usize,
}

/// Applies aliases to a word run: left to right, longest left-hand side first. The engine
/// does the same to every text.
fn canonicalize(words: &[String], aliases: &[Alias]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let mut best: Option<&Alias> = None;
        for a in aliases {
            if words[i..].starts_with(&a.lhs) && best.is_none_or(|b| a.lhs.len() > b.lhs.len()) {
                best = Some(a);
            }
        }
        match best {
            Some(a) => {
                out.extend(a.rhs.iter().cloned());
                i += a.lhs.len();
            }
            None => {
                out.push(words[i].clone());
                i += 1;
            }
        }
    }
    out
}

/// Parses a phrase into nodes.
fn parse_phrase(
    text: &str,
    classes: &BTreeMap<String, String>,
    depth: usize,
) -> Result<Vec<Node>, String> {
    if depth > 8 {
        return Err("classes nest too deeply (a class that uses itself?)".into());
    }
    let bytes = text.as_bytes();
    let mut pos = 0;
    let seq = parse_alt_body(text, bytes, &mut pos, classes, depth, false)?;
    if seq.len() != 1 {
        return Err("`|` outside parentheses (wrap the alternatives in `( | )`)".into());
    }
    Ok(seq.into_iter().next().unwrap_or_default())
}

/// Parses alternatives until `)` (when `nested`) or the end; returns each alternative.
fn parse_alt_body(
    text: &str,
    bytes: &[u8],
    pos: &mut usize,
    classes: &BTreeMap<String, String>,
    depth: usize,
    nested: bool,
) -> Result<Vec<Vec<Node>>, String> {
    let mut alts = vec![Vec::new()];
    while *pos < bytes.len() {
        let b = bytes[*pos];
        match b {
            b' ' | b'\t' => *pos += 1,
            b'(' => {
                *pos += 1;
                let inner = parse_alt_body(text, bytes, pos, classes, depth, true)?;
                if let Some(last) = alts.last_mut() {
                    last.push(Node::Alt(inner));
                }
            }
            b')' => {
                if !nested {
                    return Err("unbalanced `)`".into());
                }
                *pos += 1;
                return Ok(alts);
            }
            b'|' => {
                *pos += 1;
                alts.push(Vec::new());
            }
            b'?' => {
                *pos += 1;
                // `x?` / `(a|b)?`: the previous item is optional.
                let Some(last) = alts.last_mut() else {
                    return Err("`?` must follow a word or a group".into());
                };
                match last.pop() {
                    Some(Node::Gap(_)) | None => {
                        return Err("`?` must follow a word or a group".into());
                    }
                    Some(node) => last.push(Node::Alt(vec![vec![node], Vec::new()])),
                }
            }
            b'*' => {
                *pos += 1;
                let start = *pos;
                while *pos < bytes.len() && bytes[*pos].is_ascii_digit() {
                    *pos += 1;
                }
                let n = if start == *pos {
                    None
                } else {
                    match text[start..*pos].parse::<u8>() {
                        Ok(n) if (1..=MAX_GAP).contains(&n) => Some(n),
                        _ => {
                            return Err(format!(
                                "gap `*{}` must be *1 to *{MAX_GAP}",
                                &text[start..*pos]
                            ));
                        }
                    }
                };
                if let Some(last) = alts.last_mut() {
                    // 0 stands for the engine's default gap until expansion.
                    last.push(Node::Gap(n.unwrap_or(0)));
                }
            }
            b'$' => {
                *pos += 1;
                let start = *pos;
                while *pos < bytes.len()
                    && (bytes[*pos].is_ascii_alphanumeric()
                        || bytes[*pos] == b'_'
                        || bytes[*pos] == b'-')
                {
                    *pos += 1;
                }
                let name = &text[start..*pos];
                let Some(body) = classes.get(name) else {
                    return Err(format!(
                        "unknown class `${name}` (define it under [classes])"
                    ));
                };
                let inner = parse_phrase(&format!("({body})"), classes, depth + 1)
                    .map_err(|e| format!("in class `${name}`: {e}"))?;
                if let Some(last) = alts.last_mut() {
                    last.extend(inner);
                }
            }
            _ => {
                let start = *pos;
                while *pos < bytes.len()
                    && !matches!(
                        bytes[*pos],
                        b' ' | b'\t' | b'(' | b')' | b'|' | b'*' | b'$' | b'?'
                    )
                {
                    *pos += 1;
                }
                if &text[start..*pos] == "<end>" {
                    if let Some(last) = alts.last_mut() {
                        last.push(Node::End);
                    }
                    continue;
                }
                for w in normalize::words(&text[start..*pos]) {
                    if w.is_empty() {
                        return Err(format!("word `{}` is too long", &text[start..*pos]));
                    }
                    if let Some(last) = alts.last_mut() {
                        last.push(Node::Word(w));
                    }
                }
            }
        }
    }
    if nested {
        return Err("unbalanced `(`: missing `)`".into());
    }
    Ok(alts)
}

/// Expands nodes into every word sequence they stand for.
fn expand(nodes: &[Node], default_gap: u8) -> Result<Vec<Vec<Item>>, String> {
    let mut out: Vec<Vec<Item>> = vec![Vec::new()];
    for node in nodes {
        match node {
            Node::Word(w) => out.iter_mut().for_each(|s| s.push(Item::Word(w.clone()))),
            Node::End => out.iter_mut().for_each(|s| s.push(Item::End)),
            Node::Gap(n) => {
                let n = if *n == 0 { default_gap } else { *n };
                out.iter_mut().for_each(|s| s.push(Item::Gap(n)));
            }
            Node::Alt(alts) => {
                let mut options = Vec::new();
                for alt in alts {
                    options.extend(expand(alt, default_gap)?);
                }
                let mut next = Vec::new();
                for prefix in &out {
                    for option in &options {
                        let mut s = prefix.clone();
                        s.extend(option.iter().cloned());
                        next.push(s);
                    }
                }
                if next.len() > MAX_EXPANSION {
                    return Err(format!(
                        "expands to more than {MAX_EXPANSION} word sequences; split it into several phrases"
                    ));
                }
                out = next;
            }
        }
    }
    Ok(out)
}

/// Parses, expands, canonicalises and checks one phrase.
fn compile_phrase(
    text: &str,
    classes: &BTreeMap<String, String>,
    aliases: &[Alias],
    default_gap: u8,
    allow_gaps: bool,
) -> Result<BTreeSet<Vec<Item>>, String> {
    let nodes = parse_phrase(text, classes, 0)?;
    let mut out = BTreeSet::new();
    for seq in expand(&nodes, default_gap)? {
        // Canonicalise each run of words between gaps.
        let mut canon = Vec::new();
        let mut run: Vec<String> = Vec::new();
        for item in seq {
            match item {
                Item::Word(w) => run.push(w),
                Item::End => {
                    canon.extend(canonicalize(&run, aliases).into_iter().map(Item::Word));
                    run.clear();
                    canon.push(Item::End);
                }
                Item::Gap(n) => {
                    canon.extend(canonicalize(&run, aliases).into_iter().map(Item::Word));
                    run.clear();
                    // Two gaps in a row merge into one.
                    if let Some(Item::Gap(m)) = canon.last_mut() {
                        *m = (*m + n).min(MAX_GAP);
                    } else {
                        canon.push(Item::Gap(n));
                    }
                }
            }
        }
        canon.extend(canonicalize(&run, aliases).into_iter().map(Item::Word));
        if canon.is_empty() {
            continue; // an all-optional phrase contributes its non-empty variants only
        }
        if let Some(k) = canon.iter().position(|i| *i == Item::End)
            && k + 1 != canon.len()
        {
            return Err("`<end>` may only come last".into());
        }
        let body = if canon.last() == Some(&Item::End) {
            &canon[..canon.len() - 1]
        } else {
            &canon[..]
        };
        if !matches!(body.first(), Some(Item::Word(_)))
            || !matches!(body.last(), Some(Item::Word(_)))
        {
            return Err("a phrase must start and end with a word, not a gap `*`".into());
        }
        let gaps = canon.iter().filter(|i| matches!(i, Item::Gap(_))).count();
        if gaps > 0 && !allow_gaps {
            return Err("gaps `*` are not allowed here".into());
        }
        if gaps > MAX_GAPS_PER_PHRASE {
            return Err(format!("at most {MAX_GAPS_PER_PHRASE} gaps `*` per phrase"));
        }
        if canon.len() > 24 {
            return Err("a phrase may have at most 24 words and gaps".into());
        }
        out.insert(canon);
    }
    if out.is_empty() {
        return Err("the phrase has no words".into());
    }
    Ok(out)
}

/// A minimised node: its terminal entries and its `(key, child class)` edges.
type NodeSig = (Vec<u16>, Vec<(u16, usize)>);

#[derive(Default)]
struct TrieBuilder {
    children: Vec<BTreeMap<u16, usize>>,
    terms: Vec<Vec<u16>>,
}

impl TrieBuilder {
    fn new() -> Self {
        TrieBuilder {
            children: vec![BTreeMap::new()],
            terms: vec![Vec::new()],
        }
    }

    fn insert(&mut self, keys: &[u16], term: u16) {
        let mut node = 0;
        for &k in keys {
            let next = self.children.len();
            let child = *self.children[node].entry(k).or_insert(next);
            if child == next {
                self.children.push(BTreeMap::new());
                self.terms.push(Vec::new());
            }
            node = child;
        }
        if !self.terms[node].contains(&term) {
            self.terms[node].push(term);
        }
    }

    /// Merges equivalent subtrees (same terminal entries, same keyed children), turning the
    /// trie into a minimal acyclic automaton: alternatives that end alike share their tails.
    /// Returns the minimised nodes: the root is node 0, the others are numbered in the order
    /// a depth-first walk finishes them.
    fn minimise(&self) -> Vec<NodeSig> {
        let n = self.children.len();
        let mut class = vec![usize::MAX; n];
        let mut sigs: BTreeMap<NodeSig, usize> = BTreeMap::new();
        let mut table: Vec<NodeSig> = vec![(Vec::new(), Vec::new())];
        // Post-order without recursion.
        let mut stack = vec![(0usize, false)];
        while let Some((node, done)) = stack.pop() {
            if done {
                let mut terms = self.terms[node].clone();
                terms.sort_unstable();
                let kids: Vec<(u16, usize)> = self.children[node]
                    .iter()
                    .map(|(&k, &c)| (k, class[c]))
                    .collect();
                if node == 0 {
                    class[0] = 0;
                    table[0] = (terms, kids);
                    continue;
                }
                let key = (terms, kids);
                let next = table.len();
                let id = *sigs.entry(key.clone()).or_insert(next);
                if id == next {
                    table.push(key);
                }
                class[node] = id;
            } else {
                stack.push((node, true));
                for &c in self.children[node].values() {
                    stack.push((c, false));
                }
            }
        }
        table
    }

    fn emit(&self, name: &str, num_words: usize, out: &mut String) -> Result<(), String> {
        let table = self.minimise();
        if table.len() >= usize::from(u16::MAX) {
            return Err(format!(
                "the {name} trie has too many nodes ({})",
                table.len()
            ));
        }
        let mut root = vec![0u16; num_words + 1];
        for &(k, c) in &table[0].1 {
            if let Some(slot) = root.get_mut(usize::from(k)) {
                *slot = narrow(c);
            } else {
                return Err(format!("the {name} trie starts with a gap"));
            }
        }
        let mut child_off = vec![0u32];
        let mut child_key = Vec::new();
        let mut child_node = Vec::new();
        let mut term_off = vec![0u32];
        let mut term = Vec::new();
        let mut flags = Vec::new();
        for (node, (terms, kids)) in table.iter().enumerate() {
            let mut f = 0u8;
            if !terms.is_empty() {
                f |= 1;
            }
            if node != 0 {
                for &(k, c) in kids {
                    child_key.push(k);
                    child_node.push(narrow::<u16>(c));
                    f |= if k == END_KEY {
                        2
                    } else if k >= GAP_BASE {
                        4
                    } else {
                        8
                    };
                }
            }
            flags.push(f);
            child_off.push(narrow::<u32>(child_key.len()));
            term.extend(terms.iter().copied());
            term_off.push(narrow::<u32>(term.len()));
        }
        let _ = writeln!(out, "/// Trie `{name}`.\npub static {name}: Trie = Trie {{");
        array_field(out, "root", &root);
        array_field(out, "child_off", &child_off);
        array_field(out, "child_key", &child_key);
        array_field(out, "child_node", &child_node);
        array_field(out, "term_off", &term_off);
        array_field(out, "term", &term);
        array_field(out, "flags", &flags);
        out.push_str("};\n");
        Ok(())
    }
}

fn write_list<T: std::fmt::Display>(out: &mut String, items: &[T]) {
    for (i, x) in items.iter().enumerate() {
        if i % 24 == 0 {
            out.push_str("\n    ");
        }
        let _ = write!(out, "{x},");
    }
    out.push('\n');
}

fn array_field<T: std::fmt::Display>(out: &mut String, name: &str, items: &[T]) {
    let _ = write!(out, "    {name}: &[");
    write_list(out, items);
    out.push_str("    ],\n");
}

fn static_array<T: std::fmt::Display>(
    out: &mut String,
    doc: &str,
    name: &str,
    ty: &str,
    items: &[T],
) {
    let _ = write!(
        out,
        "/// {doc}\npub static {name}: [{ty}; {}] = [",
        items.len()
    );
    write_list(out, items);
    out.push_str("];\n");
}

fn severity_expr(s: u8) -> &'static str {
    match s {
        0 => "Severity::None",
        1 => "Severity::Low",
        2 => "Severity::Moderate",
        3 => "Severity::High",
        _ => "Severity::Imminent",
    }
}

fn float(x: f64) -> String {
    // The tables hold `f32`: rounding to the nearest `f32` is the point.
    #[allow(clippy::cast_possible_truncation)]
    let x = x as f32;
    format!("{x:?}")
}

/// `n` as a table entry of a narrower type. Every count that becomes an index is checked
/// against its type first (the `too many …` errors), so a ruleset that got this far always
/// fits; were one not to, the build stops here instead of emitting a truncated index.
fn narrow<T: TryFrom<usize>>(n: usize) -> T {
    T::try_from(n).unwrap_or_else(|_| panic!("a table index ({n}) overflows its type"))
}

/// Compiles the ruleset text into Rust source. `file` names the file in error messages.
///
/// # Errors
/// Every problem found, each as `file:line: message`.
pub fn compile(file: &str, src: &str) -> Result<String, Vec<String>> {
    let mut errors = Errors {
        file: file.to_owned(),
        list: Vec::new(),
    };
    let tables = match toml_lite::parse(src) {
        Ok(t) => t,
        Err(e) => return Err(vec![format!("{file}:{}: {}", e.line, e.message)]),
    };
    let empty = Table {
        name: String::new(),
        array: false,
        line: 1,
        entries: Vec::new(),
    };
    let mut single: BTreeMap<&str, &Table> = BTreeMap::new();
    let mut arrays: BTreeMap<&str, Vec<&Table>> = BTreeMap::new();
    for t in &tables {
        if t.name.is_empty() {
            if let Some(e) = t.entries.first() {
                errors.at(e.line, "keys must come after a [table] header");
            }
            continue;
        }
        if !TABLES.contains(&t.name.as_str()) {
            errors.at(
                t.line,
                format!("unknown table [{}] (known: {})", t.name, TABLES.join(", ")),
            );
            continue;
        }
        let want_array = matches!(t.name.as_str(), "rule" | "combo" | "signal");
        if t.array != want_array {
            errors.at(
                t.line,
                if want_array {
                    format!("write [[{}]] (one per entry), not [{}]", t.name, t.name)
                } else {
                    format!("write [{}], not [[{}]]", t.name, t.name)
                },
            );
        }
        if want_array {
            arrays.entry(t.name.as_str()).or_default().push(t);
        } else {
            single.insert(t.name.as_str(), t);
        }
    }
    let table = |name: &str| single.get(name).copied().unwrap_or(&empty);

    // [ruleset]
    let rs = Fields::new(
        table("ruleset"),
        "[ruleset]".into(),
        &["version", "language", "description", "flags"],
        &mut errors,
    );
    if !single.contains_key("ruleset") {
        errors.at(1, "missing the [ruleset] table (with `version`)");
    }
    let version = rs
        .string("version", true, &mut errors)
        .map(|v| v.0)
        .unwrap_or_default();
    if single.contains_key("ruleset") && version.trim().is_empty() {
        errors.at(
            table("ruleset").line,
            "[ruleset]: `version` must not be empty",
        );
    }
    let language = rs
        .string("language", false, &mut errors)
        .map(|v| v.0)
        .unwrap_or_else(|| "en".into());
    let _ = rs.string("description", false, &mut errors);
    let mut flag_names: Vec<String> = RESERVED_FLAGS.iter().map(|s| (*s).to_owned()).collect();
    for (f, line) in rs.strings("flags", false, &mut errors) {
        if f.is_empty()
            || !f
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            errors.at(
                line,
                format!("flag `{f}`: use lowercase letters, digits and `-`"),
            );
        } else if flag_names.contains(&f) {
            errors.at(
                line,
                format!("flag `{f}` is declared twice (or is reserved)"),
            );
        } else {
            flag_names.push(f);
        }
    }
    if flag_names.len() > 32 {
        errors.at(
            table("ruleset").line,
            "at most 32 flags (including the 8 reserved)",
        );
    }
    let flag_bit = |name: &str| flag_names.iter().position(|f| f == name);

    // [engine]
    let en = Fields::new(
        table("engine"),
        "[engine]".into(),
        &[
            "negation_window",
            "long_negation_window",
            "subject_window",
            "default_gap",
            "combo_window",
            "echo_window",
            "echo_cap",
            "answer_window",
            "explanation_scope",
            "negated_severity",
            "third_person_severity",
            "second_person_severity",
            "none_confidence",
            "foreign_language_factor",
            "number_word",
        ],
        &mut errors,
    );
    let negation_window = en.int("negation_window", 4, 1, 16, &mut errors);
    let long_negation_window = en.int("long_negation_window", 8, 1, 24, &mut errors);
    let subject_window = en.int("subject_window", 12, 1, 40, &mut errors);
    let default_gap = u8::try_from(en.int("default_gap", 3, 1, u32::from(MAX_GAP), &mut errors))
        .unwrap_or(MAX_GAP);
    let combo_window = en.int("combo_window", 40, 1, 10_000, &mut errors);
    let echo_window = en.int("echo_window", 30, 1, 1000, &mut errors);
    let echo_cap = en.severity("echo_cap", Some(3), &mut errors);
    let answer_window = en.int("answer_window", 24, 1, 200, &mut errors);
    let explain_passage_only = match en.string("explanation_scope", false, &mut errors) {
        None => false,
        Some((scope, _)) if scope == "text" => false,
        Some((scope, _)) if scope == "passage" => true,
        Some((_, line)) => {
            errors.at(
                line,
                "[engine]: `explanation_scope` must be \"text\" or \"passage\"",
            );
            false
        }
    };
    let negated_severity = en.severity("negated_severity", Some(1), &mut errors);
    let third_person_severity = en.severity("third_person_severity", Some(1), &mut errors);
    let second_person_severity = en.severity("second_person_severity", Some(2), &mut errors);
    let none_confidence = en
        .ranged("none_confidence", false, 0.0, 1.0, &mut errors)
        .unwrap_or(0.7);
    let foreign_language_factor = en
        .ranged("foreign_language_factor", false, 0.0, 1.0, &mut errors)
        .unwrap_or(0.5);
    let number_word = match en.string("number_word", false, &mut errors) {
        Some((w, line)) => {
            let ws = normalize::words(&w);
            if ws.len() == 1 && !ws[0].is_empty() {
                Some(ws[0].clone())
            } else {
                errors.at(line, "[engine]: `number_word` must be a single word");
                None
            }
        }
        None => None,
    };

    // [classes]
    let mut classes = BTreeMap::new();
    for e in &table("classes").entries {
        match &e.value {
            Value::Str(s) => {
                if !e
                    .key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    errors.at(
                        e.line,
                        format!("class name `{}`: use letters, digits, `_` and `-`", e.key),
                    );
                }
                classes.insert(e.key.clone(), s.clone());
            }
            v => errors.at(
                e.line,
                format!(
                    "class `{}` must be a string like \"a|b c\", not {}",
                    e.key,
                    v.kind()
                ),
            ),
        }
    }

    // [aliases]
    let mut aliases: Vec<Alias> = Vec::new();
    for e in &table("aliases").entries {
        let lhs = normalize::words(&e.key);
        let Value::Str(rhs_text) = &e.value else {
            errors.at(e.line, format!("alias `{}` must map to a string", e.key));
            continue;
        };
        let rhs = normalize::words(rhs_text);
        if lhs.is_empty() || lhs.iter().any(String::is_empty) {
            errors.at(e.line, format!("alias `{}` has no usable words", e.key));
            continue;
        }
        if lhs.len() > 6 {
            errors.at(e.line, format!("alias `{}`: at most 6 words", e.key));
            continue;
        }
        if rhs.is_empty() || rhs.iter().any(String::is_empty) {
            errors.at(e.line, format!("alias `{}` maps to no usable words", e.key));
            continue;
        }
        if lhs == rhs {
            errors.at(e.line, format!("alias `{}` maps to itself", e.key));
            continue;
        }
        if aliases.iter().any(|a| a.lhs == lhs) {
            errors.at(
                e.line,
                format!("alias `{}` is defined twice (after normalisation)", e.key),
            );
            continue;
        }
        aliases.push(Alias {
            lhs,
            rhs,
            line: e.line,
        });
    }
    for a in &aliases {
        let again = canonicalize(&a.rhs, &aliases);
        if again != a.rhs {
            errors.at(
                a.line,
                format!(
                    "alias `{}` maps to \"{}\", which contains another alias (it would become \"{}\"); map straight to the final words",
                    a.lhs.join(" "),
                    a.rhs.join(" "),
                    again.join(" ")
                ),
            );
        }
    }

    // Word lists: canonical words only.
    let alias_lhs_single: BTreeMap<&str, &Alias> = aliases
        .iter()
        .filter(|a| a.lhs.len() == 1)
        .map(|a| (a.lhs[0].as_str(), a))
        .collect();
    let word_list = |fields: &Fields, key: &str, errors: &mut Errors| -> Vec<String> {
        let mut out = Vec::new();
        for (w, line) in fields.strings(key, false, errors) {
            let ws = normalize::words(&w);
            if ws.len() != 1 || ws[0].is_empty() {
                errors.at(line, format!("{key}: `{w}` must be a single word"));
                continue;
            }
            if let Some(a) = alias_lhs_single.get(ws[0].as_str()) {
                errors.at(
                    line,
                    format!(
                        "{key}: `{w}` never reaches the rules: it is an alias of \"{}\"; list those words instead",
                        a.rhs.join(" ")
                    ),
                );
                continue;
            }
            out.push(ws[0].clone());
        }
        out
    };
    let wf = Fields::new(
        table("words"),
        "[words]".into(),
        &[
            "first_person",
            "second_person",
            "third_person",
            "subject_pronouns",
            "not_subjects",
            "clause_breaks",
        ],
        &mut errors,
    );
    let first_person = word_list(&wf, "first_person", &mut errors);
    let second_person = word_list(&wf, "second_person", &mut errors);
    let third_person = word_list(&wf, "third_person", &mut errors);
    let subject_pronouns = word_list(&wf, "subject_pronouns", &mut errors);
    let not_subjects = word_list(&wf, "not_subjects", &mut errors);
    let clause_breaks = word_list(&wf, "clause_breaks", &mut errors);

    // [negation]
    let nf = Fields::new(
        table("negation"),
        "[negation]".into(),
        &["cues", "long_cues", "pseudo"],
        &mut errors,
    );
    let mut neg_phrases: Vec<(u8, BTreeSet<Vec<Item>>)> = Vec::new();
    for (kind, key) in [(0u8, "pseudo"), (1, "cues"), (2, "long_cues")] {
        for (p, line) in nf.strings(key, false, &mut errors) {
            match compile_phrase(&p, &classes, &aliases, default_gap, false) {
                Ok(seqs) => neg_phrases.push((kind, seqs)),
                Err(e) => errors.at(line, format!("[negation] {key}: \"{p}\": {e}")),
            }
        }
    }

    // [[rule]]
    struct Rule {
        id: String,
        severity: u8,
        weight: f64,
        flags: u32,
        phrases: Vec<BTreeSet<Vec<Item>>>,
    }
    let mut rules: Vec<Rule> = Vec::new();
    for t in arrays.get("rule").cloned().unwrap_or_default() {
        let f = Fields::new(
            t,
            format!("[[rule]] at line {}", t.line),
            &["id", "severity", "weight", "phrases", "flags", "note"],
            &mut errors,
        );
        let id = f
            .string("id", true, &mut errors)
            .map(|v| v.0)
            .unwrap_or_default();
        let what = format!("rule `{id}`");
        if !id.is_empty()
            && !id.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
            })
        {
            errors.at(
                t.line,
                format!("{what}: ids use lowercase letters, digits, `.`, `-`, `_`"),
            );
        }
        if rules.iter().any(|r| r.id == id) {
            errors.at(t.line, format!("{what}: the id is used twice"));
        }
        let severity = f.severity("severity", None, &mut errors);
        let weight = f
            .ranged("weight", true, 0.0, 1.0, &mut errors)
            .unwrap_or(0.0);
        let _ = f.string("note", false, &mut errors);
        let mut flags = 0u32;
        for (name, line) in f.strings("flags", false, &mut errors) {
            match flag_bit(&name) {
                Some(b) => flags |= 1 << b,
                None => errors.at(
                    line,
                    format!(
                        "{what}: unknown flag `{name}` (declare it in [ruleset] flags; known: {})",
                        flag_names.join(", ")
                    ),
                ),
            }
        }
        if flags & 0b10 != 0 {
            flags |= 0b01; // idiom implies suppress
        }
        let mut phrases = Vec::new();
        for (p, line) in f.strings("phrases", true, &mut errors) {
            match compile_phrase(&p, &classes, &aliases, default_gap, true) {
                Ok(seqs) => phrases.push(seqs),
                Err(e) => errors.at(line, format!("{what}: phrase \"{p}\": {e}")),
            }
        }
        rules.push(Rule {
            id,
            severity,
            weight,
            flags,
            phrases,
        });
    }
    if rules.is_empty() {
        errors.at(1, "the ruleset has no [[rule]]");
    }

    // [[combo]]
    struct Combo {
        id: String,
        severity: u8,
        weight: f64,
        window: u32,
        requires: Vec<(usize, u32)>,
        unless: u32,
    }
    let mut combos = Vec::new();
    for t in arrays.get("combo").cloned().unwrap_or_default() {
        let f = Fields::new(
            t,
            format!("[[combo]] at line {}", t.line),
            &[
                "id", "requires", "unless", "window", "severity", "weight", "note",
            ],
            &mut errors,
        );
        let id = f
            .string("id", true, &mut errors)
            .map(|v| v.0)
            .unwrap_or_default();
        if rules.iter().any(|r| r.id == id) || combos.iter().any(|c: &Combo| c.id == id) {
            errors.at(t.line, format!("combo `{id}`: the id is used twice"));
        }
        let severity = f.severity("severity", None, &mut errors);
        let weight = f
            .ranged("weight", true, 0.0, 1.0, &mut errors)
            .unwrap_or(0.0);
        let window = f.int("window", combo_window, 1, 10_000, &mut errors);
        let _ = f.string("note", false, &mut errors);
        let mut counts: BTreeMap<usize, u32> = BTreeMap::new();
        for (name, line) in f.strings("requires", true, &mut errors) {
            match flag_bit(&name) {
                Some(b) => *counts.entry(b).or_default() += 1,
                None => errors.at(line, format!("combo `{id}`: unknown flag `{name}`")),
            }
        }
        if counts.values().any(|&n| n > 8) {
            errors.at(t.line, format!("combo `{id}`: at most 8 of one flag"));
        }
        let mut unless = 0u32;
        for (name, line) in f.strings("unless", false, &mut errors) {
            match flag_bit(&name) {
                Some(b) => unless |= 1 << b,
                None => errors.at(
                    line,
                    format!("combo `{id}`: unknown flag `{name}` in `unless`"),
                ),
            }
        }
        combos.push(Combo {
            id,
            severity,
            weight,
            window,
            requires: counts.into_iter().collect(),
            unless,
        });
    }

    // [[signal]]
    struct Signal {
        id: String,
        min_similarity: Option<f64>,
        min_lead: Option<f64>,
        min_risk: Option<f64>,
        exemplar_at_least: Option<u8>,
        semantic_at_least: Option<u8>,
        max_sentiment: Option<f64>,
        min_sentiment: Option<f64>,
        requires: u32,
        raise_to: u8,
        weight: f64,
        despite_negation: bool,
    }
    let mut signals = Vec::new();
    for t in arrays.get("signal").cloned().unwrap_or_default() {
        let f = Fields::new(
            t,
            format!("[[signal]] at line {}", t.line),
            &[
                "id",
                "min_similarity",
                "min_lead",
                "min_risk",
                "exemplar_at_least",
                "semantic_at_least",
                "max_sentiment",
                "min_sentiment",
                "requires",
                "raise_to",
                "weight",
                "despite_negation",
                "note",
            ],
            &mut errors,
        );
        let id = f
            .string("id", true, &mut errors)
            .map(|v| v.0)
            .unwrap_or_default();
        if rules.iter().any(|r| r.id == id)
            || combos.iter().any(|c| c.id == id)
            || signals.iter().any(|s: &Signal| s.id == id)
        {
            errors.at(t.line, format!("signal `{id}`: the id is used twice"));
        }
        let min_similarity = f.ranged("min_similarity", false, 0.0, 1.0, &mut errors);
        let min_lead = f.ranged("min_lead", false, -1.0, 1.0, &mut errors);
        let min_risk = f.ranged("min_risk", false, 0.0, 1.0, &mut errors);
        let exemplar_at_least = f
            .string("exemplar_at_least", false, &mut errors)
            .map(|_| f.severity("exemplar_at_least", None, &mut errors));
        let semantic_at_least = f
            .string("semantic_at_least", false, &mut errors)
            .map(|_| f.severity("semantic_at_least", None, &mut errors));
        let max_sentiment = f.ranged("max_sentiment", false, -1.0, 1.0, &mut errors);
        let min_sentiment = f.ranged("min_sentiment", false, -1.0, 1.0, &mut errors);
        if min_similarity.is_none()
            && min_risk.is_none()
            && max_sentiment.is_none()
            && min_sentiment.is_none()
        {
            errors.at(t.line, format!("signal `{id}`: set at least one threshold"));
        }
        let mut requires = 0u32;
        if let Some((name, line)) = f.string("requires", false, &mut errors) {
            match flag_bit(&name) {
                Some(b) => requires = 1 << b,
                None => errors.at(line, format!("signal `{id}`: unknown flag `{name}`")),
            }
        }
        let raise_to = f.severity("raise_to", None, &mut errors);
        let weight = f
            .ranged("weight", true, 0.0, 1.0, &mut errors)
            .unwrap_or(0.0);
        let despite_negation = f.boolean("despite_negation", false, &mut errors);
        let _ = f.string("note", false, &mut errors);
        signals.push(Signal {
            id,
            min_similarity,
            min_lead,
            min_risk,
            exemplar_at_least,
            semantic_at_least,
            max_sentiment,
            min_sentiment,
            requires,
            raise_to,
            weight,
            despite_negation,
        });
    }

    if !errors.list.is_empty() {
        return Err(errors.list);
    }

    // The lexicon: every word the engine must recognise.
    let mut lexicon: BTreeSet<String> = BTreeSet::new();
    for a in &aliases {
        lexicon.extend(a.lhs.iter().cloned());
        lexicon.extend(a.rhs.iter().cloned());
    }
    lexicon.extend(number_word.iter().cloned());
    for list in [
        &first_person,
        &second_person,
        &third_person,
        &subject_pronouns,
        &not_subjects,
        &clause_breaks,
    ] {
        lexicon.extend(list.iter().cloned());
    }
    let all_seqs = neg_phrases.iter().flat_map(|(_, s)| s.iter()).chain(
        rules
            .iter()
            .flat_map(|r| r.phrases.iter().flat_map(|s| s.iter())),
    );
    for seq in all_seqs {
        for item in seq {
            if let Item::Word(w) = item {
                lexicon.insert(w.clone());
            }
        }
    }
    if lexicon.len() >= usize::from(GAP_BASE) - 1 {
        return Err(vec![format!(
            "{file}: too many distinct words ({})",
            lexicon.len()
        )]);
    }
    let words: Vec<&String> = lexicon.iter().collect();
    let id_of = |w: &str| -> u16 {
        words
            .binary_search_by(|x| x.as_str().cmp(w))
            .map(|i| narrow::<u16>(i + 1))
            .unwrap_or(0)
    };
    let num_words = words.len();
    let keys_of = |seq: &[Item]| -> Vec<u16> {
        seq.iter()
            .map(|i| match i {
                Item::Word(w) => id_of(w),
                Item::Gap(n) => GAP_BASE + u16::from(*n),
                Item::End => END_KEY,
            })
            .collect()
    };

    // Tries.
    let mut alias_trie = TrieBuilder::new();
    let mut alias_rhs_off = vec![0u32];
    let mut alias_rhs = Vec::new();
    for (i, a) in aliases.iter().enumerate() {
        let keys: Vec<u16> = a.lhs.iter().map(|w| id_of(w)).collect();
        alias_trie.insert(&keys, narrow(i));
        alias_rhs.extend(a.rhs.iter().map(|w| id_of(w)));
        alias_rhs_off.push(narrow::<u32>(alias_rhs.len()));
    }
    let mut neg_trie = TrieBuilder::new();
    let mut neg_kind = Vec::new();
    for (kind, seqs) in &neg_phrases {
        let entry: u16 = narrow(neg_kind.len());
        neg_kind.push(*kind);
        for seq in seqs {
            neg_trie.insert(&keys_of(seq), entry);
        }
    }
    let mut rule_trie = TrieBuilder::new();
    let mut phrase_rule = Vec::new();
    let mut max_span = 1u32;
    for (r, rule) in rules.iter().enumerate() {
        for seqs in &rule.phrases {
            let phrase = phrase_rule.len();
            if phrase >= usize::from(u16::MAX) {
                return Err(vec![format!("{file}: too many phrases")]);
            }
            phrase_rule.push(narrow::<u16>(r));
            for seq in seqs {
                let span: u32 = seq
                    .iter()
                    .map(|i| match i {
                        Item::Word(_) => 1,
                        Item::Gap(n) => u32::from(*n),
                        Item::End => 0,
                    })
                    .sum();
                max_span = max_span.max(span);
                rule_trie.insert(&keys_of(seq), narrow(phrase));
            }
        }
    }

    // Word attributes.
    let mut attr = vec![0u8; num_words + 1];
    for (list, person) in [
        (&first_person, PERSON_FIRST),
        (&second_person, PERSON_SECOND),
        (&third_person, PERSON_THIRD),
    ] {
        for w in list {
            attr[usize::from(id_of(w))] = (attr[usize::from(id_of(w))] & !3) | person;
        }
    }
    for w in &subject_pronouns {
        attr[usize::from(id_of(w))] |= ATTR_SUBJECT;
    }
    for w in &clause_breaks {
        attr[usize::from(id_of(w))] |= ATTR_CLAUSE_BREAK;
    }
    for w in &not_subjects {
        attr[usize::from(id_of(w))] |= ATTR_NOT_SUBJECT;
    }
    for (trie, bit) in [
        (&alias_trie, ATTR_ALIAS_START),
        (&neg_trie, ATTR_NEG_START),
        (&rule_trie, ATTR_RULE_START),
    ] {
        for &k in trie.children[0].keys() {
            if let Some(a) = attr.get_mut(usize::from(k)) {
                *a |= bit;
            }
        }
    }

    // Hash table (open addressing, load <= 1/2).
    let mut slots = 64usize;
    while slots < num_words * 2 + 2 {
        slots *= 2;
    }
    let mut hash_key = vec![0u32; slots];
    let mut hash_id = vec![0u16; slots];
    for (i, w) in words.iter().enumerate() {
        let h = normalize::hash(w.as_bytes());
        let mut s = h as usize & (slots - 1);
        while hash_key[s] != 0 {
            s = (s + 1) & (slots - 1);
        }
        hash_key[s] = h;
        hash_id[s] = narrow::<u16>(i + 1);
    }
    let mut word_text = String::new();
    let mut word_off = vec![0u32, 0u32];
    for w in &words {
        word_text.push_str(w);
        word_off.push(narrow::<u32>(word_text.len()));
    }

    // Emit.
    let mut out = String::new();
    out.push_str("// @generated by build.rs from rules/ruleset.toml: do not edit.\n");
    let _ = writeln!(
        out,
        "/// The ruleset's version string.\npub const VERSION: &str = {version:?};"
    );
    let _ = writeln!(
        out,
        "/// The ruleset's language.\npub const LANGUAGE: &str = {language:?};"
    );
    let _ = writeln!(
        out,
        "/// Engine parameters.\npub const PARAMS: Params = Params {{ negation_window: {negation_window}, long_negation_window: {long_negation_window}, subject_window: {subject_window}, echo_window: {echo_window}, echo_cap: {}, answer_window: {answer_window}, explain_passage_only: {explain_passage_only}, negated_severity: {}, third_person_severity: {}, second_person_severity: {}, none_confidence: {}, foreign_language_factor: {} }};",
        severity_expr(echo_cap),
        severity_expr(negated_severity),
        severity_expr(third_person_severity),
        severity_expr(second_person_severity),
        float(none_confidence),
        float(foreign_language_factor),
    );
    let _ = writeln!(
        out,
        "/// The word numbers of two or more digits read as (0 = keep them unknown).\npub const NUMBER_WORD: u16 = {};",
        number_word.as_deref().map_or(0, id_of)
    );
    let _ = writeln!(
        out,
        "/// The longest span (in words) a phrase can cover.\npub const MAX_SPAN: u32 = {max_span};"
    );
    let _ = writeln!(
        out,
        "/// Number of words in the lexicon.\npub const NUM_WORDS: usize = {num_words};"
    );
    let _ = writeln!(
        out,
        "/// The lexicon's words, concatenated.\npub static WORD_TEXT: &str = {word_text:?};"
    );
    static_array(
        &mut out,
        "Word `i` is `WORD_TEXT[WORD_OFF[i]..WORD_OFF[i + 1]]` (word 0 is the unknown word).",
        "WORD_OFF",
        "u32",
        &word_off,
    );
    static_array(
        &mut out,
        "Attributes of each word.",
        "WORD_ATTR",
        "u8",
        &attr,
    );
    let _ = writeln!(
        out,
        "/// Mask of the word hash table.\npub const HASH_MASK: usize = {};",
        slots - 1
    );
    static_array(
        &mut out,
        "Word hashes (0 = empty slot).",
        "HASH_KEY",
        "u32",
        &hash_key,
    );
    static_array(
        &mut out,
        "Word id of each hash slot.",
        "HASH_ID",
        "u16",
        &hash_id,
    );
    alias_trie
        .emit("ALIAS_TRIE", num_words, &mut out)
        .map_err(|e| vec![e])?;
    static_array(
        &mut out,
        "Alias `i` rewrites to `ALIAS_RHS[ALIAS_RHS_OFF[i]..ALIAS_RHS_OFF[i + 1]]`.",
        "ALIAS_RHS_OFF",
        "u32",
        &alias_rhs_off,
    );
    static_array(
        &mut out,
        "Alias right-hand sides.",
        "ALIAS_RHS",
        "u16",
        &alias_rhs,
    );
    neg_trie
        .emit("NEG_TRIE", num_words, &mut out)
        .map_err(|e| vec![e])?;
    static_array(
        &mut out,
        "Kind of each negation entry (0 pseudo, 1 cue, 2 long cue).",
        "NEG_KIND",
        "u8",
        &neg_kind,
    );
    rule_trie
        .emit("RULE_TRIE", num_words, &mut out)
        .map_err(|e| vec![e])?;
    static_array(
        &mut out,
        "The rule of each phrase.",
        "PHRASE_RULE",
        "u16",
        &phrase_rule,
    );
    let _ = writeln!(
        out,
        "/// Flag names; flag `i` is bit `1 << i`.\npub static FLAG_NAMES: [&str; {}] = {:?};",
        flag_names.len(),
        flag_names
    );
    let _ = writeln!(
        out,
        "/// The rules.\npub static RULES: [Rule; {}] = [",
        rules.len()
    );
    for r in &rules {
        let _ = writeln!(
            out,
            "    Rule {{ id: {:?}, severity: {}, weight: {}, flags: {:#x} }},",
            r.id,
            severity_expr(r.severity),
            float(r.weight),
            r.flags
        );
    }
    out.push_str("];\n");
    let _ = writeln!(
        out,
        "/// The combinations.\npub static COMBOS: [Combo; {}] = [",
        combos.len()
    );
    for c in &combos {
        let req: Vec<String> = c
            .requires
            .iter()
            .map(|(b, n)| format!("({b}, {n})"))
            .collect();
        let _ = writeln!(
            out,
            "    Combo {{ id: {:?}, severity: {}, weight: {}, window: {}, requires: &[{}], unless: {:#x} }},",
            c.id,
            severity_expr(c.severity),
            float(c.weight),
            c.window,
            req.join(", "),
            c.unless
        );
    }
    out.push_str("];\n");
    let opt = |x: Option<f64>| x.map_or("None".to_owned(), |v| format!("Some({})", float(v)));
    let _ = writeln!(
        out,
        "/// The signal rules.\npub static SIGNALS: [SignalRule; {}] = [",
        signals.len()
    );
    for s in &signals {
        let _ = writeln!(
            out,
            "    SignalRule {{ id: {:?}, min_similarity: {}, min_lead: {}, min_risk: {}, exemplar_at_least: {}, semantic_at_least: {}, max_sentiment: {}, min_sentiment: {}, requires: {:#x}, raise_to: {}, weight: {}, despite_negation: {} }},",
            s.id,
            opt(s.min_similarity),
            opt(s.min_lead),
            opt(s.min_risk),
            s.exemplar_at_least
                .map_or("None".to_owned(), |v| format!("Some({})", severity_expr(v))),
            s.semantic_at_least
                .map_or("None".to_owned(), |v| format!("Some({})", severity_expr(v))),
            opt(s.max_sentiment),
            opt(s.min_sentiment),
            s.requires,
            severity_expr(s.raise_to),
            float(s.weight),
            s.despite_negation
        );
    }
    out.push_str("];\n");
    Ok(out)
}
