//! `[consumer]`: the strategy under test and how the consumer behaves.

use super::spec::{invalid, DelaySpec, Invalid, Positive, Probability};
use super::webhooks::WebhooksSpec;
use crate::engine::sample::Delay;
use crate::engine::time::{PositiveDuration, SimDuration, DURATION_HELP};
use crate::model::config::{Ack, Dedup, QueueKind};
use serde::Deserialize;
use std::num::NonZeroU32;

/// The consumer under test. Settings of other strategies are accepted and
/// ignored (so one file can sweep `consumer.strategy`); `adaptive` and
/// `long_poll` take precedence over `poll_interval`.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumerSpec {
    /// Which strategy.
    pub strategy: Strategy,
    /// Time between polls of one mailbox (strategy `poll`).
    pub poll_interval: Option<PositiveDuration>,
    /// Each poll moves by a uniform offset in `[-poll_jitter, +poll_jitter]`.
    #[serde(default)]
    pub poll_jitter: SimDuration,
    /// Retry policy after 5xx answers from the source.
    #[serde(default)]
    pub backoff: BackoffSpec,
    /// Conditional polls: an unchanged mailbox answers 304 (a cheap request).
    #[serde(default)]
    pub if_none_match: bool,
    /// Adaptive polling: `min` after a change, times `factor` per empty
    /// poll, up to `max` (replaces `poll_interval`).
    pub adaptive: Option<AdaptiveSpec>,
    /// Long polling: each request is held until a change or this timeout.
    pub long_poll: Option<PositiveDuration>,
    /// Webhook receiver: answer first then process, or process then answer.
    #[serde(default)]
    pub ack: Ack,
    /// Webhook receiver: what survives a crash.
    #[serde(default)]
    pub queue: QueueKind,
    /// Webhook receiver: parallel handlers.
    #[serde(default = "default_workers")]
    pub workers: NonZeroU32,
    /// Webhook receiver: time to process one notification.
    #[serde(default = "default_handler_time")]
    pub handler_time: DelaySpec,
    /// Webhook receiver: inbound token bucket answering 429.
    pub inbound_rate_limit: Option<InboundLimit>,
    /// Webhook receiver: chance that processing one notification fails.
    #[serde(default = "no_probability")]
    pub processing_failure: Probability,
    /// Webhook receiver: tries per notification before dead-lettering.
    #[serde(default = "default_processing_attempts")]
    pub processing_attempts: NonZeroU32,
    /// Webhook receiver: wait before a failed notification (a processing
    /// failure, or a thin payload's failed fetch) is tried again,
    /// `min(max, base · 2^(k-1))` after the k-th failure; without it the
    /// retry is immediate (back to back).
    pub processing_backoff: Option<ProcessingBackoffSpec>,
    /// How duplicates and out-of-order deliveries are handled.
    #[serde(default)]
    pub dedup: Dedup,
    /// Hybrid: time between reconciliation runs of one mailbox.
    pub reconcile_every: Option<PositiveDuration>,
    /// Webhook and hybrid: time between renewals of a mailbox's
    /// subscription (needs a preset whose subscriptions expire, or
    /// `webhooks.subscription_lifetime`; must be shorter than the
    /// lifetime). Default: the preset's recommendation (gmail: 1 d), else
    /// half the lifetime.
    pub renew_every: Option<PositiveDuration>,
    /// Webhook and hybrid: after a failed renewal, try again after this
    /// long (default: not before the next `renew_every`).
    pub renew_retry: Option<PositiveDuration>,
    /// Hybrid: how far back a run lists (a duration, or "watermark": since
    /// the previous run began).
    pub lookback: Option<LookbackSpec>,
}

/// `lookback`: a duration, or `"watermark"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookbackSpec {
    /// Changes stamped within this span before each run.
    Window(SimDuration),
    /// Changes stamped since the previous run began.
    Watermark,
}

impl<'de> Deserialize<'de> for LookbackSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text == "watermark" {
            return Ok(LookbackSpec::Watermark);
        }
        match crate::engine::time::parse_duration(&text) {
            Ok(v) if !v.is_zero() => Ok(LookbackSpec::Window(v)),
            _ => Err(serde::de::Error::custom(format!(
                "`{}` is not a lookback; expected \"watermark\" or {DURATION_HELP}",
                super::echo(&text)
            ))),
        }
    }
}

fn default_workers() -> NonZeroU32 {
    NonZeroU32::new(4).expect("4 is not zero")
}
fn default_handler_time() -> DelaySpec {
    DelaySpec(Delay::Fixed(SimDuration::from_millis(20)))
}
fn no_probability() -> Probability {
    Probability(0.0)
}
fn default_processing_attempts() -> NonZeroU32 {
    NonZeroU32::new(3).expect("3 is not zero")
}

/// The consumer strategies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Poll every mailbox on a timer.
    Poll,
    /// Receive webhook notifications only.
    Webhook,
    /// Webhooks plus a periodic reconciliation poll.
    Hybrid,
}

/// Adaptive polling intervals.
#[derive(Clone, Copy, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdaptiveSpec {
    /// Interval right after a poll that found changes.
    pub min: PositiveDuration,
    /// Longest interval, reached when idle.
    pub max: PositiveDuration,
    /// Growth per empty poll.
    #[serde(default = "two")]
    pub factor: Positive,
}

fn two() -> Positive {
    Positive(2.0)
}

/// Inbound rate limit of the webhook endpoint.
#[derive(Clone, Copy, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundLimit {
    /// Sustained requests per second.
    pub per_s: Positive,
    /// Bucket size (default: one second's worth).
    pub burst: Option<Positive>,
}

