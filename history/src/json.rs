//! JSON histories: native JSON Lines and elle-cli's JSON array.
//!
//! Both follow elle-cli's convention: keywords are written as strings and
//! `nil` as `null`. Reading is a hand-written parser rather than
//! `serde_json::Value`, because `serde_json` (without its `preserve_order`
//! feature, which would also reorder every other JSON output in the
//! workspace) sorts object keys: extra fields and map values would lose
//! the order they were written in.
//!
//! ```
//! use history::{json, Value};
//! let h = json::read(br#"{"process":0,"type":"invoke","f":"write","value":3}"#).unwrap();
//! assert_eq!(h.ops()[0].value, Value::Int(3));
//! let mut out = Vec::new();
//! json::write_lines(&h, &mut out).unwrap();
//! assert_eq!(out, b"{\"index\":0,\"type\":\"invoke\",\"process\":0,\"f\":\"write\",\"value\":3}\n");
//! ```

use crate::edn::{self, read_with, show, Cursor, Mark, Parsed, MAX_DEPTH};
use crate::{History, Op, OpType, ParseError, Process, Value};
use std::borrow::Cow;
use std::io;

// ---------------------------------------------------------------------------
// Reading

/// Reads a JSON history: JSON Lines (one object per line, blank lines
/// skipped) or a single JSON array of objects (elle-cli).
///
/// Fields: `"type"` (required; `"invoke"`, `"ok"`, `"fail"`, `"info"`, a
/// leading `:` allowed), `"process"` (required; a non-negative integer, or a
/// string such as `"nemesis"` or `":nemesis"`), `"f"`, `"value"`, `"index"`
/// (default: position), `"time"` (default -1), `"key"`, `"error"`; other
/// fields go to [`Op::extra`] in order.
///
/// Values: `null` → `Nil`, integers → `Int` (outside the 64-bit range: an
/// error), other numbers → `Float`, arrays → `Vector`, objects → `Map` whose
/// keys are strings, except keys that are decimal integers (`"0"`, `"-7"`),
/// which become `Int` (elle-cli writes integer map keys that way).
pub fn read(bytes: &[u8]) -> Result<History, ParseError> {
    read_with(bytes, parse_history)
}

fn parse_history(text: &str, allow_array: bool) -> Result<Parsed, ParseError> {
    let mut r = Json {
        c: Cursor::new(text),
    };
    let mut parsed = Parsed::default();
    r.ws();
    if allow_array && r.c.peek() == Some(b'[') {
        let open = r.c.mark();
        r.c.pos += 1;
        r.ws();
        if r.c.peek() == Some(b']') {
            r.c.pos += 1;
        } else {
            loop {
                r.ws();
                r.op(&mut parsed)?;
                r.ws();
                match r.c.peek() {
                    Some(b',') => r.c.pos += 1,
                    Some(b']') => {
                        r.c.pos += 1;
                        break;
                    }
                    _ => {
                        return Err(r.c.error(format!(
                            "expected ',' or ']' after an op in the array opened at line {}, column {}, found {}",
                            open.line(),
                            r.c.column_of(open),
                            r.c.found()
                        )))
                    }
                }
            }
        }
        r.ws();
        if r.c.peek().is_some() {
            return Err(r.c.error(format!(
                "expected end of input after the array of ops, found {}",
                r.c.found()
            )));
        }
    } else {
        loop {
            r.ws();
            if r.c.peek().is_none() {
                break;
            }
            r.op(&mut parsed)?;
        }
    }
    parsed.newlines = r.c.line.saturating_sub(1);
    Ok(parsed)
}

struct Json<'a> {
    c: Cursor<'a>,
}

const TYPES: &str = "one of \"invoke\" \"ok\" \"fail\" \"info\"";

impl<'a> Json<'a> {
    /// Skips JSON whitespace.
    #[inline]
    fn ws(&mut self) {
        while let Some(b) = self.c.peek() {
            match b {
                b' ' | b'\t' | b'\r' => self.c.pos += 1,
                b'\n' => {
                    self.c.pos += 1;
                    self.c.newline();
                }
                _ => return,
            }
        }
    }

