//! The cluster's cache tiers ([`crate::world::cache`]): where the clients' requests go first,
//! where the servers' replies go, and what a cache host does with a message. A client's path is
//! fixed: client `c` uses instance `c mod k` of the tier its load names, and instance `i` of a
//! tier sends up to instance `i mod k'` of the tier above; the servers answer the last instance
//! on the path, and each instance answers the host below that asked.

use std::collections::BTreeMap;

use simcore::metrics::{CounterId, GaugeId};
use simcore::{Ctx, SimError};

use crate::raft::kv::{Key, Value};
use crate::world::Parts;
use crate::world::cache::{CacheAction, CacheConfig, CacheCounts, CacheNode};

use super::{Body, Cluster, Envelope, Sink};
use crate::network::Host;

/// A tier's counters.
#[derive(Debug, Clone, Copy)]
struct TierMetrics {
    hits: CounterId,
    misses: CounterId,
    expired: CounterId,
    coalesced: CounterId,
    upstream: CounterId,
    fills_dropped: CounterId,
    stale_reads: CounterId,
    hit_ratio: GaugeId,
}

/// One cache tier and its instances.
#[derive(Debug)]
struct Tier {
    config: CacheConfig,
    nodes: Vec<CacheNode>,
    stale_reads: u64,
    /// Hits and reads over all instances so far, for the hit ratio as the run goes.
    hits: u64,
    reads: u64,
    metrics: Option<TierMetrics>,
}

/// The cluster's cache tiers (none: clients talk to the servers directly).
#[derive(Debug, Default)]
pub(super) struct Tiers {
    tiers: Vec<Tier>,
    /// Per client, the host its requests go to.
    entry: Vec<Host>,
    /// Per client, the host the servers answer.
    last: Vec<Host>,
    /// The tier and instance on each cache host.
    at: BTreeMap<Host, (u32, u32)>,
    actions: Vec<CacheAction>,
}

impl Tiers {
    /// Builds the tiers and every client's path through them (`via`: the tier the clients'
    /// load names; None, or no tier, leaves the clients talking to the servers).
    pub(super) fn new(
        caches: &[CacheConfig],
        via: Option<usize>,
        clients: u32,
    ) -> Result<Self, String> {
        let mut at = BTreeMap::new();
        for (t, c) in caches.iter().enumerate() {
            if c.hosts.is_empty() {
                return Err(format!("cache `{}` is on no host", c.name));
            }
            for (i, &h) in c.hosts.iter().enumerate() {
                if at.insert(h, (t as u32, i as u32)).is_some() {
                    return Err(format!("two caches on host {h}"));
                }
            }
        }
        let mut entry = Vec::new();
        let mut last = Vec::new();
        if let Some(first) = via {
            for c in 0..clients as usize {
                let mut t = first;
                let hosts = &caches
                    .get(t)
                    .ok_or_else(|| format!("no cache tier {t}"))?
                    .hosts;
                let mut i = c % hosts.len();
                entry.push(hosts[i]);
                let mut steps = 0;
                while let Some(u) = caches[t].upstream {
                    steps += 1;
                    let up = caches.get(u).ok_or_else(|| format!("no cache tier {u}"))?;
                    if steps > caches.len() {
                        return Err(format!(
                            "cache `{}` is its own backend, through others",
                            caches[first].name
                        ));
                    }
                    i %= up.hosts.len();
                    t = u;
                }
                last.push(caches[t].hosts[i]);
            }
        }
        Ok(Tiers {
            tiers: caches
                .iter()
                .map(|c| Tier {
                    nodes: c.hosts.iter().map(|_| CacheNode::new(c)).collect(),
                    config: c.clone(),
                    stale_reads: 0,
                    hits: 0,
                    reads: 0,
                    metrics: None,
                })
                .collect(),
            entry,
            last,
            at,
            actions: Vec::new(),
        })
    }

    /// The host client `c`'s requests go to, if it talks through a cache.
    #[inline]
    pub(super) fn entry(&self, c: u32) -> Option<Host> {
        self.entry.get(c as usize).copied()
    }

    /// The host the servers answer for client `c`, if it talks through a cache.
    #[inline]
    pub(super) fn answer_to(&self, c: u32) -> Option<Host> {
        self.last.get(c as usize).copied()
    }

