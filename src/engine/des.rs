//! The discrete-event driver: builds the components for a scenario, runs
//! the event loop in virtual time, and writes the report.
//!
//! ```text
//!   Commit(m) ──► Sender ──Send──► faults.fate ──► Arrive ──► Receiver ──► WorkerDone ──► Replica
//!                   ▲                                  │                       │
//!                   └──── Answer / Timeout ◄───────────┘◄──────(inline)────────┘
//!   Poll(m) ──► Source.list ──► Replica (page applied at now + latency) ──► Poller
//! ```
//!
//! Polling is one event per request: the source answers "as of" the event
//! time and the page is applied at `now + latency` within the same event.
//! That look-ahead is sound because with the `poll` strategy nothing else
//! touches mailbox `m`'s replica or poller in between.
//!
//! Invariant: the loop reads no clock, spawns nothing, and its only source
//! of order is the event queue's `(time, seq)`.

use super::queue::EventQueue;
use super::rng::{Purpose, Streams};
use super::sample::Sampler;
use super::time::{SimDuration, SimTime};
use super::trace::{Filter, Record, Trace};
use crate::detail;
use crate::metrics::assemble::{assemble, HookStats, Observed};
use crate::metrics::report::Report;
use crate::metrics::{Metrics, Path};
use crate::model::config::{Ack, ConsumerConfig, Dedup, RunConfig};
use crate::model::consumer;
use crate::model::faults::FaultPlan;
use crate::model::network::{Carry, Network};
use crate::model::poller::{Poller, RequestKind};
use crate::model::presets::Payload;
use crate::model::receiver::{Done, Failure, Item, Receiver, Reply, WorkerTimer};
use crate::model::reconciler::Reconciler;
use crate::model::replica::{Mark, Replica};
use crate::model::sender::{NoteId, Sender, SenderOut};
use crate::model::source::{Cursor, ListOutcome, ListRequest, Source};
use crate::model::traffic::Change;
use crate::model::{faults::Window, traffic};
use crate::scenario::Scenario;

/// What can happen at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    /// Mailbox `m`'s poller sends its next request.
    Poll(u32),
    /// Mailbox `m`'s next change commits: the provider notifies.
    Commit(u32),
    /// A notification's retry is due.
    SendDue(NoteId),
    /// A delivery request for change `seq` of `mailbox` reaches the
    /// endpoint (it names the change itself: a late copy may arrive after
    /// the note's slot was reused).
    /// (`change` is its global index, see `Logs::global`; `mute` means the
    /// response will be lost).
    Arrive {
        note: NoteId,
        gen: u32,
        change: u32,
        mute: bool,
    },
    /// A delivery's outcome reaches the sender.
    Answer { note: NoteId, gen: u32, ok: bool },
    /// A delivery's deadline: no answer by now is a failure.
    Timeout { note: NoteId, gen: u32 },
    /// A receiver worker finishes its item.
    WorkerDone { worker: u32, gen: u32 },
    /// Crash fault `i` takes the consumer down.
    Crash(u32),
    /// Crash fault `i`'s downtime ends.
    Restart(u32),
    /// The provider re-enables a disabled endpoint.
    Reenable,
    /// Mailbox `m`'s reconciler sends its next request.
    Reconcile(u32),
    /// The answer to mailbox `m`'s reconcile request arrives.
    ReconcileAnswer(u32),
}

/// The webhook machinery of a run.
struct Hooks {
    sender: Sender,
    receiver: Receiver,
    net: Network,
    payload: Payload,
    timeout: SimDuration,
    /// Per mailbox: the next change to notify.
    next_commit: Vec<u32>,
    sender_out: Vec<SenderOut>,
    worker_out: Vec<WorkerTimer>,
    /// Deliveries that reached the consumer a second time or more.
    duplicates: u64,
    /// Thin-payload fetches.
    fetches: u64,
    /// Changes the sender gave up on.
    gave_up: u64,
}

/// Everything a run holds.
struct World {
    cfg: RunConfig,
    end: SimTime,
    queue: EventQueue<Event>,
    source: Source,
    replica: Replica,
    metrics: Metrics,
    faults: FaultPlan,
    dedup: Dedup,
    poller: Option<Poller>,
    hooks: Option<Hooks>,
    reconciler: Option<Reconciler>,
    /// Per mailbox: the reconcile request in flight and when it was sent
    /// (its answer is computed as of then, when it arrives).
    reconcile_asked: Vec<(SimTime, ListRequest)>,
    /// Long polling: how long the source holds a request.
    long_poll: Option<SimDuration>,
    /// The trace being collected, if any.
    trace: Option<Trace>,
    crashes: u64,
}

