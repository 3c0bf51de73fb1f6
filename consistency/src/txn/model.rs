//! The lattice of transactional consistency models, after Elle.
//!
//! Elle (Kingsbury & Alvaro) relates consistency models and anomalies with
//! three graphs, kept here as typed tables:
//!
//! - which models imply which (a history satisfying a model also satisfies
//!   every model it implies): [`Model::implies`];
//! - which anomalies each model directly proscribes, over and above the
//!   models it implies: [`Model::proscribes`];
//! - which anomalies imply which (finding G0 means G1c was found too, and so
//!   G1, and, since processes are single-threaded, G0-process, and so on).
//!
//! From these follow the two questions a checker asks. Before checking:
//! which anomaly types make a history invalid, given the consistency models
//! it is expected to satisfy ([`prohibited`], Elle's
//! `prohibited-anomaly-types`). After checking: which models the anomalies
//! found rule out ([`ruled_out`], Elle's `friendly-boundary`), reported as
//! `:not` (the weakest models ruled out) and `:also-not` (the stronger
//! ones).
//!
//! Names are Elle's, exactly: models have a canonical name (`PL-2.99`), a
//! friendly one (`repeatable-read`) and sometimes other aliases
//! (`strict-serializable` is `strong-serializable` is `PL-SS`); anomalies
//! are spelled as Elle reports them (`G2-item`, `G-single-realtime`,
//! `PL-SI-cycle-exists`, …). Elle's sources are Adya's thesis, Adya, Liskov
//! and O'Neil, Bailis et al.'s Highly Available Transactions, Cerone,
//! Bernardi and Gotsman, Daudjee and Salem, Zuikeviciute and Pedone,
//! Hermitage and others; see <https://jepsen.io/consistency>.
//!
//! ```
//! use consistency::txn::model::{by_name, prohibited, ruled_out};
//!
//! // Aliases resolve to one model.
//! let rr = by_name("repeatable-read").map(|m| m.name);
//! assert_eq!(rr, Some("PL-2.99"));
//!
//! // Repeatable read forbids G2-item but allows G-single.
//! let bad = prohibited(&["repeatable-read"], &[]).expect("known names");
//! assert!(bad.contains("G2-item"));
//! assert!(!bad.contains("G-single"));
//!
//! // A G2-item anomaly rules out repeatable read, and everything stronger.
//! let (not, also_not) = ruled_out(&["G2-item"]);
//! assert_eq!(not, ["repeatable-read"]);
//! assert_eq!(
//!     also_not,
//!     ["serializable", "strong-serializable", "strong-session-serializable"]
//! );
//! ```

use std::collections::BTreeSet;
use std::sync::OnceLock;

/// A consistency model Elle knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Model {
    /// Canonical name, as in Elle's graphs: `PL-2.99`, `PL-SS`,
    /// `causal-cerone`, …
    pub name: &'static str,
    /// The name Elle reports it by: `repeatable-read`,
    /// `strong-serializable`, … (the canonical name when there is no other).
    pub friendly: &'static str,
    /// The other names Elle accepts for it, the friendly one included
    /// (`strict-serializable` and `strong-serializable` for `PL-SS`).
    pub aliases: &'static [&'static str],
    /// Canonical names of the models it directly implies: a history that
    /// satisfies this model satisfies those too.
    pub implies: &'static [&'static str],
    /// The anomalies it proscribes directly, over and above those the models
    /// it implies proscribe.
    pub proscribes: &'static [&'static str],
}

