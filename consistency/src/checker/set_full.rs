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
//! use consistency::checker::Details;
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
//! // The same, typed: `Details::SetFull` holds the [`Elements`].
//! let Details::SetFull(elements) = &report.details else { panic!("a set-full report") };
//! assert_eq!((elements.lost_count, elements.lost.clone()), (1, vec![Value::Int(1)]));
//! ```
//!
//! # `set`
//!
//! As Jepsen's `checker/set`: the last `ok` read is the final read. `ok`
//! elements are read and attempted, `unexpected` read but never attempted,
//! `lost` acknowledged but not read, `recovered` read although their add was
//! not acknowledged. Valid iff nothing is lost or unexpected; `:unknown`
//! when the set was never read.
//!
//! # Results
//!
//! `set-full` reports [`Elements`] (in [`Details::SetFull`]), `set` a
//! [`FinalSet`] (in [`Details::Set`]); both serialize to Jepsen's fields.

use super::{
    bad_operation, events, nanos_to_ms, op_json, quantiles, ser, CheckError, Checker, Details,
    Quantiles, Report, INCONCLUSIVE,
};
use crate::Verdict;
use history::{operations, History, Op, Operation, Outcome, Value};
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};

/// The checker's name (`checker check --model set-full`), in its reports too.
const SET_FULL: &str = "set-full";
/// The checker's name (`checker check --model set`), in its reports too.
const SET: &str = "set";

/// What `set-full` found: Jepsen's `checker/set-full` fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Elements {
    /// Elements whose `:add` was invoked.
    pub attempt_count: u64,
    /// Elements stable: read, and never missed by a later read.
    pub stable_count: u64,
    /// Elements lost.
    pub lost_count: u64,
    /// The lost elements, sorted.
    #[serde(serialize_with = "ser::values")]
    pub lost: Vec<Value>,
    /// Elements neither stable nor lost.
    pub never_read_count: u64,
    /// The never-read elements, sorted.
    #[serde(serialize_with = "ser::values")]
    pub never_read: Vec<Value>,
    /// Stable elements a read missed after they were known.
    pub stale_count: u64,
    /// The stale elements, sorted.
    #[serde(serialize_with = "ser::values")]
    pub stale: Vec<Value>,
    /// The (at most 8) stale elements with the largest stable latency,
    /// worst first.
    pub worst_stale: Vec<StaleElement>,
    /// Stable latencies (ms), if any element is stable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stable_latencies: Option<Quantiles>,
    /// Lost latencies (ms), if any element is lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost_latencies: Option<Quantiles>,
    /// Elements some read returned more than once.
    pub duplicated_count: u64,
    /// Each duplicated element and the most times one read returned it.
    #[serde(serialize_with = "duplicated")]
    pub duplicated: BTreeMap<Value, u64>,
    /// Why the verdict is unknown (nothing stable); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One of [`Elements::worst_stale`]: a stale element and its history.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct StaleElement {
    /// The element.
    #[serde(serialize_with = "ser::value")]
    pub element: Value,
    /// How it ended: always `stable` (a stale element is stable).
    pub outcome: &'static str,
    /// Its stable latency in ms.
    pub stable_latency: Option<i64>,
    /// Its lost latency in ms (`None`: it is not lost).
    pub lost_latency: Option<i64>,
    /// The op from which it was known (the ok add, or the first ok read
    /// that saw it), as Jepsen prints ops.
    pub known: Option<Json>,
    /// The invocation of the last read that missed it.
    pub last_absent: Option<Json>,
}

/// What `set` found: Jepsen's `checker/set` fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct FinalSet {
    /// Distinct elements whose `:add` was invoked.
    pub attempt_count: u64,
    /// Distinct elements whose `:add` was acknowledged.
    pub acknowledged_count: u64,
    /// What the final read returned; `None` if the set was never read.
    #[serde(flatten)]
    pub read: Option<FinalRead>,
    /// Why the verdict is unknown (`Set was never read`); absent when
    /// there is a final read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The final read of [`FinalSet`] against the adds. The element lists are
