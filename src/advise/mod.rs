//! `syncsim advise`: the cheapest configuration that meets the
//! constraints, found by search rather than by running the whole grid.
//!
//! The search space is the scenario's `[advise]` table: strategies, and
//! for each the axes that apply to it (`poll`: poll interval; `webhook`:
//! workers; `hybrid`: reconcile period, workers, lookback), each a
//! discrete list of candidate values. Every axis is ordered from its most
//! capable value (index 0: the shortest interval, the most workers, the
//! longest lookback) to its cheapest.
//!
//! **Assumption (monotone structure).** Moving an axis towards its cheap
//! end never makes a configuration *more* able to meet the constraints
//! (longer intervals are slower, fewer workers queue longer, a shorter
//! lookback recovers less), and never makes it more expensive. Under it,
//! the feasible candidates of a strategy are a "lower set" of the index
//! grid, and the search per strategy is:
//!
//! 1. run the most capable corner (all indices 0); if it fails, no
//!    candidate of the strategy can pass (it is reported as the closest);
//! 2. for each axis in turn, bisect for the cheapest index that still
//!    passes with the other axes where they are (`⌈log2 n⌉` evaluations
//!    for `n` values).
//!
//! The assumption is only used to choose what to run: every candidate
//! that is recommended was run and passed on every search seed, and the
//! best of a strategy is the cheapest (by the measured objective) among
//! the candidates that were run and passed, not merely the last one
//! bisection reached. When constraints trade off across axes (fewer
//! workers compensated by a shorter period), bisection finds a candidate
//! that no single axis can make cheaper, which need not be the global
//! optimum; `syncsim sweep` over the grid is the check. Finally the
//! winner runs on `confirm_seeds` further seeds and must pass all of them;
//! if it does not, the next cheapest passing candidate is confirmed
//! instead.
//!
//! Ties (equal objective means) go to the earlier strategy in
//! `[advise.strategies]`, then to the cheaper end of the axes in the
//! order above (a longer interval, fewer workers, a shorter lookback).
//! Everything is a pure function of the scenario and its seed: runs are
//! independent simulations, gathered in a fixed order whatever `--jobs`.

use crate::metrics::Report;
use crate::output::plots::{self, PlotError, PlotPoint};
use crate::scenario::consumer::Strategy;
use crate::scenario::{CheckResult, Scenario, ScenarioError, Thresholds};
use crate::sweep::pool;
use crate::sweep::stats::{summarize, Summary};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A search axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    /// `consumer.poll_interval` (strategy `poll`).
    PollInterval,
    /// `consumer.reconcile_every` (`hybrid`).
    ReconcileEvery,
    /// `consumer.workers` (`webhook`, `hybrid`).
    Workers,
    /// `consumer.lookback` (`hybrid`).
    Lookback,
}

impl Axis {
    /// The scenario key it sets.
    pub fn key(self) -> &'static str {
        match self {
            Axis::PollInterval => "consumer.poll_interval",
            Axis::ReconcileEvery => "consumer.reconcile_every",
            Axis::Workers => "consumer.workers",
            Axis::Lookback => "consumer.lookback",
        }
    }

    /// The key within `[consumer]`.
    pub fn name(self) -> &'static str {
        self.key().trim_start_matches("consumer.")
    }

    /// The axes that apply to `strategy`, in search order.
    pub fn of(strategy: Strategy) -> &'static [Axis] {
        match strategy {
            Strategy::Poll => &[Axis::PollInterval],
            Strategy::Webhook => &[Axis::Workers],
            Strategy::Hybrid => &[Axis::ReconcileEvery, Axis::Workers, Axis::Lookback],
        }
    }
}

/// One axis's candidate values, most capable first.
#[derive(Clone, Debug)]
pub struct Values {
    /// The axis.
    pub axis: Axis,
    /// Each value as written in a scenario file (`"5m"`, `4`).
    pub values: Vec<toml::Value>,
}

impl Values {
    /// Value `i` as text (`5m`, `4`).
    pub fn text(&self, i: usize) -> String {
        self.values
            .get(i)
            .map_or_else(String::new, crate::sweep::show)
    }
}

