//! The report, assembled from what a run observed: ground truth (the
//! source's logs), the consumer's replica, the counters, and each
//! component's own stats. Drivers hand these over at the end of a run;
//! nothing here runs while the run does, except [`Metrics::record_apply`].

use super::report::*;
use super::{round3, Metrics};
use crate::engine::time::{SimDuration, SimTime};
use crate::model::config::RunConfig;
use crate::model::faults::FaultHits;
use crate::model::ledger::{Ledger, Mark};
use crate::model::poller::Poller;
use crate::model::quota::{QuotaConfig, QuotaStats};
use crate::model::receiver::ReceiverStats;
use crate::model::replica::{Effect, Replica};
use crate::model::sender::Sender;
use crate::model::source::Cursor;
use std::collections::BTreeMap;

/// Everything a finished run observed.
#[derive(Clone, Copy, Debug)]
pub struct Observed<'a> {
    /// The run's configs.
    pub cfg: &'a RunConfig,
    /// What happened: ground truth, applications, marks, counters.
    pub ledger: &'a Ledger,
    /// The consumer's copy.
    pub replica: &'a Replica,
    /// The poller (its interval, and its cursors for cursor-skip losses).
    pub poller: Option<&'a Poller>,
    /// The provider's webhook sender, if the strategy has webhooks.
    pub sender: Option<&'a Sender>,
    /// The consumer's endpoint stats, if the strategy has webhooks.
    pub receiver: Option<&'a ReceiverStats>,
    /// How often each delivery fault fired.
    pub hits: &'a FaultHits,
    /// The source's quota and what it measured, if the run has one.
    pub quota: Option<(&'a QuotaConfig, QuotaStats)>,
}

/// The report's quota section: each limit's peak use as a fraction of it.
fn quota_use(cfg: &QuotaConfig, s: QuotaStats) -> QuotaUse {
    let frac = |peak: u64, limit: u64| round6(peak as f64 / limit.max(1) as f64);
    QuotaUse {
        preset: cfg.name.clone(),
        units: s.units,
        rate_limited: s.rate_limited,
        mailbox_window_peak_fraction: cfg.per_mailbox.map(|l| frac(s.mailbox_peak, l.limit)),
        project_window_peak_fraction: cfg.per_project.map(|l| frac(s.project_peak, l.limit)),
        daily_peak_fraction: cfg.daily.map(|l| frac(s.daily_peak, l)),
        concurrent_peak_fraction: cfg
            .concurrent_per_mailbox
            .map(|c| frac(s.concurrent_peak, c as u64)),
    }
}

/// `x` rounded to 6 decimals (fractions of limits as large as 10^6 units
/// keep their last unit).
fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Why change `seq` of mailbox `m` was lost: the first cause recorded for
/// it, else what the end state shows; `None` when it was applied.
pub fn loss_cause(o: &Observed, m: u32, seq: u32) -> Option<LossCause> {
    cause(o.ledger, o.poller, m, seq)
}

/// [`loss_cause`] from the ledger and the poller alone (what it reads):
/// for a driver that has no replica or sender of its own at hand, such as
/// network mode once it has scored a consumer's replica.
pub fn cause(ledger: &Ledger, poller: Option<&Poller>, m: u32, seq: u32) -> Option<LossCause> {
    verdict(ledger.flags(m, seq), || {
        cursor_passed(poller, m, seq, ledger.logs().stamp(m, seq))
    })
}

/// A change's verdict from its ledger byte (applied, loss marks) and,
/// when nothing else explains a loss, whether the poller's cursor moved
/// past it (`passed`): `None` when it was applied, else the first cause.
pub fn verdict(flags: u8, passed: impl FnOnce() -> bool) -> Option<LossCause> {
    if flags & Ledger::APPLIED != 0 {
        return None;
    }
    let has = |k: Mark| flags & k as u8 != 0;
    Some(if has(Mark::Crashed) {
        LossCause::Crash
    } else if has(Mark::DeadLettered) {
        LossCause::DeadLettered
    } else if has(Mark::Disabled) {
        LossCause::EndpointDisabled
    } else if has(Mark::GaveUp) {
        LossCause::WebhookGaveUp
    } else if has(Mark::Unsubscribed) {
        LossCause::SubscriptionExpired
    } else if passed() {
        LossCause::CursorSkip
    } else {
        LossCause::Undelivered
    })
}

