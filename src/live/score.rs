//! Scoring a consumer through the replica contract: the consumer serves
//! `GET /syncsim/replica` with the version it holds of every message,
//! `{"messages": [{"mailbox": 0, "message": 7, "version": 3, "deleted":
//! false}, ...]}`, and syncsim compares it with ground truth.
//!
//! A change counts as applied when the replica holds its message at that
//! version or a newer one; its latency runs from its commit to when the
//! provider first saw it reach the consumer (a 2xx to its delivery, or a
//! page that listed it), or to the end of the run if it never saw that.
//! A message the source never had is counted, not held (a forged
//! delivery applied, or an invented id).

use super::node::Node;
use crate::engine::time::SimTime;
use crate::metrics::assemble::{assemble, Observed};
use crate::metrics::report::Report;
use crate::metrics::Path;
use crate::model::receiver::ReceiverStats;
use crate::model::replica::{Effect, Replica};
use crate::model::traffic::{Logs, DELETED};
use serde::{Deserialize, Serialize};

/// One entry of the replica contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Mailbox index.
    pub mailbox: u32,
    /// Message id.
    pub message: u32,
    /// The version held.
    pub version: u32,
    /// The message is deleted (a tombstone at `version`).
    #[serde(default)]
    pub deleted: bool,
    /// When the consumer applied it (its own clock, ms; informative).
    #[serde(default, skip_serializing)]
    pub applied_ms: Option<u64>,
}

/// The whole document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaDoc {
    /// Every message the consumer holds.
    pub messages: Vec<Entry>,
}

/// Why a replica document cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("the consumer's replica is not valid contract JSON: {0}")]
pub struct ReplicaError(String);

/// Reads a replica document.
pub fn parse_replica(body: &[u8]) -> Result<ReplicaDoc, ReplicaError> {
    serde_json::from_slice(body).map_err(|e| ReplicaError(e.to_string()))
}

/// The replica contract's JSON for a replica of `logs`' mailboxes (what
/// syncsim's own consumer serves).
pub fn replica_json(replica: &Replica, logs: &Logs) -> String {
    let mut doc = ReplicaDoc::default();
    for m in 0..logs.mailboxes() {
        for msg in 0..logs.final_state(m).len() as u32 {
            match replica.held(m, msg) {
                Some(v) if v != 0 => doc.messages.push(Entry {
                    mailbox: m,
                    message: msg,
                    version: v & !DELETED,
                    deleted: v & DELETED != 0,
                    applied_ms: None,
                }),
                _ => {}
            }
        }
    }
    serde_json::to_string(&doc).expect("a replica serializes")
}

/// What the replica holds that the source never had.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Strays {
    /// Messages only forged deliveries named.
    pub forged: u64,
    /// Other unknown messages.
    pub unknown: u64,
}

/// Scores an external consumer's replica `doc` against the run `node`
/// finished at `end`: returns the report and what the replica holds that
/// the source never had.
pub fn score(node: &mut Node, doc: &ReplicaDoc, end: SimTime) -> (Report, Strays) {
    score_with(node, doc, end, None)
}

/// [`score`], with the endpoint's own figures when the consumer is
/// syncsim's reference consumer and they are known (network mode):
/// duplicates, refusals and 429s only the endpoint sees.
pub fn score_with(
    node: &mut Node,
    doc: &ReplicaDoc,
    end: SimTime,
    endpoint: Option<&ReceiverStats>,
) -> (Report, Strays) {
    let logs = node.ledger.logs();
    let mut replica = Replica::new(logs);
    let mut strays = Strays::default();
    for e in &doc.messages {
        let v = e.version | if e.deleted { DELETED } else { 0 };
        if !replica.hold(e.mailbox, e.message, v) {
            if e.message >= crate::http::webhook::FORGED_MESSAGE_BASE {
                strays.forged += 1;
            } else {
                strays.unknown += 1;
            }
        }
    }
    // A page that listed a change is a poll under `poll`; under `hybrid`
    // the only list calls are reconciliations, counted as the event
    // engine counts them.
    let listing = match node.cfg.consumer {
        crate::model::config::ConsumerConfig::Hybrid(..) => Path::Reconcile,
        _ => Path::Poll,
    };
    let mut applied = Vec::new();
    for m in 0..logs.mailboxes() {
        let base = logs.change_offsets()[m as usize];
        for (seq, c) in logs.whole(m).iter().enumerate() {
            let held = replica.held(m, c.msg).unwrap_or(0) & !DELETED;
            if held < c.version & !DELETED {
                continue;
            }
            let (at, by_webhook) = node.seen.first(base + seq).unwrap_or((end, false));
            let path = if by_webhook { Path::Webhook } else { listing };
            applied.push((m, seq as u32, at.max(c.at), path));
        }
    }
    for (m, seq, at, path) in applied {
        node.ledger.applied(m, seq, at, Effect::Written, path);
    }
    let sender = node.provider.sender();
    let receiver = endpoint.cloned().unwrap_or_default();
    let report = assemble(&Observed {
        cfg: &node.cfg,
        ledger: &node.ledger,
        replica: &replica,
        poller: None,
        sender,
        receiver: sender.map(|_| &receiver),
        hits: node.net.hits(),
        quota: node.provider.quota(),
    });
    (report, strays)
}
