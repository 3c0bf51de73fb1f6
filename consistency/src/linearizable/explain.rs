//! [`Explanation`]: why a partition is not linearizable, for people.
//!
//! Built from the search's [`Counterexample`] (the longest linearizable
//! prefix and the operation that could not follow it) by replaying the
//! prefix through the model. It holds only strings and positions, so the
//! text and HTML renderers need no model.

use super::search::{Counterexample, Entry};
use crate::model::Model;
use history::{History, Operation, Outcome};
use serde::Serialize;
use std::fmt;

/// One operation of a failing partition.
#[derive(Debug, Clone, Serialize)]
pub struct ExplainedOp {
    /// The client process.
    pub process: u64,
    /// The invocation's `:index`.
    pub index: u64,
    /// The source line of the invocation, if read from a file.
    pub line: Option<u32>,
    /// The model's description, e.g. `cas 1→2`.
    pub description: String,
    /// `ok`, `info` or `pending`.
    pub outcome: &'static str,
    /// Position of the invocation in the history.
    pub call: usize,
    /// Position of the completion; `None` for an indeterminate operation.
    pub ret: Option<usize>,
}

/// One step of the linearization: an operation and the state after it.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Index into [`Explanation::ops`].
    pub op: usize,
    /// The model state after the operation.
    pub state: String,
}

/// An operation that was pending when the search got stuck, and what the
/// model says about running it next.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// Index into [`Explanation::ops`].
    pub op: usize,
    /// The state it would lead to, or `None` if it cannot happen next.
    pub leads_to: Option<String>,
}

/// Why one partition is not linearizable.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The model's name.
    pub model: &'static str,
    /// The partition's key, as EDN text.
    pub key: Option<String>,
    /// Every operation of the partition, in invocation order.
    pub ops: Vec<ExplainedOp>,
    /// The model's initial state.
    pub initial_state: String,
    /// The longest linearizable prefix found, in linearization order.
    pub linearized: Vec<Step>,
    /// The completed operation that cannot follow the prefix (index into `ops`).
    pub blocked: usize,
    /// The state after the prefix.
    pub state: String,
    /// The other operations pending at that point, with what each would do next.
    pub candidates: Vec<Candidate>,
}

pub(super) fn explain<M: Model>(
    model: &M,
    entries: &[Entry<M::Op>],
    sources: &[Operation<'_>],
    history: &History,
    counterexample: &Counterexample,
) -> Explanation {
    let ops = entries
        .iter()
        .zip(sources)
        .map(|(e, s)| ExplainedOp {
            process: s.process(),
            index: s.invoke.index,
            line: history.line(s.invoke_at),
            description: model.describe_op(&e.op),
            outcome: match s.outcome {
                Outcome::Ok => "ok",
                Outcome::Fail => "fail",
                Outcome::Info => "info",
                Outcome::Pending => "pending",
            },
            call: e.call,
            ret: e.ret,
        })
        .collect();
    let mut state = model.init();
    let initial_state = model.describe_state(&state);
    let mut linearized = Vec::with_capacity(counterexample.prefix.len());
    let mut in_prefix = vec![false; entries.len()];
    for &op in &counterexample.prefix {
        // The search only pushes operations whose step succeeded, and step
        // is pure, so the replay succeeds; stop rather than panic if a
        // model breaks that rule.
        let Some(next) = model.step(&state, &entries[op as usize].op) else {
            break;
        };
        state = next;
        in_prefix[op as usize] = true;
        linearized.push(Step {
            op: op as usize,
            state: model.describe_state(&state),
        });
    }
    let blocked = counterexample.blocked as usize;
    let horizon = entries[blocked].ret.unwrap_or(usize::MAX);
    let candidates = entries
        .iter()
        .enumerate()
        .filter(|&(i, e)| !in_prefix[i] && i != blocked && e.call < horizon)
        .map(|(i, e)| Candidate {
            op: i,
            leads_to: model.step(&state, &e.op).map(|s| model.describe_state(&s)),
        })
        .collect();
    Explanation {
        model: model.name(),
        key: sources
            .first()
            .and_then(|s| model.partition(s))
            .map(|k| k.to_string()),
        ops,
        initial_state,
        linearized,
        blocked,
        state: model.describe_state(&state),
        candidates,
    }
}

/// How many steps of the prefix the text form shows.
const TEXT_PREFIX: usize = 12;

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |i: usize| {
            let op = &self.ops[i];
            let at = op
                .line
                .map_or(format!("op index {}", op.index), |l| format!("line {l}"));
            format!(
                "p{} {} [{}, {}]",
                op.process, op.description, op.outcome, at
            )
        };
        match &self.key {
            Some(k) => writeln!(
                f,
                "key {k}: not linearizable ({} operations)",
                self.ops.len()
            )?,
            None => writeln!(f, "not linearizable ({} operations)", self.ops.len())?,
        }
        let n = self.linearized.len();
        writeln!(
            f,
            "  longest linearizable prefix: {n} operations, from state {}",
            self.initial_state
        )?;
        if n > TEXT_PREFIX {
            writeln!(f, "    … {} earlier operations", n - TEXT_PREFIX)?;
        }
        for (k, step) in self
            .linearized
            .iter()
            .enumerate()
            .skip(n.saturating_sub(TEXT_PREFIX))
        {
            writeln!(f, "    {:>4}. {}  ⇒ {}", k + 1, name(step.op), step.state)?;
        }
        writeln!(
            f,
            "  then {} cannot be linearized in state {}",
            name(self.blocked),
            self.state
        )?;
        if !self.candidates.is_empty() {
            writeln!(f, "  other operations pending at that point:")?;
        }
        for c in &self.candidates {
            match &c.leads_to {
                None => writeln!(
                    f,
                    "    {}: cannot happen in state {}",
                    name(c.op),
                    self.state
                )?,
                Some(s) => writeln!(
                    f,
                    "    {}: could go next (⇒ {s}), but no linearization continues from there",
                    name(c.op)
                )?,
            }
        }
        Ok(())
    }
}
