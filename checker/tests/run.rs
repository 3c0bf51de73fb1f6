//! Runs against the embedded replicated store (`sim`): the strong mode is
//! linearizable under partitions, the eventual mode is not but converges
//! after the heal; seeds fix faults and operations; the run's folder holds
//! everything; Ctrl-C heals and still reports; bad arguments are refused.

use checker::run::spec::{execute, resolve, Spec};
use checker::run::{RunConfig, Stop};
use consistency::Verdict;
use history::{OpType, Process, Value};
use nemesis::FaultKind;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use system::sim::ConflictPolicy;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("checker-run-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn spec(consistency: &str, seed: u64, seconds: f64) -> Spec {
    let (workload, system, target) = resolve("register", "sim").expect("known names");
    Spec {
        workload,
        system,
        target,
        consistency: consistency.into(),
        conflict: ConflictPolicy::Lww,
        nemesis: vec![FaultKind::Partition],
        fault_interval: Duration::from_millis(300),
        fault_duration: Duration::from_millis(1200),
        replicas: 3,
        link_delay: (Duration::from_micros(100), Duration::from_millis(2)),
        loss: 0.0,
        via: Default::default(),
        run: RunConfig {
            concurrency: 8,
            time_limit: Duration::from_secs_f64(seconds),
            rate: Some(1000.0),
            seed,
            op_timeout: Duration::from_millis(300),
            settle: Duration::from_secs(5),
            history_path: None,
            progress: false,
        },
        lab: Default::default(),
        transactions: Default::default(),
        command: "test".into(),
        load: None,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn section<'a>(e: &'a checker::run::spec::Executed, title: &str) -> &'a checker::report::Section {
    e.judgement
        .sections
        .iter()
        .find(|s| s.title.starts_with(title))
        .expect("section")
}

#[test]
fn strong_mode_is_linearizable_under_partitions_and_converges() {
    let dir = temp_dir("strong");
    let e = runtime()
        .block_on(execute(&spec("strong", 1, 3.0), &dir, Stop::default()))
        .expect("runs");
    assert_eq!(section(&e, "Linearizability").verdict, Verdict::Valid);
    assert_eq!(section(&e, "convergence").verdict, Verdict::Valid);
    assert_eq!(e.judgement.verdict, Verdict::Valid);
    let h = &e.judgement;
    assert_eq!(h.results["valid?"], serde_json::Value::Bool(true));
    // The partition happened: the history records it, and some requests were refused or timed out.
    let history = read_history(&dir);
    assert!(history.ops().iter().any(|o| o.f == "start-partition"));
    assert!(history
        .ops()
        .iter()
        .any(|o| matches!(o.kind, OpType::Fail | OpType::Info) && o.process.client().is_some()));
}

#[test]
fn eventual_mode_is_not_linearizable_under_partitions_but_converges() {
    let dir = temp_dir("eventual");
    let e = runtime()
        .block_on(execute(&spec("eventual", 1, 3.0), &dir, Stop::default()))
        .expect("runs");
    assert_eq!(section(&e, "Linearizability").verdict, Verdict::Invalid);
    assert!(
        e.summary.stale_reads.unwrap_or(0) > 0,
        "stale reads are counted"
    );
    assert_eq!(
        section(&e, "convergence").verdict,
        Verdict::Valid,
        "replicas agree after the heal"
    );
    assert!(e.summary.convergence_ms.is_some());
    let page = std::fs::read_to_string(dir.join("report.html")).expect("report");
    assert!(
        page.contains("cannot be linearized") || page.contains("blocked"),
        "the counterexample is on the page"
    );
}

/// (f, value) of nemesis operations and (f, value, key) of client invocations.
type Trace = (Vec<(String, Value)>, Vec<(String, Value, Option<Value>)>);

/// The nemesis operations and the client invocations, without times.
fn trace(dir: &Path) -> Trace {
    let h = read_history(dir);
    let nemesis = h
        .ops()
        .iter()
        .filter(|o| o.process == Process::Named("nemesis".into()))
        .map(|o| (o.f.clone(), o.value.clone()))
        .collect();
    let invokes = h
        .ops()
        .iter()
        .filter(|o| o.kind == OpType::Invoke && o.f != "final-read")
        .map(|o| (o.f.clone(), o.value.clone(), o.key.clone()))
        .collect();
    (nemesis, invokes)
}

