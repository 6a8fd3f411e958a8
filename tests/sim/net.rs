//! Network mode (turmoil): the reference consumer over simulated TCP gives
//! the event engine's counts where timing cannot change them, the same
//! seed gives the same digest, and a consumer's crash is a host crash.

use super::common::scenario;
use std::time::Duration;
use syncsim::net::{self, NetOptions};
use syncsim::Report;

fn net_run(text: &str) -> Report {
    net::run_reference(scenario(text).config(), &NetOptions::default())
        .unwrap()
        .report
}

const POLL: &str = r#"
name = "net-poll"
seed = 3
horizon = "1h"
[source]
mailboxes = 6
messages_per_day = 300
api_latency = { dist = "lognormal", median = "120ms", p99 = "900ms" }
[consumer]
strategy = "poll"
poll_interval = "5m"
if_none_match = true
"#;

#[test]
fn net_poll_counts_match_the_event_engine() {
    let sim = syncsim::run(&scenario(POLL));
    let net = net_run(POLL);
    assert_eq!(net.changes.generated, sim.changes.generated);
    assert_eq!(net.changes.lost, sim.changes.lost);
    assert_eq!(net.changes.applied, sim.changes.applied);
    // 6 mailboxes x 12 polls an hour, on the same seeded phases.
    assert_eq!(net.requests.poll, 72);
    assert_eq!(net.requests.poll, sim.requests.poll);
    assert_eq!(net.requests.not_modified, sim.requests.not_modified);
    let n = net.net.as_ref().expect("network figures");
    assert_eq!(n.api_requests, 72, "every poll went over simulated TCP");
}

const WEBHOOK: &str = r#"
name = "net-webhook"
seed = 3
horizon = "1h"
drain = "20m"
[source]
mailboxes = 6
messages_per_day = 300
[webhooks]
preset = "svix"
[consumer]
strategy = "webhook"
ack = "queue_first"
queue = "durable"
workers = 4
handler_time = { dist = "lognormal", median = "20ms", p99 = "200ms" }
dedup = "event_id"
[[faults]]
kind = "endpoint_outage"
mode = "503"
at = "20m"
for = "10m"
"#;

#[test]
fn net_webhooks_through_an_outage_match_the_event_engine() {
    let sim = syncsim::run(&scenario(WEBHOOK));
    let net = net_run(WEBHOOK);
    let (nw, sw) = (
        net.webhooks.as_ref().unwrap(),
        sim.webhooks.as_ref().unwrap(),
    );
    assert_eq!(net.changes.generated, sim.changes.generated);
    assert_eq!(
        sim.changes.lost, 0,
        "svix retries outlast a 10-minute outage"
    );
    // At most one change is scored lost here: with `dedup = "event_id"`
    // the endpoint applies a delivery without comparing versions, and
    // for one message whose first change's retry (after the outage) and
    // second change cross at the endpoint, the wire's ordering decides
    // which version lands last (the event engine has no wire; seen at
    // every tick from 10 to 100 ms: mailbox 2, message 2).
    assert!(net.changes.lost <= 1, "{:?}", net.changes);
    // The sender's decisions are the model's; the outage window is
    // minutes wide, far from the wire's tick of jitter.
    assert_eq!(nw.notifications, sw.notifications);
    assert_eq!(nw.attempts, sw.attempts);
    assert_eq!(nw.delivered, sw.delivered);
    assert!(sim.faults.endpoint_outage_hits > 0, "the outage fired");
    assert_eq!(
        net.faults.endpoint_outage_hits,
        sim.faults.endpoint_outage_hits
    );
    let n = net.net.as_ref().unwrap();
    // Outage attempts never reach the endpoint: every POST that left was
    // verified and answered 200.
    assert_eq!(n.http_status.get("200").copied(), Some(nw.delivered));
    assert_eq!(n.deliveries_sent, nw.delivered);
    // Latency is scored from when the provider saw the 200: the model's
    // commit-to-arrival plus the endpoint's answer over the wire. The
    // event engine measures to the apply; both are well under a second
    // at the median here (svix latency, 20 ms handlers, 10 ms ticks).
    let (np50, sp50) = (
        net.latency_ms.webhook.p50.unwrap(),
        sim.latency_ms.webhook.p50.unwrap(),
    );
    assert!((np50 - sp50).abs() < 250.0, "p50 {np50} vs {sp50} ms");
}

