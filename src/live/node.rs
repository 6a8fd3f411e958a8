//! The live driver's core: one task that owns the halves of a run (the
//! provider, and in `live` the consumer too), their timers, the network
//! and the ledger, and moves what they ask for onto real sockets.
//!
//! Everything reaches it as an [`Input`] on one channel (an API request
//! from the server, an endpoint's answer from a sender task, a list page
//! from a poller task, a webhook from the consumer's endpoint); timers
//! wait in an ordered map and fire when the [`Clock`] reaches them. It
//! holds no provider or consumer rule: it is `engine::des` with sockets
//! and a wall clock in place of the event queue.

use super::clock::Clock;
use super::wire::{self, Client, WireError};
use crate::engine::time::{SimDuration, SimTime};
use crate::http::{client, mail_api, webhook};
use crate::model::config::Forgery;
use crate::model::config::RunConfig;
use crate::model::consumer::{Consumer, ConsumerTimer};
use crate::model::ledger::Ledger;
use crate::model::network::{Carry, Network};
use crate::model::provider::{Provider, ProviderTimer};
use crate::model::source::ListRequest;
use crate::model::transmit::{
    Caller, Delivery, DeliveryAnswer, Early, FetchCall, Fetched, ListAnswer, ListCall, Listed,
    Output, Push, ReplyTo, Status, Ticket, ToProvider, Verdict,
};
use crate::signing::SigningKey;
use axum::body::Bytes;
use axum::http::Method;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

/// What reaches the node.
#[derive(Debug)]
pub enum Input {
    /// A mail API request, answered on `reply` (with the virtual time the
    /// answer is due: the server holds it until then).
    Api {
        /// The parsed request.
        req: mail_api::ApiRequest,
        /// Where the response goes.
        reply: oneshot::Sender<(mail_api::ApiResponse, SimTime)>,
    },
    /// A delivery attempt's outcome, from its sender task.
    Attempt {
        /// The attempt.
        ticket: Ticket,
        /// What the answer means to the sender (2xx, timeout, 410, abort,
        /// `Retry-After` in virtual time).
        verdict: Verdict,
        /// The HTTP status, or what went wrong instead.
        outcome: Outcome,
    },
    /// A forged delivery's answer: whether the endpoint acknowledged it.
    Forged {
        /// A 2xx came back.
        acked: bool,
    },
    /// A delivery POST left, this long (virtual) after its scheduled time.
    Left {
        /// How late.
        behind: SimDuration,
    },
    /// A list call's answer, read by a poller task (with the call's id).
    Listed(u64, ListAnswer),
    /// A fetch's answer (with the call's id).
    Fetched(u64, Fetched),
    /// A verified webhook at the consumer's endpoint; the endpoint's
    /// status goes back on `reply`.
    Webhook {
        /// What the envelope says.
        parsed: client::ParsedDelivery,
        /// Where the answer goes.
        reply: oneshot::Sender<Status>,
    },
    /// The consumer's replica, in the replica contract's JSON.
    Replica(oneshot::Sender<String>),
}

/// What became of one POST.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The endpoint answered with this status.
    Status(u16),
    /// No answer before the timeout.
    Timeout,
    /// The connection failed.
    Connection,
}

/// The node's timers.
#[derive(Clone, Copy, Debug)]
enum Timer {
    Provider(ProviderTimer),
    Consumer(ConsumerTimer),
    /// A refused attempt's failure reaches the sender.
    Answer(Ticket, bool),
    /// An attempt nobody answers times out.
    Deadline(Ticket),
    /// Crash window `i` starts: kill the consumer process.
    Crash(u32),
    /// A crash window ends: start the consumer process again.
    Restart,
}

/// Where the node's transmits go and how they are signed.
#[derive(Clone, Debug)]
pub struct Links {
    /// The endpoint webhook deliveries are POSTed to.
    pub webhook_url: Option<String>,
    /// The mail API the local consumer calls (`live`).
    pub api_url: Option<String>,
    /// Signing keys by generation: the first, then one per secret
    /// rotation (a `secret_rotation` fault moves to the next).
    pub keys: Arc<Vec<SigningKey>>,
    /// A key the consumer does not trust (`forged` deliveries).
    pub wrong_key: SigningKey,
}

