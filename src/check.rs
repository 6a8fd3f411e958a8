//! CI mode: run scenarios (and sweeps) against their `[thresholds]`.
//!
//! Every threshold condition of every run is one check; a run without
//! thresholds is one check that it ran. Runs execute in parallel; results
//! are kept in run order, so output and JUnit XML do not depend on timing.

use crate::scenario::{CheckResult, ScenarioError};
use crate::sweep::{expand, Run};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The checks of one run.
#[derive(Clone, Debug)]
pub struct RunChecks {
    /// The scenario file.
    pub file: PathBuf,
    /// The scenario's name.
    pub scenario: String,
    /// The point's label (`base` outside sweeps).
    pub label: String,
    /// The point's overrides.
    pub overrides: Vec<(String, String)>,
    /// The seed.
    pub seed: u64,
    /// The report digest.
    pub digest: String,
    /// One result per threshold condition.
    pub results: Vec<CheckResult>,
}

impl RunChecks {
    /// True when every condition holds.
    pub fn pass(&self) -> bool {
        self.results.iter().all(|r| r.pass)
    }

    /// The one-line command that reproduces this run.
    pub fn repro(&self) -> String {
        let mut cmd = format!("syncsim run {} --seed {}", self.file.display(), self.seed);
        for (k, v) in &self.overrides {
            let _ = write!(cmd, " --set '{k}={v}'");
        }
        cmd
    }
}

/// Everything `check` found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Checked runs, in file then run order.
    pub runs: Vec<RunChecks>,
    /// Files that are not valid scenarios.
    pub bad: Vec<ScenarioError>,
}

impl Outcome {
    /// 0 when all holds, 1 when a threshold breaks, 2 on bad input.
    pub fn exit_code(&self) -> u8 {
        if !self.bad.is_empty() {
            2
        } else if self.runs.iter().any(|r| !r.pass()) {
            1
        } else {
            0
        }
    }
}

/// Scenario files named by `paths` (folders: their `.toml` and `.json`
/// files, sorted).
pub fn files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(p)?
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<_, _>>()?;
            inside.retain(|f| {
                matches!(
                    f.extension().and_then(|x| x.to_str()),
                    Some("toml" | "json")
                )
            });
            inside.sort();
            out.extend(inside);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Runs every scenario (every run of every sweep) on `jobs` threads.
pub fn check(files: &[PathBuf], jobs: usize) -> Outcome {
    let mut outcome = Outcome::default();
    let mut runs: Vec<(PathBuf, String, Run)> = Vec::new();
    for f in files {
        match expand(f) {
            Ok(sweep) => runs.extend(
                sweep
                    .runs
                    .into_iter()
                    .map(|r| (f.clone(), sweep.name.clone(), r)),
            ),
            Err(e) => outcome.bad.push(e),
        }
    }
    let slots: Vec<Mutex<Option<RunChecks>>> = runs.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((file, name, run)) = runs.get(i) else {
                    break;
                };
                let mut report = crate::run(&run.scenario);
                report.point = run.overrides.iter().cloned().collect();
                report.seal();
                let done = RunChecks {
                    file: file.clone(),
                    scenario: name.clone(),
                    label: run.label.clone(),
                    overrides: run.overrides.clone(),
                    seed: run.seed,
                    digest: report.digest.clone(),
                    results: report.check(&run.scenario.thresholds),
                };
                *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(done);
            });
        }
    });
    outcome.runs = slots
        .into_iter()
        .filter_map(|s| s.into_inner().unwrap_or_else(|p| p.into_inner()))
        .collect();
    outcome
}

/// The human summary: every failure with its repro line, then totals.
pub fn render(outcome: &Outcome) -> String {
    let mut out = String::new();
    for e in &outcome.bad {
        let _ = writeln!(out, "error: {e}");
    }
    for r in outcome.runs.iter().filter(|r| !r.pass()) {
        for c in r.results.iter().filter(|c| !c.pass) {
            let got = c.got.map_or("no value".into(), |g| g.to_string());
            let _ = writeln!(
                out,
                "FAIL {} [{}] seed {}: {} = {}, threshold {} (digest {})\n  reproduce: {}",
                r.scenario,
                r.label,
                r.seed,
                c.path,
                got,
                c.condition,
                r.digest,
                r.repro()
            );
        }
    }
    let checks: usize = outcome.runs.iter().map(|r| r.results.len().max(1)).sum();
    let failed: usize = outcome
        .runs
        .iter()
        .map(|r| r.results.iter().filter(|c| !c.pass).count())
        .sum();
    let _ = writeln!(
        out,
        "{} passed, {} failed ({} runs, {} bad files)",
        checks - failed,
        failed,
        outcome.runs.len(),
        outcome.bad.len()
    );
    out
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// JUnit XML: one testcase per condition (or per run without thresholds),
/// one `<error>` testcase per bad file.
pub fn junit(outcome: &Outcome) -> String {
    let mut cases = String::new();
    let (mut tests, mut failures, mut errors) = (0, 0, 0);
    for e in &outcome.bad {
        tests += 1;
        errors += 1;
        let _ = writeln!(
            cases,
            "    <testcase classname=\"syncsim\" name=\"load\"><error message=\"{}\"/></testcase>",
            xml(&e.to_string())
        );
    }
    for r in &outcome.runs {
        let class = xml(&format!("{}.{}", r.scenario, r.label));
        if r.results.is_empty() {
            tests += 1;
            let _ = writeln!(
                cases,
                "    <testcase classname=\"{class}\" name=\"seed {} runs\"/>",
                r.seed
            );
        }
        for c in &r.results {
            tests += 1;
            let name = xml(&format!("seed {}: {} {}", r.seed, c.path, c.condition));
            if c.pass {
                let _ = writeln!(
                    cases,
                    "    <testcase classname=\"{class}\" name=\"{name}\"/>"
                );
            } else {
                failures += 1;
                let got = c.got.map_or("no value".into(), |g| g.to_string());
                let _ = writeln!(
                    cases,
                    "    <testcase classname=\"{class}\" name=\"{name}\"><failure message=\"got {}\">{}</failure></testcase>",
                    xml(&got),
                    xml(&format!("digest {}; reproduce: {}", r.digest, r.repro()))
                );
            }
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"syncsim check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">\n{cases}  </testsuite>\n</testsuites>\n"
    )
}

/// Convenience for the CLI: the files of `paths`, or an error naming the path.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    files(paths).map_err(|e| {
        format!(
            "{}: {e}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// True for a path that names nothing.
pub fn missing(p: &Path) -> bool {
    !p.exists()
}