thread_local! {
    /// Seed and virtual time of the last run that panicked on this thread.
    static PANIC_AT: std::cell::Cell<Option<(u64, SimTime)>> = const { std::cell::Cell::new(None) };
}

/// Where the last run on this thread panicked (seed, virtual time), if one
/// did since the last call: crash reports name the instant to replay.
pub fn take_panic_context() -> Option<(u64, SimTime)> {
    PANIC_AT.with(|p| p.take())
}

/// Runs `scenario` to the end of its drain and returns the sealed report.
pub fn run(scenario: &Scenario) -> Report {
    run_config(scenario.config())
}

/// Runs one run's configs to the end of the drain and returns the sealed
/// report.
pub fn run_config(cfg: RunConfig) -> Report {
    let mut world = World::new(cfg);
    world.run();
    world.report()
}

/// Runs `scenario` and also returns the timeline of everything that
/// touched what `filter` names, in time order (commits included).
pub fn run_traced(scenario: &Scenario, filter: Filter) -> (Report, Vec<Record>) {
    let mut world = World::new(scenario.config());
    world.trace = Some(Trace::new(filter));
    world.run();
    let report = world.report();
    let mut records = world.trace.take().map(|t| t.records).unwrap_or_default();
    let m = filter.mailbox();
    if m < world.source.mailboxes() {
        let mut commits: Vec<Record> = Vec::new();
        for (seq, c) in world.source.logs().changes(m).iter().enumerate() {
            if let Filter::Message(_, msg) = filter {
                if c.msg != msg {
                    continue;
                }
            }
            let stamp = world.source.logs().stamp(m, seq as u32);
            commits.push(Record {
                at: c.at,
                mailbox: m,
                change: Some((seq as u32, c.msg, c.version)),
                event: "commit",
                detail: detail!("kind" => format!("{:?}", c.kind()).to_lowercase(), "stamp_us" => stamp),
            });
        }
        commits.extend(records);
        records = commits;
        records.sort_by_key(|r| r.at); // stable: commits first at equal times
    }
    (report, records)
}

/// Records a trace event (the cold path: only called while tracing).
#[cold]
#[inline(never)]
fn emit(
    trace: &mut Option<Trace>,
    at: SimTime,
    m: u32,
    change: Option<(u32, u32, u32)>,
    event: &'static str,
    detail: serde_json::Map<String, serde_json::Value>,
) {
    if let Some(t) = trace {
        let keep = match t.filter {
            Filter::Mailbox(fm) => fm == m,
            Filter::Message(fm, msg) => {
                fm == m
                    && (change.map(|c| c.1) == Some(msg)
                        || (change.is_none() && event == "consumer_crash"))
            }
        };
        if keep {
            t.records.push(Record {
                at,
                mailbox: m,
                change,
                event,
                detail,
            });
        }
    }
}

/// `trace!(self.trace, at, mailbox, change, "event", "key" => value, ...)`:
/// one branch when tracing is off; builds the record only when on.
macro_rules! trace {
    ($tr:expr, $at:expr, $m:expr, $change:expr, $event:literal $(, $k:literal => $v:expr)* $(,)?) => {
        if $tr.is_some() {
            emit(&mut $tr, $at, $m, $change, $event, detail!($($k => $v),*));
        }
    };
}

/// Applies a listed page (poll or reconcile) at `at` through
/// [`consumer::apply_page`], tracing each application when tracing.
#[inline]
fn apply_page(
    replica: &mut Replica,
    metrics: &mut Metrics,
    trace: &mut Option<Trace>,
    m: u32,
    items: crate::model::source::Items<'_>,
    at: SimTime,
    path: Path,
) {
    consumer::apply_page(replica, metrics, m, items, at, path, |seq, change, a| {
        trace!(*trace, at, m, Some((seq, change.msg, change.version)), "apply",
            "path" => format!("{path:?}").to_lowercase(), "first" => a.first, "effect" => format!("{:?}", a.effect));
    });
}

/// `(seq, message, version)` of change `seq` of mailbox `m`.
fn change_of(logs: &crate::model::traffic::Logs, m: u32, seq: u32) -> Option<(u32, u32, u32)> {
    logs.changes(m)
        .get(seq as usize)
        .map(|c| (seq, c.msg, c.version))
}

