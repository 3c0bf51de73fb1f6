//! Jepsen's set checkers: `set-full` (repeated reads) and `set` (one final read).
//!
//! Operations: `:add x` adds the element `x` (any value; compared exactly,
//! so a keyword and a string differ) and `:read` returns every element
//! present, as a vector or a set (`nil` reads as empty).
//!
//! # `set-full`
//!
//! As Jepsen's `checker/set-full`, for each element whose `:add` was invoked:
//!
//! - *known*: from the completion of its `ok` add, or of the first `ok`
//!   read that saw it, whichever comes first;
//! - *stable*: some read saw it, and no read invoked after the latest such
//!   read's invocation missed it;
//! - *lost*: it is known, and a read invoked after both the element became
//!   known and the last read that saw it was invoked missed it;
//! - *never read*: neither (for instance an add that crashed and was never seen);
//! - *stale*: stable, but a read invoked after it became known missed it.
//!
//! Reads consider the elements whose add was invoked before the read
//! completed. `valid?` is `false` if an element is lost or a read returned
//! an element twice (`duplicated`), else `:unknown` if nothing is stable,
//! else (with [`Options::linearizable`]) `false` if an element is stale,
//! else `true`.
//!
//! Latencies are Jepsen's: the stable latency runs from the known time to
//! just after the invocation of the last read that missed the element (0
//! when none did), the lost latency to just after the invocation of the
//! last read that saw it; both in whole milliseconds from `:time`, as
//! quantile maps at `{0 0.5 0.95 0.99 1}`.
//!
//! Two deliberate differences from Jepsen's code, both towards its
//! docstring: an element is *stale* when a read invoked after it became known
//! (in history order) missed it, where Jepsen's code asks for a stable
//! latency of at least 1 ms, so it misses sub-millisecond staleness and all
//! staleness in histories without times; and duplicates are elements a
//! read returned more than once (Jepsen's code tests a multiplicity `< 1`,
//! which never holds). A second `:add` of an element already tracked keeps
//! what is known about it, where Jepsen starts it afresh and so could forget
//! a loss.
//!
//! ```
//! use history::{History, Op, OpType, Process, Value};
//! use consistency::checker::set_full::{check, Options};
//! use consistency::Verdict;
//!
//! let (p0, p1) = (Process::Client(0), Process::Client(1));
//! let ints = |xs: &[i64]| Value::Vector(xs.iter().map(|&x| Value::Int(x)).collect());
//! let h = History::from_ops([
//!     Op::new(p0.clone(), OpType::Invoke, "add", Value::Int(1)),
//!     Op::new(p0.clone(), OpType::Ok, "add", Value::Int(1)),
//!     Op::new(p1.clone(), OpType::Invoke, "read", Value::Nil),
//!     Op::new(p1.clone(), OpType::Ok, "read", ints(&[1])),
//!     Op::new(p1.clone(), OpType::Invoke, "read", Value::Nil),
//!     Op::new(p1.clone(), OpType::Ok, "read", ints(&[])), // 1 vanished
//! ]);
//! let report = check(&h, &Options::default()).unwrap();
//! assert_eq!(report.verdict, Verdict::Invalid);
//! assert_eq!(report.to_json()["lost"], serde_json::json!([1]));
//! ```
//!
//! # `set`
//!
//! As Jepsen's `checker/set`: the last `ok` read is the final read. `ok`
//! elements are read and attempted, `unexpected` read but never attempted,
//! `lost` acknowledged but not read, `recovered` read although their add was
//! not acknowledged. Valid iff nothing is lost or unexpected; `:unknown`
//! when the set was never read.

use super::{Checker, Details, 
    bad_operation, events, interval_set_str, nanos_to_ms, op_json, quantiles, value_json,
    values_json, CheckError, Report, INCONCLUSIVE,
};
use crate::Verdict;
use history::{operations, History, Op, Operation, Outcome, Value};
use serde_json::{json, Map, Value as Json};
use std::collections::{BTreeMap, BTreeSet};

/// Options of `set-full`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The set is expected to be linearizable: stale elements make the
    /// history invalid (Jepsen's `:linearizable?`).
    pub linearizable: bool,
}

/// A read or add event: its position in the history and the op.
type Seen<'h> = (usize, &'h Op);