/// Live-only figures, gathered while running.
#[derive(Clone, Debug, Default)]
pub struct LiveStats {
    /// POSTs that left.
    pub sent: u64,
    /// Answers by status, plus `timeout` and `connection_error`.
    pub outcomes: BTreeMap<String, u64>,
    /// How far a POST left after its scheduled time, at most (virtual).
    pub max_behind: SimDuration,
    /// POSTs that left more than a virtual second late.
    pub late: u64,
    /// Mail API requests answered.
    pub api_requests: u64,
    /// Forged deliveries sent (`forged` faults).
    pub forged_sent: u64,
    /// Forged deliveries the endpoint answered with a 2xx.
    pub forged_acked: u64,
    /// Deliveries signed with two secrets (a rotation's overlap).
    pub signed_twice: u64,
    /// Deliveries signed with a rotated-in secret (after a rotation).
    pub signed_rotated: u64,
}

/// Per change, when the provider first saw it reach the consumer (a 2xx
/// to its delivery, or a page that listed it), and by which path.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    at: Vec<Option<(SimTime, bool)>>,
}

impl Seen {
    fn note(&mut self, index: usize, at: SimTime, by_webhook: bool) {
        if let Some(slot) = self.at.get_mut(index) {
            slot.get_or_insert((at, by_webhook));
        }
    }

    /// When change `index` (a flat change index) first reached the
    /// consumer, and whether by webhook.
    pub fn first(&self, index: usize) -> Option<(SimTime, bool)> {
        self.at.get(index).copied().flatten()
    }
}

/// A consumer's call to the mail API, in flight.
#[derive(Clone, Copy, Debug)]
enum Call {
    List(ListCall),
    Fetch(FetchCall),
}

/// One run on real sockets (or turmoil's).
pub struct Node {
    /// The run's configs.
    pub cfg: RunConfig,
    clock: Clock,
    /// The provider half.
    pub provider: Provider,
    /// The consumer half (`live` only).
    pub consumer: Option<Consumer>,
    /// Delivery faults and latency.
    pub net: Network,
    /// What happened.
    pub ledger: Ledger,
    /// Live-only figures.
    pub stats: LiveStats,
    /// When each change first reached the consumer, as the provider saw it.
    pub seen: Seen,
    timers: BTreeMap<(SimTime, u64), Timer>,
    seq: u64,
    now: SimTime,
    links: Links,
    http: Client,
    tx: mpsc::UnboundedSender<Input>,
    tasks: JoinSet<()>,
    /// Deliveries waiting for the local consumer's answer.
    waiting: BTreeMap<u32, oneshot::Sender<Status>>,
    /// Per attempt in flight: its mailbox and change.
    attempts: BTreeMap<(u32, u32), (u32, u32)>,
    next_ticket: u32,
    /// The consumer's process, when syncsim runs it (`--consumer-cmd`).
    process: Option<super::process::ConsumerProcess>,
    /// The scenario's crash windows (applied to `process`).
    crash: Vec<crate::model::faults::Window>,
    /// The local consumer's calls in flight, by id (asked again after a
    /// restart: see [`Node::rewire`]).
    calls: BTreeMap<u64, Call>,
    next_call: u64,
}

impl Node {
    /// A node over the halves of `cfg` (with the consumer half only when
    /// `local_consumer`), reporting to `tx`.
    pub fn new(
        cfg: RunConfig,
        local_consumer: bool,
        clock: Clock,
        links: Links,
        tx: mpsc::UnboundedSender<Input>,
    ) -> Node {
        let halves = crate::model::halves::Halves::new(&cfg);
        let changes = halves.ledger.logs().total_changes() as usize;
        let crash = halves.consumer.host_faults().crash.clone();
        Node {
            cfg,
            clock,
            provider: halves.provider,
            consumer: local_consumer.then_some(halves.consumer),
            net: halves.net,
            ledger: halves.ledger,
            stats: LiveStats::default(),
            // Only a real consumer is scored from what the provider saw.
            seen: Seen {
                at: if local_consumer {
                    Vec::new()
                } else {
                    vec![None; changes]
                },
            },
            timers: BTreeMap::new(),
            seq: 0,
            now: SimTime::ZERO,
            links,
            http: wire::client(),
            tx,
            tasks: JoinSet::new(),
            waiting: BTreeMap::new(),
            attempts: BTreeMap::new(),
            next_ticket: 0,
            process: None,
            crash,
            calls: BTreeMap::new(),
            next_call: 0,
        }
    }

