//! The `syncsim` command line. Thin: parses arguments, calls the library,
//! prints. Wall-clock time is measured here only, and only goes to stderr.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use syncsim::check::CollectError;
use syncsim::exit;
use syncsim::output::{table, write_atomic};
use syncsim::sweep::exec;
use syncsim::sweep::folder::{self, Crash, FolderError, Meta};
use syncsim::sweep::shard::{self, Engine, Shard, ShardError};
use syncsim::sweep::spec::echo;
use syncsim::sweep::tables::{self, WriteError};
use syncsim::ScenarioError;

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
        #[command(flatten)]
        driver: DriverArgs,
        #[command(flatten)]
        exports: ExportArgs,
        /// Run the seed twice and compare the reports and the trace of
        /// one mailbox (`--mailbox`, default 0); name the first divergent
        /// event. Exit 1 when they differ.
        #[arg(long)]
        check_determinism: bool,
        /// The mailbox `--check-determinism` traces.
        #[arg(long, default_value_t = 0, requires = "check_determinism")]
        mailbox: u32,
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
        /// Run only slice K of N (e.g. 2/8; a GitHub Actions matrix, a
        /// shell loop); join the slices with `syncsim merge`.
        #[arg(long, value_name = "K/N", value_parser = parse_shard, conflicts_with = "shard_from")]
        shard: Option<Shard>,
        /// Read the slice from a batch engine's array-job environment:
        /// `kubernetes` (an Indexed Job's JOB_COMPLETION_INDEX; needs
        /// --shard-count) or `slurm` (a job array's SLURM_ARRAY_TASK_ID,
        /// _MIN, _STEP and _COUNT). See docs/batch.md.
        #[arg(long, value_enum, value_name = "ENGINE")]
        shard_from: Option<ShardFrom>,
        /// The number of shards, with --shard-from: required for
        /// kubernetes (the Job's `completions`); for slurm it must equal
        /// SLURM_ARRAY_TASK_COUNT.
        #[arg(long, value_name = "N", requires = "shard_from")]
        shard_count: Option<usize>,
        /// No progress bar.
        #[arg(long)]
        no_progress: bool,
        /// Reuse an --out folder that holds another scenario's sweep (or
        /// an unreadable one), discarding its stored runs.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        driver: DriverArgs,
        /// Override a key of the base scenario before the grid is
        /// expanded (repeatable; as for `run`; a point's own override of
        /// the key wins).
        #[arg(long = "set", value_parser = parse_set)]
        sets: Vec<(String, String)>,
        #[command(flatten)]
        exports: ExportArgs,
    },
    /// Search the scenario's [advise] space for the cheapest configuration
    /// that meets its constraints (bisection per axis instead of the full
    /// grid; the winner confirmed on more seeds). Exit 1 when nothing
    /// meets them.
    Advise {
        /// Scenario file with an [advise] table.
        file: PathBuf,
        /// The first search seed (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Parallel runs (default: all cores). Results do not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// Folder for frontier.svg and recommended.toml (default:
        /// advice/<scenario name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// No progress bar.
        #[arg(long)]
        no_progress: bool,
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
        #[command(flatten)]
        driver: DriverArgs,
    },
    /// Join sweep folders (e.g. shards) into one and write its outputs.
    Merge {
        /// Sweep folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where the joined sweep goes.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        exports: ExportArgs,
    },
    /// Rebuild a sweep folder's outputs from its stored results.
    Report {
        /// Sweep folder.
        dir: PathBuf,
        #[command(flatten)]
        exports: ExportArgs,
    },
    /// Trace one mailbox or one message through a run (or the lost or
    /// slowest ones): every commit, request, page, delivery attempt and
    /// its fate, retry, and apply, then a verdict per change.
    #[command(group(clap::ArgGroup::new("what").required(true)))]
    Trace {
        /// Scenario file.
        file: PathBuf,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Trace this mailbox.
        #[arg(long, group = "what")]
        mailbox: Option<u32>,
        /// Trace this message, as MAILBOX:MESSAGE (e.g. 17:3).
        #[arg(long, group = "what", value_parser = syncsim::model::trace::Filter::parse_message)]
        message: Option<syncsim::model::trace::Filter>,
        /// Trace the messages of the run's first lost changes (the
        /// report's `changes.lost_sample`, at most 10).
        #[arg(long, group = "what")]
        lost: bool,
        /// Trace the messages of the run's N slowest changes.
        #[arg(long, group = "what", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1000))]
        worst: Option<u16>,
        /// Override a key (repeatable), as for `run`.
        #[arg(long = "set", value_parser = parse_set)]
        sets: Vec<(String, String)>,
        /// `text` (one line per event) or `jsonl`.
        #[arg(long, value_enum, default_value_t = TraceFormat::Text)]
        format: TraceFormat,
        #[command(flatten)]
        driver: DriverArgs,
    },
    /// Live mode: serve the scenario's mail API over HTTP and POST its
    /// signed webhooks to your consumer, in scaled real time; at the end,
    /// read the consumer's replica (GET /syncsim/replica) and print the
    /// same report as `run`. See docs/live.md.
    Serve {
        /// Scenario file.
        file: PathBuf,
        /// Where webhook deliveries are POSTed (required when the
        /// scenario's strategy receives webhooks).
        #[arg(long)]
        webhook_url: Option<String>,
        /// Where the mail API listens.
        #[arg(long, default_value = syncsim::live::DEFAULT_LISTEN)]
        listen: std::net::SocketAddr,
        /// Allow a --listen address beyond loopback (prints a warning).
        #[arg(long)]
        allow_remote: bool,
        /// Where the consumer serves its replica (default: the webhook
        /// URL's origin + /syncsim/replica).
        #[arg(long)]
        replica_url: Option<String>,
        /// Virtual seconds per wall second (1: real time).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Signing secret (`whsec_…`, or `whsk_…` for ed25519); default:
        /// $SYNCSIM_WEBHOOK_SECRET, else a new one printed once on stderr.
        #[arg(long)]
        secret: Option<String>,
        /// Keep serving after the scenario's end, until Ctrl-C.
        #[arg(long)]
        hold: bool,
        /// Run the consumer yourself as this shell command: syncsim starts
        /// it, waits until it answers at its replica URL, and applies the
        /// scenario's `consumer_crash` windows to it (SIGKILL, then a
        /// restart). It gets SYNCSIM_API_URL, SYNCSIM_LISTEN,
        /// SYNCSIM_WEBHOOK_SECRET and SYNCSIM_SPEED in its environment.
        #[arg(long, value_name = "CMD")]
        consumer_cmd: Option<String>,
        #[command(flatten)]
        report: ReportFlags,
    },
    /// Live mode in one process: the scenario's mail API and syncsim's own
    /// consumer (its strategy) on loopback ports, signed webhooks between
    /// them, in scaled real time; prints the same report as `run`.
    Live {
        /// Scenario file.
        file: PathBuf,
        /// Virtual seconds per wall second.
        #[arg(long, default_value_t = 60.0)]
        speed: f64,
        #[command(flatten)]
        report: ReportFlags,
    },
    /// Live mode's reference consumer on its own: the scenario's strategy
    /// (the simulator's Consumer half) against a `serve` over HTTP, with
    /// its webhook endpoint and GET /syncsim/replica, until Ctrl-C or
    /// SIGTERM. Made to run under `serve --consumer-cmd`, whose
    /// environment it reads.
    Consume {
        /// Scenario file (the same as the server's).
        file: PathBuf,
        /// The mail API (default: $SYNCSIM_API_URL, else
        /// http://127.0.0.1:7780).
        #[arg(long)]
        api_url: Option<String>,
        /// Where the endpoint listens (default: $SYNCSIM_LISTEN, else
        /// 127.0.0.1:7781).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Virtual seconds per wall second, as the server's (default:
        /// $SYNCSIM_SPEED, else 1).
        #[arg(long)]
        speed: Option<f64>,
        /// Secret(s) to trust, space-separated (default:
        /// $SYNCSIM_WEBHOOK_SECRETS, else $SYNCSIM_WEBHOOK_SECRET).
        #[arg(long)]
        secret: Option<String>,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Override a key (repeatable), as for `run`.
        #[arg(long = "set", value_parser = parse_set)]
        sets: Vec<(String, String)>,
        /// No progress lines on stderr.
        #[arg(long)]
        quiet: bool,
    },
    /// List the webhook provider presets and their delivery rules, and
    /// where each figure comes from (published, fitted or assumed).
    Presets,
    /// Print the JSON Schema of scenario files (for editors: taplo / Even
    /// Better TOML `#:schema`, or JSON's `$schema`).
    Schema,
    /// Print a shell completion script, e.g. `syncsim completions bash >
    /// ~/.local/share/bash-completion/completions/syncsim`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Check a scenario file without running it.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// `--export-json/--export-csv/--export-markdown PATH` (hyperfine's