    fn expected(&self, what: &str) -> ParseError {
        self.c
            .error(format!("expected {what}, found {}", self.c.found()))
    }

    /// One op object.
    fn op(&mut self, parsed: &mut Parsed) -> Result<(), ParseError> {
        let start = self.c.mark();
        if self.c.peek() != Some(b'{') {
            let found = match self.c.peek() {
                Some(b'"' | b'[' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
                    let v = self.value(1)?;
                    format!("{} {}", v.kind(), show(&v))
                }
                _ => self.c.found(),
            };
            return Err(self.c.error_at(
                start,
                format!("expected an op object {{\"type\": …, \"process\": …}}, found {found}"),
            ));
        }
        self.c.pos += 1;
        let mut kind = None;
        let mut process = None;
        let mut f = None;
        let mut value = None;
        let mut index = None;
        let mut time = None;
        let mut key = None;
        let mut error = None;
        let mut extra = Vec::new();
        self.ws();
        if self.c.peek() == Some(b'}') {
            self.c.pos += 1;
        } else {
            loop {
                self.ws();
                let key_mark = self.c.mark();
                if self.c.peek() != Some(b'"') {
                    return Err(self.expected("a string key in the op object"));
                }
                let name = self.string()?;
                self.colon()?;
                let duplicate = match &*name {
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
                        extra.push((name.clone().into_owned(), v));
                        false
                    }
                };
                if duplicate {
                    return Err(self.c.error_at(
                        key_mark,
                        format!("expected each key once in an op object, found \"{name}\" again"),
                    ));
                }
                self.ws();
                match self.c.peek() {
                    Some(b',') => self.c.pos += 1,
                    Some(b'}') => {
                        self.c.pos += 1;
                        break;
                    }
                    _ => return Err(self.expected("',' or '}' after a field of the op object")),
                }
            }
        }
        let Some(kind) = kind else {
            return Err(self.c.error_at(
                start,
                format!("expected the op object to have \"type\" ({TYPES}), found no \"type\""),
            ));
        };
        let Some(process) = process else {
            return Err(self.c.error_at(
                start,
                "expected the op object to have \"process\" (an integer, or a name such as \"nemesis\"), found no \"process\"",
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
        parsed.push(op, start.line(), index);
        Ok(())
    }

    fn colon(&mut self) -> Result<(), ParseError> {
        self.ws();
        if self.c.peek() != Some(b':') {
            return Err(self.expected("':' after an object key"));
        }
        self.c.pos += 1;
        self.ws();
        Ok(())
    }

    fn op_type(&mut self) -> Result<OpType, ParseError> {
        let m = self.c.mark();
        let v = self.value(1)?;
        match &v {
            Value::Str(s) => OpType::parse(s),
            _ => None,
        }
        .ok_or_else(|| {
            self.c.error_at(
                m,
                format!("expected \"type\" to be {TYPES}, found {}", json_text(&v)),
            )
        })
    }

    fn process(&mut self) -> Result<Process, ParseError> {
        let m = self.c.mark();
        match self.value(1)? {
            Value::Int(p) if p >= 0 => Ok(Process::Client(p as u64)),
            Value::Str(name) if !name.is_empty() && name != ":" => {
                Ok(Process::Named(match name.strip_prefix(':') {
                    Some(rest) => rest.to_owned(),
                    None => name,
                }))
            }
            v => Err(self.c.error_at(
                m,
                format!(
                    "expected \"process\" to be a non-negative integer or a name such as \"nemesis\", found {}",
                    json_text(&v)
                ),
            )),
        }
    }

    fn function(&mut self) -> Result<String, ParseError> {
        let m = self.c.mark();
        match self.value(1)? {
            Value::Str(f) => Ok(match f.strip_prefix(':') {
                Some(rest) => rest.to_owned(),
                None => f,
            }),
            Value::Nil => Ok(String::new()),
            v => Err(self.c.error_at(
                m,
                format!("expected \"f\" to be a string, found {}", json_text(&v)),
            )),
        }
    }

    fn index(&mut self) -> Result<u64, ParseError> {
        let m = self.c.mark();
        match self.value(1)? {
            Value::Int(i) if i >= 0 => Ok(i as u64),
            v => Err(self.c.error_at(
                m,
                format!(
                    "expected \"index\" to be a non-negative integer, found {}",
                    json_text(&v)
                ),
            )),
        }
    }

    fn time(&mut self) -> Result<i64, ParseError> {
        let m = self.c.mark();
        match self.value(1)? {
            Value::Int(t) => Ok(t),
            v => Err(self.c.error_at(
                m,
                format!(
                    "expected \"time\" to be an integer (nanoseconds), found {}",
                    json_text(&v)
                ),
            )),
        }
    }

    /// One JSON value at nesting level `depth`.
    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.c.error(format!(
                "expected at most {MAX_DEPTH} levels of nesting, found deeper nesting"
            )));
        }
        self.ws();
        match self.c.peek() {
            Some(b'"') => Ok(Value::Str(self.string()?.into_owned())),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Nil),
            _ => Err(self.expected("a JSON value")),
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, ParseError> {
        if self.c.b.get(self.c.pos..self.c.pos + word.len()) == Some(word.as_bytes()) {
            self.c.pos += word.len();
            Ok(v)
        } else {
            Err(self.expected(
                "a JSON value (null, true, false, a number, a string, an array or an object)",
            ))
        }
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        let m = self.c.mark();
        let b = self.c.b;
        let start = self.c.pos;
        let mut i = start;
        let negative = b.get(i) == Some(&b'-');
        if negative {
            i += 1;
        }
        let digits = |i: &mut usize| {
            let s = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i - s
        };
        let int_start = i;
        let n = digits(&mut i);
        if n == 0 || (n > 1 && b.get(int_start) == Some(&b'0')) {
            self.c.pos = i;
            return Err(self.c.error_at(
                m,
                format!(
                    "expected a JSON number (digits without leading zeros), found {}",
                    self.c.slice(start, (i + 1).min(b.len())).unwrap_or("?")
                ),
            ));
        }
        let int_end = i;
        let mut float = false;
        if b.get(i) == Some(&b'.') {
            i += 1;
            if digits(&mut i) == 0 {
                self.c.pos = i;
                return Err(self.expected("a digit after the decimal point"));
            }
            float = true;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if digits(&mut i) == 0 {
                self.c.pos = i;
                return Err(self.expected("a digit in the exponent"));
            }
            float = true;
        }
        let token = self.c.slice(start, i)?;
        self.c.pos = i;
        if float {
            return token.parse::<f64>().map(Value::Float).map_err(|_| {
                self.c
                    .error_at(m, format!("expected a number, found {token}"))
            });
        }
        let mut v: i64 = 0;
        for &d in b.get(int_start..int_end).unwrap_or_default() {
            v = match v
                .checked_mul(10)
                .and_then(|v| v.checked_sub(i64::from(d - b'0')))
            {
                Some(v) => v,
                None => return Err(self.out_of_range(m, token)),
            };
        }
        if !negative {
            v = v.checked_neg().ok_or_else(|| self.out_of_range(m, token))?;
        }
        Ok(Value::Int(v))
    }

