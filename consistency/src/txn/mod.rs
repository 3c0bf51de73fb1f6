//! Transactional isolation checking, as Elle does it: from a history of
//! transactions over lists (list-append) or registers (rw-register), infer
//! write-write, write-read and read-write dependencies, search the dependency graph
//! for cycles, name them by Adya's taxonomy, and say which consistency models they
//! rule out.
//!
//! - [`transactions`]: a history's transactions and their micro-operations.
//! - [`list_append`]: version orders from list reads, the dependency edges, and the
//!   anomalies that are not cycles (G1a, G1b, internal, …).
//! - [`rw_register`]: version orders of registers from the initial state and the
//!   assumptions asked for, their edges and anomalies.
//! - [`Inference`]: what both give the graph: edges, and why each holds.
//! - [`order`]: process and real-time order, for the strong models.
//! - [`graph`]: the dependency graph and its strongly connected components.
//! - [`cycles`]: the cycle search and Elle's anomaly names.
//! - [`explain`]: each cycle as data and as text.
//! - [`model`]: Elle's consistency models and what each proscribes.
//! - [`generate`]: serializable histories of the Elle paper's shape, for tests and benchmarks.
//!
//! ```
//! use consistency::txn::{check, Options, Workload};
//! use history::{History, Op, OpType, Process, Value};
//!
//! // Two transactions that each read the other's key before the other appended to it:
//! // write skew, a G2-item cycle that serializability forbids.
//! let txn = |mops: Vec<Value>| Value::Vector(mops);
//! let mop = |f: &str, k: i64, v: Value| Value::Vector(vec![Value::Keyword(f.into()), Value::Int(k), v]);
//! let mut ops = Vec::new();
//! for (p, read, append) in [(0, 1, 2), (1, 2, 1)] {
//!     let invoke = txn(vec![mop("r", read, Value::Nil), mop("append", append, Value::Int(p + 1))]);
//!     let ok = txn(vec![mop("r", read, Value::Vector(vec![])), mop("append", append, Value::Int(p + 1))]);
//!     ops.push(Op::new(Process::Client(p as u64), OpType::Invoke, "txn", invoke));
//!     ops.push(Op::new(Process::Client(p as u64), OpType::Ok, "txn", ok));
//! }
//! // Both reads of 1 and 2 come back empty, yet each key got its append.
//! let history = History::from_ops([ops[0].clone(), ops[2].clone(), ops[1].clone(), ops[3].clone()]);
//! let options = Options { consistency_models: vec!["serializable".into()], ..Options::default() };
//! let analysis = check(&history, Workload::ListAppend, &options).unwrap();
//! assert_eq!(analysis.anomaly_types, ["G2-item"]);
//! assert_eq!(analysis.not, ["repeatable-read"]);
//! ```

pub mod cycles;
pub mod explain;
pub mod generate;
pub mod graph;
pub mod list_append;
pub mod model;
pub mod order;
pub mod rw_register;
pub mod transactions;

use crate::checker::{CheckError, Checker, Details, Family, Report};
use crate::{Unknown, Verdict};
use explain::Step;
use graph::{Builder, Rels};
use history::History;
use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};
use transactions::Transactions;

/// The kinds of transactional histories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// `[:append k v]` and `[:r k [v …]]` over lists.
    ListAppend,
    /// `[:w k v]` and `[:r k v]` over registers.
    RwRegister,
}

impl Workload {
    /// Its micro-op functions, for messages.
    pub fn functions(self) -> &'static str {
        match self {
            Workload::ListAppend => ":append and :r",
            Workload::RwRegister => ":w and :r",
        }
    }

    /// What its writes do, for messages.
    pub fn writes(self) -> &'static str {
        match self {
            Workload::ListAppend => "appends",
            Workload::RwRegister => "writes",
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Elle(*self).name())
    }
}