impl World {
    fn new(cfg: RunConfig) -> Self {
        let streams = Streams::new(cfg.seed);
        let end = SimTime(cfg.end().0);
        let logs = traffic::generate(&cfg.source, cfg.horizon, &streams);
        let n = logs.mailboxes();
        let faults = FaultPlan::new(&cfg.faults, n, &streams);
        let source = Source::new(
            &cfg.source,
            logs,
            faults.source_outage.clone(),
            faults.rate_squeeze.clone(),
            &streams,
        );
        let replica = Replica::new(source.logs());
        let consumer = cfg.consumer.clone();
        let mut world = World {
            cfg,
            end,
            queue: EventQueue::new(),
            source,
            replica,
            metrics: Metrics::default(),
            faults,
            dedup: Dedup::default(),
            poller: None,
            hooks: None,
            reconciler: None,
            reconcile_asked: Vec::new(),
            long_poll: None,
            trace: None,
            crashes: 0,
        };
        let (hook_cfg, reconciler) = match consumer {
            ConsumerConfig::Poll(p) => {
                world.long_poll = p.long_poll;
                let (poller, firsts) = Poller::new(p.poller, n, &streams);
                for (m, t) in firsts.into_iter().enumerate() {
                    world.queue.push(t, Event::Poll(m as u32));
                }
                world.poller = Some(poller);
                (None, None)
            }
            ConsumerConfig::Webhook(h) => (Some(h), None),
            ConsumerConfig::Hybrid(h, r) => (Some(h), Some(r)),
        };
        if let Some(h) = hook_cfg {
            let receiver = Receiver::new(
                h.receiver,
                streams.stream(Purpose::HandlerTime, 0),
                streams.stream(Purpose::ProcessingFailure, 0),
            );
            for m in 0..n {
                if let Some(first) = world.source.logs().changes(m).first() {
                    world.queue.push(first.at, Event::Commit(m));
                }
            }
            world.dedup = h.dedup;
            let cfg = h.sender;
            world.hooks = Some(Hooks {
                net: Network::new(Sampler::new(
                    cfg.latency,
                    streams.stream(Purpose::WebhookLatency, 0),
                )),
                payload: cfg.payload,
                timeout: cfg.timeout,
                sender: Sender::new(cfg),
                receiver,
                next_commit: vec![0; n as usize],
                sender_out: Vec::new(),
                worker_out: Vec::new(),
                duplicates: 0,
                fetches: 0,
                gave_up: 0,
            });
        }
        if let Some(cfg) = reconciler {
            let (rec, firsts) = Reconciler::new(cfg, n, &streams);
            for (m, t) in firsts.into_iter().enumerate() {
                world.queue.push(t, Event::Reconcile(m as u32));
            }
            world.reconciler = Some(rec);
            let idle = ListRequest {
                mailbox: 0,
                cursor: Cursor::Start,
                limit: 0,
                conditional: false,
            };
            world.reconcile_asked = vec![(SimTime::ZERO, idle); n as usize];
        }
        for (i, w) in world.faults.consumer_crash.clone().iter().enumerate() {
            if let Some(start) = first_start(w) {
                world.queue.push(start, Event::Crash(i as u32));
            }
        }
        world
    }

