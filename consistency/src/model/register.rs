//! `register`: a read/write register, initially `nil` (Knossos' `register`).

use super::{Model, ModelError};
use history::{Operation, Value};

/// A register with `:read` and `:write`. A read of `nil` means the register
/// was never written.
#[derive(Debug, Default, Clone, Copy)]
pub struct Register;

/// An operation on a [`Register`].
#[derive(Debug, Clone, PartialEq)]
pub enum RegisterOp {
    /// A read that returned the value, or `None` when the result is unknown.
    Read(Option<Value>),
    /// A write of the value.
    Write(Value),
}

impl Model for Register {
    type State = Value;
    type Op = RegisterOp;

    fn name(&self) -> &'static str {
        "register"
    }

    fn about(&self) -> &'static str {
        "read / write registers, initially nil (Knossos' register)"
    }

    fn init(&self) -> Value {
        Value::Nil
    }

    fn op(&self, op: &Operation<'_>) -> Result<RegisterOp, ModelError> {
        register_op(self.name(), op, &["read", "write"])
    }

    fn step(&self, state: &Value, op: &RegisterOp) -> Option<Value> {
        step_read_write(state, op)
    }

    fn is_read_only(&self, op: &RegisterOp) -> bool {
        matches!(op, RegisterOp::Read(_))
    }

    fn describe_op(&self, op: &RegisterOp) -> String {
        describe_read_write(op)
    }

    fn describe_state(&self, state: &Value) -> String {
        state.to_string()
    }
}

/// Interprets `read` and `write`, shared with [`super::cas_register`].
pub(crate) fn register_op(
    model: &'static str,
    op: &Operation<'_>,
    known: &[&str],
) -> Result<RegisterOp, ModelError> {
    match op.f() {
        "read" if op.outcome.is_indeterminate() => Ok(RegisterOp::Read(None)),
        "read" => Ok(RegisterOp::Read(Some(op.value().clone()))),
        "write" => Ok(RegisterOp::Write(op.value().clone())),
        f => Err(ModelError::unknown_f(model, f, known)),
    }
}

pub(crate) fn step_read_write(state: &Value, op: &RegisterOp) -> Option<Value> {
    match op {
        RegisterOp::Read(None) => Some(state.clone()),
        RegisterOp::Read(Some(v)) => v.loosely_eq(state).then(|| state.clone()),
        RegisterOp::Write(v) => Some(v.clone()),
    }
}

pub(crate) fn describe_read_write(op: &RegisterOp) -> String {
    match op {
        RegisterOp::Read(None) => "read → ?".to_string(),
        RegisterOp::Read(Some(v)) => format!("read → {v}"),
        RegisterOp::Write(v) => format!("write {v}"),
    }
}
