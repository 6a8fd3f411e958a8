//! A sweep's outputs: `results.csv` (one row per point × seed),
//! `summary.csv` (one row per point: mean, sd and 95% CI per metric),
//! `report.md` (the comparison and a recommendation), and the comparison
//! table printed on stdout. All rebuilt from stored results by
//! `syncsim report`.

use super::exec::Stored;
use super::folder::{Collected, Meta};
use super::stats::{summarize, Summary};
use super::NOT_APPLICABLE;
use crate::metrics::report::{check_with, lookup};
use crate::output::plots::{FrontierAxis, Plot, PlotError, PlotPoint, ThresholdLine};
use crate::output::table::{fmt_count, fmt_money, fmt_ms};
use crate::output::write_atomic;
use crate::scenario::{CheckResult, Thresholds};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The metrics every table reports: (report path, short name).
pub const METRICS: [(&str, &str); 22] = [
    ("requests.per_mailbox_day", "requests_per_mailbox_day"),
    ("requests.peak_rps", "peak_rps"),
    (
        "capacity.source_requests_per_day",
        "source_requests_per_day",
    ),
    (
        "capacity.source_requests_per_month",
        "source_requests_per_month",
    ),
    ("capacity.source_rate_limited", "source_rate_limited"),
    ("capacity.inbound_peak_rps", "inbound_peak_rps"),
    ("capacity.inbound_per_day", "inbound_per_day"),
    ("capacity.inbound_per_month", "inbound_per_month"),
    ("capacity.inbound_rate_limited", "inbound_rate_limited"),
    ("webhooks.redundant", "redundant_deliveries"),
    ("latency_ms.all.mean", "latency_mean_ms"),
    ("latency_ms.all.p50", "latency_p50_ms"),
    ("latency_ms.all.p90", "latency_p90_ms"),
    ("latency_ms.all.p99", "latency_p99_ms"),
    ("latency_ms.all.p999", "latency_p999_ms"),
    ("latency_ms.all.max", "latency_max_ms"),
    ("changes.generated", "generated"),
    ("changes.lost", "lost"),
    ("changes.loss_rate", "loss_rate"),
    ("changes.recovery_rate", "recovery_rate"),
    ("consistency.divergent_messages", "divergent_messages"),
    ("consistency.stale_overwrites", "stale_overwrites"),
];

/// The cost metrics (report path, short name): columns of the CSVs and the
/// tables only when the runs have a `cost` section (`[cost]`), so sweeps
/// without prices keep their outputs.
pub const COST_METRICS: [(&str, &str); 5] = [
    ("cost.month", "cost_month"),
    ("cost.per_mailbox_month", "cost_per_mailbox_month"),
    ("cost.requests_month", "cost_requests_month"),
    ("cost.deliveries_month", "cost_deliveries_month"),
    ("cost.workers_month", "cost_workers_month"),
];

/// The quota metrics (report path, short name): CSV columns only when
/// the runs have a `quota` section (`[source] quota`); a limit the quota
/// lacks leaves its cells empty.
pub const QUOTA_METRICS: [(&str, &str); 5] = [
    (
        "quota.mailbox_window_peak_fraction",
        "quota_mailbox_window_peak_fraction",
    ),
    (
        "quota.project_window_peak_fraction",
        "quota_project_window_peak_fraction",
    ),
    ("quota.daily_peak_fraction", "quota_daily_peak_fraction"),
    (
        "quota.concurrent_peak_fraction",
        "quota_concurrent_peak_fraction",
    ),
    ("quota.rate_limited", "quota_rate_limited"),
];

/// Every metric a point is summarised on: [`METRICS`], then
/// [`COST_METRICS`], then [`QUOTA_METRICS`].
fn all_metrics() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    METRICS
        .iter()
        .chain(COST_METRICS.iter())
        .chain(QUOTA_METRICS.iter())
}

/// The metrics the CSVs show: [`METRICS`], [`COST_METRICS`] when
/// `priced`, [`QUOTA_METRICS`] when the runs have a `quota` section.
fn shown_metrics(priced: bool, quota: bool) -> Vec<(&'static str, &'static str)> {
    METRICS
        .iter()
        .chain(COST_METRICS.iter().filter(|_| priced))
        .chain(QUOTA_METRICS.iter().filter(|_| quota))
        .copied()
        .collect()
}

/// True when some stored run has a `cost` section.
fn priced<'a>(reports: impl IntoIterator<Item = &'a serde_json::Value>) -> bool {
    has_section(reports, "cost")
}

