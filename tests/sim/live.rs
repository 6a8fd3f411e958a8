//! Live mode on loopback (ephemeral ports, every loop bounded by the
//! scenario's end): the same components over real HTTP give the same
//! counts as the event engine, and `serve` scores a hand-written consumer
//! through the replica contract.
//!
//! Exact: what the model decides without looking at wall time (changes
//! generated and applied, polls on a fixed-rate schedule whose answers
//! come back well within an interval, notifications, attempts through an
//! outage whose window is minutes wide). Wall-clock noise at these speeds
//! is below a virtual second, far from every decision boundary here.

use super::common::scenario;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use syncsim::live::{self, ServeOptions};
use syncsim::signing::{Secret, SigningKey, Verifier, WebhookHeaders};
use syncsim::Report;

/// Every live run here ends by itself within a few wall seconds; a bug
/// that kept one going fails the test after two minutes instead of
/// hanging CI.
async fn bounded<E: std::fmt::Debug>(
    run: impl std::future::Future<Output = Result<Report, E>>,
) -> Report {
    tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .expect("a live run ended within 2 minutes")
        .unwrap()
}

fn live_run(text: &str, speed: f64) -> Report {
    let s = scenario(text);
    let rt = live::runtime().unwrap();
    rt.block_on(bounded(live::live(s.config(), speed, false)))
}

const POLL: &str = r#"
name = "live-poll"
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

const WEBHOOK: &str = r#"
name = "live-webhook"
seed = 3
horizon = "1h"
drain = "20m"
[source]
mailboxes = 6
messages_per_day = 300
[webhooks]
preset = "svix"
# svix's 15 s timeout is 12.5 wall ms at 1,200x: one scheduling hiccup on
# a loaded machine. Two minutes (100 ms) keeps every answer in time; the
# event engine runs the same text, so comparisons are unchanged.
timeout = "2m"
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

const HYBRID: &str = r#"
name = "live-hybrid"
seed = 5
horizon = "1h"
drain = "30m"
[source]
mailboxes = 6
messages_per_day = 300
[webhooks]
preset = "github"
# github's 10 s timeout is 8.3 wall ms at 1,200x; a POST to a child
# process on a loaded machine can miss it. Two minutes, as above.
timeout = "2m"
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
fn live_poll_counts_match_the_event_engine() {
    let sim = syncsim::run(&scenario(POLL));
    let live = live_run(POLL, 1_800.0);
    assert_eq!(live.changes.generated, sim.changes.generated);
    // Changes committed after a mailbox's last poll of the hour stay
    // unread in both (no drain).
    assert_eq!(live.changes.lost, sim.changes.lost);
    assert_eq!(live.changes.applied, sim.changes.applied);
    // 6 mailboxes x 12 polls an hour, on the same seeded phases.
    assert_eq!(live.requests.poll, 72);
    assert_eq!(live.requests.poll, sim.requests.poll);
    assert_eq!(
        live.consistency.divergent_messages,
        sim.consistency.divergent_messages
    );
    let l = live.live.as_ref().expect("live figures");
    assert_eq!(l.api_requests, 72, "every poll went over HTTP");
}

#[test]
fn live_webhooks_through_an_outage_match_the_event_engine() {
    let sim = syncsim::run(&scenario(WEBHOOK));
    let live = live_run(WEBHOOK, 600.0);
    let (lw, sw) = (
        live.webhooks.as_ref().unwrap(),
        sim.webhooks.as_ref().unwrap(),
    );
    assert_eq!(live.changes.generated, sim.changes.generated);
    assert_eq!(
        live.changes.lost, 0,
        "svix retries outlast a 10-minute outage"
    );
    assert_eq!(lw.notifications, sw.notifications);
    // Live mode decides an attempt's fate when it leaves, in real time: on
    // a loaded machine an attempt due just before the outage's edge can
    // leave just after it (one hit, and so one retry, fewer or more), so
    // hits and attempts may differ by one or two. Every other attempt is
    // a delivery in both runs: each notification is delivered once (no
    // other fault, and the retries outlast the outage).
    let (hits, sim_hits) = (
        live.faults.endpoint_outage_hits,
        sim.faults.endpoint_outage_hits,
    );
    assert!(sim_hits > 0, "the outage fired");
    assert!(hits.abs_diff(sim_hits) <= 2, "{hits} vs {sim_hits}");
    assert_eq!(lw.attempts - hits, lw.notifications, "live");
    assert_eq!(sw.attempts - sim_hits, sw.notifications, "event engine");
    let l = live.live.as_ref().unwrap();
    // Outage attempts never reach the endpoint: every POST that left was
    // answered 200.
    assert_eq!(l.http_status.get("200").copied(), Some(lw.delivered));
    assert_eq!(l.deliveries_sent, lw.delivered);
}

