//! `bank`: transfers between accounts and reads of every balance (Jepsen's
//! bank test): the total must be conserved and no balance negative.

use crate::generator::{from_fn, Invocation};
use crate::workload::{reads, Data, Options, Workload, WorkloadKind};
use consistency::checker::bank::Bank;
use history::Value;

/// The workload's row of [`crate::WORKLOADS`].
pub static BANK: WorkloadKind = WorkloadKind {
    name: "bank",
    about:
        "transfers between accounts and reads of every balance: the total must hold (Jepsen's bank)",
    data: Data::Accounts,
    build: workload,
};

/// The workload.
pub fn workload(options: &Options) -> Workload {
    let accounts = options.accounts.max(2);
    let ops = from_fn(move |ctx| {
        if ctx.rng.chance(0.3) {
            return Invocation::new("read", Value::Nil);
        }
        let from = ctx.rng.below(accounts) as i64;
        let to = (from + 1 + ctx.rng.below(accounts - 1) as i64) % accounts as i64;
        let amount = ctx.rng.between(1, 5) as i64;
        let kw = |k: &str| Value::Keyword(k.to_string());
        Invocation::new(
            "transfer",
            Value::Map(vec![
                (kw("from"), Value::Int(from)),
                (kw("to"), Value::Int(to)),
                (kw("amount"), Value::Int(amount)),
            ]),
        )
    });
    let each = options.total / accounts as i64;
    Workload {
        generator: ops,
        initial: (0..accounts as i64)
            .map(|a| (Value::Int(a), Value::Int(each)))
            .collect(),
        final_reads: vec![Invocation::new("final-read", Value::Nil)],
        checks: vec![reads(Bank::DEFAULT)],
    }
}