/// True when some stored run has a `section` section.
fn has_section<'a>(
    reports: impl IntoIterator<Item = &'a serde_json::Value>,
    section: &str,
) -> bool {
    reports.into_iter().any(|r| r.get(section).is_some())
}

/// Why a sweep's outputs could not be written. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Writing a file failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Building a CSV table failed.
    #[error("cannot write {}: {source}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// What the CSV writer said.
        source: csv::Error,
    },
    /// Drawing a plot failed.
    #[error("cannot write {}: {source}", path.display())]
    Plot {
        /// The file.
        path: PathBuf,
        /// What failed in the drawing.
        source: PlotError,
    },
}

impl WriteError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            WriteError::Io { path, .. }
            | WriteError::Csv { path, .. }
            | WriteError::Plot { path, .. } => path,
        }
    }
}

fn cell(x: Option<f64>) -> String {
    x.map_or(String::new(), clean)
}

/// A number for a CSV cell without float noise: at most 9 significant
/// digits (a mean of 46.111 three times is `46.111`, not
/// `46.111000000000004`), integers as integers.
pub fn clean(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    if v == 0.0 {
        return "0".into();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let magnitude = if v == 0.0 {
        0
    } else {
        v.abs().log10().floor() as i32 + 1
    };
    let decimals = (9 - magnitude).clamp(0, 15) as usize;
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// One point's results across its seeds.
pub struct PointSummary<'a> {
    /// Position of the point in the sweep.
    pub point: usize,
    /// The point's label.
    pub label: String,
    /// The point's overrides.
    pub overrides: Vec<(String, String)>,
    /// The finished runs (one per seed that did not crash).
    pub runs: Vec<&'a Stored>,
    /// Seeds whose run crashed.
    pub crashed: Vec<u64>,
    /// Per metric of [`METRICS`], then of [`COST_METRICS`].
    pub metrics: Vec<Option<Summary>>,
    /// True when every seed ran and meets every threshold (vacuously
    /// without thresholds).
    pub meets: bool,
}

/// Groups a folder's runs by the points of `meta` (every point, in order,
/// even one whose every run crashed) and summarises them.
pub fn by_point<'a>(meta: &Meta, collected: &'a Collected) -> Vec<PointSummary<'a>> {
    let thresholds = meta.thresholds();
    let mut points: Vec<PointSummary> = meta
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| PointSummary {
            point: i,
            label: p.label.clone(),
            overrides: p.overrides.clone(),
            runs: Vec::new(),
            crashed: Vec::new(),
            metrics: Vec::new(),
            meets: true,
        })
        .collect();
    for r in &collected.results {
        points[r.point].runs.push(r);
    }
    for c in &collected.crashes {
        if let Some(p) = points.iter_mut().find(|p| p.label == c.label) {
            p.crashed.push(c.seed);
        }
    }
    for p in &mut points {
        p.metrics = all_metrics()
            .map(|(path, _)| {
                summarize(
                    &p.runs
                        .iter()
                        .filter_map(|r| lookup(&r.report, path))
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        p.meets = p.crashed.is_empty()
            && !p.runs.is_empty()
            && p.runs
                .iter()
                .all(|r| checks(&r.report, &thresholds).iter().all(|c| c.pass));
    }
    points
}

/// Threshold results for one stored report.
pub fn checks(report: &serde_json::Value, thresholds: &Thresholds) -> Vec<CheckResult> {
    check_with(thresholds, |path| lookup(report, path))
}

/// Writes `results.csv`, `summary.csv`, `report.md` and the plots into
/// `dir`. Crashed runs have no row in `results.csv`; `summary.csv` counts
/// them per point and `report.md` lists them with their repro lines.
pub fn write_all(dir: &Path, meta: &Meta, collected: &Collected) -> Result<(), WriteError> {
    let points = by_point(meta, collected);
    let write = |name: &str, contents: &[u8]| {
        let path = dir.join(name);
        write_atomic(&path, contents).map_err(|source| WriteError::Io { path, source })
    };
    let csv = |name: &str, table: Result<Vec<u8>, csv::Error>| {
        table.map_err(|source| WriteError::Csv {
            path: dir.join(name),
            source,
        })
    };
    write(
        "results.csv",
        &csv("results.csv", results_csv(meta, &collected.results))?,
    )?;
    write(
        "summary.csv",
        &csv("summary.csv", summary_csv(meta, &points))?,
    )?;
    write("report.md", markdown(meta, &points, collected).as_bytes())?;
    let plot_points = plot_points(&points);
    let lines = threshold_lines(meta);
    for plot in Plot::ALL {
        let svg = plot
            .render(&plot_points, &lines)
            .map_err(|source| WriteError::Plot {
                path: dir.join(plot.file_name()),
                source,
            })?;
        write(plot.file_name(), svg.as_bytes())?;
    }
    Ok(())
}

/// What `--export-json`, `--export-csv` and `--export-markdown` write
/// (hyperfine's flags), for `run` and `sweep`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    /// JSON: a sweep's points with their settings and per-metric mean, sd
    /// and 95% CI; a run's full report.
    Json,
    /// CSV: a sweep's `summary.csv`; a run's `results.csv` row.
    Csv,
    /// Markdown: the comparison table of `report.md`.
    Markdown,
}

impl Export {
    /// The flag that asks for it.
    pub fn flag(self) -> &'static str {
        match self {
            Export::Json => "--export-json",
            Export::Csv => "--export-csv",
            Export::Markdown => "--export-markdown",
        }
    }
}

