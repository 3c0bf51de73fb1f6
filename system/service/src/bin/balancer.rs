//! `balancer`: NGINX in front of the api replicas, its upstreams kept equal to the api instances
//! registered in etcd (see `service::balancer`).
//!
//! ```text
//! balancer --listen 10.47.0.50 --dir /var/lib/lab/nginx1 \
//!     --etcd http://10.47.0.11:2379 --fallback 10.47.0.51,10.47.0.52,10.47.0.53
//! ```
//!
//! NGINX runs as its child and dies with it (even after SIGKILL). SIGTERM or Ctrl-C stops NGINX
//! gracefully (SIGQUIT: requests in flight finish), then the balancer.

use anyhow::{bail, Context};
use clap::Parser;
use service::balancer::{config, follow, Listen, Upstreams};
use std::net::IpAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// NGINX in front of the api replicas, following etcd's discovery.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// The address NGINX listens on.
    #[arg(long, default_value = "127.0.0.1")]
    listen: IpAddr,
    /// NGINX's HTTP port.
    #[arg(long, default_value_t = 8080)]
    http_port: u16,
    /// NGINX's gRPC port.
    #[arg(long, default_value_t = 9090)]
    grpc_port: u16,
    /// Where NGINX's configuration, pid file, logs and temporary files go.
    #[arg(long)]
    dir: PathBuf,
    /// etcd endpoints, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:2379")]
    etcd: Vec<String>,
    /// The api hosts to balance over until etcd lists some, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    fallback: Vec<IpAddr>,
    /// The api replicas' HTTP port (for the fallback hosts).
    #[arg(long, default_value_t = 8080)]
    api_http_port: u16,
    /// The api replicas' gRPC port (for the fallback hosts).
    #[arg(long, default_value_t = 9090)]
    api_grpc_port: u16,
    /// The NGINX to run.
    #[arg(long, default_value = "nginx")]
    nginx: PathBuf,
}

/// Writes NGINX's configuration for `upstreams`.
fn write(cli: &Cli, listen: &Listen, upstreams: &Upstreams) -> anyhow::Result<PathBuf> {
    let file = cli.dir.join("nginx.conf");
    std::fs::write(&file, config(&cli.dir, listen, upstreams))
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(file)
}

/// Starts NGINX on `file`, bound to die with this process.
fn nginx(program: &Path, file: &Path, dir: &Path) -> anyhow::Result<tokio::process::Child> {
    let mut command = std::process::Command::new(program);
    command.arg("-c").arg(file).arg("-p").arg(dir);
    // SAFETY: prctl is async-signal-safe and touches no memory of ours.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    tokio::process::Command::from(command)
        .spawn()
        .with_context(|| format!("starting {}", program.display()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    std::fs::create_dir_all(&cli.dir).with_context(|| format!("creating {}", cli.dir.display()))?;
    let listen = Listen {
        address: cli.listen,
        http: cli.http_port,
        grpc: cli.grpc_port,
    };
    let fallback = Upstreams {
        http: cli
            .fallback
            .iter()
            .map(|h| format!("{h}:{}", cli.api_http_port))
            .collect(),
        grpc: cli
            .fallback
            .iter()
            .map(|h| format!("{h}:{}", cli.api_grpc_port))
            .collect(),
    };
    let file = write(&cli, &listen, &fallback)?;
    let mut child = nginx(&cli.nginx, &file, &cli.dir)?;
    let master = child.id().context("NGINX exited at once")?;
    eprintln!("balancer: NGINX {master} on {}", cli.listen);

    let following = {
        let (cli, listen) = (&cli, &listen);
        follow(
            &cli.etcd,
            Duration::from_secs(2),
            fallback,
            move |upstreams| {
                match write(cli, listen, upstreams) {
                    Ok(_) => {
                        // SAFETY: kill has no memory preconditions.
                        unsafe { libc::kill(master as libc::pid_t, libc::SIGHUP) };
                        eprintln!(
                            "balancer: upstreams now {:?}; NGINX reloaded",
                            upstreams.http
                        );
                    }
                    Err(e) => eprintln!("balancer: {e:#}; NGINX keeps its upstreams"),
                }
            },
        )
    };
    let stop = async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        anyhow::Ok(())
    };
    tokio::select! {
        exited = child.wait() => bail!("NGINX exited: {}", exited.context("waiting for NGINX")?),
        () = following => unreachable!("following etcd never ends"),
        stopped = stop => {
            stopped.context("waiting for a signal")?;
            // SAFETY: as above.
            unsafe { libc::kill(master as libc::pid_t, libc::SIGQUIT) };
            if tokio::time::timeout(Duration::from_secs(10), child.wait()).await.is_err() {
                child.kill().await.context("killing NGINX")?;
            }
            eprintln!("balancer: stopped");
            Ok(())
        }
    }
}
