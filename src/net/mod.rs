//! Network mode: the scenario's provider and a consumer as turmoil hosts,
//! over turmoil's simulated TCP, in virtual time, deterministically from
//! the scenario's seed (issue 14).
//!
//! ```text
//!  host "provider" (a turmoil client: the run ends when it does)
//!     live::node::Node (Provider, Network, Ledger, timers) ── mail API (axum) on :7780
//!        │ signed POSTs (hyper over turmoil TCP)            ▲ GET /v1/…
//!        ▼                                                  │
//!  host "consumer" (yours, or the reference consumer) ── endpoint on :7781
//!        GET /syncsim/replica at the end ──► live::score ──► Report
//! ```
//!
//! This module is a driver: it owns the turmoil simulation and its time
//! (the tick, the capacities, the seed, the crash schedule) and holds no
//! policy. The provider side is live mode's [`Node`] with a simulated
//! [`Clock`] and a client over [`connector::NetConnector`]; the mail API
//! and the reference consumer's endpoint are live mode's axum routers
//! (`live::servers`) served on [`connector::NetListener`]: the HTTP layer
//! is written once. A consumer is scored through the replica contract
//! (`live::score`), exactly as `serve` scores a real one.
//!
//! Faults: the provider-side ones (endpoint outages, drop, duplicate,
//! reorder, source outages, 429, secret rotation, forged) are decided by
//! the same `Provider`/`Network` code as every driver and acted out on
//! the wire; `consumer_crash` is a host event: the driver calls
//! `Sim::crash` on the consumer host at each window's start and
//! `Sim::bounce` at its end, so whatever the consumer kept in memory is
//! gone and its sockets refuse connections meanwhile.
//!
//! ```no_run
//! use syncsim::net::{self, ConsumerEnv, NetOptions};
//! let scenario = syncsim::load(std::path::Path::new("scenarios/poll-5min.toml")).unwrap();
//! // The bundled reference consumer:
//! let run = net::run_reference(scenario.config(), &NetOptions::default()).unwrap();
//! println!("{}", run.report.digest);
//! // Or your own: an async closure over turmoil sockets, called again
//! // after each crash (see examples/net_consumer.rs).
//! let run = net::run(scenario.config(), &NetOptions::default(), |env: ConsumerEnv| async move {
//!     let _listener = syncsim::net::connector::NetListener::bind(env.port).await?;
//!     // ... serve webhooks and GET /syncsim/replica, poll env.api_url ...
//!     Ok(())
//! });
//! ```

pub mod connector;

use crate::engine::time::SimTime;
use crate::live::clock::Clock;
use crate::live::node::{Links, Node};
use crate::live::wire::{self, Connector};
use crate::live::{score, servers, LiveError};
use crate::metrics::assemble;
use crate::metrics::report::{Report, SlowChange};
use crate::model::config::RunConfig;
use crate::model::faults::{FaultPlan, Window};
use crate::model::trace::{self, Filter, Record};
use crate::signing::{SigningKey, Verifier};
use connector::{NetConnector, NetListener};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch};

/// The provider's host name.
pub const PROVIDER: &str = "provider";
/// The consumer's host name.
pub const CONSUMER: &str = "consumer";
/// The mail API's port on the provider host.
pub const API_PORT: u16 = 7780;
/// The consumer's port: webhooks (`POST /webhooks`) and the replica
/// contract (`GET /syncsim/replica`).
pub const CONSUMER_PORT: u16 = 7781;
/// The simulation's Unix epoch (2026-01-01T00:00:00Z): `webhook-timestamp`
/// is this plus virtual time, never the wall clock.
pub const EPOCH_SECS: u64 = 1_767_225_600;

/// Why a network-mode run failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The tick is shorter than a millisecond (tokio's timer resolution:
    /// a shorter step only adds idle steps) or longer than a second.
    #[error("the tick must be between 1 ms and 1 s, got {0:?}")]
    Tick(Duration),
    /// A TCP capacity of zero.
    #[error("turmoil's TCP capacity must be at least 1")]
    Capacity,
    /// A host's software failed (turmoil's error, with the host's words).
    #[error("the simulation failed: {0}")]
    Sim(String),
    /// The provider could not score the consumer (its replica).
    #[error(transparent)]
    Score(#[from] LiveError),
    /// The provider host ended without a report.
    #[error("the simulation ended before the provider reported")]
    NoReport,
}

