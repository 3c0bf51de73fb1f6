//! [`Cycle`]s and their [`Step`]s: why each transaction precedes the next, as data
//! (Elle's `:steps`) and as text a person can follow (Elle's `G1c.txt` files).

use super::graph::Rels;
use super::transactions::{Id, Transactions};
use super::Workload;
use history::json::value_to_json;
use serde_json::{json, Value as Json};

/// Why one transaction precedes the next in a cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A data dependency (ww, wr or rw) on a key.
    Data {
        /// `ww`, `wr` or `rw`.
        rel: Rels,
        /// The key.
        key: Id,
        /// The version the first transaction wrote (ww, wr) or read (rw); `None` for the
        /// initial, empty state.
        value: Option<Id>,
        /// The version the second transaction wrote (ww, rw).
        next: Option<Id>,
        /// Index of the first transaction's micro-op.
        a_mop: Option<usize>,
        /// Index of the second transaction's micro-op.
        b_mop: usize,
    },
    /// The same process ran the first, then the second.
    Process {
        /// The process.
        process: u64,
    },
    /// The first completed before the second was invoked.
    Realtime,
    /// A dependency of this kind whose micro-ops could not be named.
    Unexplained {
        /// Its kind.
        rel: Rels,
    },
}

impl Step {
    /// A data step.
    pub fn data(
        rel: Rels,
        key: Id,
        value: Option<Id>,
        next: Option<Id>,
        a_mop: Option<usize>,
        b_mop: usize,
    ) -> Step {
        Step::Data {
            rel,
            key,
            value,
            next,
            a_mop,
            b_mop,
        }
    }

    /// The relationship it stands for.
    pub fn rel(&self) -> Rels {
        match self {
            Step::Data { rel, .. } => *rel,
            Step::Process { .. } => Rels::PROCESS,
            Step::Realtime => Rels::REALTIME,
            Step::Unexplained { rel } => *rel,
        }
    }
}

/// A cycle of transactions, each preceding the next (and the last the first), with the
/// anomaly it is an instance of.
#[derive(Debug, Clone)]
pub struct Cycle {
    /// The anomaly's name (`G-single-item`, `G0-realtime`).
    pub anomaly: &'static str,
    /// The transactions, T1 … Tn; Tn precedes T1.
    pub txns: Vec<u32>,
    /// `steps[i]` explains why `txns[i]` precedes `txns[i + 1]` (the last: Tn before T1).
    pub steps: Vec<Step>,
}

