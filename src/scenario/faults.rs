//! `[[faults]]`: what can go wrong, and when. Every fault has one trigger
//! shape: a time window (`at` + `for`, or `every` + `for` from `at` until
//! `until`) and/or a per-attempt `probability`, optionally limited to a
//! share of mailboxes (`mailboxes = 0.2`). Which keys apply depends on the
//! kind; a key that does not apply is an error.

use super::spec::{invalid, Invalid, Positive, Probability, Scenario};
use crate::engine::time::{PositiveDuration, SimDuration, DURATION_HELP};
use crate::model::config::{DropWhat, Forgery, OutageMode};
use serde::Deserialize;
use std::fmt;

/// One injected fault.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// What fails.
    pub kind: FaultKind,
    /// Start of the (first) window.
    pub at: Option<SimDuration>,
    /// Length of each window (for `consumer_crash`: the downtime).
    #[serde(rename = "for")]
    pub duration: Option<PositiveDuration>,
    /// Repeat the window with this period.
    pub every: Option<PositiveDuration>,
    /// Stop repeating at this time (default: never).
    pub until: Option<SimDuration>,
    /// Chance that one delivery attempt is hit (within the window, if any).
    pub probability: Option<Probability>,
    /// Share of mailboxes the fault applies to (default: all).
    pub mailboxes: Option<Probability>,
    /// `endpoint_outage`: how the endpoint fails.
    pub mode: Option<OutageMode>,
    /// `drop`: lose the request, or the response after processing.
    pub what: Option<DropWhat>,
    /// `reorder`: largest extra delay.
    pub max_delay: Option<PositiveDuration>,
    /// `rate_squeeze`: multiply the source's rate limits (0 < f < 1);
    /// `slow_consumer`: multiply handler time (f > 1).
    pub factor: Option<Positive>,
    /// `bursty_loss`: chance per attempt of moving good → bad.
    pub p_good_to_bad: Option<Probability>,
    /// `bursty_loss`: chance per attempt of moving bad → good.
    pub p_bad_to_good: Option<Probability>,
    /// `bursty_loss`: loss chance in the good state (default 0).
    pub loss_good: Option<Probability>,
    /// `bursty_loss`: loss chance in the bad state (default 1).
    pub loss_bad: Option<Probability>,
    /// `forged`: how the extra deliveries are forged (default `any`).
    pub forgery: Option<Forgery>,
}

/// Fault kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The webhook endpoint fails (refused, 503, or hangs until the timeout).
    EndpointOutage,
    /// A delivery's request, or its response after processing, is lost.
    Drop,
    /// A delivery reaches the consumer twice.
    Duplicate,
    /// A delivery is held back by a random extra delay up to `max_delay`.
    Reorder,
    /// The consumer is down for `for`; a memory queue loses its contents.
    ConsumerCrash,
    /// The mail API answers 503 to every request in the window.
    SourceOutage,
    /// The mail API's rate limits are multiplied by `factor` in the window.
    RateSqueeze,
    /// The consumer's handler time is multiplied by `factor` in the window.
    SlowConsumer,
    /// Gilbert-Elliott loss of delivery requests: a good and a bad state.
    BurstyLoss,
    /// The signing secret changes at `at`; both sign for `for`, then the
    /// new one only (live mode).
    SecretRotation,
    /// Extra deliveries with a bad signature, a wrong secret or a
    /// timestamp outside the tolerance (live mode).
    Forged,
    /// Subscription renewals (and re-creations) fail with a 5xx: in the
    /// window, with the probability, for the share of mailboxes given.
    RenewalFailure,
}