#[test]
fn live_hybrid_recovers_the_outage_by_reconciliation() {
    let sim = syncsim::run(&scenario(HYBRID));
    let live = live_run(HYBRID, 1_200.0);
    assert_eq!(live.changes.lost, 0);
    assert_eq!(live.changes.generated, sim.changes.generated);
    assert_eq!(live.requests.reconcile, sim.requests.reconcile);
    // github does not retry: each change whose one attempt the outage ate
    // (one outage hit each) can only come back by reconciling, in both
    // runs. Beyond those, a webhook and a listing of the same change race;
    // real time on a loaded machine can make a webhook late (not early),
    // so live may count a few more reconcile-first changes, never fewer
    // than the outage ate. 15 of 6 mailboxes × 300/day × 1 h ≈ 75 changes
    // here; the bound allows up to 10 more.
    // Live mode decides an attempt's fate when it leaves, in real time: an
    // attempt due just before the outage's edge can leave just after it
    // on a loaded machine, so the hits may differ by one or two.
    let eaten = sim.faults.endpoint_outage_hits;
    let live_eaten = live.faults.endpoint_outage_hits;
    assert!(eaten > 0, "the outage fired");
    assert!(live_eaten.abs_diff(eaten) <= 2, "{live_eaten} vs {eaten}");
    let (l, s) = (
        live.changes.first_seen_by.reconcile,
        sim.changes.first_seen_by.reconcile,
    );
    assert!(s >= eaten, "sim: {s} reconcile-first, {eaten} eaten");
    assert!(
        l >= live_eaten && l <= s + 10,
        "live: {l} reconcile-first ({live_eaten} eaten), sim {s}"
    );
}

/// (mailbox, message) -> (version, deleted).
type Held = BTreeMap<(u32, u32), (u32, bool)>;

/// What a `Tiny` endpoint answers besides processing deliveries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Processes every delivery.
    Normal,
    /// 410 Gone to everything.
    Gone,
    /// 500 with Svix's `webhook-delivery: abort-message` to everything.
    Abort,
    /// 429 with `Retry-After: 1` (wall seconds) to the first attempt of
    /// each message, then processes it.
    ThrottleOnce,
}

/// A tiny consumer written for this test: it checks signatures (or not),
/// keeps message -> version, and serves the replica contract.
#[derive(Clone)]
struct Tiny {
    verifier: Option<Arc<Verifier>>,
    replica: Arc<Mutex<Held>>,
    rejected: Arc<Mutex<u64>>,
    mode: Mode,
    /// `webhook-id`s seen (`ThrottleOnce`).
    seen: Arc<Mutex<BTreeSet<String>>>,
}

async fn tiny_webhook(State(t): State<Tiny>, headers: HeaderMap, body: Bytes) -> Response {
    match t.mode {
        Mode::Normal => {}
        Mode::Gone => return StatusCode::GONE.into_response(),
        Mode::Abort => {
            let abort = [("webhook-delivery", "abort-message")];
            return (StatusCode::INTERNAL_SERVER_ERROR, abort).into_response();
        }
        Mode::ThrottleOnce => {
            let id = headers.get("webhook-id").unwrap().to_str().unwrap();
            if t.seen.lock().unwrap().insert(id.to_string()) {
                let after = [("retry-after", "1")];
                return (StatusCode::TOO_MANY_REQUESTS, after).into_response();
            }
        }
    }
    tiny_process(&t, &headers, &body).into_response()
}

