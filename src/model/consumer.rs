//! The consumer half of the seam, sans-IO: the strategy under test (poll,
//! webhook or hybrid), the webhook endpoint with its queue and workers,
//! the processor and the replica, and the host's own faults (crashes,
//! slowdowns).
//!
//! It takes inputs with the time (`handle_listed`, `handle_delivery`,
//! `handle_fetched`, `handle_timeout`) and yields [`Output`]s in order
//! (`poll_output`): list calls, fetches and delivery answers for the
//! provider, and timers for itself. It reads no clock and owns no queue.
//! It sees what a real consumer sees: ids, versions and its own receive
//! times; what it did goes to the [`Ledger`].

use super::catch_up::CatchUp;
use super::config::{Ack, ConsumerConfig, Dedup, RunConfig, SubscriptionConfig};
use super::faults::{HostFaults, Window};
use super::ledger::{trace, Ledger, Mark};
use super::poller::{Poller, RequestKind};
use super::receiver::{Done, Failure, Item, Receiver, Reply, WorkerTimer};
use super::reconciler::Reconciler;
use super::replica::Replica;
use super::source::{Cursor, ListRequest};
use super::traffic::Logs;
use super::transmit::{
    Caller, Delivery, DeliveryAnswer, Early, FetchCall, Fetched, Lifecycle, LifecycleEvent,
    ListAnswer, ListCall, Listed, Outbox, Output, PageItem, Status, SubscribeCall, SubscribeKind,
    Subscribed, Subscription, ToProvider,
};
use crate::engine::arena::Ahead;
use crate::engine::rng::{Purpose, Streams};
use crate::engine::time::{SimDuration, SimTime};
use crate::metrics::Path;

/// The consumer's own timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumerTimer {
    /// Mailbox `m`'s poller sends its next request.
    Poll(u32),
    /// Mailbox `m`'s reconciler sends its next request.
    Reconcile(u32),
    /// A worker finishes its item.
    Worker {
        /// The worker.
        worker: u32,
        /// Its generation (a crash makes older timers void).
        gen: u32,
    },
    /// Failed items whose processing backoff ends now go back to the
    /// queue.
    Requeue,
    /// Mailbox `m`'s subscription is due for renewal.
    Renew(u32),
    /// Mailbox `m`'s catch-up listing sends its request again after an
    /// error.
    CatchUp(u32),
    /// Crash fault `i` takes the host down.
    Crash(u32),
    /// Crash fault `i`'s downtime ends.
    Restart(u32),
}

/// The webhook-receiving side: the endpoint, its queue and workers.
#[derive(Debug)]
struct Endpoint {
    receiver: Receiver,
    dedup: Dedup,
    /// Scratch for worker timers.
    timers: Vec<WorkerTimer>,
    /// Thin notifications waiting for their fetch, with the handler-time
    /// factor of their step and the worker timers that step armed (fetches
    /// answer at once, so they are released in the step's order).
    fetching: Vec<(u32, Item, f64, Vec<WorkerTimer>)>,
    /// The next fetch id.
    next_fetch: u32,
}

/// The strategy under test, with its components.
#[derive(Debug)]
enum Strategy {
    /// Poll every mailbox (optionally long polls).
    Poll { poller: Poller, wait: SimDuration },
    /// Webhooks only.
    Webhook(Endpoint),
    /// Webhooks plus a periodic lookback listing.
    Hybrid(Endpoint, Reconciler),
}

/// Items of a page whose replica slots a hint loads ahead (a lookback
/// page is a few changes; more would only evict what the hints of the
/// next events loaded).
const PREFETCH_ITEMS: usize = 8;

/// The endpoint of a strategy that has one (a borrow of the strategy
/// alone, so the consumer's other fields stay free).
#[inline]
fn endpoint_of(strategy: &mut Strategy) -> &mut Endpoint {
    match strategy {
        Strategy::Webhook(e) | Strategy::Hybrid(e, _) => e,
        Strategy::Poll { .. } => panic!("webhook input to a polling consumer"),
    }
}

/// The consumer.
#[derive(Debug)]
pub struct Consumer {
    strategy: Strategy,
    replica: Replica,
    host: HostFaults,
    /// The subscriptions this consumer renews, when the run models them.
    subs: Option<SubscriptionConfig>,
    /// Catch-up listings after lifecycle notifications, when the consumer
    /// subscribed with a `lifecycleNotificationUrl`.
    catch_up: Option<CatchUp>,
    /// Mailboxes in the run.
    mailboxes: u32,
    /// First timers, armed by [`Consumer::start`].
    firsts: Vec<SimTime>,
    out: Outbox<Output<ConsumerTimer, ToProvider>>,
}