/// A strategy and its axes.
#[derive(Clone, Debug)]
pub struct Space {
    /// The strategy.
    pub strategy: Strategy,
    /// Its axes with candidates (axes without a list are left out: the
    /// scenario's own value holds).
    pub axes: Vec<Values>,
}

impl Space {
    /// Number of candidates (the grid's points for this strategy).
    pub fn size(&self) -> usize {
        self.axes.iter().map(|a| a.values.len()).product()
    }

    /// Every index vector of the grid, in order (last axis fastest).
    pub fn grid(&self) -> Vec<Vec<usize>> {
        let mut out: Vec<Vec<usize>> = vec![Vec::new()];
        for a in &self.axes {
            out = out
                .into_iter()
                .flat_map(|v| {
                    (0..a.values.len()).map(move |j| {
                        let mut v = v.clone();
                        v.push(j);
                        v
                    })
                })
                .collect();
        }
        out
    }
}

/// The planned search: the file, the base scenario, objective,
/// constraints, spaces and seeds.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The scenario file.
    pub file: PathBuf,
    /// The base scenario as loaded.
    pub base: Scenario,
    /// The file as a table without `[sweep]` and `[advise]`.
    table: toml::Table,
    /// The report path minimised (mean over seeds).
    pub objective: String,
    /// Conditions every seed must meet.
    pub constraints: Thresholds,
    /// One space per strategy, in `[advise.strategies]` order.
    pub spaces: Vec<Space>,
    /// Seeds every candidate runs with during the search.
    pub seeds: Vec<u64>,
    /// Further seeds the winner must pass.
    pub confirm: Vec<u64>,
}

/// Why `advise` could not run.
#[derive(Debug, thiserror::Error)]
pub enum AdviseError {
    /// The scenario file is bad (or a candidate of it is).
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The file has no `[advise]` table.
    #[error("{file}: no [advise] table; add one with the search space and constraints (see `syncsim advise --help` and the README)")]
    NoAdvise {
        /// The file.
        file: String,
    },
    /// A run panicked: a syncsim bug.
    #[error("the run of {label}, seed {seed} crashed (a syncsim bug; please report it): {message}\nreproduce with: {repro}")]
    Crashed {
        /// The candidate.
        label: String,
        /// The seed.
        seed: u64,
        /// The panic.
        message: String,
        /// The command that reproduces it.
        repro: String,
    },
    /// The frontier plot could not be drawn.
    #[error(transparent)]
    Plot(#[from] PlotError),
}

impl Plan {
    /// Reads the file's `[advise]` and builds the search (`seed` replaces
    /// the scenario's seed as the first search seed).
    pub fn new(file: &Path, seed: Option<u64>) -> Result<Plan, AdviseError> {
        let base = crate::scenario::load(file)?;
        let Some(spec) = base.advise.clone() else {
            return Err(AdviseError::NoAdvise {
                file: file.display().to_string(),
            });
        };
        let (_, mut table) = crate::sweep::read_table(file)?;
        table.remove("sweep");
        table.remove("advise");
        let durations = |v: &Option<Vec<crate::engine::time::PositiveDuration>>, rev: bool| {
            v.as_ref().map(|v| {
                let mut v: Vec<_> = v.iter().map(|d| d.get()).collect();
                v.sort();
                if rev {
                    v.reverse();
                }
                v.into_iter()
                    .map(|d| toml::Value::String(d.to_string()))
                    .collect::<Vec<_>>()
            })
        };
        let workers = spec.workers.as_ref().map(|w| {
            let mut w: Vec<u32> = w.iter().map(|n| n.get()).collect();
            w.sort_unstable_by(|a, b| b.cmp(a));
            w.into_iter()
                .map(|n| toml::Value::Integer(i64::from(n)))
                .collect::<Vec<_>>()
        });
        let list = |axis: Axis| match axis {
            Axis::PollInterval => durations(&spec.poll_interval, false),
            Axis::ReconcileEvery => durations(&spec.reconcile_every, false),
            Axis::Lookback => durations(&spec.lookback, true),
            Axis::Workers => workers.clone(),
        };
        let spaces = spec
            .strategies()
            .into_iter()
            .map(|strategy| Space {
                strategy,
                axes: Axis::of(strategy)
                    .iter()
                    .filter_map(|&axis| list(axis).map(|values| Values { axis, values }))
                    .collect(),
            })
            .collect();
        let first = seed.unwrap_or(base.seed);
        let n = u64::from(spec.seeds());
        let seeds = (0..n).map(|i| first.wrapping_add(i)).collect();
        let confirm = (0..u64::from(spec.confirm_seeds()))
            .map(|i| first.wrapping_add(n + i))
            .collect();
        Ok(Plan {
            file: file.to_path_buf(),
            objective: spec.objective(&base),
            constraints: spec.constraints(&base).clone(),
            base,
            table,
            spaces,
            seeds,
            confirm,
        })
    }

