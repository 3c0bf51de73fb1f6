//! Faults on a real [`Cluster`] on this machine: partitions as iptables
//! rules in the nodes' namespaces, crashes as SIGKILL and restart, pauses
//! as SIGSTOP and SIGCONT, clock skew through libfaketime.

use crate::{iptables, Fault, FaultKind, Nemesis, NemesisError};
use async_trait::async_trait;
use cluster::netns::{Host, Net};
use cluster::{faketime, process, Cluster, Server};
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};

/// The clusters of the nemeses alive in this process, for [`heal_active`].
static ACTIVE: Mutex<Vec<Weak<Cluster>>> = Mutex::new(Vec::new());

/// Heals every cluster a live [`LocalNemesis`] of this process faults:
/// for a process about to exit without unwinding (a second Ctrl-C).
pub fn heal_active() {
    let clusters: Vec<Arc<Cluster>> = match ACTIVE.lock() {
        Ok(active) => active.iter().filter_map(Weak::upgrade).collect(),
        Err(poisoned) => poisoned
            .get_ref()
            .iter()
            .filter_map(Weak::upgrade)
            .collect(),
    };
    for cluster in clusters {
        if let Err(e) = heal(&cluster) {
            eprintln!(
                "healing {} failed: {e}; run `checker nemesis heal`",
                cluster.name()
            );
        }
    }
}

/// A nemesis over a running [`Cluster`]. Dropping it heals the cluster,
/// so a panic that unwinds through a run leaves no fault behind.
pub struct LocalNemesis {
    cluster: Arc<Cluster>,
}

impl LocalNemesis {
    /// A nemesis for `cluster`.
    pub fn new(cluster: Arc<Cluster>) -> LocalNemesis {
        if let Ok(mut active) = ACTIVE.lock() {
            active.retain(|c| c.strong_count() > 0);
            active.push(Arc::downgrade(&cluster));
        }
        LocalNemesis { cluster }
    }

    /// The cluster it faults.
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// Whether faults of `kind` can hit servers of `server`'s kind: clock
    /// skew needs libfaketime, which only moves programs that read the
    /// clock through libc (not Go binaries such as etcd); partitions need a
    /// kind whose traffic is its nodes' own ([`Server::partitionable`]).
    pub fn supports(server: &dyn Server, kind: FaultKind) -> bool {
        match kind {
            FaultKind::Clock => server.fakes_clock(),
            FaultKind::Partition | FaultKind::PartitionLeader => server.partitionable(),
            FaultKind::Kill | FaultKind::Pause => true,
        }
    }

    /// Why faults of `kind` cannot hit servers of `server`'s kind, when [`LocalNemesis::supports`]
    /// says they cannot.
    pub fn why_not(server: &dyn Server, kind: FaultKind) -> Option<&'static str> {
        match kind {
            _ if Self::supports(server, kind) => None,
            FaultKind::Clock => Some("libfaketime cannot move a Go binary's clock"),
            _ => Some("the lab's partitions cut a node's own address, not the traffic a Kubernetes node forwards for its pods"),
        }
    }

    /// Runs a blocking cluster operation off the async workers.
    async fn blocking(
        &self,
        f: impl FnOnce(&Cluster) -> Result<(), NemesisError> + Send + 'static,
    ) -> Result<(), NemesisError> {
        let cluster = Arc::clone(&self.cluster);
        tokio::task::spawn_blocking(move || f(&cluster))
            .await
            .map_err(|e| NemesisError(format!("nemesis task failed: {e}")))?
    }
}

impl Drop for LocalNemesis {
    fn drop(&mut self) {
        if let Err(e) = heal(&self.cluster) {
            eprintln!(
                "healing {} failed: {e}; run `checker nemesis heal`",
                self.cluster.name()
            );
        }
    }
}

#[async_trait]
impl Nemesis for LocalNemesis {
    async fn start(&self, fault: &Fault) -> Result<(), NemesisError> {
        let fault = fault.clone();
        self.blocking(move |cluster| match &fault {
            Fault::Partition { groups, .. } => iptables::partition(&cluster.hosts(), groups),
            Fault::Ring { cut } => cut_links(cluster, cut),
            Fault::IsolateLeader { .. } => Err(NemesisError(
                "isolate-leader reaches the nemesis only once resolved to a partition".into(),
            )),
            Fault::Kill { node } => Ok(cluster.kill(*node)?),
            Fault::Pause { node } => Ok(cluster.pause(*node)?),
            Fault::ClockSkew { node, offset_ns } => Ok(cluster.skew_clock(*node, *offset_ns)?),
        })
        .await
    }