impl Consumer {
    /// The consumer of a run, with a replica sized for `logs` (sizes only)
    /// and the host faults of `host`.
    pub fn new(cfg: &RunConfig, logs: &Logs, host: HostFaults, streams: &Streams) -> Self {
        let n = logs.mailboxes();
        let endpoint = |h: &super::config::HookConfig| Endpoint {
            receiver: Receiver::new(
                h.receiver,
                streams.stream(Purpose::HandlerTime, 0),
                streams.stream(Purpose::ProcessingFailure, 0),
            ),
            dedup: h.dedup,
            timers: Vec::new(),
            fetching: Vec::new(),
            next_fetch: 0,
        };
        let (strategy, firsts) = match &cfg.consumer {
            ConsumerConfig::Poll(p) => {
                let (poller, firsts) = Poller::new(p.poller, n, streams);
                let wait = p.long_poll.unwrap_or(SimDuration::ZERO);
                (Strategy::Poll { poller, wait }, firsts)
            }
            ConsumerConfig::Webhook(h) => (Strategy::Webhook(endpoint(h)), Vec::new()),
            ConsumerConfig::Hybrid(h, r) => {
                let ep = endpoint(h);
                let (rec, firsts) = Reconciler::new(*r, n, streams);
                (Strategy::Hybrid(ep, rec), firsts)
            }
        };
        Consumer {
            strategy,
            replica: Replica::new(logs),
            host,
            subs: cfg.consumer.hooks().and_then(|h| h.subscription),
            catch_up: cfg
                .consumer
                .hooks()
                .filter(|h| h.sender.lifecycle)
                .map(|_| CatchUp::new(cfg.source.page_size, n)),
            mailboxes: n,
            firsts,
            out: Outbox::default(),
        }
    }

    /// Arms the first timers: each mailbox's first poll or reconcile run
    /// (at its seeded phase), then each crash fault's first start.
    pub fn start(&mut self) {
        let firsts = std::mem::take(&mut self.firsts);
        for (m, t) in firsts.into_iter().enumerate() {
            let timer = match self.strategy {
                Strategy::Hybrid(..) => ConsumerTimer::Reconcile(m as u32),
                _ => ConsumerTimer::Poll(m as u32),
            };
            self.out.push(Output::Timer(t, timer));
        }
        if let Some(s) = self.subs {
            // Every subscription was created just before the run: the
            // first renewals are one cadence in.
            for m in 0..self.mailboxes {
                self.out.push(Output::Timer(
                    SimTime::ZERO + s.renew_every,
                    ConsumerTimer::Renew(m),
                ));
            }
        }
        for (i, w) in self.host.crash.iter().enumerate() {
            if let Some(start) = w.first_start() {
                self.out
                    .push(Output::Timer(start, ConsumerTimer::Crash(i as u32)));
            }
        }
    }

    /// The host's faults (crash and slow windows): a driver that runs a
    /// real consumer process applies the crash windows to it.
    pub fn host_faults(&self) -> &HostFaults {
        &self.host
    }

    /// True when what the consumer does for one mailbox depends on no
    /// other mailbox's inputs: a poller (each mailbox has its own cursor,
    /// schedule, jitter stream and part of the replica; host faults are
    /// fixed windows). A webhook endpoint shares its queue and workers.
    pub fn mailboxes_independent(&self) -> bool {
        matches!(self.strategy, Strategy::Poll { .. }) && self.subs.is_none()
    }

    /// The next thing the half asks its driver for, in the order asked.
    #[inline]
    pub fn poll_output(&mut self) -> Option<Output<ConsumerTimer, ToProvider>> {
        self.out.pop()
    }

    /// The replica (scored against ground truth at the end).
    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// The poller, with the `poll` strategy.
    pub fn poller(&self) -> Option<&Poller> {
        match &self.strategy {
            Strategy::Poll { poller, .. } => Some(poller),
            _ => None,
        }
    }

    /// The endpoint's receiver, with webhooks.
    pub fn receiver(&self) -> Option<&Receiver> {
        self.endpoint_ref().map(|e| &e.receiver)
    }

    /// True when the endpoint answers a delivery only after processing it
    /// (`inline` ack), so a driver cannot know at send time when (or
    /// whether) the answer comes.
    pub fn answers_after_processing(&self) -> bool {
        self.receiver()
            .is_some_and(|r| r.config().ack == Ack::Inline)
    }

    fn endpoint_ref(&self) -> Option<&Endpoint> {
        match &self.strategy {
            Strategy::Webhook(e) | Strategy::Hybrid(e, _) => Some(e),
            Strategy::Poll { .. } => None,
        }
    }

    #[inline]
    fn endpoint(&mut self) -> &mut Endpoint {
        endpoint_of(&mut self.strategy)
    }