const HYBRID: &str = r#"
name = "net-hybrid"
seed = 5
horizon = "1h"
drain = "30m"
[source]
mailboxes = 6
messages_per_day = 300
[webhooks]
preset = "github"
[consumer]
strategy = "hybrid"
reconcile_every = "10m"
lookback = "30m"
[[faults]]
kind = "endpoint_outage"
at = "15m"
for = "10m"
"#;

#[test]
fn net_hybrid_recovers_the_outage_by_reconciliation() {
    let sim = syncsim::run(&scenario(HYBRID));
    let net = net_run(HYBRID);
    assert_eq!(net.changes.generated, sim.changes.generated);
    assert_eq!(sim.changes.lost, 0);
    assert_eq!(net.changes.lost, 0, "{:?}", net.changes);
    assert_eq!(net.consistency.divergent_messages, 0);
    // The reference consumer counts its own calls, as the engine does: 6
    // mailboxes reconciling every 10 minutes on the same seeded phases.
    assert_eq!(net.requests.reconcile, sim.requests.reconcile);
    assert!(
        sim.requests.reconcile >= 6 * 9,
        "{}",
        sim.requests.reconcile
    );
    let (nw, sw) = (
        net.webhooks.as_ref().unwrap(),
        sim.webhooks.as_ref().unwrap(),
    );
    assert_eq!(nw.attempts, sw.attempts);
    assert_eq!(
        net.faults.endpoint_outage_hits,
        sim.faults.endpoint_outage_hits
    );
    // github does not retry: the outage's attempts failed for good, so
    // those changes reached the consumer only by reconciling (scored as
    // listed, not delivered).
    assert!(nw.attempts > nw.delivered);
}

/// Same seed, same digest: twice in a row on this thread, and on two
/// threads at once (turmoil's world is per thread), as `--jobs` runs them.
#[test]
fn net_runs_are_deterministic_from_the_seed() {
    let cfg = scenario(WEBHOOK).config();
    let opts = NetOptions::default();
    let a = net::run_reference(cfg.clone(), &opts).unwrap();
    let b = net::run_reference(cfg.clone(), &opts).unwrap();
    assert_eq!(a.report.digest, b.report.digest);
    assert_eq!(a.steps, b.steps);
    let parallel: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let cfg = cfg.clone();
                let opts = opts.clone();
                s.spawn(move || net::run_reference(cfg, &opts).unwrap().report.digest)
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        parallel,
        vec![a.report.digest.clone(), a.report.digest.clone()]
    );
    // A different seed is a different run (the check above can fail).
    let mut other = cfg;
    other.seed += 1;
    let c = net::run_reference(other, &opts).unwrap();
    assert_ne!(c.report.digest, a.report.digest);
    // A trace of one mailbox is the same twice too, and has both sides.
    let traced = NetOptions {
        trace: Some(syncsim::model::trace::Filter::Mailbox(2)),
        ..NetOptions::default()
    };
    let t1 = net::run_reference(scenario(WEBHOOK).config(), &traced).unwrap();
    let t2 = net::run_reference(scenario(WEBHOOK).config(), &traced).unwrap();
    assert!(syncsim::model::trace::first_divergence(&t1.trace, &t2.trace).is_none());
    let events: std::collections::BTreeSet<&str> = t1.trace.iter().map(|r| r.event).collect();
    for e in ["commit", "attempt", "arrive"] {
        assert!(events.contains(e), "{e} in {events:?}");
    }
    assert_eq!(t1.report.digest, a.report.digest, "tracing changes nothing");
}

const CRASH: &str = r#"
name = "net-crash"
seed = 7
horizon = "1h"
drain = "30m"
[source]
mailboxes = 6
messages_per_day = 600
[webhooks]
preset = "svix"
[consumer]
strategy = "webhook"
ack = "queue_first"
queue = "memory"
workers = 1
handler_time = "20s"
[[faults]]
kind = "consumer_crash"
at = "20m"
for = "5m"
"#;

