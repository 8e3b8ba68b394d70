//! Network partitions as sets of blocked directed host pairs, with Jepsen's nemesis shapes.
//!
//! A partition is the set of ordered pairs `(from, to)` whose messages are dropped. The shapes
//! follow Jepsen's `nemesis` partitioners:
//!
//! - **halves**: the hosts, in a random order, split into two halves that cannot talk;
//! - **one**: one random host cut off from all others;
//! - **bridge**: two halves that cannot talk, except through one host that sees both;
//! - **majorities-ring**: every host hears from a majority (itself and its nearest neighbours on
//!   a ring in random order), and no two hosts hear the same majority; as in Jepsen, links may be
//!   one-way (with 7 hosts, a host hears 3 others, which cannot all hear it back);
//! - **one-way**: one random host can send to everyone but hears no one;
//! - **groups**: explicit groups; hosts in different groups cannot talk.
//!
//! Randomness (the order of hosts, which host) comes from the caller's stream, so a seed fixes
//! every partition a scenario makes.

use std::collections::BTreeSet;

use simcore::RngStream;

/// A host, by index.
pub type Host = u32;

/// The shapes a partition can take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    Halves,
    One,
    Bridge,
    MajoritiesRing,
    OneWay,
    /// Explicit groups of hosts; hosts not named are in a group of their own.
    Groups(Vec<Vec<Host>>),
}

/// Blocked directed pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Partition {
    blocked: BTreeSet<(Host, Host)>,
}

/// A random order of `0..n`, by Fisher-Yates from `rng`.
fn shuffled(n: u32, rng: &mut RngStream) -> Vec<Host> {
    let mut v: Vec<Host> = (0..n).collect();
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
    v
}

impl Partition {
    /// No partition: everyone talks to everyone.
    pub fn none() -> Self {
        Partition::default()
    }

    /// Whether `from` can send to `to` (a host can always reach itself).
    pub fn allows(&self, from: Host, to: Host) -> bool {
        from == to || !self.blocked.contains(&(from, to))
    }

    /// Each of `n` hosts' side: hosts that can exchange messages (both ways) with exactly the
    /// same hosts share one, numbered from 0 in order of their first host. A host that can with
    /// every host (a `bridge`'s bridge, any host when nothing is blocked) is on no side: None.
    pub fn sides(&self, n: u32) -> Vec<Option<usize>> {
        let peers = |a: Host| -> Vec<Host> {
            (0..n)
                .filter(|&b| self.allows(a, b) && self.allows(b, a))
                .collect()
        };
        let mut seen: Vec<Vec<Host>> = Vec::new();
        (0..n)
            .map(|a| {
                let p = peers(a);
                if p.len() == n as usize {
                    return None;
                }
                Some(seen.iter().position(|s| *s == p).unwrap_or_else(|| {
                    seen.push(p);
                    seen.len() - 1
                }))
            })
            .collect()
    }