    /// Hints the CPU to load what handling `timer` will touch first: for a
    /// worker's end, its change's replica slots and ledger byte; for a
    /// poll or a reconciliation, the mailbox's schedule. Returns the
    /// mailbox whose listing the timer will ask for, if it does, so the
    /// driver can ask the provider for its hints too. A driver calls this
    /// for the next events while it handles the current one; it changes
    /// nothing.
    #[inline]
    pub fn prefetch(&self, timer: &ConsumerTimer, ledger: &Ledger, ahead: Ahead) -> Option<u32> {
        match (*timer, &self.strategy) {
            (
                ConsumerTimer::Worker { worker, .. },
                Strategy::Webhook(e) | Strategy::Hybrid(e, _),
            ) => {
                if let Some(item) = e.receiver.working_on(worker) {
                    self.replica
                        .prefetch(item.mailbox, item.msg, item.seq, ahead);
                    ledger.logs().prefetch(item.mailbox, item.seq, ahead);
                }
                None
            }
            (ConsumerTimer::Reconcile(m), Strategy::Hybrid(_, r)) => {
                if ahead == Ahead::Heads {
                    r.prefetch(m);
                }
                Some(m)
            }
            (ConsumerTimer::Poll(m), Strategy::Poll { poller, .. }) => {
                if ahead == Ahead::Heads {
                    poller.prefetch(m);
                }
                Some(m)
            }
            (ConsumerTimer::CatchUp(m), _) => Some(m),
            _ => None,
        }
    }

    /// Hints the CPU to load what [`Consumer::handle_listed`] of `a` will
    /// touch first: the replica's head for its mailbox, then the slots of
    /// the first items of its page. It changes nothing.
    #[inline]
    pub fn prefetch_listed(&self, a: &ListAnswer, ledger: &Ledger, ahead: Ahead) {
        let m = a.mailbox;
        match (&a.listed, ahead) {
            (_, Ahead::Heads) => {
                self.replica.prefetch(m, 0, 0, Ahead::Heads);
                ledger.logs().prefetch(m, 0, Ahead::Heads);
            }
            (Listed::Page { items, .. } | Listed::Snapshot { state: items, .. }, Ahead::Data) => {
                for i in items.iter().take(PREFETCH_ITEMS) {
                    self.replica.prefetch(m, i.msg, i.seq, Ahead::Data);
                    ledger.logs().prefetch(m, i.seq, Ahead::Data);
                }
            }
            _ => {}
        }
    }

    /// Hints the CPU to load what [`Consumer::handle_delivery`] of `d`
    /// will touch first (its change's ledger byte); it changes nothing.
    #[inline]
    pub fn prefetch_delivery(&self, d: &Delivery, ledger: &Ledger, ahead: Ahead) {
        ledger.logs().prefetch(d.mailbox, d.seq, ahead);
    }

    /// A timer is due.
    pub fn handle_timeout(&mut self, now: SimTime, timer: ConsumerTimer, ledger: &mut Ledger) {
        match timer {
            ConsumerTimer::Poll(m) => self.poll(now, m, ledger),
            ConsumerTimer::Reconcile(m) => self.reconcile(now, m, ledger),
            ConsumerTimer::Worker { worker, gen } => self.worker_done(now, worker, gen, ledger),
            ConsumerTimer::Requeue => self.requeue(now),
            ConsumerTimer::Renew(m) => self.renew(now, m, ledger),
            ConsumerTimer::CatchUp(m) => {
                if let Some(req) = self.catch_up.as_ref().and_then(|c| c.current(m)) {
                    self.send_catch_up(now, req, ledger);
                }
            }
            ConsumerTimer::Crash(i) => self.crash(now, i, ledger),
            ConsumerTimer::Restart(_) => self.restart(now),
        }
    }

    // ----- polling -------------------------------------------------------

    /// Mailbox `m`'s poller sends its request (or waits for the host to
    /// come back).
    #[inline]
    fn poll(&mut self, now: SimTime, m: u32, ledger: &mut Ledger) {
        if let Some(back) = self.host.down_until(now) {
            self.out.push(Output::Timer(back, ConsumerTimer::Poll(m)));
            return;
        }
        let Strategy::Poll { poller, wait } = &mut self.strategy else {
            panic!("poll timers only with a poller")
        };
        let (req, kind) = poller.request(m);
        let c = &mut ledger.metrics.counters;
        match kind {
            RequestKind::Resync => c.resync += 1,
            _ => c.poll += 1,
        }
        c.poll_cycles += (kind == RequestKind::CycleStart) as u64;
        self.out.push(Output::Transmit(ToProvider::List(ListCall {
            req,
            wait: *wait,
            caller: Caller::Poller(kind),
            sent_at: now,
            early: Early::Any,
        })));
    }

