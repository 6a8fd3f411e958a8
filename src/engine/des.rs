//! The discrete-event driver: moves transmits and time between the two
//! sans-IO halves of the seam, the [`Provider`] and the [`Consumer`].
//!
//! ```text
//!   Provider ──Delivery──► network (faults, latency) ──► queue ──► Consumer
//!      ▲  ◄──Answer / Deadline── queue ◄── network ◄──Answer──────┘   │
//!      └──────── List / Fetch (answered at once, see `Early`) ◄──────┘
//! ```
//!
//! The loop pops the next event (a half's timer, or a transmit arriving),
//! hands it to its half, and moves what the halves then ask for: timers go
//! into the queue, transmits through the network to the other half. It
//! holds no provider or consumer rule. Two shortcuts keep a run to one
//! event per poll: a list answer the consumer marked [`Early`](crate::model::transmit::Early) is handed
//! over as soon as it is computed (at its arrival time), and a fetch is
//! answered at once (fetch latency is not modelled).
//!
//! A third runs a mailbox ahead. When both halves say their mailboxes are
//! independent (a polling consumer; an API without webhooks, global rate
//! limit or shared quota: see `Provider::mailboxes_independent`), no state
//! one mailbox's poll reads is written by another's, except counters and
//! histograms whose result does not depend on order. A poll timer is then
//! not queued but handled at once, at its own time, and so is the next,
//! up to [`PeakRate::AHEAD`] past the event being handled: one mailbox's
//! polls run back to back with its state in cache, and the run's queue
//! holds a few events per mailbox instead of one per poll. The report is
//! the one the queue would give, event count included (a test checks it
//! on every bundled polling scenario). Traced runs do not run ahead, so
//! their records stay in time order. Running ahead, a poll that the model
//! says is quiet (`halves::quiet_poll`: nothing new after the cursor,
//! nothing in the way) is handled whole by the model in one call, with
//! no call, answer or output built: 84% of 5-minute polls at 50
//! messages a day.
//!
//! Handling an event, the loop first asks the halves for cache hints
//! about the next two in the queue (`prefetch`): a webhook run's time goes
//! to memory stalls on random mailboxes' records, and a hint loads them
//! while the current event is handled. Hints take `&self` and change
//! nothing.
//!
//! Invariant: the loop reads no clock, and its only source of order is
//! the event queue's `(time, seq)` (and, running ahead, each mailbox's own
//! time order); the halves' outputs are queued in the order they were
//! asked for. It spawns nothing, except that generating traffic may use a
//! second, scoped thread (at setup, `halves`; in a streaming run, at its
//! start and each trim, `World::generate_ahead`) for half the mailboxes,
//! joined before the loop goes on: each mailbox's changes come from its
//! own streams, so the logs are the same.

use super::arena::Ahead;
use super::queue::EventQueue;
use super::time::{SimDuration, SimTime};
use crate::metrics::report::Report;
use crate::metrics::PeakRate;
use crate::model::config::RunConfig;
use crate::model::consumer::{Consumer, ConsumerTimer};
use crate::model::halves::{self, Halves, Quiet};
use crate::model::ledger::Ledger;
use crate::model::network::{Carry, Network};
use crate::model::provider::{Provider, ProviderTimer};
use crate::model::trace::{self, Filter, Record};
use crate::model::transmit::{
    Delivery, DeliveryAnswer, Lifecycle, ListAnswer, ListCall, Listed, Output, Push, Status,
    Ticket, ToConsumer, ToProvider,
};
use crate::scenario::Scenario;

/// What can happen at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    /// One of the provider's timers.
    Provider(ProviderTimer),
    /// One of the consumer's timers.
    Consumer(ConsumerTimer),
    /// An in-flight delivery attempt (a slot of `World::deliveries`)
    /// reaches the endpoint.
    Deliver(u32),
    /// Another in-flight transmit (a slot of `World::flight`) reaches the
    /// consumer.
    Arrive(u32),
    /// A delivery attempt's deadline: the sender's client gives up.
    Deadline(Ticket),
    /// A delivery's answer reaches the sender (`true`: a 2xx).
    Answer(Ticket, bool),
}

