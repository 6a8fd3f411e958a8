//! The simulated world, one sans-IO component per file. Components take
//! `now` and inputs and return outputs and timers; they never read a clock,
//! sleep or do IO. Drivers (see `engine::des`) own time.

pub mod catch_up;
pub mod config;
pub mod consumer;
pub mod faults;
pub mod halves;
pub mod ledger;
pub mod network;
pub mod poller;
pub mod presets;
pub mod provider;
pub mod quota;
pub mod ratelimit;
pub mod receiver;
pub mod reconciler;
pub mod replica;
pub mod sender;
pub mod source;
pub mod trace;
pub mod traffic;
pub mod transmit;
pub mod version;