/// Verifies (or not) and applies one delivery.
fn tiny_process(t: &Tiny, headers: &HeaderMap, body: &Bytes) -> StatusCode {
    if let Some(v) = &t.verifier {
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
            .collect();
        let now = live::clock::unix_secs();
        if WebhookHeaders::from_pairs(pairs)
            .and_then(|h| v.verify(&h, body, now))
            .is_err()
        {
            *t.rejected.lock().unwrap() += 1;
            return StatusCode::UNAUTHORIZED;
        }
    }
    let doc: serde_json::Value = match serde_json::from_slice(body) {
        Ok(d) => d,
        Err(_) => return StatusCode::BAD_REQUEST,
    };
    let d = &doc["data"];
    let key = (
        d["mailbox"].as_u64().unwrap() as u32,
        d["message"].as_u64().unwrap() as u32,
    );
    let version = d["version"].as_u64().unwrap() as u32;
    let deleted = d["deleted"].as_bool().unwrap();
    let mut r = t.replica.lock().unwrap();
    let held = r.entry(key).or_insert((0, false));
    if version > held.0 {
        *held = (version, deleted);
    }
    StatusCode::OK
}

async fn tiny_replica(State(t): State<Tiny>) -> axum::Json<serde_json::Value> {
    let r = t.replica.lock().unwrap();
    let messages: Vec<_> = r
        .iter()
        .map(|((m, msg), (v, del))| {
            serde_json::json!({"mailbox": m, "message": msg, "version": v, "deleted": del})
        })
        .collect();
    axum::Json(serde_json::json!({ "messages": messages }))
}

/// Serves `WEBHOOK` to a `Tiny` consumer; returns the report and how many
/// deliveries the consumer rejected.
fn serve_tiny(consumer_keys: Option<Vec<SigningKey>>, sender_key: SigningKey) -> (Report, u64) {
    serve_tiny_with(WEBHOOK, Mode::Normal, consumer_keys, vec![sender_key])
}

/// Serves scenario `text` to a `Tiny` consumer answering as `mode` says,
/// trusting `consumer_keys` (`None`: it checks nothing), signing with
/// `sender_keys` (one per key generation).
fn serve_tiny_with(
    text: &str,
    mode: Mode,
    consumer_keys: Option<Vec<SigningKey>>,
    sender_keys: Vec<SigningKey>,
) -> (Report, u64) {
    let text = text.to_string();
    let rt = live::runtime().unwrap();
    rt.block_on(async move {
        let tiny = Tiny {
            verifier: consumer_keys.map(|k| Arc::new(Verifier::trusting(&k))),
            replica: Arc::default(),
            rejected: Arc::default(),
            mode,
            seen: Arc::default(),
        };
        let router = axum::Router::new()
            .route("/syncsim/replica", axum::routing::get(tiny_replica))
            .route("/hook", axum::routing::post(tiny_webhook))
            .with_state(tiny.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, router).await });
        let opts = ServeOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            allow_remote: false,
            webhook_url: Some(format!("http://{addr}/hook")),
            replica_url: None,
            speed: 1_200.0,
            keys: sender_keys,
            hold: false,
            progress: false,
            consumer_cmd: None,
        };
        let served = live::Server::bind(scenario(&text).config(), opts)
            .await
            .unwrap();
        assert!(served.addr().ip().is_loopback());
        let report = bounded(served.run()).await;
        server.abort();
        let rejected = *tiny.rejected.lock().unwrap();
        (report, rejected)
    })
}

fn key(byte: u8) -> SigningKey {
    SigningKey::V1(Secret::from_bytes(&[byte; 32]).unwrap())
}

#[test]
fn serve_scores_a_consumer_that_verifies_signatures() {
    let sim = syncsim::run(&scenario(WEBHOOK));
    let (report, rejected) = serve_tiny(Some(vec![key(7)]), key(7));
    assert_eq!(rejected, 0, "every delivery carried a valid signature");
    assert_eq!(report.changes.generated, sim.changes.generated);
    assert_eq!(report.changes.lost, 0);
    assert_eq!(report.consistency.divergent_messages, 0);
    let w = report.webhooks.as_ref().unwrap();
    assert_eq!(w.attempts, sim.webhooks.as_ref().unwrap().attempts);
    let l = report.live.as_ref().unwrap();
    assert_eq!(l.unknown_in_replica, 0);
    // Latency runs from commit to the 2xx: at most the outage (10 min)
    // plus the retries' spacing, never negative.
    let p99 = report.latency_ms.webhook.p99.unwrap();
    assert!(p99 <= 40.0 * 60_000.0, "p99 {p99} ms");
}