/// The changes never applied, folded one by one (as a streaming run trims
/// them, then the rest at the end): counts by cause and the first
/// [`LOST_IN_REPORT`] by commit time, then mailbox, then sequence number
/// (a top-K whose result does not depend on the order changes come in).
#[derive(Clone, Debug, Default)]
pub struct Losses {
    counts: LostByCause,
    subscription_expired: u64,
    /// `(commit, mailbox, seq, cause, message)`, sorted.
    first: Vec<(SimTime, u32, u32, LossCause, u32)>,
}

impl Losses {
    /// Folds in change `seq` of mailbox `m` (message `msg`, committed
    /// `at`), lost for `cause`.
    pub fn add(&mut self, at: SimTime, m: u32, seq: u32, msg: u32, cause: LossCause) {
        let c = &mut self.counts;
        *match cause {
            LossCause::Crash => &mut c.crash,
            LossCause::DeadLettered => &mut c.dead_lettered,
            LossCause::EndpointDisabled => &mut c.endpoint_disabled,
            LossCause::WebhookGaveUp => &mut c.webhook_gave_up,
            LossCause::CursorSkip => &mut c.cursor_skip,
            LossCause::Undelivered => &mut c.undelivered,
            LossCause::SubscriptionExpired => &mut self.subscription_expired,
        } += 1;
        let key = (at, m, seq, cause, msg);
        let first = &mut self.first;
        if first.len() < LOST_IN_REPORT || key < first[first.len() - 1] {
            let i = first.partition_point(|k| *k < key);
            first.insert(i, key);
            first.truncate(LOST_IN_REPORT);
        }
    }
}

/// Splits the changes never applied by cause ([`loss_cause`]), and keeps
/// the first [`LOST_IN_REPORT`] by commit time (then mailbox, then
/// sequence number) as a sample: those a streaming run folded as it
/// trimmed them ([`Ledger::losses`]), then every change still held.
fn lost_by_cause(o: &Observed) -> (LostByCause, Vec<LostChange>) {
    let logs = o.ledger.logs();
    let mut losses = o.ledger.losses().clone();
    for m in 0..logs.mailboxes() {
        for (seq, change) in logs.entries(m) {
            if let Some(cause) = loss_cause(o, m, seq) {
                losses.add(change.at, m, seq, change.msg, cause);
            }
        }
    }
    let out = LostByCause {
        subscription_expired: subscribed(o.cfg).then_some(losses.subscription_expired),
        ..losses.counts
    };
    let sample = losses
        .first
        .into_iter()
        .map(|(at, m, seq, cause, msg)| LostChange {
            mailbox: m,
            message: msg,
            seq,
            committed: SimDuration(at.0 / 1_000 * 1_000).to_string(),
            cause,
        })
        .collect();
    (out, sample)
}

/// The slowest changes, for the report.
pub fn slowest(ledger: &Ledger, n: usize) -> Vec<SlowChange> {
    ledger
        .metrics
        .slowest
        .items()
        .iter()
        .take(n)
        .map(|s| SlowChange {
            mailbox: s.mailbox,
            message: s.msg,
            seq: s.seq,
            lag_ms: s.lag.as_millis_f64(),
            path: s.path.name().to_string(),
        })
        .collect()
}

/// True when mailbox `m`'s poller cursor has moved past change `seq`
/// (stamped `stamp`) without delivering it (timestamp cursors only).
pub fn cursor_passed(poller: Option<&Poller>, m: u32, seq: u32, stamp: u64) -> bool {
    let Some(p) = poller else { return false };
    match p.cursor(m) {
        Cursor::Stamp(c) => stamp <= c,
        Cursor::StampId(c, s) => (stamp, seq) <= (c, s),
        _ => false,
    }
}

