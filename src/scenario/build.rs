//! From a validated scenario to the model's configs ([`RunConfig`]): the
//! one place where defaults are filled in and file-level shapes become the
//! components' own types. The model never reads a scenario.

use super::consumer::{LookbackSpec, Strategy};
use super::faults::{FaultKind, FaultSpec};
use super::spec::{Burst, RateLimitSpec, Scenario, SourceSpec};
use crate::engine::time::{SimDuration, SimTime};
use crate::model::config::{
    BucketConfig, BurstConfig, ConsumerConfig, FaultConfig, FaultEffect, HookConfig, PollConfig,
    RunConfig, SourceConfig, SubscriptionConfig,
};
use crate::model::faults::Window;
use crate::model::poller::{Pace, PollerConfig};
use crate::model::presets::preset;
use crate::model::receiver::ReceiverConfig;
use crate::model::reconciler::{Lookback, ReconcilerConfig};

/// Poll interval when a poll scenario gives none.
pub const DEFAULT_POLL_INTERVAL: SimDuration = SimDuration::from_secs(300);
/// Reconcile cadence when a hybrid scenario gives none.
pub const DEFAULT_RECONCILE_EVERY: SimDuration = SimDuration::from_secs(1800);

impl Scenario {
    /// The configs of every component of this scenario's run.
    pub fn config(&self) -> RunConfig {
        let source = self.source.config();
        let c = &self.consumer;
        let consumer = match c.strategy {
            Strategy::Poll => {
                let interval = match (c.poll_interval, c.adaptive, c.long_poll) {
                    (Some(i), _, _) => i.get(),
                    (_, Some(a), _) => a.max.get(),
                    (_, _, Some(h)) => h.get(),
                    _ => DEFAULT_POLL_INTERVAL,
                };
                let pace = match (c.adaptive, c.long_poll) {
                    (Some(a), _) => Pace::Adaptive {
                        min: a.min.get(),
                        max: a.max.get(),
                        factor: a.factor.0,
                    },
                    (_, Some(_)) => Pace::Long,
                    _ => Pace::Fixed,
                };
                ConsumerConfig::Poll(PollConfig {
                    poller: PollerConfig {
                        interval,
                        jitter: c.poll_jitter,
                        page_size: source.page_size,
                        backoff_base: c.backoff.base.get(),
                        backoff_max: c.backoff.max.map_or(interval, |d| d.get()),
                        pace,
                        conditional: c.if_none_match,
                    },
                    long_poll: c.long_poll.map(|h| h.get()),
                })
            }
            Strategy::Webhook | Strategy::Hybrid => {
                let hooks = HookConfig {
                    sender: self.webhooks.as_ref().map_or_else(
                        || preset("custom").expect("the custom preset exists"),
                        |w| w.resolve(),
                    ),
                    receiver: ReceiverConfig {
                        ack: c.ack,
                        queue: c.queue,
                        workers: c.workers.get(),
                        handler_time: c.handler_time.0,
                        failure: c.processing_failure.0,
                        attempts: c.processing_attempts.get().min(u16::MAX as u32) as u16,
                        inbound: c
                            .inbound_rate_limit
                            .map(|l| (l.per_s.0, l.burst.map_or(l.per_s.0, |b| b.0))),
                        backoff: c.processing_backoff.map(|b| b.resolve()),
                    },
                    dedup: c.dedup,
                    subscription: self.subscription(),
                };
                if c.strategy == Strategy::Webhook {
                    ConsumerConfig::Webhook(hooks)
                } else {
                    let reconciler = ReconcilerConfig {
                        every: c
                            .reconcile_every
                            .map_or(DEFAULT_RECONCILE_EVERY, |d| d.get()),
                        lookback: match c.lookback {
                            Some(LookbackSpec::Window(l)) => Lookback::Window(l),
                            _ => Lookback::Watermark,
                        },
                        page_size: source.page_size,
                        // The reconciler retries after errors on the same
                        // `consumer.backoff.base` the poller starts from.
                        retry: c.backoff.base.get(),
                    };
                    ConsumerConfig::Hybrid(hooks, reconciler)
                }
            }
        };
        RunConfig {
            name: self.name.clone(),
            seed: self.seed,
            horizon: self.horizon.get(),
            drain: self.drain,
            source,
            faults: self.faults.iter().map(FaultSpec::config).collect(),
            consumer,
            reconcile_every_given: c
                .reconcile_every
                .filter(|_| c.strategy == Strategy::Hybrid)
                .map(|d| d.get()),
            fixed_poll_interval: c.adaptive.is_none() && c.long_poll.is_none(),
            percentiles: self
                .thresholds
                .keys()
                .filter_map(|p| super::spec::extra_percentile(p))
                .map(|(leaf, pct)| (leaf.to_string(), pct))
                .collect(),
            stream: false,
        }
    }
}

impl Scenario {
    /// The subscription lifetime the webhook preset (with overrides) has.
    fn subscription_lifetime(&self) -> Option<SimDuration> {
        self.webhooks.as_ref()?.resolve().subscription_lifetime
    }

