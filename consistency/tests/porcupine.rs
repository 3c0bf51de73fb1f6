//! Every history of Porcupine's test suite gets the verdict upstream expects
//! (`tests/data/porcupine/EXPECTED.tsv`): 102 Jepsen etcd logs checked as a
//! `cas-register`, and 6 key-value histories checked as `kv`.

use consistency::linearizable::{check_model, Options};
use consistency::Verdict;
use std::path::PathBuf;

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/porcupine")
}

fn expected() -> Vec<(String, Verdict)> {
    let tsv = std::fs::read_to_string(data().join("EXPECTED.tsv")).expect("EXPECTED.tsv");
    tsv.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let verdict = match cols[2] {
                "true" => Verdict::Valid,
                "false" => Verdict::Invalid,
                _ => return None,
            };
            Some((cols[0].to_string(), verdict))
        })
        .collect()
}

fn model_for(file: &str) -> &'static str {
    if file.starts_with("kv/") {
        "kv"
    } else {
        "cas-register"
    }
}

#[test]
fn every_expected_verdict_is_reproduced() {
    let cases = expected();
    assert_eq!(
        cases.len(),
        108,
        "EXPECTED.tsv lists 108 files with a verdict"
    );
    let mut wrong = Vec::new();
    for (file, want) in &cases {
        let bytes = std::fs::read(data().join(file)).expect("history file");
        let history = history::format::read(&bytes, history::Format::Auto).expect("parses");
        let analysis = check_model(model_for(file), &history, &Options::default()).expect("checks");
        if &analysis.verdict != want {
            wrong.push(format!("{file}: expected {want}, got {}", analysis.verdict));
        }
        if *want == Verdict::Invalid {
            assert!(
                analysis.explanations().next().is_some(),
                "{file}: an invalid verdict comes with an explanation"
            );
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

#[test]
fn etcd_counts_match_upstream() {
    let cases = expected();
    let etcd: Vec<_> = cases
        .iter()
        .filter(|(f, _)| f.starts_with("jepsen/"))
        .collect();
    assert_eq!(etcd.len(), 102);
    assert_eq!(
        etcd.iter().filter(|(_, v)| *v == Verdict::Valid).count(),
        23
    );
}

#[test]
fn the_empty_log_is_valid() {
    let bytes = std::fs::read(data().join("jepsen/etcd_095.log")).expect("file");
    let history = history::format::read(&bytes, history::Format::Auto).expect("parses");
    let analysis = check_model("cas-register", &history, &Options::default()).expect("checks");
    assert_eq!(analysis.verdict, Verdict::Valid);
    assert_eq!(analysis.operations, 0);
}
