//! `rw-register`: transactions of 1 to 5 micro-ops, each a write of a unique value to a
//! register or a read of one, over a rotating set of keys (Jepsen's `elle` rw-register
//! generator, [`crate::transactions`]), judged by Elle's rw-register analysis for the
//! consistency models of the run (strict serializable unless told otherwise), with the
//! version-order assumptions the run asks for.

use crate::workload::{Data, Options, Workload, WorkloadKind};
use consistency::txn::{Elle, Workload as Txns};

/// The workload's row of [`crate::WORKLOADS`].
pub static RW_REGISTER: WorkloadKind = WorkloadKind {
    name: "rw-register",
    about: "transactions of register writes and reads over rotating keys, judged by Elle's cycle analysis",
    data: Data::TxnRegisters,
    build: workload,
};

/// The workload: `options.keys` keys active at a time (at least 2).
pub fn workload(options: &Options) -> Workload {
    Workload {
        generator: crate::transactions::generator(options, "w"),
        initial: Vec::new(),
        final_reads: Vec::new(),
        checks: vec![Box::new(Elle(Txns::RwRegister))],
    }
}
