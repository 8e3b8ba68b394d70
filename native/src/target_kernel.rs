//! `native run FILE.scn --target kernel`: every variant of a CPU scheduling scenario booted in
//! QEMU on `kernel/` and run on the simulator's machine, side by side.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sched::boot::Fault;

use crate::kernel::{self, Clock, Outcome};
use crate::schedule;

/// What the kernel target was asked to do.
pub struct KernelArgs {
    pub scenario: PathBuf,
    pub seed: Option<u64>,
    /// A prebuilt image instead of building `kernel/`.
    pub image: Option<PathBuf>,
    pub timeout: Duration,
    pub clock: Clock,
    pub fault: Option<Fault>,
    /// Where to write the kernel's serial trace (one file per variant of a sweep).
    pub save_trace: Option<PathBuf>,
    /// The variants of the sweep to boot (`--variant`, as `sim run` reads it); empty for all.
    pub variant: Vec<String>,
}

/// Why the target could not run (as opposed to a kernel that ran and failed).
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{0}")]
    Scenario(String),
    #[error("{0}")]
    Setup(String),
    /// Ctrl-C, SIGTERM or SIGHUP: QEMU was killed and the run stopped.
    #[error("interrupted: QEMU was killed and the run stopped")]
    Interrupted,
}

impl From<kernel::BootError> for TargetError {
    fn from(e: kernel::BootError) -> Self {
        match e {
            kernel::BootError::Setup(m) => TargetError::Setup(m),
            kernel::BootError::Interrupted => TargetError::Interrupted,
        }
    }
}

/// One variant's result.
pub struct VariantRun {
    pub label: String,
    /// The whole QEMU command, to boot the same run by hand.
    pub qemu: String,
    pub boot: kernel::Boot,
    /// The comparison's lines, when the kernel passed.
    pub lines: Vec<String>,
}

impl VariantRun {
    pub fn passed(&self) -> bool {
        matches!(self.boot.outcome, Outcome::Pass(_))
    }

    /// Whether QEMU itself could not run the image (as opposed to a kernel that ran and failed).
    pub fn could_not_run(&self) -> bool {
        matches!(self.boot.outcome, Outcome::Qemu { .. })
    }
}

/// Writes `text` to `path` through a temporary file beside it, so a reader never sees half.
fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| format!("{}: {e}", path.display()))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| format!("{}: {}", path.display(), e.error))?;
    Ok(())
}

/// Runs every variant. Errors before any boot (a bad scenario, a failed build) are `Err`; a
/// kernel that fails is a `VariantRun` that did not pass. `stop` (Ctrl-C, SIGTERM, SIGHUP) ends
/// the run as `Interrupted`, QEMU killed.
pub fn run(
    args: &KernelArgs,
    stop: &AtomicBool,
    mut each: impl FnMut(&VariantRun),
) -> Result<Vec<VariantRun>, TargetError> {
    let path = &args.scenario;
    let scenario = scenarios::load(path).map_err(|e| TargetError::Scenario(e.to_string()))?;
    // Diagnostics read as `sim` prints them (ScenarioError's one line each).
    let joined = |d: Vec<scenarios::Diagnostic>| {
        TargetError::Scenario(scenarios::ScenarioError::Invalid(d).to_string())
    };
    let variants = scenarios::sweep::variants(&scenario).map_err(joined)?;
    let chosen = variants
        .select(&args.variant)
        .map_err(|e| TargetError::Scenario(e.to_string()))?;
    // Check every variant and make its command line before building or booting anything.
    let mut plans = Vec::new();
    for v in chosen.iter().map(|&i| variants.get(i)) {
        let checked = scenarios::check::check(&v.scenario).map_err(joined)?;
        let seed = args.seed.or(checked.seed).unwrap_or(0);
        let wired = scenarios::wire::wire(&checked, seed).map_err(joined)?;
        // The kernel runs one machine: a `cpu` block's, with no other service beside it.
        let one_machine =
            wired.world.cpus.len() == 1 && wired.world.raft.is_none() && wired.world.qnet.is_none();
        let Some((_, cfg)) = wired.world.cpus.into_iter().next().filter(|_| one_machine) else {
            return Err(TargetError::Scenario(format!(
                "{}: --target kernel runs CPU scheduling scenarios (a `cpu` block); this one has none",
                path.display()
            )));
        };
        let boot = schedule::boot_config(&cfg, sched::boot::BootConfig::DEFAULT_TICK, args.fault)
            .map_err(|e| TargetError::Scenario(format!("{}: {e}", path.display())))?;
        plans.push((v.number, v.label.clone(), cfg, boot.to_cmdline()));
    }
    if let Some(p) = &args.save_trace {
        let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
        if dir.is_some_and(|d| !d.is_dir()) {
            return Err(TargetError::Setup(format!(
                "--save-trace {}: no such directory to write into",
                p.display()
            )));
        }
    }
    let image = match &args.image {
        Some(p) if p.is_file() => {
            kernel::check_image(p).map_err(TargetError::Setup)?;
            p.clone()
        }
        Some(p) => {
            return Err(TargetError::Setup(format!(
                "no kernel image at {}",
                p.display()
            )));
        }
        // A Ctrl-C at the terminal reaches cargo too: its failure is then the interruption.
        None => match kernel::build(&kernel::kernel_dir()) {
            Err(_) if stop.load(Ordering::Relaxed) => return Err(TargetError::Interrupted),
            built => built.map_err(TargetError::Setup)?,
        },
    };
    // Files are numbered by variant (FILE-N for variant N) whenever the scenario has several,
    // as `sim run` numbers its files and `sim report --kernel-traces` reads them.
    let many = variants.len() > 1;
    let mut runs = Vec::new();
    for (number, label, cfg, cmdline) in plans {
        // A signal during the build (which takes its time) stops the run before any boot.
        if stop.load(Ordering::Relaxed) {
            return Err(TargetError::Interrupted);
        }
        let boot = kernel::boot(&image, &cmdline, args.clock, args.timeout, stop)?;
        if let Some(p) = &args.save_trace {
            let p = if many {
                scenarios::runner::numbered(p, number)
            } else {
                p.clone()
            };
            write_atomically(&p, &boot.serial).map_err(TargetError::Setup)?;
        }
        let lines = match &boot.outcome {
            Outcome::Pass(trace) => {
                let sim = schedule::simulate(&cfg).map_err(TargetError::Scenario)?;
                schedule::report(&cfg, trace, &sim)
            }
            _ => Vec::new(),
        };
        let run = VariantRun {
            label,
            qemu: kernel::command_line(&image, &cmdline, args.clock),
            boot,
            lines,
        };
        each(&run);
        runs.push(run);
    }
    Ok(runs)
}
