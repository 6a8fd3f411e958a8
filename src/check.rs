//! CI mode: run scenarios (and sweeps) against their `[thresholds]`.
//!
//! Every threshold condition of every run is one check; a run without
//! thresholds is one check that it ran. Runs execute in parallel, each
//! isolated: a run that panics is reported (with its repro line) as an
//! error of its own and the others finish. Results are kept in run order,
//! so output and JUnit XML do not depend on timing.

use crate::exit;
use crate::metrics::Report;
use crate::scenario::{CheckResult, Condition, FaultKind, Op, Scenario, ScenarioError};
use crate::sweep::folder::render_crash;
use crate::sweep::{expand, pool, Driver, Run};
use std::fmt::Write;
use std::path::PathBuf;

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
    /// The driver it ran on.
    pub driver: Driver,
    /// The report digest.
    pub digest: String,
    /// Changes the run lost (0 when it crashed).
    pub lost: u64,
    /// One result per threshold condition (none when the run crashed).
    pub results: Vec<CheckResult>,
    /// The panic message, when the run crashed (a syncsim bug).
    pub crash: Option<String>,
    /// Wall time the run took (for JUnit's `time` only: never in a
    /// report, a digest or anything a run's results depend on).
    pub wall: std::time::Duration,
}

impl RunChecks {
    /// True when the run finished and every condition holds.
    pub fn pass(&self) -> bool {
        self.crash.is_none() && self.results.iter().all(|r| r.pass)
    }

    /// The one-line, shell-quoted command that reproduces this run.
    pub fn repro(&self) -> String {
        crate::sweep::repro_on(&self.file, self.seed, &self.overrides, self.driver)
    }

    /// The one-line `syncsim trace` command that shows this run's lost
    /// changes (or, when none was lost, its five slowest).
    pub fn trace(&self) -> String {
        crate::sweep::trace_command(
            &self.file,
            self.seed,
            &self.overrides,
            self.driver,
            self.lost > 0,
        )
    }
}

/// Everything `check` found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Checked runs, in file then run order.
    pub runs: Vec<RunChecks>,
    /// Files that are not valid scenarios.
    pub bad: Vec<ScenarioError>,
    /// Sweep grid axes that cannot change some variant (see
    /// [`crate::sweep::Sweep::warnings`]), as `file: warning`.
    pub warnings: Vec<String>,
}

impl Outcome {
    /// [`exit::OK`] when all holds, else the largest that applies of
    /// [`exit::THRESHOLD`] (a threshold breaks), [`exit::BAD_INPUT`] (a file
    /// is not a valid scenario) and [`exit::CRASH`] (a run panicked).
    pub fn exit_code(&self) -> u8 {
        if self.runs.iter().any(|r| r.crash.is_some()) {
            exit::CRASH
        } else if !self.bad.is_empty() {
            exit::BAD_INPUT
        } else if self.runs.iter().any(|r| !r.pass()) {
            exit::THRESHOLD
        } else {
            exit::OK
        }
    }
}

