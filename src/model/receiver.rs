//! The consumer's webhook endpoint and its workers, sans-IO.
//!
//! `queue_first` answers 200 as soon as a notification is enqueued and
//! processes it later; `inline` answers only after processing, so a slow
//! handler makes the sender time out and retry. Workers take items in FIFO
//! order; a failed item is retried (at the back of the queue, at once or
//! after an exponential `processing_backoff`) up to `processing_attempts`
//! times, then dead-lettered. A crash stops the
//! endpoint: a `memory` queue loses everything it held (acknowledged or
//! not); a `durable` one keeps it, and items being processed go back to the
//! front. An optional inbound token bucket answers 429.

use super::config::{Ack, QueueKind};
use super::ratelimit::{Bucket, BucketParams};
use super::transmit::ReplyTo;
use crate::engine::rng::SimRng;
use crate::engine::sample::{unit, Delay, Sampler};
use crate::engine::time::{SimDuration, SimTime};
use crate::metrics::PeakRate;
use std::collections::{BTreeMap, VecDeque};

/// One notification inside the consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Item {
    /// Mailbox of the change.
    pub mailbox: u32,
    /// Sequence number of the change (the event id).
    pub seq: u32,
    /// The message it changed.
    pub msg: u32,
    /// Its new version (full payload), or `None` (thin: fetch first).
    pub version: Option<u32>,
    /// `inline` only: the delivery attempt waiting for the answer.
    pub reply_to: Option<ReplyTo>,
    /// Processing tries so far.
    pub tries: u16,
}

/// The endpoint's immediate answer to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// 200 now (`queue_first`).
    Accepted,
    /// The answer comes when processing ends (`inline`).
    Pending,
    /// The consumer is down: connection refused.
    Refused,
    /// 429 from the inbound rate limit.
    RateLimited,
}

/// A worker finished its item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Done {
    /// Processing succeeded so far: the driver applies the item (and may
    /// still fail it, e.g. a thin fetch at a failing source).
    Process(Item),
    /// Processing failed.
    Failed(Item, Failure),
}

/// What became of a failed item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Back in the queue for another try.
    Requeued,
    /// Out of tries: dead-lettered (lost to the webhook path).
    DeadLettered,
    /// `inline`: answered 500; the sender decides.
    Answered500,
}

/// Receiver settings.
#[derive(Clone, Copy, Debug)]
pub struct ReceiverConfig {
    /// When to answer.
    pub ack: Ack,
    /// What survives a crash.
    pub queue: QueueKind,
    /// Parallel handlers.
    pub workers: u32,
    /// Handler time.
    pub handler_time: Delay,
    /// Chance one processing try fails.
    pub failure: f64,
    /// Tries before dead-lettering.
    pub attempts: u16,
    /// Inbound limit `(per_s, burst)`.
    pub inbound: Option<(f64, f64)>,
    /// Wait before a failed item goes back into the queue: `None` retries
    /// at once (back to back).
    pub backoff: Option<ProcessingBackoff>,
}

/// Exponential wait before a failed item's next try: `base` after the
/// first failure, doubling per failure, at most `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessingBackoff {
    /// Wait after the first failure.
    pub base: SimDuration,
    /// Longest wait.
    pub max: SimDuration,
}

impl ProcessingBackoff {
    /// The wait before try `tries + 1` (`tries >= 1` failures so far).
    pub fn wait(&self, tries: u16) -> SimDuration {
        let doublings = u32::from(tries.saturating_sub(1)).min(63);
        let wait = self.base.0.checked_shl(doublings).unwrap_or(u64::MAX);
        SimDuration(if wait >> doublings == self.base.0 {
            wait.min(self.max.0)
        } else {
            self.max.0
        })
    }
}

