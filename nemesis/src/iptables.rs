//! Network partitions as iptables rules inside the nodes' namespaces.
//!
//! A cut `a → b` is a DROP rule on `b`'s INPUT for `a`'s address, so a
//! symmetric partition cuts both directions and a majority ring cuts the
//! directed links it names. The rules live in the lab's own namespaces,
//! which hold nothing else, so healing flushes their INPUT chains, and a
//! rule can never leak into the root namespace's firewall.

use crate::NemesisError;
use cluster::command::run;
use cluster::netns::{in_ns, Host};

/// Drops, inside `to`, every packet from `from`.
pub fn cut(from: &Host, to: &Host) -> Result<(), NemesisError> {
    let source = from.address.to_string();
    run(in_ns(&to.namespace, "iptables").args(["-A", "INPUT", "-s", &source, "-j", "DROP"]))?;
    Ok(())
}

/// Cuts every link between different groups, both ways.
pub fn partition(hosts: &[Host], groups: &[Vec<usize>]) -> Result<(), NemesisError> {
    for (from, to) in links_between(hosts.len(), groups) {
        cut(&hosts[from], &hosts[to])?;
    }
    Ok(())
}

/// The directed links `(from, to)` among `nodes` nodes that join different
/// groups. A node in no group is alone.
pub fn links_between(nodes: usize, groups: &[Vec<usize>]) -> Vec<(usize, usize)> {
    let group_of = |node: usize| groups.iter().position(|g| g.contains(&node));
    let mut links = Vec::new();
    for a in 0..nodes {
        for b in 0..nodes {
            let joined = group_of(a).is_some() && group_of(a) == group_of(b);
            if a != b && !joined {
                links.push((a, b));
            }
        }
    }
    links
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

#[cfg(test)]
mod tests {
    use super::links_between;

    #[test]
    fn a_partition_cuts_both_ways_between_groups_only() {
        let links = links_between(3, &[vec![0], vec![1, 2]]);
        assert_eq!(links, vec![(0, 1), (0, 2), (1, 0), (2, 0)]);
        assert_eq!(links_between(3, &[vec![0, 1, 2]]), vec![]);
    }

    #[test]
    fn a_node_in_no_group_is_alone() {
        assert_eq!(links_between(2, &[vec![0]]), vec![(0, 1), (1, 0)]);
    }
}
