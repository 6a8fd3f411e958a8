//! The node's clock. In live mode it is scaled real time, the live
//! driver's only clock: one wall second is `speed` virtual seconds, and
//! virtual time starts at zero when the clock does. In network mode
//! (`crate::net`) it is turmoil's simulated time: virtual time is the
//! simulation's elapsed time (the same on every host, and across a
//! host's crash and restart), at speed 1, and the Unix time stamped on
//! webhooks is the simulation's epoch plus that.

use crate::engine::time::{SimDuration, SimTime};
use std::time::Duration;
use tokio::time::Instant;

/// Maps virtual time to wall time (or tokio's simulated time) and back.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Origin,
    speed: f64,
}

/// Where virtual zero is.
#[derive(Clone, Copy, Debug)]
enum Origin {
    /// A wall instant (live mode).
    Wall(Instant),
    /// The start of a turmoil simulation (network mode).
    Sim,
}

impl Clock {
    /// A clock whose virtual zero is now, running `speed` times faster than
    /// the wall clock (`speed` must be positive and finite).
    pub fn start(speed: f64) -> Clock {
        assert!(speed.is_finite() && speed > 0.0, "speed must be positive");
        Clock {
            origin: Origin::Wall(Instant::now()),
            speed,
        }
    }

    /// The clock of a turmoil simulation (network mode): virtual time is
    /// `turmoil::sim_elapsed()`, at speed 1. Read it only from inside a
    /// simulated host (outside one it reads zero).
    pub fn simulated() -> Clock {
        Clock {
            origin: Origin::Sim,
            speed: 1.0,
        }
    }

    /// True for a turmoil simulation's clock.
    pub fn is_simulated(&self) -> bool {
        matches!(self.origin, Origin::Sim)
    }

    /// Virtual seconds per wall second.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// The virtual time now.
    pub fn now(&self) -> SimTime {
        match self.origin {
            Origin::Wall(origin) => {
                SimTime((origin.elapsed().as_micros() as f64 * self.speed) as u64)
            }
            Origin::Sim => SimTime(
                turmoil::sim_elapsed()
                    .unwrap_or_default()
                    .as_micros()
                    .min(u64::MAX as u128) as u64,
            ),
        }
    }

    /// The (tokio) instant at which virtual time `t` comes: a wall
    /// instant in live mode, the current host's simulated instant in
    /// network mode (tokio's paused clock there moves with the sim).
    pub fn wall(&self, t: SimTime) -> Instant {
        match self.origin {
            Origin::Wall(origin) => origin + self.wall_duration(SimDuration(t.0)),
            Origin::Sim => Instant::now() + Duration::from_micros(t.0.saturating_sub(self.now().0)),
        }
    }

    /// Unix seconds for `webhook-timestamp` and its check: the wall
    /// clock in live mode (a real receiver checks it against its own);
    /// the simulation's epoch plus its elapsed time in network mode.
    pub fn unix_secs(&self) -> u64 {
        match self.origin {
            Origin::Wall(_) => unix_secs(),
            Origin::Sim => turmoil::since_epoch().map_or(0, |d| d.as_secs()),
        }
    }

    /// How long virtual `d` lasts on the wall clock.
    pub fn wall_duration(&self, d: SimDuration) -> Duration {
        Duration::from_micros((d.0 as f64 / self.speed) as u64)
    }
}

/// Sleeps until `when`, unless it is less than a millisecond away: tokio's
/// timer has 1 ms ticks and rounds every sleep up to the next one, which
/// would hold an answer already due (or a send 0.08 ms early) a whole
/// tick. Sending up to 1 wall ms early is the price.
pub async fn sleep_until(when: Instant) {
    if when.saturating_duration_since(Instant::now()) >= std::time::Duration::from_millis(1) {
        tokio::time::sleep_until(when).await;
    }
}

/// Unix seconds on the wall clock, for `webhook-timestamp`: a receiver
/// checks it against its own wall clock, so it is never virtual time.
pub fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_and_wall_time_scale_by_speed() {
        let c = Clock::start(3_600.0);
        assert_eq!(
            c.wall_duration(SimDuration::from_secs(3_600)),
            Duration::from_secs(1)
        );
        let w = c.wall(SimTime(7_200_000_000));
        let Origin::Wall(origin) = c.origin else {
            panic!("a started clock is a wall clock")
        };
        assert_eq!(w - origin, Duration::from_secs(2));
        assert!(c.now().0 < 3_600_000_000, "a fresh clock is near zero");
    }
}
