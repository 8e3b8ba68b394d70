//! The live processes of this machine, read from `/proc`, for tests that check a run left none
//! behind (`native node` processes, QEMU).

/// The live (not zombie) processes whose command line satisfies `wanted`, by pid. A process may
/// end while we look: whatever cannot be read is not there.
pub fn live_matching(wanted: impl Fn(&[String]) -> bool) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<String> = raw
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if wanted(&args) && !is_zombie(pid) {
            found.push(pid);
        }
    }
    found
}

/// Whether `pid` is gone or a zombie (ended, not yet reaped).
pub fn is_zombie(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true; // gone
    };
    // `PID (COMM) STATE ...`; COMM may hold spaces and parentheses: the state follows the last `)`.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_none_or(|s| s == "Z" || s == "X")
}