/// What to look for, with elle-cli's names and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The models the history should obey (`--consistency-models`); default
    /// `strict-serializable`.
    pub consistency_models: Vec<String>,
    /// Specific anomalies to look for besides (`--anomalies`).
    pub anomalies: Vec<String>,
    /// How long to search one strongly connected component (`--cycle-search-timeout`,
    /// 1000 ms).
    pub cycle_search_timeout: Duration,
    /// rw-register: the assumptions version orders may be inferred from besides the
    /// initial state (`--wfr-keys`, `--sequential-keys`, `--linearizable-keys`).
    pub assume: rw_register::Assumptions,
    /// long-fork: how many keys each read reads (`--group-size`); 0 takes the first read's.
    pub group_size: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            consistency_models: vec!["strict-serializable".into()],
            anomalies: Vec::new(),
            cycle_search_timeout: Duration::from_millis(1000),
            assume: rw_register::Assumptions::default(),
            group_size: 0,
        }
    }
}

/// What a workload's inference gives the dependency graph: its data edges (ww, wr, rw),
/// and why each holds. Adding a workload never touches the cycle search.
pub trait Inference {
    /// Links the ww, wr and rw edges between possible transactions.
    fn link(&self, txns: &Transactions<'_>, graph: &mut Builder);

    /// Why `a` precedes `b` by `rel` (ww, wr or rw): the key, the versions and the
    /// micro-ops, as Elle explains it.
    fn explain(&self, txns: &Transactions<'_>, a: u32, b: u32, rel: Rels) -> Option<Step>;
}

/// Anomalies that make the verdict unknown rather than invalid.
const UNKNOWN_TYPES: [&str; 2] = ["cycle-search-timeout", "empty-transaction-graph"];

/// Anomalies found so far: each name with its cases, as Elle's maps.
#[derive(Debug, Default)]
pub struct Found {
    cases: BTreeMap<String, Vec<Json>>,
}

impl Found {
    /// Records a case of `anomaly`.
    pub fn add(&mut self, anomaly: &str, case: Json) {
        self.cases
            .entry(anomaly.to_string())
            .or_default()
            .push(case);
    }

    /// The anomalies' names.
    pub fn names(&self) -> Vec<&str> {
        self.cases.keys().map(String::as_str).collect()
    }
}

/// A cycle found, explained for people: in Elle's words, and as the parts of a drawing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained {
    /// The anomaly (`G2-item`).
    pub anomaly: String,
    /// The explanation in Elle's words.
    pub text: String,
    /// The transactions' `:index`es, T1 … Tn.
    pub ops: Vec<u64>,
    /// Each step's relationship (`ww`, `wr`, `rw`, `process`, `realtime`): step i goes from
    /// T(i+1) to the next, the last back to T1.
    pub steps: Vec<&'static str>,
}

/// What the check found, as Elle reports it.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Invalid if an anomaly the models prohibit was found; unknown if only a timeout or an
    /// empty graph stands in the way; else valid.
    pub verdict: Verdict,
    /// The reportable anomalies found (prohibited, or making the verdict unknown), sorted.
    pub anomaly_types: Vec<String>,
    /// Their cases.
    pub anomalies: BTreeMap<String, Vec<Json>>,
    /// The weakest models the anomalies found rule out (friendly names).
    pub not: Vec<&'static str>,
    /// Every other model they rule out.
    pub also_not: Vec<&'static str>,
    /// Each prohibited cycle found, explained.
    pub explanations: Vec<Explained>,
    /// How many transactions the history has.
    pub transactions: usize,
    /// How many edges the dependency graph has.
    pub edges: usize,
    /// How many strongly connected components (cycles of transactions) it has.
    pub components: usize,
}

impl Analysis {
    /// Elle's result map: `valid?`, and when something was found `anomaly-types`,
    /// `anomalies`, `not` and `also-not`.
    pub fn to_json(&self) -> Json {
        let mut map = Map::new();
        map.insert("valid?".into(), self.verdict.json());
        if !self.anomaly_types.is_empty() {
            map.insert(
                "anomaly-types".into(),
                serde_json::json!(self.anomaly_types),
            );
            map.insert("anomalies".into(), serde_json::json!(self.anomalies));
            map.insert("not".into(), serde_json::json!(self.not));
            map.insert("also-not".into(), serde_json::json!(self.also_not));
        }
        Json::Object(map)
    }

