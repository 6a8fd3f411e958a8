//! A sweep's outputs: `results.csv` (one row per point × seed),
//! `summary.csv` (one row per point: mean, sd and 95% CI per metric),
//! `report.md` (the comparison and a recommendation), and the comparison
//! table printed on stdout. All rebuilt from stored results by
//! `syncsim report`.

use super::exec::Stored;
use super::folder::{Collected, Meta};
use super::stats::{summarize, Summary};
use crate::output::plots::{self, PlotPoint};
use crate::output::table::fmt_ms;
use crate::output::write_atomic;
use crate::scenario::{CheckResult, Thresholds};
use std::fmt::Write;
use std::path::Path;

/// The metrics every table reports: (report path, short name).
pub const METRICS: [(&str, &str); 14] = [
    ("requests.per_mailbox_day", "requests_per_mailbox_day"),
    ("requests.peak_rps", "peak_rps"),
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

fn value(report: &serde_json::Value, path: &str) -> Option<f64> {
    path.split('.').try_fold(report, |v, k| v.get(k))?.as_f64()
}

fn cell(x: Option<f64>) -> String {
    x.map_or(String::new(), |v| format!("{v}"))
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
    /// Per metric of [`METRICS`].
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
        p.metrics = METRICS
            .iter()
            .map(|(path, _)| {
                summarize(
                    &p.runs
                        .iter()
                        .filter_map(|r| value(&r.report, path))
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
    let mut out = Vec::new();
    for (path, cs) in thresholds {
        let got = value(report, path);
        for c in &cs.0 {
            out.push(CheckResult {
                path: path.clone(),
                condition: *c,
                got,
                pass: got.is_some_and(|g| c.op.holds(g, c.value)),
            });
        }
    }
    out
}

/// Writes `results.csv`, `summary.csv`, `report.md` and the plots into
/// `dir`. Crashed runs have no row in `results.csv`; `summary.csv` counts
/// them per point and `report.md` lists them with their repro lines.
pub fn write_all(dir: &Path, meta: &Meta, collected: &Collected) -> std::io::Result<()> {
    let results = &collected.results;
    let points = by_point(meta, collected);
    write_atomic(&dir.join("results.csv"), &results_csv(meta, results)?)?;
    write_atomic(&dir.join("summary.csv"), &summary_csv(meta, &points)?)?;
    write_atomic(
        &dir.join("report.md"),
        markdown(meta, &points, collected).as_bytes(),
    )?;
    let plot_points = plot_points(&points);
    for (name, svg) in [
        ("frontier.svg", plots::frontier(&plot_points)),
        ("loss_vs_cadence.svg", plots::loss_vs_cadence(&plot_points)),
        ("latency.svg", plots::latency(&plot_points)),
    ] {
        let svg = svg.map_err(std::io::Error::other)?;
        write_atomic(&dir.join(name), svg.as_bytes())?;
    }
    Ok(())
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
            }
        })
        .collect()
}

fn results_csv(meta: &Meta, results: &[Stored]) -> std::io::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["point".to_string(), "label".into()];
    header.extend(meta.keys.iter().cloned());
    header.extend(["seed".to_string(), "digest".into()]);
    header.extend(METRICS.iter().map(|(_, n)| n.to_string()));
    w.write_record(&header)?;
    for r in results {
        let mut row = vec![r.point.to_string(), r.label.clone()];
        row.extend(meta.keys.iter().map(|k| {
            r.overrides
                .iter()
                .find(|(o, _)| o == k)
                .map_or(String::new(), |(_, v)| v.clone())
        }));
        row.push(r.seed.to_string());
        row.push(
            r.report
                .get("digest")
                .and_then(|d| d.as_str())
                .unwrap_or("")
                .to_string(),
        );
        row.extend(METRICS.iter().map(|(p, _)| cell(value(&r.report, p))));
        w.write_record(&row)?;
    }
    w.into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))
}

fn summary_csv(meta: &Meta, points: &[PointSummary]) -> std::io::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["point".to_string(), "label".into()];
    header.extend(meta.keys.iter().cloned());
    header.extend([
        "seeds".to_string(),
        "crashed".into(),
        "meets_thresholds".into(),
    ]);
    for (_, n) in METRICS {
        header.extend([format!("{n}_mean"), format!("{n}_sd"), format!("{n}_ci95")]);
    }
    w.write_record(&header)?;
    for p in points {
        let mut row = vec![p.point.to_string(), p.label.clone()];
        row.extend(meta.keys.iter().map(|k| {
            p.overrides
                .iter()
                .find(|(o, _)| o == k)
                .map_or(String::new(), |(_, v)| v.clone())
        }));
        row.push(p.runs.len().to_string());
        row.push(p.crashed.len().to_string());
        row.push(p.meets.to_string());
        for m in &p.metrics {
            row.extend([
                cell(m.map(|s| s.mean)),
                cell(m.map(|s| s.sd)),
                cell(m.map(|s| s.ci95)),
            ]);
        }
        w.write_record(&row)?;
    }
    w.into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))
}

