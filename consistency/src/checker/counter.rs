//! Jepsen's counter checker.
//!
//! A counter starts at 0; `:add n` (an integer `n ≥ 0`) increments it and
//! `:read` returns its value. As Jepsen's `checker/counter`, walking the
//! history in order:
//!
//! - the *lower bound* of a read is the sum of the `ok` adds completed
//!   before the read was invoked;
//! - the *upper bound* is the sum of the adds invoked before the read
//!   completed, except those that failed (`info` and unfinished adds count:
//!   they may have happened).
//!
//! Every `ok` read must lie within `[lower, upper]`. The output lists every
//! `ok` read as `[lower read upper]` (in the order the reads completed) and
//! the ones out of bounds as `errors`; valid iff there are none. The
//! report's [`Details::Counter`] holds them typed, as [`Bounds`].
//!
//! ```
//! use history::{History, Op, OpType, Process, Value};
//! use consistency::checker::counter::{check, Read};
//! use consistency::checker::Details;
//! use consistency::Verdict;
//!
//! let (p0, p1) = (Process::Client(0), Process::Client(1));
//! let h = History::from_ops([
//!     Op::new(p0.clone(), OpType::Invoke, "add", Value::Int(2)),
//!     Op::new(p1.clone(), OpType::Invoke, "read", Value::Nil),
//!     Op::new(p1.clone(), OpType::Ok, "read", Value::Int(2)), // concurrent: 0..=2
//!     Op::new(p0.clone(), OpType::Info, "add", Value::Int(2)),
//!     Op::new(p1.clone(), OpType::Invoke, "read", Value::Nil),
//!     Op::new(p1.clone(), OpType::Ok, "read", Value::Int(3)), // at most 2
//! ]);
//! let report = check(&h).unwrap();
//! assert_eq!(report.verdict, Verdict::Invalid);
//! assert_eq!(report.to_json()["reads"], serde_json::json!([[0, 2, 2], [0, 3, 2]]));
//! assert_eq!(report.to_json()["errors"], serde_json::json!([[0, 3, 2]]));
//! let Details::Counter(bounds) = &report.details else { panic!("a counter report") };
//! assert_eq!(bounds.errors, [Read { lower: 0, value: 3, upper: 2 }]);
//! ```

use super::{bad_operation, events, CheckError, Checker, Details, Report};
use crate::Verdict;
use history::{operations, History, Operation, Outcome, Value};
use serde::{Serialize, Serializer};
use std::collections::HashMap;

/// The checker's name (`checker check --model counter`), in its reports too.
const NAME: &str = "counter";

/// What the counter checker found: every `ok` read with its bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Bounds {
    /// Every `ok` read, in the order the reads completed.
    pub reads: Vec<Read>,
    /// The reads out of their bounds, in the same order.
    pub errors: Vec<Read>,
}

/// An `ok` read and its bounds; serialized as Jepsen's `[lower read upper]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    /// The sum of the `ok` adds completed before the read was invoked.
    pub lower: i64,
    /// The value read.
    pub value: i64,
    /// The sum of the non-failed adds invoked before the read completed.
    pub upper: i64,
}

impl Read {
    /// Whether the value lies within `[lower, upper]`.
    pub fn in_bounds(&self) -> bool {
        self.lower <= self.value && self.value <= self.upper
    }
}

impl Serialize for Read {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        [self.lower, self.value, self.upper].serialize(s)
    }
}

/// The amount of an add, or an error naming it.
fn amount(history: &History, o: &Operation<'_>) -> Result<i64, CheckError> {
    // The invocation carries the amount; an ok completion echoes it.
    let v = match (&o.invoke.value, o.completion) {
        (Value::Nil, Some(c)) => &c.value,
        (v, _) => v,
    };
    match v {
        Value::Int(n) if *n >= 0 => Ok(*n),
        Value::Int(n) => Err(bad_operation(
            history,
            o,
            false,
            format!("a counter :add must be non-negative (decrements are not allowed), found {n}"),
        )),
        v => Err(bad_operation(
            history,
            o,
            false,
            format!(
                "a counter :add must carry a non-negative integer as its :value, found {} `{}`",
                v.kind(),
                v
            ),
        )),
    }
}

fn overflow(history: &History, o: &Operation<'_>) -> CheckError {
    bad_operation(
        history,
        o,
        false,
        "the sum of the adds overflows a 64-bit integer".into(),
    )
}

/// Jepsen's counter checker as a [`Checker`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Counter;

impl Checker for Counter {
    fn name(&self) -> &'static str {
        NAME
    }

    fn about(&self) -> &'static str {
        "every read within [ok adds, attempted adds]"
    }

    fn check(
        &self,
        history: &History,
        _options: &crate::linearizable::Options,
    ) -> Result<Report, CheckError> {
        check(history)
    }
}

/// Jepsen's counter checker; see the [module docs](self).
pub fn check(history: &History) -> Result<Report, CheckError> {
    let ops = operations(history)?;
    let mut lower: i64 = 0;
    let mut upper: i64 = 0;
    // operation → lower bound when it was invoked (ok reads only)
    let mut pending: HashMap<usize, i64> = HashMap::new();
    let mut reads: Vec<Read> = Vec::new();
    for e in events(&ops) {
        let o = &ops[e.op];
        match (o.f(), e.completion) {
            ("read", false) if o.outcome == Outcome::Ok => {
                pending.insert(e.op, lower);
            }
            ("read", true) if o.outcome == Outcome::Ok => {
                let value = match o.value() {
                    Value::Int(n) => *n,
                    v => {
                        return Err(bad_operation(
                            history,
                            o,
                            true,
                            format!(
                                "an ok counter :read must return an integer, found {} `{}`",
                                v.kind(),
                                v
                            ),
                        ))
                    }
                };
                let low = pending.remove(&e.op).unwrap_or(lower);
                reads.push(Read {
                    lower: low,
                    value,
                    upper,
                });
            }
            ("add", false) => {
                let n = amount(history, o)?;
                if o.outcome != Outcome::Fail {
                    upper = upper.checked_add(n).ok_or_else(|| overflow(history, o))?;
                }
            }
            ("add", true) if o.outcome == Outcome::Ok => {
                let n = amount(history, o)?;
                lower = lower.checked_add(n).ok_or_else(|| overflow(history, o))?;
            }
            _ => {}
        }
    }
    let errors: Vec<Read> = reads.iter().copied().filter(|r| !r.in_bounds()).collect();
    let verdict = if errors.is_empty() {
        Verdict::Valid
    } else {
        Verdict::Invalid
    };
    let summary = match errors.first() {
        None => format!(
            "{} reads, all within [ok adds, attempted adds]",
            reads.len()
        ),
        Some(Read {
            lower: l,
            value: v,
            upper: u,
        }) => format!(
            "{} of {} reads out of bounds; first: read {v} not within [{l}, {u}]",
            errors.len(),
            reads.len()
        ),
    };
    Ok(Report {
        checker: NAME,
        verdict,
        summary,
        details: Details::Counter(Bounds { reads, errors }),
    })
}
