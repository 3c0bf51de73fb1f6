//! `linearizable-set`: a set with `:add` and `:read` of all elements
//! (Knossos' `set`; the name `set` is Jepsen's set checker, as in elle-cli).

use super::{Model, ModelError};
use history::{Operation, Value};
use std::collections::BTreeSet;

/// A grow-only set, initially empty. `:add x` adds `x`; `:read` returns
/// every element (as a vector or a set, in any order).
#[derive(Debug, Default, Clone, Copy)]
pub struct Set;

/// An operation on a [`Set`].
#[derive(Debug, Clone, PartialEq)]
pub enum SetOp {
    /// Add an element.
    Add(Value),
    /// A read that returned these elements, or `None` when unknown.
    Read(Option<BTreeSet<Value>>),
}

impl Model for Set {
    type State = BTreeSet<Value>;
    type Op = SetOp;

    fn name(&self) -> &'static str {
        "linearizable-set"
    }

    fn about(&self) -> &'static str {
        "a set: add / read of every element (Knossos' set)"
    }

    fn init(&self) -> BTreeSet<Value> {
        BTreeSet::new()
    }

    fn op(&self, op: &Operation<'_>) -> Result<SetOp, ModelError> {
        match op.f() {
            "add" => Ok(SetOp::Add(op.value().clone())),
            "read" if op.outcome.is_indeterminate() => Ok(SetOp::Read(None)),
            "read" => match op.value() {
                Value::Nil => Ok(SetOp::Read(Some(BTreeSet::new()))),
                v => v
                    .as_seq()
                    .map(|elements| SetOp::Read(Some(elements.iter().cloned().collect())))
                    .ok_or_else(|| {
                        ModelError::bad_value(self.name(), "read", "a vector or set of elements", v)
                    }),
            },
            f => Err(ModelError::unknown_f(self.name(), f, &["add", "read"])),
        }
    }

    fn step(&self, state: &BTreeSet<Value>, op: &SetOp) -> Option<BTreeSet<Value>> {
        match op {
            SetOp::Add(x) => {
                let mut next = state.clone();
                next.insert(x.clone());
                Some(next)
            }
            SetOp::Read(None) => Some(state.clone()),
            SetOp::Read(Some(seen)) => (seen == state).then(|| state.clone()),
        }
    }

    fn is_read_only(&self, op: &SetOp) -> bool {
        matches!(op, SetOp::Read(_))
    }

    fn describe_op(&self, op: &SetOp) -> String {
        match op {
            SetOp::Add(x) => format!("add {x}"),
            SetOp::Read(None) => "read → ?".into(),
            SetOp::Read(Some(seen)) => format!("read → {}", describe(seen)),
        }
    }

    fn describe_state(&self, state: &BTreeSet<Value>) -> String {
        describe(state)
    }
}

fn describe(elements: &BTreeSet<Value>) -> String {
    let parts: Vec<String> = elements.iter().map(Value::to_string).collect();
    format!("#{{{}}}", parts.join(" "))
}
