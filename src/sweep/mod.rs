//! Sweeps: a scenario's `[sweep]` expands into points, each run for every
//! seed.
//!
//! ```toml
//! [sweep]
//! seeds = 3                                   # or a list: [1, 2, 3]
//! "consumer.poll_interval" = ["1m", "5m"]    # grid axes: every combination
//! [[sweep.variants]]                          # and/or named override sets
//! name = "hybrid 30m"
//! "consumer.strategy" = "hybrid"
//! "consumer.reconcile_every" = "30m"
//! ```
//!
//! Points are variants × grid (the last axis varies fastest), in file
//! order; every point is the base file with its overrides applied and
//! validated like any scenario. A grid axis that cannot change a variant
//! ([`key_applies`]) is scoped out of it: the variant's distinct
//! configurations run once each, showing the axis as [`NOT_APPLICABLE`].
//! A run's identity (its id) is a hash of its
//! point's scenario text, overrides, label and seed, so stored results can
//! be trusted on resume; a sweep of more than [`spec::MAX_RUNS`] runs is
//! refused before anything is expanded.

pub mod exec;
pub mod folder;
pub mod pool;
pub mod shard;
pub mod spec;
pub mod stats;
pub mod tables;

use crate::scenario::{parse, Format, Scenario, ScenarioError};
use sha2::{Digest, Sha256};
use spec::{Seg, Source};
use std::path::{Path, PathBuf};

/// One run of a sweep: a point and a seed.
#[derive(Clone, Debug)]
pub struct Run {
    /// Position of the point (not the seed) in the sweep.
    pub point: usize,
    /// Human label of the point, e.g. `hybrid 30m, source.mailboxes=100`.
    pub label: String,
    /// The overrides that make the point, as `(path, value)` text.
    pub overrides: Vec<(String, String)>,
    /// Grid axes that do not apply to this point's strategy, so it does
    /// not set them (shown as [`NOT_APPLICABLE`]).
    pub not_applicable: Vec<String>,
    /// The seed.
    pub seed: u64,
    /// The scenario to run (seed already set).
    pub scenario: Scenario,
    /// The run's id: a hash of the point's scenario text, its overrides,
    /// its label and the seed (the name of its stored file).
    pub hash: String,
}

impl Run {
    /// Runs the simulation and seals the report with the point's overrides.
    pub fn report(&self) -> crate::Report {
        run_point(&self.scenario, &self.overrides)
    }

    /// Runs the point under `driver` (see [`Driver::run`]).
    pub fn report_on(&self, driver: Driver) -> Result<crate::Report, crate::net::NetError> {
        driver.run(&self.scenario, &self.overrides)
    }
}

/// Which driver runs a scenario's points: `run`, `sweep`, `check` and
/// `trace` take `--driver des|net [--tick T]` and mean the same by it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Driver {
    /// The discrete-event engine.
    #[default]
    Des,
    /// Network mode: the provider and the reference consumer as turmoil
    /// hosts over simulated TCP (`crate::net`), with this tick.
    Net {
        /// Virtual time per turmoil step.
        tick: std::time::Duration,
    },
}

impl Driver {
    /// Network mode with `tick` (default: [`crate::net::NetOptions`]'s),
    /// checked before anything runs: a tick outside 1 ms to 1 s is an
    /// error here, not in every run of a sweep.
    pub fn net(tick: Option<std::time::Duration>) -> Result<Driver, crate::net::NetError> {
        let tick = tick.unwrap_or(crate::net::NetOptions::default().tick);
        let driver = Driver::Net { tick };
        driver.options(None).validate()?;
        Ok(driver)
    }

    /// The network-mode options of this driver (the default ones for the
    /// event engine), tracing `trace`.
    pub fn options(&self, trace: Option<crate::model::trace::Filter>) -> crate::net::NetOptions {
        let mut o = crate::net::NetOptions {
            trace,
            ..Default::default()
        };
        if let Driver::Net { tick } = *self {
            o.tick = tick;
        }
        o
    }

    /// Runs `scenario` and seals its report with the point's `overrides`:
    /// [`run_point`] under the event engine, the reference consumer under
    /// network mode. Network mode fails (its consumer, its options)
    /// where the event engine cannot.
    pub fn run(
        &self,
        scenario: &Scenario,
        overrides: &[(String, String)],
    ) -> Result<crate::Report, crate::net::NetError> {
        match self {
            Driver::Des => Ok(run_point(scenario, overrides)),
            Driver::Net { .. } => self.run_net(scenario, overrides, None).map(|r| r.report),
        }
    }

