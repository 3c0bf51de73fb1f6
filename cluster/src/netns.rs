//! One network namespace per node, on a bridge: the lab's network.
//!
//! Loopback aliases cannot separate nodes (a server dialing a peer sends
//! from 127.0.0.1 whatever address it listens on), so each node gets what
//! Jepsen gives it, a host of its own: a namespace with one veth end as
//! `eth0` and one address in the lab's range, the other end on a bridge in
//! the root namespace. The checker's clients run in the root namespace and
//! reach every node over the bridge; partitions are iptables rules inside
//! the nodes' namespaces (`nemesis::iptables`).
//!
//! Every name the lab creates starts with the lab's prefix, so teardown
//! and `checker nemesis heal` find exactly what the lab made and nothing
//! else.

use crate::command::{run, succeeds};
use crate::ClusterError;
use std::net::Ipv4Addr;
use std::process::Command;

/// The lab's network: a bridge, a /24, and a name prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Net {
    /// Prefix of every namespace and link the lab creates (`lab`).
    pub prefix: String,
    /// The first three octets of the lab's /24; the bridge is `.1`.
    pub subnet: [u8; 3],
}

/// Where one node lives on the lab's network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Its namespace, also the name of its veth end on the bridge.
    pub namespace: String,
    /// Its address.
    pub address: Ipv4Addr,
}

impl Default for Net {
    /// `lab`, 10.47.0.0/24: a private range no other tool here uses.
    fn default() -> Net {
        Net {
            prefix: "lab".into(),
            subnet: [10, 47, 0],
        }
    }
}

impl Net {
    /// The environment variable that moves the lab to another prefix and
    /// range (`labt/10.47.1`), so tests never touch a user's clusters.
    pub const ENV: &'static str = "CHECKER_LAB_NET";

    /// [`Net::default`], or what [`Net::ENV`] says (`PREFIX/A.B.C`).
    pub fn from_env() -> Result<Net, ClusterError> {
        match std::env::var(Net::ENV) {
            Ok(text) => Net::parse(&text),
            Err(_) => Ok(Net::default()),
        }
    }

    /// Parses `PREFIX/A.B.C` (`labt/10.47.1`).
    pub fn parse(text: &str) -> Result<Net, ClusterError> {
        let bad = || {
            ClusterError(format!(
                "{} must look like `labt/10.47.1` (a name prefix of up to 6 letters, then the first three octets of a /24), got `{text}`",
                Net::ENV
            ))
        };
        let (prefix, subnet) = text.split_once('/').ok_or_else(bad)?;
        let octets: Vec<u8> = subnet
            .split('.')
            .map(|o| o.parse().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        let valid_prefix = !prefix.is_empty()
            && prefix.len() <= 6
            && prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        match octets[..] {
            [a, b, c] if valid_prefix => Ok(Net {
                prefix: prefix.into(),
                subnet: [a, b, c],
            }),
            _ => Err(bad()),
        }
    }

    /// The bridge's name (`lab0`).
    pub fn bridge(&self) -> String {
        format!("{}0", self.prefix)
    }

    /// The bridge's address, which is where the clients' traffic comes from.
    pub fn bridge_address(&self) -> Ipv4Addr {
        self.address(1)
    }

    /// The address `.last` in the lab's range.
    pub fn address(&self, last: u8) -> Ipv4Addr {
        let [a, b, c] = self.subnet;
        Ipv4Addr::new(a, b, c, last)
    }

    /// The host named `<prefix>-<name>` at `.last`. The name is also a link
    /// name, so it must stay within 13 bytes (`lab-kafka3`).
    pub fn host(&self, name: &str, last: u8) -> Host {
        Host {
            namespace: format!("{}-{name}", self.prefix),
            address: self.address(last),
        }
    }

    /// Creates the bridge if it is missing and lets bridged traffic through
    /// the root namespace's FORWARD chain (bridged packets traverse it when
    /// `br_netfilter` is loaded, and a DROP policy, as Docker sets, would
    /// silently cut every node from every other). Idempotent.
    pub fn ensure_bridge(&self) -> Result<(), ClusterError> {
        let bridge = self.bridge();
        if !link_exists(&bridge) {
            run(ip().args(["link", "add", &bridge, "type", "bridge"]))?;
        }
        let cidr = format!("{}/24", self.bridge_address());
        if !run(ip().args(["-4", "addr", "show", "dev", &bridge]))?.contains(&cidr) {
            run(ip().args(["addr", "add", &cidr, "dev", &bridge]))?;
        }
        run(ip().args(["link", "set", &bridge, "up"]))?;
        let accept = self.forward_rule();
        if !succeeds(Command::new("iptables").arg("-C").args(&accept)) {
            run(Command::new("iptables").arg("-I").args(&accept))?;
        }
        Ok(())
    }

    fn forward_rule(&self) -> Vec<String> {
        let bridge = self.bridge();
        ["FORWARD", "-i", &bridge, "-o", &bridge, "-j", "ACCEPT"]
            .map(String::from)
            .to_vec()
    }

    /// Creates `host`'s namespace, its veth pair and its address, unless it
    /// already exists. Needs the bridge.
    pub fn add_host(&self, host: &Host) -> Result<(), ClusterError> {
        let ns = &host.namespace;
        if ns.len() > 13 {
            // Link names have 15 bytes, and the peer is briefly `<ns>-p`.
            return Err(ClusterError(format!(
                "host name `{ns}` is longer than 13 bytes; use a shorter prefix"
            )));
        }
        if !self.namespaces()?.contains(ns) {
            run(ip().args(["netns", "add", ns]))?;
        }
        if !link_exists(ns) {
            let peer = format!("{ns}-p");
            run(ip().args(["link", "add", ns, "type", "veth", "peer", "name", &peer]))?;
            run(ip().args(["link", "set", &peer, "netns", ns]))?;
            run(in_ns(ns, "ip").args(["link", "set", &peer, "name", "eth0"]))?;
        }
        run(ip().args(["link", "set", ns, "master", &self.bridge()]))?;
        run(ip().args(["link", "set", ns, "up"]))?;
        let cidr = format!("{}/24", host.address);
        if !run(in_ns(ns, "ip").args(["-4", "addr", "show", "dev", "eth0"]))?.contains(&cidr) {
            run(in_ns(ns, "ip").args(["addr", "add", &cidr, "dev", "eth0"]))?;
        }
        run(in_ns(ns, "ip").args(["link", "set", "eth0", "up"]))?;
        run(in_ns(ns, "ip").args(["link", "set", "lo", "up"]))?;
        Ok(())
    }

    /// Deletes `namespace` and its veth pair. Stop the processes inside
    /// first: deleting a namespace does not kill them, and their link
    /// lingers until they exit. Idempotent.
    pub fn remove_host(&self, namespace: &str) -> Result<(), ClusterError> {
        if link_exists(namespace) {
            run(ip().args(["link", "del", namespace]))?;
        }
        if self.namespaces()?.iter().any(|n| n == namespace) {
            run(ip().args(["netns", "del", namespace]))?;
        }
        Ok(())
    }

    /// Deletes the bridge and its FORWARD rule. Idempotent.
    pub fn remove_bridge(&self) -> Result<(), ClusterError> {
        let accept = self.forward_rule();
        while succeeds(Command::new("iptables").arg("-C").args(&accept)) {
            run(Command::new("iptables").arg("-D").args(&accept))?;
        }
        if link_exists(&self.bridge()) {
            run(ip().args(["link", "del", &self.bridge()]))?;
        }
        Ok(())
    }

    /// The lab's namespaces that exist now (`<prefix>-…`).
    pub fn namespaces(&self) -> Result<Vec<String>, ClusterError> {
        let listing = run(ip().args(["netns", "list"]))?;
        let own = format!("{}-", self.prefix);
        Ok(listing
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|n| n.starts_with(&own))
            .map(String::from)
            .collect())
    }