    fn out_of_range(&self, m: Mark, token: &str) -> ParseError {
        self.c.error_at(
            m,
            format!("expected an integer in the signed 64-bit range, found {token}"),
        )
    }

    /// A string; borrowed from the input when it has no escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, ParseError> {
        let open = self.c.mark();
        self.c.pos += 1;
        let start = self.c.pos;
        let rest = self.c.b.get(start..).unwrap_or_default();
        let stop = rest
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20);
        let Some(stop) = stop else {
            self.c.pos = self.c.b.len();
            return Err(self.unterminated(open));
        };
        self.c.pos = start + stop;
        if self.c.peek() == Some(b'"') {
            let s = self.c.slice(start, self.c.pos)?;
            self.c.pos += 1;
            return Ok(Cow::Borrowed(s));
        }
        let mut out = String::with_capacity(stop + 16);
        out.push_str(self.c.slice(start, self.c.pos)?);
        loop {
            match self.c.peek() {
                None => return Err(self.unterminated(open)),
                Some(b'"') => {
                    self.c.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    let c = match self.c.peek_at(1) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            out.push(self.c.unicode_escape()?);
                            continue;
                        }
                        _ => {
                            return Err(self.expected(
                                "an escape \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX in a string",
                            ))
                        }
                    };
                    out.push(c);
                    self.c.pos += 2;
                }
                Some(c) if c < 0x20 => {
                    return Err(self.c.error(format!(
                        "expected '\"' or a character in a string, found the control character {:?} (it must be escaped)",
                        char::from(c)
                    )))
                }
                Some(_) => {
                    let run = self.c.pos;
                    let rest = self.c.b.get(run..).unwrap_or_default();
                    let n = rest
                        .iter()
                        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                        .unwrap_or(rest.len());
                    self.c.pos = run + n;
                    out.push_str(self.c.slice(run, self.c.pos)?);
                }
            }
        }
    }

    fn unterminated(&self, open: Mark) -> ParseError {
        let found = if self.c.peek() == Some(b'\n') {
            "a line break (strings cannot span lines)".to_string()
        } else {
            self.c.found()
        };
        self.c.error(format!(
            "expected '\"' to close the string opened at line {}, column {}, found {found}",
            open.line(),
            self.c.column_of(open)
        ))
    }

    fn array(&mut self, depth: usize) -> Result<Value, ParseError> {
        let open = self.c.mark();
        self.c.pos += 1;
        let mut items = Vec::new();
        self.ws();
        if self.c.peek() == Some(b']') {
            self.c.pos += 1;
            return Ok(Value::Vector(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.c.peek() {
                Some(b',') => self.c.pos += 1,
                Some(b']') => {
                    self.c.pos += 1;
                    return Ok(Value::Vector(items));
                }
                _ => {
                    return Err(self.expected(&format!(
                        "',' or ']' in the array opened at line {}, column {}",
                        open.line(),
                        self.c.column_of(open)
                    )))
                }
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, ParseError> {
        let open = self.c.mark();
        self.c.pos += 1;
        let mut entries = Vec::new();
        self.ws();
        if self.c.peek() == Some(b'}') {
            self.c.pos += 1;
            return Ok(Value::Map(entries));
        }
        loop {
            self.ws();
            if self.c.peek() != Some(b'"') {
                return Err(self.expected("a string key in the object"));
            }
            let key = self.string()?;
            self.colon()?;
            let v = self.value(depth + 1)?;
            entries.push((map_key(key), v));
            self.ws();
            match self.c.peek() {
                Some(b',') => self.c.pos += 1,
                Some(b'}') => {
                    self.c.pos += 1;
                    return Ok(Value::Map(entries));
                }
                _ => {
                    return Err(self.expected(&format!(
                        "',' or '}}' in the object opened at line {}, column {}",
                        open.line(),
                        self.c.column_of(open)
                    )))
                }
            }
        }
    }
}

/// An object key: decimal integers (canonical form, in range) become `Int`.
fn map_key(key: Cow<'_, str>) -> Value {
    let b = key.as_bytes();
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    let canonical = !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
        && (digits.len() == 1 || digits.first() != Some(&b'0'))
        && key.as_ref() != "-0";
    if canonical {
        if let Ok(i) = key.parse::<i64>() {
            return Value::Int(i);
        }
    }
    Value::Str(key.into_owned())
}

/// JSON text of a value, shortened, for error messages.
fn json_text(v: &Value) -> String {
    let mut s = String::new();
    write_json(&mut s, v);
    edn::shorten(s)
}

// ---------------------------------------------------------------------------
// Writing

/// Writes a history as JSON Lines, one object per op:
/// `{"index":0,"time":12,"type":"invoke","process":0,"f":"write","key":1,"value":3}`.
///
/// `time` is written only when it is not negative, `key` and `error` only
/// when present, extra fields follow in order. Named processes are strings
/// (`"nemesis"`). Values are converted as by [`value_to_json`].
pub fn write_lines(h: &History, out: &mut impl io::Write) -> io::Result<()> {
    use io::Write as _;
    let mut out = io::BufWriter::with_capacity(1 << 16, out);
    let mut line = String::with_capacity(256);
    for op in h.ops() {
        line.clear();
        write_op(&mut line, op);
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    out.flush()
}

/// Appends one op to `out` as a JSON object, without a newline: the line
/// [`write_lines`] writes for it. For writers that stream a history as it
/// is recorded.
pub fn write_op(out: &mut String, op: &Op) {
    use std::fmt::Write;
    let _ = write!(out, "{{\"index\":{}", op.index);
    if op.time >= 0 {
        let _ = write!(out, ",\"time\":{}", op.time);
    }
    out.push_str(",\"type\":\"");
    out.push_str(op.kind.name());
    out.push_str("\",\"process\":");
    match &op.process {
        Process::Client(p) => {
            let _ = write!(out, "{p}");
        }
        Process::Named(n) => write_json_string(out, n),
    }
    out.push_str(",\"f\":");
    write_json_string(out, &op.f);
    if let Some(key) = &op.key {
        out.push_str(",\"key\":");
        write_json(out, key);
    }
    out.push_str(",\"value\":");
    write_json(out, &op.value);
    if let Some(error) = &op.error {
        out.push_str(",\"error\":");
        write_json(out, error);
    }
    for (name, v) in &op.extra {
        out.push(',');
        write_json_string(out, name);
        out.push(':');
        write_json(out, v);
    }
    out.push('}');
}

/// The text a map key has as a JSON object key.
fn key_text(k: &Value) -> Cow<'_, str> {
    match k {
        Value::Str(s) | Value::Keyword(s) | Value::Symbol(s) => Cow::Borrowed(s),
        Value::Int(i) => Cow::Owned(i.to_string()),
        other => Cow::Owned(other.to_string()),
    }
}

/// Writes `v` as JSON with elle-cli's conventions (see [`value_to_json`]).
fn write_json(out: &mut String, v: &Value) {
    use std::fmt::Write;
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(x) if x.is_finite() => {
            let _ = write!(out, "{x:?}");
        }
        Value::Float(_) => out.push_str("null"),
        Value::Str(s) | Value::Keyword(s) | Value::Symbol(s) => write_json_string(out, s),
        Value::Vector(items) | Value::Set(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, &key_text(k));
                out.push(':');
                write_json(out, v);
            }
            out.push('}');
        }
        Value::Tagged(_, inner) => write_json(out, inner),
    }
}

fn write_json_string(out: &mut String, s: &str) {
    use std::fmt::Write;
    out.push('"');
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\t' => "\\t",
            b'\r' => "\\r",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(s.get(run..i).unwrap_or_default());
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        run = i + 1;
    }
    out.push_str(s.get(run..).unwrap_or_default());
    out.push('"');
}

/// Converts a value to JSON with elle-cli's conventions: `nil` → `null`,
/// keywords and symbols → strings without the colon, sets → arrays, maps →
/// objects whose keys are the text of string/keyword/symbol keys, integer
/// keys in decimal and other keys as their EDN text, tagged values → their
/// inner value, non-finite floats → `null`.
///
/// `serde_json` objects sort their keys (its `preserve_order` feature is off).
pub fn value_to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Nil => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(x) => serde_json::Number::from_f64(*x).map_or(J::Null, J::Number),
        Value::Str(s) | Value::Keyword(s) | Value::Symbol(s) => J::String(s.clone()),
        Value::Vector(items) | Value::Set(items) => {
            J::Array(items.iter().map(value_to_json).collect())
        }
        Value::Map(entries) => J::Object(
            entries
                .iter()
                .map(|(k, v)| (key_text(k).into_owned(), value_to_json(v)))
                .collect(),
        ),
        Value::Tagged(_, inner) => value_to_json(inner),
    }
}