    /// A network-mode run of `scenario` (the reference consumer) with the
    /// point identity a sweep gives it, tracing `trace`.
    pub fn run_net(
        &self,
        scenario: &Scenario,
        overrides: &[(String, String)],
        trace: Option<crate::model::trace::Filter>,
    ) -> Result<crate::net::NetRun, crate::net::NetError> {
        let mut run = crate::net::run_reference(scenario.config(), &self.options(trace))?;
        crate::scenario::cost::apply(scenario, &mut run.report);
        if !overrides.is_empty() {
            run.report.point = overrides.iter().cloned().collect();
            run.report.seal();
        }
        Ok(run)
    }

    /// The command-line words that select this driver (none for the
    /// default event engine; `--tick` only when not the default).
    pub fn args(&self) -> Vec<String> {
        match *self {
            Driver::Des => Vec::new(),
            Driver::Net { tick } => {
                let mut v = vec!["--driver".to_string(), "net".to_string()];
                if tick != crate::net::NetOptions::default().tick {
                    v.push("--tick".into());
                    v.push(crate::engine::time::SimDuration(tick.as_micros() as u64).to_string());
                }
                v
            }
        }
    }

    /// The driver's part of a run's identity: `None` for the event
    /// engine (ids as before), else a name with the tick (a run at
    /// another tick is another run).
    pub fn identity(&self) -> Option<String> {
        match *self {
            Driver::Des => None,
            Driver::Net { tick } => Some(format!(
                "net tick={}",
                crate::engine::time::SimDuration(tick.as_micros() as u64)
            )),
        }
    }
}

/// A whole sweep: the runs in order (point-major, then seed).
#[derive(Clone, Debug)]
pub struct Sweep {
    /// The file it was expanded from.
    pub file: PathBuf,
    /// The base scenario's name.
    pub name: String,
    /// The base scenario (the file without its `[sweep]`).
    pub base: Scenario,
    /// Every run.
    pub runs: Vec<Run>,
    /// The override keys, in column order.
    pub keys: Vec<String>,
    /// `sweep --set` overrides applied to the base scenario.
    pub sets: Vec<(String, String)>,
    /// Hash of the base scenario (the file without `[sweep]`, canonical
    /// form): a folder of another base scenario is another sweep.
    pub scenario_hash: String,
    /// Hash of the expansion: every run id, in order.
    pub expanded_hash: String,
    /// Grid axes that cannot change some variant's runs (a poll interval
    /// beside a hybrid variant), scoped out of that variant.
    /// `sweep`, `check` and `validate` print them.
    pub warnings: Vec<String>,
    /// The driver its runs run on ([`Sweep::on`]; the event engine by
    /// default).
    pub driver: Driver,
}

impl Sweep {
    /// The same sweep run on `driver`. Under network mode every run id
    /// (and so the expansion's hash) also hashes the driver and its tick,
    /// so a folder's stored runs are never taken for another driver's.
    pub fn on(mut self, driver: Driver) -> Sweep {
        if let Some(id) = driver.identity() {
            for r in &mut self.runs {
                r.hash = short_hash([r.hash.as_bytes(), id.as_bytes()]);
            }
            self.expanded_hash = short_hash(
                std::iter::once(self.scenario_hash.as_bytes())
                    .chain(self.runs.iter().map(|r| r.hash.as_bytes())),
            );
        }
        self.driver = driver;
        self
    }
}

/// True when the scenario key `key` can change a run whose consumer has
/// `strategy`: polling settings act only on `poll`, reconciliation
/// settings only on `hybrid`, webhook and endpoint settings not on `poll`.
pub fn key_applies(key: &str, strategy: crate::scenario::consumer::Strategy) -> bool {
    use crate::scenario::consumer::Strategy;
    let under = |prefixes: &[&str]| {
        prefixes
            .iter()
            .any(|p| key == *p || key.starts_with(&format!("{p}.")))
    };
    if under(&[
        "consumer.poll_interval",
        "consumer.poll_jitter",
        "consumer.adaptive",
        "consumer.long_poll",
        "consumer.if_none_match",
    ]) {
        return strategy == Strategy::Poll;
    }
    if under(&["consumer.reconcile_every", "consumer.lookback"]) {
        return strategy == Strategy::Hybrid;
    }
    if under(&[
        "webhooks",
        "consumer.ack",
        "consumer.queue",
        "consumer.workers",
        "consumer.handler_time",
        "consumer.inbound_rate_limit",
        "consumer.processing_failure",
        "consumer.processing_attempts",
        "consumer.dedup",
    ]) {
        return strategy != Strategy::Poll;
    }
    true
}

