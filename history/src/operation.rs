//! [`Operation`]: an invocation paired with its completion.

use crate::{History, HistoryError, Op, OpType, Process, Value};
use rustc_hash::FxHashMap;

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Completed `ok`: it happened, and the completion's value is authoritative.
    Ok,
    /// Completed `fail`: it did not happen.
    Fail,
    /// Completed `info`: it may have happened at any time after its invocation, or never.
    Info,
    /// Never completed: the same meaning as `Info`.
    Pending,
}

impl Outcome {
    /// Whether the operation may or may not have happened (`info` or never completed).
    pub fn is_indeterminate(self) -> bool {
        matches!(self, Outcome::Info | Outcome::Pending)
    }
}

/// A client operation: its invocation and, if it finished, its completion.
///
/// Nemesis and other named processes' events are not operations: Jepsen
/// records them as lone `info` events.
#[derive(Debug, Clone, Copy)]
pub struct Operation<'h> {
    /// The invocation event.
    pub invoke: &'h Op,
    /// The completion event, if any.
    pub completion: Option<&'h Op>,
    /// Position of the invocation in the history.
    pub invoke_at: usize,
    /// Position of the completion in the history, if any.
    pub complete_at: Option<usize>,
    /// How it ended.
    pub outcome: Outcome,
}

impl<'h> Operation<'h> {
    /// The client process.
    pub fn process(&self) -> u64 {
        self.invoke.process.client().unwrap_or(u64::MAX)
    }

    /// The function.
    pub fn f(&self) -> &'h str {
        &self.invoke.f
    }

    /// The value to judge the operation by: the completion's for `ok`
    /// (reads are filled in there), the invocation's otherwise.
    pub fn value(&self) -> &'h Value {
        match (self.outcome, self.completion) {
            (Outcome::Ok, Some(c)) => &c.value,
            _ => &self.invoke.value,
        }
    }

    /// The key, from the completion or the invocation.
    pub fn key(&self) -> Option<&'h Value> {
        self.completion
            .and_then(|c| c.key.as_ref())
            .or(self.invoke.key.as_ref())
    }
}

/// Pairs every client invocation with its completion, in invocation order.
///
/// Errors on a completion without an invocation in flight, on a second
/// invocation while one is in flight, and on a completion whose `f` differs
/// from its invocation's. An `info` retires the process in Jepsen; a later
/// invocation by the same id is accepted and starts a new operation, while
/// the crashed one stays concurrent with everything after it.
pub fn operations(history: &History) -> Result<Vec<Operation<'_>>, HistoryError> {
    let ops = history.ops();
    let mut result: Vec<Operation<'_>> = Vec::with_capacity(ops.len() / 2 + 1);
    // process id → position in `result` of its operation in flight
    let mut in_flight: FxHashMap<u64, usize> = FxHashMap::default();
    for (at, op) in ops.iter().enumerate() {
        let Process::Client(p) = op.process else {
            continue;
        };
        let here = || Location {
            position: at,
            index: op.index,
            line: history.line(at),
        };
        match op.kind {
            OpType::Invoke => {
                if let Some(&prev) = in_flight.get(&p) {
                    return Err(HistoryError::DoubleInvoke {
                        at: here().to_string(),
                        process: p,
                        earlier: Location {
                            position: result[prev].invoke_at,
                            index: result[prev].invoke.index,
                            line: history.line(result[prev].invoke_at),
                        }
                        .to_string(),
                    });
                }
                in_flight.insert(p, result.len());
                result.push(Operation {
                    invoke: op,
                    completion: None,
                    invoke_at: at,
                    complete_at: None,
                    outcome: Outcome::Pending,
                });
            }
            kind => {
                let Some(slot) = in_flight.remove(&p) else {
                    return Err(HistoryError::CompletionWithoutInvoke {
                        at: here().to_string(),
                        process: p,
                        kind: kind.name(),
                        f: op.f.clone(),
                    });
                };
                let operation = &mut result[slot];
                if operation.invoke.f != op.f {
                    return Err(HistoryError::MismatchedCompletion {
                        at: here().to_string(),
                        process: p,
                        invoked: operation.invoke.f.clone(),
                        completed: op.f.clone(),
                    });
                }
                operation.completion = Some(op);
                operation.complete_at = Some(at);
                operation.outcome = match kind {
                    OpType::Ok => Outcome::Ok,
                    OpType::Fail => Outcome::Fail,
                    _ => Outcome::Info,
                };
            }
        }
    }
    Ok(result)
}

/// Where an event is, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Location {
    /// Position in the history.
    pub position: usize,
    /// The event's `:index`.
    pub index: u64,
    /// Source line, if read from a file.
    pub line: Option<u32>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line} (op index {})", self.index),
            None => write!(f, "op index {}", self.index),
        }
    }
}
