//! `checker kube install|uninstall|status`: the service system on the lab's Kubernetes cluster,
//! deployed by the Helm chart `k8s/chart` over the lab's own store clusters.

use ::cluster::netns::Net;
use ::cluster::Cluster;
use std::path::PathBuf;
use targets::kube::{chart, node::Node};

#[derive(clap::Args)]
#[command(after_help = "Examples:
  sudo checker cluster up kube; for s in etcd postgres cassandra kafka; do sudo checker cluster up $s; done
  sudo checker kube install                       # images made and imported, helm upgrade --install --wait
  sudo checker kube install --values my.yaml      # with values of your own on top
  sudo checker run --target kube-strong --workload register --nemesis kill
  sudo checker kube status
  sudo checker kube uninstall

The chart's api and workers reach the lab's etcd, PostgreSQL, Cassandra and Kafka on its network;
the checker reaches NGINX on every node's NodePort (30080 HTTP, 30090 gRPC).")]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Make the images, import them into every node, install or upgrade the release and wait.
    Install {
        /// Extra values files, applied after the lab's (repeatable).
        #[arg(long = "values", short = 'f')]
        values: Vec<PathBuf>,
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
    /// Show the release's pods, where they run, and the HPA.
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
        Action::Install { values, .. } => {
            let mut texts = Vec::new();
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
            for what in ["pods", "hpa"] {
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
