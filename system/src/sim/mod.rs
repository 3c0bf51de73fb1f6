//! An in-process replicated cluster on tokio, for the test runner: one task per replica, a
//! simulated network between them, and the faults a nemesis injects — partitions, message loss
//! and delay, crashes (the disk survives, messages in flight do not), pauses (nothing is
//! processed; messages queue), and per-replica clock skew.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::time::Duration;
//! use system::sim::{Mode, SimCluster, SimConfig};
//! use system::store::{Command, Datum, Reply};
//!
//! let cluster = SimCluster::start(SimConfig::new(3, Mode::Strong));
//! let client = cluster.client(1);
//! let timeout = Duration::from_secs(1);
//! client.call(Command::Write { key: 7, value: 42 }, timeout).await.unwrap();
//! let read = client.call(Command::Read { key: 7 }, timeout).await.unwrap();
//! assert_eq!(read, Reply::Value(Some(Datum::Int(42))));
//! cluster.shutdown().await;
//! # }
//! ```
//!
//! Determinism: the network's loss and delay draws come from generators seeded by
//! [`SimConfig::seed`] (one per replica), but tokio's scheduling is not deterministic, so two
//! runs with one seed are alike, not identical. Tests that need exact timing run on tokio's
//! paused clock (`start_paused`), which the cluster follows.

mod clock;
mod network;
mod node;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use self::clock::SimClock;
use self::network::{Inbound, Network};
use self::node::{Control, Node};
pub use crate::replica::{ConflictPolicy, Mode, Refused};
use crate::replica::{Replica, ReplicaConfig, Request, RequestId};
use crate::store::{Command, Datum, Key, Reply};
use crate::NodeId;

/// How to build a simulated cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// How many replicas (at least 1).
    pub replicas: usize,
    /// The replication mode.
    pub mode: Mode,
    /// Each message batch is delayed by a uniform draw from this range (inclusive); `(0, 0)`
    /// delivers at once, without timers.
    pub link_delay: (Duration, Duration),
    /// The probability that a message is lost (each message drawn separately), 0 to 1.
    pub loss: f64,
    /// How often replicas tick (heartbeats, retransmission, anti-entropy). The strong-mode leader
    /// refuses requests after `5 × tick + 2 × max delay` without hearing from a majority.
    pub tick: Duration,
    /// Seeds the network's loss and delay draws.
    pub seed: u64,
}

impl SimConfig {
    /// `replicas` replicas in `mode`, no delay, no loss, a 10 ms tick, seed 0.
    pub fn new(replicas: usize, mode: Mode) -> Self {
        SimConfig {
            replicas,
            mode,
            link_delay: (Duration::ZERO, Duration::ZERO),
            loss: 0.0,
            tick: Duration::from_millis(10),
            seed: 0,
        }
    }
}

/// Why a call did not return a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No answer in time, or the replica crashed while the request was in flight:
    /// indeterminate — the command may or may not have been applied (now or later).
    #[error("timed out: the command may or may not have been applied")]
    Timeout,
    /// The replica refused the command: it was definitely not applied.
    #[error("refused: {0}")]
    Refused(Refused),
    /// The replica is crashed, so it never saw the command: definitely not applied.
    #[error("the replica is down")]
    Down,
}

/// What the cluster, its node tasks and its clients share.
#[derive(Debug)]
struct Shared {
    network: Arc<Network>,
    clock: Arc<SimClock>,
    next_client: AtomicU64,
}

/// A running simulated cluster. Dropping it stops its tasks; [`SimCluster::shutdown`] waits for
/// them.
#[derive(Debug)]
pub struct SimCluster {
    mode: Mode,
    shared: Arc<Shared>,
    controls: Vec<mpsc::UnboundedSender<Control>>,
    nodes: Vec<JoinHandle<()>>,
    links: Vec<JoinHandle<()>>,
}

