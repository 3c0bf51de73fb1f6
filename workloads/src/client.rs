//! The seams between the runner and a system under test: a [`Target`] is
//! a system (the embedded `sim`, an etcd cluster, …) that opens a
//! [`Client`] per node; a client performs one [`Invocation`] at a time and
//! says how it ended.

use crate::generator::Invocation;
use async_trait::async_trait;
use history::{OpType, Value};

/// How an operation ended, as Jepsen records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// `Ok` (it happened), `Fail` (it definitely did not) or `Info`
    /// (unknown: it may happen at any later time, or never). Never guess:
    /// a timeout or a lost connection is `Info`.
    pub kind: OpType,
    /// The result (the value read), or the invocation's value.
    pub value: Value,
    /// Why it failed or is unknown.
    pub error: Option<Value>,
}

impl Completion {
    /// It happened, with this result.
    pub fn ok(value: Value) -> Completion {
        Completion {
            kind: OpType::Ok,
            value,
            error: None,
        }
    }

    /// It definitely did not happen.
    pub fn fail(value: Value, error: &str) -> Completion {
        Completion {
            kind: OpType::Fail,
            value,
            error: Some(Value::Keyword(error.to_string())),
        }
    }

    /// Unknown whether it happened.
    pub fn info(value: Value, error: &str) -> Completion {
        Completion {
            kind: OpType::Info,
            value,
            error: Some(Value::Keyword(error.to_string())),
        }
    }
}

/// A connection to one node of a target.
#[async_trait]
pub trait Client: Send + Sync {
    /// Performs `op`. Never panics: errors are `fail` when the operation
    /// definitely did not take effect, `info` otherwise.
    async fn invoke(&self, op: &Invocation) -> Completion;
}

/// A target's own check of a run, beside the workload's checkers (the service system's bank
/// workflow: every committed transfer in the activity timelines once): its verdict is part of
/// the run's, and it has a section of the report and an entry of `results.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct Audit {
    /// Its name: the section's title and the results' key (`workflow`).
    pub name: String,
    /// What it found.
    pub verdict: consistency::Verdict,
    /// One line of plain text.
    pub summary: String,
    /// The details, as `results.json` holds them.
    pub details: serde_json::Value,
}

/// Why a target cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Setting up or connecting failed.
    #[error("{0}")]
    Setup(String),
}

/// A system under test.
#[async_trait]
pub trait Target: Send + Sync {
    /// A short name for reports (`sim-strong`, `etcd`, …).
    fn name(&self) -> String;
    /// How many nodes it has; process `p` talks to node `p % nodes`.
    fn nodes(&self) -> usize;
    /// A client for `node`.
    async fn open(&self, node: usize) -> Result<Box<dyn Client>, TargetError>;
    /// Writes the workload's initial data (bank balances) before the run.
    async fn setup(&self, initial: &[(Value, Value)]) -> Result<(), TargetError>;
    /// Waits, once the faults are healed and before the final reads, until work the target
    /// acknowledged but applies later is done (the service system's queued writes), for at most
    /// `limit`; an error says what was still pending. Nothing to wait for by default.
    async fn quiesce(&self, limit: std::time::Duration) -> Result<(), TargetError> {
        let _ = limit;
        Ok(())
    }
    /// The target's own checks, made after the final reads, each waiting at most `limit` for
    /// the target to settle: none by default.
    async fn audit(&self, limit: std::time::Duration) -> Vec<Audit> {
        let _ = limit;
        Vec::new()
    }
}