/// Receiver counters.
#[derive(Clone, Debug, Default)]
pub struct ReceiverStats {
    /// Requests that reached the endpoint.
    pub requests: u64,
    /// Refused while down.
    pub refused: u64,
    /// Answered 429.
    pub rate_limited: u64,
    /// Longest the queue got (waiting items).
    pub max_depth: u64,
    /// Failed processing tries.
    pub processing_failures: u64,
    /// Items dead-lettered.
    pub dead_lettered: u64,
    /// Acknowledged items lost in crashes (memory queue).
    pub lost_in_crash: u64,
    /// Busiest second of inbound requests.
    pub inbound: PeakRate,
}

#[derive(Clone, Copy, Debug, Default)]
struct Worker {
    item: Option<Item>,
    gen: u32,
}

/// The endpoint and its workers.
#[derive(Clone, Debug)]
pub struct Receiver {
    cfg: ReceiverConfig,
    handler: Sampler,
    failure_rng: SimRng,
    queue: VecDeque<Item>,
    /// Failed items waiting out their backoff, by `(due, arrival order)`.
    delayed: BTreeMap<(SimTime, u64), Item>,
    /// Items delayed so far (the tie-break of `delayed`).
    delays: u64,
    /// Due times of delayed items not yet handed to the driver.
    wakes: Vec<SimTime>,
    workers: Vec<Worker>,
    idle: Vec<u32>,
    up: bool,
    limiter: Option<(BucketParams, Bucket)>,
    /// Counters.
    pub stats: ReceiverStats,
}

/// A worker will finish at `at`: call [`Receiver::on_worker_done`] then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerTimer {
    /// The worker.
    pub worker: u32,
    /// Its generation (bumped by crashes).
    pub gen: u32,
    /// When it finishes.
    pub at: SimTime,
}

