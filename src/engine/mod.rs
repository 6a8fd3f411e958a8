//! The deterministic discrete-event engine: virtual time, the event queue,
//! seeded random streams, random variates, and the `des` driver that runs a
//! scenario's components.

pub mod arena;
pub mod des;
pub mod queue;
pub mod rng;
pub mod sample;
pub mod time;

pub use queue::EventQueue;
pub use rng::{Purpose, SimRng, Streams};
pub use sample::Delay;
pub use time::{SimDuration, SimTime};
