//! One run's pieces, built the same way for every driver: the two halves,
//! the network between them and the ledger, from a run's configs; and the
//! report assembled from them at the end. A driver destructures
//! [`Halves`], moves messages and time, and hands the pieces back to
//! [`report`].

use super::config::RunConfig;
use super::consumer::Consumer;
use super::faults::FaultPlan;
use super::ledger::Ledger;
use super::network::Network;
use super::provider::Provider;
use super::traffic;
use crate::engine::rng::{Purpose, Streams};
use crate::engine::sample::{Delay, Sampler};
use crate::engine::time::{SimDuration, SimTime};
use crate::metrics::assemble::{assemble, Observed};
use crate::metrics::report::Report;

/// Everything a driver moves messages between.
#[derive(Debug)]
pub struct Halves {
    /// The mail API and the webhook sender.
    pub provider: Provider,
    /// The strategy under test.
    pub consumer: Consumer,
    /// Delivery faults and latency between them.
    pub net: Network,
    /// What happened.
    pub ledger: Ledger,
}

impl Halves {
    /// Builds a run from its configs: the traffic (every random stream
    /// from `cfg.seed`; generated up front, or on demand when the run
    /// [streams](RunConfig::streams)), the fault plan, both halves, the
    /// network, the ledger (which owns the logs). Nothing is started: call
    /// `provider.start(&mut ledger)` then `consumer.start()`.
    pub fn new(cfg: &RunConfig) -> Halves {
        let streams = Streams::new(cfg.seed);
        let logs = if cfg.streams() {
            traffic::Logs::lazy(&cfg.source, cfg.horizon, &streams)
        } else {
            traffic::generate(&cfg.source, cfg.horizon, &streams)
        };
        let faults = FaultPlan::new(&cfg.faults, logs.mailboxes(), &streams);
        let latency = cfg
            .consumer
            .hooks()
            .map_or(Delay::Fixed(SimDuration::ZERO), |h| h.sender.latency);
        Halves {
            provider: Provider::new(cfg, &faults, &streams),
            consumer: Consumer::new(cfg, &logs, faults.host(), &streams),
            net: Network::new(
                Sampler::new(latency, streams.stream(Purpose::WebhookLatency, 0)),
                faults,
            ),
            ledger: Ledger::new(logs),
        }
    }
}

/// How often (virtual time) a streaming run trims its logs (six hours):
/// each mailbox's log then holds what its holders need plus at most about
/// this much more, and one trim costs a pass over the mailboxes and what
/// is in flight.
pub const TRIM_EVERY: SimDuration = SimDuration(6 * traffic::HOUR_US);

/// Trims a streaming run's logs at `now`: for each mailbox, drops the
/// changes before the first one anyone may still touch (the provider's
/// next commit and the sender's notifications, the consumer's cursors,
/// queue and lookback windows, and `in_flight`: the `(mailbox, seq)` of
/// every change in a transmit the driver carries), folding each dropped
/// change's verdict into the ledger. A mark set too far makes a later
/// reader panic (`Logs::change`, `Logs::check_from`); it never changes a
/// report. Does nothing to whole logs.
pub fn trim(
    now: SimTime,
    provider: &Provider,
    consumer: &Consumer,
    in_flight: impl IntoIterator<Item = (u32, u32)>,
    ledger: &mut Ledger,
) {
    if !ledger.logs().is_lazy() {
        return;
    }
    let n = ledger.logs().mailboxes() as usize;
    let mut keep = vec![u32::MAX; n];
    let mut keep_at = vec![u64::MAX; n];
    provider.holds(now, &mut keep, &mut keep_at);
    consumer.holds(now, &mut keep, &mut keep_at);
    for (m, seq) in in_flight {
        keep[m as usize] = keep[m as usize].min(seq);
    }
    for m in 0..n as u32 {
        let logs = ledger.logs();
        let (base, log) = logs.window(m);
        // Changes committed at or after `keep_at` are still listable.
        let by_time = base + log.partition_point(|c| c.at.0 < keep_at[m as usize]) as u32;
        let mark = keep[m as usize].min(by_time);
        if mark > base {
            ledger.trim(m, mark, consumer.poller());
        }
    }
}

/// What [`quiet_poll`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quiet {
    /// Nothing: the poll may not be quiet. Handle its timer as usual.
    No,
    /// The poll is done; the mailbox's next one is due then (its timer
    /// is the driver's to arm).
    Next(SimTime),
    /// The poll is done, but its answer would arrive at or after the
    /// run's end (a driver drops such an answer): no next poll.
    Lost,
}

/// Mailbox `m`'s poll timer fires at `now`, in a run that ends at `end`.
/// When the poll is quiet (the consumer's conditions,
/// [`Consumer::quiet_cursor`], and the provider's,
/// [`Provider::quiet_list`]: nothing new after the cursor, nothing in
/// the way), it is handled whole here, with the effects the timer, the
/// list call, its answer and its application have one after the other
/// (the same counters, token, latency draw, peak-rate hit and next slot),
/// but without building a call, an answer or an output. Otherwise
/// nothing changes and the result is [`Quiet::No`]. Most polls of a
/// polling run are quiet (84% at 5 minutes and 50 messages a day).
#[inline(always)]
pub fn quiet_poll(
    provider: &mut Provider,
    consumer: &mut Consumer,
    ledger: &mut Ledger,
    m: u32,
    now: SimTime,
    end: SimTime,
) -> Quiet {
    let Some((cursor, next_slot)) = consumer.quiet_cursor(now, m, ledger) else {
        return Quiet::No;
    };
    // An answer before both is known to change nothing but the cycle's
    // end: its exact time is not needed.
    let by = next_slot.min(end);
    let Some(at) = provider.quiet_list(now, m, cursor, by, ledger) else {
        return Quiet::No;
    };
    match consumer.quiet_polled(m, at, end, ledger) {
        Some(next) => Quiet::Next(next),
        None => Quiet::Lost,
    }
}

/// The sealed report of a finished run (after `provider.finish(end)`).
pub fn report(
    cfg: &RunConfig,
    provider: &Provider,
    consumer: &Consumer,
    net: &Network,
    ledger: &Ledger,
) -> Report {
    assemble(&observed(cfg, provider, consumer, net, ledger))
}

/// What a finished run observed, for the report's assembly.
fn observed<'a>(
    cfg: &'a RunConfig,
    provider: &'a Provider,
    consumer: &'a Consumer,
    net: &'a Network,
    ledger: &'a Ledger,
) -> Observed<'a> {
    Observed {
        cfg,
        ledger,
        replica: consumer.replica(),
        poller: consumer.poller(),
        sender: provider.sender(),
        receiver: consumer.receiver().map(|r| &r.stats),
        hits: net.hits(),
        quota: provider.quota(),
    }
}

/// Why change `seq` of mailbox `m` was lost in a finished run (`None`:
/// it was applied), by the report's rules: for traces' verdicts.
pub fn loss_cause(
    (cfg, provider, consumer, net, ledger): (&RunConfig, &Provider, &Consumer, &Network, &Ledger),
    m: u32,
    seq: u32,
) -> Option<crate::metrics::report::LossCause> {
    crate::metrics::assemble::loss_cause(&observed(cfg, provider, consumer, net, ledger), m, seq)
}
