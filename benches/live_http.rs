//! Live-mode throughput on loopback, on whatever machine runs it
//! (figures for one machine and what limits them: docs/live.md,
//! "Throughput"):
//!
//! - **sender**: signed webhook deliveries per second `live::Server`
//!   keeps up with (svix preset, 10,000 mailboxes, `--speed 600`) to a
//!   minimal axum endpoint in this process (it answers 200 at once after a
//!   JSON parse and a map insert, and serves the replica contract), at a
//!   few offered rates, with the endpoint trusting the signatures
//!   (`no-verify`) and checking every one (`verify`);
//! - **api**: mail API requests per second (`GET
//!   /v1/mailboxes/{m}/changes?cursor=start`, 50-change pages, `api_latency
//!   = "0ms"`) answered to N concurrent hyper clients in this process, and,
//!   when `wrk` is on the PATH, the same URL under `wrk` as a cross-check.
//!
//! ```sh
//! cargo bench --bench live_http                     # everything, ~75 s
//! cargo bench --bench live_http -- sender --rates 5000,15000 --speed 60 --in-flight 500 --secs 8
//! cargo bench --bench live_http -- api --conns 1,64 --page 200 --secs 3
//! ```
//!
//! Not criterion: one measurement is a run of several wall seconds in
//! scaled real time, and its figures (latency, status mix, lost changes)
//! are the point, not a mean over samples. Everything goes to 127.0.0.1 on
//! ephemeral ports; each run ends at its scenario's end (and is stopped
//! `OVERTIME` after it if it has not), each API load stops after a fixed
//! wall time (and a request cap), every request has a timeout. Under
//! `cargo test --benches` (no `--bench` argument) it only checks that one
//! short run of each works.
//!
//! Client, server and endpoint share this process's runtime (two worker
//! threads, `live::runtime`) and the machine's cores: the figures are what
//! one machine sustains end to end, not the server alone. Each row prints
//! the cores this process and the whole machine kept busy, and flags rows
//! where other processes took a share.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use syncsim::live::{self, ServeOptions};
use syncsim::scenario::{parse, Format, Scenario};
use syncsim::signing::{Secret, SigningKey, Verifier, WebhookHeaders};
use syncsim::Report;

/// Mailboxes of the sender scenario.
const SENDER_MAILBOXES: u32 = 10_000;
/// Wall seconds of drain after the traffic (in-flight and queued
/// deliveries still go out).
const DRAIN_SECS: f64 = 0.5;
/// Offered delivery rates tried by default, per wall second.
const RATES: [u64; 4] = [5_000, 10_000, 15_000, 20_000];
/// Mailboxes of the API scenario, each holding `API_PAGE` changes from t=0
/// (`--page N`), so that every `cursor=start` page lists them all.
const API_MAILBOXES: u32 = 1_000;
const API_PAGE: u32 = 50;
/// Concurrent clients tried by default.
const CONNS: [usize; 3] = [1, 16, 64];
/// How long past its scenario's end a run may take (reading the replica
/// and scoring take well under a second) before the bench stops waiting.
const OVERTIME: Duration = Duration::from_secs(20);
/// Cores busy outside this process above which a row is flagged.
const OTHER_LOAD: f64 = 0.5;
/// A request that takes longer than this counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// At most this many requests per client task, whatever the duration.
const MAX_REQUESTS_PER_TASK: u64 = 5_000_000;

fn scenario(text: &str) -> Scenario {
    parse(text, "live_http.toml", Format::Toml).unwrap_or_else(|e| panic!("{e}"))
}

/// A webhook scenario offering `rate` deliveries per wall second at
/// `speed` for `secs` wall seconds, plus half a wall second of drain.
/// `in_flight` overrides the preset's `max_in_flight` (svix: 50).
fn sender_scenario(rate: u64, speed: f64, secs: f64, in_flight: Option<u32>) -> Scenario {
    // rate = mailboxes x per_day / 86,400 x speed
    let per_day = rate as f64 * 86_400.0 / SENDER_MAILBOXES as f64 / speed;
    let horizon = (secs * speed).round() as u64;
    let drain = (DRAIN_SECS * speed).round().max(1.0) as u64;
    let window = in_flight.map_or(String::new(), |n| format!("max_in_flight = {n}"));
    scenario(&format!(
        r#"
name = "live-http-sender"
seed = 1
horizon = "{horizon}s"
drain = "{drain}s"
[source]
mailboxes = {SENDER_MAILBOXES}
messages_per_day = {per_day}
[webhooks]
preset = "svix"
{window}
[consumer]
strategy = "webhook"
ack = "queue_first"
"#
    ))
}