/// What is known about one element.
struct Element<'h> {
    /// The completion of the ok add, or of the first ok read that saw it.
    known: Option<Seen<'h>>,
    /// The latest invocation of a read that saw it.
    last_present: Option<Seen<'h>>,
    /// The latest invocation of a read that missed it.
    last_absent: Option<Seen<'h>>,
}

/// How an element ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome3 {
    Stable,
    Lost,
    NeverRead,
}

/// The elements a read returned, or an error naming the read.
fn read_elements<'h>(history: &History, o: &Operation<'h>) -> Result<&'h [Value], CheckError> {
    match o.value() {
        Value::Nil => Ok(&[]),
        v => v.as_seq().ok_or_else(|| {
            bad_operation(
                history,
                o,
                true,
                format!(
                    "an ok :read of a set must return a collection of elements (a vector or a set), found {} `{}`",
                    v.kind(),
                    v
                ),
            )
        }),
    }
}

/// The element an add adds, or an error naming the add.
fn added<'h>(history: &History, o: &Operation<'h>) -> Result<&'h Value, CheckError> {
    let v = &o.invoke.value;
    if v.is_nil() {
        return Err(bad_operation(
            history,
            o,
            false,
            "an :add must carry the element it adds as its :value, found nil".into(),
        ));
    }
    Ok(v)
}

/// Jepsen's `set-full` checker as a [`Checker`], with its options.
#[derive(Debug, Clone, Default)]
pub struct SetFull(pub Options);

impl SetFull {
    /// The default: the set need not be linearizable (stale elements are
    /// reported, not invalid).
    pub const DEFAULT: SetFull = SetFull(Options {
        linearizable: false,
    });
}

impl Checker for SetFull {
    fn name(&self) -> &'static str {
        "set-full"
    }

    fn about(&self) -> &'static str {
        "repeated reads of a set: lost, stale, never-read, duplicated elements"
    }

    fn check(
        &self,
        history: &History,
        _options: &crate::linearizable::Options,
    ) -> Result<Report, CheckError> {
        check(history, &self.0)
    }
}

/// Jepsen's `set` checker (one final read) as a [`Checker`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SetOnce;

impl Checker for SetOnce {
    fn name(&self) -> &'static str {
        "set"
    }

    fn about(&self) -> &'static str {
        "one final read of a set: lost and unexpected elements"
    }

    fn check(
        &self,
        history: &History,
        _options: &crate::linearizable::Options,
    ) -> Result<Report, CheckError> {
        check_set(history)
    }
}


