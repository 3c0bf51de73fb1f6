//! `cas-register`: read / write / compare-and-set, initially `nil`, as
//! Jepsen's etcd tests and Porcupine's etcd model use it.

use super::register::{describe_read_write, register_op, step_read_write, RegisterOp};
use super::{Model, ModelError};
use history::{Operation, Value};

/// A compare-and-set register. `:cas` takes `[old new]`; a `:fail`ed cas
/// did not happen (Jepsen's semantics), so it never reaches the model.
#[derive(Debug, Default, Clone, Copy)]
pub struct CasRegister;

/// An operation on a [`CasRegister`].
#[derive(Debug, Clone, PartialEq)]
pub enum CasOp {
    /// A read or a write.
    Rw(RegisterOp),
    /// A successful (or, if indeterminate, possible) compare-and-set.
    Cas {
        /// The value compared against.
        old: Value,
        /// The value set when the comparison holds.
        new: Value,
    },
}

const KNOWN: &[&str] = &["read", "write", "cas"];

impl Model for CasRegister {
    type State = Value;
    type Op = CasOp;

    fn name(&self) -> &'static str {
        "cas-register"
    }

    fn about(&self) -> &'static str {
        "read / write / compare-and-set on registers, initially nil (Jepsen's etcd tests)"
    }

    fn init(&self) -> Value {
        Value::Nil
    }

    fn op(&self, op: &Operation<'_>) -> Result<CasOp, ModelError> {
        if op.f() != "cas" {
            return register_op(self.name(), op, KNOWN).map(CasOp::Rw);
        }
        match op.value().as_seq() {
            Some([old, new]) => Ok(CasOp::Cas {
                old: old.clone(),
                new: new.clone(),
            }),
            _ => Err(ModelError::bad_value(
                self.name(),
                "cas",
                "[old new]",
                op.value(),
            )),
        }
    }

    fn step(&self, state: &Value, op: &CasOp) -> Option<Value> {
        match op {
            CasOp::Rw(rw) => step_read_write(state, rw),
            CasOp::Cas { old, new } => old.loosely_eq(state).then(|| new.clone()),
        }
    }

    fn is_read_only(&self, op: &CasOp) -> bool {
        matches!(op, CasOp::Rw(RegisterOp::Read(_)))
    }

    fn describe_op(&self, op: &CasOp) -> String {
        match op {
            CasOp::Rw(rw) => describe_read_write(rw),
            CasOp::Cas { old, new } => format!("cas {old}→{new}"),
        }
    }

    fn describe_state(&self, state: &Value) -> String {
        state.to_string()
    }
}
