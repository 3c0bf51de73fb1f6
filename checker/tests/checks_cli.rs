//! `checker check --model set-full|set|counter|bank|convergence|register-stats`.

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
    for name in consistency::checker::NAMES {
        assert!(err.contains(name), "{name}: {err}");
    }
    let help = stdout(&checker(&["check", "--help"]));
    for name in consistency::checker::NAMES {
        assert!(help.contains(name), "{name}: {help}");
    }
}