    /// Whether the bridge exists.
    pub fn bridge_exists(&self) -> bool {
        link_exists(&self.bridge())
    }
}

/// `program` run inside `namespace`'s network namespace (`nsenter`, which execs the program
/// in place, so the pid of the spawned command is the program's).
///
/// Not `ip netns exec`: it also gives the program a mount namespace of its own, so mounts made
/// inside (the kubelet's volumes for a pod) would be invisible to the rest of the machine
/// (containerd, which starts the pod's containers on them).
pub fn in_ns(namespace: &str, program: &str) -> Command {
    let mut command = Command::new("nsenter");
    command
        .arg(format!("--net=/run/netns/{namespace}"))
        .arg("--")
        .arg(program);
    command
}

/// Whether process `pid` runs inside `namespace`.
pub fn contains(namespace: &str, pid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    // Both paths resolve to the namespace's nsfs inode.
    let named = std::fs::metadata(format!("/run/netns/{namespace}"));
    let own = std::fs::metadata(format!("/proc/{pid}/ns/net"));
    matches!((named, own), (Ok(a), Ok(b)) if a.ino() == b.ino() && a.dev() == b.dev())
}

fn ip() -> Command {
    Command::new("ip")
}

fn link_exists(name: &str) -> bool {
    succeeds(ip().args(["link", "show", "dev", name]))
}

/// Whether this process may create namespaces and iptables rules; the
/// error says what to do when it may not.
pub fn require_root(what: &str) -> Result<(), ClusterError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        Ok(())
    } else {
        Err(ClusterError(format!(
            "{what} needs root (network namespaces, veth links and iptables rules); run it as root, e.g. with sudo"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::Net;

    #[test]
    fn parses_a_prefix_and_a_range() {
        let net = Net::parse("labt/10.47.1").expect("valid");
        assert_eq!(net.bridge(), "labt0");
        assert_eq!(net.bridge_address().to_string(), "10.47.1.1");
        assert_eq!(net.host("etcd2", 12).namespace, "labt-etcd2");
        assert_eq!(net.host("etcd2", 12).address.to_string(), "10.47.1.12");
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        for bad in [
            "",
            "labt",
            "labt/10.47",
            "labt/10.47.1.2",
            "la-bt/10.47.1",
            "toolongx/10.0.0",
            "labt/300.1.1",
        ] {
            let error = Net::parse(bad).expect_err(bad).to_string();
            assert!(error.contains("CHECKER_LAB_NET"), "{error}");
        }
    }
}