/// Jepsen's `set-full` checker; see the [module docs](self).
pub fn check(history: &History, options: &Options) -> Result<Report, CheckError> {
    let ops = operations(history)?;
    let mut elements: BTreeMap<&Value, Element<'_>> = BTreeMap::new();
    let mut dups: BTreeMap<&Value, usize> = BTreeMap::new();
    for e in events(&ops) {
        let o = &ops[e.op];
        match (o.f(), e.completion) {
            ("add", false) => {
                let v = added(history, o)?;
                elements.entry(v).or_insert(Element {
                    known: None,
                    last_present: None,
                    last_absent: None,
                });
            }
            ("add", true) if o.outcome == Outcome::Ok => {
                if let (Ok(v), Some(c)) = (added(history, o), o.completion) {
                    if let Some(el) = elements.get_mut(v) {
                        el.known.get_or_insert((e.position, c));
                    }
                }
            }
            ("read", true) if o.outcome == Outcome::Ok => {
                let mut read: Vec<&Value> = read_elements(history, o)?.iter().collect();
                read.sort_unstable();
                for run in read.chunk_by(|a, b| a == b).filter(|run| run.len() > 1) {
                    let d = dups.entry(run[0]).or_default();
                    *d = (*d).max(run.len());
                }
                read.dedup();
                let (Some(completion), inv) = (o.completion, (o.invoke_at, o.invoke)) else {
                    continue;
                };
                // Both sorted: walk them together.
                let mut seen = read.iter().copied().peekable();
                for (&v, el) in elements.iter_mut() {
                    while seen.next_if(|r| *r < v).is_some() {}
                    if seen.next_if(|r| *r == v).is_some() {
                        el.known.get_or_insert((e.position, completion));
                        if el.last_present.map(|(p, _)| p) < Some(inv.0) {
                            el.last_present = Some(inv);
                        }
                    } else if el.last_absent.map(|(p, _)| p) < Some(inv.0) {
                        el.last_absent = Some(inv);
                    }
                }
            }
            _ => {}
        }
    }

    struct Result3<'a, 'h> {
        element: &'a Value,
        outcome: Outcome3,
        stale: bool,
        stable_latency: Option<i64>,
        lost_latency: Option<i64>,
        known: Option<&'h Op>,
        last_absent: Option<&'h Op>,
    }
    let pos = |s: Option<Seen<'_>>| s.map_or(-1, |(p, _)| p as i64);
    let results: Vec<Result3<'_, '_>> = elements
        .iter()
        .map(|(&element, el)| {
            let stable = el.last_present.is_some() && pos(el.last_absent) < pos(el.last_present);
            let lost = el.known.is_some()
                && el.last_absent.is_some()
                && pos(el.last_present) < pos(el.last_absent)
                && pos(el.known) < pos(el.last_absent);
            let known_time = el.known.map_or(0, |(_, op)| op.time);
            let latency = |from: Option<Seen<'_>>| {
                let t = from.map_or(0, |(_, op)| op.time.saturating_add(1));
                nanos_to_ms(t.saturating_sub(known_time).max(0))
            };
            Result3 {
                element,
                outcome: if stable {
                    Outcome3::Stable
                } else if lost {
                    Outcome3::Lost
                } else {
                    Outcome3::NeverRead
                },
                stale: stable && pos(el.last_absent) > pos(el.known),
                stable_latency: stable.then(|| latency(el.last_absent)),
                lost_latency: lost.then(|| latency(el.last_present)),
                known: el.known.map(|(_, op)| op),
                last_absent: el.last_absent.map(|(_, op)| op),
            }
        })
        .collect();

    let with = |want: Outcome3| results.iter().filter(move |r| r.outcome == want);
    let lost: Vec<&Value> = with(Outcome3::Lost).map(|r| r.element).collect();
    let never_read: Vec<&Value> = with(Outcome3::NeverRead).map(|r| r.element).collect();
    let stable_count = with(Outcome3::Stable).count();
    let stale: Vec<&Result3<'_, '_>> = results.iter().filter(|r| r.stale).collect();
    // Jepsen: sort by stable latency, reverse, take 8 (ties: larger elements first).
    let mut worst: Vec<&Result3<'_, '_>> = stale.clone();
    worst.sort_by(|a, b| {
        b.stable_latency
            .cmp(&a.stable_latency)
            .then_with(|| b.element.cmp(a.element))
    });
    worst.truncate(8);

    let verdict = if !lost.is_empty() || !dups.is_empty() {
        Verdict::Invalid
    } else if stable_count == 0 {
        INCONCLUSIVE
    } else if options.linearizable && !stale.is_empty() {
        Verdict::Invalid
    } else {
        Verdict::Valid
    };

    let mut d = Map::new();
    d.insert("attempt-count".into(), json!(results.len()));
    d.insert("stable-count".into(), json!(stable_count));
    d.insert("lost-count".into(), json!(lost.len()));
    d.insert("lost".into(), values_json(lost.iter().copied()));
    d.insert("never-read-count".into(), json!(never_read.len()));
    d.insert("never-read".into(), values_json(never_read.iter().copied()));
    d.insert("stale-count".into(), json!(stale.len()));
    d.insert("stale".into(), values_json(stale.iter().map(|r| r.element)));
    d.insert(
        "worst-stale".into(),
        Json::Array(
            worst
                .iter()
                .map(|r| {
                    json!({
                        "element": value_json(r.element),
                        "outcome": "stable",
                        "stable-latency": r.stable_latency,
                        "lost-latency": r.lost_latency,
                        "known": r.known.map(op_json),
                        "last-absent": r.last_absent.map(op_json),
                    })
                })
                .collect(),
        ),
    );
    let mut stable_latencies: Vec<i64> = results.iter().filter_map(|r| r.stable_latency).collect();
    if let Some(q) = quantiles(&mut stable_latencies) {
        d.insert("stable-latencies".into(), q);
    }
    let mut lost_latencies: Vec<i64> = results.iter().filter_map(|r| r.lost_latency).collect();
    if let Some(q) = quantiles(&mut lost_latencies) {
        d.insert("lost-latencies".into(), q);
    }
    d.insert("duplicated-count".into(), json!(dups.len()));
    d.insert(
        "duplicated".into(),
        value_json(&Value::Map(
            dups.iter()
                .map(|(&v, &n)| (v.clone(), Value::Int(n as i64)))
                .collect(),
        )),
    );
    if matches!(verdict, Verdict::Unknown(_)) {
        d.insert(
            "error".into(),
            json!("no element is stable: nothing was read after an add"),
        );
    }

    let summary = format!(
        "{} attempted: {} stable, {} lost, {} never read, {} stale{}, {} duplicated",
        results.len(),
        stable_count,
        lost.len(),
        never_read.len(),
        stale.len(),
        if options.linearizable {
            " (linearizable: stale is invalid)"
        } else {
            ""
        },
        dups.len(),
    );
    Ok(Report {
        checker: "set-full",
        verdict,
        summary,
        details: Details::Jepsen(Json::Object(d)),
    })
}

