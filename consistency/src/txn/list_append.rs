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
use super::{Found, Inference, Step};
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
        // About half the micro-ops are appends and half reads, 1 to 5 per transaction.
        orders.writer.reserve(txns.len() * 3 / 2);
        orders.readers.reserve(txns.len() * 3 / 2);
        // Each key's longest read (transaction, micro-op), the first of its length seen.
        let mut longest: FxHashMap<Id, (u32, usize)> = FxHashMap::default();
        let mut appends_per_key: FxHashMap<Id, (u32, Id)> = FxHashMap::default();
        let mut many_appends: FxHashSet<Id> = FxHashSet::default();
        for id in 0..txns.len() as u32 {
            let txn = &txns.txns[id as usize];
            let mops = txns.mops(id);
            for (i, mop) in mops.iter().enumerate() {
                match mop {
                    Mop::Append { key, value } => {
                        orders.writer.insert((*key, *value), id);
                        // An earlier append of this transaction to the key is intermediate.
                        let earlier = mops[..i].iter().rev().find_map(|m| match m {
                            Mop::Append { key: k, value: v } if k == key => Some(*v),
                            _ => None,
                        });
                        if let Some(previous) = earlier {
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
                        let longer = longest
                            .get(key)
                            .is_none_or(|r| read_list(txns, *r).len() < elements.len());
                        if !elements.is_empty() && longer {
                            longest.insert(*key, (id, i));
                        }
                    }
                    _ => {}
                }
            }
        }
        // Reads that are not prefixes of their key's longest: Elle's incompatible orders.
        let mut suspects: FxHashSet<Id> = FxHashSet::default();
        for_each_read(txns, |key, elements| {
            if let Some(&l) = longest.get(&key) {
                if !read_list(txns, l).starts_with(elements) {
                    suspects.insert(key);
                }
            }
        });
        if !suspects.is_empty() {
            incompatible_orders(txns, &suspects, found);
        }
        let mut keys: Vec<(&Id, &(u32, usize))> = longest.iter().collect();
        keys.sort_unstable();
        for (&key, &read) in keys {
            let elements = read_list(txns, read);
            let mut order = Vec::with_capacity(elements.len());
            for &element in elements {
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

    /// The non-cycle anomalies: G1a, G1b, dirty-update, duplicate-elements, internal,
    /// future-read and lost-update.
    pub fn anomalies(&self, txns: &Transactions<'_>, found: &mut Found) {
        // The keys failed transactions appended to: only their reads can be aborted reads.
        let mut failed: FxHashSet<Id> = FxHashSet::default();
        for (&(key, _), &writer) in &self.writer {
            if txns.txns[writer as usize].outcome == Outcome::Fail {
                failed.insert(key);
            }
        }
        for id in 0..txns.len() as u32 {
            let txn = &txns.txns[id as usize];
            if txn.outcome != Outcome::Ok {
                continue;
            }
            self.aborted_and_intermediate_reads(txns, id, &failed, found);
            self.duplicates(txns, id, found);
            internal(txns, id, found);
        }
        self.dirty_updates(txns, found);
        lost_updates(txns, found);
    }

    fn aborted_and_intermediate_reads(
        &self,
        txns: &Transactions<'_>,
        id: u32,
        failed: &FxHashSet<Id>,
        found: &mut Found,
    ) {
        for (mop, key, elements) in txns.list_reads(id) {
            let key = &key;
            let scan: &[Id] = if failed.contains(key) { elements } else { &[] };
            for &element in scan {
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

    /// Reads that hold an element more than once. A read that is a prefix of its key's
    /// order (distinct elements) has none, which spares counting almost every read.
    fn duplicates(&self, txns: &Transactions<'_>, id: u32, found: &mut Found) {
        for (mop, key, elements) in txns.list_reads(id) {
            if self
                .order
                .get(&key)
                .is_some_and(|o| o.starts_with(elements))
            {
                continue;
            }
            let mut counts: FxHashMap<Id, usize> = FxHashMap::default();
            for &e in elements {
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

impl Inference for Orders {
    fn link(&self, txns: &Transactions<'_>, graph: &mut Builder) {
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

    fn explain(&self, txns: &Transactions<'_>, a: u32, b: u32, rel: Rels) -> Option<Step> {
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
}

/// What a transaction knows of a key from its own earlier micro-ops: the list it last
/// read (if it read one) and what it appended since.
struct Known<'t> {
    key: Id,
    read: Option<&'t [Id]>,
    appended: Vec<Id>,
}

impl Known<'_> {
    /// Whether reading `list` now agrees with what the transaction knows.
    fn agrees(&self, list: &[Id]) -> bool {
        match self.read {
            Some(read) => {
                list.len() == read.len() + self.appended.len()
                    && list.starts_with(read)
                    && list.ends_with(&self.appended)
            }
            None => list.ends_with(&self.appended),
        }
    }

    /// Elle's `expected`: the list, or `["..." appended]` when only its end is known.
    fn expected(&self, txns: &Transactions<'_>) -> Json {
        let mut values: Vec<Json> = match self.read {
            Some(read) => read
                .iter()
                .map(|&v| value_json(txns.values.value(v)))
                .collect(),
            None => vec![Json::from("...")],
        };
        values.extend(
            self.appended
                .iter()
                .map(|&v| value_json(txns.values.value(v))),
        );
        Json::Array(values)
    }
}

/// A transaction whose read contradicts its own earlier reads and appends (Elle's
/// `internal`), or that reads an element it appends later (`future-read`). Transactions
/// have a few micro-ops, so lists scanned in place beat maps.
fn internal(txns: &Transactions<'_>, id: u32, found: &mut Found) {
    let mops = txns.mops(id);
    for (i, mop) in mops.iter().enumerate() {
        let Mop::Append { key, value } = mop else {
            continue;
        };
        let earlier = mops[..i].iter().find(|m| match m {
            Mop::ReadList {
                key: k,
                value: Some(range),
            } => k == key && txns.elements(range).contains(value),
            _ => false,
        });
        if let Some(read) = earlier {
            found.add(
                "future-read",
                json!({
                    "op": txns.op_json(id),
                    "mop": txns.mop_json(read),
                    "element": value_json(txns.values.value(*value)),
                }),
            );
            break;
        }
    }
    let mut known: Vec<Known<'_>> = Vec::new();
    for mop in mops {
        match mop {
            Mop::Append { key, value } => match known.iter_mut().find(|k| k.key == *key) {
                Some(k) => k.appended.push(*value),
                None => known.push(Known {
                    key: *key,
                    read: None,
                    appended: vec![*value],
                }),
            },
            Mop::ReadList {
                key,
                value: Some(range),
            } => {
                let list = txns.elements(range);
                match known.iter_mut().find(|k| k.key == *key) {
                    Some(k) if !k.agrees(list) => {
                        found.add(
                            "internal",
                            json!({"op": txns.op_json(id), "mop": txns.mop_json(mop), "expected": k.expected(txns)}),
                        );
                        return;
                    }
                    Some(k) => {
                        k.read = Some(list);
                        k.appended.clear();
                    }
                    None => known.push(Known {
                        key: *key,
                        read: Some(list),
                        appended: Vec::new(),
                    }),
                }
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
        // A transaction has a few micro-ops: scanning its earlier ones beats maps.
        let mops = txns.mops(id);
        for (i, mop) in mops.iter().enumerate() {
            let Mop::Append { key, .. } = mop else {
                continue;
            };
            let before = &mops[..i];
            if before
                .iter()
                .any(|m| matches!(m, Mop::Append { key: k, .. } if k == key))
            {
                continue; // not its first append to the key
            }
            let first_read = before.iter().find_map(|m| match m {
                Mop::ReadList {
                    key: k,
                    value: Some(range),
                } if k == key => Some(txns.elements(range).last().copied().unwrap_or(INIT)),
                _ => None,
            });
            if let Some(state) = first_read {
                collisions.entry((*key, state)).or_default().push(id);
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

/// The list a read micro-op returned.
fn read_list<'t>(txns: &'t Transactions<'_>, (txn, mop): (u32, usize)) -> &'t [Id] {
    match &txns.mops(txn)[mop] {
        Mop::ReadList {
            value: Some(range), ..
        } => txns.elements(range),
        _ => &[],
    }
}

/// Calls `f` with every non-empty list an `ok` transaction read, and its key.
fn for_each_read<'t>(txns: &'t Transactions<'_>, mut f: impl FnMut(Id, &'t [Id])) {
    for id in 0..txns.len() as u32 {
        if txns.txns[id as usize].outcome != Outcome::Ok {
            continue;
        }
        for (_, key, elements) in txns.list_reads(id) {
            if !elements.is_empty() {
                f(key, elements);
            }
        }
    }
}

/// Elle's check of the `suspects` keys: their distinct reads sorted by length, the first
/// two in a row of which the shorter is not a prefix of the longer.
fn incompatible_orders(txns: &Transactions<'_>, suspects: &FxHashSet<Id>, found: &mut Found) {
    let mut reads: FxHashMap<Id, Vec<&[Id]>> = FxHashMap::default();
    for_each_read(txns, |key, elements| {
        if suspects.contains(&key) {
            let distinct = reads.entry(key).or_default();
            if !distinct.contains(&elements) {
                distinct.push(elements);
            }
        }
    });
    let mut keys: Vec<_> = reads.into_iter().collect();
    keys.sort_unstable_by_key(|(k, _)| *k);
    for (key, mut distinct) in keys {
        // Stable: reads of equal length keep the order they were seen in.
        distinct.sort_by_key(|r| r.len());
        if let Some(pair) = distinct.windows(2).find(|p| !p[1].starts_with(p[0])) {
            found.add(
                "incompatible-order",
                json!({
                    "key": value_json(txns.keys.value(key)),
                    "values": [values_json(txns, pair[0]), values_json(txns, pair[1])],
                }),
            );
        }
    }
}

fn values_json(txns: &Transactions<'_>, values: &[Id]) -> Json {
    txns.values_json(values)
}
