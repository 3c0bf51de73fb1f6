//! Jepsen's EDN: `history.edn` files and the EDN text of single values.
//!
//! The reader is a hand-written byte-level recursive-descent parser. It
//! allocates only for the strings it keeps, limits nesting to
//! [`MAX_DEPTH`] levels, never panics, and names the line, column and
//! what was expected in every error. Large files with one op map per line
//! are parsed in parallel chunks.
//!
//! ```
//! use history::{edn, OpType, Value};
//! let h = edn::read(b"{:process 0, :type :invoke, :f :cas, :value [1 2]}").unwrap();
//! assert_eq!(h.ops()[0].kind, OpType::Invoke);
//! assert_eq!(h.ops()[0].value, Value::Vector(vec![Value::Int(1), Value::Int(2)]));
//! assert_eq!(h.ops()[0].value.to_string(), "[1 2]");
//! ```

use crate::{History, Op, OpType, ParseError, Process, Value};
use std::fmt;
use std::io;

/// The deepest nesting of collections and tagged values the readers accept.
pub const MAX_DEPTH: usize = 256;

/// Inputs larger than this are split into chunks parsed in parallel (when
/// every chunk starts with an op map at the beginning of a line).
const PARALLEL_THRESHOLD: usize = 4 << 20;

// ---------------------------------------------------------------------------
// Writing

/// Writes `v` as EDN text: `nil`, `true`, `42`, `1.5`, `"a\"b"`, `:kw`,
/// `sym`, `[1 2]`, `{:a 1, "b" 2}`, `#{1 2}`, `#tag value`.
///
/// Floats are written in Rust's shortest round-trip form, with `.0` when
/// integral (`1.0`, `0.1`, `1e20`), so [`parse_value`] reads back the
/// same bits; non-finite floats are `##NaN`, `##Inf` and `##-Inf`.
pub fn write_value(out: &mut impl fmt::Write, v: &Value) -> fmt::Result {
    match v {
        Value::Nil => out.write_str("nil"),
        Value::Bool(true) => out.write_str("true"),
        Value::Bool(false) => out.write_str("false"),
        Value::Int(i) => write!(out, "{i}"),
        Value::Float(x) => write_float(out, *x),
        Value::Str(s) => write_string(out, s),
        Value::Keyword(k) => {
            out.write_char(':')?;
            out.write_str(k)
        }
        Value::Symbol(s) => out.write_str(s),
        Value::Vector(items) => {
            out.write_char('[')?;
            write_items(out, items)?;
            out.write_char(']')
        }
        Value::Set(items) => {
            out.write_str("#{")?;
            write_items(out, items)?;
            out.write_char('}')
        }
        Value::Map(entries) => {
            out.write_char('{')?;
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.write_str(", ")?;
                }
                write_value(out, k)?;
                out.write_char(' ')?;
                write_value(out, v)?;
            }
            out.write_char('}')
        }
        Value::Tagged(tag, inner) => {
            out.write_char('#')?;
            out.write_str(tag)?;
            out.write_char(' ')?;
            write_value(out, inner)
        }
    }
}

fn write_items(out: &mut impl fmt::Write, items: &[Value]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.write_char(' ')?;
        }
        write_value(out, item)?;
    }
    Ok(())
}

fn write_float(out: &mut impl fmt::Write, x: f64) -> fmt::Result {
    if x.is_nan() {
        out.write_str("##NaN")
    } else if x.is_infinite() {
        out.write_str(if x > 0.0 { "##Inf" } else { "##-Inf" })
    } else {
        // `{:?}` is the shortest representation that reads back exactly and
        // always has a `.` or an exponent, so it reads back as a float.
        write!(out, "{x:?}")
    }
}

/// Writes `s` as an EDN string literal with escapes.
fn write_string(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    out.write_char('"')?;
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\t' => "\\t",
            b'\r' => "\\r",
            0..=0x1f | 0x7f => "",
            _ => continue,
        };
        out.write_str(s.get(run..i).unwrap_or_default())?;
        if escape.is_empty() {
            write!(out, "\\u{b:04x}")?;
        } else {
            out.write_str(escape)?;
        }
        run = i + 1;
    }
    out.write_str(s.get(run..).unwrap_or_default())?;
    out.write_char('"')
}

/// Whether `name` can be written as `:name` and read back as the same keyword.
pub(crate) fn is_keyword_name(name: &str) -> bool {
    !name.is_empty() && !name.bytes().any(is_delimiter)
}

/// EDN text of a value, cut to a readable length, for error messages.
pub(crate) fn show(v: &Value) -> String {
    let mut s = String::new();
    let _ = write_value(&mut s, v);
    shorten(s)
}

