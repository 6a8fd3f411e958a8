//! Real providers' webhook delivery rules (from ../shared/FACTS.md), as
//! sender configurations. Every field but `honours` (which only a live
//! endpoint's answers exercise) can be overridden in `[webhooks]`.
//!
//! Retry delays are measured from the moment the previous attempt was seen
//! to fail (a refused connection at once, a timeout after `timeout`).

use crate::engine::sample::Delay;
use crate::engine::time::SimDuration;

/// Thin notifications carry ids only (the consumer fetches the message);
/// full ones carry the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    /// Ids only: one fetch request per notification at the source.
    Thin,
    /// The whole change.
    Full,
}

/// Endpoint health rules: when the provider stops sending.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HealthRule {
    /// Failure share over `window` that marks the endpoint failing.
    pub failing_ratio: f64,
    /// The sliding window for `failing_ratio`.
    pub window: SimDuration,
    /// Failing continuously this long disables the endpoint.
    pub disable_after: SimDuration,
}

/// Microsoft Graph throttles endpoints that answer slowly
/// (learn.microsoft.com/graph/change-notifications-delivery-webhooks,
/// "Throttling"): an endpoint is marked "slow" once more than 10% of
/// responses take longer than 10 seconds in a 10-minute window, and new
/// notifications are then sent on a 10-second delay; it is marked "drop"
/// once more than 15% do, and new notifications are dropped (they cannot
/// be recovered); each state ends when the share falls back under its
/// threshold. syncsim counts an attempt that timed out (Graph's 3-second
/// timeout) as a slow response too, since the model's sender cannot wait
/// longer than its timeout; the 10-minute cap Graph puts on one drop
/// spell is not modelled (the sliding window ends it once retries stop
/// timing out). Dropped notifications are reported as skipped by a
/// disabled endpoint (`endpoint_disabled`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SlowRule {
    /// A response slower than this is slow.
    pub threshold: SimDuration,
    /// The sliding window the shares are taken over.
    pub window: SimDuration,
    /// Above this share of slow responses: "slow".
    pub slow_share: f64,
    /// What "slow" delays new notifications by.
    pub delay: SimDuration,
    /// Above this share: "drop".
    pub drop_share: f64,
}

/// Graph's published slow-endpoint rule.
pub const GRAPH_SLOW: SlowRule = SlowRule {
    threshold: SimDuration::from_secs(10),
    window: SimDuration::from_secs(600),
    slow_share: 0.10,
    delay: SimDuration::from_secs(10),
    drop_share: 0.15,
};

/// Which of a real endpoint's answers, beyond success and failure, the
/// provider acts on (FACTS.md, "Signing and delivery over the wire").
/// Standard Webhooks recommends that senders disable an endpoint on 410
/// and throttle on 429/502/504 honouring `retry-after`; Svix, which
/// implements it, also stops a message's retries on `webhook-delivery:
/// abort-message`. FACTS.md documents none of this for the other presets
/// (and github neither retries nor disables), so they treat such answers
/// as plain failures. The event engine's endpoint never sends them, so
/// these rules only act in live mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Honours {
    /// A failure's `Retry-After` pushes the next retry back (it still
    /// consumes one retry of the schedule).
    pub retry_after: bool,
    /// 410 Gone disables the endpoint at once.
    pub gone: bool,
    /// `webhook-delivery: abort-message` gives the message up at once.
    pub abort: bool,
}

impl Honours {
    /// Plain failures only.
    pub const NONE: Honours = Honours {
        retry_after: false,
        gone: false,
        abort: false,
    };
    /// Standard Webhooks' sender rules plus Svix's abort header.
    pub const SVIX: Honours = Honours {
        retry_after: true,
        gone: true,
        abort: true,
    };
}

