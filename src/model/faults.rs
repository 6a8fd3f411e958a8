//! Injected faults: time windows for the source and the consumer, and
//! per-attempt triggers for webhook deliveries, each drawing from its own
//! seeded stream.

use super::config::{DropWhat, FaultConfig, FaultEffect, Forgery, OutageMode};
use crate::engine::rng::{Purpose, SimRng, Streams};
use crate::engine::sample::{below, unit};
use crate::engine::time::{SimDuration, SimTime};

/// One fault window, once or repeating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// `[start, end)`.
    Once {
        /// First instant inside.
        start: SimTime,
        /// First instant after.
        end: SimTime,
    },
    /// `[start + k·period, start + k·period + len)` for every k ≥ 0 whose
    /// window starts before `until`.
    Every {
        /// Start of the first window.
        start: SimTime,
        /// Distance between window starts.
        period: SimDuration,
        /// Length of each window.
        len: SimDuration,
        /// No window starts at or after this.
        until: SimTime,
    },
}

impl Window {
    /// True when `t` is inside the window.
    #[inline]
    pub fn contains(&self, t: SimTime) -> bool {
        match *self {
            Window::Once { start, end } => start <= t && t < end,
            Window::Every {
                start,
                period,
                len,
                until,
            } => {
                if t < start {
                    return false;
                }
                let k = (t.0 - start.0) / period.0;
                let w = start.0 + k * period.0;
                w < until.0 && t.0 < w + len.0
            }
        }
    }

    /// The first window start strictly after `t`, if any.
    pub fn next_start_after(&self, t: SimTime) -> Option<SimTime> {
        match *self {
            Window::Once { start, .. } => (start > t).then_some(start),
            Window::Every {
                start,
                period,
                until,
                ..
            } => {
                let next = if t < start {
                    start
                } else {
                    SimTime(start.0 + ((t.0 - start.0) / period.0 + 1) * period.0)
                };
                (next < until).then_some(next)
            }
        }
    }

    /// The end of the window containing `t`, if any.
    pub fn end_after(&self, t: SimTime) -> Option<SimTime> {
        if !self.contains(t) {
            return None;
        }
        Some(match *self {
            Window::Once { end, .. } => end,
            Window::Every {
                start, period, len, ..
            } => SimTime(start.0 + (t.0 - start.0) / period.0 * period.0 + len.0),
        })
    }
}

/// A set of windows; `t` is faulty when any contains it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Windows(pub Vec<Window>);

impl Windows {
    /// True when any window contains `t`.
    #[inline]
    pub fn contains(&self, t: SimTime) -> bool {
        self.0.iter().any(|w| w.contains(t))
    }

    /// True when there is no window at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// When a per-attempt fault fires: inside its window (if any), for member
/// mailboxes (if a share is given), with its probability (if any). Draws
/// come from the fault's own stream, only when the window and membership
/// allow, so the order of draws is the order of attempts.
#[derive(Clone, Debug)]
pub struct Trigger {
    window: Option<Window>,
    probability: Option<f64>,
    /// Bit `m` set when mailbox `m` is affected (None: all are).
    members: Option<Vec<u64>>,
    rng: SimRng,
}

impl Trigger {
    fn new(f: &FaultConfig, index: usize, mailboxes: u32, streams: &Streams) -> Self {
        let members = f.share.map(|share| {
            let mut rng = streams.stream(Purpose::FaultMembers, index as u64);
            let mut bits = vec![0u64; (mailboxes as usize).div_ceil(64)];
            for m in 0..mailboxes as usize {
                if unit(&mut rng) < share {
                    bits[m / 64] |= 1 << (m % 64);
                }
            }
            bits
        });
        Trigger {
            window: f.window,
            probability: f.probability,
            members,
            rng: streams.stream(Purpose::Fault, index as u64),
        }
    }

    /// True when mailbox `m` is in the fault's share.
    pub fn member(&self, m: u32) -> bool {
        self.members
            .as_ref()
            .is_none_or(|b| b[m as usize / 64] & (1 << (m % 64)) != 0)
    }