#[test]
fn serve_shows_a_consumer_with_the_wrong_secret_losing_everything() {
    // The consumer trusts another secret: it refuses every delivery (401),
    // svix retries and gives up; nothing reaches the replica.
    let (report, rejected) = serve_tiny(Some(vec![key(8)]), key(7));
    assert!(rejected > 0);
    assert_eq!(report.changes.applied, 0);
    assert_eq!(report.changes.lost, report.changes.generated);
    let l = report.live.as_ref().unwrap();
    // Every answer the sender heard was a 401; a retry still in flight
    // when the run ends is refused by the consumer but never heard.
    assert_eq!(l.http_status.keys().collect::<Vec<_>>(), vec!["401"]);
    let heard = l.http_status["401"];
    assert!(
        heard <= rejected && heard + 3 >= rejected,
        "{heard} vs {rejected}"
    );
}

/// `WEBHOOK` without its outage, with time to drain a 20-minute wait.
fn calm_webhook() -> String {
    let calm = WEBHOOK.split("[[faults]]").next().unwrap();
    calm.replace("drain = \"20m\"", "drain = \"40m\"")
}

#[test]
fn serve_webhooks_svix_honours_retry_after_in_virtual_time() {
    // Every message's first attempt is answered 429 + Retry-After: 1 (a
    // wall second, 20 virtual minutes at speed 1,200): svix waits that long
    // instead of its 5 s, then the second attempt delivers.
    let (report, _) = serve_tiny_with(&calm_webhook(), Mode::ThrottleOnce, None, vec![key(7)]);
    let w = report.webhooks.as_ref().unwrap();
    assert_eq!(report.changes.lost, 0);
    assert_eq!(w.attempts, 2 * w.notifications);
    assert_eq!(w.delivered, w.notifications);
    let l = report.live.as_ref().unwrap();
    assert_eq!(l.http_status.get("429").copied(), Some(w.notifications));
    let latency = &report.latency_ms.webhook;
    assert_eq!(latency.count, w.notifications);
    assert!(latency.mean.unwrap() > 1_200_000.0, "{latency:?}");
}

#[test]
fn serve_webhooks_svix_disables_the_endpoint_on_410() {
    let (report, _) = serve_tiny_with(&calm_webhook(), Mode::Gone, None, vec![key(7)]);
    let w = report.webhooks.as_ref().unwrap();
    assert_eq!(report.changes.applied, 0);
    assert_eq!(report.changes.lost, report.changes.generated);
    // The first 410 disables it (svix never re-enables): what was in
    // flight and everything after is skipped, nothing retried.
    assert_eq!(w.skipped_disabled, w.notifications);
    assert_eq!(w.abandoned, 0);
    assert_eq!(w.failed_attempts, w.attempts);
    assert!(w.attempts < w.notifications, "{w:?}");
    assert!(w.endpoint_disabled_for > 0.0);
    assert_eq!(
        report.changes.lost_by_cause.endpoint_disabled,
        report.changes.generated
    );
}

#[test]
fn serve_webhooks_svix_stops_retrying_an_aborted_message() {
    let (report, _) = serve_tiny_with(&calm_webhook(), Mode::Abort, None, vec![key(7)]);
    let w = report.webhooks.as_ref().unwrap();
    assert_eq!(report.changes.lost, report.changes.generated);
    // One attempt each, given up; the endpoint stays enabled.
    assert_eq!(w.attempts, w.notifications);
    assert_eq!(w.abandoned, w.notifications);
    assert_eq!(w.failed_attempts, w.attempts);
    assert_eq!((w.skipped_disabled, w.endpoint_disabled_for), (0, 0.0));
}