pub(crate) fn shorten(mut s: String) -> String {
    const LIMIT: usize = 60;
    if s.len() > LIMIT {
        let mut cut = LIMIT;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// Writes a history as EDN, one op map per line:
/// `{:index 0, :time 12, :type :invoke, :process 0, :f :write, :key 1, :value 3}`.
///
/// `:time` is written only when it is not negative, `:key` and `:error`
/// only when present, and extra fields follow in their order. Named
/// processes are keywords (`:nemesis`).
pub fn write(h: &History, out: &mut impl io::Write) -> io::Result<()> {
    use io::Write as _;
    let mut out = io::BufWriter::with_capacity(1 << 16, out);
    let mut line = String::with_capacity(256);
    for op in h.ops() {
        line.clear();
        write_op(&mut line, op).map_err(|_| io::Error::other("formatting an op failed"))?;
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    out.flush()
}

fn write_name(out: &mut String, name: &str) -> fmt::Result {
    if is_keyword_name(name) {
        out.push(':');
        out.push_str(name);
        Ok(())
    } else {
        write_string(out, name)
    }
}

fn write_op(out: &mut String, op: &Op) -> fmt::Result {
    use fmt::Write;
    write!(out, "{{:index {}", op.index)?;
    if op.time >= 0 {
        write!(out, ", :time {}", op.time)?;
    }
    out.push_str(", :type :");
    out.push_str(op.kind.name());
    out.push_str(", :process ");
    match &op.process {
        Process::Client(p) => write!(out, "{p}")?,
        Process::Named(n) => write_name(out, n)?,
    }
    out.push_str(", :f ");
    write_name(out, &op.f)?;
    if let Some(key) = &op.key {
        out.push_str(", :key ");
        write_value(out, key)?;
    }
    out.push_str(", :value ");
    write_value(out, &op.value)?;
    if let Some(error) = &op.error {
        out.push_str(", :error ");
        write_value(out, error)?;
    }
    for (name, v) in &op.extra {
        out.push_str(", ");
        if is_keyword_name(name) && !is_op_field(name) {
            out.push(':');
            out.push_str(name);
        } else if !is_op_field(name) && parse_value(name).is_ok() {
            // A non-keyword key, kept as its EDN text when it was read.
            out.push_str(name);
        } else {
            write_string(out, name)?;
        }
        out.push(' ');
        write_value(out, v)?;
    }
    out.push('}');
    Ok(())
}

fn is_op_field(name: &str) -> bool {
    matches!(
        name,
        "index" | "time" | "type" | "process" | "f" | "value" | "key" | "error"
    )
}

// ---------------------------------------------------------------------------
// The cursor shared by the readers

/// A saved position: byte offset, line and the offset where that line starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    pos: usize,
    line: u32,
    line_start: usize,
}

impl Mark {
    /// The 1-based line.
    pub(crate) fn line(&self) -> u32 {
        self.line
    }
}

/// A position in a text being parsed, with line tracking for errors.
pub(crate) struct Cursor<'a> {
    pub(crate) text: &'a str,
    pub(crate) b: &'a [u8],
    pub(crate) pos: usize,
    pub(crate) line: u32,
    pub(crate) line_start: usize,
    /// Added to columns on the text's first line (when the text is a slice of a line).
    col_base: u32,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `text`, which is line 1.
    pub(crate) fn new(text: &'a str) -> Cursor<'a> {
        Cursor::with_origin(text, 1, 0)
    }

    /// A cursor at the start of `text`, which starts at `line` and column `col_base + 1`.
    pub(crate) fn with_origin(text: &'a str, line: u32, col_base: u32) -> Cursor<'a> {
        Cursor {
            text,
            b: text.as_bytes(),
            pos: 0,
            line,
            line_start: 0,
            col_base,
        }
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    #[inline]
    pub(crate) fn peek_at(&self, offset: usize) -> Option<u8> {
        self.b.get(self.pos + offset).copied()
    }

    #[inline]
    pub(crate) fn mark(&self) -> Mark {
        Mark {
            pos: self.pos,
            line: self.line,
            line_start: self.line_start,
        }
    }

    pub(crate) fn reset(&mut self, m: Mark) {
        self.pos = m.pos;
        self.line = m.line;
        self.line_start = m.line_start;
    }

    /// Records that a `\n` was just consumed.
    #[inline]
    pub(crate) fn newline(&mut self) {
        self.line = self.line.saturating_add(1);
        self.line_start = self.pos;
    }

    pub(crate) fn column_of(&self, m: Mark) -> u32 {
        let col = u32::try_from(m.pos - m.line_start + 1).unwrap_or(u32::MAX);
        if m.line_start == 0 {
            col.saturating_add(self.col_base)
        } else {
            col
        }
    }

    pub(crate) fn error_at(&self, m: Mark, message: impl Into<String>) -> ParseError {
        ParseError {
            line: m.line,
            column: self.column_of(m),
            message: message.into(),
        }
    }

    pub(crate) fn error(&self, message: impl Into<String>) -> ParseError {
        self.error_at(self.mark(), message)
    }

    /// Describes what is at the cursor: `'x'` or `end of input`.
    pub(crate) fn found(&self) -> String {
        match self.text.get(self.pos..).and_then(|s| s.chars().next()) {
            Some(c) => format!("{c:?}"),
            None => "end of input".to_string(),
        }
    }

    pub(crate) fn slice(&self, from: usize, to: usize) -> Result<&'a str, ParseError> {
        self.text
            .get(from..to)
            .ok_or_else(|| self.error("internal error: slice is not on a character boundary"))
    }
}

/// Checks that `bytes` are UTF-8, with an error naming the line and column of the first bad byte.
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, ParseError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let before = bytes.get(..at).unwrap_or_default();
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let byte = bytes.get(at).copied().unwrap_or_default();
        ParseError {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(at - line_start + 1).unwrap_or(u32::MAX),
            message: format!("expected UTF-8 text, found the invalid byte 0x{byte:02x}"),
        }
    })
}

/// Bytes that end a symbol, keyword or number token: whitespace and control
/// characters, `,`, brackets, `"`, `;` and `\`.
static DELIMITERS: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        table[i] = c <= b' '
            || matches!(
                c,
                b',' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b';' | b'\\'
            );
        i += 1;
    }
    table
};

#[inline]
fn is_delimiter(c: u8) -> bool {
    DELIMITERS[usize::from(c)]
}

/// Whether a token ends at `c`: end of input or a delimiter.
#[inline]
fn ends_token(c: Option<&u8>) -> bool {
    match c {
        None => true,
        Some(&c) => is_delimiter(c),
    }
}