impl Cycle {
    /// Elle's map: `cycle` (the ops, the first repeated at the end), `steps`, `type`.
    pub fn to_json(&self, txns: &Transactions<'_>) -> Json {
        let mut ops: Vec<Json> = self.txns.iter().map(|&t| txns.op_json(t)).collect();
        if let Some(&first) = self.txns.first() {
            ops.push(txns.op_json(first));
        }
        let steps: Vec<Json> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, step)| self.step_json(txns, i, step))
            .collect();
        json!({"cycle": ops, "steps": steps, "type": self.anomaly})
    }

    fn step_json(&self, txns: &Transactions<'_>, i: usize, step: &Step) -> Json {
        let (a, b) = self.pair(i);
        match step {
            Step::Data {
                rel,
                key,
                value,
                next,
                a_mop,
                b_mop,
            } => {
                let mut map = serde_json::Map::new();
                map.insert("type".into(), rel.name().into());
                map.insert("key".into(), value_to_json(txns.keys.value(*key)));
                map.insert("value".into(), version_json(txns, *value));
                if let Some(next) = next {
                    map.insert("value'".into(), value_to_json(txns.values.value(*next)));
                }
                map.insert("a-mop-index".into(), json!(a_mop));
                map.insert("b-mop-index".into(), json!(b_mop));
                Json::Object(map)
            }
            Step::Process { process } => json!({"type": "process", "process": process}),
            Step::Unexplained { rel } => json!({"type": rel.name()}),
            Step::Realtime => json!({
                "type": "realtime",
                "a'": txns.op_json(a),
                "b": txns.invocation_json(b),
            }),
        }
    }

    /// The transactions step `i` relates.
    fn pair(&self, i: usize) -> (u32, u32) {
        (self.txns[i], self.txns[(i + 1) % self.txns.len()])
    }

    /// The explanation in Elle's words: the transactions named T1 … Tn, then why each
    /// precedes the next, ending in the contradiction.
    pub fn explain(&self, txns: &Transactions<'_>) -> String {
        let mut text = String::from("Let:\n");
        for (i, &t) in self.txns.iter().enumerate() {
            let mut op = String::new();
            history::edn::write_value(&mut op, &txns.op(t).value).ok();
            text.push_str(&format!(
                "  T{} = {{:index {}, :type :{}, :process {}, :value {op}}}\n",
                i + 1,
                txns.op(t).index,
                txns.op(t).kind,
                txns.txns[t as usize].process
            ));
        }
        text.push_str("\nThen:\n");
        let n = self.txns.len();
        for (i, step) in self.steps.iter().enumerate() {
            let (a, b) = (format!("T{}", i + 1), format!("T{}", (i + 1) % n + 1));
            let why = self.render(txns, i, step, &a, &b);
            if i + 1 == n {
                text.push_str(&format!(
                    "  - However, {a} < {b}, because {why}: a contradiction!\n"
                ));
            } else {
                text.push_str(&format!("  - {a} < {b}, because {why}.\n"));
            }
        }
        text
    }

    fn render(&self, txns: &Transactions<'_>, i: usize, step: &Step, a: &str, b: &str) -> String {
        let value = |v: Id| txns.values.value(v).to_string();
        match step {
            Step::Data {
                rel,
                key,
                value: v,
                next,
                ..
            } => {
                let key = txns.keys.value(*key);
                if txns.workload == Workload::RwRegister {
                    return register_step(*rel, key, v.map(value), next.map(value), a, b);
                }
                match (*rel, v, next) {
                    (Rels::WW, Some(v), Some(n)) => {
                        format!("{b} appended {} after {a} appended {} to {key}", value(*n), value(*v))
                    }
                    (Rels::WR, Some(v), _) => format!("{b} observed {a}'s append of {} to key {key}", value(*v)),
                    (Rels::RW, None, Some(n)) => format!(
                        "{a} observed the initial (nil) state of {key}, which {b} created by appending {}",
                        value(*n)
                    ),
                    (Rels::RW, Some(_), Some(n)) => {
                        format!("{a} did not observe {b}'s append of {} to {key}", value(*n))
                    }
                    _ => format!("{a} and {b} are related by {rel} on {key}"),
                }
            }
            Step::Process { process } => format!("process {process} executed {a} before {b}"),
            Step::Unexplained { rel } => format!("{a} precedes {b} by a {rel} dependency"),
            Step::Realtime => {
                let (ta, tb) = self.pair(i);
                let completed = txns.op(ta);
                let invoked = txns.invocation(tb);
                let gap = invoked.time - completed.time;
                let when = if completed.time >= 0 && invoked.time >= 0 {
                    if gap > 0 {
                        format!(" {:.3} seconds", gap as f64 / 1e9)
                    } else {
                        " just".to_string()
                    }
                } else {
                    String::new()
                };
                format!(
                    "{a} completed at index {},{when} before the invocation of {b}, at index {}",
                    completed.index, invoked.index
                )
            }
        }
    }
}

/// A register dependency in Elle's words; `value` is `None` for the initial nil.
fn register_step(
    rel: Rels,
    key: &history::Value,
    value: Option<String>,
    next: Option<String>,
    a: &str,
    b: &str,
) -> String {
    let value = value.unwrap_or_else(|| "nil".into());
    match (rel, next) {
        (Rels::WW, Some(n)) => format!(
            "{a} set key {key} to {value}, and {b} set it to {n}, which came later in the version order"
        ),
        (Rels::RW, Some(n)) => format!(
            "{a} read key {key} = {value}, and {b} set it to {n}, which came later in the version order"
        ),
        (Rels::WR, _) => format!("{a} wrote {key} = {value}, which was read by {b}"),
        _ => format!("{a} and {b} are related by {rel} on {key}"),
    }
}

fn version_json(txns: &Transactions<'_>, value: Option<Id>) -> Json {
    match value {
        Some(v) => value_to_json(txns.values.value(v)),
        // Elle's ::init marker.
        None => Json::Null,
    }
}
