//! List-append inference, as Elle's `list-append` makes it.
//!
//! Every read of a key returns the whole list, so it reveals a prefix of the
//! key's version order: a read `[1 2 3]` says the key went `[] → [1] → [1 2] →
//! [1 2 3]`. The longest read of each key is taken as its version order (the
//! other reads must be its prefixes, else `incompatible-order`). From it:
//!
//! - **ww**: the writer of the element before `v` → the writer of `v`;
//! - **wr**: the writer of a read's last element → the reader;
//! - **rw**: every reader of the state that ended at the element before `v` → the
//!   writer of `v`.
//!
//! An append never read comes after every element read (its predecessor is the
//! last element of the order). Besides the graph, the non-cycle anomalies Elle
//! reports for list-append: `G1a`, `G1b`, `internal`, `future-read`,
//! `dirty-update`, `duplicate-elements`, `incompatible-order` and
//! `lost-update`.

use super::graph::{Builder, Rels};
use super::transactions::{Id, Mop, Transactions};
use super::{Found, Step};
use history::json::value_to_json as value_json;
use history::Outcome;
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::{json, Value as Json};

/// The state before a key's first element.
const INIT: Id = Id::MAX;

/// What the reads say about each key.
#[derive(Debug, Default)]
pub struct Orders {
    /// Each key's version order: the distinct elements of its longest read.
    order: FxHashMap<Id, Vec<Id>>,
    /// (key, element) → its position in the key's order.
    position: FxHashMap<(Id, Id), usize>,
    /// (key, element) → the transaction that appended it (any outcome).
    writer: FxHashMap<(Id, Id), u32>,
    /// (key, last element read or [`INIT`]) → the `ok` transactions that read that state.
    readers: FxHashMap<(Id, Id), Vec<u32>>,
    /// Elements appended by a transaction that appended to the same key again later:
    /// (key, element) → that transaction.
    intermediate: FxHashMap<(Id, Id), u32>,
}

impl Orders {
    /// Reads the version orders, writers and readers of `txns`; also finds the keys whose
    /// reads are incompatible (not prefixes of one another), into `found`.
    pub fn infer(txns: &Transactions<'_>, found: &mut Found) -> Orders {
        let mut orders = Orders::default();
        // Distinct non-empty reads per key, in the order first seen.
        let mut reads: FxHashMap<Id, Vec<(u32, usize)>> = FxHashMap::default();
        let mut seen: FxHashSet<(Id, &[Id])> = FxHashSet::default();
        let mut appends_per_key: FxHashMap<Id, (u32, Id)> = FxHashMap::default();
        let mut many_appends: FxHashSet<Id> = FxHashSet::default();
        for id in 0..txns.len() as u32 {
            let txn = &txns.txns[id as usize];
            let mut last_append: FxHashMap<Id, Id> = FxHashMap::default();
            for (i, mop) in txns.mops(id).iter().enumerate() {
                match mop {
                    Mop::Append { key, value } => {
                        orders.writer.insert((*key, *value), id);
                        if let Some(previous) = last_append.insert(*key, *value) {
                            orders.intermediate.insert((*key, previous), id);
                        }
                        if txn.possible() && appends_per_key.insert(*key, (id, *value)).is_some() {
                            many_appends.insert(*key);
                        }
                    }
                    Mop::ReadList {
                        key,
                        value: Some(range),
                    } if txn.outcome == Outcome::Ok => {
                        let elements = txns.elements(range);
                        let last = elements.last().copied().unwrap_or(INIT);
                        orders.readers.entry((*key, last)).or_default().push(id);
                        if !elements.is_empty() && seen.insert((*key, elements)) {
                            reads.entry(*key).or_default().push((id, i));
                        }
                    }
                    _ => {}
                }
            }
        }
        for (key, mut distinct) in reads {
            let list = |&(txn, mop): &(u32, usize)| match &txns.mops(txn)[mop] {
                Mop::ReadList {
                    value: Some(range), ..
                } => txns.elements(range),
                _ => &[],
            };
            // Stable: reads of equal length keep the order they were seen in.
            distinct.sort_by_key(|r| list(r).len());
            if let Some(pair) = distinct
                .windows(2)
                .find(|pair| !list(&pair[1]).starts_with(list(&pair[0])))
            {
                found.add(
                    "incompatible-order",
                    json!({
                        "key": value_json(txns.keys.value(key)),
                        "values": [values_json(txns, list(&pair[0])), values_json(txns, list(&pair[1]))],
                    }),
                );
            }
            let Some(longest) = distinct.last() else {
                continue;
            };
            let mut order = Vec::with_capacity(list(longest).len());
            for &element in list(longest) {
                if let std::collections::hash_map::Entry::Vacant(e) =
                    orders.position.entry((key, element))
                {
                    e.insert(order.len());
                    order.push(element);
                }
            }
            orders.order.insert(key, order);
        }
        // A key appended once and never read went [] → [v].
        for (key, (_, value)) in appends_per_key {
            if !many_appends.contains(&key) && !orders.order.contains_key(&key) {
                orders.position.insert((key, value), 0);
                orders.order.insert(key, vec![value]);
            }
        }
        orders
    }

