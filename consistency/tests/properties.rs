//! Property tests of the linearizability search:
//! - histories produced by a linearizable object under random concurrency
//!   (with crashes that may take effect late or never) are valid;
//! - an injected stale read or lost write makes them invalid;
//! - on small histories the search agrees with a brute-force checker that
//!   tries every order allowed by real time.

use consistency::linearizable::{check, Options};
use consistency::model::cas_register::CasRegister;
use consistency::model::kv::Kv;
use consistency::model::Model;
use consistency::Verdict;
use history::{History, Op, OpType, Outcome, Process, Value};
use proptest::prelude::*;
// Seeded, so a failing case is reproducible from its seed.
use rng::Rng;

/// An operation in flight against the simulated register.
struct InFlight {
    process: u64,
    f: &'static str,
    arg: Value,
    /// The result, once the effect has been applied.
    result: Option<(OpType, Value)>,
}

/// Runs `ops` random operations of `processes` clients against one atomic
/// register. Each operation takes effect at one random instant between its
/// invocation and completion; a crashed one (`info`) may take effect at any
/// later instant, or never.
fn linearizable_register_history(seed: u64, processes: u64, ops: usize, crashes: bool) -> History {
    let mut rng = Rng::new(seed, 0);
    let mut h = History::new();
    let mut register = Value::Nil;
    let mut in_flight: Vec<Option<InFlight>> = (0..processes).map(|_| None).collect();
    let mut ids: Vec<u64> = (0..processes).collect();
    let mut zombies: Vec<InFlight> = Vec::new();
    let mut invoked = 0;
    let apply = |register: &mut Value, op: &mut InFlight| {
        let result = match op.f {
            "read" => (OpType::Ok, register.clone()),
            "write" => {
                *register = op.arg.clone();
                (OpType::Ok, op.arg.clone())
            }
            _ => {
                let [old, new] = op.arg.as_seq().expect("cas arg") else {
                    unreachable!()
                };
                if old == register {
                    *register = new.clone();
                    (OpType::Ok, op.arg.clone())
                } else {
                    (OpType::Fail, op.arg.clone())
                }
            }
        };
        op.result = Some(result);
    };
    while invoked < ops || in_flight.iter().any(Option::is_some) {
        // Now and then, a crashed operation takes effect late.
        if !zombies.is_empty() && rng.chance(0.10) {
            let k = rng.below(zombies.len() as u64) as usize;
            let mut z = zombies.swap_remove(k);
            apply(&mut register, &mut z);
        }
        let slot = rng.below(processes) as usize;
        match in_flight[slot].take() {
            None if invoked < ops => {
                let v = |rng: &mut Rng| Value::Int(rng.below(4) as i64);
                let (f, arg) = match rng.below(3) {
                    0 => ("read", Value::Nil),
                    1 => ("write", v(&mut rng)),
                    _ => ("cas", Value::Vector(vec![v(&mut rng), v(&mut rng)])),
                };
                h.push(Op::new(
                    Process::Client(ids[slot]),
                    OpType::Invoke,
                    f,
                    arg.clone(),
                ));
                in_flight[slot] = Some(InFlight {
                    process: ids[slot],
                    f,
                    arg,
                    result: None,
                });
                invoked += 1;
            }
            None => {}
            Some(mut op) => {
                if op.result.is_none() && rng.chance(0.50) {
                    apply(&mut register, &mut op); // takes effect now, completes later
                    in_flight[slot] = Some(op);
                    continue;
                }
                if crashes && rng.chance(0.08) {
                    h.push(Op::new(
                        Process::Client(op.process),
                        OpType::Info,
                        op.f,
                        op.arg.clone(),
                    ));
                    if op.result.is_none() && rng.chance(0.50) {
                        zombies.push(op);
                    }
                    ids[slot] += processes; // the crashed process is retired, as in Jepsen
                    continue;
                }
                if op.result.is_none() {
                    apply(&mut register, &mut op);
                }
                let (kind, value) = op.result.clone().expect("applied");
                h.push(Op::new(Process::Client(op.process), kind, op.f, value));
            }
        }
    }
    h
}

