//! A push tokenizer for XML: the file arrives in chunks of any size, split anywhere (inside a
//! tag, an attribute value, a comment, a multi-byte UTF-8 character), and the tokenizer keeps
//! only the incomplete item at a chunk's end (the *carry-over*), never the file.
//!
//! It reports start tags (name, attributes, whether empty) and end tags to a [`Handler`];
//! text content, comments, processing instructions, CDATA sections and the DOCTYPE (with its
//! internal subset: `<!ELEMENT …>`, `<!ATTLIST …>` with quoted defaults, comments, parameter
//! entity references) are skipped. The internal subset is read declaration by declaration,
//! so a large DTD never sits whole in the carry-over.
//!
//! It is lenient where a health export can be damaged without losing its meaning: a start
//! tag it cannot read is reported as [`Event::Malformed`] (skipped up to its `>`), end tag
//! names are not matched against their start tags, and an unknown entity in an attribute
//! value stays as written. It is strict about what says the input is not XML at all: text
//! or a broken tag before the first element, an element larger than [`MAX_ITEM`], a file
//! that ends inside an item.

use std::borrow::Cow;
use std::ops::Range;

/// The largest item (one tag, comment or DTD declaration) held across chunks: 1 MiB.
pub const MAX_ITEM: usize = 1024 * 1024;

/// Why the input cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlError {
    /// It is not XML (text or a broken tag before the first element, an empty file).
    NotXml(String),
    /// One item is larger than [`MAX_ITEM`].
    TooLarge,
    /// The input ends inside an item, the DOCTYPE, or an open element.
    Truncated(String),
    /// The handler refused the document.
    Rejected(String),
}

impl std::fmt::Display for XmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotXml(why) => write!(f, "not XML: {why}"),
            Self::TooLarge => write!(f, "an XML element is larger than {MAX_ITEM} bytes"),
            Self::Truncated(why) => write!(f, "the XML is truncated: {why}"),
            Self::Rejected(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for XmlError {}

/// A start tag's attributes, values undecoded until asked for.
#[derive(Debug, Clone, Copy)]
pub struct Attrs<'a> {
    buf: &'a [u8],
    list: &'a [(Range<usize>, Range<usize>)],
}

impl<'a> Attrs<'a> {
    /// The raw (undecoded) value of attribute `name`.
    #[must_use]
    pub fn raw(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.list
            .iter()
            .find(|(n, _)| &self.buf[n.clone()] == name)
            .map(|(_, v)| &self.buf[v.clone()])
    }

    /// The value of attribute `name`, entities decoded (invalid UTF-8 replaced).
    #[must_use]
    pub fn get(&self, name: &[u8]) -> Option<Cow<'a, str>> {
        self.raw(name).map(decode)
    }

    /// Every `(name, raw value)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + '_ {
        self.list
            .iter()
            .map(|(n, v)| (&self.buf[n.clone()], &self.buf[v.clone()]))
    }

    /// How many attributes there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// What the tokenizer reports.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// `<name attrs…>` or, when `empty`, `<name attrs…/>`.
    Start {
        /// The element's name.
        name: &'a [u8],
        /// Its attributes.
        attrs: Attrs<'a>,
        /// `/>`: no content and no end tag follow.
        empty: bool,
    },
    /// `</name>`.
    End {
        /// The element's name.
        name: &'a [u8],
    },
    /// A start tag that could not be read (skipped up to its `>`).
    Malformed,
}

