//! The report: stable field names (scripts rely on them), a canonical JSON
//! form, and a `digest` of that form for "same seed, same result".

use crate::model::sender::SenderStats;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Latency summary of one path, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    /// Number of changes measured.
    pub count: u64,
    /// Exact mean.
    pub mean: Option<f64>,
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// 99.9th percentile.
    pub p999: Option<f64>,
    /// Largest.
    pub max: Option<f64>,
    /// Percentiles the scenario's thresholds ask for beyond the ones
    /// above (`p95`, `p75`, ...), by leaf name; empty (and absent from the
    /// JSON) otherwise, so reports without them keep their digests.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Option<f64>>,
}

/// The simulated world's size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Simulated {
    /// Mailboxes.
    pub mailboxes: u32,
    /// Traffic horizon.
    pub horizon: String,
    /// Drain after the horizon.
    pub drain: String,
    /// Horizon plus drain, in days.
    pub days: f64,
    /// The consumer strategy.
    pub strategy: String,
    /// Poll interval in minutes (fixed-interval polling only).
    pub poll_interval_min: Option<f64>,
    /// Reconciliation period in minutes (hybrid only).
    pub reconcile_every_min: Option<f64>,
}

/// Which path first delivered each change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirstSeenBy {
    /// Webhook notifications.
    pub webhook: u64,
    /// Regular polling.
    pub poll: u64,
    /// Reconciliation (hybrid).
    pub reconcile: u64,
    /// A full resync after an expired cursor.
    pub resync: u64,
}

/// Ground truth against the replica.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Changes {
    /// Changes the source committed during the horizon.
    pub generated: u64,
    /// Distinct changes that reached the replica.
    pub applied: u64,
    /// Changes that never reached it.
    pub lost: u64,
    /// lost / generated.
    pub loss_rate: f64,
    /// First delivery path per change.
    pub first_seen_by: FirstSeenBy,
    /// Share of applied changes first seen by reconciliation.
    pub recovery_rate: f64,
    /// Changes listed again by polling or reconciliation after they were
    /// applied (cost, not loss: e.g. ties under an inclusive cursor).
    pub redelivered: u64,
    /// Lost changes split by cause.
    pub lost_by_cause: LostByCause,
    /// The first lost changes by commit time (at most
    /// [`LOST_IN_REPORT`]), each with its cause: where to start
    /// `syncsim trace --lost`.
    pub lost_sample: Vec<LostChange>,
    /// The slowest changes (at most [`super::SLOWEST_IN_REPORT`]),
    /// slowest first: `syncsim trace --worst N` traces them.
    pub slowest: Vec<SlowChange>,
}

/// How many lost changes a report lists (`changes.lost_sample`).
pub const LOST_IN_REPORT: usize = 10;

/// Why a change was lost (see [`LostByCause`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossCause {
    /// The webhook sender gave up after its last attempt.
    WebhookGaveUp,
    /// The sender skipped it: endpoint disabled.
    EndpointDisabled,
    /// Dead-lettered after failed processing.
    DeadLettered,
    /// Lost with a memory queue in a consumer crash.
    Crash,
    /// A timestamp cursor moved past it.
    CursorSkip,
    /// Not delivered by the end.
    Undelivered,
    /// Never notified: the webhook subscription had expired.
    SubscriptionExpired,
}

impl LossCause {
    /// The name used in reports and traces (`webhook_gave_up`).
    pub fn name(self) -> &'static str {
        match self {
            LossCause::WebhookGaveUp => "webhook_gave_up",
            LossCause::EndpointDisabled => "endpoint_disabled",
            LossCause::DeadLettered => "dead_lettered",
            LossCause::Crash => "crash",
            LossCause::CursorSkip => "cursor_skip",
            LossCause::Undelivered => "undelivered",
            LossCause::SubscriptionExpired => "subscription_expired",
        }
    }
}

/// One lost change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LostChange {
    /// Mailbox.
    pub mailbox: u32,
    /// Message (what `syncsim trace --message MAILBOX:MESSAGE` takes).
    pub message: u32,
    /// The change's sequence number in its mailbox's log.
    pub seq: u32,
    /// When the source committed it (from the start, e.g. `6h12m3s`).
    pub committed: String,
    /// Why it was lost.
    pub cause: LossCause,
}

/// One slow change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowChange {
    /// Mailbox.
    pub mailbox: u32,
    /// Message.
    pub message: u32,
    /// The change's sequence number in its mailbox's log.
    pub seq: u32,
    /// Commit to first application, in milliseconds.
    pub lag_ms: f64,
    /// The path that applied it first (`webhook`, `poll`, `reconcile`,
    /// `resync`).
    pub path: String,
}

