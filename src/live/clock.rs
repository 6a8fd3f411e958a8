//! Scaled real time: the live driver's only clock. One wall second is
//! `speed` virtual seconds; virtual time starts at zero when the clock
//! does.

use crate::engine::time::{SimDuration, SimTime};
use std::time::Duration;
use tokio::time::Instant;

/// Maps virtual time to wall time and back.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Instant,
    speed: f64,
}

impl Clock {
    /// A clock whose virtual zero is now, running `speed` times faster than
    /// the wall clock (`speed` must be positive and finite).
    pub fn start(speed: f64) -> Clock {
        assert!(speed.is_finite() && speed > 0.0, "speed must be positive");
        Clock {
            origin: Instant::now(),
            speed,
        }
    }

    /// Virtual seconds per wall second.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// The virtual time now.
    pub fn now(&self) -> SimTime {
        SimTime((self.origin.elapsed().as_micros() as f64 * self.speed) as u64)
    }

    /// The wall instant at which virtual time `t` comes.
    pub fn wall(&self, t: SimTime) -> Instant {
        self.origin + self.wall_duration(SimDuration(t.0))
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
        assert_eq!(w - c.origin, Duration::from_secs(2));
        assert!(c.now().0 < 3_600_000_000, "a fresh clock is near zero");
    }
}