    /// Replaces the HTTP client (network mode: one over turmoil's TCP).
    pub fn set_client(&mut self, http: Client) {
        self.http = http;
    }

    /// Moves the node onto a new runtime after its host restarted (network
    /// mode: a crashed turmoil host comes back with fresh tasks and
    /// sockets): new inputs go to `tx`, requests through `http`. The
    /// tasks and connections of the old runtime are gone: deliveries
    /// waiting for the consumer's answer get none (their sender saw the
    /// connection drop), and each consumer call in flight is asked again,
    /// as a restarted process retries what it never heard back. Timers
    /// that came due meanwhile fire first, each at its own time.
    pub fn rewire(&mut self, tx: mpsc::UnboundedSender<Input>, http: Client) {
        self.tx = tx;
        self.http = http;
        self.tasks = JoinSet::new();
        self.waiting.clear();
        self.catch_up();
        for (id, call) in std::mem::take(&mut self.calls) {
            match call {
                Call::List(c) => self.spawn_list_as(id, c),
                Call::Fetch(c) => self.spawn_fetch_as(id, c),
            }
        }
    }

    /// Hands the node the consumer's process: crash windows kill and
    /// restart it (its first start is the caller's).
    pub fn attach_process(&mut self, p: super::process::ConsumerProcess) {
        self.process = Some(p);
    }

    /// The consumer's process, if the node runs one.
    pub fn process(&self) -> Option<&super::process::ConsumerProcess> {
        self.process.as_ref()
    }

    /// Starts the halves (their first timers).
    pub fn start(&mut self) {
        if self.process.is_some() {
            for (i, w) in self.crash.clone().iter().enumerate() {
                if let Some(at) = w.first_start() {
                    self.push(at, Timer::Crash(i as u32));
                }
            }
        }
        self.provider.start(&mut self.ledger);
        self.pump_provider(SimTime::ZERO);
        if let Some(c) = &mut self.consumer {
            c.start();
        }
        self.pump_consumer();
    }

    /// Starts only the consumer half (`consume`: the provider is another
    /// process's).
    pub fn start_consumer(&mut self) {
        if let Some(c) = &mut self.consumer {
            c.start();
        }
        self.pump_consumer();
    }

    /// Restarts the clock at virtual zero now (after the run was built:
    /// generating traffic takes wall time that must not eat into it).
    pub fn restart_clock(&mut self) -> Clock {
        self.clock = Clock::start(self.clock.speed());
        self.clock
    }

    /// The run's clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Timers waiting.
    pub fn timers_pending(&self) -> usize {
        self.timers.len()
    }

    /// The virtual time of the next timer, if any.
    pub fn next_timer(&self) -> Option<SimTime> {
        self.timers.keys().next().map(|(t, _)| *t)
    }

    /// The virtual time now (never earlier than what was handled last).
    pub fn now(&mut self) -> SimTime {
        self.now = self.now.max(self.clock.now());
        self.now
    }

    /// Fires every timer due by the clock, in `(time, seq)` order, at the
    /// node's time (inputs handled up to now went past them).
    pub fn fire_due(&mut self) {
        let limit = self.now();
        self.fire_until(limit);
    }

    /// Fires every timer already due, each at its own time (the node's
    /// time goes back to the earliest: nothing was handled since). A
    /// restarted host catches up on what came due while it was down, in
    /// order: a crash fault's start before its end.
    fn catch_up(&mut self) {
        let limit = self.clock.now();
        self.fire_until(limit);
    }

    /// Fires every timer due by `limit`, in `(time, seq)` order: a late
    /// timer runs at its own time unless the node's time went past it.
    fn fire_until(&mut self, limit: SimTime) {
        while let Some(entry) = self.timers.first_entry() {
            let (at, _) = *entry.key();
            if at > limit {
                break;
            }
            let timer = entry.remove();
            let now = at.max(self.now);
            self.now = now;
            self.dispatch(now, timer);
        }
    }

