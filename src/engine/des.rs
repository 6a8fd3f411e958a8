//! The discrete-event driver: builds the components for a scenario, runs
//! the event loop in virtual time, and writes the report.
//!
//! One event per request: a `Poll(m)` event sends mailbox `m`'s next list
//! request, the source answers "as of" that instant, and the page is applied
//! at `now + latency` within the same event. That look-ahead is sound
//! because in the `poll` strategy nothing else touches mailbox `m`'s replica
//! or poller between the request and its answer.
//!
//! Invariant: the loop reads no clock, spawns nothing, and its only source
//! of order is the event queue's `(time, seq)`.

use super::queue::EventQueue;
use super::rng::Streams;
use super::time::{SimDuration, SimTime};
use crate::metrics::report::*;
use crate::metrics::{round3, Metrics};
use crate::model::faults::FaultPlan;
use crate::model::poller::{Poller, PollerConfig, RequestKind};
use crate::model::replica::{Applied, Replica};
use crate::model::source::{ListOutcome, Source};
use crate::model::traffic;
use crate::scenario::{Scenario, Strategy};
use std::collections::BTreeMap;

/// What can happen at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    /// Mailbox `m`'s poller sends its next request.
    Poll(u32),
}

/// Runs `scenario` to the end of its drain and returns the sealed report.
pub fn run(scenario: &Scenario) -> Report {
    let streams = Streams::new(scenario.seed);
    let end = SimTime(scenario.end().0);
    let logs = traffic::generate(&scenario.source, scenario.horizon.get(), &streams);
    let plan = FaultPlan::new(&scenario.faults);
    let mut source = Source::new(&scenario.source, logs, plan.source_outage, &streams);
    let mut replica = Replica::new(source.logs());
    let mut metrics = Metrics::default();
    let n = source.mailboxes();

    match scenario.consumer.strategy {
        Strategy::Poll => {
            let c = &scenario.consumer;
            let interval = c
                .poll_interval
                .map_or(SimDuration::from_secs(300), |d| d.get());
            let cfg = PollerConfig {
                interval,
                jitter: c.poll_jitter,
                page_size: source.page_size(),
                backoff_base: c.backoff.base.get(),
                backoff_max: c.backoff.max.map_or(interval, |d| d.get()),
            };
            let (mut poller, firsts) = Poller::new(cfg, n, &streams);
            let mut queue = EventQueue::with_capacity(n as usize);
            for (m, t) in firsts.into_iter().enumerate() {
                queue.push(t, Event::Poll(m as u32));
            }
            while let Some((now, event)) = queue.pop() {
                if now >= end {
                    break;
                }
                metrics.events += 1;
                match event {
                    Event::Poll(m) => {
                        if let Some(next) = poll_step(
                            now,
                            end,
                            m,
                            &mut poller,
                            &mut source,
                            &mut replica,
                            &mut metrics,
                        ) {
                            queue.push(next, Event::Poll(m));
                        }
                    }
                }
            }
        }
    }
    build_report(scenario, &source, &replica, &metrics)
}

/// Sends mailbox `m`'s request at `now`, applies the answer when it
/// arrives, and returns when the poller wants to send again (`None` when
/// the answer would arrive after the end of the run).
#[inline]
fn poll_step(
    now: SimTime,
    end: SimTime,
    m: u32,
    poller: &mut Poller,
    source: &mut Source,
    replica: &mut Replica,
    metrics: &mut Metrics,
) -> Option<SimTime> {
    let (req, kind) = poller.request(m);
    metrics.source_request(now);
    let c = &mut metrics.counters;
    c.poll += 1;
    c.poll_cycles += (kind == RequestKind::CycleStart) as u64;
    let answer = source.list(now, req);
    let arrive = now + answer.latency;
    if arrive >= end {
        return None;
    }
    match answer.outcome {
        ListOutcome::Page(page) => {
            c.poll_empty += page.changes.is_empty() as u64;
            for (i, change) in page.changes.iter().enumerate() {
                match replica.apply(m, page.first_seq + i as u32, change) {
                    Applied::First => {
                        let lag = arrive.since(change.at);
                        metrics.latency_all.record(lag);
                        metrics.latency_poll.record(lag);
                    }
                    Applied::Again => metrics.counters.applied_twice += 1,
                    Applied::Stale => metrics.counters.stale_deliveries += 1,
                }
            }
            Some(poller.on_page_applied(m, arrive, page.next_cursor, page.has_more))
        }
        ListOutcome::RateLimited { retry_after } => {
            c.rate_limited += 1;
            Some(poller.on_rate_limited(m, arrive, retry_after))
        }
        ListOutcome::Unavailable => {
            c.errors += 1;
            Some(poller.on_error(m, arrive))
        }
    }
}

/// Compares ground truth with the replica and assembles the report.
fn build_report(
    scenario: &Scenario,
    source: &Source,
    replica: &Replica,
    metrics: &Metrics,
) -> Report {
    let logs = source.logs();
    let generated = logs.total_changes();
    let applied = metrics.latency_all.count();
    let lost = generated - applied;
    let mailboxes = source.mailboxes();
    let days = scenario.end().as_secs_f64() / 86_400.0;
    let per_mailbox_day = |x: u64| round3(x as f64 / mailboxes as f64 / days);
    let c = &metrics.counters;
    let (divergent_messages, divergent_mailboxes) = replica.divergence(logs);
    let mut report = Report {
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        point: BTreeMap::new(),
        digest: String::new(),
        simulated: Simulated {
            mailboxes,
            horizon: scenario.horizon.get().to_string(),
            drain: scenario.drain.to_string(),
            days: round3(days),
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
                poll: metrics.latency_poll.count(),
                ..FirstSeenBy::default()
            },
            recovery_rate: 0.0,
        },
        requests: Requests {
            total: c.requests,
            per_mailbox_day: per_mailbox_day(c.requests),
            poll: c.poll,
            poll_empty: c.poll_empty,
            poll_cycles: c.poll_cycles,
            poll_cycles_per_mailbox_day: per_mailbox_day(c.poll_cycles),
            rate_limited: c.rate_limited,
            errors: c.errors,
            peak_rps: metrics.source_rps.peak(),
            ..Requests::default()
        },
        latency_ms: LatencyByPath {
            all: metrics.latency_all.stats(),
            poll: metrics.latency_poll.stats(),
            ..LatencyByPath::default()
        },
        consistency: Consistency {
            divergent_messages,
            divergent_mailboxes,
            stale_overwrites: 0,
            applied_twice: c.applied_twice,
        },
        engine: Engine {
            events: metrics.events,
        },
    };
    report.seal();
    report
}
