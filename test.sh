#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine or this one.
# First proves the README's first command works before anything is installed (tools/fresh-first-run),
# then installs what the tests need (idempotent) and runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")"

# What the tests need beyond a fresh machine of this kind (which has Rust, a C compiler, cmake, Java,
# Maven and PostgreSQL 15): package, and the check that tells it is there.
later_packages=(etcd-server faketime iptables iproute2 protobuf-compiler nginx mariadb-server galera-4 rsync
  prometheus prometheus-node-exporter prometheus-nginx-exporter prometheus-postgres-exporter
  containerd runc containernetworking-plugins conntrack busybox-static podman)
have() {
  case "$1" in
    etcd-server) command -v etcd >/dev/null ;;     # the etcd client's tests start a real member
    faketime) [ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] ;;   # clock skew on real servers
    iptables) command -v iptables >/dev/null ;;    # partitions of the real clusters (one network namespace per node)
    iproute2) command -v ip >/dev/null ;;
    protobuf-compiler) command -v protoc >/dev/null ;;   # the etcd-client crate (the service system) compiles etcd's .proto files
    nginx) [ -x /usr/sbin/nginx ] ;;                # the service system's load balancer
    mariadb-server) [ -x /usr/sbin/mariadbd ] ;;    # MariaDB Galera, three nodes (checker/tests/cluster_galera.rs)
    galera-4) [ -e /usr/lib/galera/libgalera_smm.so ] ;;
    rsync) command -v rsync >/dev/null ;;           # Galera's state transfer to a joining node
    prometheus) command -v promtool >/dev/null ;;   # the lab's observability; promtool tests its rules
    prometheus-node-exporter) command -v prometheus-node-exporter >/dev/null ;;
    prometheus-nginx-exporter) command -v prometheus-nginx-exporter >/dev/null ;;
    prometheus-postgres-exporter) command -v prometheus-postgres-exporter >/dev/null ;;
    containerd) [ -x /usr/bin/containerd ] ;;     # Kubernetes nodes' runtime (checker/tests/cluster_kube.rs), one per node
    runc) [ -x /usr/sbin/runc ] ;;
    containernetworking-plugins) [ -x /usr/lib/cni/bridge ] ;;   # the pods' network
    conntrack) command -v conntrack >/dev/null ;;   # kube-proxy flushes UDP conntrack entries with it
    busybox-static) [ -x /bin/busybox ] ;;          # the image the Kubernetes tests' pods run
    podman) [ -x /usr/bin/podman ] ;;               # builds the images FROM scratch (k8s/images/*/Containerfile)
    build-essential) command -v cc >/dev/null ;;
    curl) command -v curl >/dev/null ;;
    postgresql-15) [ -x /usr/lib/postgresql/15/bin/postgres ] ;;   # the PostgreSQL tests start private servers
    openjdk-17-jre-headless) command -v java >/dev/null ;;         # Kafka and Cassandra run from Maven Central's jars
    openjdk-17-jdk-headless) [ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/jlink ] ;;   # jlink and the jmods make the stores' Java images
    maven) command -v mvn >/dev/null ;;            # resolves those jars into ~/.m2 (tools/kafka, tools/cassandra)
    python3-venv) python3 -m venv --help >/dev/null 2>&1 ;;   # schemathesis, which fuzzes the service's REST API
  esac
}
install() {
  local need=()
  for p in "$@"; do have "$p" || need+=("$p"); done
  [ ${#need[@]} -eq 0 ] && return
  if [ "$(id -u)" = 0 ]; then
    # RUNLEVEL=1: packages do not start their own services (mariadb-server's); the lab runs its own.
    apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  else
    echo "test.sh: missing ${need[*]}; install them with: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
}

install build-essential curl
if ! command -v cargo >/dev/null; then
  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi

# The main job first, as a new user runs it, with the packages installed below hidden.
tools/fresh-first-run "${later_packages[@]}"
tools/check-layering   # the checking library builds without a runtime, driver or network crate

install postgresql-15 openjdk-17-jre-headless openjdk-17-jdk-headless maven python3-venv "${later_packages[@]}"
tools/schemathesis/run --install   # pinned, in a virtualenv under ~/.cache (outlives a clone)
tools/locust/run --install         # Locust and grpcio, pinned, likewise
tools/kube/build >/dev/null        # Kubernetes v1.34 from the Go module proxy, into ~/.cache (~8 min cold)
k8s/validate --install             # yamllint, kubernetes-validate and kube-score, pinned, likewise

cargo test --workspace --all-targets "$@"
cargo test --workspace --doc
