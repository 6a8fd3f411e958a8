//! Sweeps: deterministic whatever --jobs, shards merge to the same result,
//! an interrupted sweep resumes without recomputing, and any point is
//! reproduced by `run --seed --set`.

use crate::common::{bin, temp_dir};
use std::path::Path;
use std::process::{Command, Output};

const SWEEP: &str = r#"
name = "grid"
seed = 5
horizon = "6h"
drain = "10m"

[source]
mailboxes = 100
messages_per_day = 80

[consumer]
strategy = "poll"
poll_interval = "5m"

[thresholds]
"latency_ms.all.p99" = "< 200000"

[sweep]
seeds = 3
"consumer.poll_interval" = ["1m", "5m"]
"source.mailboxes" = [50, 100]
"#;

fn sweep(file: &Path, out: &Path, extra: &[&str]) -> Output {
    let o = Command::new(bin())
        .arg("sweep")
        .arg(file)
        .arg("--out")
        .arg(out)
        .arg("--no-progress")
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn results_are_identical_whatever_jobs_and_shards() {
    let dir = temp_dir("sweep-jobs");
    let file = dir.join("grid.toml");
    std::fs::write(&file, SWEEP).unwrap();
    sweep(&file, &dir.join("j1"), &["--jobs", "1"]);
    sweep(&file, &dir.join("j2"), &["--jobs", "2"]);
    let one = read(&dir.join("j1/results.csv"));
    assert_eq!(one, read(&dir.join("j2/results.csv")));
    assert_eq!(
        read(&dir.join("j1/summary.csv")),
        read(&dir.join("j2/summary.csv"))
    );
    // 4 points × 3 seeds, plus the header.
    assert_eq!(one.lines().count(), 13);
    // Shards 1/3, 2/3, 3/3 merged give the unsharded sweep.
    for k in 1..=3 {
        sweep(
            &file,
            &dir.join(format!("s{k}")),
            &["--shard", &format!("{k}/3"), "--jobs", "1"],
        );
    }
    let merged = Command::new(bin())
        .arg("merge")
        .args((1..=3).map(|k| dir.join(format!("s{k}"))))
        .arg("--out")
        .arg(dir.join("merged"))
        .output()
        .unwrap();
    assert!(
        merged.status.success(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    assert_eq!(read(&dir.join("merged/results.csv")), one);
    // `report` rebuilds the same files from stored results.
    std::fs::remove_file(dir.join("j1/results.csv")).unwrap();
    assert!(Command::new(bin())
        .arg("report")
        .arg(dir.join("j1"))
        .output()
        .unwrap()
        .status
        .success());
    assert_eq!(read(&dir.join("j1/results.csv")), one);
    assert!(read(&dir.join("j1/report.md")).contains("## Recommendation"));
}

#[test]
fn a_point_is_reproduced_by_run_with_seed_and_set() {
    let dir = temp_dir("sweep-repro");
    let file = dir.join("grid.toml");
    std::fs::write(&file, SWEEP).unwrap();
    sweep(&file, &dir.join("out"), &[]);
    let mut csv = csv::Reader::from_path(dir.join("out/results.csv")).unwrap();
    let header = csv.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let row = csv.records().nth(7).unwrap().unwrap();
    let (interval, mailboxes, seed, digest) = (
        &row[col("consumer.poll_interval")],
        &row[col("source.mailboxes")],
        &row[col("seed")],
        &row[col("digest")],
    );
    let out = Command::new(bin())
        .args(["run"])
        .arg(&file)
        .args(["--seed", seed, "--format", "json"])
        .args([
            "--set",
            &format!("consumer.poll_interval={interval}"),
            "--set",
            &format!("source.mailboxes={mailboxes}"),
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["digest"], digest, "run --set reproduces the point");
}

#[test]
fn an_interrupted_sweep_resumes_without_recomputing() {
    let dir = temp_dir("sweep-resume");
    let file = dir.join("slow.toml");
    // 16 runs of ~0.1-0.2 s each, one at a time.
    std::fs::write(
        &file,
        SWEEP
            .replace("mailboxes = 100", "mailboxes = 1500")
            .replace("seeds = 3", "seeds = 4")
            .replace("[50, 100]", "[1000, 1500]"),
    )
    .unwrap();
    let out = dir.join("out");
    let mut child = Command::new(bin())
        .arg("sweep")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--no-progress", "--jobs", "1"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let points = out.join("points");
    let count = || {
        std::fs::read_dir(&points)
            .map(|d| {
                d.filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .path()
                        .extension()
                        .is_some_and(|x| x == "json")
                })
                .count()
            })
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while count() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done = count();
    assert!((3..16).contains(&done), "killed after {done} runs");
    // No half-written file is left behind as a result.
    for e in std::fs::read_dir(&points).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            serde_json::from_str::<serde_json::Value>(&read(&p)).expect("stored results are whole");
        }
    }
    let resumed = sweep(&file, &out, &["--jobs", "2"]);
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(
        stderr.contains(&format!("{} runs computed, {done} reused", 16 - done)),
        "{stderr}"
    );
    let fresh = dir.join("fresh");
    sweep(&file, &fresh, &["--jobs", "2"]);
    assert_eq!(
        read(&out.join("results.csv")),
        read(&fresh.join("results.csv"))
    );
}

#[test]
fn plots_are_well_formed_svg_with_the_expected_series() {
    let dir = temp_dir("sweep-plots");
    let file = dir.join("strategies.toml");
    std::fs::write(
        &file,
        r#"
name = "strategies"
seed = 2
horizon = "6h"
drain = "1h"

[source]
mailboxes = 50

[webhooks]
preset = "nylas"

[consumer]
strategy = "poll"
poll_interval = "5m"
lookback = "2h"

[[faults]]
kind = "endpoint_outage"
at = "2h"
for = "45m"

[sweep]
seeds = 2

[[sweep.variants]]
name = "poll 5m"

[[sweep.variants]]
name = "webhook"
"consumer.strategy" = "webhook"

[[sweep.variants]]
name = "hybrid 30m"
"consumer.strategy" = "hybrid"
"consumer.reconcile_every" = "30m"

[[sweep.variants]]
name = "hybrid 60m"
"consumer.strategy" = "hybrid"
"consumer.reconcile_every" = "60m"
"#,
    )
    .unwrap();
    let out = dir.join("out");
    sweep(&file, &out, &[]);
    let labels = ["poll 5m", "webhook", "hybrid 30m", "hybrid 60m"];
    let parse = |name: &str| read(&out.join(name));
    let frontier = parse("frontier.svg");
    let doc = roxmltree::Document::parse(&frontier).expect("frontier.svg is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    // One filled point per configuration (r = 6), plus a legend entry per strategy (r = 5).
    let circles = |r: &str| {
        doc.descendants()
            .filter(|n| n.has_tag_name("circle") && n.attribute("r") == Some(r))
            .count()
    };
    assert_eq!(circles("6"), 4);
    assert_eq!(circles("5"), 3, "legend: poll, webhook, hybrid");
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_string())
        .collect();
    for l in labels.iter().chain(&["poll", "webhook", "hybrid"]) {
        assert!(
            texts.iter().any(|t| t == l),
            "frontier has no label {l}: {texts:?}"
        );
    }
    // Points are coloured by strategy.
    let fills: std::collections::BTreeSet<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle") && n.attribute("r") == Some("6"))
        .filter_map(|n| n.attribute("fill"))
        .collect();
    assert_eq!(fills.len(), 3);
    // The latency plot has a line per configuration; the cadence plot has
    // the two hybrid points on its loss line and the webhook reference.
    let latency = parse("latency.svg");
    let doc = roxmltree::Document::parse(&latency).expect("latency.svg is well-formed XML");
    assert!(
        doc.descendants()
            .filter(|n| n.has_tag_name("polyline"))
            .count()
            >= 4
    );
    let cadence = parse("loss_vs_cadence.svg");
    let doc = roxmltree::Document::parse(&cadence).expect("loss_vs_cadence.svg is well-formed XML");
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("circle") && n.attribute("r") == Some("5"))
            .count(),
        2
    );
    let legend: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_string())
        .collect();
    assert!(
        legend.iter().any(|t| t == "webhooks alone: lost"),
        "{legend:?}"
    );
    assert!(read(&out.join("report.md")).contains("![cost vs freshness](frontier.svg)"));
}

#[test]
fn the_committed_reference_report_is_current() {
    // reports/capacity-10k was generated from scenarios/capacity-10k.toml;
    // recompute one stored run (the cheapest) and compare digests. If this
    // fails, the simulator's behaviour changed: regenerate the report with
    // the command in the scenario file.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sweep = syncsim::sweep::expand(&root.join("scenarios/capacity-10k.toml")).unwrap();
    let run = sweep.runs.iter().find(|r| r.label == "hybrid 60m").unwrap();
    let stored = syncsim::sweep::exec::load(&syncsim::sweep::exec::point_file(
        &root.join("reports/capacity-10k"),
        &run.hash,
    ))
    .expect("the reference report holds this run (same scenario text and seed)");
    let mut report = syncsim::run(&run.scenario);
    report.point = run.overrides.iter().cloned().collect();
    report.seal();
    assert_eq!(stored.report["digest"], report.digest.as_str());
}
