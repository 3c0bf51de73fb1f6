//! The cluster's storage: the local cluster has no volume provisioner, so the lab offers folders
//! of the store node as `local` PersistentVolumes of the [`STORAGE_CLASS`] class, a pool the
//! stores' claims bind to (the scheduler binds a claim when its pod is placed:
//! `WaitForFirstConsumer`). A claim outlives its pod, so a store member that is replaced finds
//! its data again. The folders live under the node's runtime folder, which `down` removes.

use super::node::{self, STORE_NODE};
use super::{kubectl_run, write};
use crate::service::server::beside;
use cluster::{Cluster, ClusterError};
use std::path::PathBuf;
use std::process::Command;

/// The storage class of the pool (the chart's `stores.storageClassName`).
pub const STORAGE_CLASS: &str = "lab-local";
/// How many volumes the pool holds: the chart's stores claim 12 (3 members each of etcd,
/// PostgreSQL, Cassandra and Kafka); the rest is room for scaling one up.
pub const POOL: usize = 16;
/// Each volume's capacity as Kubernetes sees it (a folder has no size of its own; it is what
/// the largest claim of the chart asks for, doubled).
const CAPACITY: &str = "4Gi";
/// The user the stores' images run as, who owns the folders.
const OWNER: &str = "65532:65532";

/// The folder of volume `i` on the store node.
pub fn folder(nodes: &Cluster, i: usize) -> PathBuf {
    node::runtime_dir(nodes, STORE_NODE)
        .join("volumes")
        .join(name(i))
}

fn name(i: usize) -> String {
    format!("lab-local-{i:02}")
}

/// Makes the pool whole: volumes released by claims that are gone (an uninstalled release's)
/// are deleted with their data, then every missing volume is created with an empty folder.
pub fn ensure(nodes: &Cluster) -> Result<(), ClusterError> {
    recycle(nodes)?;
    for i in 0..POOL {
        let dir = folder(nodes, i);
        std::fs::create_dir_all(&dir)
            .map_err(|e| ClusterError(format!("cannot create {}: {e}", dir.display())))?;
        cluster::command::run(Command::new("chown").arg(OWNER).arg(&dir))?;
    }
    let file = super::shared_dir(nodes).join("volumes.yaml");
    write(&file, &manifests(nodes))?;
    let control = beside(nodes, &super::control_plane::ControlPlane);
    kubectl_run(&control, &["apply", "-f", &file.display().to_string()])?;
    Ok(())
}

/// Deletes the volumes no claim holds any more (`Released`), and their folders' data.
pub fn recycle(nodes: &Cluster) -> Result<(), ClusterError> {
    let control = beside(nodes, &super::control_plane::ControlPlane);
    let listed = kubectl_run(&control, &["get", "pv", "-o", &phases_query()])?;
    for (i, volume) in (0..POOL).map(|i| (i, name(i))) {
        let released = listed.lines().any(|line| {
            line.split_once(' ')
                .is_some_and(|(n, phase)| n == volume && phase != "Bound" && phase != "Available")
        });
        if released {
            kubectl_run(&control, &["delete", "pv", &volume, "--wait=true"])?;
            let dir = folder(nodes, i);
            std::fs::remove_dir_all(&dir)
                .map_err(|e| ClusterError(format!("cannot remove {}: {e}", dir.display())))?;
        }
    }
    Ok(())
}

/// kubectl's output format listing each volume of the class with its phase, a line each.
fn phases_query() -> String {
    format!(
        r#"jsonpath={{range .items[?(@.spec.storageClassName=="{STORAGE_CLASS}")]}}{{.metadata.name}} {{.status.phase}}{{"\n"}}{{end}}"#
    )
}

/// The storage class and the pool's volumes, each pinned to the store node.
fn manifests(nodes: &Cluster) -> String {
    let mut text = format!(
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {{name: {STORAGE_CLASS}}}\n\
         provisioner: kubernetes.io/no-provisioner\nvolumeBindingMode: WaitForFirstConsumer\n\
         reclaimPolicy: Retain\n"
    );
    for i in 0..POOL {
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: {}\n  labels: {{app.kubernetes.io/managed-by: consistency-lab}}\n\
             spec:\n  capacity: {{storage: {CAPACITY}}}\n  accessModes: [ReadWriteOnce]\n  volumeMode: Filesystem\n\
             \x20 persistentVolumeReclaimPolicy: Retain\n  storageClassName: {STORAGE_CLASS}\n  local: {{path: {}}}\n\
             \x20 nodeAffinity:\n    required:\n      nodeSelectorTerms:\n      - matchExpressions:\n\
             \x20       - {{key: kubernetes.io/hostname, operator: In, values: [{}]}}\n",
            name(i),
            folder(nodes, i).display(),
            node::name(STORE_NODE),
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_phases_are_asked_of_the_pool_s_class_only() {
        assert_eq!(
            phases_query(),
            r#"jsonpath={range .items[?(@.spec.storageClassName=="lab-local")]}{.metadata.name} {.status.phase}{"\n"}{end}"#
        );
    }
}
