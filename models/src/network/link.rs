//! Links between hosts, sans-IO: given a message sent now, when (if ever) does it arrive?
//!
//! Each directed link `(from, to)` has a latency distribution, an optional bandwidth (a message
//! occupies the link for `bytes / bandwidth`, one after another, so a burst queues), an optional
//! bound on the bytes waiting to be sent (beyond it a message is dropped), and probabilities of
//! loss and duplication. Reordering comes from the latency distribution itself (two messages
//! draw independent latencies), plus an optional extra delay with a given probability for long
//! reorderings. A [`Partition`] drops everything between blocked pairs.
//!
//! The caller owns time and randomness: `send` takes the current instant and a random stream,
//! and returns the instants of delivery. A model schedules those as events.

use simcore::{Dist, RngStream, SimDuration, SimTime};

use super::partition::{Host, Partition};

/// How one directed link behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// One-way latency, in nanoseconds.
    pub latency: Dist,
    /// Bytes per second; `None`: sending takes no time.
    pub bandwidth: Option<u64>,
    /// Most bytes waiting to be sent; beyond it a message is dropped. `None`: unbounded.
    pub queue_limit: Option<u64>,
    /// Probability a message is lost.
    pub loss: f64,
    /// Probability a message arrives twice (the copy with its own latency).
    pub duplicate: f64,
    /// Probability a message is held back by an extra delay drawn from `reorder_delay`.
    pub reorder: f64,
    /// Extra delay for a reordered message, in nanoseconds.
    pub reorder_delay: Dist,
}

impl LinkConfig {
    /// A perfect link with a constant latency.
    pub fn constant(latency: SimDuration) -> Self {
        LinkConfig {
            latency: Dist::Constant {
                value: latency.as_nanos() as f64,
            },
            bandwidth: None,
            queue_limit: None,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Dist::Constant { value: 0.0 },
        }
    }
}

/// Why a message did not arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    Partitioned,
    /// No path between the hosts in the topology.
    Unreachable,
    Lost,
    QueueFull,
}

/// When a delivered message arrives: once, or twice when duplicated. Derefs to a slice; kept
/// inline because every message gets one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrivals {
    times: [SimTime; 2],
    n: u8,
}

impl Arrivals {
    fn push(&mut self, t: SimTime) {
        debug_assert!(self.n < 2, "a message arrives at most twice");
        self.times[self.n as usize] = t;
        self.n += 1;
    }
}

impl std::ops::Deref for Arrivals {
    type Target = [SimTime];
    fn deref(&self) -> &[SimTime] {
        &self.times[..self.n as usize]
    }
}

/// The fate of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Arrives at these instants (twice when duplicated).
    Delivered(Arrivals),
    Dropped(Dropped),
}

/// The links of `hosts` hosts (a full mesh), their sending queues and the current partition.
#[derive(Debug, Clone)]
pub struct Links {
    hosts: u32,
    /// How every link behaves, except those in `overrides` (by pair index): one copy, so that
    /// a thousand hosts do not hold a million configurations.
    config: LinkConfig,
    overrides: std::collections::BTreeMap<usize, LinkConfig>,
    /// Per directed link: when the link is free to start sending the next message.
    free_at: Vec<SimTime>,
    /// Per directed pair: links on the shortest path (1 in a full mesh).
    hops: Vec<u32>,
    pub partition: Partition,
}

impl Links {
    /// A full mesh where every link behaves as `config`.
    pub fn full_mesh(hosts: u32, config: LinkConfig) -> Self {
        let n = (hosts as usize) * (hosts as usize);
        Links {
            hosts,
            config,
            overrides: std::collections::BTreeMap::new(),
            free_at: vec![SimTime::ZERO; n],
            hops: vec![1; n],
            partition: Partition::none(),
        }
    }

    /// Wires the hosts as `topology` says (see [`super::topology`]): a message crosses one link
    /// latency per hop, and hosts with no path cannot talk. `hosts` must be this mesh's size.
    pub fn set_topology(&mut self, hops: Vec<u32>) {
        debug_assert_eq!(hops.len(), self.hops.len());
        if hops.len() == self.hops.len() {
            self.hops = hops;
        }
    }

    fn index(&self, from: Host, to: Host) -> usize {
        debug_assert!(from < self.hosts && to < self.hosts, "host out of range");
        from as usize * self.hosts as usize + to as usize
    }

    /// Changes one directed link.
    pub fn set(&mut self, from: Host, to: Host, config: LinkConfig) {
        let i = self.index(from, to);
        self.overrides.insert(i, config);
    }