#[test]
fn the_same_seed_gives_the_same_faults_and_operations() {
    let rt = runtime();
    let (a, b, c) = (temp_dir("seed-a"), temp_dir("seed-b"), temp_dir("seed-c"));
    rt.block_on(execute(&spec("strong", 42, 2.0), &a, Stop::default()))
        .expect("runs");
    rt.block_on(execute(&spec("strong", 42, 2.0), &b, Stop::default()))
        .expect("runs");
    rt.block_on(execute(&spec("strong", 43, 2.0), &c, Stop::default()))
        .expect("runs");
    let ((na, ia), (nb, ib), (nc, ic)) = (trace(&a), trace(&b), trace(&c));
    assert_eq!(na, nb, "same seed, same faults");
    let n = ia.len().min(ib.len());
    assert!(n > 100, "enough operations to compare: {n}");
    assert_eq!(
        ia[..n],
        ib[..n],
        "same seed, same operations in the same order"
    );
    let m = ia.len().min(ic.len());
    assert_ne!(ia[..m], ic[..m], "another seed, other operations");
    assert!(na != nc || ia[..m] != ic[..m]);
}

fn read_history(dir: &Path) -> history::History {
    let bytes = std::fs::read(dir.join("history.jsonl")).expect("history.jsonl");
    history::format::read(&bytes, history::Format::Auto).expect("parses")
}

#[test]
fn the_run_folder_holds_the_history_results_and_report() {
    let dir = temp_dir("folder");
    runtime()
        .block_on(execute(&spec("eventual", 3, 1.5), &dir, Stop::default()))
        .expect("runs");
    for f in [
        "history.jsonl",
        "history.edn",
        "results.json",
        "results.edn",
        "report.html",
        "latency.svg",
        "rate.svg",
        "run.json",
    ] {
        assert!(dir.join(f).is_file(), "{f} is written");
    }
    let jsonl = read_history(&dir);
    let edn = history::format::read(
        &std::fs::read(dir.join("history.edn")).expect("edn"),
        history::Format::Auto,
    )
    .expect("history.edn parses");
    assert_eq!(jsonl.len(), edn.len());
    assert!(jsonl
        .ops()
        .iter()
        .zip(edn.ops())
        .all(|(a, b)| a.index == b.index && a.f == b.f && a.kind == b.kind));
    let results = std::fs::read_to_string(dir.join("results.edn")).expect("results.edn");
    assert!(results.starts_with("{:valid? "), "{results}");
    // `checker report` rebuilds the page from the folder.
    std::fs::remove_file(dir.join("report.html")).expect("remove");
    let o = Command::new(env!("CARGO_BIN_EXE_checker"))
        .arg("report")
        .arg(&dir)
        .output()
        .expect("runs");
    assert!(
        matches!(o.status.code(), Some(0..=2)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(dir.join("report.html").is_file());
}

#[test]
fn ctrl_c_stops_heals_and_still_reports() {
    let dir = temp_dir("ctrl-c");
    let mut child = Command::new(env!("CARGO_BIN_EXE_checker"))
        .args([
            "run",
            "--time-limit",
            "60",
            "--fault-interval",
            "0.2",
            "--fault-duration",
            "50",
            "--quiet",
            "--out",
        ])
        .arg(&dir)
        .spawn()
        .expect("starts");
    // Wait until the partition has started (it is written to the streamed history).
    let started = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(dir.join("history.jsonl")).unwrap_or_default();
        if text.contains("start-partition") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the run started and partitioned"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let code = child.wait().expect("exits").code();
    assert!(matches!(code, Some(0..=2)), "exit code {code:?}");
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "stopped well before the 60 s time limit"
    );
    let h = read_history(&dir);
    let fs: Vec<&str> = h
        .ops()
        .iter()
        .filter(|o| o.process.client().is_none())
        .map(|o| o.f.as_str())
        .collect();
    assert!(fs.contains(&"heal"), "the fault was healed: {fs:?}");
    assert!(
        !fs.contains(&"stop-partition"),
        "it was healed by Ctrl-C, not by the schedule"
    );
    assert!(dir.join("report.html").is_file() && dir.join("results.json").is_file());
}

#[test]
fn bad_arguments_are_refused_with_the_choices() {
    let checker = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_checker"))
            .args(args)
            .output()
            .expect("runs")
    };
    let o = checker(&["run", "--workload", "frob", "--quiet"]);
    assert_eq!(o.status.code(), Some(254));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("register, set, counter, bank"), "{err}");
    let o = checker(&["run", "--target", "frob"]);
    assert_eq!(o.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&o.stderr).contains("choose one of: sim"));
    let o = checker(&["run", "--time-limit", "0"]);
    assert_eq!(o.status.code(), Some(254));
    let o = checker(&["run", "--nemesis", "partition,frob"]);
    assert_eq!(o.status.code(), Some(254));
    let o = checker(&["run", "--time-limit", "1", "--out", "/proc/no-such-dir/run"]);
    assert_eq!(o.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/proc/no-such-dir/run"));
}