/// Runs `scenario` and seals its report with the point's `overrides` (the
/// identity a sweep, `check` and `run --set` all give the run).
pub fn run_point(scenario: &Scenario, overrides: &[(String, String)]) -> crate::Report {
    let mut report = crate::run(scenario);
    if !overrides.is_empty() {
        report.point = overrides.iter().cloned().collect();
        report.seal();
    }
    report
}

/// First 16 hex digits of the SHA-256 of `parts` (each length-prefixed, so
/// no two lists of parts hash alike by concatenation).
pub fn short_hash<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A word as a POSIX shell reads it back: as is when it holds only safe
/// characters, otherwise in single quotes.
pub fn shell_quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The one-line, shell-quoted command that reproduces a run:
/// `syncsim run FILE --seed N --set k=v ...`.
pub fn repro(file: &Path, seed: u64, overrides: &[(String, String)]) -> String {
    repro_on(file, seed, overrides, Driver::Des)
}

/// [`repro`] for a run on `driver` (its `--driver`/`--tick` words after
/// the seed).
pub fn repro_on(file: &Path, seed: u64, overrides: &[(String, String)], driver: Driver) -> String {
    let mut cmd = format!(
        "syncsim run {} --seed {seed}",
        shell_quote(&file.display().to_string())
    );
    for w in driver.args() {
        cmd.push(' ');
        cmd.push_str(&w);
    }
    for (k, v) in overrides {
        cmd.push_str(" --set ");
        cmd.push_str(&shell_quote(&format!("{k}={v}")));
    }
    cmd
}

/// The one-line, shell-quoted `syncsim trace` command that follows a
/// run's lost changes (`--lost`, when it lost some) or else its five
/// slowest (`--worst 5`): what to run after a breach.
pub fn trace_command(
    file: &Path,
    seed: u64,
    overrides: &[(String, String)],
    driver: Driver,
    lost: bool,
) -> String {
    let run = repro_on(file, seed, overrides, driver);
    let args = run.strip_prefix("syncsim run ").unwrap_or(&run);
    format!(
        "syncsim trace {args} {}",
        if lost { "--lost" } else { "--worst 5" }
    )
}

/// The file at `path`: its text, and its content as a TOML table (JSON
/// files too), for overrides.
pub fn read_table(path: &Path) -> Result<(Source, toml::Table), ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
        file: file.clone(),
        source,
    })?;
    let format = Format::of(path);
    let src = Source { file, text, format };
    let table = match format {
        Format::Toml => toml::from_str(&src.text).map_err(|e| src.err(&[], "", e.to_string()))?,
        Format::Json => {
            serde_json::from_str(&src.text).map_err(|e| src.err(&[], "", e.to_string()))?
        }
    };
    Ok((src, table))
}

/// Checks the file, its `[sweep]` table and every point of the sweep
/// (each a valid scenario, at most [`spec::MAX_RUNS`] runs) without running
/// anything: what `validate`, `run` and `check` report for a bad `[sweep]`,
/// with the line and column in the file of the key or value at fault.
pub fn check_file(path: &Path) -> Result<(), ScenarioError> {
    expand(path).map(drop)
}

/// Expands the sweep in the file at `path`. A file without `[sweep]` is one
/// point with its own seed.
pub fn expand(path: &Path) -> Result<Sweep, ScenarioError> {
    expand_with(path, &[])
}