/// Why the files to check cannot be listed (bad input: exit 2).
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// A path names nothing.
    #[error("{}: no such file or folder", path.display())]
    Missing {
        /// The path as given.
        path: PathBuf,
    },
    /// A folder cannot be listed.
    #[error("{}: {source}", path.display())]
    Read {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Scenario files named by `paths` (folders: their `.toml` and `.json`
/// files, sorted).
pub fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CollectError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let read = |source| CollectError::Read {
                path: p.clone(),
                source,
            };
            let mut inside: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(read)?
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<_, _>>()
                .map_err(read)?;
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

/// How many times the faults of `kind` fired in `report`, read from its
/// counters (faults of one kind share a counter); `None` for a kind with
/// no counter (`slow_consumer`).
pub fn fired(kind: FaultKind, report: &Report) -> Option<u64> {
    let f = &report.faults;
    let live = report.live.as_ref().or(report.net.as_ref());
    Some(match kind {
        FaultKind::EndpointOutage => f.endpoint_outage_hits,
        FaultKind::Drop => f.dropped_requests + f.dropped_responses,
        FaultKind::BurstyLoss => f.dropped_requests,
        FaultKind::Duplicate => f.duplicated,
        FaultKind::Reorder => f.reordered,
        FaultKind::ConsumerCrash => f.consumer_crashes,
        // 5xx answers seen by the consumer (polls, reconciles, fetches).
        FaultKind::SourceOutage => report.requests.errors,
        FaultKind::RateSqueeze => report.requests.rate_limited,
        FaultKind::SecretRotation => live.map_or(0, |l| l.signed_rotated),
        FaultKind::Forged => live.map_or(0, |l| l.forged_sent),
        FaultKind::RenewalFailure => report.requests.renew_failed.unwrap_or(0),
        FaultKind::SlowConsumer => return None,
    })
}

/// True when a fault of `kind` could act on the run `report` describes:
/// delivery faults need webhooks, source faults need calls to the mail
/// API, signing faults need a driver that signs (live or network mode). A sweep
/// variant a fault cannot touch (a poll variant beside a webhook outage)
/// is not held against it.
pub fn applies(kind: FaultKind, report: &Report) -> bool {
    match kind {
        FaultKind::SecretRotation | FaultKind::Forged => {
            report.live.is_some() || report.net.is_some()
        }
        FaultKind::SourceOutage | FaultKind::RateSqueeze => report.requests.total > 0,
        FaultKind::ConsumerCrash => true,
        FaultKind::RenewalFailure => report.requests.renew.is_some(),
        _ => report.webhooks.is_some(),
    }
}

/// One check per fault of `scenario` that has a counter and could act on
/// this run: it must have fired (`faults.fired.<kind> > 0`). A fault that
/// did nothing must not turn a run green: the run did not test what the
/// scenario says.
pub fn fault_checks(scenario: &Scenario, report: &Report) -> Vec<CheckResult> {
    let mut kinds: Vec<FaultKind> = scenario.faults.iter().map(|f| f.kind).collect();
    kinds.sort();
    kinds.dedup();
    kinds
        .into_iter()
        .filter(|k| applies(*k, report))
        .filter_map(|k| {
            let got = fired(k, report)?;
            Some(CheckResult {
                path: format!("faults.fired.{k}"),
                condition: Condition::number(Op::Gt, 0.0),
                got: Some(got as f64),
                pass: got > 0,
            })
        })
        .collect()
}

/// A run's checks: its thresholds and, when it has thresholds, that each
/// of its faults fired.
pub fn run_checks(scenario: &Scenario, report: &Report) -> Vec<CheckResult> {
    let mut out = report.check(&scenario.thresholds);
    if !scenario.thresholds.is_empty() {
        out.extend(fault_checks(scenario, report));
    }
    out
}

/// Runs every scenario (every run of every sweep) on `jobs` threads, on
/// `driver` (the thresholds, fault checks and JUnit are the same under
/// either; a network-mode run that fails is reported as a crash).
pub fn check(files: &[PathBuf], jobs: usize, driver: Driver) -> Outcome {
    let mut outcome = Outcome::default();
    let mut runs: Vec<(PathBuf, String, Run)> = Vec::new();
    for f in files {
        match expand(f).map(|s| s.on(driver)) {
            Ok(sweep) => runs.extend({
                outcome.warnings.extend(
                    sweep
                        .warnings
                        .iter()
                        .map(|w| format!("{}: {w}", f.display())),
                );
                sweep
                    .runs
                    .into_iter()
                    .map(|r| (f.clone(), sweep.name.clone(), r))
            }),
            Err(e) => outcome.bad.push(e),
        }
    }
    outcome.runs = pool::par_map(&runs, jobs, |(file, name, run)| {
        // Wall clock: JUnit's `time` attribute only.
        let started = std::time::Instant::now();
        let (results, digest, lost, crash) =
            match pool::isolated(run.seed, &run.label, || run.report_on(driver)) {
                Ok(Ok(report)) => (
                    run_checks(&run.scenario, &report),
                    report.digest,
                    report.changes.lost,
                    None,
                ),
                Ok(Err(net)) => (
                    Vec::new(),
                    String::new(),
                    0,
                    Some(format!("--driver net: {net}")),
                ),
                Err(panicked) => (Vec::new(), String::new(), 0, Some(panicked.message)),
            };
        RunChecks {
            file: file.clone(),
            scenario: name.clone(),
            label: run.label.clone(),
            overrides: run.overrides.clone(),
            seed: run.seed,
            driver,
            digest,
            lost,
            results,
            crash,
            wall: started.elapsed(),
        }
    });
    outcome
}

/// The human summary: every failure with its repro line, then totals.
pub fn render(outcome: &Outcome) -> String {
    let mut out = String::new();
    for w in &outcome.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    for e in &outcome.bad {
        let _ = writeln!(out, "error: {e}");
    }
    for r in &outcome.runs {
        if let Some(message) = &r.crash {
            let _ = writeln!(
                out,
                "{}",
                render_crash(&r.scenario, &r.label, r.seed, message, &r.repro())
            );
        }
        for c in r.results.iter().filter(|c| !c.pass) {
            let _ = writeln!(
                out,
                "FAIL {} [{}] seed {}: {} (digest {})\n  reproduce: {}\n  trace:     {}",
                r.scenario,
                r.label,
                r.seed,
                c.describe(),
                r.digest,
                r.repro(),
                r.trace()
            );
        }
    }
    let checks: usize = outcome.runs.iter().map(|r| r.results.len().max(1)).sum();
    let failed: usize = outcome
        .runs
        .iter()
        .map(|r| r.results.iter().filter(|c| !c.pass).count())
        .sum();
    let crashed = outcome.runs.iter().filter(|r| r.crash.is_some()).count();
    let _ = writeln!(
        out,
        "{} passed, {} failed, {crashed} crashed ({} runs, {} bad files)",
        checks - failed - crashed,
        failed,
        outcome.runs.len(),
        outcome.bad.len()
    );
    out
}

/// JUnit XML (through quick-junit): one `<testsuite>` per scenario file,
/// named by its path; one testcase per condition (or per run without
/// thresholds), with the file as its `file` attribute, the run's seed,
/// point, digest and repro line as properties, and a failure message
/// with value, threshold and unit (`latency_ms.all.p99 = 22.6 min
/// (1356000), threshold < 2 min`). A bad file is an `<error>` case of its
/// suite, a crashed run one `<error>` case. A run's wall time is the
/// `time` of its first case (its other cases add none), so suite and
/// report times sum the runs once.
pub fn junit(outcome: &Outcome) -> String {
    use quick_junit::{
        NonSuccessKind, Property, Report as JReport, TestCase, TestCaseStatus, TestSuite,
    };
    let mut report = JReport::new("syncsim check");
    let mut suites: Vec<TestSuite> = Vec::new();
    let suite_of = |file: &str, suites: &mut Vec<TestSuite>| -> usize {
        if let Some(i) = suites.iter().position(|s| s.name.as_str() == file) {
            return i;
        }
        suites.push(TestSuite::new(file));
        suites.len() - 1
    };
    for e in &outcome.bad {
        let file = e.file().to_string();
        let i = suite_of(&file, &mut suites);
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(e.to_string()).set_type("bad input");
        let mut case = TestCase::new("load", status);
        case.set_classname(file.clone());
        case.extra.insert("file".into(), file.into());
        suites[i].add_test_case(case);
    }
    let mut total = std::time::Duration::ZERO;
    for r in &outcome.runs {
        let file = r.file.display().to_string();
        let i = suite_of(&file, &mut suites);
        let class = format!("{}.{}", r.scenario, r.label);
        let mut props = vec![
            Property::new("seed", r.seed.to_string()),
            Property::new("point", r.label.clone()),
        ];
        if !r.digest.is_empty() {
            props.push(Property::new("digest", r.digest.clone()));
        }
        props.push(Property::new("reproduce", r.repro()));
        if r.crash.is_none() {
            props.push(Property::new("trace", r.trace()));
        }
        let mut first = true;
        let mut add = |name: String, status: TestCaseStatus, suite: &mut TestSuite| {
            let mut case = TestCase::new(name, status);
            case.set_classname(class.clone());
            case.extra.insert("file".into(), file.clone().into());
            case.set_time(if first {
                r.wall
            } else {
                std::time::Duration::ZERO
            });
            first = false;
            case.add_properties(props.iter().cloned());
            suite.add_test_case(case);
        };
        total += r.wall;
        if let Some(message) = &r.crash {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status
                .set_message(format!("run crashed: {message}"))
                .set_type("crash")
                .set_description(format!("a syncsim bug; reproduce: {}", r.repro()));
            add(format!("seed {} runs", r.seed), status, &mut suites[i]);
            continue;
        }
        if r.results.is_empty() {
            add(
                format!("seed {} runs", r.seed),
                TestCaseStatus::success(),
                &mut suites[i],
            );
        }
        for c in &r.results {
            let name = format!("seed {}: {} {}", r.seed, c.path, c.condition);
            let status = if c.pass {
                TestCaseStatus::success()
            } else {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(c.describe())
                    .set_type("threshold")
                    .set_description(format!(
                        "{}\nseed {} digest {}\nreproduce: {}\ntrace: {}",
                        c.describe(),
                        r.seed,
                        r.digest,
                        r.repro(),
                        r.trace()
                    ));
                s
            };
            add(name, status, &mut suites[i]);
        }
    }
    for s in &mut suites {
        let t = s
            .test_cases
            .iter()
            .filter_map(|c| c.time)
            .sum::<std::time::Duration>();
        s.set_time(t);
    }
    report.set_time(total);
    report.add_test_suites(suites);
    report
        .to_string()
        .expect("JUnit XML of owned strings always serializes")
}

/// For the CLI: the files of `paths`, after checking that every path names
/// something (the first that does not is the error).
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CollectError> {
    if let Some(p) = paths.iter().find(|p| !p.exists()) {
        return Err(CollectError::Missing { path: p.clone() });
    }
    files(paths)
}