impl SimCluster {
    /// Starts the replicas' tasks (and, with delays, one task per directed link). Must be called
    /// inside a tokio runtime.
    pub fn start(config: SimConfig) -> SimCluster {
        let n = config.replicas.max(1);
        let max_delay = config.link_delay.0.max(config.link_delay.1);
        let quorum_timeout = config.tick.saturating_mul(5) + max_delay.saturating_mul(2);
        let replica_config = ReplicaConfig {
            nodes: NodeId::try_from(n).unwrap_or(NodeId::MAX),
            mode: config.mode,
            quorum_timeout_ns: u64::try_from(quorum_timeout.as_nanos()).unwrap_or(u64::MAX),
            ..ReplicaConfig::new(0, config.mode)
        };
        let (inbox_txs, inbox_rxs): (Vec<_>, Vec<_>) =
            (0..n).map(|_| mpsc::unbounded_channel()).unzip();
        let (network, links) = Network::new(inbox_txs, config.link_delay, config.loss);
        let clock = Arc::new(SimClock::new(n));
        let network = Arc::new(network);
        let shared = Arc::new(Shared {
            network: network.clone(),
            clock: clock.clone(),
            next_client: AtomicU64::new(0),
        });
        let mut controls = Vec::with_capacity(n);
        let mut nodes = Vec::with_capacity(n);
        for (id, inbox) in (0..n).zip(inbox_rxs) {
            let (control_tx, control_rx) = mpsc::unbounded_channel();
            controls.push(control_tx);
            let replica =
                Replica::new(NodeId::try_from(id).unwrap_or(NodeId::MAX), &replica_config);
            let node = Node::new(
                replica,
                network.clone(),
                clock.clone(),
                inbox,
                control_rx,
                config.seed,
            );
            nodes.push(tokio::spawn(node.run(config.tick)));
        }
        SimCluster {
            mode: config.mode,
            shared,
            controls,
            nodes,
            links,
        }
    }