#[test]
fn serve_refuses_a_remote_address_and_consumer_faults() {
    let rt = live::runtime().unwrap();
    let opts = |listen: &str| ServeOptions {
        listen: listen.parse().unwrap(),
        allow_remote: false,
        webhook_url: Some("http://127.0.0.1:9/hook".into()),
        replica_url: None,
        speed: 60.0,
        keys: vec![key(1)],
        hold: false,
        progress: false,
        consumer_cmd: None,
    };
    let err = rt
        .block_on(live::Server::bind(
            scenario(WEBHOOK).config(),
            opts("0.0.0.0:0"),
        ))
        .err()
        .unwrap();
    assert!(err.to_string().contains("--allow-remote"), "{err}");
    let crash =
        format!("{WEBHOOK}\n[[faults]]\nkind = \"consumer_crash\"\nat = \"10m\"\nfor = \"5m\"\n");
    let err = rt
        .block_on(live::Server::bind(
            scenario(&crash).config(),
            opts("127.0.0.1:0"),
        ))
        .err()
        .unwrap();
    assert!(err.to_string().contains("consumer_crash"), "{err}");
}

/// A consumer process under `--consumer-cmd`, killed (SIGKILL) 20 minutes
/// in for 5 minutes: `durable` writes before it answers and loses nothing
/// (svix retries what failed while it was down); `ack-first` answers at
/// once and flushes every 10 wall seconds, longer than the run, so the
/// kill loses every change it acknowledged before it.
fn serve_process(mode: &str) -> Report {
    if std::process::Command::new("python3")
        .arg("-V")
        .output()
        .is_err()
    {
        panic!("python3 is needed for the --consumer-cmd tests (it is on the CI machine)");
    }
    let dir = super::common::temp_dir(&format!("consumer-{mode}"));
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/consumers/store.py"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let text =
        format!("{WEBHOOK}\n[[faults]]\nkind = \"consumer_crash\"\nat = \"20m\"\nfor = \"5m\"\n")
            .replace("at = \"20m\"\nfor = \"10m\"", "at = \"50m\"\nfor = \"1m\"");
    let rt = live::runtime().unwrap();
    rt.block_on(async move {
        let opts = ServeOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            allow_remote: false,
            webhook_url: Some(format!("http://127.0.0.1:{port}/hook")),
            replica_url: None,
            speed: 600.0,
            keys: vec![key(3)],
            hold: false,
            progress: false,
            consumer_cmd: Some(format!(
                "exec python3 {script} {} {mode}",
                dir.join("state.json").display()
            )),
        };
        let served = live::Server::bind(scenario(&text).config(), opts)
            .await
            .unwrap();
        bounded(served.run()).await
    })
}

#[test]
fn a_killed_consumer_that_acks_before_persisting_loses_mail() {
    let durable = serve_process("durable");
    assert_eq!(durable.faults.consumer_crashes, 1);
    assert_eq!(durable.changes.lost, 0, "{:?}", durable.changes);
    let ack_first = serve_process("ack-first");
    assert_eq!(ack_first.faults.consumer_crashes, 1);
    // Everything acknowledged in the first 20 minutes (~1/4.5 of the
    // 6 x 300/day x 1 h = 75 changes) was in memory only.
    assert!(ack_first.changes.lost >= 5, "{:?}", ack_first.changes);
    assert!(ack_first.consistency.divergent_messages > 0);
}

const FORGED: &str = "\n[[faults]]\nkind = \"forged\"\nprobability = 0.25\n";

#[test]
fn forged_deliveries_are_refused_by_a_checking_consumer_and_counted_when_applied() {
    let text = format!("{WEBHOOK}{FORGED}");
    // Checks signatures: every forged delivery is a 401, none applied.
    let (checked, rejected) =
        serve_tiny_with(&text, Mode::Normal, Some(vec![key(7)]), vec![key(7)]);
    let l = checked.live.as_ref().unwrap();
    assert!(l.forged_sent > 0, "the fault fired");
    // Exactly the forged ones were refused (one sent in the run's last
    // instant may be cut off before it arrives).
    assert!(rejected <= l.forged_sent && rejected + 2 >= l.forged_sent);
    assert_eq!((l.forged_acked, l.forged_accepted), (0, 0));
    assert_eq!(checked.changes.lost, 0);
    // About a quarter of the real attempts brought a forged one along.
    let attempts = checked.webhooks.as_ref().unwrap().attempts as f64;
    let share = l.forged_sent as f64 / attempts;
    assert!((0.1..0.45).contains(&share), "forged share {share}");
    // Checks nothing: it applies every forged delivery.
    let (open, rejected) = serve_tiny_with(&text, Mode::Normal, None, vec![key(7)]);
    let l = open.live.as_ref().unwrap();
    assert_eq!(rejected, 0);
    assert!(l.forged_sent > 0);
    // Each forged delivery names a new message, and every one that
    // arrived was acked and applied.
    assert!(l.forged_acked <= l.forged_sent && l.forged_acked + 2 >= l.forged_sent);
    assert!(l.forged_accepted >= l.forged_acked && l.forged_accepted <= l.forged_sent);
    assert_eq!(l.unknown_in_replica, 0);
}

