//! Injected faults as time windows. Only the source outage exists so far;
//! the type is a plan of named window sets so new kinds slot in beside it.

use crate::engine::time::{SimDuration, SimTime};
use crate::scenario::{FaultKind, FaultSpec};

/// One fault window, once or repeating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// `[start, end)`.
    Once {
        /// First instant inside.
        start: SimTime,
        /// First instant after.
        end: SimTime,
    },
    /// `[start + k·period, start + k·period + len)` for every k ≥ 0 whose
    /// window starts before `until`.
    Every {
        /// Start of the first window.
        start: SimTime,
        /// Distance between window starts.
        period: SimDuration,
        /// Length of each window.
        len: SimDuration,
        /// No window starts at or after this.
        until: SimTime,
    },
}

impl Window {
    /// Builds the window a fault spec describes (validated beforehand).
    pub fn from_spec(f: &FaultSpec) -> Window {
        let len = f.duration.map_or(SimDuration::ZERO, |d| d.get());
        let start = SimTime(f.at.unwrap_or(SimDuration::ZERO).0);
        match f.every {
            None => Window::Once {
                start,
                end: start + len,
            },
            Some(period) => Window::Every {
                start,
                period: period.get(),
                len,
                until: f.until.map_or(SimTime::MAX, |u| SimTime(u.0)),
            },
        }
    }

    /// True when `t` is inside the window.
    #[inline]
    pub fn contains(&self, t: SimTime) -> bool {
        match *self {
            Window::Once { start, end } => start <= t && t < end,
            Window::Every {
                start,
                period,
                len,
                until,
            } => {
                if t < start {
                    return false;
                }
                let k = (t.0 - start.0) / period.0;
                let w = start.0 + k * period.0;
                w < until.0 && t.0 < w + len.0
            }
        }
    }

    /// The end of the window containing `t`, if any.
    pub fn end_after(&self, t: SimTime) -> Option<SimTime> {
        if !self.contains(t) {
            return None;
        }
        Some(match *self {
            Window::Once { end, .. } => end,
            Window::Every {
                start, period, len, ..
            } => SimTime(start.0 + (t.0 - start.0) / period.0 * period.0 + len.0),
        })
    }
}

/// A set of windows; `t` is faulty when any contains it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Windows(pub Vec<Window>);

impl Windows {
    /// True when any window contains `t`.
    #[inline]
    pub fn contains(&self, t: SimTime) -> bool {
        self.0.iter().any(|w| w.contains(t))
    }

    /// True when there is no window at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Every fault of a scenario, grouped by what it affects.
#[derive(Clone, Debug, Default)]
pub struct FaultPlan {
    /// When the mail API answers 503.
    pub source_outage: Windows,
}

impl FaultPlan {
    /// The plan for a scenario's `[[faults]]`.
    pub fn new(faults: &[FaultSpec]) -> Self {
        let mut plan = FaultPlan::default();
        for f in faults {
            match f.kind {
                FaultKind::SourceOutage => plan.source_outage.0.push(Window::from_spec(f)),
            }
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_window_is_half_open() {
        let w = Window::Once {
            start: SimTime(10),
            end: SimTime(20),
        };
        assert!(!w.contains(SimTime(9)));
        assert!(w.contains(SimTime(10)));
        assert!(w.contains(SimTime(19)));
        assert!(!w.contains(SimTime(20)));
    }

    #[test]
    fn repeating_window_repeats_until() {
        let w = Window::Every {
            start: SimTime(100),
            period: SimDuration(50),
            len: SimDuration(10),
            until: SimTime(200),
        };
        assert!(w.contains(SimTime(105)));
        assert!(!w.contains(SimTime(115)));
        assert!(w.contains(SimTime(150)));
        assert!(
            !w.contains(SimTime(200)),
            "window starting at `until` is excluded"
        );
        assert_eq!(w.end_after(SimTime(152)), Some(SimTime(160)));
    }
}
