//! [`Schedule`]: when faults start and stop, fixed by a seed.
//!
//! A schedule alternates quiet and faulty periods: `interval` of quiet,
//! then a fault for `duration`, and so on until the time limit; the kinds
//! are taken in turn from the list, and the nodes each fault hits are drawn
//! from the seeded generator. [`Schedule::plan`] is a pure function, so the
//! same seed gives the same faults at the same times.

use crate::fault::{Fault, FaultKind, PartitionShape};
use rng::Rng;
use std::time::Duration;

/// Which faults, how often and for how long.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The kinds to cycle through (empty: no faults).
    pub kinds: Vec<FaultKind>,
    /// Quiet time before each fault.
    pub interval: Duration,
    /// How long each fault lasts.
    pub duration: Duration,
    /// Largest clock offset for `clock` faults.
    pub max_skew: Duration,
    /// Seeds the choice of nodes.
    pub seed: u64,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// When, in ns since the run started.
    pub at_ns: u64,
    /// The fault.
    pub fault: Fault,
    /// Start it (else stop it).
    pub start: bool,
}

/// The steps of a schedule over a run, in time order.
pub type Plan = Vec<Step>;

/// The nodes a schedule's faults may hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Surface {
    /// How many nodes there are; partitions, kills and pauses draw from all of them.
    pub nodes: usize,
    /// The nodes whose clock can be moved (clock faults draw only from these).
    pub clocks: Vec<usize>,
}

impl Surface {
    /// `nodes` nodes, every one of them open to every fault.
    pub fn uniform(nodes: usize) -> Surface {
        Surface {
            nodes,
            clocks: (0..nodes).collect(),
        }
    }
}

impl Schedule {
    /// A fault every `interval` for `duration` (Jepsen's usual 5 s / 5 s is
    /// `Schedule::every(kinds, 5 s, 5 s, seed)`), clocks skewed up to 2 s.
    pub fn every(
        kinds: Vec<FaultKind>,
        interval: Duration,
        duration: Duration,
        seed: u64,
    ) -> Schedule {
        Schedule {
            kinds,
            interval,
            duration,
            max_skew: Duration::from_secs(2),
            seed,
        }
    }

    /// The steps for a run of `length` over the nodes of `surface`. Every
    /// fault started is stopped before `length`.
    pub fn plan(&self, surface: &Surface, length: Duration) -> Plan {
        let mut rng = Rng::new(self.seed, 0x6e656d65);
        let mut plan = Vec::new();
        let nodes = surface.nodes;
        if self.kinds.is_empty() || nodes == 0 {
            return plan;
        }
        let (interval, duration, end) = (
            self.interval.as_nanos() as u64,
            self.duration.as_nanos() as u64,
            length.as_nanos() as u64,
        );
        let mut t = interval;
        let mut i = 0;
        while t + duration <= end {
            let fault = self.draw(self.kinds[i % self.kinds.len()], surface, &mut rng);
            plan.push(Step {
                at_ns: t,
                fault: fault.clone(),
                start: true,
            });
            plan.push(Step {
                at_ns: t + duration,
                fault,
                start: false,
            });
            t += duration + interval;
            i += 1;
        }
        plan
    }

    fn draw(&self, kind: FaultKind, surface: &Surface, rng: &mut Rng) -> Fault {
        let nodes = surface.nodes;
        let node = rng.between(0, nodes as u64 - 1) as usize;
        match kind {
            FaultKind::Partition => {
                let mut order: Vec<usize> = (0..nodes).collect();
                for i in (1..nodes).rev() {
                    order.swap(i, rng.between(0, i as u64) as usize);
                }
                let shape = rng.below(3);
                if nodes > 2 && shape == 2 {
                    return majority_ring(&order);
                }
                if nodes > 2 && shape == 1 {
                    let (mut small, mut big) =
                        (order[..nodes / 2].to_vec(), order[nodes / 2..].to_vec());
                    small.sort_unstable();
                    big.sort_unstable();
                    Fault::Partition {
                        shape: PartitionShape::RandomHalves,
                        groups: vec![big, small],
                    }
                } else {
                    Fault::isolating(node, nodes)
                }
            }
            FaultKind::PartitionLeader => Fault::IsolateLeader { nodes },
            FaultKind::Kill => Fault::Kill { node },
            FaultKind::Pause => Fault::Pause { node },
            FaultKind::Clock => {
                let max = self.max_skew.as_nanos() as u64;
                let magnitude = rng.between(max / 4, max) as i64;
                let offset_ns = if rng.unit() < 0.5 {
                    -magnitude
                } else {
                    magnitude
                };
                // A uniform surface draws no more than it always did, so that a seed
                // gives the plans it gave before surfaces existed.
                let node = match surface.clocks.len() {
                    n if n == nodes || n == 0 => node,
                    n => surface.clocks[rng.below(n as u64) as usize],
                };
                Fault::ClockSkew { node, offset_ns }
            }
        }
    }
}

