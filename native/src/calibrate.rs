//! `native calibrate net`: measures this machine's loopback UDP latency and the node's cost of
//! handling a message, and writes them as a network model: a scenario fragment to `include`
//! (`network { latency lognormal(MEDIAN, SIGMA) }`) and the measurements themselves in RON,
//! which a scenario can `include` as well (the loader turns it into the same block).
//!
//! One way latency is half a measured round trip between two sockets on two threads, with a
//! 200-byte datagram (about an AppendEntries with a few entries). The processing cost is the
//! time to decode an AppendEntries, hand it to a follower's `Server`, and encode its answer, as
//! a node process does for every message. The model's median is the sum of the two medians; its
//! sigma is fitted from the latency's median and 90th percentile (a lognormal has
//! p90 = median · e^(1.2816 σ)).

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use models::raft::server::Server;
use models::raft::{Config, Entry, Message, Payload, Restored};
use serde::{Deserialize, Serialize};
use simcore::{Dist, RngStream};

use crate::compare::stats;
use crate::wire::{Packet, decode, encode};

/// The z-score of the 90th percentile of a standard normal.
const Z90: f64 = 1.281_551_565_545;

/// What calibration measured, and the model fitted to it (nanoseconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetCalibration {
    pub samples: usize,
    pub one_way_ns_p50: f64,
    pub one_way_ns_p90: f64,
    pub one_way_ns_p99: f64,
    pub processing_ns_p50: f64,
    /// The fitted lognormal: its median (one way + processing) and sigma.
    pub model_median_ns: f64,
    pub model_sigma: f64,
}

impl NetCalibration {
    /// The fitted latency as a distribution (nanoseconds), as the network model takes it.
    pub fn latency(&self) -> Dist {
        Dist::LogNormal {
            mu: self.model_median_ns.max(1.0).ln(),
            sigma: self.model_sigma,
        }
    }

    /// The scenario fragment: a `network` block with the fitted latency.
    pub fn fragment(&self) -> String {
        format!(
            "# Written by `native calibrate net`: loopback UDP on this machine, {} round trips.\n\
             # One way p50 {:.1}us p90 {:.1}us p99 {:.1}us; handling a message p50 {:.2}us.\n\
             # Include it in place of a scenario's own `network` block.\n\
             network {{ latency lognormal({}ns, {}) }}\n",
            self.samples,
            self.one_way_ns_p50 / 1e3,
            self.one_way_ns_p90 / 1e3,
            self.one_way_ns_p99 / 1e3,
            self.processing_ns_p50 / 1e3,
            self.model_median_ns.round().max(1.0) as u64,
            self.model_sigma,
        )
    }
}

/// Measures `samples` round trips and as many message handlings.
pub fn calibrate(samples: usize) -> Result<NetCalibration, String> {
    let one_way = one_way_latencies(samples)?;
    let processing = processing_costs(samples);
    let lat = stats(&one_way).ok_or("no round trip completed")?;
    let p90 = percentile(&one_way, 0.9);
    let proc = stats(&processing).ok_or("no message was handled")?;
    let sigma = if lat.median > 0.0 && p90 > lat.median {
        (p90 / lat.median).ln() / Z90
    } else {
        0.0
    };
    Ok(NetCalibration {
        samples: one_way.len(),
        one_way_ns_p50: lat.median,
        one_way_ns_p90: p90,
        one_way_ns_p99: lat.p99,
        processing_ns_p50: proc.median,
        model_median_ns: lat.median + proc.median,
        model_sigma: sigma,
    })
}

fn percentile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(((q * s.len() as f64).ceil() as usize).clamp(1, s.len().max(1)) - 1)
        .copied()
        .unwrap_or(0.0)
}

/// Half of each of `samples` round trips of a 200-byte datagram between two loopback sockets,
/// after 10% as many to warm up.
fn one_way_latencies(samples: usize) -> Result<Vec<f64>, String> {
    let bind = || UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], 0))).map_err(|e| e.to_string());
    let (a, b) = (bind()?, bind()?);
    let b_addr = b.local_addr().map_err(|e| e.to_string())?;
    b.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    a.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    let total = samples + samples / 10;
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        for _ in 0..total {
            match b.recv_from(&mut buf) {
                Ok((n, from)) => {
                    let _ = b.send_to(&buf[..n], from);
                }
                Err(_) => return,
            }
        }
    });
    let payload = [7u8; 200];
    let mut buf = [0u8; 512];
    let mut out = Vec::with_capacity(samples);
    for k in 0..total {
        let t = Instant::now();
        a.send_to(&payload, b_addr).map_err(|e| e.to_string())?;
        if a.recv_from(&mut buf).is_err() {
            break; // A lost datagram: stop here, with what was measured.
        }
        if k >= samples / 10 {
            out.push(t.elapsed().as_nanos() as f64 / 2.0);
        }
    }
    let _ = echo.join();
    Ok(out)
}