#[test]
fn net_consumer_crash_is_a_host_crash() {
    let sim = syncsim::run(&scenario(CRASH));
    let net = net_run(CRASH);
    assert_eq!(sim.faults.consumer_crashes, 1);
    assert_eq!(net.faults.consumer_crashes, 1, "one window, one host crash");
    // One worker at 20 s a change, 150 changes an hour (utilisation
    // 0.83): a few items wait in the memory queue, acked, when the crash
    // comes, and are lost in both drivers (3 in each at this seed; the
    // wire shifts arrivals by a tick, so allow two either way).
    assert!(sim.changes.lost > 0, "the crash lost queued items");
    let (n, s) = (net.changes.lost as i64, sim.changes.lost as i64);
    assert!((n - s).abs() <= 2, "lost {n} vs {s}");
    // While the host was down the provider's POSTs failed on the wire
    // (timeouts: its packets go nowhere), and svix retried them.
    let nf = net.net.as_ref().unwrap();
    assert!(
        nf.http_status.get("timeout").copied().unwrap_or(0) > 0,
        "{:?}",
        nf.http_status
    );
    assert_eq!(
        nf.http_status.get("200").copied(),
        Some(net.webhooks.as_ref().unwrap().delivered)
    );
    // The report names what was lost.
    let run = net::run_reference(scenario(CRASH).config(), &NetOptions::default()).unwrap();
    assert_eq!(run.lost.len() as u64, net.changes.lost);
    assert_eq!(run.report.digest, net.digest);
}

#[allow(dead_code)]
#[path = "../../examples/net_consumer.rs"]
mod example;

/// The example's buggy consumer (acks before persisting) loses what it
/// held in memory at the crash, the report names it, and the seed
/// reproduces it; the fixed one loses nothing.
#[test]
fn net_example_consumer_loses_mail_in_a_crash_and_the_fix_does_not() {
    let buggy = example::run(14, false).unwrap();
    let r = &buggy.report;
    assert_eq!(r.faults.consumer_crashes, 1);
    // A change every ~11 s and a flush every 60 s: the crash at 40 min
    // finds a few acknowledged changes in memory (at most the minute
    // since the last flush: ~5).
    assert!(
        (1..=12).contains(&r.changes.lost),
        "lost {} of {}",
        r.changes.lost,
        r.changes.generated
    );
    assert_eq!(buggy.lost.len() as u64, r.changes.lost);
    // Every lost change was acknowledged (svix got its 200, so it never
    // sent it again) shortly before the crash: at most a minute of them.
    let n = r.net.as_ref().unwrap();
    assert_eq!(
        n.http_status.get("200").copied(),
        Some(r.webhooks.as_ref().unwrap().delivered)
    );
    assert_eq!(r.webhooks.as_ref().unwrap().delivered, r.changes.generated);
    // The seed reproduces it exactly.
    let again = example::run(14, false).unwrap();
    assert_eq!(again.report.digest, r.digest);
    assert_eq!(again.lost, buggy.lost);
    // The fix: persist, then acknowledge.
    let fixed = example::run(14, true).unwrap();
    assert_eq!(fixed.report.changes.generated, r.changes.generated);
    assert_eq!(fixed.report.changes.lost, 0, "{:?}", fixed.lost);
    assert_eq!(fixed.report.faults.consumer_crashes, 1);
}

const FAULTS: &str = r#"
name = "net-faults"
seed = 9
horizon = "1h"
drain = "40m"
[source]
mailboxes = 6
messages_per_day = 300
[webhooks]
preset = "svix"
[consumer]
strategy = "hybrid"
reconcile_every = "10m"
lookback = "30m"
[[faults]]
kind = "drop"
what = "response"
probability = 0.1
[[faults]]
kind = "duplicate"
probability = 0.1
[[faults]]
kind = "source_outage"
at = "10m"
for = "5m"
[[faults]]
kind = "secret_rotation"
at = "20m"
for = "10m"
[[faults]]
kind = "forged"
probability = 0.2
"#;