    /// True when the run models its webhook subscriptions' lifecycle: a
    /// webhook or hybrid consumer, a preset (or override) whose
    /// subscriptions expire, and something to act out: a lifetime that
    /// ends within the run (`horizon + drain`), a lifetime or cadence the
    /// file gives, or a `renewal_failure`. A run shorter than the
    /// preset's lifetime without any of these renews nothing (it would
    /// not in a run that short either, and keeps its digest).
    pub fn models_subscriptions(&self) -> bool {
        let hooks = matches!(self.consumer.strategy, Strategy::Webhook | Strategy::Hybrid);
        let Some(lifetime) = self.subscription_lifetime().filter(|_| hooks) else {
            return false;
        };
        lifetime < self.end()
            || self.consumer.renew_every.is_some()
            || self
                .webhooks
                .as_ref()
                .is_some_and(|w| w.subscription_lifetime.is_some())
            || self
                .faults
                .iter()
                .any(|f| f.kind == FaultKind::RenewalFailure)
    }

    /// The subscription config, when the run models it: the cadence the
    /// file gives, else the preset's recommendation, else half the
    /// lifetime.
    pub fn subscription(&self) -> Option<SubscriptionConfig> {
        if !self.models_subscriptions() {
            return None;
        }
        let sender = self.webhooks.as_ref()?.resolve();
        let lifetime = sender.subscription_lifetime?;
        Some(SubscriptionConfig {
            lifetime,
            renew_every: self
                .consumer
                .renew_every
                .map(|r| r.get())
                .or(sender.renew_every)
                .unwrap_or(SimDuration(lifetime.0 / 2)),
            retry: self.consumer.renew_retry.map(|r| r.get()),
        })
    }
}

impl SourceSpec {
    /// The source's config.
    pub fn config(&self) -> SourceConfig {
        let bucket = |rate: Option<super::spec::Positive>, burst: Option<super::spec::Positive>| {
            rate.map(|r| BucketConfig {
                per_s: r.0,
                burst: burst.map_or(r.0, |b| b.0),
            })
        };
        let RateLimitSpec {
            per_mailbox_per_s,
            per_mailbox_burst,
            global_per_s,
            global_burst,
        } = self.rate_limit;
        SourceConfig {
            mailboxes: self.mailboxes.get(),
            messages_per_day: self.messages_per_day.0,
            spread: self.spread,
            diurnal: self.diurnal.0.unwrap_or([1.0; 24]),
            mix: self.mix,
            bursts: self.bursts.iter().map(Burst::config).collect(),
            page_size: self.page_size.get(),
            cursor: self.cursor,
            timestamp_granularity: self.timestamp_granularity,
            commit_delay: self.commit_delay.map(|d| d.0),
            retention: self.retention.map(|r| r.get()),
            api_latency: self.api_latency.0,
            per_mailbox_limit: bucket(per_mailbox_per_s, per_mailbox_burst),
            global_limit: bucket(global_per_s, global_burst),
            // Validated: a bad quota never reaches here.
            quota: self
                .quota
                .as_deref()
                .and_then(|name| self.quota_limits.quota(name).ok()),
        }
    }
}

impl Burst {
    /// The burst's config.
    pub fn config(&self) -> BurstConfig {
        BurstConfig {
            at: self.at,
            mailboxes: self.mailboxes.clone(),
            messages: self.messages.get(),
            over: self.over,
        }
    }
}

impl FaultSpec {
    /// The fault's window, if it has one (validated beforehand).
    pub fn window(&self) -> Option<Window> {
        if !self.has_window() {
            return None;
        }
        let len = self.duration.map_or(SimDuration::ZERO, |d| d.get());
        let start = SimTime(self.at.unwrap_or(SimDuration::ZERO).0);
        Some(match self.every {
            None => Window::Once {
                start,
                end: start + len,
            },
            Some(period) => Window::Every {
                start,
                period: period.get(),
                len,
                until: self.until.map_or(SimTime::MAX, |u| SimTime(u.0)),
            },
        })
    }

    /// The fault's config.
    pub fn config(&self) -> FaultConfig {
        let factor = self.factor.map_or(1.0, |x| x.0);
        let effect = match self.kind {
            FaultKind::SourceOutage => FaultEffect::SourceOutage,
            FaultKind::RateSqueeze => FaultEffect::RateSqueeze(factor),
            FaultKind::ConsumerCrash => FaultEffect::ConsumerCrash,
            FaultKind::SlowConsumer => FaultEffect::SlowConsumer(factor),
            FaultKind::EndpointOutage => FaultEffect::EndpointOutage(self.mode.unwrap_or_default()),
            FaultKind::Drop => FaultEffect::Drop(self.what.unwrap_or_default()),
            FaultKind::Duplicate => FaultEffect::Duplicate,
            FaultKind::Reorder => {
                FaultEffect::Reorder(self.max_delay.map_or(SimDuration::ZERO, |d| d.get()))
            }
            FaultKind::SecretRotation => FaultEffect::SecretRotation,
            FaultKind::Forged => FaultEffect::Forged(self.forgery.unwrap_or_default()),
            FaultKind::RenewalFailure => FaultEffect::RenewalFailure,
            FaultKind::BurstyLoss => FaultEffect::BurstyLoss {
                p_good_to_bad: self.p_good_to_bad.map_or(0.0, |p| p.0),
                p_bad_to_good: self.p_bad_to_good.map_or(1.0, |p| p.0),
                loss_good: self.loss_good.map_or(0.0, |p| p.0),
                loss_bad: self.loss_bad.map_or(1.0, |p| p.0),
            },
        };
        FaultConfig {
            effect,
            window: self.window(),
            probability: self.probability.map(|p| p.0),
            share: self.mailboxes.map(|p| p.0),
        }
    }
}
