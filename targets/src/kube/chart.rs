//! The service system on the cluster: its images made (the api's and the worker's from the
//! binaries as they are now) and imported into the nodes (the stores' into the store node
//! only), the pool of local volumes the stores claim ([`volumes`]), then the Helm chart
//! `k8s/chart` installed (`helm upgrade --install --wait`): the api, the workers and NGINX on
//! the service nodes, PostgreSQL, Cassandra, Kafka and etcd as StatefulSets on the store node.

use super::image::{self, Image};
use super::node::STORE_NODE;
use super::{addons, bin, volumes, write};
use crate::service::server::{beside, Stores};
use cluster::{Cluster, ClusterError};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

/// The Helm release's name.
pub const RELEASE: &str = "lab";
/// The namespace the release lives in.
pub const NAMESPACE: &str = "lab-system";
/// NGINX's HTTP NodePort (`nginx.service.httpNodePort` in the chart's values).
pub const HTTP_NODE_PORT: u16 = 30080;
/// NGINX's gRPC NodePort.
pub const GRPC_NODE_PORT: u16 = 30090;
/// Prometheus's NodePort (`observability.prometheus.service.nodePort`).
pub const PROMETHEUS_NODE_PORT: u16 = 30091;

/// The images the chart runs.
pub static IMAGES: &[&Image] = &[
    &image::API,
    &image::WORKER,
    &image::NGINX,
    &image::ETCD,
    &image::POSTGRES,
    &image::CASSANDRA,
    &image::KAFKA,
    &image::PROMETHEUS,
    &image::PROMETHEUS_ADAPTER,
];

/// How long `helm install --wait` may take: the stores start one member after another, and a
/// Cassandra member takes up to a minute on this machine's two cores.
const INSTALL_TIMEOUT: &str = "10m";

/// The chart's folder (`k8s/chart` of the checkout).
pub fn chart_dir() -> PathBuf {
    image::containerfiles().join("../chart")
}

/// Values that run no store in the cluster and point the api and the workers at the lab's own
/// store clusters beside `nodes` (same network, same state folder), where the lab's faults
/// reach them; as JSON (which Helm reads as YAML): the addresses hold commas, which `--set`
/// would split.
pub fn lab_store_values(nodes: &Cluster) -> serde_json::Value {
    let stores = Stores::beside(nodes);
    let [a, b, c] = nodes.net().subnet;
    let outside = |address: String| serde_json::json!({"inCluster": false, "external": address});
    serde_json::json!({
        "stores": {
            "postgres": outside(stores.postgres),
            "cassandra": outside(stores.cassandra),
            "kafka": outside(stores.kafka),
            "etcd": outside(stores.etcd),
            "externalCidrs": [format!("{a}.{b}.{c}.0/24")],
        }
    })
}

/// The values only the lab knows: what each image was made from (`builds`), and the rules and
/// dashboards of `observability/` for the release's Prometheus (Helm cannot read files outside
/// the chart).
fn lab_values(builds: serde_json::Map<String, serde_json::Value>) -> serde_json::Value {
    let files = |table: &[(&str, &str)]| -> serde_json::Map<String, serde_json::Value> {
        table
            .iter()
            .map(|(name, text)| (name.to_string(), (*text).into()))
            .collect()
    };
    serde_json::json!({
        "image": {"builds": builds},
        "observability": {
            "rules": files(crate::observability::prometheus::RULES),
            "dashboards": files(crate::observability::dashboard::DASHBOARDS),
        },
    })
}

