//! Your own tokio consumer under syncsim's network mode (turmoil): a small
//! axum webhook consumer with a deliberate bug, run against the simulated
//! provider through a crash, reproducibly from a seed.
//!
//! The buggy consumer answers `200` to a webhook as soon as it has put it
//! in an in-memory queue, and a background task writes the queue to disk
//! once a minute. When the host crashes, what was acknowledged but not
//! yet written is gone, and the provider never sends it again: the
//! report counts it lost and names each change. The fixed consumer
//! persists before it answers, so a crash only makes the provider retry.
//!
//! ```sh
//! cargo run --release --example net_consumer            # seed 14
//! cargo run --release --example net_consumer -- 99      # another seed
//! ```
//!
//! Rerunning with the printed seed reproduces the same report digest and
//! the same lost changes, bit for bit: nothing here reads the wall clock,
//! spawns a thread or iterates a `HashMap` (see docs/net.md).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use syncsim::http::client::parse_delivery;
use syncsim::live::wire;
use syncsim::net::connector::NetListener;
use syncsim::net::{self, ConsumerEnv, NetOptions, NetRun};
use syncsim::signing::WebhookHeaders;

/// The scenario: 4 mailboxes, ~670 changes over two hours (one every
/// ~11 s), svix's retries, and one 5-minute crash of the consumer's host
/// at 40 minutes.
pub const SCENARIO: &str = r#"
name = "net-consumer-example"
seed = 14
horizon = "2h"
drain = "30m"
[source]
mailboxes = 4
messages_per_day = 2000
[webhooks]
preset = "svix"
[consumer]
strategy = "webhook"
[[faults]]
kind = "consumer_crash"
at = "40m"
for = "5m"
"#;

/// How often the buggy consumer writes its queue to disk: changes arrive
/// about every 11 s, so a crash finds a few acknowledged in memory.
pub const FLUSH_EVERY: Duration = Duration::from_secs(60);

/// The consumer's disk: (mailbox, message) -> (version, deleted). It
/// outlives a crash (the closure below is called again after each one;
/// only what it creates is lost).
pub type Disk = Arc<Mutex<BTreeMap<(u32, u32), (u32, bool)>>>;

/// A change waiting to be persisted.
type Item = (u32, u32, u32, bool);

#[derive(Clone)]
struct App {
    env: ConsumerEnv,
    disk: Disk,
    /// In memory: lost in a crash.
    queue: Arc<Mutex<VecDeque<Item>>>,
    /// The fixed variant persists before answering.
    fixed: bool,
}

fn store(disk: &Disk, (m, msg, version, deleted): Item) {
    let mut d = disk.lock().unwrap_or_else(|e| e.into_inner());
    let held = d.entry((m, msg)).or_insert((0, false));
    if version > held.0 {
        *held = (version, deleted);
    }
}

async fn webhook(State(app): State<App>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    // Verify against the simulated clock (never SystemTime::now()).
    let verifier = app.env.verifier();
    let now = app.env.clock.unix_secs();
    if WebhookHeaders::from_pairs(pairs)
        .and_then(|h| verifier.verify(&h, &body, now))
        .is_err()
    {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(d) = parse_delivery(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let Some(v) = d.version else {
        return StatusCode::BAD_REQUEST; // this example takes full payloads
    };
    let deleted = v & syncsim::model::traffic::DELETED != 0;
    let item = (
        d.mailbox,
        d.msg,
        v & !syncsim::model::traffic::DELETED,
        deleted,
    );
    if app.fixed {
        // Persist, then acknowledge.
        store(&app.disk, item);
    } else {
        // BUG: acknowledge what is only in memory.
        app.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(item);
    }
    StatusCode::OK
}

async fn replica(State(app): State<App>) -> axum::Json<serde_json::Value> {
    let d = app.disk.lock().unwrap_or_else(|e| e.into_inner());
    let messages: Vec<_> = d
        .iter()
        .map(|((m, msg), (v, del))| {
            serde_json::json!({"mailbox": m, "message": msg, "version": v, "deleted": del})
        })
        .collect();
    axum::Json(serde_json::json!({ "messages": messages }))
}

/// The consumer host's software: called at the start and again after
/// each crash, with the same `disk`.
pub async fn consumer(env: ConsumerEnv, disk: Disk, fixed: bool) -> turmoil::Result {
    let app = App {
        env: env.clone(),
        disk: disk.clone(),
        queue: Arc::new(Mutex::new(VecDeque::new())),
        fixed,
    };
    if !fixed {
        // The flusher: the queue to disk once a minute.
        let (queue, disk) = (app.queue.clone(), disk);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(FLUSH_EVERY).await;
                let items: Vec<Item> = queue
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .drain(..)
                    .collect();
                for item in items {
                    store(&disk, item);
                }
            }
        });
    }
    let router = Router::new()
        .route("/webhooks", post(webhook))
        .route("/syncsim/replica", get(replica))
        .with_state(app);
    let listener = NetListener::bind(env.port).await?;
    wire::serve(listener, router, std::future::pending()).await;
    Ok(())
}

/// Runs the example's scenario at `seed` with the buggy or the fixed
/// consumer.
pub fn run(seed: u64, fixed: bool) -> Result<NetRun, net::NetError> {
    let mut s = syncsim::scenario::parse(
        SCENARIO,
        "net-consumer-example.toml",
        syncsim::scenario::Format::Toml,
    )
    .map_err(|e| net::NetError::Sim(e.to_string()))?;
    s.seed = seed;
    let disk: Disk = Arc::default();
    net::run(s.config(), &NetOptions::default(), move |env| {
        consumer(env, disk.clone(), fixed)
    })
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed = match std::env::args().nth(1) {
        Some(s) => s.parse().map_err(|_| format!("not a seed: {s}"))?,
        None => 14,
    };
    for (name, fixed) in [("buggy (acks before persisting)", false), ("fixed", true)] {
        let run = run(seed, fixed)?;
        let r = &run.report;
        println!(
            "{name}: seed {seed}, digest {}: {} changes, {} lost, {} crash(es)",
            r.digest, r.changes.generated, r.changes.lost, r.faults.consumer_crashes
        );
        for l in &run.lost {
            println!("  lost: {l}");
        }
    }
    println!("reproduce: cargo run --release --example net_consumer -- {seed}");
    Ok(())
}