/// Transmits in flight, in reusable slots (events carry the slot).
#[derive(Debug)]
struct Flight<T> {
    slots: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Default for Flight<T> {
    fn default() -> Self {
        Flight {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Flight<T> {
    #[inline]
    fn put(&mut self, t: T) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(t);
                i
            }
            None => {
                self.slots.push(Some(t));
                (self.slots.len() - 1) as u32
            }
        }
    }

    #[inline]
    fn take(&mut self, i: u32) -> T {
        self.free.push(i);
        self.slots[i as usize].take().expect("a slot arrives once")
    }
}

impl Flight<Delivery> {
    /// `(mailbox, seq)` of every delivery attempt in flight.
    fn changes(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.slots.iter().flatten().map(|d| (d.mailbox, d.seq))
    }
}

impl Flight<ToConsumer> {
    /// `(mailbox, seq)` of every change a list answer in flight carries.
    fn changes(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.slots.iter().flatten().flat_map(|t| {
            let (m, page) = match t {
                ToConsumer::Listed(a) => match &a.listed {
                    Listed::Page { items, .. } | Listed::Snapshot { state: items, .. } => {
                        (a.mailbox, &items[..])
                    }
                    _ => (0, &[][..]),
                },
                _ => (0, &[][..]),
            };
            page.iter().map(move |i| (m, i.seq))
        })
    }
}

/// Everything a run holds.
struct World {
    cfg: RunConfig,
    end: SimTime,
    queue: EventQueue<Event>,
    provider: Provider,
    consumer: Consumer,
    net: Network,
    ledger: Ledger,
    /// Delivery attempts in flight (the bulk of a webhook run: kept apart
    /// from the larger list answers so a slot is one delivery's size).
    deliveries: Flight<Delivery>,
    /// List answers and lifecycle notifications in flight.
    flight: Flight<ToConsumer>,
    /// While a delivery is being handed to the consumer: its attempt, its
    /// deadline (not before now) and when an immediate answer would be back.
    immediate: Option<(Ticket, SimTime, SimTime)>,
    /// Poll timers are handled ahead of the queue (see the module doc).
    ahead: bool,
    /// Whether this run may run ahead at all (off only for the reference
    /// run, [`run_in_queue_order`]).
    may_run_ahead: bool,
    /// Whether a big enough run generates traffic on a second thread
    /// ([`TrafficThreads`], resolved once).
    second_thread: bool,
    /// How many traffic threads the run started (a test's gauge).
    threads_started: u64,
    /// When a streaming run next trims its logs (`SimTime::MAX`: never).
    next_trim: SimTime,
    /// Polls handled whole as quiet ones (`halves::quiet_poll`): not in
    /// the report, which is the same without them; a test's gauge.
    quiet: u64,
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

/// Horizons from which [`run`] streams its traffic. A streaming run still
/// holds about 14 h of changes per mailbox (the 6 h trim period, up to 7 h
/// generated ahead, the lookback), so below two days it saves little
/// memory, and generating in windows between events costs 5-8% more
/// instructions (webhook-10k, poll-10k) and more cache misses than one
/// pass up front.
pub const STREAM_FROM: SimDuration = SimDuration::from_secs(2 * 86_400);

/// Runs one run's configs to the end of the drain and returns the sealed
/// report. A run of [`STREAM_FROM`] or longer streams its traffic
/// ([`RunConfig::stream`]): memory flat in the horizon. The report is the
/// same either way (tested).
pub fn run_config(cfg: RunConfig) -> Report {
    let mut world = World::new(streaming(cfg));
    world.run();
    world.report()
}

/// How many threads a run may generate its traffic on. Only the wall time
/// depends on it: the report is the same (tested, both ways, on any
/// machine).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrafficThreads {
    /// Two on a machine that runs two threads at once, else one.
    Auto,
    /// One: this thread generates everything.
    One,
    /// Two whenever the run is big enough, even on a single core.
    Two,
}

impl TrafficThreads {
    /// Whether a big enough run starts a second thread.
    fn second(self) -> bool {
        match self {
            TrafficThreads::Auto => {
                std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
            }
            TrafficThreads::One => false,
            TrafficThreads::Two => true,
        }
    }
}

/// [`run`] with its traffic generated on `threads` (the report does not
/// depend on it), and how many times it started a traffic thread: once
/// for a run generated up front ([`halves::traffic_split`]), at its start
/// and at each trim for a streaming one ([`halves::ahead_split`]).
pub fn run_on(scenario: &Scenario, threads: TrafficThreads) -> (Report, u64) {
    let mut world = World::with_threads(streaming(scenario.config()), threads);
    world.run();
    (world.report(), world.threads_started)
}

/// `cfg`, streaming its traffic from [`STREAM_FROM`].
fn streaming(mut cfg: RunConfig) -> RunConfig {
    cfg.stream = cfg.horizon >= STREAM_FROM;
    cfg
}

/// Runs `scenario` streaming its traffic, and returns the report and the
/// most log entries held at once (`Logs::peak_retained`: what the memory
/// invariant bounds, independent of the horizon).
pub fn run_retained(scenario: &Scenario) -> (Report, u64) {
    let mut cfg = scenario.config();
    cfg.stream = true;
    let mut world = World::new(cfg);
    world.run();
    (world.report(), world.ledger.logs().peak_retained())
}

/// Runs `scenario` with every change log generated up front and kept
/// whole (nothing trimmed): the reference a streaming run ([`run`]) is
/// tested against (their reports must be equal, byte for byte).
pub fn run_whole_logs(scenario: &Scenario) -> Report {
    let mut world = World::new(scenario.config());
    world.run();
    world.report()
}

/// Runs `scenario` with every timer through the event queue, never
/// running a mailbox ahead: the reference the shortcut is tested against
/// (its report must equal [`run`]'s, byte for byte).
pub fn run_in_queue_order(scenario: &Scenario) -> Report {
    let mut world = World::new(scenario.config());
    world.may_run_ahead = false;
    world.run();
    world.report()
}

/// Whether a run of `scenario` runs mailboxes ahead of the queue (both
/// halves independent per mailbox; see the module doc).
pub fn runs_ahead(scenario: &Scenario) -> bool {
    let mut cfg = scenario.config();
    cfg.stream = true;
    let Halves {
        provider, consumer, ..
    } = Halves::new(&cfg);
    provider.mailboxes_independent() && consumer.mailboxes_independent()
}

/// Runs `scenario` and also returns the timeline of everything that
/// touched what `filter` names, in time order (commits included), then
/// one `verdict` record per traced change (applied or lost, and why).
pub fn run_traced(scenario: &Scenario, filter: Filter) -> (Report, Vec<Record>) {
    let mut world = World::new(scenario.config());
    world.ledger.start_trace(filter.clone());
    world.run();
    let report = world.report();
    let records = world
        .ledger
        .take_trace()
        .map(|t| t.records)
        .unwrap_or_default();
    let end = SimTime(world.cfg.end().0);
    let logs = world.ledger.logs();
    let halves = (
        &world.cfg,
        &world.provider,
        &world.consumer,
        &world.net,
        &world.ledger,
    );
    let verdicts = trace::verdicts(end, logs, &filter, &records, |m, seq| {
        halves::loss_cause(halves, m, seq).map(|c| c.name())
    });
    let mut records = trace::with_commits(logs, &filter, records);
    records.extend(verdicts);
    (report, records)
}

/// Runs `scenario` and also returns its `n` slowest changes (the report
/// lists [`crate::metrics::SLOWEST_IN_REPORT`]; this may keep more).
pub fn run_slowest(
    scenario: &Scenario,
    n: usize,
) -> (Report, Vec<crate::metrics::report::SlowChange>) {
    let mut world = World::new(scenario.config());
    world.ledger.metrics.slowest =
        crate::metrics::Slowest::new(n.max(crate::metrics::SLOWEST_IN_REPORT));
    world.run();
    let report = world.report();
    let slow = crate::metrics::assemble::slowest(&world.ledger, n);
    (report, slow)
}

/// Builds a run's halves. A run generated up front with enough traffic
/// (`halves::traffic_split`), on a machine with a second thread,
/// generates the upper half of its mailboxes' traffic on a scoped thread
/// of its own while this one generates the lower half: the same halves
/// (each mailbox's traffic comes from its own streams), built in about
/// half the time. The thread is joined before the run starts. Also
/// returns whether it started one.
fn halves(cfg: &RunConfig, second_thread: bool) -> (Halves, bool) {
    let split = halves::traffic_split(cfg).filter(|_| second_thread);
    let Some(split) = split else {
        return (Halves::new(cfg), false);
    };
    std::thread::scope(
        |scope| match traffic_thread(scope, || halves::upper_traffic(cfg, split)) {
            Ok(upper) => (Halves::new_split(cfg, split, || joined(upper)), true),
            Err(_) => (Halves::new(cfg), false),
        },
    )
}

/// Starts a scoped thread generating traffic (see [`halves`] and
/// `World::generate_ahead`).
fn traffic_thread<'s, T: Send + 's>(
    scope: &'s std::thread::Scope<'s, '_>,
    f: impl FnOnce() -> T + Send + 's,
) -> std::io::Result<std::thread::ScopedJoinHandle<'s, T>> {
    std::thread::Builder::new()
        .name("syncsim-traffic".into())
        .spawn_scoped(scope, f)
}