/// How the simulation runs: turmoil's knobs, chosen deliberately (see
/// `docs/net.md`).
#[derive(Clone, Debug)]
pub struct NetOptions {
    /// Virtual time per turmoil step: the network delivers segments once
    /// a step, so a request/response round trip takes at least two ticks.
    pub tick: Duration,
    /// Segments a TCP socket (and a listener's accept queue) buffers:
    /// turmoil panics when more connects than this land on a listener in
    /// one tick.
    pub tcp_capacity: usize,
    /// Trace one mailbox or message (as `trace` does).
    pub trace: Option<Filter>,
    /// How many of the slowest changes [`NetRun::slowest`] lists (for
    /// `trace --worst N`; the report lists its own few either way).
    pub slowest: usize,
}

impl Default for NetOptions {
    fn default() -> Self {
        NetOptions {
            tick: Duration::from_millis(50),
            tcp_capacity: 1024,
            trace: None,
            slowest: 0,
        }
    }
}

impl NetOptions {
    /// Checks the options: the tick between 1 ms and 1 s, a capacity of
    /// at least 1 (what [`run`] checks before it starts).
    pub fn validate(&self) -> Result<(), NetError> {
        if self.tick < Duration::from_millis(1) || self.tick > Duration::from_secs(1) {
            return Err(NetError::Tick(self.tick));
        }
        if self.tcp_capacity == 0 {
            return Err(NetError::Capacity);
        }
        Ok(())
    }
}

/// What a consumer host is told: where the mail API is, where to listen,
/// which keys sign the webhooks (every generation of a rotation), and the
/// run's configs (the reference consumer builds its strategy from them).
#[derive(Clone, Debug)]
pub struct ConsumerEnv {
    /// The mail API, `http://provider:7780`.
    pub api_url: String,
    /// The port to serve webhooks and `GET /syncsim/replica` on.
    pub port: u16,
    /// Keys a delivery may be signed with.
    pub keys: Vec<SigningKey>,
    /// The simulated clock (virtual time; Unix time for signatures).
    pub clock: Clock,
    /// The run's configs.
    pub cfg: RunConfig,
}

impl ConsumerEnv {
    /// A verifier trusting every key of the run (signatures checked
    /// against the simulated Unix time: pass `clock.unix_secs()`).
    pub fn verifier(&self) -> Verifier {
        Verifier::trusting(&self.keys)
    }

    /// A keep-alive HTTP client over turmoil's TCP.
    pub fn client(&self) -> wire::Client {
        wire::client_over(Connector::Net(NetConnector))
    }
}

/// A finished network-mode run.
#[derive(Clone, Debug)]
pub struct NetRun {
    /// The same report as `run`, scored through the replica contract,
    /// with the wire figures under `net`.
    pub report: Report,
    /// The trace asked for in [`NetOptions::trace`] (provider and, for
    /// the reference consumer, consumer events; commits included), ending
    /// with one `verdict` record per traced change, as the event engine's.
    pub trace: Vec<Record>,
    /// The [`NetOptions::slowest`] slowest changes, slowest first.
    pub slowest: Vec<SlowChange>,
    /// Turmoil steps taken.
    pub steps: u64,
    /// Every change the consumer's replica lacks at the end (its message
    /// held at an older version, or not at all), in (mailbox, change)
    /// order: what `changes.lost` counts, by name.
    pub lost: Vec<LostChange>,
}

/// A change the consumer never applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LostChange {
    /// Mailbox.
    pub mailbox: u32,
    /// The change's index in its mailbox's log.
    pub change: u32,
    /// Its message.
    pub message: u32,
    /// The version it wrote.
    pub version: u32,
    /// The version the replica holds of that message (0: none).
    pub held: u32,
}

impl std::fmt::Display for LostChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "mailbox {} message {} version {} (change {}; replica holds {})",
            self.mailbox, self.message, self.version, self.change, self.held
        )
    }
}

