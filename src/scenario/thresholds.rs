//! `[thresholds]`: assertions on report paths, e.g.
//! `"changes.lost" = "== 0"` or
//! `"requests.per_mailbox_day" = [">= 286.5", "<= 289.5"]`.

use crate::engine::time::{parse_duration, SimDuration};
use crate::metrics::units::Unit;
use serde::{de, Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `>=`
    Ge,
    /// `>`
    Gt,
}

impl Op {
    /// True when `got op want` holds.
    pub fn holds(self, got: f64, want: f64) -> bool {
        match self {
            Op::Lt => got < want,
            Op::Le => got <= want,
            Op::Eq => got == want,
            Op::Ge => got >= want,
            Op::Gt => got > want,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "==",
            Op::Ge => ">=",
            Op::Gt => ">",
        })
    }
}

/// A condition's bound: a number in the path's own unit, or a duration
/// (`"< 5m"`) for paths that measure time, converted to the path's unit
/// when checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    /// A number, in the unit of the path (ms for `latency_ms.*`).
    Number(f64),
    /// A duration, for paths with a unit of time.
    Duration(SimDuration),
}

/// One condition: `op value`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Condition {
    /// The comparison.
    pub op: Op,
    /// The bound.
    pub bound: Bound,
}

impl fmt::Display for Condition {
    /// As written: `< 60000`, `< 5m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.bound {
            Bound::Number(v) => write!(f, "{} {}", self.op, v),
            Bound::Duration(d) => write!(f, "{} {}", self.op, d),
        }
    }
}

const HELP: &str = "expected \"OP NUMBER\" or \"OP DURATION\" with OP one of <, <=, ==, >=, > (e.g. \"< 60000\", or \"< 5m\" on a latency path), or a list of them";

impl Condition {
    /// A condition on a plain number.
    pub fn number(op: Op, value: f64) -> Condition {
        Condition {
            op,
            bound: Bound::Number(value),
        }
    }

    /// Parses `"<= 289.5"` or `"< 5m"`.
    pub fn parse(text: &str) -> Result<Condition, String> {
        let t = text.trim();
        let (op, rest) = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ]
        .iter()
        .find_map(|(s, op)| t.strip_prefix(s).map(|r| (*op, r)))
        .ok_or_else(|| format!("`{}` has no comparison; {HELP}", super::echo(text)))?;
        let rest = rest.trim();
        let bound = match rest.parse::<f64>() {
            Ok(v) if v.is_finite() => Bound::Number(v),
            Ok(_) => return Err(format!("`{}`: the bound must be finite", super::echo(text))),
            Err(_) if rest.starts_with(|c: char| c.is_ascii_digit() || c == '.') => {
                Bound::Duration(
                    parse_duration(rest)
                        .map_err(|e| format!("`{}`: {e}; {HELP}", super::echo(text)))?,
                )
            }
            Err(_) => {
                return Err(format!(
                    "`{}`: `{}` is not a number; {HELP}",
                    super::echo(text),
                    super::echo(rest)
                ))
            }
        };
        Ok(Condition { op, bound })
    }

    /// The bound in the unit of `path` (a duration converted to it);
    /// `None` for a duration on a path that does not measure time.
    pub fn value_for(&self, path: &str) -> Option<f64> {
        match self.bound {
            Bound::Number(v) => Some(v),
            Bound::Duration(d) => Unit::of(path).millis().map(|per| d.as_millis_f64() / per),
        }
    }

    /// True when `got` meets the condition on `path`.
    pub fn holds(&self, path: &str, got: f64) -> bool {
        self.value_for(path).is_some_and(|v| self.op.holds(got, v))
    }

    /// The condition for a table: `< 2 min`, `< 100` (see
    /// [`Unit::brief`]).
    pub fn brief(&self, path: &str) -> String {
        match self.value_for(path) {
            Some(v) => format!("{} {}", self.op, Unit::of(path).brief(v)),
            None => self.to_string(),
        }
    }

    /// The condition for a person, in the path's unit: `< 2 min`,
    /// `<= 289.5 requests/mailbox-day`.
    pub fn human(&self, path: &str) -> String {
        match self.value_for(path) {
            Some(v) => format!("{} {}", self.op, Unit::of(path).human(v)),
            None => self.to_string(),
        }
    }
}

