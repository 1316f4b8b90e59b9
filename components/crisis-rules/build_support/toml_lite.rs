//! A small reader for the subset of TOML the ruleset uses, with line numbers in every error.
//!
//! Supported: `# comments`, `[table]`, `[[array-of-tables]]`, `key = value` with bare or
//! double-quoted keys, and values that are basic strings (`"..."` with `\" \\ \n \t`
//! escapes), literal strings (`'...'`), numbers, booleans and arrays of those (arrays may
//! span lines and end with a trailing comma). Inline tables, dotted keys, multi-line strings
//! and dates are not supported and are reported as errors.

use std::fmt;

/// A value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string.
    Str(String),
    /// A number (integers are read as floats).
    Num(f64),
    /// A boolean.
    Bool(bool),
    /// An array, each element with its line.
    Arr(Vec<(Value, usize)>),
}

impl Value {
    /// What kind of value this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Num(_) => "a number",
            Value::Bool(_) => "a boolean",
            Value::Arr(_) => "an array",
        }
    }
}

/// `key = value` at `line`.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Value,
    /// 1-based line of the key.
    pub line: usize,
}

/// A table: `[name]` or one element of `[[name]]`.
#[derive(Debug, Clone)]
pub struct Table {
    /// The table's name (empty for keys before the first header).
    pub name: String,
    /// Whether it was written `[[name]]`.
    pub array: bool,
    /// 1-based line of the header.
    pub line: usize,
    /// Its entries, in order.
    pub entries: Vec<Entry>,
}

/// A parse error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    line: usize,
}

impl Parser<'_> {
    fn err<T>(&self, message: impl Into<String>) -> Result<T, Error> {
        Err(Error {
            line: self.line,
            message: message.into(),
        })
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    /// Skips spaces and tabs (not newlines).
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    /// Skips spaces, tabs, newlines and comments.
    fn skip_ws_nl(&mut self) {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r') => self.pos += 1,
                Some(b'\n') => {
                    self.pos += 1;
                    self.line += 1;
                }
                Some(b'#') => self.skip_comment(),
                _ => return,
            }
        }
    }

    fn skip_comment(&mut self) {
        while let Some(b) = self.peek() {
            if b == b'\n' {
                return;
            }
            self.pos += 1;
        }
    }

    /// Expects the end of a line (optionally after a comment).
    fn end_of_line(&mut self) -> Result<(), Error> {
        self.skip_ws();
        match self.peek() {
            None => Ok(()),
            Some(b'\r' | b'\n' | b'#') => {
                self.skip_comment();
                Ok(())
            }
            Some(b) => self.err(format!(
                "unexpected `{}` after the value (one `key = value` per line)",
                b as char
            )),
        }
    }

    fn basic_string(&mut self) -> Result<String, Error> {
        self.pos += 1; // opening quote
        if self.s[self.pos..].starts_with(b"\"\"") {
            return self.err("multi-line strings (\"\"\") are not supported");
        }
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\n') => return self.err("unterminated string (missing `\"`)"),
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    let e = self.s.get(self.pos + 1).copied();
                    let c = match e {
                        Some(b'"') => b'"',
                        Some(b'\\') => b'\\',
                        Some(b'n') => b'\n',
                        Some(b't') => b'\t',
                        _ => {
                            return self
                                .err("unsupported escape in string (use \\\" \\\\ \\n \\t)");
                        }
                    };
                    out.push(c);
                    self.pos += 2;
                }
                Some(b) => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
        String::from_utf8(out).or_else(|_| self.err("string is not valid UTF-8"))
    }

    fn literal_string(&mut self) -> Result<String, Error> {
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.peek() {
                None | Some(b'\n') => return self.err("unterminated string (missing `'`)"),
                Some(b'\'') => break,
                Some(_) => self.pos += 1,
            }
        }
        let text = String::from_utf8(self.s[start..self.pos].to_vec())
            .or_else(|_| self.err("string is not valid UTF-8"))?;
        self.pos += 1;
        Ok(text)
    }

    fn value(&mut self) -> Result<Value, Error> {
        match self.peek() {
            Some(b'"') => Ok(Value::Str(self.basic_string()?)),
            Some(b'\'') => Ok(Value::Str(self.literal_string()?)),
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws_nl();
                    match self.peek() {
                        None => return self.err("unterminated array (missing `]`)"),
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Value::Arr(items));
                        }
                        _ => {}
                    }
                    let line = self.line;
                    items.push((self.value()?, line));
                    self.skip_ws_nl();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {}
                        None => return self.err("unterminated array (missing `]`)"),
                        Some(b) => {
                            return self.err(format!(
                                "expected `,` or `]` in array, found `{}`",
                                b as char
                            ));
                        }
                    }
                }
            }
            Some(b'{') => self.err("inline tables are not supported"),
            Some(_) => {
                let start = self.pos;
                while let Some(b) = self.peek() {
                    if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'_') {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                let word = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
                match word {
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    "" => {
                        self.err("expected a value (a \"string\", a number, true/false or [array])")
                    }
                    _ => match word.replace('_', "").parse::<f64>() {
                        Ok(n) if n.is_finite() => Ok(Value::Num(n)),
                        _ => self.err(format!(
                            "`{word}` is not a value (strings need quotes: \"{word}\")"
                        )),
                    },
                }
            }
            None => self.err("expected a value after `=`"),
        }
    }

    fn key(&mut self) -> Result<String, Error> {
        match self.peek() {
            Some(b'"') => self.basic_string(),
            Some(b'\'') => self.literal_string(),
            _ => {
                let start = self.pos;
                while let Some(b) = self.peek() {
                    if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                if start == self.pos {
                    return self.err("expected a key (`name = value`)");
                }
                Ok(String::from_utf8_lossy(&self.s[start..self.pos]).into_owned())
            }
        }
    }
}

