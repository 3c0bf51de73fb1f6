//! Shared helpers for the `checks_*` tests: a terse history builder and fixtures.
#![allow(dead_code)]

use consistency::checker::{by_name, CheckError, Report};
use consistency::linearizable::Options;
use history::{History, Op, OpType, Process, Value};

/// Builds a history event by event. Each event gets the time `position ms`
/// unless [`H::at`] sets another.
#[derive(Default)]
pub struct H {
    ops: Vec<Op>,
}

impl H {
    pub fn new() -> H {
        H::default()
    }

    /// Appends an event of a client process.
    pub fn ev(mut self, p: u64, kind: OpType, f: &str, v: Value) -> H {
        let t = self.ops.len() as i64 * 1_000_000;
        self.ops.push(Op::new(Process::Client(p), kind, f, v).at(t));
        self
    }
    pub fn inv(self, p: u64, f: &str, v: Value) -> H {
        self.ev(p, OpType::Invoke, f, v)
    }
    pub fn ok(self, p: u64, f: &str, v: Value) -> H {
        self.ev(p, OpType::Ok, f, v)
    }
    pub fn fail(self, p: u64, f: &str, v: Value) -> H {
        self.ev(p, OpType::Fail, f, v)
    }
    pub fn info(self, p: u64, f: &str, v: Value) -> H {
        self.ev(p, OpType::Info, f, v)
    }
    /// A nemesis event (`:process :nemesis`, `:type :info`).
    pub fn nemesis(mut self, f: &str) -> H {
        let t = self.ops.len() as i64 * 1_000_000;
        self.ops.push(
            Op::new(
                Process::Named("nemesis".into()),
                OpType::Info,
                f,
                Value::Nil,
            )
            .at(t),
        );
        self
    }
    /// Sets the key of the last event.
    pub fn key(mut self, k: &str) -> H {
        if let Some(op) = self.ops.last_mut() {
            op.key = Some(Value::from(k));
        }
        self
    }
    /// Sets the `:node` of the last event.
    pub fn node(mut self, n: &str) -> H {
        if let Some(op) = self.ops.last_mut() {
            op.extra.push(("node".into(), Value::from(n)));
        }
        self
    }
    /// Sets the time (ns) of the last event.
    pub fn at(mut self, t: i64) -> H {
        if let Some(op) = self.ops.last_mut() {
            op.time = t;
        }
        self
    }
    pub fn build(self) -> History {
        History::from_ops(self.ops)
    }
}

pub fn int(i: i64) -> Value {
    Value::Int(i)
}
pub fn nil() -> Value {
    Value::Nil
}
/// A vector of integers.
pub fn ints(xs: &[i64]) -> Value {
    Value::Vector(xs.iter().map(|&x| Value::Int(x)).collect())
}
/// A map of integer accounts to balances (`None` = nil).
pub fn accounts(xs: &[(i64, Option<i64>)]) -> Value {
    Value::Map(
        xs.iter()
            .map(|&(a, b)| (Value::Int(a), b.map_or(Value::Nil, Value::Int)))
            .collect(),
    )
}

/// The path of a fixture under `tests/data/jepsen/`.
pub fn fixture_path(name: &str) -> String {
    format!("{}/tests/data/jepsen/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Reads a fixture (format detected).
pub fn fixture(name: &str) -> History {
    let bytes = std::fs::read(fixture_path(name)).expect("fixture exists");
    history::format::read(&bytes, history::Format::Auto).expect("fixture parses")
}

/// Runs the checker `name` of the table on `h`.
fn check_named(name: &str, h: &History) -> Option<Result<Report, CheckError>> {
    by_name(name).map(|c| c.check(h, &Options::default()))
}

/// Runs a named checker that must accept the history.
pub fn run(name: &str, h: &History) -> Report {
    check_named(name, h)
        .expect("a known checker")
        .unwrap_or_else(|e| panic!("{name} rejected the history: {e}"))
}

/// The error message of a named checker that must reject the history.
pub fn run_err(name: &str, h: &History) -> String {
    match check_named(name, h).expect("a known checker") {
        Ok(r) => panic!("{name} accepted the history: {r:?}"),
        Err(e) => e.to_string(),
    }
}