    /// The element appended just before `value` to `key` ([`INIT`] for the first). An
    /// append never read comes after the last element read.
    fn previous(&self, key: Id, value: Id) -> Id {
        match self.position.get(&(key, value)) {
            Some(0) => INIT,
            Some(&i) => self.order[&key][i - 1],
            None => self
                .order
                .get(&key)
                .and_then(|o| o.last().copied())
                .unwrap_or(INIT),
        }
    }

    /// The transaction that appended `value` to `key`, if it may have happened.
    fn possible_writer(&self, txns: &Transactions<'_>, key: Id, value: Id) -> Option<u32> {
        let writer = *self.writer.get(&(key, value))?;
        txns.txns[writer as usize].possible().then_some(writer)
    }

    /// Links ww, wr and rw edges between possible transactions.
    pub fn link(&self, txns: &Transactions<'_>, graph: &mut Builder) {
        for id in 0..txns.len() as u32 {
            let txn = &txns.txns[id as usize];
            if !txn.possible() {
                continue;
            }
            for mop in txns.mops(id) {
                match mop {
                    Mop::Append { key, value } => {
                        let previous = self.previous(*key, *value);
                        if previous == INIT {
                            // Readers of the empty list.
                        } else if let Some(writer) = self.possible_writer(txns, *key, previous) {
                            graph.link(writer, id, Rels::WW);
                        }
                        for &reader in self.readers.get(&(*key, previous)).into_iter().flatten() {
                            graph.link(reader, id, Rels::RW);
                        }
                    }
                    Mop::ReadList {
                        key,
                        value: Some(range),
                    } if txn.outcome == Outcome::Ok => {
                        if let Some(&last) = txns.elements(range).last() {
                            if let Some(writer) = self.possible_writer(txns, *key, last) {
                                graph.link(writer, id, Rels::WR);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Why `a` precedes `b` by `rel` (ww, wr or rw), as Elle explains it: the key, the
    /// values, and the micro-ops' positions in each transaction.
    pub fn explain(&self, txns: &Transactions<'_>, a: u32, b: u32, rel: Rels) -> Option<Step> {
        let b_mops = txns.mops(b);
        for (b_index, mop) in b_mops.iter().enumerate() {
            match (rel, mop) {
                (Rels::WW, Mop::Append { key, value }) => {
                    let previous = self.previous(*key, *value);
                    if previous != INIT && self.writer.get(&(*key, previous)) == Some(&a) {
                        let a_index = txns.mops(a).iter().position(
                            |m| matches!(m, Mop::Append { key: k, value: v } if k == key && *v == previous),
                        );
                        return Some(Step::data(
                            rel,
                            *key,
                            Some(previous),
                            Some(*value),
                            a_index,
                            b_index,
                        ));
                    }
                }
                (
                    Rels::WR,
                    Mop::ReadList {
                        key,
                        value: Some(range),
                    },
                ) => {
                    let Some(&last) = txns.elements(range).last() else {
                        continue;
                    };
                    if self.writer.get(&(*key, last)) == Some(&a) {
                        let a_index = txns.mops(a).iter().position(
                            |m| matches!(m, Mop::Append { key: k, value: v } if k == key && *v == last),
                        );
                        return Some(Step::data(rel, *key, Some(last), None, a_index, b_index));
                    }
                }
                (Rels::RW, Mop::Append { key, value }) => {
                    let previous = self.previous(*key, *value);
                    let read = self
                        .readers
                        .get(&(*key, previous))
                        .is_some_and(|r| r.contains(&a));
                    if read {
                        let a_index = txns.mops(a).iter().position(|m| match m {
                            Mop::ReadList {
                                key: k,
                                value: Some(range),
                            } if k == key => {
                                txns.elements(range).last().copied().unwrap_or(INIT) == previous
                            }
                            _ => false,
                        });
                        let previous = (previous != INIT).then_some(previous);
                        return Some(Step::data(
                            rel,
                            *key,
                            previous,
                            Some(*value),
                            a_index,
                            b_index,
                        ));
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// The non-cycle anomalies: G1a, G1b, dirty-update, duplicate-elements, internal,
    /// future-read and lost-update.
    pub fn anomalies(&self, txns: &Transactions<'_>, found: &mut Found) {
        for id in 0..txns.len() as u32 {
            let txn = &txns.txns[id as usize];
            if txn.outcome != Outcome::Ok {
                continue;
            }
            self.aborted_and_intermediate_reads(txns, id, found);
            duplicates(txns, id, found);
            internal(txns, id, found);
        }
        self.dirty_updates(txns, found);
        lost_updates(txns, found);
    }

    fn aborted_and_intermediate_reads(&self, txns: &Transactions<'_>, id: u32, found: &mut Found) {
        for mop in txns.mops(id) {
            let Mop::ReadList {
                key,
                value: Some(range),
            } = mop
            else {
                continue;
            };
            let elements = txns.elements(range);
            for &element in elements {
                let Some(&writer) = self.writer.get(&(*key, element)) else {
                    continue;
                };
                if txns.txns[writer as usize].outcome == Outcome::Fail {
                    found.add(
                        "G1a",
                        json!({
                            "op": txns.op_json(id),
                            "mop": txns.mop_json(mop),
                            "writer": txns.op_json(writer),
                            "element": value_json(txns.values.value(element)),
                        }),
                    );
                }
            }
            if let Some(&last) = elements.last() {
                if let Some(&writer) = self.intermediate.get(&(*key, last)) {
                    if writer != id {
                        found.add(
                            "G1b",
                            json!({
                                "op": txns.op_json(id),
                                "mop": txns.mop_json(mop),
                                "writer": txns.op_json(writer),
                                "element": value_json(txns.values.value(last)),
                            }),
                        );
                    }
                }
            }
        }
    }

    /// Elle's dirty update: in a key's order, a committed append right after elements
    /// whose last writer failed.
    fn dirty_updates(&self, txns: &Transactions<'_>, found: &mut Found) {
        let mut keys: Vec<&Id> = self.order.keys().collect();
        keys.sort_unstable();
        for key in keys {
            // The writer of the last element that counts, and the elements since it.
            let mut last: Option<u32> = None;
            let mut values: Vec<Id> = Vec::new();
            for &value in &self.order[key] {
                let Some(&writer) = self.writer.get(&(*key, value)) else {
                    continue;
                };
                let before = last.map_or(Outcome::Ok, |t| txns.txns[t as usize].outcome);
                let now = txns.txns[writer as usize].outcome;
                let now_ok = now == Outcome::Ok;
                let now_fail = now == Outcome::Fail;
                match (before, now_ok, now_fail) {
                    (Outcome::Fail, true, _) => {
                        values.push(value);
                        found.add(
                            "dirty-update",
                            json!({
                                "key": value_json(txns.keys.value(*key)),
                                "values": values_json(txns, &values),
                                "txns": [last.map(|t| txns.op_json(t)), "...", txns.op_json(writer)],
                            }),
                        );
                        last = Some(writer);
                        values = vec![value];
                    }
                    // A failed writer after a failed one, or an indeterminate one after a
                    // failed one, extends the run of uncommitted elements.
                    (Outcome::Fail, false, _) => values.push(value),
                    // After a committed or indeterminate writer, an indeterminate one
                    // extends the run; a committed or failed one starts a new run.
                    (_, false, false) => values.push(value),
                    _ => {
                        last = Some(writer);
                        values = vec![value];
                    }
                }
            }
        }
    }
}

/// A read that holds an element more than once.
fn duplicates(txns: &Transactions<'_>, id: u32, found: &mut Found) {
    for mop in txns.mops(id) {
        let Mop::ReadList {
            value: Some(range), ..
        } = mop
        else {
            continue;
        };
        let mut counts: FxHashMap<Id, usize> = FxHashMap::default();
        for &e in txns.elements(range) {
            *counts.entry(e).or_default() += 1;
        }
        let mut dups: Vec<(Id, usize)> = counts.into_iter().filter(|&(_, n)| n > 1).collect();
        if dups.is_empty() {
            continue;
        }
        dups.sort_unstable();
        let dups: serde_json::Map<String, Json> = dups
            .into_iter()
            .map(|(e, n)| (txns.values.value(e).to_string(), Json::from(n)))
            .collect();
        found.add(
            "duplicate-elements",
            json!({"op": txns.op_json(id), "mop": txns.mop_json(mop), "duplicates": dups}),
        );
    }
}

/// What a transaction knows of a key from its own earlier micro-ops.
#[derive(Clone)]
enum Known {
    /// It read this list (and appended these since).
    List(Vec<Id>),
    /// It appended these to a list it had not read: they end the list.
    Suffix(Vec<Id>),
}

/// A transaction whose read contradicts its own earlier reads and appends (Elle's
/// `internal`), or that reads an element it appends later (`future-read`).
fn internal(txns: &Transactions<'_>, id: u32, found: &mut Found) {
    let mut known: FxHashMap<Id, Known> = FxHashMap::default();
    let mut read_elements: FxHashMap<(Id, Id), usize> = FxHashMap::default();
    let mut future_found = false;
    for (i, mop) in txns.mops(id).iter().enumerate() {
        match mop {
            Mop::Append { key, value } => {
                if let (false, Some(&at)) = (future_found, read_elements.get(&(*key, *value))) {
                    future_found = true;
                    found.add(
                        "future-read",
                        json!({
                            "op": txns.op_json(id),
                            "mop": txns.mop_json(&txns.mops(id)[at]),
                            "element": value_json(txns.values.value(*value)),
                        }),
                    );
                }
                match known
                    .entry(*key)
                    .or_insert_with(|| Known::Suffix(Vec::new()))
                {
                    Known::List(list) | Known::Suffix(list) => list.push(*value),
                }
            }
            Mop::ReadList {
                key,
                value: Some(range),
            } => {
                let read = txns.elements(range);
                for &e in read {
                    read_elements.entry((*key, e)).or_insert(i);
                }
                let consistent = match known.get(key) {
                    None => true,
                    Some(Known::List(list)) => list.as_slice() == read,
                    Some(Known::Suffix(suffix)) => read.ends_with(suffix),
                };
                if !consistent {
                    let expected = match &known[key] {
                        Known::List(list) => values_json(txns, list),
                        Known::Suffix(suffix) => {
                            let mut v = vec![Json::from("...")];
                            if let Json::Array(rest) = values_json(txns, suffix) {
                                v.extend(rest);
                            }
                            Json::Array(v)
                        }
                    };
                    found.add(
                        "internal",
                        json!({"op": txns.op_json(id), "mop": txns.mop_json(mop), "expected": expected}),
                    );
                    return;
                }
                known.insert(*key, Known::List(read.to_vec()));
            }
            _ => {}
        }
    }
}

/// Committed transactions that read the same state of a key and both appended to it
/// (Adya's lost update, as Elle finds it).
fn lost_updates(txns: &Transactions<'_>, found: &mut Found) {
    // (key, the first state read: its last element or INIT) → the transactions.
    let mut collisions: FxHashMap<(Id, Id), Vec<u32>> = FxHashMap::default();
    for id in 0..txns.len() as u32 {
        if txns.txns[id as usize].outcome != Outcome::Ok {
            continue;
        }
        let mut first_read: FxHashMap<Id, Id> = FxHashMap::default();
        let mut wrote: FxHashSet<Id> = FxHashSet::default();
        for mop in txns.mops(id) {
            match mop {
                Mop::ReadList {
                    key,
                    value: Some(range),
                } => {
                    let last = txns.elements(range).last().copied().unwrap_or(INIT);
                    first_read.entry(*key).or_insert(last);
                }
                Mop::Append { key, .. } if wrote.insert(*key) => {
                    if let Some(&state) = first_read.get(key) {
                        collisions.entry((*key, state)).or_default().push(id);
                    }
                }
                _ => {}
            }
        }
    }
    let mut cases: Vec<((Id, Id), Vec<u32>)> = collisions
        .into_iter()
        .filter(|(_, t)| t.len() > 1)
        .collect();
    cases.sort_unstable();
    for ((key, state), ids) in cases {
        let value = if state == INIT {
            Json::Array(vec![])
        } else {
            // The state read ended at `state`: name it by its last element, as a list.
            json!(["...", value_json(txns.values.value(state))])
        };
        found.add(
            "lost-update",
            json!({
                "key": value_json(txns.keys.value(key)),
                "value": value,
                "txns": ids.iter().map(|&t| txns.op_json(t)).collect::<Vec<_>>(),
            }),
        );
    }
}

fn values_json(txns: &Transactions<'_>, values: &[Id]) -> Json {
    txns.values_json(values)
}
