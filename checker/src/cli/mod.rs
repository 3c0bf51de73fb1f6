//! Command-line entry: argument parsing, exit codes, and the subcommands.
//!
//! Exit codes follow Jepsen: 0 valid, 1 invalid, 2 unknown, 254 bad
//! arguments or bad input, 255 internal error.

mod bench;
mod check;
mod cluster;
mod compare;
mod demo;
mod elle;
mod kube;
mod report;
mod run;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Bad arguments or bad input.
pub const EXIT_BAD_INPUT: u8 = 254;
/// A bug: the checker itself failed.
pub const EXIT_INTERNAL: u8 = 255;

#[derive(Parser)]
#[command(
    name = "checker",
    version,
    about = "A consistency lab: checks Jepsen-style histories against consistency models.",
    after_help = "Examples:\n  checker                     # demo: register on sim, strong vs eventual, under partitions (~30 s)\n  checker run --workload bank --nemesis all\n  checker compare --nemesis partition,clock\n  checker check history.edn --model cas-register\n  checker check kv.txt --model kv --out results/kv-check\n  checker check --help\n\nExit codes: 0 valid, 1 invalid, 2 unknown, 254 bad arguments or input, 255 internal error."
)]
struct Cli {
    /// With no command: the demo (register on the embedded store, strong vs eventual, under partitions).
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Check history files: linearizability against a model, Jepsen's checkers, or Elle's transactional isolation.
    Check(check::Args),
    /// Run a workload against a target with faults, record, check and report.
    Run(run::Args),
    /// Run a matrix of targets x consistency x nemesis and summarize it in one table.
    Compare(compare::Args),
    /// Rebuild a run's report.html from its folder.
    Report(report::Args),
    /// Start, stop and inspect the real clusters on this machine, one network namespace per node (see `checker cluster --help`).
    Cluster(cluster::Args),
    /// Undo faults the lab left behind (`checker nemesis heal`).
    Nemesis(cluster::NemesisArgs),
    /// Deploy the service system on the lab's Kubernetes cluster with its Helm chart (see `checker kube --help`).
    Kube(kube::Args),
    /// Time checks in-process (parsing excluded), for comparisons with other checkers.
    Bench(bench::Args),
}

/// Parses arguments, runs the command, and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_BAD_INPUT } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let run = std::panic::catch_unwind(|| match cli.command {
        None => demo::run(),
        Some(Command::Check(args)) => check::run(args),
        Some(Command::Run(args)) => run::run(args),
        Some(Command::Compare(args)) => compare::run(args),
        Some(Command::Report(args)) => report::run(args),
        Some(Command::Bench(args)) => bench::run(args),
        Some(Command::Cluster(args)) => cluster::run(args),
        Some(Command::Nemesis(args)) => cluster::nemesis(args),
        Some(Command::Kube(args)) => kube::run(args),
    });
    match run {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_INTERNAL)
        }
        Err(_) => {
            eprintln!("error: internal error (a bug in checker); please report it with the input that caused it");
            ExitCode::from(EXIT_INTERNAL)
        }
    }
}
