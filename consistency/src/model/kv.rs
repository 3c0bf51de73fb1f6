//! `kv`: a map of string registers with `:get`, `:put` and `:append`,
//! checked one key at a time (P-compositionality), as Porcupine's `kvModel`.

use super::{Model, ModelError};
use history::{Operation, Value};
use std::sync::Arc;

/// One key of a key-value store. The state is that key's string, initially
/// `""` (shared, so that reads cost no copy); a `:get` of a missing key returns `""` (or `nil`, read as `""`).
/// Operations are partitioned by `:key`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Kv;

/// An operation on one key of a [`Kv`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvOp {
    /// A get that returned the string, or `None` when unknown.
    Get(Option<String>),
    /// Replace the string.
    Put(String),
    /// Append to the string.
    Append(String),
}

const KNOWN: &[&str] = &["get", "put", "append"];

impl Model for Kv {
    type State = Arc<str>;
    type Op = KvOp;

    fn name(&self) -> &'static str {
        "kv"
    }

    fn about(&self) -> &'static str {
        "string registers: get / put / append, key by key (Porcupine's kv model)"
    }

    fn init(&self) -> Arc<str> {
        Arc::from("")
    }

    fn op(&self, op: &Operation<'_>) -> Result<KvOp, ModelError> {
        let text = |f: &str| -> Result<String, ModelError> {
            match op.value() {
                Value::Nil => Ok(String::new()),
                v => v
                    .as_text()
                    .map(str::to_string)
                    .ok_or_else(|| ModelError::bad_value(self.name(), f, "a string", v)),
            }
        };
        match op.f() {
            "get" if op.outcome.is_indeterminate() => Ok(KvOp::Get(None)),
            "get" => Ok(KvOp::Get(Some(text("get")?))),
            "put" => Ok(KvOp::Put(text("put")?)),
            "append" => Ok(KvOp::Append(text("append")?)),
            f => Err(ModelError::unknown_f(self.name(), f, KNOWN)),
        }
    }

    fn step(&self, state: &Arc<str>, op: &KvOp) -> Option<Arc<str>> {
        match op {
            KvOp::Get(None) => Some(state.clone()),
            KvOp::Get(Some(v)) => (**v == **state).then(|| state.clone()),
            KvOp::Put(v) => Some(Arc::from(v.as_str())),
            KvOp::Append(v) => {
                let mut s = String::with_capacity(state.len() + v.len());
                s.push_str(state);
                s.push_str(v);
                Some(Arc::from(s))
            }
        }
    }

    fn is_read_only(&self, op: &KvOp) -> bool {
        matches!(op, KvOp::Get(_))
    }

    /// An append only lengthens the string; a put can replace it by anything.
    fn is_forward(&self, op: &KvOp) -> bool {
        matches!(op, KvOp::Append(_))
    }

    /// Appends only lengthen the string, so a get that saw `v` is possible
    /// from `state` on only if `state` is a prefix of `v`.
    fn never_allows(&self, state: &Arc<str>, op: &KvOp) -> bool {
        match op {
            KvOp::Get(Some(v)) => !v.starts_with(&**state),
            _ => false,
        }
    }

    fn describe_op(&self, op: &KvOp) -> String {
        match op {
            KvOp::Get(None) => "get → ?".into(),
            KvOp::Get(Some(v)) => format!("get → {v:?}"),
            KvOp::Put(v) => format!("put {v:?}"),
            KvOp::Append(v) => format!("append {v:?}"),
        }
    }

    fn describe_state(&self, state: &Arc<str>) -> String {
        format!("{state:?}")
    }
}
