//! Running a sweep: runs execute on `jobs` threads, each isolated (a panic
//! is recorded as a crash of that run, the others go on), each finished
//! run is stored at once (atomically) as `points/<id>.json`, and a rerun
//! skips every run whose stored file is there and verifies (a damaged or
//! edited one is recomputed): an interrupted sweep loses nothing it
//! finished. Results are gathered in run order, so outputs do not depend
//! on `jobs` or on thread timing.

use super::folder::{crash_file, write_json, Crash, FolderError, Meta};
use super::shard::Shard;
use super::{pool, Run, Sweep};
use crate::metrics::Report;
use crate::output::temp_owner;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// One stored result: the run's identity and its report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Stored {
    /// The run id.
    pub hash: String,
    /// Position of the point in the sweep (when stored; `sweep.json` has
    /// the current order).
    pub point: usize,
    /// Human label of the point.
    pub label: String,
    /// The overrides that make the point.
    pub overrides: Vec<(String, String)>,
    /// The seed.
    pub seed: u64,
    /// The report, as JSON.
    pub report: serde_json::Value,
}

/// How to run a sweep.
#[derive(Clone, Debug)]
pub struct Options {
    /// Threads.
    pub jobs: usize,
    /// Run only this slice of the sweep (see [`Shard::holds`]).
    pub shard: Option<Shard>,
    /// Output folder (`points/` goes inside).
    pub out: PathBuf,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Discard whatever the folder holds (another scenario's runs too).
    pub force: bool,
}

/// What a sweep run did.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Runs computed now (crashed ones included).
    pub computed: usize,
    /// Runs found already stored and verified (resumed).
    pub reused: usize,
    /// Stored runs found damaged or edited and computed again, each with
    /// the file and why.
    pub repaired: Vec<String>,
    /// Stored files removed because the sweep no longer has their run
    /// (a variant renamed, a value or seed dropped).
    pub pruned: usize,
    /// Runs that panicked now, in run order.
    pub crashes: Vec<Crash>,
}

/// The stored file of a run.
pub fn point_file(out: &Path, hash: &str) -> PathBuf {
    out.join("points").join(format!("{hash}.json"))
}

/// Makes `opts.out` the folder of `sweep`: refuses a folder of another
/// scenario (unless `force`), writes `sweep.json`, removes leftover
/// temporary files and stored runs the sweep no longer has.
fn prepare(sweep: &Sweep, meta: &Meta, opts: &Options) -> Result<usize, FolderError> {
    let out = &opts.out;
    if opts.force {
        for sub in ["points", "crashed"] {
            match std::fs::remove_dir_all(out.join(sub)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(FolderError::io(&out.join(sub))(e))
                }
                _ => {}
            }
        }
    } else {
        let old = Meta::read(out).map_err(|e| match e {
            FolderError::Bad(m) => FolderError::Bad(format!(
                "{m} (or, to sweep into this folder anyway and discard what it holds, add --force)"
            )),
            io => io,
        })?;
        match old {
            Some(old) if old.scenario != meta.scenario => {
                return Err(FolderError::Bad(format!(
                    "{} holds a sweep of another scenario (`{}` from {}, scenario hash {}; {} is `{}`, hash {}): the file was edited, or this is another scenario's folder; sweep into a new --out folder, or add --force to discard the stored runs",
                    out.display(),
                    super::spec::echo(&old.name),
                    super::spec::echo(&old.file),
                    old.scenario,
                    sweep.file.display(),
                    super::spec::echo(&meta.name),
                    meta.scenario
                )))
            }
            Some(old) if old.driver != meta.driver => {
                let name = |d: &Option<String>| d.clone().unwrap_or_else(|| "des".into());
                return Err(FolderError::Bad(format!(
                    "{} holds this sweep run on driver `{}`, not `{}`: sweep into a new --out folder, or add --force to discard the stored runs",
                    out.display(),
                    name(&old.driver),
                    name(&meta.driver)
                )));
            }
            Some(_) => {}
            None => {
                let points = out.join("points");
                let nonempty = std::fs::read_dir(&points).is_ok_and(|mut d| d.next().is_some());
                if nonempty {
                    return Err(FolderError::Bad(format!(
                        "{} has stored runs but no sweep.json, so they cannot be checked; sweep into a new --out folder, or add --force to discard them",
                        out.display()
                    )));
                }
            }
        }
    }
    for sub in ["points", "crashed"] {
        let dir = out.join(sub);
        std::fs::create_dir_all(&dir).map_err(FolderError::io(&dir))?;
    }
    meta.write(out)?;
    let expected: std::collections::BTreeSet<&str> =
        meta.planned().map(|(_, _, r)| r.id.as_str()).collect();
    let mut pruned = 0;
    for dir in [out.clone(), out.join("points"), out.join("crashed")] {
        let entries = std::fs::read_dir(&dir).map_err(FolderError::io(&dir))?;
        for e in entries {
            let path = e.map_err(FolderError::io(&dir))?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let stale = if let Some(pid) = temp_owner(&name) {
                pid != std::process::id() && !alive(pid)
            } else if dir != *out && path.extension().is_some_and(|x| x == "json") {
                let id = path.file_stem().map(|s| s.to_string_lossy().into_owned());
                let gone = id.is_some_and(|id| !expected.contains(id.as_str()));
                pruned += usize::from(gone && dir.ends_with("points"));
                gone
            } else {
                false
            };
            if stale {
                std::fs::remove_file(&path).map_err(FolderError::io(&path))?;
            }
        }
    }
    Ok(pruned)
}

