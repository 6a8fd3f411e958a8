//! The typed scenario: what a scenario file may say. Types reject what they
//! can while deserializing (so the error carries the exact position);
//! [`Scenario::validate`] checks what spans several keys.

use super::consumer::ConsumerSpec;
use super::faults::FaultSpec;
use super::webhooks::WebhooksSpec;
use crate::engine::sample::Delay;
use crate::engine::time::{PositiveDuration, SimDuration};
use crate::model::config::{CursorKind, MailboxSet, Mix, Spread};
use serde::{de, Deserialize, Deserializer};
use std::fmt;
use std::num::NonZeroU32;

/// A whole scenario file.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, shown in reports.
    pub name: String,
    /// Free text for humans.
    #[serde(default)]
    pub description: Option<String>,
    /// The seed every random stream derives from.
    pub seed: u64,
    /// How long the source generates traffic.
    pub horizon: PositiveDuration,
    /// How long the run continues after the horizon with no new traffic.
    #[serde(default)]
    pub drain: SimDuration,
    /// The mock mailbox provider.
    pub source: SourceSpec,
    /// The webhook provider (`[webhooks]`), for the `webhook` strategy.
    #[serde(default)]
    pub webhooks: Option<WebhooksSpec>,
    /// The consumer strategy under test.
    pub consumer: ConsumerSpec,
    /// Injected faults.
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// Assertions on report paths, checked after the run.
    #[serde(default)]
    pub thresholds: super::thresholds::Thresholds,
    /// Prices that turn the run's counts into cost per 30-day month (the
    /// report's `cost` section); absent: no cost figures.
    #[serde(default)]
    pub cost: Option<super::cost::CostSpec>,
    /// What `syncsim advise` searches (ignored by other commands).
    #[serde(default)]
    pub advise: Option<super::advise::AdviseSpec>,
    /// A sweep (expanded by `syncsim sweep`; `run` runs the base scenario).
    #[serde(default)]
    #[schemars(with = "Option<super::schema::SweepSchema>")]
    pub sweep: Option<toml::Value>,
}

/// The mock mailbox source (`[source]`).
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Number of mailboxes.
    pub mailboxes: NonZeroU32,
    /// Mean new changes per mailbox per day (Poisson).
    #[serde(default = "default_messages_per_day")]
    pub messages_per_day: NonNegative,
    /// How activity is spread across mailboxes (default: all equal).
    #[serde(default)]
    pub spread: Spread,
    /// Hourly activity weights (24 numbers, or a preset name).
    #[serde(default)]
    pub diurnal: Diurnal,
    /// Shares of created / updated / deleted changes.
    #[serde(default)]
    pub mix: Mix,
    /// Bulk bursts of new mail.
    #[serde(default)]
    pub bursts: Vec<Burst>,
    /// Most changes one list request returns.
    #[serde(default = "default_page_size")]
    pub page_size: NonZeroU32,
    /// Cursor kind of the list API.
    #[serde(default)]
    pub cursor: CursorKind,
    /// Stamps (`updated_at`) are truncated to this (ties happen); 0 = exact.
    #[serde(default)]
    pub timestamp_granularity: SimDuration,
    /// A change stamped `t` becomes visible at `t + d`, `d` from this
    /// distribution (at most ~71 minutes).
    pub commit_delay: Option<DelaySpec>,
    /// The change log keeps this long; an older cursor gets "expired" and
    /// the consumer must resync the whole mailbox.
    pub retention: Option<PositiveDuration>,
    /// Time from sending a request to receiving its answer.
    #[serde(default = "default_api_latency")]
    pub api_latency: DelaySpec,
    /// Token-bucket rate limits answering 429.
    #[serde(default)]
    pub rate_limit: RateLimitSpec,
    /// The provider's windowed quota: `msgraph`, `gmail` or `custom`
    /// (then give limits in `[source.quota_limits]`). Absent: none.
    pub quota: Option<String>,
    /// Overrides of the quota preset's figures (`[source.quota_limits]`).
    #[serde(default)]
    pub quota_limits: QuotaLimitsSpec,
}

fn default_messages_per_day() -> NonNegative {
    NonNegative(50.0)
}
fn default_page_size() -> NonZeroU32 {
    NonZeroU32::new(200).expect("200 is not zero")
}
fn default_api_latency() -> DelaySpec {
    DelaySpec(Delay::lognormal(
        SimDuration::from_millis(120),
        SimDuration::from_millis(900),
    ))
}

/// A float that must be finite and not negative.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct NonNegative(pub f64);

impl<'de> Deserialize<'de> for NonNegative {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if v.is_finite() && v >= 0.0 {
            Ok(NonNegative(v))
        } else {
            Err(de::Error::custom(format!(
                "{v} is not allowed; expected a number >= 0"
            )))
        }
    }
}

/// A float that must be finite and greater than zero.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Positive(pub f64);

impl<'de> Deserialize<'de> for Positive {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if v.is_finite() && v > 0.0 {
            Ok(Positive(v))
        } else {
            Err(de::Error::custom(format!(
                "{v} is not allowed; expected a number > 0"
            )))
        }
    }
}