/// A poll scenario whose API answers at once, for `secs` wall seconds at
/// speed 1; every mailbox holds `page` changes from the start.
fn api_scenario(secs: u64, page: u32) -> Scenario {
    scenario(&format!(
        r#"
name = "live-http-api"
seed = 1
horizon = "{secs}s"
[source]
mailboxes = {API_MAILBOXES}
messages_per_day = 0
api_latency = "0ms"
[[source.bursts]]
at = "0s"
mailboxes = {API_MAILBOXES}
messages = {page}
[consumer]
strategy = "poll"
poll_interval = "5m"
"#
    ))
}

/// CPU time so far: (this process, the whole machine busy, the whole
/// machine in all), in clock ticks, from `/proc` (zeros elsewhere).
fn cpu_ticks() -> (u64, u64, u64) {
    let own = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // utime and stime are fields 14 and 15; the command name (field 2) may
    // hold spaces, so count from its closing parenthesis.
    let after = own.rsplit_once(')').map_or("", |(_, rest)| rest);
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let own = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let all: u64 = cpu.iter().take(8).sum();
    let idle = cpu.get(3).copied().unwrap_or(0) + cpu.get(4).copied().unwrap_or(0);
    (own, all - idle, all)
}

/// Cores used between two `cpu_ticks`: (this process, the whole machine).
fn cores(before: (u64, u64, u64), after: (u64, u64, u64)) -> (f64, f64) {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let all = after.2.saturating_sub(before.2).max(1) as f64;
    (
        after.0.saturating_sub(before.0) as f64 / all * n,
        after.1.saturating_sub(before.1) as f64 / all * n,
    )
}

fn key() -> SigningKey {
    SigningKey::V1(Secret::from_bytes(&[7; 32]).expect("a 32-byte secret"))
}

/// (mailbox, message) -> (version, deleted).
type Held = HashMap<(u32, u32), (u32, bool)>;

/// The endpoint: 200 at once (after an optional signature check), the
/// newest version per message kept for the replica contract.
#[derive(Clone)]
struct Sink {
    verifier: Option<Arc<Verifier>>,
    origin: Instant,
    received: Arc<AtomicU64>,
    rejected: Arc<AtomicU64>,
    /// Wall microseconds since `origin` of the first and last delivery.
    first_us: Arc<AtomicU64>,
    last_us: Arc<AtomicU64>,
    replica: Arc<Mutex<Held>>,
}

impl Sink {
    fn new(verify: bool) -> Sink {
        Sink {
            verifier: verify.then(|| Arc::new(Verifier::trusting(&[key()]))),
            origin: Instant::now(),
            received: Arc::default(),
            rejected: Arc::default(),
            first_us: Arc::new(AtomicU64::new(u64::MAX)),
            last_us: Arc::default(),
            replica: Arc::default(),
        }
    }

    /// Deliveries per wall second between the first and the last.
    fn rate(&self) -> f64 {
        let (first, last) = (self.first_us.load(Relaxed), self.last_us.load(Relaxed));
        let n = self.received.load(Relaxed);
        if n < 2 || last <= first {
            return 0.0;
        }
        (n - 1) as f64 / ((last - first) as f64 / 1e6)
    }
}

#[derive(Deserialize)]
struct Envelope {
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    mailbox: u32,
    message: u32,
    version: u32,
    deleted: bool,
}

async fn sink_webhook(State(s): State<Sink>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let us = s.origin.elapsed().as_micros() as u64;
    s.first_us.fetch_min(us, Relaxed);
    s.last_us.fetch_max(us, Relaxed);
    s.received.fetch_add(1, Relaxed);
    if let Some(v) = &s.verifier {
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
            .collect();
        let now = live::clock::unix_secs();
        if WebhookHeaders::from_pairs(pairs)
            .and_then(|h| v.verify(&h, &body, now))
            .is_err()
        {
            s.rejected.fetch_add(1, Relaxed);
            return StatusCode::UNAUTHORIZED;
        }
    }
    let Ok(e) = serde_json::from_slice::<Envelope>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let d = e.data;
    let mut r = s.replica.lock().expect("not poisoned");
    let held = r.entry((d.mailbox, d.message)).or_insert((0, false));
    if d.version > held.0 {
        *held = (d.version, d.deleted);
    }
    StatusCode::OK
}