fn is_symbol_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c >= 0x80 || b"*!_?<>=./&%$|'".contains(&c)
}

fn closing_name(c: u8) -> &'static str {
    match c {
        b')' => "')'",
        b']' => "']'",
        _ => "'}'",
    }
}

// ---------------------------------------------------------------------------
// Reading values

impl<'a> Cursor<'a> {
    /// Skips whitespace, commas, `;` and `#!` comments, and `#_` discarded forms.
    #[inline]
    fn skip(&mut self, depth: usize) -> Result<(), ParseError> {
        match self.peek() {
            Some(b' ' | b'\t' | b'\r' | b'\n' | b',' | b';' | b'#' | 0x0b | 0x0c) => {
                self.skip_slow(depth)
            }
            _ => Ok(()),
        }
    }

    fn skip_slow(&mut self, depth: usize) -> Result<(), ParseError> {
        loop {
            let Some(c) = self.peek() else { return Ok(()) };
            match c {
                b' ' | b'\t' | b'\r' | b',' | 0x0b | 0x0c => self.pos += 1,
                b'\n' => {
                    self.pos += 1;
                    self.newline();
                }
                b';' => self.skip_line(),
                b'#' => match self.peek_at(1) {
                    Some(b'!') => self.skip_line(),
                    Some(b'_') => {
                        self.pos += 2;
                        self.value(depth + 1)?;
                    }
                    _ => return Ok(()),
                },
                _ => return Ok(()),
            }
        }
    }

    /// Moves to the `\n` ending the current line (not past it).
    fn skip_line(&mut self) {
        let rest = self.b.get(self.pos..).unwrap_or_default();
        self.pos += rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    }

    #[inline]
    fn token_end(&self, from: usize) -> usize {
        let mut i = from;
        while self.b.get(i).is_some_and(|&c| !is_delimiter(c)) {
            i += 1;
        }
        i
    }