    /// A client that sends its commands to replica `node`. Cheap; clones share their request
    /// numbering.
    ///
    /// # Panics
    ///
    /// If `node` is not a replica of this cluster.
    pub fn client(&self, node: usize) -> SimClient {
        assert!(
            node < self.nodes(),
            "no replica {node} in a cluster of {}",
            self.nodes()
        );
        SimClient {
            node,
            shared: self.shared.clone(),
            client: self.shared.next_client.fetch_add(1, Ordering::Relaxed),
            seq: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The node that leads: node 0 in strong mode (its leader never moves),
    /// none in eventual mode.
    pub fn leader(&self) -> Option<usize> {
        matches!(self.mode, Mode::Strong).then_some(0)
    }

    /// How many replicas the cluster has.
    pub fn nodes(&self) -> usize {
        self.shared.network.nodes()
    }

    /// Cuts exactly the directed links `(from, to)` listed (messages from
    /// `from` to `to` are lost) and restores every other link; for
    /// partitions that groups cannot express, such as a majority ring.
    pub fn cut(&self, links: &[(usize, usize)]) {
        let n = self.nodes();
        let faults = self.shared.network.faults();
        for from in 0..n {
            for to in 0..n {
                faults.set_cut(from, to, links.contains(&(from, to)));
            }
        }
    }

    /// Cuts every link between replicas of different groups, both ways, and restores all other
    /// links (it replaces the previous partition). Links of a replica that is in no group are
    /// left up.
    pub fn partition(&self, groups: &[Vec<usize>]) {
        let n = self.nodes();
        let mut group_of = vec![None; n];
        for (g, group) in groups.iter().enumerate() {
            for &node in group {
                if let Some(slot) = group_of.get_mut(node) {
                    *slot = Some(g);
                }
            }
        }
        let faults = self.shared.network.faults();
        for from in 0..n {
            for to in 0..n {
                let cut = matches!((group_of[from], group_of[to]), (Some(a), Some(b)) if a != b);
                faults.set_cut(from, to, cut);
            }
        }
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.partition(&[]);
    }

    /// Crashes replica `node`: it loses what is in flight to it and its waiting clients, and
    /// refuses new calls with [`CallError::Down`] until restarted. Its disk survives.
    pub fn crash(&self, node: usize) {
        self.shared.network.faults().set_down(node, true);
        self.control(node, Control::Crash);
    }

    /// Restarts a crashed replica from its disk (no-op if it is up).
    pub fn restart(&self, node: usize) {
        self.shared.network.faults().set_down(node, false);
        self.control(node, Control::Restart);
    }

    /// Pauses replica `node` (as SIGSTOP): it processes nothing, its messages and requests queue.
    pub fn pause(&self, node: usize) {
        self.control(node, Control::Pause);
    }

    /// Resumes a paused replica (no-op if it is not paused).
    pub fn resume(&self, node: usize) {
        self.control(node, Control::Resume);
    }

    /// Offsets replica `node`'s wall clock by `offset_ns` (0 resets it). Only hybrid logical
    /// timestamps (eventual mode) see it; deadlines and timeouts use unskewed time.
    pub fn skew_clock(&self, node: usize, offset_ns: i64) {
        self.shared.clock.skew(node, offset_ns);
    }

    /// Ends every fault: heals the network, restarts crashed replicas, resumes paused ones,
    /// resets clocks. Idempotent.
    pub fn heal_all(&self) {
        self.heal();
        for node in 0..self.nodes() {
            self.restart(node);
            self.resume(node);
            self.skew_clock(node, 0);
        }
    }

    /// Each replica's visible state (crashed replicas too: their disk; paused ones too).
    pub async fn snapshot(&self) -> Vec<BTreeMap<Key, Datum>> {
        let mut states = Vec::with_capacity(self.nodes());
        for node in 0..self.nodes() {
            let (tx, rx) = oneshot::channel();
            self.control(node, Control::Snapshot(tx));
            // A task that ended (shutdown) has no state to give.
            states.push(rx.await.unwrap_or_default());
        }
        states
    }

    /// Stops every task and waits for the replicas' tasks to end.
    pub async fn shutdown(mut self) {
        for node in 0..self.nodes() {
            self.control(node, Control::Shutdown);
        }
        for task in std::mem::take(&mut self.nodes) {
            let _ = task.await;
        }
        for link in std::mem::take(&mut self.links) {
            link.abort();
        }
    }

    fn control(&self, node: usize, control: Control) {
        if let Some(tx) = self.controls.get(node) {
            // The task ended only at shutdown, when there is nothing left to control.
            let _ = tx.send(control);
        }
    }
}

impl Drop for SimCluster {
    fn drop(&mut self) {
        for task in self.nodes.iter().chain(&self.links) {
            task.abort();
        }
    }
}

/// A client of one replica. Cheap to clone; `Send + Sync`.
#[derive(Clone, Debug)]
pub struct SimClient {
    node: usize,
    shared: Arc<Shared>,
    client: u64,
    seq: Arc<AtomicU64>,
}

impl SimClient {
    /// The replica this client talks to.
    pub fn node(&self) -> usize {
        self.node
    }

    /// Sends `command` to the replica and waits up to `timeout` for the answer.
    pub async fn call(&self, command: Command, timeout: Duration) -> Result<Reply, CallError> {
        let network = &self.shared.network;
        let Some(inbox) = network.inbox(self.node) else {
            return Err(CallError::Down);
        };
        if network.faults().is_down(self.node) {
            return Err(CallError::Down);
        }
        let id = RequestId {
            client: self.client,
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
        };
        let timeout_ns = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        let request = Request {
            id,
            command,
            deadline_ns: self.shared.clock.mono_ns().saturating_add(timeout_ns),
        };
        let (reply, answer) = oneshot::channel();
        if inbox.send(Inbound::Request { request, reply }).is_err() {
            return Err(CallError::Down); // the cluster shut down
        }
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(result)) => result,
            // The replica crashed while the request was in flight, or no answer in time.
            Ok(Err(_)) | Err(_) => Err(CallError::Timeout),
        }
    }
}