/// Parses `text` into its tables, in order. The first table (name `""`) holds keys that come
/// before any header.
///
/// # Errors
/// The first syntax error, with its line.
pub fn parse(text: &str) -> Result<Vec<Table>, Error> {
    let mut p = Parser {
        s: text.as_bytes(),
        pos: 0,
        line: 1,
    };
    let mut tables = vec![Table {
        name: String::new(),
        array: false,
        line: 1,
        entries: Vec::new(),
    }];
    loop {
        p.skip_ws_nl();
        let Some(b) = p.peek() else { break };
        if b == b'[' {
            let array = p.s.get(p.pos + 1) == Some(&b'[');
            p.pos += if array { 2 } else { 1 };
            p.skip_ws();
            let name = p.key()?;
            p.skip_ws();
            let close: &[u8] = if array { b"]]" } else { b"]" };
            if !p.s[p.pos..].starts_with(close) {
                return p.err(format!(
                    "table header must end with `{}` (dotted names are not supported)",
                    String::from_utf8_lossy(close)
                ));
            }
            p.pos += close.len();
            if !array && tables.iter().any(|t| t.name == name) {
                return p.err(format!("table [{name}] is defined twice"));
            }
            tables.push(Table {
                name,
                array,
                line: p.line,
                entries: Vec::new(),
            });
            p.end_of_line()?;
            continue;
        }
        let line = p.line;
        let key = p.key()?;
        p.skip_ws();
        if p.peek() == Some(b'.') {
            return p.err("dotted keys are not supported");
        }
        if p.peek() != Some(b'=') {
            return p.err(format!("expected `=` after key `{key}`"));
        }
        p.pos += 1;
        p.skip_ws();
        let value = p.value()?;
        p.end_of_line()?;
        let Some(table) = tables.last_mut() else {
            return p.err("internal error: no table");
        };
        if table.entries.iter().any(|e| e.key == key) {
            return Err(Error {
                line,
                message: format!("key `{key}` is set twice in the same table"),
            });
        }
        table.entries.push(Entry { key, value, line });
    }
    Ok(tables)
}
