//! The fault plan: a scenario's faults at their times, whom each hits, and the undoing of a
//! `during` window, in one place for the simulated world and for `native run`.
//!
//! A plan is a list of `(time, Fault)` in order of time and then as written; the end of a
//! `during` window is a [`Fault::Undo`] naming the step it ends. [`FaultState::apply`] carries
//! one step out on a [`Nemesis`] (the simulated cluster and the native runner each are one):
//! it resolves targets with the plan's own random stream, remembers whom each step hit and the
//! load it replaced, and on an undo gives back exactly that (restarts the very nodes a crash took
//! down, resumes those a pause stopped, resets their clocks and disks, restores the load in
//! force before). The order of draws is part of the contract: the same seed hits the same nodes
//! in the simulator and on the machine.

use simcore::{Dist, RngStream, SimTime};

use crate::network::Shape;

use super::disk::DiskFault;

/// A node (a server of the cluster the faults apply to), by index.
pub type NodeId = u32;

/// Whom a fault applies to.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// The current leader (the live leader of the highest term), if any.
    Leader,
    /// One node, drawn at random among those the action applies to.
    RandomNode,
    /// `k` nodes drawn at random among those the action applies to.
    Random(u32),
    /// A random minority (`(n - 1) / 2` nodes) or majority (`n / 2 + 1`).
    Minority,
    Majority,
    All,
    Nodes(Vec<NodeId>),
}

/// A scheduled change to the world.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    Partition(Shape),
    Heal,
    Crash(Targets),
    Restart(Targets),
    Pause(Targets),
    Resume(Targets),
    /// Set the targets' clock offsets to draws from this distribution (nanoseconds).
    ClockSkew(Targets, Dist),
    /// Set the targets' clock drift (1e-4 runs 100 ppm fast).
    ClockDrift(Targets, f64),
    /// Set the targets' fsync latency (nanoseconds); `None` returns to the configured one.
    DiskSlow(Targets, Option<Dist>),
    /// A fault of the targets' modelled disks (`disk n1 full`, `disk n1 errors(1%)`).
    Disk(Targets, DiskFault),
    /// Set the clients' total offered load, in operations per second.
    Rate(f64),
    /// The end of a `during` window: undo the fault at this index of the schedule (heal a
    /// partition, restart or resume the very nodes it crashed or paused, reset their clocks and
    /// disks, return to the load in force before it).
    Undo(usize),
}

impl Fault {
    /// The scenario verb, for `expect ... after VERB`.
    pub fn verb(&self) -> &'static str {
        match self {
            Fault::Partition(_) => "partition",
            Fault::Heal => "heal",
            Fault::Crash(_) => "crash",
            Fault::Restart(_) => "restart",
            Fault::Pause(_) => "pause",
            Fault::Resume(_) => "resume",
            Fault::ClockSkew(..) | Fault::ClockDrift(..) => "clock",
            Fault::DiskSlow(..) | Fault::Disk(..) => "disk",
            Fault::Rate(_) => "load",
            Fault::Undo(_) => "undo",
        }
    }
}

impl Targets {
    /// The nodes these targets name among `candidates` (the nodes the action applies to, in
    /// order) of a cluster of `n`, given the current `leader`: random choices are drawn from
    /// `rng` (a partial Fisher-Yates shuffle, then sorted), so the simulated cluster and the
    /// native runner pick the same nodes from the same stream.
    pub fn resolve(
        &self,
        n: u32,
        candidates: Vec<NodeId>,
        leader: Option<NodeId>,
        rng: &mut RngStream,
    ) -> Vec<NodeId> {
        let pick = |k: usize, rng: &mut RngStream| {
            let mut c = candidates.clone();
            let k = k.min(c.len());
            for i in 0..k {
                let j = i + rng.below((c.len() - i) as u64) as usize;
                c.swap(i, j);
            }
            c.truncate(k);
            c.sort_unstable();
            c
        };
        match self {
            Targets::Leader => leader
                .filter(|l| candidates.contains(l))
                .into_iter()
                .collect(),
            Targets::RandomNode => pick(1, rng),
            Targets::Random(k) => pick(*k as usize, rng),
            Targets::Minority => pick((n as usize).saturating_sub(1) / 2, rng),
            Targets::Majority => pick(n as usize / 2 + 1, rng),
            Targets::All => candidates,
            Targets::Nodes(list) => list
                .iter()
                .copied()
                .filter(|i| candidates.contains(i))
                .collect(),
        }
    }
}

