//! History file formats, and detecting which one a file is in.
//!
//! ```
//! use history::{format, Format};
//! assert_eq!(format::detect(b"{\"type\":\"invoke\",\"process\":0}"), Format::JsonLines);
//! assert_eq!(format::detect(b"{:type :invoke, :process 0}"), Format::Edn);
//! assert_eq!(format::detect(b"INFO  jepsen.util - 0\t:invoke\t:read\tnil"), Format::JepsenLog);
//! assert_eq!(Format::parse("jsonl"), Some(Format::JsonLines));
//! ```

use crate::{edn, jepsen_log, json, History, OpType, ParseError};
use std::fmt;

/// A history file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// Detect the format from the content ([`detect`]).
    #[default]
    Auto,
    /// JSON Lines, one op object per line: the native format (`jsonl`).
    JsonLines,
    /// elle-cli's JSON: one array of op objects (`json`). Read by the same
    /// reader as [`Format::JsonLines`].
    Json,
    /// Jepsen's `history.edn` (`edn`).
    Edn,
    /// Jepsen's log lines (`jepsen.util - …`) or `history.txt` (`jepsen-log`).
    JepsenLog,
}

impl Format {
    /// Every format, in the order of their names in [`Format::parse`].
    pub const ALL: [Format; 5] = [
        Format::Auto,
        Format::JsonLines,
        Format::Json,
        Format::Edn,
        Format::JepsenLog,
    ];

    /// Parses a format name: `auto`, `jsonl`, `json`, `edn` or `jepsen-log`.
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "auto" => Some(Format::Auto),
            "jsonl" => Some(Format::JsonLines),
            "json" => Some(Format::Json),
            "edn" => Some(Format::Edn),
            "jepsen-log" => Some(Format::JepsenLog),
            _ => None,
        }
    }

    /// The name [`Format::parse`] accepts.
    pub fn name(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::JsonLines => "jsonl",
            Format::Json => "json",
            Format::Edn => "edn",
            Format::JepsenLog => "jepsen-log",
        }
    }
}

/// Displays the format's name (`jsonl`, `edn`, …).
impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn skip_json_ws(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
        .unwrap_or(b.len());
    b.get(n..).unwrap_or_default()
}

/// Detects the format of a history from its first meaningful bytes.
///
/// After whitespace and `;` comments: `{"` (or `{` and whitespace, then
/// `"`) is JSON Lines; `[` and optional whitespace, then `{"` or `]`, is
/// elle-cli JSON; other text starting with `{`, `[`, `(` or `#` is EDN. A
/// file with a `jepsen.util - ` line, or whose first line starts with an
/// integer or keyword process followed by `:invoke`, `:ok`, `:fail` or
/// `:info`, is a Jepsen log. Anything else, including empty input, is EDN
/// (so errors come from the EDN reader).
pub fn detect(bytes: &[u8]) -> Format {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut i = 0;
    loop {
        match bytes.get(i) {
            Some(b' ' | b'\t' | b'\r' | b'\n' | b',') => i += 1,
            Some(b';') => {
                let rest = bytes.get(i..).unwrap_or_default();
                i += rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            }
            _ => break,
        }
    }
    let rest = bytes.get(i..).unwrap_or_default();
    match rest.first() {
        None => Format::Edn,
        Some(b'{') => {
            if skip_json_ws(rest.get(1..).unwrap_or_default()).first() == Some(&b'"') {
                Format::JsonLines
            } else {
                Format::Edn
            }
        }
        Some(b'[') => {
            let inner = skip_json_ws(rest.get(1..).unwrap_or_default());
            let object_with_string_key = inner.first() == Some(&b'{')
                && skip_json_ws(inner.get(1..).unwrap_or_default()).first() == Some(&b'"');
            if object_with_string_key || inner.first() == Some(&b']') {
                Format::Json
            } else if inner.first() != Some(&b'{') && jepsen_log::has_marker(bytes) {
                // e.g. a log whose lines start with a bracketed timestamp
                Format::JepsenLog
            } else {
                Format::Edn
            }
        }
        Some(b'(' | b'#') => Format::Edn,
        Some(_) => {
            if jepsen_log::has_marker(bytes) || looks_like_history_txt(rest) {
                Format::JepsenLog
            } else {
                Format::Edn
            }
        }
    }
}

/// Whether the first line is `<integer or :keyword> <ws> <:invoke|:ok|:fail|:info> <ws or end>`.
fn looks_like_history_txt(rest: &[u8]) -> bool {
    let line_end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let Ok(line) = std::str::from_utf8(rest.get(..line_end).unwrap_or_default()) else {
        return false;
    };
    let mut fields = line.split_ascii_whitespace();
    let (Some(process), Some(kind)) = (fields.next(), fields.next()) else {
        return false;
    };
    let process_ok = (!process.is_empty() && process.bytes().all(|b| b.is_ascii_digit()))
        || (process.len() > 1 && process.starts_with(':'));
    process_ok && kind.starts_with(':') && OpType::parse(kind).is_some()
}

/// Reads a history file in `format`; [`Format::Auto`] detects it first.
/// EDN with one map per line is read in pieces ([`edn::read_from`]), so a
/// large file never sits in memory whole next to its history. A file that
/// cannot be opened or read is an error with line 0.
pub fn read_file(path: &std::path::Path, format: Format) -> Result<History, ParseError> {
    use std::io::Read;
    let io_error = |e: std::io::Error| ParseError {
        line: 0,
        column: 0,
        message: format!("cannot read: {e}"),
    };
    let mut file = std::fs::File::open(path).map_err(io_error)?;
    let mut head = Vec::with_capacity(4096);
    (&mut file)
        .take(4096)
        .read_to_end(&mut head)
        .map_err(io_error)?;
    let format = if format == Format::Auto {
        detect(&head)
    } else {
        format
    };
    if format == Format::Edn {
        let size = file.metadata().map_or(0, |m| m.len() as usize);
        return edn::read_from(std::io::Cursor::new(head).chain(file), size);
    }
    file.read_to_end(&mut head).map_err(io_error)?;
    read(&head, format)
}

/// Reads a history in `format`; [`Format::Auto`] detects it first.
pub fn read(bytes: &[u8], format: Format) -> Result<History, ParseError> {
    match format {
        Format::Auto => read(bytes, detect(bytes)),
        Format::JsonLines | Format::Json => json::read(bytes),
        Format::Edn => edn::read(bytes),
        Format::JepsenLog => jepsen_log::read(bytes),
    }
}
