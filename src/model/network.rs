//! The network between the webhook sender and the consumer's endpoint:
//! one-way latency, and what the per-attempt delivery faults do to an
//! attempt in transit. Sans-IO and shared by drivers: it takes the send
//! time and the attempt's [`Fate`] and says when (and whether) the request
//! and its answer travel; the driver schedules what it says.
//!
//! Latencies come from one stream, drawn in the order the driver asks
//! (request order), so a run is reproducible from its seed.

use super::config::OutageMode;
use super::faults::Fate;
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

/// The delivery network.
#[derive(Clone, Debug)]
pub struct Network {
    latency: Sampler,
}

impl Network {
    /// A network with this one-way latency.
    pub fn new(latency: Sampler) -> Self {
        Network { latency }
    }

    /// One one-way trip's latency (a response on its way back).
    #[inline]
    pub fn one_way(&mut self) -> SimDuration {
        self.latency.sample()
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
        Network::new(Sampler::new(
            Delay::Fixed(SimDuration::from_millis(50)),
            rng,
        ))
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
