//! The provider half of the seam, sans-IO: the mail API (change log,
//! list and fetch, rate limits, source outages, API latency, long polls)
//! and the webhook sender (one notification per committed change, retry
//! policy, timeouts, endpoint health).
//!
//! It takes inputs with the time (`handle_list` and `handle_fetch`, which
//! return their answer, `handle_answer` or, with what a real endpoint
//! said, `handle_verdict`, and `handle_timeout`) and yields [`Output`]s in
//! order (`poll_output`): deliveries for the consumer and timers for
//! itself (so its outputs are `Output<ProviderTimer, Push>`: delivery
//! attempts and, with `lifecycle_notifications`, lifecycle
//! notifications). It reads no clock and owns no queue; its random
//! streams (API latency, one per mailbox) are derived from the seed and
//! drawn in each mailbox's request order, so what one mailbox draws never
//! depends on another's traffic.

use super::config::RunConfig;
use super::faults::RenewalFaults;
use super::ledger::{trace, Ledger, Mark};
use super::presets::Payload;
use super::sender::{NoteId, Sender, SenderOut, Throttle};
use super::source::{ListOutcome, Source, AHEAD};
use super::traffic::Logs;
use super::transmit::{
    Delivery, FetchCall, Fetched, Lifecycle, LifecycleEvent, ListAnswer, ListCall, Listed, Outbox,
    Output, PageItem, Push, ReplyTo, SubscribeCall, SubscribeKind, Subscribed, Subscription,
    Ticket, Verdict,
};
use crate::engine::arena::{prefetch, prefetch_all, Ahead};
use crate::engine::rng::{Purpose, SimRng, Streams};
use crate::engine::sample::{Below, Delay, Sampler};
use crate::engine::time::{SimDuration, SimTime};

/// The provider's own timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderTimer {
    /// Change `seq` of mailbox `m` commits: notify.
    Commit {
        /// The mailbox.
        m: u32,
        /// The change.
        seq: u32,
    },
    /// A notification's retry is due.
    SendDue(NoteId),
    /// The endpoint is re-enabled (after `reenable_after`).
    Reenable,
    /// Mailbox `m`'s subscription expires now unless it was renewed since
    /// this timer was armed (lifecycle notifications only).
    Expire(u32),
}

/// The webhook side of the provider.
#[derive(Debug)]
struct Hooks {
    sender: Sender,
    payload: Payload,
    timeout: SimDuration,
    /// Scratch for the sender's requests.
    sender_out: Vec<SenderOut>,
    /// Subscriptions, when the run models their lifecycle.
    subs: Option<Subscriptions>,
    /// The consumer subscribed with a `lifecycleNotificationUrl`: send
    /// `subscriptionRemoved` and `missed` lifecycle notifications.
    lifecycle: bool,
}

/// Each mailbox's subscription (Graph subscription, Gmail watch): when it
/// expires. Created before the run, so every one expires at `lifetime`
/// unless renewed.
#[derive(Debug)]
struct Subscriptions {
    lifetime: SimDuration,
    /// Per mailbox: the first instant it no longer notifies.
    expires: Vec<SimTime>,
    /// Which calls fail (`renewal_failure`).
    faults: RenewalFaults,
}

/// The API latency: one stream per mailbox (`Purpose::ApiLatency`, the
/// mailbox's index), opened at the mailbox's first call. A mailbox's
/// answers draw the same latencies whatever the other mailboxes do, so a
/// driver may answer one mailbox's calls ahead of the others' (the event
/// engine's run of quiet polls) and the draws stay those of a run that
/// answers every call in time order.
#[derive(Debug)]
struct ApiLatency {
    delay: Delay,
    streams: Streams,
    /// Per mailbox: its stream, once it has drawn (a fixed latency never
    /// opens one; boxed, so a mailbox that never lists costs 8 bytes).
    rngs: Vec<Option<Box<SimRng>>>,
    /// The last bound [`ApiLatency::sample_reaching`] was asked for.
    below: Below,
}