/// Jepsen's majorities ring: in a shuffled ring, each node hears only from
/// itself and the next `majority - 1` nodes, so every node hears from a
/// majority and no two nodes from the same one.
fn majority_ring(order: &[usize]) -> Fault {
    let n = order.len();
    let majority = n / 2 + 1;
    let mut cut = Vec::new();
    for (i, &to) in order.iter().enumerate() {
        let hears: Vec<usize> = (0..majority).map(|k| order[(i + k) % n]).collect();
        cut.extend(
            order
                .iter()
                .filter(|from| !hears.contains(from))
                .map(|&from| (from, to)),
        );
    }
    cut.sort_unstable();
    Fault::Ring { cut }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(seed: u64) -> Schedule {
        Schedule::every(
            FaultKind::ALL.to_vec(),
            Duration::from_secs(2),
            Duration::from_secs(3),
            seed,
        )
    }

    #[test]
    fn the_same_seed_gives_the_same_plan() {
        let a = schedule(7).plan(&Surface::uniform(5), Duration::from_secs(60));
        assert_eq!(
            a,
            schedule(7).plan(&Surface::uniform(5), Duration::from_secs(60))
        );
        assert_ne!(
            a,
            schedule(8).plan(&Surface::uniform(5), Duration::from_secs(60))
        );
    }

    #[test]
    fn every_fault_started_is_stopped_within_the_run() {
        let plan = schedule(1).plan(&Surface::uniform(3), Duration::from_secs(30));
        assert_eq!(plan.len() % 2, 0);
        assert!(!plan.is_empty());
        for pair in plan.chunks(2) {
            assert!(pair[0].start && !pair[1].start);
            assert_eq!(pair[0].fault, pair[1].fault);
            assert!(pair[1].at_ns <= 30_000_000_000);
        }
        // Kinds are taken in turn.
        let kinds: Vec<&str> = plan.iter().step_by(2).map(|s| s.fault.start_f()).collect();
        assert_eq!(
            &kinds[..4],
            ["start-partition", "kill", "pause", "start-clock-skew"]
        );
    }

    #[test]
    fn partitions_cover_every_node_once() {
        for seed in 0..50 {
            for step in Schedule::every(
                vec![FaultKind::Partition],
                Duration::from_secs(1),
                Duration::from_secs(1),
                seed,
            )
            .plan(&Surface::uniform(5), Duration::from_secs(10))
            {
                let groups = match step.fault {
                    Fault::Partition { groups, .. } => groups,
                    Fault::Ring { .. } => continue,
                    other => panic!("a partition, not {other:?}"),
                };
                let mut all: Vec<usize> = groups.concat();
                all.sort_unstable();
                assert_eq!(all, vec![0, 1, 2, 3, 4]);
                assert!(groups[0].len() > 5 / 2, "the first group is a majority");
            }
        }
    }

    #[test]
    fn in_a_majority_ring_each_node_hears_a_different_majority() {
        for n in [3usize, 5, 7] {
            let order: Vec<usize> = (0..n).rev().collect();
            let Fault::Ring { cut } = majority_ring(&order) else {
                panic!("ring")
            };
            let hears = |to: usize| -> Vec<usize> {
                (0..n).filter(|&from| !cut.contains(&(from, to))).collect()
            };
            let mut seen = Vec::new();
            for node in 0..n {
                let h = hears(node);
                assert_eq!(h.len(), n / 2 + 1, "node {node} hears a majority");
                assert!(h.contains(&node));
                assert!(!seen.contains(&h), "no two nodes hear the same majority");
                seen.push(h);
            }
        }
    }

    #[test]
    fn clock_faults_hit_only_the_nodes_whose_clock_can_move() {
        let surface = Surface {
            nodes: 6,
            clocks: vec![0, 1, 2],
        };
        let schedule = Schedule::every(
            vec![FaultKind::Clock, FaultKind::Kill],
            Duration::from_secs(1),
            Duration::from_secs(1),
            3,
        );
        let (mut skewed, mut killed) = (Vec::new(), Vec::new());
        for step in schedule.plan(&surface, Duration::from_secs(200)) {
            match step.fault {
                Fault::ClockSkew { node, .. } => skewed.push(node),
                Fault::Kill { node } => killed.push(node),
                other => panic!("a clock skew or a kill, not {other:?}"),
            }
        }
        assert!(skewed.iter().all(|&n| n < 3), "{skewed:?}");
        assert!(killed.iter().any(|&n| n >= 3), "kills reach every node");
    }

    #[test]
    fn none_gives_an_empty_plan() {
        let s = Schedule::every(
            Vec::new(),
            Duration::from_secs(1),
            Duration::from_secs(1),
            0,
        );
        assert!(s
            .plan(&Surface::uniform(3), Duration::from_secs(30))
            .is_empty());
        assert_eq!(FaultKind::parse_list("none"), Ok(Vec::new()));
        assert!(FaultKind::parse_list("partition,frob").is_err());
    }
}