    /// Reads one value; `depth` is its nesting level.
    pub(crate) fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!(
                "expected at most {MAX_DEPTH} levels of nesting, found deeper nesting"
            )));
        }
        self.skip(depth)?;
        let Some(c) = self.peek() else {
            return Err(self.error("expected a value, found end of input"));
        };
        match c {
            b'"' => Ok(Value::Str(self.string()?)),
            b':' => Ok(Value::Keyword(self.keyword()?.to_owned())),
            b'0'..=b'9' => self.number(),
            b'+' | b'-' if matches!(self.peek_at(1), Some(b'0'..=b'9')) => self.number(),
            b'[' => Ok(Value::Vector(self.seq(b']', depth, "vector")?)),
            b'(' => Ok(Value::Vector(self.seq(b')', depth, "list")?)),
            b'{' => self.map(depth),
            b'#' => self.dispatch(depth),
            b'\\' => Ok(Value::Str(self.character()?)),
            b')' | b']' | b'}' => {
                Err(self.error(format!("expected a value, found {}", closing_name(c))))
            }
            _ if is_symbol_start(c) || c == b'+' || c == b'-' => {
                let start = self.pos;
                let end = self.token_end(start);
                let name = self.slice(start, end)?;
                self.pos = end;
                Ok(match name {
                    "nil" => Value::Nil,
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => Value::Symbol(name.to_owned()),
                })
            }
            _ => Err(self.error(format!("expected a value, found {}", self.found()))),
        }
    }

    /// Reads a keyword at `:` and returns its name without the colon.
    fn keyword(&mut self) -> Result<&'a str, ParseError> {
        let start = self.pos + 1;
        let end = self.token_end(start);
        if end == start {
            self.pos = start;
            return Err(self.error(format!(
                "expected a keyword name after ':', found {}",
                self.found()
            )));
        }
        let name = self.slice(start, end)?;
        self.pos = end;
        Ok(name)
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        // Fast path: up to 18 digits (no overflow possible), then a delimiter.
        let mut i = self.pos;
        let negative = self.b.get(i) == Some(&b'-');
        if negative || self.b.get(i) == Some(&b'+') {
            i += 1;
        }
        let start = i;
        let mut v: i64 = 0;
        while let Some(&d) = self.b.get(i) {
            if !d.is_ascii_digit() || i - start >= 18 {
                break;
            }
            v = v * 10 + i64::from(d - b'0');
            i += 1;
        }
        if i > start && ends_token(self.b.get(i)) {
            self.pos = i;
            return Ok(Value::Int(if negative { -v } else { v }));
        }
        let m = self.mark();
        let end = self.token_end(self.pos);
        let token = self.slice(self.pos, end)?;
        self.pos = end;
        number(token).map_err(|message| self.error_at(m, message))
    }

    fn seq(&mut self, close: u8, depth: usize, what: &str) -> Result<Vec<Value>, ParseError> {
        let open = self.mark();
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip(depth + 1)?;
            match self.peek() {
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok(items);
                }
                None | Some(b')' | b']' | b'}') => {
                    return Err(self.unclosed(open, close, what));
                }
                Some(_) => items.push(self.value(depth + 1)?),
            }
        }
    }

    fn unclosed(&self, open: Mark, close: u8, what: &str) -> ParseError {
        self.error(format!(
            "expected {} to close the {what} opened at line {}, column {}, found {}",
            closing_name(close),
            open.line,
            self.column_of(open),
            self.found()
        ))
    }

    fn map(&mut self, depth: usize) -> Result<Value, ParseError> {
        let open = self.mark();
        self.pos += 1;
        let mut entries = Vec::new();
        loop {
            self.skip(depth + 1)?;
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Map(entries));
                }
                None | Some(b')' | b']') => return Err(self.unclosed(open, b'}', "map")),
                Some(_) => {
                    let k = self.value(depth + 1)?;
                    self.expect_map_value(&k)?;
                    let v = self.value(depth + 1)?;
                    entries.push((k, v));
                }
            }
        }
    }

    /// After a map key: checks that a value follows.
    fn expect_map_value(&mut self, key: &Value) -> Result<(), ParseError> {
        self.expect_value_for(|| show(key))
    }

    fn expect_value_for(&mut self, key: impl FnOnce() -> String) -> Result<(), ParseError> {
        self.skip(1)?;
        match self.peek() {
            None | Some(b')' | b']' | b'}') => Err(self.error(format!(
                "expected a value for the key {} (a map needs an even number of forms), found {}",
                key(),
                self.found()
            ))),
            Some(_) => Ok(()),
        }
    }

    /// `#{…}`, `##Inf`, `#tag value`.
    fn dispatch(&mut self, depth: usize) -> Result<Value, ParseError> {
        let m = self.mark();
        match self.peek_at(1) {
            Some(b'{') => {
                self.pos += 1;
                Ok(Value::Set(self.seq(b'}', depth, "set")?))
            }
            Some(b'#') => {
                let end = self.token_end(self.pos + 2);
                let name = self.slice(self.pos + 2, end)?;
                let x = match name {
                    "Inf" => f64::INFINITY,
                    "-Inf" => f64::NEG_INFINITY,
                    "NaN" => f64::NAN,
                    _ => {
                        return Err(
                            self.error(format!("expected ##Inf, ##-Inf or ##NaN, found ##{name}"))
                        )
                    }
                };
                self.pos = end;
                Ok(Value::Float(x))
            }
            Some(c) if is_symbol_start(c) => {
                let end = self.token_end(self.pos + 1);
                let tag = self.slice(self.pos + 1, end)?;
                self.pos = end;
                self.skip(depth + 1)?;
                if matches!(self.peek(), None | Some(b')' | b']' | b'}')) {
                    return Err(self.error(format!(
                        "expected a value after the tag #{tag}, found {}",
                        self.found()
                    )));
                }
                let inner = self.value(depth + 1)?;
                Ok(Value::Tagged(tag.to_owned(), Box::new(inner)))
            }
            _ => {
                self.pos += 1;
                let found = self.found();
                self.reset(m);
                Err(self.error(format!(
                    "expected a set #{{…}}, a tagged value #tag or ##Inf/##NaN after '#', found {found}"
                )))
            }
        }
    }

    /// A string literal; the cursor is at its opening quote.
    fn string(&mut self) -> Result<String, ParseError> {
        let open = self.mark();
        self.pos += 1;
        let start = self.pos;
        // Fast path: no escapes.
        loop {
            let rest = self.b.get(self.pos..).unwrap_or_default();
            self.pos += rest
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c == b'\n')
                .unwrap_or(rest.len());
            match self.peek() {
                None => return Err(self.unterminated(open)),
                Some(b'"') => {
                    let s = self.slice(start, self.pos)?;
                    self.pos += 1;
                    return Ok(s.to_owned());
                }
                Some(b'\\') => break,
                Some(b'\n') => {
                    self.pos += 1;
                    self.newline();
                }
                Some(_) => self.pos += 1,
            }
        }
        let mut out = String::with_capacity(self.pos - start + 16);
        out.push_str(self.slice(start, self.pos)?);
        loop {
            match self.peek() {
                None => return Err(self.unterminated(open)),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let esc = self.mark();
                    let c = match self.peek_at(1) {
                        Some(b'n') => '\n',
                        Some(b't') => '\t',
                        Some(b'r') => '\r',
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'u') => {
                            let c = self.unicode_escape()?;
                            out.push(c);
                            continue;
                        }
                        None => return Err(self.unterminated(open)),
                        Some(_) => {
                            self.pos += 1;
                            let found = self.found();
                            return Err(self.error_at(
                                esc,
                                format!(
                                    "expected an escape \\n \\t \\r \\\" \\\\ \\b \\f or \\uXXXX in a string, found '\\' followed by {found}"
                                ),
                            ));
                        }
                    };
                    out.push(c);
                    self.pos += 2;
                }
                Some(_) => {
                    let run = self.pos;
                    while let Some(c) = self.peek() {
                        match c {
                            b'"' | b'\\' => break,
                            b'\n' => {
                                self.pos += 1;
                                self.newline();
                            }
                            _ => self.pos += 1,
                        }
                    }
                    out.push_str(self.slice(run, self.pos)?);
                }
            }
        }
    }

    fn unterminated(&self, open: Mark) -> ParseError {
        self.error(format!(
            "expected '\"' to close the string opened at line {}, column {}, found end of input",
            open.line,
            self.column_of(open)
        ))
    }

    /// `\uXXXX` (and a following low surrogate); the cursor is at the backslash.
    pub(crate) fn unicode_escape(&mut self) -> Result<char, ParseError> {
        let m = self.mark();
        let high = self
            .hex4(self.pos + 2)
            .ok_or_else(|| self.error_at(m, "expected four hex digits after \\u in a string"))?;
        self.pos += 6;
        let code = if (0xD800..0xDC00).contains(&high) {
            let low = if self.peek() == Some(b'\\') && self.peek_at(1) == Some(b'u') {
                self.hex4(self.pos + 2)
            } else {
                None
            };
            match low {
                Some(low) if (0xDC00..0xE000).contains(&low) => {
                    self.pos += 6;
                    0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                }
                _ => {
                    return Err(self.error_at(
                        m,
                        format!(
                        "expected a low surrogate \\uDC00-\\uDFFF after \\u{high:04X}, found none"
                    ),
                    ))
                }
            }
        } else {
            high
        };
        char::from_u32(code).ok_or_else(|| {
            self.error_at(
                m,
                format!("expected a Unicode scalar value, found \\u{code:04X}"),
            )
        })
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.b.get(at..at + 4)?;
        digits
            .iter()
            .try_fold(0u32, |acc, &d| Some(acc * 16 + (d as char).to_digit(16)?))
    }

    /// A character literal `\a`, `\newline`, `\u00e9`; read as a one-character string.
    fn character(&mut self) -> Result<String, ParseError> {
        let m = self.mark();
        self.pos += 1;
        let Some(c) = self.text.get(self.pos..).and_then(|s| s.chars().next()) else {
            return Err(self.error_at(m, "expected a character after '\\', found end of input"));
        };
        if c.is_whitespace() {
            return Err(self.error_at(
                m,
                format!("expected a character after '\\', found whitespace {c:?}"),
            ));
        }
        if !c.is_ascii_alphabetic() {
            self.pos += c.len_utf8();
            return Ok(c.to_string());
        }
        let end = self.token_end(self.pos);
        let name = self.slice(self.pos, end)?;
        let c = if name.len() == 1 {
            Some(c)
        } else {
            match name {
                "newline" => Some('\n'),
                "space" => Some(' '),
                "tab" => Some('\t'),
                "return" => Some('\r'),
                "backspace" => Some('\u{8}'),
                "formfeed" => Some('\u{c}'),
                _ if name.len() == 5 && name.starts_with('u') => {
                    u32::from_str_radix(name.get(1..).unwrap_or_default(), 16)
                        .ok()
                        .and_then(char::from_u32)
                }
                _ if (2..=4).contains(&name.len()) && name.starts_with('o') => {
                    u32::from_str_radix(name.get(1..).unwrap_or_default(), 8)
                        .ok()
                        .filter(|&n| n <= 0o377)
                        .and_then(char::from_u32)
                }
                _ => None,
            }
        };
        let c = c.ok_or_else(|| {
            self.error_at(
                m,
                format!(
                    "expected a character literal such as \\a, \\newline, \\space or \\uXXXX, found \\{name}"
                ),
            )
        })?;
        self.pos = end;
        Ok(c.to_string())
    }
}

