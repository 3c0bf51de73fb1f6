//! Client operations paired leniently for plots, and their latencies:
//! counts and percentiles per `:f`.

use history::{History, OpType, Process};
use serde::Serialize;
use std::collections::HashMap;

/// How a client operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Outcome {
    Ok,
    Info,
    /// Never completed (drawn as info, at the top of the latency plot).
    Pending,
    Fail,
}

impl Outcome {
    pub(crate) fn class(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
            Outcome::Pending => "info pend",
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
            Outcome::Pending => "never completed",
        }
    }
}

/// One client operation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// Index into `Ops::fs`.
    pub(crate) f: usize,
    pub(crate) process: u64,
    pub(crate) invoke_ns: i64,
    /// `-1` when pending or untimed.
    pub(crate) complete_ns: i64,
    pub(crate) outcome: Outcome,
}

impl Sample {
    pub(crate) fn latency_ms(&self) -> Option<f64> {
        (self.outcome != Outcome::Pending && self.invoke_ns >= 0 && self.complete_ns >= 0)
            .then(|| (self.complete_ns - self.invoke_ns).max(0) as f64 / 1e6)
    }
}

/// The client operations of a history, paired leniently: a completion
/// without an invocation in flight is ignored, and a second invocation on a
/// process leaves the first one pending.
pub(crate) struct Ops<'h> {
    /// The `:f`s, sorted.
    pub(crate) fs: Vec<&'h str>,
    /// In invocation order.
    pub(crate) samples: Vec<Sample>,
    /// Client completions: `(f, outcome, time)`, for the rate plot.
    pub(crate) completions: Vec<(usize, Outcome, i64)>,
    /// Earliest and latest time of any event (client or not), `-1` if none.
    pub(crate) t0: i64,
    pub(crate) t1: i64,
}

impl<'h> Ops<'h> {
    pub(crate) fn new(h: &'h History) -> Ops<'h> {
        let mut fs: Vec<&str> = h
            .ops()
            .iter()
            .filter(|op| op.process.client().is_some())
            .map(|op| op.f.as_str())
            .collect();
        fs.sort_unstable();
        fs.dedup();
        let f_index = |f: &str| fs.binary_search(&f).unwrap_or(0);
        let mut samples = Vec::new();
        let mut completions = Vec::new();
        let mut in_flight: HashMap<u64, usize> = HashMap::new();
        let (mut t0, mut t1) = (i64::MAX, -1i64);
        for op in h.ops() {
            if op.time >= 0 {
                t0 = t0.min(op.time);
                t1 = t1.max(op.time);
            }
            let Process::Client(p) = op.process else {
                continue;
            };
            let outcome = match op.kind {
                OpType::Invoke => {
                    in_flight.insert(p, samples.len());
                    samples.push(Sample {
                        f: f_index(&op.f),
                        process: p,
                        invoke_ns: op.time,
                        complete_ns: -1,
                        outcome: Outcome::Pending,
                    });
                    continue;
                }
                OpType::Ok => Outcome::Ok,
                OpType::Fail => Outcome::Fail,
                OpType::Info => Outcome::Info,
            };
            completions.push((f_index(&op.f), outcome, op.time));
            if let Some(i) = in_flight.remove(&p) {
                samples[i].complete_ns = op.time;
                samples[i].outcome = outcome;
            }
        }
        if t1 < 0 {
            t0 = -1;
        }
        Ops {
            fs,
            samples,
            completions,
            t0,
            t1,
        }
    }

    /// Seconds from the first event to the last (1 s if they coincide).
    pub(crate) fn span_s(&self) -> f64 {
        let s = (self.t1 - self.t0) as f64 / 1e9;
        if s > 0.0 {
            s
        } else {
            1.0
        }
    }

    pub(crate) fn seconds(&self, ns: i64) -> f64 {
        (ns - self.t0) as f64 / 1e9
    }
}

/// Counts and latencies of the completed operations of one `:f` (or of all).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyRow {
    /// The `:f`, or `all`.
    pub f: String,
    /// Completed operations (`ok + fail + info`); operations that never
    /// completed are not counted.
    pub count: usize,
    pub ok: usize,
    pub fail: usize,
    pub info: usize,
    /// Percentiles of the latencies of the completed operations that have
    /// times, in ms, by the nearest-rank definition (see [`percentile`]);
    /// `NaN` when there is none.
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The nearest-rank percentile of ascending `sorted`: the smallest value
/// such that at least `p`% of the values are at most it, i.e. the value of
/// rank `ceil(p/100 · n)` (1-based, at least 1). For the latencies 1..=100
/// ms: p50 = 50, p95 = 95, p99 = 99, p100 = 100. `NaN` when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let n = sorted.len();
    let rank = ((p * n as f64) / 100.0).ceil().clamp(1.0, n as f64) as usize;
    sorted[rank - 1]
}

/// One row per `:f` of the client operations (sorted by name), after a
/// first row `all` for every operation: counts by outcome and latency
/// percentiles of completed operations. A history without client
/// operations gives the `all` row alone, with zero counts.
pub fn latency_table(h: &History) -> Vec<LatencyRow> {
    let ops = Ops::new(h);
    #[derive(Default, Clone)]
    struct Acc {
        ok: usize,
        fail: usize,
        info: usize,
        latencies: Vec<f64>,
    }
    let mut acc = vec![Acc::default(); ops.fs.len() + 1];
    for s in &ops.samples {
        for g in [0, s.f + 1] {
            let a = &mut acc[g];
            match s.outcome {
                Outcome::Ok => a.ok += 1,
                Outcome::Fail => a.fail += 1,
                Outcome::Info => a.info += 1,
                Outcome::Pending => continue,
            }
            if let Some(l) = s.latency_ms() {
                a.latencies.push(l);
            }
        }
    }
    acc.into_iter()
        .enumerate()
        .map(|(g, mut a)| {
            a.latencies.sort_by(f64::total_cmp);
            let l = &a.latencies;
            LatencyRow {
                f: if g == 0 {
                    "all".into()
                } else {
                    ops.fs[g - 1].into()
                },
                count: a.ok + a.fail + a.info,
                ok: a.ok,
                fail: a.fail,
                info: a.info,
                p50_ms: percentile(l, 50.0),
                p95_ms: percentile(l, 95.0),
                p99_ms: percentile(l, 99.0),
                max_ms: l.last().copied().unwrap_or(f64::NAN),
            }
        })
        .collect()
}
