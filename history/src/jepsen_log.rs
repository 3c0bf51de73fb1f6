//! Jepsen's log lines (`jepsen.log`, console output) and `history.txt`.
//!
//! Both have one event per line: `<process> <type> <f> <value> [<error>]`.
//! In a log the event follows `jepsen.util - ` and every other line is
//! skipped; in `history.txt` every non-blank line is an event. Fields are
//! separated by tabs in most files and by runs of spaces in others: the
//! first three are split on whitespace, and the value is the rest of the
//! line read as one EDN value (it may contain spaces, like `[2 4]`). When a
//! tab follows the value, the rest of the line is the error.
//!
//! ```
//! use history::{jepsen_log, OpType, Process, Value};
//! let h = jepsen_log::read(b"INFO  jepsen.util - 2\t:invoke\t:cas\t[2 4]\n").unwrap();
//! let op = &h.ops()[0];
//! assert_eq!((op.process.clone(), op.kind, op.f.as_str()), (Process::Client(2), OpType::Invoke, "cas"));
//! assert_eq!(op.value, Value::Vector(vec![Value::Int(2), Value::Int(4)]));
//! ```

use crate::edn::{parse_value_prefix, utf8};
use crate::{History, Op, OpType, ParseError, Process, Value};

/// What precedes an event in a Jepsen log line.
const MARKER: &str = "jepsen.util - ";

/// Whether `bytes` contain a Jepsen log line marker (`jepsen.util - `).
pub(crate) fn has_marker(bytes: &[u8]) -> bool {
    find(bytes, MARKER.as_bytes()).is_some()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(i) = hay.get(from..)?.iter().position(|&b| b == first) {
        let at = from + i;
        if hay.get(at + 1..at + needle.len()) == Some(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Reads Jepsen log lines or a `history.txt`.
///
/// If any line contains `jepsen.util - `, the input is a log: the event
/// after that marker is read from each such line and other lines are
/// skipped. Otherwise every non-blank line must be an event. Processes are
/// integers or keywords (`:nemesis` → [`Process::Named`]); there are no
/// times (`-1`); indexes are positions. A malformed event line is an error
/// naming its line and column.
pub fn read(bytes: &[u8]) -> Result<History, ParseError> {
    let text = utf8(bytes)?;
    let log = has_marker(text.as_bytes());
    let mut h = History::new();
    for (n, raw) in text.split('\n').enumerate() {
        let line_no = u32::try_from(n + 1).unwrap_or(u32::MAX);
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let (event, col_base) = if log {
            match find(line.as_bytes(), MARKER.as_bytes()) {
                Some(at) => (
                    line.get(at + MARKER.len()..).unwrap_or_default(),
                    at + MARKER.len(),
                ),
                None => continue,
            }
        } else if line.trim().is_empty() {
            continue;
        } else {
            (line, 0)
        };
        let mut op = parse_event(event, line_no, col_base)?;
        op.index = h.len() as u64;
        h.push_from_line(op, line_no);
    }
    Ok(h)
}

/// Splits off the next whitespace-separated field: (start, end) byte offsets.
fn field(s: &str, from: usize) -> (usize, usize) {
    let b = s.as_bytes();
    let mut start = from;
    while b.get(start).is_some_and(|c| c.is_ascii_whitespace()) {
        start += 1;
    }
    let mut end = start;
    while b.get(end).is_some_and(|c| !c.is_ascii_whitespace()) {
        end += 1;
    }
    (start, end)
}

fn parse_event(s: &str, line: u32, col_base: usize) -> Result<Op, ParseError> {
    let err = |at: usize, message: String| ParseError {
        line,
        column: u32::try_from(col_base + at + 1).unwrap_or(u32::MAX),
        message,
    };
    let text = |a: usize, b: usize| s.get(a..b).unwrap_or_default();
    let found = |a: usize, b: usize| {
        if a == b {
            "end of line".to_string()
        } else {
            format!("'{}'", text(a, b))
        }
    };

    let (p0, p1) = field(s, 0);
    let p = text(p0, p1);
    let process = if !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()) {
        match p.parse::<u64>() {
            Ok(n) => Process::Client(n),
            Err(_) => {
                return Err(err(
                    p0,
                    format!("expected a process id that fits in 64 bits, found {p}"),
                ))
            }
        }
    } else if p.len() > 1 && p.starts_with(':') {
        Process::Named(text(p0 + 1, p1).to_owned())
    } else {
        return Err(err(
            p0,
            format!(
                "expected a process (an integer, or a keyword such as :nemesis), found {}",
                found(p0, p1)
            ),
        ));
    };

    let (t0, t1) = field(s, p1);
    let kind = OpType::parse(text(t0, t1)).ok_or_else(|| {
        err(
            t0,
            format!(
                "expected the type to be one of :invoke :ok :fail :info, found {}",
                found(t0, t1)
            ),
        )
    })?;

    let (f0, f1) = field(s, t1);
    let f = text(f0, f1);
    let f = f.strip_prefix(':').unwrap_or(f);
    if f.is_empty() {
        return Err(err(
            f0,
            format!(
                "expected a function such as :read or :write, found {}",
                found(f0, f1)
            ),
        ));
    }

    let (v0, _) = field(s, f1);
    if v0 >= s.len() {
        return Err(err(
            v0,
            "expected a value after the function, found end of line".to_string(),
        ));
    }
    let rest = text(v0, s.len());
    let col = u32::try_from(col_base + v0).unwrap_or(u32::MAX);
    let (value, used) = parse_value_prefix(rest, line, col)?;
    let tail = rest.get(used..).unwrap_or_default();
    let trimmed = tail.trim();
    let error = if trimmed.is_empty() {
        None
    } else {
        let gap = tail.len() - tail.trim_start().len();
        let tab_separated = tail.get(..gap).unwrap_or_default().contains('\t');
        if !tab_separated {
            let at = v0 + used + gap;
            return Err(err(
                at,
                format!(
                    "expected end of line after the value (the value is one EDN form; an error follows a tab), found {}",
                    s.get(at..).and_then(|r| r.chars().next()).map_or("end of line".to_string(), |c| format!("{c:?}"))
                ),
            ));
        }
        // Jepsen prints errors with `print`, so they need not be EDN.
        Some(crate::edn::parse_value(trimmed).unwrap_or_else(|_| Value::Str(trimmed.to_owned())))
    };

    let mut op = Op::new(process, kind, f, value);
    op.error = error;
    Ok(op)
}