impl ApiLatency {
    fn new(delay: Delay, streams: &Streams, mailboxes: u32) -> Self {
        ApiLatency {
            delay,
            streams: *streams,
            below: Below::new(SimDuration::ZERO),
            rngs: match delay {
                Delay::Fixed(_) => Vec::new(),
                _ => vec![None; mailboxes as usize],
            },
        }
    }

    /// Hints the CPU to load mailbox `m`'s stream (its box pointer, or
    /// the stream itself).
    #[inline(always)]
    fn prefetch(&self, m: u32, ahead: Ahead) {
        match (self.rngs.get(m as usize), ahead) {
            (Some(slot), Ahead::Heads) => prefetch(slot),
            (Some(Some(rng)), Ahead::Data) => prefetch_all(&**rng),
            _ => {}
        }
    }

    /// Mailbox `m`'s stream (opened at its first draw).
    #[inline(always)]
    fn rng(&mut self, m: u32) -> &mut SimRng {
        let streams = &self.streams;
        self.rngs[m as usize]
            .get_or_insert_with(|| Box::new(streams.stream(Purpose::ApiLatency, m as u64)))
    }

    /// The latency of mailbox `m`'s next call.
    #[inline(always)]
    fn sample(&mut self, m: u32) -> SimDuration {
        if let Delay::Fixed(d) = self.delay {
            return d;
        }
        let delay = self.delay;
        delay.sample(self.rng(m))
    }

    /// The latency of mailbox `m`'s next call, drawn as
    /// [`ApiLatency::sample`] draws it, but known only when it is `bound`
    /// or longer (see [`Delay::sample_reaching`]); `None`: shorter.
    #[inline(always)]
    fn sample_reaching(&mut self, m: u32, bound: SimDuration) -> Option<SimDuration> {
        if let Delay::Fixed(d) = self.delay {
            return (d >= bound).then_some(d);
        }
        if self.below.bound != bound.0 {
            // Nearly every quiet poll asks with the poll interval.
            self.below = Below::new(bound);
        }
        let (delay, below) = (self.delay, self.below);
        delay.sample_reaching(self.rng(m), &below)
    }
}

/// The mail provider.
#[derive(Debug)]
pub struct Provider {
    source: Source,
    latency: ApiLatency,
    /// Under a concurrency cap: how long a fetch is in service.
    fetch_service: Option<Sampler>,
    hooks: Option<Hooks>,
    out: Outbox<Output<ProviderTimer, Push>>,
    /// A page buffer a driver gave back ([`Provider::recycle`]), filled by
    /// the next non-empty page instead of a new allocation.
    spare: Vec<PageItem>,
}

/// A borrowed source answer as an owned one (ids and versions only),
/// its items in `spare`'s buffer.
#[inline(always)]
fn owned(outcome: ListOutcome<'_>, spare: &mut Vec<PageItem>) -> Listed {
    match outcome {
        ListOutcome::Page(p) => Listed::Page {
            // Most pages are empty: no iterator, no allocation.
            items: if p.items.is_empty() {
                Vec::new()
            } else {
                let mut items = std::mem::take(spare);
                items.clear();
                items.extend(p.items.iter().map(|(seq, c)| PageItem {
                    seq,
                    msg: c.msg,
                    version: c.version,
                }));
                items
            },
            next_cursor: p.next_cursor,
            has_more: p.has_more,
        },
        ListOutcome::NotModified => Listed::NotModified,
        ListOutcome::RateLimited { retry_after } => Listed::RateLimited { retry_after },
        ListOutcome::Unavailable => Listed::Unavailable,
        ListOutcome::Expired => Listed::Expired,
        ListOutcome::Snapshot {
            page,
            pages,
            end_cursor,
        } => Listed::Snapshot {
            page,
            pages,
            end_cursor,
            state: Vec::new(),
        },
    }
}

/// Every change of mailbox `m` committed by `as_of` (a snapshot's
/// content, applied by version).
fn visible(logs: &Logs, m: u32, as_of: SimTime) -> Vec<PageItem> {
    let log = logs.whole(m);
    let visible = log.partition_point(|c| c.at <= as_of);
    log[..visible]
        .iter()
        .enumerate()
        .map(|(seq, c)| PageItem {
            seq: seq as u32,
            msg: c.msg,
            version: c.version,
        })
        .collect()
}