/// Parses a number token: integers (optional `N`), floats (optional `M`), ratios.
fn number(token: &str) -> Result<Value, String> {
    let bytes = token.as_bytes();
    let (negative, body) = match bytes.first() {
        Some(b'-') => (true, bytes.get(1..).unwrap_or_default()),
        Some(b'+') => (false, bytes.get(1..).unwrap_or_default()),
        _ => (false, bytes),
    };
    let all_digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    let int_body = body.strip_suffix(b"N").unwrap_or(body);
    if all_digits(int_body) {
        return integer(int_body, negative)
            .map(Value::Int)
            .ok_or_else(|| format!("expected an integer that fits in 64 bits, found {token}"));
    }
    let float_body = body.strip_suffix(b"M").unwrap_or(body);
    if is_float(float_body) {
        let text = token.strip_suffix('M').unwrap_or(token);
        if let Ok(x) = text.parse::<f64>() {
            return Ok(Value::Float(x));
        }
    }
    if let Some(slash) = body.iter().position(|&b| b == b'/') {
        let (n, d) = (
            body.get(..slash).unwrap_or_default(),
            body.get(slash + 1..).unwrap_or_default(),
        );
        if all_digits(n) && all_digits(d) {
            if let (Some(n), Some(d)) = (integer(n, negative), integer(d, false)) {
                if d != 0 {
                    return Ok(Value::Float(n as f64 / d as f64));
                }
            }
        }
    }
    Err(format!(
        "expected a number such as 42, -7, 1.5 or 2e10, found {token}"
    ))
}

/// Decimal digits to i64, accumulating negatively so that `i64::MIN` fits.
#[inline]
fn integer(digits: &[u8], negative: bool) -> Option<i64> {
    let mut v: i64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_sub(i64::from(d - b'0'))?;
    }
    if negative {
        Some(v)
    } else {
        v.checked_neg()
    }
}