    /// True when the window (if any) contains `t` and `m` is a member.
    fn armed(&self, t: SimTime, m: u32) -> bool {
        self.window.is_none_or(|w| w.contains(t)) && self.member(m)
    }

    /// Decides one attempt at `t` for mailbox `m`.
    fn fires(&mut self, t: SimTime, m: u32) -> bool {
        self.armed(t, m) && self.probability.is_none_or(|p| unit(&mut self.rng) < p)
    }
}

/// `renewal_failure` faults: which subscription calls (renewals and
/// creations) fail. Each call consults every fault in scenario order,
/// each drawing from its own stream only inside its window and share.
#[derive(Clone, Debug, Default)]
pub struct RenewalFaults(Vec<Trigger>);

impl RenewalFaults {
    /// Decides whether a subscription call for mailbox `m` reaching the
    /// API at `t` fails.
    pub fn fails(&mut self, t: SimTime, m: u32) -> bool {
        let mut failed = false;
        for trigger in &mut self.0 {
            failed |= trigger.fires(t, m);
        }
        failed
    }

    /// True when no fault fails subscription calls.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Gilbert-Elliott loss: a two-state Markov chain stepped once per attempt.
#[derive(Clone, Debug)]
pub struct GilbertElliott {
    trigger: Trigger,
    p_gb: f64,
    p_bg: f64,
    loss_good: f64,
    loss_bad: f64,
    bad: bool,
}

impl GilbertElliott {
    /// Steps the chain and decides whether this attempt is lost.
    fn lost(&mut self, t: SimTime, m: u32) -> bool {
        if !self.trigger.armed(t, m) {
            return false;
        }
        let rng = &mut self.trigger.rng;
        let flip = unit(rng);
        self.bad = if self.bad {
            flip >= self.p_bg
        } else {
            flip < self.p_gb
        };
        unit(rng)
            < if self.bad {
                self.loss_bad
            } else {
                self.loss_good
            }
    }
}

/// What the network and the endpoint do to one delivery attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fate {
    /// The endpoint is out (and how).
    pub outage: Option<OutageMode>,
    /// The request is lost on the way (the sender times out).
    pub drop_request: bool,
    /// The response is lost after the consumer processed it.
    pub drop_response: bool,
    /// The request arrives twice.
    pub duplicate: bool,
    /// Extra delay before the request arrives.
    pub extra_delay: SimDuration,
}

/// How often each fault kind fired, for the report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultHits {
    /// Attempts hit by an endpoint outage.
    pub endpoint_outage: u64,
    /// Requests lost by `drop` or `bursty_loss`.
    pub dropped_requests: u64,
    /// Responses lost after processing.
    pub dropped_responses: u64,
    /// Requests delivered twice.
    pub duplicated: u64,
    /// Requests delayed by `reorder`.
    pub reordered: u64,
}

/// Every fault of a scenario, grouped by what it affects.
#[derive(Clone, Debug, Default)]
pub struct FaultPlan {
    /// When the mail API answers 503.
    pub source_outage: Windows,
    /// Rate-limit multipliers at the source.
    pub rate_squeeze: Vec<(Window, f64)>,
    /// When the consumer is down.
    pub consumer_crash: Vec<Window>,
    /// Handler-time multipliers.
    pub slow_consumer: Vec<(Window, f64)>,
    endpoint_outage: Vec<(Trigger, OutageMode)>,
    drop: Vec<(Trigger, DropWhat)>,
    duplicate: Vec<Trigger>,
    reorder: Vec<(Trigger, SimDuration)>,
    bursty: Vec<GilbertElliott>,
    /// Secret rotations: the new secret from each start, both during it.
    pub secret_rotation: Vec<Window>,
    forged: Vec<(Trigger, Forgery)>,
    /// When subscription calls fail (the provider's half takes a copy).
    pub renewal_failure: RenewalFaults,
    /// Counts of what fired.
    pub hits: FaultHits,
}

