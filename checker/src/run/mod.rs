//! The runner: N logical processes perform a workload's operations against
//! a target while a nemesis injects faults, and every invocation and
//! completion is recorded (Jepsen's interpreter).
//!
//! ```text
//! generator ──ops──▶ processes (tokio tasks) ──▶ clients ──▶ target
//!                        │ record invoke/complete            ▲
//!                        ▼                                   │ faults
//!                     Recorder ◀── nemesis ops ── nemesis task
//! ```
//!
//! A run has three phases: the main phase (the workload's generator,
//! bounded by time and rate, with the fault plan), healing (every fault
//! undone and recorded), and final reads (every node read until they agree
//! or the settle time runs out). A timeout or an indeterminate error is
//! recorded as `info` and retires the process: a fresh id
//! (`process + concurrency`) takes its place with a fresh client, as in
//! Jepsen (the old connection may be stuck in the abandoned operation, a
//! half-done transaction say, which must not leak into the next one); an
//! operation that finds no client because the node cannot be reached
//! fails, as it definitely did not happen. Stopping early
//! (Ctrl-C) ends the main phase at once, and healing and final reads still
//! happen.

pub mod judge;
pub mod output;
mod progress;
pub mod recorder;
pub mod spec;

use history::{History, Op, OpType, Process, Value};
use nemesis::{Fault, Nemesis, Plan};
use recorder::Recorder;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use workloads::generator::{self, BoxGen, Context, Next};
use workloads::{Invocation, Rng, Target, Workload};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Logical processes performing operations at once.
    pub concurrency: usize,
    /// Length of the main phase.
    pub time_limit: Duration,
    /// Total operations per second, if limited.
    pub rate: Option<f64>,
    /// Seeds the operations (and, through the schedule, the faults).
    pub seed: u64,
    /// An operation not completed in this time is recorded as `info`.
    pub op_timeout: Duration,
    /// How long final reads may take to agree after healing.
    pub settle: Duration,
    /// Stream the history here as it is recorded.
    pub history_path: Option<PathBuf>,
    /// Show a progress bar.
    pub progress: bool,
}

/// Process ids of final reads: `FINAL_READ_PROCESS + node`.
pub const FINAL_READ_PROCESS: u64 = 1_000_000;

/// Stops a run early; cheap to clone and share with a signal handler.
#[derive(Clone, Default)]
pub struct Stop {
    flag: Arc<AtomicBool>,
    notify: Arc<Notify>,
}

impl Stop {
    /// Asks the run to stop its main phase.
    pub fn stop(&self) {
        self.flag.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    /// Whether a stop was asked for.
    pub fn is_stopped(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Sleeps until `deadline` or a stop, whichever comes first; true if stopped.
    async fn sleep_until(&self, deadline: tokio::time::Instant) -> bool {
        let notified = self.notify.notified();
        if self.is_stopped() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => self.is_stopped(),
            _ = notified => true,
        }
    }
}

/// What a run produced.
pub struct Recorded {
    /// Every event.
    pub history: History,
    /// Whether it was stopped early.
    pub interrupted: bool,
    /// The tasks that panicked (a client's, a worker's, the nemesis'): the
    /// run ended early, after healing, and is not to be trusted.
    pub crashed: Vec<Crash>,
    /// The target's own checks ([`Target::audit`]), made after the final reads.
    pub audits: Vec<workloads::Audit>,
}

/// A task of the run that panicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crash {
    /// Which: `process 3 (worker 3, node n1)`, `the nemesis`.
    pub task: String,
    /// The panic's message.
    pub message: String,
}

impl std::fmt::Display for Crash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} panicked: {}", self.task, self.message)
    }
}

/// The message of a task's panic.
fn panic_message(error: tokio::task::JoinError) -> String {
    if !error.is_panic() {
        return error.to_string();
    }
    let payload = error.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".into())
}

/// The environment variable that makes a process panic, so that the tests
/// can prove a crashed process ends the run cleanly (healed, reported,
/// exit 255): `N` panics worker `N` (process `N`, or the process that took
/// its place) at its first operation, `N@S` at its first operation `S`
/// seconds or more into the run. Never set in normal use.
pub const CRASH_PROCESS_ENV: &str = "CHECKER_CRASH_PROCESS";

/// [`CRASH_PROCESS_ENV`]'s process and time, if set.
fn crash_hook() -> Option<(u64, Duration)> {
    let text = std::env::var(CRASH_PROCESS_ENV).ok()?;
    let (process, after) = text.split_once('@').unwrap_or((&text, "0"));
    let after = after
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)?;
    Some((process.parse().ok()?, Duration::from_secs_f64(after)))
}