/// `digits ('.' digits*)? ([eE] [+-]? digits)?` with a `.` or an exponent.
fn is_float(s: &[u8]) -> bool {
    let digits = |s: &[u8], i: &mut usize| {
        let start = *i;
        while s.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    let mut i = 0;
    if !digits(s, &mut i) {
        return false;
    }
    let mut fractional = false;
    if s.get(i) == Some(&b'.') {
        i += 1;
        digits(s, &mut i);
        fractional = true;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(s, &mut i) {
            return false;
        }
        fractional = true;
    }
    fractional && i == s.len()
}

/// Parses exactly one EDN value (surrounding whitespace and comments allowed).
///
/// ```
/// use history::{edn, Value};
/// assert_eq!(edn::parse_value(" [1 :a] ").unwrap().to_string(), "[1 :a]");
/// assert!(edn::parse_value("[1 2").is_err());
/// ```
pub fn parse_value(text: &str) -> Result<Value, ParseError> {
    let mut c = Cursor::new(text);
    let v = c.value(0)?;
    c.skip(0)?;
    if c.peek().is_some() {
        return Err(c.error(format!(
            "expected end of input after the value, found {}",
            c.found()
        )));
    }
    Ok(v)
}

/// Parses one EDN value at the start of `text` (after optional whitespace),
/// which begins at `line` and column `col_base + 1` of a file. Returns the
/// value and the byte offset just past it.
pub(crate) fn parse_value_prefix(
    text: &str,
    line: u32,
    col_base: u32,
) -> Result<(Value, usize), ParseError> {
    let mut c = Cursor::with_origin(text, line, col_base);
    let v = c.value(0)?;
    Ok((v, c.pos))
}

// ---------------------------------------------------------------------------
// Reading histories

/// Ops read from (a chunk of) a file, with lines and indexes relative to the chunk.
#[derive(Default)]
pub(crate) struct Parsed {
    /// The ops, each with the 1-based line (within the chunk) where it starts.
    pub(crate) history: History,
    /// Positions (within the chunk) of ops that had no index; their index is their position.
    pub(crate) implicit: Vec<usize>,
    /// Number of `\n` in the chunk.
    pub(crate) newlines: u32,
}

impl Parsed {
    pub(crate) fn push(&mut self, mut op: Op, line: u32, index: Option<u64>) {
        let position = self.history.len();
        match index {
            Some(i) => op.index = i,
            None => {
                op.index = position as u64;
                self.implicit.push(position);
            }
        }
        self.history.push_from_line(op, line);
    }
}

/// A parser of a whole text: `allow_wrapper` permits a top-level array/vector.
pub(crate) type ParseFn = fn(&str, bool) -> Result<Parsed, ParseError>;

/// Reads `bytes` with `parse`, in parallel chunks split at lines that start
/// with `{` when the input is large, else sequentially. A chunked parse that
/// fails is redone sequentially, so errors and results are the same either way.
pub(crate) fn read_with(bytes: &[u8], parse: ParseFn) -> Result<History, ParseError> {
    let mut h = History::new();
    let mut line_base = 0;
    for part in parse_parts(bytes, parse)? {
        append_part(&mut h, part, &mut line_base);
    }
    Ok(h)
}

/// Parses `bytes` into parts: one per chunk when the input is large and
/// one op map per line, else one.
fn parse_parts(bytes: &[u8], parse: ParseFn) -> Result<Vec<Parsed>, ParseError> {
    if let Some(chunks) = split_chunks(bytes) {
        let results: Vec<Option<Result<Parsed, ParseError>>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunks
                .iter()
                .map(|chunk| s.spawn(move || utf8(chunk).and_then(|text| parse(text, false))))
                .collect();
            handles.into_iter().map(|h| h.join().ok()).collect()
        });
        if results.iter().all(|r| matches!(r, Some(Ok(_)))) {
            return Ok(results.into_iter().flatten().flatten().collect());
        }
    }
    let text = utf8(bytes)?;
    Ok(vec![parse(text, true)?])
}

/// Bytes read at a time by [`read_from`].
const PIECE: usize = 32 << 20;

/// Reads a Jepsen `history.edn` from `input` in pieces of about 32 MiB cut
/// at line boundaries, so that a large file never sits in memory whole next
/// to its history (a 1M-operation history: 200 MB of text). Same results
/// and errors as [`read`] for files with one op map per line; other files
/// are read whole. `size_hint` (the input's length in bytes, if known)
/// lets the history be allocated once.
pub fn read_from(input: impl std::io::Read, size_hint: usize) -> Result<History, ParseError> {
    read_in_pieces(input, size_hint, PIECE)
}

fn read_in_pieces(
    mut input: impl std::io::Read,
    size_hint: usize,
    piece_size: usize,
) -> Result<History, ParseError> {
    let io_error = |e: std::io::Error| ParseError {
        line: 0,
        column: 0,
        message: format!("cannot read: {e}"),
    };
    let mut h = History::new();
    let mut line_base = 0u32;
    let mut buf: Vec<u8> = Vec::with_capacity(piece_size.min(size_hint.max(1 << 16)) + 4096);
    let mut eof = false;
    let mut first = true;
    let mut want = piece_size;
    while !eof || !buf.is_empty() {
        while !eof && buf.len() < want {
            let missing = (want - buf.len()) as u64;
            // Read through a limit rather than into a zeroed buffer: a small
            // file costs only its size.
            let mut limited = std::io::Read::take(&mut input, missing);
            let n = std::io::Read::read_to_end(&mut limited, &mut buf).map_err(io_error)?;
            eof = n == 0;
        }
        if first && buf.first() != Some(&b'{') {
            // Not one map per line (a vector, a list, comments): read it whole.
            input.read_to_end(&mut buf).map_err(io_error)?;
            return read(&buf);
        }
        first = false;
        // Cut after the last line that ends before a line starting with `{`.
        let cut = if eof {
            buf.len()
        } else {
            match buf.windows(2).rposition(|w| w == b"\n{") {
                Some(i) => i + 1,
                None => {
                    want = buf.len() + piece_size; // one enormous line: read more
                    continue;
                }
            }
        };
        want = piece_size;
        let piece: Vec<u8> = buf.drain(..cut).collect();
        let parts = parse_parts(&piece, parse_history).map_err(|mut e| {
            e.line = e.line.saturating_add(line_base);
            e
        })?;
        if h.is_empty() {
            // Reserve for the whole input from the first piece's density.
            let per_byte = parts.iter().map(|p| p.history.len()).sum::<usize>() as f64
                / piece.len().max(1) as f64;
            h.reserve((per_byte * size_hint.max(piece.len() + buf.len()) as f64 * 1.01) as usize);
        }
        for part in parts {
            append_part(&mut h, part, &mut line_base);
        }
    }
    Ok(h)
}

