//! [`Composite`]: faults over several running clusters seen as one system
//! (the service system's api replicas and the stores they use), so that a
//! partition can cut a service from a store as well as a store's nodes from
//! each other.
//!
//! Node indices run over the parts' nodes in order: with parts `api` (3
//! nodes) and `postgres` (3), node 0 is `api1` and node 3 `postgres1`.
//! Every part's nodes sit in their own namespaces on the lab's one bridge,
//! so a partition is the same iptables rules whichever clusters its nodes
//! belong to.

use crate::local::{heal_network, LocalNemesis};
use crate::schedule::Surface;
use crate::{iptables, Fault, Nemesis, NemesisError};
use async_trait::async_trait;
use cluster::netns::Host;
use cluster::Cluster;
use std::sync::Arc;

/// A nemesis over the nodes of several clusters. Dropping it heals every
/// part (each part is a [`LocalNemesis`]).
pub struct Composite {
    parts: Vec<LocalNemesis>,
}

impl Composite {
    /// A nemesis over `parts`, their nodes numbered in this order. The first
    /// part with a leader answers [`Nemesis::leader`].
    pub fn new(parts: Vec<Arc<Cluster>>) -> Composite {
        Composite {
            parts: parts.into_iter().map(LocalNemesis::new).collect(),
        }
    }

    /// The nodes faults may hit: all of them, clocks only where the server
    /// kind can move its clock (libfaketime).
    pub fn surface(&self) -> Surface {
        let mut clocks = Vec::new();
        let mut nodes = 0;
        for part in &self.parts {
            let cluster = part.cluster();
            if cluster.fakes_clock() {
                clocks.extend(nodes..nodes + cluster.nodes());
            }
            nodes += cluster.nodes();
        }
        Surface { nodes, clocks }
    }

    /// Every node's host, in the composite's order.
    fn hosts(&self) -> Vec<Host> {
        self.parts
            .iter()
            .flat_map(|part| part.cluster().hosts())
            .collect()
    }

    /// The part that holds node `node`, and the node's index in it.
    fn locate(&self, node: usize) -> Result<(&LocalNemesis, usize), NemesisError> {
        let mut first = 0;
        for part in &self.parts {
            let nodes = part.cluster().nodes();
            if node < first + nodes {
                return Ok((part, node - first));
            }
            first += nodes;
        }
        Err(NemesisError(format!(
            "node {} is beyond the {first} nodes of {}",
            node + 1,
            self.names()
        )))
    }

    /// The parts' names, for errors.
    fn names(&self) -> String {
        let names: Vec<&str> = self.parts.iter().map(|p| p.cluster().name()).collect();
        names.join(" + ")
    }

    /// `fault` on one node, as its own part numbers it.
    fn local(&self, fault: &Fault) -> Result<Option<(&LocalNemesis, Fault)>, NemesisError> {
        Ok(match *fault {
            Fault::Kill { node } => {
                let (part, node) = self.locate(node)?;
                Some((part, Fault::Kill { node }))
            }
            Fault::Pause { node } => {
                let (part, node) = self.locate(node)?;
                Some((part, Fault::Pause { node }))
            }
            Fault::ClockSkew { node, offset_ns } => {
                let (part, node) = self.locate(node)?;
                Some((part, Fault::ClockSkew { node, offset_ns }))
            }
            Fault::Partition { .. } | Fault::Ring { .. } | Fault::IsolateLeader { .. } => None,
        })
    }

    /// Runs a blocking operation over every part's cluster off the async workers.
    async fn blocking(
        &self,
        f: impl FnOnce(&[Arc<Cluster>], &[Host]) -> Result<(), NemesisError> + Send + 'static,
    ) -> Result<(), NemesisError> {
        let clusters: Vec<Arc<Cluster>> =
            self.parts.iter().map(|p| Arc::clone(p.cluster())).collect();
        let hosts = self.hosts();
        tokio::task::spawn_blocking(move || f(&clusters, &hosts))
            .await
            .map_err(|e| NemesisError(format!("nemesis task failed: {e}")))?
    }
}

#[async_trait]
impl Nemesis for Composite {
    async fn start(&self, fault: &Fault) -> Result<(), NemesisError> {
        if let Some((part, fault)) = self.local(fault)? {
            return part.start(&fault).await;
        }
        let fault = fault.clone();
        self.blocking(move |_, hosts| match &fault {
            Fault::Partition { groups, .. } => iptables::partition(hosts, groups),
            Fault::Ring { cut } => cut
                .iter()
                .try_for_each(|&(from, to)| iptables::cut(&hosts[from], &hosts[to])),
            _ => Err(NemesisError(
                "isolate-leader reaches the nemesis only once resolved to a partition".into(),
            )),
        })
        .await
    }

    async fn stop(&self, fault: &Fault) -> Result<(), NemesisError> {
        if let Some((part, fault)) = self.local(fault)? {
            return part.stop(&fault).await;
        }
        self.blocking(|clusters, _| clusters.iter().try_for_each(|c| heal_network(c)))
            .await
    }

    async fn heal_all(&self) -> Result<(), NemesisError> {
        for part in &self.parts {
            part.heal_all().await?;
        }
        Ok(())
    }

    async fn leader(&self) -> Result<Option<usize>, NemesisError> {
        let mut first = 0;
        for part in &self.parts {
            if let Some(leader) = part.leader().await? {
                return Ok(Some(first + leader));
            }
            first += part.cluster().nodes();
        }
        Ok(None)
    }

    fn node_name(&self, node: usize) -> String {
        match self.locate(node) {
            Ok((part, local)) => format!("{}{}", part.cluster().name(), local + 1),
            Err(_) => crate::fault::default_name(node),
        }
    }
}