    /// The runs a full grid with the search seeds would take.
    pub fn grid_runs(&self) -> usize {
        self.spaces.iter().map(Space::size).sum::<usize>() * self.seeds.len()
    }

    /// The overrides of candidate `idx` of `space`: the strategy, then one
    /// per axis.
    pub fn overrides(&self, space: &Space, idx: &[usize]) -> Vec<(String, String)> {
        let mut out = vec![(
            "consumer.strategy".to_string(),
            strategy_name(space.strategy).to_string(),
        )];
        for (a, &i) in space.axes.iter().zip(idx) {
            out.push((a.axis.key().to_string(), a.text(i)));
        }
        out
    }

    /// The scenario of candidate `idx` of `space` with `seed`; its
    /// thresholds are the constraints (so the percentiles they name are
    /// computed).
    pub fn scenario(
        &self,
        space: &Space,
        idx: &[usize],
        seed: u64,
    ) -> Result<Scenario, AdviseError> {
        let file = self.file.display().to_string();
        let mut t = self.table.clone();
        let set = |t: &mut toml::Table, key: &str, v: toml::Value| {
            crate::sweep::set_path(t, key, v).map_err(|message| ScenarioError::Invalid {
                file: file.clone(),
                line: 1,
                column: 1,
                path: key.to_string(),
                message,
            })
        };
        set(
            &mut t,
            "consumer.strategy",
            toml::Value::String(strategy_name(space.strategy).into()),
        )?;
        for (a, &i) in space.axes.iter().zip(idx) {
            if let Some(v) = a.values.get(i) {
                set(&mut t, a.axis.key(), v.clone())?;
            }
        }
        let text = toml::to_string(&t).map_err(|e| ScenarioError::Invalid {
            file: file.clone(),
            line: 1,
            column: 1,
            path: String::new(),
            message: e.to_string(),
        })?;
        let label = label(space, idx);
        let mut s = crate::scenario::parse(&text, &file, crate::scenario::Format::Toml).map_err(
            |e| match e {
                ScenarioError::Invalid {
                    file,
                    path,
                    message,
                    ..
                } => ScenarioError::Invalid {
                    file,
                    line: 1,
                    column: 1,
                    path,
                    message: format!("in the advise candidate `{label}`: {message}"),
                },
                other => other,
            },
        )?;
        s.thresholds = self.constraints.clone();
        Ok(crate::scenario::reseed(s, seed, &file)?)
    }
}

/// A strategy's name in scenario files.
pub fn strategy_name(s: Strategy) -> &'static str {
    match s {
        Strategy::Poll => "poll",
        Strategy::Webhook => "webhook",
        Strategy::Hybrid => "hybrid",
    }
}

/// A candidate's label: `hybrid reconcile_every=1h workers=2 lookback=1h`.
pub fn label(space: &Space, idx: &[usize]) -> String {
    let mut out = strategy_name(space.strategy).to_string();
    for (a, &i) in space.axes.iter().zip(idx) {
        out.push_str(&format!(" {}={}", a.axis.name(), a.text(i)));
    }
    out
}

/// One candidate run on a set of seeds.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// Position of its strategy in the plan's spaces.
    pub space: usize,
    /// Its index on each axis.
    pub idx: Vec<usize>,
    /// Its label.
    pub label: String,
    /// Its overrides (`--set` for `syncsim run`).
    pub overrides: Vec<(String, String)>,
    /// The reports, one per seed, in seed order.
    pub reports: Vec<Report>,
    /// True when every seed meets every constraint.
    pub feasible: bool,
    /// The objective over the seeds.
    pub objective: Summary,
    /// The failed conditions (each with the worst value over the seeds).
    pub failures: Vec<CheckResult>,
    /// How far it is from passing: the sum over failed conditions of the
    /// relative distance of the worst value to its bound.
    pub shortfall: f64,
}

