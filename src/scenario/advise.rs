//! `[advise]`: what `syncsim advise` searches for: the configuration
//! that minimises an objective while meeting constraints, over a search
//! space of strategies and candidate values.
//!
//! ```toml
//! [advise]
//! objective = "cost.month"                  # or "requests.total", any numeric report path
//! strategies = ["poll", "webhook", "hybrid"]
//! poll_interval = ["1m", "2m", "5m", "15m"] # candidates per axis (any order)
//! reconcile_every = ["5m", "15m", "30m", "1h"]
//! lookback = ["30m", "1h", "2h"]
//! workers = [1, 2, 4, 8]
//! seeds = 2                                 # per candidate while searching
//! confirm_seeds = 3                         # more seeds the winner must also pass
//!
//! [advise.constraints]                      # the [thresholds] syntax; default: [thresholds]
//! "changes.lost" = "== 0"
//! "latency_ms.all.p99" = "< 5m"
//! ```

use super::consumer::Strategy;
use super::spec::{invalid, Invalid, Scenario};
use super::thresholds::Thresholds;
use crate::engine::time::PositiveDuration;
use serde::Deserialize;
use std::num::NonZeroU32;

/// Most candidate values on one axis.
pub const MAX_AXIS_VALUES: usize = 256;
/// Most seeds per candidate, and most confirmation seeds.
pub const MAX_ADVISE_SEEDS: u32 = 100;

/// The `[advise]` table.
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdviseSpec {
    /// The report path to minimise (mean over seeds): default
    /// `cost.month` with a `[cost]` table, else `requests.total`.
    pub objective: Option<String>,
    /// Conditions the recommendation must meet on every seed, in the
    /// `[thresholds]` syntax; default: the scenario's `[thresholds]`.
    pub constraints: Option<Thresholds>,
    /// Strategies to consider (default: all three; `webhook` and
    /// `hybrid` need `[webhooks]`).
    pub strategies: Option<Vec<Strategy>>,
    /// Candidate poll intervals (strategy `poll`); absent: the scenario's.
    pub poll_interval: Option<Vec<PositiveDuration>>,
    /// Candidate reconciliation periods (`hybrid`); absent: the scenario's.
    pub reconcile_every: Option<Vec<PositiveDuration>>,
    /// Candidate lookback windows (`hybrid`); absent: the scenario's.
    pub lookback: Option<Vec<PositiveDuration>>,
    /// Candidate webhook worker counts (`webhook`, `hybrid`); absent: the
    /// scenario's.
    pub workers: Option<Vec<NonZeroU32>>,
    /// Seeds each candidate runs with during the search (default 2): the
    /// scenario's seed and the next ones.
    pub seeds: Option<NonZeroU32>,
    /// Further seeds the winner must also pass (default 3): the seeds after
    /// the search seeds.
    pub confirm_seeds: Option<u32>,
}

impl AdviseSpec {
    /// The objective path.
    pub fn objective(&self, scenario: &Scenario) -> String {
        self.objective.clone().unwrap_or_else(|| {
            if scenario.cost.is_some() {
                "cost.month".into()
            } else {
                "requests.total".into()
            }
        })
    }

    /// The constraints: `[advise.constraints]`, else `[thresholds]`.
    pub fn constraints<'a>(&'a self, scenario: &'a Scenario) -> &'a Thresholds {
        self.constraints.as_ref().unwrap_or(&scenario.thresholds)
    }

    /// The strategies, in the order given (default poll, webhook, hybrid).
    pub fn strategies(&self) -> Vec<Strategy> {
        self.strategies
            .clone()
            .unwrap_or_else(|| vec![Strategy::Poll, Strategy::Webhook, Strategy::Hybrid])
    }

    /// Search seeds per candidate.
    pub fn seeds(&self) -> u32 {
        self.seeds.map_or(2, NonZeroU32::get)
    }

    /// Confirmation seeds.
    pub fn confirm_seeds(&self) -> u32 {
        self.confirm_seeds.unwrap_or(3)
    }

    /// Checks what spans keys: the objective and constraints name report
    /// paths (`cost.*` only with `[cost]`), there is at least one
    /// constraint, strategies with webhooks have `[webhooks]`, lists are
    /// non-empty, bounded and free of repeats.
    pub fn validate(&self, scenario: &Scenario) -> Result<(), Invalid> {
        let objective = self.objective(scenario);
        let known = crate::metrics::Report::numeric_paths();
        if !known.contains(&objective) {
            return Err(invalid(
                "advise.objective",
                format!(
                    "`{}` is not a numeric report path; expected e.g. `requests.total` or `cost.month`",
                    super::echo(&objective)
                ),
            ));
        }
        if objective.starts_with("cost.") && scenario.cost.is_none() {
            return Err(invalid(
                "advise.objective",
                format!("`{objective}` needs a [cost] table with prices"),
            ));
        }
        let prefix = if self.constraints.is_some() {
            "advise.constraints"
        } else {
            "thresholds"
        };
        let constraints = self.constraints(scenario);
        if constraints.is_empty() {
            return Err(invalid(
                "advise",
                "no constraints: add [advise.constraints] (or [thresholds]), e.g. \"changes.lost\" = \"== 0\"",
            ));
        }
        super::spec::validate_conditions(prefix, constraints, scenario.cost.is_some())?;
        let strategies = self.strategies();
        if strategies.is_empty() {
            return Err(invalid(
                "advise.strategies",
                "no strategy; expected some of \"poll\", \"webhook\", \"hybrid\"",
            ));
        }
        for (i, s) in strategies.iter().enumerate() {
            if strategies[..i].contains(s) {
                return Err(invalid("advise.strategies", "a strategy is named twice"));
            }
            if *s != Strategy::Poll && scenario.webhooks.is_none() {
                return Err(invalid(
                    "advise.strategies",
                    "strategies `webhook` and `hybrid` need a [webhooks] table",
                ));
            }
        }
        fn list<T: PartialEq>(key: &str, values: &Option<Vec<T>>) -> Result<(), Invalid> {
            let Some(v) = values else { return Ok(()) };
            if v.is_empty() {
                return Err(invalid(
                    format!("advise.{key}"),
                    "an empty list; give at least one value, or leave the key out to keep the scenario's",
                ));
            }
            if v.len() > MAX_AXIS_VALUES {
                return Err(invalid(
                    format!("advise.{key}"),
                    format!(
                        "{} values; at most {MAX_AXIS_VALUES} are supported",
                        v.len()
                    ),
                ));
            }
            if (1..v.len()).any(|i| v[..i].contains(&v[i])) {
                return Err(invalid(format!("advise.{key}"), "a value is listed twice"));
            }
            Ok(())
        }
        list("poll_interval", &self.poll_interval)?;
        list("reconcile_every", &self.reconcile_every)?;
        list("lookback", &self.lookback)?;
        list("workers", &self.workers)?;
        if self.seeds() > MAX_ADVISE_SEEDS {
            return Err(invalid(
                "advise.seeds",
                format!("at most {MAX_ADVISE_SEEDS} seeds per candidate"),
            ));
        }
        if self.confirm_seeds() > MAX_ADVISE_SEEDS {
            return Err(invalid(
                "advise.confirm_seeds",
                format!("at most {MAX_ADVISE_SEEDS} confirmation seeds"),
            ));
        }
        Ok(())
    }
}