/// The changes `doc` lacks.
fn lost_changes(logs: &crate::model::traffic::Logs, doc: &score::ReplicaDoc) -> Vec<LostChange> {
    use crate::model::traffic::DELETED;
    let held: std::collections::BTreeMap<(u32, u32), u32> = doc
        .messages
        .iter()
        .map(|e| ((e.mailbox, e.message), e.version))
        .collect();
    let mut out = Vec::new();
    for m in 0..logs.mailboxes() {
        for (seq, c) in logs.whole(m).iter().enumerate() {
            let version = c.version & !DELETED;
            let h = held.get(&(m, c.msg)).copied().unwrap_or(0);
            if h < version {
                out.push(LostChange {
                    mailbox: m,
                    change: seq as u32,
                    message: c.msg,
                    version,
                    held: h,
                });
            }
        }
    }
    out
}

/// Runs `cfg` with the bundled reference consumer (the scenario's
/// strategy: the same Consumer half as the event engine, the consumer of
/// `live` and `consume`) as the consumer host.
pub fn run_reference(cfg: RunConfig, opts: &NetOptions) -> Result<NetRun, NetError> {
    let slot: Rc<RefCell<Option<Node>>> = Rc::new(RefCell::new(None));
    let trace = opts.trace.clone();
    let host_slot = slot.clone();
    let done = simulate(cfg, opts, move |env| {
        reference_consumer(env, host_slot.clone(), trace.clone())
    })?;
    // The sim is over: the consumer's node is back in its slot.
    let consumer = slot.borrow_mut().take();
    done.score(opts, consumer)
}

/// Runs `cfg` with `consumer` as the consumer host: an async closure over
/// turmoil sockets (`turmoil::net`, or [`ConsumerEnv::client`] and
/// [`connector::NetListener`] for hyper and axum), called again each time
/// a crash window ends. It must serve webhooks (when the strategy
/// receives them) and `GET /syncsim/replica` on `env.port`.
pub fn run<F, Fut>(cfg: RunConfig, opts: &NetOptions, consumer: F) -> Result<NetRun, NetError>
where
    F: Fn(ConsumerEnv) -> Fut + 'static,
    Fut: Future<Output = turmoil::Result> + 'static,
{
    simulate(cfg, opts, consumer)?.score(opts, None)
}

/// A finished simulation, before scoring.
struct Done {
    /// The provider's node, finished.
    node: Node,
    /// The consumer's replica, as read at the end.
    doc: Result<score::ReplicaDoc, LiveError>,
    end: SimTime,
    steps: u64,
}

impl Done {
    /// Scores the replica; with the reference consumer's `consumer` node,
    /// the request counters and the endpoint's figures are the
    /// consumer's own (as `run` and `live` count them: poll, reconcile,
    /// 304, 429, duplicates, refusals...) and its side of the trace joins
    /// the provider's.
    fn score(mut self, opts: &NetOptions, consumer: Option<Node>) -> Result<NetRun, NetError> {
        let doc = self.doc?;
        let mut extra = Vec::new();
        let mut endpoint = None;
        if let Some(mut c) = consumer {
            endpoint = c
                .consumer
                .as_ref()
                .and_then(|h| h.receiver())
                .map(|r| r.stats.clone());
            let counters = &mut self.node.ledger.metrics.counters;
            let requests = counters.requests;
            *counters = c.ledger.metrics.counters.clone();
            counters.requests = requests;
            // Deliveries the endpoint took in twice: only it knows.
            self.node.ledger.duplicates = c.ledger.duplicates;
            self.node.ledger.fetches = self.node.ledger.fetches.max(c.ledger.fetches);
            // Causes of loss only the consumer saw (a crash emptying its
            // memory queue, dead letters), as the event engine scores them.
            self.node.ledger.absorb_marks(&c.ledger);
            if let Some(t) = c.ledger.take_trace() {
                extra = t.records;
            }
        }
        let lost = lost_changes(self.node.ledger.logs(), &doc);
        if opts.slowest > crate::metrics::SLOWEST_IN_REPORT {
            self.node.ledger.metrics.slowest = crate::metrics::Slowest::new(opts.slowest);
        }
        let (mut report, strays) =
            score::score_with(&mut self.node, &doc, self.end, endpoint.as_ref());
        attach(&mut report, &self.node, strays);
        let slowest = assemble::slowest(&self.node.ledger, opts.slowest);
        let mut records = self
            .node
            .ledger
            .take_trace()
            .map(|t| t.records)
            .unwrap_or_default();
        // Provider events first at equal times (a stable sort).
        records.extend(extra);
        records.sort_by_key(|r| r.at);
        let records = match &opts.trace {
            Some(f) => {
                // Verdicts as the event engine's: the first apply from the
                // consumer's trace, the cause from the scored ledger.
                let (ledger, end) = (&self.node.ledger, SimTime(self.node.cfg.end().0));
                let verdicts = trace::verdicts(end, ledger.logs(), f, &records, |m, seq| {
                    assemble::cause(ledger, None, m, seq).map(|c| c.name())
                });
                let mut records = trace::with_commits(ledger.logs(), f, records);
                records.extend(verdicts);
                records
            }
            None => records,
        };
        Ok(NetRun {
            report,
            trace: records,
            slowest,
            steps: self.steps,
            lost,
        })
    }
}