impl Evaluation {
    /// The mean over seeds of `path` (`None` when no report has it).
    pub fn mean(&self, path: &str) -> Option<f64> {
        self.summary(path).map(|s| s.mean)
    }

    /// Mean, sd and 95% CI over the seeds of `path`.
    pub fn summary(&self, path: &str) -> Option<Summary> {
        summarize(
            &self
                .reports
                .iter()
                .filter_map(|r| r.value(path))
                .collect::<Vec<_>>(),
        )
    }

    /// The failed conditions as `path = value, threshold …`.
    pub fn breaks(&self) -> String {
        self.failures
            .iter()
            .map(CheckResult::describe)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// `a` before `b` in the recommendation order: lower objective, then the
/// earlier strategy, then the cheaper end of the axes (larger indices,
/// compared axis by axis in search order).
pub fn preferred(a: &Evaluation, b: &Evaluation) -> Ordering {
    a.objective
        .mean
        .total_cmp(&b.objective.mean)
        .then(a.space.cmp(&b.space))
        .then_with(|| b.idx.cmp(&a.idx))
}

/// Runs candidates and remembers them.
struct Runner<'a> {
    plan: &'a Plan,
    jobs: usize,
    bar: &'a indicatif::ProgressBar,
    done: BTreeMap<(usize, Vec<usize>), Evaluation>,
    runs: usize,
}

impl<'a> Runner<'a> {
    /// A runner with nothing run yet.
    fn new(plan: &'a Plan, opts: Options, bar: &'a indicatif::ProgressBar) -> Runner<'a> {
        Runner {
            plan,
            jobs: opts.jobs,
            bar,
            done: BTreeMap::new(),
            runs: 0,
        }
    }

    /// Runs candidate `idx` of space `space` on `seeds` (in parallel).
    fn run(
        &mut self,
        space: usize,
        idx: &[usize],
        seeds: &[u64],
    ) -> Result<Vec<Report>, AdviseError> {
        let sp = &self.plan.spaces[space];
        let overrides = self.plan.overrides(sp, idx);
        let label = label(sp, idx);
        let scenarios = seeds
            .iter()
            .map(|&seed| self.plan.scenario(sp, idx, seed))
            .collect::<Result<Vec<_>, _>>()?;
        self.bar.set_message(label.clone());
        let results = pool::par_map(&scenarios, self.jobs, |s| {
            let r = pool::isolated(s.seed, &label, || crate::sweep::run_point(s, &overrides));
            self.bar.inc(1);
            r
        });
        self.runs += seeds.len();
        results
            .into_iter()
            .zip(seeds)
            .map(|(r, &seed)| {
                r.map_err(|p| AdviseError::Crashed {
                    label: label.clone(),
                    seed,
                    message: p.message,
                    repro: crate::sweep::repro(&self.plan.file, seed, &overrides),
                })
            })
            .collect()
    }

    /// Evaluates candidate `idx` of space `space` on the search seeds
    /// (once; later calls return the stored result).
    fn eval(&mut self, space: usize, idx: &[usize]) -> Result<&Evaluation, AdviseError> {
        let key = (space, idx.to_vec());
        if !self.done.contains_key(&key) {
            let seeds = self.plan.seeds.clone();
            let reports = self.run(space, idx, &seeds)?;
            let e = evaluation(self.plan, space, idx, reports);
            self.done.insert(key.clone(), e);
        }
        Ok(&self.done[&key])
    }