impl Provider {
    /// The provider of a run: its source over `logs` (source outages and
    /// rate squeezes from `faults`), and a sender when the strategy
    /// receives webhooks.
    pub fn new(cfg: &RunConfig, faults: &super::faults::FaultPlan, streams: &Streams) -> Self {
        let n = cfg.source.mailboxes;
        let source = Source::new(
            &cfg.source,
            faults.source_outage.clone(),
            faults.rate_squeeze.clone(),
        );
        let hooks = cfg.consumer.hooks().map(|h| Hooks {
            payload: h.sender.payload,
            timeout: h.sender.timeout,
            sender: Sender::new(h.sender.clone()),
            sender_out: Vec::new(),
            subs: h.subscription.map(|s| Subscriptions {
                lifetime: s.lifetime,
                expires: vec![SimTime::ZERO + s.lifetime; n as usize],
                faults: faults.renewal_failure.clone(),
            }),
            lifecycle: h.sender.lifecycle,
        });
        let fetch_service = source.caps_concurrency().then(|| {
            Sampler::new(
                cfg.source.api_latency,
                streams.stream(Purpose::FetchService, 0),
            )
        });
        Provider {
            source,
            fetch_service,
            latency: ApiLatency::new(cfg.source.api_latency, streams, n),
            hooks,
            out: Outbox::default(),
            spare: Vec::new(),
        }
    }

    /// True when the API answers each mailbox's list calls from that
    /// mailbox's state alone (its log, its buckets and quota counts, its
    /// latency stream, fixed fault windows): a driver may then answer one
    /// mailbox's calls ahead of another's and get the same answers. The
    /// webhook sender is shared (endpoint health, in-flight counts), so a
    /// run with webhooks is not.
    pub fn mailboxes_independent(&self) -> bool {
        self.hooks.is_none() && self.source.mailboxes_independent()
    }

    /// The source's quota and what it measured, if the run models one.
    pub fn quota(&self) -> Option<(&super::quota::QuotaConfig, super::quota::QuotaStats)> {
        self.source.quota()
    }

    /// The webhook sender, if the run has one (its stats and preset).
    pub fn sender(&self) -> Option<&Sender> {
        self.hooks.as_ref().map(|h| &h.sender)
    }

    /// Arms the first timers: each mailbox's first commit, with webhooks
    /// (and, with lifecycle notifications, each subscription's expiry).
    /// The logs are the ledger's.
    pub fn start(&mut self, ledger: &mut Ledger) {
        let Some(h) = &self.hooks else {
            return;
        };
        let expiry = h.subs.as_ref().filter(|_| h.lifecycle).map(|s| s.lifetime);
        let logs = ledger.logs_mut();
        for m in 0..self.source.mailboxes() {
            logs.advance_past(m, 0, AHEAD);
            if let Some(first) = logs.get(m, 0) {
                self.out
                    .push(Output::Timer(first.at, ProviderTimer::Commit { m, seq: 0 }));
            }
        }
        if let Some(lifetime) = expiry {
            for m in 0..self.source.mailboxes() {
                self.out.push(Output::Timer(
                    SimTime::ZERO + lifetime,
                    ProviderTimer::Expire(m),
                ));
            }
        }
    }

    /// The next thing the half asks its driver for, in the order asked.
    #[inline]
    pub fn poll_output(&mut self) -> Option<Output<ProviderTimer, Push>> {
        self.out.pop()
    }

    /// Gives back a list answer the consumer is done with: its page's
    /// buffer serves the next page (a driver's optional courtesy; a page
    /// otherwise costs an allocation).
    #[inline]
    pub fn recycle(&mut self, listed: Listed) {
        if let Listed::Page { items, .. } = listed {
            if items.capacity() > self.spare.capacity() {
                self.spare = items;
            }
        }
    }