fn workload_spec(workload: &str, consistency: &str) -> Spec {
    let mut s = spec(consistency, 5, 2.0);
    s.workload = workloads::workload::by_name(workload).expect("a workload");
    s
}

#[test]
fn set_counter_and_bank_are_valid_on_the_strong_store_under_partitions() {
    let rt = runtime();
    for workload in ["set", "counter", "bank"] {
        let dir = temp_dir(&format!("strong-{workload}"));
        let e = rt
            .block_on(execute(
                &workload_spec(workload, "strong"),
                &dir,
                Stop::default(),
            ))
            .expect("runs");
        for s in &e.judgement.sections {
            assert_eq!(
                s.verdict,
                Verdict::Valid,
                "{workload}: {}: {}",
                s.title,
                s.summary
            );
        }
        assert!(!e.judgement.sections.is_empty());
    }
}

#[test]
fn the_eventual_store_loses_set_adds_and_money_under_partitions() {
    let rt = runtime();
    for (workload, check) in [("set", "set-full"), ("bank", "bank")] {
        let dir = temp_dir(&format!("eventual-{workload}"));
        let e = rt
            .block_on(execute(
                &workload_spec(workload, "eventual"),
                &dir,
                Stop::default(),
            ))
            .expect("runs");
        assert_eq!(
            section(&e, check).verdict,
            Verdict::Invalid,
            "{workload}: {}",
            section(&e, check).summary
        );
    }
}