    /// Runs the loop. A panic (a syncsim bug) is re-raised unchanged after
    /// noting the virtual time it happened at, for the crash report.
    fn run(&mut self) {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_loop()));
        if let Err(payload) = result {
            PANIC_AT.with(|p| p.set(Some((self.cfg.seed, self.queue.now()))));
            std::panic::resume_unwind(payload);
        }
    }

    fn run_loop(&mut self) {
        while let Some((now, event)) = self.queue.pop() {
            if now >= self.end {
                break;
            }
            self.metrics.events += 1;
            match event {
                Event::Poll(m) => self.poll(now, m),
                Event::Commit(m) => self.commit(now, m),
                Event::SendDue(note) => self.with_sender(now, |s, out| s.retry_due(now, note, out)),
                Event::Arrive {
                    note,
                    gen,
                    change,
                    mute,
                } => {
                    let (mailbox, seq) = self.source.logs().locate(change);
                    self.arrive(now, note, gen, mailbox, seq, mute)
                }
                Event::Answer { note, gen, ok } => {
                    self.trace_outcome(
                        now,
                        note,
                        gen,
                        if ok { "answer_ok" } else { "answer_failed" },
                    );
                    self.with_sender(now, |s, out| {
                        s.on_result(now, note, gen, ok, out);
                    })
                }
                Event::Timeout { note, gen } => {
                    self.trace_outcome(now, note, gen, "timeout");
                    self.with_sender(now, |s, out| {
                        s.on_result(now, note, gen, false, out);
                    })
                }
                Event::WorkerDone { worker, gen } => self.worker_done(now, worker, gen),
                Event::Crash(i) => self.crash(now, i),
                Event::Restart(i) => self.restart(now, i),
                Event::Reenable => self.with_sender(now, |s, _| s.reenable(now)),
                Event::Reconcile(m) => self.reconcile(now, m),
                Event::ReconcileAnswer(m) => self.reconcile_answer(now, m),
            }
        }
        if let Some(h) = &mut self.hooks {
            h.sender.finish(self.end);
        }
    }

    // ----- polling -------------------------------------------------------

    /// Sends mailbox `m`'s request at `now` and applies the answer when it
    /// arrives (one event per request).
    fn poll(&mut self, now: SimTime, m: u32) {
        if let Some(back) = self.down_until(now) {
            self.queue.push(back, Event::Poll(m));
            return;
        }
        let poller = self
            .poller
            .as_mut()
            .expect("poll events only with a poller");
        let (req, kind) = poller.request(m);
        self.metrics.source_request(now);
        let c = &mut self.metrics.counters;
        match kind {
            RequestKind::Resync => c.resync += 1,
            _ => c.poll += 1,
        }
        c.poll_cycles += (kind == RequestKind::CycleStart) as u64;
        let answer = self.source.list(now, req);
        let latency = answer.latency;
        let empty = match answer.outcome {
            ListOutcome::Page(p) => p.items.is_empty(),
            ListOutcome::NotModified => true,
            _ => false,
        };
        // Long polling: an empty answer is held until the next commit or
        // the hold timeout, and answered as of then.
        let (answered, outcome) = match self.long_poll {
            Some(hold) if empty => match self.source.next_commit(m, req.cursor) {
                Some(v) if v <= now + hold => (v, self.source.answer(v, req)),
                _ => (now + hold, self.source.answer(now, req)),
            },
            _ => (now, answer.outcome),
        };
        let arrive = answered + latency;
        if arrive >= self.end {
            return;
        }
        if self.trace.is_some() {
            let answer = match &outcome {
                ListOutcome::Page(p) => {
                    format!("page of {} (has_more {})", p.items.len(), p.has_more)
                }
                ListOutcome::NotModified => "304".into(),
                ListOutcome::RateLimited { retry_after } => {
                    format!("429, retry after {retry_after}")
                }
                ListOutcome::Unavailable => "503".into(),
                ListOutcome::Expired => "cursor expired".into(),
                ListOutcome::Snapshot { page, pages, .. } => {
                    format!("resync page {} of {pages}", page + 1)
                }
            };
            trace!(self.trace, now, m, None, "poll", "cursor" => format!("{:?}", req.cursor), "answer" => answer, "arrives_us" => arrive.0);
        }
        let next = match outcome {
            ListOutcome::NotModified => {
                c.not_modified += 1;
                let cursor = req.cursor;
                poller.on_page_applied(m, arrive, cursor, false)
            }
            ListOutcome::Page(page) => {
                c.poll_empty += page.items.is_empty() as u64;
                apply_page(
                    &mut self.replica,
                    &mut self.metrics,
                    &mut self.trace,
                    m,
                    page.items,
                    arrive,
                    Path::Poll,
                );
                poller.on_page_applied(m, arrive, page.next_cursor, page.has_more)
            }
            ListOutcome::RateLimited { retry_after } => {
                c.rate_limited += 1;
                poller.on_rate_limited(m, arrive, retry_after)
            }
            ListOutcome::Unavailable => {
                c.errors += 1;
                poller.on_error(m, arrive)
            }
            ListOutcome::Expired => {
                c.expired += 1;
                poller.on_expired(m, arrive)
            }
            ListOutcome::Snapshot {
                page,
                pages,
                end_cursor,
            } => {
                if page + 1 == pages {
                    c.resyncs += 1;
                    consumer::apply_snapshot(
                        self.source.logs(),
                        &mut self.replica,
                        &mut self.metrics,
                        m,
                        now,
                        arrive,
                    );
                }
                poller.on_snapshot(m, arrive, page, pages, end_cursor)
            }
        };
        self.queue.push(next, Event::Poll(m));
    }

    // ----- reconciliation ------------------------------------------------

    /// Mailbox `m`'s reconciler sends a request (two events per request:
    /// the webhook path may touch the replica before the answer arrives).
    fn reconcile(&mut self, now: SimTime, m: u32) {
        let rec = self
            .reconciler
            .as_mut()
            .expect("reconcile events only with a reconciler");
        if self.faults.consumer_down(now) {
            let next = rec.skip(m, now);
            self.queue.push(next, Event::Reconcile(m));
            return;
        }
        let (req, _starts) = rec.request(m, now);
        trace!(self.trace, now, m, None, "reconcile_request", "cursor" => format!("{:?}", req.cursor));
        self.metrics.source_request(now);
        self.metrics.counters.reconcile += 1;
        let (admitted, latency) = self.source.admit(now, m);
        let arrive = now + latency;
        if arrive >= self.end {
            return;
        }
        let next = match admitted {
            Ok(()) => {
                self.reconcile_asked[m as usize] = (now, req);
                self.queue.push(arrive, Event::ReconcileAnswer(m));
                return;
            }
            Err(ListOutcome::RateLimited { retry_after }) => {
                self.metrics.counters.rate_limited += 1;
                rec.on_error(m, arrive, retry_after)
            }
            Err(_) => {
                self.metrics.counters.errors += 1;
                rec.on_error(m, arrive, SimDuration::ZERO)
            }
        };
        self.queue.push(next, Event::Reconcile(m));
    }

    /// The answer to a reconcile request arrives: apply what the replica
    /// lacks (by version), then continue or end the run.
    fn reconcile_answer(&mut self, now: SimTime, m: u32) {
        let rec = self.reconciler.as_mut().expect("reconciler");
        if self.faults.consumer_down(now) {
            let next = rec.skip(m, now);
            self.queue.push(next, Event::Reconcile(m));
            return;
        }
        let (asked, req) = self.reconcile_asked[m as usize];
        let next = match self.source.answer(asked, req) {
            ListOutcome::Page(page) => {
                trace!(self.trace, now, m, None, "reconcile_page", "changes" => page.items.len(), "has_more" => page.has_more);
                apply_page(
                    &mut self.replica,
                    &mut self.metrics,
                    &mut self.trace,
                    m,
                    page.items,
                    now,
                    Path::Reconcile,
                );
                rec.on_page(m, now, page.next_cursor, page.has_more)
            }
            _ => rec.skip(m, now),
        };
        self.queue.push(next, Event::Reconcile(m));
    }

    // ----- webhooks ------------------------------------------------------

    fn hooks(&mut self) -> &mut Hooks {
        self.hooks
            .as_mut()
            .expect("webhook events only with webhooks")
    }

    /// Mailbox `m`'s next change commits: notify, and schedule the next.
    fn commit(&mut self, now: SimTime, m: u32) {
        let h = self
            .hooks
            .as_mut()
            .expect("commit events only with webhooks");
        let seq = h.next_commit[m as usize];
        h.next_commit[m as usize] += 1;
        if let Some(next) = self.source.logs().changes(m).get(seq as usize + 1) {
            self.queue.push(next.at, Event::Commit(m));
        }
        trace!(
            self.trace,
            now,
            m,
            change_of(self.source.logs(), m, seq),
            "notify"
        );
        self.with_sender(now, |s, out| s.notify(now, m, seq, out));
    }

    /// Runs `f` on the sender, then carries out what it asked for.
    fn with_sender(&mut self, now: SimTime, f: impl FnOnce(&mut Sender, &mut Vec<SenderOut>)) {
        let h = self.hooks();
        let mut out = std::mem::take(&mut h.sender_out);
        f(&mut h.sender, &mut out);
        for o in out.drain(..) {
            match o {
                SenderOut::Send(note) => self.transmit(now, note),
                SenderOut::Retry(note, at) => {
                    if self.trace.is_some() {
                        let n = *self.hooks().sender.note(note);
                        let ch = change_of(self.source.logs(), n.mailbox, n.seq);
                        trace!(self.trace, now, n.mailbox, ch, "retry_scheduled", "attempt" => n.attempt + 1, "at_us" => at.0, "at" => SimDuration(at.0).to_string());
                    }
                    self.queue.push(at, Event::SendDue(note))
                }
                SenderOut::Reenable(at) => self.queue.push(at, Event::Reenable),
                SenderOut::GaveUp {
                    mailbox,
                    seq,
                    disabled,
                } => {
                    self.hooks().gave_up += 1;
                    trace!(self.trace, now, mailbox, change_of(self.source.logs(), mailbox, seq), "gave_up", "endpoint_disabled" => disabled);
                    let mark = if disabled {
                        Mark::Disabled
                    } else {
                        Mark::GaveUp
                    };
                    self.replica.mark(mailbox, seq, mark);
                }
            }
        }
        self.hooks().sender_out = out;
    }

    /// Traces the outcome of an attempt, if it is still the current one.
    fn trace_outcome(&mut self, now: SimTime, note: NoteId, gen: u32, event: &'static str) {
        if self.trace.is_none() {
            return;
        }
        let n = *self.hooks().sender.note(note);
        if n.gen == gen && n.in_flight {
            let ch = change_of(self.source.logs(), n.mailbox, n.seq);
            emit(
                &mut self.trace,
                now,
                n.mailbox,
                ch,
                event,
                detail!("attempt" => n.attempt),
            );
        }
    }

    /// Sends the current attempt of `note` through the faults and network.
    fn transmit(&mut self, now: SimTime, note: NoteId) {
        let h = self.hooks.as_mut().expect("webhooks");
        let n = *h.sender.note(note);
        let gen = n.gen;
        let deadline = now + h.timeout;
        let fate = if self.faults.affects_deliveries() {
            self.faults.fate(now, n.mailbox)
        } else {
            Default::default()
        };
        let inline = h.receiver.config().ack == Ack::Inline;
        if self.trace.is_some() {
            let what = match (fate.outage, fate.drop_request) {
                (Some(mode), _) => format!("endpoint outage ({mode:?})"),
                (None, true) => "request lost".into(),
                _ => "sent".into(),
            };
            let ch = change_of(self.source.logs(), n.mailbox, n.seq);
            trace!(self.trace, now, n.mailbox, ch, "attempt", "attempt" => n.attempt, "fate" => what,
                "response_lost" => fate.drop_response, "duplicated" => fate.duplicate, "extra_delay_ms" => fate.extra_delay.as_millis_f64());
        }
        let carry = self.hooks().net.send(now, fate);
        match carry {
            Carry::Refused { back } => self.answer_by(back, deadline, note, gen, false),
            Carry::Silent => self.queue.push(deadline, Event::Timeout { note, gen }),
            Carry::Arrives { at, copy_at, mute } => {
                let change = self.source.logs().global(n.mailbox, n.seq);
                self.queue.push(
                    at,
                    Event::Arrive {
                        note,
                        gen,
                        change,
                        mute,
                    },
                );
                if let Some(again) = copy_at {
                    self.queue.push(
                        again,
                        Event::Arrive {
                            note,
                            gen,
                            change,
                            mute: true,
                        },
                    );
                }
                if inline || at > deadline {
                    // The answer's time is not known yet (or is already too late).
                    self.queue.push(deadline, Event::Timeout { note, gen });
                }
            }
        }
    }

    /// The sender learns `ok` at `at`, unless that is past the deadline,
    /// in which case it times out at the deadline.
    fn answer_by(&mut self, at: SimTime, deadline: SimTime, note: NoteId, gen: u32, ok: bool) {
        if at <= deadline {
            self.queue.push(at, Event::Answer { note, gen, ok });
        } else {
            self.queue.push(deadline, Event::Timeout { note, gen });
        }
    }

    /// A delivery request reaches the endpoint.
    fn arrive(&mut self, now: SimTime, note: NoteId, gen: u32, mailbox: u32, seq: u32, mute: bool) {
        let slow = self.faults.slow_factor(now);
        let h = self.hooks.as_mut().expect("webhooks");
        let n = *h.sender.note(note);
        // A late copy of an attempt the sender has settled: the endpoint
        // still processes it (a duplicate), but nobody hears the answer.
        let current = n.gen == gen && n.in_flight;
        let inline = h.receiver.config().ack == Ack::Inline;
        let item = Item {
            mailbox,
            seq,
            reply_to: (inline && current).then_some((note, gen)),
            tries: 0,
            mute,
        };
        let mut timers = std::mem::take(&mut h.worker_out);
        let reply = h.receiver.on_request(now, item, slow, &mut timers);
        let deadline = n.sent_at + h.timeout;
        let back = now + h.net.one_way();
        if self.trace.is_some() {
            let ch = change_of(self.source.logs(), mailbox, seq);
            trace!(self.trace, now, mailbox, ch, "arrive", "reply" => format!("{reply:?}"), "late_copy" => !current, "response_lost" => mute);
        }
        let h = self.hooks.as_mut().expect("webhooks");
        if matches!(reply, Reply::Accepted | Reply::Pending) && self.replica.received(mailbox, seq)
        {
            h.duplicates += 1;
        }
        self.push_workers(&mut timers);
        self.hooks().worker_out = timers;
        if !current {
            return;
        }
        match reply {
            Reply::Accepted if mute => self
                .queue
                .push(deadline.max(now), Event::Timeout { note, gen }),
            Reply::Accepted => self.answer_by(back, deadline.max(now), note, gen, true),
            Reply::Refused | Reply::RateLimited => {
                self.answer_by(back, deadline.max(now), note, gen, false)
            }
            Reply::Pending => {}
        }
    }

    fn push_workers(&mut self, timers: &mut Vec<WorkerTimer>) {
        for t in timers.drain(..) {
            self.queue.push(
                t.at,
                Event::WorkerDone {
                    worker: t.worker,
                    gen: t.gen,
                },
            );
        }
    }

    /// A receiver worker finished: apply (fetching first for thin
    /// payloads), answer inline requests, keep the workers busy.
    fn worker_done(&mut self, now: SimTime, worker: u32, gen: u32) {
        let slow = self.faults.slow_factor(now);
        let h = self.hooks.as_mut().expect("webhooks");
        let mut timers = std::mem::take(&mut h.worker_out);
        let done = h
            .receiver
            .on_worker_done(now, worker, gen, slow, &mut timers);
        let (item, ok) = match done {
            None => (None, false),
            Some(Done::Failed(item, failure)) => {
                self.settle_failure(now, item, failure);
                (None, false)
            }
            Some(Done::Process(item)) => (Some(item), true),
        };
        if let (Some(item), true) = (item, ok) {
            self.process(now, item, slow, &mut timers);
        }
        self.push_workers(&mut timers);
        self.hooks().worker_out = timers;
    }

    /// Applies one processed notification to the replica.
    fn process(&mut self, now: SimTime, item: Item, slow: f64, timers: &mut Vec<WorkerTimer>) {
        let change = self.source.logs().changes(item.mailbox)[item.seq as usize];
        let data: Change = if self.hooks().payload == Payload::Thin {
            self.metrics.source_request(now);
            self.hooks().fetches += 1;
            match self.source.fetch(now, item.mailbox, change.msg) {
                Ok(latest) => self.source.logs().changes(item.mailbox)[latest as usize],
                Err(outcome) => {
                    match outcome {
                        ListOutcome::RateLimited { .. } => self.metrics.counters.rate_limited += 1,
                        _ => self.metrics.counters.errors += 1,
                    }
                    let failure = self.hooks().receiver.fail(item);
                    self.hooks().receiver.start_workers(now, slow, timers);
                    self.settle_failure(now, item, failure);
                    return;
                }
            }
        } else {
            change
        };
        let a = self
            .replica
            .apply(item.mailbox, item.seq, &data, self.dedup);
        self.metrics
            .record_apply(a, now.since(change.at), Path::Webhook);
        trace!(self.trace, now, item.mailbox, Some((item.seq, change.msg, change.version)), "apply",
            "path" => "webhook", "first" => a.first, "effect" => format!("{:?}", a.effect), "written_version" => data.number());
        self.answer_inline(now, item, true);
    }

    /// `inline` only: the endpoint's answer to the request that carried
    /// `item` travels back to the sender (unless the response is lost).
    fn answer_inline(&mut self, now: SimTime, item: Item, ok: bool) {
        if let (Some((note, gen)), false) = (item.reply_to, item.mute) {
            let back = now + self.hooks().net.one_way();
            self.queue.push(back, Event::Answer { note, gen, ok });
        }
    }

    /// An inline failure answers 500; other failures were requeued or
    /// dead-lettered by the receiver.
    fn settle_failure(&mut self, now: SimTime, item: Item, failure: Failure) {
        if self.trace.is_some() {
            let ch = change_of(self.source.logs(), item.mailbox, item.seq);
            trace!(self.trace, now, item.mailbox, ch, "processing_failed", "then" => format!("{failure:?}"), "tries" => item.tries + 1);
        }
        if failure == Failure::DeadLettered {
            self.replica
                .mark(item.mailbox, item.seq, Mark::DeadLettered);
        }
        if failure == Failure::Answered500 {
            self.answer_inline(now, item, false);
        }
    }

    // ----- consumer crashes ----------------------------------------------

    /// When the consumer is down at `now`, the time it comes back.
    fn down_until(&self, now: SimTime) -> Option<SimTime> {
        self.faults
            .consumer_crash
            .iter()
            .filter_map(|w| w.end_after(now))
            .max()
    }

    fn crash(&mut self, now: SimTime, i: u32) {
        if let Some(m) = self.trace.as_ref().map(|t| t.filter.mailbox()) {
            let until = self.faults.consumer_crash[i as usize]
                .end_after(now)
                .map_or(0, |t| t.0);
            emit(
                &mut self.trace,
                now,
                m,
                None,
                "consumer_crash",
                detail!("until_us" => until),
            );
        }
        let w = self.faults.consumer_crash[i as usize];
        self.crashes += 1;
        if let Some(end) = w.end_after(now) {
            self.queue.push(end, Event::Restart(i));
        }
        if let Some(next) = w.next_start_after(now) {
            self.queue.push(next, Event::Crash(i));
        }
        if let Some(h) = &mut self.hooks {
            for item in h.receiver.crash() {
                self.replica.mark(item.mailbox, item.seq, Mark::Crashed);
                if self.trace.is_some() {
                    let ch = change_of(self.source.logs(), item.mailbox, item.seq);
                    emit(
                        &mut self.trace,
                        now,
                        item.mailbox,
                        ch,
                        "lost_in_crash",
                        detail!(),
                    );
                }
            }
        }
    }

    fn restart(&mut self, now: SimTime, _i: u32) {
        if self.faults.consumer_down(now) {
            return; // another crash window still holds it down
        }
        let slow = self.faults.slow_factor(now);
        if let Some(h) = &mut self.hooks {
            let mut timers = std::mem::take(&mut h.worker_out);
            h.receiver.restart(now, slow, &mut timers);
            self.push_workers(&mut timers);
            self.hooks().worker_out = timers;
        }
    }

    // ----- the report ----------------------------------------------------

    /// Hands what the run observed to the report assembly.
    fn report(&self) -> Report {
        let hooks = self.hooks.as_ref().map(|h| HookStats {
            sender: &h.sender,
            receiver: &h.receiver.stats,
            duplicates: h.duplicates,
            fetches: h.fetches,
        });
        assemble(&Observed {
            cfg: &self.cfg,
            logs: self.source.logs(),
            replica: &self.replica,
            metrics: &self.metrics,
            poller: self.poller.as_ref(),
            hooks,
            hits: &self.faults.hits,
            crashes: self.crashes,
        })
    }
}