/// flags), for `run`, `sweep`, `merge` and `report`; any of them at once,
/// each written atomically; stdout is unchanged.
#[derive(clap::Args, Debug, Default)]
struct ExportArgs {
    /// Also write the results as JSON here (a run: its report; a sweep:
    /// each point's settings and mean, sd and 95% CI per metric).
    #[arg(long, value_name = "PATH")]
    export_json: Option<PathBuf>,
    /// Also write the results as CSV here (a run: one row; a sweep: a row
    /// per point, as summary.csv).
    #[arg(long, value_name = "PATH")]
    export_csv: Option<PathBuf>,
    /// Also write the comparison table as Markdown here.
    #[arg(long, value_name = "PATH")]
    export_markdown: Option<PathBuf>,
}

impl ExportArgs {
    /// The exports asked for, with their files.
    fn wanted(&self) -> Vec<(tables::Export, &Path)> {
        [
            (tables::Export::Json, &self.export_json),
            (tables::Export::Csv, &self.export_csv),
            (tables::Export::Markdown, &self.export_markdown),
        ]
        .into_iter()
        .filter_map(|(kind, path)| path.as_deref().map(|p| (kind, p)))
        .collect()
    }

    /// Refuses, before anything runs, an export whose folder does not
    /// exist (a mistyped path is an error, not a new folder).
    fn check(&self) -> Result<(), Failure> {
        for (_, path) in self.wanted() {
            let dir = path.parent().unwrap_or(Path::new(""));
            if !dir.as_os_str().is_empty() && !dir.is_dir() {
                return Err(Failure::NoFolder {
                    path: path.to_path_buf(),
                    dir: dir.to_path_buf(),
                });
            }
        }
        Ok(())
    }

    /// Writes every export asked for, as `render` makes it, atomically.
    fn write(
        &self,
        render: impl Fn(tables::Export) -> Result<Vec<u8>, csv::Error>,
    ) -> Result<(), Failure> {
        for (kind, path) in self.wanted() {
            let bytes = render(kind).map_err(|source| {
                Failure::Outputs(WriteError::Csv {
                    path: path.to_path_buf(),
                    source,
                })
            })?;
            write(path, &bytes)?;
        }
        Ok(())
    }
}

/// The report flags `serve` and `live` share (as `run`'s, plus `--quiet`).
#[derive(clap::Args, Debug)]
struct ReportFlags {
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Also write the JSON report here (atomically).
    #[arg(long)]
    out: Option<PathBuf>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    /// Override a key (repeatable), as for `run`.
    #[arg(long = "set", value_parser = parse_set)]
    sets: Vec<(String, String)>,
    /// No progress lines on stderr.
    #[arg(long)]
    quiet: bool,
}

/// Which driver runs a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Driver {
    /// The discrete-event engine (the simulator).
    Des,
    /// turmoil: the provider and the reference consumer as hosts over
    /// simulated TCP, in virtual time (docs/net.md).
    Net,
}