/// What a fault plan acts on. The simulated world and the native runner each implement it; the
/// plan decides whom a step hits and what undoing it means, the nemesis only carries it out.
/// A method that cannot be carried out on this nemesis (clock skew on real processes) says so
/// in its own way (native notes it as skipped) and returns `Ok`.
pub trait Nemesis {
    type Error;
    /// The nodes faults can hit (`0..n`).
    fn nodes(&self) -> u32;
    /// The live leader of the highest term, if any.
    fn leader(&self) -> Option<NodeId>;
    fn is_up(&self, id: NodeId) -> bool;
    fn is_paused(&self, id: NodeId) -> bool;
    /// Cut the network into `shape` (drawing what is random from `rng`), or heal it (`None`).
    fn partition(&mut self, cut: Option<(&Shape, &mut RngStream)>) -> Result<(), Self::Error>;
    fn crash(&mut self, id: NodeId) -> Result<(), Self::Error>;
    fn restart(&mut self, id: NodeId) -> Result<(), Self::Error>;
    fn pause(&mut self, id: NodeId) -> Result<(), Self::Error>;
    fn resume(&mut self, id: NodeId) -> Result<(), Self::Error>;
    /// Set a node's clock offset (0 resets it).
    fn clock_offset(&mut self, id: NodeId, offset_ns: i64) -> Result<(), Self::Error>;
    /// Set a node's clock drift (0 resets it).
    fn clock_drift(&mut self, id: NodeId, drift: f64) -> Result<(), Self::Error>;
    /// Set a node's fsync latency (`None`: back to the configured one).
    fn disk_slow(&mut self, id: NodeId, fsync: Option<&Dist>) -> Result<(), Self::Error>;
    /// Apply a fault to a node's modelled disk (`None`: its faults end).
    fn disk_fault(&mut self, id: NodeId, fault: Option<&DiskFault>) -> Result<(), Self::Error>;
    /// The clients' total offered load (operations per second).
    fn rate(&self) -> f64;
    fn set_rate(&mut self, rate: f64) -> Result<(), Self::Error>;
}

/// What one step of the plan did.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The verb the step counts as for `expect ... after VERB`: its own, or for the end of a
    /// window what undoing it is (`heal`, `restart`, `resume`, `clock`, `disk`, `load`).
    pub verb: &'static str,
    /// The nodes it hit, in order.
    pub hit: Vec<NodeId>,
}

/// A plan's memory between steps: per step, the nodes it hit and the load it replaced, for
/// its undo.
#[derive(Debug, Clone)]
pub struct FaultState {
    affected: Vec<Vec<NodeId>>,
    saved_rate: Vec<f64>,
}

impl FaultState {
    /// The state of a plan of `steps` steps, none carried out yet.
    pub fn new(steps: usize) -> Self {
        FaultState {
            affected: vec![Vec::new(); steps],
            saved_rate: vec![0.0; steps],
        }
    }