/// Splits a large input into one chunk per core at `\n{` boundaries, or
/// `None` when it is small or not one op map per line.
fn split_chunks(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    if bytes.len() <= PARALLEL_THRESHOLD || bytes.first() != Some(&b'{') {
        return None;
    }
    let n = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(16);
    if n < 2 {
        return None;
    }
    let mut chunks = Vec::with_capacity(n);
    let mut start = 0;
    for k in 1..n {
        let target = (bytes.len() / n * k).max(start);
        let rest = bytes.get(target..)?;
        let newline = target + rest.iter().position(|&b| b == b'\n')?;
        let boundary = newline + 1;
        if bytes.get(boundary) != Some(&b'{') {
            return None;
        }
        chunks.push(bytes.get(start..boundary)?);
        start = boundary;
    }
    chunks.push(bytes.get(start..)?);
    Some(chunks)
}

/// Appends a parsed chunk to `h`, shifting its lines by `line_base` and
/// its implicit indexes by the ops before it; advances `line_base`.
fn append_part(h: &mut History, part: Parsed, line_base: &mut u32) {
    let base = h.len() as u64;
    let lines: Vec<u32> = (0..part.history.len())
        .map(|i| part.history.line(i).unwrap_or(0))
        .collect();
    let mut ops = part.history.into_ops();
    for i in part.implicit {
        if let Some(op) = ops.get_mut(i) {
            op.index += base;
        }
    }
    for (op, line) in ops.into_iter().zip(lines) {
        h.push_from_line(op, line.saturating_add(*line_base));
    }
    *line_base = line_base.saturating_add(part.newlines);
}

/// Reads a Jepsen `history.edn`: a sequence of op maps (one per line, or
/// spanning lines), or a single top-level vector or list of op maps.
///
/// Records such as `#jepsen.history.Op{…}` are read as their maps. Fields:
/// `:type` (required: `:invoke`, `:ok`, `:fail`, `:info`), `:process`
/// (required: an integer, or a keyword such as `:nemesis`), `:f`, `:value`,
/// `:index` (default: position in the file), `:time` (default -1), `:key`,
/// `:error`; other keys are kept in [`Op::extra`]. Each op remembers the
/// line where its map starts.
///
/// Errors name the line and column and what was expected; the reader never
/// panics, limits nesting to [`MAX_DEPTH`] and rejects invalid UTF-8.
pub fn read(bytes: &[u8]) -> Result<History, ParseError> {
    read_with(bytes, parse_history)
}

fn parse_history(text: &str, allow_wrapper: bool) -> Result<Parsed, ParseError> {
    let mut c = Cursor::new(text);
    let mut parsed = Parsed::default();
    c.skip(0)?;
    match c.peek() {
        Some(open @ (b'[' | b'(')) if allow_wrapper => {
            let (close, what) = if open == b'[' {
                (b']', "vector")
            } else {
                (b')', "list")
            };
            let start = c.mark();
            c.pos += 1;
            loop {
                c.skip(1)?;
                match c.peek() {
                    Some(x) if x == close => {
                        c.pos += 1;
                        break;
                    }
                    None => return Err(c.unclosed(start, close, what)),
                    Some(_) => c.op_form(&mut parsed)?,
                }
            }
            c.skip(0)?;
            if c.peek().is_some() {
                return Err(c.error(format!(
                    "expected end of input after the top-level {what} of ops, found {}",
                    c.found()
                )));
            }
        }
        _ => loop {
            c.skip(0)?;
            if c.peek().is_none() {
                break;
            }
            c.op_form(&mut parsed)?;
        },
    }
    parsed.newlines = c.line - 1;
    Ok(parsed)
}

const TYPES: &str = "one of :invoke :ok :fail :info";

impl<'a> Cursor<'a> {
    /// Reads one op: `{…}` or a record `#….Op{…}`.
    fn op_form(&mut self, parsed: &mut Parsed) -> Result<(), ParseError> {
        let start = self.mark();
        let is_op = match self.peek() {
            Some(b'{') => true,
            Some(b'#') => self.op_record_tag()?,
            _ => false,
        };
        if !is_op {
            let v = self.value(1)?;
            return Err(self.error_at(
                start,
                format!(
                    "expected an op map {{:type …, :process …, …}}, found {} {}",
                    v.kind(),
                    show(&v)
                ),
            ));
        }
        let (op, index) = self.op_map(start)?;
        parsed.push(op, start.line, index);
        Ok(())
    }

    /// At `#`: if this is a tag ending in `Op` followed by a map, moves to
    /// the `{` and returns true; otherwise stays put and returns false.
    fn op_record_tag(&mut self) -> Result<bool, ParseError> {
        let m = self.mark();
        let end = self.token_end(self.pos + 1);
        let tag = self.slice(self.pos + 1, end)?;
        if tag.ends_with("Op") && tag.bytes().next().is_some_and(is_symbol_start) {
            self.pos = end;
            self.skip(1)?;
            if self.peek() == Some(b'{') {
                return Ok(true);
            }
        }
        self.reset(m);
        Ok(false)
    }