    /// The blocked pairs, in order.
    pub fn blocked(&self) -> impl Iterator<Item = (Host, Host)> + '_ {
        self.blocked.iter().copied()
    }

    /// Blocks both directions between every pair in different sides of `sides`.
    fn cut(n: u32, side: impl Fn(Host) -> usize) -> Self {
        let mut blocked = BTreeSet::new();
        for a in 0..n {
            for b in 0..n {
                if side(a) != side(b) {
                    blocked.insert((a, b));
                }
            }
        }
        Partition { blocked }
    }

    /// The partition of `n` hosts with `shape`, drawing what is random from `rng`.
    pub fn shape(n: u32, shape: &Shape, rng: &mut RngStream) -> Self {
        if n < 2 {
            return Partition::none();
        }
        match shape {
            Shape::Halves => {
                let order = shuffled(n, rng);
                let first: BTreeSet<Host> =
                    order[..(n as usize).div_ceil(2)].iter().copied().collect();
                Self::cut(n, |h| usize::from(first.contains(&h)))
            }
            Shape::One => {
                let lonely = rng.below(u64::from(n)) as Host;
                Self::cut(n, |h| usize::from(h == lonely))
            }
            Shape::Bridge => {
                let order = shuffled(n, rng);
                let bridge = order[0];
                let rest = &order[1..];
                let left: BTreeSet<Host> = rest[..rest.len().div_ceil(2)].iter().copied().collect();
                let mut p = Self::cut(n, |h| usize::from(left.contains(&h)));
                p.blocked.retain(|&(a, b)| a != bridge && b != bridge);
                p
            }
            Shape::MajoritiesRing => {
                // On a ring in random order, each host hears itself and floor(n/2) others: the
                // nearest ones, split between the two sides of the ring.
                let order = shuffled(n, rng);
                let mut pos = vec![0usize; n as usize];
                for (i, &h) in order.iter().enumerate() {
                    pos[h as usize] = i;
                }
                let n_us = n as usize;
                let others = n_us / 2;
                let (before, after) = (others / 2, others - others / 2);
                let hears = |a: Host, b: Host| {
                    let d = (pos[b as usize] + n_us - pos[a as usize]) % n_us;
                    d == 0 || d <= after || d >= n_us - before
                };
                let mut blocked = BTreeSet::new();
                for a in 0..n {
                    for b in 0..n {
                        if !hears(a, b) {
                            blocked.insert((b, a));
                        }
                    }
                }
                Partition { blocked }
            }
            Shape::OneWay => {
                let deaf = rng.below(u64::from(n)) as Host;
                let blocked = (0..n).filter(|&h| h != deaf).map(|h| (h, deaf)).collect();
                Partition { blocked }
            }
            Shape::Groups(groups) => {
                let group_of = |h: Host| {
                    groups
                        .iter()
                        .position(|g| g.contains(&h))
                        .unwrap_or(groups.len() + h as usize)
                };
                Self::cut(n, group_of)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: u64) -> RngStream {
        RngStream::derive(seed, "partition")
    }

    /// Hosts `a` reaches in both directions (itself included).
    fn sees(p: &Partition, n: u32, a: Host) -> BTreeSet<Host> {
        (0..n)
            .filter(|&b| p.allows(a, b) && p.allows(b, a))
            .collect()
    }

    #[test]
    fn sides_group_hosts_that_reach_the_same_hosts() {
        let p = Partition::shape(5, &Shape::Groups(vec![vec![3, 1], vec![0]]), &mut rng(1));
        // 0 alone, 1 and 3 together, 2 and 4 each in a group of their own.
        assert_eq!(p.sides(5), [Some(0), Some(1), Some(2), Some(1), Some(3)]);
        assert_eq!(Partition::none().sides(3), [None, None, None]);
        for seed in 0..10 {
            let p = Partition::shape(5, &Shape::Bridge, &mut rng(seed));
            let sides = p.sides(5);
            assert_eq!(
                sides.iter().filter(|s| s.is_none()).count(),
                1,
                "the bridge"
            );
            let named: BTreeSet<usize> = sides.iter().flatten().copied().collect();
            assert_eq!(named, BTreeSet::from([0, 1]), "seed {seed}: {sides:?}");
        }
    }

    #[test]
    fn halves_split_into_two_sides_that_cannot_talk() {
        for seed in 0..20 {
            let p = Partition::shape(5, &Shape::Halves, &mut rng(seed));
            let sizes: BTreeSet<usize> = (0..5).map(|a| sees(&p, 5, a).len()).collect();
            assert_eq!(sizes, BTreeSet::from([2, 3]), "seed {seed}");
            for a in 0..5 {
                for b in sees(&p, 5, a) {
                    assert_eq!(sees(&p, 5, a), sees(&p, 5, b), "sides are cliques");
                }
            }
        }
    }

    #[test]
    fn one_isolates_one_host_and_one_way_deafens_one() {
        let p = Partition::shape(5, &Shape::One, &mut rng(3));
        let alone: Vec<Host> = (0..5).filter(|&a| sees(&p, 5, a).len() == 1).collect();
        assert_eq!(alone.len(), 1);
        let p = Partition::shape(5, &Shape::OneWay, &mut rng(3));
        let deaf: Vec<Host> = (0..5)
            .filter(|&a| (0..5).all(|b| b == a || !p.allows(b, a)))
            .collect();
        assert_eq!(deaf.len(), 1);
        let d = deaf[0];
        assert!(
            (0..5).all(|b| p.allows(d, b)),
            "the deaf host can still send"
        );
    }

    #[test]
    fn bridge_joins_two_halves_through_one_host() {
        for seed in 0..20 {
            let p = Partition::shape(5, &Shape::Bridge, &mut rng(seed));
            let bridges: Vec<Host> = (0..5).filter(|&a| sees(&p, 5, a).len() == 5).collect();
            assert_eq!(bridges.len(), 1, "seed {seed}: {p:?}");
            let others: Vec<usize> = (0..5)
                .filter(|a| *a != bridges[0])
                .map(|a| sees(&p, 5, a).len())
                .collect();
            assert!(
                others.iter().all(|&k| k == 3),
                "each side is 2 hosts and the bridge: {others:?}"
            );
        }
    }

    #[test]
    fn majorities_ring_gives_every_host_a_different_majority() {
        for n in [3u32, 5, 7] {
            for seed in 0..10 {
                let p = Partition::shape(n, &Shape::MajoritiesRing, &mut rng(seed));
                // What each host hears.
                let views: Vec<BTreeSet<Host>> = (0..n)
                    .map(|a| (0..n).filter(|&b| p.allows(b, a)).collect())
                    .collect();
                for v in &views {
                    assert!(
                        v.len() as u32 > n / 2,
                        "n {n} seed {seed}: {v:?} is not a majority"
                    );
                }
                let distinct: BTreeSet<&BTreeSet<Host>> = views.iter().collect();
                if n > 3 {
                    assert_eq!(
                        distinct.len(),
                        n as usize,
                        "n {n} seed {seed}: views repeat"
                    );
                    assert!(
                        views.iter().all(|v| v.len() < n as usize),
                        "nobody sees everyone"
                    );
                }
            }
        }
    }

    #[test]
    fn explicit_groups_and_determinism() {
        let g = Shape::Groups(vec![vec![0, 1], vec![2, 3, 4]]);
        let p = Partition::shape(5, &g, &mut rng(0));
        assert!(p.allows(0, 1) && p.allows(2, 4) && !p.allows(1, 2) && !p.allows(4, 0));
        let a = Partition::shape(9, &Shape::Halves, &mut rng(42));
        let b = Partition::shape(9, &Shape::Halves, &mut rng(42));
        assert_eq!(a, b, "the same stream, the same partition");
        assert_eq!(
            Partition::shape(1, &Shape::Halves, &mut rng(0)),
            Partition::none()
        );
    }
}