/// What a fleet of this size asks of the mail API and of the consumer's
/// endpoint: the figures capacity planning starts from. Per day and per
/// 30-day month are the run's totals over its simulated days (horizon
/// plus drain), unrounded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    /// Requests at the source (mail API) in its busiest second.
    pub source_peak_rps: u64,
    /// Requests at the source per day, whole fleet.
    pub source_requests_per_day: f64,
    /// Requests at the source per 30-day month, whole fleet.
    pub source_requests_per_month: f64,
    /// Requests the source answered 429 (rate limited).
    pub source_rate_limited: u64,
    /// Webhook deliveries reaching the consumer's endpoint in its busiest
    /// second (0 without webhooks).
    pub inbound_peak_rps: u64,
    /// Webhook deliveries reaching the endpoint per day.
    pub inbound_per_day: f64,
    /// Webhook deliveries reaching the endpoint per 30-day month.
    pub inbound_per_month: f64,
    /// Deliveries the endpoint's inbound rate limit answered 429.
    pub inbound_rate_limited: u64,
}

/// What a run costs per 30-day month at the scenario's `[cost]` prices
/// (absent without `[cost]`, so reports without prices keep their
/// digests). Scaled like [`Capacity`]'s monthly totals: the run's totals
/// over its simulated days (horizon plus drain) times 30 / days; worker
/// hours are the consumer's workers for 720 hours (30 days) a month.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cost {
    /// Currency label from `[cost]` (no conversion is made).
    pub currency: String,
    /// Everything below, per 30-day month.
    pub month: f64,
    /// `month` per mailbox.
    pub per_mailbox_month: f64,
    /// API requests at the mail API, per month.
    pub requests_month: f64,
    /// The same, split by kind of request (each at its own price when
    /// `[cost.per_1000_by_kind]` names it).
    pub requests_by_kind_month: RequestCosts,
    /// Webhook deliveries received by the endpoint, per month.
    pub deliveries_month: f64,
    /// The consumer's workers, per month.
    pub workers_month: f64,
    /// Worker-hours per month that `workers_month` prices (the webhook
    /// endpoint's workers × 720 h; 0 for `poll`, which has no worker pool
    /// in the model).
    pub worker_hours_month: f64,
}

/// Monthly request cost by kind of request: the parts of
/// [`Cost::requests_month`] (they add up to it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestCosts {
    /// Poller list requests (`requests.poll`).
    pub poll: f64,
    /// Thin-payload fetches (`requests.fetch`).
    pub fetch: f64,
    /// Reconciler list requests (`requests.reconcile`).
    pub reconcile: f64,
    /// Full-resync pages (`requests.resync`).
    pub resync: f64,
    /// Any other request the source counted (`requests.total` minus the
    /// kinds above), at the default price.
    pub other: f64,
}

/// The provider quota's use (`[source] quota`): peak use of each limit
/// as a fraction of it (1 means the limit was reached; headroom is one
/// minus it), and the requests it refused. A limit the quota lacks has
/// no field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaUse {
    /// The quota preset (`msgraph`, `gmail`, `custom`).
    pub preset: String,
    /// Quota units the admitted requests used (weights applied).
    pub units: u64,
    /// Requests the quota refused (429); also in `requests.rate_limited`.
    pub rate_limited: u64,
    /// Most units one mailbox used in one window / the per-mailbox limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailbox_window_peak_fraction: Option<f64>,
    /// Most units used in one project window / the per-project limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_window_peak_fraction: Option<f64>,
    /// Most units used in one day / the daily cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_peak_fraction: Option<f64>,
    /// Most requests of one mailbox in service at once / the concurrency
    /// cap (1 means the cap was reached and a 429 may have followed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrent_peak_fraction: Option<f64>,
}

/// Why lost changes were lost (the first cause recorded for each).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LostByCause {
    /// The webhook sender gave up after its last attempt.
    pub webhook_gave_up: u64,
    /// The sender skipped them: endpoint disabled.
    pub endpoint_disabled: u64,
    /// Dead-lettered after failed processing.
    pub dead_lettered: u64,
    /// Lost with a memory queue in a consumer crash.
    pub crash: u64,
    /// A timestamp cursor moved past them (ties, late commits).
    pub cursor_skip: u64,
    /// Not delivered by the end (in flight, or no path reached them).
    pub undelivered: u64,
    /// Never notified: the mailbox's webhook subscription had expired
    /// (a failed renewal). Only in runs that model subscriptions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_expired: Option<u64>,
}

