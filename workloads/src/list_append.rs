//! `list-append`: transactions of 1 to 5 micro-ops, each an append of a unique value to a
//! list or a read of a whole list, over a rotating set of keys (Jepsen's `elle` list-append
//! generator, [`crate::transactions`]), judged by Elle's list-append analysis for the
//! consistency models of the run (strict serializable unless told otherwise).

use crate::workload::{Data, Options, Workload, WorkloadKind};
use consistency::txn::{Elle, Workload as Txns};

/// The workload's row of [`crate::WORKLOADS`].
pub static LIST_APPEND: WorkloadKind = WorkloadKind {
    name: "list-append",
    about: "transactions of appends and whole-list reads over rotating keys, judged by Elle's cycle analysis",
    data: Data::Lists,
    build: workload,
};

/// The workload: `options.keys` keys active at a time (at least 2).
pub fn workload(options: &Options) -> Workload {
    Workload {
        generator: crate::transactions::generator(options, "append"),
        initial: Vec::new(),
        final_reads: Vec::new(),
        checks: vec![Box::new(Elle(Txns::ListAppend))],
    }
}