    /// Runs one timer at `now`.
    fn dispatch(&mut self, now: SimTime, timer: Timer) {
        {
            self.ledger.metrics.events += 1;
            let l = &mut self.ledger;
            match timer {
                Timer::Provider(t) => {
                    self.provider.handle_timeout(now, t, l);
                    self.pump_provider(now);
                }
                Timer::Answer(t, ok) => self.attempt_done(now, t, Verdict::plain(ok, false)),
                Timer::Deadline(t) => self.attempt_done(now, t, Verdict::plain(false, true)),
                Timer::Crash(i) => self.crash(now, i),
                Timer::Restart => self.restart(now),
                Timer::Consumer(t) => {
                    if let Some(c) = &mut self.consumer {
                        c.handle_timeout(now, t, l);
                    }
                    self.pump_consumer();
                }
            }
        }
    }

    /// Handles one input at the clock's time.
    pub fn handle(&mut self, input: Input) {
        let now = self.now();
        self.ledger.metrics.events += 1;
        match input {
            Input::Api { req, reply } => {
                let answer = self.api(now, req);
                let _ = reply.send(answer);
            }
            Input::Attempt {
                ticket,
                verdict,
                outcome,
            } => {
                let key = match outcome {
                    Outcome::Status(s) => s.to_string(),
                    Outcome::Timeout => "timeout".into(),
                    Outcome::Connection => "connection_error".into(),
                };
                *self.stats.outcomes.entry(key).or_default() += 1;
                self.attempt_done(now, ticket, verdict);
            }
            Input::Forged { acked } => self.stats.forged_acked += acked as u64,
            Input::Left { behind } => {
                self.stats.max_behind = self.stats.max_behind.max(behind);
                self.stats.late += (behind > SimDuration::from_secs(1)) as u64;
            }
            Input::Listed(id, mut a) => {
                if self.calls.remove(&id).is_none() {
                    return; // asked again after a restart: this is stale
                }
                a.at = now;
                if let Some(c) = &mut self.consumer {
                    c.handle_listed(&a, &mut self.ledger);
                }
                self.pump_consumer();
            }
            Input::Fetched(id, f) => {
                if self.calls.remove(&id).is_none() {
                    return;
                }
                if let Some(c) = &mut self.consumer {
                    c.handle_fetched(now, f, &mut self.ledger);
                }
                self.pump_consumer();
            }
            Input::Webhook { parsed, reply } => self.webhook(now, parsed, reply),
            Input::Replica(reply) => {
                if let Some(c) = &self.consumer {
                    let _ = reply.send(super::score::replica_json(c.replica(), self.ledger.logs()));
                }
            }
        }
        // Reap finished tasks so the set stays the size of what is in flight.
        while self.tasks.try_join_next().is_some() {}
    }

    /// Crash window `i` starts: SIGKILL the consumer; arm its restart and
    /// the window's next start.
    fn crash(&mut self, now: SimTime, i: u32) {
        let w = self.crash[i as usize];
        if let Some(p) = &mut self.process {
            p.kill();
            self.ledger.crashes += 1;
        }
        if let Some(end) = w.end_after(now) {
            self.push(end, Timer::Restart);
        }
        if let Some(next) = w.next_start_after(now) {
            self.push(next, Timer::Crash(i));
        }
    }

    /// A crash window ends: start the consumer again (unless another
    /// window still holds it down).
    fn restart(&mut self, now: SimTime) {
        if self.crash.iter().any(|w| w.contains(now)) {
            return;
        }
        if let Some(p) = &mut self.process {
            if let Err(e) = p.start() {
                eprintln!("warning: cannot restart the consumer: {e}");
            }
        }
    }

    /// Stops every task in flight and closes the provider's books at `end`.
    pub fn finish(&mut self, end: SimTime) {
        self.tasks.abort_all();
        self.provider.finish(end);
    }

