//! The search against a brute-force checker on small `kv` histories, which
//! exercise the pruning hint ([`Model::never_allows`]) with puts, appends,
//! gets, crashed and failed operations. (The property tests in
//! `tests/properties.rs` compare with brute force on the cas register, which
//! gives no hint.)

use super::{check, Options};
use crate::model::kv::Kv;
use crate::model::Model;
use crate::Verdict;
use history::{History, Op, OpType, Outcome, Process, Value};
// Seeded, so that a failing seed can be replayed.
use rng::Rng;

/// One client's operation while the simulation runs.
struct Busy {
    process: u64,
    f: &'static str,
    value: String,
    /// The get's result, once the operation took effect.
    result: Option<String>,
    applied: bool,
}

/// A history of up to `ops` operations by three clients on one key. Each
/// operation takes effect at a random instant between its invocation and
/// completion (a crashed one maybe never); some gets then lie about what
/// they saw, so that about half the histories are not linearizable.
fn random_history(seed: u64, ops: usize) -> History {
    let mut rng = Rng::new(seed, 0);
    let mut h = History::new();
    let mut store = String::new();
    let mut busy: [Option<Busy>; 3] = [None, None, None];
    let mut started = 0;
    let key = Value::Int(0);
    let lies = ["", "x", "y", "xy", "yx", "a", "ax", "axy", "b", "bx"];
    while started < ops || busy.iter().any(Option::is_some) {
        let lane = rng.below(3) as usize;
        match busy[lane].take() {
            None if started < ops => {
                let (f, value) = match rng.below(5) {
                    0 | 1 => ("get", String::new()),
                    2 => ("put", ["a", "b"][rng.below(2) as usize].to_string()),
                    _ => ("append", ["x", "y", "z"][rng.below(3) as usize].to_string()),
                };
                let process = lane as u64 + 3 * started as u64;
                let invoked = if f == "get" {
                    Value::Nil
                } else {
                    Value::Str(value.clone())
                };
                h.push(
                    Op::new(Process::Client(process), OpType::Invoke, f, invoked)
                        .with_key(key.clone()),
                );
                started += 1;
                busy[lane] = Some(Busy {
                    process,
                    f,
                    value,
                    result: None,
                    applied: false,
                });
            }
            None => {}
            Some(mut op) if !op.applied && rng.below(2) == 0 => {
                match op.f {
                    "get" => op.result = Some(store.clone()),
                    "put" => store = op.value.clone(),
                    _ => store.push_str(&op.value),
                }
                op.applied = true;
                busy[lane] = Some(op);
            }
            Some(op) => {
                let p = Process::Client(op.process);
                let (kind, value) = match rng.below(10) {
                    // Crashed: it may or may not have taken effect.
                    0 => (Some(OpType::Info), Value::Str(op.value.clone())),
                    // Failed: it did not happen.
                    1 if !op.applied => (Some(OpType::Fail), Value::Str(op.value.clone())),
                    // Never completes.
                    2 => (None, Value::Nil),
                    _ if !op.applied => {
                        busy[lane] = Some(op);
                        continue;
                    }
                    _ if op.f == "get" => {
                        let seen = op.result.clone().unwrap_or_default();
                        let seen = if rng.below(3) == 0 {
                            lies[rng.below(lies.len() as u64) as usize].to_string()
                        } else {
                            seen
                        };
                        (Some(OpType::Ok), Value::Str(seen))
                    }
                    _ => (Some(OpType::Ok), Value::Str(op.value.clone())),
                };
                if let Some(kind) = kind {
                    h.push(Op::new(p, kind, op.f, value).with_key(key.clone()));
                }
            }
        }
    }
    h
}

/// Whether some subset of the indeterminate operations and some order of
/// them with the completed ones respects real time and the model.
fn brute_force<M: Model>(model: &M, h: &History) -> bool {
    let all = history::operations(h).expect("well-formed");
    let ops: Vec<(M::Op, usize, Option<usize>)> = all
        .iter()
        .filter(|o| o.outcome != Outcome::Fail)
        .map(|o| {
            let ret = (o.outcome == Outcome::Ok)
                .then_some(o.complete_at)
                .flatten();
            (model.op(o).expect("model op"), o.invoke_at, ret)
        })
        .collect();
    let optional: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].2.is_none()).collect();
    (0..1u32 << optional.len()).any(|mask| {
        let chosen: Vec<usize> = (0..ops.len())
            .filter(|i| match optional.iter().position(|o| o == i) {
                Some(k) => mask & (1 << k) != 0,
                None => true,
            })
            .collect();
        let mut used = vec![false; ops.len()];
        orders(model, &ops, &chosen, &mut used, chosen.len(), &model.init())
    })
}

fn orders<M: Model>(
    model: &M,
    ops: &[(M::Op, usize, Option<usize>)],
    chosen: &[usize],
    used: &mut [bool],
    left: usize,
    state: &M::State,
) -> bool {
    if left == 0 {
        return true;
    }
    for &i in chosen {
        // i may go next only if no other op left returned before i's call.
        let blocked = chosen
            .iter()
            .any(|&j| j != i && !used[j] && ops[j].2.is_some_and(|r| r < ops[i].1));
        if used[i] || blocked {
            continue;
        }
        if let Some(next) = model.step(state, &ops[i].0) {
            used[i] = true;
            let found = orders(model, ops, chosen, used, left - 1, &next);
            used[i] = false;
            if found {
                return true;
            }
        }
    }
    false
}

#[test]
fn kv_search_agrees_with_brute_force() {
    let (mut valid, mut invalid) = (0, 0);
    for seed in 0..6000 {
        let h = random_history(seed, 1 + (seed % 10) as usize);
        let want = brute_force(&Kv, &h);
        let got = check(&Kv, &h, &Options::default())
            .expect("well-formed history")
            .verdict;
        let want = if want {
            valid += 1;
            Verdict::Valid
        } else {
            invalid += 1;
            Verdict::Invalid
        };
        assert_eq!(got, want, "seed {seed}, history:\n{:?}", h.ops());
    }
    // Both verdicts must be well represented for the comparison to mean anything.
    assert!(
        valid > 1000 && invalid > 1000,
        "{valid} valid, {invalid} invalid"
    );
}
