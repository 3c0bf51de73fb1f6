//! Network partitions as iptables rules inside the nodes' namespaces.
//!
//! A cut `a → b` is a DROP rule on `b`'s INPUT for `a`'s address, so a
//! symmetric partition cuts both directions and a majority ring cuts the
//! directed links it names. The rules live in the lab's own namespaces,
//! which hold nothing else, so healing flushes their INPUT chains, and a
//! rule can never leak into the root namespace's firewall.

use crate::command::run;
use crate::netns::{in_ns, Host};
use crate::NemesisError;

/// Drops, inside `to`, every packet from `from`.
pub fn cut(from: &Host, to: &Host) -> Result<(), NemesisError> {
    let source = from.address.to_string();
    run(in_ns(&to.namespace, "iptables").args(["-A", "INPUT", "-s", &source, "-j", "DROP"]))?;
    Ok(())
}

/// Cuts every link between different groups, both ways.
pub fn partition(hosts: &[Host], groups: &[Vec<usize>]) -> Result<(), NemesisError> {
    let group_of = |node: usize| groups.iter().position(|g| g.contains(&node));
    for (a, from) in hosts.iter().enumerate() {
        for (b, to) in hosts.iter().enumerate() {
            if a != b && group_of(a) != group_of(b) {
                cut(from, to)?;
            }
        }
    }
    Ok(())
}

/// Removes every rule the lab put in `host`'s namespace. Idempotent.
pub fn heal(host: &Host) -> Result<(), NemesisError> {
    run(in_ns(&host.namespace, "iptables").args(["-F", "INPUT"]))?;
    Ok(())
}

/// The number of rules in `host`'s INPUT chain (to prove a heal).
pub fn rules(host: &Host) -> Result<usize, NemesisError> {
    let listing = run(in_ns(&host.namespace, "iptables").args(["-S", "INPUT"]))?;
    Ok(listing.lines().filter(|l| l.starts_with("-A ")).count())
}