    /// Elle's result map as EDN (`results.edn`), with keywords where Elle has them: anomaly
    /// names, models (`:not` and `:also-not` as sets), op types and functions, micro-op
    /// functions and step kinds.
    pub fn to_edn(&self) -> String {
        let value = edn_value(&self.to_json(), None);
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = history::edn::write_value(&mut out, &value);
        out.push('\n');
        out
    }

    /// One line for people.
    pub fn summary(&self) -> String {
        let found = if self.anomaly_types.is_empty() {
            "no anomaly".to_string()
        } else {
            self.anomaly_types.join(", ")
        };
        let mut line = format!(
            "{} transactions, {} dependency edges, {} cycle components: {found}",
            self.transactions, self.edges, self.components
        );
        if !self.not.is_empty() {
            line.push_str(&format!(" (not {})", self.not.join(", ")));
        }
        line
    }
}

/// Elle's analysis of `workload` histories, as a [`Checker`] of
/// [`crate::checker::CHECKERS`]: its models, anomalies and assumptions come from
/// [`crate::linearizable::Options::transactions`].
#[derive(Debug, Clone, Copy)]
pub struct Elle(pub Workload);

impl Checker for Elle {
    fn name(&self) -> &'static str {
        match self.0 {
            Workload::ListAppend => "list-append",
            Workload::RwRegister => "rw-register",
        }
    }

    fn about(&self) -> &'static str {
        match self.0 {
            Workload::ListAppend => {
                "Elle's list-append: dependency cycles (G0 … G2-item), G1a/b, internal, lost updates; --consistency-models"
            }
            Workload::RwRegister => {
                "Elle's rw-register: the same over registers, versions from --wfr-keys, --sequential-keys, --linearizable-keys"
            }
        }
    }

    fn family(&self) -> Family {
        Family::Transactional
    }

    fn check(
        &self,
        history: &History,
        options: &crate::linearizable::Options,
    ) -> Result<Report, CheckError> {
        let analysis = check(history, self.0, &options.transactions)?;
        Ok(Report {
            checker: self.name(),
            verdict: analysis.verdict.clone(),
            summary: analysis.summary(),
            details: Details::Txn(Box::new(analysis)),
        })
    }
}

/// Checks a history of `workload` transactions against `options`' models.
pub fn check(
    history: &History,
    workload: Workload,
    options: &Options,
) -> Result<Analysis, CheckError> {
    let models: Vec<&str> = options
        .consistency_models
        .iter()
        .map(String::as_str)
        .collect();
    let asked: Vec<&str> = options.anomalies.iter().map(String::as_str).collect();
    let prohibited = model::prohibited(&models, &asked).map_err(|e| CheckError::Unknown {
        what: e.what,
        name: e.name,
        choices: e.choices,
    })?;
    let txns = Transactions::read(history, workload)?;
    let mut found = Found::default();
    let inference: Box<dyn Inference> = match workload {
        Workload::ListAppend => {
            let orders = list_append::Orders::infer(&txns, &mut found);
            orders.anomalies(&txns, &mut found);
            Box::new(orders)
        }
        Workload::RwRegister => {
            let versions = rw_register::Versions::infer(&txns, options.assume, &mut found);
            versions.anomalies(&txns, &mut found);
            Box::new(versions)
        }
    };
    let mut builder = Builder::new(txns.len());
    inference.link(&txns, &mut builder);
    let present = extra_orders(&prohibited, &txns, &mut builder);
    let graph = builder.build();
    if graph.edges() == 0 {
        found.add("empty-transaction-graph", Json::Bool(true));
    }
    let explain = |a: u32, b: u32, rel: Rels| match rel {
        Rels::PROCESS => Step::Process {
            process: txns.txns[a as usize].process,
        },
        Rels::REALTIME => Step::Realtime,
        // Every data edge was linked by the inference that explains it; if one ever could
        // not be, the step still names its kind rather than a wrong reason.
        _ => inference
            .explain(&txns, a, b, rel)
            .unwrap_or(Step::Unexplained { rel }),
    };
    let (explanations, components) =
        search_cycles(&txns, &graph, present, options, &explain, &mut found);
    Ok(result(
        found,
        &prohibited,
        explanations,
        txns.len(),
        graph.edges(),
        components,
    ))
}