    /// An op map; the cursor is at its `{`. Returns the op and its explicit index.
    fn op_map(&mut self, start: Mark) -> Result<(Op, Option<u64>), ParseError> {
        let open = self.mark();
        self.pos += 1;
        let mut kind = None;
        let mut process = None;
        let mut f = None;
        let mut value = None;
        let mut index = None;
        let mut time = None;
        let mut key = None;
        let mut error = None;
        let mut extra = Vec::new();
        loop {
            self.skip(1)?;
            let key_mark = self.mark();
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                None | Some(b')' | b']') => return Err(self.unclosed(open, b'}', "op map")),
                Some(b':') => {
                    let name = self.keyword()?;
                    self.expect_value_for(|| format!(":{name}"))?;
                    let duplicate = match name {
                        "type" => kind.replace(self.op_type()?).is_some(),
                        "process" => process.replace(self.process()?).is_some(),
                        "f" => f.replace(self.function()?).is_some(),
                        "value" => value.replace(self.value(1)?).is_some(),
                        "index" => index.replace(self.index()?).is_some(),
                        "time" => time.replace(self.time()?).is_some(),
                        "key" => key.replace(self.value(1)?).is_some(),
                        "error" => error.replace(self.value(1)?).is_some(),
                        _ => {
                            let v = self.value(1)?;
                            extra.push((name.to_owned(), v));
                            false
                        }
                    };
                    if duplicate {
                        return Err(self.error_at(
                            key_mark,
                            format!("expected each key once in an op map, found :{name} again"),
                        ));
                    }
                }
                Some(_) => {
                    let k = self.value(1)?;
                    let mut name = String::new();
                    let _ = write_value(&mut name, &k);
                    self.expect_map_value(&k)?;
                    let v = self.value(1)?;
                    extra.push((name, v));
                }
            }
        }
        let Some(kind) = kind else {
            return Err(self.error_at(
                start,
                format!("expected the op map to have :type ({TYPES}), found no :type"),
            ));
        };
        let Some(process) = process else {
            return Err(self.error_at(
                start,
                "expected the op map to have :process (an integer, or a keyword such as :nemesis), found no :process",
            ));
        };
        let op = Op {
            index: 0,
            time: time.unwrap_or(-1),
            process,
            kind,
            f: f.unwrap_or_default(),
            value: value.unwrap_or_default(),
            key,
            error,
            extra,
        };
        Ok((op, index))
    }

    fn op_type(&mut self) -> Result<OpType, ParseError> {
        let m = self.mark();
        if self.peek() == Some(b':') {
            let name = self.keyword()?;
            return OpType::parse(name).ok_or_else(|| {
                self.error_at(m, format!("expected :type to be {TYPES}, found :{name}"))
            });
        }
        let v = self.value(1)?;
        match &v {
            Value::Str(s) | Value::Symbol(s) => OpType::parse(s),
            _ => None,
        }
        .ok_or_else(|| {
            self.error_at(
                m,
                format!("expected :type to be {TYPES}, found {}", show(&v)),
            )
        })
    }

    fn process(&mut self) -> Result<Process, ParseError> {
        let m = self.mark();
        match self.value(1)? {
            Value::Int(p) if p >= 0 => Ok(Process::Client(p as u64)),
            Value::Keyword(name) => Ok(Process::Named(name)),
            Value::Str(name) if !name.is_empty() => Ok(Process::Named(match name.strip_prefix(':') {
                Some(rest) => rest.to_owned(),
                None => name,
            })),
            v => Err(self.error_at(
                m,
                format!(
                    "expected :process to be a non-negative integer or a keyword such as :nemesis, found {}",
                    show(&v)
                ),
            )),
        }
    }

    fn function(&mut self) -> Result<String, ParseError> {
        let m = self.mark();
        match self.value(1)? {
            Value::Keyword(f) | Value::Symbol(f) => Ok(f),
            Value::Str(f) => Ok(match f.strip_prefix(':') {
                Some(rest) => rest.to_owned(),
                None => f,
            }),
            Value::Nil => Ok(String::new()),
            v => Err(self.error_at(
                m,
                format!(
                    "expected :f to be a keyword or a string, found {}",
                    show(&v)
                ),
            )),
        }
    }

    fn index(&mut self) -> Result<u64, ParseError> {
        let m = self.mark();
        match self.value(1)? {
            Value::Int(i) if i >= 0 => Ok(i as u64),
            v => Err(self.error_at(
                m,
                format!(
                    "expected :index to be a non-negative integer, found {}",
                    show(&v)
                ),
            )),
        }
    }

    fn time(&mut self) -> Result<i64, ParseError> {
        let m = self.mark();
        match self.value(1)? {
            Value::Int(t) => Ok(t),
            v => Err(self.error_at(
                m,
                format!(
                    "expected :time to be an integer (nanoseconds), found {}",
                    show(&v)
                ),
            )),
        }
    }
}

#[cfg(test)]
mod piece_tests {
    use super::*;

    fn text(lines: usize) -> String {
        let mut s = String::new();
        for i in 0..lines {
            // Every third op has no :index, so implicit indexes must be shifted across pieces.
            let index = if i % 3 == 0 {
                String::new()
            } else {
                format!(", :index {i}")
            };
            s.push_str(&format!("{{:process {}, :type :invoke, :f :append, :key \"{}\", :value \"x {i} y\"{index}}}\n", i % 7, i % 5));
        }
        s
    }

    #[test]
    fn reading_in_pieces_gives_what_reading_whole_gives() {
        let t = text(2000);
        let whole = read(t.as_bytes()).expect("reads");
        for piece in [64, 1000, 4096, 1 << 20] {
            let pieces = read_in_pieces(t.as_bytes(), t.len(), piece).expect("reads in pieces");
            assert_eq!(pieces, whole, "piece size {piece}");
        }
    }

    #[test]
    fn an_error_in_a_later_piece_names_its_line_in_the_file() {
        let mut t = text(500);
        t.push_str("{:process 1, :type :okk, :f :append}\n");
        t.push_str(&text(10));
        let whole = read(t.as_bytes()).expect_err("fails");
        let pieces = read_in_pieces(t.as_bytes(), t.len(), 256).expect_err("fails");
        assert_eq!(pieces, whole);
        assert_eq!(pieces.line, 501);
    }
}
