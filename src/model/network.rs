//! The network between the webhook sender and the consumer's endpoint:
//! one-way latency, and what the per-attempt delivery faults do to an
//! attempt in transit. Sans-IO and shared by drivers: it takes the send
//! time and the attempt's [`Fate`] and says when (and whether) the request
//! and its answer travel; the driver schedules what it says.
//!
//! Latencies come from one stream, drawn in the order the driver asks
//! (request order), so a run is reproducible from its seed.

use super::config::OutageMode;
use super::faults::{Fate, FaultHits, FaultPlan};
use super::ledger::{trace, Ledger};
use super::transmit::{Delivery, DeliveryAnswer, Status};
use crate::engine::sample::Sampler;
use crate::engine::time::{SimDuration, SimTime};

/// How one delivery attempt travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Carry {
    /// The endpoint refused it (or answered 503) at once: the failure
    /// reaches the sender at `back`.
    Refused {
        /// When the sender sees the failure.
        back: SimTime,
    },
    /// Nothing ever comes back (a hanging endpoint or a lost request): the
    /// sender finds out at its timeout.
    Silent,
    /// The request reaches the endpoint at `at` (a copy at `copy_at`); its
    /// response is lost on the way back when `mute`.
    Arrives {
        /// When the request reaches the endpoint.
        at: SimTime,
        /// When a duplicate copy arrives, if the attempt is duplicated.
        copy_at: Option<SimTime>,
        /// The response never reaches the sender.
        mute: bool,
    },
}

/// The delivery network: latency, and the per-attempt delivery faults.
#[derive(Clone, Debug)]
pub struct Network {
    latency: Sampler,
    faults: FaultPlan,
}

impl Network {
    /// A network with this one-way latency, under `faults`' delivery
    /// faults (endpoint outages, drops, duplicates, reordering).
    pub fn new(latency: Sampler, faults: FaultPlan) -> Self {
        Network { latency, faults }
    }

    /// How often each delivery fault fired.
    pub fn hits(&self) -> &FaultHits {
        &self.faults.hits
    }

    /// The fault plan (what signs when, for drivers that sign).
    pub fn faults(&self) -> &FaultPlan {
        &self.faults
    }

    /// Whether a forged delivery joins the attempt sent at `now` for
    /// mailbox `m`, and how it is forged (drivers that sign ask; its draws
    /// are its own stream's, so asking changes no other fault's).
    pub fn forge(&mut self, now: SimTime, m: u32) -> Option<super::config::Forgery> {
        self.faults.forge(now, m)
    }

    /// Carries delivery `d`, sent at `now`: the faults decide its fate
    /// (drawn in attempt order), the latency when it arrives.
    pub fn carry(&mut self, now: SimTime, d: &Delivery, ledger: &mut Ledger) -> Carry {
        let fate = if self.faults.affects_deliveries() {
            self.faults.fate(now, d.mailbox)
        } else {
            Fate::default()
        };
        if ledger.tracing() {
            // `fate` is one word of a closed set: `sent`, `request_lost`,
            // `endpoint_outage` (with `outage`: `refused`, `503`, `hang`).
            let (what, outage) = match (fate.outage, fate.drop_request) {
                (Some(mode), _) => ("endpoint_outage", Some(mode.name())),
                (None, true) => ("request_lost", None),
                _ => ("sent", None),
            };
            trace!(ledger, now, d.mailbox, ledger.change(d.mailbox, d.seq), "attempt", "attempt" => d.attempt, "fate" => what, "outage" => outage,
                "response_lost" => fate.drop_response, "duplicated" => fate.duplicate, "extra_delay_ms" => fate.extra_delay.as_millis_f64());
        }
        self.send(now, fate)
    }

    /// Carries a lifecycle notification for mailbox `m`, sent at `now`,
    /// like a delivery attempt (the same faults, drawn in send order, and
    /// latency): when it reaches the endpoint, or `None` when it does not
    /// (refused, hanging or lost: a lifecycle notification is sent once,
    /// so it is lost). A duplicate copy is not modelled.
    pub fn carry_lifecycle(&mut self, now: SimTime, m: u32) -> Option<SimTime> {
        let fate = if self.faults.affects_deliveries() {
            self.faults.fate(now, m)
        } else {
            Fate::default()
        };
        match self.send(now, fate) {
            Carry::Arrives { at, .. } => Some(at),
            Carry::Refused { .. } | Carry::Silent => None,
        }
    }

    /// One one-way trip's latency.
    #[inline]
    pub fn one_way(&mut self) -> SimDuration {
        self.latency.sample()
    }

    /// True when the network loses this answer on its way back: the
    /// attempt's response was dropped and the endpoint did answer it (a
    /// 2xx or a 500); a refused connection or a 429 still gets back.
    #[inline]
    pub fn response_lost(a: &DeliveryAnswer) -> bool {
        a.reply.lost && matches!(a.status, Status::Ok | Status::Failed)
    }

    /// When a response given at `now` is back at the sender. Every
    /// delivery that arrives draws one (after the consumer has seen it,
    /// used if the endpoint answers at once), and every later answer
    /// draws its own: drivers follow this order, so the latency stream is
    /// drawn alike whatever the driver.
    #[inline]
    pub fn back_from(&mut self, now: SimTime) -> SimTime {
        now + self.one_way()
    }

    /// Carries an attempt sent at `now` whose fate the faults decided.
    pub fn send(&mut self, now: SimTime, fate: Fate) -> Carry {
        match fate.outage {
            Some(OutageMode::Refused) | Some(OutageMode::Status503) => {
                return Carry::Refused {
                    back: now + self.one_way(),
                }
            }
            Some(OutageMode::Hang) => return Carry::Silent,
            None => {}
        }
        if fate.drop_request {
            return Carry::Silent;
        }
        let at = now + self.one_way() + fate.extra_delay;
        let copy_at = fate.duplicate.then(|| at + self.one_way());
        Carry::Arrives {
            at,
            copy_at,
            mute: fate.drop_response,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::sample::Delay;

    fn net() -> Network {
        let rng = crate::engine::rng::Streams::new(1)
            .stream(crate::engine::rng::Purpose::WebhookLatency, 0);
        let streams = crate::engine::rng::Streams::new(1);
        Network::new(
            Sampler::new(Delay::Fixed(SimDuration::from_millis(50)), rng),
            FaultPlan::new(&[], 1, &streams),
        )
    }

    #[test]
    fn each_fate_travels_as_it_should() {
        let t = SimTime(1_000_000);
        let ms = |x: u64| SimDuration::from_millis(x);
        assert_eq!(
            net().send(t, Fate::default()),
            Carry::Arrives {
                at: t + ms(50),
                copy_at: None,
                mute: false
            }
        );
        let dup = Fate {
            duplicate: true,
            drop_response: true,
            extra_delay: ms(7),
            ..Fate::default()
        };
        assert_eq!(
            net().send(t, dup),
            Carry::Arrives {
                at: t + ms(57),
                copy_at: Some(t + ms(107)),
                mute: true
            }
        );
        let refused = Fate {
            outage: Some(OutageMode::Status503),
            drop_request: true,
            ..Fate::default()
        };
        assert_eq!(net().send(t, refused), Carry::Refused { back: t + ms(50) });
        let hang = Fate {
            outage: Some(OutageMode::Hang),
            ..Fate::default()
        };
        assert_eq!(net().send(t, hang), Carry::Silent);
        let lost = Fate {
            drop_request: true,
            duplicate: true,
            ..Fate::default()
        };
        assert_eq!(net().send(t, lost), Carry::Silent);
    }
}