async fn sink_replica(State(s): State<Sink>) -> axum::Json<serde_json::Value> {
    let r = s.replica.lock().expect("not poisoned");
    let messages: Vec<_> = r
        .iter()
        .map(|((m, msg), (v, del))| {
            serde_json::json!({"mailbox": m, "message": msg, "version": v, "deleted": del})
        })
        .collect();
    axum::Json(serde_json::json!({ "messages": messages }))
}

/// Serves `sink` on an ephemeral loopback port until the task is aborted.
async fn start_sink(sink: Sink) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let router = axum::Router::new()
        .route("/syncsim/replica", axum::routing::get(sink_replica))
        .route("/hook", axum::routing::post(sink_webhook))
        .with_state(sink);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (addr, task)
}

fn options(speed: f64, webhook_url: Option<String>, replica_url: Option<String>) -> ServeOptions {
    ServeOptions {
        listen: "127.0.0.1:0".parse().expect("an address"),
        allow_remote: false,
        webhook_url,
        replica_url,
        speed,
        keys: vec![key()],
        hold: false,
        progress: false,
        consumer_cmd: None,
    }
}

/// One sender run's figures.
struct SenderRow {
    verify: bool,
    offered: f64,
    report: Report,
    received: u64,
    rejected: u64,
    sink_rate: f64,
    speed: f64,
    /// Cores busy during `run`: (this process, the whole machine).
    cpu: (f64, f64),
}

impl SenderRow {
    fn status(&self, code: &str) -> u64 {
        let l = self.report.live.as_ref().expect("a live report");
        l.http_status.get(code).copied().unwrap_or(0)
    }

    fn not_200(&self) -> u64 {
        let l = self.report.live.as_ref().expect("a live report");
        l.http_status.values().sum::<u64>() - self.status("200")
    }

    /// Commit to 2xx, in wall milliseconds (the report's virtual ms / speed).
    fn wall_ms(&self, v: Option<f64>) -> f64 {
        v.map_or(f64::NAN, |ms| ms / self.speed)
    }

    /// Every change delivered at its first attempt, all 200, nothing lost,
    /// and p99 commit-to-2xx within 100 wall ms.
    fn keeps_up(&self) -> bool {
        let w = self.report.webhooks.as_ref().expect("webhook figures");
        self.report.changes.lost == 0
            && self.not_200() == 0
            && w.attempts == w.notifications
            && self.wall_ms(self.report.latency_ms.webhook.p99) <= 100.0
    }
}

/// How the sender runs are set up.
#[derive(Clone, Copy)]
struct Setup {
    /// `--speed`.
    speed: f64,
    /// Wall seconds of traffic per run.
    secs: f64,
    /// `max_in_flight` instead of the preset's.
    in_flight: Option<u32>,
}

/// One sender run; `None` when it did not end within `OVERTIME` of its
/// scenario's end (printed as such).
fn sender_run(
    rt: &tokio::runtime::Runtime,
    rate: u64,
    setup: Setup,
    verify: bool,
) -> Option<SenderRow> {
    let Setup { speed, secs, .. } = setup;
    let s = sender_scenario(rate, speed, secs, setup.in_flight);
    let limit = Duration::from_secs_f64(secs + DRAIN_SECS) + OVERTIME;
    rt.block_on(async move {
        let sink = Sink::new(verify);
        let (addr, task) = start_sink(sink.clone()).await;
        let opts = options(speed, Some(format!("http://{addr}/hook")), None);
        let server = live::Server::bind(s.config(), opts)
            .await
            .expect("bind the mail API");
        let before = cpu_ticks();
        let run = tokio::time::timeout(limit, server.run()).await;
        let cpu = cores(before, cpu_ticks());
        task.abort();
        let Ok(report) = run else {
            println!(
                "{:<9} {rate:>9} the run did not end within {OVERTIME:?} of its scenario's end: stopped",
                if verify { "verify" } else { "no-verify" },
            );
            return None;
        };
        let report = report.expect("a live run");
        Some(SenderRow {
            cpu,
            verify,
            offered: report.changes.generated as f64 / secs,
            received: sink.received.load(Relaxed),
            rejected: sink.rejected.load(Relaxed),
            sink_rate: sink.rate(),
            report,
            speed,
        })
    })
}