/// The percentile a report leaf such as `p95` names, in percent: `p95`
/// is 95, `p999` is 99.9, `p9999` 99.99 (two digits, then decimals);
/// `None` for anything else, and for 0.
pub fn percentile(leaf: &str) -> Option<f64> {
    let digits = leaf.strip_prefix('p')?;
    if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (int, frac) = digits.split_at(digits.len().min(2));
    let v: f64 = format!("{int}.{frac}0").parse().ok()?;
    (v > 0.0 && v < 100.0).then_some(v)
}

/// The conditions on one path (one string or a list).
#[derive(Clone, Debug, PartialEq)]
pub struct Conditions(pub Vec<Condition>);

impl<'de> Deserialize<'de> for Conditions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Conditions;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(HELP)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Conditions, E> {
                Condition::parse(v)
                    .map(|c| Conditions(vec![c]))
                    .map_err(E::custom)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Conditions, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(Condition::parse(&s).map_err(de::Error::custom)?);
                }
                if out.is_empty() {
                    return Err(de::Error::custom(HELP));
                }
                Ok(Conditions(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// All thresholds of a scenario, by report path (sorted, so checks print
/// in a stable order).
pub type Thresholds = BTreeMap<String, Conditions>;

/// The outcome of one condition.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckResult {
    /// Report path.
    pub path: String,
    /// The condition.
    pub condition: Condition,
    /// The measured value (`None` when the report has none, e.g. no samples).
    pub got: Option<f64>,
    /// True when it holds.
    pub pass: bool,
}

impl CheckResult {
    /// The measured value for a person, in the path's unit: `22.6 min`.
    pub fn got_human(&self) -> String {
        self.got
            .map_or("no value".into(), |g| Unit::of(&self.path).human(g))
    }

    /// The measured value for a table (see [`Unit::brief`]).
    pub fn got_brief(&self) -> String {
        self.got
            .map_or("no value".into(), |g| Unit::of(&self.path).brief(g))
    }

    /// `path = value, threshold condition`, both in the path's unit, with
    /// the raw number when the unit rewrote it (durations, shares):
    /// `latency_ms.all.p99 = 22.6 min (1356000), threshold < 2 min`.
    pub fn describe(&self) -> String {
        let unit = Unit::of(&self.path);
        let raw = match self.got {
            Some(g) if unit.millis().is_some() || unit == Unit::Ratio => {
                format!(" ({})", crate::metrics::units::plain(g))
            }
            _ => String::new(),
        };
        format!(
            "{} = {}{raw}, threshold {}",
            self.path,
            self.got_human(),
            self.condition.human(&self.path)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_conditions() {
        assert_eq!(
            Condition::parse("<= 289.5").unwrap(),
            Condition::number(Op::Le, 289.5)
        );
        assert_eq!(
            Condition::parse("==0").unwrap(),
            Condition::number(Op::Eq, 0.0)
        );
        assert!(Condition::parse("about 5").is_err());
        assert!(Condition::parse("< five").is_err());
        assert!(Op::Lt.holds(1.0, 2.0) && !Op::Gt.holds(1.0, 2.0) && Op::Eq.holds(0.0, 0.0));
    }

    #[test]
    fn durations_convert_to_the_paths_unit() {
        let c = Condition::parse("< 5m").unwrap();
        assert_eq!(c.to_string(), "< 5m");
        // 5 minutes = 300,000 ms on a latency path, 300 s on a seconds path.
        assert_eq!(c.value_for("latency_ms.all.p99"), Some(300_000.0));
        assert_eq!(c.value_for("webhooks.endpoint_disabled_for"), Some(300.0));
        assert_eq!(c.value_for("changes.lost"), None);
        assert!(c.holds("latency_ms.all.p99", 299_999.0));
        assert!(!c.holds("latency_ms.all.p99", 300_000.0));
        assert!(!c.holds("changes.lost", 0.0));
        assert_eq!(c.human("latency_ms.all.p99"), "< 5 min");
        assert_eq!(
            Condition::parse("<= 1h30m")
                .unwrap()
                .value_for("latency_ms.poll.max"),
            Some(5_400_000.0)
        );
        assert!(Condition::parse("< 5 parsecs").is_err());
        assert!(Condition::parse("< 5x").is_err());
    }

    #[test]
    fn percentile_leaves() {
        assert_eq!(percentile("p95"), Some(95.0));
        assert_eq!(percentile("p999"), Some(99.9));
        assert_eq!(percentile("p9999"), Some(99.99));
        assert_eq!(percentile("p5"), Some(5.0));
        assert_eq!(percentile("p0"), None);
        assert_eq!(percentile("max"), None);
        assert_eq!(percentile("p9x"), None);
    }
}
