//! Every Porcupine test file reads with format detection, with the op
//! counts that `EXPECTED.tsv` gives.

use history::{format, operations, Format, OpType, Process};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../consistency/tests/data/porcupine")
}

/// `file` → `ops` column of EXPECTED.tsv (files marked NA are absent).
fn expected_ops() -> HashMap<String, usize> {
    let tsv = std::fs::read_to_string(data_dir().join("EXPECTED.tsv")).expect("EXPECTED.tsv");
    let mut lines = tsv.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let file_col = header
        .iter()
        .position(|&c| c == "file")
        .expect("file column");
    let ops_col = header.iter().position(|&c| c == "ops").expect("ops column");
    lines
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let ops = cols[ops_col].parse().ok()?;
            Some((cols[file_col].to_string(), ops))
        })
        .collect()
}

fn files(sub: &str, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data_dir().join(sub))
        .expect("data dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

#[test]
fn kv_files_read_as_edn_with_twice_the_expected_ops() {
    let expected = expected_ops();
    let kv = files("kv", "txt");
    assert_eq!(kv.len(), 6);
    for path in kv {
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(format::detect(&bytes), Format::Edn, "{}", path.display());
        let h = format::read(&bytes, Format::Auto)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = format!("kv/{}", path.file_name().unwrap().to_string_lossy());
        let ops = expected[&name];
        assert_eq!(h.len(), 2 * ops, "{name}");
        // one op per line, numbered by position, lines remembered
        for (i, op) in h.ops().iter().enumerate() {
            assert_eq!(op.index, i as u64);
            assert_eq!(h.line(i), Some(i as u32 + 1));
            assert!(op.key.is_some(), "{name}: op {i} has no :key");
            assert!(
                matches!(op.f.as_str(), "get" | "put" | "append"),
                "{name}: {}",
                op.f
            );
            assert_eq!(op.time, -1);
        }
        let pairs = operations(&h).unwrap();
        assert_eq!(pairs.len(), ops, "{name}");
    }
}

#[test]
fn etcd_logs_read_as_jepsen_logs_with_the_expected_invocations() {
    let expected = expected_ops();
    let logs = files("jepsen", "log");
    assert_eq!(logs.len(), 103);
    let mut total_invocations = 0;
    let mut total_info = 0;
    for path in logs {
        let name = format!("jepsen/{}", path.file_name().unwrap().to_string_lossy());
        let bytes = std::fs::read(&path).unwrap();
        let h = format::read(&bytes, Format::Auto).unwrap_or_else(|e| panic!("{name}: {e}"));
        if bytes.is_empty() {
            assert!(h.is_empty());
            continue;
        }
        assert_eq!(format::detect(&bytes), Format::JepsenLog, "{name}");
        let invocations = h
            .ops()
            .iter()
            .filter(|op| op.kind == OpType::Invoke)
            .count();
        total_invocations += invocations;
        total_info += h.ops().iter().filter(|op| op.kind == OpType::Info).count();
        if let Some(&ops) = expected.get(&name) {
            assert_eq!(invocations, ops, "{name}");
        }
        for op in h.ops() {
            // ids grow past the 5 client slots as crashed processes are retired
            assert!(
                matches!(op.process, Process::Client(_)),
                "{name}: {:?}",
                op.process
            );
            assert!(
                matches!(op.f.as_str(), "read" | "write" | "cas"),
                "{name}: {}",
                op.f
            );
        }
        operations(&h).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // linearizability.md §4: 8,523 invocations and 1,283 indeterminate ops in total
    assert_eq!(total_invocations, 8523);
    assert_eq!(total_info, 1283);
}

#[test]
fn space_separated_etcd_log_reads_like_tab_separated() {
    let bytes = std::fs::read(data_dir().join("jepsen/etcd_100.log")).unwrap();
    let h = format::read(&bytes, Format::JepsenLog).unwrap();
    assert!(!h.is_empty());
    let first = &h.ops()[0];
    assert_eq!(first.process, Process::Client(1));
    assert_eq!(first.kind, OpType::Invoke);
    assert_eq!(first.f, "write");
    assert_eq!(first.value, history::Value::Int(3));
    let cas = h.ops().iter().find(|op| op.f == "cas").unwrap();
    assert!(
        matches!(cas.value.as_seq(), Some([_, _])),
        "{:?}",
        cas.value
    );
}