/// Searches every strongly connected component of possible transactions for the anomalies'
/// cycles, each within the options' time; records what it finds (and its timeouts) in
/// `found`. Returns each cycle explained, and how many components there were.
fn search_cycles(
    txns: &Transactions<'_>,
    graph: &graph::Graph,
    present: Rels,
    options: &Options,
    explain: &dyn Fn(u32, u32, Rels) -> Step,
    found: &mut Found,
) -> (Vec<Explained>, usize) {
    let possible = |t: u32| txns.txns[t as usize].possible();
    let components = graph.cycles_components(
        Rels::WW.union(Rels::WR).union(Rels::RW).union(present),
        &possible,
    );
    let mut explanations = Vec::new();
    for component in &components {
        let deadline = Instant::now() + options.cycle_search_timeout;
        let search = cycles::search(
            graph,
            component,
            present,
            &model::implied,
            deadline,
            explain,
        );
        for cycle in &search.cycles {
            found.add(cycle.anomaly, cycle.to_json(txns));
            explanations.push(Explained {
                anomaly: cycle.anomaly.to_string(),
                text: cycle.explain(txns),
                ops: cycle.txns.iter().map(|&t| txns.op(t).index).collect(),
                steps: cycle.steps.iter().map(|s| s.rel().name()).collect(),
            });
        }
        if let Some((shape, before)) = search.timed_out {
            let missing: Vec<&str> = before
                .into_iter()
                .filter(|s| !search.cycles.iter().any(|c| c.anomaly == *s))
                .collect();
            found.add(
                "cycle-search-timeout",
                serde_json::json!({
                    "anomaly-spec-type": shape,
                    "does-not-contain": missing,
                    "scc-size": component.len(),
                }),
            );
            cycles_exist(txns, graph, component, present, found);
        }
    }
    (explanations, components.len())
}

/// Elle's cycle-exists specifications that are unions of relationships (the snapshot
/// isolation ones, which extend one subgraph by another, are not built): the anomaly, and
/// the subgraph in which any cycle violates its model. Weakest first.
const CYCLE_EXISTS: [(&str, Rels); 10] = [
    ("PL-1-cycle-exists", Rels::WW),
    ("PL-2-cycle-exists", Rels::WW.union(Rels::WR)),
    (
        "PL-2.99-cycle-exists",
        Rels::WW.union(Rels::WR).union(Rels::RW),
    ),
    (
        "PL-3-cycle-exists",
        Rels::WW.union(Rels::WR).union(Rels::RW),
    ),
    (
        "strong-session-PL-1-cycle-exists",
        Rels::WW.union(Rels::PROCESS),
    ),
    (
        "strong-session-PL-2-cycle-exists",
        Rels::WW.union(Rels::WR).union(Rels::PROCESS),
    ),
    (
        "strong-session-serializable-cycle-exists",
        Rels::WW
            .union(Rels::WR)
            .union(Rels::RW)
            .union(Rels::PROCESS),
    ),
    ("strong-PL-1-cycle-exists", Rels::WW.union(Rels::REALTIME)),
    (
        "strong-PL-2-cycle-exists",
        Rels::WW.union(Rels::WR).union(Rels::REALTIME),
    ),
    (
        "PL-SS-cycle-exists",
        Rels::WW
            .union(Rels::WR)
            .union(Rels::RW)
            .union(Rels::REALTIME),
    ),
];

