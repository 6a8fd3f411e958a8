//! The seam, proved by a second driver (quinn-proto's `Pair` pattern): a
//! provider and a consumer, a virtual clock, and a plain ordered map of
//! pending steps, stepping to the earliest. It shares nothing with
//! `engine::des` but the two halves, the network module and the ledger,
//! and it takes none of the des's shortcuts: every list answer (poll or
//! reconcile) and every fetch answer is its own step at its arrival time,
//! and every delivery arms its sender's deadline at send, as an HTTP
//! client's timeout would. Same seed, same scenario: the same report as
//! the event engine, except for the engine's own event count.

use std::collections::BTreeMap;
use syncsim::engine::time::SimTime;
use syncsim::metrics::report::Report;
use syncsim::model::config::RunConfig;
use syncsim::model::consumer::{Consumer, ConsumerTimer};
use syncsim::model::halves::{self, Halves};
use syncsim::model::ledger::Ledger;
use syncsim::model::network::{Carry, Network};
use syncsim::model::provider::{Provider, ProviderTimer};
use syncsim::model::transmit::{Output, Push, Status, Ticket, ToConsumer, ToProvider};

/// One pending step.
#[derive(Debug)]
enum Step {
    Provider(ProviderTimer),
    Consumer(ConsumerTimer),
    /// A transmit reaches the consumer.
    ToConsumer(ToConsumer),
    /// A delivery's answer reaches the sender.
    Answer(Ticket, bool),
    /// A delivery's deadline.
    Deadline(Ticket),
}

struct Pair {
    provider: Provider,
    consumer: Consumer,
    net: Network,
    ledger: Ledger,
    /// Pending steps by (time, class, order of scheduling); at one
    /// instant a deadline comes after everything else, so an answer that
    /// arrives exactly at its deadline counts (as a real client's timer
    /// would see a response already read).
    steps: BTreeMap<(SimTime, u8, u64), Step>,
    next: u64,
    end: SimTime,
}

impl Pair {
    fn new(cfg: &RunConfig) -> Pair {
        let Halves {
            provider,
            consumer,
            net,
            ledger,
        } = Halves::new(cfg);
        let mut pair = Pair {
            provider,
            consumer,
            net,
            ledger,
            steps: BTreeMap::new(),
            next: 0,
            end: SimTime(cfg.end().0),
        };
        pair.provider.start(&mut pair.ledger);
        pair.drain(SimTime::ZERO);
        pair.consumer.start();
        pair.drain(SimTime::ZERO);
        pair
    }

    fn at(&mut self, t: SimTime, step: Step) {
        let class = matches!(step, Step::Deadline(_)) as u8;
        self.steps.insert((t, class, self.next), step);
        self.next += 1;
    }

    /// Steps to the earliest pending step until the end.
    fn run(&mut self) {
        while let Some(((now, ..), step)) = self.steps.pop_first() {
            if now >= self.end {
                break;
            }
            let l = &mut self.ledger;
            match step {
                Step::Provider(t) => self.provider.handle_timeout(now, t, l),
                Step::Consumer(t) => self.consumer.handle_timeout(now, t, l),
                Step::Answer(t, ok) => self.provider.handle_answer(now, t, ok, false, l),
                Step::Deadline(t) => self.provider.handle_answer(now, t, false, true, l),
                Step::ToConsumer(ToConsumer::Listed(a)) => self.consumer.handle_listed(&a, l),
                Step::ToConsumer(ToConsumer::Fetched(f)) => self.consumer.handle_fetched(now, f, l),
                Step::ToConsumer(ToConsumer::Subscribed(s)) => {
                    self.consumer.handle_subscribed(now, s, l)
                }
                Step::ToConsumer(ToConsumer::Lifecycle(lc)) => {
                    self.consumer.handle_lifecycle(now, lc, l)
                }
                Step::ToConsumer(ToConsumer::Delivery(d)) => {
                    let open = self.provider.awaits(d.reply.ticket);
                    self.consumer.handle_delivery(now, d, open, l);
                    // Any answer given at once travels back on this trip.
                    let back = self.net.back_from(now);
                    while let Some(o) = self.consumer.poll_output() {
                        match o {
                            Output::Transmit(ToProvider::Answer(a)) => {
                                if !Network::response_lost(&a) {
                                    self.at(
                                        back,
                                        Step::Answer(a.reply.ticket, a.status == Status::Ok),
                                    );
                                }
                            }
                            other => self.route_consumer(now, other),
                        }
                    }
                }
            }
            self.drain(now);
        }
        self.provider.finish(self.end);
    }