/// Expands the sweep in the file at `path` with `sets` (`sweep --set
/// k=v`, read like `run --set`) applied to the base scenario first: every
/// point starts from the changed base, and a point's own override of the
/// same key wins. Each run's overrides start with the `sets` it keeps, so
/// its repro line and report carry them.
///
/// A grid axis that cannot change a variant ([`key_applies`]: a poll
/// interval beside a hybrid) is scoped out of that variant: its points
/// run once, without the axis, labelled `key=—`
/// ([`NOT_APPLICABLE`]), and a warning says so.
pub fn expand_with(path: &Path, sets: &[(String, String)]) -> Result<Sweep, ScenarioError> {
    let mut base = crate::scenario::load(path)?;
    let (src, mut table) = read_table(path)?;
    let sweep = table.remove("sweep");
    if !sets.is_empty() {
        apply_sets(&src, &mut table, sets)?;
        let text = toml::to_string(&table).map_err(|e| src.err(&[], "", e.to_string()))?;
        base = parse(&text, &src.file, Format::Toml).map_err(|e| src.set_error(e, sets))?;
    }
    let spec = match sweep {
        None => spec::Spec::single(base.seed),
        Some(sweep) => spec::Spec::parse(&src, &sweep, base.seed)?,
    };
    let base_text = toml::to_string(&table).map_err(|e| src.err(&[], "", e.to_string()))?;
    let scenario_hash = short_hash([base_text.as_bytes()]);
    let mut keys: Vec<String> = Vec::new();
    for v in &spec.variants {
        for (k, _) in &v.sets {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys.extend(spec.axes.iter().map(|a| a.key.clone()));
    // Every combination of axis values, as indices (the last varies fastest).
    let mut combos: Vec<Vec<usize>> = vec![Vec::new()];
    for axis in &spec.axes {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                (0..axis.values.len()).map(move |j| {
                    let mut c = c.clone();
                    c.push(j);
                    c
                })
            })
            .collect();
    }
    let mut runs = Vec::new();
    let mut labels: std::collections::BTreeMap<String, usize> = Default::default();
    let mut point = 0;
    let mut warnings = Vec::new();
    for v in &spec.variants {
        // The effective points of this variant seen so far: a scoped axis
        // makes several combinations one point, run once.
        let mut seen: std::collections::BTreeSet<Vec<(String, String)>> = Default::default();
        // (axis, strategy) pairs scoped out of this variant, for warnings.
        let mut scoped_here: Vec<(String, &'static str)> = Vec::new();
        for combo in combos.iter() {
            let mut t = table.clone();
            let mut overrides = Vec::new();
            // Where each override was written in the file, for messages.
            let mut places: Vec<(String, Vec<Seg>)> = Vec::new();
            for (k, value) in &v.sets {
                let at = v.place(k);
                set_path(&mut t, k, value.clone()).map_err(|m| src.err(&at, k, m))?;
                overrides.push((k.clone(), show(value)));
                places.push((k.clone(), at));
            }
            // The strategy this point runs, with every axis set (an axis
            // may set it): the axes it cannot use are left out.
            let strategy = {
                let mut full = t.clone();
                for (axis, &j) in spec.axes.iter().zip(combo) {
                    let _ = set_path(&mut full, &axis.key, axis.values[j].clone());
                }
                strategy_of(&full)
            };
            let mut shown = Vec::new();
            let mut not_applicable = Vec::new();
            for (axis, &j) in spec.axes.iter().zip(combo) {
                if let Some(s) = strategy.filter(|s| !key_applies(&axis.key, *s)) {
                    let name = strategy_name(s);
                    if !scoped_here
                        .iter()
                        .any(|(k, n)| *k == axis.key && *n == name)
                    {
                        scoped_here.push((axis.key.clone(), name));
                    }
                    not_applicable.push(axis.key.clone());
                    shown.push((axis.key.clone(), NOT_APPLICABLE.to_string()));
                    continue;
                }
                let at = axis.place(j);
                set_path(&mut t, &axis.key, axis.values[j].clone())
                    .map_err(|m| src.err(&at, &axis.key, m))?;
                overrides.push((axis.key.clone(), show(&axis.values[j])));
                shown.push((axis.key.clone(), show(&axis.values[j])));
                places.push((axis.key.clone(), at));
            }
            if !seen.insert(overrides.clone()) {
                continue; // the same run as a point already expanded
            }
            let grid: Vec<(String, String)> = overrides[..v.sets.len()]
                .iter()
                .cloned()
                .chain(shown)
                .collect();
            let label = label(v.name.as_deref(), &grid, v.sets.len());
            if let Some(first) = labels.insert(label.clone(), point) {
                return Err(src.err(
                    &v.place_self(),
                    "sweep.variants",
                    format!(
                        "points {first} and {point} are both labelled `{}`: give the variants different names",
                        spec::echo(&label)
                    ),
                ));
            }
            let point_text = toml::to_string(&t).map_err(|e| src.err(&[], "", e.to_string()))?;
            let scenario = parse(&point_text, &src.file, Format::Toml)
                .map_err(|e| src.point_error(e, &label, &places))?;
            // The `--set` overrides the point does not override itself
            // come first: with them, `repro` gives the same run.
            let kept: Vec<(String, String)> = sets
                .iter()
                .filter(|(k, _)| !overrides.iter().any(|(o, _)| o == k))
                .cloned()
                .collect();
            let overrides: Vec<(String, String)> = kept.into_iter().chain(overrides).collect();
            for &seed in &spec.seeds {
                let s = crate::scenario::reseed(scenario.clone(), seed, &src.file)?;
                let mut parts: Vec<Vec<u8>> = vec![
                    point_text.as_bytes().to_vec(),
                    seed.to_le_bytes().to_vec(),
                    label.as_bytes().to_vec(),
                ];
                for (k, v) in &overrides {
                    parts.push(k.as_bytes().to_vec());
                    parts.push(v.as_bytes().to_vec());
                }
                let hash = short_hash(parts.iter().map(Vec::as_slice));
                runs.push(Run {
                    point,
                    label: label.clone(),
                    overrides: overrides.clone(),
                    not_applicable: not_applicable.clone(),
                    seed,
                    scenario: s,
                    hash,
                });
            }
            point += 1;
        }
        let name = v.name.as_deref().unwrap_or("base");
        for (key, strategy) in scoped_here {
            let n = spec
                .axes
                .iter()
                .find(|a| a.key == key)
                .map_or(0, |a| a.values.len());
            warnings.push(format!(
                "grid axis `{}` does not apply to variant `{name}` (strategy {strategy}): its {n} values would give {n} identical points, so the variant runs once per other setting and shows the axis as {NOT_APPLICABLE}; set it in the variants it applies to instead of the grid",
                spec::echo(&key),
            ));
        }
    }
    let expanded_hash = short_hash(
        std::iter::once(scenario_hash.as_bytes()).chain(runs.iter().map(|r| r.hash.as_bytes())),
    );
    Ok(Sweep {
        file: path.to_path_buf(),
        name: base.name.clone(),
        base,
        runs,
        keys,
        sets: sets.to_vec(),
        scenario_hash,
        expanded_hash,
        warnings,
        driver: Driver::Des,
    })
}

/// How a table, a CSV cell, a label and the JSON export show a grid axis
/// that does not apply to a point (see [`expand_with`]).
pub const NOT_APPLICABLE: &str = "—";

/// The consumer strategy a scenario table sets, if it names a valid one.
fn strategy_of(table: &toml::Table) -> Option<crate::scenario::consumer::Strategy> {
    table
        .get("consumer")?
        .get("strategy")?
        .clone()
        .try_into()
        .ok()
}

/// A strategy's name as scenario files write it.
fn strategy_name(s: crate::scenario::consumer::Strategy) -> &'static str {
    use crate::scenario::consumer::Strategy;
    match s {
        Strategy::Poll => "poll",
        Strategy::Webhook => "webhook",
        Strategy::Hybrid => "hybrid",
    }
}

