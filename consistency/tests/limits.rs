//! Running out of time or memory gives `unknown` with the cause, never a guessed verdict.

use consistency::linearizable::{check_model, Options, PartitionVerdict};
use consistency::{Unknown, Verdict};
use std::time::Duration;

/// etcd_002 needs about 300,000 search steps: far more than one slice.
fn hard_history() -> history::History {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/porcupine/jepsen/etcd_002.log"
    );
    history::format::read(&std::fs::read(path).expect("file"), history::Format::Auto)
        .expect("parses")
}

#[test]
fn a_memory_budget_that_is_too_small_gives_unknown_out_of_memory() {
    let options = Options {
        memory_limit: 1,
        ..Options::default()
    };
    let analysis = check_model("cas-register", &hard_history(), &options).expect("checks");
    assert_eq!(analysis.verdict, Verdict::Unknown(Unknown::OutOfMemory));
    assert_eq!(
        analysis.partitions[0].verdict,
        PartitionVerdict::Unknown(Unknown::OutOfMemory)
    );
}

#[test]
fn a_timeout_gives_unknown_timeout() {
    let options = Options {
        timeout: Some(Duration::from_nanos(1)),
        ..Options::default()
    };
    let analysis = check_model("cas-register", &hard_history(), &options).expect("checks");
    assert_eq!(analysis.verdict, Verdict::Unknown(Unknown::Timeout));
}

#[test]
fn without_limits_the_same_history_is_valid() {
    let analysis =
        check_model("cas-register", &hard_history(), &Options::default()).expect("checks");
    assert_eq!(analysis.verdict, Verdict::Valid);
}
