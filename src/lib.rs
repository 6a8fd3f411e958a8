//! syncsim: a deterministic simulator for the question "poll, webhooks, or
//! both, and how often?".
//!
//! A scenario ([`scenario::Scenario`]) describes a mock mailbox source, a
//! consumer strategy and injected faults; [`engine::des::run`] runs it in
//! virtual time and returns a [`metrics::Report`] of request cost, latency
//! and loss. The same scenario and seed always give the same report, byte
//! for byte.
#![warn(missing_docs)]

pub mod advise;
pub mod check;
pub mod engine;
pub mod exit;
pub mod http;
pub mod live;
pub mod metrics;
pub mod model;
pub mod net;
pub mod output;
pub mod scenario;
pub mod signing;
pub mod sweep;

/// Runs `scenario` to the end of its drain ([`engine::des::run`]) and
/// returns the sealed report, with its `cost` section when the scenario
/// has `[cost]` prices.
pub fn run(scenario: &Scenario) -> Report {
    let mut report = engine::des::run(scenario);
    scenario::cost::apply(scenario, &mut report);
    report
}

/// [`run`], also returning the trace of what `filter` names
/// ([`engine::des::run_traced`]).
pub fn run_traced(
    scenario: &Scenario,
    filter: model::trace::Filter,
) -> (Report, Vec<model::trace::Record>) {
    let (mut report, records) = engine::des::run_traced(scenario, filter);
    scenario::cost::apply(scenario, &mut report);
    (report, records)
}
pub use metrics::Report;
pub use scenario::{load, Scenario, ScenarioError};
