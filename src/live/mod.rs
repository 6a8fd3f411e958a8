//! Live mode: the scenario's provider over real HTTP, in scaled real time,
//! aimed at a real consumer, and scored against ground truth.
//!
//! ```text
//!  serve:  consumer (yours) ──GET /v1/…──► mail API ─┐
//!              ▲                                     ├─ Node (Provider, Network, Ledger, timers)
//!              └──── signed POST ◄── sender tasks ◄──┘          │
//!          GET /syncsim/replica at the end ───────────► score ◄──┘
//!  live:   the same, with syncsim's own Consumer half in the Node,
//!          talking to the mail API and its endpoint over loopback sockets.
//! ```
//!
//! The driver owns time (a [`Clock`]) and IO (tokio, axum, hyper) and
//! holds no policy: every answer, retry, fault and apply is the model's,
//! the same components the event engine runs. Tests, benches and examples
//! bind loopback only; every loop here ends by itself at the scenario's
//! end (or on Ctrl-C).

pub mod clock;
pub mod node;
pub mod process;
pub mod score;
pub mod servers;
pub mod wire;

pub use clock::Clock;

use crate::engine::time::SimTime;
use crate::metrics::report::{Live, Report};
use crate::model::config::{FaultEffect, RunConfig};
use crate::model::faults::FaultPlan;
use crate::signing::{SigningKey, Verifier};
use node::{Input, Links, Node};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The default `--listen` of `serve`: the mail API on loopback.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7780";

