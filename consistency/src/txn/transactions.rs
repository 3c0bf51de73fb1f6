//! [`Transactions`]: a history's transactions, their micro-operations read and interned.
//!
//! A transaction is an operation whose value is a list of micro-operations
//! (`[[:append 1 2] [:r 3 [1 2]]]`, or `[["append",1,2],["r",3,[1,2]]]` in
//! elle-cli's JSON). Keys and values are interned to small integers once, so
//! that the analyses compare and hash integers, not [`Value`]s.

use super::Workload;
use crate::checker::{bad_operation, CheckError};
use history::json::value_to_json;
use history::{History, Operation, Outcome, Value};
use rustc_hash::FxHashMap;
use serde_json::{json, Value as Json};
use std::ops::Range;

/// An interned key or value.
pub type Id = u32;

/// Values interned to [`Id`]s, and back.
#[derive(Debug, Default)]
pub struct Interner {
    /// Integers, most keys and values, hashed as integers (cheaper than a [`Value`]).
    ints: FxHashMap<i64, Id>,
    ids: FxHashMap<Value, Id>,
    values: Vec<Value>,
}

impl Interner {
    /// The id of `value`, interning it if new.
    pub fn intern(&mut self, value: &Value) -> Id {
        if let Value::Int(i) = value {
            let next = self.values.len() as Id;
            let id = *self.ints.entry(*i).or_insert(next);
            if id == next {
                self.values.push(value.clone());
            }
            return id;
        }
        if let Some(&id) = self.ids.get(value) {
            return id;
        }
        let id = self.values.len() as Id;
        self.values.push(value.clone());
        self.ids.insert(value.clone(), id);
        id
    }

    /// The value of `id`.
    pub fn value(&self, id: Id) -> &Value {
        &self.values[id as usize]
    }

    /// How many distinct values were interned.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether nothing was interned.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// One micro-operation, keys and values interned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mop {
    /// `[:append k v]`: appends `value` to the list at `key`.
    Append {
        /// The key.
        key: Id,
        /// The element appended.
        value: Id,
    },
    /// `[:r k [v ...]]` (list-append): the list read, or `None` for `nil` (not read, or the
    /// invocation of a read).
    ReadList {
        /// The key.
        key: Id,
        /// Where the elements are in [`Transactions::elements`].
        value: Option<Range<u32>>,
    },
    /// `[:w k v]` (rw-register): writes `value` to `key`.
    Write {
        /// The key.
        key: Id,
        /// The value written.
        value: Id,
    },
    /// `[:r k v]` (rw-register): the value read, `None` for `nil`.
    ReadRegister {
        /// The key.
        key: Id,
        /// The value, if any.
        value: Option<Id>,
    },
}

impl Mop {
    /// The key it reads or writes.
    pub fn key(&self) -> Id {
        match self {
            Mop::Append { key, .. }
            | Mop::ReadList { key, .. }
            | Mop::Write { key, .. }
            | Mop::ReadRegister { key, .. } => *key,
        }
    }

    /// Whether it writes (an append or a register write).
    pub fn is_write(&self) -> bool {
        matches!(self, Mop::Append { .. } | Mop::Write { .. })
    }
}

/// A transaction: one operation of the history.
#[derive(Debug, Clone)]
pub struct Txn {
    /// Position of its invocation in the history.
    pub invoke_at: usize,
    /// Position of its completion, if it completed.
    pub complete_at: Option<usize>,
    /// The client process.
    pub process: u64,
    /// How it ended.
    pub outcome: Outcome,
    mops: Range<u32>,
}

impl Txn {
    /// Whether it may have taken effect: `ok`, `info` or never completed.
    pub fn possible(&self) -> bool {
        self.outcome != Outcome::Fail
    }

    /// Position of the event that describes it, as Elle cites it: its completion (an `ok`
    /// one has the reads filled in; a `fail` or `info` one says how it ended), else its
    /// invocation.
    pub fn position(&self) -> usize {
        self.complete_at.unwrap_or(self.invoke_at)
    }
}

/// A history's transactions, in invocation order, with their micro-operations.
#[derive(Debug)]
pub struct Transactions<'h> {
    /// The history they come from.
    pub history: &'h History,
    /// What kind of transactions they are.
    pub workload: Workload,
    /// Every transaction, in invocation order; a transaction's id is its index here.
    pub txns: Vec<Txn>,
    /// Keys.
    pub keys: Interner,
    /// Values (elements of lists, register values), shared by all keys.
    pub values: Interner,
    mops: Vec<Mop>,
    elements: Vec<Id>,
}