/// The first start of a window.
fn first_start(w: &Window) -> Option<SimTime> {
    match *w {
        Window::Once { start, .. } => Some(start),
        Window::Every { start, until, .. } => (start < until).then_some(start),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn events_stay_small() {
        // Queue entries are (time, seq, event): keep the event at 16 bytes
        // so an entry is 32 (it sits in the hottest memory of a run).
        assert!(
            std::mem::size_of::<super::Event>() <= 16,
            "{}",
            std::mem::size_of::<super::Event>()
        );
    }
}

#[cfg(test)]
mod crash_tests {
    use super::*;
    use crate::scenario::{parse, Format};

    /// A panic inside the loop (here: a webhook event in a poll run, a
    /// driver bug) is re-raised unchanged, and the seed and virtual time of
    /// the event that broke are kept for the crash report.
    #[test]
    fn a_panic_in_the_loop_records_seed_and_virtual_time() {
        let s = parse(
            "name='t'\nseed=9\nhorizon='2h'\n[source]\nmailboxes=2\nmessages_per_day=50\n[consumer]\nstrategy='poll'\npoll_interval='5m'\n",
            "t.toml",
            Format::Toml,
        )
        .unwrap();
        let mut world = World::new(s.config());
        let at = SimTime(3_600_000_000 + 17);
        world.queue.push(at, Event::Commit(0));
        let _ = take_panic_context();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| world.run()));
        assert!(caught.is_err());
        assert_eq!(take_panic_context(), Some((9, at)));
        assert_eq!(take_panic_context(), None, "taken once");
    }
}