    pub(super) fn start<W: Sink>(&mut self, ctx: &mut Ctx<'_, W>) -> Result<(), SimError> {
        let setup = |e: simcore::metrics::MetricError| SimError::Setup(e.to_string());
        for t in &mut self.tiers {
            let name = t.config.name.clone();
            let m = ctx.metrics();
            t.metrics = Some(TierMetrics {
                hits: m.counter(&name, "hits").map_err(setup)?,
                misses: m.counter(&name, "misses").map_err(setup)?,
                expired: m.counter(&name, "expired").map_err(setup)?,
                coalesced: m.counter(&name, "coalesced").map_err(setup)?,
                upstream: m.counter(&name, "upstream").map_err(setup)?,
                fills_dropped: m.counter(&name, "fills_dropped").map_err(setup)?,
                stale_reads: m.counter(&name, "stale_reads").map_err(setup)?,
                hit_ratio: m.gauge(&name, "hit_ratio").map_err(setup)?,
            });
        }
        Ok(())
    }

    /// The run ended: each tier's counts, summed over its instances, into its metrics.
    pub(super) fn finish<W: Sink>(&mut self, ctx: &mut Ctx<'_, W>) {
        for t in &self.tiers {
            let Some(m) = t.metrics else { continue };
            let sum = t
                .nodes
                .iter()
                .fold(CacheCounts::default(), |a, n| a + n.counts);
            let metrics = ctx.metrics();
            metrics.add(m.hits, sum.hits);
            metrics.add(m.misses, sum.misses);
            metrics.add(m.expired, sum.expired);
            metrics.add(m.coalesced, sum.coalesced);
            metrics.add(m.upstream, sum.upstream);
            metrics.add(m.fills_dropped, sum.fills_dropped);
            metrics.add(m.stale_reads, t.stale_reads);
        }
    }
}

impl Cluster {
    /// A message reached a cache host: a request from below or a reply from above.
    pub(super) fn cache_deliver<W: Sink>(
        &mut self,
        env: Envelope,
        ctx: &mut Ctx<'_, W>,
        p: &mut Parts,
    ) {
        let Some(&(t, i)) = self.tiers.at.get(&env.to) else {
            return;
        };
        let now = ctx.now();
        let mut out = std::mem::take(&mut self.tiers.actions);
        let tier = &mut self.tiers.tiers[t as usize];
        let node = &mut tier.nodes[i as usize];
        match env.body {
            Body::Via { server, req } => {
                let before = node.counts;
                let hit = node.request(&tier.config, now, env.from, server, req, &mut out);
                let after = node.counts;
                let reads = (after.hits + after.misses) - (before.hits + before.misses);
                if reads > 0 {
                    tier.hits += after.hits - before.hits;
                    tier.reads += reads;
                    if let Some(m) = tier.metrics {
                        let ratio = tier.hits as f64 / tier.reads as f64;
                        ctx.metrics().set(m.hit_ratio, now, ratio);
                    }
                }
                if let Some((key, value)) = hit
                    && self.is_stale(key, value)
                {
                    self.tiers.tiers[t as usize].stale_reads += 1;
                }
            }
            Body::Reply(reply) => {
                let from = if env.from < self.n { env.from } else { 0 };
                node.reply(&tier.config, now, reply, from, self.n, &mut out);
            }
            Body::Request(_) | Body::Raft(_) => {}
        }
        let upstream = self.tiers.tiers[t as usize].config.upstream;
        for a in out.drain(..) {
            match a {
                CacheAction::Reply { to, reply } => {
                    self.transmit(env.to, to, Body::Reply(reply), ctx, p)
                }
                CacheAction::Forward { req, server } => {
                    let (to, body) = match upstream {
                        Some(u) => {
                            let hosts = &self.tiers.tiers[u].config.hosts;
                            (hosts[i as usize % hosts.len()], Body::Via { server, req })
                        }
                        None => (server, Body::Request(req)),
                    };
                    self.transmit(env.to, to, body, ctx, p);
                }
            }
        }
        self.tiers.actions = out;
    }

    /// Whether a cached read of `key` returned something other than the cluster holds: the
    /// value in the state machine of the live server that has applied the most.
    fn is_stale(&self, key: Key, value: Option<Value>) -> bool {
        self.slots
            .iter()
            .filter_map(|s| s.server.as_ref())
            .max_by_key(|s| s.applied())
            .is_some_and(|s| s.kv().get(key) != value)
    }
}