    /// Hints the CPU to load what handling `timer` will read first (a
    /// driver calls this for the next event while it handles the current
    /// one; it changes nothing).
    #[inline]
    pub fn prefetch(&self, timer: &ProviderTimer, ledger: &Ledger, ahead: Ahead) {
        if let ProviderTimer::Commit { m, seq } = *timer {
            // The commit reads its change and schedules the next one's.
            ledger.logs().prefetch(m, seq, ahead);
            if ahead == Ahead::Data {
                ledger.logs().prefetch(m, seq + 1, ahead);
            }
        }
    }

    /// Hints the CPU to load what answering a listing of mailbox `m`
    /// will read first: its latency stream, the source's index and the
    /// log where the listing starts (a driver calls this for a consumer
    /// timer that asks for one; it changes nothing).
    #[inline]
    pub fn prefetch_list(&self, m: u32, ledger: &Ledger, ahead: Ahead) {
        self.latency.prefetch(m, ahead);
        self.source.prefetch(m, ledger.logs(), ahead);
    }

    /// A timer is due.
    pub fn handle_timeout(&mut self, now: SimTime, timer: ProviderTimer, ledger: &mut Ledger) {
        match timer {
            ProviderTimer::Commit { m, seq } => self.commit(now, m, seq, ledger),
            ProviderTimer::SendDue(note) => {
                self.with_sender(now, ledger, |s, out| s.retry_due(now, note, out))
            }
            ProviderTimer::Reenable => self.with_sender(now, ledger, |s, _| s.reenable(now)),
            ProviderTimer::Expire(m) => self.expire(now, m, ledger),
        }
    }

    /// Mailbox `m`'s expiry timer: if the subscription really expires now
    /// (no renewal moved it), Graph removes it and tells the
    /// `lifecycleNotificationUrl` (`subscriptionRemoved`).
    fn expire(&mut self, now: SimTime, m: u32, ledger: &mut Ledger) {
        let gone = self
            .hooks
            .as_ref()
            .and_then(|h| h.subs.as_ref())
            .is_some_and(|s| s.expires[m as usize] == now);
        if gone {
            self.lifecycle(
                now,
                m,
                LifecycleEvent::SubscriptionRemoved { expired_at: now },
                ledger,
            );
        }
    }

    /// Sends a lifecycle notification for mailbox `m`.
    fn lifecycle(&mut self, now: SimTime, m: u32, event: LifecycleEvent, ledger: &mut Ledger) {
        trace!(ledger, now, m, None, "lifecycle_sent", "event" => super::trace::word(&event));
        ledger.metrics.counters.lifecycle_sent += 1;
        self.out.push(Output::Transmit(Push::Lifecycle(Lifecycle {
            mailbox: m,
            event,
        })));
    }

    /// A list call reaches the API at `now`: its answer (as of now, or for
    /// a long poll with nothing new, as of the commit that ends the hold or
    /// the hold's end), arriving after the API latency. Every call gets
    /// exactly one answer, computed when it reaches the API, so it is
    /// returned rather than queued; the driver carries it.
    #[inline(always)]
    pub fn handle_list(&mut self, now: SimTime, call: ListCall, ledger: &mut Ledger) -> ListAnswer {
        ledger.metrics.source_request(now);
        let req = call.req;
        let latency = self.latency.sample(req.mailbox);
        let mut answer = ListAnswer {
            mailbox: req.mailbox,
            asked: req.cursor,
            caller: call.caller,
            early: call.early,
            sent_at: call.sent_at,
            at: now + latency,
            listed: match self.source.hold(req.mailbox, now, now + latency) {
                Ok(()) => owned(
                    self.source.list(now, req, ledger.logs_mut()),
                    &mut self.spare,
                ),
                Err(retry_after) => Listed::RateLimited { retry_after },
            },
        };
        if matches!(
            answer.listed,
            Listed::RateLimited { .. } | Listed::Unavailable
        ) {
            // Refused at once: not in service (no-op without a cap).
            self.source.release(req.mailbox, now + latency);
        }
        let mut answered = now;
        let empty = |l: &Listed| match l {
            Listed::Page { items, .. } => items.is_empty(),
            Listed::NotModified => true,
            _ => false,
        };
        // Long polling: an empty answer is held (no hold, no check).
        if !call.wait.is_zero() && empty(&answer.listed) {
            let hold = call.wait;
            let logs = ledger.logs_mut();
            (answered, answer.listed) = match self.source.next_commit(req.mailbox, req.cursor, logs)
            {
                Some(v) if v <= now + hold => {
                    (v, owned(self.source.answer(v, req, logs), &mut self.spare))
                }
                _ => (
                    now + hold,
                    owned(self.source.answer(now, req, logs), &mut self.spare),
                ),
            };
            answer.at = answered + latency;
        }
        if let Listed::Snapshot {
            page, pages, state, ..
        } = &mut answer.listed
        {
            if *page + 1 == *pages {
                *state = visible(ledger.logs(), req.mailbox, answered);
            }
        }
        answer
    }

