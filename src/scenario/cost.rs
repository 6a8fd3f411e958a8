//! `[cost]`: prices that turn a run's counts into money per 30-day month.
//!
//! ```toml
//! [cost]
//! currency = "USD"             # a label; no conversion
//! per_1000_requests = 0.40     # every request at the mail API
//! per_1000_by_kind = { fetch = 0.80 }   # optional: poll, fetch, reconcile, resync
//! per_delivery = 0.000001      # each webhook delivery the endpoint receives
//! per_worker_hour = 0.05       # each webhook worker (consumer.workers), around the clock
//! ```
//!
//! The money is computed from the report's own counts after the run
//! ([`apply`]): nothing in the simulation depends on prices, so a scenario
//! without `[cost]` gives exactly the report (and digest) it gave before.

use super::consumer::Strategy;
use super::spec::{NonNegative, Scenario};
use crate::metrics::report::{Cost, RequestCosts};
use crate::metrics::Report;
use serde::Deserialize;

/// Hours in the 30-day month every monthly figure is scaled to.
pub const HOURS_PER_MONTH: f64 = 720.0;

/// Prices (`[cost]`). Every price is a number >= 0 (a negative price is
/// refused with its line and column); a price left out is 0.
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CostSpec {
    /// Currency label shown beside amounts (default `USD`; no conversion).
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Price per 1,000 requests at the mail API (every kind, unless
    /// `per_1000_by_kind` names it).
    #[serde(default = "zero")]
    pub per_1000_requests: NonNegative,
    /// Prices per 1,000 requests of one kind, overriding
    /// `per_1000_requests` for that kind.
    #[serde(default)]
    pub per_1000_by_kind: KindPrices,
    /// Price per webhook delivery received at the endpoint (every request
    /// that reached it: retries and duplicates included).
    #[serde(default = "zero")]
    pub per_delivery: NonNegative,
    /// Price per worker-hour: the endpoint's `consumer.workers`, for every
    /// hour of the month (strategies `webhook` and `hybrid`).
    #[serde(default = "zero")]
    pub per_worker_hour: NonNegative,
}

fn default_currency() -> String {
    "USD".into()
}
fn zero() -> NonNegative {
    NonNegative(0.0)
}

/// Per-kind prices per 1,000 requests (`[cost.per_1000_by_kind]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KindPrices {
    /// Poller list requests.
    pub poll: Option<NonNegative>,
    /// Thin-payload fetches.
    pub fetch: Option<NonNegative>,
    /// Reconciler list requests.
    pub reconcile: Option<NonNegative>,
    /// Full-resync page requests.
    pub resync: Option<NonNegative>,
}

impl CostSpec {
    /// The monthly cost of the run `report` describes, over `days`
    /// simulated days (horizon plus drain), for a consumer with `strategy`
    /// and `workers` webhook workers. Pure arithmetic on the report's
    /// counts: requests and deliveries scale like the capacity section
    /// (`count / days × 30`); workers cost `workers × 720 h ×
    /// per_worker_hour` (0 for `poll`).
    pub fn cost(&self, report: &Report, days: f64, strategy: Strategy, workers: u32) -> Cost {
        let month = |count: u64| {
            if days > 0.0 {
                count as f64 / days * 30.0
            } else {
                0.0
            }
        };
        let q = &report.requests;
        let base = self.per_1000_requests.0 / 1000.0;
        let price = |p: Option<NonNegative>| p.map_or(base, |p| p.0 / 1000.0);
        let k = &self.per_1000_by_kind;
        let other = q
            .total
            .saturating_sub(q.poll + q.fetch + q.reconcile + q.resync);
        let by_kind = RequestCosts {
            poll: month(q.poll) * price(k.poll),
            fetch: month(q.fetch) * price(k.fetch),
            reconcile: month(q.reconcile) * price(k.reconcile),
            resync: month(q.resync) * price(k.resync),
            other: month(other) * base,
        };
        let requests_month =
            by_kind.poll + by_kind.fetch + by_kind.reconcile + by_kind.resync + by_kind.other;
        let deliveries = report.webhooks.as_ref().map_or(0, |w| w.inbound_requests);
        let deliveries_month = month(deliveries) * self.per_delivery.0;
        let worker_hours_month = if strategy == Strategy::Poll {
            0.0
        } else {
            workers as f64 * HOURS_PER_MONTH
        };
        let workers_month = worker_hours_month * self.per_worker_hour.0;
        let total = requests_month + deliveries_month + workers_month;
        Cost {
            currency: self.currency.clone(),
            month: total,
            per_mailbox_month: total / f64::from(report.simulated.mailboxes.max(1)),
            requests_month,
            requests_by_kind_month: by_kind,
            deliveries_month,
            workers_month,
            worker_hours_month,
        }
    }
}

/// Adds the cost section to `report` when `scenario` has `[cost]` (and
/// seals it again, so the digest covers it); without `[cost]` the report
/// is left exactly as it was.
pub fn apply(scenario: &Scenario, report: &mut Report) {
    if let Some(spec) = &scenario.cost {
        report.cost = Some(spec.cost(
            report,
            scenario.end().as_secs_f64() / 86_400.0,
            scenario.consumer.strategy,
            scenario.consumer.workers.get(),
        ));
        report.seal();
    }
}
