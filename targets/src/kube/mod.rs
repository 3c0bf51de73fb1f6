//! Kubernetes v1.34.4, for real on this machine (no kind, minikube or k3d: they pull node images
//! from a registry, and none is reachable here).
//!
//! - [`control_plane`]: etcd, kube-apiserver, kube-controller-manager and kube-scheduler, in one
//!   namespace of the lab (`lab-kcp1`, 10.47.0.91).
//! - [`node`]: three nodes (`lab-knode1`…`3`, 10.47.0.92–94), each a containerd, a kubelet and
//!   kube-proxy in its own namespace, so a node is partitioned, paused or killed like any other
//!   node of the lab; pods on a CNI bridge per node, routed between the nodes.
//! - [`addons`]: CoreDNS and metrics-server, as pods, applied once the nodes are ready.
//! - [`chart`]: the service system installed by its Helm chart; [`volumes`]: the local
//!   volumes its stores claim.
//! - [`image`]: images made without a registry; [`pki`]: certificates; [`bin`]: the components,
//!   built by `tools/kube/build` from the Go module proxy.
//!
//! What the cluster shares lives in `.lab/kube/`: the PKI, the kubeconfigs (`admin.kubeconfig`
//! is the one to use), the images and what the nodes changed on the machine, undone by `down`.

pub mod addons;
pub mod bin;
pub mod chart;
pub mod control_plane;
pub mod image;
pub mod node;
pub mod pki;
pub mod volumes;

use crate::service::client::{Endpoint, ServiceTarget};
use crate::{running, OpenError, Opened, Setup, System, TargetKind};
use cluster::{Cluster, ClusterError};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use workloads::{bank::BANK, counter::COUNTER, register::REGISTER, set::SET};

/// Kubernetes' row of [`crate::SYSTEMS`].
pub static SYSTEM: System = System {
    name: "kube",
    about: "Kubernetes v1.34.4: a control plane and three nodes (containerd, kubelet, kube-proxy)",
    servers: &[&control_plane::ControlPlane, &node::Node],
    needs: &[],
    targets: &[
        TargetKind {
            name: "kube-strong",
            about: "the service system deployed by k8s/chart, strong requests through NGINX's NodePort; faults hit the nodes",
            workloads: &[&REGISTER, &SET, &COUNTER, &BANK],
            open: |setup| open(setup, "strong"),
        },
        TargetKind {
            name: "kube-eventual",
            about: "the chart's system, eventual requests (Cassandra at QUORUM, last-write-wins on HLC)",
            workloads: &[&REGISTER, &SET, &COUNTER],
            open: |setup| open(setup, "eventual"),
        },
        TargetKind {
            name: "kube-async",
            about: "the chart's system, async writes through Kafka, applied by the workers' pods",
            workloads: &[&REGISTER, &SET, &COUNTER],
            open: |setup| open(setup, "async"),
        },
    ],
};

/// The service system as the chart deployed it (`checker kube install`), reached through
/// NGINX's NodePort on every node; the lab's faults hit the Kubernetes nodes (a killed or paused
/// node is its containerd, kubelet and kube-proxy; its containers go on running, as when a real
/// node's agent dies).
fn open(setup: &Setup, consistency: &'static str) -> Result<Opened, OpenError> {
    let nodes = running(&node::Node, setup)?;
    chart::deployed(&nodes)?;
    let endpoints = (0..nodes.nodes())
        .map(|n| Endpoint {
            http: format!("http://{}", chart::http_address(&nodes, n)),
            grpc: format!("http://{}", chart::grpc_address(&nodes, n)),
        })
        .collect();
    let data = setup.workload.data;
    let mut target = ServiceTarget::new(endpoints, data, consistency, setup.via, setup.op_timeout);
    if consistency == "async" {
        target = target.draining();
    }
    let description = format!(
        "the service system on Kubernetes ({} nodes, Helm release {} in {}), {consistency} requests through NGINX over {}",
        nodes.nodes(),
        chart::RELEASE,
        chart::NAMESPACE,
        setup.via.name()
    );
    let promise = match consistency {
        "strong" => "each request one SERIALIZABLE PostgreSQL transaction: linearizable",
        "eventual" => "Cassandra at QUORUM with last-write-wins: no promise for a read-then-write",
        _ => "writes accepted into Kafka and applied later: reads converge once the queue drains",
    };
    Ok(Opened::real(nodes, Arc::new(target), description, promise))
}

/// The pods' network; node `i` (from 0) gets `10.244.<i+1>.0/24`.
pub const POD_CIDR: &str = "10.244.0.0/16";
/// The Services' network.
pub const SERVICE_CIDR: &str = "10.96.0.0/16";
/// The `kubernetes` Service's address (the first of [`SERVICE_CIDR`]).
pub const API_SERVICE_IP: [u8; 4] = [10, 96, 0, 1];
/// CoreDNS's Service address, which every pod's resolv.conf names.
pub const DNS_SERVICE_IP: &str = "10.96.0.10";
/// The apiserver's port.
pub const API_PORT: u16 = 6443;

/// The folder the cluster's parts share (`.lab/kube`), beside the kinds' own folders.
pub fn shared_dir(cluster: &Cluster) -> PathBuf {
    cluster
        .kind_dir()
        .parent()
        .unwrap_or(Path::new("."))
        .join(SYSTEM.name)
}

/// The cluster's PKI.
pub fn pki(cluster: &Cluster) -> pki::Pki {
    pki::Pki::at(&shared_dir(cluster).join("pki"))
}

/// The kubeconfig of `user` (`admin`, `kube-proxy`, `kubelet-knode1`).
pub fn kubeconfig(cluster: &Cluster, user: &str) -> PathBuf {
    shared_dir(cluster).join(format!("{user}.kubeconfig"))
}

/// The cluster administrator's kubeconfig (`.lab/kube/admin.kubeconfig`).
pub fn admin_kubeconfig(cluster: &Cluster) -> PathBuf {
    kubeconfig(cluster, "admin")
}

/// `kubectl` as the cluster's administrator.
pub fn kubectl(cluster: &Cluster) -> Command {
    let mut command = bin::command("kubectl");
    command
        .arg("--kubeconfig")
        .arg(admin_kubeconfig(cluster))
        .arg("--request-timeout=10s");
    command
}

/// Runs `kubectl args…` as the administrator; its output, or an error naming the command.
pub fn kubectl_run(cluster: &Cluster, args: &[&str]) -> Result<String, ClusterError> {
    cluster::command::run(kubectl(cluster).args(args))
}

/// The apiserver's URL, as the nodes and kubectl reach it.
pub fn api_url(cluster: &Cluster) -> String {
    let control = crate::service::server::beside(cluster, &control_plane::ControlPlane);
    format!("https://{}:{API_PORT}", control.host(0).address)
}

/// Writes `text` to `path`, naming the file if it cannot.
fn write(path: &Path, text: &str) -> Result<(), ClusterError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| ClusterError(format!("cannot create {}: {e}", parent.display())))?;
    }
    std::fs::write(path, text)
        .map_err(|e| ClusterError(format!("cannot write {}: {e}", path.display())))
}
