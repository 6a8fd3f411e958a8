//! The `syncsim` command line. Thin: parses arguments, calls the library,
//! prints. Wall-clock time is measured here only, and only goes to stderr.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use syncsim::exit;
use syncsim::output::{table, write_atomic};
use syncsim::sweep::folder::{self, FolderError, Meta};
use syncsim::sweep::{exec, tables};

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
        /// Reuse an --out folder that holds another scenario's sweep (or
        /// an unreadable one), discarding its stored runs.
        #[arg(long)]
        force: bool,
    },
    /// CI mode: run scenarios and sweeps (files or folders) against their
    /// [thresholds]. Exit 0 when all hold, 1 when one breaks, 2 on bad
    /// input, 3 when a run crashed, 4 when the JUnit file cannot be written.
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

fn main() -> ExitCode {
    let code = match Cli::parse().command {
        Command::Run {
            file,
            seed,
            out,
            format,
            sets,
        } => run(&file, seed, out.as_deref(), format, &sets),
        Command::Sweep {
            file,
            out,
            jobs,
            shard,
            no_progress,
            force,
        } => sweep(&file, out, jobs, shard, !no_progress, force),
        Command::Merge { dirs, out } => merge(&dirs, &out),
        Command::Check { paths, junit, jobs } => check(&paths, junit.as_deref(), jobs),
        Command::Report { dir } => report(&dir),
        Command::Trace {
            file,
            seed,
            mailbox,
            message,
            sets,
            format,
        } => trace(&file, seed, mailbox, message, &sets, format),
        Command::Presets => {
            print!("{}", table::presets());
            exit::OK
        }
        Command::Validate { files } => validate(&files),
    };
    ExitCode::from(code)
}

/// Threads to use: `jobs`, or every core.
fn threads(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn run(
    file: &Path,
    seed: Option<u64>,
    out: Option<&Path>,
    format: OutputFormat,
    sets: &[(String, String)],
) -> u8 {
    let scenario = match load(file, sets, seed) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let started = Instant::now(); // wall clock: stderr only
                                  // The same point identity a sweep gives this run.
    let run = syncsim::sweep::pool::isolated(scenario.seed, "run", || {
        syncsim::sweep::run_point(&scenario, sets)
    });
    let report = match run {
        Ok(r) => r,
        Err(crash) => {
            eprintln!(
                "syncsim: the run crashed (a syncsim bug; please report it with the scenario): {crash}\nreproduce with: {}",
                syncsim::sweep::repro(file, scenario.seed, sets)
            );
            return exit::CRASH;
        }
    };
    let wall = started.elapsed().as_secs_f64();
    if let Some(path) = out {
        if let Err(e) = write_atomic(path, report.to_json().as_bytes()) {
            eprintln!("syncsim: cannot write {}: {e}", path.display());
            return exit::IO;
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
            syncsim::sweep::repro(file, scenario.seed, sets)
        );
        return exit::THRESHOLD;
    }
    exit::OK
}

fn sweep(
    file: &Path,
    out: Option<PathBuf>,
    jobs: Option<usize>,
    shard: Option<(usize, usize)>,
    progress: bool,
    force: bool,
) -> u8 {
    let sweep = match syncsim::sweep::expand(file) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let out = out.unwrap_or_else(|| PathBuf::from("sweeps").join(&sweep.name));
    let jobs = threads(jobs);
    let started = Instant::now(); // wall clock: stderr only
    let opts = exec::Options {
        jobs,
        shard,
        out: out.clone(),
        progress,
        force,
    };
    let outcome = match exec::execute(&sweep, &opts) {
        Ok(o) => o,
        Err(e) => return folder_fail(&format!("sweep into {}", out.display()), e),
    };
    for r in &outcome.repaired {
        eprintln!("warning: {r}; computed again");
    }
    if outcome.pruned > 0 {
        eprintln!(
            "removed {} stored runs the sweep no longer has (renamed or dropped points or seeds)",
            outcome.pruned
        );
    }
    eprintln!(
        "{} runs computed, {} reused from {}, in {:.1}s on {jobs} threads",
        outcome.computed,
        outcome.reused,
        out.display(),
        started.elapsed().as_secs_f64()
    );
    if let Some((k, n)) = shard {
        for c in &outcome.crashes {
            eprintln!("{}", c.render());
        }
        eprintln!("shard {k}/{n} done; join the shards with: syncsim merge DIR... --out DIR");
        return if outcome.crashes.is_empty() {
            exit::OK
        } else {
            exit::CRASH
        };
    }
    finish(&out, &Meta::new(&sweep))
}

fn merge(dirs: &[PathBuf], out: &Path) -> u8 {
    let mut metas: Vec<Meta> = Vec::new();
    for d in dirs {
        match Meta::require(d) {
            Ok(m) => metas.push(m),
            Err(e) => return folder_fail("merge", e),
        }
    }
    let meta = metas[0].clone();
    if let Some((d, m)) = dirs.iter().zip(&metas).find(|(_, m)| **m != meta) {
        eprintln!(
            "error: merge: {} is not a shard of the same sweep as {} (`{}` scenario {} expansion {}, against `{}` scenario {} expansion {}); merge only the shards of one sweep of one scenario file",
            d.display(),
            dirs[0].display(),
            m.name,
            m.scenario,
            m.expanded,
            meta.name,
            meta.scenario,
            meta.expanded
        );
        return exit::BAD_INPUT;
    }
    match Meta::read(out) {
        Ok(Some(existing)) if existing != meta => {
            eprintln!(
                "error: merge: {} already holds another sweep; merge into a new folder",
                out.display()
            );
            return exit::BAD_INPUT;
        }
        Err(e) => return folder_fail("merge", e),
        _ => {}
    }
    let collected = match folder::collect(dirs, &meta) {
        Ok(c) => c,
        Err(e) => return folder_fail("merge", e),
    };
    if let Err(e) = collected.require_complete(&dirs[0], meta.run_count()) {
        return folder_fail("merge", e);
    }
    let copy = (|| -> Result<(), FolderError> {
        meta.write(out)?;
        for r in &collected.results {
            exec::write_stored(out, r)?;
        }
        for c in &collected.crashes {
            exec::store_crash(out, c)?;
        }
        Ok(())
    })();
    if let Err(e) = copy {
        return folder_fail(&format!("merge into {}", out.display()), e);
    }
    finish(out, &meta)
}

fn check(paths: &[PathBuf], junit: Option<&Path>, jobs: Option<usize>) -> u8 {
    if let Some(p) = paths.iter().find(|p| syncsim::check::missing(p)) {
        eprintln!("error: {}: no such file or folder", p.display());
        return exit::BAD_INPUT;
    }
    let files = match syncsim::check::collect(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::BAD_INPUT;
        }
    };
    // The JUnit file's folder must exist (a mistyped path is an error, not
    // a new folder), checked before anything runs.
    if let Some(dir) = junit.and_then(Path::parent) {
        if !dir.as_os_str().is_empty() && !dir.is_dir() {
            eprintln!(
                "syncsim: cannot write {}: no such folder {}",
                junit.map_or(String::new(), |j| j.display().to_string()),
                dir.display()
            );
            return exit::IO;
        }
    }
    let outcome = syncsim::check::check(&files, threads(jobs));
    print!("{}", syncsim::check::render(&outcome));
    if let Some(path) = junit {
        if let Err(e) = write_atomic(path, syncsim::check::junit(&outcome).as_bytes()) {
            eprintln!("syncsim: cannot write {}: {e}", path.display());
            return exit::IO;
        }
    }
    outcome.exit_code()
}

