//! Writes a strict serializable list-append (or rw-register) history of the Elle paper's
//! shape (1-5 micro-ops per transaction over 100 keys, 100 writes per key, see
//! `consistency::txn::generate`) as Jepsen EDN, one map per line.
//!
//! Usage:
//!   cargo run --release -p checker --example gen_append_history -- \
//!       --transactions N [--processes C] [--seed S] [--workload rw-register] --out FILE

use consistency::txn::generate::{serializable, Shape};
use consistency::txn::Workload;
use std::process::exit;

fn main() {
    let mut shape = Shape::default();
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let number = || {
            value
                .parse::<u64>()
                .unwrap_or_else(|_| usage(&format!("{flag}: not a number: {value}")))
        };
        match flag.as_str() {
            "--transactions" => shape.transactions = number() as usize,
            "--processes" => shape.processes = number(),
            "--seed" => shape.seed = number(),
            "--out" => out = Some(value.clone()),
            "--workload" => {
                shape.workload = match value.as_str() {
                    "list-append" => Workload::ListAppend,
                    "rw-register" => Workload::RwRegister,
                    _ => usage(&format!(
                        "--workload: list-append or rw-register, not {value}"
                    )),
                }
            }
            _ => usage(&format!("unknown option {flag}")),
        }
    }
    let Some(out) = out else {
        usage("--out FILE is required")
    };
    let history = serializable(&shape);
    let file =
        std::fs::File::create(&out).unwrap_or_else(|e| usage(&format!("cannot create {out}: {e}")));
    let mut writer = std::io::BufWriter::new(file);
    if let Err(e) = history::edn::write(&history, &mut writer) {
        usage(&format!("cannot write {out}: {e}"));
    }
}

fn usage(problem: &str) -> ! {
    eprintln!("gen_append_history: {problem}\nusage: gen_append_history --transactions N [--processes C] [--seed S] [--workload list-append|rw-register] --out FILE");
    exit(2)
}