/// Applies `--set` overrides (`run --set`, `sweep --set`) to a scenario
/// file's table; a path that cannot be set is an error naming its key.
fn apply_sets(
    src: &Source,
    table: &mut toml::Table,
    sets: &[(String, String)],
) -> Result<(), ScenarioError> {
    for (k, v) in sets {
        if k == "sweep" || k.starts_with("sweep.") {
            return Err(src.err(
                &[],
                k,
                format!(
                    "`--set {}` would change the [sweep] itself; --set changes the scenario the sweep starts from; edit [sweep] in the file instead",
                    spec::echo(k)
                ),
            ));
        }
        set_path(table, k, parse_value(v)).map_err(|m| {
            src.err(
                &[],
                k,
                format!("{m} (from `--set {}={}`)", spec::echo(k), spec::echo(v)),
            )
        })?;
    }
    Ok(())
}

/// A value as it would be written on the command line (`--set k=v`).
pub fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn label(name: Option<&str>, overrides: &[(String, String)], from_variant: usize) -> String {
    let grid: Vec<String> = overrides[from_variant..]
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    match (name, grid.is_empty()) {
        (Some(n), true) => n.to_string(),
        (Some(n), false) => format!("{n}, {}", grid.join(", ")),
        (None, false) => grid.join(", "),
        (None, true) => {
            let all: Vec<String> = overrides.iter().map(|(k, v)| format!("{k}={v}")).collect();
            if all.is_empty() {
                "base".into()
            } else {
                all.join(", ")
            }
        }
    }
}