fn print_sender_header() {
    println!(
        "{:<9} {:>9} {:>7} {:>7} {:>5} {:>6} {:>8} {:>8} {:>7} {:>7} {:>7} {:>6} {:>4} {:>9}  keeps up",
        "endpoint",
        "offered/s",
        "sent",
        "200",
        "other",
        "lost",
        "sink/s",
        "report/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "behind",
        "late",
        "cpu p/m"
    );
}

fn print_sender(r: &SenderRow) {
    let l = r.report.live.as_ref().expect("a live report");
    let lat = &r.report.latency_ms.webhook;
    println!(
        "{:<9} {:>9.0} {:>7} {:>7} {:>5} {:>6} {:>8.0} {:>8.0} {:>7.2} {:>7.2} {:>7.1} {:>6.1} {:>4} {:>4.2}/{:>4.2}  {}",
        if r.verify { "verify" } else { "no-verify" },
        r.offered,
        l.deliveries_sent,
        r.status("200"),
        r.not_200(),
        r.report.changes.lost,
        r.sink_rate,
        l.deliveries_per_s,
        r.wall_ms(lat.p50),
        r.wall_ms(lat.p99),
        r.wall_ms(lat.max),
        l.behind_schedule_max_ms,
        l.late_deliveries,
        r.cpu.0,
        r.cpu.1,
        if r.keeps_up() { "yes" } else { "NO" },
    );
    if r.cpu.1 - r.cpu.0 > OTHER_LOAD {
        println!(
            "          ^ other processes kept {:.2} cores busy during this run: figures low",
            r.cpu.1 - r.cpu.0
        );
    }
    if r.not_200() > 0 || r.rejected > 0 || r.received != l.deliveries_sent {
        println!(
            "          status {:?}; the sink received {}, rejected {}",
            l.http_status, r.received, r.rejected
        );
    }
}

fn sender(rt: &tokio::runtime::Runtime, rates: &[u64], setup: Setup) {
    let Setup { speed, secs, .. } = setup;
    println!(
        "\nlive_http/sender: svix preset, max_in_flight {}, {SENDER_MAILBOXES} mailboxes, --speed {speed}, {secs} wall s per run (+{DRAIN_SECS} s drain)",
        setup.in_flight.map_or("50 (preset)".to_string(), |n| n.to_string()),
    );
    println!(
        "  latency = commit to 2xx seen by the sender, wall ms (modelled network: 50 virtual ms = {:.2} wall ms each way)",
        50.0 / speed
    );
    println!(
        "  sent/200/other: POSTs that left and their answers; lost: changes never delivered by the end;"
    );
    println!(
        "  sink/s: the endpoint's rate, first to last delivery; report/s: live.deliveries_per_s (sent / run wall time);"
    );
    println!(
        "  behind/late: live.behind_schedule_max_ms and late_deliveries; cpu p/m: cores busy, this process / the machine"
    );
    print_sender_header();
    let mut rows = Vec::new();
    for verify in [false, true] {
        for &rate in rates {
            if let Some(row) = sender_run(rt, rate, setup, verify) {
                print_sender(&row);
                rows.push(row);
            }
        }
    }
    for verify in [false, true] {
        let best = rows
            .iter()
            .filter(|r| r.verify == verify && r.keeps_up())
            .map(|r| r.offered)
            .fold(0.0, f64::max);
        println!(
            "  {}: keeps up to {best:.0} deliveries/s of those tried",
            if verify { "verify" } else { "no-verify" },
        );
    }
}

type HttpClient = hyper_util::client::legacy::Client<HttpConnector, Empty<Bytes>>;

/// What `conns` clients got in `dur` of wall time.
struct Load {
    requests: u64,
    errors: u64,
    status: BTreeMap<u16, u64>,
    wall: f64,
    latency: hdrhistogram::Histogram<u64>,
}

