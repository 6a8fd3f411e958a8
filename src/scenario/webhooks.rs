//! `[webhooks]`: the provider's delivery rules, a preset with overrides.

use super::spec::{invalid, DelaySpec, Invalid, Probability};
use crate::engine::time::{PositiveDuration, SimDuration};
use crate::model::presets::{
    preset, HealthRule, Payload, SenderConfig, LIFECYCLE_PRESETS, PRESETS,
};
use serde::Deserialize;
use std::num::NonZeroU32;

/// The webhook provider.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhooksSpec {
    /// A provider preset, or `custom` (then timeout, retries and payload are required).
    #[serde(default = "custom")]
    pub preset: String,
    /// Time the sender waits for a 2xx.
    pub timeout: Option<PositiveDuration>,
    /// Delay before each retry, e.g. `["10m", "10m"]`; `[]` for none.
    pub retries: Option<Vec<SimDuration>>,
    /// `thin` (ids; the consumer fetches) or `full`.
    pub payload: Option<Payload>,
    /// Concurrent deliveries to the endpoint.
    pub max_in_flight: Option<NonZeroU32>,
    /// One-way network time.
    pub latency: Option<DelaySpec>,
    /// Failure share over `failing_window` that marks the endpoint failing.
    pub failing_ratio: Option<Probability>,
    /// Sliding window for `failing_ratio`.
    pub failing_window: Option<PositiveDuration>,
    /// Failing this long disables the endpoint (`"never"` is not a
    /// duration: omit health with a preset that has none, or set a long one).
    pub disable_after: Option<PositiveDuration>,
    /// A disabled endpoint is re-enabled after this long.
    pub reenable_after: Option<PositiveDuration>,
    /// How long a subscription lives unless renewed (msgraph: 10,080 min,
    /// gmail: 7 d; other presets never expire). Setting it models
    /// subscriptions even when the run is shorter than the lifetime.
    pub subscription_lifetime: Option<PositiveDuration>,
    /// Subscribe with a `lifecycleNotificationUrl` (msgraph only; default
    /// false): the provider then sends `subscriptionRemoved` when a
    /// subscription expires unrenewed and `missed` when its slow-endpoint
    /// rule drops a notification, and the consumer re-creates the
    /// subscription and lists what it missed. Real Graph needs the URL
    /// for subscriptions that outlive an hour.
    pub lifecycle_notifications: Option<bool>,
}

fn custom() -> String {
    "custom".into()
}

impl WebhooksSpec {
    /// Checks the preset name and what `custom` must say.
    pub fn validate(&self) -> Result<(), Invalid> {
        if preset(&self.preset).is_none() {
            return Err(invalid(
                "webhooks.preset",
                format!(
                    "unknown preset `{}`; expected one of {}",
                    super::echo(&self.preset),
                    PRESETS.join(", ")
                ),
            ));
        }
        if self.preset == "custom" {
            for (key, present) in [
                ("timeout", self.timeout.is_some()),
                ("retries", self.retries.is_some()),
                ("payload", self.payload.is_some()),
            ] {
                if !present {
                    return Err(invalid(
                        format!("webhooks.{key}"),
                        format!(
                            "preset \"custom\" needs `{key}` (or pick a preset: {})",
                            PRESETS.join(", ")
                        ),
                    ));
                }
            }
        }
        if self.lifecycle_notifications == Some(true)
            && !LIFECYCLE_PRESETS.contains(&self.preset.as_str())
        {
            return Err(invalid(
                "webhooks.lifecycle_notifications",
                format!(
                    "preset \"{}\" sends no lifecycle notifications; only {} does",
                    super::echo(&self.preset),
                    LIFECYCLE_PRESETS.join(", ")
                ),
            ));
        }
        let has_health = self.failing_ratio.is_some()
            || self.failing_window.is_some()
            || self.disable_after.is_some();
        let base_health = preset(&self.preset).and_then(|p| p.health);
        if has_health && base_health.is_none() && self.disable_after.is_none() {
            return Err(invalid(
                "webhooks.disable_after",
                format!("preset \"{}\" never disables the endpoint; set disable_after to give it a health rule", self.preset),
            ));
        }
        Ok(())
    }

    /// The preset with this section's overrides applied.
    pub fn resolve(&self) -> SenderConfig {
        let mut c =
            preset(&self.preset).unwrap_or_else(|| preset("custom").expect("custom exists"));
        if let Some(t) = self.timeout {
            c.timeout = t.get();
        }
        if let Some(r) = &self.retries {
            c.retries = r.clone();
        }
        if let Some(p) = self.payload {
            c.payload = p;
        }
        if let Some(n) = self.max_in_flight {
            c.max_in_flight = n.get();
        }
        if let Some(l) = self.latency {
            c.latency = l.0;
        }
        if self.failing_ratio.is_some()
            || self.failing_window.is_some()
            || self.disable_after.is_some()
        {
            let base = c.health.unwrap_or(HealthRule {
                failing_ratio: 0.95,
                window: SimDuration::from_secs(900),
                disable_after: SimDuration::from_secs(72 * 3600),
            });
            c.health = Some(HealthRule {
                failing_ratio: self.failing_ratio.map_or(base.failing_ratio, |p| p.0),
                window: self.failing_window.map_or(base.window, |w| w.get()),
                disable_after: self.disable_after.map_or(base.disable_after, |d| d.get()),
            });
        }
        if let Some(r) = self.reenable_after {
            c.reenable_after = Some(r.get());
        }
        if let Some(l) = self.subscription_lifetime {
            c.subscription_lifetime = Some(l.get());
        }
        c.lifecycle = self.lifecycle_notifications == Some(true);
        c
    }
}