    /// A poll of `mailbox` from the sequence cursor `cursor` reaches the
    /// API at `now` and will be answered empty (see
    /// [`Source::quiet_list`]): counted and admitted as
    /// [`Provider::handle_list`] would, its latency drawn. Returns when
    /// the (empty) answer arrives if that is at `by` or later;
    /// `Some(None)` if it is surely earlier (the exact time is then not
    /// computed). `None`, with nothing changed, when the answer may not
    /// be empty or the call may be refused: send it with `handle_list`.
    #[inline(always)]
    pub fn quiet_list(
        &mut self,
        now: SimTime,
        mailbox: u32,
        cursor: u32,
        by: SimTime,
        ledger: &mut Ledger,
    ) -> Option<Option<SimTime>> {
        if !self.source.quiet_list(now, mailbox, cursor) {
            return None;
        }
        ledger.metrics.source_request(now);
        let bound = SimDuration(by.0.saturating_sub(now.0));
        Some(
            self.latency
                .sample_reaching(mailbox, bound)
                .map(|l| now + l),
        )
    }

    /// A thin notification's fetch reaches the API at `now`: its answer,
    /// back at once (fetch latency is not modelled).
    pub fn handle_fetch(&mut self, now: SimTime, call: FetchCall, ledger: &mut Ledger) -> Fetched {
        ledger.metrics.source_request(now);
        ledger.fetches += 1;
        let mut held = None;
        if let Some(service) = &mut self.fetch_service {
            let until = now + service.sample();
            if let Err(retry_after) = self.source.hold(call.mailbox, now, until) {
                return Fetched {
                    call,
                    result: Err(Listed::RateLimited { retry_after }),
                };
            }
            held = Some(until);
        }
        let result = match self
            .source
            .fetch(now, call.mailbox, call.msg, ledger.logs_mut())
        {
            Ok(latest) => {
                let c = ledger.logs().change(call.mailbox, latest);
                Ok(PageItem {
                    seq: latest,
                    msg: c.msg,
                    version: c.version,
                })
            }
            Err(outcome) => {
                if let Some(until) = held {
                    self.source.release(call.mailbox, until);
                }
                Err(owned(outcome, &mut self.spare))
            }
        };
        Fetched { call, result }
    }

    /// A subscription call reaches the API at `now`: its answer, back at
    /// once (like a fetch). A renewal extends a live subscription by the
    /// lifetime and finds an expired one gone (404); a creation starts a
    /// new one; a `renewal_failure` fails either (5xx, nothing changes).
    /// Every call is a request at the source. With lifecycle
    /// notifications, a call that extends or creates a subscription also
    /// queues its expiry timer (drivers pump the provider after it).
    pub fn handle_subscribe(
        &mut self,
        now: SimTime,
        call: SubscribeCall,
        ledger: &mut Ledger,
    ) -> Subscribed {
        ledger.metrics.source_request(now);
        let m = call.mailbox as usize;
        let refused = self.source.admit_subscribe(call.mailbox, now).is_err();
        let mut expiry = None;
        let result = match self.hooks.as_mut().and_then(|h| h.subs.as_mut()) {
            // Over the quota: a 429, which the consumer treats as a failed
            // call (it tries again at its retry delay or next cadence).
            _ if refused => Subscription::Failed,
            // Nothing expires in this run: every call succeeds.
            None => Subscription::Active(SimTime::MAX),
            Some(s) => {
                if s.faults.fails(now, call.mailbox) {
                    Subscription::Failed
                } else if call.kind == SubscribeKind::Renew && now >= s.expires[m] {
                    Subscription::NotFound
                } else {
                    s.expires[m] = now + s.lifetime;
                    expiry = Some(s.expires[m]);
                    Subscription::Active(s.expires[m])
                }
            }
        };
        trace!(ledger, now, call.mailbox, None, "subscription_call",
        "call" => super::trace::word(&call.kind), "answer" => match result {
            Subscription::Active(_) => "active",
            Subscription::NotFound => "not_found",
            Subscription::Failed => "failed",
        });
        if let Some(at) = expiry.filter(|_| self.hooks.as_ref().is_some_and(|h| h.lifecycle)) {
            self.out
                .push(Output::Timer(at, ProviderTimer::Expire(call.mailbox)));
        }
        Subscribed { call, result }
    }