/// `conns` tasks each sending one request after another to `api` for
/// `dur` (at most `MAX_REQUESTS_PER_TASK` each), cycling over mailboxes.
async fn hammer(api: SocketAddr, conns: usize, dur: Duration) -> Load {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: HttpClient = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(conns)
        .build(connector);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..conns {
        let client = client.clone();
        tasks.spawn(async move {
            let mut load = Load {
                requests: 0,
                errors: 0,
                status: BTreeMap::new(),
                wall: 0.0,
                latency: hdrhistogram::Histogram::new(3).expect("a histogram"),
            };
            let mut m = (t as u32 * 7_919) % API_MAILBOXES;
            while started.elapsed() < dur && load.requests < MAX_REQUESTS_PER_TASK {
                let uri = format!("http://{api}/v1/mailboxes/{m}/changes?cursor=start");
                m = (m + 1) % API_MAILBOXES;
                let req = axum::http::Request::get(uri)
                    .body(Empty::new())
                    .expect("a request");
                let sent = Instant::now();
                let exchange = async {
                    let resp = client.request(req).await.ok()?;
                    let status = resp.status().as_u16();
                    resp.into_body().collect().await.ok()?;
                    Some(status)
                };
                load.requests += 1;
                match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
                    Ok(Some(status)) => {
                        *load.status.entry(status).or_default() += 1;
                        let us = sent.elapsed().as_micros() as u64;
                        load.latency.record(us.max(1)).expect("in range");
                    }
                    _ => load.errors += 1,
                }
            }
            load
        });
    }
    let mut total = Load {
        requests: 0,
        errors: 0,
        status: BTreeMap::new(),
        wall: 0.0,
        latency: hdrhistogram::Histogram::new(3).expect("a histogram"),
    };
    while let Some(done) = tasks.join_next().await {
        let l = done.expect("a client task");
        total.requests += l.requests;
        total.errors += l.errors;
        for (s, n) in l.status {
            *total.status.entry(s).or_default() += n;
        }
        total.latency.add(&l.latency).expect("same range");
    }
    total.wall = started.elapsed().as_secs_f64();
    total
}

/// Starts a serve run of the API scenario lasting `run_secs`; returns the
/// API's address, the run and the replica endpoint's task.
async fn start_api(
    run_secs: u64,
    page: u32,
) -> (
    SocketAddr,
    tokio::task::JoinHandle<Report>,
    tokio::task::JoinHandle<()>,
) {
    let (sink_addr, sink) = start_sink(Sink::new(false)).await;
    let opts = options(
        1.0,
        None,
        Some(format!("http://{sink_addr}/syncsim/replica")),
    );
    let server = live::Server::bind(api_scenario(run_secs, page).config(), opts)
        .await
        .expect("bind the mail API");
    let addr = server.addr();
    let run = tokio::spawn(async move { server.run().await.expect("a live run") });
    (addr, run, sink)
}

/// The report of a spawned run that lasts `run_secs`, waited for at most
/// that plus `OVERTIME`; `None` (and the run stopped) if it has not ended.
async fn ended(mut run: tokio::task::JoinHandle<Report>, run_secs: u64) -> Option<Report> {
    let limit = Duration::from_secs(run_secs) + OVERTIME;
    match tokio::time::timeout(limit, &mut run).await {
        Ok(report) => Some(report.expect("the run")),
        Err(_) => {
            run.abort();
            None
        }
    }
}

fn api(rt: &tokio::runtime::Runtime, conns: &[usize], secs: f64, page: u32, wrk: bool) {
    let dur = Duration::from_secs_f64(secs);
    // The run outlasts the load by a second or two and then ends by itself.
    let run_secs = secs.ceil() as u64 + 2;
    println!(
        "\nlive_http/api: GET /v1/mailboxes/{{m}}/changes?cursor=start ({API_MAILBOXES} mailboxes, {page}-change pages), api_latency 0ms, {secs} wall s per row"
    );
    println!(
        "{:>6} {:>9} {:>10} {:>8} {:>8} {:>8} {:>9}  status",
        "conns", "requests", "req/s", "p50 ms", "p99 ms", "errors", "cpu p/m"
    );
    for &n in conns {
        let (load, report, cpu) = rt.block_on(async {
            let (addr, run, sink) = start_api(run_secs, page).await;
            let before = cpu_ticks();
            let load = hammer(addr, n, dur).await;
            let cpu = cores(before, cpu_ticks());
            let report = ended(run, run_secs).await;
            sink.abort();
            (load, report, cpu)
        });
        match report {
            Some(report) => {
                let answered = report.live.as_ref().map_or(0, |l| l.api_requests);
                assert!(
                    answered >= load.requests - load.errors,
                    "the node answered every request that got a response"
                );
            }
            None => println!(
                "       (the run did not end within {OVERTIME:?} of its scenario's end: stopped)"
            ),
        }
        println!(
            "{:>6} {:>9} {:>10.0} {:>8.3} {:>8.3} {:>8} {:>4.2}/{:>4.2}  {:?}",
            n,
            load.requests,
            load.requests as f64 / load.wall,
            load.latency.value_at_quantile(0.5) as f64 / 1e3,
            load.latency.value_at_quantile(0.99) as f64 / 1e3,
            load.errors,
            cpu.0,
            cpu.1,
            load.status,
        );
        if cpu.1 - cpu.0 > OTHER_LOAD {
            println!(
                "       ^ other processes kept {:.2} cores busy during this row: figures low",
                cpu.1 - cpu.0
            );
        }
    }
    if wrk {
        wrk_cross_check(rt, secs, page);
    }
}

