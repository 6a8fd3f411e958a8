//! The `syncsim` command line. Thin: parses arguments, calls the library,
//! prints. Wall-clock time is measured here only, and only goes to stderr.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use syncsim::output::{table, write_atomic};

/// Deterministic simulation of polling, webhook and hybrid sync strategies.
#[derive(Parser, Debug)]
#[command(name = "syncsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one scenario and print its report.
    Run {
        /// Scenario file (TOML, or JSON by extension).
        file: PathBuf,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Also write the JSON report here (atomically).
        #[arg(long)]
        out: Option<PathBuf>,
        /// What to print on stdout.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// List the webhook provider presets and their delivery rules.
    Presets,
    /// Check a scenario file without running it.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OutputFormat {
    /// A readable summary.
    Table,
    /// The JSON report.
    Json,
}

/// Exit code for bad input (scenario or arguments).
const BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            file,
            seed,
            out,
            format,
        } => {
            let mut scenario = match syncsim::load(&file) {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            if let Some(seed) = seed {
                scenario.seed = seed;
            }
            let started = Instant::now(); // wall clock: stderr only
            let report = syncsim::run(&scenario);
            let wall = started.elapsed().as_secs_f64();
            if let Some(path) = &out {
                if let Err(e) = write_atomic(path, report.to_json().as_bytes()) {
                    eprintln!("syncsim: cannot write {}: {e}", path.display());
                    return ExitCode::from(1);
                }
            }
            let checks = report.check(&scenario.thresholds);
            match format {
                OutputFormat::Table => {
                    print!("{}", table::render(&report));
                    print!("{}", table::checks(&checks));
                }
                OutputFormat::Json => print!("{}", report.to_json()),
            }
            eprintln!(
                "wall time {:.3}s, {:.1} M events/s",
                wall,
                report.engine.events as f64 / wall.max(1e-9) / 1e6
            );
            let failed = checks.iter().filter(|c| !c.pass).count();
            if failed > 0 {
                eprintln!(
                    "{failed} of {} thresholds failed; reproduce with: syncsim run {} --seed {}",
                    checks.len(),
                    file.display(),
                    scenario.seed
                );
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
        Command::Presets => {
            print!("{}", table::presets());
            ExitCode::SUCCESS
        }
        Command::Validate { files } => {
            let mut bad = false;
            for f in &files {
                match syncsim::load(f) {
                    Ok(s) => println!("{}: ok ({})", f.display(), s.name),
                    Err(e) => {
                        eprintln!("error: {e}");
                        bad = true;
                    }
                }
            }
            if bad {
                ExitCode::from(BAD_INPUT)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

fn fail(e: syncsim::ScenarioError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(BAD_INPUT)
}