/// Jepsen's `set` checker (one final read); see the [module docs](self).
pub fn check_set(history: &History) -> Result<Report, CheckError> {
    let ops = operations(history)?;
    let mut attempts: BTreeSet<&Value> = BTreeSet::new();
    let mut acknowledged: BTreeSet<&Value> = BTreeSet::new();
    // The final read: the ok read that completed last.
    let mut final_read: Option<(usize, &Operation<'_>)> = None;
    for o in &ops {
        match o.f() {
            "add" => {
                let v = added(history, o)?;
                attempts.insert(v);
                if o.outcome == Outcome::Ok {
                    // Jepsen takes the completion's value; it echoes the invocation's.
                    let acked = match o.value() {
                        Value::Nil => v,
                        c => c,
                    };
                    acknowledged.insert(acked);
                }
            }
            "read" if o.outcome == Outcome::Ok => {
                let at = o.complete_at.unwrap_or(o.invoke_at);
                if final_read.map(|(p, _)| p) < Some(at) {
                    final_read = Some((at, o));
                }
            }
            _ => {}
        }
    }
    let Some((_, read)) = final_read else {
        let mut d = Map::new();
        d.insert("attempt-count".into(), json!(attempts.len()));
        d.insert("acknowledged-count".into(), json!(acknowledged.len()));
        d.insert("error".into(), json!("Set was never read"));
        return Ok(Report {
            checker: "set",
            verdict: INCONCLUSIVE,
            summary: format!(
                "the set was never read ({} adds attempted, {} acknowledged)",
                attempts.len(),
                acknowledged.len()
            ),
            details: Details::Jepsen(Json::Object(d)),
        });
    };
    let final_set: BTreeSet<&Value> = read_elements(history, read)?.iter().collect();
    let ok: BTreeSet<&Value> = final_set.intersection(&attempts).copied().collect();
    let unexpected: BTreeSet<&Value> = final_set.difference(&attempts).copied().collect();
    let lost: BTreeSet<&Value> = acknowledged.difference(&final_set).copied().collect();
    let recovered: BTreeSet<&Value> = ok.difference(&acknowledged).copied().collect();
    let verdict = if lost.is_empty() && unexpected.is_empty() {
        Verdict::Valid
    } else {
        Verdict::Invalid
    };
    let mut d = Map::new();
    d.insert("attempt-count".into(), json!(attempts.len()));
    d.insert("acknowledged-count".into(), json!(acknowledged.len()));
    d.insert("ok-count".into(), json!(ok.len()));
    d.insert("lost-count".into(), json!(lost.len()));
    d.insert("recovered-count".into(), json!(recovered.len()));
    d.insert("unexpected-count".into(), json!(unexpected.len()));
    d.insert("ok".into(), json!(interval_set_str(ok.iter().copied())));
    d.insert("lost".into(), json!(interval_set_str(lost.iter().copied())));
    d.insert(
        "unexpected".into(),
        json!(interval_set_str(unexpected.iter().copied())),
    );
    d.insert(
        "recovered".into(),
        json!(interval_set_str(recovered.iter().copied())),
    );
    let summary = format!(
        "final read of {} elements: {} attempted, {} acknowledged, {} ok, {} lost, {} unexpected, {} recovered",
        final_set.len(),
        attempts.len(),
        acknowledged.len(),
        ok.len(),
        lost.len(),
        unexpected.len(),
        recovered.len()
    );
    Ok(Report {
        checker: "set",
        verdict,
        summary,
        details: Details::Jepsen(Json::Object(d)),
    })
}
