//! [`Op`]: one event of a history, with Jepsen's semantics.

use crate::Value;
use std::fmt;

/// What an event says about its operation.
///
/// Jepsen's semantics: `Ok` definitely happened, `Fail` definitely did not,
/// and `Info` is indeterminate: the operation may take effect at any time
/// after its invocation, or never. An invocation that never completes means
/// the same as `Info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpType {
    /// The operation began.
    Invoke,
    /// The operation happened.
    Ok,
    /// The operation did not happen.
    Fail,
    /// The outcome is unknown; the process is retired.
    Info,
}

impl OpType {
    /// The name Jepsen uses (`invoke`, `ok`, `fail`, `info`).
    pub fn name(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }

    /// Parses a Jepsen type name, with or without the keyword colon.
    pub fn parse(name: &str) -> Option<OpType> {
        match name.strip_prefix(':').unwrap_or(name) {
            "invoke" => Some(OpType::Invoke),
            "ok" => Some(OpType::Ok),
            "fail" => Some(OpType::Fail),
            "info" => Some(OpType::Info),
            _ => None,
        }
    }
}

impl fmt::Display for OpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who performed an operation: a client process (an integer) or a named
/// actor such as Jepsen's `:nemesis`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    /// A logical client process. After an `info` it is retired and a fresh id
    /// takes its place.
    Client(u64),
    /// A named process, e.g. `nemesis` (stored without the colon).
    Named(String),
}

impl Process {
    /// The client id, if this is a client process.
    pub fn client(&self) -> Option<u64> {
        match self {
            Process::Client(p) => Some(*p),
            Process::Named(_) => None,
        }
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(p) => write!(f, "{p}"),
            Process::Named(n) => write!(f, ":{n}"),
        }
    }
}

/// One event of a history: an invocation or a completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    /// Dense position in the history (Jepsen's `:index`).
    pub index: u64,
    /// Nanoseconds since the test started; `-1` when the source had none.
    pub time: i64,
    /// Who performed it.
    pub process: Process,
    /// Invocation or kind of completion (Jepsen's `:type`).
    pub kind: OpType,
    /// The function, e.g. `read`, `write`, `cas` (a keyword, stored without the colon).
    pub f: String,
    /// Arguments on an invocation, results on an `ok` completion.
    pub value: Value,
    /// The key, for histories over many independent objects.
    pub key: Option<Value>,
    /// The error of a `fail` or `info` completion, if any.
    pub error: Option<Value>,
    /// Any other fields, kept so that nothing read is lost when written back.
    pub extra: Vec<(String, Value)>,
}

impl Op {
    /// A new event with no time, key, error or extra fields; `index` is
    /// assigned when it is pushed onto a [`crate::History`].
    pub fn new(process: Process, kind: OpType, f: impl Into<String>, value: Value) -> Op {
        Op {
            index: 0,
            time: -1,
            process,
            kind,
            f: f.into(),
            value,
            key: None,
            error: None,
            extra: Vec::new(),
        }
    }

    /// Sets the key.
    pub fn with_key(mut self, key: Value) -> Op {
        self.key = Some(key);
        self
    }

    /// Sets the time in nanoseconds.
    pub fn at(mut self, time: i64) -> Op {
        self.time = time;
        self
    }
}
