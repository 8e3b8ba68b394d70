//! `native run --netns`: one network namespace per node, each joined to a bridge in the
//! runner's namespace by a veth pair, so nodes talk over real (virtual) links with their own
//! network stacks instead of one loopback device. Made with `ip` (iproute2) and removed when
//! the run ends, however it ends (the [`NetNs`] guard's `Drop`).
//!
//! Names carry the runner's pid, so parallel runs never collide: namespaces `sim-PID-nK`, the
//! bridge `sbPID`, host ends `svPIDnK` (interface names stay within Linux's 15 characters), and
//! the first free subnet `10.213.X.0/24` from `X = PID mod 250`, nodes at `.1`, `.2`, ... and the
//! runner at `.254`.

use std::net::Ipv4Addr;
use std::process::Command;

/// The namespaces, veth pairs and bridge of one run.
#[derive(Debug)]
pub struct NetNs {
    /// The runner's pid, in every name.
    pid: u32,
    bridge: String,
    namespaces: Vec<String>,
    subnet: u8,
}

/// Runs `ip ARGS`, with its stderr in the error.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("running `ip`: {e} (install iproute2)"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A `10.213.X.0/24` no interface here uses yet, starting from `pid mod 250`, so runs side by
/// side get subnets of their own.
fn free_subnet(pid: u32) -> u8 {
    let used = Command::new("ip")
        .args(["-4", "-o", "addr", "show"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    (0..250u32)
        .map(|k| ((pid + k) % 250) as u8)
        .find(|x| !used.contains(&format!(" 10.213.{x}.")))
        .unwrap_or((pid % 250) as u8)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

impl NetNs {
    /// Why namespaces cannot be made here, if they cannot.
    pub fn unavailable() -> Option<String> {
        if !is_root() {
            return Some("--netns needs root (network namespaces and veth pairs)".into());
        }
        if Command::new("ip").arg("-V").output().is_err() {
            return Some("--netns needs `ip` from iproute2".into());
        }
        None
    }

    /// Makes the bridge and `n` namespaces, each with a veth pair to the bridge and its address.
    /// On an error, what was made is removed.
    pub fn create(n: usize) -> Result<NetNs, String> {
        if let Some(why) = Self::unavailable() {
            return Err(why);
        }
        let pid = std::process::id();
        let mut made = NetNs {
            pid,
            bridge: format!("sb{}", pid % 10_000_000),
            namespaces: Vec::new(),
            subnet: free_subnet(pid),
        };
        ip(&["link", "add", &made.bridge, "type", "bridge"])?;
        let runner = format!("{}/24", made.runner_ip());
        ip(&["addr", "add", &runner, "dev", &made.bridge])?;
        ip(&["link", "set", &made.bridge, "up"])?;
        for k in 0..n {
            let ns = format!("sim-{pid}-n{k}");
            ip(&["netns", "add", &ns])?;
            made.namespaces.push(ns.clone());
            let host = made.veth(k);
            ip(&[
                "link", "add", &host, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ])?;
            ip(&["link", "set", &host, "master", &made.bridge, "up"])?;
            let addr = format!("{}/24", made.node_ip(k));
            ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(made)
    }

    pub fn node_ip(&self, k: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.subnet, (k + 1).min(250) as u8)
    }

    pub fn runner_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.subnet, 254)
    }

    /// The host's end of node `k`'s veth pair.
    fn veth(&self, k: usize) -> String {
        format!("sv{}n{k}", self.pid % 100_000)
    }

    /// The namespace of node `k`.
    pub fn namespace(&self, k: usize) -> Option<&str> {
        self.namespaces.get(k).map(String::as_str)
    }
}

impl Drop for NetNs {
    /// Each veth pair is deleted first, from the host's end: deleting a namespace would delete
    /// its devices too, but later, in the kernel's own time, so the host's ends would outlive
    /// the run for a moment.
    fn drop(&mut self) {
        for (k, ns) in std::mem::take(&mut self.namespaces).into_iter().enumerate() {
            let _ = ip(&["link", "del", &self.veth(k)]);
            let _ = ip(&["netns", "del", &ns]);
        }
        let _ = ip(&["link", "del", &self.bridge]);
    }
}