/// Where the search for specific cycles ran out of time in `component`, proves what it can
/// without one: a strongly connected component in a spec's subgraph is a cycle its model
/// forbids, somewhere (Elle's `<model>-cycle-exists`). A spec whose subgraph contains one
/// already proven is left out, as Elle leaves out the models a weaker one rules out.
fn cycles_exist(
    txns: &Transactions<'_>,
    graph: &graph::Graph,
    component: &[u32],
    present: Rels,
    found: &mut Found,
) {
    let mut inside = vec![false; graph.nodes()];
    for &t in component {
        inside[t as usize] = true;
    }
    let within = |t: u32| inside[t as usize];
    // The models the anomalies found so far already rule out: their cycle-exists adds nothing.
    let named: Vec<&str> = found
        .names()
        .into_iter()
        .filter(|n| !n.ends_with("-cycle-exists"))
        .collect();
    let (not, also_not) = model::ruled_out(&named);
    let ruled_out: Vec<String> = not.iter().chain(&also_not).map(|m| m.to_string()).collect();
    let mut proven: Vec<Rels> = Vec::new();
    for (anomaly, rels) in CYCLE_EXISTS {
        let needs = rels.intersection(Rels::PROCESS.union(Rels::REALTIME));
        if !present.contains(needs) || proven.iter().any(|p| rels.contains(*p)) {
            continue;
        }
        let components = graph.cycles_components(rels, &within);
        let Some(smallest) = components.iter().min_by_key(|c| c.len()) else {
            continue;
        };
        proven.push(rels);
        let subgraph: Vec<&str> = Rels::PRIORITY
            .iter()
            .filter(|r| rels.contains(**r))
            .map(|r| r.name())
            .collect();
        let (not, _) = model::ruled_out(&[anomaly]);
        if not.iter().all(|m| ruled_out.iter().any(|r| r == m)) {
            continue;
        }
        found.add(
            anomaly,
            serde_json::json!({
                "type": anomaly,
                "not": not.first(),
                "subgraph": std::iter::once("union").chain(subgraph).collect::<Vec<_>>(),
                "scc-size": smallest.len(),
                "scc": smallest.iter().map(|&t| txns.op(t).index).collect::<Vec<_>>(),
            }),
        );
    }
}

/// Fields whose string values are keywords in Elle's output.
const KEYWORD_FIELDS: [&str; 3] = ["type", "f", "anomaly-spec-type"];
/// Fields whose lists (or, for `valid?`, whose `"unknown"`) are keywords; `not` and
/// `also-not` are sets.
const KEYWORD_LISTS: [&str; 5] = [
    "anomaly-types",
    "not",
    "also-not",
    "does-not-contain",
    "valid?",
];

/// `json` as an EDN value, `field` being the map key it sits under.
fn edn_value(json: &Json, field: Option<&str>) -> history::Value {
    use history::Value as V;
    let keyword_here =
        field.is_some_and(|f| KEYWORD_FIELDS.contains(&f) || KEYWORD_LISTS.contains(&f));
    match json {
        Json::Null => V::Nil,
        Json::Bool(b) => V::Bool(*b),
        Json::Number(n) => n
            .as_i64()
            .map_or_else(|| V::Float(n.as_f64().unwrap_or(0.0)), V::Int),
        Json::String(s) if keyword_here => V::Keyword(s.clone()),
        Json::String(s) => V::Str(s.clone()),
        Json::Array(items) => {
            // A micro-op: its function is a keyword.
            let mop = items.len() == 3 && matches!(items[0].as_str(), Some("append" | "r" | "w"));
            let values: Vec<V> = items
                .iter()
                .enumerate()
                .map(|(i, item)| match (mop && i == 0, item) {
                    (true, Json::String(f)) => V::Keyword(f.clone()),
                    _ => edn_value(item, field.filter(|f| KEYWORD_LISTS.contains(f))),
                })
                .collect();
            if matches!(field, Some("not" | "also-not")) {
                V::Set(values)
            } else {
                V::Vector(values)
            }
        }
        Json::Object(map) => V::Map(
            map.iter()
                .map(|(k, v)| (V::Keyword(k.clone()), edn_value(v, Some(k.as_str()))))
                .collect(),
        ),
    }
}

