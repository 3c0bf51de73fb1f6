//! The embedded target: the in-process replicated store of the `system`
//! crate ([`system::sim::SimCluster`]), in strong or eventual mode.

use async_trait::async_trait;
use history::Value;
use std::sync::Arc;
use std::time::Duration;
use system::sim::{CallError, Mode, SimClient, SimCluster};
use system::store::{Command, Datum, Key, Reply};
use workloads::{Client, Completion, Target, TargetError};
use workloads::{Data, Invocation};

/// Which data a workload keeps, which decides how its operations map onto
/// the store's commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Integer registers, one per key: read / write / cas.
    Registers,
    /// One set of integers (key 0): add / read.
    Set,
    /// One counter (key 0): add / read.
    Counter,
    /// Accounts `0..n`: transfer / read of every balance.
    Bank(u64),
}

impl Shape {
    /// The shape of a workload's data (`accounts` for [`Data::Accounts`]).
    pub fn of(data: Data, accounts: u64) -> Shape {
        match data {
            Data::Registers => Shape::Registers,
            Data::Set => Shape::Set,
            Data::Counter => Shape::Counter,
            Data::Accounts => Shape::Bank(accounts),
            // No sim target lists a transactional workload (its targets' workloads say so),
            // so this shape is never asked for; registers refuse a `txn` as unknown.
            Data::Lists | Data::TxnRegisters => Shape::Registers,
        }
    }
}

/// The sim cluster as a [`Target`] for one workload.
pub struct SimTarget {
    cluster: Arc<SimCluster>,
    mode: Mode,
    shape: Shape,
    timeout: Duration,
}

impl SimTarget {
    /// A target over `cluster` (started in `mode`) for data of `shape`;
    /// client calls give up (as `info`) after `timeout`.
    pub fn new(cluster: Arc<SimCluster>, mode: Mode, shape: Shape, timeout: Duration) -> SimTarget {
        SimTarget {
            cluster,
            mode,
            shape,
            timeout,
        }
    }
}
#[async_trait]
impl Target for SimTarget {
    fn name(&self) -> String {
        match self.mode {
            Mode::Strong => "sim-strong".into(),
            Mode::Eventual(_) => "sim-eventual".into(),
        }
    }

    fn nodes(&self) -> usize {
        self.cluster.nodes()
    }

    async fn open(&self, node: usize) -> Result<Box<dyn Client>, TargetError> {
        Ok(Box::new(SimClientAdapter {
            client: self.cluster.client(node),
            shape: self.shape,
            timeout: self.timeout,
        }))
    }

    async fn setup(&self, initial: &[(Value, Value)]) -> Result<(), TargetError> {
        // In eventual mode every node gets the initial data directly, so
        // that replicas start identical rather than after replication; in
        // strong mode one write reaches every replica through the leader.
        let nodes = match self.mode {
            Mode::Strong => 1,
            Mode::Eventual(_) => self.cluster.nodes(),
        };
        for node in 0..nodes {
            let client = self.cluster.client(node);
            for (key, value) in initial {
                let (Some(key), Some(value)) = (key.as_int(), value.as_int()) else {
                    return Err(TargetError::Setup(format!(
                        "sim: initial data must be integers, got {key} {value}"
                    )));
                };
                let command = Command::Write {
                    key: key as Key,
                    value,
                };
                client.call(command, self.timeout).await.map_err(|e| {
                    TargetError::Setup(format!(
                        "sim: writing initial key {key} on node {node}: {e}"
                    ))
                })?;
            }
        }
        Ok(())
    }
}

struct SimClientAdapter {
    client: SimClient,
    shape: Shape,
    timeout: Duration,
}

fn key_of(op: &Invocation) -> Key {
    op.key
        .as_ref()
        .and_then(Value::as_int)
        .map_or(0, |k| k as Key)
}

fn datum(d: Option<Datum>) -> Value {
    match d {
        None => Value::Nil,
        Some(Datum::Int(i)) => Value::Int(i),
        Some(Datum::Set(s)) => Value::Vector(s.into_iter().map(Value::Int).collect()),
    }
}

impl SimClientAdapter {
    /// The command for an invocation, or why there is none.
    fn command(&self, op: &Invocation) -> Result<Command, String> {
        let key = key_of(op);
        let bad = |what: &str| format!("expected {what} for :{}, got {}", op.f, op.value);
        let int = |v: &Value| v.as_int().ok_or_else(|| bad("an integer"));
        let read = matches!(op.f.as_str(), "read" | "final-read");
        Ok(match (self.shape, op.f.as_str()) {
            (Shape::Bank(accounts), _) if read => Command::ReadMany {
                keys: (0..accounts).collect(),
            },
            (Shape::Registers, _) if read => Command::Read { key },
            (Shape::Set | Shape::Counter, _) if read => Command::Read { key: 0 },
            (Shape::Registers, "write") => Command::Write {
                key,
                value: int(&op.value)?,
            },
            (Shape::Registers, "cas") => match op.value.as_seq() {
                Some([old, new]) => Command::Cas {
                    key,
                    expected: old.as_int(),
                    new: int(new)?,
                },
                _ => return Err(bad("[old new]")),
            },
            (Shape::Set, "add") => Command::Add {
                key: 0,
                element: int(&op.value)?,
            },
            (Shape::Counter, "add") => Command::Incr {
                key: 0,
                delta: int(&op.value)?,
            },
            (Shape::Bank(_), "transfer") => {
                let field = |k: &str| {
                    op.value
                        .get(k)
                        .and_then(Value::as_int)
                        .ok_or_else(|| bad("{:from :to :amount}"))
                };
                Command::Transfer {
                    from: field("from")? as Key,
                    to: field("to")? as Key,
                    amount: field("amount")?,
                }
            }
            (shape, f) => return Err(format!("the sim target has no :{f} for {shape:?} data")),
        })
    }

    /// The value a read returns, in the workload's terms: an empty set or
    /// a zero counter for a key never written.
    fn read_value(&self, d: Option<Datum>) -> Value {
        match (self.shape, d) {
            (Shape::Set, None) => Value::Vector(Vec::new()),
            (Shape::Counter, None) => Value::Int(0),
            (_, d) => datum(d),
        }
    }
}

#[async_trait]
impl Client for SimClientAdapter {
    async fn invoke(&self, op: &Invocation) -> Completion {
        let command = match self.command(op) {
            Ok(c) => c,
            Err(e) => return Completion::fail(op.value.clone(), &e),
        };
        match self.client.call(command, self.timeout).await {
            Ok(Reply::Value(d)) => Completion::ok(self.read_value(d)),
            Ok(Reply::Values(map)) => Completion::ok(Value::Map(
                map.into_iter()
                    .map(|(k, d)| (Value::Int(k as i64), datum(d)))
                    .collect(),
            )),
            Ok(Reply::Ok) => Completion::ok(op.value.clone()),
            Ok(Reply::CasResult(true) | Reply::TransferResult(true)) => {
                Completion::ok(op.value.clone())
            }
            Ok(Reply::CasResult(false)) => Completion::fail(op.value.clone(), "cas-mismatch"),
            Ok(Reply::TransferResult(false)) => {
                Completion::fail(op.value.clone(), "insufficient-funds")
            }
            Err(CallError::Timeout) => Completion::info(op.value.clone(), "timeout"),
            Err(CallError::Down) => Completion::fail(op.value.clone(), "node-down"),
            Err(CallError::Refused(r)) => {
                Completion::fail(op.value.clone(), &format!("refused: {r}"))
            }
        }
    }
}