/// True when the run models webhook subscriptions (their report fields
/// appear only then, so other reports keep their shape and digest).
/// True when the consumer subscribed with lifecycle notifications.
fn lifecycle(cfg: &RunConfig) -> bool {
    cfg.consumer.hooks().is_some_and(|h| h.sender.lifecycle)
}

fn subscribed(cfg: &RunConfig) -> bool {
    cfg.consumer
        .hooks()
        .is_some_and(|h| h.subscription.is_some())
}

/// Compares ground truth with the replica and assembles the report.
pub fn assemble(o: &Observed) -> Report {
    let cfg = o.cfg;
    let metrics = &o.ledger.metrics;
    let logs = o.ledger.logs();
    let generated = logs.total_changes();
    let latency_all = metrics.latency_all();
    let applied = latency_all.count();
    let lost = generated - applied;
    let mailboxes = logs.mailboxes();
    let days = cfg.end().as_secs_f64() / 86_400.0;
    let per_mailbox_day = |x: u64| round3(x as f64 / mailboxes as f64 / days);
    let c = &metrics.counters;
    let (divergent_messages, divergent_mailboxes) = o.replica.divergence(logs);
    let hooks = o.sender.zip(o.receiver);
    let (lost_by_cause, lost_sample) = lost_by_cause(o);
    let inbound = o.receiver.map_or(0, |r| r.requests);
    let webhooks = hooks.map(|(sender, r)| {
        let s = &sender.stats;
        Webhooks {
            preset: sender.config().name.to_string(),
            duplicates: o.ledger.duplicates,
            redundant: o.ledger.redundant,
            inbound_requests: r.requests,
            inbound_refused: r.refused,
            inbound_rate_limited: r.rate_limited,
            inbound_peak_rps: r.inbound.peak(),
            ..Webhooks::from(s)
        }
    });
    let queue = o.receiver.map(|r| Queue {
        max_depth: r.max_depth,
        dead_lettered: r.dead_lettered,
        lost_in_crash: r.lost_in_crash,
        processing_failures: r.processing_failures,
    });
    let hits = o.hits;
    let mut report = Report {
        scenario: cfg.name.clone(),
        seed: cfg.seed,
        point: BTreeMap::new(),
        digest: String::new(),
        simulated: Simulated {
            mailboxes,
            horizon: cfg.horizon.to_string(),
            drain: cfg.drain.to_string(),
            days: round3(days),
            strategy: cfg.consumer.name().to_string(),
            poll_interval_min: match o.poller {
                Some(p) if cfg.fixed_poll_interval => {
                    Some(round3(p.config().interval.as_secs_f64() / 60.0))
                }
                _ => None,
            },
            reconcile_every_min: cfg
                .reconcile_every_given
                .map(|d| round3(d.as_secs_f64() / 60.0)),
        },
        capacity: Capacity {
            source_peak_rps: metrics.source_rps.peak(),
            source_requests_per_day: c.requests as f64 / days,
            source_requests_per_month: c.requests as f64 / days * 30.0,
            source_rate_limited: c.rate_limited,
            inbound_peak_rps: o.receiver.map_or(0, |r| r.inbound.peak()),
            inbound_per_day: inbound as f64 / days,
            inbound_per_month: inbound as f64 / days * 30.0,
            inbound_rate_limited: o.receiver.map_or(0, |r| r.rate_limited),
        },
        changes: Changes {
            generated,
            applied,
            lost,
            loss_rate: if generated == 0 {
                0.0
            } else {
                lost as f64 / generated as f64
            },
            first_seen_by: FirstSeenBy {
                webhook: metrics.latency_webhook.count(),
                poll: metrics.latency_poll.count(),
                reconcile: metrics.latency_reconcile.count(),
                resync: c.first_by_resync,
            },
            recovery_rate: if generated == 0 {
                0.0
            } else {
                metrics.latency_reconcile.count() as f64 / generated as f64
            },
            redelivered: c.redelivered,
            lost_by_cause,
            lost_sample,
            slowest: slowest(o.ledger, crate::metrics::SLOWEST_IN_REPORT),
        },
        requests: Requests {
            total: c.requests,
            per_mailbox_day: per_mailbox_day(c.requests),
            poll: c.poll,
            poll_empty: c.poll_empty,
            poll_cycles: c.poll_cycles,
            poll_cycles_per_mailbox_day: per_mailbox_day(c.poll_cycles),
            fetch: if hooks.is_some() { o.ledger.fetches } else { 0 },
            reconcile: c.reconcile,
            not_modified: c.not_modified,
            resync: c.resync,
            resyncs: c.resyncs,
            expired: c.expired,
            rate_limited: c.rate_limited,
            errors: c.errors,
            peak_rps: metrics.source_rps.peak(),
            renew: subscribed(cfg).then_some(c.renew),
            subscribe: subscribed(cfg).then_some(c.subscribe),
            renew_failed: subscribed(cfg).then_some(c.renew_failed),
            lifecycle: lifecycle(cfg).then_some(c.lifecycle),
            catch_up: lifecycle(cfg).then_some(c.catch_up),
        },
        quota: o.quota.map(|(q, s)| quota_use(q, s)),
        webhooks,
        queue,
        latency_ms: LatencyByPath {
            all: latency_all.stats_with(&cfg.percentiles),
            webhook: metrics.latency_webhook.stats_with(&cfg.percentiles),
            poll: metrics.latency_poll.stats_with(&cfg.percentiles),
            reconcile: metrics.latency_reconcile.stats_with(&cfg.percentiles),
        },
        consistency: Consistency {
            divergent_messages,
            divergent_mailboxes,
            stale_overwrites: c.stale_overwrites,
            applied_twice: c.applied_twice,
        },
        faults: Faults {
            endpoint_outage_hits: hits.endpoint_outage,
            dropped_requests: hits.dropped_requests,
            dropped_responses: hits.dropped_responses,
            duplicated: hits.duplicated,
            reordered: hits.reordered,
            consumer_crashes: o.ledger.crashes,
        },
        engine: Engine {
            events: metrics.events,
        },
        cost: None,
        live: None,
        net: None,
    };
    report.seal();
    report
}