/// Every model, one entry each (the one typed table validation, --help and
/// docs come from), roughly from strongest to weakest.
pub static MODELS: &[Model] = &[
    // Transactional models.
    Model {
        name: "PL-SS",
        friendly: "strong-serializable",
        aliases: &["strict-serializable", "strong-serializable"],
        implies: &[
            "PL-3",
            "linearizable",
            "PL-SI",
            "strong-snapshot-isolation",
            "strong-session-serializable",
            "session-serializable",
        ],
        proscribes: &["G1", "G1c-realtime", "G2-realtime", "PL-SS-cycle-exists"],
    },
    Model {
        name: "strong-session-serializable",
        friendly: "strong-session-serializable",
        aliases: &[],
        implies: &["PL-3", "strong-session-snapshot-isolation"],
        proscribes: &[
            "G1-process",
            "G2-process",
            "strong-session-serializable-cycle-exists",
        ],
    },
    Model {
        name: "strong-snapshot-isolation",
        friendly: "strong-snapshot-isolation",
        aliases: &[],
        implies: &["strong-session-snapshot-isolation", "strong-PL-2"],
        proscribes: &[
            "internal",
            "G1-realtime",
            "G-nonadjacent-realtime",
            "strong-snapshot-isolation-cycle-exists",
        ],
    },
    Model {
        name: "strong-session-snapshot-isolation",
        friendly: "strong-session-snapshot-isolation",
        aliases: &[],
        implies: &["PL-SI", "strong-session-PL-2"],
        proscribes: &[
            "internal",
            "G1-process",
            "G-nonadjacent-process",
            "strong-session-snapshot-isolation-cycle-exists",
        ],
    },
    Model {
        // Elle means conflict serializability by "serializable".
        name: "PL-3",
        friendly: "serializable",
        aliases: &["conflict-serializable", "serializable"],
        implies: &["PL-2.99", "PL-3U", "PL-SI", "view-serializable"],
        proscribes: &[
            "G1",
            "G2",
            "predicate-read-miss",
            "PL-3-cycle-exists",
            "internal",
        ],
    },
    Model {
        name: "PL-3U",
        friendly: "update-serializable",
        aliases: &["update-serializable"],
        implies: &["PL-FCV"],
        proscribes: &["G1", "G-update"],
    },
    Model {
        name: "PL-2.99",
        friendly: "repeatable-read",
        aliases: &["repeatable-read"],
        implies: &["PL-CS", "monotonic-atomic-view"],
        proscribes: &["G1", "G2-item", "PL-2.99-cycle-exists", "lost-update"],
    },
    Model {
        name: "PL-SI",
        friendly: "snapshot-isolation",
        aliases: &["snapshot-isolation"],
        implies: &[
            "PL-FCV",
            "monotonic-atomic-view",
            "PL-MSR",
            "parallel-snapshot-isolation",
            "prefix",
        ],
        proscribes: &[
            "internal",
            "G1",
            "G-SI",
            "G-nonadjacent",
            "PL-SI-cycle-exists",
        ],
    },
    Model {
        name: "PL-FCV",
        friendly: "forward-consistent-view",
        aliases: &["forward-consistent-view"],
        implies: &["PL-2+"],
        proscribes: &["G1", "G-SIb"],
    },
    Model {
        name: "PL-2+",
        friendly: "consistent-view",
        aliases: &["consistent-view"],
        implies: &["PL-CS", "PL-2L"],
        proscribes: &["G1", "G-single"],
    },
    Model {
        name: "PL-CS",
        friendly: "cursor-stability",
        aliases: &["cursor-stability"],
        implies: &["PL-2"],
        proscribes: &["G1", "G-cursor", "lost-update"],
    },
    Model {
        name: "PL-2L",
        friendly: "monotonic-view",
        aliases: &["monotonic-view"],
        implies: &["PL-2"],
        proscribes: &["G1", "G-monotonic"],
    },
    Model {
        name: "PL-MSR",
        friendly: "monotonic-snapshot-read",
        aliases: &["monotonic-snapshot-read"],
        implies: &["PL-2"],
        proscribes: &["G1", "G-MSR"],
    },
    Model {
        name: "parallel-snapshot-isolation",
        friendly: "parallel-snapshot-isolation",
        aliases: &[],
        implies: &["causal-cerone", "update-atomic"],
        proscribes: &["internal", "G1a"],
    },
    Model {
        name: "prefix",
        friendly: "prefix",
        aliases: &[],
        implies: &["causal-cerone"],
        proscribes: &["internal", "G1a"],
    },
    Model {
        name: "causal-cerone",
        friendly: "causal-cerone",
        aliases: &[],
        implies: &["read-atomic"],
        proscribes: &["internal", "G1a"],
    },
    Model {
        name: "update-atomic",
        friendly: "update-atomic",
        aliases: &[],
        implies: &["read-atomic"],
        proscribes: &["lost-update"],
    },
    Model {
        name: "read-atomic",
        friendly: "read-atomic",
        aliases: &[],
        implies: &["monotonic-atomic-view"],
        proscribes: &["internal", "G1a", "future-read"],
    },
    Model {
        name: "monotonic-atomic-view",
        friendly: "monotonic-atomic-view",
        aliases: &[],
        implies: &["PL-2"],
        proscribes: &[],
    },
    Model {
        name: "strong-PL-2",
        friendly: "strong-read-committed",
        aliases: &["strong-read-committed"],
        implies: &["strong-session-PL-2", "strong-PL-1"],
        proscribes: &["strong-PL-2-cycle-exists", "G1c-realtime"],
    },
    Model {
        name: "strong-session-PL-2",
        friendly: "strong-session-read-committed",
        aliases: &["strong-session-read-committed"],
        implies: &["PL-2", "strong-session-PL-1"],
        proscribes: &["strong-session-PL-2-cycle-exists", "G1c-process"],
    },
    Model {
        name: "PL-2",
        friendly: "read-committed",
        aliases: &["read-committed"],
        implies: &["PL-1"],
        proscribes: &["G1", "PL-2-cycle-exists"],
    },
    Model {
        name: "strong-PL-1",
        friendly: "strong-read-uncommitted",
        aliases: &["strong-read-uncommitted"],
        implies: &["strong-session-PL-1"],
        proscribes: &["strong-PL-1-cycle-exists", "G0-realtime"],
    },
    Model {
        name: "strong-session-PL-1",
        friendly: "strong-session-read-uncommitted",
        aliases: &["strong-session-read-uncommitted"],
        implies: &["PL-1"],
        proscribes: &["strong-session-PL-1-cycle-exists", "G0-process"],
    },
    Model {
        name: "PL-1",
        friendly: "read-uncommitted",
        aliases: &["read-uncommitted"],
        implies: &[],
        proscribes: &[
            "G0",
            "duplicate-elements",
            "cyclic-versions",
            "PL-1-cycle-exists",
        ],
    },
    Model {
        name: "view-serializable",
        friendly: "view-serializable",
        aliases: &[],
        implies: &[],
        proscribes: &[],
    },
    Model {
        name: "session-serializable",
        friendly: "session-serializable",
        aliases: &[],
        implies: &["1SR"],
        proscribes: &[],
    },
    Model {
        name: "1SR",
        friendly: "1SR",
        aliases: &[],
        implies: &[],
        proscribes: &[],
    },
    // Single-object models: Elle checks none of their anomalies, but they
    // are in its lattice (strict serializability implies linearizability).
    Model {
        name: "linearizable",
        friendly: "linearizable",
        aliases: &[],
        implies: &["sequential"],
        proscribes: &[],
    },
    Model {
        name: "sequential",
        friendly: "sequential",
        aliases: &[],
        implies: &["causal"],
        proscribes: &[],
    },
    Model {
        name: "causal",
        friendly: "causal",
        aliases: &[],
        implies: &["writes-follow-reads", "PRAM"],
        proscribes: &[],
    },
    Model {
        name: "PRAM",
        friendly: "PRAM",
        aliases: &[],
        implies: &["monotonic-reads", "monotonic-writes", "read-your-writes"],
        proscribes: &[],
    },
    Model {
        name: "writes-follow-reads",
        friendly: "writes-follow-reads",
        aliases: &[],
        implies: &[],
        proscribes: &[],
    },
    Model {
        name: "monotonic-reads",
        friendly: "monotonic-reads",
        aliases: &[],
        implies: &[],
        proscribes: &[],
    },
    Model {
        name: "monotonic-writes",
        friendly: "monotonic-writes",
        aliases: &[],
        implies: &[],
        proscribes: &[],
    },
    Model {
        name: "read-your-writes",
        friendly: "read-your-writes",
        aliases: &[],
        implies: &[],
        proscribes: &[],
    },
];