/// Everything the sender needs.
#[derive(Clone, Debug, PartialEq)]
pub struct SenderConfig {
    /// Preset name (or "custom").
    pub name: &'static str,
    /// Time the sender waits for a 2xx.
    pub timeout: SimDuration,
    /// Delay before each retry; attempts = retries + 1.
    pub retries: Vec<SimDuration>,
    /// Thin or full.
    pub payload: Payload,
    /// Concurrent deliveries to the endpoint; more wait in order.
    pub max_in_flight: u32,
    /// One-way network time for a request or a response.
    pub latency: Delay,
    /// When sends stop (None: never).
    pub health: Option<HealthRule>,
    /// A disabled endpoint is re-enabled after this long (None: never).
    pub reenable_after: Option<SimDuration>,
    /// Which answers beyond success and failure the provider acts on.
    pub honours: Honours,
    /// How long a subscription (a Graph subscription, a Gmail `watch`)
    /// lives unless the consumer renews it; `None`: the endpoint is
    /// registered once and never expires (every other preset).
    pub subscription_lifetime: Option<SimDuration>,
    /// The renewal cadence the provider recommends (`None`: half the
    /// lifetime, syncsim's default); `[consumer] renew_every` overrides it.
    pub renew_every: Option<SimDuration>,
    /// Throttling of slow endpoints (Graph's, [`GRAPH_SLOW`]; `None`: no
    /// such rule).
    pub slow: Option<SlowRule>,
    /// The consumer subscribed with a `lifecycleNotificationUrl`, so the
    /// provider sends lifecycle notifications (`subscriptionRemoved`,
    /// `missed`; only presets in [`LIFECYCLE_PRESETS`] can). Opt-in
    /// (`[webhooks] lifecycle_notifications`); false in every preset.
    pub lifecycle: bool,
}

impl SenderConfig {
    /// First attempt to last attempt, if every attempt fails at once.
    pub fn retry_span(&self) -> SimDuration {
        SimDuration(self.retries.iter().map(|d| d.0).sum())
    }

    /// Total attempts per notification.
    pub fn attempts(&self) -> u32 {
        self.retries.len() as u32 + 1
    }
}

const fn s(x: u64) -> SimDuration {
    SimDuration::from_secs(x)
}
const fn m(x: u64) -> SimDuration {
    SimDuration::from_secs(60 * x)
}
const fn h(x: u64) -> SimDuration {
    SimDuration::from_secs(3600 * x)
}

/// The names `preset` accepts.
pub const PRESETS: [&str; 8] = [
    "nylas", "svix", "stripe", "shopify", "github", "msgraph", "gmail", "custom",
];

/// The presets whose provider sends lifecycle notifications: Microsoft
/// Graph sends `subscriptionRemoved` and `missed` for Outlook message
/// subscriptions created with a `lifecycleNotificationUrl`
/// (learn.microsoft.com/graph/change-notifications-lifecycle-events,
/// "Supported resources"); a subscription created without one gets none,
/// and the URL cannot be added by a renewal. Graph documents removal for
/// revoked access, password resets and the like; syncsim also sends
/// `subscriptionRemoved` when a subscription expires unrenewed (assumed),
/// and `missed` for each notification its slow-endpoint rule drops.
pub const LIFECYCLE_PRESETS: [&str; 1] = ["msgraph"];

/// Microsoft Graph's maximum subscription lifetime for Outlook `message`
/// resources: 10,080 minutes (under 7 days), per the `subscription`
/// resource type's "maximum length of subscription per resource type"
/// (learn.microsoft.com/graph/api/resources/subscription). Graph announced
/// 4,230 minutes (under 3 days) for Outlook resources in 2016
/// (devblogs.microsoft.com, "Microsoft Graph webhooks update – March 2016").
pub const GRAPH_MAIL_LIFETIME: SimDuration = SimDuration::from_secs(10_080 * 60);

/// Gmail `users.watch` expires after 7 days: "you must re-call watch at
/// least every 7 days", and Google recommends calling it once a day
/// (developers.google.com/gmail/api/guides/push).
pub const GMAIL_WATCH_LIFETIME: SimDuration = SimDuration::from_secs(7 * 86_400);

fn rule(disable_after: SimDuration) -> Option<HealthRule> {
    Some(HealthRule {
        failing_ratio: 0.95,
        window: m(15),
        disable_after,
    })
}