impl<'h> Transactions<'h> {
    /// Reads every client operation of `history` as a transaction of `workload`'s
    /// micro-operations. Bad input is an error naming the event and the micro-op: a
    /// micro-op that is not a 3-element list, an unknown function, a read of a non-list
    /// under list-append, or a value appended (written) twice to one key.
    pub fn read(history: &'h History, workload: Workload) -> Result<Self, CheckError> {
        let operations = history::operations(history)?;
        // Sized once: growing the element arena of a million transactions by doubling costs
        // more in fresh pages than counting first.
        let (mut mop_count, mut element_count) = (0, 0);
        for operation in &operations {
            for m in operation.value().as_seq().unwrap_or_default() {
                mop_count += 1;
                if let Some([_, _, Value::Vector(read)]) = m.as_seq() {
                    element_count += read.len();
                }
            }
        }
        let mut this = Transactions {
            history,
            workload,
            txns: Vec::with_capacity(operations.len()),
            keys: Interner::default(),
            values: Interner::default(),
            mops: Vec::with_capacity(mop_count),
            elements: Vec::with_capacity(element_count),
        };
        // (key, value) → the transaction that wrote it, to refuse a second write.
        let mut written: FxHashMap<(Id, Id), u32> = FxHashMap::default();
        for operation in &operations {
            let id = this.txns.len() as u32;
            let start = this.mops.len() as u32;
            this.read_mops(history, operation, workload)?;
            for at in start as usize..this.mops.len() {
                let (key, value) = match this.mops[at] {
                    Mop::Append { key, value } | Mop::Write { key, value } => (key, value),
                    _ => continue,
                };
                if let Some(&other) = written.get(&(key, value)) {
                    let what = if other == id {
                        "earlier in the same transaction".to_string()
                    } else {
                        let first = &operations[other as usize];
                        format!("by the transaction invoked at {}", describe(history, first))
                    };
                    return Err(bad_operation(
                        history,
                        operation,
                        false,
                        format!(
                            "{} also {} {} to key {} {what}; {workload} needs every value \
                             written once per key",
                            mop_text(&this.mops[at], &this),
                            workload.writes(),
                            this.values.value(value),
                            this.keys.value(key),
                        ),
                    ));
                }
                written.insert((key, value), id);
            }
            this.txns.push(Txn {
                invoke_at: operation.invoke_at,
                complete_at: operation.complete_at,
                process: operation.process(),
                outcome: operation.outcome,
                mops: start..this.mops.len() as u32,
            });
        }
        Ok(this)
    }

    fn read_mops(
        &mut self,
        history: &History,
        operation: &Operation<'_>,
        workload: Workload,
    ) -> Result<(), CheckError> {
        let at_completion = operation.outcome == Outcome::Ok && operation.completion.is_some();
        let value = operation.value();
        let bad = |message: String| bad_operation(history, operation, at_completion, message);
        let Some(mops) = value.as_seq() else {
            return Err(bad(format!(
                "a transaction's :value must be a list of micro-ops, found {} `{value}`",
                value.kind()
            )));
        };
        for (i, mop) in mops.iter().enumerate() {
            let parts = match mop.as_seq() {
                Some(parts @ [_, _, _]) => parts,
                _ => {
                    return Err(bad(format!(
                        "micro-op {i} `{mop}` must be a 3-element list [f key value]"
                    )))
                }
            };
            let (f, key, v) = (&parts[0], &parts[1], &parts[2]);
            let key = self.keys.intern(key);
            let parsed = match (f.as_text(), workload) {
                (Some("append"), Workload::ListAppend) => Mop::Append {
                    key,
                    value: self.values.intern(v),
                },
                (Some("w"), Workload::RwRegister) => Mop::Write {
                    key,
                    value: self.values.intern(v),
                },
                (Some("r"), Workload::ListAppend) => match v {
                    Value::Nil => Mop::ReadList { key, value: None },
                    Value::Vector(elements) => {
                        let start = self.elements.len() as u32;
                        for e in elements {
                            let id = self.values.intern(e);
                            self.elements.push(id);
                        }
                        Mop::ReadList {
                            key,
                            value: Some(start..self.elements.len() as u32),
                        }
                    }
                    other => {
                        return Err(bad(format!(
                            "micro-op {i} `{mop}` reads {} `{other}`; a list-append read \
                             returns a list or nil",
                            other.kind()
                        )))
                    }
                },
                (Some("r"), Workload::RwRegister) => Mop::ReadRegister {
                    key,
                    value: (!v.is_nil()).then(|| self.values.intern(v)),
                },
                _ => {
                    return Err(bad(format!(
                        "micro-op {i} `{mop}` has function `{f}`; {workload} takes {}",
                        workload.functions()
                    )))
                }
            };
            self.mops.push(parsed);
        }
        Ok(())
    }