    /// True when message `msg` of `mailbox` exists as of `now` (some change
    /// to it has committed). The model never fetches an unknown message;
    /// a driver facing real clients asks this first and answers "not
    /// found" (404) instead of calling [`Provider::handle_fetch`].
    pub fn knows(&self, now: SimTime, mailbox: u32, msg: u32, logs: &Logs) -> bool {
        if mailbox >= logs.mailboxes() {
            return false;
        }
        let log = logs.whole(mailbox);
        let visible = log.partition_point(|c| c.at <= now);
        log[..visible].iter().any(|c| c.msg == msg)
    }

    /// True when nothing waits in the outbox (drivers' debug checks).
    pub fn outbox_is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// True while the sender waits for attempt `ticket`'s answer (a driver
    /// uses it as the connection's state: an answer to a closed one is
    /// never sent).
    pub fn awaits(&self, ticket: Ticket) -> bool {
        self.hooks.as_ref().is_some_and(|h| {
            let n = h.sender.note(ticket.note);
            n.gen == ticket.gen && n.in_flight
        })
    }

    /// The outcome of a delivery attempt reaches the sender at `now`: a
    /// 2xx (`ok`), or a failure (an error status, a refused connection,
    /// or, when `timed_out`, the sender's own timeout). A plain
    /// [`Verdict`]: what the event engine's endpoint can say.
    pub fn handle_answer(
        &mut self,
        now: SimTime,
        ticket: Ticket,
        ok: bool,
        timed_out: bool,
        ledger: &mut Ledger,
    ) {
        self.handle_verdict(now, ticket, Verdict::plain(ok, timed_out), ledger);
    }

    /// The outcome of a delivery attempt reaches the sender at `now`, with
    /// whatever a real endpoint added to a failure (410 Gone, Svix's
    /// abort, `Retry-After`); the sender applies the preset's rules.
    pub fn handle_verdict(
        &mut self,
        now: SimTime,
        ticket: Ticket,
        verdict: Verdict,
        ledger: &mut Ledger,
    ) {
        if ledger.tracing() {
            let event = match verdict {
                Verdict {
                    timed_out: true, ..
                } => "timeout",
                Verdict { ok: true, .. } => "answer_ok",
                Verdict { gone: true, .. } => "answer_gone",
                Verdict { abort: true, .. } => "answer_abort",
                _ => "answer_failed",
            };
            self.trace_outcome(now, ticket, event, ledger);
        }
        self.with_sender(now, ledger, |s, out| {
            s.on_result(now, ticket.note, ticket.gen, verdict, out);
        });
    }

    /// Closes the books at the end of the run.
    pub fn finish(&mut self, end: SimTime) {
        if let Some(h) = &mut self.hooks {
            h.sender.finish(end);
        }
    }

