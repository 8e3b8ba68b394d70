//! `sim trace generate`: a cache request trace from the project's workload generator
//! (models::cache::workload), in libCacheSim's CSV or oracleGeneral format or Twitter's.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use models::cache::trace::{self, Format};
use models::cache::workload::{Arrivals, Generator, Sizes, Spec, Workload};
use scenarios::runner::write_atomically;

#[derive(Args)]
pub struct GenerateArgs {
    /// The requests: zipf(OBJECTS, ALPHA), scan(OBJECTS), shifting(OBJECTS, ALPHA, EVERY) or
    /// mix(OBJECTS, ALPHA, SCAN, EVERY) (docs in models/src/cache/workload.rs).
    #[arg(long, value_parser = parse_workload)]
    workload: Workload,
    /// How many requests.
    #[arg(long)]
    requests: u64,
    /// Each object's size in bytes, from its key: fixed(BYTES), uniform(MIN, MAX) or
    /// loguniform(MIN, MAX).
    #[arg(long, default_value = "fixed(1)", value_parser = parse_sizes)]
    sizes: Sizes,
    /// Requests per second (the formats keep whole seconds).
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Poisson arrivals at the rate, instead of evenly spaced ones.
    #[arg(long)]
    poisson: bool,
    /// The seed. Same arguments and seed, same bytes.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// csv (libCacheSim's CSV with a header), oracle (libCacheSim's oracleGeneral binary) or
    /// twitter (Twitter's cache-trace CSV).
    #[arg(long, value_parser = parse_format)]
    format: Format,
    /// The file to write (through a temporary file, then a rename).
    #[arg(short, long, value_name = "FILE")]
    out: PathBuf,
}

fn parse_workload(s: &str) -> Result<Workload, String> {
    s.parse()
        .map_err(|e: models::cache::workload::SpecError| e.to_string())
}

fn parse_sizes(s: &str) -> Result<Sizes, String> {
    s.parse()
        .map_err(|e: models::cache::workload::SpecError| e.to_string())
}

fn parse_format(s: &str) -> Result<Format, String> {
    Format::from_name(s).ok_or_else(|| {
        format!(
            "unknown trace format `{s}`: expected one of {}",
            Format::NAMES.join(", ")
        )
    })
}

/// The requests held in memory: the oracleGeneral format needs each request's next access,
/// found by a pass backwards. 24 bytes a request, as the file.
const MAX_REQUESTS: u64 = 100_000_000;

pub fn generate(args: GenerateArgs) -> ExitCode {
    if args.requests > MAX_REQUESTS {
        eprintln!(
            "error: --requests {} is more than {MAX_REQUESTS}, the most this command holds in memory",
            args.requests
        );
        return ExitCode::from(2);
    }
    let spec = Spec {
        workload: args.workload,
        sizes: args.sizes,
        arrivals: Arrivals {
            rate: args.rate,
            poisson: args.poisson,
        },
    };
    let generator = match Generator::new(spec, args.seed) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let requests: Vec<_> = generator.take(args.requests as usize).collect();
    let mut bytes = Vec::new();
    if let Err(e) = trace::write(args.format, &mut bytes, &requests) {
        eprintln!("error: {}: {e}", args.out.display());
        return ExitCode::from(2);
    }
    if let Err(e) = write_atomically(&args.out, &bytes) {
        eprintln!("error: {}: {e}", args.out.display());
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}
