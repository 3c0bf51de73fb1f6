//! `k8s/validate`, the chart's offline validation, passes on the chart and fails on a copy with
//! a mistyped field (so it is not a no-op). Needs python3-venv and Go (`test.sh` installs the
//! pinned tools with `k8s/validate --install`) and the components of `tools/kube/build`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn k8s() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../k8s")
}

fn validate(args: &[&str]) -> (bool, String) {
    let output = Command::new(k8s().join("validate"))
        .args(args)
        .output()
        .expect("k8s/validate runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("read the chart").flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

#[test]
fn the_chart_passes_and_a_mistyped_copy_fails_naming_the_field() {
    let (passed, text) = validate(&[]);
    assert!(passed, "k8s/validate failed on the chart:\n{text}");
    assert!(text.contains("the chart is valid"), "{text}");
    assert!(
        text.contains("kube-score, values")
            && text.contains("kubernetes-validate --strict, values-production"),
        "every step ran for both values files:\n{text}"
    );

    let copy = std::env::temp_dir().join(format!("lab-chart-mistyped-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    copy_dir(&k8s().join("chart"), &copy);
    let api = copy.join("templates/api.yaml");
    let text = std::fs::read_to_string(&api).expect("api.yaml");
    let mistyped = text.replacen("containerPort: 8080", "containerPorts: 8080", 1);
    assert_ne!(mistyped, text, "the api's template names containerPort");
    std::fs::write(&api, mistyped).expect("write the mistyped copy");
    let (passed, text) = validate(&["--chart", &copy.display().to_string()]);
    let _ = std::fs::remove_dir_all(&copy);
    assert!(
        !passed,
        "k8s/validate passed a chart with a mistyped field:\n{text}"
    );
    assert!(
        text.contains("containerPort"),
        "the error names the field:\n{text}"
    );
}

/// `helm template` of the chart with the given values files, as the lab's cluster would render it.
fn render(values: &[&Path]) -> String {
    let bin = Command::new(k8s().join("../tools/kube/build"))
        .output()
        .expect("tools/kube/build runs");
    assert!(bin.status.success(), "tools/kube/build failed");
    let bin = PathBuf::from(String::from_utf8_lossy(&bin.stdout).trim());
    let mut helm = Command::new(bin.join("helm"));
    helm.args(["template", "lab"])
        .arg(k8s().join("chart"))
        .args(["--namespace", "lab-system", "--kube-version", "1.34.4"]);
    for file in values {
        helm.arg("--values").arg(file);
    }
    let output = helm.output().expect("helm runs");
    assert!(
        output.status.success(),
        "helm template: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_stores_run_in_the_release_unless_the_lab_s_own_are_named() {
    let local = render(&[]);
    for store in ["etcd", "postgres", "cassandra", "kafka"] {
        assert!(
            local.contains(&format!(
                "kind: StatefulSet\nmetadata:\n  name: lab-{store}\n"
            )),
            "the local values run {store} in the release"
        );
    }
    assert!(local.contains("lab-cassandra-0.lab-cassandra:9042,lab-cassandra-1.lab-cassandra:9042"));

    // `checker kube install --lab-stores`: no store in the release, the lab's clusters instead.
    let nodes = cluster::Cluster::new(
        &targets::kube::node::Node,
        cluster::netns::Net::from_env().expect("the lab's network"),
        &std::env::temp_dir().join("lab-k8s-validate-state"),
    );
    let file = std::env::temp_dir().join(format!("lab-stores-{}.json", std::process::id()));
    std::fs::write(
        &file,
        targets::kube::chart::lab_store_values(&nodes).to_string(),
    )
    .expect("write the values");
    let outside = render(&[&file]);
    let _ = std::fs::remove_file(&file);
    assert!(
        !outside.contains("kind: StatefulSet"),
        "no store in the release with the lab's own"
    );
    let stores = targets::service::server::Stores::beside(&nodes);
    for address in [&stores.cassandra, &stores.kafka, &stores.etcd] {
        assert!(
            outside.contains(&format!("value: \"{address}\"")),
            "the api and workers reach {address}"
        );
    }
}
