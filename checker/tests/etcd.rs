//! The etcd client against a real etcd (Debian's `etcd-server`, installed
//! by `test.sh`): compare-and-set semantics, and the register workload
//! judged linearizable on a single member.

mod servers;

use consistency::Verdict;
use history::{OpType, Value};
use servers::{free_port, run_and_judge, wait_until, why};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use targets::etcd::client::EtcdTarget;
use workloads::{Invocation, Target};

/// A one-member etcd on free loopback ports, killed on drop.
struct Etcd {
    child: Child,
    url: String,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Etcd {
    fn start(name: &str) -> Etcd {
        let dir = std::env::temp_dir().join(format!("checker-etcd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (client, peer) = (free_port(), free_port());
        let url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let child = Command::new("etcd")
            .args(["--name", name, "--data-dir"])
            .arg(&dir)
            .args([
                "--listen-client-urls",
                &url,
                "--advertise-client-urls",
                &url,
            ])
            .args([
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
            ])
            .args(["--initial-cluster", &format!("{name}={peer_url}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd is installed (test.sh installs Debian's etcd-server)");
        let etcd = Etcd {
            child,
            url,
            _dir: TempDir(dir),
        };
        // Wait until it serves (polling its health endpoint).
        wait_until("etcd", || {
            Command::new("curl")
                .args(["-sf", &format!("{}/health", etcd.url)])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("true"))
        });
        etcd
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn compare_and_set_follows_etcd() {
    let etcd = Etcd::start("cas");
    let target = EtcdTarget::new(vec![etcd.url.clone()], false, Duration::from_secs(5));
    runtime().block_on(async {
        let client = target.open(0).await.expect("client");
        let op = |f: &str, v: Value| Invocation::new(f, v).on(Value::Int(1));
        let pair = |a: Value, b: i64| Value::Vector(vec![a, Value::Int(b)]);
        let read = client.invoke(&op("read", Value::Nil)).await;
        assert_eq!(
            (read.kind, read.value),
            (OpType::Ok, Value::Nil),
            "a key never written reads nil"
        );
        assert_eq!(
            client.invoke(&op("cas", pair(Value::Int(1), 2))).await.kind,
            OpType::Fail
        );
        assert_eq!(
            client.invoke(&op("cas", pair(Value::Nil, 1))).await.kind,
            OpType::Ok,
            "nil → 1 creates it"
        );
        assert_eq!(
            client.invoke(&op("cas", pair(Value::Nil, 3))).await.kind,
            OpType::Fail,
            "it exists now"
        );
        assert_eq!(
            client.invoke(&op("cas", pair(Value::Int(1), 2))).await.kind,
            OpType::Ok
        );
        assert_eq!(
            client.invoke(&op("write", Value::Int(4))).await.kind,
            OpType::Ok
        );
        let read = client.invoke(&op("read", Value::Nil)).await;
        assert_eq!((read.kind, read.value), (OpType::Ok, Value::Int(4)));
    });
}

#[test]
fn a_member_that_is_gone_fails_definitely() {
    let port = free_port();
    let target = EtcdTarget::new(
        vec![format!("http://127.0.0.1:{port}")],
        false,
        Duration::from_secs(2),
    );
    runtime().block_on(async {
        let client = target.open(0).await.expect("client");
        let c = client
            .invoke(&Invocation::new("write", Value::Int(1)).on(Value::Int(1)))
            .await;
        assert_eq!(
            c.kind,
            OpType::Fail,
            "connection refused: the write was never sent"
        );
    });
}

#[test]
fn the_register_workload_on_one_member_is_linearizable() {
    for serializable in [false, true] {
        // A fresh member each time: the workload assumes its keys start empty.
        let etcd = Etcd::start(if serializable {
            "serializable"
        } else {
            "linearizable"
        });
        let target: Arc<dyn Target> = Arc::new(EtcdTarget::new(
            vec![etcd.url.clone()],
            serializable,
            Duration::from_secs(5),
        ));
        let (history, judgement) = run_and_judge(target, "register", 4, 2, 200.0);
        let ok = history
            .ops()
            .iter()
            .filter(|o| o.kind == OpType::Ok)
            .count();
        assert!(ok > 50, "the workload ran against etcd: {ok} ok");
        assert_eq!(
            judgement.verdict,
            Verdict::Valid,
            "serializable: {serializable}: {:?}",
            why(&judgement)
        );
    }
}