    /// Mailbox `m`'s next change commits: notify, and arm the next.
    fn commit(&mut self, now: SimTime, m: u32, seq: u32, ledger: &mut Ledger) {
        let h = self
            .hooks
            .as_mut()
            .expect("commit timers only with webhooks");
        ledger.logs_mut().advance_past(m, now.0, AHEAD);
        if let Some(next) = ledger.logs().get(m, seq + 1) {
            self.out.push(Output::Timer(
                next.at,
                ProviderTimer::Commit { m, seq: seq + 1 },
            ));
        }
        if h.subs
            .as_ref()
            .is_some_and(|s| now >= s.expires[m as usize])
        {
            // The subscription expired: the provider has no one to tell.
            trace!(ledger, now, m, ledger.change(m, seq), "not_notified", "subscription" => "expired");
            ledger.mark(m, seq, Mark::Unsubscribed);
            return;
        }
        trace!(ledger, now, m, ledger.change(m, seq), "notify");
        // Graph's slow-endpoint rule drops this notification: with
        // lifecycle notifications, Graph says so (`missed`).
        let missed = h.lifecycle && h.sender.throttle(now) == Throttle::Drop;
        self.with_sender(now, ledger, |s, out| s.notify(now, m, seq, out));
        if missed {
            self.lifecycle(now, m, LifecycleEvent::Missed, ledger);
        }
    }

    /// Runs `f` on the sender, then turns what it asked for into outputs.
    fn with_sender(
        &mut self,
        now: SimTime,
        ledger: &mut Ledger,
        f: impl FnOnce(&mut Sender, &mut Vec<SenderOut>),
    ) {
        let h = self
            .hooks
            .as_mut()
            .expect("sender timers only with webhooks");
        let mut sent = std::mem::take(&mut h.sender_out);
        f(&mut h.sender, &mut sent);
        for &o in &sent {
            match o {
                SenderOut::Send(note) => {
                    let d = self.delivery(note, ledger.logs());
                    self.out.push(Output::Transmit(Push::Delivery(d)));
                }
                SenderOut::Retry(note, at) => {
                    if ledger.tracing() {
                        let n = *self.hooks.as_ref().expect("hooks").sender.note(note);
                        trace!(ledger, now, n.mailbox, ledger.change(n.mailbox, n.seq), "retry_scheduled",
                            "attempt" => n.attempt + 1, "at_us" => at.0, "at" => SimDuration(at.0).to_string());
                    }
                    self.out
                        .push(Output::Timer(at, ProviderTimer::SendDue(note)));
                }
                SenderOut::Reenable(at) => {
                    self.out.push(Output::Timer(at, ProviderTimer::Reenable))
                }
                SenderOut::GaveUp {
                    mailbox,
                    seq,
                    disabled,
                } => {
                    ledger.gave_up += 1;
                    trace!(ledger, now, mailbox, ledger.change(mailbox, seq), "gave_up", "endpoint_disabled" => disabled);
                    let mark = if disabled {
                        Mark::Disabled
                    } else {
                        Mark::GaveUp
                    };
                    ledger.mark(mailbox, seq, mark);
                }
            }
        }
        sent.clear();
        self.hooks.as_mut().expect("hooks").sender_out = sent;
    }

    /// The transmit for the current attempt of `note`.
    fn delivery(&self, note: NoteId, logs: &Logs) -> Delivery {
        let h = self.hooks.as_ref().expect("deliveries only with webhooks");
        let n = *h.sender.note(note);
        let change = logs.change(n.mailbox, n.seq);
        Delivery {
            reply: ReplyTo {
                ticket: Ticket { note, gen: n.gen },
                lost: false,
            },
            attempt: n.attempt,
            mailbox: n.mailbox,
            seq: n.seq,
            msg: change.msg,
            version: (h.payload == Payload::Full).then_some(change.version),
            deadline: n.sent_at + h.timeout,
        }
    }

    /// Traces an attempt's outcome, if it is still the current one.
    fn trace_outcome(
        &self,
        now: SimTime,
        ticket: Ticket,
        event: &'static str,
        ledger: &mut Ledger,
    ) {
        let Some(h) = &self.hooks else { return };
        let n = *h.sender.note(ticket.note);
        if n.gen == ticket.gen && n.in_flight {
            let ch = ledger.change(n.mailbox, n.seq);
            ledger.emit(
                now,
                n.mailbox,
                ch,
                event,
                crate::detail!("attempt" => n.attempt),
            );
        }
    }
}