/// Request cost at the source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requests {
    /// Every request the source received.
    pub total: u64,
    /// total / mailboxes / simulated days.
    pub per_mailbox_day: f64,
    /// Poller list requests (one per page, retries included).
    pub poll: u64,
    /// Poll requests that returned no change.
    pub poll_empty: u64,
    /// Poll cycles started.
    pub poll_cycles: u64,
    /// Poll cycles per mailbox per day.
    pub poll_cycles_per_mailbox_day: f64,
    /// Thin-payload fetches.
    pub fetch: u64,
    /// Reconciler list requests.
    pub reconcile: u64,
    /// Full-resync page requests.
    pub resync: u64,
    /// Full resyncs completed.
    pub resyncs: u64,
    /// "Cursor expired" answers.
    pub expired: u64,
    /// Conditional requests answered 304.
    pub not_modified: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// 5xx answers.
    pub errors: u64,
    /// Requests in the busiest second.
    pub peak_rps: u64,
    /// Subscription renewals (Graph subscription PATCH, Gmail `watch`),
    /// failed ones included; in `total`. Only in runs that model
    /// subscriptions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew: Option<u64>,
    /// Subscriptions created again after one expired (each after a
    /// renewal answered 404); in `total`. Only in runs that model
    /// subscriptions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe: Option<u64>,
    /// Subscription calls (renewals, creations) that failed with a 5xx
    /// (`renewal_failure`). Only in runs that model subscriptions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_failed: Option<u64>,
    /// Lifecycle notifications (`subscriptionRemoved`, `missed`) the
    /// consumer received (not requests). Only with
    /// `lifecycle_notifications`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<u64>,
    /// Catch-up list requests after lifecycle notifications; in `total`.
    /// Only with `lifecycle_notifications`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_up: Option<u64>,
}

/// Latency per delivery path.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyByPath {
    /// Every change, whichever path delivered it first.
    pub all: LatencyStats,
    /// First delivered by webhook.
    pub webhook: LatencyStats,
    /// First delivered by polling.
    pub poll: LatencyStats,
    /// First delivered by reconciliation.
    pub reconcile: LatencyStats,
}

/// Webhook delivery, from the provider's side and the endpoint's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhooks {
    /// Preset name.
    pub preset: String,
    /// Notifications created (one per change).
    pub notifications: u64,
    /// Delivery attempts sent.
    pub attempts: u64,
    /// Notifications acknowledged with a 2xx.
    pub delivered: u64,
    /// Attempts that failed (refused, error status, timeout).
    pub failed_attempts: u64,
    /// Notifications given up after their last attempt.
    pub abandoned: u64,
    /// Notifications not sent because the endpoint was disabled.
    pub skipped_disabled: u64,
    /// Deliveries that reached the consumer for a change it had already received.
    pub duplicates: u64,
    /// First deliveries of changes that another path (the hybrid's
    /// reconciler) had already applied: redundant work at the endpoint.
    pub redundant: u64,
    /// Seconds the endpoint spent disabled.
    pub endpoint_disabled_for: f64,
    /// Requests that reached the endpoint.
    pub inbound_requests: u64,
    /// Refused because the consumer was down.
    pub inbound_refused: u64,
    /// Answered 429 by the inbound rate limit.
    pub inbound_rate_limited: u64,
    /// Requests at the endpoint in its busiest second.
    pub inbound_peak_rps: u64,
}

impl From<&SenderStats> for Webhooks {
    /// The provider's side of the section, from the sender's counters: the
    /// one place they are mapped (every field of [`SenderStats`] is named
    /// here, so a new counter cannot be forgotten). The preset, the
    /// consumer's duplicates and the endpoint's `inbound_*` figures are
    /// left at zero for the caller to fill.
    fn from(s: &SenderStats) -> Self {
        let SenderStats {
            notifications,
            attempts,
            delivered,
            failed_attempts,
            abandoned,
            skipped_disabled,
            disabled_times: _, // not reported
            disabled_for,
        } = *s;
        Webhooks {
            notifications,
            attempts,
            delivered,
            failed_attempts,
            abandoned,
            skipped_disabled,
            endpoint_disabled_for: super::round3(disabled_for.as_secs_f64()),
            ..Webhooks::default()
        }
    }
}

/// The consumer's queue.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// Most items waiting at once.
    pub max_depth: u64,
    /// Items that ran out of processing tries.
    pub dead_lettered: u64,
    /// Acknowledged items lost in crashes (memory queue).
    pub lost_in_crash: u64,
    /// Failed processing tries.
    pub processing_failures: u64,
}

