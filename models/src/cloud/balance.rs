//! How an L7 load balancer picks the backend for a request, given each backend's outstanding
//! requests (sans-IO: the caller keeps the counts; a backend out of service is not offered).
//!
//! - [`Balance::RoundRobin`]: the next backend in turn, whatever its load.
//! - [`Balance::LeastOutstanding`]: the backend with the fewest requests in flight (the lowest
//!   index among equals), which needs every backend's count (a full scan, O(n)).
//! - [`Balance::PowerOfTwo`]: two backends drawn at random, the less loaded of them (the first
//!   drawn among equals): Mitzenmacher, "The Power of Two Choices in Randomized Load
//!   Balancing" (IEEE TPDS 2001). In the supermarket model (n queues of rate-1 exponential
//!   servers, Poisson arrivals at rate λn, each joining the shorter of two queues drawn at
//!   random) the fraction of queues with at least i customers tends to λ^(2^i − 1) as n grows,
//!   against λ^i for one random choice: a doubly exponential tail, from one extra probe.

use simcore::RngStream;

/// A load balancer's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance {
    RoundRobin,
    LeastOutstanding,
    PowerOfTwo,
}

impl Balance {
    pub const NAMES: &'static [&'static str] = &["round-robin", "least-outstanding", "p2c"];

    pub fn from_name(name: &str) -> Option<Balance> {
        Some(match name {
            "round-robin" => Balance::RoundRobin,
            "least-outstanding" => Balance::LeastOutstanding,
            "p2c" => Balance::PowerOfTwo,
            _ => return None,
        })
    }
}

/// A balancer: its policy and the state round robin keeps.
#[derive(Debug, Clone)]
pub struct Balancer {
    policy: Balance,
    next: usize,
}

impl Balancer {
    pub fn new(policy: Balance) -> Self {
        Balancer { policy, next: 0 }
    }

    /// The backend (an index into `outstanding`) for the next request, or None when there is
    /// none. Power of two choices draws from `rng` (two draws, or none for a single backend).
    pub fn pick(&mut self, outstanding: &[u32], rng: &mut RngStream) -> Option<usize> {
        let n = outstanding.len();
        if n == 0 {
            return None;
        }
        Some(match self.policy {
            Balance::RoundRobin => {
                let i = self.next % n;
                self.next = (i + 1) % n;
                i
            }
            Balance::LeastOutstanding => (0..n).min_by_key(|&i| outstanding[i]).unwrap_or(0),
            Balance::PowerOfTwo => {
                if n == 1 {
                    return Some(0);
                }
                let a = rng.below(n as u64) as usize;
                // A second backend, distinct from the first: uniform over the other n - 1.
                let mut b = rng.below(n as u64 - 1) as usize;
                if b >= a {
                    b += 1;
                }
                if outstanding[b] < outstanding[a] {
                    b
                } else {
                    a
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_and_least_outstanding_pick_as_defined() {
        let mut rng = RngStream::derive(1, "lb");
        let mut rr = Balancer::new(Balance::RoundRobin);
        let picks: Vec<usize> = (0..5)
            .map(|_| rr.pick(&[9, 0, 4], &mut rng).unwrap())
            .collect();
        assert_eq!(picks, [0, 1, 2, 0, 1]);
        let mut lor = Balancer::new(Balance::LeastOutstanding);
        assert_eq!(lor.pick(&[3, 1, 2, 1], &mut rng), Some(1));
        assert_eq!(lor.pick(&[], &mut rng), None);
        let mut p2c = Balancer::new(Balance::PowerOfTwo);
        assert_eq!(p2c.pick(&[7], &mut rng), Some(0));
        // Of two backends, p2c always sees both: it picks the less loaded.
        for _ in 0..100 {
            assert_eq!(p2c.pick(&[5, 2], &mut rng), Some(1));
        }
    }

    /// The supermarket model simulated (n = 1000 queues, λ = 0.9, exact in distribution:
    /// the next event is an arrival with probability λn / (λn + busy), else the departure of a
    /// uniformly chosen busy queue's customer, with time advancing by an exponential draw of
    /// the total rate). The time-average fraction of queues with at least i customers matches
    /// Mitzenmacher's limit λ^(2^i − 1) (0.9, 0.729, 0.478, 0.206 for i = 1..4) within 0.02, and
    /// one random choice matches λ^i (the M/M/1 tail) instead.
    #[test]
    fn power_of_two_choices_follows_the_supermarket_model() {
        let (n, lambda) = (1000usize, 0.9f64);
        // Two choices through the balancer, and one uniformly random choice (the M/M/1 queues
        // whose tail is λ^i) for contrast.
        for two in [true, false] {
            let mut rng = RngStream::derive(7, "supermarket");
            let mut b = Balancer::new(Balance::PowerOfTwo);
            let mut queues = vec![0u32; n];
            let mut busy: Vec<usize> = Vec::new();
            // Queues with at least i customers, and that count integrated over time, i = 1..=4.
            let mut at_least = [0usize; 5];
            let mut area = [0f64; 5];
            let (mut time, warmup, steps) = (0f64, 200_000, 2_000_000);
            for step in 0..steps {
                let rate = lambda * n as f64 + busy.len() as f64;
                let dt = -rng.next_f64_open0().ln() / rate;
                if step >= warmup {
                    for i in 1..5 {
                        area[i] += at_least[i] as f64 * dt;
                    }
                    time += dt;
                }
                if rng.next_f64() * rate < lambda * n as f64 {
                    let q = if two {
                        b.pick(&queues, &mut rng).unwrap()
                    } else {
                        rng.below(n as u64) as usize
                    };
                    queues[q] += 1;
                    if let Some(c) = at_least.get_mut(queues[q] as usize) {
                        *c += 1;
                    }
                    if queues[q] == 1 {
                        busy.push(q);
                    }
                } else {
                    let k = rng.below(busy.len() as u64) as usize;
                    let q = busy[k];
                    if let Some(c) = at_least.get_mut(queues[q] as usize) {
                        *c -= 1;
                    }
                    queues[q] -= 1;
                    if queues[q] == 0 {
                        busy.swap_remove(k);
                    }
                }
            }
            for i in 1..5 {
                let measured = area[i] / (time * n as f64);
                let expected = if two {
                    lambda.powi(2i32.pow(i as u32) - 1)
                } else {
                    lambda.powi(i as i32)
                };
                assert!(
                    (measured - expected).abs() < 0.02,
                    "two choices {two}: s_{i} = {measured:.4}, limit {expected:.4}"
                );
            }
        }
    }
}