/// What every preset starts from: one attempt, 10 s timeout, full
/// payloads, 20 deliveries in flight, 50 ms each way, never disabled,
/// every failure plain.
fn base(name: &'static str) -> SenderConfig {
    SenderConfig {
        name,
        timeout: s(10),
        retries: vec![],
        payload: Payload::Full,
        max_in_flight: 20,
        latency: Delay::Fixed(SimDuration::from_millis(50)),
        health: None,
        reenable_after: None,
        honours: Honours::NONE,
        subscription_lifetime: None,
        renew_every: None,
        slow: None,
        lifecycle: false,
    }
}

/// The configuration of a named preset (`custom` gives the neutral base,
/// which validation requires to be filled in).
pub fn preset(name: &str) -> Option<SenderConfig> {
    Some(match name {
        // 3 attempts over 20 min (at 0, +10, +20 min), then skipped; 10 s to
        // answer; failing at >= 95% non-200 over 15 min, "failed" (no more
        // sends) after 72 h failing.
        "nylas" => SenderConfig {
            retries: vec![m(10), m(10)],
            health: rule(h(72)),
            ..base("nylas")
        },
        // Standard Webhooks: now, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
        // 10 h (8 attempts); 15 s timeout; disabled after 5 days failing,
        // or at once on a 410; Retry-After honoured; abort-message obeyed.
        "svix" => SenderConfig {
            timeout: s(15),
            retries: vec![s(5), m(5), m(30), h(2), h(5), h(10), h(10)],
            max_in_flight: 50,
            health: rule(h(24 * 5)),
            honours: Honours::SVIX,
            ..base("svix")
        },
        // Exponential backoff for up to 3 days (these 12 retries span
        // 2 d 23 h 36 min); a short timeout; disabled after days failing.
        "stripe" => SenderConfig {
            retries: vec![
                m(1),
                m(5),
                m(30),
                h(1),
                h(2),
                h(4),
                h(8),
                h(8),
                h(12),
                h(12),
                h(12),
                h(12),
            ],
            max_in_flight: 50,
            health: rule(h(72)),
            ..base("stripe")
        },
        // 8 retries over 4 hours (1+2+4+8+15+30+60+120 min); 5 s timeout;
        // the subscription is removed after continued failure.
        "shopify" => SenderConfig {
            timeout: s(5),
            retries: vec![m(1), m(2), m(4), m(8), m(15), m(30), m(60), m(120)],
            health: rule(h(4)),
            ..base("shopify")
        },
        // No automatic retries (manual redelivery only); 10 s timeout.
        "github" => base("github"),
        // Thin notifications (ids only: the consumer fetches); ~3 s
        // timeout; exponential retries for up to 4 h (1+2+4+8+16+32+60+60+57
        // min = 240 min).
        "msgraph" => SenderConfig {
            timeout: s(3),
            retries: vec![m(1), m(2), m(4), m(8), m(16), m(32), m(60), m(60), m(57)],
            payload: Payload::Thin,
            subscription_lifetime: Some(GRAPH_MAIL_LIFETIME),
            slow: Some(GRAPH_SLOW),
            ..base("msgraph")
        },
        // Gmail push (`users.watch` through Cloud Pub/Sub): a thin
        // notification (the email address and a new `historyId`) after
        // which the consumer lists history since its last `historyId`;
        // syncsim models it as a thin notification per change followed by
        // a fetch, the closest shape the model has (the list of history
        // since an id returns at least that change). The watch expires
        // after 7 days; Google recommends renewing once a day. Pub/Sub
        // push retries with exponential backoff from 10 s up to 600 s for
        // the subscription's retention (7 days by default): syncsim fits
        // that as doubling from 10 s, capped at 10 min, for 1 day (the
        // tail of a 7-day retention is not modelled). The push endpoint's
        // ack deadline is 10 s by default.
        "gmail" => SenderConfig {
            retries: gmail_retries(),
            payload: Payload::Thin,
            subscription_lifetime: Some(GMAIL_WATCH_LIFETIME),
            renew_every: Some(h(24)),
            ..base("gmail")
        },
        "custom" => base("custom"),
        _ => return None,
    })
}

/// Pub/Sub push backoff as fitted for `gmail`: 10 s doubling to 10 min
/// (10, 20, 40, 80, 160, 320 s), then every 10 min until a day has passed
/// since the first attempt (630 s + 143 × 600 s = 86,430 s, just over 1 d).
fn gmail_retries() -> Vec<SimDuration> {
    let mut r: Vec<SimDuration> = [10, 20, 40, 80, 160, 320].map(s).to_vec();
    r.extend(std::iter::repeat_n(m(10), 143));
    r
}