    /// Answers a mail API request.
    fn api(&mut self, now: SimTime, req: mail_api::ApiRequest) -> (mail_api::ApiResponse, SimTime) {
        self.stats.api_requests += 1;
        let speed = self.clock.speed();
        match req {
            mail_api::ApiRequest::Mailboxes => (
                mail_api::mailboxes_response(self.ledger.logs().mailboxes()),
                now,
            ),
            mail_api::ApiRequest::List {
                mailbox,
                cursor,
                limit,
                wait,
                conditional,
            } => {
                let page_size = self.cfg.source.page_size;
                let call = ListCall {
                    req: ListRequest {
                        mailbox,
                        cursor,
                        limit: limit.unwrap_or(page_size).min(page_size),
                        conditional,
                    },
                    // `wait_ms` is wall time.
                    wait: SimDuration((wait.0 as f64 * speed) as u64),
                    caller: Caller::Reconciler,
                    sent_at: now,
                    early: Early::Errors,
                };
                let answer = self.provider.handle_list(now, call, &mut self.ledger);
                if self.consumer.is_none() {
                    self.count_served(&answer.listed);
                }
                if let Listed::Page { items, .. } = &answer.listed {
                    let base = self.ledger.logs().change_offsets()[mailbox as usize];
                    for item in items {
                        self.seen.note(base + item.seq as usize, answer.at, false);
                    }
                }
                (mail_api::list_response(&answer, speed), answer.at)
            }
            mail_api::ApiRequest::Fetch { mailbox, msg } => {
                if !self.provider.knows(now, mailbox, msg, self.ledger.logs()) {
                    let e = mail_api::ApiError::unknown_message(mailbox, msg);
                    return (e.response(), now);
                }
                let call = FetchCall {
                    mailbox,
                    msg,
                    seq: 0,
                    id: 0,
                };
                let f = self.provider.handle_fetch(now, call, &mut self.ledger);
                (mail_api::fetch_response(&f, speed), now)
            }
        }
    }

    /// A real consumer's list call, counted by what it was answered (the
    /// counters a modelled consumer keeps itself): every list call is a
    /// `poll`, a resync page a `resync`.
    fn count_served(&mut self, listed: &Listed) {
        let c = &mut self.ledger.metrics.counters;
        match listed {
            Listed::Page { items, .. } => {
                c.poll += 1;
                c.poll_empty += items.is_empty() as u64;
            }
            Listed::NotModified => {
                c.poll += 1;
                c.not_modified += 1;
            }
            Listed::RateLimited { .. } => {
                c.poll += 1;
                c.rate_limited += 1;
            }
            Listed::Unavailable => {
                c.poll += 1;
                c.errors += 1;
            }
            Listed::Expired => {
                c.poll += 1;
                c.expired += 1;
            }
            Listed::Snapshot { .. } => c.resync += 1,
        }
    }

    /// An attempt's outcome reaches the sender.
    fn attempt_done(&mut self, now: SimTime, ticket: Ticket, verdict: Verdict) {
        if let Some((m, seq)) = self.attempts.remove(&(ticket.note, ticket.gen)) {
            if verdict.ok {
                let base = self.ledger.logs().change_offsets()[m as usize];
                self.seen.note(base + seq as usize, now, true);
            }
        }
        self.provider
            .handle_verdict(now, ticket, verdict, &mut self.ledger);
        self.pump_provider(now);
    }

    fn push(&mut self, at: SimTime, timer: Timer) {
        self.seq += 1;
        self.timers.insert((at, self.seq), timer);
    }

    /// Moves what the provider asked for.
    fn pump_provider(&mut self, now: SimTime) {
        while let Some(o) = self.provider.poll_output() {
            match o {
                Output::Timer(at, t) => self.push(at, Timer::Provider(t)),
                Output::Transmit(Push::Delivery(d)) => self.send(now, d),
                // Never asked for: live and network modes refuse scenarios
                // with lifecycle notifications (`live::check_drivable`).
                Output::Transmit(Push::Lifecycle(_)) => {}
            }
        }
    }

    /// Moves what the local consumer asked for.
    fn pump_consumer(&mut self) {
        while let Some(o) = self.consumer.as_mut().and_then(|c| c.poll_output()) {
            match o {
                Output::Timer(at, t) => self.push(at, Timer::Consumer(t)),
                Output::Transmit(ToProvider::List(call)) => self.spawn_list(call),
                Output::Transmit(ToProvider::Fetch(call)) => self.spawn_fetch(call),
                Output::Transmit(ToProvider::Answer(a)) => self.answer_webhook(a),
                // The API has no subscription endpoint (live and network
                // modes refuse scenarios whose subscriptions expire, see
                // `live::check_drivable`): the in-process consumer's call
                // is answered in process, as the event engine does.
                Output::Transmit(ToProvider::Subscribe(call)) => {
                    let now = self.now();
                    let s = self.provider.handle_subscribe(now, call, &mut self.ledger);
                    if let Some(c) = self.consumer.as_mut() {
                        c.handle_subscribed(now, s, &mut self.ledger);
                    }
                }
            }
        }
    }