    /// Sends `bytes` from `from` to `to` at `now`.
    #[inline]
    pub fn send(
        &mut self,
        now: SimTime,
        from: Host,
        to: Host,
        bytes: u64,
        rng: &mut RngStream,
    ) -> Fate {
        if !self.partition.allows(from, to) {
            return Fate::Dropped(Dropped::Partitioned);
        }
        let i = self.index(from, to);
        let hops = self.hops[i];
        if hops == super::topology::UNREACHABLE {
            return Fate::Dropped(Dropped::Unreachable);
        }
        let c = if self.overrides.is_empty() {
            &self.config
        } else {
            self.overrides.get(&i).unwrap_or(&self.config)
        };
        // Serialisation: the message starts when the link is free and occupies it for its size.
        let start = self.free_at[i].max(now);
        let (sent, waiting_ns) = match c.bandwidth {
            Some(bw) if bw > 0 => {
                let tx = SimDuration::from_nanos_f64(bytes as f64 * 1e9 / bw as f64);
                (start.saturating_add(tx), start.saturating_since(now))
            }
            _ => (start, SimDuration::ZERO),
        };
        if let (Some(limit), Some(bw)) = (c.queue_limit, c.bandwidth) {
            // Bytes still ahead of this message in the queue.
            let ahead = waiting_ns.as_nanos() as f64 * bw as f64 / 1e9;
            if ahead + bytes as f64 > limit as f64 {
                return Fate::Dropped(Dropped::QueueFull);
            }
        }
        self.free_at[i] = sent;
        if rng.chance(c.loss) {
            return Fate::Dropped(Dropped::Lost);
        }
        let copies = if rng.chance(c.duplicate) { 2 } else { 1 };
        let mut at = Arrivals {
            times: [SimTime::ZERO; 2],
            n: 0,
        };
        for _ in 0..copies {
            let mut delay = SimDuration::from_nanos_f64(c.latency.sample(rng));
            for _ in 1..hops {
                delay = delay.saturating_add(SimDuration::from_nanos_f64(c.latency.sample(rng)));
            }
            if rng.chance(c.reorder) {
                delay =
                    delay.saturating_add(SimDuration::from_nanos_f64(c.reorder_delay.sample(rng)));
            }
            at.push(sent.saturating_add(delay));
        }
        Fate::Delivered(at)
    }
}

/// A host's clock: an offset and a drift from true (simulated) time.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Clock {
    /// Added to true time, in nanoseconds (may be negative).
    pub offset_ns: i64,
    /// Relative rate error: 1e-4 runs 100 ppm fast.
    pub drift: f64,
}

impl Clock {
    /// What the host reads at true time `t`, in nanoseconds, rounded to the nearest (never
    /// below zero).
    pub fn local(&self, t: SimTime) -> u64 {
        let local = (t.as_nanos() as f64 * (1.0 + self.drift)).round() + self.offset_ns as f64;
        if local <= 0.0 {
            0
        } else {
            local.min(u64::MAX as f64) as u64
        }
    }

    /// How long in true time a timer set for `d` on this host's clock takes.
    pub fn true_duration(&self, d: SimDuration) -> SimDuration {
        SimDuration::from_nanos_f64(d.as_nanos() as f64 / (1.0 + self.drift).max(1e-9))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> SimDuration {
        SimDuration::from_millis(v)
    }

    fn rng() -> RngStream {
        RngStream::derive(5, "links")
    }

    #[test]
    fn loss_and_duplication_happen_at_their_rates() {
        let mut c = LinkConfig::constant(ms(1));
        c.loss = 0.1;
        c.duplicate = 0.05;
        let mut links = Links::full_mesh(2, c);
        let (mut lost, mut twice, n) = (0u32, 0u32, 100_000u32);
        let mut r = rng();
        for _ in 0..n {
            match links.send(SimTime::ZERO, 0, 1, 100, &mut r) {
                Fate::Dropped(Dropped::Lost) => lost += 1,
                Fate::Delivered(at) if at.len() == 2 => twice += 1,
                Fate::Delivered(_) => {}
                other => panic!("{other:?}"),
            }
        }
        // Binomial: within 5 standard deviations.
        let close = |k: u32, p: f64, m: f64| {
            let sd = (m * p * (1.0 - p)).sqrt();
            (k as f64 - m * p).abs() <= 5.0 * sd
        };
        assert!(close(lost, 0.1, n as f64), "lost {lost}");
        assert!(
            close(twice, 0.05, f64::from(n - lost)),
            "duplicated {twice}"
        );
    }

    #[test]
    fn bandwidth_serialises_a_burst_and_the_queue_bound_drops() {
        let mut c = LinkConfig::constant(ms(10));
        c.bandwidth = Some(1_000_000); // 1 MB/s: 1000 bytes take 1 ms
        c.queue_limit = Some(3_000);
        let mut links = Links::full_mesh(2, c);
        let mut r = rng();
        let mut arrivals = Vec::new();
        let mut drops = 0;
        for _ in 0..6 {
            match links.send(SimTime::ZERO, 0, 1, 1000, &mut r) {
                Fate::Delivered(at) => arrivals.push(at[0].as_nanos() / 1_000_000),
                Fate::Dropped(Dropped::QueueFull) => drops += 1,
                other => panic!("{other:?}"),
            }
        }
        // 1 ms each, one after another, then 10 ms of latency; the queue holds 3,000 bytes.
        assert_eq!(arrivals, [11, 12, 13]);
        assert_eq!(drops, 3);
        // The other direction has its own queue.
        assert!(matches!(
            links.send(SimTime::ZERO, 1, 0, 1000, &mut r),
            Fate::Delivered(_)
        ));
    }

    #[test]
    fn partitions_drop_and_clocks_skew() {
        let mut links = Links::full_mesh(3, LinkConfig::constant(ms(1)));
        links.partition = Partition::shape(
            3,
            &super::super::Shape::Groups(vec![vec![0], vec![1, 2]]),
            &mut rng(),
        );
        assert_eq!(
            links.send(SimTime::ZERO, 0, 1, 1, &mut rng()),
            Fate::Dropped(Dropped::Partitioned)
        );
        assert!(matches!(
            links.send(SimTime::ZERO, 1, 2, 1, &mut rng()),
            Fate::Delivered(_)
        ));
        let c = Clock {
            offset_ns: -5_000,
            drift: 1e-3,
        };
        assert_eq!(c.local(SimTime::from_nanos(1_000_000)), 1_001_000 - 5_000);
        assert_eq!(c.local(SimTime::ZERO), 0, "clamped at zero");
        // A 1 s timer on a clock 0.1% fast fires after 999.000999 ms of true time.
        assert_eq!(c.true_duration(ms(1000)).as_nanos(), 999_000_999);
    }
}