/// Provider-side faults act on the wire through the same Provider and
/// Network code: each fires (a fault that never fired would be flagged by
/// `check::fault_checks`), the reference consumer trusts every rotated
/// key and refuses every forgery, and nothing is lost.
#[test]
fn net_provider_faults_fire_on_the_wire() {
    let s = scenario(FAULTS);
    let sim = syncsim::run(&s);
    let net = net_run(FAULTS);
    for c in syncsim::check::fault_checks(&s, &net) {
        assert!(c.pass, "{} = {:?}: the fault never fired", c.path, c.got);
    }
    // Every kind applies under the network driver (signing ones too).
    assert_eq!(syncsim::check::fault_checks(&s, &net).len(), 5);
    // Drops and duplicates are drawn per attempt, in attempt order, from
    // the model's streams; the wire moves an answer by a tick, which can
    // reorder two attempts sent at nearly the same time and so swap their
    // draws: allow two either way (at 10% of ~80 attempts, ~8 each).
    let near = |a: u64, b: u64| (a as i64 - b as i64).abs() <= 2;
    assert!(
        near(net.faults.duplicated, sim.faults.duplicated),
        "{:?} vs {:?}",
        net.faults,
        sim.faults
    );
    assert!(near(
        net.faults.dropped_responses,
        sim.faults.dropped_responses
    ));
    assert!(net.faults.duplicated > 0 && net.faults.dropped_responses > 0);
    // The endpoint took the copies in twice (the reference consumer's own
    // count), and every attempt whose response was lost still ended (at
    // its deadline): the sender never stalled.
    assert!(net.webhooks.as_ref().unwrap().duplicates > 0);
    let (nw, sw) = (
        net.webhooks.as_ref().unwrap(),
        sim.webhooks.as_ref().unwrap(),
    );
    assert_eq!(nw.notifications, sw.notifications);
    assert_eq!(nw.abandoned, 0);
    assert_eq!(nw.delivered, nw.notifications);
    let n = net.net.as_ref().unwrap();
    assert!(n.forged_sent > 0 && n.signed_rotated > 0 && n.signed_twice > 0);
    assert_eq!(n.forged_acked, 0, "every forgery was refused");
    assert_eq!(n.forged_accepted, 0);
    // 503s from the source outage reached the reconciler.
    assert!(net.requests.errors > 0);
    assert_eq!(net.changes.lost, 0, "{:?}", net.changes);
}

/// Bad options are a clear error, never a panic.
#[test]
fn net_rejects_a_tick_outside_a_millisecond_to_a_second() {
    let cfg = scenario(POLL).config();
    for tick in [
        Duration::ZERO,
        Duration::from_micros(500),
        Duration::from_secs(2),
    ] {
        let opts = NetOptions {
            tick,
            ..NetOptions::default()
        };
        let e = net::run_reference(cfg.clone(), &opts).unwrap_err();
        assert!(e.to_string().contains("between 1 ms and 1 s"), "{e}");
    }
    let opts = NetOptions {
        tcp_capacity: 0,
        ..NetOptions::default()
    };
    assert!(net::run_reference(cfg, &opts).is_err());
}

/// The CLI: `run --driver net --check-determinism` says the seed is
/// deterministic, `trace --driver net` shows both sides, a bad tick is a
/// clear error (exit 2).
#[test]
fn net_on_the_command_line() {
    let dir = super::common::temp_dir("net-cli");
    let file = dir.join("webhook.toml");
    std::fs::write(&file, WEBHOOK).unwrap();
    let f = file.to_str().unwrap();
    let (code, text, _) =
        super::common::syncsim(&["run", "--driver", "net", "--check-determinism", f]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.starts_with("deterministic: two runs of seed 3"),
        "{text}"
    );
    let (code, text, _) =
        super::common::syncsim(&["trace", "--driver", "net", "--mailbox", "1", f]);
    assert_eq!(code, 0);
    // Provider events (attempts, answers) and consumer events (arrive,
    // apply) in one timeline, then a verdict per change.
    for e in [
        " commit",
        " attempt",
        " answer_ok",
        " arrive",
        " apply",
        " verdict",
    ] {
        assert!(text.contains(e), "{e} missing in\n{text}");
    }
    let (code, _, err) = super::common::syncsim(&["run", "--driver", "net", "--tick", "0ms", f]);
    assert_eq!(code, 2);
    assert!(err.contains("between 1 ms and 1 s"), "{err}");
}

