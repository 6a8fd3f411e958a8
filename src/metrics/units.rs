//! What a report path measures, so a threshold can be written as a
//! duration (`"< 5m"`) and a breach can say "p99 22.6 min, threshold
//! < 2 min" instead of a bare number.

/// The unit of a numeric report path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds (`latency_ms.*` except `count`, `*_ms`).
    Millis,
    /// Seconds (`webhooks.endpoint_disabled_for`, `live.wall_secs`).
    Secs,
    /// Minutes (`simulated.*_min`).
    Minutes,
    /// Days (`simulated.days`).
    Days,
    /// A share between 0 and 1 (`*_rate`, `*_fraction`).
    Ratio,
    /// Requests per mailbox per day (`*per_mailbox_day`).
    PerMailboxDay,
    /// Per second (`*_rps`, `*per_s`).
    PerSec,
    /// Money per month (`cost.*` except worker-hours), in the
    /// scenario's `[cost]` currency.
    Money,
    /// A count or any other plain number.
    Plain,
}

impl Unit {
    /// The unit of the report path `path` (e.g. `latency_ms.all.p99`).
    pub fn of(path: &str) -> Unit {
        let leaf = path.rsplit('.').next().unwrap_or(path);
        if path.starts_with("latency_ms.") {
            return if leaf == "count" {
                Unit::Plain
            } else {
                Unit::Millis
            };
        }
        if path.starts_with("cost.") && leaf != "worker_hours_month" {
            return Unit::Money;
        }
        if leaf.ends_with("_ms") {
            Unit::Millis
        } else if leaf == "endpoint_disabled_for" || leaf.ends_with("_secs") {
            Unit::Secs
        } else if leaf.ends_with("_min") {
            Unit::Minutes
        } else if leaf == "days" {
            Unit::Days
        } else if leaf.ends_with("_rate") || leaf.ends_with("_fraction") {
            Unit::Ratio
        } else if leaf.ends_with("per_mailbox_day") {
            Unit::PerMailboxDay
        } else if leaf.ends_with("_rps") || leaf.ends_with("per_s") {
            Unit::PerSec
        } else {
            Unit::Plain
        }
    }

    /// Milliseconds per unit, for units of time.
    pub fn millis(self) -> Option<f64> {
        match self {
            Unit::Millis => Some(1.0),
            Unit::Secs => Some(1e3),
            Unit::Minutes => Some(6e4),
            Unit::Days => Some(8.64e7),
            _ => None,
        }
    }

    /// `value` (in this unit) for a person: durations as `22.6 min`,
    /// shares as `3.71%`, rates with their unit, counts as they are.
    pub fn human(self, value: f64) -> String {
        if let Some(ms) = self.millis() {
            return human_ms(value * ms);
        }
        match self {
            Unit::Ratio => format!("{}%", trim(format!("{:.3}", value * 100.0))),
            Unit::PerMailboxDay => format!("{} requests/mailbox-day", plain(value)),
            Unit::PerSec => format!("{}/s", plain(value)),
            Unit::Money => format!("{value:.2}"),
            _ => plain(value),
        }
    }
}

impl Unit {
    /// `value` for a table: durations and shares as in [`Unit::human`],
    /// other numbers plain (the path already names what they count).
    pub fn brief(self, value: f64) -> String {
        match self {
            Unit::PerMailboxDay | Unit::PerSec | Unit::Plain => plain(value),
            _ => self.human(value),
        }
    }
}

/// A plain number without float noise (at most 3 decimals).
pub fn plain(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        trim(format!("{value:.3}"))
    }
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Milliseconds for a person, with the unit spelled out: `812 ms`,
/// `2.5 s`, `22.6 min`, `1.3 h`, `2.1 d` (one decimal, none when whole).
pub fn human_ms(ms: f64) -> String {
    let (v, unit) = if ms.abs() < 1_000.0 {
        (ms, "ms")
    } else if ms.abs() < 60_000.0 {
        (ms / 1e3, "s")
    } else if ms.abs() < 3_600_000.0 {
        (ms / 6e4, "min")
    } else if ms.abs() < 86_400_000.0 {
        (ms / 3.6e6, "h")
    } else {
        (ms / 8.64e7, "d")
    };
    format!("{} {unit}", trim(format!("{v:.1}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_by_path_and_human_values() {
        assert_eq!(Unit::of("latency_ms.all.p99"), Unit::Millis);
        assert_eq!(Unit::of("latency_ms.all.count"), Unit::Plain);
        assert_eq!(Unit::of("webhooks.endpoint_disabled_for"), Unit::Secs);
        assert_eq!(Unit::of("changes.loss_rate"), Unit::Ratio);
        assert_eq!(Unit::of("requests.per_mailbox_day"), Unit::PerMailboxDay);
        assert_eq!(Unit::of("changes.lost"), Unit::Plain);
        // 22.6 minutes = 1,356,000 ms.
        assert_eq!(Unit::Millis.human(1_356_000.0), "22.6 min");
        assert_eq!(Unit::Millis.human(120_000.0), "2 min");
        assert_eq!(Unit::Millis.human(70.0), "70 ms");
        assert_eq!(Unit::Secs.human(90.0), "1.5 min");
        assert_eq!(Unit::Ratio.human(0.03708), "3.708%");
        assert_eq!(Unit::PerMailboxDay.human(288.0), "288 requests/mailbox-day");
        assert_eq!(plain(46.111000000000004), "46.111");
        assert_eq!(Unit::of("cost.month"), Unit::Money);
        assert_eq!(Unit::of("cost.requests_by_kind_month.fetch"), Unit::Money);
        assert_eq!(Unit::of("cost.worker_hours_month"), Unit::Plain);
        assert_eq!(Unit::Money.human(190.7512), "190.75");
    }
}