impl FaultKind {
    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::EndpointOutage => "endpoint_outage",
            FaultKind::Drop => "drop",
            FaultKind::Duplicate => "duplicate",
            FaultKind::Reorder => "reorder",
            FaultKind::ConsumerCrash => "consumer_crash",
            FaultKind::SourceOutage => "source_outage",
            FaultKind::RateSqueeze => "rate_squeeze",
            FaultKind::SlowConsumer => "slow_consumer",
            FaultKind::BurstyLoss => "bursty_loss",
            FaultKind::SecretRotation => "secret_rotation",
            FaultKind::Forged => "forged",
            FaultKind::RenewalFailure => "renewal_failure",
        }
    }

    /// True for faults decided per delivery attempt (they accept
    /// `probability` and `mailboxes`); the others are windows in time.
    pub fn per_attempt(self) -> bool {
        matches!(
            self,
            FaultKind::EndpointOutage
                | FaultKind::Drop
                | FaultKind::Duplicate
                | FaultKind::Reorder
                | FaultKind::BurstyLoss
                | FaultKind::Forged
        )
    }

    /// True for faults decided per call or attempt: they accept
    /// `probability` and `mailboxes` (the per-attempt kinds, and
    /// `renewal_failure`, decided per subscription call).
    pub fn per_call(self) -> bool {
        self.per_attempt() || self == FaultKind::RenewalFailure
    }

    /// True for faults only a driver that signs deliveries over HTTP can
    /// apply (`serve`, `live`); the simulator reports them as not fired.
    pub fn live_only(self) -> bool {
        matches!(self, FaultKind::SecretRotation | FaultKind::Forged)
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FaultSpec {
    /// True when the fault has a time window.
    pub fn has_window(&self) -> bool {
        self.at.is_some() || self.every.is_some()
    }

    /// How many windows start before `end` (counted, not listed): one for
    /// `at` + `for`, `(min(until, end) - at) / every` rounded up for a
    /// repeating fault, none without a window.
    pub fn windows_before(&self, end: SimDuration) -> f64 {
        let start = self.at.unwrap_or(SimDuration::ZERO);
        match self.every {
            None => f64::from(u8::from(self.has_window())),
            Some(every) => {
                let stop = self.until.map_or(end, |u| u.min(end));
                if start >= stop {
                    0.0
                } else {
                    ((stop.0 - start.0) as f64 / every.get().0 as f64).ceil()
                }
            }
        }
    }

    /// Checks the keys that apply to this kind.
    pub fn validate(&self, i: usize, scenario: &Scenario) -> Result<(), Invalid> {
        let at = |k: &str| format!("faults[{i}].{k}");
        let kind = self.kind;
        let not_for = |k: &str, present: bool| -> Result<(), Invalid> {
            if present {
                Err(invalid(at(k), format!("`{k}` does not apply to {kind}")))
            } else {
                Ok(())
            }
        };
        // Keys that belong to one kind only.
        if kind != FaultKind::EndpointOutage {
            not_for("mode", self.mode.is_some())?;
        }
        if kind != FaultKind::Drop {
            not_for("what", self.what.is_some())?;
        }
        if kind != FaultKind::Reorder {
            not_for("max_delay", self.max_delay.is_some())?;
        }
        if !matches!(kind, FaultKind::RateSqueeze | FaultKind::SlowConsumer) {
            not_for("factor", self.factor.is_some())?;
        }
        if kind != FaultKind::BurstyLoss {
            not_for("p_good_to_bad", self.p_good_to_bad.is_some())?;
            not_for("p_bad_to_good", self.p_bad_to_good.is_some())?;
            not_for("loss_good", self.loss_good.is_some())?;
            not_for("loss_bad", self.loss_bad.is_some())?;
        }
        if kind != FaultKind::Forged {
            not_for("forgery", self.forgery.is_some())?;
        }
        if !kind.per_call() {
            not_for("probability", self.probability.is_some())?;
            not_for("mailboxes", self.mailboxes.is_some())?;
        }
        // The window, if any, must be whole.
        if self.has_window() && self.duration.is_none() {
            return Err(invalid(
                at("for"),
                format!("{kind} needs `for` with `at` or `every`: {DURATION_HELP}"),
            ));
        }
        if self.duration.is_some() && !self.has_window() {
            return Err(invalid(
                at("at"),
                format!("{kind} has `for` but no `at` or `every`: {DURATION_HELP}"),
            ));
        }
        if let (Some(every), Some(len)) = (self.every, self.duration) {
            if every.get() < len.get() {
                return Err(invalid(
                    at("every"),
                    "windows overlap; expected every >= for",
                ));
            }
        }
        if self.until.is_some() && self.every.is_none() {
            return Err(invalid(
                at("until"),
                "`until` only applies to repeating faults (with `every`)",
            ));
        }
        // What each kind needs.
        match kind {
            FaultKind::ConsumerCrash
            | FaultKind::SourceOutage
            | FaultKind::RateSqueeze
            | FaultKind::SlowConsumer
            | FaultKind::SecretRotation => {
                if !self.has_window() {
                    return Err(invalid(
                        at("at"),
                        format!("{kind} needs a window: `at` (or `every`) and `for`"),
                    ));
                }
            }
            FaultKind::EndpointOutage
            | FaultKind::Drop
            | FaultKind::Duplicate
            | FaultKind::Reorder
            | FaultKind::Forged
            | FaultKind::RenewalFailure => {
                if !self.has_window() && self.probability.is_none() {
                    return Err(invalid(
                        at("probability"),
                        format!("{kind} needs a window (`at`/`every` + `for`), a `probability`, or both"),
                    ));
                }
            }
            FaultKind::BurstyLoss => {
                if self.p_good_to_bad.is_none() || self.p_bad_to_good.is_none() {
                    return Err(invalid(
                        at("p_good_to_bad"),
                        "bursty_loss needs p_good_to_bad and p_bad_to_good (probabilities per attempt)",
                    ));
                }
            }
        }
        match kind {
            FaultKind::Reorder if self.max_delay.is_none() => {
                return Err(invalid(
                    at("max_delay"),
                    format!("reorder needs max_delay: {DURATION_HELP}"),
                ));
            }
            FaultKind::RateSqueeze => {
                match self.factor {
                    None => return Err(invalid(
                        at("factor"),
                        "rate_squeeze needs factor: the share of the normal rate, 0 < factor < 1",
                    )),
                    Some(f) if f.0 >= 1.0 => {
                        return Err(invalid(
                            at("factor"),
                            format!("factor {} does not squeeze; expected 0 < factor < 1", f.0),
                        ))
                    }
                    _ => {}
                }
            }
            FaultKind::SlowConsumer => match self.factor {
                None => {
                    return Err(invalid(
                        at("factor"),
                        "slow_consumer needs factor: handler time multiplier > 1",
                    ))
                }
                Some(f) if f.0 <= 1.0 => {
                    return Err(invalid(
                        at("factor"),
                        format!("factor {} does not slow down; expected factor > 1", f.0),
                    ))
                }
                _ => {}
            },
            _ => {}
        }
        if kind == FaultKind::RenewalFailure && !scenario.models_subscriptions() {
            return Err(invalid(
                at("kind"),
                "renewal_failure fails subscription renewals, but the scenario's subscriptions never expire: use a preset whose subscriptions do (msgraph, gmail) or set webhooks.subscription_lifetime, with strategy \"webhook\" or \"hybrid\"",
            ));
        }
        let webhook_fault =
            kind.per_attempt() || kind == FaultKind::SlowConsumer || kind.live_only();
        if webhook_fault && scenario.webhooks.is_none() {
            return Err(invalid(
                at("kind"),
                format!(
                    "{kind} affects webhook delivery, but the scenario has no [webhooks] section"
                ),
            ));
        }
        Ok(())
    }
}