/// A small poll sweep: 2 intervals × 2 seeds, 4 mailboxes for 30 minutes
/// plus a 10-minute drain. Polling every 2 minutes is at least 30/2 = 15
/// polls per mailbox in the horizon alone, so 4 × 15 = 60 > 50: that point
/// breaks `requests.poll < 50`; every 5 minutes is at most 40/5 + 1 = 9
/// per mailbox, 36 < 50: that point holds. The drain outlasts a poll
/// interval, so nothing is lost.
const SWEEP: &str = r#"
name = "net-sweep"
seed = 3
horizon = "30m"
drain = "10m"
[source]
mailboxes = 4
messages_per_day = 300
[consumer]
strategy = "poll"
poll_interval = "5m"
[thresholds]
"changes.lost" = "== 0"
"requests.poll" = "< 50"
[sweep]
seeds = [3, 4]
"consumer.poll_interval" = ["2m", "5m"]
"#;

/// `sweep --driver net` stores, for every run, the report `run --driver
/// net` gives that point and seed, whatever `--jobs`; a folder of one
/// driver is not taken for the other's; `--tick` without `--driver net`
/// is bad input.
#[test]
fn net_sweep_matches_run_and_does_not_depend_on_jobs() {
    use syncsim::sweep::{exec, Driver};
    let dir = super::common::temp_dir("net-sweep");
    let file = dir.join("sweep.toml");
    std::fs::write(&file, SWEEP).unwrap();
    let (d1, d2) = (dir.join("j1"), dir.join("j2"));
    for (d, jobs) in [(&d1, "1"), (&d2, "2")] {
        let (code, out, err) = super::common::syncsim(&[
            "sweep",
            file.to_str().unwrap(),
            "--driver",
            "net",
            "--jobs",
            jobs,
            "--no-progress",
            "--out",
            d.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{out}{err}");
    }
    let driver = Driver::net(None).unwrap();
    let sweep = syncsim::sweep::expand(&file).unwrap().on(driver);
    assert_eq!(sweep.runs.len(), 4);
    let des = syncsim::sweep::expand(&file).unwrap();
    let digest = |d: &std::path::Path, hash: &str| {
        let stored = exec::load(&exec::point_file(d, hash)).expect("stored run");
        stored.report["digest"].as_str().unwrap().to_string()
    };
    for (run, des_run) in sweep.runs.iter().zip(&des.runs) {
        assert_ne!(run.hash, des_run.hash, "the driver is part of a run's id");
        let direct = driver.run(&run.scenario, &run.overrides).unwrap();
        assert_eq!(digest(&d1, &run.hash), direct.digest, "{}", run.label);
        assert_eq!(digest(&d2, &run.hash), direct.digest, "{}", run.label);
        assert!(direct.net.is_some(), "a network-mode report");
    }
    // The command line's `run --driver net` of one point: the same digest.
    let run = &sweep.runs[1];
    let (code, out, err) = super::common::syncsim(&[
        "run",
        file.to_str().unwrap(),
        "--driver",
        "net",
        "--seed",
        &run.seed.to_string(),
        "--set",
        &format!("{}={}", run.overrides[0].0, run.overrides[0].1),
        "--format",
        "json",
    ]);
    assert!(code == 0 || code == 1, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["digest"].as_str().unwrap(), digest(&d1, &run.hash));
    // The event engine into the network sweep's folder: refused.
    let (code, _, err) = super::common::syncsim(&[
        "sweep",
        file.to_str().unwrap(),
        "--no-progress",
        "--out",
        d1.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("driver `net tick=50ms`, not `des`"), "{err}");
    let (code, _, err) =
        super::common::syncsim(&["sweep", file.to_str().unwrap(), "--tick", "10ms"]);
    assert_eq!(code, 2);
    assert!(err.contains("needs --driver net"), "{err}");
}

/// `check --driver net` evaluates the thresholds on network-mode reports
/// (the 2-minute point breaks `requests.poll < 50`, see [`SWEEP`]) and
/// writes JUnit whose repro lines carry `--driver net`.
#[test]
fn net_check_evaluates_thresholds_and_writes_junit() {
    let dir = super::common::temp_dir("net-check");
    let file = dir.join("sweep.toml");
    std::fs::write(&file, SWEEP).unwrap();
    let junit = dir.join("junit.xml");
    let (code, out, err) = super::common::syncsim(&[
        "check",
        file.to_str().unwrap(),
        "--driver",
        "net",
        "--jobs",
        "2",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    // Two seeds of the 2-minute point fail `requests.poll`; nothing else.
    let fails: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(fails.len(), 2, "{out}");
    assert!(
        fails
            .iter()
            .all(|l| l.contains("consumer.poll_interval=2m") && l.contains("requests.poll")),
        "{out}"
    );
    assert!(
        out.contains("--driver net --set consumer.poll_interval=2m"),
        "{out}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<failure").count(), 2, "{xml}");
    assert!(xml.contains("--driver net"), "{xml}");
    // The same check on the event engine has the same verdicts (its
    // repro lines without the driver).
    let o = syncsim::check::check(&[file], 1, syncsim::sweep::Driver::Des);
    assert_eq!(o.exit_code(), 1);
    assert!(!syncsim::check::render(&o).contains("--driver"));
}

/// The JSONL records of a `trace --format jsonl` output.
fn jsonl(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `trace --driver net --lost` picks the lost changes from the network
/// run itself and traces exactly them (their messages, each change with
/// its verdict); `--worst N` picks the run's N slowest.
#[test]
fn net_trace_lost_traces_exactly_the_lost_changes() {
    use std::collections::BTreeSet;
    let dir = super::common::temp_dir("net-trace-lost");
    let file = dir.join("crash.toml");
    std::fs::write(&file, CRASH).unwrap();
    let run = net::run_reference(scenario(CRASH).config(), &NetOptions::default()).unwrap();
    // The crash empties a memory queue of a few acknowledged items (see
    // `net_consumer_crash_is_a_host_crash`): at least one, and fewer than
    // the 10 `--lost` follows, so all of them.
    assert!((1..=10).contains(&run.lost.len()), "{:?}", run.lost);
    let (code, out, err) = super::common::syncsim(&[
        "trace",
        file.to_str().unwrap(),
        "--driver",
        "net",
        "--lost",
        "--format",
        "jsonl",
    ]);
    assert_eq!(code, 0, "{err}");
    let records = jsonl(&out);
    let id = |r: &serde_json::Value, k: &str| r[k].as_u64().unwrap() as u32;
    let lost_verdicts: BTreeSet<(u32, u32)> = records
        .iter()
        .filter(|r| r["event"] == "verdict" && r["verdict"] == "lost")
        .map(|r| (id(r, "mailbox"), id(r, "seq")))
        .collect();
    let lost: BTreeSet<(u32, u32)> = run.lost.iter().map(|l| (l.mailbox, l.change)).collect();
    assert_eq!(lost_verdicts, lost);
    // Only the lost changes' messages are traced.
    let traced: BTreeSet<(u32, u32)> = records
        .iter()
        .filter(|r| r["event"] == "commit")
        .map(|r| (id(r, "mailbox"), id(r, "message")))
        .collect();
    let messages: BTreeSet<(u32, u32)> = run.lost.iter().map(|l| (l.mailbox, l.message)).collect();
    assert_eq!(traced, messages);
    // The only way to lose here is the crash emptying the memory queue
    // (svix retries through the 30-minute drain): the consumer's own
    // record of it reaches the verdicts and the report, as in `run`.
    for r in records.iter().filter(|r| r["verdict"] == "lost") {
        assert_eq!(r["cause"], "crash", "{r}");
    }
    assert_eq!(
        run.report.changes.lost_by_cause.crash,
        run.report.changes.lost
    );
    // The text form names them first.
    let (code, out, _) =
        super::common::syncsim(&["trace", file.to_str().unwrap(), "--driver", "net", "--lost"]);
    assert_eq!(code, 0);
    let n = run.lost.len();
    assert!(
        out.starts_with(&format!("{n} of {n} lost changes")),
        "{out}"
    );
    // `--worst 3`: the network run's three slowest, each traced.
    let (code, out, err) = super::common::syncsim(&[
        "trace",
        file.to_str().unwrap(),
        "--driver",
        "net",
        "--worst",
        "3",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("the 3 slowest changes:"), "{out}");
    let slow = net::run_reference(
        scenario(CRASH).config(),
        &NetOptions {
            slowest: 3,
            ..NetOptions::default()
        },
    )
    .unwrap()
    .slowest;
    assert_eq!(slow.len(), 3);
    // Slowest first, and the report's own list starts the same way.
    assert!(slow.windows(2).all(|w| w[0].lag_ms >= w[1].lag_ms));
    assert_eq!(slow[0].lag_ms, run.report.changes.slowest[0].lag_ms);
    for c in &slow {
        assert!(
            out.contains(&format!(
                "  mailbox {} message {} (#{})",
                c.mailbox, c.message, c.seq
            )),
            "{out}"
        );
    }
}

/// A network-mode trace ends as the event engine's does: one `verdict`
/// record per traced change, after every other record, at the run's end,
/// with the same fields; on the hybrid scenario (nothing lost in either
/// driver) the verdicts agree change by change.
#[test]
fn net_traces_end_with_a_verdict_per_change_like_the_event_engine() {
    use syncsim::model::trace::Filter;
    let s = scenario(HYBRID);
    let filter = Filter::Mailbox(1);
    let (_, des) = syncsim::run_traced(&s, filter.clone());
    let net = net::run_reference(
        s.config(),
        &NetOptions {
            trace: Some(filter),
            ..NetOptions::default()
        },
    )
    .unwrap()
    .trace;
    let tail = |t: &[syncsim::model::trace::Record]| {
        let commits = t.iter().filter(|r| r.event == "commit").count();
        assert!(commits > 0);
        let (rest, verdicts) = t.split_at(t.len() - commits);
        assert!(verdicts.iter().all(|r| r.event == "verdict"));
        assert!(rest.iter().all(|r| r.event != "verdict"));
        verdicts.to_vec()
    };
    let (dv, nv) = (tail(&des), tail(&net));
    assert_eq!(dv.len(), nv.len());
    let keys = |r: &syncsim::model::trace::Record| {
        r.to_json()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    for (d, n) in dv.iter().zip(&nv) {
        assert_eq!((d.at, d.mailbox, d.change), (n.at, n.mailbox, n.change));
        assert_eq!(keys(d), keys(n), "{} / {}", d.render(), n.render());
        assert_eq!(d.detail["verdict"], "applied");
        assert_eq!(n.detail["verdict"], "applied");
    }
    // The verdict line reads alike in both (up to the details).
    let head = |r: &syncsim::model::trace::Record| r.render()[..70].to_string();
    assert_eq!(head(&dv[0]), head(&nv[0]));
}

/// A hybrid consumer's listings are reconciliations: first seen by
/// `reconcile`, never `poll`, as the event engine counts them. The
/// outage's changes (github does not retry) are the reconciled ones in
/// both drivers; a change could only move between paths if its webhook
/// and a listing crossed within the wire's tick, which does not happen at
/// this seed, so the counts are identical.
#[test]
fn net_hybrid_listings_count_as_reconcile() {
    let sim = syncsim::run(&scenario(HYBRID));
    let net = net_run(HYBRID);
    assert!(sim.changes.first_seen_by.reconcile > 0);
    assert_eq!(sim.changes.first_seen_by.poll, 0);
    assert_eq!(net.changes.first_seen_by, sim.changes.first_seen_by);
    assert_eq!(
        net.latency_ms.reconcile.count, sim.latency_ms.reconcile.count,
        "reconciled changes' latency is recorded as reconcile"
    );
    // A poll consumer's listings stay polls.
    let (sp, np) = (syncsim::run(&scenario(POLL)), net_run(POLL));
    assert_eq!(np.changes.first_seen_by, sp.changes.first_seen_by);
    assert_eq!(np.changes.first_seen_by.reconcile, 0);
}