/// What a traffic thread returned; its panic, if it panicked, goes on
/// here.
fn joined<T>(thread: std::thread::ScopedJoinHandle<'_, T>) -> T {
    thread
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

impl World {
    fn new(cfg: RunConfig) -> Self {
        World::with_threads(cfg, TrafficThreads::Auto)
    }

    fn with_threads(cfg: RunConfig, threads: TrafficThreads) -> Self {
        let end = SimTime(cfg.end().0);
        let second_thread = threads.second();
        let (
            Halves {
                provider,
                consumer,
                net,
                ledger,
            },
            started,
        ) = halves(&cfg, second_thread);
        let mut world = World {
            cfg,
            end,
            queue: EventQueue::new(),
            provider,
            consumer,
            net,
            ledger,
            deliveries: Flight::default(),
            flight: Flight::default(),
            immediate: None,
            ahead: false,
            may_run_ahead: true,
            second_thread,
            threads_started: started as u64,
            next_trim: SimTime::MAX,
            quiet: 0,
        };
        if world.ledger.logs().is_lazy() {
            world.next_trim = SimTime::ZERO + halves::TRIM_EVERY;
            world.generate_ahead(SimTime::ZERO);
        }
        world.provider.start(&mut world.ledger);
        world.pump_provider(SimTime::ZERO);
        world.consumer.start();
        world.pump_consumer(SimTime::ZERO);
        world
    }

    /// Runs the loop. A panic (a syncsim bug) is re-raised unchanged after
    /// noting the virtual time it happened at, for the crash report.
    fn run(&mut self) {
        self.ahead = self.may_run_ahead
            && self.provider.mailboxes_independent()
            && self.consumer.mailboxes_independent()
            && !self.ledger.tracing();
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
            self.ledger.metrics.events += 1;
            if now >= self.next_trim {
                self.trim(now);
            }
            if let Some(&next) = self.queue.peek(0) {
                self.prefetch(next, Ahead::Data);
            }
            if let Some(&after) = self.queue.peek(1) {
                self.prefetch(after, Ahead::Heads);
            }
            let l = &mut self.ledger;
            match event {
                Event::Consumer(ConsumerTimer::Poll(m)) if self.ahead => {
                    self.pump_consumer_in::<true>(now, Some((now, m)));
                }
                Event::Consumer(t) => {
                    self.consumer.handle_timeout(now, t, l);
                    self.pump_consumer(now);
                }
                Event::Provider(t) => {
                    self.provider.handle_timeout(now, t, l);
                    self.pump_provider(now);
                }
                Event::Deadline(t) => {
                    self.provider.handle_answer(now, t, false, true, l);
                    self.pump_provider(now);
                }
                Event::Answer(t, ok) => {
                    self.provider.handle_answer(now, t, ok, false, l);
                    self.pump_provider(now);
                }
                Event::Deliver(slot) => {
                    let d = self.deliveries.take(slot);
                    self.deliver(now, d)
                }
                Event::Arrive(slot) => match self.flight.take(slot) {
                    ToConsumer::Listed(a) => {
                        self.consumer.handle_listed(&a, l);
                        self.provider.recycle(a.listed);
                        self.pump_consumer(now);
                    }
                    ToConsumer::Lifecycle(lc) => {
                        self.consumer.handle_lifecycle(now, lc, l);
                        self.pump_consumer(now);
                    }
                    ToConsumer::Fetched(_)
                    | ToConsumer::Subscribed(_)
                    | ToConsumer::Delivery(_) => {
                        unreachable!(
                            "fetch and subscription answers never fly; deliveries fly apart"
                        )
                    }
                },
            }
        }
        self.provider.finish(self.end);
        self.ledger.finish();
    }

    /// Asks the half `event` goes to for a cache hint: the next events'
    /// state is loaded while this one is handled (a random mailbox's
    /// record is a cache miss otherwise). Changes nothing.
    #[inline(always)]
    fn prefetch(&self, event: Event, ahead: Ahead) {
        match event {
            Event::Provider(t) => self.provider.prefetch(&t, &self.ledger, ahead),
            Event::Consumer(t) => {
                if let Some(m) = self.consumer.prefetch(&t, &self.ledger, ahead) {
                    self.provider.prefetch_list(m, &self.ledger, ahead);
                }
            }
            Event::Deliver(slot) => {
                if let Some(Some(d)) = self.deliveries.slots.get(slot as usize) {
                    self.consumer.prefetch_delivery(d, &self.ledger, ahead);
                }
            }
            Event::Arrive(slot) => {
                if let Some(Some(ToConsumer::Listed(a))) = self.flight.slots.get(slot as usize) {
                    self.consumer.prefetch_listed(a, &self.ledger, ahead);
                }
            }
            Event::Deadline(_) | Event::Answer(..) => {}
        }
    }

    /// Moves everything the consumer asked for, in the order it asked. A
    /// list call or a fetch reaches the API at once and its answer is
    /// carried on from here (which may make the consumer ask for more).
    /// Nothing here makes the provider ask for anything: its outputs come
    /// only from its own inputs. Running ahead, a poll timer due before
    /// `now + PeakRate::AHEAD` (and the end) is handled here at its own
    /// time, after the rest of what was asked with it.
    #[inline]
    fn pump_consumer(&mut self, now: SimTime) {
        if self.ahead {
            self.pump_consumer_in::<true>(now, None)
        } else {
            self.pump_consumer_in::<false>(now, None)
        }
    }

    /// [`World::pump_consumer`], compiled once per mode so a run that
    /// never runs ahead carries none of its arithmetic.
    fn pump_consumer_in<const AHEAD: bool>(&mut self, now: SimTime, first: Option<(SimTime, u32)>) {
        let limit = if AHEAD {
            SimTime(now.0.saturating_add(PeakRate::AHEAD.0)).min(self.end)
        } else {
            SimTime::ZERO
        };
        let mut now = now;
        let mut poll = first;
        loop {
            if let Some((mut at, m)) = poll.take() {
                // The mailbox's quiet polls, each one event, handled whole
                // by the model; the first that is not quiet goes the usual
                // way.
                loop {
                    let (p, c, l) = (&mut self.provider, &mut self.consumer, &mut self.ledger);
                    let quiet = halves::quiet_poll(p, c, l, m, at, self.end);
                    self.quiet += (quiet != Quiet::No) as u64;
                    match quiet {
                        Quiet::No => break,
                        Quiet::Next(t) if t < limit => {
                            self.ledger.metrics.events += 1;
                            at = t;
                        }
                        Quiet::Next(t) => {
                            self.queue.push(t, Event::Consumer(ConsumerTimer::Poll(m)));
                            return;
                        }
                        Quiet::Lost => return,
                    }
                }
                self.consumer
                    .handle_timeout(at, ConsumerTimer::Poll(m), &mut self.ledger);
                now = at;
            }
            let mut next = None;
            while let Some(o) = self.consumer.poll_output() {
                match o {
                    Output::Timer(at, ConsumerTimer::Poll(m))
                        if AHEAD && at < limit && next.is_none() =>
                    {
                        next = Some((at, m))
                    }
                    Output::Timer(at, t) => self.queue.push(at, Event::Consumer(t)),
                    Output::Transmit(ToProvider::List(call)) if AHEAD => {
                        let answer = self.provider.handle_list(now, call, &mut self.ledger);
                        self.route_listed(answer);
                    }
                    Output::Transmit(ToProvider::List(call)) => self.list(now, call),
                    Output::Transmit(ToProvider::Fetch(call)) => {
                        let f = self.provider.handle_fetch(now, call, &mut self.ledger);
                        self.consumer.handle_fetched(now, f, &mut self.ledger);
                    }
                    Output::Transmit(ToProvider::Answer(a)) => self.route_answer(now, a),
                    Output::Transmit(ToProvider::Subscribe(call)) => {
                        let s = self.provider.handle_subscribe(now, call, &mut self.ledger);
                        // With lifecycle notifications the provider arms the
                        // subscription's expiry timer.
                        self.pump_provider(now);
                        self.consumer.handle_subscribed(now, s, &mut self.ledger);
                    }
                }
            }
            debug_assert!(
                self.provider.outbox_is_empty(),
                "list and fetch answers are returned, never queued"
            );
            let Some(n) = next else { break };
            self.ledger.metrics.events += 1;
            poll = Some(n);
        }
    }

    /// A list call outside a run ahead (a reconciler's, or a poller's
    /// under a shared limit): kept out of line so the webhook path's pump
    /// stays small.
    #[inline(never)]
    fn list(&mut self, now: SimTime, call: ListCall) {
        let answer = self.provider.handle_list(now, call, &mut self.ledger);
        self.route_listed(answer);
    }

    /// Moves everything the provider asked for, in the order it asked
    /// (none of it reaches the consumer before its own event).
    #[inline]
    fn pump_provider(&mut self, now: SimTime) {
        while let Some(o) = self.provider.poll_output() {
            match o {
                Output::Timer(at, t) => self.queue.push(at, Event::Provider(t)),
                Output::Transmit(Push::Delivery(d)) => self.send(now, d),
                Output::Transmit(Push::Lifecycle(lc)) => self.send_lifecycle(now, lc),
            }
        }
    }

    /// Sends a lifecycle notification through the network (sent once:
    /// if the network loses it, it is lost).
    fn send_lifecycle(&mut self, now: SimTime, lc: Lifecycle) {
        if let Some(at) = self.net.carry_lifecycle(now, lc.mailbox) {
            let slot = self.flight.put(ToConsumer::Lifecycle(lc));
            self.queue.push(at, Event::Arrive(slot));
        }
    }

    /// A list answer travels back: dropped if it would arrive after the
    /// end, handed over now if the call allows it, else scheduled.
    #[inline(always)]
    fn route_listed(&mut self, a: ListAnswer) {
        if a.at >= self.end {
            return;
        }
        if a.may_hand_early() {
            self.consumer.handle_listed(&a, &mut self.ledger);
            self.provider.recycle(a.listed);
        } else {
            let at = a.at;
            let slot = self.flight.put(ToConsumer::Listed(a));
            self.queue.push(at, Event::Arrive(slot));
        }
    }

    /// Sends a delivery attempt through the network; arms the sender's
    /// deadline when the answer's time is not known yet (or is too late).
    fn send(&mut self, now: SimTime, mut d: Delivery) {
        let ticket = d.reply.ticket;
        match self.net.carry(now, &d, &mut self.ledger) {
            Carry::Refused { back } => self.answer_by(back, d.deadline, ticket, false),
            Carry::Silent => self.queue.push(d.deadline, Event::Deadline(ticket)),
            Carry::Arrives { at, copy_at, mute } => {
                d.reply.lost = mute;
                let slot = self.deliveries.put(d);
                self.queue.push(at, Event::Deliver(slot));
                if let Some(again) = copy_at {
                    d.reply.lost = true;
                    let slot = self.deliveries.put(d);
                    self.queue.push(again, Event::Deliver(slot));
                }
                if self.consumer.answers_after_processing() || at > d.deadline {
                    self.queue.push(d.deadline, Event::Deadline(ticket));
                }
            }
        }
    }

    /// A delivery reaches the endpoint: whether the sender still waits is
    /// the connection's state; answers given at once travel back now.
    fn deliver(&mut self, now: SimTime, d: Delivery) {
        let open = self.provider.awaits(d.reply.ticket);
        self.consumer
            .handle_delivery(now, d, open, &mut self.ledger);
        let back = self.net.back_from(now);
        self.immediate = Some((d.reply.ticket, d.deadline.max(now), back));
        self.pump_consumer(now);
        self.immediate = None;
    }

    /// An endpoint's answer travels back to the sender (unless the network
    /// loses it). An answer given on arrival is resolved against the
    /// deadline now; a later one (inline) races the deadline armed at send.
    fn route_answer(&mut self, now: SimTime, a: DeliveryAnswer) {
        let ticket = a.reply.ticket;
        let ok = a.status == Status::Ok;
        let lost = Network::response_lost(&a);
        // Only the delivery being handed over is answered "at once".
        let immediate = self.immediate.filter(|(t, ..)| *t == ticket);
        match immediate {
            Some((_, deadline, _)) if lost => self.queue.push(deadline, Event::Deadline(ticket)),
            Some((_, deadline, back)) => self.answer_by(back, deadline, ticket, ok),
            None if lost => {}
            None => {
                let back = self.net.back_from(now);
                self.queue.push(back, Event::Answer(ticket, ok));
            }
        }
    }

    /// The sender learns `ok` at `at`, unless that is past the deadline,
    /// in which case it times out at the deadline.
    fn answer_by(&mut self, at: SimTime, deadline: SimTime, ticket: Ticket, ok: bool) {
        if at <= deadline {
            self.queue.push(at, Event::Answer(ticket, ok));
        } else {
            self.queue.push(deadline, Event::Deadline(ticket));
        }
    }

    /// A streaming run's trim (see `halves::trim`), generating ahead, and
    /// the next trim's time.
    #[cold]
    #[inline(never)]
    fn trim(&mut self, now: SimTime) {
        let flight = self.flight.changes().chain(self.deliveries.changes());
        halves::trim(
            now,
            &self.provider,
            &self.consumer,
            flight,
            &mut self.ledger,
        );
        self.generate_ahead(now);
        self.next_trim = now + halves::TRIM_EVERY;
    }

    /// A streaming run of many mailboxes, on a machine with a second
    /// thread, generates every mailbox's next stretch of traffic at its
    /// start and at each trim (`halves::generate_ahead`), the upper half
    /// of the mailboxes on a scoped thread while this one does the lower
    /// half: the changes the source would have generated on demand
    /// between two trims, earlier and on both cores. Nothing reads the
    /// logs meanwhile; the thread is joined before the loop goes on.
    fn generate_ahead(&mut self, now: SimTime) {
        let Some(split) = halves::ahead_split(&self.ledger).filter(|_| self.second_thread) else {
            return;
        };
        let (mut gens, mut upper) = halves::take_ahead(&mut self.ledger, split);
        let ledger = &mut self.ledger;
        let threaded = std::thread::scope(|scope| {
            let (lower, higher) = gens.split_at_mut(split as usize);
            let part = &mut upper;
            let thread = traffic_thread(scope, move || halves::advance_upper(part, higher, now));
            halves::generate_ahead(ledger, lower, now);
            thread.map(joined).is_ok()
        });
        self.threads_started += threaded as u64;
        if !threaded {
            halves::advance_upper(&mut upper, &mut gens[split as usize..], now);
        }
        halves::put_ahead(&mut self.ledger, gens, upper);
    }

    /// Hands what the run observed to the report assembly.
    fn report(&self) -> Report {
        halves::report(
            &self.cfg,
            &self.provider,
            &self.consumer,
            &self.net,
            &self.ledger,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{parse, Format};

    /// A 5-minute poll of a mailbox with 50 messages a day (Poisson) is
    /// quiet when nothing committed since the last one: with probability
    /// e^(-50 * 300 / 86,400) = 0.8406. Running ahead, that share of
    /// 288,000 polls is handled whole by `halves::quiet_poll` (standard
    /// error 0.0007; tolerance 0.005, which also covers the first poll of
    /// each mailbox, never quiet); in queue order, none. Both give the
    /// same report (the proptests check that on random scenarios).
    #[test]
    fn most_five_minute_polls_are_handled_as_quiet_ones() {
        let s = parse(
            "name='q'\nseed=3\nhorizon='1d'\n[source]\nmailboxes=1000\nmessages_per_day=50\n\
             api_latency={dist='lognormal',median='120ms',p99='900ms'}\n\
             rate_limit={per_mailbox_per_s=200}\n[consumer]\nstrategy='poll'\npoll_interval='5m'\n",
            "q.toml",
            Format::Toml,
        )
        .unwrap();
        let mut world = World::new(s.config());
        world.run();
        let polls = world.ledger.metrics.counters.poll;
        assert_eq!(polls, 288_000);
        let share = world.quiet as f64 / polls as f64;
        let want = (-50.0f64 * 300.0 / 86_400.0).exp();
        assert!((share - want).abs() < 0.005, "{share} vs {want}");
        let ahead = world.report();

        let mut world = World::new(s.config());
        world.may_run_ahead = false;
        world.run();
        assert_eq!(world.quiet, 0);
        assert_eq!(world.report().digest, ahead.digest);
    }

    /// The quiet-poll shortcut against the queue, variant by variant: a
    /// conditional poller; a source outage and a rate squeeze; a consumer
    /// crash; a bucket so small that polls are refused (429); an API so
    /// slow that answers overrun their slot and the run's end. Each run
    /// takes the shortcut for some polls (and, where a variant makes them,
    /// leaves 304s, 503s, 429s or overruns to the usual path) and gives
    /// the queue-order report, event count included.
    #[test]
    fn quiet_polls_give_the_queue_order_report_under_every_condition() {
        let base =
            "name='q'\nseed=5\nhorizon='12h'\n[source]\nmailboxes=300\nmessages_per_day=40\n";
        let variants: [(&str, &str, &str); 5] = [
            (
                "conditional",
                "api_latency={dist='lognormal',median='120ms',p99='900ms'}\n",
                "poll_interval='2m'\nif_none_match=true\n",
            ),
            (
                "outage and squeeze",
                "api_latency={dist='lognormal',median='120ms',p99='900ms'}\nrate_limit={per_mailbox_per_s=0.02,per_mailbox_burst=1}\n",
                "poll_interval='1m'\n[[faults]]\nkind='source_outage'\nat='2h'\nfor='20m'\n\
                 [[faults]]\nkind='rate_squeeze'\nat='5h'\nfor='30m'\nfactor=0.2\n",
            ),
            (
                "crash",
                "",
                "poll_interval='2m'\n[[faults]]\nkind='consumer_crash'\nat='3h'\nfor='15m'\n",
            ),
            (
                "refused",
                "rate_limit={per_mailbox_per_s=0.012,per_mailbox_burst=2}\n",
                "poll_interval='1m'\n",
            ),
            (
                "overrun",
                "api_latency={dist='lognormal',median='3s',p99='40s'}\n",
                "poll_interval='10s'\n",
            ),
        ];
        for (name, source, consumer) in variants {
            let text = format!("{base}{source}[consumer]\nstrategy='poll'\n{consumer}");
            let s = parse(&text, "q.toml", Format::Toml).unwrap();
            let mut ahead = World::new(s.config());
            ahead.run();
            let mut queued = World::new(s.config());
            queued.may_run_ahead = false;
            queued.run();
            let (a, q) = (ahead.report(), queued.report());
            assert!(ahead.quiet > 0, "{name}: no quiet poll");
            assert!(ahead.quiet < a.requests.poll, "{name}: every poll quiet");
            assert_eq!(a.digest, q.digest, "{name}");
            assert_eq!(a.engine.events, q.engine.events, "{name}");
            let r = &a.requests;
            match name {
                "conditional" => assert!(r.not_modified > 0),
                "outage and squeeze" => assert!(r.errors > 0 && r.rate_limited > 0, "{r:?}"),
                "refused" => assert!(r.rate_limited > 0, "{r:?}"),
                _ => {}
            }
        }
    }

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
        world
            .queue
            .push(at, Event::Provider(ProviderTimer::Commit { m: 0, seq: 0 }));
        let _ = take_panic_context();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| world.run()));
        assert!(caught.is_err());
        assert_eq!(take_panic_context(), Some((9, at)));
        assert_eq!(take_panic_context(), None, "taken once");
    }
}