/// Where a preset's figure comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The provider publishes it; the text names the document.
    Published(&'static str),
    /// The provider publishes a total or a shape, not this figure:
    /// syncsim chose values that match it; the text says what was matched.
    Fitted(&'static str),
    /// Not published: syncsim's neutral default.
    Assumed,
}

/// The figures a preset is made of, each with its [`Origin`].
pub const FIELDS: [&str; 7] = [
    "attempts",
    "retry delays",
    "timeout",
    "payload",
    "health",
    "in flight",
    "subscription",
];

/// Where each figure of preset `name` ([`FIELDS`], in order) comes from
/// (`None` for `custom` and unknown names). The sources are the providers'
/// public documentation as summarised in ../shared/FACTS.md.
pub fn origins(name: &str) -> Option<[Origin; 7]> {
    use Origin::*;
    const NYLAS: &str = "Nylas webhook docs";
    const SVIX: &str = "Svix / Standard Webhooks retry schedule";
    const STRIPE: &str = "Stripe webhook docs";
    const SHOPIFY: &str = "Shopify webhook docs";
    const GITHUB: &str = "GitHub webhook docs";
    const GRAPH: &str = "Microsoft Graph change notification docs";
    Some(match name {
        "nylas" => [
            Published("Nylas webhook docs: 3 attempts"),
            Fitted("Nylas publishes 'over 10-20 min, exponential backoff', not the steps: 10m 10m"),
            Published(NYLAS),
            Published(NYLAS),
            Published("Nylas webhook docs: failing at 95% non-200 over 15 min, failed after 72 h"),
            Assumed,
            Published("registered once, never expires: no renewal"),
        ],
        "svix" => [
            Published(SVIX),
            Published(SVIX),
            Published(SVIX),
            Published(SVIX),
            Published("Svix docs: disabled after 5 days of failures"),
            Assumed,
            Published("registered once, never expires: no renewal"),
        ],
        "stripe" => [
            Fitted("Stripe publishes 'up to 3 days, exponential backoff', not a count"),
            Fitted("Stripe publishes 'up to 3 days, exponential backoff', not the steps: these 12 span 2d23h36m"),
            Fitted("Stripe publishes only 'a short timeout'"),
            Published(STRIPE),
            Fitted("Stripe publishes 'disabled after days of failures': 72 h, 95% over 15 min"),
            Assumed,
            Published("registered once, never expires: no renewal"),
        ],
        "shopify" => [
            Published("Shopify webhook docs: 8 retries (9 attempts)"),
            Fitted("Shopify publishes '8 retries over 4 hours', not the intervals: doubling from 1 min, 240 min in all"),
            Published(SHOPIFY),
            Published(SHOPIFY),
            Fitted("Shopify publishes 'removed after continued failure': after 4 h, 95% over 15 min"),
            Assumed,
            Published("registered once, never expires: no renewal"),
        ],
        "github" => [
            Published("GitHub webhook docs: no automatic retries"),
            Published(GITHUB),
            Published(GITHUB),
            Published(GITHUB),
            Published("GitHub webhook docs: never disabled"),
            Assumed,
            Published("registered once, never expires: no renewal"),
        ],
        "msgraph" => [
            Fitted("Graph publishes 'retries for up to 4 h', not a count"),
            Fitted("Graph publishes 'up to 4 h, exponential', not the steps: doubling from 1 min, capped at 1 h, 240 min in all"),
            Published(GRAPH),
            Published("Microsoft Graph change notification docs: thin (resource id only)"),
            Published("Graph change notification docs, throttling: >10% of responses over 10 s in 10 min delays new notifications 10 s, >15% drops them; never disabled"),
            Assumed,
            Published("Graph subscription resource type: Outlook message subscriptions live at most 10,080 min (under 7 days); renewal cadence assumed: half of it; opt-in lifecycle notifications (lifecycleNotificationUrl): subscriptionRemoved, missed (Graph lifecycle events docs; sending subscriptionRemoved at an unrenewed expiry is assumed)"),
        ],
        "gmail" => [
            Fitted("Pub/Sub push retries for the subscription's retention (7 days by default): 150 attempts over ~1 d"),
            Fitted("Pub/Sub push backoff is 10 s to 600 s, exponential: doubling from 10 s, capped at 10 min"),
            Published("Pub/Sub push: 10 s default ack deadline"),
            Published("Gmail push guide: the notification carries the address and a historyId; the consumer lists history (modelled as thin + fetch)"),
            Assumed,
            Assumed,
            Published("Gmail push guide: watch expires after 7 days, re-call at least every 7 days, recommended once a day"),
        ],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every preset's figures say where they come from; the retry steps
    /// neither Shopify nor Stripe publishes are marked fitted, Svix's
    /// published schedule is marked published.
    #[test]
    fn every_figure_has_an_origin() {
        for name in PRESETS {
            assert_eq!(origins(name).is_none(), name == "custom", "{name}");
        }
        let delays = FIELDS.iter().position(|f| *f == "retry delays").unwrap();
        for name in ["shopify", "stripe", "nylas", "msgraph", "gmail"] {
            assert!(
                matches!(origins(name).unwrap()[delays], Origin::Fitted(_)),
                "{name}"
            );
        }
        assert!(matches!(
            origins("svix").unwrap()[delays],
            Origin::Published(_)
        ));
        // In flight is syncsim's choice for every provider.
        let flight = FIELDS.iter().position(|f| *f == "in flight").unwrap();
        assert!(PRESETS
            .iter()
            .filter_map(|n| origins(n))
            .all(|o| o[flight] == Origin::Assumed));
    }

    #[test]
    fn preset_figures_match_facts() {
        let nylas = preset("nylas").unwrap();
        assert_eq!(
            (nylas.attempts(), nylas.retry_span(), nylas.timeout),
            (3, m(20), s(10))
        );
        let svix = preset("svix").unwrap();
        assert_eq!(svix.attempts(), 8);
        assert_eq!(svix.retry_span(), s(5) + m(5) + m(30) + h(27));
        assert_eq!(svix.timeout, s(15));
        // Only svix documents 410, Retry-After and abort-message rules.
        for name in PRESETS {
            let honours = preset(name).unwrap().honours;
            let want = if name == "svix" {
                Honours::SVIX
            } else {
                Honours::NONE
            };
            assert_eq!(honours, want, "{name}");
        }
        let stripe = preset("stripe").unwrap();
        assert!(
            stripe.retry_span() <= h(72) && stripe.retry_span() >= h(70),
            "{}",
            stripe.retry_span()
        );
        let shopify = preset("shopify").unwrap();
        assert_eq!(
            (shopify.attempts(), shopify.retry_span(), shopify.timeout),
            (9, h(4), s(5))
        );
        assert_eq!(preset("github").unwrap().attempts(), 1);
        let graph = preset("msgraph").unwrap();
        assert_eq!(
            (graph.payload, graph.retry_span(), graph.timeout),
            (Payload::Thin, h(4), s(3))
        );
        // Graph's Outlook message subscriptions: 10,080 min; Gmail's watch:
        // 7 days, renewed daily; nobody else's subscriptions expire.
        assert_eq!(graph.subscription_lifetime, Some(m(10_080)));
        let gmail = preset("gmail").unwrap();
        assert_eq!(
            (
                gmail.payload,
                gmail.subscription_lifetime,
                gmail.renew_every
            ),
            (Payload::Thin, Some(h(7 * 24)), Some(h(24)))
        );
        // Pub/Sub's push backoff: 10 s doubling to the 600 s cap, for
        // just over a day in all.
        assert_eq!(
            gmail.retries[..7],
            [s(10), s(20), s(40), s(80), s(160), s(320), m(10)]
        );
        assert!(gmail.retry_span() >= h(24) && gmail.retry_span() < h(24) + m(10));
        for name in PRESETS {
            assert!(preset(name).is_some(), "{name}");
            let expires = preset(name).unwrap().subscription_lifetime.is_some();
            assert_eq!(expires, name == "msgraph" || name == "gmail", "{name}");
        }
    }
}