/// Which anomalies imply which: finding the first means the others were
/// found too. Elle's `implied-anomalies`.
static IMPLIED_ANOMALIES: &[(&str, &[&str])] = &[
    // G0 is G1c without wr edges, and a trivial G0-process; a process
    // cycle is a realtime cycle, processes being single-threaded.
    ("G0", &["G1c", "G0-process"]),
    ("G0-process", &["G1c-process", "G0-realtime"]),
    ("G0-realtime", &["G1c-realtime"]),
    // G1 is the union of G1a, G1b and G1c.
    ("G1a", &["G1"]),
    ("G1b", &["G1"]),
    ("G1c", &["G1", "G1c-process"]),
    ("G1c-process", &["G1c-realtime", "G1-process"]),
    ("G1c-realtime", &["G1-realtime"]),
    ("G1", &["G1-process"]),
    ("G1-process", &["G1-realtime"]),
    // G-single-item is both a G-single and a G-nonadjacent-item.
    (
        "G-single-item",
        &["G-single", "G-single-item-process", "G-nonadjacent-item"],
    ),
    (
        "G-single-item-process",
        &[
            "G-single-process",
            "G-single-item-realtime",
            "G-nonadjacent-item-process",
        ],
    ),
    (
        "G-single-item-realtime",
        &["G-single-realtime", "G-nonadjacent-item-realtime"],
    ),
    // A G-single is a G-nonadjacent, and (Adya) a GSIb.
    ("G-single", &["G-nonadjacent", "GSIb", "G-single-process"]),
    (
        "G-single-process",
        &["G-nonadjacent-process", "G-single-realtime"],
    ),
    ("G-single-realtime", &["G-nonadjacent-realtime"]),
    // A G-nonadjacent-item is a G-nonadjacent over item rw edges: a G2-item.
    (
        "G-nonadjacent-item",
        &["G-nonadjacent", "G2-item", "G-nonadjacent-item-process"],
    ),
    (
        "G-nonadjacent-item-process",
        &[
            "G-nonadjacent-process",
            "G2-item-process",
            "G-nonadjacent-item-realtime",
        ],
    ),
    (
        "G-nonadjacent-item-realtime",
        &["G2-item-realtime", "G-nonadjacent-realtime"],
    ),
    // A G-nonadjacent is a G2 whose rw edges are never adjacent.
    ("G-nonadjacent", &["G2", "G-nonadjacent-process"]),
    (
        "G-nonadjacent-process",
        &["G2-process", "G-nonadjacent-realtime"],
    ),
    ("G-nonadjacent-realtime", &["G2-realtime"]),
    ("G2", &["G2-process"]),
    ("G2-item", &["G2", "G2-item-process"]),
    ("G2-item-process", &["G2-process", "G2-item-realtime"]),
    ("G2-item-realtime", &["G2-realtime"]),
    ("G2-process", &["G2-realtime"]),
    // Adya's SI anomalies.
    ("GSIa", &["GSI"]),
    ("GSIb", &["GSI"]),
    // Two committed reads no single version order explains: a dirty read.
    ("incompatible-order", &["G1a"]),
    // Reading one's own later write is a trivial wr cycle.
    ("future-read", &["G1c"]),
    // Writing over an aborted write counts as reading it.
    ("dirty-update", &["G1a"]),
    // Lost update is write skew on one key (Bailis), so G2-item; write skew
    // is G2 (Hermitage).
    ("lost-update", &["write-skew", "G2-item"]),
    ("write-skew", &["G2"]),
];

/// Anomaly types that make Elle's verdict unknown rather than invalid.
static UNKNOWN_ANOMALIES: &[&str] = &["cycle-search-timeout", "empty-transaction-graph"];

/// A consistency model or anomaly name that Elle does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{name}`; known: {choices}")]
pub struct UnknownName {
    /// `"consistency model"` or `"anomaly"`.
    pub what: &'static str,
    /// The name given.
    pub name: String,
    /// The known names, comma-separated.
    pub choices: String,
}

/// The model with this name: canonical (`PL-2.99`), friendly
/// (`repeatable-read`) or any alias Elle accepts (`strict-serializable`,
/// `conflict-serializable`, …). Names are case-sensitive, as in Elle.
pub fn by_name(name: &str) -> Option<&'static Model> {
    MODELS
        .iter()
        .find(|m| m.name == name || m.friendly == name || m.aliases.contains(&name))
}

/// Friendly names of every model, sorted and comma-separated, for error
/// messages and --help.
pub fn names() -> String {
    let mut names: Vec<&str> = MODELS.iter().map(|m| m.friendly).collect();
    names.sort_unstable();
    names.join(", ")
}

/// Every anomaly name Elle can report, sorted: the cycle anomalies with
/// their `-process` and `-realtime` variants, the `<model>-cycle-exists`
/// types, the non-cycle anomalies (`G1a`, `internal`, `lost-update`, …),
/// those only named in the tables (`G1`, `GSI`, `G-cursor`, …), and the
/// two that make a verdict unknown (`cycle-search-timeout`,
/// `empty-transaction-graph`).
pub fn anomaly_names() -> Vec<&'static str> {
    anomaly_set().iter().copied().collect()
}

/// Whether Elle knows this anomaly name.
pub fn is_anomaly(name: &str) -> bool {
    anomaly_set().contains(name)
}