    fn route_consumer(&mut self, now: SimTime, o: Output<ConsumerTimer, ToProvider>) {
        match o {
            Output::Timer(t, timer) => self.at(t, Step::Consumer(timer)),
            Output::Transmit(ToProvider::List(call)) => {
                let a = self.provider.handle_list(now, call, &mut self.ledger);
                let at = a.at;
                self.at(at, Step::ToConsumer(ToConsumer::Listed(a)));
            }
            Output::Transmit(ToProvider::Fetch(call)) => {
                let f = self.provider.handle_fetch(now, call, &mut self.ledger);
                self.at(now, Step::ToConsumer(ToConsumer::Fetched(f)));
            }
            Output::Transmit(ToProvider::Answer(a)) => {
                if !Network::response_lost(&a) {
                    let back = self.net.back_from(now);
                    self.at(back, Step::Answer(a.reply.ticket, a.status == Status::Ok));
                }
            }
            Output::Transmit(ToProvider::Subscribe(call)) => {
                let s = self.provider.handle_subscribe(now, call, &mut self.ledger);
                self.at(now, Step::ToConsumer(ToConsumer::Subscribed(s)));
            }
        }
    }

    /// Moves outputs one at a time, the consumer's first.
    fn drain(&mut self, now: SimTime) {
        loop {
            if let Some(o) = self.consumer.poll_output() {
                self.route_consumer(now, o);
            } else if let Some(o) = self.provider.poll_output() {
                match o {
                    Output::Timer(t, timer) => self.at(t, Step::Provider(timer)),
                    Output::Transmit(Push::Lifecycle(lc)) => {
                        if let Some(at) = self.net.carry_lifecycle(now, lc.mailbox) {
                            self.at(at, Step::ToConsumer(ToConsumer::Lifecycle(lc)));
                        }
                    }
                    Output::Transmit(Push::Delivery(mut d)) => {
                        let ticket = d.reply.ticket;
                        // The sender's client times out at the deadline
                        // whatever happens; a settled attempt ignores it.
                        self.at(d.deadline, Step::Deadline(ticket));
                        match self.net.carry(now, &d, &mut self.ledger) {
                            Carry::Refused { back } => self.at(back, Step::Answer(ticket, false)),
                            Carry::Silent => {}
                            Carry::Arrives { at, copy_at, mute } => {
                                d.reply.lost = mute;
                                self.at(at, Step::ToConsumer(ToConsumer::Delivery(d)));
                                if let Some(again) = copy_at {
                                    d.reply.lost = true;
                                    self.at(again, Step::ToConsumer(ToConsumer::Delivery(d)));
                                }
                            }
                        }
                    }
                }
            } else {
                break;
            }
        }
    }

    fn report(&self, cfg: &RunConfig) -> Report {
        halves::report(cfg, &self.provider, &self.consumer, &self.net, &self.ledger)
    }
}

/// The report without the engine's own event count (the pair takes more
/// steps than the des by design), resealed.
fn outcome(mut r: Report) -> Report {
    r.engine.events = 0;
    r.seal();
    r
}

fn both(file: &str) -> (Report, Report) {
    let s = syncsim::scenario::load(std::path::Path::new(file)).unwrap_or_else(|e| panic!("{e}"));
    both_of(&s)
}

fn both_of(s: &syncsim::scenario::Scenario) -> (Report, Report) {
    let cfg = s.config();
    let des = syncsim::engine::des::run_config(cfg.clone());
    let mut pair = Pair::new(&cfg);
    pair.run();
    (outcome(des), outcome(pair.report(&cfg)))
}