/// Whether process `pid` still runs (so its temporary file may still be
/// renamed into place). Without `/proc`, every other process counts as gone.
fn alive(pid: u32) -> bool {
    Path::new("/proc/self").exists() && Path::new(&format!("/proc/{pid}")).exists()
}

/// Runs `sweep` (or its shard) into `opts.out`.
pub fn execute(sweep: &Sweep, opts: &Options) -> Result<Outcome, FolderError> {
    let meta = Meta::new(sweep);
    let mut outcome = Outcome {
        pruned: prepare(sweep, &meta, opts)?,
        ..Outcome::default()
    };
    let mine: Vec<&Run> = sweep
        .runs
        .iter()
        .enumerate()
        .filter(|(i, _)| opts.shard.is_none_or(|s| s.holds(*i)))
        .map(|(_, r)| r)
        .collect();
    let mut todo: Vec<&Run> = Vec::new();
    for run in mine {
        let path = point_file(&opts.out, &run.hash);
        let point = &meta.points[run.point];
        let planned = super::folder::PlannedRun {
            seed: run.seed,
            id: run.hash.clone(),
        };
        match super::folder::verify(&path, point, &planned) {
            Ok(_) => outcome.reused += 1,
            Err(why) => {
                if path.exists() {
                    outcome.repaired.push(format!("{}: {why}", path.display()));
                }
                todo.push(run);
            }
        }
    }
    outcome.computed = todo.len();
    let bar = if opts.progress {
        let b = indicatif::ProgressBar::new(todo.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} runs  {elapsed} elapsed, ETA {eta}  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let stop = AtomicBool::new(false);
    let failure: Mutex<Option<FolderError>> = Mutex::new(None);
    let crashes = pool::par_map(&todo, opts.jobs, |run| {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        let result = pool::isolated(run.seed, &run.label, || run.report_on(sweep.driver));
        // A panic, or a network-mode run that failed: a crash of this run.
        let failed = match result {
            Ok(Ok(report)) => Ok(report),
            Ok(Err(net)) => Err(format!("--driver net: {net}")),
            Err(panicked) => Err(panicked.message),
        };
        let (stored, crash) = match failed {
            Ok(report) => (store(&opts.out, run, &report), None),
            Err(message) => {
                let crash = Crash {
                    id: run.hash.clone(),
                    file: sweep.file.display().to_string(),
                    label: run.label.clone(),
                    overrides: run.overrides.clone(),
                    seed: run.seed,
                    repro: super::repro_on(&sweep.file, run.seed, &run.overrides, sweep.driver),
                    message,
                };
                (store_crash(&opts.out, &crash), Some(crash))
            }
        };
        if let Err(e) = stored {
            stop.store(true, Ordering::Relaxed);
            failure
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(e);
        }
        bar.inc(1);
        crash
    });
    bar.finish_and_clear();
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    outcome.crashes = crashes.into_iter().flatten().collect();
    Ok(outcome)
}

fn store(out: &Path, run: &Run, report: &Report) -> Result<(), FolderError> {
    let stored = Stored {
        hash: run.hash.clone(),
        point: run.point,
        label: run.label.clone(),
        overrides: run.overrides.clone(),
        seed: run.seed,
        report: serde_json::to_value(report).unwrap_or_default(),
    };
    write_stored(out, &stored)?;
    // A run that crashed before and now finished is no longer a crash.
    let crash = crash_file(out, &run.hash);
    match std::fs::remove_file(&crash) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(FolderError::io(&crash)(e)),
        _ => Ok(()),
    }
}

/// Writes a stored result as `points/<id>.json` in `out`, atomically.
pub fn write_stored(out: &Path, stored: &Stored) -> Result<(), FolderError> {
    write_json(&point_file(out, &stored.hash), stored)
}

/// Writes a crash record as `crashed/<id>.json` in `out`, atomically.
pub fn store_crash(out: &Path, crash: &Crash) -> Result<(), FolderError> {
    write_json(&crash_file(out, &crash.id), crash)
}

/// A stored result, if the file exists and is whole (not verified: see
/// [`super::folder::verify`]).
pub fn load(path: &Path) -> Option<Stored> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}
