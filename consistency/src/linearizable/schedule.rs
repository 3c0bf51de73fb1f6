//! Running the partitions' searches on a few threads, in turns.
//!
//! Every search runs in slices of steps and goes back to the end of a
//! shared queue, so a hard partition cannot starve the easy ones and a
//! failure found anywhere stops everything soon after. Slices start small
//! and double up to [`MAX_SLICE`] (about a millisecond), so that a
//! partition that fails within a few thousand steps is found after a few
//! thousand steps of each other partition, not after a full slice of each. Limits (time,
//! memory, the grace period after a failure) are checked between slices.

use super::search::{Counterexample, Finished, Poll, Search};
use super::{Options, Partition, PartitionVerdict};
use crate::model::Model;
use crate::verdict::Unknown;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Steps in a task's first turn.
const FIRST_SLICE: u64 = 1024;
/// Most steps in one turn: about a millisecond.
const MAX_SLICE: u64 = 1 << 16;

/// Below this many operations in all, threads cost more than they save.
const PARALLEL_THRESHOLD: usize = 4096;

/// What happened to one partition.
pub(super) struct Outcome {
    pub verdict: PartitionVerdict,
    pub steps: u64,
    pub configurations: usize,
    pub counterexample: Option<Counterexample>,
}

/// The limits every search shares.
struct Limits {
    deadline: Option<Instant>,
    memory_limit: usize,
    grace: Duration,
    memory: AtomicUsize,
    /// When to stop after a failure, once one is found.
    stop_at: Mutex<Option<Instant>>,
}

impl Limits {
    /// Why a paused search must stop now, if it must.
    fn halt(&self) -> Option<PartitionVerdict> {
        let now = Instant::now();
        if self.deadline.is_some_and(|d| now >= d) {
            return Some(PartitionVerdict::Unknown(Unknown::Timeout));
        }
        if self.memory.load(Ordering::Relaxed) > self.memory_limit {
            return Some(PartitionVerdict::Unknown(Unknown::OutOfMemory));
        }
        self.skip(now)
    }

    /// Whether another partition failed and the grace period is over, so
    /// that a task waiting for its turn must not run it.
    fn skip(&self, now: Instant) -> Option<PartitionVerdict> {
        let stop_at = *self.stop_at.lock().unwrap_or_else(|e| e.into_inner());
        stop_at
            .filter(|&s| now >= s)
            .map(|_| PartitionVerdict::Skipped)
    }

    fn failed(&self) {
        let mut stop_at = self.stop_at.lock().unwrap_or_else(|e| e.into_inner());
        if stop_at.is_none() {
            *stop_at = Some(Instant::now() + self.grace);
        }
    }
}

/// A partition's search, started on its first turn (so that memory is
/// held only by searches under way), and the memory it was last charged for.
struct Task<'a, M: Model> {
    index: usize,
    search: Option<Search<'a, M>>,
    charged: usize,
    /// Steps in its next turn.
    slice: u64,
}

/// Runs one turn of a task. Returns its outcome if it is over.
fn turn<'a, M: Model>(
    task: &mut Task<'a, M>,
    limits: &Limits,
    model: &'a M,
    partitions: &'a [Partition<'_, M::Op>],
) -> Option<Outcome> {
    // A failure may have been found while this task waited: then a whole
    // slice of it would be wasted (this took c50-bad from 40,000 steps
    // in all to 60,000).
    if let Some(verdict) = limits.skip(Instant::now()) {
        return Some(Outcome {
            verdict,
            steps: task.search.as_ref().map_or(0, |s| s.steps()),
            configurations: task.search.as_ref().map_or(0, |s| s.configurations()),
            counterexample: None,
        });
    }
    let search = task
        .search
        .get_or_insert_with(|| Search::new(model, &partitions[task.index].entries));
    let poll = search.run(task.slice);
    task.slice = (task.slice * 2).min(MAX_SLICE);
    let bytes = search.bytes();
    if bytes > task.charged {
        limits
            .memory
            .fetch_add(bytes - task.charged, Ordering::Relaxed);
    } else {
        limits
            .memory
            .fetch_sub(task.charged - bytes, Ordering::Relaxed);
    }
    task.charged = bytes;
    let outcome = |verdict, counterexample| Outcome {
        verdict,
        steps: search.steps(),
        configurations: search.configurations(),
        counterexample,
    };
    match poll {
        Poll::Done(Finished::Linearizable(_)) => Some(outcome(PartitionVerdict::Valid, None)),
        Poll::Done(Finished::NotLinearizable(c)) => {
            limits.failed();
            Some(outcome(PartitionVerdict::Invalid, Some(c)))
        }
        Poll::Paused => limits.halt().map(|v| outcome(v, None)),
    }
}

fn finish<M: Model>(task: Task<'_, M>, limits: &Limits) {
    limits.memory.fetch_sub(task.charged, Ordering::Relaxed);
}

/// Searches every partition and returns their outcomes in order.
pub(super) fn run<M: Model>(
    model: &M,
    partitions: &[Partition<'_, M::Op>],
    options: &Options,
    started: Instant,
) -> Vec<Outcome> {
    let limits = Limits {
        deadline: options.timeout.map(|t| started + t),
        memory_limit: options.memory_limit,
        grace: options.grace,
        memory: AtomicUsize::new(0),
        stop_at: Mutex::new(None),
    };
    // Small partitions first: they finish fast, and failures among them stop the rest.
    let mut order: Vec<usize> = (0..partitions.len()).collect();
    order.sort_by_key(|&i| partitions[i].entries.len());
    let queue: VecDeque<Task<'_, M>> = order
        .into_iter()
        .map(|index| Task {
            index,
            search: None,
            charged: 0,
            slice: FIRST_SLICE,
        })
        .collect();

    let total: usize = partitions.iter().map(|p| p.entries.len()).sum();
    // Asking for the core count reads cgroup files: only when threads could help.
    let threads = match options.threads {
        _ if total < PARALLEL_THRESHOLD || partitions.len() < 2 => 1,
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(partitions.len());
    let mut results: Vec<Option<Outcome>> = (0..partitions.len()).map(|_| None).collect();
    if threads <= 1 || total < PARALLEL_THRESHOLD {
        let mut queue = queue;
        while let Some(mut task) = queue.pop_front() {
            match turn(&mut task, &limits, model, partitions) {
                Some(outcome) => {
                    results[task.index] = Some(outcome);
                    finish(task, &limits);
                }
                None => queue.push_back(task),
            }
        }
    } else {
        let queue = Mutex::new(queue);
        let done = Mutex::new(&mut results);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| loop {
                    let Some(mut task) =
                        queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
                    else {
                        return;
                    };
                    match turn(&mut task, &limits, model, partitions) {
                        Some(outcome) => {
                            done.lock().unwrap_or_else(|e| e.into_inner())[task.index] =
                                Some(outcome);
                            finish(task, &limits);
                        }
                        None => queue
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push_back(task),
                    }
                });
            }
        });
    }
    results
        .into_iter()
        .map(|r| {
            // Every task ends with an outcome: a worker only drops a task after storing one.
            r.unwrap_or(Outcome {
                verdict: PartitionVerdict::Skipped,
                steps: 0,
                configurations: 0,
                counterexample: None,
            })
        })
        .collect()
}
