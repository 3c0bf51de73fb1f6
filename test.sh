#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine or this one.
# Installs what the tests need (idempotent), then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")"

need_apt=()
command -v cc >/dev/null || need_apt+=(build-essential)
command -v curl >/dev/null || need_apt+=(curl)
command -v etcd >/dev/null || need_apt+=(etcd-server)   # the etcd client's tests start a real member
[ -x /usr/lib/postgresql/15/bin/postgres ] || need_apt+=(postgresql-15)   # the PostgreSQL client's tests start a private server
command -v iptables >/dev/null || need_apt+=(iptables)    # partitions of the real clusters (one network namespace per node)
command -v ip >/dev/null || need_apt+=(iproute2)
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] || need_apt+=(faketime)   # clock skew on real servers
command -v cmake >/dev/null || need_apt+=(cmake)          # rdkafka builds librdkafka from source
dpkg -s libcurl4-openssl-dev >/dev/null 2>&1 || need_apt+=(libcurl4-openssl-dev)   # librdkafka's build includes curl/curl.h
command -v java >/dev/null || need_apt+=(openjdk-17-jre-headless)   # Kafka and Cassandra run from Maven Central's jars
command -v mvn >/dev/null || need_apt+=(maven)             # resolves those jars into ~/.m2 (tools/kafka, tools/cassandra)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
  else
    echo "test.sh: missing ${need_apt[*]}; install them with: sudo apt-get install ${need_apt[*]}" >&2
    exit 1
  fi
fi
if ! command -v cargo >/dev/null; then
  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi

cargo test --workspace --all-targets "$@"
cargo test --workspace --doc
