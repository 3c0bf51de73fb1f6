//! When the nemesis had a fault in effect, from its events in a history.

use crate::report::html::clip;
use history::{History, Op, OpType, Process, Value};
use serde::Serialize;

/// A span of time during which a fault injected by the nemesis was in
/// effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultInterval {
    /// When the fault took effect: the completion of the op that started it (ns).
    pub start_ns: i64,
    /// When it ended: the completion of the op that stopped it, or the end
    /// of the history if nothing did (ns).
    pub end_ns: i64,
    /// The starting op's `:f` and its value, shortened, e.g.
    /// `start-partition [n1] [n2 n3]`.
    pub label: String,
}

/// The faults we know: `(the :f that starts one, the :fs that end it, kind)`.
///
/// `start`/`stop` are the names of Jepsen's older nemeses
/// (`partition-random-halves`, …); `start` also ends a `kill`, as in
/// Jepsen's `nemesis.combined` (where `:start` restarts killed nodes): an
/// `:f` that ends an open fault ends it, and only otherwise starts one.
const FAULTS: &[(&str, &[&str], &str)] = &[
    ("start-partition", &["stop-partition"], "partition"),
    ("kill", &["restart", "start"], "kill"),
    ("pause", &["resume"], "pause"),
    ("start-clock-skew", &["stop-clock-skew"], "clock"),
    ("start-latency", &["stop-latency"], "latency"),
    ("start", &["stop"], "other"),
];

/// Ends every open fault.
const HEAL: &str = "heal";

/// Characters of a fault's value in its label.
const FAULT_VALUE_CHARS: usize = 48;

/// Whether `op` is the nemesis' (`:process :nemesis`).
pub fn is_nemesis(op: &Op) -> bool {
    matches!(&op.process, Process::Named(n) if n == "nemesis")
}

/// A fault interval and its kind (`partition`, `kill`, …), for colours.
#[derive(Debug, Clone)]
pub(crate) struct Fault {
    pub interval: FaultInterval,
    pub kind: &'static str,
}

/// The faults the nemesis injected, in order of their start.
///
/// Nemesis events are the ops of `Process::Named("nemesis")`. Jepsen records
/// both the invocation and the completion of a nemesis op as `:info`; two
/// consecutive nemesis events with the same `:f` (the first an `:invoke` or
/// `:info`) are taken as one op's invocation and completion, and a lone
/// event as both. A fault starts at the completion of `start-partition`,
/// `kill`, `pause`, `start-clock-skew`, `start-latency` or `start`, and ends
/// at the completion of the matching `stop-partition`, `restart` (or
/// `start`), `resume`, `stop-clock-skew`, `stop-latency` or `stop`, or of
/// `heal`, which ends all open faults, or else at the end of the history
/// (its latest time). A stop whose value equals an open fault's value (e.g.
/// `restart n1` after `kill n1`) ends that fault only; any other stop ends
/// every open fault of its kind. A `:fail` completion starts or ends
/// nothing. Events without a time take the latest time seen before them.
///
/// The label is the starting `:f` and the completion's value (the
/// invocation's when the completion's is `nil`), shortened.
pub fn fault_intervals(h: &History) -> Vec<FaultInterval> {
    faults(h).into_iter().map(|f| f.interval).collect()
}

pub(crate) fn faults(h: &History) -> Vec<Fault> {
    let mut latest = -1i64;
    let mut events: Vec<(i64, &Op)> = Vec::new();
    for op in h.ops() {
        latest = latest.max(op.time);
        if is_nemesis(op) {
            events.push((if op.time >= 0 { op.time } else { latest }, op));
        }
    }
    let end = latest;

    struct Open {
        seq: usize,
        kind: &'static str,
        stops: &'static [&'static str],
        start: i64,
        value: String,
        label: String,
    }
    let close = |o: Open, at: i64| {
        (
            o.seq,
            Fault {
                interval: FaultInterval {
                    start_ns: o.start,
                    end_ns: at.max(o.start),
                    label: o.label,
                },
                kind: o.kind,
            },
        )
    };
    let mut open: Vec<Open> = Vec::new();
    let mut done: Vec<(usize, Fault)> = Vec::new();
    let mut seq = 0;
    let mut j = 0;
    while j < events.len() {
        let (_, invocation) = events[j];
        let paired = matches!(invocation.kind, OpType::Invoke | OpType::Info)
            && events
                .get(j + 1)
                .is_some_and(|(_, next)| next.f == invocation.f && next.kind != OpType::Invoke);
        let k = if paired { j + 1 } else { j };
        j = k + 1;
        let (at, completion) = events[k];
        if matches!(completion.kind, OpType::Fail | OpType::Invoke) {
            continue;
        }
        let value = if completion.value.is_nil() {
            &invocation.value
        } else {
            &completion.value
        };
        let text = value_text(value);
        let f = completion.f.as_str();
        if f == HEAL {
            for o in open.drain(..) {
                done.push(close(o, at));
            }
            continue;
        }
        let ends: Vec<usize> = (0..open.len())
            .filter(|&i| open[i].stops.contains(&f))
            .collect();
        if !ends.is_empty() {
            let same: Vec<usize> = ends
                .iter()
                .copied()
                .filter(|&i| !text.is_empty() && open[i].value == text)
                .collect();
            let which = if same.is_empty() { ends } else { same };
            for i in which.into_iter().rev() {
                let o = open.remove(i);
                done.push(close(o, at));
            }
            continue;
        }
        if let Some(&(_, stops, kind)) = FAULTS.iter().find(|(start, ..)| *start == f) {
            let label = if text.is_empty() {
                f.to_string()
            } else {
                format!("{f} {}", clip(&text, FAULT_VALUE_CHARS))
            };
            open.push(Open {
                seq,
                kind,
                stops,
                start: at,
                value: text,
                label,
            });
            seq += 1;
        }
    }
    for o in open {
        done.push(close(o, end));
    }
    done.sort_by_key(|(seq, f)| (f.interval.start_ns, *seq));
    done.into_iter().map(|(_, f)| f).collect()
}

/// A value as text: strings without quotes, `nil` as nothing, the rest as EDN.
fn value_text(v: &Value) -> String {
    match v {
        Value::Nil => String::new(),
        Value::Str(s) | Value::Keyword(s) | Value::Symbol(s) => s.clone(),
        v => v.to_string(),
    }
}
