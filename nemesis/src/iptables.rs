//! Network partitions as iptables rules inside the nodes' namespaces.
//!
//! A cut `a → b` is a DROP rule on `b`'s INPUT for `a`'s address, so a
//! symmetric partition cuts both directions and a majority ring cuts the
//! directed links it names. The rules live in the lab's own namespaces, so
//! a rule can never leak into the root namespace's firewall, and each
//! carries the comment [`TAG`], so healing removes the lab's rules and
//! nothing else (a Kubernetes node's namespace also holds kube-proxy's).

use crate::NemesisError;
use cluster::command::run;
use cluster::netns::{in_ns, Host};

/// The comment on every rule the lab adds.
pub const TAG: &str = "lab-partition";

/// Drops, inside `to`, every packet from `from`.
pub fn cut(from: &Host, to: &Host) -> Result<(), NemesisError> {
    let source = from.address.to_string();
    run(in_ns(&to.namespace, "iptables").args([
        "-A",
        "INPUT",
        "-s",
        &source,
        "-m",
        "comment",
        "--comment",
        TAG,
        "-j",
        "DROP",
    ]))?;
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

/// Removes every rule the lab put in `host`'s namespace, and only those. Idempotent.
pub fn heal(host: &Host) -> Result<(), NemesisError> {
    for rule in own_rules(host)? {
        // `-S` prints each rule as the `-A …` that made it; `-D …` with the same words deletes it.
        let words: Vec<String> = shell_words(&rule.replacen("-A ", "-D ", 1));
        run(in_ns(&host.namespace, "iptables").args(&words))?;
    }
    Ok(())
}

/// The number of the lab's rules in `host`'s INPUT chain (to prove a heal).
pub fn rules(host: &Host) -> Result<usize, NemesisError> {
    Ok(own_rules(host)?.len())
}

fn own_rules(host: &Host) -> Result<Vec<String>, NemesisError> {
    let listing = run(in_ns(&host.namespace, "iptables").args(["-S", "INPUT"]))?;
    Ok(listing
        .lines()
        .filter(|l| l.starts_with("-A ") && l.contains(TAG))
        .map(String::from)
        .collect())
}

/// Splits an `iptables -S` line into words; double quotes group (a comment with spaces).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            _ => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::{links_between, shell_words};

    #[test]
    fn rules_are_split_as_iptables_prints_them() {
        assert_eq!(
            shell_words(
                r#"-D INPUT -s 10.47.0.12/32 -m comment --comment "lab partition" -j DROP"#
            ),
            [
                "-D",
                "INPUT",
                "-s",
                "10.47.0.12/32",
                "-m",
                "comment",
                "--comment",
                "lab partition",
                "-j",
                "DROP"
            ]
        );
    }

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
