//! `native`: run sim's model code against the real machine and compare it with the simulator.
//!
//! The native targets (Raft over UDP, block devices, cgroups, FUSE, the QEMU kernel) arrive with
//! their issues. Today `native probe` tells, without changing anything, which of the machine
//! features they need are present here, and why not where one is missing; native tests use the
//! same checks to skip with a printed reason rather than fail or pass vacuously.

mod probe;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "native",
    version,
    about = "Run sim's models against the real machine."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Report which machine features native runs can use here (read-only).
    Probe {
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("bad arguments")
                .trim_start_matches("error: ");
            eprintln!("error: {first} (see `native --help`)");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Probe { json } => {
            let results = probe::all();
            if json {
                let map: serde_json::Map<String, serde_json::Value> = results
                    .iter()
                    .map(|f| {
                        (
                            f.name.to_string(),
                            serde_json::json!({ "available": f.available, "detail": f.detail }),
                        )
                    })
                    .collect();
                println!("{}", serde_json::Value::Object(map));
            } else {
                for f in &results {
                    let status = if f.available {
                        "available"
                    } else {
                        "missing  "
                    };
                    println!("{:<14} {status}  {}", f.name, f.detail);
                }
            }
            ExitCode::SUCCESS
        }
    }
}