/// A sweep folder's results as `kind` (see [`Export`]).
pub fn export_sweep(
    kind: Export,
    meta: &Meta,
    collected: &Collected,
) -> Result<Vec<u8>, csv::Error> {
    let points = by_point(meta, collected);
    Ok(match kind {
        Export::Json => {
            let mut text =
                serde_json::to_string_pretty(&points_json(meta, &points)).unwrap_or_default();
            text.push('\n');
            text.into_bytes()
        }
        Export::Csv => summary_csv(meta, &points)?,
        Export::Markdown => {
            let mut md = comparison_markdown(&points);
            md.push_str(CI_NOTE);
            md.into_bytes()
        }
    })
}

/// One run's results as `kind`: the JSON report itself, its
/// `results.csv` row, or the comparison table with its one row.
pub fn export_run(kind: Export, meta: &Meta, collected: &Collected) -> Result<Vec<u8>, csv::Error> {
    Ok(match kind {
        // The report as `run --out` writes it (its own field order).
        Export::Json => collected
            .results
            .first()
            .and_then(|r| serde_json::from_value::<crate::Report>(r.report.clone()).ok())
            .map_or_else(Vec::new, |r| r.to_json().into_bytes()),
        Export::Csv => results_csv(meta, &collected.results)?,
        Export::Markdown => comparison_markdown(&by_point(meta, collected)).into_bytes(),
    })
}

/// The line under an exported comparison table that says what `±` is.
const CI_NOTE: &str =
    "\nValues are means over seeds; ± is the half-width of the 95% confidence interval.\n";

/// A single run (`syncsim run`) as a sweep of one point and one seed, so
/// its exports are the same tables as a sweep's.
pub fn single_run(
    file: &Path,
    scenario: &crate::Scenario,
    sets: &[(String, String)],
    report: &crate::Report,
) -> (Meta, Collected) {
    let label = scenario.name.clone();
    let meta = Meta {
        format: super::folder::FORMAT,
        name: scenario.name.clone(),
        file: file.display().to_string(),
        keys: sets.iter().map(|(k, _)| k.clone()).collect(),
        sets: Vec::new(),
        thresholds: super::folder::thresholds_text(&scenario.thresholds),
        scenario: String::new(),
        expanded: String::new(),
        driver: None,
        points: vec![super::folder::PlannedPoint {
            label: label.clone(),
            overrides: sets.to_vec(),
            not_applicable: Vec::new(),
            runs: vec![super::folder::PlannedRun {
                seed: report.seed,
                id: report.digest.clone(),
            }],
        }],
    };
    let collected = Collected {
        results: vec![Stored {
            hash: report.digest.clone(),
            point: 0,
            label,
            overrides: sets.to_vec(),
            seed: report.seed,
            report: serde_json::to_value(report).unwrap_or_default(),
        }],
        ..Collected::default()
    };
    (meta, collected)
}