/// What the injected faults did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Delivery attempts that hit an endpoint outage.
    pub endpoint_outage_hits: u64,
    /// Delivery requests lost (`drop`, `bursty_loss`).
    pub dropped_requests: u64,
    /// Responses lost after processing.
    pub dropped_responses: u64,
    /// Deliveries sent twice.
    pub duplicated: u64,
    /// Deliveries delayed by `reorder`.
    pub reordered: u64,
    /// Consumer crashes.
    pub consumer_crashes: u64,
}

/// End-state consistency.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consistency {
    /// Messages whose replica state differs from the source after the drain.
    pub divergent_messages: u64,
    /// Mailboxes with at least one divergent message.
    pub divergent_mailboxes: u64,
    /// Older versions that overwrote newer ones.
    pub stale_overwrites: u64,
    /// Changes processed more than once.
    pub applied_twice: u64,
}

/// Engine figures (wall time never appears here).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Engine {
    /// Events processed.
    pub events: u64,
}

/// Live-mode figures: what only a run on real sockets has (absent from
/// simulated reports, so their digests do not see it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Live {
    /// Virtual seconds per wall second.
    pub speed: f64,
    /// Wall seconds the run took.
    pub wall_secs: f64,
    /// Webhook POSTs that left.
    pub deliveries_sent: u64,
    /// POSTs per wall second achieved.
    pub deliveries_per_s: f64,
    /// How far the sender fell behind its schedule, at most, in virtual
    /// ms (latency counts from the scheduled time, never the send time).
    pub behind_schedule_max_ms: f64,
    /// POSTs that left more than a virtual second after their time.
    pub late_deliveries: u64,
    /// Endpoint answers by HTTP status, plus `timeout` and
    /// `connection_error`.
    pub http_status: BTreeMap<String, u64>,
    /// Mail API requests served.
    pub api_requests: u64,
    /// Forged deliveries sent (`forged` faults).
    pub forged_sent: u64,
    /// Forged deliveries the endpoint acknowledged with a 2xx.
    pub forged_acked: u64,
    /// Forged deliveries the consumer applied (its replica holds their
    /// messages): a security failure.
    pub forged_accepted: u64,
    /// Replica entries for messages the source never had and no forged
    /// delivery named (invented by the consumer).
    pub unknown_in_replica: u64,
    /// Deliveries signed with a rotated-in secret (`secret_rotation`).
    pub signed_rotated: u64,
    /// Deliveries signed with two secrets (a rotation's overlap).
    pub signed_twice: u64,
}

/// One run's report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// Swept values of this point (empty outside sweeps).
    pub point: BTreeMap<String, String>,
    /// Hash of the canonical report with this field empty.
    pub digest: String,
    /// Size of the simulated world.
    pub simulated: Simulated,
    /// Peak rates and fleet totals per day and month.
    pub capacity: Capacity,
    /// Ground truth against the replica.
    pub changes: Changes,
    /// Request cost.
    pub requests: Requests,
    /// Quota use and headroom at the source; absent without a quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaUse>,
    /// Webhook delivery (`null` without webhooks).
    pub webhooks: Option<Webhooks>,
    /// The consumer's queue (`null` without webhooks).
    pub queue: Option<Queue>,
    /// Latency per path.
    pub latency_ms: LatencyByPath,
    /// End-state consistency.
    pub consistency: Consistency,
    /// What the injected faults did.
    pub faults: Faults,
    /// Engine figures.
    pub engine: Engine,
    /// Cost per 30-day month at the scenario's `[cost]` prices; absent
    /// without `[cost]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Cost>,
    /// Live-mode figures (`serve`, `live`); absent in simulated runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<Live>,
    /// Network-mode figures (`--driver net`, turmoil): the wire figures
    /// of live mode in virtual time only (`speed` 1, `wall_secs` and
    /// `deliveries_per_s` 0), so the digest is reproducible from the
    /// seed; absent in other runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net: Option<Live>,
}