fn metric(p: &PointSummary, path: &str) -> Option<Summary> {
    METRICS
        .iter()
        .position(|(m, _)| *m == path)
        .and_then(|i| p.metrics[i])
}

/// The comparison table for a terminal: cost, latency percentiles, loss.
pub fn comparison(points: &[PointSummary]) -> String {
    let mut out = String::new();
    let w = points
        .iter()
        .map(|p| p.label.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(
        out,
        "{:<w$}  {:>5}  {:>11}  {:>8}  {:>8}  {:>8}  {:>8}  {:>9}  {:>9}",
        "point", "seeds", "req/mbx-day", "mean", "p50", "p99", "max", "loss", "recovered"
    );
    for p in points {
        let ms = |path: &str| metric(p, path).map_or("-".to_string(), |s| fmt_ms(s.mean));
        let pct = |path: &str| {
            metric(p, path).map_or("-".to_string(), |s| format!("{:.3}%", s.mean * 100.0))
        };
        let cost = metric(p, "requests.per_mailbox_day").map_or("-".to_string(), |s| {
            if s.ci95 > 0.0 {
                format!("{:.1}±{:.1}", s.mean, s.ci95)
            } else {
                format!("{:.1}", s.mean)
            }
        });
        let _ = writeln!(
            out,
            "{:<w$}  {:>5}  {:>11}  {:>8}  {:>8}  {:>8}  {:>8}  {:>9}  {:>9}",
            p.label,
            seeds(p),
            cost,
            ms("latency_ms.all.mean"),
            ms("latency_ms.all.p50"),
            ms("latency_ms.all.p99"),
            ms("latency_ms.all.max"),
            pct("changes.loss_rate"),
            pct("changes.recovery_rate"),
        );
    }
    out
}

/// The cheapest point (fewest requests per mailbox-day) that meets every
/// threshold on every seed.
pub fn recommendation<'a>(points: &'a [PointSummary<'a>]) -> Option<&'a PointSummary<'a>> {
    points.iter().filter(|p| p.meets).min_by(|a, b| {
        let cost = |p: &PointSummary| {
            metric(p, "requests.per_mailbox_day").map_or(f64::INFINITY, |s| s.mean)
        };
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
    if !collected.crashes.is_empty() {
        let _ = writeln!(out, "**{} runs crashed** (a syncsim bug; their points do not count as meeting the thresholds): see [Crashed runs](#crashed-runs).\n", collected.crashes.len());
    }
    let _ = writeln!(out, "| point | seeds | requests / mailbox-day | mean lag | p99 lag | max lag | loss | recovered by reconciliation | meets thresholds |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|:---:|");
    for p in points {
        let s = |path: &str| metric(p, path);
        let ms = |path: &str| s(path).map_or("-".to_string(), |x| fmt_ms(x.mean));
        let pct = |path: &str| {
            s(path).map_or("-".to_string(), |x| {
                format!("{:.3}% ± {:.3}", x.mean * 100.0, x.ci95 * 100.0)
            })
        };
        let cost = s("requests.per_mailbox_day").map_or("-".to_string(), |x| {
            format!("{:.1} ± {:.1}", x.mean, x.ci95)
        });
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            p.label,
            seeds(p),
            cost,
            ms("latency_ms.all.mean"),
            ms("latency_ms.all.p99"),
            ms("latency_ms.all.max"),
            pct("changes.loss_rate"),
            pct("changes.recovery_rate"),
            if p.meets { "yes" } else { "no" }
        );
    }
    let _ = writeln!(out);
    if !meta.thresholds.is_empty() {
        let _ = writeln!(out, "## Thresholds\n");
        for (k, v) in &meta.thresholds {
            let _ = writeln!(out, "- `{k}` {}", v.join(" and "));
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "## Winners\n");
    for (what, path, pct) in [
        ("cheapest", "requests.per_mailbox_day", false),
        ("freshest (p99 lag)", "latency_ms.all.p99", false),
        ("least loss", "changes.loss_rate", true),
    ] {
        let best = points
            .iter()
            .filter_map(|p| metric(p, path).map(|s| (p, s.mean)))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.point.cmp(&b.0.point)));
        if let Some((p, v)) = best {
            let shown = if pct {
                format!("{:.3}%", v * 100.0)
            } else if path.starts_with("latency") {
                fmt_ms(v)
            } else {
                format!("{v:.1}")
            };
            let _ = writeln!(out, "- {what}: **{}** ({shown})", p.label);
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "## Plots\n");
    let _ = writeln!(out, "![cost vs freshness](frontier.svg)\n");
    let _ = writeln!(
        out,
        "![loss vs reconciliation cadence](loss_vs_cadence.svg)\n"
    );
    let _ = writeln!(out, "![latency distribution](latency.svg)\n");
    let _ = writeln!(out, "## Recommendation\n");
    match recommendation(points) {
        Some(p) => {
            let cost = metric(p, "requests.per_mailbox_day").map_or(0.0, |s| s.mean);
            let _ = writeln!(
                out,
                "**{}**: the cheapest configuration that meets {} on every seed, at {:.1} requests per mailbox-day.",
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