/// sorted and print as Jepsen's interval sets (`"#{1..3 5}"`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct FinalRead {
    /// Elements read and attempted.
    pub ok_count: u64,
    /// Elements acknowledged but not read.
    pub lost_count: u64,
    /// Elements read although their add was not acknowledged.
    pub recovered_count: u64,
    /// Elements read but never attempted.
    pub unexpected_count: u64,
    /// The ok elements.
    #[serde(serialize_with = "ser::interval_set")]
    pub ok: Vec<Value>,
    /// The lost elements.
    #[serde(serialize_with = "ser::interval_set")]
    pub lost: Vec<Value>,
    /// The unexpected elements.
    #[serde(serialize_with = "ser::interval_set")]
    pub unexpected: Vec<Value>,
    /// The recovered elements.
    #[serde(serialize_with = "ser::interval_set")]
    pub recovered: Vec<Value>,
}

/// [`Elements::duplicated`] as the value map `{element count}`.
fn duplicated<S: serde::Serializer>(m: &BTreeMap<Value, u64>, s: S) -> Result<S::Ok, S::Error> {
    let counts = m
        .iter()
        .map(|(v, &n)| (v.clone(), Value::Int(n as i64)))
        .collect();
    super::value_json(&Value::Map(counts)).serialize(s)
}

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
        SET_FULL
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
        SET
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

    let mut stable_latencies: Vec<i64> = results.iter().filter_map(|r| r.stable_latency).collect();
    let mut lost_latencies: Vec<i64> = results.iter().filter_map(|r| r.lost_latency).collect();
    let details = Elements {
        attempt_count: results.len() as u64,
        stable_count: stable_count as u64,
        lost_count: lost.len() as u64,
        lost: lost.iter().map(|&v| v.clone()).collect(),
        never_read_count: never_read.len() as u64,
        never_read: never_read.iter().map(|&v| v.clone()).collect(),
        stale_count: stale.len() as u64,
        stale: stale.iter().map(|r| r.element.clone()).collect(),
        worst_stale: worst
            .iter()
            .map(|r| StaleElement {
                element: r.element.clone(),
                outcome: "stable",
                stable_latency: r.stable_latency,
                lost_latency: r.lost_latency,
                known: r.known.map(op_json),
                last_absent: r.last_absent.map(op_json),
            })
            .collect(),
        stable_latencies: quantiles(&mut stable_latencies),
        lost_latencies: quantiles(&mut lost_latencies),
        duplicated_count: dups.len() as u64,
        duplicated: dups.iter().map(|(&v, &n)| (v.clone(), n as u64)).collect(),
        error: matches!(verdict, Verdict::Unknown(_))
            .then(|| "no element is stable: nothing was read after an add".to_string()),
    };

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
        checker: SET_FULL,
        verdict,
        summary,
        details: Details::SetFull(details),
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
        return Ok(Report {
            checker: SET,
            verdict: INCONCLUSIVE,
            summary: format!(
                "the set was never read ({} adds attempted, {} acknowledged)",
                attempts.len(),
                acknowledged.len()
            ),
            details: Details::Set(FinalSet {
                attempt_count: attempts.len() as u64,
                acknowledged_count: acknowledged.len() as u64,
                read: None,
                error: Some("Set was never read".into()),
            }),
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
    let sorted = |set: &BTreeSet<&Value>| set.iter().map(|&v| v.clone()).collect::<Vec<_>>();
    let details = FinalSet {
        attempt_count: attempts.len() as u64,
        acknowledged_count: acknowledged.len() as u64,
        read: Some(FinalRead {
            ok_count: ok.len() as u64,
            lost_count: lost.len() as u64,
            recovered_count: recovered.len() as u64,
            unexpected_count: unexpected.len() as u64,
            ok: sorted(&ok),
            lost: sorted(&lost),
            unexpected: sorted(&unexpected),
            recovered: sorted(&recovered),
        }),
        error: None,
    };
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
        checker: SET,
        verdict,
        summary,
        details: Details::Set(details),
    })
}