/// The same URL under `wrk` (one thread, 16 and 64 connections), when it
/// is installed.
fn wrk_cross_check(rt: &tokio::runtime::Runtime, secs: f64, page: u32) {
    let found = Command::new("wrk").arg("--version").output().is_ok();
    if !found {
        println!("  wrk: not on the PATH, cross-check skipped");
        return;
    }
    let secs = secs.ceil().max(1.0) as u64;
    for conns in [16, 64] {
        let (addr, run, sink) = rt.block_on(start_api(secs + 3, page));
        let url = format!("http://{addr}/v1/mailboxes/7/changes?cursor=start");
        let before = cpu_ticks();
        let out = Command::new("timeout")
            .args([
                &format!("{}", secs + 10),
                "wrk",
                "-t1",
                &format!("-c{conns}"),
                &format!("-d{secs}s"),
                "--latency",
                &url,
            ])
            .output();
        let cpu = cores(before, cpu_ticks());
        rt.block_on(async {
            let _ = ended(run, secs + 3).await;
            sink.abort();
        });
        match out {
            Ok(o) => {
                let text = String::from_utf8_lossy(&o.stdout);
                let pick = |p: &str| {
                    text.lines()
                        .find(|l| l.trim_start().starts_with(p))
                        .map_or("?".to_string(), |l| l.trim().to_string())
                };
                println!(
                    "  wrk -t1 -c{conns} -d{secs}s: {} | {} | {} | cpu p/m {:.2}/{:.2}",
                    pick("Requests/sec"),
                    pick("50%"),
                    pick("99%"),
                    cpu.0,
                    cpu.1,
                );
            }
            Err(e) => println!("  wrk: {e}"),
        }
    }
}

fn list<T: std::str::FromStr>(v: &str) -> Vec<T> {
    v.split(',')
        .map(|x| {
            x.trim()
                .parse()
                .unwrap_or_else(|_| panic!("expected a comma-separated list of numbers, got {v}"))
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .map(String::as_str)
    };
    let rt = live::runtime().expect("a tokio runtime");
    if !args.iter().any(|a| a == "--bench") {
        // `cargo test --benches`: one short run of each, checked.
        let setup = Setup {
            speed: 60.0,
            secs: 1.0,
            in_flight: None,
        };
        let row = sender_run(&rt, 500, setup, true).expect("the run ends");
        assert_eq!(row.report.changes.lost, 0);
        assert_eq!(row.rejected, 0);
        let load = rt.block_on(async {
            let (addr, run, sink) = start_api(2, API_PAGE).await;
            let load = hammer(addr, 2, Duration::from_millis(300)).await;
            assert!(ended(run, 2).await.is_some(), "the run ends");
            sink.abort();
            load
        });
        assert!(load.status.get(&200).copied().unwrap_or(0) > 0);
        eprintln!("live_http: smoke runs ok (`cargo bench --bench live_http` measures)");
        return;
    }
    let flags = [
        "--rates",
        "--speed",
        "--secs",
        "--conns",
        "--in-flight",
        "--page",
    ];
    let filter = args
        .iter()
        .enumerate()
        .find(|(i, a)| !a.starts_with("--") && (*i == 0 || !flags.contains(&args[i - 1].as_str())))
        .map(|(_, a)| a.as_str());
    let wanted = |name: &str| filter.is_none_or(|f| format!("live_http/{name}").contains(f));
    let secs: Option<f64> = value("--secs").map(|s| s.parse().expect("--secs S"));
    if wanted("sender") {
        let rates = value("--rates").map_or(RATES.to_vec(), list);
        let setup = Setup {
            speed: value("--speed").map_or(600.0, |s| s.parse().expect("--speed N")),
            secs: secs.unwrap_or(5.0),
            in_flight: value("--in-flight").map(|n| n.parse().expect("--in-flight N")),
        };
        sender(&rt, &rates, setup);
    }
    if wanted("api") {
        let conns = value("--conns").map_or(CONNS.to_vec(), list);
        let page = value("--page").map_or(API_PAGE, |n| n.parse().expect("--page N"));
        api(&rt, &conns, secs.unwrap_or(3.0), page, true);
    }
}