    /// The cursor mailbox `m`'s poll at `now` would send when that poll
    /// may be a quiet one (see `halves::quiet_poll`): a poller without
    /// long polls, not tracing, the host up, and the poller's own
    /// conditions; with it, the next slot's start
    /// ([`Poller::quiet_cursor`]). Changes nothing.
    #[inline(always)]
    pub fn quiet_cursor(&self, now: SimTime, m: u32, ledger: &Ledger) -> Option<(u32, SimTime)> {
        let Strategy::Poll { poller, wait } = &self.strategy else {
            return None;
        };
        if !wait.is_zero() || ledger.tracing() || self.host.down_until(now).is_some() {
            return None;
        }
        poller.quiet_cursor(m)
    }

    /// Mailbox `m`'s quiet poll was sent and its empty answer arrives at
    /// `at`, or (`None`) before both the next slot's start and the run's
    /// `end`: counted and applied as [`Consumer::handle_timeout`]
    /// and [`Consumer::handle_listed`] would count and apply them. Returns
    /// when the next poll is due (its timer is the caller's to arm), or
    /// `None` when the answer arrives at or after `end` (a driver drops
    /// it; the cycle stays open).
    #[inline(always)]
    pub fn quiet_polled(
        &mut self,
        m: u32,
        at: Option<SimTime>,
        end: SimTime,
        ledger: &mut Ledger,
    ) -> Option<SimTime> {
        let Strategy::Poll { poller, .. } = &mut self.strategy else {
            panic!("quiet polls only with a poller")
        };
        let c = &mut ledger.metrics.counters;
        c.poll += 1;
        c.poll_cycles += 1;
        let empty = if poller.config().conditional {
            &mut c.not_modified
        } else {
            &mut c.poll_empty
        };
        let Some(at) = at else {
            // Before the next slot: the cycle ends with the next tick
            // there, whenever the answer arrives.
            *empty += 1;
            return Some(poller.quiet_answered(m));
        };
        let (req, kind) = poller.request(m);
        debug_assert_eq!(kind, RequestKind::CycleStart);
        if at >= end {
            return None;
        }
        *empty += 1;
        Some(poller.on_page_applied(m, at, req.cursor, false))
    }

    /// The answer to a list call arrives (at `answer.at`).
    #[inline(always)]
    pub fn handle_listed(&mut self, answer: &ListAnswer, ledger: &mut Ledger) {
        match answer.caller {
            Caller::Poller(_) => self.polled(answer, ledger),
            Caller::Reconciler => self.reconciled(answer, ledger),
            Caller::CatchUp => self.caught_up(answer, ledger),
        }
    }

    /// A poll's answer arrives: apply it and arm the next request.
    #[inline(always)]
    fn polled(&mut self, answer: &ListAnswer, ledger: &mut Ledger) {
        let ListAnswer {
            mailbox: m,
            asked,
            sent_at,
            ref listed,
            at,
            ..
        } = *answer;
        let Strategy::Poll { poller, .. } = &mut self.strategy else {
            panic!("poll answers only with a poller")
        };
        if ledger.tracing() {
            trace!(ledger, sent_at, m, None, "poll", "cursor" => super::trace::cursor(&asked),
                "answer" => describe(listed), "arrives_us" => at.0);
        }
        let c = &mut ledger.metrics.counters;
        let next = match listed {
            Listed::NotModified => {
                c.not_modified += 1;
                poller.on_page_applied(m, at, asked, false)
            }
            Listed::Page {
                items,
                next_cursor,
                has_more,
            } => {
                c.poll_empty += items.is_empty() as u64;
                apply_page(&mut self.replica, ledger, m, items, at, Path::Poll);
                poller.on_page_applied(m, at, *next_cursor, *has_more)
            }
            Listed::RateLimited { retry_after } => {
                c.rate_limited += 1;
                poller.on_rate_limited(m, at, *retry_after)
            }
            Listed::Unavailable => {
                c.errors += 1;
                poller.on_error(m, at)
            }
            Listed::Expired => {
                c.expired += 1;
                poller.on_expired(m, at)
            }
            Listed::Snapshot {
                page,
                pages,
                end_cursor,
                state,
            } => {
                if page + 1 == *pages {
                    c.resyncs += 1;
                    for &item in state {
                        let a = self.replica.apply(m, item, Dedup::Version);
                        ledger.applied(m, item.seq, at, a.effect, Path::Resync);
                    }
                }
                poller.on_snapshot(m, at, *page, *pages, *end_cursor)
            }
        };
        self.out.push(Output::Timer(next, ConsumerTimer::Poll(m)));
    }

    // ----- reconciliation ------------------------------------------------

