//! The `checker` command: verdict lines, exit codes (Jepsen's), outputs and errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn checker(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_checker"))
        .args(args)
        .output()
        .expect("runs")
}

fn data(file: &str) -> String {
    format!(
        "{}/../consistency/tests/data/porcupine/{file}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("checker-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_valid_history_prints_true_and_exits_0() {
    let o = checker(&["check", &data("jepsen/etcd_002.log")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with(&format!("{}\ttrue\n", data("jepsen/etcd_002.log"))));
}

#[test]
fn an_invalid_history_prints_false_the_blocked_operation_and_exits_1() {
    let o = checker(&["check", &data("jepsen/etcd_000.log")]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("\tfalse\n"), "{out}");
    assert!(
        out.contains("p11 read → 2 [ok, line 85] cannot be linearized in state 0"),
        "{out}"
    );
}

#[test]
fn an_exhausted_budget_prints_unknown_and_exits_2() {
    let o = checker(&["check", "--memory-limit", "0", &data("jepsen/etcd_002.log")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).contains("\tunknown\n"));
    assert!(stdout(&o).contains("out-of-memory"));
}

#[test]
fn several_files_give_one_line_each_and_the_worst_exit_code() {
    let o = checker(&[
        "check",
        "-q",
        &data("jepsen/etcd_002.log"),
        &data("jepsen/etcd_000.log"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o).lines().count(), 2);
}

#[test]
fn out_writes_results_json_edn_and_html() {
    let dir = temp_dir("out");
    let o = checker(&[
        "check",
        "--model",
        "kv",
        "--out",
        dir.to_str().expect("utf-8"),
        &data("kv/c10-bad.txt"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("results.json")).expect("results.json"),
    )
    .expect("json");
    assert_eq!(json["valid?"], serde_json::Value::Bool(false));
    assert_eq!(json["model"], "kv");
    assert!(!json["failures"].as_array().expect("failures").is_empty());
    let edn = std::fs::read_to_string(dir.join("results.edn")).expect("results.edn");
    assert!(edn.starts_with("{:valid? false"), "{edn}");
    let parsed = history::edn::parse_value(&edn).expect("results.edn is EDN");
    assert_eq!(parsed.get("valid?"), Some(&history::Value::Bool(false)));
    let html = std::fs::read_to_string(dir.join("linearizability.html")).expect("html");
    assert!(html.contains("<svg"));
}

#[test]
fn bad_input_names_file_line_and_exits_254() {
    let dir = temp_dir("bad");
    let cases: &[(&str, &str)] = &[
        ("{:process 0, :type :invoke, :f :write, :value [1 2}\n", "line 1, column"),
        ("{:process 0, :type :invoke, :f :write, :value 1}\n{:process 1, :type :ok, :f :write, :value 1}\n", "line 2"),
        ("{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :invoke, :f :write, :value 2}\n", "still in flight"),
        ("{:process 0, :type :invoke, :f :frob, :value 1}\n", "unknown :f :frob"),
        ("{:process 0, :type :invoke, :f :cas, :value 1}\n", "expected :value [old new]"),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let file = dir.join(format!("bad{i}.edn"));
        std::fs::write(&file, text).expect("write");
        let o = checker(&["check", file.to_str().expect("utf-8")]);
        assert_eq!(o.status.code(), Some(254), "case {i}");
        let err = stderr(&o);
        assert!(
            err.contains(&*file.to_string_lossy()) && err.contains(expected),
            "case {i}: {err}"
        );
    }
}

#[test]
fn bad_arguments_exit_254_and_list_the_choices() {
    let o = checker(&["check", "--model", "frob", &data("jepsen/etcd_002.log")]);
    assert_eq!(o.status.code(), Some(254));
    assert!(stderr(&o).contains("cas-register"));
    let o = checker(&["check", "--no-such-flag", "x"]);
    assert_eq!(o.status.code(), Some(254));
    let o = checker(&[
        "check",
        Path::new("/nonexistent/history.edn")
            .to_str()
            .expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(254));
    assert!(stderr(&o).contains("/nonexistent/history.edn"));
}

#[test]
fn help_shows_examples() {
    let o = checker(&["check", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("Examples:"));
}

#[test]
fn bench_prints_a_tsv_row_per_file() {
    let o = checker(&["bench", "--rounds", "1", &data("jepsen/etcd_000.log")]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "file\tverdict\tops\tmin_ms\tmedian_ms");
    assert!(lines[1].contains("\tfalse\t85\t"), "{out}");
}

/// Every target of the table with every workload: a pair the target runs
/// validates (`run --dry-run` exits 0); any other exits 254 and names the
/// workloads the target runs.
#[test]
fn every_target_and_workload_pair_is_validated_before_the_run() {
    let mut supported = 0;
    let mut refused = 0;
    for (_, target) in targets::targets() {
        for workload in workloads::WORKLOADS {
            let o = Command::new(env!("CARGO_BIN_EXE_checker"))
                .args(["run", "--dry-run", "--nemesis", "none"])
                .args(["--target", target.name, "--workload", workload.name])
                .output()
                .expect("runs");
            let err = String::from_utf8_lossy(&o.stderr);
            let pair = format!("--target {} --workload {}", target.name, workload.name);
            if target.supports(workload) {
                assert_eq!(o.status.code(), Some(0), "{pair}: {err}");
                supported += 1;
            } else {
                assert_eq!(o.status.code(), Some(254), "{pair}: {err}");
                assert!(
                    err.contains(&format!("it runs: {}", target.workload_names())),
                    "{pair}: {err}"
                );
                refused += 1;
            }
        }
    }
    // The table has both kinds of pair (the sim runs all four workloads;
    // Kafka runs only set).
    assert!(
        supported >= 4 && refused >= 1,
        "{supported} supported, {refused} refused"
    );
}

/// The README's lists of workloads, targets and checkers are written from
/// the tables (`checker::catalog::markdown`); `UPDATE_README=1 cargo test`
/// rewrites them after a table changes.
#[test]
fn the_readme_lists_come_from_the_tables() {
    const BEGIN: &str = "<!-- lists: written from the tables by checker::catalog; UPDATE_README=1 cargo test -p checker --test cli rewrites them -->\n";
    const END: &str = "<!-- end of lists -->";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let start = readme
        .find(BEGIN)
        .expect("the README has the lists' opening marker")
        + BEGIN.len();
    let end = start
        + readme[start..]
            .find(END)
            .expect("the README has the lists' closing marker");
    let expected = checker::catalog::markdown();
    if readme[start..end] != expected {
        if std::env::var_os("UPDATE_README").is_some() {
            let updated = format!("{}{expected}{}", &readme[..start], &readme[end..]);
            std::fs::write(&path, updated).expect("write README.md");
        } else {
            panic!(
                "README.md's lists differ from the tables; run UPDATE_README=1 cargo test -p checker --test cli\n--- README\n{}\n--- tables\n{expected}",
                &readme[start..end]
            );
        }
    }
}

/// `--load locust` is refused, before anything runs, where it cannot work: off the service
/// system, with a user class the locustfile lacks, or with steps too short for the run.
#[test]
fn a_load_that_cannot_run_is_refused_with_its_reason() {
    let cases: [(&[&str], &str); 3] = [
        (&["--target", "sim"], "system-*"),
        (
            &["--target", "system-strong", "--load-class", "BotUser"],
            "MixedUser",
        ),
        (
            &["--target", "system-strong", "--load-users", "1:1:50"],
            "under 5 s",
        ),
    ];
    for (args, says) in cases {
        let mut all = vec!["run", "--dry-run", "--load", "locust"];
        all.extend_from_slice(args);
        let o = checker(&all);
        assert_eq!(o.status.code(), Some(254), "{all:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(says),
            "{all:?} names its reason: {}",
            stderr(&o)
        );
    }
    let o = checker(&[
        "run",
        "--dry-run",
        "--target",
        "system-strong",
        "--load",
        "locust",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("with Locust's MixedUser (20 users)"),
        "{}",
        stdout(&o)
    );
}

/// A fault a target's nodes cannot take is refused before anything runs, with the reason and
/// the faults it can take: clock skew on a Go binary, a partition of Kubernetes nodes.
#[test]
fn a_fault_a_target_cannot_take_is_refused_with_its_reason_and_the_choices() {
    let cases = [
        (
            "etcd",
            "clock",
            "libfaketime",
            "choose from partition, kill, pause",
        ),
        (
            "kube-strong",
            "partition",
            "Kubernetes node",
            "choose from kill, pause",
        ),
    ];
    for (target, nemesis, why, choices) in cases {
        let args = [
            "run",
            "--dry-run",
            "--target",
            target,
            "--workload",
            "register",
            "--nemesis",
            nemesis,
        ];
        let o = checker(&args);
        assert_eq!(o.status.code(), Some(254), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(why) && stderr(&o).contains(choices),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    let o = checker(&[
        "run",
        "--dry-run",
        "--target",
        "kube-strong",
        "--workload",
        "register",
        "--nemesis",
        "kill",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "kill is a fault Kubernetes nodes take: {}",
        stderr(&o)
    );
}