impl Report {
    /// The canonical JSON (pretty, fixed field order, trailing newline).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a report always serializes");
        s.push('\n');
        s
    }

    /// Computes and stores the digest: the first 16 hex digits of SHA-256
    /// over the canonical JSON with an empty digest.
    pub fn seal(&mut self) {
        self.digest.clear();
        let hash = Sha256::digest(self.to_json().as_bytes());
        self.digest = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
    }

    /// Every numeric leaf path a report can have (with webhook sections),
    /// e.g. `changes.lost`, `latency_ms.all.p99`.
    pub fn numeric_paths() -> std::collections::BTreeSet<String> {
        let full = LatencyStats {
            count: 0,
            mean: Some(0.0),
            p50: Some(0.0),
            p90: Some(0.0),
            p99: Some(0.0),
            p999: Some(0.0),
            max: Some(0.0),
            extra: BTreeMap::new(),
        };
        let sample = Report {
            scenario: String::new(),
            seed: 0,
            point: BTreeMap::new(),
            digest: String::new(),
            simulated: Simulated {
                mailboxes: 0,
                horizon: String::new(),
                drain: String::new(),
                days: 0.0,
                strategy: String::new(),
                poll_interval_min: Some(0.0),
                reconcile_every_min: Some(0.0),
            },
            capacity: Capacity::default(),
            changes: Changes {
                lost_by_cause: LostByCause {
                    subscription_expired: Some(0),
                    ..LostByCause::default()
                },
                ..Changes::default()
            },
            requests: Requests {
                renew: Some(0),
                subscribe: Some(0),
                renew_failed: Some(0),
                lifecycle: None,
                catch_up: None,
                ..Requests::default()
            },
            quota: Some(QuotaUse {
                mailbox_window_peak_fraction: Some(0.0),
                project_window_peak_fraction: Some(0.0),
                daily_peak_fraction: Some(0.0),
                concurrent_peak_fraction: Some(0.0),
                ..QuotaUse::default()
            }),
            webhooks: Some(Webhooks::default()),
            queue: Some(Queue::default()),
            latency_ms: LatencyByPath {
                all: full.clone(),
                webhook: full.clone(),
                poll: full.clone(),
                reconcile: full,
            },
            consistency: Consistency::default(),
            faults: Faults::default(),
            engine: Engine::default(),
            cost: Some(Cost::default()),
            live: Some(Live::default()),
            net: Some(Live::default()),
        };
        let mut out = std::collections::BTreeSet::new();
        fn walk(prefix: &str, v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
            match v {
                serde_json::Value::Object(map) => {
                    for (k, v) in map {
                        let p = if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        };
                        walk(&p, v, out);
                    }
                }
                serde_json::Value::Number(_) => {
                    out.insert(prefix.to_string());
                }
                _ => {}
            }
        }
        walk(
            "",
            &serde_json::to_value(&sample).expect("a report serializes"),
            &mut out,
        );
        out
    }

    /// Checks `thresholds` against this report.
    pub fn check(
        &self,
        thresholds: &crate::scenario::Thresholds,
    ) -> Vec<crate::scenario::CheckResult> {
        let v = serde_json::to_value(self).expect("a report always serializes");
        check_with(thresholds, |path| lookup(&v, path))
    }

    /// Looks up a numeric value by dotted path (`latency_ms.all.p99`).
    pub fn value(&self, path: &str) -> Option<f64> {
        lookup(&serde_json::to_value(self).ok()?, path)
    }
}

/// The number at the dotted `path` (`latency_ms.all.p99`) of a report in
/// its JSON form, e.g. one read back from a sweep folder.
pub fn lookup(report: &serde_json::Value, path: &str) -> Option<f64> {
    path.split('.').try_fold(report, |v, k| v.get(k))?.as_f64()
}

/// Checks `thresholds` against the values `value` finds by path: one
/// result per condition, in path then condition order.
pub fn check_with(
    thresholds: &crate::scenario::Thresholds,
    value: impl Fn(&str) -> Option<f64>,
) -> Vec<crate::scenario::CheckResult> {
    let mut out = Vec::new();
    for (path, conditions) in thresholds {
        let got = value(path);
        for c in &conditions.0 {
            out.push(crate::scenario::CheckResult {
                path: path.clone(),
                condition: *c,
                got,
                pass: got.is_some_and(|g| c.holds(path, g)),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::time::SimDuration;

    #[test]
    fn webhooks_take_every_sender_counter_from_sender_stats() {
        let s = SenderStats {
            notifications: 1,
            attempts: 2,
            delivered: 3,
            failed_attempts: 4,
            abandoned: 5,
            skipped_disabled: 6,
            disabled_times: 7,
            disabled_for: SimDuration::from_millis(8_500),
        };
        let w = Webhooks::from(&s);
        assert_eq!(
            (
                w.notifications,
                w.attempts,
                w.delivered,
                w.failed_attempts,
                w.abandoned,
                w.skipped_disabled,
                w.endpoint_disabled_for
            ),
            (1, 2, 3, 4, 5, 6, 8.5)
        );
        // The rest is the caller's.
        assert_eq!(
            Webhooks {
                preset: String::new(),
                duplicates: 0,
                redundant: 0,
                inbound_requests: 0,
                inbound_refused: 0,
                inbound_rate_limited: 0,
                inbound_peak_rps: 0,
                ..w.clone()
            },
            w
        );
    }
}