/// The signing keys of a run: one per generation (a `secret_rotation`
/// adds one), derived from the seed like `live`'s.
fn keys_for(cfg: &RunConfig) -> (Vec<SigningKey>, SigningKey) {
    let mut rng = crate::live::seeded_rng(cfg.seed);
    let rotations = FaultPlan::secret_rotations(&cfg.faults, SimTime(cfg.end().0));
    let keys: Vec<SigningKey> = (0..=rotations)
        .map(|_| SigningKey::V1(crate::signing::Secret::generate(&mut rng)))
        .collect();
    let wrong = SigningKey::V1(crate::signing::Secret::generate(&mut rng));
    (keys, wrong)
}

/// The consumer's crash windows.
fn crash_windows(cfg: &RunConfig) -> Vec<Window> {
    let streams = crate::engine::rng::Streams::new(cfg.seed);
    FaultPlan::new(&cfg.faults, cfg.source.mailboxes, &streams)
        .host()
        .crash
}

fn simulate<F, Fut>(cfg: RunConfig, opts: &NetOptions, consumer: F) -> Result<Done, NetError>
where
    F: Fn(ConsumerEnv) -> Fut + 'static,
    Fut: Future<Output = turmoil::Result> + 'static,
{
    opts.validate()?;
    crate::live::check_drivable(&cfg)?;
    let end = SimTime(cfg.end().0);
    let (keys, wrong) = keys_for(&cfg);
    let windows = crash_windows(&cfg);
    let mut builder = turmoil::Builder::new();
    builder
        // The provider ends the run at the scenario's end (plus reading
        // the replica); the limit only stops a run that would hang.
        .simulation_duration(Duration::from_micros(end.0) + Duration::from_secs(3_600))
        .tick_duration(opts.tick)
        .rng_seed(cfg.seed)
        .epoch(UNIX_EPOCH + Duration::from_secs(EPOCH_SECS))
        .tcp_capacity(opts.tcp_capacity)
        // The scenario's latency is the model's (a POST leaves at its
        // modelled arrival time); the wire adds only the tick.
        .min_message_latency(Duration::ZERO)
        .max_message_latency(Duration::ZERO);
    let mut sim = builder.build();
    let env = ConsumerEnv {
        api_url: format!("http://{PROVIDER}:{API_PORT}"),
        port: CONSUMER_PORT,
        keys: keys.clone(),
        clock: Clock::simulated(),
        cfg: cfg.clone(),
    };
    sim.host(CONSUMER, move || consumer(env.clone()));
    let out: Out = Rc::new(RefCell::new(None));
    let crashes = Rc::new(Cell::new(0u64));
    sim.client(
        PROVIDER,
        provider(
            cfg,
            keys,
            wrong,
            opts.trace.clone(),
            out.clone(),
            crashes.clone(),
        ),
    );
    let mut down = false;
    let mut steps = 0u64;
    loop {
        if !windows.is_empty() {
            let now = SimTime(sim.elapsed().as_micros() as u64);
            let should = now < end && windows.iter().any(|w| w.contains(now));
            if should && !down {
                sim.crash(CONSUMER);
                crashes.set(crashes.get() + 1);
                down = true;
            } else if !should && down {
                sim.bounce(CONSUMER);
                down = false;
            }
        }
        steps += 1;
        match sim.step() {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => return Err(NetError::Sim(e.to_string())),
        }
    }
    drop(sim);
    let (node, doc, end) = out.borrow_mut().take().ok_or(NetError::NoReport)?;
    Ok(Done {
        node,
        doc,
        end,
        steps,
    })
}