impl FaultPlan {
    /// The plan for a scenario's `[[faults]]` over `mailboxes`.
    pub fn new(faults: &[FaultConfig], mailboxes: u32, streams: &Streams) -> Self {
        let mut plan = FaultPlan::default();
        for (i, f) in faults.iter().enumerate() {
            // A windowless fault of a windowed kind cannot pass validation;
            // `always` keeps this total anyway.
            let window = || {
                f.window.unwrap_or(Window::Once {
                    start: SimTime::ZERO,
                    end: SimTime::MAX,
                })
            };
            let trigger = || Trigger::new(f, i, mailboxes, streams);
            match f.effect {
                FaultEffect::SourceOutage => plan.source_outage.0.push(window()),
                FaultEffect::RateSqueeze(factor) => plan.rate_squeeze.push((window(), factor)),
                FaultEffect::ConsumerCrash => plan.consumer_crash.push(window()),
                FaultEffect::SlowConsumer(factor) => plan.slow_consumer.push((window(), factor)),
                FaultEffect::SecretRotation => plan.secret_rotation.push(window()),
                FaultEffect::Forged(how) => plan.forged.push((trigger(), how)),
                FaultEffect::RenewalFailure => plan.renewal_failure.0.push(trigger()),
                FaultEffect::EndpointOutage(mode) => plan.endpoint_outage.push((trigger(), mode)),
                FaultEffect::Drop(what) => plan.drop.push((trigger(), what)),
                FaultEffect::Duplicate => plan.duplicate.push(trigger()),
                FaultEffect::Reorder(max) => plan.reorder.push((trigger(), max)),
                FaultEffect::BurstyLoss {
                    p_good_to_bad,
                    p_bad_to_good,
                    loss_good,
                    loss_bad,
                } => plan.bursty.push(GilbertElliott {
                    trigger: trigger(),
                    p_gb: p_good_to_bad,
                    p_bg: p_bad_to_good,
                    loss_good,
                    loss_bad,
                    bad: false,
                }),
            }
        }
        plan
    }

    /// True when the plan has any per-attempt fault.
    pub fn affects_deliveries(&self) -> bool {
        !(self.endpoint_outage.is_empty()
            && self.drop.is_empty()
            && self.duplicate.is_empty()
            && self.reorder.is_empty()
            && self.bursty.is_empty())
    }

    /// Decides what happens to a delivery attempt sent at `t` for mailbox
    /// `m`. Every fault is consulted in scenario order, every time, so the
    /// draws do not depend on which other faults fired.
    pub fn fate(&mut self, t: SimTime, m: u32) -> Fate {
        let mut fate = Fate::default();
        for (trigger, mode) in &mut self.endpoint_outage {
            if trigger.fires(t, m) && fate.outage.is_none() {
                fate.outage = Some(*mode);
            }
        }
        for (trigger, what) in &mut self.drop {
            if trigger.fires(t, m) {
                match what {
                    DropWhat::Request => fate.drop_request = true,
                    DropWhat::Response => fate.drop_response = true,
                }
            }
        }
        for ge in &mut self.bursty {
            fate.drop_request |= ge.lost(t, m);
        }
        for trigger in &mut self.duplicate {
            fate.duplicate |= trigger.fires(t, m);
        }
        for (trigger, max) in &mut self.reorder {
            if trigger.fires(t, m) {
                fate.extra_delay =
                    fate.extra_delay + SimDuration(below(&mut trigger.rng, max.0 + 1));
            }
        }
        let h = &mut self.hits;
        h.endpoint_outage += fate.outage.is_some() as u64;
        if fate.outage.is_none() {
            h.dropped_requests += fate.drop_request as u64;
            h.dropped_responses += (fate.drop_response && !fate.drop_request) as u64;
            h.duplicated += (fate.duplicate && !fate.drop_request) as u64;
            h.reordered += (!fate.extra_delay.is_zero()) as u64;
        }
        fate
    }

    /// Whether a delivery attempt sent at `t` for mailbox `m` is joined by
    /// a forged one, and how it is forged (`Any` resolved to one kind).
    /// Only drivers that sign deliveries ask (live mode).
    pub fn forge(&mut self, t: SimTime, m: u32) -> Option<Forgery> {
        let mut out = None;
        for (trigger, how) in &mut self.forged {
            if trigger.fires(t, m) && out.is_none() {
                out = Some(match how {
                    Forgery::Any => match below(&mut trigger.rng, 4) {
                        0 => Forgery::BadSignature,
                        1 => Forgery::WrongSecret,
                        2 => Forgery::StaleTimestamp,
                        _ => Forgery::FutureTimestamp,
                    },
                    other => *other,
                });
            }
        }
        out
    }

