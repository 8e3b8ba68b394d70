//! A policy and its parameters as data ([`PolicyConfig`]), and how to build the policy it names
//! ([`PolicyConfig::build`]). The simulator (from a scenario) and the bare-metal kernel (from its
//! command line, [`crate::boot`]) both build their policies here, so both run the very same
//! policy for the very same parameters.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

use crate::mlfq::LEVELS_MAX;
use crate::{CpuId, Policy};

/// A policy and its parameters (all times in nanoseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyConfig {
    Fifo,
    Sjf,
    Stcf,
    RoundRobin {
        quantum: u64,
    },
    Mlfq {
        levels: u32,
        quantum: u64,
        allotment: u64,
        factor: u64,
        boost: Option<u64>,
        io_resets_allotment: bool,
    },
    Lottery {
        quantum: u64,
        seed: u64,
    },
    Stride {
        quantum: u64,
    },
    Cfs {
        target_latency: u64,
        min_granularity: u64,
    },
}

/// Why a configuration names no policy that can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PolicyConfig {
    /// The policy's name in the scenario language and on the kernel command line (the same as
    /// the built policy's [`Policy::name`]).
    pub fn name(&self) -> &'static str {
        match self {
            PolicyConfig::Fifo => "fifo",
            PolicyConfig::Sjf => "sjf",
            PolicyConfig::Stcf => "stcf",
            PolicyConfig::RoundRobin { .. } => "rr",
            PolicyConfig::Mlfq { .. } => "mlfq",
            PolicyConfig::Lottery { .. } => "lottery",
            PolicyConfig::Stride { .. } => "stride",
            PolicyConfig::Cfs { .. } => "cfs",
        }
    }

    /// One instance of the policy, for CPU `cpu`'s queue. The lottery's seed is salted with
    /// `cpu`, so per-CPU queues draw independently (CPU 0 keeps the seed as given). MLFQ is
    /// checked ([`crate::MlfqConfig::check`]); every other configuration builds (zero quanta
    /// are taken as 1 ns by the policies themselves).
    pub fn build(&self, cpu: CpuId) -> Result<Box<dyn Policy>, SpecError> {
        Ok(match *self {
            PolicyConfig::Fifo => Box::new(crate::Fifo::new()),
            PolicyConfig::Sjf => Box::new(crate::Sjf::new()),
            PolicyConfig::Stcf => Box::new(crate::Stcf::new()),
            PolicyConfig::RoundRobin { quantum } => Box::new(crate::RoundRobin::new(quantum)),
            PolicyConfig::Mlfq {
                levels,
                quantum,
                allotment,
                factor,
                boost,
                io_resets_allotment,
            } => {
                // `check` says the same, but only after `geometric` has allocated the levels:
                // refuse absurd level counts before allocating.
                if levels == 0 || levels as usize > LEVELS_MAX {
                    return Err(SpecError(String::from("MLFQ needs 1 to 64 levels")));
                }
                let mut c =
                    crate::MlfqConfig::geometric(levels as usize, quantum, allotment, factor);
                c.boost_period = boost;
                c.io_resets_allotment = io_resets_allotment;
                c.check().map_err(|e| SpecError(String::from(e)))?;
                Box::new(crate::Mlfq::new(c))
            }
            PolicyConfig::Lottery { quantum, seed } => Box::new(crate::Lottery::new(
                quantum,
                seed ^ u64::from(cpu).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            )),
            PolicyConfig::Stride { quantum } => Box::new(crate::Stride::new(quantum)),
            PolicyConfig::Cfs {
                target_latency,
                min_granularity,
            } => Box::new(crate::Cfs::new(target_latency, min_granularity)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::{JobSpec, Machine, MachineConfig, Segment};
    use alloc::vec::Vec;

    fn all() -> Vec<PolicyConfig> {
        alloc::vec![
            PolicyConfig::Fifo,
            PolicyConfig::Sjf,
            PolicyConfig::Stcf,
            PolicyConfig::RoundRobin { quantum: 10 },
            PolicyConfig::Mlfq {
                levels: 3,
                quantum: 10,
                allotment: 20,
                factor: 2,
                boost: Some(100),
                io_resets_allotment: true,
            },
            PolicyConfig::Lottery {
                quantum: 10,
                seed: 7,
            },
            PolicyConfig::Stride { quantum: 10 },
            PolicyConfig::Cfs {
                target_latency: 48,
                min_granularity: 6,
            },
        ]
    }

    #[test]
    fn built_policies_carry_the_configured_name() {
        let want = [
            "fifo", "sjf", "stcf", "rr", "mlfq", "lottery", "stride", "cfs",
        ];
        for (p, want) in all().iter().zip(want) {
            assert_eq!(p.name(), want);
            for cpu in [0, 3] {
                let built = p.build(cpu).expect("a valid configuration builds");
                assert_eq!(built.name(), want, "{p:?}");
            }
        }
    }

    fn schedule(p: &PolicyConfig, cpu: CpuId) -> Vec<Segment> {
        let policy = p.build(cpu).expect("builds");
        let jobs = (0..4u64).map(|k| JobSpec::cpu(k * 3, 40 + k * 7)).collect();
        let config = MachineConfig {
            cpus: 1,
            ..MachineConfig::default()
        };
        let mut m = Machine::new(policy, config, jobs).expect("runs");
        m.run_to_end();
        m.segments().to_vec()
    }

    #[test]
    fn built_policies_match_direct_construction() {
        let direct = |p: &PolicyConfig, cpu: CpuId| -> Box<dyn Policy> {
            match *p {
                PolicyConfig::Fifo => Box::new(crate::Fifo::new()),
                PolicyConfig::Sjf => Box::new(crate::Sjf::new()),
                PolicyConfig::Stcf => Box::new(crate::Stcf::new()),
                PolicyConfig::RoundRobin { quantum } => Box::new(crate::RoundRobin::new(quantum)),
                PolicyConfig::Mlfq { .. } => {
                    let mut c = crate::MlfqConfig::geometric(3, 10, 20, 2);
                    c.boost_period = Some(100);
                    c.io_resets_allotment = true;
                    Box::new(crate::Mlfq::new(c))
                }
                PolicyConfig::Lottery { quantum, seed } => Box::new(crate::Lottery::new(
                    quantum,
                    seed ^ u64::from(cpu).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                )),
                PolicyConfig::Stride { quantum } => Box::new(crate::Stride::new(quantum)),
                PolicyConfig::Cfs {
                    target_latency,
                    min_granularity,
                } => Box::new(crate::Cfs::new(target_latency, min_granularity)),
            }
        };
        for p in all() {
            for cpu in [0, 1, 5] {
                let jobs = (0..4u64).map(|k| JobSpec::cpu(k * 3, 40 + k * 7)).collect();
                let config = MachineConfig {
                    cpus: 1,
                    ..MachineConfig::default()
                };
                let mut m = Machine::new(direct(&p, cpu), config, jobs).expect("runs");
                m.run_to_end();
                assert_eq!(schedule(&p, cpu), m.segments().to_vec(), "{p:?} on {cpu}");
            }
        }
    }

    #[test]
    fn lottery_seed_is_salted_per_cpu_and_kept_on_cpu_0() {
        let p = PolicyConfig::Lottery {
            quantum: 5,
            seed: 11,
        };
        let cpu0 = schedule(&p, 0);
        assert_eq!(cpu0, schedule(&p, 0), "deterministic");
        assert!(
            (1..8).any(|cpu| schedule(&p, cpu) != cpu0),
            "other CPUs draw from other seeds"
        );
    }

    #[test]
    fn bad_mlfq_configurations_are_errors() {
        let mlfq = |levels, quantum, allotment, boost| PolicyConfig::Mlfq {
            levels,
            quantum,
            allotment,
            factor: 2,
            boost,
            io_resets_allotment: false,
        };
        let err = |p: PolicyConfig| {
            p.build(0)
                .err()
                .map(|e| alloc::string::ToString::to_string(&e))
        };
        assert_eq!(
            err(mlfq(0, 10, 20, None)).as_deref(),
            Some("MLFQ needs 1 to 64 levels")
        );
        assert_eq!(
            err(mlfq(u32::MAX, 10, 20, None)).as_deref(),
            Some("MLFQ needs 1 to 64 levels")
        );
        assert_eq!(
            err(mlfq(3, 0, 20, None)).as_deref(),
            Some("an MLFQ quantum must be positive")
        );
        assert_eq!(
            err(mlfq(3, 10, 0, None)).as_deref(),
            Some("an MLFQ allotment must be positive")
        );
        assert_eq!(
            err(mlfq(3, 10, 20, Some(0))).as_deref(),
            Some("MLFQ's boost period must be positive")
        );
        assert!(mlfq(64, 10, 20, Some(1)).build(0).is_ok());
    }
}