    /// The bisection search of one space (see the module docs).
    fn search(&mut self, space: usize) -> Result<(), AdviseError> {
        let sizes: Vec<usize> = self.plan.spaces[space]
            .axes
            .iter()
            .map(|a| a.values.len())
            .collect();
        let mut v = vec![0; sizes.len()];
        if !self.eval(space, &v)?.feasible {
            return Ok(());
        }
        for a in 0..sizes.len() {
            let (mut lo, mut hi) = (v[a], sizes[a] - 1);
            while lo < hi {
                let mid = (lo + hi).div_ceil(2);
                let mut probe = v.clone();
                probe[a] = mid;
                if self.eval(space, &probe)?.feasible {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            v[a] = lo;
        }
        Ok(())
    }
}

/// The evaluation of candidate `idx` of space `space` from its reports.
fn evaluation(plan: &Plan, space: usize, idx: &[usize], reports: Vec<Report>) -> Evaluation {
    let sp = &plan.spaces[space];
    let mut failures: Vec<CheckResult> = Vec::new();
    for r in &reports {
        for c in r.check(&plan.constraints) {
            if c.pass {
                continue;
            }
            match failures
                .iter_mut()
                .find(|f| f.path == c.path && f.condition == c.condition)
            {
                Some(f) if distance(&c) > distance(f) => *f = c,
                Some(_) => {}
                None => failures.push(c),
            }
        }
    }
    let objective = summarize(
        &reports
            .iter()
            .map(|r| r.value(&plan.objective).unwrap_or(f64::INFINITY))
            .collect::<Vec<_>>(),
    )
    .unwrap_or(Summary {
        n: 0,
        mean: f64::INFINITY,
        sd: 0.0,
        ci95: 0.0,
    });
    Evaluation {
        space,
        idx: idx.to_vec(),
        label: label(sp, idx),
        overrides: plan.overrides(sp, idx),
        feasible: failures.is_empty() && !reports.is_empty(),
        shortfall: failures.iter().map(distance).sum(),
        failures,
        objective,
        reports,
    }
}

/// How far a failed condition's value is from its bound, relative to the
/// bound (at least the value's size when the bound is 0); infinite
/// without a value.
fn distance(c: &CheckResult) -> f64 {
    match (c.got, c.condition.value_for(&c.path)) {
        (Some(got), Some(want)) if !c.pass => (got - want).abs() / want.abs().max(1.0),
        (Some(_), Some(_)) => 0.0,
        _ => f64::INFINITY,
    }
}

/// What `advise` found.
#[derive(Clone, Debug)]
pub struct Advice {
    /// The confirmed recommendation (`None`: nothing met the constraints).
    pub winner: Option<Evaluation>,
    /// The winner's reports on the confirmation seeds.
    pub confirmed: Vec<Report>,
    /// Candidates that passed the search seeds but failed confirmation,
    /// in the order they were tried.
    pub unconfirmed: Vec<Evaluation>,
    /// The best passing candidate per strategy (`None`: none passed),
    /// with the closest failing one, in the plan's strategy order.
    pub per_strategy: Vec<(Strategy, Option<Evaluation>, Option<Evaluation>)>,
    /// The failing candidate closest to passing, overall.
    pub closest: Option<Evaluation>,
    /// Every candidate evaluated, in the recommendation order.
    pub evaluated: Vec<Evaluation>,
    /// Simulations run (search and confirmation).
    pub runs: usize,
    /// Simulations the equivalent full grid takes (search seeds only).
    pub grid_runs: usize,
}

/// How `advise` runs.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Parallel runs.
    pub jobs: usize,
    /// Show a progress bar on stderr (drawn only on a terminal).
    pub progress: bool,
}

/// How many candidates that passed the search are tried on the
/// confirmation seeds before giving up.
pub const MAX_CONFIRM_TRIES: usize = 3;

/// Searches `plan` (see the module docs).
pub fn advise(plan: &Plan, opts: Options) -> Result<Advice, AdviseError> {
    let bar = progress_bar(opts.progress);
    let mut runner = Runner::new(plan, opts, &bar);
    for space in 0..plan.spaces.len() {
        runner.search(space)?;
    }
    let mut evaluated: Vec<Evaluation> = runner.done.values().cloned().collect();
    evaluated.sort_by(preferred);
    let mut winner = None;
    let mut confirmed = Vec::new();
    let mut unconfirmed = Vec::new();
    for e in evaluated
        .iter()
        .filter(|e| e.feasible)
        .take(MAX_CONFIRM_TRIES)
    {
        let reports = runner.run(e.space, &e.idx, &plan.confirm)?;
        let pass = reports
            .iter()
            .all(|r| r.check(&plan.constraints).iter().all(|c| c.pass));
        if pass {
            winner = Some(e.clone());
            confirmed = reports;
            break;
        }
        let mut all = e.reports.clone();
        all.extend(reports);
        unconfirmed.push(evaluation(plan, e.space, &e.idx, all));
    }
    bar.finish_and_clear();
    let by_closeness = |a: &&Evaluation, b: &&Evaluation| {
        a.failures
            .len()
            .cmp(&b.failures.len())
            .then(a.shortfall.total_cmp(&b.shortfall))
            .then_with(|| preferred(a, b))
    };
    let per_strategy = plan
        .spaces
        .iter()
        .enumerate()
        .map(|(i, sp)| {
            let mine = || evaluated.iter().filter(move |e| e.space == i);
            (
                sp.strategy,
                mine().find(|e| e.feasible).cloned(),
                mine().filter(|e| !e.feasible).min_by(by_closeness).cloned(),
            )
        })
        .collect();
    let closest = evaluated
        .iter()
        .filter(|e| !e.feasible)
        .chain(unconfirmed.iter())
        .min_by(by_closeness)
        .cloned();
    Ok(Advice {
        winner,
        confirmed,
        unconfirmed,
        per_strategy,
        closest,
        evaluated,
        runs: runner.runs,
        grid_runs: plan.grid_runs(),
    })
}

/// Runs every candidate of every space on the search seeds (the full
/// grid `advise` avoids), in space then grid order: what the tests
/// compare the search with.
pub fn full_grid(plan: &Plan, opts: Options) -> Result<Vec<Evaluation>, AdviseError> {
    let bar = progress_bar(opts.progress);
    let mut runner = Runner::new(plan, opts, &bar);
    let mut out = Vec::new();
    for (i, sp) in plan.spaces.iter().enumerate() {
        for idx in sp.grid() {
            out.push(runner.eval(i, &idx)?.clone());
        }
    }
    bar.finish_and_clear();
    Ok(out)
}

fn progress_bar(show: bool) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let b = indicatif::ProgressBar::new_spinner();
    b.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} runs  {elapsed} elapsed  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    b
}

