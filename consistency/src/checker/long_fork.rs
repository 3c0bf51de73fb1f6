//! Jepsen's long-fork checker: concurrent writes that two readers see in opposite orders.
//!
//! Long fork is the anomaly parallel snapshot isolation allows and snapshot isolation does
//! not: T1 writes x, T2 writes y, T3 sees y but not x, T4 sees x but not y. The history is
//! made of *write* transactions, each one write of a fresh key (`[[:w k 1]]`), and *read*
//! transactions that read a whole group of keys (`[[:r 0 v] [:r 1 v] [:r 2 v]]`, in any
//! order). A key goes from `nil` to its one value, so two reads of the same group must be
//! ordered: one sees everything the other does. Two reads where each sees a write the other
//! does not are a fork.
//!
//! As Jepsen's `jepsen.tests.long-fork/checker`: the `ok` read transactions are grouped by
//! the keys they read; every group must have `group_size` keys (`--group-size`; 0 takes the
//! size of the first read); every pair of reads in a group must be comparable. A key written
//! twice makes the verdict unknown (`error: [multiple-writes k]`); two reads of different
//! non-nil values of one key, or reads of groups of the wrong size, are bad input. The
//! result: `valid?`, `reads-count`, `early-read-count` (reads that saw nothing),
//! `late-read-count` (reads that saw everything) and `forks` (pairs of reads).
//!
//! ```
//! use consistency::checker::long_fork::check;
//! use consistency::Verdict;
//!
//! let history = history::edn::read(
//!     "{:type :invoke, :process 0, :f :txn, :value [[:r 0 nil] [:r 1 nil]]}
//!      {:type :invoke, :process 1, :f :txn, :value [[:r 1 nil] [:r 0 nil]]}
//!      {:type :ok, :process 0, :f :txn, :value [[:r 0 1] [:r 1 nil]]}
//!      {:type :ok, :process 1, :f :txn, :value [[:r 1 1] [:r 0 nil]]}"
//!         .as_bytes(),
//! )
//! .unwrap();
//! let report = check(&history, 2).unwrap();
//! assert_eq!(report.verdict, Verdict::Invalid);
//! assert_eq!(report.to_json()["forks"].as_array().unwrap().len(), 1);
//! ```

use super::{bad_operation, CheckError, Checker, Details, Report};
use crate::{Unknown, Verdict};
use history::{operations, History, Operation, Outcome, Value};
use serde::Serialize;
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, HashSet};

/// The checker's name (`checker check --model long-fork`), in its reports too.
const NAME: &str = "long-fork";

/// What the long-fork checker found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Forks {
    /// How many `ok` read transactions there were.
    pub reads_count: usize,
    /// Reads that saw no write of their group (too early to tell anything).
    pub early_read_count: usize,
    /// Reads that saw every write of their group (too late to tell anything).
    pub late_read_count: usize,
    /// Pairs of reads of one group, neither of which saw everything the other did: the ops as
    /// Jepsen prints them.
    pub forks: Vec<[Json; 2]>,
    /// Why the verdict is unknown: `["multiple-writes", key]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Json>,
}

/// Jepsen's long-fork checker as a [`Checker`] of [`super::CHECKERS`]: the group size comes
/// from [`crate::txn::Options::group_size`].
#[derive(Debug, Clone, Copy)]
pub struct LongFork;

impl Checker for LongFork {
    fn name(&self) -> &'static str {
        NAME
    }

    fn about(&self) -> &'static str {
        "Jepsen's long-fork: reads of a group of fresh keys must be ordered (--group-size)"
    }

    fn family(&self) -> super::Family {
        super::Family::Transactional
    }

    fn check(
        &self,
        history: &History,
        options: &crate::linearizable::Options,
    ) -> Result<Report, CheckError> {
        check(history, options.transactions.group_size)
    }
}

/// One read's view of its group: each key and the value seen (`None` for nil), by key.
type State = BTreeMap<Value, Option<Value>>;