/// Makes the chart's images, imports them into the nodes, makes the volume pool whole and
/// installs (or upgrades) the release, waiting until every Deployment and StatefulSet is ready;
/// `values` are extra values files' contents (JSON or YAML), applied after the chart's own.
pub fn install(
    nodes: &Cluster,
    values: &[String],
    report: &mut dyn FnMut(&str),
) -> Result<(), ClusterError> {
    let started = Instant::now();
    let images = bin::images_dir()?;
    for image in IMAGES {
        let archive = image.archive(&images)?;
        for n in (0..nodes.nodes()).filter(|&n| !image.stores_only || n == STORE_NODE) {
            addons::import(nodes, n, image, &archive)?;
        }
    }
    report(&format!(
        "images made and imported after {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    volumes::ensure(nodes)?;
    if let Some(undone) = recover(nodes)? {
        report(&undone);
    }
    let shared = super::shared_dir(nodes);
    // What each image was made from: pods whose image was made again are replaced.
    let builds: serde_json::Map<String, serde_json::Value> = IMAGES
        .iter()
        .filter_map(|i| Some((i.name.to_string(), i.build(&images)?.into())))
        .collect();
    let mut files = vec![shared.join("values-lab.json")];
    write(&files[0], &lab_values(builds).to_string())?;
    for (i, text) in values.iter().enumerate() {
        let file = shared.join(format!("values-{i}.yaml"));
        write(&file, text)?;
        files.push(file);
    }
    let mut helm = helm(nodes);
    helm.args(["upgrade", "--install", RELEASE])
        .arg(chart_dir())
        .args([
            "--namespace",
            NAMESPACE,
            "--create-namespace",
            "--wait",
            "--timeout",
            INSTALL_TIMEOUT,
        ]);
    for file in &files {
        helm.arg("--values").arg(file);
    }
    cluster::command::run(&mut helm)?;
    report(&format!(
        "chart installed and ready after {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// The release's status as Helm records it (`deployed`, `failed`, `pending-upgrade`…), or none.
fn status(nodes: &Cluster) -> Option<String> {
    let status = cluster::command::run(helm(nodes).args([
        "status",
        RELEASE,
        "--namespace",
        NAMESPACE,
        "-o",
        "json",
    ]))
    .ok()?;
    let json: serde_json::Value = serde_json::from_str(&status).ok()?;
    json["info"]["status"].as_str().map(String::from)
}

/// Undoes what an interrupted install or upgrade left (a release `pending-…`, which Helm refuses
/// to change again, "another operation is in progress"): a pending install is uninstalled, a
/// pending upgrade or rollback rolled back to the revision before it. Says what it did.
fn recover(nodes: &Cluster) -> Result<Option<String>, ClusterError> {
    let Some(status) = status(nodes) else {
        return Ok(None);
    };
    let what = match status.as_str() {
        "pending-install" => "uninstall",
        "pending-upgrade" | "pending-rollback" => "rollback",
        _ => return Ok(None),
    };
    // Not waiting: the revision before may not be ready either; the upgrade after it waits.
    cluster::command::run(helm(nodes).args([what, RELEASE, "--namespace", NAMESPACE]))?;
    Ok(Some(format!(
        "the release was left {status} by an interrupted run: {what} done"
    )))
}

/// Uninstalls the release (waiting for its pods to go), deletes its namespace (and with it the
/// stores' claims) and recycles the volumes they held.
pub fn uninstall(nodes: &Cluster) -> Result<(), ClusterError> {
    cluster::command::run(helm(nodes).args([
        "uninstall",
        RELEASE,
        "--namespace",
        NAMESPACE,
        "--wait",
        "--ignore-not-found",
    ]))?;
    let control = beside(nodes, &super::control_plane::ControlPlane);
    super::kubectl_run(
        &control,
        &[
            "delete",
            "namespace",
            NAMESPACE,
            "--ignore-not-found",
            "--wait=true",
        ],
    )?;
    volumes::recycle(nodes)
}

/// Whether the release is deployed; the error says how to deploy it.
pub fn deployed(nodes: &Cluster) -> Result<(), ClusterError> {
    if status(nodes).as_deref() == Some("deployed") {
        Ok(())
    } else {
        Err(ClusterError(String::from(
            "the service system is not deployed on the lab's Kubernetes cluster: run `checker cluster up kube`, \
             then `checker kube install`"
        )))
    }
}

/// `helm` as the cluster's administrator.
pub fn helm(nodes: &Cluster) -> std::process::Command {
    let mut command = bin::command("helm");
    command
        .arg("--kubeconfig")
        .arg(super::admin_kubeconfig(nodes));
    command
}

/// NGINX's HTTP NodePort on node `node` (any node serves it: kube-proxy forwards).
pub fn http_address(nodes: &Cluster, node: usize) -> SocketAddr {
    SocketAddr::new(nodes.host(node).address.into(), HTTP_NODE_PORT)
}

/// NGINX's gRPC NodePort on node `node`.
pub fn grpc_address(nodes: &Cluster, node: usize) -> SocketAddr {
    SocketAddr::new(nodes.host(node).address.into(), GRPC_NODE_PORT)
}

/// Prometheus's NodePort on node `node`.
pub fn prometheus_address(nodes: &Cluster, node: usize) -> SocketAddr {
    SocketAddr::new(nodes.host(node).address.into(), PROMETHEUS_NODE_PORT)
}
