//! A helper program run to its end under the runner's control (QEMU for the kernel target, fio
//! for disks): in a process group of its own, killed with the runner if the runner dies
//! (a parent-death signal), killed when the runner is told to stop (Ctrl-C, SIGTERM, SIGHUP
//! set the stop flag) or when it overruns its time, and reaped whatever way the run ends.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A child, owned: dropping it kills its whole process group and reaps it, whatever way the
/// caller ends (an outcome, an error, an interruption, a panic).
struct Owned(Child);

impl Owned {
    /// Starts `cmd` in a process group of its own (a Ctrl-C at the terminal reaches the runner,
    /// which stops it, not the child behind its back), killed by the kernel if the runner dies
    /// first, so no child outlives its runner, even a SIGKILLed one.
    fn spawn(mut cmd: Command) -> std::io::Result<Owned> {
        let runner = std::process::id();
        cmd.process_group(0);
        // SAFETY: between fork and exec, only async-signal-safe calls (prctl, getppid) and no
        // allocation.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The runner died before the signal was set: do not start at all.
                if libc::getppid() as u32 != runner {
                    return Err(std::io::Error::other("the runner is gone"));
                }
                Ok(())
            });
        }
        cmd.spawn().map(Owned)
    }

    fn kill(&mut self) {
        // SAFETY: kill(2) with the child's process group (its pid, from process_group(0)) and a
        // signal number touches no memory.
        unsafe {
            libc::kill(-(self.0.id() as i32), libc::SIGKILL);
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

/// What a child did by the time it ended or was stopped.
#[derive(Debug)]
pub struct Finished {
    /// How it exited; `None` when it overran its time and was killed.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub wall: Duration,
}

/// Why a child gave no [`Finished`].
#[derive(Debug)]
pub enum ChildError {
    /// It could not start (`NotFound`: the program is missing).
    Spawn(std::io::Error),
    /// Waiting for it failed; it was killed.
    Wait(std::io::Error),
    /// The stop flag was set: it was killed.
    Interrupted,
}

/// Runs `cmd` to its end with its output captured, killing it after `timeout` or as soon as
/// `stop` is set.
pub fn run(cmd: Command, timeout: Duration, stop: &AtomicBool) -> Result<Finished, ChildError> {
    run_with(cmd, None, |_| Ok(()), timeout, stop)
}

/// [`run`], with `setup` given the child's pid once it started and before it is given `input`
/// on its standard input (none: its standard input is empty): a child that reads its input
/// before it does anything does nothing before `setup` (`native run` moves it into a cgroup).
/// A failed `setup` kills it.
pub fn run_with(
    mut cmd: Command,
    input: Option<Vec<u8>>,
    setup: impl FnOnce(u32) -> std::io::Result<()>,
    timeout: Duration,
    stop: &AtomicBool,
) -> Result<Finished, ChildError> {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = Owned::spawn(cmd).map_err(ChildError::Spawn)?;
    setup(child.0.id()).map_err(ChildError::Spawn)?;
    if let (Some(input), Some(mut stdin)) = (input, child.0.stdin.take()) {
        use std::io::Write;
        // A child that exits without reading it all ends the write; its status tells why.
        let _ = stdin.write_all(&input);
    }
    let started = Instant::now();
    let reader = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = reader(
        child
            .0
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .0
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let status = loop {
        match child.0.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if stop.load(Ordering::Relaxed) => {
                child.kill();
                return Err(ChildError::Interrupted);
            }
            Ok(None) if started.elapsed() >= timeout => {
                child.kill();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                child.kill();
                return Err(ChildError::Wait(e));
            }
        }
    };
    Ok(Finished {
        status,
        wall: started.elapsed(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_runs_to_its_end_or_is_stopped() {
        let stop = AtomicBool::new(false);
        let mut echo = Command::new("sh");
        echo.args(["-c", "echo out; echo err >&2; exit 3"]);
        let f = run(echo, Duration::from_secs(20), &stop).unwrap();
        assert_eq!(f.status.and_then(|s| s.code()), Some(3));
        assert_eq!((f.stdout.as_str(), f.stderr.as_str()), ("out\n", "err\n"));
        let mut sleep = Command::new("sleep");
        sleep.arg("30");
        let f = run(sleep, Duration::from_millis(50), &stop).unwrap();
        assert!(f.status.is_none(), "overran and was killed");
        stop.store(true, Ordering::Relaxed);
        let mut sleep = Command::new("sleep");
        sleep.arg("30");
        assert!(matches!(
            run(sleep, Duration::from_secs(20), &stop),
            Err(ChildError::Interrupted)
        ));
        let missing = Command::new("no-such-program-here");
        assert!(matches!(
            run(missing, Duration::from_secs(1), &stop),
            Err(ChildError::Spawn(e)) if e.kind() == std::io::ErrorKind::NotFound
        ));
    }
}
