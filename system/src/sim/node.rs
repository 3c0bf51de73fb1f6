//! One simulated replica: a tokio task that owns a [`Replica`], feeds it what arrives in its
//! inbox and its ticks, and carries out its effects — sending messages through the [`Network`]
//! and answering waiting clients.
//!
//! The task handles inbox items in batches (up to [`BATCH`] at a time) and sends each peer one
//! network message per batch, which keeps the per-operation cost low under load.
//!
//! Faults, as the task sees them (through [`Control`] messages, handled before anything else):
//! - *crashed*: everything that arrives is lost (a request gets [`CallError::Down`]: it was never
//!   seen), the clients waiting here are dropped (they see [`CallError::Timeout`]: their request
//!   may have been applied), no ticks; the replica itself — its disk — is kept, and restarting
//!   calls [`Replica::on_restart`].
//! - *paused*: nothing is processed and no tick happens; the inbox queues.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;

use super::clock::SimClock;
use super::network::{Inbound, Network};
use super::CallError;
use crate::replica::{Effect, Msg, Now, Replica, RequestId};
use crate::store::{Datum, Key, Reply};
use rng::Rng;

/// At most this many inbox items are handled before the outgoing messages are sent.
pub(crate) const BATCH: usize = 256;

/// Orders from the cluster to a node task.
#[derive(Debug)]
pub(crate) enum Control {
    Crash,
    Restart,
    Pause,
    Resume,
    /// Send back the replica's visible state (works crashed or paused too: it is the disk).
    Snapshot(oneshot::Sender<BTreeMap<Key, Datum>>),
    Shutdown,
}

type Waiter = oneshot::Sender<Result<Reply, CallError>>;

/// A replica's task state.
pub(crate) struct Node {
    index: usize,
    replica: Replica,
    network: Arc<Network>,
    clock: Arc<SimClock>,
    inbox: mpsc::UnboundedReceiver<Inbound>,
    control: mpsc::UnboundedReceiver<Control>,
    /// Clients waiting for an answer from this replica.
    waiters: HashMap<RequestId, Waiter>,
    rng: Rng,
    crashed: bool,
    paused: bool,
    /// Scratch space for the replica's effects.
    effects: Vec<Effect>,
    /// Messages produced in the current batch, per destination.
    outbox: Vec<Vec<Msg>>,
}

impl Node {
    pub(crate) fn new(
        replica: Replica,
        network: Arc<Network>,
        clock: Arc<SimClock>,
        inbox: mpsc::UnboundedReceiver<Inbound>,
        control: mpsc::UnboundedReceiver<Control>,
        seed: u64,
    ) -> Self {
        let id = replica.id();
        let nodes = network.nodes();
        Node {
            index: id as usize,
            replica,
            network,
            clock,
            inbox,
            control,
            waiters: HashMap::new(),
            rng: Rng::new(seed, u64::from(id) + 1),
            crashed: false,
            paused: false,
            effects: Vec::new(),
            outbox: vec![Vec::new(); nodes],
        }
    }

    /// Runs until [`Control::Shutdown`].
    pub(crate) async fn run(mut self, tick: Duration) {
        let mut ticker = tokio::time::interval(tick.max(Duration::from_micros(1)));
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                control = self.control.recv() => match control {
                    Some(Control::Shutdown) | None => return,
                    Some(control) => self.on_control(control),
                },
                _ = ticker.tick(), if !self.paused && !self.crashed => self.on_tick(),
                inbound = self.inbox.recv(), if !self.paused || self.crashed => match inbound {
                    Some(first) => self.on_batch(first),
                    None => return,
                },
            }
        }
    }

    fn on_control(&mut self, control: Control) {
        match control {
            Control::Crash => {
                self.crashed = true;
                // Waiting clients see their channel close: indeterminate.
                self.waiters.clear();
                self.outbox.iter_mut().for_each(Vec::clear);
                while let Ok(inbound) = self.inbox.try_recv() {
                    Self::lose(inbound);
                }
            }
            Control::Restart => {
                if self.crashed {
                    self.crashed = false;
                    let now = self.now();
                    self.replica.on_restart(now);
                }
            }
            Control::Pause => self.paused = true,
            Control::Resume => self.paused = false,
            Control::Snapshot(reply) => {
                let _ = reply.send(self.replica.visible_state());
            }
            Control::Shutdown => {} // handled by `run`
        }
    }

    fn on_tick(&mut self) {
        let now = self.now();
        self.replica.on_tick(now, &mut self.effects);
        self.carry_out(None);
        self.flush();
        // Forget clients that gave up (timed out).
        self.waiters.retain(|_, waiter| !waiter.is_closed());
    }

    /// Handles `first` and whatever else is already in the inbox (up to [`BATCH`]), then sends.
    fn on_batch(&mut self, first: Inbound) {
        if self.crashed {
            Self::lose(first);
            return;
        }
        let now = self.now();
        self.handle(first, now);
        for _ in 1..BATCH {
            match self.inbox.try_recv() {
                Ok(inbound) => self.handle(inbound, now),
                Err(_) => break,
            }
        }
        self.flush();
    }

    fn handle(&mut self, inbound: Inbound, now: Now) {
        match inbound {
            Inbound::Request { request, reply } => {
                let id = request.id;
                self.replica.on_request(request, now, &mut self.effects);
                self.carry_out(Some((id, reply)));
            }
            Inbound::Messages { from, msgs } => {
                for msg in msgs {
                    self.replica.on_message(from, msg, now, &mut self.effects);
                    self.carry_out(None);
                }
            }
        }
    }

    /// Carries out the replica's effects. `current` is the client of the request just handled:
    /// answered directly if the answer is already there, otherwise it waits in `waiters`.
    fn carry_out(&mut self, mut current: Option<(RequestId, Waiter)>) {
        for effect in self.effects.drain(..) {
            match effect {
                Effect::Send { to, msg } => {
                    if let Some(queue) = self.outbox.get_mut(to as usize) {
                        queue.push(msg);
                    }
                }
                Effect::Reply { req_id, result } => {
                    let waiter = match current.take() {
                        Some((id, waiter)) if id == req_id => Some(waiter),
                        other => {
                            current = other;
                            self.waiters.remove(&req_id)
                        }
                    };
                    if let Some(waiter) = waiter {
                        // A client that gave up dropped its receiver: nothing to do.
                        let _ = waiter.send(result.map_err(CallError::Refused));
                    }
                }
            }
        }
        if let Some((id, waiter)) = current {
            self.waiters.insert(id, waiter);
        }
    }

    /// Sends each peer the messages of this batch.
    fn flush(&mut self) {
        for to in 0..self.outbox.len() {
            if !self.outbox[to].is_empty() {
                let msgs = std::mem::take(&mut self.outbox[to]);
                self.network.send(self.index, to, msgs, &mut self.rng);
            }
        }
    }

    /// Something arrived while crashed: lost. A request was never seen, so its client learns
    /// that it was definitely not applied.
    fn lose(inbound: Inbound) {
        if let Inbound::Request { reply, .. } = inbound {
            let _ = reply.send(Err(CallError::Down));
        }
    }

    fn now(&self) -> Now {
        self.clock.now(self.index)
    }
}
