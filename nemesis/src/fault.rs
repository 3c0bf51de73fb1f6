//! [`Fault`]: one concrete fault, and how it is written in a history.

use history::Value;

/// The kinds of fault a schedule can inject (`--nemesis`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// Cut the network into parts.
    Partition,
    /// Crash a node (kill -9), then restart it.
    Kill,
    /// Freeze a node (SIGSTOP), then resume it.
    Pause,
    /// Move a node's clock, then put it back.
    Clock,
    /// Cut the current leader off from the other nodes (where the target
    /// can tell who leads: the sim's strong mode, etcd, PostgreSQL's
    /// primary). Not part of `all`.
    PartitionLeader,
}

impl FaultKind {
    /// Every kind, in the order `--nemesis all` cycles through them.
    pub const ALL: [FaultKind; 4] = [
        FaultKind::Partition,
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::Clock,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::Clock => "clock",
            FaultKind::PartitionLeader => "partition-leader",
        }
    }

    /// Parses `none`, `all`, or a comma-separated list of kinds.
    pub fn parse_list(text: &str) -> Result<Vec<FaultKind>, String> {
        match text {
            "none" => return Ok(Vec::new()),
            "all" => return Ok(FaultKind::ALL.to_vec()),
            _ => {}
        }
        text.split(',')
            .map(|name| {
                FaultKind::ALL
                    .into_iter()
                    .chain([FaultKind::PartitionLeader])
                    .find(|k| k.name() == name.trim())
                    .ok_or_else(|| {
                        format!("unknown nemesis `{name}`; choose none, all, or a comma-separated list of partition, partition-leader, kill, pause, clock")
                    })
            })
            .collect()
    }
}

/// Jepsen's name for node `node` (from 0): `n1`, `n2`, …
pub fn default_name(node: usize) -> String {
    format!("n{}", node + 1)
}

/// How a partition divides the nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionShape {
    /// Two random halves (the larger one a majority).
    RandomHalves,
    /// One node alone.
    IsolateOne,
    /// Every node hears from a majority, but no two from the same one
    /// (Jepsen's `majorities-ring`); only [`Fault::Ring`] has this shape.
    MajorityRing,
}

/// One fault, with the nodes it hits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// No traffic between different groups.
    Partition {
        /// How the groups were drawn.
        shape: PartitionShape,
        /// The groups of node indices.
        groups: Vec<Vec<usize>>,
    },
    /// Messages on these directed links `(from, to)` are lost: a
    /// partition that groups cannot express.
    Ring {
        /// The cut links.
        cut: Vec<(usize, usize)>,
    },
    /// The node is crashed until the fault stops.
    Kill {
        /// The node.
        node: usize,
    },
    /// The node is frozen until the fault stops.
    Pause {
        /// The node.
        node: usize,
    },
    /// Whichever node leads when the fault starts is cut off from the
    /// other `nodes - 1`; the runner asks the nemesis who leads
    /// ([`crate::Nemesis::leader`]) and records the partition it became.
    IsolateLeader {
        /// How many nodes there are.
        nodes: usize,
    },
    /// The node's clock is off by `offset_ns` until the fault stops.
    ClockSkew {
        /// The node.
        node: usize,
        /// The offset in nanoseconds.
        offset_ns: i64,
    },
}

impl Fault {
    /// `node` alone, the other `nodes - 1` together.
    pub fn isolating(node: usize, nodes: usize) -> Fault {
        Fault::Partition {
            shape: PartitionShape::IsolateOne,
            groups: vec![(0..nodes).filter(|&n| n != node).collect(), vec![node]],
        }
    }

    /// The `:f` of the nemesis operation that starts it (Jepsen's names).
    pub fn start_f(&self) -> &'static str {
        match self {
            Fault::Partition { .. } | Fault::Ring { .. } | Fault::IsolateLeader { .. } => {
                "start-partition"
            }
            Fault::Kill { .. } => "kill",
            Fault::Pause { .. } => "pause",
            Fault::ClockSkew { .. } => "start-clock-skew",
        }
    }

    /// The `:f` of the nemesis operation that ends it.
    pub fn stop_f(&self) -> &'static str {
        match self {
            Fault::Partition { .. } | Fault::Ring { .. } | Fault::IsolateLeader { .. } => {
                "stop-partition"
            }
            Fault::Kill { .. } => "restart",
            Fault::Pause { .. } => "resume",
            Fault::ClockSkew { .. } => "stop-clock-skew",
        }
    }

    /// The nemesis operation's `:value`: which nodes, as names `n1`, `n2`, …
    pub fn describe(&self) -> Value {
        self.describe_named(&default_name)
    }

    /// The nemesis operation's `:value`, node `n` named `name(n)` (a
    /// nemesis over several clusters names its nodes `api1`, `postgres2`).
    pub fn describe_named(&self, name: &dyn Fn(usize) -> String) -> Value {
        let node = |n: usize| Value::Str(name(n));
        match self {
            Fault::Partition { shape, groups } => Value::Vector(vec![
                Value::Keyword(
                    match shape {
                        PartitionShape::RandomHalves => "halves",
                        PartitionShape::IsolateOne => "isolated",
                        PartitionShape::MajorityRing => "majority-ring",
                    }
                    .into(),
                ),
                Value::Vector(
                    groups
                        .iter()
                        .map(|g| Value::Vector(g.iter().map(|&n| node(n)).collect()))
                        .collect(),
                ),
            ]),
            Fault::Ring { cut } => Value::Vector(vec![
                Value::Keyword("majority-ring".into()),
                Value::Vector(
                    cut.iter()
                        .map(|&(a, b)| Value::Vector(vec![node(a), node(b)]))
                        .collect(),
                ),
            ]),
            Fault::IsolateLeader { .. } => Value::Vector(vec![Value::Keyword("leader".into())]),
            Fault::Kill { node: n } | Fault::Pause { node: n } => node(*n),
            Fault::ClockSkew { node: n, offset_ns } => Value::Vector(vec![
                node(*n),
                Value::Int(offset_ns / 1_000_000),
                Value::Keyword("ms".into()),
            ]),
        }
    }
}