    /// Mailbox `m`'s reconciler sends its request (or skips a run while
    /// the host is down).
    fn reconcile(&mut self, now: SimTime, m: u32, ledger: &mut Ledger) {
        let down = self.host.down(now);
        let Strategy::Hybrid(_, rec) = &mut self.strategy else {
            panic!("reconcile timers only with a reconciler")
        };
        if down {
            let next = rec.skip(m, now);
            self.out
                .push(Output::Timer(next, ConsumerTimer::Reconcile(m)));
            return;
        }
        let (req, _starts) = rec.request(m, now);
        trace!(ledger, now, m, None, "reconcile_request", "cursor" => super::trace::cursor(&req.cursor));
        ledger.metrics.counters.reconcile += 1;
        self.out.push(Output::Transmit(ToProvider::List(ListCall {
            req,
            wait: SimDuration::ZERO,
            caller: Caller::Reconciler,
            sent_at: now,
            early: Early::Errors,
        })));
    }

    /// A reconcile answer arrives: apply what the replica lacks (by
    /// version), then continue the run or sleep.
    fn reconciled(&mut self, answer: &ListAnswer, ledger: &mut Ledger) {
        let ListAnswer {
            mailbox: m,
            ref listed,
            at,
            ..
        } = *answer;
        let down = self.host.down(at);
        let Strategy::Hybrid(_, rec) = &mut self.strategy else {
            panic!("reconcile answers only with a reconciler")
        };
        let next = match listed {
            Listed::RateLimited { retry_after } => {
                ledger.metrics.counters.rate_limited += 1;
                rec.on_error(m, at, *retry_after)
            }
            Listed::Unavailable => {
                ledger.metrics.counters.errors += 1;
                rec.on_error(m, at, SimDuration::ZERO)
            }
            _ if down => rec.skip(m, at),
            Listed::Page {
                items,
                next_cursor,
                has_more,
            } => {
                trace!(ledger, at, m, None, "reconcile_page", "changes" => items.len(), "has_more" => *has_more);
                apply_page(&mut self.replica, ledger, m, items, at, Path::Reconcile);
                rec.on_page(m, at, *next_cursor, *has_more)
            }
            _ => rec.skip(m, at),
        };
        self.out
            .push(Output::Timer(next, ConsumerTimer::Reconcile(m)));
    }

    // ----- lifecycle notifications ----------------------------------------

    /// A lifecycle notification reaches the endpoint at `now` (lost if the
    /// host is down). `subscriptionRemoved`: create the subscription again
    /// (a subscription call), then catch up; `missed`: catch up. A
    /// consumer that did not subscribe with lifecycle notifications never
    /// gets one.
    pub fn handle_lifecycle(&mut self, now: SimTime, l: Lifecycle, ledger: &mut Ledger) {
        if self.catch_up.is_none() || self.host.down(now) {
            return;
        }
        let m = l.mailbox;
        ledger.metrics.counters.lifecycle += 1;
        trace!(ledger, now, m, None, "lifecycle", "event" => super::trace::word(&l.event));
        if matches!(l.event, LifecycleEvent::SubscriptionRemoved { .. }) && self.subs.is_some() {
            ledger.metrics.counters.subscribe += 1;
            self.out
                .push(Output::Transmit(ToProvider::Subscribe(SubscribeCall {
                    mailbox: m,
                    kind: SubscribeKind::Recreate,
                })));
        }
        if let Some(req) = self.catch_up.as_mut().and_then(|c| c.trigger(m, now)) {
            self.send_catch_up(now, req, ledger);
        }
    }

    /// Sends one catch-up list request.
    fn send_catch_up(&mut self, now: SimTime, req: ListRequest, ledger: &mut Ledger) {
        ledger.metrics.counters.catch_up += 1;
        self.out.push(Output::Transmit(ToProvider::List(ListCall {
            req,
            wait: SimDuration::ZERO,
            caller: Caller::CatchUp,
            sent_at: now,
            early: Early::Errors,
        })));
    }

    /// A catch-up answer arrives: apply its page (by version, counted as
    /// reconciliation), then go on, or retry after an error.
    fn caught_up(&mut self, answer: &ListAnswer, ledger: &mut Ledger) {
        let ListAnswer {
            mailbox: m,
            ref listed,
            at,
            ..
        } = *answer;
        let Some(cu) = self.catch_up.as_mut() else {
            return;
        };
        let wait = match listed {
            Listed::RateLimited { retry_after } => {
                ledger.metrics.counters.rate_limited += 1;
                *retry_after
            }
            Listed::Unavailable => {
                ledger.metrics.counters.errors += 1;
                SimDuration::ZERO
            }
            Listed::Page {
                items,
                next_cursor,
                has_more,
            } => {
                trace!(ledger, at, m, None, "catch_up_page", "changes" => items.len(), "has_more" => *has_more);
                let next = cu.on_page(m, at, *next_cursor, *has_more);
                apply_page(&mut self.replica, ledger, m, items, at, Path::Reconcile);
                if let Some(req) = next {
                    self.send_catch_up(at, req, ledger);
                }
                return;
            }
            // A window listing answers pages only.
            _ => return,
        };
        let again = cu.on_error(m, at, wait);
        self.out
            .push(Output::Timer(again, ConsumerTimer::CatchUp(m)));
    }

