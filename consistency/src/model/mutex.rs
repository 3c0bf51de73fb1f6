//! `mutex`: a lock with `:acquire` and `:release` (Knossos' `mutex`).

use super::{Model, ModelError};
use history::Operation;

/// A mutual-exclusion lock, initially free.
#[derive(Debug, Default, Clone, Copy)]
pub struct Mutex;

/// An operation on a [`Mutex`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MutexOp {
    /// Take the lock; allowed only when it is free.
    Acquire,
    /// Give the lock back; allowed only when it is held.
    Release,
}

impl Model for Mutex {
    /// Whether the lock is held.
    type State = bool;
    type Op = MutexOp;

    fn name(&self) -> &'static str {
        "mutex"
    }

    fn about(&self) -> &'static str {
        "a lock: acquire / release (Knossos' mutex)"
    }

    fn init(&self) -> bool {
        false
    }

    fn op(&self, op: &Operation<'_>) -> Result<MutexOp, ModelError> {
        match op.f() {
            "acquire" => Ok(MutexOp::Acquire),
            "release" => Ok(MutexOp::Release),
            f => Err(ModelError::unknown_f(
                self.name(),
                f,
                &["acquire", "release"],
            )),
        }
    }

    fn step(&self, held: &bool, op: &MutexOp) -> Option<bool> {
        match op {
            MutexOp::Acquire => (!held).then_some(true),
            MutexOp::Release => held.then_some(false),
        }
    }

    fn describe_op(&self, op: &MutexOp) -> String {
        match op {
            MutexOp::Acquire => "acquire".into(),
            MutexOp::Release => "release".into(),
        }
    }

    fn describe_state(&self, held: &bool) -> String {
        if *held { "held" } else { "free" }.into()
    }
}