    /// The micro-operations of transaction `txn`.
    pub fn mops(&self, txn: u32) -> &[Mop] {
        let range = &self.txns[txn as usize].mops;
        &self.mops[range.start as usize..range.end as usize]
    }

    /// Transaction `txn`'s list reads that returned a list: each micro-op, its key and the
    /// elements.
    pub fn list_reads(&self, txn: u32) -> impl Iterator<Item = (&Mop, Id, &[Id])> {
        self.mops(txn).iter().filter_map(|mop| match mop {
            Mop::ReadList {
                key,
                value: Some(range),
            } => Some((mop, *key, self.elements(range))),
            _ => None,
        })
    }

    /// The elements of a list read.
    pub fn elements(&self, range: &Range<u32>) -> &[Id] {
        &self.elements[range.start as usize..range.end as usize]
    }

    /// How many transactions there are.
    pub fn len(&self) -> usize {
        self.txns.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.txns.is_empty()
    }

    /// The event that describes transaction `txn` (see [`Txn::position`]).
    pub fn op(&self, txn: u32) -> &'h history::Op {
        &self.history.ops()[self.txns[txn as usize].position()]
    }
}

impl Transactions<'_> {
    /// Transaction `txn`'s event as elle-cli's JSON, for anomaly reports.
    pub fn op_json(&self, txn: u32) -> Json {
        event_json(self.op(txn))
    }

    /// Transaction `txn`'s invocation as elle-cli's JSON (real-time steps cite it).
    pub fn invocation_json(&self, txn: u32) -> Json {
        event_json(self.invocation(txn))
    }

    /// Transaction `txn`'s invocation event.
    pub fn invocation(&self, txn: u32) -> &history::Op {
        &self.history.ops()[self.txns[txn as usize].invoke_at]
    }

    /// A micro-op as elle-cli's JSON: `["append", 1, 2]`, `["r", 1, [2]]`.
    pub fn mop_json(&self, mop: &Mop) -> Json {
        let key = value_to_json(self.keys.value(mop.key()));
        match mop {
            Mop::Append { value, .. } => {
                json!(["append", key, value_to_json(self.values.value(*value))])
            }
            Mop::Write { value, .. } => json!(["w", key, value_to_json(self.values.value(*value))]),
            Mop::ReadRegister { value, .. } => {
                json!(["r", key, value.map(|v| value_to_json(self.values.value(v)))])
            }
            Mop::ReadList { value, .. } => {
                json!([
                    "r",
                    key,
                    value
                        .as_ref()
                        .map(|range| self.values_json(self.elements(range)))
                ])
            }
        }
    }

    /// Interned values as a JSON list.
    pub fn values_json(&self, values: &[Id]) -> Json {
        Json::Array(
            values
                .iter()
                .map(|&v| value_to_json(self.values.value(v)))
                .collect(),
        )
    }
}

fn event_json(op: &history::Op) -> Json {
    let mut text = String::new();
    history::json::write_op(&mut text, op);
    // write_op writes one JSON object; reading it back cannot fail, but a report keeps going
    // if it ever did.
    serde_json::from_str(&text).unwrap_or(Json::Null)
}

/// A micro-op as EDN, for messages and explanations: `[:append 1 2]`.
pub fn mop_text(mop: &Mop, txns: &Transactions<'_>) -> String {
    let key = txns.keys.value(mop.key());
    match mop {
        Mop::Append { value, .. } => format!("[:append {key} {}]", txns.values.value(*value)),
        Mop::Write { value, .. } => format!("[:w {key} {}]", txns.values.value(*value)),
        Mop::ReadRegister { value, .. } => match value {
            Some(v) => format!("[:r {key} {}]", txns.values.value(*v)),
            None => format!("[:r {key} nil]"),
        },
        Mop::ReadList { value, .. } => match value {
            Some(range) => {
                let elements: Vec<String> = txns
                    .elements(range)
                    .iter()
                    .map(|&e| txns.values.value(e).to_string())
                    .collect();
                format!("[:r {key} [{}]]", elements.join(" "))
            }
            None => format!("[:r {key} nil]"),
        },
    }
}

fn describe(history: &History, operation: &Operation<'_>) -> String {
    history::Location {
        position: operation.invoke_at,
        index: operation.invoke.index,
        line: history.line(operation.invoke_at),
    }
    .to_string()
}
