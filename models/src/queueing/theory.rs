//! Closed forms from queueing theory, used to check the simulated networks.
//!
//! Notation as in Kleinrock, *Queueing Systems, Vol. 1* and Harchol-Balter, *Performance Modeling
//! and Design of Computer Systems*: arrival rate `lambda`, service rate per server `mu`, `k` servers,
//! offered load `a = lambda / mu`, utilisation `rho = a / k`. All waits are in the same time unit as
//! `1 / lambda`.

/// M/M/1 mean time waiting in the queue: `Wq = rho / (mu - lambda)`. `None` when unstable.
pub fn mm1_mean_wait(lambda: f64, mu: f64) -> Option<f64> {
    (lambda < mu).then(|| (lambda / mu) / (mu - lambda))
}

/// M/M/1 mean time in the system (queue and service): `W = 1 / (mu - lambda)`.
pub fn mm1_mean_sojourn(lambda: f64, mu: f64) -> Option<f64> {
    (lambda < mu).then(|| 1.0 / (mu - lambda))
}

/// Erlang's C formula: the probability that an arrival to an M/M/k queue must wait.
///
/// `C(k, a) = (a^k / k!) / (1 - rho) / (sum_{n<k} a^n / n! + (a^k / k!) / (1 - rho))`, computed
/// with the numerically stable recurrence through Erlang B: `B(0) = 1`,
/// `B(n) = a B(n-1) / (n + a B(n-1))`, then `C = B / (1 - rho (1 - B))`.
pub fn erlang_c(k: u32, a: f64) -> Option<f64> {
    let rho = a / k as f64;
    if k == 0 || !(0.0..1.0).contains(&rho) {
        return None;
    }
    let mut b = 1.0;
    for n in 1..=k {
        b = a * b / (n as f64 + a * b);
    }
    Some(b / (1.0 - rho * (1.0 - b)))
}

/// M/M/k mean time waiting in the queue: `Wq = C(k, a) / (k mu - lambda)`.
pub fn mmk_mean_wait(lambda: f64, mu: f64, k: u32) -> Option<f64> {
    erlang_c(k, lambda / mu).map(|c| c / (k as f64 * mu - lambda))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mm1_textbook_values() {
        assert!((mm1_mean_wait(0.9, 1.0).unwrap() - 9.0).abs() < 1e-12);
        assert!((mm1_mean_sojourn(0.5, 1.0).unwrap() - 2.0).abs() < 1e-12);
        assert_eq!(mm1_mean_wait(1.0, 1.0), None);
    }

    #[test]
    fn erlang_c_matches_the_direct_formula_and_mm1() {
        // k = 1 reduces to M/M/1: C = rho.
        assert!((erlang_c(1, 0.7).unwrap() - 0.7).abs() < 1e-12);
        // Direct sum for k = 3, a = 2.4.
        let (k, a) = (3u32, 2.4f64);
        let fact = |n: u32| (1..=n).map(f64::from).product::<f64>();
        let top = a.powi(k as i32) / fact(k) / (1.0 - a / k as f64);
        let sum: f64 = (0..k).map(|n| a.powi(n as i32) / fact(n)).sum();
        let direct = top / (sum + top);
        assert!((erlang_c(k, a).unwrap() - direct).abs() < 1e-12);
        // A published value: k = 2, a = 1 gives C = 1/3.
        assert!((erlang_c(2, 1.0).unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert!((mmk_mean_wait(1.0, 1.0, 1).is_none()));
    }
}
