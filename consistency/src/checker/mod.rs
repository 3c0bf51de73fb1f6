//! Jepsen's workload checkers and checks for eventually consistent stores.
//!
//! Unlike [`crate::linearizable`], these checkers do not search: each makes
//! one or two passes over the history and reports Jepsen's output fields.
//!
//! | name | module | what |
//! |---|---|---|
//! | `set-full` | [`set_full::check`] | Jepsen's `checker/set-full`: per element stable / lost / never-read / stale, duplicates, latencies |
//! | `set` | [`set_full::check_set`] | Jepsen's `checker/set`: one final read against the adds |
//! | `counter` | [`counter::check`] | Jepsen's `checker/counter`: every read within `[ok adds, attempted adds]` |
//! | `bank` | [`bank::check`] | Jepsen's `tests/bank` checker: totals and negative balances |
//! | `convergence` | [`convergence::check`] | replicas' final reads agree, hold every acknowledged write, and nothing else |
//! | `register-stats` | [`register_stats::check`] | stale reads and lost writes of registers, per key |
//!
//! Each is a [`Checker`], listed with the linearizability checkers in
//! [`CHECKERS`], the table `checker check --model` reads. Every checker
//! returns a [`Report`]: a [`Verdict`], a one-line summary for people, and
//! its [`Details`]: one typed result per checker ([`set_full::Elements`],
//! [`set_full::FinalSet`], [`counter::Bounds`], [`bank::Reads`],
//! [`convergence::Agreement`], [`register_stats::Stats`], or a
//! linearizability [`Analysis`]). [`Report::to_json`] and [`Report::to_edn`]
//! give the `results.json` / `results.edn` files: `valid?` followed by
//! Jepsen's fields (the typed result's fields, serialized in kebab-case, as
//! Jepsen's `results.edn` has them).
//!
//! Malformed input is an error ([`CheckError`]) naming the op (line and
//! `:index`) and what was expected, never a verdict.
//!
//! ```
//! use history::{History, Op, OpType, Process, Value};
//! use consistency::checker::{by_name, Details};
//! use consistency::linearizable::Options;
//! use consistency::Verdict;
//!
//! let p = Process::Client(0);
//! let h = History::from_ops([
//!     Op::new(p.clone(), OpType::Invoke, "add", Value::Int(5)),
//!     Op::new(p.clone(), OpType::Ok, "add", Value::Int(5)),
//!     Op::new(p.clone(), OpType::Invoke, "read", Value::Nil),
//!     Op::new(p.clone(), OpType::Ok, "read", Value::Int(7)),
//! ]);
//! let report = by_name("counter").unwrap().check(&h, &Options::default()).unwrap();
//! assert_eq!(report.verdict, Verdict::Invalid);
//! assert_eq!(report.to_json()["errors"], serde_json::json!([[5, 7, 5]]));
//! // The same, typed.
//! let Details::Counter(bounds) = &report.details else { panic!("a counter report") };
//! assert_eq!((bounds.errors[0].lower, bounds.errors[0].value), (5, 7));
//! ```

pub mod bank;
pub mod convergence;
pub mod counter;
pub mod long_fork;
pub mod register_stats;
pub mod set_full;

use crate::linearizable::{self, Analysis, Linearizable, Options};
use crate::model::{cas_register::CasRegister, fifo_queue::FifoQueue, kv::Kv, mutex::Mutex};
use crate::model::{register::Register, set::Set};
use crate::{Unknown, Verdict};
use history::{History, HistoryError, Location, Op, Operation, Process, Value};
use serde::Serialize;
use serde_json::{Map, Value as Json};

/// A checker: takes a history and says whether it keeps a promise, and
/// why not (Jepsen's `(check [checker test history opts])`).
///
/// A checker is configured when it is built (a model, a total, whether a
/// set must be linearizable); [`Checker::check`] only gets the history and
/// the limits of the search. Workloads compose checkers: each one's
/// [`Report`] is a section of the run's report and a field of its results.
pub trait Checker: Send + Sync {
    /// Its name as `checker check --model` takes it (`cas-register`,
    /// `set-full`).
    fn name(&self) -> &'static str;
    /// What it checks, in one line, for `--help`.
    fn about(&self) -> &'static str;
    /// Which family it belongs to, for `--help`.
    fn family(&self) -> Family {
        Family::Workload
    }
    /// Checks `history`. Bad input is an error naming the op, never a
    /// verdict; `options` bound the time and memory a search may take.
    fn check(&self, history: &History, options: &Options) -> Result<Report, CheckError>;
}

