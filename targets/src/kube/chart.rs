//! The service system on the cluster: its images (api, worker, NGINX, etcd) made from the
//! binaries as they are now and imported into every node, then the Helm chart `k8s/chart`
//! installed (`helm upgrade --install --wait`) with values pointing the api and the workers at
//! the lab's PostgreSQL, Cassandra and Kafka clusters on its network (etcd runs in the release).

use super::image::{self, Image};
use super::{addons, bin, write};
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

/// The images the chart runs.
pub static IMAGES: &[&Image] = &[&image::API, &image::WORKER, &image::NGINX, &image::ETCD];

/// The chart's folder (`k8s/chart` of the checkout).
pub fn chart_dir() -> PathBuf {
    image::containerfiles().join("../chart")
}

/// The values that point the chart at the lab's store clusters beside `nodes` (same network,
/// same state folder), as JSON (which Helm reads as YAML): the addresses hold commas, which
/// `--set` would split.
pub fn store_values(nodes: &Cluster) -> serde_json::Value {
    let stores = Stores::beside(nodes);
    let [a, b, c] = nodes.net().subnet;
    serde_json::json!({
        "stores": {
            "postgres": stores.postgres,
            "cassandra": stores.cassandra,
            "kafka": stores.kafka,
            "etcd": stores.etcd,
            "cidrs": [format!("{a}.{b}.{c}.0/24")],
        }
    })
}

/// Makes the chart's images, imports them into every node and installs (or upgrades) the
/// release, waiting until every Deployment is ready; `values` are extra values files' contents
/// (JSON or YAML), applied after the stores'.
pub fn install(
    nodes: &Cluster,
    values: &[String],
    report: &mut dyn FnMut(&str),
) -> Result<(), ClusterError> {
    let started = Instant::now();
    let images = bin::images_dir()?;
    for image in IMAGES {
        let archive = image.archive(&images)?;
        for n in 0..nodes.nodes() {
            addons::import(nodes, n, image, &archive)?;
        }
    }
    report(&format!(
        "images made and imported after {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    let shared = super::shared_dir(nodes);
    let mut files = vec![shared.join("values-stores.json")];
    write(&files[0], &store_values(nodes).to_string())?;
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
            "5m",
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

/// Uninstalls the release (waiting for its pods to go) and deletes its namespace.
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
    Ok(())
}

/// Whether the release is deployed; the error says how to deploy it.
pub fn deployed(nodes: &Cluster) -> Result<(), ClusterError> {
    let status = cluster::command::run(helm(nodes).args([
        "status",
        RELEASE,
        "--namespace",
        NAMESPACE,
        "-o",
        "json",
    ]));
    let deployed = status
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|json| json["info"]["status"] == "deployed");
    if deployed {
        Ok(())
    } else {
        Err(ClusterError(String::from(
            "the service system is not deployed on the lab's Kubernetes cluster: run `checker cluster up kube`, \
             `checker cluster up` each of etcd, postgres, cassandra and kafka, then `checker kube install`"
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
