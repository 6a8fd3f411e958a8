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
    assert!(circles("5") >= 3, "legend: poll, webhook, hybrid");
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_string())
        .collect();
    for l in labels.iter().chain(&["poll", "webhook", "hybrid"]) {
        assert!(
            texts
                .iter()
                .any(|t| t == l || t.starts_with(&format!("{l}, lost "))),
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

/// Runs `syncsim ARGS` with `env` set: (exit code, stdout, stderr).
fn syncsim(args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = Command::new(bin());
    c.args(args)
        .env_remove(syncsim::sweep::pool::TEST_PANIC_VAR);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn os(s: &str) -> &std::ffi::OsStr {
    s.as_ref()
}

/// Data rows of a CSV file.
fn rows(p: &Path) -> Vec<csv::StringRecord> {
    csv::Reader::from_path(p)
        .unwrap()
        .records()
        .map(Result::unwrap)
        .collect()
}

fn json_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The label of the grid point poll 5m × 50 mailboxes in [`SWEEP`].
const CRASH_LABEL: &str = "consumer.poll_interval=5m, source.mailboxes=50";

#[test]
fn a_crashing_run_is_isolated_reported_and_retried() {
    let dir = temp_dir("sweep-crash");
    let file = dir.join("grid.toml");
    std::fs::write(&file, SWEEP).unwrap();
    let out = dir.join("out");
    let hook = format!("6:{CRASH_LABEL}");
    let (code, stdout, stderr) = syncsim(
        &[
            os("sweep"),
            file.as_os_str(),
            os("--out"),
            out.as_os_str(),
            os("--no-progress"),
            os("--jobs"),
            os("2"),
        ],
        &[(syncsim::sweep::pool::TEST_PANIC_VAR, &hook)],
    );
    assert_eq!(code, i32::from(syncsim::exit::CRASH), "{stdout}{stderr}");
    // The crash names file, point, seed, the panic and a repro line.
    let repro = format!(
        "reproduce: syncsim run {} --seed 6 --set consumer.poll_interval=5m --set source.mailboxes=50",
        file.display()
    );
    assert!(
        stderr.contains(&format!(
            "CRASH {} [{CRASH_LABEL}] seed 6: ",
            file.display()
        )) && stderr.contains("forced panic")
            && stderr.contains(&repro),
        "{stderr}"
    );
    assert!(
        !stderr.contains("panicked at"),
        "the default hook is silenced: {stderr}"
    );
    // Every other run is stored and written: 4 points × 3 seeds - 1.
    assert_eq!(json_files(&out.join("points")).len(), 11);
    assert_eq!(json_files(&out.join("crashed")).len(), 1);
    let results = rows(&out.join("results.csv"));
    assert_eq!(results.len(), 11);
    assert!(!results
        .iter()
        .any(|r| &r[1] == CRASH_LABEL && &r[r.len() - 15] == "6"));
    let summary = rows(&out.join("summary.csv"));
    let header = csv::Reader::from_path(out.join("summary.csv"))
        .unwrap()
        .headers()
        .unwrap()
        .clone();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let crashed_row = summary.iter().find(|r| &r[1] == CRASH_LABEL).unwrap();
    assert_eq!(
        (
            &crashed_row[col("seeds")],
            &crashed_row[col("crashed")],
            &crashed_row[col("meets_thresholds")]
        ),
        ("2", "1", "false")
    );
    assert!(summary
        .iter()
        .filter(|r| &r[1] != CRASH_LABEL)
        .all(|r| &r[col("crashed")] == "0" && &r[col("seeds")] == "3"));
    let md = read(&out.join("report.md"));
    assert!(
        md.contains("## Crashed runs") && md.contains(&repro["reproduce: ".len()..]),
        "{md}"
    );
    // `report` of the folder says the same and exits with the crash code.
    let (code, _, stderr) = syncsim(&[os("report"), out.as_os_str()], &[]);
    assert_eq!(code, i32::from(syncsim::exit::CRASH), "{stderr}");
    assert!(stderr.contains(&repro), "{stderr}");
    // The repro line runs the point (the hook is the sweep runner's only).
    let args: Vec<&str> = repro["reproduce: syncsim ".len()..]
        .split_whitespace()
        .collect();
    let (code, stdout, stderr) = syncsim(
        &args
            .iter()
            .map(|a| os(a))
            .chain([os("--format"), os("json")])
            .collect::<Vec<_>>(),
        &[],
    );
    // 1: the point breaches the file's p99 threshold, as in the sweep.
    assert_eq!(code, 1, "{stderr}");
    let digest = serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    // A rerun without the hook retries the crashed run only.
    let (code, _, stderr) = syncsim(
        &[
            os("sweep"),
            file.as_os_str(),
            os("--out"),
            out.as_os_str(),
            os("--no-progress"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("1 runs computed, 11 reused"), "{stderr}");
    assert!(json_files(&out.join("crashed")).is_empty());
    let results = rows(&out.join("results.csv"));
    assert_eq!(results.len(), 12);
    assert!(results
        .iter()
        .any(|r| &r[1] == CRASH_LABEL && r.iter().any(|c| c == digest)));
    sweep(&file, &dir.join("fresh"), &[]);
    assert_eq!(
        read(&out.join("results.csv")),
        read(&dir.join("fresh/results.csv"))
    );
}

/// A finished sweep of [`SWEEP`] in `dir/out`; returns (file, out).
fn finished(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = temp_dir(name);
    let file = dir.join("grid.toml");
    std::fs::write(&file, SWEEP).unwrap();
    let out = dir.join("out");
    sweep(&file, &out, &["--jobs", "2"]);
    (file, out)
}

fn report(out: &Path) -> (i32, String) {
    let (code, stdout, stderr) = syncsim(&[os("report"), out.as_os_str()], &[]);
    (code, stdout + &stderr)
}

fn resume(file: &Path, out: &Path) -> String {
    let o = sweep(file, out, &["--jobs", "2"]);
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_truncated_or_missing_stored_run_is_refused_then_recomputed() {
    let (file, out) = finished("sweep-truncated");
    let want = read(&out.join("results.csv"));
    let victim = json_files(&out.join("points"))[4].clone();
    let text = read(&victim);
    std::fs::write(&victim, &text[..text.len() / 2]).unwrap();
    let (code, msg) = report(&out);
    assert_eq!(code, 2, "{msg}");
    assert!(
        msg.contains(&format!(
            "{}: damaged, not a whole result",
            victim.display()
        )),
        "{msg}"
    );
    let stderr = resume(&file, &out);
    assert!(
        stderr.contains(&victim.display().to_string())
            && stderr.contains("1 runs computed, 11 reused"),
        "{stderr}"
    );
    assert_eq!(read(&out.join("results.csv")), want);
    // A missing run: `report` refuses and names it; a resume recomputes it.
    std::fs::remove_file(&victim).unwrap();
    let (code, msg) = report(&out);
    assert_eq!(code, 2, "{msg}");
    assert!(
        msg.contains("1 of 12 runs missing") && msg.contains(&victim.display().to_string()),
        "{msg}"
    );
    assert!(resume(&file, &out).contains("1 runs computed, 11 reused"));
    assert_eq!(read(&out.join("results.csv")), want);
}

#[test]
fn an_edited_stored_run_fails_its_digest() {
    let (file, out) = finished("sweep-edited");
    let want = read(&out.join("results.csv"));
    let victim = json_files(&out.join("points"))[2].clone();
    let mut v: serde_json::Value = serde_json::from_str(&read(&victim)).unwrap();
    let lost = v["report"]["changes"]["lost"].as_u64().unwrap();
    v["report"]["changes"]["lost"] = (lost + 1).into();
    std::fs::write(&victim, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let (code, msg) = report(&out);
    assert_eq!(code, 2, "{msg}");
    assert!(
        msg.contains(&format!(
            "{}: its values do not match its digest",
            victim.display()
        )),
        "{msg}"
    );
    // The unedited file passes (the check is not just "any file fails").
    v["report"]["changes"]["lost"] = lost.into();
    std::fs::write(&victim, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    assert_eq!(report(&out).0, 0);
    // Edited again: a resume recomputes it, with a warning naming it.
    v["report"]["requests"]["total"] = 1.into();
    std::fs::write(&victim, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let stderr = resume(&file, &out);
    assert!(
        stderr.contains(&format!(
            "warning: {}: its values do not match",
            victim.display()
        )) && stderr.contains("1 runs computed, 11 reused"),
        "{stderr}"
    );
    assert_eq!(read(&out.join("results.csv")), want);
}

#[test]
fn a_folder_of_another_scenario_is_refused() {
    let (file, out) = finished("sweep-foreign");
    // The scenario edited, swept into the same folder: refused, unchanged.
    std::fs::write(
        &file,
        SWEEP.replace("messages_per_day = 80", "messages_per_day = 90"),
    )
    .unwrap();
    let before = read(&out.join("results.csv"));
    let (code, _, stderr) = syncsim(
        &[
            os("sweep"),
            file.as_os_str(),
            os("--out"),
            out.as_os_str(),
            os("--no-progress"),
        ],
        &[],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{} holds a sweep of another scenario",
            out.display()
        )) && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(read(&out.join("results.csv")), before);
    // With --force: a fresh sweep, 12 rows, not 24.
    let o = sweep(&file, &out, &["--force"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("12 runs computed, 0 reused"));
    assert_eq!(rows(&out.join("results.csv")).len(), 12);
    assert_eq!(json_files(&out.join("points")).len(), 12);
    // Shards of two scenarios do not merge.
    let dir = out.parent().unwrap();
    let other = dir.join("other.toml");
    std::fs::write(&other, SWEEP).unwrap();
    sweep(&file, &dir.join("s1"), &["--shard", "1/2"]);
    sweep(&other, &dir.join("s2"), &["--shard", "2/2"]);
    let (code, _, stderr) = syncsim(
        &[
            os("merge"),
            dir.join("s1").as_os_str(),
            dir.join("s2").as_os_str(),
            os("--out"),
            dir.join("merged").as_os_str(),
        ],
        &[],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{} is not a shard of the same sweep",
            dir.join("s2").display()
        )),
        "{stderr}"
    );
    assert!(!dir.join("merged/results.csv").exists());
    // A foreign run copied into a folder is named, not mixed in.
    let stray = json_files(&dir.join("s2/points"))[0].clone();
    let target = out.join("points").join(stray.file_name().unwrap());
    std::fs::copy(&stray, &target).unwrap();
    let (code, msg) = report(&out);
    assert_eq!(code, 2, "{msg}");
    assert!(
        msg.contains(&format!("{}: not a run of this sweep", target.display())),
        "{msg}"
    );
    // A merge of one sweep's shards with one missing is refused.
    let (code, _, stderr) = syncsim(
        &[
            os("merge"),
            dir.join("s1").as_os_str(),
            os("--out"),
            dir.join("merged").as_os_str(),
        ],
        &[],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("6 of 12 runs missing"), "{stderr}");
}

const VARIANTS: &str = r#"
name = "variants"
seed = 9
horizon = "6h"
drain = "10m"

[source]
mailboxes = 60

[consumer]
strategy = "poll"
poll_interval = "5m"

[sweep]
seeds = 2

[[sweep.variants]]
name = "poll 5m"

[[sweep.variants]]
name = "poll 1m"
"consumer.poll_interval" = "1m"

[[sweep.variants]]
name = "poll 15m"
"consumer.poll_interval" = "15m"
"#;

fn labels(p: &Path) -> Vec<String> {
    rows(p).iter().map(|r| r[1].to_string()).collect()
}

#[test]
fn variants_take_labels_and_order_from_the_current_file() {
    let dir = temp_dir("sweep-variants");
    let file = dir.join("v.toml");
    std::fs::write(&file, VARIANTS).unwrap();
    let out = dir.join("out");
    sweep(&file, &out, &[]);
    assert_eq!(
        labels(&out.join("summary.csv")),
        ["poll 5m", "poll 1m", "poll 15m"]
    );
    // Reordered: nothing is recomputed; the order is the file's.
    let reordered = VARIANTS.replace(
        "[[sweep.variants]]\nname = \"poll 1m\"\n\"consumer.poll_interval\" = \"1m\"\n\n[[sweep.variants]]\nname = \"poll 15m\"\n\"consumer.poll_interval\" = \"15m\"\n",
        "[[sweep.variants]]\nname = \"poll 15m\"\n\"consumer.poll_interval\" = \"15m\"\n\n[[sweep.variants]]\nname = \"poll 1m\"\n\"consumer.poll_interval\" = \"1m\"\n",
    );
    assert_ne!(reordered, VARIANTS);
    std::fs::write(&file, &reordered).unwrap();
    assert!(resume(&file, &out).contains("0 runs computed, 6 reused"));
    assert_eq!(
        labels(&out.join("summary.csv")),
        ["poll 5m", "poll 15m", "poll 1m"]
    );
    sweep(&file, &dir.join("fresh"), &[]);
    assert_eq!(
        read(&out.join("results.csv")),
        read(&dir.join("fresh/results.csv"))
    );
    assert_eq!(
        read(&out.join("summary.csv")),
        read(&dir.join("fresh/summary.csv"))
    );
    // Renamed: the renamed point is a new run (its label is part of its
    // identity); the old label is gone from every output.
    std::fs::write(&file, reordered.replace("\"poll 1m\"", "\"fast poll\"")).unwrap();
    let stderr = resume(&file, &out);
    assert!(
        stderr.contains("2 runs computed, 4 reused") && stderr.contains("removed 2 stored runs"),
        "{stderr}"
    );
    assert_eq!(
        labels(&out.join("summary.csv")),
        ["poll 5m", "poll 15m", "fast poll"]
    );
    assert!(!read(&out.join("results.csv")).contains("poll 1m"));
    assert!(!read(&out.join("report.md")).contains("poll 1m"));
    assert_eq!(json_files(&out.join("points")).len(), 6);
}

#[test]
fn duplicate_variants_are_refused_and_same_overrides_with_two_names_are_two_points() {
    let dir = temp_dir("sweep-duplicate");
    let file = dir.join("dup.toml");
    let dup = format!(
        "{VARIANTS}\n[[sweep.variants]]\nname = \"poll 1m\"\n\"consumer.poll_interval\" = \"1m\"\n"
    );
    std::fs::write(&file, &dup).unwrap();
    // The fourth [[sweep.variants]] is on line 28.
    let line = dup
        .lines()
        .collect::<Vec<_>>()
        .iter()
        .rposition(|l| *l == "[[sweep.variants]]")
        .unwrap()
        + 1;
    assert_eq!(line, 28);
    let (code, _, stderr) = syncsim(&[os("validate"), file.as_os_str()], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("{}:28:1: ", file.display()))
            && stderr.contains("`sweep.variants[3]`: duplicate variant")
            && stderr.contains("sweep.variants[1]"),
        "{stderr}"
    );
    let (code, _, stderr) = syncsim(
        &[
            os("sweep"),
            file.as_os_str(),
            os("--out"),
            dir.join("o").as_os_str(),
        ],
        &[],
    );
    assert_eq!(
        (code, stderr.contains("duplicate variant")),
        (2, true),
        "{stderr}"
    );
    // Same overrides, another name: a point of its own, computed.
    std::fs::write(
        &file,
        dup.replacen("name = \"poll 1m\"", "name = \"one minute\"", 1),
    )
    .unwrap();
    let out = dir.join("out");
    let o = sweep(&file, &out, &[]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("8 runs computed"));
    assert_eq!(
        labels(&out.join("summary.csv")),
        ["poll 5m", "one minute", "poll 15m", "poll 1m"]
    );
    let results = rows(&out.join("results.csv"));
    let digests = |label: &str| -> Vec<String> {
        results
            .iter()
            .filter(|r| &r[1] == label)
            .map(|r| r[5].to_string())
            .collect()
    };
    assert_eq!(
        digests("one minute"),
        digests("poll 1m"),
        "same overrides, same reports"
    );
}

#[test]
fn leftover_temporary_files_are_cleaned_up() {
    let (file, out) = finished("sweep-tmp");
    // A write interrupted by a crash leaves `.NAME.tmp.PID.N` (earlier
    // versions: `.NAME.tmp.PID`); PID 4294967 is above any Linux pid_max,
    // so no live process owns these.
    let stale = [
        out.join(".sweep.json.tmp.4294967"),
        out.join("points/.0123456789abcdef.json.tmp.4294967"),
        out.join(".sweep.json.tmp.4294967.0"),
        out.join("points/.0123456789abcdef.json.tmp.4294967.12"),
        out.join("crashed/.0123456789abcdef.json.tmp.4294967.3"),
    ];
    for s in &stale {
        std::fs::write(s, "{").unwrap();
    }
    assert_eq!(report(&out).0, 0, "report ignores them");
    resume(&file, &out);
    for s in &stale {
        assert!(!s.exists(), "{} left behind", s.display());
    }
}

#[test]
fn a_sweep_too_large_is_refused_before_expanding() {
    let dir = temp_dir("sweep-bomb");
    let file = dir.join("bomb.toml");
    let ten = "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]";
    let text = format!(
        "name = \"bomb\"\nseed = 1\nhorizon = \"1h\"\n\n[source]\nmailboxes = 10\n\n[consumer]\nstrategy = \"poll\"\npoll_interval = \"5m\"\n\n[sweep]\nseeds = 10000\n\"source.mailboxes\" = {ten}\n\"source.messages_per_day\" = {ten}\n\"source.page_size\" = {ten}\n\"consumer.workers\" = {ten}\n"
    );
    assert!(text.len() < 400, "{}", text.len());
    std::fs::write(&file, &text).unwrap();
    for cmd in ["validate", "sweep", "check", "run"] {
        let started = std::time::Instant::now();
        let (code, stdout, stderr) = syncsim(&[os(cmd), file.as_os_str()], &[]);
        let took = started.elapsed();
        let stderr = stdout + &stderr;
        assert_eq!(code, 2, "{cmd}: {stderr}");
        assert!(
            took < std::time::Duration::from_secs(1),
            "{cmd} took {took:?}"
        );
        assert!(
            stderr.contains(&format!(
                "{}:12:1: `sweep`: 100000000 runs (4 grid axes",
                file.display()
            )) && stderr.contains("× 1 variants × 10000 seeds")
                && stderr.contains("at most 100000"),
            "{cmd}: {stderr}"
        );
    }
}

#[test]
fn sweep_errors_point_at_the_users_lines() {
    let dir = temp_dir("sweep-lines");
    let file = dir.join("lines.toml");
    // [sweep] is on line 18 of SWEEP; seeds on 19, the axes on 20 and 21.
    let lines: Vec<&str> = SWEEP.lines().collect();
    assert_eq!((lines[17], lines[18]), ("[sweep]", "seeds = 3"));
    // (replace, by, line, the text the column points at, message)
    let cases = [
        (
            "seeds = 3",
            "seeds = \"three\"",
            19,
            "\"three\"",
            "`sweep.seeds`: expected a count",
        ),
        (
            "seeds = 3",
            "seeds = [4, 5, 4]",
            19,
            "4]",
            "`sweep.seeds`: seed 4 is listed twice",
        ),
        (
            "[\"1m\", \"5m\"]",
            "[\"1m\", \"soon\"]",
            20,
            "\"soon\"",
            "`consumer.poll_interval`: ",
        ),
        ("[50, 100]", "[50, 0]", 21, "0]", "`source.mailboxes`: "),
        (
            "[50, 100]",
            "[50, 50]",
            21,
            "50]",
            "`sweep.source.mailboxes`: value 50 is listed twice",
        ),
        (
            "[50, 100]",
            "[]",
            21,
            "[]",
            "`sweep.source.mailboxes`: expected a non-empty list",
        ),
    ];
    for (from, to, line, at, want) in cases {
        let text = SWEEP.replace(from, to);
        assert_ne!(text, SWEEP);
        let column = text.lines().nth(line - 1).unwrap().rfind(at).unwrap() + 1;
        let want = format!("{}:{line}:{column}: {want}", file.display());
        std::fs::write(&file, &text).unwrap();
        for cmd in ["validate", "sweep", "run", "check"] {
            let (code, stdout, stderr) = syncsim(&[os(cmd), file.as_os_str()], &[]);
            let all = stdout + &stderr;
            assert_eq!(code, 2, "{cmd} {to}: {all}");
            assert!(all.contains(&want), "{cmd} {to}: want {want} in {all}");
        }
    }
    // A bad value of a point names the point too.
    std::fs::write(
        &file,
        SWEEP.replace("[\"1m\", \"5m\"]", "[\"1m\", \"soon\"]"),
    )
    .unwrap();
    let (_, _, stderr) = syncsim(&[os("validate"), file.as_os_str()], &[]);
    assert!(
        stderr.contains("(in the sweep point `consumer.poll_interval=soon, source.mailboxes=50`)"),
        "{stderr}"
    );
}

const SCOPED: &str = "name = \"s\"\nseed = 1\nhorizon = \"1h\"\n\n[source]\nmailboxes = 5\n\n[webhooks]\npreset = \"nylas\"\n\n[consumer]\nstrategy = \"poll\"\npoll_interval = \"5m\"\nlookback = \"1h\"\n\n[sweep]\nseeds = 2\n\"consumer.poll_interval\" = [\"1m\", \"5m\", \"15m\"]\n\"consumer.reconcile_every\" = [\"15m\", \"30m\"]\n\n[[sweep.variants]]\nname = \"poll\"\n\n[[sweep.variants]]\nname = \"webhook\"\n\"consumer.strategy\" = \"webhook\"\n\n[[sweep.variants]]\nname = \"hybrid\"\n\"consumer.strategy\" = \"hybrid\"\n";

/// A grid axis that cannot change a variant (a poll interval beside a
/// hybrid, a reconciliation period beside polling) is scoped out of it:
/// each distinct configuration runs once, the axis shows as `—` in the
/// labels and CSV, and a warning says so.
#[test]
fn a_grid_axis_a_variant_ignores_is_scoped_and_warned_about() {
    let dir = crate::common::temp_dir("sweep-scoped-axis");
    let file = dir.join("s.toml");
    std::fs::write(&file, SCOPED).unwrap();
    let expanded = syncsim::sweep::expand(&file).unwrap();
    // Unscoped the grid is 3 poll intervals × 2 cadences × 3 variants = 18
    // points. Scoped: poll uses only the interval (3 points), webhook
    // neither axis (1), hybrid only the cadence (2): 6 points; × 2 seeds =
    // 12 runs.
    assert_eq!(expanded.runs.len(), 12);
    let mut labels: Vec<&str> = expanded.runs.iter().map(|r| r.label.as_str()).collect();
    labels.dedup();
    assert_eq!(
        labels,
        [
            "poll, consumer.poll_interval=1m, consumer.reconcile_every=—",
            "poll, consumer.poll_interval=5m, consumer.reconcile_every=—",
            "poll, consumer.poll_interval=15m, consumer.reconcile_every=—",
            "webhook, consumer.poll_interval=—, consumer.reconcile_every=—",
            "hybrid, consumer.poll_interval=—, consumer.reconcile_every=15m",
            "hybrid, consumer.poll_interval=—, consumer.reconcile_every=30m",
        ]
    );
    // A scoped axis is not set, so the repro line does not name it.
    let hybrid = &expanded.runs[8];
    assert_eq!(
        hybrid.overrides,
        [
            ("consumer.strategy".to_string(), "hybrid".to_string()),
            ("consumer.reconcile_every".to_string(), "15m".to_string())
        ]
    );
    assert_eq!(hybrid.not_applicable, ["consumer.poll_interval"]);
    // One warning per (variant, axis) scoped out: poll's cadence,
    // webhook's two axes, hybrid's interval.
    assert_eq!(expanded.warnings.len(), 4, "{:?}", expanded.warnings);
    assert!(
        expanded.warnings[3].contains("`consumer.poll_interval` does not apply to variant `hybrid` (strategy hybrid): its 3 values would give 3 identical points"),
        "{:?}",
        expanded.warnings
    );
    // Scoping loses nothing: the hybrid with a poll interval set runs the
    // same simulation as the scoped point.
    let set = |k: &str, v: &str| (k.to_string(), v.to_string());
    let unscoped = syncsim::sweep::load_with(
        &file,
        &[
            set("consumer.strategy", "hybrid"),
            set("consumer.reconcile_every", "15m"),
            set("consumer.poll_interval", "1m"),
        ],
    )
    .unwrap();
    assert_eq!(
        syncsim::run(&unscoped).digest,
        syncsim::run(&hybrid.scenario).digest
    );
    // The CLI says it on stderr (validate, sweep and check alike), and the
    // tables show the scoping.
    let o = Command::new(bin())
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("warning: "),
        "{o:?}"
    );
    let out = dir.join("out");
    let o = sweep(&file, &out, &[]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("hybrid, consumer.poll_interval=—, consumer.reconcile_every=30m"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("shows the axis as —"));
    let summary = rows(&out.join("summary.csv"));
    assert_eq!(summary.len(), 6);
    // Columns: point, label, consumer.strategy, consumer.poll_interval,
    // consumer.reconcile_every.
    let cells = |i: usize| -> Vec<&str> { summary[i].iter().skip(2).take(3).collect() };
    assert_eq!(cells(0), ["", "1m", "—"]);
    assert_eq!(cells(3), ["webhook", "—", "—"]);
    assert_eq!(cells(5), ["hybrid", "—", "30m"]);
    assert_eq!(rows(&out.join("results.csv")).len(), 12);
}

/// `report.md`'s winners: a point that breaks a threshold cannot win
/// (5- and 15-minute polling are cheaper but their p99 lag breaks
/// `< 3m`), and equal points are named together as a tie.
#[test]
fn winners_skip_failing_points_and_name_ties() {
    let dir = crate::common::temp_dir("sweep-winners");
    let file = dir.join("w.toml");
    std::fs::write(
        &file,
        "name = \"w\"\nseed = 1\nhorizon = \"2h\"\n\n[source]\nmailboxes = 20\nmessages_per_day = 200\n\n[consumer]\nstrategy = \"poll\"\npoll_interval = \"1m\"\n\n[thresholds]\n\"latency_ms.all.p99\" = \"< 3m\"\n\n[sweep]\nseeds = 1\n\n[[sweep.variants]]\nname = \"1m\"\n\n[[sweep.variants]]\nname = \"1m again\"\n\"description\" = \"the same\"\n\n[[sweep.variants]]\nname = \"5m\"\n\"consumer.poll_interval\" = \"5m\"\n\n[[sweep.variants]]\nname = \"15m\"\n\"consumer.poll_interval\" = \"15m\"\n",
    )
    .unwrap();
    let out = sweep(&file, &dir.join("out"), &[]);
    assert!(out.status.success(), "{out:?}");
    let md = read(&dir.join("out/report.md"));
    assert!(
        md.contains("Among the 2 of 4 points that meet every threshold on every seed:"),
        "{md}"
    );
    assert!(
        md.contains("- cheapest: **1m**, **1m again** (2-way tie) (1440.0)"),
        "{md}"
    );
    assert!(md.contains("(± 95% CI)"), "{md}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("95% confidence interval")
            || !String::from_utf8_lossy(&out.stdout).contains('±')
    );
}

/// `sweep --set` changes the base scenario before the grid is expanded
/// (as `run --set` changes a run): `horizon=3h` reaches every run, a grid
/// axis of the same key wins over it (`source.mailboxes`), `seed=9` moves
/// `seeds = 3` to seeds 9, 10 and 11; each run's repro line carries the
/// sets and reproduces it; a key that does not exist is refused, naming it.
#[test]
fn sweep_set_changes_the_base_before_the_grid() {
    let dir = temp_dir("sweep-set");
    let file = dir.join("grid.toml");
    std::fs::write(&file, SWEEP).unwrap();
    let set = |k: &str, v: &str| (k.to_string(), v.to_string());
    let sets = [
        set("horizon", "3h"),
        set("source.mailboxes", "30"),
        set("seed", "9"),
    ];
    let expanded = syncsim::sweep::expand_with(&file, &sets).unwrap();
    // 2 poll intervals × 2 mailbox counts × 3 seeds.
    assert_eq!(expanded.runs.len(), 12);
    for r in &expanded.runs {
        assert_eq!(
            r.scenario.horizon.0,
            syncsim::engine::time::SimDuration::from_secs(3 * 3600)
        );
        let mailboxes = r.scenario.source.mailboxes.get();
        assert!(mailboxes == 50 || mailboxes == 100, "the grid's value wins");
        assert!(r.label.ends_with(&format!("source.mailboxes={mailboxes}")));
        assert!((9..=11).contains(&r.seed));
        // The point's sets: the base's (without the one the grid sets),
        // then the grid's.
        assert_eq!(r.overrides[..2], [set("horizon", "3h"), set("seed", "9")]);
    }
    let out = dir.join("out");
    let o = sweep(
        &file,
        &out,
        &[
            "--set",
            "horizon=3h",
            "--set",
            "source.mailboxes=30",
            "--set",
            "seed=9",
        ],
    );
    assert!(o.status.success());
    assert!(read(&out.join("report.md")).contains("changed with `--set horizon=3h`"));
    // A stored run is reproduced by its repro line (digests equal).
    let r = &expanded.runs[4];
    let stored =
        syncsim::sweep::exec::load(&syncsim::sweep::exec::point_file(&out, &r.hash)).unwrap();
    let line = syncsim::sweep::repro(&file, r.seed, &r.overrides);
    let words = shlex::split(&line).unwrap();
    let o = Command::new(bin())
        .args(&words[1..])
        .args(["--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["digest"], stored.report["digest"]);
    assert_eq!(report["simulated"]["horizon"], "3h");
    // A key that does not exist, or a bad value, is refused, naming it.
    for (arg, named) in [
        ("source.mailbox=7", "`source.mailbox`: unknown field"),
        ("source.mailboxes=-3", "(from `--set source.mailboxes=-3`)"),
    ] {
        let o = Command::new(bin())
            .arg("sweep")
            .arg(&file)
            .args(["--out", dir.join("bad").to_str().unwrap(), "--set", arg])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(named), "{err}");
        assert!(!dir.join("bad").exists(), "nothing ran");
    }
}

/// `--export-json/--export-csv/--export-markdown` (hyperfine's flags):
/// several at once, each parsed back; stdout is the same with or without
/// them; a missing folder is refused before anything runs; a shard cannot
/// export.
#[test]
fn sweep_and_run_export_json_csv_and_markdown() {
    let dir = temp_dir("sweep-export");
    let file = dir.join("grid.toml");
    std::fs::write(&file, SWEEP).unwrap();
    let out = dir.join("out");
    let plain = sweep(&file, &out, &[]);
    let ex = |n: &str| dir.join(n);
    let exported = syncsim(
        &[
            os("report"),
            out.as_os_str(),
            os("--export-json"),
            ex("s.json").as_os_str(),
            os("--export-csv"),
            ex("s.csv").as_os_str(),
            os("--export-markdown"),
            ex("s.md").as_os_str(),
        ],
        &[],
    );
    assert_eq!(exported.0, 0, "{}", exported.2);
    assert_eq!(exported.1, String::from_utf8_lossy(&plain.stdout));
    // JSON: 4 points (2 intervals × 2 mailbox counts), each with its
    // settings and 3 seeds; the cost of 1-minute polling is 1440 requests
    // per mailbox-day on every seed (one list request a minute), so its
    // mean is 1440 and its interval 0.
    let json: serde_json::Value = serde_json::from_str(&read(&ex("s.json"))).unwrap();
    let points = json["points"].as_array().unwrap();
    assert_eq!(points.len(), 4);
    assert_eq!(points[0]["settings"]["consumer.poll_interval"], "1m");
    assert_eq!(points[0]["settings"]["source.mailboxes"], "50");
    assert_eq!(points[0]["seeds"], serde_json::json!([5, 6, 7]));
    let cost = &points[0]["metrics"]["requests_per_mailbox_day"];
    assert!(
        (cost["mean"].as_f64().unwrap() - 1440.0).abs() < 1.0,
        "{cost}"
    );
    // CSV: summary.csv's rows.
    let csv = rows(&ex("s.csv"));
    assert_eq!(csv.len(), 4);
    assert_eq!(read(&ex("s.csv")), read(&out.join("summary.csv")));
    // Markdown: header, alignment row, 4 points, and what ± means.
    let md = read(&ex("s.md"));
    let table: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(table.len(), 6, "{md}");
    assert!(table[2].starts_with("| consumer.poll_interval=1m, source.mailboxes=50 | 3 |"));
    assert!(md.contains("95% confidence interval"));
    // `run`: the JSON export is the report `--out` writes; the CSV its one
    // row; the Markdown its one-row table; stdout unchanged.
    let args = |extra: &[&std::ffi::OsStr]| {
        let mut a = vec![os("run"), file.as_os_str(), os("--seed"), os("5")];
        a.extend_from_slice(extra);
        syncsim(&a, &[])
    };
    let plain = args(&[]);
    let both = args(&[
        os("--out"),
        ex("out.json").as_os_str(),
        os("--export-json"),
        ex("r.json").as_os_str(),
        os("--export-csv"),
        ex("r.csv").as_os_str(),
        os("--export-markdown"),
        ex("r.md").as_os_str(),
    ]);
    assert_eq!(plain.1, both.1);
    assert_eq!(read(&ex("r.json")), read(&ex("out.json")));
    let report: serde_json::Value = serde_json::from_str(&read(&ex("r.json"))).unwrap();
    let row = rows(&ex("r.csv"));
    assert_eq!(row.len(), 1);
    let header = csv::Reader::from_path(ex("r.csv"))
        .unwrap()
        .headers()
        .unwrap()
        .clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(&row[0][col("digest")], report["digest"].as_str().unwrap());
    assert_eq!(
        row[0][col("requests_per_mailbox_day")]
            .parse::<f64>()
            .unwrap(),
        report["requests"]["per_mailbox_day"].as_f64().unwrap()
    );
    let md = read(&ex("r.md"));
    assert_eq!(
        md.lines().filter(|l| l.starts_with("| grid |")).count(),
        1,
        "{md}"
    );
    // A missing folder: exit 4 before running, nothing written.
    let missing = args(&[os("--export-csv"), ex("no/such/r.csv").as_os_str()]);
    assert_eq!(missing.0, 4);
    assert!(missing.2.contains("no such folder"), "{}", missing.2);
    assert!(missing.1.is_empty());
    // One shard cannot export (exit 2).
    let shard = syncsim(
        &[
            os("sweep"),
            file.as_os_str(),
            os("--out"),
            ex("shard").as_os_str(),
            os("--shard"),
            os("1/2"),
            os("--export-json"),
            ex("x.json").as_os_str(),
        ],
        &[],
    );
    assert_eq!(shard.0, 2, "{}", shard.2);
}

/// A rectangle of an SVG element: left, top, right, bottom.
type Rect = (f64, f64, f64, f64);

fn overlap(a: Rect, b: Rect) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

fn inside(outer: Rect, r: Rect) -> bool {
    r.0 >= outer.0 && r.2 <= outer.2 && r.1 >= outer.1 && r.3 <= outer.3
}

/// The frontier plot is honest: the legend sits outside the data area,
/// point labels never overlap, thresholds on its axes are lines, failing
/// points are hollow, lossy points are ringed with their loss in the label,
/// and the Microsoft Graph thin-payload webhook is plotted at its fetch
/// cost, not as free (the "no API requests" note is only for full
/// payloads).
#[test]
fn the_frontier_is_honest_about_legend_labels_thresholds_failures_and_thin_payloads() {
    let dir = temp_dir("sweep-frontier");
    let file = dir.join("frontier.toml");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let base = read(&root.join("scenarios/webhook-thin-msgraph.toml"));
    let mut text = base.replace("mailboxes = 1000", "mailboxes = 300");
    text.push_str(
        r#"
[thresholds]
"latency_ms.all.p99" = "< 10m"
"changes.lost" = "== 0"
"requests.per_mailbox_day" = "< 200"

[sweep]
seeds = 1

[[sweep.variants]]
name = "msgraph thin"

[[sweep.variants]]
name = "msgraph full"
"webhooks.payload" = "full"

[[sweep.variants]]
name = "poll 5m"
"consumer.strategy" = "poll"
"consumer.poll_interval" = "5m"

[[sweep.variants]]
name = "poll 15m"
"consumer.strategy" = "poll"
"consumer.poll_interval" = "15m"

[[sweep.variants]]
name = "poll 30m"
"consumer.strategy" = "poll"
"consumer.poll_interval" = "30m"

[[sweep.variants]]
name = "hybrid 15m"
"consumer.strategy" = "hybrid"
"consumer.reconcile_every" = "15m"
"consumer.lookback" = "1h"

[[sweep.variants]]
name = "hybrid 20m"
"consumer.strategy" = "hybrid"
"consumer.reconcile_every" = "20m"
"consumer.lookback" = "1h"

[[sweep.variants]]
name = "hybrid 30m"
"consumer.strategy" = "hybrid"
"consumer.reconcile_every" = "30m"
"consumer.lookback" = "1h"
"#,
    );
    std::fs::write(&file, text).unwrap();
    let out = dir.join("out");
    sweep(&file, &out, &[]);
    let svg = read(&out.join("frontier.svg"));
    let doc = roxmltree::Document::parse(&svg).expect("frontier.svg is well-formed XML");
    let num = |n: &roxmltree::Node, a: &str| -> f64 {
        n.attribute(a)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{a} of {n:?}"))
    };
    let rect = |stroke: &str| -> Rect {
        let n = doc
            .descendants()
            .find(|n| {
                n.has_tag_name("rect")
                    && n.attribute("stroke") == Some(stroke)
                    && n.attribute("fill") == Some("none")
            })
            .unwrap_or_else(|| panic!("no rect stroked {stroke}"));
        let (x, y) = (num(&n, "x"), num(&n, "y"));
        (x, y, x + num(&n, "width"), y + num(&n, "height"))
    };
    // The data area's frame and the legend's box do not meet.
    let frame = rect("#5A5A5A");
    let legend = rect("#000000");
    assert!(!overlap(frame, legend), "{frame:?} {legend:?}");
    let circles = |r: &str| -> Vec<roxmltree::Node> {
        doc.descendants()
            .filter(|n| n.has_tag_name("circle") && n.attribute("r") == Some(r))
            .collect()
    };
    let centre = |n: &roxmltree::Node| (num(n, "cx"), num(n, "cy"));
    // One marker per point, in point order, inside the frame; the legend's
    // keys inside the legend.
    let markers = circles("6");
    assert_eq!(markers.len(), 8);
    for m in &markers {
        let (x, y) = centre(m);
        assert!(inside(frame, (x, y, x, y)), "{m:?}");
    }
    for k in circles("5").iter().chain(&circles("8")) {
        let (x, y) = centre(k);
        assert!(inside(legend, (x, y, x, y)), "{k:?}");
    }
    // Labels: one per point (font size 13 / 1.24 in the SVG), inside the
    // frame, and no two overlap, by an estimate made here (0.6 em a
    // character, 1 em high, from the top-left corner plotters writes).
    let results = rows(&out.join("results.csv"));
    let header = csv::Reader::from_path(out.join("results.csv"))
        .unwrap()
        .headers()
        .unwrap()
        .clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let labels: Vec<(String, Rect)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter(|n| {
            n.attribute("font-size")
                .and_then(|f| f.parse::<f64>().ok())
                .is_some_and(|f| (f - 13.0 / 1.24).abs() < 0.01)
        })
        .map(|n| {
            let t = n.text().unwrap_or("").trim().to_string();
            let (x, y, fs) = (num(&n, "x"), num(&n, "y"), num(&n, "font-size"));
            let w = 0.6 * fs * t.chars().count() as f64;
            (t, (x, y, x + w, y + fs))
        })
        .collect();
    assert_eq!(labels.len(), 8, "{labels:?}");
    for (i, (a, ra)) in labels.iter().enumerate() {
        assert!(inside(frame, *ra), "{a} outside the frame");
        assert!(!overlap(*ra, legend));
        for (b, rb) in &labels[i + 1..] {
            assert!(!overlap(*ra, *rb), "labels `{a}` and `{b}` overlap");
        }
    }
    // Thin payloads cost a fetch per notification: 50 messages a
    // mailbox-day over a 1-day horizon of a 1.083-day run is 46.2
    // notifications per mailbox-day, each fetched at least once (3% below
    // for Poisson noise over 300 × 50 messages: 3 sd is 2.4%); full
    // payloads make no API request.
    let cost = |row: usize| {
        results[row][col("requests_per_mailbox_day")]
            .parse::<f64>()
            .unwrap()
    };
    assert!(cost(0) >= 46.2 * 0.97, "thin: {}", cost(0));
    assert_eq!(cost(1), 0.0);
    assert!(centre(&markers[0]).0 > centre(&markers[1]).0 + 100.0);
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::to_string)
        .collect();
    let has = |s: &str| texts.iter().any(|t| t.contains(s));
    assert!(has("At x = 0.1: no API requests"), "{texts:?}");
    assert!(
        has("Thin payloads (e.g. Microsoft Graph)") && has("cost an API fetch per notification"),
        "{texts:?}"
    );
    assert!(!svg.contains("cost none") && !svg.contains("cost nothing"));
    // Loss: the thin webhook dead-letters the notifications whose fetches
    // all fall in the 20-minute outage; its label says how many, as the
    // results do, and it has a ring (r = 10); the full-payload one loses
    // none (no fetch to fail).
    let lost = |row: usize| results[row][col("lost")].parse::<f64>().unwrap();
    assert!(lost(0) > 0.0 && lost(1) == 0.0);
    assert!(
        labels
            .iter()
            .any(|(t, _)| *t == format!("msgraph thin (thin), lost {}", lost(0))),
        "{labels:?}"
    );
    let rings = circles("10");
    let lossy = (0..8).filter(|&i| lost(i) > 0.0).count();
    assert_eq!(rings.len(), lossy);
    assert_eq!(centre(&rings[0]), centre(&markers[0]));
    // Failing points are hollow: the thin one (loss), 5-minute polling
    // (288 requests/mailbox-day >= 200) and whatever breaks p99 < 10 min;
    // passing ones are filled. The legend says both.
    let summary = rows(&out.join("summary.csv"));
    let meets_col = csv::Reader::from_path(out.join("summary.csv"))
        .unwrap()
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "meets_thresholds")
        .unwrap();
    for (i, m) in markers.iter().enumerate() {
        let meets = &summary[i][meets_col] == "true";
        assert_eq!(m.attribute("fill") == Some("none"), !meets, "point {i}");
    }
    assert_eq!(&summary[0][meets_col], "false");
    assert_eq!(&summary[2][meets_col], "false");
    assert!(has("fails a threshold") && has("lost changes (count in its label)"));
    // Threshold lines: a vertical line at 200 requests/mailbox-day, right
    // of 15-minute polling (96) and left of 5-minute (288); a horizontal
    // one at 10 minutes, above (smaller y) every point whose p99 is over.
    let lines: Vec<Vec<(f64, f64)>> = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some("#AA0078"))
        .map(|n| {
            n.attribute("points")
                .unwrap()
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect()
        })
        .collect();
    let vertical = lines
        .iter()
        .find(|l| l[0].0 == l[1].0 && l[0].1 == frame.1 && l[1].1 == frame.3)
        .expect("a vertical threshold line across the frame");
    assert!(centre(&markers[3]).0 < vertical[0].0 && vertical[0].0 < centre(&markers[2]).0);
    let horizontal = lines
        .iter()
        .find(|l| l[0].1 == l[1].1 && l[0].0 == frame.0 && l[1].0 == frame.2)
        .expect("a horizontal threshold line across the frame");
    for (i, m) in markers.iter().enumerate() {
        let p99_min = results[i][col("latency_p99_ms")].parse::<f64>().unwrap() / 60_000.0;
        if (p99_min - 10.0).abs() > 0.2 {
            assert_eq!(centre(m).1 < horizontal[0].1, p99_min > 10.0, "point {i}");
        }
    }
    assert!(has("threshold: p99 lag < 10 min") && has("threshold: requests/mailbox-day < 200"));
    // The threshold texts in the chart (font size 11 / 1.24) stay in the
    // frame.
    for n in doc.descendants().filter(|n| {
        n.has_tag_name("text")
            && n.attribute("font-size")
                .and_then(|f| f.parse::<f64>().ok())
                .is_some_and(|f| (f - 11.0 / 1.24).abs() < 0.01)
    }) {
        let t = n.text().unwrap_or("").trim();
        let (x, y, fs) = (num(&n, "x"), num(&n, "y"), num(&n, "font-size"));
        let r = (x, y, x + 0.6 * fs * t.chars().count() as f64, y + fs);
        assert!(inside(frame, r), "`{t}` leaves the frame: {r:?}");
    }
}

/// Quota headroom columns: a sweep of runs with Graph's quota has
/// `quota_*` columns in results.csv and summary.csv. The scenario: a burst
/// of 16 thin notifications fetched by `workers` workers at once, one
/// mailbox; Graph caps 4 requests in service per mailbox, so both points
/// reach the cap (peak fraction 1); 4 workers are never refused, 16 get
/// 12 + 8 + 4 = 24 429s (tests/sim/quota.rs derives it). A sweep without
/// a quota has no such column.
#[test]
fn quota_headroom_is_a_sweep_column() {
    let dir = crate::common::temp_dir("sweep-quota");
    let file = dir.join("q.toml");
    std::fs::write(
        &file,
        "name = \"c\"\nseed = 2\nhorizon = \"2h\"\ndrain = \"1h\"\n[source]\nmailboxes = 1\nmessages_per_day = 0\napi_latency = \"200ms\"\nquota = \"msgraph\"\n\
         [[source.bursts]]\nat = \"1h\"\nmailboxes = 1\nmessages = 16\nover = \"1ms\"\n[webhooks]\npreset = \"msgraph\"\n\
         [consumer]\nstrategy = \"webhook\"\nhandler_time = \"1s\"\nprocessing_attempts = 5\n[sweep]\nseeds = 1\n\"consumer.workers\" = [4, 16]\n",
    )
    .unwrap();
    sweep(&file, &dir.join("out"), &[]);
    let header = |name: &str| {
        csv::Reader::from_path(dir.join("out").join(name))
            .unwrap()
            .headers()
            .unwrap()
            .clone()
    };
    let h = header("results.csv");
    let col = |c: &str| {
        h.iter()
            .position(|x| x == c)
            .unwrap_or_else(|| panic!("no {c} in {h:?}"))
    };
    let (peak, refused) = (
        col("quota_concurrent_peak_fraction"),
        col("quota_rate_limited"),
    );
    let got: Vec<(String, String)> = rows(&dir.join("out/results.csv"))
        .iter()
        .map(|r| (r[peak].to_string(), r[refused].to_string()))
        .collect();
    assert_eq!(got, [("1".into(), "0".into()), ("1".into(), "24".into())]);
    let s = header("summary.csv");
    assert!(
        s.iter().any(|x| x == "quota_concurrent_peak_fraction_mean"),
        "{s:?}"
    );
    // Without a quota: no quota columns.
    std::fs::write(
        &file,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("quota = \"msgraph\"\n", ""),
    )
    .unwrap();
    sweep(&file, &dir.join("plain"), &[]);
    let h = csv::Reader::from_path(dir.join("plain/results.csv"))
        .unwrap()
        .headers()
        .unwrap()
        .clone();
    assert!(!h.iter().any(|x| x.starts_with("quota_")), "{h:?}");
}
