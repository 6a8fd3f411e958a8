//! `[thresholds]`: assertions on report paths, e.g.
//! `"changes.lost" = "== 0"` or
//! `"requests.per_mailbox_day" = [">= 286.5", "<= 289.5"]`.

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

/// One condition: `op value`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Condition {
    /// The comparison.
    pub op: Op,
    /// The bound.
    pub value: f64,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.op, self.value)
    }
}

const HELP: &str =
    "expected \"OP NUMBER\" with OP one of <, <=, ==, >=, > (e.g. \"< 60000\"), or a list of them";

impl Condition {
    /// Parses `"<= 289.5"`.
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
        let value: f64 = rest.trim().parse().map_err(|_| {
            format!(
                "`{}`: `{}` is not a number; {HELP}",
                super::echo(text),
                super::echo(rest.trim())
            )
        })?;
        if !value.is_finite() {
            return Err(format!("`{}`: the bound must be finite", super::echo(text)));
        }
        Ok(Condition { op, value })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_conditions() {
        assert_eq!(
            Condition::parse("<= 289.5").unwrap(),
            Condition {
                op: Op::Le,
                value: 289.5
            }
        );
        assert_eq!(
            Condition::parse("==0").unwrap(),
            Condition {
                op: Op::Eq,
                value: 0.0
            }
        );
        assert!(Condition::parse("about 5").is_err());
        assert!(Condition::parse("< five").is_err());
        assert!(Op::Lt.holds(1.0, 2.0) && !Op::Gt.holds(1.0, 2.0) && Op::Eq.holds(0.0, 0.0));
    }
}
