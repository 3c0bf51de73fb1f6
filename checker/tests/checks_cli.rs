//! `checker check --model set-full|set|counter|bank|convergence|register-stats|list-append|rw-register|long-fork`.

use std::path::PathBuf;

/// The path of a fixture of the checking library's tests (`tests/data/jepsen/`).
fn fixture_path(name: &str) -> String {
    format!(
        "{}/../consistency/tests/data/jepsen/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}
use std::process::{Command, Output};

fn checker(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_checker"))
        .args(args)
        .output()
        .expect("runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("checker-checks-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn bank_with_a_good_history_prints_true_and_exits_0() {
    let file = fixture_path("bank-good.edn");
    let o = checker(&["check", "--model", "bank", &file]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with(&format!("{file}\ttrue\n")), "{out}");
    assert!(out.contains("  bank: 4 reads, all summing to 100"), "{out}");
}

#[test]
fn bank_with_a_wrong_total_prints_false_and_exits_1() {
    let file = fixture_path("bank-wrong-total.edn");
    let o = checker(&["check", "--model", "bank", &file]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with(&format!("{file}\tfalse\n")), "{out}");
    assert!(out.contains("2 wrong-total, 1 negative-value"), "{out}");
}

#[test]
fn out_writes_results_json_and_edn() {
    let dir = temp_dir("out");
    let file = fixture_path("bank-wrong-total.edn");
    let o = checker(&[
        "check",
        "--model",
        "bank",
        "--out",
        dir.to_str().expect("utf-8"),
        &file,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("results.json")).expect("results.json"),
    )
    .expect("valid JSON");
    assert_eq!(json["valid?"], false);
    assert_eq!(json["error-count"], 3);
    assert_eq!(json["errors"]["wrong-total"]["count"], 2);
    let edn = std::fs::read_to_string(dir.join("results.edn")).expect("results.edn");
    assert!(edn.starts_with("{:valid? false,\n"), "{edn}");
    assert!(edn.contains(":negative-value {:count 1,"), "{edn}");
    // The EDN reads back as EDN.
    assert!(history::edn::parse_value(edn.trim()).is_ok(), "{edn}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn set_full_counter_and_convergence_route_through_the_cli() {
    for (model, file, code) in [
        ("set-full", "set-full-stale.edn", 0),
        ("set-full", "set-full-lost.edn", 1),
        ("set-full", "set-full-duplicate.edn", 1),
        ("counter", "counter-good.edn", 0),
        ("counter", "counter-out-of-bounds.edn", 1),
        ("convergence", "convergence-converged.json", 0),
        ("convergence", "convergence-diverged.json", 1),
    ] {
        let o = checker(&["check", "--model", model, &fixture_path(file)]);
        assert_eq!(
            o.status.code(),
            Some(code),
            "{model} {file}: {}{}",
            stdout(&o),
            stderr(&o)
        );
    }
}

#[test]
fn several_files_give_one_line_each_and_the_worst_exit_code() {
    let good = fixture_path("counter-good.edn");
    let bad = fixture_path("counter-out-of-bounds.edn");
    let o = checker(&["check", "-q", "--model", "counter", &good, &bad]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), format!("{good}\ttrue\n{bad}\tfalse\n"));
}

#[test]
fn an_inconclusive_history_prints_unknown_and_exits_2() {
    // The set checker on a history with no read at all.
    let dir = temp_dir("unknown");
    let file = dir.join("adds.edn");
    std::fs::write(
        &file,
        "{:type :invoke, :process 0, :f :add, :value 1}\n{:type :ok, :process 0, :f :add, :value 1}\n",
    )
    .expect("write");
    let o = checker(&[
        "check",
        "--model",
        "set",
        "--out",
        dir.to_str().expect("utf-8"),
        file.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stdout(&o).contains("\tunknown\n"));
    let edn = std::fs::read_to_string(dir.join("results.edn")).expect("results.edn");
    assert!(edn.starts_with("{:valid? :unknown,\n"), "{edn}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_names_the_file_and_line_and_exits_254() {
    let dir = temp_dir("bad");
    let file = dir.join("bank.edn");
    std::fs::write(
        &file,
        "{:type :invoke, :process 0, :f :read, :value nil}\n{:type :ok, :process 0, :f :read, :value [1 2]}\n",
    )
    .expect("write");
    let o = checker(&["check", "--model", "bank", file.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(254));
    let err = stderr(&o);
    assert!(err.contains("bank.edn: line 2"), "{err}");
    assert!(err.contains("map of account to balance"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_model_list_names_the_workload_checkers() {
    let o = checker(&["check", "--model", "frob", &fixture_path("bank-good.edn")]);
    assert_eq!(o.status.code(), Some(254));
    let err = stderr(&o);
    let help = stdout(&checker(&["check", "--help"]));
    for c in consistency::checker::CHECKERS {
        assert!(err.contains(c.name()), "{}: {err}", c.name());
        assert!(help.contains(c.name()), "{}: {help}", c.name());
    }
}

/// The names `checker check --help` lists under its two headings.
fn listed_names(help: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_list = false;
    for line in help.lines() {
        if line.starts_with("Linearizability models:")
            || line.starts_with("Jepsen's workload checkers")
            || line.starts_with("Transactional isolation")
        {
            in_list = true;
        } else if line.trim().is_empty() {
            in_list = false;
        } else if in_list {
            names.push(line.split_whitespace().next().expect("a name").to_string());
        }
    }
    names
}

/// A small valid history for each model and checker, as EDN lines.
fn small_history(name: &str) -> Option<&'static str> {
    Some(match name {
        "register" | "cas-register" | "register-stats" => {
            "{:process 0, :type :invoke, :f :write, :value 1}
{:process 0, :type :ok, :f :write, :value 1}
{:process 1, :type :invoke, :f :read, :value nil}
{:process 1, :type :ok, :f :read, :value 1}"
        }
        "mutex" => {
            "{:process 0, :type :invoke, :f :acquire, :value nil}
{:process 0, :type :ok, :f :acquire, :value nil}
{:process 0, :type :invoke, :f :release, :value nil}
{:process 0, :type :ok, :f :release, :value nil}"
        }
        "kv" => {
            "{:process 0, :type :invoke, :f :put, :key \"x\", :value \"a\"}
{:process 0, :type :ok, :f :put, :key \"x\", :value \"a\"}
{:process 1, :type :invoke, :f :get, :key \"x\", :value nil}
{:process 1, :type :ok, :f :get, :key \"x\", :value \"a\"}"
        }
        "linearizable-set" | "set-full" | "set" => {
            "{:process 0, :type :invoke, :f :add, :value 1}
{:process 0, :type :ok, :f :add, :value 1}
{:process 1, :type :invoke, :f :read, :value nil}
{:process 1, :type :ok, :f :read, :value #{1}}"
        }
        "fifo-queue" => {
            "{:process 0, :type :invoke, :f :enqueue, :value 1}
{:process 0, :type :ok, :f :enqueue, :value 1}
{:process 1, :type :invoke, :f :dequeue, :value nil}
{:process 1, :type :ok, :f :dequeue, :value 1}"
        }
        "counter" => {
            "{:process 0, :type :invoke, :f :add, :value 2}
{:process 0, :type :ok, :f :add, :value 2}
{:process 1, :type :invoke, :f :read, :value nil}
{:process 1, :type :ok, :f :read, :value 2}"
        }
        "bank" => {
            "{:process 0, :type :invoke, :f :read, :value nil}
{:process 0, :type :ok, :f :read, :value {0 5, 1 5}}
{:process 1, :type :invoke, :f :transfer, :value {:from 0, :to 1, :amount 2}}
{:process 1, :type :ok, :f :transfer, :value {:from 0, :to 1, :amount 2}}
{:process 0, :type :invoke, :f :read, :value nil}
{:process 0, :type :ok, :f :read, :value {0 3, 1 7}}"
        }
        "convergence" => {
            "{:process 0, :type :invoke, :f :add, :value 1}
{:process 0, :type :ok, :f :add, :value 1}
{:process :nemesis, :type :info, :f :heal, :value nil}
{:process 1000000, :type :invoke, :f :final-read, :value nil, :node \"n1\"}
{:process 1000000, :type :ok, :f :final-read, :value #{1}, :node \"n1\"}
{:process 1000001, :type :invoke, :f :final-read, :value nil, :node \"n2\"}
{:process 1000001, :type :ok, :f :final-read, :value #{1}, :node \"n2\"}"
        }
        "list-append" => {
            "{:process 0, :type :invoke, :f :txn, :value [[:append 1 1]]}
{:process 0, :type :ok, :f :txn, :value [[:append 1 1]]}
{:process 1, :type :invoke, :f :txn, :value [[:r 1 nil]]}
{:process 1, :type :ok, :f :txn, :value [[:r 1 [1]]]}"
        }
        "rw-register" => {
            "{:process 0, :type :invoke, :f :txn, :value [[:w :x 1]]}
{:process 0, :type :ok, :f :txn, :value [[:w :x 1]]}
{:process 1, :type :invoke, :f :txn, :value [[:r :x nil]]}
{:process 1, :type :ok, :f :txn, :value [[:r :x 1]]}"
        }
        "long-fork" => {
            "{:process 0, :type :invoke, :f :txn, :value [[:w 0 1]]}
{:process 0, :type :ok, :f :txn, :value [[:w 0 1]]}
{:process 1, :type :invoke, :f :txn, :value [[:r 0 nil] [:r 1 nil]]}
{:process 1, :type :ok, :f :txn, :value [[:r 0 1] [:r 1 nil]]}"
        }
        _ => return None,
    })
}

#[test]
fn every_listed_model_and_checker_checks_a_small_history() {
    let help = stdout(&checker(&["check", "--help"]));
    let names = listed_names(&help);
    let table: Vec<&str> = consistency::checker::CHECKERS
        .iter()
        .map(|c| c.name())
        .collect();
    assert_eq!(
        names, table,
        "--help lists exactly the table, in its order:\n{help}"
    );
    let dir = temp_dir("every-name");
    for name in &names {
        let history = small_history(name)
            .unwrap_or_else(|| panic!("`{name}` is listed but this test has no history for it"));
        let file = dir.join(format!("{name}.edn"));
        std::fs::write(&file, history).expect("write");
        let o = checker(&["check", "--model", name, file.to_str().expect("utf-8")]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "--model {name}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        assert!(
            stdout(&o).contains("\ttrue"),
            "--model {name}: {}",
            stdout(&o)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Write skew: each transaction read the key the other appended to, before it did.
const WRITE_SKEW: &str = r#"{:type :invoke, :f :txn, :value [[:r 1 nil] [:append 2 1]], :process 0, :index 0}
{:type :invoke, :f :txn, :value [[:r 2 nil] [:append 1 1]], :process 1, :index 1}
{:type :ok, :f :txn, :value [[:r 1 []] [:append 2 1]], :process 0, :index 2}
{:type :ok, :f :txn, :value [[:r 2 []] [:append 1 1]], :process 1, :index 3}
{:type :invoke, :f :txn, :value [[:r 1 nil] [:r 2 nil]], :process 0, :index 4}
{:type :ok, :f :txn, :value [[:r 1 [1]] [:r 2 [1]]], :process 0, :index 5}
"#;

#[test]
fn list_append_takes_elle_clis_options_and_exit_codes() {
    let dir = temp_dir("list-append");
    let file = dir.join("skew.edn");
    std::fs::write(&file, WRITE_SKEW).expect("write");
    let file = file.to_string_lossy().into_owned();
    let out = dir.join("out");
    let o = checker(&[
        "check",
        "--model",
        "list-append",
        "--consistency-models",
        "serializable",
        "--directory",
        &out.to_string_lossy(),
        &file,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("\tfalse"), "{}", stdout(&o));
    assert!(stdout(&o).contains("G2-item"), "{}", stdout(&o));
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("results.json")).expect("results.json"),
    )
    .expect("JSON");
    assert_eq!(results["valid?"], false);
    assert_eq!(results["anomaly-types"], serde_json::json!(["G2-item"]));
    assert_eq!(results["not"], serde_json::json!(["repeatable-read"]));
    let explained =
        std::fs::read_to_string(out.join("elle/G2-item.txt")).expect("elle/G2-item.txt");
    assert!(explained.contains("a contradiction!"), "{explained}");
    // Each cycle drawn, as Elle plots them (--plot-format svg, the default).
    let drawn =
        std::fs::read_to_string(out.join("elle/G2-item/0.svg")).expect("elle/G2-item/0.svg");
    assert!(
        drawn.starts_with("<svg") && drawn.contains(">rw</text>"),
        "{drawn}"
    );
    let small = dir.join("small");
    let o = checker(&[
        "check",
        "--model",
        "list-append",
        "--consistency-models",
        "serializable",
        "--max-plot-bytes",
        "10",
        "--directory",
        &small.to_string_lossy(),
        &file,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!small.join("elle/G2-item/0.svg").exists());
    assert!(stderr(&o).contains("--max-plot-bytes 10"), "{}", stderr(&o));
    let o = checker(&[
        "check",
        "--model",
        "list-append",
        "--plot-format",
        "png",
        &file,
    ]);
    assert_eq!(o.status.code(), Some(254));
    assert!(stderr(&o).contains("use svg"), "{}", stderr(&o));

    // Read committed allows write skew.
    let o = checker(&[
        "check",
        "--model",
        "list-append",
        "--consistency-models",
        "read-committed",
        &file,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));

    let o = checker(&[
        "check",
        "--model",
        "list-append",
        "--consistency-models",
        "serialisable",
        &file,
    ]);
    assert_eq!(o.status.code(), Some(254));
    assert!(stderr(&o).contains("serialisable"), "{}", stderr(&o));

    let bad = dir.join("bad.edn");
    std::fs::write(
        &bad,
        "{:type :invoke, :f :txn, :value [[:append 1]], :process 0}\n",
    )
    .expect("write");
    let o = checker(&["check", "--model", "list-append", &bad.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(254));
    assert!(stderr(&o).contains("line 1"), "{}", stderr(&o));
    assert!(stderr(&o).contains("[:append 1]"), "{}", stderr(&o));
}

/// A register read that saw the older of two writes after the newer one committed: with
/// real-time order over each key (`--linearizable-keys`) the versions contradict each
/// other; without the assumption nothing orders the two writes.
const STALE_REGISTER: &str = "{:index 0 :type :invoke, :f :txn, :value [[:w :x 1]], :process 0}
{:index 1 :type :ok, :f :txn, :value [[:w :x 1]], :process 0}
{:index 2 :type :invoke, :f :txn, :value [[:w :x 2]], :process 1}
{:index 3 :type :ok, :f :txn, :value [[:w :x 2]], :process 1}
{:index 4 :type :invoke, :f :txn, :value [[:r :x nil]], :process 2}
{:index 5 :type :ok, :f :txn, :value [[:r :x 1]], :process 2}
";

#[test]
fn rw_register_takes_elles_version_assumptions() {
    let dir = temp_dir("rw-register");
    let file = dir.join("stale.edn");
    std::fs::write(&file, STALE_REGISTER).expect("write");
    let file = file.to_string_lossy().into_owned();
    let plain = checker(&["check", "--model", "rw-register", &file]);
    assert_eq!(
        plain.status.code(),
        Some(0),
        "{}{}",
        stdout(&plain),
        stderr(&plain)
    );
    let out = dir.join("out");
    let assumed = checker(&[
        "check",
        "--model",
        "rw-register",
        "--linearizable-keys",
        "--directory",
        &out.to_string_lossy(),
        &file,
    ]);
    assert_eq!(
        assumed.status.code(),
        Some(1),
        "{}{}",
        stdout(&assumed),
        stderr(&assumed)
    );
    assert!(
        stdout(&assumed).contains("cyclic-versions"),
        "{}",
        stdout(&assumed)
    );
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("results.json")).expect("results.json"),
    )
    .expect("JSON");
    assert_eq!(
        results["anomaly-types"],
        serde_json::json!(["cyclic-versions"])
    );
    assert_eq!(
        results["anomalies"]["cyclic-versions"][0]["sources"],
        serde_json::json!(["initial-state", "linearizable-keys"])
    );

    let bad = dir.join("bad.edn");
    std::fs::write(
        &bad,
        "{:type :invoke, :f :txn, :value [[:append :x 1]], :process 0}\n",
    )
    .expect("write");
    let o = checker(&["check", "--model", "rw-register", &bad.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(254));
    assert!(
        stderr(&o).contains("rw-register takes :w and :r"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn long_fork_takes_the_group_size_and_exits_as_elle_cli() {
    let dir = temp_dir("long-fork");
    let file = dir.join("fork.edn");
    // Each read saw one of two concurrent writes, not the other.
    std::fs::write(
        &file,
        "{:type :invoke, :f :read, :process 0, :value [[:r 0 nil] [:r 1 nil] [:r 2 nil]]}
{:type :ok, :f :read, :process 0, :value [[:r 0 1] [:r 1 1] [:r 2 nil]]}
{:type :invoke, :f :read, :process 1, :value [[:r 2 nil] [:r 0 nil] [:r 1 nil]]}
{:type :ok, :f :read, :process 1, :value [[:r 2 1] [:r 0 1] [:r 1 nil]]}
",
    )
    .expect("write");
    let file = file.to_string_lossy().into_owned();
    let o = checker(&["check", "--model", "long-fork", "--group-size", "3", &file]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("1 forks"), "{}", stdout(&o));
    let o = checker(&["check", "--model", "long-fork", "--group-size", "2", &file]);
    assert_eq!(o.status.code(), Some(254), "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("group of 2"), "{}", stderr(&o));
}