/// Why a run could not happen.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The target refused.
    #[error(transparent)]
    Target(#[from] workloads::TargetError),
    /// Recording to disk failed.
    #[error("recording the history: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs `workload` against `target` with the fault `plan` applied by `nemesis`.
pub async fn run(
    target: Arc<dyn Target>,
    workload: Workload,
    nemesis: Option<(Arc<dyn Nemesis>, Plan)>,
    config: &RunConfig,
    stop: Stop,
) -> Result<Recorded, RunError> {
    target.setup(&workload.initial).await?;
    let recorder = Recorder::new(config.history_path.as_deref())?;
    let started = tokio::time::Instant::now();

    let mut gen = generator::time_limit(config.time_limit, workload.generator);
    if let Some(rate) = config.rate.filter(|r| *r > 0.0) {
        gen = generator::stagger(Duration::from_secs_f64(1.0 / rate), gen);
    }
    let source = Arc::new(Mutex::new((gen, Rng::new(config.seed, 0x6f7073))));
    let fault_now: Arc<Mutex<Option<String>>> = Arc::default();
    let bar = progress::Progress::start(config, Arc::clone(&recorder), Arc::clone(&fault_now));

    // The nemesis follows its plan until the main phase ends.
    let main_phase_over = Stop::default();
    let nemesis_task = nemesis.as_ref().map(|(nemesis, plan)| {
        let (nemesis, plan, recorder, stop, fault_now) = (
            Arc::clone(nemesis),
            plan.clone(),
            Arc::clone(&recorder),
            main_phase_over.clone(),
            Arc::clone(&fault_now),
        );
        tokio::spawn(follow_plan(
            nemesis, plan, recorder, stop, fault_now, started,
        ))
    });

    let crash = crash_hook();
    let mut workers = Vec::with_capacity(config.concurrency);
    for worker in 0..config.concurrency {
        let node = worker % target.nodes().max(1);
        let client = Some(target.open(node).await?);
        let target = Arc::clone(&target);
        let (source, recorder) = (Arc::clone(&source), Arc::clone(&recorder));
        // The worker's current process id, to name it if it panics.
        let current = Arc::new(AtomicU64::new(worker as u64));
        let slot = Arc::clone(&current);
        let on_panic = stop.clone();
        let stop = stop.clone();
        let body = tokio::spawn(work(
            Worker {
                worker,
                node,
                concurrency: config.concurrency as u64,
                timeout: config.op_timeout,
                crash,
                started,
            },
            client,
            target,
            source,
            recorder,
            stop,
            slot,
        ));
        // Watches the worker: a panic stops the whole run at once, not
        // when the runner gets round to this worker.
        let handle = tokio::spawn(async move {
            let ended = body.await;
            if ended.is_err() {
                on_panic.stop();
            }
            ended
        });
        workers.push((worker, node, current, handle));
    }
    let mut crashed = join_workers(workers, &stop).await;
    let interrupted = stop.is_stopped() && crashed.is_empty();
    main_phase_over.stop();
    if let Some(task) = nemesis_task {
        if let Err(e) = task.await {
            crashed.push(Crash {
                task: "the nemesis".into(),
                message: panic_message(e),
            });
        }
    }
    if let Some((nemesis, _)) = &nemesis {
        record_nemesis(&recorder, "heal", Value::Nil);
        let result = nemesis.heal_all().await;
        record_nemesis_result(
            &recorder,
            "heal",
            Value::Nil,
            result.err().map(|e| e.to_string()),
        );
    }
    *fault_now.lock().unwrap_or_else(|e| e.into_inner()) = None;
    let healed = tokio::time::Instant::now();

    // After a crash the run is over: its faults are healed, what it
    // recorded is kept, and no more operations are sent.
    if crashed.is_empty() {
        if let Err(e) = target.quiesce(config.settle).await {
            // Not fatal: the final reads show what the pending work left undone. Recorded, so
            // that the report says why they may miss what the target acknowledged.
            let why = format!("{e}; a longer --settle waits longer");
            eprintln!("the target did not quiesce after the heal: {why}");
            record_nemesis_result(&recorder, "quiesce", Value::Nil, Some(why));
        }
        final_reads(&*target, &workload.final_reads, &recorder, config, healed).await?;
    }
    // Like the final reads: after Ctrl-C too (the run is judged on what it did), not after a
    // crash.
    let audits = if crashed.is_empty() {
        target.audit(config.settle).await
    } else {
        Vec::new()
    };
    bar.finish();
    let history = recorder.finish()?;
    Ok(Recorded {
        history,
        interrupted,
        crashed,
        audits,
    })
}

/// The nemesis task: follows `plan` from `started` until `stop`, recording
/// each fault's start and stop (`IsolateLeader` resolved, when it starts,
/// to the partition that cuts off whoever leads then).
async fn follow_plan(
    nemesis: Arc<dyn Nemesis>,
    plan: Plan,
    recorder: Arc<Recorder>,
    stop: Stop,
    fault_now: Arc<Mutex<Option<String>>>,
    started: tokio::time::Instant,
) {
    // The partition an `IsolateLeader` became when it started.
    let mut leader_cut: Option<Fault> = None;
    let describe = |fault: &Fault| fault.describe_named(&|n| nemesis.node_name(n));
    for mut step in plan {
        if stop
            .sleep_until(started + Duration::from_nanos(step.at_ns))
            .await
        {
            break;
        }
        if let Fault::IsolateLeader { nodes } = step.fault {
            let resolved = if step.start {
                match nemesis.leader().await {
                    Ok(Some(leader)) => Ok(Fault::isolating(leader, nodes)),
                    Ok(None) => Err("no node leads now, or the target cannot tell".into()),
                    Err(e) => Err(e.to_string()),
                }
            } else {
                leader_cut.take().ok_or_else(String::new)
            };
            match resolved {
                Ok(fault) => {
                    leader_cut = step.start.then(|| fault.clone());
                    step.fault = fault;
                }
                Err(why) => {
                    // Recorded as a failed start; its stop is moot.
                    if step.start {
                        let value = describe(&step.fault);
                        record_nemesis(&recorder, step.fault.start_f(), value.clone());
                        record_nemesis_result(&recorder, step.fault.start_f(), value, Some(why));
                    }
                    continue;
                }
            }
        }
        let f = if step.start {
            step.fault.start_f()
        } else {
            step.fault.stop_f()
        };
        let value = describe(&step.fault);
        record_nemesis(&recorder, f, value.clone());
        let result = if step.start {
            nemesis.start(&step.fault).await
        } else {
            nemesis.stop(&step.fault).await
        };
        record_nemesis_result(&recorder, f, value, result.err().map(|e| e.to_string()));
        *fault_now.lock().unwrap_or_else(|e| e.into_inner()) = step
            .start
            .then(|| format!("{} {}", step.fault.start_f(), describe(&step.fault)));
    }
}

/// What one worker is: its index, its node, and the run's settings it needs.
struct Worker {
    worker: usize,
    node: usize,
    concurrency: u64,
    timeout: Duration,
    /// [`CRASH_PROCESS_ENV`], if set.
    crash: Option<(u64, Duration)>,
    started: tokio::time::Instant,
}

/// The generator's state, shared by the workers.
type Source = Arc<Mutex<(BoxGen, Rng)>>;

/// One worker's loop: takes the next operation, records its invocation,
/// performs it through its client, records its completion; a process whose
/// operation ends `info` retires and the next id takes its place with a
/// fresh client (`slot` tells the runner which process the worker is now).
async fn work(
    me: Worker,
    mut client: Option<Box<dyn workloads::Client>>,
    target: Arc<dyn Target>,
    source: Source,
    recorder: Arc<Recorder>,
    stop: Stop,
    slot: Arc<AtomicU64>,
) {
    let Worker {
        worker,
        node,
        concurrency,
        timeout,
        crash,
        started,
    } = me;
    let mut process = worker as u64;
    loop {
        slot.store(process, Ordering::Relaxed);
        if stop.is_stopped() {
            return;
        }
        let next = {
            let mut guard = source.lock().unwrap_or_else(|e| e.into_inner());
            let (gen, rng) = &mut *guard;
            let next = gen.next(&mut Context {
                now: recorder.now(),
                process,
                rng,
            });
            // Recording the invocation under the generator's lock makes
            // the history's invocations come in the order generated:
            // the same seed gives the same sequence.
            if let Next::Op(op) = &next {
                recorder.record(event(process, op, OpType::Invoke, op.value.clone(), &[]));
            }
            next
        };
        match next {
            Next::Op(op) => {
                if crash.is_some_and(|(w, after)| w == worker as u64 && started.elapsed() >= after)
                {
                    panic!("{CRASH_PROCESS_ENV} told worker {worker} to crash");
                }
                if client.is_none() {
                    client = reopen(&*target, node, timeout).await;
                }
                let Some(open) = &client else {
                    let mut failed = event(process, &op, OpType::Fail, op.value.clone(), &[]);
                    failed.error = Some(Value::Keyword("no-connection".into()));
                    recorder.record(failed);
                    continue;
                };
                let (kind, _) = complete(&**open, &recorder, process, &op, timeout, &[]).await;
                if kind == OpType::Info {
                    process += concurrency; // retired, as in Jepsen
                    client = reopen(&*target, node, timeout).await;
                }
            }
            Next::Wait(at) => {
                if stop.sleep_until(started + Duration::from_nanos(at)).await {
                    return;
                }
            }
            Next::Done => return,
        }
    }
}

/// A worker task: index, node, current process id, and its watcher.
type WorkerTask = (
    usize,
    usize,
    Arc<AtomicU64>,
    tokio::task::JoinHandle<Result<(), tokio::task::JoinError>>,
);

/// Waits for every worker; the ones that panicked, named.
async fn join_workers(workers: Vec<WorkerTask>, stop: &Stop) -> Vec<Crash> {
    let mut crashed = Vec::new();
    for (worker, node, current, handle) in workers {
        // The worker's panic, or its watcher's (then nothing stopped the run yet).
        if let Err(e) = handle.await.and_then(|ended| ended) {
            // One process gone would quietly change the run: stop it all.
            stop.stop();
            crashed.push(Crash {
                task: format!(
                    "process {} (worker {worker}, node n{})",
                    current.load(Ordering::Relaxed),
                    node + 1
                ),
                message: panic_message(e),
            });
        }
    }
    crashed
}

/// An event of `process` performing `op`.
fn event(
    process: u64,
    op: &Invocation,
    kind: OpType,
    value: Value,
    extra: &[(String, Value)],
) -> Op {
    Op {
        index: 0,
        time: -1,
        process: Process::Client(process),
        kind,
        f: op.f.clone(),
        value,
        key: op.key.clone(),
        error: None,
        extra: extra.to_vec(),
    }
}

/// A fresh client for `node`, or `None` if it cannot be had within
/// `timeout` (a paused server may never answer).
async fn reopen(
    target: &dyn Target,
    node: usize,
    timeout: Duration,
) -> Option<Box<dyn workloads::Client>> {
    tokio::time::timeout(timeout, target.open(node))
        .await
        .ok()
        .and_then(Result::ok)
}

/// Performs `op`, whose invocation is recorded, and records its
/// completion; returns how it ended and its value.
async fn complete(
    client: &dyn workloads::Client,
    recorder: &Recorder,
    process: u64,
    op: &Invocation,
    timeout: Duration,
    extra: &[(String, Value)],
) -> (OpType, Value) {
    let completion = match tokio::time::timeout(timeout, client.invoke(op)).await {
        Ok(c) => c,
        Err(_) => workloads::Completion::info(op.value.clone(), "timeout"),
    };
    let mut done = event(
        process,
        op,
        completion.kind,
        completion.value.clone(),
        extra,
    );
    done.error = completion.error;
    recorder.record(done);
    (completion.kind, completion.value)
}

fn nemesis_op(f: &str, value: Value) -> Op {
    Op::new(Process::Named("nemesis".into()), OpType::Info, f, value)
}

fn record_nemesis(recorder: &Recorder, f: &str, value: Value) {
    recorder.record(nemesis_op(f, value));
}

fn record_nemesis_result(recorder: &Recorder, f: &str, value: Value, error: Option<String>) {
    let mut op = nemesis_op(f, value);
    op.error = error.map(Value::Str);
    recorder.record(op);
}

/// Reads every final-read target from every node, round after round, until
/// all nodes return the same values or the settle time runs out. (The
/// convergence checker measures, from the recorded reads, when they agreed.)
async fn final_reads(
    target: &dyn Target,
    reads: &[Invocation],
    recorder: &Recorder,
    config: &RunConfig,
    healed: tokio::time::Instant,
) -> Result<(), RunError> {
    if reads.is_empty() {
        return Ok(());
    }
    let nodes = target.nodes().max(1);
    let mut clients = Vec::with_capacity(nodes);
    for node in 0..nodes {
        clients.push(target.open(node).await?);
    }
    let deadline = healed + config.settle;
    loop {
        let mut seen: Vec<Vec<Option<Value>>> = Vec::with_capacity(nodes);
        for (node, client) in clients.iter().enumerate() {
            let extra = vec![("node".to_string(), Value::Str(format!("n{}", node + 1)))];
            let mut values = Vec::with_capacity(reads.len());
            for read in reads {
                let process = FINAL_READ_PROCESS + node as u64;
                recorder.record(event(
                    process,
                    read,
                    OpType::Invoke,
                    read.value.clone(),
                    &extra,
                ));
                let (kind, value) = complete(
                    &**client,
                    recorder,
                    process,
                    read,
                    config.op_timeout,
                    &extra,
                )
                .await;
                values.push((kind == OpType::Ok).then_some(value));
            }
            seen.push(values);
        }
        let agreed = seen
            .iter()
            .all(|v| v == &seen[0] && v.iter().all(Option::is_some));
        if agreed {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