fn verdict<M: Model>(model: &M, h: &History) -> Verdict {
    check(model, h, &Options::default())
        .expect("well-formed history")
        .verdict
}

/// Appends a completed operation by a fresh process.
fn append_op(h: &mut History, process: u64, f: &str, invoke: Value, complete: Value) {
    h.push(Op::new(Process::Client(process), OpType::Invoke, f, invoke));
    h.push(Op::new(Process::Client(process), OpType::Ok, f, complete));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn linearizable_executions_are_valid(seed in any::<u64>(), processes in 1u64..6, ops in 1usize..60) {
        let h = linearizable_register_history(seed, processes, ops, true);
        prop_assert_eq!(verdict(&CasRegister, &h), Verdict::Valid, "history:\n{:?}", h.ops());
    }

    #[test]
    fn a_stale_read_is_invalid(seed in any::<u64>(), processes in 1u64..6, ops in 0usize..40) {
        let mut h = linearizable_register_history(seed, processes, ops, false);
        append_op(&mut h, 1000, "write", Value::Int(100), Value::Int(100));
        append_op(&mut h, 1001, "write", Value::Int(101), Value::Int(101));
        append_op(&mut h, 1002, "read", Value::Nil, Value::Int(100));
        prop_assert_eq!(verdict(&CasRegister, &h), Verdict::Invalid);
    }

    #[test]
    fn a_lost_write_is_invalid(seed in any::<u64>(), appends in 1usize..12, processes in 1u64..4) {
        // Concurrent appends to one key, each acknowledged; a final read
        // that misses the last acknowledged one lost it.
        let mut rng = Rng::new(seed, 0);
        let mut h = History::new();
        let mut state = String::new();
        let mut pending: Vec<(u64, String)> = Vec::new();
        for i in 0..appends {
            let p = rng.below(processes) + 10 * i as u64;
            let v = format!("<{i}>");
            h.push(Op::new(Process::Client(p), OpType::Invoke, "append", Value::Str(v.clone())).with_key(Value::Int(0)));
            pending.push((p, v));
            if rng.chance(0.50) {
                let (p, v) = pending.remove(0);
                state.push_str(&v);
                h.push(Op::new(Process::Client(p), OpType::Ok, "append", Value::Str(v)).with_key(Value::Int(0)));
            }
        }
        for (p, v) in pending {
            state.push_str(&v);
            h.push(Op::new(Process::Client(p), OpType::Ok, "append", Value::Str(v)).with_key(Value::Int(0)));
        }
        let read = |h: &History, seen: &str| {
            let mut h = h.clone();
            h.push(Op::new(Process::Client(5000), OpType::Invoke, "get", Value::Nil).with_key(Value::Int(0)));
            h.push(Op::new(Process::Client(5000), OpType::Ok, "get", Value::Str(seen.to_string())).with_key(Value::Int(0)));
            h
        };
        prop_assert_eq!(verdict(&Kv, &read(&h, &state)), Verdict::Valid);
        // The final read misses the last acknowledged append.
        let last = state.rfind('<').expect("one append");
        let bad = read(&h, &state[..last]);
        prop_assert_eq!(verdict(&Kv, &bad), Verdict::Invalid);
    }

    #[test]
    fn agrees_with_brute_force_on_small_histories(spec in small_history()) {
        let h = build(&spec);
        let want = if brute_force(&CasRegister, &h) { Verdict::Valid } else { Verdict::Invalid };
        prop_assert_eq!(verdict(&CasRegister, &h), want, "history:\n{:?}", h.ops());
    }
}

/// One operation of a generated small history.
#[derive(Debug, Clone)]
struct SmallOp {
    process: u64,
    f: u8,
    a: i64,
    b: i64,
    outcome: u8,
}

fn small_history() -> impl Strategy<Value = (Vec<SmallOp>, Vec<u64>)> {
    let op =
        (0u64..3, 0u8..3, 0i64..3, 0i64..3, 0u8..10).prop_map(|(process, f, a, b, outcome)| {
            SmallOp {
                process,
                f,
                a,
                b,
                outcome,
            }
        });
    (
        prop::collection::vec(op, 0..=8),
        prop::collection::vec(0u64..3, 0..24),
    )
}