/// The two families of checkers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Linearizability against a sequential model (a search).
    Linearizability,
    /// One of Jepsen's workload checkers or a check of eventual
    /// consistency (one or two passes over the history).
    Workload,
    /// Transactional isolation: Elle's dependency-cycle analyses ([`crate::txn`]).
    Transactional,
}

/// Every checker `checker check --model` knows, by name: the
/// linearizability models first, then the workload checkers. Validation,
/// `--help` and the README's list come from this table.
pub static CHECKERS: &[&dyn Checker] = &[
    &Linearizable(Register),
    &Linearizable(CasRegister),
    &Linearizable(Mutex),
    &Linearizable(Kv),
    &Linearizable(Set),
    &Linearizable(FifoQueue),
    &set_full::SetFull::DEFAULT,
    &set_full::SetOnce,
    &counter::Counter,
    &bank::Bank::DEFAULT,
    &convergence::Convergence,
    &register_stats::RegisterStats,
    &crate::txn::Elle(crate::txn::Workload::ListAppend),
    &crate::txn::Elle(crate::txn::Workload::RwRegister),
    &long_fork::LongFork,
];

/// The checker named `name` in [`CHECKERS`].
pub fn by_name(name: &str) -> Option<&'static dyn Checker> {
    CHECKERS.iter().copied().find(|c| c.name() == name)
}