/// The time to decode a heartbeat-sized AppendEntries, let a follower handle it, and encode its
/// answer, `samples` times.
fn processing_costs(samples: usize) -> Vec<f64> {
    let mut server = Server::new(
        1,
        3,
        Config::default(),
        Restored::default(),
        RngStream::derive(0, "calibrate"),
        None,
    );
    let mut out = Vec::with_capacity(samples);
    let mut actions = Vec::new();
    let mut bytes = Vec::new();
    let mut answer = Vec::new();
    for k in 0..samples as u64 {
        bytes.clear();
        let msg = Message::AppendEntries {
            term: 1,
            prev_index: k,
            prev_term: u64::from(k > 0),
            entries: vec![Entry {
                term: 1,
                payload: Payload::Noop,
            }],
            commit: k,
        };
        let p = Packet::Raft {
            from: 0,
            to: 1,
            msg,
        };
        if encode(&p, &mut bytes).is_err() {
            continue;
        }
        let t = Instant::now();
        if let Ok(Packet::Raft { from, msg, .. }) = decode(&bytes) {
            actions.clear();
            server.receive(from, msg, &mut actions);
            for a in actions.drain(..) {
                if let models::raft::server::Action::Raft(models::raft::Output::Send { to, msg }) =
                    a
                {
                    answer.clear();
                    let _ = encode(&Packet::Raft { from: 1, to, msg }, &mut answer);
                }
            }
        }
        out.push(t.elapsed().as_nanos() as f64);
        // The follower's fsync would come here; acknowledge it so the server carries on.
        server.synced(&mut actions);
        actions.clear();
    }
    out
}

/// Reads a calibration's RON file (as [`write`] wrote it).
pub fn read(path: &Path) -> Result<NetCalibration, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    ron::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes the fragment to `path` and the measurements in RON beside it (`path` with `.ron`),
/// each through a temporary file and a rename.
pub fn write(cal: &NetCalibration, path: &Path) -> Result<(), String> {
    write_pair(&cal.fragment(), cal, path)
}

/// Writes a calibration's `fragment` to `path` and `cal` in RON beside it (`path` with
/// `.ron`), each through a temporary file and a rename: what every `native calibrate` writes.
pub fn write_pair<T: Serialize>(fragment: &str, cal: &T, path: &Path) -> Result<(), String> {
    let ron = ron::ser::to_string_pretty(cal, ron::ser::PrettyConfig::default())
        .map_err(|e| e.to_string())?;
    let ron_path = path.with_extension("ron");
    for (p, text) in [
        (path, fragment.to_string()),
        (ron_path.as_path(), ron + "\n"),
    ] {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        scenarios::runner::write_atomically(p, text.as_bytes())
            .map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calibration_fits_a_lognormal_that_a_scenario_accepts() {
        let cal = calibrate(2000).unwrap();
        assert!(cal.samples > 1000, "{cal:?}");
        assert!(cal.one_way_ns_p50 > 0.0 && cal.one_way_ns_p50 <= cal.one_way_ns_p99);
        assert!(cal.processing_ns_p50 > 0.0);
        assert!(cal.model_median_ns >= cal.one_way_ns_p50);
        assert!(cal.model_sigma >= 0.0 && cal.model_sigma.is_finite());
        // The fragment is a valid scenario fragment: included by a scenario, it checks.
        let dir = tempfile::tempdir().unwrap();
        let frag = dir.path().join("net.scn");
        write(&cal, &frag).unwrap();
        assert!(dir.path().join("net.ron").exists());
        let scn = dir.path().join("s.scn");
        std::fs::write(
            &scn,
            "scenario \"c\" {\n  duration 1s\n  include \"net.scn\"\n  raft cluster { nodes n1..n3 }\n}\n",
        )
        .unwrap();
        let s = scenarios::load(&scn).unwrap();
        let checked = scenarios::check::check(&s).unwrap();
        let cfg = scenarios::wire_raft::wire_raft(&checked, 1).unwrap();
        let want = (cal.model_median_ns.round()).ln();
        match cfg.network.link.latency {
            Dist::LogNormal { mu, sigma } => {
                assert!((mu - want).abs() < 1e-6, "{mu} vs {want}");
                assert!((sigma - cal.model_sigma).abs() < 1e-3);
            }
            other => panic!("{other:?}"),
        }
        // The RON itself can be included too, and stands for the same network block.
        std::fs::write(
            &scn,
            "scenario \"c\" {\n  duration 1s\n  include \"net.ron\"\n  raft cluster { nodes n1..n3 }\n}\n",
        )
        .unwrap();
        let s = scenarios::load(&scn).unwrap();
        let checked = scenarios::check::check(&s).unwrap();
        let from_ron = scenarios::wire_raft::wire_raft(&checked, 1).unwrap();
        assert_eq!(from_ron.network.link.latency, cfg.network.link.latency);
        // A RON that is not a calibration is refused, naming the file.
        std::fs::write(dir.path().join("net.ron"), "(model_sigma: -1.0)").unwrap();
        let err = scenarios::load(&scn).unwrap_err().to_string();
        assert!(err.contains("net.ron"), "{err}");
    }
}
