//! The [`Model`] trait: a sequential specification of an object.
//!
//! A model says what one operation does to the object's state, in the
//! spirit of Porcupine's `Model`: `init`, `step`, an optional `partition`
//! for P-compositional checking, and `describe` for explanations. The
//! linearizability search ([`crate::linearizable`]) is written once against
//! this trait; adding a model never touches it.
//!
//! Models receive paired operations ([`history::Operation`]) and first turn
//! each into their own typed [`Model::Op`] with [`Model::op`], so that bad
//! input (an unknown `:f`, a value of the wrong type) is reported once,
//! with its line, before the search starts, and so that `step` works on
//! plain data.

pub mod cas_register;
pub mod fifo_queue;
pub mod kv;
pub mod mutex;
pub mod register;
pub mod set;

use history::{Operation, Value};
use std::fmt::Debug;
use std::hash::Hash;

/// A sequential specification.
///
/// `step` must be a pure function of its arguments: the search memoizes it
/// and replays it to explain failures.
pub trait Model: Send + Sync {
    /// The object's state. The search interns states, so equal states are
    /// stored once and compared by id.
    type State: Clone + Eq + Hash + Debug + Send + Sync;
    /// One operation as the model sees it: input and output together.
    type Op: Debug + Send + Sync;

    /// The model's name on the command line (`cas-register`, `kv`, …).
    fn name(&self) -> &'static str;

    /// What it models, in one line, for `--help`.
    fn about(&self) -> &'static str;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// Interprets a history operation, or says why it is not one of this
    /// model's. `op.outcome` tells whether the output is known: for an
    /// indeterminate operation the model must accept any output.
    fn op(&self, op: &Operation<'_>) -> Result<Self::Op, ModelError>;

    /// The state after `op`, or `None` if `op` cannot happen in `state`
    /// (for instance a read that returns another value than the state's).
    fn step(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;

    /// Whether `op` leaves every state unchanged whenever it is allowed.
    /// Indeterminate operations that are read-only can neither be observed
    /// nor change anything, so the search drops them.
    fn is_read_only(&self, _op: &Self::Op) -> bool {
        false
    }

    /// Whether `op` can only move the state *forward*, in the order that
    /// [`Model::never_allows`] reasons about (for `kv`: an append only
    /// lengthens the string, a put can replace it by anything). Read-only
    /// operations count as forward whatever this says. The default, false,
    /// is always safe: it only forgoes pruning.
    fn is_forward(&self, _op: &Self::Op) -> bool {
        false
    }

    /// Whether `op` is impossible in `state` *and* in every state that a
    /// sequence of forward operations ([`Model::is_forward`], read-only
    /// ones) can lead to from `state`.
    ///
    /// An optional hint for pruning: when a completed operation can never
    /// be linearized again, because only forward operations may still
    /// precede it, the search abandons the configuration at once instead
    /// of trying every order of the operations around it. It must be
    /// certain: a wrong `true` could make a linearizable history look
    /// non-linearizable. The default, false, never prunes.
    fn never_allows(&self, _state: &Self::State, _op: &Self::Op) -> bool {
        false
    }

    /// The independent object an operation belongs to, for P-compositional
    /// checking: operations on different partitions are checked separately.
    /// The default splits by the history's `:key`.
    fn partition(&self, op: &Operation<'_>) -> Option<Value> {
        op.key().cloned()
    }

    /// A short human description of an operation, e.g. `cas(1→2) ok`.
    fn describe_op(&self, op: &Self::Op) -> String {
        format!("{op:?}")
    }

    /// A short human description of a state.
    fn describe_state(&self, state: &Self::State) -> String {
        format!("{state:?}")
    }
}

/// An operation that a model cannot interpret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{model}: {message}")]
pub struct ModelError {
    /// The model's name.
    pub model: &'static str,
    /// What was expected and what was found.
    pub message: String,
}

impl ModelError {
    /// An error of `model`'s.
    pub fn new(model: &'static str, message: impl Into<String>) -> ModelError {
        ModelError {
            model,
            message: message.into(),
        }
    }

    /// "unknown :f for this model", listing the ones it knows.
    pub fn unknown_f(model: &'static str, f: &str, known: &[&str]) -> ModelError {
        let known: Vec<String> = known.iter().map(|k| format!(":{k}")).collect();
        ModelError::new(
            model,
            format!("unknown :f :{f}; this model knows {}", known.join(", ")),
        )
    }

    /// "expected X for :f, found `value`".
    pub fn bad_value(model: &'static str, f: &str, expected: &str, found: &Value) -> ModelError {
        ModelError::new(
            model,
            format!(
                "expected :value {expected} for :{f}, found {} `{found}`",
                found.kind()
            ),
        )
    }
}