/// Which path delivered a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// The poller.
    Poll,
    /// A webhook notification.
    Webhook,
    /// A full resync after an expired cursor.
    Resync,
    /// The hybrid's reconciler.
    Reconcile,
}

impl Path {
    /// The path's name in reports and traces (`poll`, `webhook`,
    /// `resync`, `reconcile`).
    pub fn name(self) -> &'static str {
        match self {
            Path::Poll => "poll",
            Path::Webhook => "webhook",
            Path::Resync => "resync",
            Path::Reconcile => "reconcile",
        }
    }
}

impl Metrics {
    /// Counts what one apply did; records latency on first delivery.
    #[inline]
    pub fn record_apply(
        &mut self,
        a: crate::model::replica::Applied,
        lag: SimDuration,
        path: Path,
    ) {
        if a.first {
            match path {
                Path::Poll => self.latency_poll.record(lag),
                Path::Webhook => self.latency_webhook.record(lag),
                Path::Resync => {
                    self.counters.first_by_resync += 1;
                    self.latency_resync.record(lag)
                }
                Path::Reconcile => self.latency_reconcile.record(lag),
            }
        } else if a.effect != Effect::Skipped {
            self.counters.applied_twice += 1;
        } else if path == Path::Poll || path == Path::Reconcile {
            self.counters.redelivered += 1;
        }
        if a.effect == Effect::StaleOverwrite {
            self.counters.stale_overwrites += 1;
        }
    }
}