/// A probability in `[0, 1]`.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Probability(pub f64);

impl<'de> Deserialize<'de> for Probability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if (0.0..=1.0).contains(&v) {
            Ok(Probability(v))
        } else {
            Err(de::Error::custom(format!(
                "{v} is not allowed; expected a probability between 0 and 1"
            )))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpread {
    dist: SpreadKind,
    sigma: Option<Positive>,
    alpha: Option<Positive>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum SpreadKind {
    Even,
    Lognormal,
    Pareto,
}

impl<'de> Deserialize<'de> for Spread {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawSpread::deserialize(d)?;
        match (raw.dist, raw.sigma, raw.alpha) {
            (SpreadKind::Even, None, None) => Ok(Spread::Even),
            (SpreadKind::Lognormal, Some(s), None) => Ok(Spread::LogNormal { sigma: s.0 }),
            (SpreadKind::Pareto, None, Some(a)) if a.0 > 1.0 => Ok(Spread::Pareto { alpha: a.0 }),
            (SpreadKind::Pareto, None, Some(a)) => Err(de::Error::custom(format!(
                "alpha = {} gives an infinite mean; expected alpha > 1",
                a.0
            ))),
            _ => Err(de::Error::custom(
                "expected { dist = \"even\" }, { dist = \"lognormal\", sigma = S } or { dist = \"pareto\", alpha = A }",
            )),
        }
    }
}

/// Hourly activity weights, normalised to mean 1 (hour 0 = midnight).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Diurnal(pub Option<[f64; 24]>);

/// An office worker's day: quiet nights, busy 9:00-18:00.
pub const OFFICE_DAY: [f64; 24] = [
    0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.4, 0.8, 1.4, 2.0, 2.2, 2.2, 1.8, 2.0, 2.2, 2.1, 2.0, 1.6, 1.0,
    0.7, 0.6, 0.5, 0.4, 0.3,
];

impl Diurnal {
    fn from_weights<E: de::Error>(w: &[f64]) -> Result<Self, E> {
        if w.len() != 24 {
            return Err(E::custom(format!(
                "expected 24 hourly weights, got {}",
                w.len()
            )));
        }
        if w.iter().any(|x| !x.is_finite() || *x < 0.0) {
            return Err(E::custom("hourly weights must be numbers >= 0"));
        }
        let sum: f64 = w.iter().sum();
        if sum <= 0.0 {
            return Err(E::custom("hourly weights must not all be zero"));
        }
        let mut out = [0.0; 24];
        for (o, x) in out.iter_mut().zip(w) {
            *o = x * 24.0 / sum;
        }
        Ok(Diurnal(Some(out)))
    }
}

impl<'de> Deserialize<'de> for Diurnal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Diurnal;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("24 hourly weights, or \"flat\" or \"office\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Diurnal, E> {
                match v {
                    "flat" => Ok(Diurnal(None)),
                    "office" => Diurnal::from_weights(&OFFICE_DAY),
                    other => Err(E::custom(format!(
                        "unknown profile `{}`; expected \"flat\", \"office\" or 24 hourly weights",
                        super::echo(other)
                    ))),
                }
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Diurnal, A::Error> {
                // Keep at most 24 weights; only count the rest, so a long
                // list costs no memory.
                let mut w = Vec::with_capacity(24);
                let mut len = 0usize;
                while let Some(x) = seq.next_element::<f64>()? {
                    if w.len() < 24 {
                        w.push(x);
                    }
                    len += 1;
                }
                if len != 24 {
                    return Err(de::Error::custom(format!(
                        "expected 24 hourly weights, got {len}"
                    )));
                }
                Diurnal::from_weights(&w)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMix {
    created: NonNegative,
    #[serde(default = "zero")]
    updated: NonNegative,
    #[serde(default = "zero")]
    deleted: NonNegative,
}
fn zero() -> NonNegative {
    NonNegative(0.0)
}

impl<'de> Deserialize<'de> for Mix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RawMix::deserialize(d)?;
        let sum = r.created.0 + r.updated.0 + r.deleted.0;
        if (sum - 1.0).abs() > 1e-6 {
            return Err(de::Error::custom(format!(
                "created + updated + deleted = {sum}; expected the shares to sum to 1"
            )));
        }
        if r.created.0 == 0.0 {
            return Err(de::Error::custom(
                "created = 0 leaves nothing to update or delete; expected created > 0",
            ));
        }
        Ok(Mix {
            created: r.created.0,
            updated: r.updated.0,
            deleted: r.deleted.0,
        })
    }
}

/// A bulk burst of new messages (`[[source.bursts]]`).
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Burst {
    /// When the burst starts.
    pub at: SimDuration,
    /// Which mailboxes: a count (the first N) or a list of indices.
    pub mailboxes: MailboxSet,
    /// New messages per affected mailbox.
    pub messages: NonZeroU32,
    /// Spread the burst uniformly over this span (default: all at `at`).
    #[serde(default)]
    pub over: SimDuration,
}

impl Burst {
    /// New messages the burst adds across its mailboxes (counted, not built).
    pub fn changes(&self) -> f64 {
        self.messages.get() as f64 * self.mailboxes.count() as f64
    }
}

impl<'de> Deserialize<'de> for MailboxSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = MailboxSet;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a count of mailboxes (the first N) or a list of mailbox indices")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<MailboxSet, E> {
                u32::try_from(v)
                    .ok()
                    .filter(|n| *n > 0)
                    .map(MailboxSet::First)
                    .ok_or_else(|| E::custom(format!("{v} is not a positive mailbox count")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<MailboxSet, E> {
                self.visit_i64(v.min(i64::MAX as u64) as i64)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<MailboxSet, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = seq.next_element::<u32>()? {
                    v.push(x);
                }
                if v.is_empty() {
                    return Err(de::Error::custom(
                        "empty list; expected at least one mailbox index",
                    ));
                }
                v.sort_unstable();
                v.dedup();
                Ok(MailboxSet::List(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A delay distribution as written in a scenario: a bare duration
/// (`"120ms"`), or `{ dist = "fixed", value }`, `{ dist = "uniform", min, max }`,
/// `{ dist = "lognormal", median, p99 }`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DelaySpec(pub Delay);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelay {
    dist: DelayKind,
    value: Option<SimDuration>,
    min: Option<SimDuration>,
    max: Option<SimDuration>,
    median: Option<PositiveDuration>,
    p99: Option<PositiveDuration>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum DelayKind {
    Fixed,
    Uniform,
    Lognormal,
}

const DELAY_HELP: &str = "expected a duration, { dist = \"fixed\", value = D }, { dist = \"uniform\", min = D, max = D } or { dist = \"lognormal\", median = D, p99 = D }";

impl RawDelay {
    fn build<E: de::Error>(self) -> Result<Delay, E> {
        let RawDelay {
            dist,
            value,
            min,
            max,
            median,
            p99,
        } = self;
        match (dist, value, min, max, median, p99) {
            (DelayKind::Fixed, Some(v), None, None, None, None) => Ok(Delay::Fixed(v)),
            (DelayKind::Uniform, None, Some(lo), Some(hi), None, None) => {
                if lo > hi {
                    Err(E::custom(format!(
                        "min {lo} is above max {hi}; expected min <= max"
                    )))
                } else {
                    Ok(Delay::Uniform { min: lo, max: hi })
                }
            }
            (DelayKind::Lognormal, None, None, None, Some(m), Some(p)) => {
                if p.get() < m.get() {
                    Err(E::custom(format!(
                        "p99 {} is below median {}; expected p99 >= median",
                        p.get(),
                        m.get()
                    )))
                } else {
                    Ok(Delay::lognormal(m.get(), p.get()))
                }
            }
            _ => Err(E::custom(DELAY_HELP)),
        }
    }
}

impl<'de> Deserialize<'de> for DelaySpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = DelaySpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(DELAY_HELP)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DelaySpec, E> {
                crate::engine::time::parse_duration(v)
                    .map(|d| DelaySpec(Delay::Fixed(d)))
                    .map_err(E::custom)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<DelaySpec, A::Error> {
                let raw = RawDelay::deserialize(de::value::MapAccessDeserializer::new(map))?;
                raw.build().map(DelaySpec)
            }
        }
        d.deserialize_any(V)
    }
}

/// Token-bucket rate limits at the source (`[source.rate_limit]`).
#[derive(Clone, Copy, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    /// Sustained requests per second per mailbox.
    pub per_mailbox_per_s: Option<Positive>,
    /// Bucket size per mailbox (default: one second's worth, at least 1).
    pub per_mailbox_burst: Option<Positive>,
    /// Sustained requests per second across all mailboxes.
    pub global_per_s: Option<Positive>,
    /// Global bucket size (default: one second's worth, at least 1).
    pub global_burst: Option<Positive>,
}

/// A quota's figures (`[source.quota_limits]`), each overriding the
/// `[source] quota` preset's. Windows are fixed, aligned at time zero.
#[derive(Clone, Copy, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaLimitsSpec {
    /// Per-mailbox window length (msgraph: 10m; gmail: 1m).
    pub mailbox_window: Option<PositiveDuration>,
    /// Units per mailbox per window (msgraph: 10000; gmail: 15000).
    pub mailbox_limit: Option<std::num::NonZeroU64>,
    /// Project-wide window length (gmail: 1m).
    pub project_window: Option<PositiveDuration>,
    /// Units per project window across mailboxes (gmail: 1200000).
    pub project_limit: Option<std::num::NonZeroU64>,
    /// Units per day across mailboxes (no preset has one).
    pub daily_limit: Option<std::num::NonZeroU64>,
    /// Units per list request (msgraph 1; gmail `history.list` 2).
    pub list_units: Option<std::num::NonZeroU64>,
    /// Units per message fetch (msgraph 1; gmail `messages.get` 5).
    pub fetch_units: Option<std::num::NonZeroU64>,
    /// Units per subscription call (msgraph 1; gmail `watch` 100).
    pub subscribe_units: Option<std::num::NonZeroU64>,
    /// Requests of one mailbox in service at once (msgraph 4; gmail
    /// none): one more is answered 429.
    pub concurrent_per_mailbox: Option<std::num::NonZeroU32>,
}

impl QuotaLimitsSpec {
    /// True when no key is set.
    fn is_empty(&self) -> bool {
        let QuotaLimitsSpec {
            mailbox_window,
            mailbox_limit,
            project_window,
            project_limit,
            daily_limit,
            list_units,
            fetch_units,
            subscribe_units,
            concurrent_per_mailbox,
        } = self;
        mailbox_window.is_none()
            && mailbox_limit.is_none()
            && project_window.is_none()
            && project_limit.is_none()
            && daily_limit.is_none()
            && list_units.is_none()
            && fetch_units.is_none()
            && subscribe_units.is_none()
            && concurrent_per_mailbox.is_none()
    }

    /// The quota `preset` names with these overrides, or what is wrong
    /// (key path and message).
    pub fn quota(&self, preset: &str) -> Result<crate::model::quota::QuotaConfig, Invalid> {
        use crate::model::quota::{quota_preset, WindowLimit, QUOTA_PRESETS};
        let Some(mut q) = quota_preset(preset) else {
            return Err(invalid(
                "source.quota",
                format!(
                    "unknown quota `{}`; expected one of {}",
                    super::echo(preset),
                    QUOTA_PRESETS.join(", ")
                ),
            ));
        };
        let window = |base: Option<WindowLimit>,
                      length: Option<PositiveDuration>,
                      limit: Option<std::num::NonZeroU64>,
                      key: &str|
         -> Result<Option<WindowLimit>, Invalid> {
            match (base, length, limit) {
                (None, None, None) => Ok(None),
                (Some(b), l, n) => Ok(Some(WindowLimit {
                    length: l.map_or(b.length, |l| l.get()),
                    limit: n.map_or(b.limit, |n| n.get()),
                })),
                (None, Some(l), Some(n)) => Ok(Some(WindowLimit {
                    length: l.get(),
                    limit: n.get(),
                })),
                (None, _, _) => Err(invalid(
                    format!("source.quota_limits.{key}_window"),
                    format!("quota `{preset}` has no {key} window: give both {key}_window and {key}_limit"),
                )),
            }
        };
        q.per_mailbox = window(
            q.per_mailbox,
            self.mailbox_window,
            self.mailbox_limit,
            "mailbox",
        )?;
        q.per_project = window(
            q.per_project,
            self.project_window,
            self.project_limit,
            "project",
        )?;
        q.daily = self.daily_limit.map(|n| n.get()).or(q.daily);
        let w = &mut q.weights;
        w.list = self.list_units.map_or(w.list, |n| n.get());
        w.fetch = self.fetch_units.map_or(w.fetch, |n| n.get());
        w.subscribe = self.subscribe_units.map_or(w.subscribe, |n| n.get());
        if let Some(c) = self.concurrent_per_mailbox {
            q.concurrent_per_mailbox = Some(c.get());
        }
        let limits = [
            ("mailbox_limit", q.per_mailbox.map(|l| l.limit)),
            ("project_limit", q.per_project.map(|l| l.limit)),
            ("daily_limit", q.daily),
        ];
        if limits.iter().all(|(_, l)| l.is_none()) && q.concurrent_per_mailbox.is_none() {
            return Err(invalid(
                "source.quota_limits",
                "quota \"custom\" needs a limit: mailbox_window + mailbox_limit, project_window + project_limit, daily_limit, or concurrent_per_mailbox",
            ));
        }
        let heaviest = w.list.max(w.fetch).max(w.subscribe);
        for (key, limit) in limits {
            if let Some(l) = limit.filter(|&l| l < heaviest) {
                return Err(invalid(
                    format!("source.quota_limits.{key}"),
                    format!("{l} units is less than one call's weight ({heaviest}): that call could never pass"),
                ));
            }
        }
        Ok(q)
    }
}

/// A problem that spans keys, found after parsing: the key path it is about
/// and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// Dotted key path, e.g. `consumer.poll_jitter`.
    pub path: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

/// Most changes one run may generate (~25 GB of state).
pub const MAX_CHANGES: f64 = 1e9;
/// Most requests a polling or reconciling run may plan (~20 minutes of run
/// time at a few million events per second).
pub const MAX_REQUESTS: f64 = 5e9;
/// Most mailboxes one run may simulate (~100-200 bytes of state each:
/// a few GB at the bound).
pub const MAX_MAILBOXES: u32 = 50_000_000;
/// Longest simulated span (`horizon + drain`): 10 years of 365 days. Keeps
/// every instant far from the `u64` microsecond limit.
pub const MAX_SPAN: SimDuration = SimDuration::from_secs(3650 * 86_400);
/// Most mailbox-hours of traffic generation (`mailboxes × horizon in
/// hours`, when `messages_per_day > 0`): the generator steps through every
/// hour of every mailbox, ~6 ns each, so this is about a minute.
pub const MAX_MAILBOX_HOURS: f64 = 1e10;
/// Most webhook workers (`consumer.workers`): each is a slot in memory and
/// a crash visits them all; far above any real consumer's pool.
pub const MAX_WORKERS: u32 = 100_000;
/// Most processing tries per notification (`consumer.processing_attempts`;
/// the receiver counts tries in 16 bits).
pub const MAX_PROCESSING_ATTEMPTS: u32 = 1000;
/// Most webhook retries (`webhooks.retries`; the sender counts attempts in
/// 16 bits, and real providers retry about ten times).
pub const MAX_RETRIES: usize = 1000;
/// Most `[[faults]]` entries: every event checks every fault.
pub const MAX_FAULTS: usize = 1000;
/// Most crash windows one run may schedule (each `consumer_crash` window is
/// two events and visits every worker).
pub const MAX_CRASH_WINDOWS: f64 = 1e6;
/// Most crash-window × worker visits one run may make (~a second).
pub const MAX_CRASH_WORK: f64 = 1e9;
/// Most per-mailbox membership draws for faults limited to a share of
/// mailboxes (`faults[i].mailboxes`: one draw and one bit per mailbox and
/// fault).
pub const MAX_FAULT_MEMBERSHIP: f64 = 1e9;

/// An [`Invalid`] at `path`.
pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        path: path.into(),
        message: message.into(),
    }
}