impl Provider {
    /// Lowers `keep[m]` to the first change of mailbox `m` the provider
    /// may still read: every change the sender still holds a notification
    /// of; and `keep_at[m]` to `now` (with webhooks): a change committing
    /// at or after `now` has not been notified yet (a commit timer carries
    /// its change, so the provider keeps no per-mailbox cursor to read).
    /// A streaming run trims only before both (`halves::trim`), between
    /// events: every commit before `now` has been handled.
    pub fn holds(&self, now: SimTime, keep: &mut [u32], keep_at: &mut [u64]) {
        let Some(h) = &self.hooks else { return };
        for k in keep_at.iter_mut() {
            *k = (*k).min(now.0);
        }
        h.sender.each_pending(|m, seq| {
            let k = &mut keep[m as usize];
            *k = (*k).min(seq);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::halves::Halves;
    use crate::scenario::{parse, Format};

    /// A svix run's provider and ledger, and its first delivery (sent at
    /// the first commit).
    fn first_delivery() -> (Provider, Ledger, Delivery) {
        let text = "name='t'\nseed=3\nhorizon='1h'\n[source]\nmailboxes=2\nmessages_per_day=500\n\
                    [webhooks]\npreset='svix'\n[consumer]\nstrategy='webhook'\n";
        let cfg = parse(text, "t.toml", Format::Toml).unwrap().config();
        let Halves {
            mut provider,
            mut ledger,
            ..
        } = Halves::new(&cfg);
        provider.start(&mut ledger);
        let mut commits = vec![];
        while let Some(o) = provider.poll_output() {
            if let Output::Timer(at, t) = o {
                commits.push((at, t));
            }
        }
        let (at, t) = commits.into_iter().min_by_key(|c| c.0).unwrap();
        provider.handle_timeout(at, t, &mut ledger);
        while let Some(o) = provider.poll_output() {
            if let Output::Transmit(Push::Delivery(d)) = o {
                return (provider, ledger, d);
            }
        }
        panic!("no delivery at the first commit");
    }

    /// The retry timers the provider asked for.
    fn retries(p: &mut Provider) -> Vec<SimTime> {
        std::iter::from_fn(|| p.poll_output())
            .filter_map(|o| match o {
                Output::Timer(at, ProviderTimer::SendDue(_)) => Some(at),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_verdict_reaches_the_sender_with_the_presets_rules() {
        let svix = crate::model::presets::preset("svix").unwrap();
        let now = |d: &Delivery| d.deadline;
        let fail = Verdict::plain(false, false);

        // Plain (handle_answer): the schedule's first delay.
        let (mut p, mut l, d) = first_delivery();
        p.handle_answer(now(&d), d.reply.ticket, false, false, &mut l);
        assert_eq!(retries(&mut p), vec![now(&d) + svix.retries[0]]);

        // Retry-After 600 s: the retry waits for it.
        let (mut p, mut l, d) = first_delivery();
        let v = Verdict {
            retry_after: Some(SimDuration::from_secs(600)),
            ..fail
        };
        p.handle_verdict(now(&d), d.reply.ticket, v, &mut l);
        assert_eq!(retries(&mut p), vec![now(&d) + SimDuration::from_secs(600)]);

        // 410: the endpoint is disabled, the change marked so.
        let (mut p, mut l, d) = first_delivery();
        let v = Verdict { gone: true, ..fail };
        p.handle_verdict(now(&d), d.reply.ticket, v, &mut l);
        let s = p.sender().unwrap();
        assert!(s.disabled());
        assert_eq!(s.stats.disabled_times, 1);
        assert_eq!(l.marks(d.mailbox, d.seq), Mark::Disabled as u8);
        assert_eq!(l.gave_up, 1);

        // Abort: given up (not disabled), no retry.
        let (mut p, mut l, d) = first_delivery();
        let v = Verdict {
            abort: true,
            ..fail
        };
        p.handle_verdict(now(&d), d.reply.ticket, v, &mut l);
        assert!(retries(&mut p).is_empty());
        assert!(!p.sender().unwrap().disabled());
        assert_eq!(l.marks(d.mailbox, d.seq), Mark::GaveUp as u8);
    }
}
