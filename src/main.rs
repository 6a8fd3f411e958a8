//! The `syncsim` command line. Thin: parses arguments, calls the library,
//! prints. Wall-clock time is measured here only, and only goes to stderr.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use syncsim::output::{table, write_atomic};
use syncsim::sweep::{exec, tables, tables::Meta};

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
        /// Override a key, e.g. `--set consumer.poll_interval=1m` (repeatable;
        /// this is how one point of a sweep is reproduced).
        #[arg(long = "set", value_parser = parse_set)]
        sets: Vec<(String, String)>,
    },
    /// Run a scenario's [sweep] (grid × variants × seeds) in parallel and
    /// write results.csv, summary.csv and report.md.
    Sweep {
        /// Scenario file with a [sweep] table.
        file: PathBuf,
        /// Output folder (default: sweeps/<scenario name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Parallel runs (default: all cores). Results do not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only slice K of N (e.g. 2/8), for a batch cluster's array
        /// job; join the slices with `syncsim merge`.
        #[arg(long, value_parser = parse_shard)]
        shard: Option<(usize, usize)>,
        /// No progress bar.
        #[arg(long)]
        no_progress: bool,
    },
    /// CI mode: run scenarios and sweeps (files or folders) against their
    /// [thresholds]. Exit 0 when all hold, 1 when one breaks, 2 on bad input.
    Check {
        /// Scenario files or folders of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Also write JUnit XML here.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Parallel runs (default: all cores).
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Join sweep folders (e.g. shards) into one and write its outputs.
    Merge {
        /// Sweep folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where the joined sweep goes.
        #[arg(long)]
        out: PathBuf,
    },
    /// Rebuild a sweep folder's outputs from its stored results.
    Report {
        /// Sweep folder.
        dir: PathBuf,
    },
    /// Trace one mailbox or one message through a run: every commit,
    /// request, page, delivery attempt and its fate, retry, and apply.
    Trace {
        /// Scenario file.
        file: PathBuf,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Trace this mailbox.
        #[arg(long, conflicts_with = "message", required_unless_present = "message")]
        mailbox: Option<u32>,
        /// Trace this message, as MAILBOX:MESSAGE (e.g. 17:3).
        #[arg(long, value_parser = syncsim::engine::trace::Filter::parse_message)]
        message: Option<syncsim::engine::trace::Filter>,
        /// Override a key (repeatable), as for `run`.
        #[arg(long = "set", value_parser = parse_set)]
        sets: Vec<(String, String)>,
        /// `text` (one line per event) or `jsonl`.
        #[arg(long, value_enum, default_value_t = TraceFormat::Text)]
        format: TraceFormat,
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
enum TraceFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per line.
    Jsonl,
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
            sets,
        } => {
            let scenario = match load(&file, &sets, seed) {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            let started = Instant::now(); // wall clock: stderr only
            let mut report = syncsim::run(&scenario);
            if !sets.is_empty() {
                // The same point identity a sweep gives this run.
                report.point = sets.iter().cloned().collect();
                report.seal();
            }
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
                    "{failed} of {} thresholds failed; reproduce with: {}",
                    checks.len(),
                    repro(&file, scenario.seed, &sets)
                );
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
        Command::Sweep {
            file,
            out,
            jobs,
            shard,
            no_progress,
        } => {
            let sweep = match syncsim::sweep::expand(&file) {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            let base = match syncsim::load(&file) {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            let out = out.unwrap_or_else(|| PathBuf::from("sweeps").join(&sweep.name));
            let jobs =
                jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let meta = Meta {
                name: sweep.name.clone(),
                keys: sweep.keys.clone(),
                thresholds: base
                    .thresholds
                    .iter()
                    .map(|(k, v)| (k.clone(), v.0.iter().map(|c| c.to_string()).collect()))
                    .collect(),
                runs: sweep.runs.len(),
            };
            let started = Instant::now(); // wall clock: stderr only
            let opts = exec::Options {
                jobs,
                shard,
                out: out.clone(),
                progress: !no_progress,
            };
            let write_meta = serde_json::to_string_pretty(&meta)
                .map_err(std::io::Error::other)
                .and_then(|t| {
                    std::fs::create_dir_all(&out)?;
                    write_atomic(&out.join("sweep.json"), t.as_bytes())
                });
            let outcome = match write_meta.and_then(|_| exec::execute(&sweep, &opts)) {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("syncsim: sweep into {}: {e}", out.display());
                    return ExitCode::from(1);
                }
            };
            eprintln!(
                "{} runs computed, {} reused from {}, in {:.1}s on {jobs} threads",
                outcome.computed,
                outcome.reused,
                out.display(),
                started.elapsed().as_secs_f64()
            );
            if let Some((k, n)) = shard {
                eprintln!(
                    "shard {k}/{n} done; join the shards with: syncsim merge DIR... --out DIR"
                );
                return ExitCode::SUCCESS;
            }
            finish(&out, &meta)
        }
        Command::Merge { dirs, out } => {
            let meta = match read_meta(&dirs[0]) {
                Ok(m) => m,
                Err(code) => return code,
            };
            let results = match exec::gather(&dirs) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("syncsim: merge: {e}");
                    return ExitCode::from(1);
                }
            };
            let copy = (|| -> std::io::Result<()> {
                std::fs::create_dir_all(out.join("points"))?;
                write_atomic(
                    &out.join("sweep.json"),
                    serde_json::to_string_pretty(&meta)
                        .map_err(std::io::Error::other)?
                        .as_bytes(),
                )?;
                for r in &results {
                    let text = serde_json::to_string_pretty(r).map_err(std::io::Error::other)?;
                    write_atomic(&exec::point_file(&out, &r.hash), text.as_bytes())?;
                }
                Ok(())
            })();
            if let Err(e) = copy {
                eprintln!("syncsim: merge into {}: {e}", out.display());
                return ExitCode::from(1);
            }
            if results.len() < meta.runs {
                eprintln!(
                    "warning: {} of {} runs present; missing shards?",
                    results.len(),
                    meta.runs
                );
            }
            finish(&out, &meta)
        }
        Command::Check { paths, junit, jobs } => {
            if let Some(p) = paths.iter().find(|p| syncsim::check::missing(p)) {
                eprintln!("error: {}: no such file or folder", p.display());
                return ExitCode::from(BAD_INPUT);
            }
            let files = match syncsim::check::collect(&paths) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(BAD_INPUT);
                }
            };
            let jobs =
                jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let outcome = syncsim::check::check(&files, jobs);
            print!("{}", syncsim::check::render(&outcome));
            if let Some(path) = junit {
                if let Err(e) = write_atomic(&path, syncsim::check::junit(&outcome).as_bytes()) {
                    eprintln!("syncsim: cannot write {}: {e}", path.display());
                    return ExitCode::from(1);
                }
            }
            ExitCode::from(outcome.exit_code())
        }
        Command::Report { dir } => match read_meta(&dir) {
            Ok(meta) => finish(&dir, &meta),
            Err(code) => code,
        },
        Command::Trace {
            file,
            seed,
            mailbox,
            message,
            sets,
            format,
        } => {
            let scenario = match load(&file, &sets, seed) {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            let filter = match (mailbox, message) {
                (Some(m), _) => syncsim::engine::trace::Filter::Mailbox(m),
                (None, Some(f)) => f,
                (None, None) => unreachable!("clap requires one"),
            };
            if filter.mailbox() >= scenario.source.mailboxes.get() {
                eprintln!(
                    "error: mailbox {} does not exist; the scenario has {} (0..{})",
                    filter.mailbox(),
                    scenario.source.mailboxes,
                    scenario.source.mailboxes
                );
                return ExitCode::from(BAD_INPUT);
            }
            let (report, records) = syncsim::run_traced(&scenario, filter);
            match format {
                TraceFormat::Jsonl => print!("{}", syncsim::engine::trace::Trace::jsonl(&records)),
                TraceFormat::Text => {
                    for r in &records {
                        println!("{}", r.render());
                    }
                    println!("{} events; run digest {}", records.len(), report.digest);
                }
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

/// Loads a scenario with `--set` overrides and an optional `--seed`.
fn load(
    file: &std::path::Path,
    sets: &[(String, String)],
    seed: Option<u64>,
) -> Result<syncsim::Scenario, syncsim::ScenarioError> {
    let mut scenario = syncsim::sweep::load_with(file, sets)?;
    if let Some(seed) = seed {
        scenario.seed = seed;
    }
    Ok(scenario)
}

/// Writes a sweep folder's outputs from its stored results and prints the
/// comparison.
fn finish(dir: &std::path::Path, meta: &Meta) -> ExitCode {
    let results = match exec::gather(&[dir.to_path_buf()]) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("syncsim: {e}");
            return ExitCode::from(1);
        }
    };
    if let Err(e) = tables::write_all(dir, meta, &results) {
        eprintln!("syncsim: writing {}: {e}", dir.display());
        return ExitCode::from(1);
    }
    let points = tables::by_point(&results, &meta.thresholds());
    print!("{}", tables::comparison(&points));
    if let Some(best) = tables::recommendation(&points) {
        println!(
            "\nrecommended: {} (cheapest meeting the thresholds)",
            best.runs[0].label
        );
    }
    println!(
        "\nwrote {}/results.csv, summary.csv, report.md",
        dir.display()
    );
    ExitCode::SUCCESS
}

fn read_meta(dir: &std::path::Path) -> Result<Meta, ExitCode> {
    let path = dir.join("sweep.json");
    std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        .map_err(|e| {
            eprintln!("error: {}: not a sweep folder ({e})", path.display());
            ExitCode::from(BAD_INPUT)
        })
}

/// The one-line command that reproduces a run.
fn repro(file: &std::path::Path, seed: u64, sets: &[(String, String)]) -> String {
    let mut cmd = format!("syncsim run {} --seed {seed}", file.display());
    for (k, v) in sets {
        cmd.push_str(&format!(" --set '{k}={v}'"));
    }
    cmd
}

fn parse_set(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("`{text}`: expected KEY=VALUE, e.g. consumer.poll_interval=1m"))
}

fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let bad = || format!("`{text}`: expected K/N with 1 <= K <= N, e.g. 2/8");
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if k == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

fn fail(e: syncsim::ScenarioError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(BAD_INPUT)
}