impl Receiver {
    /// A receiver; `handler_rng` and `failure_rng` are its own streams.
    pub fn new(cfg: ReceiverConfig, handler_rng: SimRng, failure_rng: SimRng) -> Self {
        let workers = cfg.workers.max(1);
        Receiver {
            handler: Sampler::new(cfg.handler_time, handler_rng),
            failure_rng,
            queue: VecDeque::new(),
            delayed: BTreeMap::new(),
            delays: 0,
            wakes: Vec::new(),
            workers: vec![Worker::default(); workers as usize],
            idle: (0..workers).rev().collect(),
            up: true,
            limiter: cfg.inbound.map(|(r, b)| {
                let p = BucketParams::new(r, b);
                (p, Bucket::full(&p))
            }),
            cfg,
            stats: ReceiverStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ReceiverConfig {
        &self.cfg
    }

    /// Items waiting (in the queue or out their backoff).
    pub fn depth(&self) -> usize {
        self.queue.len() + self.delayed.len()
    }

    /// When a delayed item falls due, one per call until none is left to
    /// hand over: the driver wakes the receiver then ([`Receiver::wake`]).
    pub fn pop_wake(&mut self) -> Option<SimTime> {
        self.wakes.pop()
    }

    /// Delayed items due by `now` go to the back of the queue (in due
    /// order) and idle workers start on them.
    pub fn wake(&mut self, now: SimTime, slow: f64, out: &mut Vec<WorkerTimer>) {
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now {
                break;
            }
            self.queue.push_back(entry.remove());
        }
        self.stats.max_depth = self.stats.max_depth.max(self.queue.len() as u64);
        self.start_workers(now, slow, out);
    }

    /// A request for `item` arrives at `now`. `slow` multiplies handler
    /// times (a slow-consumer fault).
    pub fn on_request(
        &mut self,
        now: SimTime,
        item: Item,
        slow: f64,
        out: &mut Vec<WorkerTimer>,
    ) -> Reply {
        self.stats.requests += 1;
        self.stats.inbound.hit(now);
        if !self.up {
            self.stats.refused += 1;
            return Reply::Refused;
        }
        if let Some((p, b)) = &mut self.limiter {
            if !b.wait(p, now).is_zero() {
                self.stats.rate_limited += 1;
                return Reply::RateLimited;
            }
            b.take();
        }
        self.queue.push_back(item);
        self.stats.max_depth = self.stats.max_depth.max(self.queue.len() as u64);
        self.start_workers(now, slow, out);
        match self.cfg.ack {
            Ack::QueueFirst => Reply::Accepted,
            Ack::Inline => Reply::Pending,
        }
    }

    /// The item `worker` is processing, if any.
    #[inline]
    pub fn working_on(&self, worker: u32) -> Option<&Item> {
        self.workers.get(worker as usize)?.item.as_ref()
    }

    /// Worker `worker` (generation `gen`) finished at `now`. Returns what
    /// it finished, or `None` for a worker whose item a crash took away.
    pub fn on_worker_done(
        &mut self,
        now: SimTime,
        worker: u32,
        gen: u32,
        slow: f64,
        out: &mut Vec<WorkerTimer>,
    ) -> Option<Done> {
        let w = &mut self.workers[worker as usize];
        if w.gen != gen {
            return None;
        }
        let item = w.item.take()?;
        self.idle.push(worker);
        let done = if self.cfg.failure > 0.0 && unit(&mut self.failure_rng) < self.cfg.failure {
            Done::Failed(item, self.fail(now, item))
        } else {
            Done::Process(item)
        };
        self.start_workers(now, slow, out);
        Some(done)
    }

    /// Processing of `item` failed at `now` after the worker finished
    /// (e.g. its thin fetch failed): retry it (at once, or after the
    /// backoff) or dead-letter it.
    pub fn fail(&mut self, now: SimTime, mut item: Item) -> Failure {
        self.stats.processing_failures += 1;
        if self.cfg.ack == Ack::Inline {
            return Failure::Answered500;
        }
        item.tries += 1;
        if item.tries < self.cfg.attempts {
            match self.cfg.backoff {
                None => {
                    self.queue.push_back(item);
                    self.stats.max_depth = self.stats.max_depth.max(self.queue.len() as u64);
                }
                Some(b) => {
                    let due = now + b.wait(item.tries);
                    self.delayed.insert((due, self.delays), item);
                    self.delays += 1;
                    self.wakes.push(due);
                }
            }
            Failure::Requeued
        } else {
            self.stats.dead_lettered += 1;
            Failure::DeadLettered
        }
    }

    /// Starts idle workers on waiting items (after a [`Receiver::fail`]
    /// requeue, the driver calls this to keep workers busy).
    pub fn start_workers(&mut self, now: SimTime, slow: f64, out: &mut Vec<WorkerTimer>) {
        if !self.up {
            return;
        }
        while !self.queue.is_empty() {
            let Some(worker) = self.idle.pop() else { break };
            let item = self.queue.pop_front().expect("not empty");
            let mut time = self.handler.sample();
            if slow != 1.0 {
                time = SimDuration((time.0 as f64 * slow).round() as u64);
            }
            let w = &mut self.workers[worker as usize];
            w.item = Some(item);
            out.push(WorkerTimer {
                worker,
                gen: w.gen,
                at: now + time,
            });
        }
    }

    /// The consumer crashes. Returns the items lost: with a memory queue
    /// every acknowledged item it held (waiting or being processed); with a
    /// durable queue none (items in progress go back to the front). Inline
    /// requests in progress die with their connections either way; their
    /// senders time out and retry.
    pub fn crash(&mut self) -> Vec<Item> {
        self.up = false;
        let mut in_progress = Vec::new();
        for (i, w) in self.workers.iter_mut().enumerate() {
            w.gen = w.gen.wrapping_add(1);
            if let Some(item) = w.item.take() {
                in_progress.push(item);
                self.idle.push(i as u32);
            }
        }
        self.idle.sort_unstable_by(|a, b| b.cmp(a));
        if self.cfg.ack == Ack::Inline {
            self.queue.clear();
            return Vec::new();
        }
        match self.cfg.queue {
            QueueKind::Memory => {
                let mut lost: Vec<Item> = in_progress;
                lost.extend(self.queue.drain(..));
                lost.extend(std::mem::take(&mut self.delayed).into_values());
                self.stats.lost_in_crash += lost.len() as u64;
                lost
            }
            QueueKind::Durable => {
                for item in in_progress.into_iter().rev() {
                    self.queue.push_front(item);
                }
                Vec::new()
            }
        }
    }

    /// The consumer is back at `now`.
    pub fn restart(&mut self, now: SimTime, slow: f64, out: &mut Vec<WorkerTimer>) {
        self.up = true;
        self.start_workers(now, slow, out);
    }
}

impl Receiver {
    /// Calls `f` for every item the endpoint holds (queued, waiting out a
    /// backoff, or being processed): the changes it may still apply.
    pub fn each_item(&self, mut f: impl FnMut(&Item)) {
        self.queue.iter().for_each(&mut f);
        self.delayed.values().for_each(&mut f);
        self.workers
            .iter()
            .filter_map(|w| w.item.as_ref())
            .for_each(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::{Purpose, Streams};

    fn receiver(ack: Ack, queue: QueueKind, workers: u32) -> Receiver {
        let s = Streams::new(1);
        Receiver::new(
            ReceiverConfig {
                ack,
                queue,
                workers,
                handler_time: Delay::Fixed(SimDuration::from_millis(100)),
                failure: 0.0,
                attempts: 3,
                inbound: None,
                backoff: None,
            },
            s.stream(Purpose::HandlerTime, 0),
            s.stream(Purpose::ProcessingFailure, 0),
        )
    }

    fn item(seq: u32) -> Item {
        Item {
            mailbox: 0,
            seq,
            msg: seq,
            version: Some(1),
            reply_to: None,
            tries: 0,
        }
    }

    #[test]
    fn workers_take_items_in_order() {
        let mut r = receiver(Ack::QueueFirst, QueueKind::Durable, 1);
        let mut out = vec![];
        for seq in 0..3 {
            assert_eq!(
                r.on_request(SimTime(0), item(seq), 1.0, &mut out),
                Reply::Accepted
            );
        }
        assert_eq!(out.len(), 1);
        assert_eq!(r.stats.max_depth, 2);
        let t = out[0];
        out.clear();
        assert_eq!(
            r.on_worker_done(t.at, t.worker, t.gen, 1.0, &mut out),
            Some(Done::Process(item(0)))
        );
        assert_eq!(out[0].at, SimTime(200_000));
    }

    #[test]
    fn memory_crash_loses_queued_and_in_progress_durable_keeps_them() {
        for (kind, lost) in [(QueueKind::Memory, 5), (QueueKind::Durable, 0)] {
            let mut r = receiver(Ack::QueueFirst, kind, 2);
            let mut out = vec![];
            for seq in 0..5 {
                r.on_request(SimTime(0), item(seq), 1.0, &mut out);
            }
            assert_eq!(r.crash().len(), lost);
            assert_eq!(
                r.on_request(SimTime(1), item(9), 1.0, &mut out),
                Reply::Refused
            );
            // Stale worker timers are ignored after a crash.
            assert_eq!(
                r.on_worker_done(out[0].at, out[0].worker, out[0].gen, 1.0, &mut vec![]),
                None
            );
            out.clear();
            r.restart(SimTime(10), 1.0, &mut out);
            assert_eq!(r.depth() + out.len(), 5 - lost);
        }
    }

    #[test]
    fn failed_items_retry_then_dead_letter() {
        let mut r = receiver(Ack::QueueFirst, QueueKind::Durable, 1);
        let it = item(1);
        assert_eq!(r.fail(SimTime::ZERO, it), Failure::Requeued);
        let again = r.queue.pop_front().unwrap();
        assert_eq!(r.fail(SimTime::ZERO, again), Failure::Requeued);
        let third = r.queue.pop_front().unwrap();
        assert_eq!(r.fail(SimTime::ZERO, third), Failure::DeadLettered);
        assert_eq!(r.stats.dead_lettered, 1);
    }
}