/// Sets `value` at the dotted `path` (`consumer.poll_interval`,
/// `faults[0].for`), creating tables on the way.
pub fn set_path(table: &mut toml::Table, path: &str, value: toml::Value) -> Result<(), String> {
    let mut parts: Vec<(String, Option<usize>)> = Vec::new();
    for seg in path.split('.') {
        match seg.split_once('[') {
            Some((k, rest)) => {
                let i: usize = rest
                    .trim_end_matches(']')
                    .parse()
                    .map_err(|_| format!("bad index in `{path}`"))?;
                parts.push((k.to_string(), Some(i)));
            }
            None => parts.push((seg.to_string(), None)),
        }
    }
    let Some(((last, last_index), init)) = parts.split_last() else {
        return Err("empty path".into());
    };
    let mut cur = table;
    for (k, idx) in init {
        let entry = cur
            .entry(k.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let next = match (entry, idx) {
            (toml::Value::Table(t), None) => t,
            (toml::Value::Array(a), Some(i)) => match a.get_mut(*i) {
                Some(toml::Value::Table(t)) => t,
                _ => return Err(format!("`{path}`: no table at index {i}")),
            },
            _ => return Err(format!("`{path}`: `{k}` is not a table")),
        };
        cur = next;
    }
    match last_index {
        None => {
            cur.insert(last.clone(), value);
        }
        Some(i) => match cur.get_mut(last) {
            Some(toml::Value::Array(a)) if *i < a.len() => a[*i] = value,
            _ => return Err(format!("`{path}`: no element {i}")),
        },
    }
    Ok(())
}

/// Parses `text` as a TOML value (`5`, `"1m"`, `true`, `[1, 2]`), or takes
/// it as a plain string (`1m`, `hybrid`).
pub fn parse_value(text: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

/// Loads a scenario with `path=value` overrides applied (for `run --set`,
/// which reproduces one point of a sweep).
pub fn load_with(path: &Path, sets: &[(String, String)]) -> Result<Scenario, ScenarioError> {
    check_file(path)?; // the file itself, `[sweep]` included, must be valid
    if sets.is_empty() {
        return crate::scenario::load(path);
    }
    let (src, mut table) = read_table(path)?;
    apply_sets(&src, &mut table, sets)?;
    let point_text = toml::to_string(&table).map_err(|e| src.err(&[], "", e.to_string()))?;
    parse(&point_text, &src.file, Format::Toml).map_err(|e| src.set_error(e, sets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_path_creates_and_indexes() {
        let mut t: toml::Table =
            toml::from_str("[consumer]\nstrategy = 'poll'\n[[faults]]\nkind = 'drop'\n").unwrap();
        set_path(
            &mut t,
            "consumer.poll_interval",
            toml::Value::String("1m".into()),
        )
        .unwrap();
        set_path(&mut t, "faults[0].probability", toml::Value::Float(0.5)).unwrap();
        set_path(
            &mut t,
            "source.rate_limit.global_per_s",
            toml::Value::Integer(5),
        )
        .unwrap();
        let text = toml::to_string(&t).unwrap();
        assert!(
            text.contains("poll_interval = \"1m\"")
                && text.contains("probability = 0.5")
                && text.contains("global_per_s = 5"),
            "{text}"
        );
        assert!(set_path(&mut t, "faults[3].x", toml::Value::Integer(1)).is_err());
    }

    /// Repro lines survive a shell: split by an independent POSIX-shell
    /// word splitter (shlex), they give back the exact arguments, even for
    /// paths and values with spaces, quotes and `$`.
    #[test]
    fn repro_lines_are_shell_quoted() {
        let file = Path::new("my scenarios/it's $HOME.toml");
        let sets = vec![
            ("name".to_string(), "a b".to_string()),
            ("consumer.poll_interval".to_string(), "1m".to_string()),
            ("x".to_string(), "'q' \"d\" `c` !".to_string()),
        ];
        let line = repro(file, 7, &sets);
        assert!(line.contains(" --set consumer.poll_interval=1m"), "{line}");
        let words = shlex::split(&line).expect("a valid shell line");
        assert_eq!(
            words,
            [
                "syncsim",
                "run",
                "my scenarios/it's $HOME.toml",
                "--seed",
                "7",
                "--set",
                "name=a b",
                "--set",
                "consumer.poll_interval=1m",
                "--set",
                "x='q' \"d\" `c` !",
            ]
        );
    }
}