/// Why a live run cannot start or be scored.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// A socket cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A non-loopback address without `--allow-remote`.
    #[error("{0} is not a loopback address: pass --allow-remote to serve beyond this machine")]
    Remote(SocketAddr),
    /// The scenario sends webhooks but no URL was given.
    #[error("the scenario's strategy receives webhooks: give --webhook-url URL")]
    NoWebhookUrl,
    /// Nowhere to read the consumer's replica from.
    #[error("no replica URL: give --replica-url URL (the consumer's GET /syncsim/replica)")]
    NoReplicaUrl,
    /// The scenario's subscriptions expire (a renewal cadence, a
    /// `renewal_failure`): the HTTP mail API has no subscription calls yet.
    #[error("the scenario models expiring webhook subscriptions (preset {0}'s lifetime within the run, `renew_every` or `renewal_failure`); live and network modes do not act out renewals yet: run it with `syncsim run`")]
    Subscriptions(&'static str),
    /// The scenario asks for lifecycle notifications, which have no HTTP
    /// endpoint in live and network modes yet.
    #[error("the scenario sets webhooks.lifecycle_notifications (preset {0}); live and network modes do not send lifecycle notifications yet: run it with `syncsim run`")]
    Lifecycle(&'static str),
    /// Consumer faults need a consumer process syncsim controls.
    #[error("the scenario has consumer faults ({0}), which act on the consumer's process: give --consumer-cmd CMD so syncsim runs the consumer and can kill it (slow_consumer cannot be applied to a real process)")]
    ConsumerFaults(&'static str),
    /// The consumer process cannot start or never became ready.
    #[error("the consumer command {cmd:?} {why}")]
    Process {
        /// The command.
        cmd: String,
        /// What went wrong.
        why: String,
    },
    /// `--speed` is not a positive number.
    #[error("--speed must be a positive number, got {0}")]
    Speed(f64),
    /// The OS random generator failed (no new secret can be made).
    #[error("cannot make a signing secret: the OS random generator failed: {0}")]
    Random(std::io::Error),
    /// The replica cannot be read.
    #[error("cannot read the consumer's replica at {url}: {why}")]
    Replica {
        /// Where it was asked for.
        url: String,
        /// What went wrong.
        why: String,
    },
}

/// How `serve` runs.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Where the mail API listens.
    pub listen: SocketAddr,
    /// Binding a non-loopback address is allowed (with a warning).
    pub allow_remote: bool,
    /// Where deliveries are POSTed.
    pub webhook_url: Option<String>,
    /// Where the consumer serves its replica (default: the webhook URL's
    /// origin + `/syncsim/replica`).
    pub replica_url: Option<String>,
    /// Virtual seconds per wall second.
    pub speed: f64,
    /// Keys deliveries are signed with.
    pub keys: Vec<SigningKey>,
    /// Keep serving after the end, until Ctrl-C.
    pub hold: bool,
    /// Print progress on stderr.
    pub progress: bool,
    /// Run the consumer as this shell command (so `consumer_crash` can
    /// SIGKILL and restart it).
    pub consumer_cmd: Option<String>,
}

/// A bound `serve` run, ready to go.
pub struct Server {
    node: Node,
    rx: mpsc::UnboundedReceiver<Input>,
    addr: SocketAddr,
    opts: ServeOptions,
    stop: watch::Sender<bool>,
}

fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

fn check_consumer_faults(cfg: &RunConfig, runs_process: bool) -> Result<(), LiveError> {
    for f in &cfg.faults {
        match f.effect {
            FaultEffect::ConsumerCrash if !runs_process => {
                return Err(LiveError::ConsumerFaults("consumer_crash"))
            }
            FaultEffect::SlowConsumer(_) => return Err(LiveError::ConsumerFaults("slow_consumer")),
            _ => {}
        }
    }
    Ok(())
}

async fn listen(addr: SocketAddr) -> Result<tokio::net::TcpListener, LiveError> {
    wire::bind(addr)
        .await
        .map_err(|source| LiveError::Bind { addr, source })
}

/// Refuses what live and network modes cannot act out: expiring webhook
/// subscriptions (their renewals have no HTTP call in `http::mail_api`
/// yet, and a real consumer could not make them), and lifecycle
/// notifications (no lifecycle endpoint on the wire yet).
pub fn check_drivable(cfg: &RunConfig) -> Result<(), LiveError> {
    match cfg.consumer.hooks() {
        Some(h) if h.subscription.is_some() => Err(LiveError::Subscriptions(h.sender.name)),
        Some(h) if h.sender.lifecycle => Err(LiveError::Lifecycle(h.sender.name)),
        _ => Ok(()),
    }
}

fn check_speed(speed: f64) -> Result<(), LiveError> {
    if speed.is_finite() && speed > 0.0 {
        Ok(())
    } else {
        Err(LiveError::Speed(speed))
    }
}

impl Server {
    /// Checks the options, binds the mail API, starts the consumer
    /// process if asked, and builds the run; virtual time starts when the
    /// run is built (generating traffic does not eat into it), so call
    /// [`Server::run`] at once.
    pub async fn bind(cfg: RunConfig, opts: ServeOptions) -> Result<Server, LiveError> {
        check_speed(opts.speed)?;
        check_drivable(&cfg)?;
        check_consumer_faults(&cfg, opts.consumer_cmd.is_some())?;
        if !is_loopback(&opts.listen) {
            if !opts.allow_remote {
                return Err(LiveError::Remote(opts.listen));
            }
            eprintln!(
                "warning: serving the mail API on {}, beyond this machine",
                opts.listen
            );
        }
        if cfg.consumer.hooks().is_some() && opts.webhook_url.is_none() {
            return Err(LiveError::NoWebhookUrl);
        }
        if opts.replica_url.is_none() && opts.webhook_url.is_none() {
            return Err(LiveError::NoReplicaUrl);
        }
        let listener = listen(opts.listen).await?;
        let addr = listener.local_addr().map_err(|source| LiveError::Bind {
            addr: opts.listen,
            source,
        })?;
        let replica_url = replica_url(&opts);
        let process = match &opts.consumer_cmd {
            Some(cmd) => Some(start_consumer(cmd, &opts, addr, &replica_url).await?),
            None => None,
        };
        let clock = Clock::start(opts.speed);
        let (tx, rx) = mpsc::unbounded_channel();
        let links = Links {
            webhook_url: opts.webhook_url.clone(),
            api_url: None,
            keys: Arc::new(opts.keys.clone()),
            wrong_key: untrusted_key(),
        };
        let mailboxes = cfg.source.mailboxes;
        let mut node = Node::new(cfg, false, clock, links, tx.clone());
        if let Some(p) = process {
            node.attach_process(p);
        }
        let clock = node.restart_clock();
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(wire::serve(
            listener,
            servers::api_router(tx, clock, mailboxes),
            until(stopped),
        ));
        Ok(Server {
            node,
            rx,
            addr,
            opts,
            stop,
        })
    }

    /// Where the mail API listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Runs to the scenario's end (or Ctrl-C), reads the consumer's
    /// replica and returns the report.
    pub async fn run(mut self) -> Result<Report, LiveError> {
        let started = tokio::time::Instant::now();
        self.node.start();
        let end = drive(
            &mut self.node,
            &mut self.rx,
            self.opts.hold,
            self.opts.progress,
            terminated(),
        )
        .await;
        let url = replica_url(&self.opts);
        let doc = read_replica(&wire::client(), &url).await;
        let _ = self.stop.send(true);
        self.node.finish(end);
        let doc = doc?;
        let (mut report, strays) = score::score(&mut self.node, &doc, end);
        attach(&mut report, &self.node, started, strays);
        Ok(report)
    }
}

/// Where the consumer's replica is read.
fn replica_url(opts: &ServeOptions) -> String {
    opts.replica_url
        .clone()
        .unwrap_or_else(|| replica_url_of(opts.webhook_url.as_deref().unwrap_or_default()))
}

/// Starts the consumer command and waits (at most 15 wall seconds) until
/// it answers at its replica URL.
async fn start_consumer(
    cmd: &str,
    opts: &ServeOptions,
    api: SocketAddr,
    replica_url: &str,
) -> Result<process::ConsumerProcess, LiveError> {
    let fail = |why: String| LiveError::Process {
        cmd: cmd.to_string(),
        why,
    };
    let mut env = vec![
        ("SYNCSIM_API_URL".to_string(), format!("http://{api}")),
        ("SYNCSIM_SPEED".to_string(), opts.speed.to_string()),
    ];
    if let Some(listen) = opts.webhook_url.as_deref().and_then(host_port) {
        env.push(("SYNCSIM_LISTEN".to_string(), listen));
    }
    for k in &opts.keys {
        match k {
            SigningKey::V1(s) => {
                env.push(("SYNCSIM_WEBHOOK_SECRET".to_string(), s.expose().to_string()))
            }
            SigningKey::V1a(k) => env.push((
                "SYNCSIM_WEBHOOK_PUBLIC_KEY".to_string(),
                k.public_key().to_string(),
            )),
        }
    }
    let mut p = process::ConsumerProcess::new(cmd, env);
    p.start().map_err(|e| fail(format!("cannot start: {e}")))?;
    let client = wire::client();
    let give_up = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let probe = wire::send(
            &client,
            axum::http::Method::GET,
            replica_url,
            &[],
            axum::body::Bytes::new(),
            Duration::from_secs(1),
        )
        .await;
        if probe.is_ok() {
            return Ok(p);
        }
        if !p.running() {
            return Err(fail("exited before answering at its replica URL".into()));
        }
        if tokio::time::Instant::now() > give_up {
            return Err(fail(format!("did not answer at {replica_url} within 15 s")));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `host:port` of a URL (`http://127.0.0.1:7781/hook` → `127.0.0.1:7781`).
fn host_port(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    Some(rest[..rest.find('/').unwrap_or(rest.len())].to_string())
}

/// Resolves when `stopped` turns true (or its sender is gone).
pub(crate) async fn until(mut stopped: watch::Receiver<bool>) {
    while !*stopped.borrow() {
        if stopped.changed().await.is_err() {
            return;
        }
    }
}

/// `scheme://host:port/syncsim/replica` for a webhook URL.
pub fn replica_url_of(webhook_url: &str) -> String {
    match (webhook_url.find("://"), host_port(webhook_url)) {
        (Some(i), Some(host)) => format!("{}{host}/syncsim/replica", &webhook_url[..i + 3]),
        _ => format!("{webhook_url}/syncsim/replica"),
    }
}

/// Reads the consumer's replica at `url` through `client`.
pub(crate) async fn read_replica(
    client: &wire::Client,
    url: &str,
) -> Result<score::ReplicaDoc, LiveError> {
    let err = |why: String| LiveError::Replica {
        url: url.to_string(),
        why,
    };
    let reply = wire::send(
        client,
        axum::http::Method::GET,
        url,
        &[],
        axum::body::Bytes::new(),
        Duration::from_secs(30),
    )
    .await
    .map_err(|e| err(e.to_string()))?;
    if reply.status != 200 {
        return Err(err(format!("HTTP {}", reply.status)));
    }
    score::parse_replica(&reply.body).map_err(|e| err(e.to_string()))
}

/// Moves inputs and timers until the scenario's end (with `hold`, until
/// `stop` resolves: Ctrl-C in live mode); returns the virtual time it
/// stopped at.
pub(crate) async fn drive(
    node: &mut Node,
    rx: &mut mpsc::UnboundedReceiver<Input>,
    hold: bool,
    progress: bool,
    stop: impl std::future::Future<Output = ()>,
) -> SimTime {
    let end = SimTime(node.cfg.end().0);
    let clock = node.clock();
    tokio::pin!(stop);
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_sent = 0;
    loop {
        // Past the end (with `hold`) only timers wake the loop; before it,
        // the end does too.
        let past_end = node.now() >= end;
        if past_end && !hold {
            break;
        }
        let wake = match node.next_timer() {
            Some(t) if past_end => Some(t),
            Some(t) => Some(t.min(end)),
            None if past_end => None,
            None => Some(end),
        };
        let sleep = async {
            match wake {
                Some(t) => tokio::time::sleep_until(clock.wall(t)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = &mut stop => {
                eprintln!("interrupted: scoring what happened so far");
                break;
            }
            Some(input) = rx.recv() => node.handle(input),
            _ = sleep => {
                node.fire_due();
                if node.now() >= end && !hold {
                    break;
                }
            }
            _ = ticker.tick(), if progress => {
                let now = node.now();
                eprintln!(
                    "virtual {} of {}: {} deliveries/s, {} API requests, {} timers pending",
                    crate::engine::time::SimDuration(now.0),
                    crate::engine::time::SimDuration(end.0),
                    node.stats.sent - last_sent,
                    node.stats.api_requests,
                    node.timers_pending(),
                );
                last_sent = node.stats.sent;
            }
        }
    }
    node.now().min(end)
}

/// Resolves on Ctrl-C, or SIGTERM on unix (how a supervisor stops a
/// consumer).
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Adds the live-only figures to a report and re-seals it.
fn attach(report: &mut Report, node: &Node, started: tokio::time::Instant, strays: score::Strays) {
    let wall = started.elapsed().as_secs_f64();
    let mut live = figures(node, strays);
    live.speed = node.clock().speed();
    live.wall_secs = crate::metrics::round3(wall);
    live.deliveries_per_s = crate::metrics::round3(live.deliveries_sent as f64 / wall.max(1e-9));
    report.live = Some(live);
    report.seal();
}

/// What a node counted on the wire, and the strays its consumer's replica
/// held: the figures live and network mode report (their wall-clock ones,
/// `speed`, `wall_secs` and `deliveries_per_s`, left at 1, 0 and 0).
pub(crate) fn figures(node: &Node, strays: score::Strays) -> Live {
    let s = &node.stats;
    Live {
        speed: 1.0,
        wall_secs: 0.0,
        deliveries_sent: s.sent,
        deliveries_per_s: 0.0,
        behind_schedule_max_ms: s.max_behind.0 as f64 / 1_000.0,
        late_deliveries: s.late,
        http_status: s.outcomes.clone(),
        api_requests: s.api_requests,
        forged_sent: s.forged_sent,
        forged_acked: s.forged_acked,
        forged_accepted: strays.forged,
        unknown_in_replica: strays.unknown,
        signed_rotated: s.signed_rotated,
        signed_twice: s.signed_twice,
    }
}

/// Runs `cfg` in live mode in one process: the mail API and syncsim's own
/// consumer (the scenario's strategy) on ephemeral loopback ports, signed
/// webhooks between them, at `speed`. Returns the same report as `run`,
/// with the live figures.
pub async fn live(cfg: RunConfig, speed: f64, progress: bool) -> Result<Report, LiveError> {
    check_speed(speed)?;
    check_drivable(&cfg)?;
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let api = listen(loopback).await?;
    let endpoint = listen(loopback).await?;
    let local = |l: &tokio::net::TcpListener| {
        l.local_addr().map_err(|source| LiveError::Bind {
            addr: loopback,
            source,
        })
    };
    let (api_addr, endpoint_addr) = (local(&api)?, local(&endpoint)?);
    let mut rng = seeded_rng(cfg.seed);
    let rotations = FaultPlan::secret_rotations(&cfg.faults, SimTime(cfg.end().0));
    let keys: Vec<SigningKey> = (0..=rotations)
        .map(|_| SigningKey::V1(crate::signing::Secret::generate(&mut rng)))
        .collect();
    let clock = Clock::start(speed);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let links = Links {
        webhook_url: Some(format!("http://{endpoint_addr}/webhooks")),
        api_url: Some(format!("http://{api_addr}")),
        keys: Arc::new(keys.clone()),
        wrong_key: untrusted_key(),
    };
    let mailboxes = cfg.source.mailboxes;
    let mut node = Node::new(cfg, true, clock, links, tx.clone());
    let clock = node.restart_clock();
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(wire::serve(
        api,
        servers::api_router(tx.clone(), clock, mailboxes),
        until(stopped.clone()),
    ));
    tokio::spawn(wire::serve(
        endpoint,
        servers::endpoint_router(tx, Verifier::trusting(&keys), clock),
        until(stopped),
    ));
    let started = tokio::time::Instant::now();
    node.start();
    let end = drive(&mut node, &mut rx, false, progress, terminated()).await;
    let _ = stop.send(true);
    node.finish(end);
    let consumer = node.consumer.as_ref().expect("live runs a consumer");
    let mut report =
        crate::model::halves::report(&node.cfg, &node.provider, consumer, &node.net, &node.ledger);
    attach(&mut report, &node, started, score::Strays::default());
    Ok(report)
}

/// How `consume` runs.
#[derive(Clone, Debug)]
pub struct ConsumeOptions {
    /// The mail API (`http://host:port`).
    pub api_url: String,
    /// Where the endpoint (webhooks, `GET /syncsim/replica`) listens.
    pub listen: SocketAddr,
    /// Keys the endpoint trusts (every generation of a rotation).
    pub keys: Vec<SigningKey>,
    /// Virtual seconds per wall second (the same as the server's).
    pub speed: f64,
    /// Print progress on stderr.
    pub progress: bool,
}

/// Runs syncsim's own consumer (the scenario's strategy: the same
/// Consumer half as the simulator) against a mail API over HTTP, with its
/// webhook endpoint and the replica contract on `listen`, until Ctrl-C or
/// SIGTERM (the server reads the replica at its end; it is the server
/// that scores). The endpoint verifies every delivery's signature.
pub async fn consume(cfg: RunConfig, opts: ConsumeOptions) -> Result<(), LiveError> {
    check_speed(opts.speed)?;
    check_drivable(&cfg)?;
    if !is_loopback(&opts.listen) {
        eprintln!(
            "warning: the consumer's endpoint listens on {}, beyond this machine",
            opts.listen
        );
    }
    let endpoint = listen(opts.listen).await?;
    let clock = Clock::start(opts.speed);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let links = Links {
        webhook_url: None,
        api_url: Some(opts.api_url.trim_end_matches('/').to_string()),
        keys: Arc::new(opts.keys.clone()),
        wrong_key: untrusted_key(),
    };
    let mut node = Node::new(cfg, true, clock, links, tx.clone());
    let clock = node.restart_clock();
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(wire::serve(
        endpoint,
        servers::endpoint_router(tx, Verifier::trusting(&opts.keys), clock),
        until(stopped),
    ));
    node.start_consumer();
    drive(&mut node, &mut rx, true, opts.progress, terminated()).await;
    let _ = stop.send(true);
    node.finish(SimTime(node.cfg.end().0));
    Ok(())
}

/// A key nobody trusts, for `forged` deliveries signed with the wrong
/// secret (never shown). Without an OS generator the clock seeds it: it
/// only ever signs deliveries that must fail.
fn untrusted_key() -> SigningKey {
    let mut rng = os_rng().unwrap_or_else(|_| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        seeded_rng(t)
    });
    SigningKey::V1(crate::signing::Secret::generate(&mut rng))
}

/// A generator seeded from the OS's (for real secrets).
pub fn os_rng() -> std::io::Result<rand_chacha::ChaCha20Rng> {
    use rand::SeedableRng;
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(std::io::Error::other)?;
    Ok(rand_chacha::ChaCha20Rng::from_seed(seed))
}

/// A generator seeded from the run's seed (the loopback secret of `live`:
/// both ends are this process).
pub(crate) fn seeded_rng(seed: u64) -> rand_chacha::ChaCha20Rng {
    use rand::SeedableRng;
    rand_chacha::ChaCha20Rng::seed_from_u64(seed ^ 0x5ec2e7)
}

/// A runtime for the live commands (two worker threads: the node and the
/// sockets).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}
