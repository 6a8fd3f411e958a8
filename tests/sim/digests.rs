//! Every bundled scenario's report digest, for every run of its sweep,
//! against a fixture: a refactor keeps them all; a deliberate model change
//! updates `tests/fixtures/digests.txt` in its own commit that says why.
//!
//! Regenerate with `SYNCSIM_BLESS=1 cargo test --profile ci digests`.

use std::path::{Path, PathBuf};

const FIXTURE: &str = "tests/fixtures/digests.txt";

/// Every scenario file under `scenarios/`, sorted.
fn bundled() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "toml" || x == "json") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new("scenarios"), &mut out);
    out.sort();
    out
}

/// One line per run: `file | label | seed | digest`.
fn lines() -> Vec<String> {
    let mut jobs = Vec::new();
    for file in bundled() {
        let sweep = syncsim::sweep::expand(&file).unwrap_or_else(|e| panic!("{e}"));
        for run in sweep.runs {
            jobs.push((file.display().to_string(), run));
        }
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out: Vec<Option<String>> = vec![None; jobs.len()];
    let slots: Vec<std::sync::Mutex<&mut Option<String>>> =
        out.iter_mut().map(std::sync::Mutex::new).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((file, run)) = jobs.get(i) else {
                    break;
                };
                let report = syncsim::run(&run.scenario);
                **slots[i].lock().unwrap() = Some(format!(
                    "{file} | {} | {} | {}",
                    run.label, run.seed, report.digest
                ));
            });
        }
    });
    drop(slots);
    out.into_iter().map(Option::unwrap).collect()
}

#[test]
fn every_bundled_scenario_keeps_its_digest() {
    let got = lines();
    if std::env::var_os("SYNCSIM_BLESS").is_some() {
        std::fs::write(FIXTURE, got.join("\n") + "\n").unwrap();
        return;
    }
    let want = std::fs::read_to_string(FIXTURE).expect("fixture: run with SYNCSIM_BLESS=1");
    let want: Vec<&str> = want.lines().collect();
    let changed: Vec<String> = got
        .iter()
        .zip(&want)
        .filter(|(g, w)| g != w)
        .map(|(g, w)| format!("  want {w}\n  got  {g}"))
        .collect();
    assert!(
        changed.is_empty() && got.len() == want.len(),
        "{} of {} digests changed ({} runs now, {} in the fixture):\n{}",
        changed.len(),
        want.len(),
        got.len(),
        want.len(),
        changed.join("\n")
    );
}

/// The event engine runs a polling mailbox's polls ahead of the queue
/// (see `engine::des`): on the first run of every bundled scenario where
/// it does, the report equals the one with every poll through the queue.
#[test]
fn running_polls_ahead_keeps_every_bundled_digest() {
    let mut checked = 0;
    for file in bundled() {
        let sweep = syncsim::sweep::expand(&file).unwrap_or_else(|e| panic!("{e}"));
        let Some(run) = sweep
            .runs
            .iter()
            .find(|r| syncsim::engine::des::runs_ahead(&r.scenario))
        else {
            continue;
        };
        let ahead = syncsim::engine::des::run(&run.scenario);
        let queued = syncsim::engine::des::run_in_queue_order(&run.scenario);
        assert_eq!(
            ahead.digest,
            queued.digest,
            "{} | {} | {}",
            file.display(),
            run.label,
            run.seed
        );
        checked += 1;
    }
    // poll-1min, poll-5min, ci/poll, bench/poll-10k, compare, capacity-10k,
    // advise-small, architect-graph-25k (per-mailbox quota), ... poll.
    assert!(checked >= 8, "only {checked} bundled scenarios run ahead");
}

/// A run's traffic may be generated on a second thread (up front, or
/// ahead at each trim of a streaming run); its report does not depend on
/// it. Both ways are forced, so this holds on any machine, and the
/// threaded way must really start threads: once up front for webhook-10k
/// and poll-10k; at the start and at each of the 12 six-hour trims of
/// hybrid-10k's 73 hours (three days and the drain): 13 times.
#[test]
fn one_or_two_traffic_threads_give_the_same_digest() {
    use syncsim::engine::des::{run_on, TrafficThreads};
    for (file, threads) in [
        ("scenarios/bench/webhook-10k.toml", 1),
        ("scenarios/bench/poll-10k.toml", 1),
        ("scenarios/bench/hybrid-10k.toml", 13),
    ] {
        let scenario = syncsim::load(Path::new(file)).unwrap_or_else(|e| panic!("{e}"));
        let (one, none) = run_on(&scenario, TrafficThreads::One);
        let (two, started) = run_on(&scenario, TrafficThreads::Two);
        assert_eq!(
            none, 0,
            "{file}: TrafficThreads::One started {none} threads"
        );
        assert_eq!(started, threads, "{file}: traffic threads started");
        assert_eq!(one.digest, two.digest, "{file}");
    }
}