/// The JSON export of a sweep: what it ran, then per point its settings
/// (a grid axis that does not apply shows as [`NOT_APPLICABLE`]), seeds,
/// whether it meets the thresholds, and per metric the mean, sd and 95%
/// CI half-width over seeds, at full precision.
fn points_json(meta: &Meta, points: &[PointSummary]) -> serde_json::Value {
    use serde_json::json;
    let points: Vec<serde_json::Value> = points
        .iter()
        .map(|p| {
            let scoped = meta
                .points
                .get(p.point)
                .map_or(&[][..], |m| m.not_applicable.as_slice());
            let settings: serde_json::Map<String, serde_json::Value> = meta
                .keys
                .iter()
                .filter_map(|k| setting(meta, p.point, &p.overrides, k).map(|v| (k.clone(), json!(v))))
                .collect();
            let metrics: serde_json::Map<String, serde_json::Value> = METRICS
                .iter()
                .zip(&p.metrics)
                .filter_map(|((_, name), m)| {
                    m.map(|s| {
                        (
                            name.to_string(),
                            json!({"mean": s.mean, "sd": s.sd, "ci95": s.ci95}),
                        )
                    })
                })
                .collect();
            json!({
                "point": p.point,
                "label": p.label,
                "settings": settings,
                "not_applicable": scoped,
                "seeds": p.runs.iter().map(|r| r.seed).collect::<Vec<_>>(),
                "digests": p.runs.iter().map(|r| r.report.get("digest").cloned().unwrap_or_default()).collect::<Vec<_>>(),
                "crashed": p.crashed,
                "meets_thresholds": p.meets,
                "metrics": metrics,
            })
        })
        .collect();
    json!({
        "name": meta.name,
        "file": meta.file,
        "sets": meta.sets.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "thresholds": meta.thresholds,
        "ci": "ci95 is the half-width of the 95% confidence interval of the mean over seeds (Student's t)",
        "points": points,
    })
}

/// The thresholds on the frontier's axes (requests per mailbox-day, p99
/// lag), as lines to draw.
pub fn threshold_lines(meta: &Meta) -> Vec<ThresholdLine> {
    let mut out = Vec::new();
    for (path, conditions) in &meta.thresholds() {
        let (axis, scale, name) = match path.as_str() {
            "requests.per_mailbox_day" => (FrontierAxis::Cost, 1.0, "requests/mailbox-day"),
            "latency_ms.all.p99" => (FrontierAxis::P99, 60_000.0, "p99 lag"),
            _ => continue,
        };
        for c in &conditions.0 {
            if let Some(v) = c.value_for(path) {
                out.push(ThresholdLine {
                    axis,
                    value: v / scale,
                    text: format!("{name} {}", c.brief(path)),
                });
            }
        }
    }
    out
}