    /// Which key generation signs at `t` (0 before any rotation), and
    /// whether the one before it still signs too (inside an overlap).
    pub fn signing_generation(&self, t: SimTime) -> (usize, bool) {
        let mut gen = 0;
        let mut overlap = false;
        for w in &self.secret_rotation {
            let mut start = w.first_start();
            while let Some(s) = start.filter(|s| *s <= t) {
                gen += 1;
                overlap |= w.contains(t);
                start = w.next_start_after(s);
            }
        }
        (gen, overlap)
    }

    /// How many rotations start before `end` (the keys a run needs, minus
    /// the first).
    pub fn rotations_before(&self, end: SimTime) -> usize {
        self.signing_generation(end).0
    }

    /// [`FaultPlan::rotations_before`] from the configs alone (a driver
    /// makes its keys before it builds the run).
    pub fn secret_rotations(faults: &[FaultConfig], end: SimTime) -> usize {
        let plan = FaultPlan {
            secret_rotation: faults
                .iter()
                .filter(|f| f.effect == FaultEffect::SecretRotation)
                .filter_map(|f| f.window)
                .collect(),
            ..FaultPlan::default()
        };
        plan.rotations_before(end)
    }

    /// The consumer host's own faults (crash and slow windows).
    pub fn host(&self) -> HostFaults {
        HostFaults {
            crash: self.consumer_crash.clone(),
            slow: self.slow_consumer.clone(),
        }
    }
}

/// The faults of the consumer's host: when it is down (crash windows) and
/// how much slower it processes (slow windows).
#[derive(Clone, Debug, Default)]
pub struct HostFaults {
    /// Crash windows: down from each start to its end.
    pub crash: Vec<Window>,
    /// Slow windows with their handler-time multipliers.
    pub slow: Vec<(Window, f64)>,
}

impl HostFaults {
    /// True when the consumer is down at `t`.
    pub fn down(&self, t: SimTime) -> bool {
        self.crash.iter().any(|w| w.contains(t))
    }

    /// When the consumer is down at `t`, the time it comes back.
    #[inline]
    pub fn down_until(&self, t: SimTime) -> Option<SimTime> {
        if self.crash.is_empty() {
            return None;
        }
        self.crash.iter().filter_map(|w| w.end_after(t)).max()
    }

    /// Handler-time multiplier at `t`.
    pub fn slow_factor(&self, t: SimTime) -> f64 {
        factor_at(&self.slow, t)
    }
}

/// The product of the factors whose windows contain `t` (1 outside them
/// all): a slow host's handler-time multiplier, a rate squeeze.
#[inline]
pub fn factor_at(windows: &[(Window, f64)], t: SimTime) -> f64 {
    if windows.is_empty() {
        return 1.0;
    }
    windows
        .iter()
        .filter(|(w, _)| w.contains(t))
        .map(|(_, f)| *f)
        .product()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_window_is_half_open() {
        let w = Window::Once {
            start: SimTime(10),
            end: SimTime(20),
        };
        assert!(!w.contains(SimTime(9)));
        assert!(w.contains(SimTime(10)));
        assert!(w.contains(SimTime(19)));
        assert!(!w.contains(SimTime(20)));
    }

    #[test]
    fn repeating_window_repeats_until() {
        let w = Window::Every {
            start: SimTime(100),
            period: SimDuration(50),
            len: SimDuration(10),
            until: SimTime(200),
        };
        assert!(w.contains(SimTime(105)));
        assert!(!w.contains(SimTime(115)));
        assert!(w.contains(SimTime(150)));
        assert!(
            !w.contains(SimTime(200)),
            "window starting at `until` is excluded"
        );
        assert_eq!(w.end_after(SimTime(152)), Some(SimTime(160)));
    }
}