/// The names in [`CHECKERS`], comma-separated, for error messages.
pub fn names() -> String {
    CHECKERS
        .iter()
        .map(|c| c.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a checker found.
#[derive(Debug, Clone)]
pub struct Report {
    /// The checker's name (see [`Checker::name`]).
    pub checker: &'static str,
    /// Valid, invalid or unknown.
    pub verdict: Verdict,
    /// One line for people, e.g. `100 attempted, 99 stable, 1 lost`.
    pub summary: String,
    /// What it found, typed.
    pub details: Details,
}

/// What each checker found, with its own typed fields.
///
/// Every workload result serializes (with `serde`) to Jepsen's output
/// fields, kebab-case keys in Jepsen's order; [`Report::to_json`] puts
/// `valid?` before them.
#[derive(Debug, Clone)]
// One report per checker per run: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum Details {
    /// A linearizability search's partitions, statistics and
    /// counterexamples.
    Linearizable(Box<Analysis>),
    /// `set-full` ([`set_full::check`]): each element's fate.
    SetFull(set_full::Elements),
    /// `set` ([`set_full::check_set`]): the final read against the adds.
    Set(set_full::FinalSet),
    /// `counter` ([`counter::check`]): every read with its bounds.
    Counter(counter::Bounds),
    /// `bank` ([`bank::check`]): the reads' errors, by type.
    Bank(bank::Reads),
    /// `convergence` ([`convergence::check`]): whether the replicas agree.
    Convergence(convergence::Agreement),
    /// `register-stats` ([`register_stats::check`]): stale reads, lost
    /// writes and unwritten reads.
    RegisterStats(register_stats::Stats),
    /// `list-append`, `rw-register` ([`crate::txn::check`]): Elle's anomalies, cycles and the
    /// models they rule out.
    Txn(Box<crate::txn::Analysis>),
    /// `long-fork` ([`long_fork::check`]): reads of one group that saw writes in
    /// opposite orders.
    LongFork(long_fork::Forks),
}

impl Report {
    /// The result as Jepsen prints it: `valid?` (`true`, `false` or
    /// `"unknown"`) followed by the details' fields.
    pub fn to_json(&self) -> Json {
        let fields = match &self.details {
            Details::Linearizable(analysis) => return crate::results::to_json(analysis),
            Details::Txn(analysis) => return analysis.to_json(),
            Details::SetFull(d) => serde_json::to_value(d),
            Details::Set(d) => serde_json::to_value(d),
            Details::Counter(d) => serde_json::to_value(d),
            Details::Bank(d) => serde_json::to_value(d),
            Details::Convergence(d) => serde_json::to_value(d),
            Details::RegisterStats(d) => serde_json::to_value(d),
            Details::LongFork(d) => serde_json::to_value(d),
        };
        let mut map = Map::new();
        map.insert("valid?".into(), self.verdict.json());
        // The results are structs of numbers, strings, lists and JSON
        // values, so serializing them cannot fail; if it ever did, say so
        // rather than drop the fields silently.
        match fields {
            Ok(Json::Object(fields)) => map.extend(fields),
            Ok(other) => {
                map.insert("details".into(), other);
            }
            Err(e) => {
                map.insert("error".into(), Json::from(format!("cannot serialize: {e}")));
            }
        }
        Json::Object(map)
    }

    /// The result as Jepsen-style EDN (`results.edn`): keys become keywords
    /// (numeric keys such as quantiles and account ids stay numbers) and an
    /// unknown verdict is `:valid? :unknown`.
    pub fn to_edn(&self) -> String {
        match &self.details {
            Details::Txn(analysis) => analysis.to_edn(),
            _ => crate::results::edn_of_json(&self.to_json()),
        }
    }

    /// The linearizability analysis, if this is a linearizability check.
    pub fn analysis(&self) -> Option<&Analysis> {
        match &self.details {
            Details::Linearizable(a) => Some(a),
            _ => None,
        }
    }
}

/// A history a checker cannot interpret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// Processes break Jepsen's rules (see [`history::operations`]).
    #[error(transparent)]
    History(#[from] HistoryError),
    /// An operation is not what the checker expects.
    #[error("{at}: {message}")]
    Op {
        /// Where: line and `:index` (see [`history::Location`]).
        at: String,
        /// What was expected and what was found.
        message: String,
    },
    /// No checker (or, for [`linearizable::check_model`], no model) has
    /// this name.
    #[error("unknown {what} `{name}`; choose one of: {choices}")]
    Unknown {
        /// `model` or `checker`.
        what: &'static str,
        /// The name given.
        name: String,
        /// The valid names.
        choices: String,
    },
}

impl From<linearizable::CheckError> for CheckError {
    fn from(e: linearizable::CheckError) -> CheckError {
        match e {
            linearizable::CheckError::History(h) => CheckError::History(h),
            linearizable::CheckError::Model { at, source } => CheckError::Op {
                at,
                message: source.to_string(),
            },
        }
    }
}

/// The verdict of a check that had nothing to decide on (no read, nothing
/// stable): Jepsen's `:valid? :unknown`.
///
/// [`Unknown`] has no "inconclusive" cause; [`Unknown::Error`] (the input
/// lacks what the checker needs) is the closest. Reports say why in their
/// summary and in an `error` field, as Jepsen does.
pub(crate) const INCONCLUSIVE: Verdict = Verdict::Unknown(Unknown::Error);

// ---------------------------------------------------------------------------
// Shared helpers

/// Where the event at `position` is, for error messages.
pub(crate) fn location(history: &History, position: usize) -> String {
    Location {
        position,
        index: history
            .ops()
            .get(position)
            .map_or(position as u64, |o| o.index),
        line: history.line(position),
    }
    .to_string()
}

/// An error about the event at `position`.
pub(crate) fn bad_op(history: &History, position: usize, message: String) -> CheckError {
    CheckError::Op {
        at: location(history, position),
        message,
    }
}

/// An error about an operation: at its completion when the completion
/// carries the offending value, else at its invocation.
/// The value a register operation may have written: a `:write`'s value or
/// a `:cas`'s new value, unless it failed; `None` for anything else.
pub(crate) fn written_value<'h>(
    history: &History,
    o: &Operation<'h>,
) -> Result<Option<&'h Value>, CheckError> {
    if o.outcome == history::Outcome::Fail {
        return Ok(None);
    }
    match o.f() {
        "write" => Ok(Some(&o.invoke.value)),
        "cas" => match o.invoke.value.as_seq() {
            Some([_, new]) => Ok(Some(new)),
            _ => Err(bad_operation(
                history,
                o,
                false,
                format!(
                    "a :cas must carry [old new] as its :value, found {} `{}`",
                    o.invoke.value.kind(),
                    o.invoke.value
                ),
            )),
        },
        _ => Ok(None),
    }
}