/// Exponential backoff `min(max, base · 2^k)` after the k-th failure in a row.
#[derive(Clone, Copy, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackoffSpec {
    /// First delay.
    #[serde(default = "default_backoff_base")]
    pub base: PositiveDuration,
    /// Longest delay (default: the poll interval).
    pub max: Option<PositiveDuration>,
}

fn default_backoff_base() -> PositiveDuration {
    PositiveDuration(SimDuration::from_secs(1))
}

impl Default for BackoffSpec {
    fn default() -> Self {
        BackoffSpec {
            base: default_backoff_base(),
            max: None,
        }
    }
}

/// `processing_backoff`: exponential waits between processing tries.
#[derive(Clone, Copy, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessingBackoffSpec {
    /// Wait after the first failure.
    pub base: PositiveDuration,
    /// Longest wait (default: 1 hour).
    pub max: Option<PositiveDuration>,
}

/// The longest processing backoff unless `max` says otherwise.
pub const DEFAULT_PROCESSING_BACKOFF_MAX: SimDuration = SimDuration::from_secs(3600);

impl ProcessingBackoffSpec {
    /// The receiver's backoff (every default filled in).
    pub fn resolve(&self) -> crate::model::receiver::ProcessingBackoff {
        crate::model::receiver::ProcessingBackoff {
            base: self.base.get(),
            max: self.max.map_or(DEFAULT_PROCESSING_BACKOFF_MAX, |m| m.get()),
        }
    }
}

impl ConsumerSpec {
    /// `renew_every` needs subscriptions that expire, and the cadence
    /// (given, or the preset's default) must be shorter than their
    /// lifetime: renewing less often lets every subscription lapse.
    fn validate_renewal(&self, webhooks: Option<&WebhooksSpec>) -> Result<(), Invalid> {
        let sender = webhooks.map(WebhooksSpec::resolve);
        let lifetime = sender.as_ref().and_then(|s| s.subscription_lifetime);
        let Some(lifetime) = lifetime else {
            let key = match (self.renew_every, self.renew_retry) {
                (Some(_), _) => "consumer.renew_every",
                (None, Some(_)) => "consumer.renew_retry",
                (None, None) => return Ok(()),
            };
            return Err(invalid(
                key,
                format!(
                    "preset \"{}\" has no expiring subscriptions to renew; use msgraph or gmail, or set webhooks.subscription_lifetime",
                    sender.map_or("custom", |s| s.name)
                ),
            ));
        };
        let (renew, whose) = match (self.renew_every, sender.and_then(|s| s.renew_every)) {
            (Some(r), _) => (r.get(), "renew_every"),
            (None, Some(r)) => (r, "the preset's renewal cadence"),
            (None, None) => return Ok(()),
        };
        if renew >= lifetime {
            return Err(invalid(
                "consumer.renew_every",
                format!(
                    "{whose} {renew} is not shorter than the subscription lifetime {lifetime}: every subscription would lapse; expected renew_every < {lifetime}"
                ),
            ));
        }
        Ok(())
    }

    /// Checks rules across the consumer's keys.
    pub fn validate(&self, webhooks: Option<&WebhooksSpec>) -> Result<(), Invalid> {
        if let Some(b) = self.processing_backoff {
            let r = b.resolve();
            if r.max < r.base {
                return Err(invalid(
                    "consumer.processing_backoff.max",
                    "must not be shorter than `base`",
                ));
            }
        }
        match self.strategy {
            Strategy::Poll if self.adaptive.is_some() || self.long_poll.is_some() => {
                if self.adaptive.is_some() && self.long_poll.is_some() {
                    return Err(invalid(
                        "consumer.long_poll",
                        "choose one of adaptive and long_poll",
                    ));
                }
                if let Some(a) = self.adaptive {
                    if a.max < a.min || a.factor.0 <= 1.0 {
                        return Err(invalid(
                            "consumer.adaptive",
                            "expected min <= max and factor > 1",
                        ));
                    }
                }
            }
            Strategy::Poll => {
                let Some(interval) = self.poll_interval else {
                    return Err(invalid(
                        "consumer.poll_interval",
                        format!("strategy \"poll\" needs poll_interval: {DURATION_HELP}"),
                    ));
                };
                if self.poll_jitter >= interval.get() {
                    return Err(invalid(
                        "consumer.poll_jitter",
                        format!(
                            "jitter {} must be smaller than poll_interval {}",
                            self.poll_jitter,
                            interval.get()
                        ),
                    ));
                }
            }
            Strategy::Webhook | Strategy::Hybrid => {
                let name = if self.strategy == Strategy::Hybrid {
                    "hybrid"
                } else {
                    "webhook"
                };
                if webhooks.is_none() {
                    return Err(invalid(
                        "consumer.strategy",
                        format!("strategy \"{name}\" needs a [webhooks] section (e.g. preset = \"svix\")"),
                    ));
                }
                self.validate_renewal(webhooks)?;
                if self.strategy == Strategy::Hybrid {
                    if self.reconcile_every.is_none() {
                        return Err(invalid(
                            "consumer.reconcile_every",
                            format!("strategy \"hybrid\" needs reconcile_every: {DURATION_HELP}"),
                        ));
                    }
                    if self.lookback.is_none() {
                        return Err(invalid(
                            "consumer.lookback",
                            format!("strategy \"hybrid\" needs lookback: \"watermark\" or {DURATION_HELP}"),
                        ));
                    }
                }
            }
        }
        if let Some(max) = self.backoff.max {
            if max < self.backoff.base {
                return Err(invalid(
                    "consumer.backoff.max",
                    format!(
                        "max {} is below base {}; expected max >= base",
                        max.get(),
                        self.backoff.base.get()
                    ),
                ));
            }
        }
        Ok(())
    }
}