    /// Sends a delivery attempt through the network and onto the wire.
    fn send(&mut self, now: SimTime, d: Delivery) {
        let ticket = d.reply.ticket;
        self.attempts
            .insert((ticket.note, ticket.gen), (d.mailbox, d.seq));
        if let Some(forgery) = self.net.forge(now, d.mailbox) {
            self.spawn_forged(d, forgery, now);
        }
        match self.net.carry(now, &d, &mut self.ledger) {
            Carry::Refused { back } => {
                let t = if back <= d.deadline {
                    Timer::Answer(ticket, false)
                } else {
                    Timer::Deadline(ticket)
                };
                self.push(back.min(d.deadline), t);
            }
            Carry::Silent => self.push(d.deadline, Timer::Deadline(ticket)),
            Carry::Arrives { at, copy_at, mute } => {
                // A lost response still ends the attempt: at its deadline.
                self.spawn_post(d, at, true, mute);
                if let Some(again) = copy_at {
                    self.spawn_post(d, again, false, false);
                }
            }
        }
    }

    /// The keys that sign at `t`: the current generation, and the one
    /// before it during a rotation's overlap.
    fn keys_at(&mut self, t: SimTime) -> Vec<SigningKey> {
        let (gen, overlap) = self.net.faults().signing_generation(t);
        let keys = &self.links.keys;
        let gen = gen.min(keys.len().saturating_sub(1));
        self.stats.signed_rotated += (gen > 0) as u64;
        if overlap && gen > 0 {
            self.stats.signed_twice += 1;
            vec![keys[gen - 1].clone(), keys[gen].clone()]
        } else {
            keys.get(gen).cloned().into_iter().collect()
        }
    }

    /// POSTs a forged delivery beside `d`, now; counts whether the endpoint
    /// acknowledged it.
    fn spawn_forged(&mut self, d: Delivery, forgery: Forgery, now: SimTime) {
        let Some(url) = self.links.webhook_url.clone() else {
            return;
        };
        self.stats.forged_sent += 1;
        let fake = webhook::forged_delivery(&d, self.stats.forged_sent as u32);
        let keys = self.keys_at(now);
        let (http, tx, clock) = (self.http.clone(), self.tx.clone(), self.clock);
        let wrong = self.links.wrong_key.clone();
        self.tasks.spawn(async move {
            let req = webhook::forged_request(&fake, forgery, &keys, &wrong, clock.unix_secs());
            let result = post(&http, &url, req, Duration::from_secs(30)).await;
            let acked = matches!(&result, Ok(r) if (200..300).contains(&r.status));
            let _ = tx.send(Input::Forged { acked });
        });
    }

    /// POSTs `d` at virtual time `at`; reports the outcome when `report`
    /// (when `mute`, the response is lost: the attempt times out).
    fn spawn_post(&mut self, d: Delivery, at: SimTime, report: bool, mute: bool) {
        let Some(url) = self.links.webhook_url.clone() else {
            // No endpoint: the attempt fails like a refused connection.
            self.push(at.min(d.deadline), Timer::Answer(d.reply.ticket, false));
            return;
        };
        self.stats.sent += 1;
        let keys = self.keys_at(at);
        let (clock, http, tx) = (self.clock, self.http.clone(), self.tx.clone());
        self.tasks.spawn(async move {
            super::clock::sleep_until(clock.wall(at)).await;
            // How late it really leaves, by the wall clock (the node's
            // virtual time never runs ahead of a send it schedules).
            let behind = tokio::time::Instant::now().saturating_duration_since(clock.wall(at));
            let _ = tx.send(Input::Left {
                behind: SimDuration((behind.as_micros() as f64 * clock.speed()) as u64),
            });
            let req = webhook::request(&d, &keys, clock.unix_secs());
            let deadline = clock.wall(d.deadline);
            let timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
            let result = post(&http, &url, req, timeout.max(Duration::from_millis(1))).await;
            if !report {
                return;
            }
            let outcome = match &result {
                Ok(r) => Outcome::Status(r.status),
                Err(WireError::Timeout) => Outcome::Timeout,
                Err(_) => Outcome::Connection,
            };
            let verdict = match (&result, mute) {
                (_, true) => {
                    tokio::time::sleep_until(deadline).await;
                    Verdict::plain(false, true)
                }
                (Ok(r), false) => {
                    webhook::answer(r.status, &r.header_pairs()).verdict(clock.speed())
                }
                (Err(WireError::Timeout), false) => Verdict::plain(false, true),
                (Err(_), false) => Verdict::plain(false, false),
            };
            let _ = tx.send(Input::Attempt {
                ticket: d.reply.ticket,
                verdict,
                outcome,
            });
        });
    }

