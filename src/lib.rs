//! syncsim: a deterministic simulator for the question "poll, webhooks, or
//! both, and how often?".
//!
//! A scenario ([`scenario::Scenario`]) describes a mock mailbox source, a
//! consumer strategy and injected faults; [`engine::des::run`] runs it in
//! virtual time and returns a [`metrics::Report`] of request cost, latency
//! and loss. The same scenario and seed always give the same report, byte
//! for byte.
#![warn(missing_docs)]

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

pub use engine::des::{run, run_traced};
pub use metrics::Report;
pub use scenario::{load, Scenario, ScenarioError};