/// The recommended configuration as a scenario snippet (TOML): the
/// `[consumer]` keys the search set, strategy first, axes in search order.
pub fn snippet(plan: &Plan, e: &Evaluation) -> String {
    let sp = &plan.spaces[e.space];
    let mut out = format!(
        "[consumer]\nstrategy = \"{}\"\n",
        strategy_name(sp.strategy)
    );
    for (a, &i) in sp.axes.iter().zip(&e.idx) {
        if let Some(v) = a.values.get(i) {
            out.push_str(&format!("{} = {v}\n", a.axis.name()));
        }
    }
    out
}

/// Thin-payload fetches per mailbox-day, the mean over a candidate's
/// seeds (what its webhooks cost at the API).
fn fetches_per_mailbox_day(e: &Evaluation) -> f64 {
    let per_run: Vec<f64> = e
        .reports
        .iter()
        .filter_map(|r| {
            let fetch = r.value("requests.fetch")?;
            let mailboxes = r.value("simulated.mailboxes")?;
            let days = r.value("simulated.days")?;
            (mailboxes > 0.0 && days > 0.0).then(|| fetch / mailboxes / days)
        })
        .collect();
    if per_run.is_empty() {
        0.0
    } else {
        per_run.iter().sum::<f64>() / per_run.len() as f64
    }
}

/// The frontier plot (cost in requests per mailbox-day against p99 lag)
/// of every evaluated candidate, drawn by [`plots::frontier`].
pub fn frontier(advice: &Advice) -> Result<String, AdviseError> {
    let points: Vec<PlotPoint> = advice
        .evaluated
        .iter()
        .map(|e| PlotPoint {
            label: format!("{}{}", e.label, if e.feasible { "" } else { " (fails)" }),
            strategy: e
                .reports
                .first()
                .map_or_else(String::new, |r| r.simulated.strategy.clone()),
            cost: e.mean("requests.per_mailbox_day").unwrap_or(0.0),
            latency: [
                e.mean("latency_ms.all.p50"),
                e.mean("latency_ms.all.p90"),
                e.mean("latency_ms.all.p99"),
                e.mean("latency_ms.all.p999"),
                e.mean("latency_ms.all.max"),
            ],
            loss: e.mean("changes.loss_rate").unwrap_or(0.0),
            recovery: e.mean("changes.recovery_rate").unwrap_or(0.0),
            reconcile_every_min: e
                .reports
                .first()
                .and_then(|r| r.simulated.reconcile_every_min),
            meets: e.feasible,
            lost: e.mean("changes.lost").unwrap_or(0.0),
            fetches: fetches_per_mailbox_day(e),
        })
        .collect();
    Ok(plots::frontier(&points, &[])?)
}

