//! `checker kube install|uninstall|status`: the service system on the lab's Kubernetes cluster,
//! deployed by the Helm chart `k8s/chart`, its stores in the cluster or the lab's own.

use ::cluster::netns::Net;
use ::cluster::Cluster;
use std::path::PathBuf;
use targets::kube::{chart, node::Node};

#[derive(clap::Args)]
#[command(after_help = "Examples:
  sudo checker cluster up kube
  sudo checker kube install                       # images made and imported, helm upgrade --install --wait
  sudo checker kube install --values my.yaml      # with values of your own on top
  for s in etcd postgres cassandra kafka; do sudo checker cluster up $s; done
  sudo checker kube install --lab-stores          # the stores: the lab's clusters, not StatefulSets
  sudo checker run --target kube-strong --workload register --nemesis kill
  sudo checker kube status
  sudo checker kube uninstall

The chart runs PostgreSQL, Cassandra, Kafka and etcd as StatefulSets on the store node (knode3),
on local volumes the lab offers; with --lab-stores the api and workers reach the lab's own store
clusters on its network instead, where `--nemesis partition` reaches them. The checker reaches
NGINX on every node's NodePort (30080 HTTP, 30090 gRPC).")]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Make the images, import them into the nodes, offer the stores' volumes, install or upgrade
    /// the release and wait until every Deployment and StatefulSet is ready.
    Install {
        /// Extra values files, applied after the lab's (repeatable).
        #[arg(long = "values", short = 'f')]
        values: Vec<PathBuf>,
        /// Run no store in the cluster: point the api and the workers at the lab's own etcd,
        /// PostgreSQL, Cassandra and Kafka clusters (`checker cluster up` each first).
        #[arg(long)]
        lab_stores: bool,
        /// The lab's state folder.
        #[arg(long, default_value = ".lab")]
        state: PathBuf,
    },
    /// Uninstall the release and delete its namespace.
    Uninstall {
        /// The lab's state folder.
        #[arg(long, default_value = ".lab")]
        state: PathBuf,
    },
    /// Show the release's pods (where they run), StatefulSets, volume claims and the HPA.
    Status {
        /// The lab's state folder.
        #[arg(long, default_value = ".lab")]
        state: PathBuf,
    },
}

/// Runs `checker kube …`.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let state = match &args.action {
        Action::Install { state, .. } | Action::Uninstall { state } | Action::Status { state } => {
            state
        }
    };
    let nodes = Cluster::new(&Node, Net::from_env()?, state);
    if !nodes.is_up() {
        eprintln!("error: the lab's Kubernetes cluster is not up (state in {}); start it with `checker cluster up kube`", state.display());
        return Ok(super::EXIT_BAD_INPUT);
    }
    match args.action {
        Action::Install {
            values, lab_stores, ..
        } => {
            let mut texts = Vec::new();
            if lab_stores {
                texts.push(chart::lab_store_values(&nodes).to_string());
            }
            for file in &values {
                texts.push(
                    std::fs::read_to_string(file)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?,
                );
            }
            chart::install(&nodes, &texts, &mut |event| eprintln!("kube: {event}"))?;
            println!(
                "deployed: http://{} (and every node's port {}), gRPC on {}",
                chart::http_address(&nodes, 0),
                chart::HTTP_NODE_PORT,
                chart::GRPC_NODE_PORT
            );
        }
        Action::Uninstall { .. } => {
            chart::uninstall(&nodes)?;
            println!("uninstalled");
        }
        Action::Status { .. } => {
            let control = targets::service::server::beside(
                &nodes,
                &targets::kube::control_plane::ControlPlane,
            );
            for what in ["pods", "statefulsets", "pvc", "hpa"] {
                println!(
                    "{}",
                    targets::kube::kubectl_run(
                        &control,
                        &["-n", chart::NAMESPACE, "get", what, "-o", "wide"]
                    )?
                );
            }
        }
    }
    Ok(0)
}
