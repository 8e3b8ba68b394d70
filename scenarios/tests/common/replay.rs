//! Running a printed replay command as a user pasting it into a shell would, for the tests that
//! check that a replay command reproduces its run (`cli.rs`, `seeds.rs`).

use std::path::Path;
use std::process::{Command, Output};

/// Runs `cmd` (`sim run ...`, as printed) through `sh` from the repository's root, with `sim`
/// being the binary under test.
pub fn replay(cmd: &str) -> Output {
    let rest = cmd.strip_prefix("sim ").expect("a sim command");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate sits in the repository");
    Command::new("sh")
        .arg("-c")
        .arg(format!("\"$SIM\" {rest}"))
        .env("SIM", env!("CARGO_BIN_EXE_sim"))
        .current_dir(root)
        .env_remove("RUST_LOG")
        .output()
        .expect("sh runs")
}