pub(crate) fn bad_operation(
    history: &History,
    operation: &Operation<'_>,
    at_completion: bool,
    message: String,
) -> CheckError {
    let position = if at_completion {
        operation.complete_at.unwrap_or(operation.invoke_at)
    } else {
        operation.invoke_at
    };
    bad_op(history, position, message)
}

/// One event of an operation, in history order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Event {
    /// Position in the history.
    pub position: usize,
    /// Which operation (index into the `operations()` vector).
    pub op: usize,
    /// Whether this is the completion (else the invocation).
    pub completion: bool,
}

/// The invocations and completions of `ops`, in history order.
pub(crate) fn events(ops: &[Operation<'_>]) -> Vec<Event> {
    let mut events = Vec::with_capacity(ops.len() * 2);
    for (i, o) in ops.iter().enumerate() {
        events.push(Event {
            position: o.invoke_at,
            op: i,
            completion: false,
        });
        if let Some(at) = o.complete_at {
            events.push(Event {
                position: at,
                op: i,
                completion: true,
            });
        }
    }
    events.sort_unstable_by_key(|e| e.position);
    events
}

/// An op as Jepsen prints it in results: `index`, `time`, `type`,
/// `process`, `f`, `key` (if any), `value`, `error` (if any) and extra fields.
pub(crate) fn op_json(op: &Op) -> Json {
    let mut m = Map::new();
    m.insert("index".into(), Json::from(op.index));
    m.insert("time".into(), Json::from(op.time));
    m.insert("type".into(), Json::from(op.kind.name()));
    m.insert(
        "process".into(),
        match &op.process {
            Process::Client(p) => Json::from(*p),
            Process::Named(n) => Json::from(n.as_str()),
        },
    );
    m.insert("f".into(), Json::from(op.f.as_str()));
    if let Some(key) = &op.key {
        m.insert("key".into(), value_json(key));
    }
    m.insert("value".into(), value_json(&op.value));
    if let Some(error) = &op.error {
        m.insert("error".into(), value_json(error));
    }
    for (name, v) in &op.extra {
        m.insert(name.clone(), value_json(v));
    }
    Json::Object(m)
}

/// A value as JSON, with elle-cli's conventions ([`history::json::value_to_json`]).
pub(crate) fn value_json(v: &Value) -> Json {
    history::json::value_to_json(v)
}

/// Values as a JSON array, in the given order.
pub(crate) fn values_json<'a>(vs: impl IntoIterator<Item = &'a Value>) -> Json {
    Json::Array(vs.into_iter().map(value_json).collect())
}

/// Jepsen's `util/integer-interval-set-str`: a sorted set written compactly,
/// runs of consecutive integers as `a..b`: `#{1..3 5 :x}`. Non-integers are
/// written one by one as EDN.
pub(crate) fn interval_set_str<'a>(sorted: impl IntoIterator<Item = &'a Value>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut run: Option<(i64, i64)> = None;
    let flush = |run: &mut Option<(i64, i64)>, parts: &mut Vec<String>| {
        if let Some((a, b)) = run.take() {
            parts.push(if a == b {
                a.to_string()
            } else {
                format!("{a}..{b}")
            });
        }
    };
    for v in sorted {
        match (v, run) {
            (Value::Int(i), Some((a, b))) if b.checked_add(1) == Some(*i) => run = Some((a, *i)),
            (Value::Int(i), _) => {
                flush(&mut run, &mut parts);
                run = Some((*i, *i));
            }
            (other, _) => {
                flush(&mut run, &mut parts);
                parts.push(other.to_string());
            }
        }
    }
    flush(&mut run, &mut parts);
    format!("#{{{}}}", parts.join(" "))
}

/// Milliseconds from nanoseconds, truncated as Jepsen's `nanos->ms` + `long`.
pub(crate) fn nanos_to_ms(ns: i64) -> i64 {
    ns / 1_000_000
}