#[test]
fn partition_leader_cuts_off_whoever_leads_or_says_why_not() {
    let rt = runtime();
    for (consistency, leads) in [("strong", true), ("eventual", false)] {
        let mut s = spec(consistency, 5, 2.0);
        s.nemesis = vec![FaultKind::PartitionLeader];
        let dir = temp_dir(&format!("leader-{consistency}"));
        rt.block_on(execute(&s, &dir, Stop::default()))
            .expect("runs");
        let history = read_history(&dir);
        let starts: Vec<&history::Op> = history
            .ops()
            .iter()
            .filter(|o| o.f == "start-partition")
            .collect();
        assert!(!starts.is_empty(), "{consistency}: the fault was tried");
        // Each start is two events: the attempt, then its outcome.
        let failed = starts.iter().filter(|o| o.error.is_some()).count();
        if leads {
            // The strong store's leader is node 0: n1 alone, every time.
            assert_eq!(failed, 0, "{starts:?}");
            assert!(starts
                .iter()
                .all(|o| o.value.to_string().contains("[\"n1\"]]")));
        } else {
            assert_eq!(
                failed * 2,
                starts.len(),
                "the eventual store has no leader: {starts:?}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A worker whose client panics ends the run: the faults are healed, the
/// history and the report are written and name the process, and the exit
/// code is 255 (Jepsen's internal error), never a verdict.
#[test]
fn a_panicking_client_ends_the_run_with_255_after_healing() {
    let dir = temp_dir("crash");
    let o = Command::new(env!("CARGO_BIN_EXE_checker"))
        .env(checker::run::CRASH_PROCESS_ENV, "2@1")
        .args([
            "run",
            "--quiet",
            "--time-limit",
            "30",
            "--nemesis",
            "partition",
        ])
        .args(["--fault-interval", "0.2", "--fault-duration", "20"])
        .args(["--out", dir.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(255), "{err}");
    assert!(err.contains("(worker 2, node n3) panicked"), "{err}");
    assert!(err.contains("told worker 2 to crash"), "{err}");
    let page = std::fs::read_to_string(dir.join("report.html")).expect("report");
    assert!(page.contains("The run ended early"), "the report says so");
    assert!(page.contains("(worker 2, node n3) panicked"));
    let results = std::fs::read_to_string(dir.join("results.json")).expect("results");
    assert!(results.contains("\"crashed\""), "{results}");
    let history = std::fs::read_to_string(dir.join("history.edn")).expect("history");
    let start = history
        .find(":f :start-partition")
        .expect("a partition started");
    let heal = history.find(":f :heal").expect("the faults were healed");
    assert!(start < heal, "healed after the partition started");
    assert!(
        !history.contains(":f :final-read"),
        "no operation after the crash"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A counter in memory (linearizable by its lock) whose target audits itself and finds a fault.
struct AuditedCounter(std::sync::Arc<std::sync::Mutex<i64>>);

#[async_trait::async_trait]
impl workloads::Client for AuditedCounter {
    async fn invoke(&self, op: &workloads::Invocation) -> workloads::Completion {
        let mut sum = self.0.lock().expect("the counter's lock");
        match op.f.as_str() {
            "add" => {
                *sum += op.value.as_int().unwrap_or(0);
                workloads::Completion::ok(op.value.clone())
            }
            _ => workloads::Completion::ok(Value::Int(*sum)),
        }
    }
}

#[async_trait::async_trait]
impl workloads::Target for AuditedCounter {
    fn name(&self) -> String {
        "audited-counter".into()
    }

    fn nodes(&self) -> usize {
        1
    }

    async fn open(
        &self,
        _node: usize,
    ) -> Result<Box<dyn workloads::Client>, workloads::TargetError> {
        Ok(Box::new(AuditedCounter(self.0.clone())))
    }

    async fn setup(&self, _initial: &[(Value, Value)]) -> Result<(), workloads::TargetError> {
        Ok(())
    }

    async fn audit(&self, _limit: Duration) -> Vec<workloads::Audit> {
        let sum = *self.0.lock().expect("the counter's lock");
        vec![workloads::Audit {
            name: "ledger".into(),
            verdict: Verdict::Invalid,
            summary: format!("the ledger disagrees with {sum}"),
            details: serde_json::json!({"sum": sum}),
        }]
    }
}

/// A target's own checks come after the final reads, as a section and a results entry each,
/// and their verdicts count in the run's.
#[test]
fn a_targets_audit_is_a_section_and_part_of_the_verdict() {
    let target = std::sync::Arc::new(AuditedCounter(Default::default()));
    let kind = workloads::workload::by_name("counter").expect("the counter workload");
    let mut workload = (kind.build)(&workloads::Options::default());
    let checks = std::mem::take(&mut workload.checks);
    let mut config = spec("strong", 1, 0.5).run;
    config.settle = Duration::from_millis(100);
    let recorded = runtime()
        .block_on(checker::run::run(
            target,
            workload,
            None,
            &config,
            Stop::default(),
        ))
        .expect("runs");
    let mut judgement = checker::run::judge::judge(
        &checks,
        &recorded.history,
        &consistency::linearizable::Options::default(),
    );
    assert_eq!(
        judgement.verdict,
        Verdict::Valid,
        "the counter itself is right"
    );
    judgement.audited(&recorded.audits);
    assert_eq!(judgement.verdict, Verdict::Invalid);
    let section = judgement
        .sections
        .iter()
        .find(|s| s.title == "ledger")
        .expect("the audit's section");
    assert!(section.summary.starts_with("the ledger disagrees with "));
    let sum = judgement.results["ledger"]["sum"]
        .as_i64()
        .expect("its details");
    assert!(sum > 0, "audited after the run's adds");
    assert_eq!(judgement.results["ledger"]["valid?"], false);
    assert_eq!(judgement.results["valid?"], false);
}