/// Where the provider host leaves its node, the replica it read, and the
/// end time.
type Out = Rc<RefCell<Option<(Node, Result<score::ReplicaDoc, LiveError>, SimTime)>>>;

/// The provider host: live mode's node (provider half only) with the
/// simulated clock, the mail API on turmoil TCP, deliveries POSTed to the
/// consumer host; at the end it reads the consumer's replica and scores
/// it into `out`.
async fn provider(
    cfg: RunConfig,
    keys: Vec<SigningKey>,
    wrong: SigningKey,
    trace: Option<Filter>,
    out: Out,
    crashes: Rc<Cell<u64>>,
) -> turmoil::Result {
    let clock = Clock::simulated();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let http = wire::client_over(Connector::Net(NetConnector));
    let links = Links {
        webhook_url: cfg
            .consumer
            .hooks()
            .map(|_| format!("http://{CONSUMER}:{CONSUMER_PORT}/webhooks")),
        api_url: None,
        keys: Arc::new(keys),
        wrong_key: wrong,
    };
    let mailboxes = cfg.source.mailboxes;
    let mut node = Node::new(cfg, false, clock, links, tx.clone());
    node.set_client(http.clone());
    if let Some(f) = trace {
        node.ledger.start_trace(f);
    }
    let listener = NetListener::bind(API_PORT).await?;
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(wire::serve(
        listener,
        servers::api_router(tx, clock, mailboxes),
        crate::live::until(stopped),
    ));
    node.start();
    let end = crate::live::drive(&mut node, &mut rx, false, false, std::future::pending()).await;
    let url = format!("http://{CONSUMER}:{CONSUMER_PORT}/syncsim/replica");
    // The consumer may be down (a crash window over the end): ask for a
    // virtual minute.
    let mut doc = crate::live::read_replica(&http, &url).await;
    for _ in 0..60 {
        if doc.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        doc = crate::live::read_replica(&http, &url).await;
    }
    let _ = stop.send(true);
    node.finish(end);
    node.ledger.crashes += crashes.get();
    *out.borrow_mut() = Some((node, doc, end));
    Ok(())
}

/// Adds the wire figures (virtual time only) and re-seals.
fn attach(report: &mut Report, node: &Node, strays: score::Strays) {
    report.net = Some(crate::live::figures(node, strays));
    report.seal();
}

/// Puts the reference consumer's node back in its slot when the host's
/// runtime drops it (a crash): its state is what the consumer keeps on
/// disk; the model's own crash handling says what a crash loses.
struct Lease {
    node: Option<Node>,
    slot: Rc<RefCell<Option<Node>>>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            *self.slot.borrow_mut() = Some(node);
        }
    }
}

/// The bundled reference consumer as a turmoil host: live mode's node
/// with the consumer half (the scenario's strategy), its endpoint on
/// turmoil TCP, and its calls through a client over turmoil TCP. Its
/// state survives a host crash in `slot` (see [`Lease`]); calls and
/// answers in flight do not.
pub async fn reference_consumer(
    env: ConsumerEnv,
    slot: Rc<RefCell<Option<Node>>>,
    trace: Option<Filter>,
) -> turmoil::Result {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let http = env.client();
    let kept = slot.borrow_mut().take();
    let node = match kept {
        Some(mut node) => {
            node.rewire(tx.clone(), http);
            node
        }
        None => {
            let links = Links {
                webhook_url: None,
                api_url: Some(env.api_url.clone()),
                keys: Arc::new(env.keys.clone()),
                wrong_key: env.keys[0].clone(),
            };
            let mut node = Node::new(env.cfg.clone(), true, env.clock, links, tx.clone());
            node.set_client(http);
            if let Some(f) = trace {
                node.ledger.start_trace(f);
            }
            node.start_consumer();
            node
        }
    };
    let mut lease = Lease {
        node: Some(node),
        slot,
    };
    let listener = NetListener::bind(env.port).await?;
    tokio::spawn(wire::serve(
        listener,
        servers::endpoint_router(tx, env.verifier(), env.clock),
        std::future::pending(),
    ));
    if let Some(node) = lease.node.as_mut() {
        crate::live::drive(node, &mut rx, true, false, std::future::pending()).await;
    }
    Ok(())
}

/// Unix time of the simulation's epoch (for documentation and tests).
pub fn epoch() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(EPOCH_SECS)
}
