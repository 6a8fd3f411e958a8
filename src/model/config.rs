//! The model's own vocabulary: the enums and configs its components are
//! built from. The scenario layer (`crate::scenario`) parses and validates
//! a file and builds these; the model never reads a scenario.

use crate::engine::sample::Delay;
use crate::engine::time::SimDuration;
use serde::Deserialize;

/// When the receiver answers a delivery.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ack {
    /// Enqueue, answer 200, process later.
    #[default]
    QueueFirst,
    /// Process, then answer: a slow handler makes the sender time out.
    Inline,
}

/// Where accepted notifications wait.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueKind {
    /// Survives a crash.
    #[default]
    Durable,
    /// Lost on a crash, acknowledged or not.
    Memory,
}

/// How the processor treats repeats and reordering.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dedup {
    /// Process everything; writes blindly.
    None,
    /// Skip events already processed; writes blindly.
    #[default]
    EventId,
    /// Last writer wins by version: skip anything not newer.
    Version,
}

/// How an endpoint outage fails a delivery.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum OutageMode {
    /// Connection refused: the sender knows at once.
    #[default]
    #[serde(rename = "refused")]
    Refused,
    /// The endpoint answers 503 at once.
    #[serde(rename = "503")]
    Status503,
    /// The request hangs until the sender's timeout.
    #[serde(rename = "hang")]
    Hang,
}

impl OutageMode {
    /// The mode as the scenario file spells it: `refused`, `503`, `hang`.
    pub fn name(self) -> &'static str {
        match self {
            OutageMode::Refused => "refused",
            OutageMode::Status503 => "503",
            OutageMode::Hang => "hang",
        }
    }
}

/// What a `drop` fault loses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropWhat {
    /// The request never reaches the consumer; the sender times out.
    #[default]
    Request,
    /// The consumer processes the request but the response is lost; the
    /// sender times out and retries: the classic duplicate.
    Response,
}

/// How a `forged` delivery is forged (what a consumer's signature check
/// must catch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Forgery {
    /// Each forged delivery picks one of the others at random.
    #[default]
    Any,
    /// A well-formed `v1` signature that does not match the body.
    BadSignature,
    /// Signed, correctly, with a secret the consumer does not hold.
    WrongSecret,
    /// Signed with the right secret, but stamped 10 minutes in the past
    /// (outside the 5-minute tolerance).
    StaleTimestamp,
    /// Signed with the right secret, but stamped 10 minutes in the future.
    FutureTimestamp,
}

/// How mail volume is spread across mailboxes. Multipliers have mean 1, so
/// `messages_per_day` stays the mean.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Spread {
    /// Every mailbox gets the same rate.
    #[default]
    Even,
    /// Log-normal multiplier `exp(sigma·Z − sigma²/2)`.
    LogNormal {
        /// Spread of the logarithm; 1.0 makes the busiest 1% ~10× the mean.
        sigma: f64,
    },
    /// Pareto multiplier with shape `alpha` (> 1) scaled to mean 1.
    Pareto {
        /// Tail index; smaller is heavier.
        alpha: f64,
    },
}

/// Shares of change kinds; must sum to 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mix {
    /// New messages.
    pub created: f64,
    /// Changes to an existing message (flags, labels, moves).
    pub updated: f64,
    /// Deletions.
    pub deleted: f64,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            created: 0.8,
            updated: 0.15,
            deleted: 0.05,
        }
    }
}

/// A set of mailboxes: the first N, or explicit indices.
#[derive(Clone, Debug, PartialEq)]
pub enum MailboxSet {
    /// Mailboxes `0..n`.
    First(u32),
    /// These mailbox indices, ascending and without repeats (the
    /// deserializer sorts and dedups what the file lists).
    List(Vec<u32>),
}

impl MailboxSet {
    /// The indices, in ascending order, without building them: sizing a
    /// set (validation) must not allocate in proportion to it.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        let (range, list) = match self {
            MailboxSet::First(n) => (0..*n, &[][..]),
            MailboxSet::List(v) => (0..0, &v[..]),
        };
        range.chain(list.iter().copied())
    }

    /// The indices, in ascending order (allocates; prefer [`Self::iter`]).
    pub fn indices(&self) -> Vec<u32> {
        self.iter().collect()
    }

    /// How many mailboxes the set names, computed without materialising it.
    pub fn count(&self) -> u64 {
        match self {
            MailboxSet::First(n) => *n as u64,
            MailboxSet::List(v) => v.len() as u64,
        }
    }

    /// The largest index plus one.
    pub fn bound(&self) -> u32 {
        match self {
            MailboxSet::First(n) => *n,
            MailboxSet::List(v) => v.iter().max().map_or(0, |m| m + 1),
        }
    }
}