/// Receives the tokenizer's events.
pub trait Handler {
    /// One event; an error stops the tokenizer.
    ///
    /// # Errors
    /// When the handler refuses the document (e.g. the wrong root element).
    fn event(&mut self, event: Event<'_>) -> Result<(), XmlError>;
}

/// An attribute value with `&amp;` `&lt;` `&gt;` `&quot;` `&apos;` `&#N;` `&#xH;` decoded; an
/// unknown or broken reference stays as written.
#[must_use]
pub fn decode(raw: &[u8]) -> Cow<'_, str> {
    if !raw.contains(&b'&') {
        return String::from_utf8_lossy(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'&'
            && let Some(len) = raw[i..].iter().take(12).position(|&b| b == b';')
        {
            let name = &raw[i + 1..i + len];
            let replaced: Option<char> = match name {
                b"amp" => Some('&'),
                b"lt" => Some('<'),
                b"gt" => Some('>'),
                b"quot" => Some('"'),
                b"apos" => Some('\''),
                [b'#', b'x' | b'X', hex @ ..] => std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32),
                [b'#', dec @ ..] => std::str::from_utf8(dec)
                    .ok()
                    .and_then(|d| d.parse::<u32>().ok())
                    .and_then(char::from_u32),
                _ => None,
            };
            if let Some(c) = replaced {
                let mut utf8 = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                i += len + 1;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Where the scanner is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Prolog, content, epilogue.
    Content,
    /// Inside the DOCTYPE's `[ … ]`.
    Subset,
}

/// One scanning step.
enum Step {
    /// An item of this many bytes was read.
    Done(usize),
    /// The item at the start is incomplete.
    More,
}

/// The tokenizer's state apart from the carry-over.
#[derive(Debug)]
struct Scanner {
    mode: Mode,
    depth: u32,
    seen_element: bool,
    attrs: Vec<(Range<usize>, Range<usize>)>,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':') || b >= 0x80
}

fn find(buf: &[u8], from: usize, byte: u8) -> Option<usize> {
    buf.get(from..)?
        .iter()
        .position(|&b| b == byte)
        .map(|at| at + from)
}

fn find_seq(buf: &[u8], from: usize, seq: &[u8]) -> Option<usize> {
    buf.get(from..)?
        .windows(seq.len())
        .position(|w| w == seq)
        .map(|at| at + from)
}

/// The first of `stops` at or after `from`, outside quoted literals.
fn find_unquoted(buf: &[u8], from: usize, stops: &[u8]) -> Option<usize> {
    let mut quote = 0u8;
    for (at, &b) in buf.iter().enumerate().skip(from) {
        if quote != 0 {
            if b == quote {
                quote = 0;
            }
        } else if b == b'"' || b == b'\'' {
            quote = b;
        } else if stops.contains(&b) {
            return Some(at);
        }
    }
    None
}

/// Whether `buf` starts with `pat`: `None` while `buf` is too short to tell.
fn starts(buf: &[u8], pat: &[u8]) -> Option<bool> {
    if buf.len() >= pat.len() {
        Some(buf.starts_with(pat))
    } else if pat.starts_with(buf) {
        None
    } else {
        Some(false)
    }
}

fn done_at(end: Option<usize>, extra: usize) -> Step {
    end.map_or(Step::More, |at| Step::Done(at + extra))
}

impl Scanner {
    fn step(&mut self, buf: &[u8], h: &mut impl Handler) -> Result<Step, XmlError> {
        match self.mode {
            Mode::Content => self.content(buf, h),
            Mode::Subset => Self::subset(&mut self.mode, buf),
        }
    }

    fn content(&mut self, buf: &[u8], h: &mut impl Handler) -> Result<Step, XmlError> {
        if buf[0] != b'<' {
            let end = find(buf, 0, b'<').unwrap_or(buf.len());
            // Before the first element only white space (and a byte-order mark) may stand.
            if !self.seen_element
                && buf[..end]
                    .iter()
                    .any(|&b| !is_ws(b) && !matches!(b, 0xEF | 0xBB | 0xBF))
            {
                return Err(XmlError::NotXml("text before the first element".to_owned()));
            }
            return Ok(Step::Done(end));
        }
        let Some(&second) = buf.get(1) else {
            return Ok(Step::More);
        };
        match second {
            b'?' => Ok(done_at(find_seq(buf, 2, b"?>"), 2)),
            b'!' => self.bang(buf),
            b'/' => match find(buf, 2, b'>') {
                None => Ok(Step::More),
                Some(at) => {
                    let name = buf[2..at].trim_ascii();
                    self.depth = self.depth.saturating_sub(1);
                    h.event(Event::End { name })?;
                    Ok(Step::Done(at + 1))
                }
            },
            _ => self.start_tag(buf, h),
        }
    }

    fn bang(&mut self, buf: &[u8]) -> Result<Step, XmlError> {
        let comment = starts(buf, b"<!--");
        let cdata = starts(buf, b"<![CDATA[");
        let doctype = starts(buf, b"<!DOCTYPE");
        if comment == Some(true) {
            return Ok(done_at(find_seq(buf, 4, b"-->"), 3));
        }
        if cdata == Some(true) {
            return Ok(done_at(find_seq(buf, 9, b"]]>"), 3));
        }
        if doctype == Some(true) {
            return Ok(match find_unquoted(buf, 9, b"[>") {
                None => Step::More,
                Some(at) => {
                    if buf[at] == b'[' {
                        self.mode = Mode::Subset;
                    }
                    Step::Done(at + 1)
                }
            });
        }
        if comment.is_none() || cdata.is_none() || doctype.is_none() {
            return Ok(Step::More);
        }
        if !self.seen_element {
            return Err(XmlError::NotXml("an unknown declaration".to_owned()));
        }
        Ok(done_at(find_unquoted(buf, 2, b">"), 1))
    }

    /// One item of the DOCTYPE's internal subset.
    fn subset(mode: &mut Mode, buf: &[u8]) -> Result<Step, XmlError> {
        let first = buf[0];
        if is_ws(first) {
            let end = buf.iter().position(|&b| !is_ws(b)).unwrap_or(buf.len());
            return Ok(Step::Done(end));
        }
        match first {
            b']' => {
                let Some(at) = buf[1..].iter().position(|&b| !is_ws(b)) else {
                    return Ok(Step::More);
                };
                if buf[1 + at] == b'>' {
                    *mode = Mode::Content;
                    Ok(Step::Done(at + 2))
                } else {
                    Err(XmlError::NotXml("a DOCTYPE not closed by `]>`".to_owned()))
                }
            }
            b'%' => Ok(done_at(find(buf, 1, b';'), 1)),
            b'<' => match buf.get(1) {
                None => Ok(Step::More),
                Some(b'?') => Ok(done_at(find_seq(buf, 2, b"?>"), 2)),
                Some(b'!') => match starts(buf, b"<!--") {
                    None => Ok(Step::More),
                    Some(true) => Ok(done_at(find_seq(buf, 4, b"-->"), 3)),
                    Some(false) => Ok(done_at(find_unquoted(buf, 2, b">"), 1)),
                },
                Some(_) => Err(XmlError::NotXml("a tag inside the DOCTYPE".to_owned())),
            },
            _ => Err(XmlError::NotXml("text inside the DOCTYPE".to_owned())),
        }
    }

    /// A tag that cannot be read: skipped up to its `>`.
    fn malformed(&self, buf: &[u8], h: &mut impl Handler) -> Result<Step, XmlError> {
        if !self.seen_element {
            return Err(XmlError::NotXml(
                "a broken tag before the first element".to_owned(),
            ));
        }
        match find(buf, 1, b'>') {
            None => Ok(Step::More),
            Some(at) => {
                h.event(Event::Malformed)?;
                Ok(Step::Done(at + 1))
            }
        }
    }

    fn start_tag(&mut self, buf: &[u8], h: &mut impl Handler) -> Result<Step, XmlError> {
        let len = buf.len();
        let mut i = 1;
        while i < len && is_name_byte(buf[i]) {
            i += 1;
        }
        if i == len {
            return Ok(Step::More);
        }
        if i == 1 {
            return self.malformed(buf, h);
        }
        let name = 1..i;
        self.attrs.clear();
        let (end, empty) = loop {
            while i < len && is_ws(buf[i]) {
                i += 1;
            }
            if i == len {
                return Ok(Step::More);
            }
            match buf[i] {
                b'>' => break (i + 1, false),
                b'/' => match buf.get(i + 1) {
                    None => return Ok(Step::More),
                    Some(b'>') => break (i + 2, true),
                    Some(_) => return self.malformed(buf, h),
                },
                _ => {
                    let attr = i;
                    while i < len && is_name_byte(buf[i]) {
                        i += 1;
                    }
                    if i == len {
                        return Ok(Step::More);
                    }
                    if i == attr {
                        return self.malformed(buf, h);
                    }
                    let attr = attr..i;
                    while i < len && is_ws(buf[i]) {
                        i += 1;
                    }
                    if i == len {
                        return Ok(Step::More);
                    }
                    if buf[i] != b'=' {
                        return self.malformed(buf, h);
                    }
                    i += 1;
                    while i < len && is_ws(buf[i]) {
                        i += 1;
                    }
                    if i == len {
                        return Ok(Step::More);
                    }
                    let quote = buf[i];
                    if quote != b'"' && quote != b'\'' {
                        return self.malformed(buf, h);
                    }
                    let Some(close) = find(buf, i + 1, quote) else {
                        return Ok(Step::More);
                    };
                    self.attrs.push((attr, i + 1..close));
                    i = close + 1;
                }
            }
        };
        self.seen_element = true;
        if !empty {
            self.depth += 1;
        }
        h.event(Event::Start {
            name: &buf[name],
            attrs: Attrs {
                buf,
                list: &self.attrs,
            },
            empty,
        })?;
        Ok(Step::Done(end))
    }
}

/// The push tokenizer: [`write`](Self::write) chunks, then [`finish`](Self::finish).
#[derive(Debug)]
pub struct Tokenizer {
    scanner: Scanner,
    carry: Vec<u8>,
    peak_carry: usize,
    bytes: u64,
}

impl Default for Tokenizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Tokenizer {
    /// A tokenizer at the start of a document.
    #[must_use]
    pub fn new() -> Self {
        Self {
            scanner: Scanner {
                mode: Mode::Content,
                depth: 0,
                seen_element: false,
                attrs: Vec::new(),
            },
            carry: Vec::new(),
            peak_carry: 0,
            bytes: 0,
        }
    }

    /// The largest carry-over held between two chunks, in bytes.
    #[must_use]
    pub fn peak_carry(&self) -> usize {
        self.peak_carry
    }

    /// The bytes written so far.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Reads every complete item of `buf` from the start: the bytes consumed.
    fn drain(scanner: &mut Scanner, buf: &[u8], h: &mut impl Handler) -> Result<usize, XmlError> {
        let mut at = 0;
        while at < buf.len() {
            match scanner.step(&buf[at..], h)? {
                Step::Done(n) => at += n,
                Step::More => break,
            }
        }
        Ok(at)
    }

    /// The next chunk: its complete items are reported to `h`, its incomplete tail kept.
    ///
    /// # Errors
    /// [`XmlError`] when the input is not XML, an item exceeds [`MAX_ITEM`], or `h` refuses.
    pub fn write(&mut self, mut chunk: &[u8], h: &mut impl Handler) -> Result<(), XmlError> {
        self.bytes += chunk.len() as u64;
        // First complete the item carried over, moving bytes over a little at a time (at
        // least as many as already carried, so a large item is rescanned a few times only).
        while !self.carry.is_empty() {
            if chunk.is_empty() {
                return Ok(());
            }
            let take = chunk.len().min(self.carry.len().max(4096));
            self.carry.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            let used = Self::drain(&mut self.scanner, &self.carry, h)?;
            self.carry.drain(..used);
            if self.carry.len() > MAX_ITEM {
                return Err(XmlError::TooLarge);
            }
        }
        let used = Self::drain(&mut self.scanner, chunk, h)?;
        let rest = &chunk[used..];
        if rest.len() > MAX_ITEM {
            return Err(XmlError::TooLarge);
        }
        self.carry.extend_from_slice(rest);
        self.peak_carry = self.peak_carry.max(self.carry.len());
        Ok(())
    }

    /// The end of the input.
    ///
    /// # Errors
    /// [`XmlError::Truncated`] when it ends inside an item, the DOCTYPE or an open element;
    /// [`XmlError::NotXml`] when it held no element.
    pub fn finish(&mut self) -> Result<(), XmlError> {
        if !self.carry.is_empty() {
            return Err(XmlError::Truncated("it ends inside a tag".to_owned()));
        }
        if self.scanner.mode == Mode::Subset {
            return Err(XmlError::Truncated("it ends inside the DOCTYPE".to_owned()));
        }
        if !self.scanner.seen_element {
            return Err(XmlError::NotXml("no element".to_owned()));
        }
        if self.scanner.depth != 0 {
            return Err(XmlError::Truncated(format!(
                "{} element(s) left open",
                self.scanner.depth
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records events as text lines.
    #[derive(Default)]
    struct Log(Vec<String>);

    impl Handler for Log {
        fn event(&mut self, event: Event<'_>) -> Result<(), XmlError> {
            let line = match event {
                Event::Start { name, attrs, empty } => {
                    let mut line = format!("<{}", String::from_utf8_lossy(name));
                    for (n, _) in attrs.iter() {
                        let n = String::from_utf8_lossy(n).into_owned();
                        let v = attrs.get(n.as_bytes()).unwrap_or_default();
                        line.push_str(&format!(" {n}={v:?}"));
                    }
                    line.push_str(if empty { "/>" } else { ">" });
                    line
                }
                Event::End { name } => format!("</{}>", String::from_utf8_lossy(name)),
                Event::Malformed => "MALFORMED".to_owned(),
            };
            self.0.push(line);
            Ok(())
        }
    }

    fn run(chunks: &[&[u8]]) -> Result<Vec<String>, XmlError> {
        let mut t = Tokenizer::new();
        let mut log = Log::default();
        for c in chunks {
            t.write(c, &mut log)?;
        }
        t.finish()?;
        Ok(log.0)
    }

    const DOC: &str = "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<!DOCTYPE HealthData [\n\
<!-- HealthKit Export Version: 13 ]> tricky -->\n\
<!ELEMENT HealthData (ExportDate,Me,(Record|Workout)*)>\n\
<!ATTLIST HealthData\n  locale CDATA #REQUIRED\n>\n\
<!ATTLIST Record\n  type CDATA #REQUIRED\n  unit CDATA \"]>\" \n>\n\
%pe;\n\
]>\n\
<HealthData locale=\"en_US\">\n\
 <!-- a comment with <Record type=\"x\"/> inside -->\n\
 <Record type='A&amp;B' sourceName=\"Jane&#8217;s Watch &lt;2&gt;\" note=\"l1&#10;l2 &quot;q&quot; &apos;s&apos; &#x41; &bogus; &\"/>\n\
 <Record type=\"HR\" value=\"61\">\n  <MetadataEntry key=\"k\" value=\"v\"/>\n </Record >\n\
 <![CDATA[ <Record type=\"no\"/> ]]>\n\
</HealthData>\n";

    #[test]
    fn reads_a_document_with_doctype_comments_entities_and_nesting() {
        let events = run(&[DOC.as_bytes()]).expect("parses");
        assert_eq!(
            events,
            vec![
                "<HealthData locale=\"en_US\">".to_owned(),
                "<Record type=\"A&B\" sourceName=\"Jane’s Watch <2>\" note=\"l1\\nl2 \\\"q\\\" 's' A &bogus; &\"/>".to_owned(),
                "<Record type=\"HR\" value=\"61\">".to_owned(),
                "<MetadataEntry key=\"k\" value=\"v\"/>".to_owned(),
                "</Record>".to_owned(),
                "</HealthData>".to_owned(),
            ]
        );
    }

    #[test]
    fn every_split_point_and_byte_by_byte_give_the_same_events() {
        let bytes = DOC.as_bytes();
        let whole = run(&[bytes]).expect("parses");
        for at in 0..=bytes.len() {
            assert_eq!(
                run(&[&bytes[..at], &bytes[at..]]).as_ref(),
                Ok(&whole),
                "split at {at}"
            );
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(run(&singles), Ok(whole));
    }

    #[test]
    fn not_xml_is_refused_early() {
        assert!(matches!(
            run(&[b"PK\x03\x04 zip bytes"]),
            Err(XmlError::NotXml(_))
        ));
        assert!(matches!(
            run(&[b"{\"samples\": []}"]),
            Err(XmlError::NotXml(_))
        ));
        assert!(matches!(run(&[b"<<<"]), Err(XmlError::NotXml(_))));
        assert!(matches!(run(&[b"   \n"]), Err(XmlError::NotXml(_))));
        assert!(matches!(run(&[b""]), Err(XmlError::NotXml(_))));
    }

    #[test]
    fn truncation_is_reported() {
        assert!(matches!(
            run(&[b"<a><b x=\"1"]),
            Err(XmlError::Truncated(_))
        ));
        assert!(matches!(run(&[b"<a><b/>"]), Err(XmlError::Truncated(_))));
        assert!(matches!(
            run(&[b"<!DOCTYPE a [ <!ELEMENT a ANY>"]),
            Err(XmlError::Truncated(_))
        ));
    }

    #[test]
    fn broken_tags_inside_the_document_are_skipped_and_reported() {
        let events = run(&[b"<a><b x=1/><c y=\"2\"/><d =\"3\"/></a>"]).expect("parses");
        assert_eq!(
            events,
            vec!["<a>", "MALFORMED", "<c y=\"2\"/>", "MALFORMED", "</a>"]
        );
    }

    #[test]
    fn the_carry_over_is_capped() {
        let mut t = Tokenizer::new();
        let mut log = Log::default();
        t.write(b"<a><b v=\"", &mut log).expect("starts");
        let big = vec![b'x'; 64 * 1024];
        let mut result = Ok(());
        for _ in 0..20 {
            result = t.write(&big, &mut log);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(XmlError::TooLarge));
        assert!(t.peak_carry() <= MAX_ITEM);
    }

    #[test]
    fn a_large_element_below_the_cap_passes_in_small_chunks() {
        let mut doc = b"<a><b v=\"".to_vec();
        doc.extend(std::iter::repeat_n(b'>', 300_000));
        doc.extend_from_slice(b"\"/></a>");
        let chunks: Vec<&[u8]> = doc.chunks(1000).collect();
        let events = run(&chunks).expect("parses");
        assert_eq!(events.len(), 3);
    }
}