#[test]
fn a_secret_rotation_loses_mail_at_a_consumer_that_kept_the_old_secret() {
    // Rotation at 30 minutes with a 10-minute overlap: both sign until 40m.
    let text =
        format!("{WEBHOOK}\n[[faults]]\nkind = \"secret_rotation\"\nat = \"30m\"\nfor = \"10m\"\n");
    let sim = syncsim::run(&scenario(&text));
    // Trusting both: nothing lost; some deliveries carried two signatures.
    let (both, rejected) = serve_tiny_with(
        &text,
        Mode::Normal,
        Some(vec![key(7), key(9)]),
        vec![key(7), key(9)],
    );
    assert_eq!(rejected, 0);
    assert_eq!(both.changes.lost, 0);
    let l = both.live.as_ref().unwrap();
    assert!(
        l.signed_twice > 0 && l.signed_rotated >= l.signed_twice,
        "{l:?}"
    );
    // Trusting the old one only: every change committed after the overlap
    // (at 40m of a 60-minute horizon: about a third) is refused and lost.
    let (old, rejected) = serve_tiny_with(
        &text,
        Mode::Normal,
        Some(vec![key(7)]),
        vec![key(7), key(9)],
    );
    assert!(rejected > 0);
    let generated = old.changes.generated as f64;
    let lost = old.changes.lost as f64;
    assert!(
        (0.15..0.6).contains(&(lost / generated)),
        "lost {lost} of {generated}"
    );
    assert_eq!(sim.changes.generated, old.changes.generated);
}

/// `syncsim consume` under `serve --consumer-cmd`: the reference consumer
/// as its own process, configured from the environment serve gives it,
/// reconciles over the API and takes signed webhooks; serve scores it.
#[test]
fn the_consume_command_is_scored_by_serve() {
    let dir = super::common::temp_dir("consume");
    let file = dir.join("hybrid.toml");
    std::fs::write(&file, HYBRID).unwrap();
    let sim = syncsim::run(&scenario(HYBRID));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cmd = format!(
        "exec {} consume {} --quiet",
        super::common::bin(),
        file.display()
    );
    let rt = live::runtime().unwrap();
    let report = rt.block_on(async move {
        let opts = ServeOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            allow_remote: false,
            webhook_url: Some(format!("http://127.0.0.1:{port}/hook")),
            replica_url: None,
            speed: 1_200.0,
            keys: vec![key(4)],
            hold: false,
            progress: false,
            consumer_cmd: Some(cmd),
        };
        let served = live::Server::bind(scenario(HYBRID).config(), opts)
            .await
            .unwrap();
        bounded(served.run()).await
    });
    assert_eq!(report.changes.generated, sim.changes.generated);
    assert_eq!(report.changes.lost, 0, "{:?}", report.changes);
    assert_eq!(report.consistency.divergent_messages, 0);
    let l = report.live.as_ref().unwrap();
    // Every POST was verified and accepted (github: no retries, so the
    // outage's attempts never left), and the reconciler called the API:
    // 6 mailboxes every 10 minutes over 90 minutes is ~54 calls; the two
    // processes' clocks start a moment apart, so allow a run per mailbox.
    assert_eq!(l.http_status.keys().collect::<Vec<_>>(), vec!["200"]);
    // serve counts a real consumer's list calls by their answers.
    assert_eq!(report.requests.poll, l.api_requests);
    assert_eq!(report.requests.total, l.api_requests);
    let calls = l.api_requests as i64;
    assert!(
        (calls - sim.requests.total as i64).abs() <= 6,
        "{calls} vs {}",
        sim.requests.total
    );
}