fn report(dir: &Path) -> u8 {
    match Meta::require(dir) {
        Ok(meta) => finish(dir, &meta),
        Err(e) => folder_fail("report", e),
    }
}

fn trace(
    file: &Path,
    seed: Option<u64>,
    mailbox: Option<u32>,
    message: Option<syncsim::engine::trace::Filter>,
    sets: &[(String, String)],
    format: TraceFormat,
) -> u8 {
    let scenario = match load(file, sets, seed) {
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
        return exit::BAD_INPUT;
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
    exit::OK
}

fn validate(files: &[PathBuf]) -> u8 {
    let mut code = exit::OK;
    for f in files {
        match syncsim::load(f).and_then(|s| syncsim::sweep::check_file(f).map(|()| s)) {
            Ok(s) => println!("{}: ok ({})", f.display(), s.name),
            Err(e) => {
                eprintln!("error: {e}");
                code = exit::BAD_INPUT;
            }
        }
    }
    code
}

/// Loads a scenario with `--set` overrides and an optional `--seed`.
fn load(
    file: &Path,
    sets: &[(String, String)],
    seed: Option<u64>,
) -> Result<syncsim::Scenario, syncsim::ScenarioError> {
    let scenario = syncsim::sweep::load_with(file, sets)?;
    match seed {
        Some(seed) => syncsim::scenario::reseed(scenario, seed, &file.display().to_string()),
        None => Ok(scenario),
    }
}

/// Writes a sweep folder's outputs from its stored results (verified
/// against `meta`; every run must be there, finished or crashed), prints
/// the comparison and any crashes.
fn finish(dir: &Path, meta: &Meta) -> u8 {
    let collected = match folder::collect(&[dir.to_path_buf()], meta)
        .and_then(|c| c.require_complete(dir, meta.run_count()).map(|()| c))
    {
        Ok(c) => c,
        Err(e) => return folder_fail("report", e),
    };
    if let Err(e) = tables::write_all(dir, meta, &collected) {
        eprintln!("syncsim: writing {}: {e}", dir.display());
        return exit::IO;
    }
    let points = tables::by_point(meta, &collected);
    print!("{}", tables::comparison(&points));
    if let Some(best) = tables::recommendation(&points) {
        println!(
            "\nrecommended: {} (cheapest meeting the thresholds)",
            best.label
        );
    }
    println!(
        "\nwrote {}/results.csv, summary.csv, report.md",
        dir.display()
    );
    if collected.crashes.is_empty() {
        return exit::OK;
    }
    for c in &collected.crashes {
        eprintln!("{}", c.render());
    }
    eprintln!(
        "{} of {} runs crashed; the others are written; a rerun of the sweep retries the crashed ones",
        collected.crashes.len(),
        meta.run_count()
    );
    exit::CRASH
}

/// Prints a sweep folder error; its exit code.
fn folder_fail(what: &str, e: FolderError) -> u8 {
    eprintln!("error: {what}: {e}");
    match e {
        FolderError::Bad(_) => exit::BAD_INPUT,
        FolderError::Io { .. } => exit::IO,
    }
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

fn fail(e: syncsim::ScenarioError) -> u8 {
    eprintln!("error: {e}");
    exit::BAD_INPUT
}
