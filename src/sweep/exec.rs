//! Running a sweep: runs execute on `jobs` threads, each finished run is
//! stored at once (atomically) as `points/<hash>.json`, and a rerun skips
//! every run whose file is already there: an interrupted sweep loses
//! nothing it finished. Results are gathered in run order, so outputs do
//! not depend on `jobs` or on thread timing.

use super::{Run, Sweep};
use crate::metrics::Report;
use crate::output::write_atomic;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// One stored result: the run's identity and its report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Stored {
    /// Hash of the point's scenario text and seed.
    pub hash: String,
    /// Position of the point in the sweep.
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
    /// Run only slice `k` of `n` (1-based): runs whose index is `k - 1`
    /// modulo `n`.
    pub shard: Option<(usize, usize)>,
    /// Output folder (`points/` goes inside).
    pub out: PathBuf,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// What a sweep run did.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Runs computed now.
    pub computed: usize,
    /// Runs found already stored (resumed).
    pub reused: usize,
}

/// The stored file of a run.
pub fn point_file(out: &Path, hash: &str) -> PathBuf {
    out.join("points").join(format!("{hash}.json"))
}

/// Runs `sweep` (or its shard) into `opts.out`.
pub fn execute(sweep: &Sweep, opts: &Options) -> std::io::Result<Outcome> {
    std::fs::create_dir_all(opts.out.join("points"))?;
    let mine: Vec<&Run> = sweep
        .runs
        .iter()
        .enumerate()
        .filter(|(i, _)| opts.shard.is_none_or(|(k, n)| i % n == k - 1))
        .map(|(_, r)| r)
        .collect();
    let todo: Vec<&Run> = mine
        .iter()
        .copied()
        .filter(|r| load(&point_file(&opts.out, &r.hash)).is_none())
        .collect();
    let outcome = Outcome {
        computed: todo.len(),
        reused: mine.len() - todo.len(),
    };
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
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<std::io::Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(run) = todo.get(i) else { break };
                let mut report = crate::run(&run.scenario);
                report.point = run.overrides.iter().cloned().collect();
                report.seal();
                if let Err(e) = store(&opts.out, run, &report) {
                    *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    break;
                }
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(outcome)
}

fn store(out: &Path, run: &Run, report: &Report) -> std::io::Result<()> {
    let stored = Stored {
        hash: run.hash.clone(),
        point: run.point,
        label: run.label.clone(),
        overrides: run.overrides.clone(),
        seed: run.seed,
        report: serde_json::to_value(report).map_err(std::io::Error::other)?,
    };
    let text = serde_json::to_string_pretty(&stored).map_err(std::io::Error::other)?;
    write_atomic(&point_file(out, &run.hash), text.as_bytes())
}

/// A stored result, if the file exists and is whole.
pub fn load(path: &Path) -> Option<Stored> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// Every stored result under the given folders, de-duplicated by hash and
/// sorted by (point, seed): the order of the sweep.
pub fn gather(dirs: &[PathBuf]) -> std::io::Result<Vec<Stored>> {
    let mut all = std::collections::BTreeMap::new();
    for dir in dirs {
        let points = dir.join("points");
        let entries = match std::fs::read_dir(&points) {
            Ok(e) => e,
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("{}: {e}", points.display()),
                ))
            }
        };
        for e in entries {
            let path = e?.path();
            if path.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            if let Some(s) = load(&path) {
                all.insert((s.point, s.seed, s.hash.clone()), s);
            }
        }
    }
    Ok(all.into_values().collect())
}
