//! What the Kubernetes tests share: kubectl as the cluster's administrator, and where pods run.

use cluster::Cluster;
use targets::kube;

/// `kubectl args…`; fails the test, naming the command, if it fails.
pub fn kubectl(control: &Cluster, args: &[&str]) -> String {
    kube::kubectl_run(control, args).unwrap_or_else(|e| panic!("kubectl {}: {e}", args.join(" ")))
}

/// `kubectl [-n namespace] get what… -o jsonpath=path`, or "" when it fails (an object not
/// created yet).
pub fn jsonpath(control: &Cluster, namespace: Option<&str>, what: &[&str], path: &str) -> String {
    let mut args = Vec::new();
    if let Some(namespace) = namespace {
        args.extend_from_slice(&["-n", namespace]);
    }
    args.push("get");
    args.extend_from_slice(what);
    let output = format!("jsonpath={path}");
    args.extend_from_slice(&["-o", &output]);
    kube::kubectl_run(control, &args).unwrap_or_default()
}

/// The pods matching `selector` that run and are not being deleted, each with its node.
pub fn running_pods(
    control: &Cluster,
    namespace: Option<&str>,
    selector: &str,
) -> Vec<(String, String)> {
    let text = jsonpath(
        control,
        namespace,
        &[
            "pods",
            "-l",
            selector,
            "--field-selector=status.phase=Running",
        ],
        r#"{range .items[*]}{.metadata.name} {.spec.nodeName} {.metadata.deletionTimestamp}{"\n"}{end}"#,
    );
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (pod, node) = (words.next()?, words.next()?);
            // A pod being deleted (evicted) is not where the app runs any more.
            words
                .next()
                .is_none()
                .then(|| (pod.to_string(), node.to_string()))
        })
        .collect()
}