/// `--driver` and its network-mode knobs.
#[derive(clap::Args, Clone, Debug)]
struct DriverArgs {
    /// `des` (the event engine) or `net` (turmoil, docs/net.md).
    #[arg(long, value_enum, default_value_t = Driver::Des)]
    driver: Driver,
    /// With `--driver net`: virtual time per turmoil step (e.g. 10ms).
    #[arg(long, value_parser = syncsim::engine::time::parse_duration)]
    tick: Option<syncsim::engine::time::SimDuration>,
}

impl DriverArgs {
    /// The driver these flags ask for, checked before anything runs: a
    /// tick out of range, or a `--tick` without `--driver net`, is bad
    /// input.
    fn resolve(&self) -> Result<syncsim::sweep::Driver, Failure> {
        let tick = self.tick.map(|t| std::time::Duration::from_micros(t.0));
        match self.driver {
            Driver::Des if tick.is_some() => Err(Failure::TickWithoutNet),
            Driver::Des => Ok(syncsim::sweep::Driver::Des),
            Driver::Net => Ok(syncsim::sweep::Driver::net(tick)?),
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum TraceFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per line.
    Jsonl,
}

/// `--shard-from`: the batch engines whose environment names the shard.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum ShardFrom {
    /// A Kubernetes Indexed Job (JOB_COMPLETION_INDEX, 0-based).
    #[value(alias = "k8s")]
    Kubernetes,
    /// A Slurm job array (SLURM_ARRAY_TASK_ID and friends).
    Slurm,
}

impl From<ShardFrom> for Engine {
    fn from(e: ShardFrom) -> Engine {
        match e {
            ShardFrom::Kubernetes => Engine::Kubernetes,
            ShardFrom::Slurm => Engine::Slurm,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OutputFormat {
    /// A readable summary.
    Table,
    /// The JSON report.
    Json,
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Run {
            file,
            seed,
            out,
            format,
            sets,
            driver,
            exports,
            check_determinism,
            mailbox,
        } => driver.resolve().and_then(|driver| {
            if check_determinism {
                determinism(&file, seed, &sets, driver, mailbox)
            } else {
                exports.check().and_then(|()| {
                    run(&file, seed, out.as_deref(), format, &sets, driver, &exports)
                })
            }
        }),
        Command::Sweep {
            file,
            out,
            jobs,
            shard,
            shard_from,
            shard_count,
            no_progress,
            force,
            driver,
            sets,
            exports,
        } => pick_shard(shard, shard_from, shard_count)
            .and_then(|shard| exports_whole(shard, &exports).map(|()| shard))
            .and_then(|shard| {
                let expanded = syncsim::sweep::expand_with(&file, &sets)?.on(driver.resolve()?);
                sweep(&expanded, out, jobs, shard, !no_progress, force, &exports)
            }),
        Command::Advise {
            file,
            seed,
            jobs,
            out,
            no_progress,
        } => advise(&file, seed, jobs, out, !no_progress),
        Command::Merge { dirs, out, exports } => {
            exports.check().and_then(|()| merge(&dirs, &out, &exports))
        }
        Command::Check {
            paths,
            junit,
            jobs,
            driver,
        } => driver
            .resolve()
            .and_then(|d| check(&paths, junit.as_deref(), jobs, d)),
        Command::Report { dir, exports } => exports.check().and_then(|()| report(&dir, &exports)),
        Command::Trace {
            file,
            seed,
            mailbox,
            message,
            lost,
            worst,
            sets,
            format,
            driver,
        } => {
            let what = match (mailbox, message, lost, worst) {
                (Some(m), ..) => Traced::Mailbox(m),
                (_, Some(f), ..) => Traced::Filter(f),
                (_, _, true, _) => Traced::Lost,
                (.., Some(n)) => Traced::Worst(n.into()),
                _ => unreachable!("clap requires one of the group"),
            };
            driver
                .resolve()
                .and_then(|driver| trace(&file, seed, what, &sets, format, driver))
        }
        Command::Serve {
            file,
            webhook_url,
            listen,
            allow_remote,
            replica_url,
            speed,
            secret,
            hold,
            consumer_cmd,
            report,
        } => serve(
            &file,
            Served {
                webhook_url,
                listen,
                allow_remote,
                replica_url,
                speed,
                secret,
                hold,
                progress: !report.quiet,
                consumer_cmd,
            },
            &report,
        ),
        Command::Live {
            file,
            speed,
            report,
        } => live(&file, speed, &report),
        Command::Consume {
            file,
            api_url,
            listen,
            speed,
            secret,
            seed,
            sets,
            quiet,
        } => consume(&file, api_url, listen, speed, secret, seed, &sets, !quiet),
        Command::Presets => {
            print!("{}", table::presets());
            Ok(exit::OK)
        }
        Command::Schema => {
            print!("{}", syncsim::scenario::schema::scenario_schema());
            Ok(exit::OK)
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "syncsim",
                &mut std::io::stdout(),
            );
            Ok(exit::OK)
        }
        Command::Validate { files } => Ok(validate(&files)),
    };
    ExitCode::from(result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        e.exit_code()
    }))
}

