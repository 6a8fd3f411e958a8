//! Capacity benchmark (issue 12): 10,000 mailboxes of office-hours traffic
//! synced by the hybrid (svix webhooks plus a reconciler every 30 minutes
//! with a 1-hour lookback) through a 45-minute endpoint outage and 1%
//! dropped deliveries, for 3 and for 30 days
//! (`scenarios/bench/hybrid-10k.toml`). It answers "linear in time, flat in
//! memory?": wall time, events/s, peak RSS and peak heap at both horizons,
//! and their 30 d / 3 d ratios.
//!
//! ```sh
//! cargo bench --bench hybrid_30d                           # 3d and 30d, 3 repetitions each
//! cargo bench --bench hybrid_30d -- --reps 1 --horizon 30d # one horizon (repeatable flag)
//! ```
//!
//! Not criterion: one 30-day run takes 17-23 s on a 2-core host (89.5 M
//! events), and criterion takes at least 10 samples after a warm-up. Instead each horizon runs
//! `--reps` times back to back (min, median, max wall time, as hyperfine
//! reports), single-threaded, traffic generation and report included, in
//! a child process of its own (this binary again), so the peak RSS read
//! from `/proc/self/status` (VmHWM) is that horizon's alone. Under
//! `cargo test --benches` (no `--bench` argument) it only runs a 100-mailbox
//! day once, so no test run pays for the heavy cases.

mod support;

use std::hint::black_box;
use std::process::{Command, Stdio};
use std::time::Instant;
use syncsim::scenario::{parse, Format, Scenario};

#[global_allocator]
static GLOBAL: support::Counting = support::Counting;

/// The benchmark scenario (3 days; also runnable:
/// `syncsim run scenarios/bench/hybrid-10k.toml [--set horizon=30d]`).
const SCENARIO: &str = include_str!("../scenarios/bench/hybrid-10k.toml");

/// The horizons measured by default.
const HORIZONS: [&str; 2] = ["3d", "30d"];

/// The scenario with its horizon (and, for the smoke test, its mailbox
/// count) replaced.
fn scenario(horizon: &str, mailboxes: Option<u32>) -> Scenario {
    let mut text = SCENARIO.replace("horizon = \"3d\"", &format!("horizon = \"{horizon}\""));
    assert!(
        text.contains(&format!("horizon = \"{horizon}\"")),
        "the bench scenario sets its horizon on one line"
    );
    if let Some(m) = mailboxes {
        text = text.replace("mailboxes = 10000", &format!("mailboxes = {m}"));
    }
    parse(&text, "hybrid-10k.toml", Format::Toml).expect("bench scenario is valid")
}

/// The process's peak resident set (VmHWM), in bytes; 0 without `/proc`.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// What one horizon measured, as the child prints it for the parent.
struct Measured {
    horizon: String,
    median_s: f64,
    rss: u64,
}

/// Runs one horizon `reps` times (in the child), prints the figures on
/// stderr and a `RESULT horizon median_s rss_bytes` line on stdout.
fn measure(horizon: &str, reps: usize) {
    let s = scenario(horizon, None);
    let mut walls = Vec::with_capacity(reps);
    let mut peak_heap = 0;
    let mut first: Option<syncsim::Report> = None;
    for _ in 0..reps {
        let started = Instant::now();
        let (report, heap) = support::peak_of(|| black_box(syncsim::run(&s)));
        walls.push(started.elapsed().as_secs_f64());
        peak_heap = peak_heap.max(heap);
        match &first {
            Some(f) => assert_eq!(f.digest, report.digest, "every repetition is the same run"),
            None => first = Some(report),
        }
    }
    let report = first.expect("at least one repetition");
    walls.sort_by(f64::total_cmp);
    let median = walls[walls.len() / 2];
    let rss = peak_rss();
    let name = format!("hybrid_30d/{horizon}");
    support::print_memory(&name, &report, peak_heap);
    eprintln!(
        "{name}: wall min {:.2} s, median {median:.2} s, max {:.2} s ({reps} runs); {:.2} M events/s; peak RSS {:.1} MB; digest {}",
        walls[0],
        walls[walls.len() - 1],
        report.engine.events as f64 / median / 1e6,
        rss as f64 / 1e6,
        report.digest,
    );
    println!("RESULT {horizon} {median} {rss}");
}

/// Runs `horizon` in a child process and reads its result line.
fn child(horizon: &str, reps: usize) -> Measured {
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new(exe)
        .args(["--bench", "--child", horizon, "--reps", &reps.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .expect("run the child");
    assert!(out.status.success(), "hybrid_30d/{horizon} failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("the child's result line");
    let f: Vec<&str> = line.split_whitespace().collect();
    Measured {
        horizon: f[0].to_string(),
        median_s: f[1].parse().expect("seconds"),
        rss: f[2].parse().expect("bytes"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    if !args.iter().any(|a| a == "--bench") {
        // `cargo test --benches`: check that it runs, cheaply.
        let report = syncsim::run(&scenario("1d", Some(100)));
        assert!(report.engine.events > 0);
        eprintln!("hybrid_30d: smoke run ok (100 mailboxes, 1 day; `cargo bench --bench hybrid_30d` measures)");
        return;
    }
    let reps = value("--reps").map_or(3, |r| r.parse().expect("--reps N"));
    assert!(reps > 0, "--reps is at least 1");
    if let Some(horizon) = value("--child") {
        measure(horizon, reps);
        return;
    }
    let mut horizons: Vec<&str> = args
        .windows(2)
        .filter(|w| w[0] == "--horizon")
        .map(|w| w[1].as_str())
        .collect();
    if horizons.is_empty() {
        horizons = HORIZONS.to_vec();
    }
    // `cargo bench FILTER` passes FILTER to every bench: run only what
    // matches, as criterion does.
    let filter = args
        .iter()
        .enumerate()
        .find(|(i, a)| {
            !a.starts_with("--")
                && (*i == 0 || !["--reps", "--horizon"].contains(&args[i - 1].as_str()))
        })
        .map(|(_, a)| a.as_str());
    horizons.retain(|h| filter.is_none_or(|f| format!("hybrid_30d/{h}").contains(f)));
    let measured: Vec<Measured> = horizons.iter().map(|h| child(h, reps)).collect();
    if let [short, long] = &measured[..] {
        eprintln!(
            "hybrid_30d: {} / {}: wall time x{:.1}, peak RSS x{:.2}",
            long.horizon,
            short.horizon,
            long.median_s / short.median_s,
            long.rss as f64 / short.rss.max(1) as f64
        );
    }
}
