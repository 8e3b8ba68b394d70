//! Read-only checks of the machine features that native runs need.

use std::path::Path;

/// One feature and whether this machine offers it, with the evidence or the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    pub name: &'static str,
    pub available: bool,
    pub detail: String,
}

fn on_path(program: &str) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}

const NOT_ROOT: &str = "needs root (run as root or with CAP_SYS_ADMIN)";

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn feature(name: &'static str, checks: &[(bool, String)], ok: String) -> Feature {
    match checks.iter().find(|(passed, _)| !passed) {
        Some((_, why)) => Feature {
            name,
            available: false,
            detail: why.clone(),
        },
        None => Feature {
            name,
            available: true,
            detail: ok,
        },
    }
}

/// Loop block devices: what `native run` on a disk scenario and `native calibrate disk` need.
pub fn loop_device() -> Feature {
    feature(
        "loop-device",
        &[
            (
                Path::new("/dev/loop-control").exists(),
                "no /dev/loop-control (loop module not loaded)".into(),
            ),
            (
                on_path("losetup").is_some(),
                "no `losetup` command (apt-get install mount)".into(),
            ),
            (is_root(), NOT_ROOT.into()),
        ],
        "loop block devices via losetup (O_DIRECT capable)".into(),
    )
}

/// A cgroup `cpu` controller with CFS bandwidth control (v1 or v2): what `native run` on a CPU
/// scenario needs.
fn cgroup_cpu(root: bool) -> Feature {
    let version = crate::cgroup::detect();
    let (found, ok) = match &version {
        Ok(v) => (
            (true, String::new()),
            format!(
                "{} cpu controller with CFS quota at {}",
                v.name(),
                v.root().display()
            ),
        ),
        Err(why) => ((false, why.clone()), String::new()),
    };
    feature("cgroup-cpu", &[found, (root, NOT_ROOT.into())], ok)
}

/// Every feature, in a fixed order.
pub fn all() -> Vec<Feature> {
    let root = is_root();
    vec![
        feature(
            "netns",
            &[
                (
                    on_path("ip").is_some(),
                    "no `ip` command (apt-get install iproute2)".into(),
                ),
                (root, NOT_ROOT.into()),
            ],
            "ip netns and veth pairs (iproute2)".into(),
        ),
        cgroup_cpu(root),
        loop_device(),
        feature(
            "fuse",
            &[
                (Path::new("/dev/fuse").exists(), "no /dev/fuse".into()),
                (
                    on_path("fusermount3").is_some(),
                    "no `fusermount3` (apt-get install fuse3)".into(),
                ),
            ],
            "/dev/fuse with fuse3".into(),
        ),
        feature(
            "qemu",
            &[(
                on_path("qemu-system-x86_64").is_some(),
                "no qemu-system-x86_64 (apt-get install qemu-system-x86)".into(),
            )],
            format!(
                "{} (TCG; KVM {})",
                on_path("qemu-system-x86_64").unwrap_or_default(),
                if Path::new("/dev/kvm").exists() {
                    "present"
                } else {
                    "absent"
                }
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_feature_has_a_reason_or_evidence() {
        let features = all();
        assert_eq!(
            features.iter().map(|f| f.name).collect::<Vec<_>>(),
            ["netns", "cgroup-cpu", "loop-device", "fuse", "qemu"]
        );
        assert!(features.iter().all(|f| !f.detail.is_empty()));
    }

    #[test]
    fn a_failed_check_reports_its_own_reason() {
        let f = feature(
            "x",
            &[
                (true, "a".into()),
                (false, "b is missing".into()),
                (false, "c".into()),
            ],
            "ok".into(),
        );
        assert_eq!((f.available, f.detail.as_str()), (false, "b is missing"));
        let g = feature("y", &[(true, "a".into())], "fine".into());
        assert_eq!((g.available, g.detail.as_str()), (true, "fine"));
    }

    #[test]
    fn path_lookup_finds_a_real_program() {
        assert!(on_path("sh").is_some());
        assert!(on_path("no-such-program-here").is_none());
    }
}
