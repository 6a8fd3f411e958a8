//! Virtual time: [`SimTime`] (an instant) and [`SimDuration`] (a span), both
//! whole microseconds, plus the human duration syntax (`250ms`, `5m`, `1h30m`).
//!
//! Invariant: nothing here reads the wall clock; time only moves when the
//! driver pops an event.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Microseconds per second.
pub const MICROS_PER_SEC: u64 = 1_000_000;

/// An instant of virtual time, in microseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of virtual time, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// Later than any reachable time.
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// Microseconds since the start.
    pub fn as_micros(self) -> u64 {
        self.0
    }

    /// Seconds since the start, as a float (for reports only).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_SEC as f64
    }

    /// The span from `earlier` to `self` (zero if `earlier` is later).
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A span of `s` whole seconds.
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * MICROS_PER_SEC)
    }

    /// A span of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * 1_000)
    }

    /// A span from fractional seconds, rounded to the nearest microsecond
    /// (negative and NaN become zero).
    pub fn from_secs_f64(s: f64) -> Self {
        if s.is_nan() || s <= 0.0 {
            SimDuration(0)
        } else {
            SimDuration((s * MICROS_PER_SEC as f64).round() as u64)
        }
    }

    /// Whole microseconds.
    pub fn as_micros(self) -> u64 {
        self.0
    }

    /// Seconds as a float.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_SEC as f64
    }

    /// Milliseconds as a float.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1_000.0
    }

    /// True for a zero span.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::Add<SimDuration> for SimTime {
    type Output = SimTime;
    /// This instant plus `d`, saturating at [`SimTime::MAX`].
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl std::ops::Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}

/// Units accepted in durations, longest first so `ms` wins over `m`.
const UNITS: [(&str, u64); 7] = [
    ("us", 1),
    ("ms", 1_000),
    ("s", MICROS_PER_SEC),
    ("m", 60 * MICROS_PER_SEC),
    ("h", 3_600 * MICROS_PER_SEC),
    ("d", 86_400 * MICROS_PER_SEC),
    ("w", 7 * 86_400 * MICROS_PER_SEC),
];

/// What a duration looks like, for error messages.
pub const DURATION_HELP: &str =
    "a duration such as \"250ms\", \"30s\", \"5m\", \"1h30m\" or \"2d\" (units: us, ms, s, m, h, d, w)";

/// Parses a human duration: one or more `<number><unit>` parts, e.g. `1h30m`,
/// `1.5s`, `250ms`. A bare `0` is accepted.
pub fn parse_duration(text: &str) -> Result<SimDuration, String> {
    let s = text.trim();
    if s == "0" {
        return Ok(SimDuration::ZERO);
    }
    if s.is_empty() {
        return Err(format!("empty duration; expected {DURATION_HELP}"));
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!("`{text}` is not {DURATION_HELP}"));
        }
        let (num, after) = rest.split_at(num_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale = UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, s)| *s)
            .ok_or_else(|| {
                if unit.is_empty() {
                    format!("`{text}` has no unit; expected {DURATION_HELP}")
                } else {
                    format!("`{text}` has unknown unit `{unit}`; expected {DURATION_HELP}")
                }
            })?;
        let part =
            parse_scaled(num, scale).ok_or_else(|| format!("`{text}` is not {DURATION_HELP}"))?;
        total = total
            .checked_add(part)
            .ok_or_else(|| format!("`{text}` is too long"))?;
        rest = next;
    }
    Ok(SimDuration(total))
}

/// `num` (digits with at most one dot) times `scale`, exactly, in integers.
fn parse_scaled(num: &str, scale: u64) -> Option<u64> {
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int.is_empty() && frac.is_empty() || frac.contains('.') {
        return None;
    }
    let whole: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut value = whole.checked_mul(scale)?;
    let mut place = scale;
    for digit in frac.chars() {
        place /= 10;
        value = value.checked_add(digit.to_digit(10)? as u64 * place)?;
    }
    Some(value)
}

impl fmt::Display for SimDuration {
    /// Formats with the largest units that divide exactly, e.g. `1h30m`,
    /// `250ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        for (unit, scale) in [
            ("d", 86_400 * MICROS_PER_SEC),
            ("h", 3_600 * MICROS_PER_SEC),
            ("m", 60 * MICROS_PER_SEC),
            ("s", MICROS_PER_SEC),
            ("ms", 1_000),
            ("us", 1),
        ] {
            if rest >= scale {
                write!(f, "{}{}", rest / scale, unit)?;
                rest %= scale;
            }
        }
        Ok(())
    }
}

impl fmt::Display for SimTime {
    /// Formats as `+<duration>` since the start, e.g. `+2h5m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", SimDuration(self.0))
    }
}

impl<'de> Deserialize<'de> for SimDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = SimDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(DURATION_HELP)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SimDuration, E> {
                parse_duration(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SimDuration, E> {
                if v == 0 {
                    Ok(SimDuration::ZERO)
                } else {
                    Err(E::custom(format!(
                        "bare number {v} has no unit; expected {DURATION_HELP}"
                    )))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SimDuration, E> {
                self.visit_i64(v.min(i64::MAX as u64) as i64)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for SimDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A duration that must be greater than zero (intervals, horizons).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PositiveDuration(pub SimDuration);

impl<'de> Deserialize<'de> for PositiveDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = SimDuration::deserialize(d)?;
        if v.is_zero() {
            Err(de::Error::custom(format!(
                "must be greater than zero; expected {DURATION_HELP}"
            )))
        } else {
            Ok(PositiveDuration(v))
        }
    }
}

impl PositiveDuration {
    /// The span itself.
    pub fn get(self) -> SimDuration {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_compounds() {
        assert_eq!(
            parse_duration("250ms").unwrap(),
            SimDuration::from_millis(250)
        );
        assert_eq!(parse_duration("5m").unwrap(), SimDuration::from_secs(300));
        assert_eq!(
            parse_duration("1h30m").unwrap(),
            SimDuration::from_secs(5400)
        );
        assert_eq!(
            parse_duration("1d").unwrap(),
            SimDuration::from_secs(86_400)
        );
        assert_eq!(parse_duration("1.5s").unwrap(), SimDuration(1_500_000));
        assert_eq!(parse_duration("0").unwrap(), SimDuration::ZERO);
        assert_eq!(parse_duration("10us").unwrap(), SimDuration(10));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "5", "5x", "m", "1..2s", "-5m", "5 m"] {
            assert!(parse_duration(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["1h30m", "250ms", "2d", "1m1s", "10us"] {
            let d = parse_duration(s).unwrap();
            assert_eq!(d.to_string(), s);
            assert_eq!(parse_duration(&d.to_string()).unwrap(), d);
        }
    }
}
