//! Large inputs, which the EDN and JSON readers split into chunks parsed in
//! parallel: the results (indexes, lines, errors) must be those of one
//! sequential pass.
//!
//! The timing test is ignored by default; run it in release mode with
//! `cargo test --release -p history --test large -- --ignored --nocapture`.

use history::{edn, json, OpType, Process, Value};
use std::fmt::Write;
use std::time::Instant;

/// A kv history line as in Porcupine's data, with index and time.
fn kv_edn(n: usize) -> String {
    let mut s = String::with_capacity(n * 96);
    for i in 0..n {
        let kind = if i % 2 == 0 { "invoke" } else { "ok" };
        let _ = writeln!(
            s,
            "{{:process {}, :type :{kind}, :f :append, :key \"{}\", :value \"x {} {} y\", :index {i}, :time {}}}",
            i % 50,
            i % 10,
            i % 50,
            i / 2,
            i * 1000
        );
    }
    s
}

/// Ops without `:index` (numbered by position), some of whose values span
/// three lines and contain `\n{` inside a string, so a chunk boundary may
/// fall inside a string. Returns the text and each op's first line.
fn tricky_edn(n: usize) -> (String, Vec<u32>) {
    let mut s = String::new();
    let mut lines = Vec::with_capacity(n);
    let mut line = 1;
    for i in 0..n {
        lines.push(line);
        if i % 7 == 3 {
            let _ = writeln!(
                s,
                "{{:process {i}, :type :info, :f :w, :value \"a\n{{:process 1 :type :ok}}\nb\"}}"
            );
            line += 3;
        } else {
            let _ = writeln!(
                s,
                "{{:process {i}, :type :invoke, :f :r, :value [{i} #{{:a}} {{\"k\" nil}}]}}"
            );
            line += 1;
        }
    }
    (s, lines)
}

#[test]
fn chunked_edn_read_numbers_ops_and_lines_like_a_sequential_read() {
    let (text, lines) = tricky_edn(120_000);
    assert!(text.len() > 5 << 20, "{}", text.len());
    let h = edn::read(text.as_bytes()).unwrap();
    assert_eq!(h.len(), lines.len());
    for (i, op) in h.ops().iter().enumerate() {
        assert_eq!(op.index, i as u64);
        assert_eq!(op.process, Process::Client(i as u64));
        assert_eq!(h.line(i), Some(lines[i]), "op {i}");
        if i % 7 == 3 {
            assert_eq!(op.value, Value::Str("a\n{:process 1 :type :ok}\nb".into()));
        } else {
            assert_eq!(op.kind, OpType::Invoke);
        }
    }
    // the same text read sequentially (a leading comment disables chunking)
    let sequential = edn::read(format!(";\n{text}").as_bytes()).unwrap();
    assert_eq!(sequential.ops(), h.ops());
    assert_eq!(sequential.line(5), Some(lines[5] + 1));
}

#[test]
fn chunked_edn_read_reports_the_first_error_with_its_file_line() {
    let (mut text, lines) = tricky_edn(120_000);
    assert!(lines.len() > 100_000);
    let last_line = text.bytes().filter(|&b| b == b'\n').count() as u32 + 1;
    text.push_str("{:process 0, :type :okk}\n");
    text.push_str("{:process 0}\n");
    let e = edn::read(text.as_bytes()).unwrap_err();
    assert_eq!((e.line, e.column), (last_line, 20), "{e}");
    assert!(e.message.contains("found :okk"), "{e}");
    // an error early in the file wins over one late in the file
    let text = format!("{{:process 0 :type :ok}}\n{{:process 0}}\n{text}");
    let e = edn::read(text.as_bytes()).unwrap_err();
    assert_eq!((e.line, e.column), (2, 1), "{e}");
}

#[test]
fn chunked_json_lines_read() {
    let mut text = String::new();
    for i in 0..80_000 {
        let _ = writeln!(text, "{{\"process\":{},\"type\":\"invoke\",\"f\":\"txn\",\"value\":[[\"append\",{i},1],[\"r\",{i},null]]}}", i % 9);
    }
    assert!(text.len() > 5 << 20);
    let h = json::read(text.as_bytes()).unwrap();
    assert_eq!(h.len(), 80_000);
    for (i, op) in h.ops().iter().enumerate() {
        assert_eq!(op.index, i as u64);
        assert_eq!(h.line(i), Some(i as u32 + 1));
    }
    text.push_str("{\"process\":0,\"type\":\"ok\",\"value\":[1,}\n");
    let e = json::read(text.as_bytes()).unwrap_err();
    assert_eq!((e.line, e.column), (80_001, 37), "{e}");
}

#[test]
fn written_large_history_reads_back() {
    let text = kv_edn(60_000);
    let h = edn::read(text.as_bytes()).unwrap();
    let mut out = Vec::new();
    edn::write(&h, &mut out).unwrap();
    assert!(out.len() > 4 << 20);
    let back = edn::read(&out).unwrap();
    assert_eq!(back.ops(), h.ops());
    let mut out = Vec::new();
    json::write_lines(&h, &mut out).unwrap();
    let back = json::read(&out).unwrap();
    assert_eq!(back.len(), h.len());
    assert_eq!(back.ops()[59_999].value, Value::Str("x 49 29999 y".into()));
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let r = f();
        best = best.min(start.elapsed().as_secs_f64());
        last = Some(r);
    }
    (best, last.expect("at least one run"))
}

#[test]
#[ignore = "timing; run in release mode"]
fn time_reading_a_million_line_kv_history() {
    let text = kv_edn(1_000_000);
    let mb = text.len() as f64 / 1e6;
    let (parallel, h) = best_of(5, || edn::read(text.as_bytes()).unwrap());
    assert_eq!(h.len(), 1_000_000);
    assert_eq!(h.ops()[999_999].index, 999_999);
    drop(h);
    // a leading comment line disables the parallel split
    let seq_text = format!(";\n{text}");
    let (sequential, h) = best_of(3, || edn::read(seq_text.as_bytes()).unwrap());
    assert_eq!(h.len(), 1_000_000);
    drop(h);
    let h = edn::read(text.as_bytes()).unwrap();
    let mut jsonl = Vec::new();
    json::write_lines(&h, &mut jsonl).unwrap();
    let (json_time, back) = best_of(3, || json::read(&jsonl).unwrap());
    assert_eq!(back.len(), 1_000_000);
    let (write_time, _) = best_of(3, || {
        let mut out = Vec::with_capacity(text.len() + 1024);
        edn::write(&h, &mut out).unwrap();
        out
    });
    println!(
        "1M-line kv EDN ({mb:.1} MB): edn::read {:.0} ms (parallel, {} threads), {:.0} ms sequential; \
         json::read of the same as JSON Lines ({:.1} MB) {:.0} ms; edn::write {:.0} ms",
        parallel * 1e3,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        sequential * 1e3,
        jsonl.len() as f64 / 1e6,
        json_time * 1e3,
        write_time * 1e3,
    );
    assert!(parallel < 1.0, "reading took {parallel:.3} s");
}