/// Why a command stopped: printed as `error: …`, exits with
/// [`Failure::exit_code`]. A command that ran to its end returns its exit
/// code instead (thresholds, crashes).
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// A scenario file is not valid (exit 2).
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The scenario files to check cannot be listed (exit 2).
    #[error(transparent)]
    Collect(#[from] CollectError),
    /// A sweep folder cannot be used, while doing `what` (exit 2 or 4).
    #[error("{what}: {source}")]
    Folder {
        /// The command and target, e.g. `merge into out/`.
        what: String,
        /// What is wrong with the folder.
        source: FolderError,
    },
    /// A sweep's outputs cannot be written (exit 4).
    #[error(transparent)]
    Outputs(#[from] WriteError),
    /// A file cannot be written (exit 4).
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file's folder does not exist (exit 4; it is not created).
    #[error("cannot write {}: no such folder {}", path.display(), dir.display())]
    NoFolder {
        /// The file.
        path: PathBuf,
        /// Its folder.
        dir: PathBuf,
    },
    /// `merge` was given folders of different sweeps (exit 2).
    #[error(
        "merge: {} is not a shard of the same sweep as {} (`{}` scenario {} expansion {}, against `{}` scenario {} expansion {}); merge only the shards of one sweep of one scenario file",
        dir.display(), first.display(), meta.name, meta.scenario, meta.expanded,
        first_meta.name, first_meta.scenario, first_meta.expanded
    )]
    NotAShard {
        /// The odd folder.
        dir: PathBuf,
        /// Its sweep.
        meta: Box<Meta>,
        /// The first folder.
        first: PathBuf,
        /// Its sweep.
        first_meta: Box<Meta>,
    },
    /// `merge` was given shards of one sweep run from differently spelled
    /// paths of its file (exit 2): the path is part of a sweep's record
    /// (its repro lines).
    #[error(
        "merge: {} was swept from `{}` but {} from `{}` (the same scenario, scenario {} expansion {}); a sweep records its file's path for its repro lines, so run every shard with the same path",
        dir.display(), echo(path), first.display(), echo(first_path), meta.scenario, meta.expanded
    )]
    OtherPath {
        /// The odd folder.
        dir: PathBuf,
        /// Its scenario path.
        path: String,
        /// The first folder.
        first: PathBuf,
        /// The first folder's scenario path.
        first_path: String,
        /// The first folder's sweep.
        meta: Box<Meta>,
    },
    /// `merge --out` holds another sweep (exit 2).
    #[error("merge: {} already holds another sweep; merge into a new folder", out.display())]
    Occupied {
        /// The folder.
        out: PathBuf,
    },
    /// `--shard-from`'s variables are missing, malformed or out of range
    /// (exit 2).
    #[error(transparent)]
    Shard(#[from] ShardError),
    /// A live run cannot start or be scored (exit 2).
    #[error(transparent)]
    Live(#[from] syncsim::live::LiveError),
    /// The signing secret is not valid (exit 2; the value is never echoed).
    #[error("--secret / SYNCSIM_WEBHOOK_SECRET: {0}")]
    Secret(syncsim::signing::KeyError),
    /// `consume` has no secret to verify deliveries with (exit 2).
    #[error("no signing secret: give --secret, or set SYNCSIM_WEBHOOK_SECRET (serve --consumer-cmd sets it)")]
    NoSecret,
    /// An environment variable is malformed (exit 2; its value is shown,
    /// and none of these is a secret).
    #[error("${0} = {1:?} cannot be read")]
    BadEnv(&'static str, String),
    /// The async runtime cannot start (exit 4).
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    /// `trace --message` names a message its mailbox never has (exit 2).
    #[error("message {message} of mailbox {mailbox} does not exist: the source never commits it in this run (messages are numbered from 0 in each mailbox; `syncsim trace FILE --mailbox {mailbox}` lists the mailbox's)")]
    NoMessage {
        /// The mailbox.
        mailbox: u32,
        /// The message asked for.
        message: u32,
    },
    /// `trace --mailbox` names a mailbox the scenario does not have (exit 2).
    #[error("mailbox {mailbox} does not exist; the scenario has {mailboxes} (0..{mailboxes})")]
    NoMailbox {
        /// The mailbox asked for.
        mailbox: u32,
        /// Mailboxes in the scenario.
        mailboxes: u32,
    },
    /// `--tick` without `--driver net` (exit 2).
    #[error("--tick sets network mode's tick: it needs --driver net")]
    TickWithoutNet,
    /// `--export-*` on one shard of a sweep (exit 2).
    #[error("--export-json/--export-csv/--export-markdown need the whole sweep, not one shard: join the shards with `syncsim merge DIR... --out DIR --export-json PATH` (or `syncsim report DIR --export-json PATH`)")]
    ExportShard,
    /// A network-mode run failed (exit 2: its options or its consumer).
    #[error("--driver net: {0}")]
    Net(#[from] syncsim::net::NetError),
}

impl Failure {
    /// The process exit code (see `syncsim::exit`).
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Scenario(_)
            | Failure::Collect(_)
            | Failure::NotAShard { .. }
            | Failure::OtherPath { .. }
            | Failure::Occupied { .. }
            | Failure::NoMailbox { .. }
            | Failure::NoMessage { .. }
            | Failure::TickWithoutNet
            | Failure::ExportShard
            | Failure::Live(_)
            | Failure::Net(_)
            | Failure::Secret(_)
            | Failure::NoSecret
            | Failure::BadEnv(..) => exit::BAD_INPUT,
            Failure::Runtime(_) => exit::IO,
            Failure::Folder { source, .. } => source.exit_code(),
            Failure::Shard(e) => e.exit_code(),
            Failure::Outputs(_) | Failure::Write { .. } | Failure::NoFolder { .. } => exit::IO,
        }
    }

    /// Wraps a sweep folder error met while doing `what`.
    fn folder(what: impl Into<String>) -> impl FnOnce(FolderError) -> Failure {
        let what = what.into();
        move |source| Failure::Folder { what, source }
    }
}

/// `syncsim advise`: the search, its report on stdout, `frontier.svg`
/// and `recommended.toml` in the output folder.
fn advise(
    file: &Path,
    seed: Option<u64>,
    jobs: Option<usize>,
    out: Option<PathBuf>,
    progress: bool,
) -> Result<u8, Failure> {
    use syncsim::advise::{self as adv, AdviseError};
    let failed = |e: AdviseError| match e {
        AdviseError::Scenario(e) => Err(Failure::Scenario(e)),
        AdviseError::NoAdvise { .. } => {
            eprintln!("error: {e}");
            Ok(exit::BAD_INPUT)
        }
        AdviseError::Crashed { .. } => {
            eprintln!("error: {e}");
            Ok(exit::CRASH)
        }
        AdviseError::Plot(_) => {
            eprintln!("error: {e}");
            Ok(exit::IO)
        }
    };
    let plan = match adv::Plan::new(file, seed) {
        Ok(p) => p,
        Err(e) => return failed(e),
    };
    let started = Instant::now(); // wall clock: stderr only
    let opts = adv::Options {
        jobs: threads(jobs),
        progress,
    };
    let advice = match adv::advise(&plan, opts) {
        Ok(a) => a,
        Err(e) => return failed(e),
    };
    print!("{}", adv::render(&plan, &advice));
    let dir = out.unwrap_or_else(|| Path::new("advice").join(&plan.base.name));
    std::fs::create_dir_all(&dir).map_err(|source| Failure::Write {
        path: dir.clone(),
        source,
    })?;
    let svg = match adv::frontier(&advice) {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    write(&dir.join("frontier.svg"), svg.as_bytes())?;
    let mut wrote = vec!["frontier.svg"];
    if let Some(w) = &advice.winner {
        write(
            &dir.join("recommended.toml"),
            adv::snippet(&plan, w).as_bytes(),
        )?;
        wrote.push("recommended.toml");
    }
    println!(
        "\nwrote {}",
        wrote
            .iter()
            .map(|f| dir.join(f).display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    eprintln!("wall time {:.3}s", started.elapsed().as_secs_f64());
    match (&advice.winner, &advice.closest) {
        (Some(_), _) => Ok(exit::OK),
        (None, closest) => {
            eprintln!(
                "no configuration meets the constraints; closest: {}",
                closest.as_ref().map_or("none was run".into(), |c| format!(
                    "{} ({})",
                    c.label,
                    c.breaks()
                ))
            );
            Ok(exit::THRESHOLD)
        }
    }
}

/// Threads to use: `jobs`, or every core.
fn threads(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Writes `contents` to `path` atomically.
fn write(path: &Path, contents: &[u8]) -> Result<(), Failure> {
    write_atomic(path, contents).map_err(|source| Failure::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn run(
    file: &Path,
    seed: Option<u64>,
    out: Option<&Path>,
    format: OutputFormat,
    sets: &[(String, String)],
    driver: syncsim::sweep::Driver,
    exports: &ExportArgs,
) -> Result<u8, Failure> {
    let scenario = load(file, sets, seed)?;
    let started = Instant::now(); // wall clock: stderr only
                                  // The same point identity a sweep gives this run.
    let run = syncsim::sweep::pool::isolated(scenario.seed, "run", || driver.run(&scenario, sets));
    let report = match run {
        Ok(r) => r?,
        Err(crash) => {
            eprintln!(
                "error: the run crashed (a syncsim bug; please report it with the scenario): {}\nreproduce with: {}",
                crash.message,
                syncsim::sweep::repro_on(file, scenario.seed, sets, driver)
            );
            return Ok(exit::CRASH);
        }
    };
    let wall = started.elapsed().as_secs_f64();
    let code = emit(&report, file, &scenario, out, format, sets, driver)?;
    let (meta, collected) = tables::single_run(file, &scenario, sets, &report);
    exports.write(|kind| tables::export_run(kind, &meta, &collected))?;
    eprintln!(
        "wall time {:.3}s, {:.1} M events/s",
        wall,
        report.engine.events as f64 / wall.max(1e-9) / 1e6
    );
    Ok(code)
}

/// Writes `--out`, prints the report in `format` and its threshold
/// checks; returns the exit code (thresholds broken: with the repro line).
fn emit(
    report: &syncsim::Report,
    file: &Path,
    scenario: &syncsim::Scenario,
    out: Option<&Path>,
    format: OutputFormat,
    sets: &[(String, String)],
    driver: syncsim::sweep::Driver,
) -> Result<u8, Failure> {
    if let Some(path) = out {
        write(path, report.to_json().as_bytes())?;
    }
    let checks = syncsim::check::run_checks(scenario, report);
    for c in syncsim::check::fault_checks(scenario, report) {
        if !c.pass {
            eprintln!(
                "warning: {} = 0: the scenario's {} fault never fired, so this run did not exercise it",
                c.path,
                c.path.trim_start_matches("faults.fired.")
            );
        }
    }
    match format {
        OutputFormat::Table => {
            print!("{}", table::render(report));
            print!("{}", table::checks(&checks));
        }
        OutputFormat::Json => print!("{}", report.to_json()),
    }
    let failed = checks.iter().filter(|c| !c.pass).count();
    if failed > 0 {
        eprintln!(
            "{failed} of {} thresholds failed; reproduce with: {}\nsee what happened with: {}",
            checks.len(),
            syncsim::sweep::repro_on(file, scenario.seed, sets, driver),
            syncsim::sweep::trace_command(
                file,
                scenario.seed,
                sets,
                driver,
                report.changes.lost > 0
            )
        );
        return Ok(exit::THRESHOLD);
    }
    Ok(exit::OK)
}

/// `serve`'s own flags.
struct Served {
    webhook_url: Option<String>,
    listen: std::net::SocketAddr,
    allow_remote: bool,
    replica_url: Option<String>,
    speed: f64,
    secret: Option<String>,
    hold: bool,
    progress: bool,
    consumer_cmd: Option<String>,
}

/// The signing key: `--secret`, else `$SYNCSIM_WEBHOOK_SECRET`, else a new
/// secret from the OS's generator, printed once on stderr (never again).
fn signing_key(secret: Option<String>) -> Result<syncsim::signing::SigningKey, Failure> {
    use syncsim::signing::{Secret, SigningKey};
    let given = secret.or_else(|| std::env::var("SYNCSIM_WEBHOOK_SECRET").ok());
    match given {
        Some(text) => SigningKey::parse(&text).map_err(Failure::Secret),
        None => {
            let mut rng = syncsim::live::os_rng().map_err(Failure::Runtime)?;
            let secret = Secret::generate(&mut rng);
            eprintln!(
                "webhook signing secret (shown once; pass it to your consumer): {}",
                secret.expose()
            );
            Ok(SigningKey::V1(secret))
        }
    }
}

fn serve(file: &Path, s: Served, e: &ReportFlags) -> Result<u8, Failure> {
    let scenario = load(file, &e.sets, e.seed)?;
    let key = signing_key(s.secret)?;
    let opts = syncsim::live::ServeOptions {
        listen: s.listen,
        allow_remote: s.allow_remote,
        webhook_url: s.webhook_url,
        replica_url: s.replica_url,
        speed: s.speed,
        keys: vec![key],
        hold: s.hold,
        progress: s.progress,
        consumer_cmd: s.consumer_cmd,
    };
    let rt = syncsim::live::runtime().map_err(Failure::Runtime)?;
    let report = rt.block_on(async {
        let server = syncsim::live::Server::bind(scenario.config(), opts).await?;
        eprintln!(
            "serving the mail API on http://{} at {}x ({} of virtual time)",
            server.addr(),
            s.speed,
            scenario.config().end()
        );
        server.run().await
    })?;
    emit(
        &report,
        file,
        &scenario,
        e.out.as_deref(),
        e.format,
        &e.sets,
        syncsim::sweep::Driver::Des,
    )
}

/// `consume`: flags, else the environment `serve --consumer-cmd` sets.
#[allow(clippy::too_many_arguments)]
fn consume(
    file: &Path,
    api_url: Option<String>,
    listen: Option<std::net::SocketAddr>,
    speed: Option<f64>,
    secret: Option<String>,
    seed: Option<u64>,
    sets: &[(String, String)],
    progress: bool,
) -> Result<u8, Failure> {
    let scenario = load(file, sets, seed)?;
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let secrets = secret
        .or_else(|| env("SYNCSIM_WEBHOOK_SECRETS"))
        .or_else(|| env("SYNCSIM_WEBHOOK_SECRET"))
        .ok_or(Failure::NoSecret)?;
    let keys = secrets
        .split_whitespace()
        .map(syncsim::signing::SigningKey::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::Secret)?;
    let listen = match (listen, env("SYNCSIM_LISTEN")) {
        (Some(l), _) => l,
        (None, Some(text)) => text
            .parse()
            .map_err(|_| Failure::BadEnv("SYNCSIM_LISTEN", text))?,
        (None, None) => std::net::SocketAddr::from(([127, 0, 0, 1], 7781)),
    };
    let speed = match (speed, env("SYNCSIM_SPEED")) {
        (Some(s), _) => s,
        (None, Some(text)) => text
            .parse()
            .map_err(|_| Failure::BadEnv("SYNCSIM_SPEED", text))?,
        (None, None) => 1.0,
    };
    let opts = syncsim::live::ConsumeOptions {
        api_url: api_url
            .or_else(|| env("SYNCSIM_API_URL"))
            .unwrap_or_else(|| format!("http://{}", syncsim::live::DEFAULT_LISTEN)),
        listen,
        keys,
        speed,
        progress,
    };
    let rt = syncsim::live::runtime().map_err(Failure::Runtime)?;
    rt.block_on(syncsim::live::consume(scenario.config(), opts))?;
    Ok(exit::OK)
}

fn live(file: &Path, speed: f64, e: &ReportFlags) -> Result<u8, Failure> {
    let scenario = load(file, &e.sets, e.seed)?;
    let rt = syncsim::live::runtime().map_err(Failure::Runtime)?;
    let report = rt.block_on(syncsim::live::live(scenario.config(), speed, !e.quiet))?;
    emit(
        &report,
        file,
        &scenario,
        e.out.as_deref(),
        e.format,
        &e.sets,
        syncsim::sweep::Driver::Des,
    )
}

/// The shard to run: `--shard K/N` as given, or read from the batch
/// engine's environment with `--shard-from` (printed on stderr, so the
/// job's log says which slice it ran and why).
fn pick_shard(
    shard: Option<Shard>,
    from: Option<ShardFrom>,
    count: Option<usize>,
) -> Result<Option<Shard>, Failure> {
    let Some(engine) = from else {
        return Ok(shard);
    };
    // A variable that is not valid Unicode is read lossily: it then fails
    // as malformed, with the value shown.
    let env = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    let picked = shard::from_env(engine.into(), count, env)?;
    eprintln!("shard {} (from {})", picked.shard, picked.from);
    Ok(Some(picked.shard))
}

fn sweep(
    sweep: &syncsim::sweep::Sweep,
    out: Option<PathBuf>,
    jobs: Option<usize>,
    shard: Option<Shard>,
    progress: bool,
    force: bool,
    exports: &ExportArgs,
) -> Result<u8, Failure> {
    let file = &sweep.file;
    for w in &sweep.warnings {
        eprintln!("warning: {}: {w}", file.display());
    }
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
    let outcome = exec::execute(sweep, &opts)
        .map_err(Failure::folder(format!("sweep into {}", out.display())))?;
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
    if let Some(shard) = shard {
        print_crashes(&outcome.crashes);
        eprintln!("shard {shard} done; join the shards with: syncsim merge DIR... --out DIR");
        return Ok(if outcome.crashes.is_empty() {
            exit::OK
        } else {
            exit::CRASH
        });
    }
    finish(&out, &Meta::new(sweep), exports)
}

/// Refuses `--export-*` on one shard: exports need the whole sweep
/// (`merge` or `report` writes them).
fn exports_whole(shard: Option<Shard>, exports: &ExportArgs) -> Result<(), Failure> {
    if shard.is_some() && !exports.wanted().is_empty() {
        return Err(Failure::ExportShard);
    }
    exports.check()
}

fn merge(dirs: &[PathBuf], out: &Path, exports: &ExportArgs) -> Result<u8, Failure> {
    let metas = dirs
        .iter()
        .map(|d| Meta::require(d))
        .collect::<Result<Vec<Meta>, _>>()
        .map_err(Failure::folder("merge"))?;
    let meta = metas[0].clone();
    if let Some((d, m)) = dirs.iter().zip(&metas).find(|(_, m)| **m != meta) {
        let same_but_path = Meta {
            file: meta.file.clone(),
            ..m.clone()
        } == meta;
        if same_but_path {
            return Err(Failure::OtherPath {
                dir: d.clone(),
                path: m.file.clone(),
                first: dirs[0].clone(),
                first_path: meta.file.clone(),
                meta: Box::new(meta),
            });
        }
        return Err(Failure::NotAShard {
            dir: d.clone(),
            meta: Box::new(m.clone()),
            first: dirs[0].clone(),
            first_meta: Box::new(meta),
        });
    }
    if Meta::read(out)
        .map_err(Failure::folder("merge"))?
        .is_some_and(|existing| existing != meta)
    {
        return Err(Failure::Occupied {
            out: out.to_path_buf(),
        });
    }
    let collected = folder::collect(dirs, &meta)
        .and_then(|c| c.require_complete(&dirs[0], meta.run_count()).map(|()| c))
        .map_err(Failure::folder("merge"))?;
    let copy = || -> Result<(), FolderError> {
        meta.write(out)?;
        for r in &collected.results {
            exec::write_stored(out, r)?;
        }
        for c in &collected.crashes {
            exec::store_crash(out, c)?;
        }
        Ok(())
    };
    copy().map_err(Failure::folder(format!("merge into {}", out.display())))?;
    finish(out, &meta, exports)
}

fn check(
    paths: &[PathBuf],
    junit: Option<&Path>,
    jobs: Option<usize>,
    driver: syncsim::sweep::Driver,
) -> Result<u8, Failure> {
    let files = syncsim::check::collect(paths)?;
    // The JUnit file's folder must exist (a mistyped path is an error, not
    // a new folder), checked before anything runs.
    if let Some(path) = junit {
        let dir = path.parent().unwrap_or(Path::new(""));
        if !dir.as_os_str().is_empty() && !dir.is_dir() {
            return Err(Failure::NoFolder {
                path: path.to_path_buf(),
                dir: dir.to_path_buf(),
            });
        }
    }
    let outcome = syncsim::check::check(&files, threads(jobs), driver);
    print!("{}", syncsim::check::render(&outcome));
    if let Some(path) = junit {
        write(path, syncsim::check::junit(&outcome).as_bytes())?;
    }
    Ok(outcome.exit_code())
}

fn report(dir: &Path, exports: &ExportArgs) -> Result<u8, Failure> {
    let meta = Meta::require(dir).map_err(Failure::folder("report"))?;
    finish(dir, &meta, exports)
}

/// What `trace` follows.
enum Traced {
    /// `--mailbox`.
    Mailbox(u32),
    /// `--message`.
    Filter(syncsim::model::trace::Filter),
    /// `--lost`.
    Lost,
    /// `--worst N`.
    Worst(usize),
}

fn trace(
    file: &Path,
    seed: Option<u64>,
    what: Traced,
    sets: &[(String, String)],
    format: TraceFormat,
    driver: syncsim::sweep::Driver,
) -> Result<u8, Failure> {
    use syncsim::model::trace::{Filter, Trace};
    let scenario = load(file, sets, seed)?;
    let mailboxes = scenario.source.mailboxes.get();
    let mut header = Vec::new();
    let filter = match what {
        Traced::Mailbox(m) => Filter::Mailbox(m),
        Traced::Filter(f) => f,
        Traced::Lost => {
            // The run itself picks: the same report `run --driver` gives.
            let report = driver.run(&scenario, sets)?;
            let sample = &report.changes.lost_sample;
            if sample.is_empty() {
                eprintln!(
                    "no change was lost in this run (digest {}): nothing to trace",
                    report.digest
                );
                return Ok(exit::OK);
            }
            header.push(format!(
                "{} of {} lost changes (the first by commit time):",
                sample.len(),
                report.changes.lost
            ));
            for l in sample {
                header.push(format!(
                    "  mailbox {} message {} (#{}), committed +{}: {}",
                    l.mailbox,
                    l.message,
                    l.seq,
                    l.committed,
                    l.cause.name()
                ));
            }
            messages(sample.iter().map(|l| (l.mailbox, l.message)))
        }
        Traced::Worst(n) => {
            let slow = match driver {
                syncsim::sweep::Driver::Des => syncsim::engine::des::run_slowest(&scenario, n).1,
                syncsim::sweep::Driver::Net { .. } => {
                    let opts = syncsim::net::NetOptions {
                        slowest: n,
                        ..driver.options(None)
                    };
                    syncsim::net::run_reference(scenario.config(), &opts)?.slowest
                }
            };
            if slow.is_empty() {
                eprintln!("no change was applied in this run: nothing to trace");
                return Ok(exit::OK);
            }
            header.push(format!("the {} slowest changes:", slow.len()));
            for c in &slow {
                header.push(format!(
                    "  mailbox {} message {} (#{}): {} by {}",
                    c.mailbox,
                    c.message,
                    c.seq,
                    table::fmt_ms(c.lag_ms),
                    c.path
                ));
            }
            messages(slow.iter().map(|c| (c.mailbox, c.message)))
        }
    };
    for m in filter.mailboxes() {
        if m >= mailboxes {
            return Err(Failure::NoMailbox {
                mailbox: m,
                mailboxes,
            });
        }
    }
    let (report, records) = traced(&scenario, sets, filter.clone(), driver)?;
    if let Filter::Message(m, msg) = filter {
        if !records.iter().any(|r| r.event == "commit") {
            return Err(Failure::NoMessage {
                mailbox: m,
                message: msg,
            });
        }
    }
    match format {
        TraceFormat::Jsonl => print!("{}", Trace::jsonl(&records)),
        TraceFormat::Text => {
            for h in &header {
                println!("{h}");
            }
            if !header.is_empty() {
                println!();
            }
            for r in &records {
                println!("{}", r.render());
            }
            println!("{} events; run digest {}", records.len(), report.digest);
        }
    }
    Ok(exit::OK)
}

/// A traced run under `driver`.
fn traced(
    scenario: &syncsim::Scenario,
    sets: &[(String, String)],
    filter: syncsim::model::trace::Filter,
    driver: syncsim::sweep::Driver,
) -> Result<(syncsim::Report, Vec<syncsim::model::trace::Record>), Failure> {
    match driver {
        syncsim::sweep::Driver::Des => Ok(syncsim::run_traced(scenario, filter)),
        syncsim::sweep::Driver::Net { .. } => {
            let run = driver.run_net(scenario, sets, Some(filter))?;
            Ok((run.report, run.trace))
        }
    }
}

/// `run --check-determinism`: the seed twice, reports and one mailbox's
/// trace compared; the first divergent event named.
fn determinism(
    file: &Path,
    seed: Option<u64>,
    sets: &[(String, String)],
    driver: syncsim::sweep::Driver,
    mailbox: u32,
) -> Result<u8, Failure> {
    let scenario = load(file, sets, seed)?;
    let mailboxes = scenario.source.mailboxes.get();
    if mailbox >= mailboxes {
        return Err(Failure::NoMailbox { mailbox, mailboxes });
    }
    let filter = syncsim::model::trace::Filter::Mailbox(mailbox);
    let (a, ta) = traced(&scenario, sets, filter.clone(), driver)?;
    let (b, tb) = traced(&scenario, sets, filter, driver)?;
    match syncsim::model::trace::first_divergence(&ta, &tb) {
        Some((i, x, y)) => {
            println!("NOT deterministic: the traces of mailbox {mailbox} diverge at event {i}:");
            println!(
                "  first run:  {}",
                x.map_or("(ended)".into(), |r| r.render())
            );
            println!(
                "  second run: {}",
                y.map_or("(ended)".into(), |r| r.render())
            );
            println!("reports: {} vs {}", a.digest, b.digest);
            Ok(exit::THRESHOLD)
        }
        None if a.digest != b.digest => {
            let (ja, jb) = (a.to_json(), b.to_json());
            let line = ja
                .lines()
                .zip(jb.lines())
                .find(|(x, y)| x != y)
                .map_or(String::new(), |(x, y)| {
                    format!("{} vs {}", x.trim(), y.trim())
                });
            println!(
                "NOT deterministic: the traces of mailbox {mailbox} agree ({} events) but the reports differ ({} vs {}): first difference {line}",
                ta.len(),
                a.digest,
                b.digest
            );
            Ok(exit::THRESHOLD)
        }
        None => {
            println!(
                "deterministic: two runs of seed {} gave report {} and the same {} events for mailbox {mailbox}",
                scenario.seed,
                a.digest,
                ta.len()
            );
            Ok(exit::OK)
        }
    }
}

/// A filter for these messages (sorted, each once).
fn messages(ids: impl Iterator<Item = (u32, u32)>) -> syncsim::model::trace::Filter {
    let mut v: Vec<(u32, u32)> = ids.collect();
    v.sort_unstable();
    v.dedup();
    syncsim::model::trace::Filter::Messages(v)
}

/// Checks every file (each error is printed; the others still checked).
fn validate(files: &[PathBuf]) -> u8 {
    let mut code = exit::OK;
    for f in files {
        match syncsim::load(f).and_then(|s| syncsim::sweep::expand(f).map(|w| (s, w))) {
            Ok((s, w)) => {
                for w in &w.warnings {
                    eprintln!("warning: {}: {w}", f.display());
                }
                println!("{}: ok ({})", f.display(), s.name)
            }
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
) -> Result<syncsim::Scenario, ScenarioError> {
    let scenario = syncsim::sweep::load_with(file, sets)?;
    match seed {
        Some(seed) => syncsim::scenario::reseed(scenario, seed, &file.display().to_string()),
        None => Ok(scenario),
    }
}

/// Writes a sweep folder's outputs from its stored results (verified
/// against `meta`; every run must be there, finished or crashed), prints
/// the comparison and any crashes.
fn finish(dir: &Path, meta: &Meta, exports: &ExportArgs) -> Result<u8, Failure> {
    let collected = folder::collect(&[dir.to_path_buf()], meta)
        .and_then(|c| c.require_complete(dir, meta.run_count()).map(|()| c))
        .map_err(Failure::folder("report"))?;
    tables::write_all(dir, meta, &collected)?;
    exports.write(|kind| tables::export_sweep(kind, meta, &collected))?;
    let points = tables::by_point(meta, &collected);
    print!("{}", tables::comparison(&points));
    if points.iter().any(|p| p.runs.len() > 1) {
        println!("(a±b: mean over seeds ± the half-width of its 95% confidence interval)");
    }
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
        return Ok(exit::OK);
    }
    print_crashes(&collected.crashes);
    eprintln!(
        "{} of {} runs crashed; the others are written; a rerun of the sweep retries the crashed ones",
        collected.crashes.len(),
        meta.run_count()
    );
    Ok(exit::CRASH)
}

/// Prints each crashed run with the command that reproduces it.
fn print_crashes(crashes: &[Crash]) {
    for c in crashes {
        eprintln!("{}", c.render());
    }
}

/// Why a command-line value is malformed (clap prints it after the option).
#[derive(Debug, thiserror::Error)]
enum ArgError {
    /// `--set` without `KEY=VALUE`.
    #[error("`{0}`: expected KEY=VALUE, e.g. consumer.poll_interval=1m")]
    Set(String),
    /// `--shard` without `K/N`, `1 <= K <= N`.
    #[error("`{0}`: expected K/N with 1 <= K <= N, e.g. 2/8")]
    Shard(String),
}

fn parse_set(text: &str) -> Result<(String, String), ArgError> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| ArgError::Set(text.to_string()))
}

fn parse_shard(text: &str) -> Result<Shard, ArgError> {
    Shard::parse(text).ok_or_else(|| ArgError::Shard(text.to_string()))
}