    /// Carries out step `index` of `plan` on `n`, drawing from `rng`.
    pub fn apply<N: Nemesis>(
        &mut self,
        plan: &[(SimTime, Fault)],
        index: usize,
        n: &mut N,
        rng: &mut RngStream,
    ) -> Result<Applied, N::Error> {
        let Some((_, fault)) = plan.get(index) else {
            return Ok(Applied {
                verb: "undo",
                hit: Vec::new(),
            });
        };
        let mut hit = Vec::new();
        let verb = match fault {
            Fault::Undo(j) => self.undo(plan, *j, n)?,
            f => f.verb(),
        };
        let resolve = |n: &N, t: &Targets, applies: &dyn Fn(&N, NodeId) -> bool, rng| {
            let candidates: Vec<NodeId> = (0..n.nodes()).filter(|&i| applies(n, i)).collect();
            t.resolve(n.nodes(), candidates, n.leader(), rng)
        };
        match fault {
            Fault::Partition(shape) => n.partition(Some((shape, rng)))?,
            Fault::Heal => n.partition(None)?,
            Fault::Crash(t) => {
                hit = resolve(n, t, &|n, i| n.is_up(i), rng);
                for &id in &hit {
                    n.crash(id)?;
                }
            }
            Fault::Restart(t) => {
                hit = resolve(n, t, &|n, i| !n.is_up(i), rng);
                for &id in &hit {
                    n.restart(id)?;
                }
            }
            Fault::Pause(t) => {
                hit = resolve(n, t, &|n, i| n.is_up(i) && !n.is_paused(i), rng);
                for &id in &hit {
                    n.pause(id)?;
                }
            }
            Fault::Resume(t) => {
                hit = resolve(n, t, &|n, i| n.is_up(i) && n.is_paused(i), rng);
                for &id in &hit {
                    n.resume(id)?;
                }
            }
            Fault::ClockSkew(t, d) => {
                hit = resolve(n, t, &|_, _| true, rng);
                for &id in &hit {
                    let off = d.sample(rng);
                    n.clock_offset(id, off as i64)?;
                }
            }
            Fault::ClockDrift(t, drift) => {
                hit = resolve(n, t, &|_, _| true, rng);
                for &id in &hit {
                    n.clock_drift(id, *drift)?;
                }
            }
            Fault::DiskSlow(t, d) => {
                hit = resolve(n, t, &|_, _| true, rng);
                for &id in &hit {
                    n.disk_slow(id, d.as_ref())?;
                }
            }
            Fault::Disk(t, f) => {
                hit = resolve(n, t, &|_, _| true, rng);
                for &id in &hit {
                    n.disk_fault(id, Some(f))?;
                }
            }
            Fault::Rate(r) => {
                self.saved_rate[index] = n.rate();
                n.set_rate(*r)?;
            }
            Fault::Undo(_) => {}
        }
        self.affected[index] = hit.clone();
        Ok(Applied { verb, hit })
    }

    /// Undoes step `j` (the end of its `during` window); returns the verb undoing it is.
    fn undo<N: Nemesis>(
        &mut self,
        plan: &[(SimTime, Fault)],
        j: usize,
        n: &mut N,
    ) -> Result<&'static str, N::Error> {
        let Some(hit) = self.affected.get_mut(j).map(std::mem::take) else {
            return Ok("undo");
        };
        Ok(match plan.get(j).map(|s| &s.1) {
            Some(Fault::Partition(_)) => {
                n.partition(None)?;
                "heal"
            }
            Some(Fault::Crash(_)) => {
                for &id in &hit {
                    if !n.is_up(id) {
                        n.restart(id)?;
                    }
                }
                "restart"
            }
            Some(Fault::Pause(_)) => {
                for &id in &hit {
                    if n.is_paused(id) {
                        n.resume(id)?;
                    }
                }
                "resume"
            }
            Some(Fault::ClockSkew(..)) => {
                for &id in &hit {
                    n.clock_offset(id, 0)?;
                }
                "clock"
            }
            Some(Fault::ClockDrift(..)) => {
                for &id in &hit {
                    n.clock_drift(id, 0.0)?;
                }
                "clock"
            }
            Some(Fault::DiskSlow(..)) => {
                for &id in &hit {
                    n.disk_slow(id, None)?;
                }
                "disk"
            }
            Some(Fault::Disk(..)) => {
                for &id in &hit {
                    n.disk_fault(id, None)?;
                }
                "disk"
            }
            Some(Fault::Rate(_)) => {
                n.set_rate(self.saved_rate[j])?;
                "load"
            }
            _ => "undo",
        })
    }
}