/// Poll (timestamp cursors, 304s, a global rate limit, a source outage
/// and a rate squeeze), webhooks (drops, lost responses, duplicates,
/// reordering, bursty loss, a slow consumer, a hanging endpoint, an inbound
/// rate limit), a memory-queue crash, thin payloads with fetches, and the
/// hybrid: each run through the pair gives the event engine's report.
#[test]
fn a_second_driver_gets_the_same_report_as_the_event_engine() {
    for file in [
        "scenarios/ci/poll.toml",
        "scenarios/ci/webhook-faults.toml",
        "scenarios/ci/memory-crash.toml",
        "scenarios/ci/hybrid.toml",
        "scenarios/webhook-thin-msgraph.toml",
    ] {
        let (des, pair) = both(file);
        assert!(des.changes.generated > 1_000, "{file}: a real workload");
        assert_eq!(
            des.to_json(),
            pair.to_json(),
            "{file}: the pair driver disagrees with des"
        );
    }
}

/// The paths the bundled files above do not reach: inline acks with
/// processing failures (500s) and lost responses, event-id dedup, thin
/// payloads through a consumer crash; long polls; a retention window
/// that expires cursors into full resyncs.
#[test]
fn the_pair_agrees_on_inline_acks_long_polls_and_resyncs() {
    let cases = [
        r#"
name = "pair-inline"
seed = 21
horizon = "6h"
drain = "1h"
[source]
mailboxes = 300
messages_per_day = 200
[webhooks]
preset = "msgraph"
[consumer]
strategy = "webhook"
ack = "inline"
workers = 2
handler_time = { dist = "lognormal", median = "300ms", p99 = "4s" }
processing_failure = 0.05
dedup = "event_id"
[[faults]]
kind = "drop"
what = "response"
probability = 0.05
[[faults]]
kind = "duplicate"
probability = 0.05
[[faults]]
kind = "consumer_crash"
at = "2h"
for = "10m"
"#,
        r#"
name = "pair-long-poll"
seed = 22
horizon = "6h"
drain = "1h"
[source]
mailboxes = 300
messages_per_day = 100
[consumer]
strategy = "poll"
poll_interval = "5m"
long_poll = "30s"
[[faults]]
kind = "source_outage"
at = "1h"
for = "10m"
"#,
        r#"
name = "pair-resync"
seed = 23
horizon = "12h"
drain = "1h"
[source]
mailboxes = 100
messages_per_day = 400
page_size = 20
retention = "1h"
api_latency = "100ms"
[consumer]
strategy = "poll"
poll_interval = "5m"
[[faults]]
kind = "consumer_crash"
at = "4h"
for = "2h"
"#,
    ];
    for text in cases {
        let s = syncsim::scenario::parse(text, "pair.toml", syncsim::scenario::Format::Toml)
            .unwrap_or_else(|e| panic!("{e}"));
        let (des, pair) = both_of(&s);
        assert!(des.changes.generated > 1_000, "{}: a real workload", s.name);
        assert_eq!(
            des.to_json(),
            pair.to_json(),
            "{}: the pair driver disagrees with des",
            s.name
        );
    }
    // The cases reach what they are for.
    let inline =
        syncsim::scenario::parse(cases[0], "p.toml", syncsim::scenario::Format::Toml).unwrap();
    let r = syncsim::engine::des::run_config(inline.config());
    let q = r.queue.as_ref().expect("webhooks");
    assert!(
        q.processing_failures > 0
            && r.faults.dropped_responses > 0
            && r.faults.consumer_crashes == 1
    );
    let resync =
        syncsim::scenario::parse(cases[2], "p.toml", syncsim::scenario::Format::Toml).unwrap();
    let r = syncsim::engine::des::run_config(resync.config());
    assert!(
        r.requests.resyncs > 0 && r.requests.expired > 0,
        "{:?}",
        r.requests
    );
}