    // ----- webhooks ------------------------------------------------------

    /// A webhook delivery reaches the endpoint at `now`. `open` is the
    /// connection's state, which only the driver knows: true while the
    /// sender still waits for this attempt's answer (`Provider::awaits`);
    /// false for a late copy of a settled attempt, which the endpoint
    /// still processes, but whose answer nobody hears.
    pub fn handle_delivery(&mut self, now: SimTime, d: Delivery, open: bool, ledger: &mut Ledger) {
        let slow = self.host.slow_factor(now);
        let ep = self.endpoint();
        let inline = ep.receiver.config().ack == Ack::Inline;
        let item = Item {
            mailbox: d.mailbox,
            seq: d.seq,
            msg: d.msg,
            version: d.version,
            reply_to: (inline && open).then_some(d.reply),
            tries: 0,
        };
        let mut timers = std::mem::take(&mut ep.timers);
        let reply = ep.receiver.on_request(now, item, slow, &mut timers);
        trace!(ledger, now, d.mailbox, ledger.change(d.mailbox, d.seq), "arrive",
            "reply" => super::trace::word(&reply), "late_copy" => !open, "response_lost" => d.reply.lost);
        if matches!(reply, Reply::Accepted | Reply::Pending) {
            ledger.received(d.mailbox, d.seq);
        }
        self.release(timers);
        if !open {
            return;
        }
        let status = match reply {
            Reply::Accepted => Status::Ok,
            Reply::Refused => Status::Refused,
            Reply::RateLimited => Status::RateLimited,
            Reply::Pending => return,
        };
        self.answer(d.reply, status);
    }

    /// Emits an answer to a delivery.
    fn answer(&mut self, reply: super::transmit::ReplyTo, status: Status) {
        self.out
            .push(Output::Transmit(ToProvider::Answer(DeliveryAnswer {
                reply,
                status,
            })));
    }

    /// Failed items out of their backoff go back to the queue.
    fn requeue(&mut self, now: SimTime) {
        let slow = self.host.slow_factor(now);
        let ep = self.endpoint();
        let mut timers = std::mem::take(&mut ep.timers);
        ep.receiver.wake(now, slow, &mut timers);
        self.release(timers);
    }

    /// Hands worker timers (and the receiver's backoff wake-ups) to the
    /// driver, keeping the scratch buffer.
    fn release(&mut self, mut timers: Vec<WorkerTimer>) {
        let ep = endpoint_of(&mut self.strategy);
        while let Some(at) = ep.receiver.pop_wake() {
            self.out.push(Output::Timer(at, ConsumerTimer::Requeue));
        }
        for t in &timers {
            self.out.push(Output::Timer(
                t.at,
                ConsumerTimer::Worker {
                    worker: t.worker,
                    gen: t.gen,
                },
            ));
        }
        timers.clear();
        ep.timers = timers;
    }

    /// A worker finished: apply its item (fetching first for thin
    /// payloads), answer inline requests, keep the workers busy.
    fn worker_done(&mut self, now: SimTime, worker: u32, gen: u32, ledger: &mut Ledger) {
        let slow = self.host.slow_factor(now);
        let ep = self.endpoint();
        let mut timers = std::mem::take(&mut ep.timers);
        let done = ep
            .receiver
            .on_worker_done(now, worker, gen, slow, &mut timers);
        match done {
            None => {}
            Some(Done::Failed(item, failure)) => self.settle_failure(now, item, failure, ledger),
            Some(Done::Process(item)) => match item.version {
                Some(version) => {
                    let data = PageItem {
                        seq: item.seq,
                        msg: item.msg,
                        version,
                    };
                    self.process(now, item, data, ledger);
                }
                None => {
                    // Thin: fetch the message; the step ends when it is back.
                    let ep = self.endpoint();
                    let id = ep.next_fetch;
                    ep.next_fetch = ep.next_fetch.wrapping_add(1);
                    let call = FetchCall {
                        mailbox: item.mailbox,
                        msg: item.msg,
                        seq: item.seq,
                        id,
                    };
                    self.out.push(Output::Transmit(ToProvider::Fetch(call)));
                    let ep = self.endpoint();
                    ep.fetching.push((id, item, slow, timers));
                    return;
                }
            },
        }
        self.release(timers);
    }

