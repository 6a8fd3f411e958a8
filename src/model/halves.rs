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
use crate::engine::time::SimDuration;
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