/// Builds a history from operations and a schedule of which process moves next.
fn build((ops, schedule): &(Vec<SmallOp>, Vec<u64>)) -> History {
    let mut queues: Vec<Vec<Op>> = vec![Vec::new(); 3];
    for (i, op) in ops.iter().enumerate() {
        let v = |x: i64| if x == 2 { Value::Nil } else { Value::Int(x) };
        let (f, invoke, ok) = match op.f {
            0 => ("read", Value::Nil, v(op.a)),
            1 => ("write", v(op.a), v(op.a)),
            _ => (
                "cas",
                Value::Vector(vec![v(op.a), v(op.b)]),
                Value::Vector(vec![v(op.a), v(op.b)]),
            ),
        };
        // Each op gets its own process id per lane so crashed ops retire it.
        let process = op.process + 3 * i as u64;
        let q = &mut queues[op.process as usize];
        q.push(Op::new(
            Process::Client(process),
            OpType::Invoke,
            f,
            invoke.clone(),
        ));
        match op.outcome {
            0..=5 => q.push(Op::new(Process::Client(process), OpType::Ok, f, ok)),
            6 | 7 => q.push(Op::new(Process::Client(process), OpType::Info, f, invoke)),
            8 => q.push(Op::new(Process::Client(process), OpType::Fail, f, invoke)),
            _ => {} // never completes
        }
    }
    let mut h = History::new();
    let mut next = [0usize; 3];
    // Emits the lane's next event, if it has one left.
    let mut emit = |lane: usize, h: &mut History| {
        if let Some(op) = queues[lane].get(next[lane]) {
            h.push(op.clone());
            next[lane] += 1;
        }
    };
    for &lane in schedule {
        emit(lane as usize, &mut h);
    }
    for lane in 0..3 {
        for _ in 0..16 {
            emit(lane, &mut h);
        }
    }
    h
}

/// Tries every subset of indeterminate operations and every order allowed
/// by real time. Exponential: only for tiny histories.
fn brute_force<M: Model>(model: &M, h: &History) -> bool {
    let all = history::operations(h).expect("well-formed");
    struct B<O> {
        op: O,
        call: usize,
        ret: Option<usize>,
    }
    let ops: Vec<B<M::Op>> = all
        .iter()
        .filter(|o| o.outcome != Outcome::Fail)
        .map(|o| B {
            op: model.op(o).expect("model op"),
            call: o.invoke_at,
            ret: if o.outcome == Outcome::Ok {
                o.complete_at
            } else {
                None
            },
        })
        .collect();
    let optional: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].ret.is_none()).collect();
    for mask in 0..(1u32 << optional.len()) {
        let chosen: Vec<usize> = (0..ops.len())
            .filter(|&i| match optional.iter().position(|&o| o == i) {
                Some(k) => mask & (1 << k) != 0,
                None => true,
            })
            .collect();
        let mut used = vec![false; ops.len()];
        if permute(
            model,
            &ops.iter()
                .map(|b| (&b.op, b.call, b.ret))
                .collect::<Vec<_>>(),
            &chosen,
            &mut used,
            0,
            &model.init(),
        ) {
            return true;
        }
    }
    false
}

fn permute<M: Model>(
    model: &M,
    ops: &[(&M::Op, usize, Option<usize>)],
    chosen: &[usize],
    used: &mut [bool],
    placed: usize,
    state: &M::State,
) -> bool {
    if placed == chosen.len() {
        return true;
    }
    for &i in chosen {
        if used[i] {
            continue;
        }
        // i may go next only if no other unplaced chosen op returned before i was called.
        let blocked = chosen
            .iter()
            .any(|&j| j != i && !used[j] && ops[j].2.is_some_and(|r| r < ops[i].1));
        if blocked {
            continue;
        }
        if let Some(next) = model.step(state, ops[i].0) {
            used[i] = true;
            let ok = permute(model, ops, chosen, used, placed + 1, &next);
            used[i] = false;
            if ok {
                return true;
            }
        }
    }
    false
}