    /// A thin notification's fetch is answered: process the item, or fail
    /// it if the fetch failed.
    pub fn handle_fetched(&mut self, now: SimTime, f: Fetched, ledger: &mut Ledger) {
        let ep = self.endpoint();
        // An unknown id (a duplicate or stray answer) changes nothing.
        let Some(i) = ep.fetching.iter().position(|(id, ..)| *id == f.call.id) else {
            return;
        };
        let (_, item, slow, mut timers) = ep.fetching.swap_remove(i);
        match f.result {
            Ok(latest) => {
                let data = PageItem {
                    seq: item.seq,
                    ..latest
                };
                self.process(now, item, data, ledger);
            }
            Err(listed) => {
                match listed {
                    Listed::RateLimited { .. } => ledger.metrics.counters.rate_limited += 1,
                    _ => ledger.metrics.counters.errors += 1,
                }
                let ep = self.endpoint();
                let failure = ep.receiver.fail(now, item);
                ep.receiver.start_workers(now, slow, &mut timers);
                self.settle_failure(now, item, failure, ledger);
            }
        }
        self.release(timers);
    }

    /// Applies one processed notification carrying `data` to the replica.
    fn process(&mut self, now: SimTime, item: Item, data: PageItem, ledger: &mut Ledger) {
        let dedup = self.endpoint().dedup;
        let a = self.replica.apply(item.mailbox, data, dedup);
        let a = ledger.applied(item.mailbox, item.seq, now, a.effect, Path::Webhook);
        trace!(ledger, now, item.mailbox, ledger.change(item.mailbox, item.seq), "apply",
            "path" => "webhook", "first" => a.first, "effect" => super::trace::word(&a.effect),
            "written_version" => data.version & !super::traffic::DELETED);
        if let Some(reply) = item.reply_to {
            self.answer(reply, Status::Ok);
        }
    }

    /// An inline failure answers 500; other failures were requeued or
    /// dead-lettered by the receiver.
    fn settle_failure(&mut self, now: SimTime, item: Item, failure: Failure, ledger: &mut Ledger) {
        trace!(ledger, now, item.mailbox, ledger.change(item.mailbox, item.seq), "processing_failed",
            "then" => super::trace::word(&failure), "tries" => item.tries + 1);
        if failure == Failure::DeadLettered {
            ledger.mark(item.mailbox, item.seq, Mark::DeadLettered);
        }
        if failure == Failure::Answered500 {
            if let Some(reply) = item.reply_to {
                self.answer(reply, Status::Failed);
            }
        }
    }

    // ----- subscriptions -------------------------------------------------

    /// Mailbox `m`'s renewal is due: send it (or wait for the host).
    fn renew(&mut self, now: SimTime, m: u32, ledger: &mut Ledger) {
        if let Some(back) = self.host.down_until(now) {
            self.out.push(Output::Timer(back, ConsumerTimer::Renew(m)));
            return;
        }
        ledger.metrics.counters.renew += 1;
        self.out
            .push(Output::Transmit(ToProvider::Subscribe(SubscribeCall {
                mailbox: m,
                kind: SubscribeKind::Renew,
            })));
    }

    /// A subscription call is answered at `now`. A live subscription is
    /// renewed again a cadence later; an expired one (404) is created
    /// again at once; a failed call is tried again after `retry` if the
    /// consumer has one, else not before the next cadence (it logs the
    /// failure and carries on, as a scheduled renewal job does), so one
    /// failure can let the subscription lapse.
    pub fn handle_subscribed(&mut self, now: SimTime, s: Subscribed, ledger: &mut Ledger) {
        let Some(cfg) = self.subs else { return };
        let m = s.call.mailbox;
        if s.call.kind == SubscribeKind::Recreate {
            // The renewal schedule goes on as it was; a failure is counted
            // and left to it (the next renewal finds the subscription gone).
            ledger.metrics.counters.renew_failed += (s.result == Subscription::Failed) as u64;
            return;
        }
        match s.result {
            Subscription::Active(_) => {
                self.out.push(Output::Timer(
                    now + cfg.renew_every,
                    ConsumerTimer::Renew(m),
                ));
            }
            Subscription::NotFound => {
                ledger.metrics.counters.subscribe += 1;
                self.out
                    .push(Output::Transmit(ToProvider::Subscribe(SubscribeCall {
                        mailbox: m,
                        kind: SubscribeKind::Create,
                    })));
            }
            Subscription::Failed => {
                ledger.metrics.counters.renew_failed += 1;
                let wait = cfg.retry.unwrap_or(cfg.renew_every);
                self.out
                    .push(Output::Timer(now + wait, ConsumerTimer::Renew(m)));
            }
        }
    }

    // ----- crashes -------------------------------------------------------