/// Means over seeds, in the shape the plots take.
pub fn plot_points(points: &[PointSummary]) -> Vec<PlotPoint> {
    let mean = |p: &PointSummary, path: &str| metric(p, path).map(|s| s.mean);
    points
        .iter()
        .filter(|p| !p.runs.is_empty())
        .map(|p| {
            let report = &p.runs[0].report;
            PlotPoint {
                label: p.label.clone(),
                strategy: report["simulated"]["strategy"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                cost: mean(p, "requests.per_mailbox_day").unwrap_or(0.0),
                latency: [
                    mean(p, "latency_ms.all.p50"),
                    mean(p, "latency_ms.all.p90"),
                    mean(p, "latency_ms.all.p99"),
                    mean(p, "latency_ms.all.p999"),
                    mean(p, "latency_ms.all.max"),
                ],
                loss: mean(p, "changes.loss_rate").unwrap_or(0.0),
                recovery: mean(p, "changes.recovery_rate").unwrap_or(0.0),
                reconcile_every_min: report["simulated"]["reconcile_every_min"].as_f64(),
                meets: p.meets,
                lost: mean(p, "changes.lost").unwrap_or(0.0),
                fetches: summarize(
                    &p.runs
                        .iter()
                        .filter_map(|r| {
                            let fetch = lookup(&r.report, "requests.fetch")?;
                            let mailboxes = lookup(&r.report, "simulated.mailboxes")?;
                            let days = lookup(&r.report, "simulated.days")?;
                            Some(fetch / mailboxes / days)
                        })
                        .collect::<Vec<_>>(),
                )
                .map_or(0.0, |s| s.mean),
            }
        })
        .collect()
}

/// The columns every CSV starts with: point, label, one per override key.
fn lead_header(meta: &Meta) -> Vec<String> {
    let mut header = vec!["point".to_string(), "label".into()];
    header.extend(meta.keys.iter().cloned());
    header
}

/// The cells under [`lead_header`] for one point (empty where the point
/// does not set a key, [`NOT_APPLICABLE`] where a grid axis does not apply
/// to it).
fn lead_cells(
    meta: &Meta,
    point: usize,
    label: &str,
    overrides: &[(String, String)],
) -> Vec<String> {
    let mut row = vec![point.to_string(), label.to_string()];
    row.extend(
        meta.keys
            .iter()
            .map(|k| setting(meta, point, overrides, k).unwrap_or_default()),
    );
    row
}

/// What point `point` (with `overrides`) sets the key `k` to:
/// [`NOT_APPLICABLE`] for a grid axis scoped out of it, `None` when it
/// does not set the key.
fn setting(meta: &Meta, point: usize, overrides: &[(String, String)], k: &str) -> Option<String> {
    let scoped = meta
        .points
        .get(point)
        .is_some_and(|p| p.not_applicable.iter().any(|s| s == k));
    if scoped {
        return Some(NOT_APPLICABLE.to_string());
    }
    overrides
        .iter()
        .find(|(o, _)| o == k)
        .map(|(_, v)| v.clone())
}

/// A CSV file's bytes.
fn csv_bytes(
    header: &[String],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    for row in rows {
        w.write_record(&row)?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

fn results_csv(meta: &Meta, results: &[Stored]) -> Result<Vec<u8>, csv::Error> {
    let metrics = shown_metrics(
        priced(results.iter().map(|r| &r.report)),
        has_section(results.iter().map(|r| &r.report), "quota"),
    );
    let mut header = lead_header(meta);
    header.extend(["seed".to_string(), "digest".into()]);
    header.extend(metrics.iter().map(|(_, n)| n.to_string()));
    let rows = results.iter().map(|r| {
        let mut row = lead_cells(meta, r.point, &r.label, &r.overrides);
        row.push(r.seed.to_string());
        row.push(
            r.report
                .get("digest")
                .and_then(|d| d.as_str())
                .unwrap_or("")
                .to_string(),
        );
        row.extend(metrics.iter().map(|(p, _)| cell(lookup(&r.report, p))));
        row
    });
    csv_bytes(&header, rows)
}

fn summary_csv(meta: &Meta, points: &[PointSummary]) -> Result<Vec<u8>, csv::Error> {
    let metrics = shown_metrics(
        priced_points(points),
        has_section(
            points.iter().flat_map(|p| p.runs.iter().map(|r| &r.report)),
            "quota",
        ),
    );
    let mut header = lead_header(meta);
    header.extend([
        "seeds".to_string(),
        "crashed".into(),
        "meets_thresholds".into(),
    ]);
    for (_, n) in &metrics {
        header.extend([format!("{n}_mean"), format!("{n}_sd"), format!("{n}_ci95")]);
    }
    let rows = points.iter().map(|p| {
        let mut row = lead_cells(meta, p.point, &p.label, &p.overrides);
        row.push(p.runs.len().to_string());
        row.push(p.crashed.len().to_string());
        row.push(p.meets.to_string());
        for m in metrics.iter().map(|(path, _)| metric(p, path)) {
            row.extend([
                cell(m.map(|s| s.mean)),
                cell(m.map(|s| s.sd)),
                cell(m.map(|s| s.ci95)),
            ]);
        }
        row
    });
    csv_bytes(&header, rows)
}

fn metric(p: &PointSummary, path: &str) -> Option<Summary> {
    all_metrics()
        .position(|(m, _)| *m == path)
        .and_then(|i| p.metrics.get(i).copied().flatten())
}

/// True when some point's runs have a `cost` section.
fn priced_points(points: &[PointSummary]) -> bool {
    priced(points.iter().flat_map(|p| p.runs.iter().map(|r| &r.report)))
}

/// What one cell of the comparison shows.
enum Cell {
    /// Text as it is.
    Text(String),
    /// Requests per mailbox-day: mean and confidence interval.
    Cost(Option<Summary>),
    /// Money per month: mean and confidence interval.
    Money(Option<Summary>),
    /// A latency: the mean, in readable units.
    Ms(Option<Summary>),
    /// A share, in percent: mean and confidence interval.
    Pct(Option<Summary>),
    /// A count or rate for a person: the mean, three significant digits
    /// (`1.44M`).
    Count(Option<Summary>),
}

/// One column of the comparison table: its heading and width on a
/// terminal and its heading and alignment in `report.md` (`None`: not
/// shown there), and its cell for a point.
struct Column {
    /// Shown only when the runs have a `cost` section.
    priced: bool,
    terminal: Option<(&'static str, usize)>,
    markdown: Option<(&'static str, &'static str)>,
    cell: fn(&PointSummary) -> Cell,
}

/// The comparison table: one row per point, these columns. Rendered for a
/// terminal by [`comparison`] and in `report.md`.
const COLUMNS: [Column; 16] = [
    Column {
        priced: false,
        terminal: Some(("point", 0)),
        markdown: Some(("point", "---")),
        cell: |p| Cell::Text(p.label.clone()),
    },
    Column {
        priced: false,
        terminal: Some(("seeds", 5)),
        markdown: Some(("seeds", "---:")),
        cell: |p| Cell::Text(seeds(p)),
    },
    Column {
        priced: false,
        terminal: Some(("req/mbx-day", 11)),
        markdown: Some(("requests / mailbox-day (± 95% CI)", "---:")),
        cell: |p| Cell::Cost(metric(p, "requests.per_mailbox_day")),
    },
    Column {
        priced: true,
        terminal: Some(("cost/month", 10)),
        markdown: Some(("cost / 30-day month (± 95% CI)", "---:")),
        cell: |p| Cell::Money(metric(p, "cost.month")),
    },
    Column {
        priced: false,
        terminal: Some(("api peak/s", 10)),
        markdown: Some(("peak requests/s at the API", "---:")),
        cell: |p| Cell::Count(metric(p, "requests.peak_rps")),
    },
    Column {
        priced: false,
        terminal: Some(("api/month", 9)),
        markdown: Some(("API requests / 30-day month", "---:")),
        cell: |p| Cell::Count(metric(p, "capacity.source_requests_per_month")),
    },
    Column {
        priced: false,
        terminal: Some(("hook peak/s", 11)),
        markdown: Some(("peak deliveries/s at the endpoint", "---:")),
        cell: |p| Cell::Count(metric(p, "capacity.inbound_peak_rps")),
    },
    Column {
        priced: false,
        terminal: None,
        markdown: Some(("deliveries / 30-day month", "---:")),
        cell: |p| Cell::Count(metric(p, "capacity.inbound_per_month")),
    },
    Column {
        priced: false,
        terminal: None,
        markdown: Some(("rate-limited (API / endpoint)", "---:")),
        cell: |p| {
            let n = |path| metric(p, path).map_or("-".into(), |s: Summary| fmt_count(s.mean));
            Cell::Text(format!(
                "{} / {}",
                n("capacity.source_rate_limited"),
                n("capacity.inbound_rate_limited")
            ))
        },
    },
    Column {
        priced: false,
        terminal: Some(("mean", 8)),
        markdown: Some(("mean lag", "---:")),
        cell: |p| Cell::Ms(metric(p, "latency_ms.all.mean")),
    },
    Column {
        priced: false,
        terminal: Some(("p50", 8)),
        markdown: None,
        cell: |p| Cell::Ms(metric(p, "latency_ms.all.p50")),
    },
    Column {
        priced: false,
        terminal: Some(("p99", 8)),
        markdown: Some(("p99 lag", "---:")),
        cell: |p| Cell::Ms(metric(p, "latency_ms.all.p99")),
    },
    Column {
        priced: false,
        terminal: Some(("max", 8)),
        markdown: Some(("max lag", "---:")),
        cell: |p| Cell::Ms(metric(p, "latency_ms.all.max")),
    },
    Column {
        priced: false,
        terminal: Some(("loss", 9)),
        markdown: Some(("loss (± 95% CI)", "---:")),
        cell: |p| Cell::Pct(metric(p, "changes.loss_rate")),
    },
    Column {
        priced: false,
        terminal: Some(("recovered", 9)),
        markdown: Some(("recovered by reconciliation (± 95% CI)", "---:")),
        cell: |p| Cell::Pct(metric(p, "changes.recovery_rate")),
    },
    Column {
        priced: false,
        terminal: None,
        markdown: Some(("meets thresholds", ":---:")),
        cell: |p| Cell::Text(if p.meets { "yes" } else { "no" }.to_string()),
    },
];

/// A cell's text: `-` for a metric no run has; `spaced` puts spaces around
/// `±` and always shows the interval (`report.md`), else the interval is
/// shown only for the cost and only when there is one (terminal).
fn cell_text(cell: Cell, spaced: bool) -> String {
    let show = |s: Option<Summary>, f: &dyn Fn(Summary) -> String| s.map_or("-".to_string(), f);
    match cell {
        Cell::Text(t) => t,
        Cell::Ms(s) => show(s, &|s| fmt_ms(s.mean)),
        Cell::Cost(s) => show(s, &|s| {
            if spaced {
                format!("{:.1} ± {:.1}", s.mean, s.ci95)
            } else if s.ci95 > 0.0 {
                format!("{:.1}±{:.1}", s.mean, s.ci95)
            } else {
                format!("{:.1}", s.mean)
            }
        }),
        Cell::Money(s) => show(s, &|s| {
            if spaced {
                format!("{} ± {}", fmt_money(s.mean), fmt_money(s.ci95))
            } else {
                fmt_money(s.mean)
            }
        }),
        Cell::Count(s) => show(s, &|s| fmt_count(s.mean)),
        Cell::Pct(s) => show(s, &|s| {
            if spaced {
                format!("{:.3}% ± {:.3}", s.mean * 100.0, s.ci95 * 100.0)
            } else {
                format!("{:.3}%", s.mean * 100.0)
            }
        }),
    }
}

/// The comparison table for a terminal: cost, latency percentiles, loss.
pub fn comparison(points: &[PointSummary]) -> String {
    let priced = priced_points(points);
    let columns: Vec<(&str, usize, &Column)> = COLUMNS
        .iter()
        .filter(|c| priced || !c.priced)
        .filter_map(|c| c.terminal.map(|(head, width)| (head, width, c)))
        .collect();
    // The first column (the label) is as wide as the longest label.
    let label_width = points
        .iter()
        .map(|p| p.label.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, (text, (_, width, _))) in cells.iter().zip(&columns).enumerate() {
            if i == 0 {
                let _ = write!(out, "{text:<label_width$}");
            } else {
                let _ = write!(out, "  {text:>width$}");
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(columns.iter().map(|(head, ..)| head.to_string()).collect());
    for p in points {
        out += &line(
            columns
                .iter()
                .map(|(_, _, c)| cell_text((c.cell)(p), false))
                .collect(),
        );
    }
    out
}

/// The comparison table in Markdown (`report.md`): the terminal's, with
/// confidence intervals and whether each point meets the thresholds.
fn comparison_markdown(points: &[PointSummary]) -> String {
    let priced = priced_points(points);
    let columns: Vec<(&str, &str, &Column)> = COLUMNS
        .iter()
        .filter(|c| priced || !c.priced)
        .filter_map(|c| c.markdown.map(|(head, align)| (head, align, c)))
        .collect();
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let mut out = line(columns.iter().map(|(head, ..)| head.to_string()).collect());
    let aligns: Vec<&str> = columns.iter().map(|(_, align, _)| *align).collect();
    out += &format!("|{}|\n", aligns.join("|"));
    for p in points {
        out += &line(
            columns
                .iter()
                .map(|(_, _, c)| cell_text((c.cell)(p), true))
                .collect(),
        );
    }
    out
}

/// The report path "cheapest" means for these points: `cost.month` when
/// the runs are priced (`[cost]`), else `requests.per_mailbox_day`.
pub fn cost_path(points: &[PointSummary]) -> &'static str {
    if priced_points(points) {
        "cost.month"
    } else {
        "requests.per_mailbox_day"
    }
}

/// The cheapest point (lowest [`cost_path`]) that meets every threshold
/// on every seed.
pub fn recommendation<'a>(points: &'a [PointSummary<'a>]) -> Option<&'a PointSummary<'a>> {
    let path = cost_path(points);
    points.iter().filter(|p| p.meets).min_by(|a, b| {
        let cost = |p: &PointSummary| metric(p, path).map_or(f64::INFINITY, |s| s.mean);
        cost(a).total_cmp(&cost(b)).then(a.point.cmp(&b.point))
    })
}

/// The seeds column: finished runs, and crashed ones if any.
fn seeds(p: &PointSummary) -> String {
    if p.crashed.is_empty() {
        p.runs.len().to_string()
    } else {
        format!("{} ({} crashed)", p.runs.len(), p.crashed.len())
    }
}

fn markdown(meta: &Meta, points: &[PointSummary], collected: &Collected) -> String {
    let mut out = String::new();
    let runs = collected.results.len();
    let _ = writeln!(out, "# Sweep: {}\n", meta.name);
    let _ = writeln!(out, "{} points, {runs} runs (points × seeds). Values are means over seeds; ± is the 95% confidence interval.\n", points.len());
    if !meta.sets.is_empty() {
        let sets: Vec<String> = meta
            .sets
            .iter()
            .map(|(k, v)| format!("`--set {}`", crate::sweep::shell_quote(&format!("{k}={v}"))))
            .collect();
        let _ = writeln!(
            out,
            "The base scenario was changed with {} before the grid was expanded.\n",
            sets.join(", ")
        );
    }
    if !collected.crashes.is_empty() {
        let _ = writeln!(out, "**{} runs crashed** (a syncsim bug; their points do not count as meeting the thresholds): see [Crashed runs](#crashed-runs).\n", collected.crashes.len());
    }
    out += &comparison_markdown(points);
    let _ = writeln!(out);
    if !meta.thresholds.is_empty() {
        let _ = writeln!(out, "## Thresholds\n");
        for (k, v) in &meta.thresholds {
            let _ = writeln!(out, "- `{k}` {}", v.join(" and "));
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "## Winners\n");
    // Only points that meet every threshold on every seed can win; equal
    // values (as shown) are a tie, and every tied point is named.
    let eligible: Vec<&PointSummary> = points.iter().filter(|p| p.meets).collect();
    if eligible.is_empty() {
        let _ = writeln!(
            out,
            "No point meets every threshold on every seed, so none wins."
        );
    } else if eligible.len() < points.len() {
        let _ = writeln!(
            out,
            "Among the {} of {} points that meet every threshold on every seed:\n",
            eligible.len(),
            points.len()
        );
    }
    let cheapest = cost_path(points);
    for (what, path, pct) in [
        ("cheapest", cheapest, false),
        ("freshest (p99 lag)", "latency_ms.all.p99", false),
        ("least loss", "changes.loss_rate", true),
    ] {
        let shown = |v: f64| {
            if pct {
                format!("{:.3}%", v * 100.0)
            } else if path.starts_with("latency") {
                fmt_ms(v)
            } else if path.starts_with("cost.") {
                format!("{} per 30-day month", fmt_money(v))
            } else {
                format!("{v:.1}")
            }
        };
        let best = eligible
            .iter()
            .filter_map(|p| metric(p, path).map(|s| s.mean))
            .min_by(f64::total_cmp);
        if let Some(v) = best {
            let tied: Vec<String> = eligible
                .iter()
                .filter(|p| metric(p, path).is_some_and(|s| shown(s.mean) == shown(v)))
                .map(|p| format!("**{}**", p.label))
                .collect();
            let tie = if tied.len() > 1 {
                format!(" ({}-way tie)", tied.len())
            } else {
                String::new()
            };
            let _ = writeln!(out, "- {what}: {}{tie} ({})", tied.join(", "), shown(v));
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "## Plots\n");
    for plot in Plot::ALL {
        let _ = writeln!(out, "![{}]({})\n", plot.title(), plot.file_name());
    }
    let _ = writeln!(out, "## Recommendation\n");
    match recommendation(points) {
        Some(p) => {
            let cost = metric(p, "requests.per_mailbox_day").map_or(0.0, |s| s.mean);
            let money = match metric(p, "cost.month") {
                Some(m) if cheapest == "cost.month" => {
                    format!(" and {} per 30-day month", fmt_money(m.mean))
                }
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "**{}**: the cheapest configuration that meets {} on every seed, at {:.1} requests per mailbox-day{money}.",
                p.label,
                if meta.thresholds.is_empty() { "the (empty) thresholds" } else { "every threshold" },
                cost
            );
        }
        None => {
            let _ = writeln!(out, "No configuration meets every threshold on every seed.");
        }
    }
    if !collected.crashes.is_empty() {
        let _ = writeln!(out, "\n## Crashed runs\n");
        let _ = writeln!(out, "These runs panicked (a syncsim bug; please report it). Reproduce each with its command:\n");
        for c in &collected.crashes {
            let _ = writeln!(
                out,
                "- **{}**, seed {}: {}\n  `{}`",
                c.label, c.seed, c.message, c.repro
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_numbers_carry_no_float_noise() {
        assert_eq!(format!("{}", 0.1 + 0.2), "0.30000000000000004", "the noise");
        assert_eq!(clean(46.111_000_000_000_004), "46.111");
        assert_eq!(clean(288_000.0), "288000");
        assert_eq!(clean(8_640_000.000_000_001), "8640000");
        assert_eq!(clean(0.1 + 0.2), "0.3");
        assert_eq!(clean(1.0 / 3.0), "0.333333333");
        assert_eq!(clean(-0.0), "0");
        assert_eq!(clean(f64::NAN), "");
    }
}