/// A distribution at Jepsen's points `{0 0.5 0.95 0.99 1}` (Jepsen's
/// `frequency-distribution`), serialized with those numbers as keys:
/// `{"0": 1, "0.5": 3, "0.95": 5, "0.99": 5, "1": 5}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Quantiles {
    /// The smallest value (point `0`).
    #[serde(rename = "0")]
    pub min: i64,
    /// The median (point `0.5`).
    #[serde(rename = "0.5")]
    pub median: i64,
    /// The 95th percentile (point `0.95`).
    #[serde(rename = "0.95")]
    pub p95: i64,
    /// The 99th percentile (point `0.99`).
    #[serde(rename = "0.99")]
    pub p99: i64,
    /// The largest value (point `1`).
    #[serde(rename = "1")]
    pub max: i64,
}

/// Jepsen's `frequency-distribution` at `{0 0.5 0.95 0.99 1}`: for each
/// point, the element at `min(n-1, floor(n·point))` of the sorted values.
pub(crate) fn quantiles(values: &mut [i64]) -> Option<Quantiles> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let n = values.len();
    let at = |point: f64| values[((n as f64 * point).floor() as usize).min(n - 1)];
    Some(Quantiles {
        min: at(0.0),
        median: at(0.5),
        p95: at(0.95),
        p99: at(0.99),
        max: at(1.0),
    })
}

/// `serialize_with` helpers: history values as JSON with elle-cli's
/// conventions ([`value_json`]), so typed results print as Jepsen's did.
pub(crate) mod ser {
    use super::{interval_set_str, value_json, values_json};
    use history::Value;
    use serde::{Serialize, Serializer};
    use std::collections::BTreeMap;

    /// A value.
    pub fn value<S: Serializer>(v: &Value, s: S) -> Result<S::Ok, S::Error> {
        value_json(v).serialize(s)
    }

    /// A key: the value, or `null` without one.
    pub fn key<S: Serializer>(k: &Option<Value>, s: S) -> Result<S::Ok, S::Error> {
        match k {
            Some(k) => value_json(k).serialize(s),
            None => s.serialize_none(),
        }
    }

    /// Values, as a JSON array in their order.
    pub fn values<S: Serializer>(vs: &[Value], s: S) -> Result<S::Ok, S::Error> {
        values_json(vs).serialize(s)
    }

    /// A sorted set of values as Jepsen's `integer-interval-set-str`:
    /// `"#{1..3 5}"`.
    pub fn interval_set<S: Serializer>(vs: &[Value], s: S) -> Result<S::Ok, S::Error> {
        interval_set_str(vs).serialize(s)
    }

    /// A map of values, as the history value map it is.
    pub fn value_map<S: Serializer>(m: &BTreeMap<Value, Value>, s: S) -> Result<S::Ok, S::Error> {
        value_json(&Value::Map(
            m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        ))
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn interval_sets_compress_integer_runs() {
        let vs = [1, 2, 3, 5, 7, 8].map(Value::Int);
        assert_eq!(interval_set_str(&vs), "#{1..3 5 7..8}");
        assert_eq!(interval_set_str(&[]), "#{}");
        let mixed = [Value::Int(1), Value::Str("a".into())];
        assert_eq!(interval_set_str(&mixed), "#{1 \"a\"}");
    }

    #[test]
    fn edn_keeps_numeric_keys_as_numbers() {
        let out = crate::results::edn_of_json(&json!(
            {"valid?": "unknown", "m": {"0": 1, "0.5": 2, "x y": 3, "lost-count": 0}}
        ));
        assert_eq!(
            out,
            "{:valid? :unknown,\n :m {0 1, 0.5 2, \"x y\" 3, :lost-count 0}}\n"
        );
    }

    #[test]
    fn quantiles_pick_jepsens_indices() {
        let mut v = vec![5, 1, 3, 2, 4];
        let q = quantiles(&mut v).expect("values");
        assert_eq!((q.min, q.median, q.max), (1, 3, 5));
        assert_eq!(
            serde_json::to_value(q).expect("serializes"),
            json!({"0": 1, "0.5": 3, "0.95": 5, "0.99": 5, "1": 5})
        );
        assert_eq!(quantiles(&mut []), None);
    }
}