impl Scenario {
    /// Total simulated span: horizon plus drain.
    pub fn end(&self) -> SimDuration {
        self.horizon.get() + self.drain
    }

    /// Expected number of changes the source will generate (mean).
    pub fn expected_changes(&self) -> f64 {
        let days = self.horizon.get().as_secs_f64() / 86_400.0;
        let poisson = self.source.messages_per_day.0 * self.source.mailboxes.get() as f64 * days;
        let bursts: f64 = self.source.bursts.iter().map(Burst::changes).sum();
        poisson + bursts
    }

    /// Checks that the run fits in memory and time: every key that sizes an
    /// allocation or a loop is bounded here, by counting, never by building
    /// what it counts (so a hostile file is refused fast and small).
    fn validate_cost(&self) -> Result<(), Invalid> {
        let n = self.source.mailboxes.get();
        if n > MAX_MAILBOXES {
            return Err(invalid(
                "source.mailboxes",
                format!("{n} mailboxes; at most {MAX_MAILBOXES} are supported"),
            ));
        }
        let horizon = self.horizon.get();
        if horizon > MAX_SPAN {
            return Err(invalid(
                "horizon",
                format!("horizon {horizon} is longer than the {MAX_SPAN} (10 years) supported"),
            ));
        }
        if self.end() > MAX_SPAN {
            return Err(invalid(
                "drain",
                format!(
                    "horizon + drain = {} is longer than the {MAX_SPAN} (10 years) supported",
                    self.end()
                ),
            ));
        }
        // Bursts name mailboxes of the source: check before counting them.
        for (i, b) in self.source.bursts.iter().enumerate() {
            if b.mailboxes.bound() > n {
                return Err(invalid(
                    format!("source.bursts[{i}].mailboxes"),
                    format!(
                        "names mailbox {} but the source has {n} (indices 0..{n})",
                        b.mailboxes.bound() - 1
                    ),
                ));
            }
        }
        // Memory is ~25 bytes per change and ~100 per mailbox; refuse what
        // cannot fit rather than abort on allocation.
        let changes = self.expected_changes();
        if changes > MAX_CHANGES {
            let poisson = changes - self.source.bursts.iter().map(Burst::changes).sum::<f64>();
            let key = match self
                .source
                .bursts
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.changes().total_cmp(&b.1.changes()))
            {
                Some((i, b)) if b.changes() > poisson => format!("source.bursts[{i}].messages"),
                _ => "source.messages_per_day".to_string(),
            };
            return Err(invalid(
                key,
                format!(
                    "this scenario would generate ~{changes:.3e} changes (~{:.0} GB); at most {MAX_CHANGES:.0e} are supported: lower messages_per_day, mailboxes, bursts or horizon",
                    changes * 25.0 / 1e9
                ),
            ));
        }
        // A heavy-tailed spread can give one mailbox many times the mean:
        // count with the multipliers this seed draws.
        if self.source.spread != Spread::Even {
            let drawn = crate::model::traffic::expected_changes(
                &self.source.config(),
                horizon,
                &crate::engine::rng::Streams::new(self.seed),
                MAX_CHANGES,
            );
            if drawn > MAX_CHANGES {
                return Err(invalid(
                    "source.spread",
                    format!(
                        "with seed {} this spread gives the busiest mailboxes so much mail that the run would generate over {drawn:.3e} changes (nominal mean ~{changes:.3e}); at most {MAX_CHANGES:.0e} are supported: use a lighter tail (smaller sigma, larger alpha), fewer messages or another seed",
                        self.seed
                    ),
                ));
            }
        }
        let hours = n as f64 * horizon.as_secs_f64() / 3600.0;
        if self.source.messages_per_day.0 > 0.0 && hours > MAX_MAILBOX_HOURS {
            return Err(invalid(
                "horizon",
                format!(
                    "{n} mailboxes over {horizon} is ~{hours:.2e} mailbox-hours of traffic to generate; at most {MAX_MAILBOX_HOURS:.0e} are supported: use fewer mailboxes or a shorter horizon"
                ),
            ));
        }
        let c = &self.consumer;
        if c.workers.get() > MAX_WORKERS {
            return Err(invalid(
                "consumer.workers",
                format!(
                    "{} workers; at most {MAX_WORKERS} are supported",
                    c.workers.get()
                ),
            ));
        }
        if c.processing_attempts.get() > MAX_PROCESSING_ATTEMPTS {
            return Err(invalid(
                "consumer.processing_attempts",
                format!(
                    "{} attempts; at most {MAX_PROCESSING_ATTEMPTS} are supported",
                    c.processing_attempts.get()
                ),
            ));
        }
        if let Some(r) = self.webhooks.as_ref().and_then(|w| w.retries.as_ref()) {
            if r.len() > MAX_RETRIES {
                return Err(invalid(
                    "webhooks.retries",
                    format!("{} retries; at most {MAX_RETRIES} are supported", r.len()),
                ));
            }
        }
        if self.faults.len() > MAX_FAULTS {
            return Err(invalid(
                format!("faults[{MAX_FAULTS}]"),
                format!(
                    "{} faults; at most {MAX_FAULTS} are supported",
                    self.faults.len()
                ),
            ));
        }
        let mut crash_windows = 0.0;
        let mut membership = 0.0;
        for (i, f) in self.faults.iter().enumerate() {
            if f.kind == super::faults::FaultKind::ConsumerCrash {
                let w = f.windows_before(self.end());
                crash_windows += w;
                if w > MAX_CRASH_WINDOWS || crash_windows > MAX_CRASH_WINDOWS {
                    return Err(invalid(
                        format!("faults[{i}].every"),
                        format!(
                            "consumer crashes would repeat ~{crash_windows:.2e} times in this run; at most {MAX_CRASH_WINDOWS:.0e} are supported: use a longer `every` or set `until`"
                        ),
                    ));
                }
                let work = crash_windows * c.workers.get() as f64;
                if work > MAX_CRASH_WORK {
                    return Err(invalid(
                        format!("faults[{i}].every"),
                        format!(
                            "~{crash_windows:.2e} crashes × {} workers is ~{work:.2e} worker visits; at most {MAX_CRASH_WORK:.0e} are supported: fewer crashes or fewer workers",
                            c.workers.get()
                        ),
                    ));
                }
            }
            if f.mailboxes.is_some() {
                membership += n as f64;
                if membership > MAX_FAULT_MEMBERSHIP {
                    return Err(invalid(
                        format!("faults[{i}].mailboxes"),
                        format!(
                            "faults limited to a share of {n} mailboxes need ~{membership:.2e} membership draws; at most {MAX_FAULT_MEMBERSHIP:.0e} are supported: fewer such faults or fewer mailboxes"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Checks rules that span several keys.
    pub fn validate(&self) -> Result<(), Invalid> {
        let n = self.source.mailboxes.get();
        self.validate_cost()?;
        match &self.source.quota {
            Some(name) => {
                self.source.quota_limits.quota(name)?;
            }
            None if !self.source.quota_limits.is_empty() => {
                return Err(invalid(
                    "source.quota_limits",
                    "quota limits without a quota; set [source] quota = \"custom\" (or a preset)",
                ))
            }
            None => {}
        }
        if let Some(d) = self.source.commit_delay {
            if d.0.mean_micros() > u32::MAX as f64 / 4.0 {
                return Err(invalid(
                    "source.commit_delay",
                    "commit delays are seconds to minutes; expected a mean below ~15 minutes",
                ));
            }
        }
        // Polling cost is known up front: refuse runs that could not finish.
        let pace = match (
            self.consumer.strategy,
            self.consumer.adaptive,
            self.consumer.long_poll,
            self.consumer.poll_interval,
        ) {
            (super::consumer::Strategy::Poll, Some(a), _, _) => {
                Some(("consumer.adaptive", a.min.get()))
            }
            (super::consumer::Strategy::Poll, None, Some(h), _) => {
                Some(("consumer.long_poll", h.get()))
            }
            (super::consumer::Strategy::Poll, None, None, Some(i)) => {
                Some(("consumer.poll_interval", i.get()))
            }
            (super::consumer::Strategy::Hybrid, _, _, _) => self
                .consumer
                .reconcile_every
                .map(|r| ("consumer.reconcile_every", r.get())),
            _ => None,
        };
        if let Some((key, every)) = pace {
            let polls = n as f64 * self.end().as_secs_f64() / every.as_secs_f64().max(1e-6);
            if polls > MAX_REQUESTS {
                return Err(invalid(
                    key,
                    format!(
                        "{} every {every} for {n} mailboxes over {} is ~{polls:.2e} requests; at most {MAX_REQUESTS:.0e} are supported (hours of run time): use a longer interval, fewer mailboxes or a shorter horizon",
                        if key == "consumer.reconcile_every" { "reconciling" } else { "polling" },
                        self.end()
                    ),
                ));
            }
        }
        for (i, b) in self.source.bursts.iter().enumerate() {
            if b.at >= self.horizon.get() {
                return Err(invalid(
                    format!("source.bursts[{i}].at"),
                    format!(
                        "burst at {} is not inside the horizon {}; expected at < horizon",
                        b.at,
                        self.horizon.get()
                    ),
                ));
            }
        }
        self.consumer.validate(self.webhooks.as_ref())?;
        if self.consumer.long_poll.is_some() && self.source.cursor != CursorKind::Sequence {
            return Err(invalid(
                "consumer.long_poll",
                "long polling needs cursor = \"sequence\"",
            ));
        }
        if let Some(w) = &self.webhooks {
            w.validate()?;
        }
        for (i, f) in self.faults.iter().enumerate() {
            f.validate(i, self)?;
        }
        validate_conditions("thresholds", &self.thresholds, self.cost.is_some())?;
        if let Some(a) = &self.advise {
            a.validate(self)?;
        }
        Ok(())
    }
}

/// Checks conditions on report paths (`[thresholds]`, `[advise.constraints]`,
/// errors under `prefix`): each path is a numeric report path (or an extra
/// latency percentile), a duration bound is on a path that measures time,
/// and a `cost.*` path has a `[cost]` table (`has_cost`).
pub fn validate_conditions(
    prefix: &str,
    conditions: &super::thresholds::Thresholds,
    has_cost: bool,
) -> Result<(), Invalid> {
    let known = crate::metrics::Report::numeric_paths();
    for (path, conditions) in conditions {
        if path.starts_with("cost.") && !has_cost {
            return Err(invalid(
                format!("{prefix}.{path}"),
                format!(
                    "`{}` needs a [cost] table with prices (per_1000_requests, per_delivery, per_worker_hour)",
                    super::echo(path)
                ),
            ));
        }
        if let Some(c) = conditions.0.iter().find(|c| c.value_for(path).is_none()) {
            return Err(invalid(
                format!("{prefix}.{path}"),
                format!(
                    "`{c}`: a duration bound needs a path that measures time (`latency_ms.*`, `webhooks.endpoint_disabled_for`); `{}` is a plain number",
                    super::echo(path)
                ),
            ));
        }
        if !known.contains(path) && extra_percentile(path).is_none() {
            let parent = path.rsplit_once('.').map_or("", |(p, _)| p);
            let leaf = path.rsplit('.').next().unwrap_or("");
            let close: Vec<&String> = known
                .iter()
                .filter(|k| {
                    k.rsplit('.').next() == Some(leaf)
                        || (!parent.is_empty()
                            && k.rsplit_once('.').map(|(p, _)| p) == Some(parent))
                })
                .take(6)
                .collect();
            let hint = if close.is_empty() {
                "see the Report section of the README for the paths".to_string()
            } else {
                format!(
                    "did you mean {}?",
                    close
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(invalid(
                format!("{prefix}.{path}"),
                format!(
                    "`{}` is not a numeric report path; {hint}",
                    super::echo(path)
                ),
            ));
        }
    }
    Ok(())
}

/// For a threshold path `latency_ms.<path>.pNN` whose percentile the
/// report does not carry by default (`p95`, `p75`, `p9999`): the leaf and
/// the percentile, which the run then computes.
pub fn extra_percentile(path: &str) -> Option<(&str, f64)> {
    let rest = path.strip_prefix("latency_ms.")?;
    let (which, leaf) = rest.split_once('.')?;
    if !["all", "webhook", "poll", "reconcile"].contains(&which)
        || ["p50", "p90", "p99", "p999"].contains(&leaf)
    {
        return None;
    }
    super::thresholds::percentile(leaf).map(|p| (leaf, p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{parse, Format, ScenarioError};

    const HEAD: &str = "name = \"t\"\nseed = 1\nhorizon = \"30d\"\n";

    fn check(text: &str) -> Result<Scenario, ScenarioError> {
        parse(text, "t.toml", Format::Toml)
    }

    fn refused(text: &str, key: &str, words: &str) {
        let started = std::time::Instant::now();
        let err = check(text).expect_err("should be refused").to_string();
        // A runaway (building a 10-year schedule, keeping a huge list)
        // takes minutes; 5 s leaves room for a loaded 2-core machine.
        assert!(started.elapsed().as_secs_f64() < 5.0, "slow: {err}");
        assert!(err.contains(&format!("`{key}`")), "want {key}: {err}");
        assert!(err.contains(words), "want {words:?}: {err}");
    }

    #[test]
    fn mailbox_sets_count_without_building() {
        let all = MailboxSet::First(u32::MAX);
        assert_eq!(all.count(), u32::MAX as u64);
        assert_eq!(all.bound(), u32::MAX);
        assert_eq!(all.iter().take(3).collect::<Vec<_>>(), [0, 1, 2]);
        let s: Burst =
            toml::from_str("at = \"1h\"\nmailboxes = [7, 3, 7, 0]\nmessages = 2").unwrap();
        assert_eq!(s.mailboxes, MailboxSet::List(vec![0, 3, 7]));
        assert_eq!((s.mailboxes.count(), s.mailboxes.bound()), (3, 8));
        assert_eq!(s.mailboxes.indices(), [0, 3, 7]);
        assert_eq!(s.changes(), 6.0);
    }

    #[test]
    fn real_sizes_validate() {
        // 10,000 mailboxes for 30 days, webhooks with a share-limited
        // fault, a busy burst, a lognormal spread and a 5-minute poll.
        let text = format!(
            "{HEAD}[source]\nmailboxes = 10000\nmessages_per_day = 200\nspread = {{ dist = \"lognormal\", sigma = 1.5 }}\ndiurnal = \"office\"\n[[source.bursts]]\nat = \"1d\"\nmailboxes = 10000\nmessages = 5000\n[webhooks]\npreset = \"svix\"\nretries = [\"5s\", \"5m\", \"30m\", \"2h\", \"5h\", \"10h\", \"10h\"]\n[consumer]\nstrategy = \"hybrid\"\nreconcile_every = \"5m\"\nlookback = \"watermark\"\nworkers = 512\n[[faults]]\nkind = \"drop\"\nprobability = 0.01\nmailboxes = 0.2\n[[faults]]\nkind = \"consumer_crash\"\nevery = \"1h\"\nfor = \"1m\"\n"
        );
        check(&text).unwrap_or_else(|e| panic!("{e}"));
        // A million mailboxes for a year, polled every two hours.
        let text = "name = \"t\"\nseed = 1\nhorizon = \"365d\"\n[source]\nmailboxes = 1000000\nmessages_per_day = 2\n[consumer]\nstrategy = \"poll\"\npoll_interval = \"2h\"\n";
        check(text).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn the_busiest_burst_is_named_when_bursts_are_too_big() {
        let text = format!(
            "{HEAD}[source]\nmailboxes = 1000\n[[source.bursts]]\nat = \"1h\"\nmailboxes = 10\nmessages = 5\n[[source.bursts]]\nat = \"2h\"\nmailboxes = 1000\nmessages = 4000000\n[consumer]\nstrategy = \"poll\"\npoll_interval = \"1h\"\n"
        );
        refused(&text, "source.bursts[1].messages", "at most 1e9");
    }

    #[test]
    fn too_many_faults_are_refused() {
        let mut text = format!(
            "{HEAD}[source]\nmailboxes = 10\n[consumer]\nstrategy = \"poll\"\npoll_interval = \"5m\"\n"
        );
        for _ in 0..=MAX_FAULTS {
            text.push_str("[[faults]]\nkind = \"source_outage\"\nat = \"1h\"\nfor = \"1m\"\n");
        }
        refused(&text, "faults[1000]", "1001 faults; at most 1000");
    }

    #[test]
    fn share_limited_faults_are_bounded_by_mailboxes() {
        let mut text = format!(
            "{HEAD}[source]\nmailboxes = 50000000\nmessages_per_day = 0\n[webhooks]\npreset = \"svix\"\n[consumer]\nstrategy = \"webhook\"\n"
        );
        for _ in 0..21 {
            text.push_str("[[faults]]\nkind = \"drop\"\nprobability = 0.1\nmailboxes = 0.5\n");
        }
        refused(&text, "faults[20].mailboxes", "membership draws");
    }

    #[test]
    fn crash_windows_times_workers_is_bounded() {
        let text = format!(
            "{HEAD}[source]\nmailboxes = 10\n[webhooks]\npreset = \"svix\"\n[consumer]\nstrategy = \"webhook\"\nworkers = 100000\n[[faults]]\nkind = \"consumer_crash\"\nevery = \"1m\"\nfor = \"10s\"\n"
        );
        refused(&text, "faults[0].every", "worker visits");
        // `until` ends the repetition: few windows, accepted.
        let text = text.replace("for = \"10s\"", "for = \"10s\"\nuntil = \"1h\"");
        check(&text).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn long_diurnal_lists_are_counted_not_kept() {
        let weights = vec!["1.0"; 1_000_000].join(",");
        let text = format!(
            "{HEAD}[source]\nmailboxes = 10\ndiurnal = [{weights}]\n[consumer]\nstrategy = \"poll\"\npoll_interval = \"5m\"\n"
        );
        refused(&text, "source.diurnal", "got 1000000");
    }

    #[test]
    fn drain_past_the_span_is_named() {
        let text = "name = \"t\"\nseed = 1\nhorizon = \"3000d\"\ndrain = \"1000d\"\n[source]\nmailboxes = 1\nmessages_per_day = 0\n[consumer]\nstrategy = \"poll\"\npoll_interval = \"100d\"\n";
        refused(text, "drain", "10 years");
    }
}
