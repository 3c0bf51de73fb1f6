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
//! the ones out of bounds as `errors`; valid iff there are none.
//!
//! ```
//! use history::{History, Op, OpType, Process, Value};
//! use consistency::checker::counter::check;
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
//! ```

use super::{Checker, Details, bad_operation, events, CheckError, Report};
use crate::Verdict;
use history::{operations, History, Operation, Outcome, Value};
use serde_json::{json, Map, Value as Json};
use std::collections::HashMap;

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
        "counter"
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
    let mut reads: Vec<[i64; 3]> = Vec::new();
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
                reads.push([low, value, upper]);
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
    let errors: Vec<[i64; 3]> = reads
        .iter()
        .copied()
        .filter(|[l, v, u]| !(l <= v && v <= u))
        .collect();
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
        Some([l, v, u]) => format!(
            "{} of {} reads out of bounds; first: read {v} not within [{l}, {u}]",
            errors.len(),
            reads.len()
        ),
    };
    let mut d = Map::new();
    d.insert("reads".into(), json!(reads));
    d.insert("errors".into(), json!(errors));
    Ok(Report {
        checker: "counter",
        verdict,
        summary,
        details: Details::Jepsen(Json::Object(d)),
    })
}