/// The metrics shown for the recommendation (with 95% CIs over every
/// seed it ran): the objective, the constraints' paths, then cost,
/// requests, latency and loss.
pub fn metric_paths(plan: &Plan) -> Vec<String> {
    const SHOWN: [&str; 7] = [
        "cost.month",
        "requests.per_mailbox_day",
        "latency_ms.all.p50",
        "latency_ms.all.p99",
        "latency_ms.all.max",
        "changes.lost",
        "changes.loss_rate",
    ];
    let mut out = vec![plan.objective.clone()];
    for p in plan.constraints.keys().map(String::as_str).chain(SHOWN) {
        if !out.iter().any(|o| o == p) {
            out.push(p.to_string());
        }
    }
    out
}

/// The human report of `advice`.
pub fn render(plan: &Plan, advice: &Advice) -> String {
    use crate::metrics::units::Unit;
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "advise {}: minimise {} subject to {}",
        plan.base.name,
        plan.objective,
        plan.constraints
            .iter()
            .flat_map(|(p, cs)| cs.0.iter().map(move |c| format!("{p} {}", c.brief(p))))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        out,
        "search seeds {:?}, confirmation seeds {:?}\n",
        plan.seeds, plan.confirm
    );
    match &advice.winner {
        Some(w) => {
            let _ = writeln!(out, "recommended: {}\n", w.label);
            out.push_str(&snippet(plan, w));
            let mut all = w.reports.clone();
            all.extend(advice.confirmed.iter().cloned());
            let e = Evaluation {
                reports: all,
                ..w.clone()
            };
            let _ = writeln!(
                out,
                "\nover {} seeds (search + confirmation; mean ± 95% CI):",
                e.reports.len()
            );
            for p in metric_paths(plan) {
                if let Some(s) = e.summary(&p) {
                    let unit = Unit::of(&p);
                    let _ = writeln!(
                        out,
                        "  {p:<28} {} ± {}",
                        unit.human(s.mean),
                        unit.brief(s.ci95)
                    );
                }
            }
        }
        None => {
            let _ = writeln!(out, "no configuration meets the constraints");
        }
    }
    for e in &advice.unconfirmed {
        let _ = writeln!(
            out,
            "  (passed the search but not the confirmation seeds: {}: {})",
            e.label,
            e.breaks()
        );
    }
    let _ = writeln!(out, "\nbest per strategy:");
    for (s, best, closest) in &advice.per_strategy {
        match (best, closest) {
            (Some(b), _) => {
                let _ = writeln!(
                    out,
                    "  {:<8} {}  {} = {}  p99 {}  lost {}",
                    strategy_name(*s),
                    b.label,
                    plan.objective,
                    Unit::of(&plan.objective).human(b.objective.mean),
                    b.mean("latency_ms.all.p99")
                        .map_or("-".into(), crate::output::table::fmt_ms),
                    b.mean("changes.lost").unwrap_or(0.0)
                );
            }
            (None, Some(c)) => {
                let _ = writeln!(
                    out,
                    "  {:<8} none passes; closest {}: {}",
                    strategy_name(*s),
                    c.label,
                    c.breaks()
                );
            }
            (None, None) => {
                let _ = writeln!(out, "  {:<8} not searched", strategy_name(*s));
            }
        }
    }
    let _ = writeln!(
        out,
        "\nruns: {} (search {} candidates × {} seeds, confirmation {}) against {} for the full grid ({} candidates × {} seeds)",
        advice.runs,
        advice.evaluated.len(),
        plan.seeds.len(),
        advice.runs - advice.evaluated.len() * plan.seeds.len(),
        advice.grid_runs,
        plan.spaces.iter().map(Space::size).sum::<usize>(),
        plan.seeds.len()
    );
    out
}