/// Adds real-time order if a prohibited anomaly needs it, else process order if one needs
/// that; returns the relationships the graph then has beyond data dependencies.
fn extra_orders(
    prohibited: &BTreeSet<&'static str>,
    txns: &Transactions<'_>,
    builder: &mut Builder,
) -> Rels {
    let wants = |suffix: &str| prohibited.iter().any(|a| a.ends_with(suffix));
    if wants("-realtime") {
        order::realtime(txns, builder);
        // Real-time order covers each process's order.
        Rels::REALTIME
    } else if wants("-process") {
        order::process(txns, builder);
        Rels::PROCESS
    } else {
        Rels::NONE
    }
}

fn result(
    found: Found,
    prohibited: &BTreeSet<&'static str>,
    explanations: Vec<Explained>,
    transactions: usize,
    edges: usize,
    components: usize,
) -> Analysis {
    let names: Vec<&str> = found.names();
    let (not, also_not) = model::ruled_out(&names);
    let bad = names.iter().any(|n| prohibited.contains(n));
    let reportable: BTreeMap<String, Vec<Json>> = found
        .cases
        .into_iter()
        .filter(|(name, _)| {
            prohibited.contains(name.as_str()) || UNKNOWN_TYPES.contains(&name.as_str())
        })
        .collect();
    let verdict = if bad {
        Verdict::Invalid
    } else if reportable.contains_key("cycle-search-timeout") {
        Verdict::Unknown(Unknown::Timeout)
    } else if !reportable.is_empty() {
        Verdict::Unknown(Unknown::Error)
    } else {
        Verdict::Valid
    };
    let (not, also_not) = if reportable.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        (not, also_not)
    };
    Analysis {
        verdict,
        anomaly_types: reportable.keys().cloned().collect(),
        anomalies: reportable,
        not,
        also_not,
        explanations: explanations
            .into_iter()
            .filter(|e| prohibited.contains(e.anomaly.as_str()))
            .collect(),
        transactions,
        edges,
        components,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::{Op, OpType, Process, Value};

    /// A ring of write skews, `n` transactions: each read key i empty and wrote key i + 1.
    fn ring(n: i64) -> History {
        let mop = |f: &str, k: i64, v: Value| {
            Value::Vector(vec![Value::Keyword(f.into()), Value::Int(k), v])
        };
        let txn = |i: i64| {
            Value::Vector(vec![
                mop("r", i, Value::Nil),
                mop("w", (i + 1) % n, Value::Int(1)),
            ])
        };
        let process = |i: i64| Process::Client(i as u64);
        let invocations = (0..n).map(|i| Op::new(process(i), OpType::Invoke, "txn", txn(i)));
        let completions = (0..n).map(|i| Op::new(process(i), OpType::Ok, "txn", txn(i)));
        History::from_ops(invocations.chain(completions).collect::<Vec<_>>())
    }

    #[test]
    fn a_component_proves_the_weakest_cycle_it_holds_and_only_that() {
        let history = ring(5);
        let txns = Transactions::read(&history, Workload::RwRegister).expect("well-formed");
        let mut found = Found::default();
        let versions = rw_register::Versions::infer(&txns, Default::default(), &mut found);
        let mut builder = Builder::new(txns.len());
        versions.link(&txns, &mut builder);
        let graph = builder.build();
        let component: Vec<u32> = (0..5).collect();
        cycles_exist(&txns, &graph, &component, Rels::NONE, &mut found);
        // Only rw edges: no cycle in ww or ww+wr; one in ww+wr+rw (PL-2.99, which PL-3's
        // identical subgraph then adds nothing to).
        assert_eq!(found.names(), ["PL-2.99-cycle-exists"]);
        let case = &found.cases["PL-2.99-cycle-exists"][0];
        assert_eq!(case["scc-size"], 5);
        assert_eq!(case["not"], "repeatable-read");
        assert_eq!(
            case["subgraph"],
            serde_json::json!(["union", "ww", "wr", "rw"])
        );
        // Once G2-item itself is found, the fallback says nothing more.
        let mut found = Found::default();
        found.add("G2-item", Json::Null);
        cycles_exist(&txns, &graph, &component, Rels::NONE, &mut found);
        assert_eq!(found.names(), ["G2-item"]);
    }
}