    /// Crash fault `i` takes the host down: arm its restart and its next
    /// start; a memory queue loses what it held.
    fn crash(&mut self, now: SimTime, i: u32, ledger: &mut Ledger) {
        let w = self.host.crash[i as usize];
        for m in ledger.traced_mailboxes() {
            let until = w.end_after(now).map_or(0, |t| t.0);
            ledger.emit(
                now,
                m,
                None,
                "consumer_crash",
                crate::detail!("until_us" => until),
            );
        }
        ledger.crashes += 1;
        if let Some(end) = w.end_after(now) {
            self.out.push(Output::Timer(end, ConsumerTimer::Restart(i)));
        }
        if let Some(next) = w.next_start_after(now) {
            self.out.push(Output::Timer(next, ConsumerTimer::Crash(i)));
        }
        if let Strategy::Webhook(ep) | Strategy::Hybrid(ep, _) = &mut self.strategy {
            for item in ep.receiver.crash() {
                ledger.mark(item.mailbox, item.seq, Mark::Crashed);
                trace!(
                    ledger,
                    now,
                    item.mailbox,
                    ledger.change(item.mailbox, item.seq),
                    "lost_in_crash"
                );
            }
        }
    }

    /// A crash's downtime ends (unless another crash window holds the
    /// host down): the workers start again.
    fn restart(&mut self, now: SimTime) {
        if self.host.down(now) {
            return;
        }
        let slow = self.host.slow_factor(now);
        if let Strategy::Webhook(ep) | Strategy::Hybrid(ep, _) = &mut self.strategy {
            let mut timers = std::mem::take(&mut ep.timers);
            ep.receiver.restart(now, slow, &mut timers);
            self.release(timers);
        }
    }
}

impl Consumer {
    /// Lowers `keep[m]` to the first change of mailbox `m` the consumer
    /// may still touch by sequence number (the endpoint's queue, workers
    /// and fetches, a `sequence` cursor), and `keep_at[m]` to the first
    /// commit time its listings may still reach from `now` on (a
    /// timestamp cursor, the reconciler's window). A streaming run trims
    /// only what lies before both (`halves::trim`). Catch-up listings and
    /// resyncs read further back: runs with them keep whole logs.
    pub fn holds(&self, now: SimTime, keep: &mut [u32], keep_at: &mut [u64]) {
        let mut seq = |m: u32, s: u32| {
            let k = &mut keep[m as usize];
            *k = (*k).min(s);
        };
        match &self.strategy {
            Strategy::Poll { poller, .. } => {
                for m in 0..self.mailboxes {
                    match poller.cursor(m) {
                        Cursor::Seq(c) => seq(m, c),
                        Cursor::Stamp(c) | Cursor::StampId(c, _) | Cursor::Since(c) => {
                            let k = &mut keep_at[m as usize];
                            *k = (*k).min(c);
                        }
                        Cursor::Start | Cursor::Resync(_) => seq(m, 0),
                    }
                }
            }
            Strategy::Webhook(ep) | Strategy::Hybrid(ep, _) => {
                ep.receiver.each_item(|i| seq(i.mailbox, i.seq));
                for (_, i, _, _) in &ep.fetching {
                    seq(i.mailbox, i.seq);
                }
            }
        }
        if let Strategy::Hybrid(_, rec) = &self.strategy {
            for (m, k) in keep_at.iter_mut().enumerate() {
                *k = (*k).min(rec.needs_from(m as u32, now));
            }
        }
    }
}

/// Applies a listed page arriving at `at`, by version: the source's data
/// is authoritative, so nothing older is ever written.
#[inline(always)]
fn apply_page(
    replica: &mut Replica,
    ledger: &mut Ledger,
    m: u32,
    items: &[PageItem],
    at: SimTime,
    path: Path,
) {
    for &item in items {
        let a = replica.apply(m, item, Dedup::Version);
        let a = ledger.applied(m, item.seq, at, a.effect, path);
        trace!(ledger, at, m, Some((item.seq, item.msg, item.version)), "apply",
            "path" => path.name(), "first" => a.first, "effect" => super::trace::word(&a.effect));
    }
}

/// A list answer in a trace's words.
fn describe(listed: &Listed) -> String {
    match listed {
        Listed::Page {
            items, has_more, ..
        } => format!("page of {} (has_more {has_more})", items.len()),
        Listed::NotModified => "304".into(),
        Listed::RateLimited { retry_after } => format!("429, retry after {retry_after}"),
        Listed::Unavailable => "503".into(),
        Listed::Expired => "cursor expired".into(),
        Listed::Snapshot { page, pages, .. } => format!("resync page {} of {pages}", page + 1),
    }
}

impl Window {
    /// The first start of a window, if it ever starts.
    pub fn first_start(&self) -> Option<SimTime> {
        match *self {
            Window::Once { start, .. } => Some(start),
            Window::Every { start, until, .. } => (start < until).then_some(start),
        }
    }
}