/// The list API's cursor kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CursorKind {
    /// An opaque position in the change log: exact, never skips or repeats.
    #[default]
    Sequence,
    /// `updated_at > cursor`: skips ties at page boundaries and late commits.
    Timestamp,
    /// `updated_at >= cursor`: re-delivers ties (cost, not loss), skips late commits.
    TimestampInclusive,
    /// Keyset on `(updated_at, id) > cursor`: exact for ties, skips late commits.
    TimestampId,
}

impl CursorKind {
    /// True for the kinds that page by `updated_at`.
    pub fn by_time(self) -> bool {
        self != CursorKind::Sequence
    }
}

/// A bulk burst of new messages in some mailboxes.
#[derive(Clone, Debug, PartialEq)]
pub struct BurstConfig {
    /// When the burst starts.
    pub at: SimDuration,
    /// Which mailboxes.
    pub mailboxes: MailboxSet,
    /// New messages per affected mailbox.
    pub messages: u32,
    /// Spread uniformly over this span (zero: all at `at`).
    pub over: SimDuration,
}

/// A token bucket: sustained rate per second and bucket size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BucketConfig {
    /// Sustained requests per second.
    pub per_s: f64,
    /// Bucket size (requests).
    pub burst: f64,
}

/// Everything the mail source and its traffic are built from.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceConfig {
    /// Number of mailboxes.
    pub mailboxes: u32,
    /// Mean new changes per mailbox per day.
    pub messages_per_day: f64,
    /// Activity spread across mailboxes.
    pub spread: Spread,
    /// Hourly activity weights (mean 1; hour 0 = midnight).
    pub diurnal: [f64; 24],
    /// Shares of change kinds.
    pub mix: Mix,
    /// Bulk bursts, in scenario order.
    pub bursts: Vec<BurstConfig>,
    /// Most changes one list request returns.
    pub page_size: u32,
    /// Cursor kind of the list API.
    pub cursor: CursorKind,
    /// Stamps are truncated to this (zero: exact).
    pub timestamp_granularity: SimDuration,
    /// A change stamped `t` becomes visible at `t + d`, `d` from this.
    pub commit_delay: Option<Delay>,
    /// How long the change log keeps changes.
    pub retention: Option<SimDuration>,
    /// Time from sending a request to receiving its answer.
    pub api_latency: Delay,
    /// Per-mailbox token bucket (429 when empty).
    pub per_mailbox_limit: Option<BucketConfig>,
    /// Global token bucket (429 when empty).
    pub global_limit: Option<BucketConfig>,
    /// The provider's windowed quota (429 when used up), if modelled.
    pub quota: Option<super::quota::QuotaConfig>,
}

impl BurstConfig {
    /// New messages the burst adds across its mailboxes (counted, not built).
    pub fn changes(&self) -> f64 {
        self.messages as f64 * self.mailboxes.count() as f64
    }
}

/// What one injected fault does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultEffect {
    /// Deliveries fail (refused, 503 or hang).
    EndpointOutage(OutageMode),
    /// A delivery's request or response is lost.
    Drop(DropWhat),
    /// A delivery arrives twice.
    Duplicate,
    /// A delivery is held back by up to this much.
    Reorder(SimDuration),
    /// Gilbert-Elliott loss of delivery requests.
    BurstyLoss {
        /// Good → bad per attempt.
        p_good_to_bad: f64,
        /// Bad → good per attempt.
        p_bad_to_good: f64,
        /// Loss in the good state.
        loss_good: f64,
        /// Loss in the bad state.
        loss_bad: f64,
    },
    /// The consumer is down.
    ConsumerCrash,
    /// The mail API answers 503.
    SourceOutage,
    /// The mail API's rate limits are multiplied by this (< 1).
    RateSqueeze(f64),
    /// Handler time is multiplied by this (> 1).
    SlowConsumer(f64),
    /// The signing secret changes at the window's start; during the
    /// window both are used, after it the new one only (live mode: the
    /// simulator does not sign).
    SecretRotation,
    /// Extra deliveries with a bad signature, for messages the source
    /// never had (live mode: the simulator does not sign).
    Forged(Forgery),
    /// Subscription calls (renewals and creations) fail with a 5xx.
    RenewalFailure,
}

/// One injected fault: its effect, when, for whom, how often.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaultConfig {
    /// What it does.
    pub effect: FaultEffect,
    /// When (none: always).
    pub window: Option<super::faults::Window>,
    /// Per-attempt probability (delivery faults; none: every attempt).
    pub probability: Option<f64>,
    /// Share of mailboxes affected (delivery faults; none: all).
    pub share: Option<f64>,
}