    /// A list call goes to the mail API; its answer comes back as input.
    fn spawn_list(&mut self, call: ListCall) {
        self.next_call += 1;
        self.spawn_list_as(self.next_call, call);
    }

    fn spawn_list_as(&mut self, id: u64, call: ListCall) {
        let Some(api) = self.links.api_url.clone() else {
            return;
        };
        self.calls.insert(id, Call::List(call));
        let (http, tx, speed) = (self.http.clone(), self.tx.clone(), self.clock.speed());
        self.tasks.spawn(async move {
            let result = get(&http, &api, client::list_request(&call, speed)).await;
            let listed = match result {
                Ok(r) => client::parse_list_response(r.status, &r.header_pairs(), &r.body, speed)
                    .unwrap_or(Listed::Unavailable),
                Err(_) => Listed::Unavailable,
            };
            let _ = tx.send(Input::Listed(
                id,
                ListAnswer {
                    mailbox: call.req.mailbox,
                    asked: call.req.cursor,
                    caller: call.caller,
                    early: call.early,
                    sent_at: call.sent_at,
                    at: call.sent_at,
                    listed,
                },
            ));
        });
    }

    /// A fetch goes to the mail API; its answer comes back as input.
    fn spawn_fetch(&mut self, call: FetchCall) {
        self.next_call += 1;
        self.spawn_fetch_as(self.next_call, call);
    }

    fn spawn_fetch_as(&mut self, id: u64, call: FetchCall) {
        let Some(api) = self.links.api_url.clone() else {
            return;
        };
        self.calls.insert(id, Call::Fetch(call));
        let (http, tx, speed) = (self.http.clone(), self.tx.clone(), self.clock.speed());
        self.tasks.spawn(async move {
            let result = get(&http, &api, client::fetch_request(&call)).await;
            let result = match result {
                Ok(r) => client::parse_fetch_response(r.status, &r.header_pairs(), &r.body, speed)
                    .unwrap_or(Err(Listed::Unavailable)),
                Err(_) => Err(Listed::Unavailable),
            };
            let _ = tx.send(Input::Fetched(id, Fetched { call, result }));
        });
    }

    /// A verified webhook reaches the local consumer.
    fn webhook(&mut self, now: SimTime, p: client::ParsedDelivery, reply: oneshot::Sender<Status>) {
        let Some(c) = &mut self.consumer else { return };
        self.next_ticket += 1;
        let ticket = Ticket {
            note: self.next_ticket,
            gen: 0,
        };
        self.waiting.insert(ticket.note, reply);
        let d = Delivery {
            reply: ReplyTo {
                ticket,
                lost: false,
            },
            attempt: 1,
            mailbox: p.mailbox,
            seq: p.seq,
            msg: p.msg,
            version: p.version,
            deadline: now,
        };
        c.handle_delivery(now, d, true, &mut self.ledger);
        self.pump_consumer();
    }

    /// The local consumer's answer to a delivery goes back on its request.
    fn answer_webhook(&mut self, a: DeliveryAnswer) {
        if let Some(reply) = self.waiting.remove(&a.reply.ticket.note) {
            let _ = reply.send(a.status);
        }
    }
}

/// POSTs a signed webhook request to `url`.
async fn post(
    http: &Client,
    url: &str,
    req: webhook::WebhookRequest,
    timeout: Duration,
) -> Result<wire::Reply, WireError> {
    let mut headers: Vec<(&str, &str)> = req.headers.pairs().to_vec();
    headers.push(("content-type", "application/json"));
    wire::send(
        http,
        Method::POST,
        url,
        &headers,
        Bytes::from(req.body),
        timeout,
    )
    .await
}

/// GETs a mail API request from `api` (`http://host:port`). The API's own
/// answers come back well within the timeout (a long poll holds 60 wall
/// seconds at most).
async fn get(
    http: &Client,
    api: &str,
    req: client::ClientRequest,
) -> Result<wire::Reply, WireError> {
    let headers: Vec<(&str, &str)> = req.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let url = format!("{api}{}", req.path_and_query);
    wire::send(
        http,
        Method::GET,
        &url,
        &headers,
        Bytes::new(),
        Duration::from_secs(120),
    )
    .await
}