    async fn stop(&self, fault: &Fault) -> Result<(), NemesisError> {
        let fault = fault.clone();
        self.blocking(move |cluster| match &fault {
            Fault::Partition { .. } | Fault::Ring { .. } | Fault::IsolateLeader { .. } => {
                heal_network(cluster)
            }
            Fault::Kill { node } => Ok(cluster.restart(*node)?),
            Fault::Pause { node } => Ok(cluster.resume(*node)?),
            Fault::ClockSkew { node, .. } => Ok(cluster.skew_clock(*node, 0)?),
        })
        .await
    }

    async fn heal_all(&self) -> Result<(), NemesisError> {
        self.blocking(heal).await
    }

    async fn leader(&self) -> Result<Option<usize>, NemesisError> {
        let cluster = Arc::clone(&self.cluster);
        tokio::task::spawn_blocking(move || cluster.leader())
            .await
            .map_err(|e| NemesisError(format!("nemesis task failed: {e}")))
    }
}

/// Cuts the directed links `(from, to)` between `cluster`'s nodes.
fn cut_links(cluster: &Cluster, links: &[(usize, usize)]) -> Result<(), NemesisError> {
    for &(from, to) in links {
        iptables::cut(&cluster.host(from), &cluster.host(to))?;
    }
    Ok(())
}

/// Removes every partition rule on every node of `cluster`.
pub fn heal_network(cluster: &Cluster) -> Result<(), NemesisError> {
    let namespaces = cluster.net().namespaces()?;
    for host in cluster.hosts() {
        if namespaces.contains(&host.namespace) {
            iptables::heal(&host)?;
        }
    }
    Ok(())
}

/// Undoes every fault on `cluster`: network healed, paused nodes resumed,
/// clocks put back, crashed nodes restarted. Idempotent.
pub fn heal(cluster: &Cluster) -> Result<(), NemesisError> {
    heal_network(cluster)?;
    for node in 0..cluster.nodes() {
        cluster.resume(node)?;
        if cluster.fakes_clock() && cluster.clock_file(node).exists() {
            cluster.skew_clock(node, 0)?;
        }
        if cluster.is_prepared(node) {
            cluster.restart(node)?;
        }
    }
    Ok(())
}

/// Rules in the INPUT chain of each of `cluster`'s nodes (partitions in
/// force), 0 for a node whose namespace is gone.
pub fn rules(cluster: &Cluster) -> Result<Vec<usize>, NemesisError> {
    let namespaces = cluster.net().namespaces()?;
    cluster
        .hosts()
        .iter()
        .map(|host| {
            if namespaces.contains(&host.namespace) {
                iptables::rules(host)
            } else {
                Ok(0)
            }
        })
        .collect()
}

/// Undoes every fault the lab may have left on this machine, whatever
/// run left it: flushes the partition rules of every namespace of the
/// lab's, resumes paused nodes and restarts crashed ones of every cluster
/// of the `servers` kinds with state under `state`. Returns what it did, a
/// line per action.
pub fn heal_lab(
    net: &Net,
    state: &Path,
    servers: &[&'static dyn Server],
) -> Result<Vec<String>, NemesisError> {
    cluster::netns::require_root("healing the lab's faults")?;
    let mut done = Vec::new();
    for namespace in net.namespaces()? {
        let host = Host {
            namespace: namespace.clone(),
            address: net.bridge_address(),
        };
        let rules = iptables::rules(&host)?;
        if rules > 0 {
            iptables::heal(&host)?;
            done.push(format!("removed {rules} rule(s) in namespace {namespace}"));
        }
    }
    for &server in servers {
        let name = server.name();
        let cluster = Cluster::new(server, net.clone(), state);
        for node in 0..cluster.nodes() {
            if !cluster.is_prepared(node) {
                continue;
            }
            if cluster.fakes_clock() && cluster.clock_file(node).exists() {
                let skewed = std::fs::read_to_string(cluster.clock_file(node))
                    .is_ok_and(|t| t.trim() != faketime::offset_text(0));
                if skewed {
                    cluster.skew_clock(node, 0)?;
                    done.push(format!("reset the clock of {name} n{}", node + 1));
                }
            }
            match cluster.pid(node) {
                Some(pid) if process::stopped(pid) => {
                    cluster.resume(node)?;
                    done.push(format!("resumed {name} n{}", node + 1));
                }
                Some(_) => {
                    let missing = cluster.missing(node);
                    if !missing.is_empty() {
                        cluster.restart(node)?;
                        done.push(format!(
                            "restarted {} of {name} n{}",
                            missing.join(", "),
                            node + 1
                        ));
                    }
                }
                None => {
                    cluster.restart(node)?;
                    done.push(format!("restarted {name} n{}", node + 1));
                }
            }
        }
    }
    Ok(done)
}