/// The anomalies `anomalies` imply, transitively, themselves included
/// (Elle's `all-implied-anomalies`). Names Elle does not know imply nothing
/// and are left out.
pub fn implied(anomalies: &[&str]) -> BTreeSet<&'static str> {
    reach(known_anomalies(anomalies), anomalies_implied_by)
}

/// Every anomaly that implies one of `anomalies`, transitively, themselves
/// included (Elle's `all-anomalies-implying`). Names Elle does not know are
/// left out.
pub fn implying(anomalies: &[&str]) -> BTreeSet<&'static str> {
    reach(known_anomalies(anomalies), anomalies_implying)
}

/// The anomaly types that make a history invalid when it is expected to
/// satisfy every one of `models` and must also show none of `anomalies`
/// (Elle's `prohibited-anomaly-types`): every anomaly implying one of
/// `anomalies`, plus every anomaly implying one that `models`, or a model
/// they imply, proscribes.
///
/// No default applies: with no models and no anomalies, nothing is
/// prohibited (Elle's default of `strict-serializable` is the caller's to
/// apply). Unknown names are an error.
pub fn prohibited(
    models: &[&str],
    anomalies: &[&str],
) -> Result<BTreeSet<&'static str>, UnknownName> {
    let models = models
        .iter()
        .map(|&name| {
            by_name(name).ok_or_else(|| UnknownName {
                what: "consistency model",
                name: name.to_string(),
                choices: names(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(&name) = anomalies.iter().find(|a| !is_anomaly(a)) {
        return Err(UnknownName {
            what: "anomaly",
            name: name.to_string(),
            choices: anomaly_names().join(", "),
        });
    }
    let mut out = implying(anomalies);
    out.extend(prohibited_by(&models));
    Ok(out)
}

/// What the anomaly types `found` rule out, as Elle reports it (its
/// `friendly-boundary`): `(not, also_not)`, friendly names, each sorted.
/// `not` holds the weakest models ruled out, `also_not` every other ruled
/// out model (all stronger than some model in `not`). Names Elle does not
/// know rule nothing out.
pub fn ruled_out(found: &[&str]) -> (Vec<&'static str>, Vec<&'static str>) {
    let impossible = impossible_models(found);
    let not = weakest(&impossible);
    let also_not = impossible.iter().copied().filter(|m| !not.contains(m));
    (
        friendly_sorted(not.iter().copied()),
        friendly_sorted(also_not),
    )
}

/// The friendly names of canonical model names, sorted.
fn friendly_sorted(models: impl Iterator<Item = &'static str>) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = models.map(friendly_name).collect();
    names.sort_unstable();
    names
}

/// Every anomaly name, from the tables.
fn anomaly_set() -> &'static BTreeSet<&'static str> {
    static SET: OnceLock<BTreeSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        let edges = IMPLIED_ANOMALIES
            .iter()
            .flat_map(|(from, to)| std::iter::once(*from).chain(to.iter().copied()));
        let proscribed = MODELS.iter().flat_map(|m| m.proscribes.iter().copied());
        edges
            .chain(proscribed)
            .chain(UNKNOWN_ANOMALIES.iter().copied())
            .collect()
    })
}

/// The known names among `anomalies`, as the tables' own strings.
fn known_anomalies<'a>(anomalies: &'a [&str]) -> impl Iterator<Item = &'static str> + 'a {
    let set = anomaly_set();
    anomalies.iter().filter_map(move |a| set.get(*a).copied())
}

/// Everything reachable from `start` by `next`, `start` included.
fn reach<I>(
    start: impl IntoIterator<Item = &'static str>,
    next: impl Fn(&'static str) -> I,
) -> BTreeSet<&'static str>
where
    I: IntoIterator<Item = &'static str>,
{
    let mut seen = BTreeSet::new();
    let mut todo: Vec<&'static str> = start.into_iter().collect();
    while let Some(x) = todo.pop() {
        if seen.insert(x) {
            todo.extend(next(x));
        }
    }
    seen
}

/// The anomalies `a` directly implies.
fn anomalies_implied_by(a: &'static str) -> impl Iterator<Item = &'static str> {
    IMPLIED_ANOMALIES
        .iter()
        .filter(move |(from, _)| *from == a)
        .flat_map(|(_, to)| to.iter().copied())
}

/// The anomalies that directly imply `a`.
fn anomalies_implying(a: &'static str) -> impl Iterator<Item = &'static str> {
    IMPLIED_ANOMALIES
        .iter()
        .filter(move |(_, to)| to.contains(&a))
        .map(|(from, _)| *from)
}

/// The models the model named (canonically) `m` directly implies.
fn models_implied_by(m: &'static str) -> impl Iterator<Item = &'static str> {
    MODELS
        .iter()
        .filter(move |model| model.name == m)
        .flat_map(|model| model.implies.iter().copied())
}

/// The models that directly imply the model named (canonically) `m`.
fn models_implying(m: &'static str) -> impl Iterator<Item = &'static str> {
    MODELS
        .iter()
        .filter(move |model| model.implies.contains(&m))
        .map(|model| model.name)
}

/// The friendly name of a canonical model name.
fn friendly_name(m: &'static str) -> &'static str {
    // Every canonical name here comes from MODELS; were one not to, Elle
    // too reports a name without a friendly one as is.
    MODELS
        .iter()
        .find(|model| model.name == m)
        .map_or(m, |model| model.friendly)
}

/// The anomalies that can't be present if all of `models` hold (Elle's
/// `anomalies-prohibited-by`).
fn prohibited_by(models: &[&'static Model]) -> BTreeSet<&'static str> {
    let all = reach(models.iter().map(|m| m.name), models_implied_by);
    let direct = MODELS
        .iter()
        .filter(|m| all.contains(m.name))
        .flat_map(|m| m.proscribes.iter().copied());
    reach(direct, anomalies_implying)
}

/// The models (canonical names) that can't hold given that `found` are
/// present (Elle's `anomalies->impossible-models`).
fn impossible_models(found: &[&str]) -> BTreeSet<&'static str> {
    let implied = implied(found);
    let direct = MODELS
        .iter()
        .filter(|m| m.proscribes.iter().any(|a| implied.contains(a)))
        .map(|m| m.name);
    reach(direct, models_implying)
}

/// The models of `ms` which no other model of `ms` is reachable from by
/// `next`: with `models_implied_by`, the weakest ones (Elle's
/// `weakest-models`); with `models_implying`, the strongest.
fn most<I>(
    ms: &BTreeSet<&'static str>,
    next: impl Fn(&'static str) -> I + Copy,
) -> BTreeSet<&'static str>
where
    I: IntoIterator<Item = &'static str>,
{
    ms.iter()
        .copied()
        .filter(|&m| {
            // The models strictly beyond m (the graph is acyclic, so m is
            // not among them).
            let beyond = reach(next(m), next);
            !ms.iter().any(|n| beyond.contains(n))
        })
        .collect()
}

/// The weakest models of `ms` (canonical names).
fn weakest(ms: &BTreeSet<&'static str>) -> BTreeSet<&'static str> {
    most(ms, models_implied_by)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&'static str]) -> BTreeSet<&'static str> {
        names.iter().copied().collect()
    }

    fn canonical(names: &[&str]) -> BTreeSet<&'static str> {
        names
            .iter()
            .map(|n| {
                by_name(n)
                    .unwrap_or_else(|| panic!("unknown model {n}"))
                    .name
            })
            .collect()
    }

    fn friendly(ms: &BTreeSet<&'static str>) -> BTreeSet<&'static str> {
        ms.iter().map(|m| friendly_name(m)).collect()
    }

    fn strongest(ms: &BTreeSet<&'static str>) -> BTreeSet<&'static str> {
        most(ms, models_implying)
    }

    fn sorted(mut names: Vec<&'static str>) -> Vec<&'static str> {
        names.sort_unstable();
        names
    }

    fn prohibits(model: &str) -> BTreeSet<&'static str> {
        prohibited(&[model], &[]).expect("known model")
    }

    // The tables themselves.

    #[test]
    fn model_names_are_unique_and_resolve_to_their_model() {
        let mut seen = BTreeSet::new();
        for m in MODELS {
            let mut own: BTreeSet<&str> = m.aliases.iter().copied().collect();
            own.insert(m.name);
            own.insert(m.friendly);
            for name in own {
                assert!(seen.insert(name), "{name} names two models");
                assert_eq!(by_name(name), Some(m), "{name}");
            }
            assert!(
                m.friendly == m.name || m.aliases.contains(&m.friendly),
                "{}: the friendly name must be an alias",
                m.name
            );
        }
        assert_eq!(MODELS.len(), 36);
    }

    #[test]
    fn implications_name_canonical_models_and_are_acyclic() {
        for m in MODELS {
            for target in m.implies {
                assert!(
                    MODELS.iter().any(|n| n.name == *target),
                    "{} implies unknown {target}",
                    m.name
                );
            }
            let below = reach(models_implied_by(m.name), models_implied_by);
            assert!(!below.contains(m.name), "{} implies itself", m.name);
        }
        for (from, _) in IMPLIED_ANOMALIES {
            let below = reach(anomalies_implied_by(from), anomalies_implied_by);
            assert!(!below.contains(from), "{from} implies itself");
        }
    }

    #[test]
    fn anomalies_and_models_do_not_share_names() {
        for a in anomaly_names() {
            assert!(by_name(a).is_none(), "{a} is both");
        }
    }

    // Ported from Elle's consistency_model_test.clj.

    #[test]
    fn all_anomalies_are_elles() {
        let elle = set(&[
            "G-MSR",
            "G-SI",
            "G-SIb",
            "G-cursor",
            "G-monotonic",
            "G-single-item",
            "G-update",
            "G0",
            "G1b",
            "GSIa",
            "PL-1-cycle-exists",
            "PL-2-cycle-exists",
            "PL-2.99-cycle-exists",
            "PL-3-cycle-exists",
            "PL-SI-cycle-exists",
            "PL-SS-cycle-exists",
            "cyclic-versions",
            "dirty-update",
            "duplicate-elements",
            "future-read",
            "incompatible-order",
            "internal",
            "lost-update",
            "predicate-read-miss",
            "strong-PL-1-cycle-exists",
            "strong-PL-2-cycle-exists",
            "strong-session-PL-1-cycle-exists",
            "strong-session-PL-2-cycle-exists",
            "strong-session-serializable-cycle-exists",
            "strong-session-snapshot-isolation-cycle-exists",
            "strong-snapshot-isolation-cycle-exists",
            "G-nonadjacent-item",
            "G-single-item-process",
            "G1a",
            "G1c",
            "write-skew",
            "G-nonadjacent-item-process",
            "G-single",
            "G-single-item-realtime",
            "G1",
            "G2-item",
            "G-nonadjacent",
            "G-nonadjacent-item-realtime",
            "GSIb",
            "G2",
            "GSI",
            "G0-process",
            "G1c-process",
            "G-single-process",
            "G1-process",
            "G2-item-process",
            "G-nonadjacent-process",
            "G2-process",
            "G0-realtime",
            "G1c-realtime",
            "G-single-realtime",
            "G1-realtime",
            "G2-item-realtime",
            "G-nonadjacent-realtime",
            "G2-realtime",
        ]);
        assert_eq!(elle.len(), 60);
        let mut ours: BTreeSet<&str> = anomaly_names().into_iter().collect();
        assert!(ours.remove("cycle-search-timeout"));
        assert!(ours.remove("empty-transaction-graph"));
        assert_eq!(ours, elle);
    }

    #[test]
    fn all_implied_anomalies_of_an_isolated_one() {
        assert_eq!(implied(&["G-SI"]), set(&["G-SI"]));
    }

    #[test]
    fn weakest_models() {
        let s = |ms: &[&str]| friendly(&weakest(&canonical(ms)));
        assert_eq!(s(&[]), set(&[]));
        assert_eq!(
            s(&["serializable", "strict-serializable"]),
            set(&["serializable"])
        );
        assert_eq!(
            s(&[
                "repeatable-read",
                "read-committed",
                "sequential",
                "read-your-writes"
            ]),
            set(&["read-your-writes", "read-committed"])
        );
        assert_eq!(s(&["serializable", "read-atomic"]), set(&["read-atomic"]));
        assert_eq!(s(&["read-atomic", "serializable"]), set(&["read-atomic"]));
    }

    #[test]
    fn strongest_models() {
        let s = |ms: &[&str]| friendly(&strongest(&canonical(ms)));
        assert_eq!(s(&[]), set(&[]));
        assert_eq!(
            s(&["serializable", "strong-serializable", "strict-serializable"]),
            set(&["strong-serializable"])
        );
        assert_eq!(
            s(&[
                "repeatable-read",
                "read-committed",
                "sequential",
                "read-your-writes"
            ]),
            set(&["repeatable-read", "sequential"])
        );
        assert_eq!(s(&["serializable", "read-atomic"]), set(&["serializable"]));
        assert_eq!(s(&["read-atomic", "serializable"]), set(&["serializable"]));
    }

    #[test]
    fn anomalies_prohibited_by_read_committed() {
        assert_eq!(
            prohibits("read-committed"),
            set(&[
                "dirty-update",
                "G1a",
                "G1b",
                "G1c",
                "G1",
                "G0",
                "PL-1-cycle-exists",
                "PL-2-cycle-exists",
                "cyclic-versions",
                "duplicate-elements",
                "incompatible-order",
                "future-read",
            ])
        );
    }

    #[test]
    fn unknown_model_is_an_error_listing_the_models() {
        let err = prohibited(&["stricct-snappshot-isolation"], &[]).unwrap_err();
        assert_eq!(err.what, "consistency model");
        assert_eq!(err.name, "stricct-snappshot-isolation");
        assert_eq!(err.choices, names());
        let message = err.to_string();
        assert!(message.starts_with("unknown consistency model `stricct-snappshot-isolation`"));
        assert!(message.contains("strong-snapshot-isolation"));
        assert!(message.contains("read-committed"));
    }

    #[test]
    fn impossible_models_of_g_single() {
        assert_eq!(
            friendly(&impossible_models(&["G-single"])),
            set(&[
                "consistent-view",
                "forward-consistent-view",
                "strong-serializable",
                "serializable",
                "snapshot-isolation",
                "strong-session-serializable",
                "strong-session-snapshot-isolation",
                "strong-snapshot-isolation",
                "update-serializable",
            ])
        );
    }

    #[test]
    fn impossible_models_of_g_si() {
        assert_eq!(
            friendly(&impossible_models(&["G-SI"])),
            set(&[
                "snapshot-isolation",
                "serializable",
                "strong-serializable",
                "strong-session-serializable",
                "strong-session-snapshot-isolation",
                "strong-snapshot-isolation",
            ])
        );
    }

    #[test]
    fn impossible_models_of_dirty_update() {
        assert_eq!(
            friendly(&impossible_models(&["dirty-update"])),
            set(&[
                "read-committed",
                "monotonic-atomic-view",
                "snapshot-isolation",
                "repeatable-read",
                "update-atomic",
                "serializable",
                "strong-serializable",
                "update-serializable",
                "cursor-stability",
                "forward-consistent-view",
                "consistent-view",
                "monotonic-view",
                "monotonic-snapshot-read",
                "causal-cerone",
                "parallel-snapshot-isolation",
                "prefix",
                "read-atomic",
                "strong-session-read-committed",
                "strong-session-serializable",
                "strong-session-snapshot-isolation",
                "strong-read-committed",
                "strong-snapshot-isolation",
            ])
        );
    }

    #[test]
    fn impossible_models_of_internal() {
        assert_eq!(
            friendly(&impossible_models(&["internal"])),
            set(&[
                "causal-cerone",
                "parallel-snapshot-isolation",
                "prefix",
                "read-atomic",
                "update-atomic",
                "serializable",
                "snapshot-isolation",
                "strong-serializable",
                "strong-session-serializable",
                "strong-session-snapshot-isolation",
                "strong-snapshot-isolation",
            ])
        );
    }

    #[test]
    fn boundary_of_nothing() {
        assert_eq!(ruled_out(&[]), (vec![], vec![]));
    }

    /// Every model implying read uncommitted, itself excepted.
    const ABOVE_READ_UNCOMMITTED: &[&str] = &[
        "read-committed",
        "snapshot-isolation",
        "causal-cerone",
        "consistent-view",
        "cursor-stability",
        "forward-consistent-view",
        "monotonic-atomic-view",
        "monotonic-snapshot-read",
        "monotonic-view",
        "parallel-snapshot-isolation",
        "prefix",
        "read-atomic",
        "repeatable-read",
        "update-atomic",
        "serializable",
        "strong-read-committed",
        "strong-read-uncommitted",
        "strong-serializable",
        "strong-session-read-committed",
        "strong-session-read-uncommitted",
        "strong-session-serializable",
        "strong-session-snapshot-isolation",
        "strong-snapshot-isolation",
        "update-serializable",
    ];

    #[test]
    fn boundary_of_cyclic_versions() {
        assert_eq!(
            ruled_out(&["cyclic-versions"]),
            (
                vec!["read-uncommitted"],
                sorted(ABOVE_READ_UNCOMMITTED.to_vec())
            )
        );
    }

    #[test]
    fn boundary_of_internal() {
        assert_eq!(
            ruled_out(&["internal"]),
            (
                vec!["read-atomic"],
                sorted(vec![
                    "causal-cerone",
                    "parallel-snapshot-isolation",
                    "prefix",
                    "update-atomic",
                    "serializable",
                    "snapshot-isolation",
                    "strong-serializable",
                    "strong-session-serializable",
                    "strong-session-snapshot-isolation",
                    "strong-snapshot-isolation",
                ])
            )
        );
    }

    #[test]
    fn boundary_of_g1a() {
        assert_eq!(
            ruled_out(&["G1a"]),
            (
                vec!["read-committed"],
                sorted(vec![
                    "read-atomic",
                    "update-atomic",
                    "causal-cerone",
                    "consistent-view",
                    "cursor-stability",
                    "forward-consistent-view",
                    "monotonic-atomic-view",
                    "monotonic-snapshot-read",
                    "monotonic-view",
                    "parallel-snapshot-isolation",
                    "prefix",
                    "repeatable-read",
                    "serializable",
                    "snapshot-isolation",
                    "strong-read-committed",
                    "strong-snapshot-isolation",
                    "strong-serializable",
                    "strong-session-read-committed",
                    "strong-session-serializable",
                    "strong-session-snapshot-isolation",
                    "update-serializable",
                ])
            )
        );
    }

    #[test]
    fn boundary_of_g_single() {
        assert_eq!(
            ruled_out(&["G-single"]),
            (
                vec!["consistent-view"],
                sorted(vec![
                    "snapshot-isolation",
                    "serializable",
                    "strong-serializable",
                    "strong-session-snapshot-isolation",
                    "strong-snapshot-isolation",
                    "strong-session-serializable",
                    "forward-consistent-view",
                    "update-serializable",
                ])
            )
        );
    }

    #[test]
    fn boundary_of_internal_and_g2() {
        assert_eq!(
            ruled_out(&["G2", "internal"]),
            (
                vec!["read-atomic"],
                sorted(vec![
                    "update-atomic",
                    "causal-cerone",
                    "parallel-snapshot-isolation",
                    "prefix",
                    "serializable",
                    "snapshot-isolation",
                    "strong-serializable",
                    "strong-session-serializable",
                    "strong-session-snapshot-isolation",
                    "strong-snapshot-isolation",
                ])
            )
        );
    }

    #[test]
    fn boundary_of_lost_update() {
        assert_eq!(
            ruled_out(&["lost-update"]).0,
            ["cursor-stability", "update-atomic"]
        );
    }

    #[test]
    fn boundary_of_g_single_realtime() {
        assert_eq!(
            ruled_out(&["G-single-realtime"]),
            (
                vec!["strong-snapshot-isolation"],
                vec!["strong-serializable"]
            )
        );
    }

    #[test]
    fn all_impossible_models_above_strong_session_serializable() {
        let above = reach(["strong-session-serializable"], models_implying);
        assert_eq!(above, set(&["strong-session-serializable", "PL-SS"]));
    }

    // Worked out by hand from Elle's tables.

    #[test]
    fn serializable_prohibits_data_anomalies_but_not_session_or_realtime_ones() {
        assert_eq!(
            prohibits("serializable"),
            set(&[
                "G0",
                "G1",
                "G1a",
                "G1b",
                "G1c",
                "G2",
                "G2-item",
                "G-single",
                "G-single-item",
                "G-nonadjacent",
                "G-nonadjacent-item",
                "write-skew",
                "lost-update",
                "incompatible-order",
                "dirty-update",
                "future-read",
                "internal",
                "predicate-read-miss",
                "G-update",
                "G-SI",
                "G-SIb",
                "G-cursor",
                "G-monotonic",
                "G-MSR",
                "duplicate-elements",
                "cyclic-versions",
                "PL-1-cycle-exists",
                "PL-2-cycle-exists",
                "PL-2.99-cycle-exists",
                "PL-SI-cycle-exists",
                "PL-3-cycle-exists",
            ])
        );
        assert_eq!(prohibits("serializable"), prohibits("PL-3"));
        assert_eq!(
            prohibits("serializable"),
            prohibits("conflict-serializable")
        );
    }

    #[test]
    fn strict_serializable_prohibits_everything_but_gsi_and_unknowns() {
        let mut expected: BTreeSet<&str> = anomaly_names().into_iter().collect();
        for a in [
            "GSIa",
            "GSIb",
            "GSI",
            "cycle-search-timeout",
            "empty-transaction-graph",
        ] {
            assert!(expected.remove(a));
        }
        assert_eq!(prohibits("strict-serializable"), expected);
        assert_eq!(prohibits("strong-serializable"), expected);
        assert_eq!(prohibits("PL-SS"), expected);
        for a in [
            "G1c-realtime",
            "G-single-realtime",
            "G2-item-process",
            "G0-process",
        ] {
            assert!(!prohibits("serializable").contains(a), "{a}");
        }
    }

    #[test]
    fn repeatable_read_prohibits_g2_item_but_not_g_single() {
        assert_eq!(
            prohibits("repeatable-read"),
            set(&[
                "G0",
                "G1",
                "G1a",
                "G1b",
                "G1c",
                "G2-item",
                "G-nonadjacent-item",
                "G-single-item",
                "lost-update",
                "G-cursor",
                "incompatible-order",
                "dirty-update",
                "future-read",
                "duplicate-elements",
                "cyclic-versions",
                "PL-1-cycle-exists",
                "PL-2-cycle-exists",
                "PL-2.99-cycle-exists",
            ])
        );
        let rr = prohibits("PL-2.99");
        for a in ["G-single", "G2", "G-nonadjacent", "write-skew", "internal"] {
            assert!(!rr.contains(a), "{a}");
        }
    }

    #[test]
    fn read_committed_does_not_prohibit_g_single() {
        let rc = prohibits("read-committed");
        assert!(rc.contains("G1c") && rc.contains("G0"));
        assert!(!rc.contains("G-single") && !rc.contains("G2-item"));
    }

    #[test]
    fn models_are_combined() {
        let both = prohibited(&["repeatable-read", "snapshot-isolation"], &[]).expect("known");
        let union: BTreeSet<_> = prohibits("repeatable-read")
            .union(&prohibits("snapshot-isolation"))
            .copied()
            .collect();
        assert_eq!(both, union);
        assert!(both.contains("G-single") && both.contains("G2-item"));
        assert!(!both.contains("G2"));
    }

    #[test]
    fn asked_for_anomalies_are_prohibited_with_all_that_imply_them() {
        let g2 = set(&[
            "G2",
            "G-nonadjacent",
            "G2-item",
            "write-skew",
            "G-single",
            "G-nonadjacent-item",
            "lost-update",
            "G-single-item",
        ]);
        assert_eq!(prohibited(&[], &["G2"]), Ok(g2.clone()));
        let mut with_rc = g2;
        with_rc.extend(prohibits("read-committed"));
        assert_eq!(prohibited(&["read-committed"], &["G2"]), Ok(with_rc));
        assert_eq!(prohibited(&[], &[]), Ok(BTreeSet::new()));
    }

    #[test]
    fn unknown_anomaly_is_an_error_listing_the_anomalies() {
        let err = prohibited(&["serializable"], &["G3"]).unwrap_err();
        assert_eq!(err.what, "anomaly");
        assert_eq!(err.name, "G3");
        assert_eq!(err.choices, anomaly_names().join(", "));
        assert!(err.to_string().starts_with("unknown anomaly `G3`; known: "));
        assert!(err.choices.contains("G-single-item-realtime"));
    }

    #[test]
    fn implied_anomalies_of_g0() {
        assert_eq!(
            implied(&["G0"]),
            set(&[
                "G0",
                "G1c",
                "G1",
                "G0-process",
                "G1c-process",
                "G1-process",
                "G0-realtime",
                "G1c-realtime",
                "G1-realtime",
            ])
        );
        assert_eq!(implied(&["no-such-anomaly"]), BTreeSet::new());
        assert_eq!(
            implying(&["G1a"]),
            set(&["G1a", "incompatible-order", "dirty-update"])
        );
    }

    #[test]
    fn boundary_of_g2_item() {
        assert_eq!(
            ruled_out(&["G2-item"]),
            (
                vec!["repeatable-read"],
                vec![
                    "serializable",
                    "strong-serializable",
                    "strong-session-serializable"
                ]
            )
        );
    }

    #[test]
    fn boundary_of_g0() {
        assert_eq!(
            ruled_out(&["G0"]),
            (
                vec!["read-uncommitted"],
                sorted(ABOVE_READ_UNCOMMITTED.to_vec())
            )
        );
    }

    #[test]
    fn boundary_of_g_single_item() {
        assert_eq!(
            ruled_out(&["G-single-item"]),
            (
                vec!["consistent-view", "repeatable-read"],
                vec![
                    "forward-consistent-view",
                    "serializable",
                    "snapshot-isolation",
                    "strong-serializable",
                    "strong-session-serializable",
                    "strong-session-snapshot-isolation",
                    "strong-snapshot-isolation",
                    "update-serializable",
                ]
            )
        );
    }

    #[test]
    fn boundary_ignores_unknown_and_unproscribed_anomalies() {
        assert_eq!(
            ruled_out(&["GSIa", "cycle-search-timeout", "nope"]),
            (vec![], vec![])
        );
    }

    #[test]
    fn aliases_resolve() {
        let pl = |n: &str| by_name(n).map(|m| m.name);
        for n in ["strong-serializable", "strict-serializable", "PL-SS"] {
            assert_eq!(pl(n), Some("PL-SS"), "{n}");
        }
        for n in ["serializable", "conflict-serializable", "PL-3"] {
            assert_eq!(pl(n), Some("PL-3"), "{n}");
        }
        assert_eq!(pl("repeatable-read"), Some("PL-2.99"));
        assert_eq!(pl("read-committed"), Some("PL-2"));
        assert_eq!(pl("read-uncommitted"), Some("PL-1"));
        assert_eq!(pl("snapshot-isolation"), Some("PL-SI"));
        assert_eq!(pl("consistent-view"), Some("PL-2+"));
        assert_eq!(pl("strong-read-committed"), Some("strong-PL-2"));
        assert_eq!(pl("causal-cerone"), Some("causal-cerone"));
        assert_eq!(pl("Serializable"), None);
        assert_eq!(pl("G2"), None);
        assert_eq!(by_name("PL-3").map(|m| m.friendly), Some("serializable"));
        assert_eq!(
            by_name("PL-SS").map(|m| m.friendly),
            Some("strong-serializable")
        );
    }

    #[test]
    fn names_lists_every_friendly_name_once() {
        let names = names();
        let listed: Vec<&str> = names.split(", ").collect();
        assert_eq!(listed.len(), MODELS.len());
        assert!(listed.windows(2).all(|w| w[0] < w[1]));
        assert!(listed.contains(&"serializable") && listed.contains(&"read-your-writes"));
        assert!(!listed.contains(&"PL-3"));
    }

    #[test]
    fn anomaly_names_are_sorted_and_known() {
        let names = anomaly_names();
        assert_eq!(names.len(), 62);
        assert!(names.windows(2).all(|w| w[0] < w[1]));
        assert!(names.iter().all(|a| is_anomaly(a)));
        for a in [
            "G0-process",
            "G2-item-realtime",
            "cycle-search-timeout",
            "GSI",
        ] {
            assert!(is_anomaly(a), "{a}");
        }
        assert!(!is_anomaly("serializable"));
        assert!(!is_anomaly("g2"));
    }
}