/// The polling strategy's components.
#[derive(Clone, Debug)]
pub struct PollConfig {
    /// The poller.
    pub poller: super::poller::PollerConfig,
    /// Long polling: the source holds a request this long at most.
    pub long_poll: Option<SimDuration>,
}

/// The webhook path's components (webhook and hybrid strategies).
#[derive(Clone, Debug)]
pub struct HookConfig {
    /// The provider's sender.
    pub sender: super::presets::SenderConfig,
    /// The consumer's receiver.
    pub receiver: super::receiver::ReceiverConfig,
    /// How the processor treats repeats and reordering.
    pub dedup: Dedup,
    /// The subscription's lifecycle, when the run models it (a preset
    /// with an expiring subscription, see [`SubscriptionConfig`]).
    pub subscription: Option<SubscriptionConfig>,
}

/// A webhook subscription that expires unless renewed (a Microsoft Graph
/// subscription, a Gmail `watch`): one per mailbox, created before the
/// run starts (so live at time zero, expiring at `lifetime`), renewed by
/// the consumer every `renew_every` from then on. A renewal is an API
/// request; a renewal of an expired subscription is answered 404 and the
/// consumer creates a new one (a second request). While a mailbox's
/// subscription has expired the provider notifies nothing for it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SubscriptionConfig {
    /// How long a subscription lives after its creation or last renewal.
    pub lifetime: SimDuration,
    /// The consumer's renewal cadence (validated: shorter than
    /// `lifetime`).
    pub renew_every: SimDuration,
    /// After a failed call, the consumer tries again after this long
    /// (`None`: at the next cadence).
    pub retry: Option<SimDuration>,
}

/// The consumer strategy under test, with its components' configs.
#[derive(Clone, Debug)]
pub enum ConsumerConfig {
    /// Poll every mailbox.
    Poll(PollConfig),
    /// Webhooks only.
    Webhook(HookConfig),
    /// Webhooks plus a reconciler.
    Hybrid(HookConfig, super::reconciler::ReconcilerConfig),
}

impl ConsumerConfig {
    /// The strategy's name, as scenario files and reports spell it.
    pub fn name(&self) -> &'static str {
        match self {
            ConsumerConfig::Poll(_) => "poll",
            ConsumerConfig::Webhook(_) => "webhook",
            ConsumerConfig::Hybrid(..) => "hybrid",
        }
    }

    /// The webhook path's configs, if the strategy receives webhooks.
    pub fn hooks(&self) -> Option<&HookConfig> {
        match self {
            ConsumerConfig::Poll(_) => None,
            ConsumerConfig::Webhook(h) | ConsumerConfig::Hybrid(h, _) => Some(h),
        }
    }
}

/// Everything one run is built from: what the scenario layer hands a
/// driver. Every default lives in the scenario layer, not here.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Scenario name (for the report).
    pub name: String,
    /// The seed every random stream derives from.
    pub seed: u64,
    /// How long the source generates traffic.
    pub horizon: SimDuration,
    /// How long the run continues after the horizon.
    pub drain: SimDuration,
    /// The mail source and its traffic.
    pub source: SourceConfig,
    /// Injected faults, in scenario order (each fault's streams are keyed
    /// by its position).
    pub faults: Vec<FaultConfig>,
    /// The consumer strategy.
    pub consumer: ConsumerConfig,
    /// For the report: the reconcile cadence as the file gave it.
    pub reconcile_every_given: Option<SimDuration>,
    /// For the report: true when polling runs at a fixed interval.
    pub fixed_poll_interval: bool,
    /// For the report: latency percentiles beyond p50/p90/p99/p999 that
    /// thresholds ask for (leaf name such as `p95` -> percent).
    pub percentiles: std::collections::BTreeMap<String, f64>,
    /// Stream the traffic: generate each mailbox's log on demand and trim
    /// what no one may touch any more, folding each trimmed change's
    /// verdict into the ledger (memory flat in the horizon). False (the
    /// scenario layer's default): every log generated up front and kept
    /// whole, for drivers and readers of the finished past (live and
    /// network mode, traces). `engine::des::run` turns it on. The report is
    /// the same either way.
    pub stream: bool,
}

impl RunConfig {
    /// Horizon plus drain.
    pub fn end(&self) -> SimDuration {
        self.horizon + self.drain
    }

    /// True when this run streams its traffic: asked for ([`RunConfig::stream`])
    /// and possible. A full resync (a `retention`) lists a mailbox's whole
    /// history, and a lifecycle catch-up lists from its last watermark
    /// (the start, at first): such runs keep whole logs.
    pub fn streams(&self) -> bool {
        self.stream
            && self.source.retention.is_none()
            && !self.consumer.hooks().is_some_and(|h| h.sender.lifecycle)
    }
}
