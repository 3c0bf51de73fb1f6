//! The simulated network: one inbox per replica, links that can be cut (partitions), lose
//! messages and delay them, and replicas that can be down (crashed: what is sent to them is
//! lost).
//!
//! Without delay, a message goes straight into the destination's inbox (no timer, no extra
//! task: the fast path). With a delay range, each directed link has a task that holds messages
//! until their delivery time; links are FIFO (a message never overtakes an earlier one on the
//! same link), while different links race. Cuts and crashes are checked when a message is sent
//! and again when it is delivered.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::CallError;
use crate::replica::{Msg, Request};
use crate::store::Reply;
use crate::NodeId;
use rng::Rng;

/// What arrives in a replica's inbox.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A client request, and where to send the answer.
    Request {
        request: Request,
        reply: oneshot::Sender<Result<Reply, CallError>>,
    },
    /// Messages from another replica (all the ones it produced in one batch for us).
    Messages { from: NodeId, msgs: Vec<Msg> },
}

/// Which links are cut and which replicas are down; shared by everyone, changed by the nemesis.
#[derive(Debug)]
pub(crate) struct Faults {
    nodes: usize,
    /// `cut[from * nodes + to]`.
    cut: Vec<AtomicBool>,
    down: Vec<AtomicBool>,
}

impl Faults {
    fn new(nodes: usize) -> Self {
        Faults {
            nodes,
            cut: (0..nodes * nodes).map(|_| AtomicBool::new(false)).collect(),
            down: (0..nodes).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    /// True if messages from `from` to `to` are lost.
    pub(crate) fn is_cut(&self, from: usize, to: usize) -> bool {
        self.cut
            .get(from * self.nodes + to)
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// Cuts or restores the link from `from` to `to`.
    pub(crate) fn set_cut(&self, from: usize, to: usize, cut: bool) {
        if let Some(c) = self.cut.get(from * self.nodes + to) {
            c.store(cut, Ordering::Relaxed);
        }
    }

    /// True if replica `node` is crashed.
    pub(crate) fn is_down(&self, node: usize) -> bool {
        self.down
            .get(node)
            .is_some_and(|d| d.load(Ordering::Relaxed))
    }

    /// Marks replica `node` crashed or up.
    pub(crate) fn set_down(&self, node: usize, down: bool) {
        if let Some(d) = self.down.get(node) {
            d.store(down, Ordering::Relaxed);
        }
    }
}

/// Messages waiting on a delayed link.
#[derive(Debug)]
struct InFlight {
    deliver_at: Instant,
    msgs: Vec<Msg>,
}

/// The network: inboxes, faults, and (with delays) the links' queues.
#[derive(Debug)]
pub(crate) struct Network {
    nodes: usize,
    inboxes: Vec<mpsc::UnboundedSender<Inbound>>,
    faults: std::sync::Arc<Faults>,
    /// `links[from * nodes + to]`, when messages are delayed.
    links: Option<Vec<mpsc::UnboundedSender<InFlight>>>,
    delay_ns: (u64, u64),
    loss: f64,
}

impl Network {
    /// A network between `inboxes.len()` replicas, and the link tasks it needs (to abort at
    /// shutdown). Must be called inside a tokio runtime when `delay` is not `(0, 0)`.
    pub(crate) fn new(
        inboxes: Vec<mpsc::UnboundedSender<Inbound>>,
        delay: (Duration, Duration),
        loss: f64,
    ) -> (Network, Vec<JoinHandle<()>>) {
        let nodes = inboxes.len();
        let faults = std::sync::Arc::new(Faults::new(nodes));
        let to_ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let delay_ns = (to_ns(delay.0), to_ns(delay.1).max(to_ns(delay.0)));
        let mut tasks = Vec::new();
        let links = (delay_ns.1 > 0).then(|| {
            let mut links = Vec::with_capacity(nodes * nodes);
            for from in 0..nodes {
                for (to, inbox) in inboxes.iter().enumerate() {
                    let (tx, rx) = mpsc::unbounded_channel();
                    links.push(tx);
                    if from != to {
                        let (faults, inbox) = (faults.clone(), inbox.clone());
                        tasks.push(tokio::spawn(run_link(from, to, rx, faults, inbox)));
                    }
                }
            }
            links
        });
        let network = Network {
            nodes,
            inboxes,
            faults,
            links,
            delay_ns,
            loss: loss.clamp(0.0, 1.0),
        };
        (network, tasks)
    }

    /// How many replicas there are.
    pub(crate) fn nodes(&self) -> usize {
        self.nodes
    }

    /// The faults in force.
    pub(crate) fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Replica `node`'s inbox.
    pub(crate) fn inbox(&self, node: usize) -> Option<&mpsc::UnboundedSender<Inbound>> {
        self.inboxes.get(node)
    }

    /// Sends replica `from`'s messages for replica `to`, subject to cuts, crashes, loss (each
    /// message drawn separately) and delay (one draw for the batch).
    pub(crate) fn send(&self, from: usize, to: usize, mut msgs: Vec<Msg>, rng: &mut Rng) {
        if from == to || self.faults.is_cut(from, to) || self.faults.is_down(to) {
            return;
        }
        if self.loss > 0.0 {
            msgs.retain(|_| rng.unit() >= self.loss);
        }
        if msgs.is_empty() {
            return;
        }
        let from_id = NodeId::try_from(from).unwrap_or(NodeId::MAX);
        match &self.links {
            None => {
                if let Some(inbox) = self.inboxes.get(to) {
                    // A closed inbox means the cluster is shutting down: the message is lost.
                    let _ = inbox.send(Inbound::Messages {
                        from: from_id,
                        msgs,
                    });
                }
            }
            Some(links) => {
                let delay = rng.between(self.delay_ns.0, self.delay_ns.1);
                let deliver_at = Instant::now() + Duration::from_nanos(delay);
                if let Some(link) = links.get(from * self.nodes + to) {
                    let _ = link.send(InFlight { deliver_at, msgs });
                }
            }
        }
    }
}

/// One delayed, FIFO link: delivers each batch at its time (or right after the previous one, if
/// that is later), unless the link was cut or the destination crashed meanwhile.
async fn run_link(
    from: usize,
    to: usize,
    mut queue: mpsc::UnboundedReceiver<InFlight>,
    faults: std::sync::Arc<Faults>,
    inbox: mpsc::UnboundedSender<Inbound>,
) {
    let from_id = NodeId::try_from(from).unwrap_or(NodeId::MAX);
    while let Some(InFlight { deliver_at, msgs }) = queue.recv().await {
        tokio::time::sleep_until(deliver_at).await;
        if faults.is_cut(from, to) || faults.is_down(to) {
            continue;
        }
        if inbox
            .send(Inbound::Messages {
                from: from_id,
                msgs,
            })
            .is_err()
        {
            return; // the destination shut down
        }
    }
}