/// Jepsen's long-fork check with groups of `group_size` keys (0: the first read's size).
pub fn check(history: &History, group_size: usize) -> Result<Report, CheckError> {
    let ops = operations(history)?;
    if let Some(key) = written_twice(&ops) {
        let forks = Forks {
            reads_count: 0,
            early_read_count: 0,
            late_read_count: 0,
            forks: Vec::new(),
            error: Some(json!([
                "multiple-writes",
                history::json::value_to_json(&key)
            ])),
        };
        return Ok(report(Verdict::Unknown(Unknown::Error), forks));
    }
    let mut reads: Vec<(&Operation<'_>, State)> = Vec::new();
    for op in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        if let Some(state) = read_state(history, op)? {
            reads.push((op, state));
        }
    }
    let size = match (group_size, reads.first()) {
        (0, Some((_, state))) => state.len(),
        (n, _) => n,
    };
    let early = reads
        .iter()
        .filter(|(_, s)| s.values().all(Option::is_none))
        .count();
    let late = reads
        .iter()
        .filter(|(_, s)| s.values().all(Option::is_some))
        .count();
    // Reads by group (the keys read), each group's distinct states with the reads that saw them.
    let mut groups: BTreeMap<Vec<&Value>, Vec<(&State, Vec<&Operation<'_>>)>> = BTreeMap::new();
    for (op, state) in &reads {
        if state.len() != size {
            return Err(bad_operation(
                history,
                op,
                true,
                format!(
                    "this read observed {} keys; every read of a long-fork history observes a \
                     group of {size} (--group-size)",
                    state.len()
                ),
            ));
        }
        let states = groups.entry(state.keys().collect()).or_default();
        match states.iter_mut().find(|(s, _)| *s == state) {
            Some((_, ops)) => ops.push(op),
            None => states.push((state, vec![op])),
        }
    }
    let mut forks = Vec::new();
    for states in groups.values() {
        for (i, (a, a_ops)) in states.iter().enumerate() {
            for (b, b_ops) in &states[i + 1..] {
                if comparable(history, a, b, (a_ops[0], b_ops[0]))? {
                    continue;
                }
                for a_op in a_ops {
                    for b_op in b_ops {
                        forks.push([op_json(a_op), op_json(b_op)]);
                    }
                }
            }
        }
    }
    let verdict = if forks.is_empty() {
        Verdict::Valid
    } else {
        Verdict::Invalid
    };
    Ok(report(
        verdict,
        Forks {
            reads_count: reads.len(),
            early_read_count: early,
            late_read_count: late,
            forks,
            error: None,
        },
    ))
}

fn report(verdict: Verdict, forks: Forks) -> Report {
    let summary = match &forks.error {
        Some(error) => format!("unknown: {error}"),
        None => format!(
            "{} reads ({} early, {} late), {} forks",
            forks.reads_count,
            forks.early_read_count,
            forks.late_read_count,
            forks.forks.len()
        ),
    };
    Report {
        checker: NAME,
        verdict,
        summary,
        details: Details::LongFork(forks),
    }
}

/// The key of the first write transaction (one `[:w k v]`) that writes a key already written.
fn written_twice(ops: &[Operation<'_>]) -> Option<Value> {
    let mut seen: HashSet<&Value> = HashSet::new();
    for op in ops {
        let Some([mop]) = op.invoke.value.as_seq() else {
            continue;
        };
        if let Some([f, key, _]) = mop.as_seq() {
            if f.as_text() == Some("w") && !seen.insert(key) {
                return Some(key.clone());
            }
        }
    }
    None
}

/// A read transaction's state (every micro-op a read `[:r k v]`), or `None` if the operation
/// is not a read transaction.
fn read_state(history: &History, op: &Operation<'_>) -> Result<Option<State>, CheckError> {
    let Some(mops) = op.value().as_seq() else {
        return Ok(None);
    };
    let mut state = State::new();
    for mop in mops {
        match mop.as_seq() {
            Some([f, key, value]) if f.as_text() == Some("r") => {
                state.insert(key.clone(), (!value.is_nil()).then(|| value.clone()));
            }
            _ => return Ok(None),
        }
    }
    if state.len() < mops.len() {
        return Err(bad_operation(
            history,
            op,
            true,
            "this read reads a key twice; a long-fork read reads each key of its group once".into(),
        ));
    }
    Ok((!state.is_empty()).then_some(state))
}

/// Whether one of two states of a group saw everything the other did. Two different values of
/// one key are bad input: each key is written once.
fn comparable(
    history: &History,
    a: &State,
    b: &State,
    (a_op, b_op): (&Operation<'_>, &Operation<'_>),
) -> Result<bool, CheckError> {
    let (mut a_more, mut b_more) = (false, false);
    for (key, va) in a {
        match (va, b.get(key).and_then(Option::as_ref)) {
            (Some(x), Some(y)) if x != y => {
                return Err(bad_operation(
                    history,
                    b_op,
                    true,
                    format!(
                        "this read saw key {key} = {y}, the read at {} saw {x}; long-fork needs \
                         one write per key",
                        history::Location {
                            position: a_op.complete_at.unwrap_or(a_op.invoke_at),
                            index: a_op.completion.unwrap_or(a_op.invoke).index,
                            line: history.line(a_op.complete_at.unwrap_or(a_op.invoke_at)),
                        }
                    ),
                ))
            }
            (Some(_), None) => a_more = true,
            (None, Some(_)) => b_more = true,
            _ => {}
        }
    }
    Ok(!(a_more && b_more))
}

fn op_json(op: &Operation<'_>) -> Json {
    let event = op.completion.unwrap_or(op.invoke);
    let mut text = String::new();
    history::json::write_op(&mut text, event);
    serde_json::from_str(&text).unwrap_or(Json::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edn(text: &str) -> History {
        history::edn::read(text.as_bytes()).expect("EDN")
    }

    /// Jepsen's own example: one read sees 0 and 1, the other 0 and 2.
    #[test]
    fn two_reads_that_saw_different_writes_fork() {
        let h = edn(
            "{:type :invoke, :f :read, :process 0, :value [[:r 0 nil] [:r 1 nil] [:r 2 nil]]}
             {:type :invoke, :f :read, :process 1, :value [[:r 2 nil] [:r 0 nil] [:r 1 nil]]}
             {:type :ok, :f :read, :process 0, :value [[:r 0 1] [:r 1 1] [:r 2 nil]]}
             {:type :ok, :f :read, :process 1, :value [[:r 2 1] [:r 0 1] [:r 1 nil]]}",
        );
        let report = check(&h, 3).expect("checks");
        assert_eq!(report.verdict, Verdict::Invalid);
        let json = report.to_json();
        assert_eq!(json["reads-count"], 2);
        assert_eq!(json["early-read-count"], 0);
        assert_eq!(json["late-read-count"], 0);
        assert_eq!(json["forks"].as_array().map(Vec::len), Some(1));
        assert_eq!(json["forks"][0][0]["type"], "ok");
        // The size comes from the reads when not given.
        assert_eq!(check(&h, 0).expect("checks").verdict, Verdict::Invalid);
    }

    #[test]
    fn ordered_reads_and_writes_are_valid() {
        let h = edn("{:type :invoke, :f :txn, :process 0, :value [[:w 0 1]]}
             {:type :ok, :f :txn, :process 0, :value [[:w 0 1]]}
             {:type :invoke, :f :txn, :process 1, :value [[:r 0 nil] [:r 1 nil]]}
             {:type :ok, :f :txn, :process 1, :value [[:r 0 1] [:r 1 nil]]}
             {:type :invoke, :f :txn, :process 0, :value [[:w 1 1]]}
             {:type :ok, :f :txn, :process 0, :value [[:w 1 1]]}
             {:type :invoke, :f :txn, :process 1, :value [[:r 1 nil] [:r 0 nil]]}
             {:type :ok, :f :txn, :process 1, :value [[:r 1 1] [:r 0 1]]}
             {:type :invoke, :f :txn, :process 2, :value [[:r 1 nil] [:r 0 nil]]}
             {:type :ok, :f :txn, :process 2, :value [[:r 1 nil] [:r 0 nil]]}");
        let report = check(&h, 2).expect("checks");
        assert_eq!(report.verdict, Verdict::Valid, "{}", report.summary);
        let json = report.to_json();
        assert_eq!(json["reads-count"], 3);
        assert_eq!(json["early-read-count"], 1);
        assert_eq!(json["late-read-count"], 1);
    }

    #[test]
    fn a_key_written_twice_is_unknown() {
        let h = edn("{:type :invoke, :f :txn, :process 0, :value [[:w 0 1]]}
             {:type :ok, :f :txn, :process 0, :value [[:w 0 1]]}
             {:type :invoke, :f :txn, :process 1, :value [[:w 0 2]]}
             {:type :info, :f :txn, :process 1, :value [[:w 0 2]]}");
        let report = check(&h, 2).expect("checks");
        assert!(matches!(report.verdict, Verdict::Unknown(_)));
        assert_eq!(report.to_json()["error"], json!(["multiple-writes", 0]));
    }

    #[test]
    fn bad_reads_are_errors_naming_the_read() {
        let wrong_size = edn(
            "{:type :invoke, :f :txn, :process 0, :value [[:r 0 nil] [:r 1 nil]]}
             {:type :ok, :f :txn, :process 0, :value [[:r 0 1] [:r 1 nil]]}",
        );
        let err = check(&wrong_size, 3).expect_err("wrong size").to_string();
        assert!(
            err.contains("observed 2 keys") && err.contains("group of 3"),
            "{err}"
        );
        let two_values = edn("{:type :invoke, :f :txn, :process 0, :value [[:r 0 nil]]}
             {:type :ok, :f :txn, :process 0, :value [[:r 0 1]]}
             {:type :invoke, :f :txn, :process 1, :value [[:r 0 nil]]}
             {:type :ok, :f :txn, :process 1, :value [[:r 0 2]]}");
        let err = check(&two_values, 1).expect_err("two values").to_string();
        assert!(
            err.contains("one write per key") && err.contains("line"),
            "{err}"
        );
    }

    /// Many reads of few states: forks are found between states, each pair of reads listed.
    #[test]
    fn identical_reads_are_compared_once_and_each_listed() {
        let mut text = String::new();
        for (p, seen) in [(0, "[[:r 0 1] [:r 1 nil]]"), (1, "[[:r 0 nil] [:r 1 1]]")] {
            for _ in 0..3 {
                text.push_str(&format!(
                    "{{:type :invoke, :f :txn, :process {p}, :value [[:r 0 nil] [:r 1 nil]]}}\n\
                     {{:type :ok, :f :txn, :process {p}, :value {seen}}}\n"
                ));
            }
        }
        let report = check(&edn(&text), 2).expect("checks");
        assert_eq!(report.to_json()["forks"].as_array().map(Vec::len), Some(9));
    }
}
