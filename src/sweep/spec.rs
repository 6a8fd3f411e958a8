//! The `[sweep]` table: seeds, variants and grid axes, checked with the
//! line and column of each key in the user's file, and sized before
//! anything is expanded.

use crate::scenario::{Format, ScenarioError};

/// Most runs (points × seeds) one sweep may have. Counted before anything
/// is expanded, so a small file cannot ask for an unbounded amount of
/// memory or time.
pub const MAX_RUNS: u64 = 100_000;

/// Most seeds a `seeds = N` count may ask for.
pub const MAX_SEEDS: i64 = 10_000;

/// User text for a message, cut to a readable length (one rule for every
/// message: the scenario layer's).
pub use crate::scenario::echo;

/// One step of a path into the file: a key or an array index.
#[derive(Clone, Debug, PartialEq)]
pub enum Seg {
    /// A table key (taken whole: `"consumer.strategy"` is one key).
    Key(String),
    /// An array element.
    Index(usize),
}

fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

/// A scenario file's text, to point messages at the user's lines.
#[derive(Clone, Debug)]
pub struct Source {
    /// The path as given.
    pub file: String,
    /// The whole text.
    pub text: String,
    /// How it is written.
    pub format: Format,
}

impl Source {
    /// Byte offset of the value at `segs` (the deepest part that exists).
    fn offset(&self, segs: &[Seg]) -> Option<usize> {
        let segments: Vec<Result<&str, usize>> = segs
            .iter()
            .map(|s| match s {
                Seg::Key(k) => Ok(k.as_str()),
                Seg::Index(i) => Err(*i),
            })
            .collect();
        match self.format {
            Format::Toml => crate::scenario::locate_toml_segments(&self.text, &segments),
            Format::Json => crate::scenario::locate_json_segments(&self.text, &segments),
        }
    }

    /// 1-based line and column (in characters) of the value at `segs`.
    pub fn line_col(&self, segs: &[Seg]) -> (usize, usize) {
        crate::scenario::line_col(&self.text, self.offset(segs).unwrap_or(0))
    }

    /// An error about the value at `segs`, for the key path `path`.
    pub fn err(&self, segs: &[Seg], path: &str, message: impl Into<String>) -> ScenarioError {
        let (line, column) = self.line_col(segs);
        ScenarioError::Invalid {
            file: self.file.clone(),
            line,
            column,
            path: path.to_string(),
            message: message.into(),
        }
    }

    /// An error found in a point's generated scenario text, moved to the
    /// user's file: to the override the error is about when there is one
    /// (`places`: each override's key and where it is written), else to the
    /// key in the base text, and said to be about the point `label`.
    pub fn point_error(
        &self,
        e: ScenarioError,
        label: &str,
        places: &[(String, Vec<Seg>)],
    ) -> ScenarioError {
        self.located(e, places, &format!("in the sweep point `{}`", echo(label)))
    }

    /// An error found in the scenario after `--set` overrides (`run
    /// --set`, `sweep --set`): at the key in the file when it is written
    /// there, naming the `--set` it comes from when it is about one.
    pub fn set_error(&self, e: ScenarioError, sets: &[(String, String)]) -> ScenarioError {
        let from = match &e {
            ScenarioError::Invalid { path, .. } => sets
                .iter()
                .rev()
                .find(|(k, _)| within(path, k))
                .map(|(k, v)| format!("from `--set {}={}`", echo(k), echo(v))),
            ScenarioError::Io { .. } => None,
        };
        let all: Vec<String> = sets.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let context =
            from.unwrap_or_else(|| format!("with `--set {}`", echo(&all.join(" --set "))));
        self.located(e, &[], &context)
    }

    /// `e` moved to the override it is about (`places`) or to its key in
    /// the file, with `context` in parentheses after the message.
    fn located(
        &self,
        e: ScenarioError,
        places: &[(String, Vec<Seg>)],
        context: &str,
    ) -> ScenarioError {
        let ScenarioError::Invalid { path, message, .. } = e else {
            return e;
        };
        let segs: Vec<Seg> = match places.iter().find(|(k, _)| within(&path, k)) {
            Some((_, at)) => at.clone(),
            None => path_segs(&path),
        };
        self.err(&segs, &path, format!("{message} ({context})"))
    }
}

/// True when the key path `path` is `k` or lies under it.
fn within(path: &str, k: &str) -> bool {
    path == k
        || path
            .strip_prefix(k)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

/// `a.b[2].c` as segments.
fn path_segs(path: &str) -> Vec<Seg> {
    crate::scenario::path_segments(path)
        .into_iter()
        .map(|s| match s {
            Ok(k) => key(k),
            Err(i) => Seg::Index(i),
        })
        .collect()
}

/// A named set of overrides (`[[sweep.variants]]`).
#[derive(Clone, Debug)]
pub struct Variant {
    /// Position in `sweep.variants` (`None`: the implicit empty variant).
    pub index: Option<usize>,
    /// Its `name`, if any.
    pub name: Option<String>,
    /// The overrides, in file order.
    pub sets: Vec<(String, toml::Value)>,
}

impl Variant {
    /// Where the override `k` is written.
    pub fn place(&self, k: &str) -> Vec<Seg> {
        let mut at = self.place_self();
        at.push(key(k));
        at
    }

    /// Where the variant is written.
    pub fn place_self(&self) -> Vec<Seg> {
        match self.index {
            Some(i) => vec![key("sweep"), key("variants"), Seg::Index(i)],
            None => vec![key("sweep")],
        }
    }
}

/// A grid axis: a key and the values it takes.
#[derive(Clone, Debug)]
pub struct Axis {
    /// The key path, e.g. `consumer.poll_interval`.
    pub key: String,
    /// Its values, in file order.
    pub values: Vec<toml::Value>,
}

impl Axis {
    /// Where value `j` is written.
    pub fn place(&self, j: usize) -> Vec<Seg> {
        vec![key("sweep"), key(&self.key), Seg::Index(j)]
    }
}

/// A checked `[sweep]` table.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The seeds, each run once per point.
    pub seeds: Vec<u64>,
    /// The variants (at least one).
    pub variants: Vec<Variant>,
    /// The grid axes.
    pub axes: Vec<Axis>,
}

impl Spec {
    /// A file without `[sweep]`: one point, its own seed.
    pub fn single(seed: u64) -> Spec {
        Spec {
            seeds: vec![seed],
            variants: vec![Variant {
                index: None,
                name: None,
                sets: Vec::new(),
            }],
            axes: Vec::new(),
        }
    }

    /// Runs the sweep has: axes' lengths × variants × seeds, or `None` past
    /// `u64::MAX`.
    pub fn runs(&self) -> Option<u64> {
        self.axes
            .iter()
            .try_fold(1u64, |n, a| n.checked_mul(a.values.len() as u64))?
            .checked_mul(self.variants.len() as u64)?
            .checked_mul(self.seeds.len() as u64)
    }

    /// Reads and checks the `[sweep]` value of the file `src`, whose base
    /// seed is `base_seed`; refuses more than [`MAX_RUNS`] runs.
    pub fn parse(src: &Source, sweep: &toml::Value, base_seed: u64) -> Result<Spec, ScenarioError> {
        let at = |segs: &[&str]| segs.iter().map(|s| key(s)).collect::<Vec<_>>();
        let toml::Value::Table(sweep) = sweep else {
            return Err(src.err(&at(&["sweep"]), "sweep", "expected a table"));
        };
        let seeds = parse_seeds(src, sweep.get("seeds"), base_seed)?;
        let variants = parse_variants(src, sweep.get("variants"))?;
        let mut axes = Vec::new();
        for (k, v) in sweep {
            if k == "seeds" || k == "variants" {
                continue;
            }
            let here = at(&["sweep", k]);
            let path = format!("sweep.{}", echo(k));
            let values = match v {
                toml::Value::Array(values) if !values.is_empty() => values,
                toml::Value::Table(_) => {
                    return Err(src.err(
                        &here,
                        &path,
                        format!(
                            "expected a non-empty list of values to sweep; quote a dotted key path: \"{}.…\" = [...]",
                            echo(k)
                        ),
                    ))
                }
                _ => {
                    return Err(src.err(
                        &here,
                        &path,
                        "expected a non-empty list of values to sweep",
                    ))
                }
            };
            for (j, value) in values.iter().enumerate() {
                if let Some(i) = values[..j].iter().position(|w| w == value) {
                    let mut place = here.clone();
                    place.push(Seg::Index(j));
                    return Err(src.err(
                        &place,
                        &path,
                        format!(
                            "value {} is listed twice (items {} and {}): each point must differ",
                            echo(&value.to_string()),
                            i + 1,
                            j + 1
                        ),
                    ));
                }
            }
            axes.push(Axis {
                key: k.clone(),
                values: values.clone(),
            });
        }
        let spec = Spec {
            seeds,
            variants,
            axes,
        };
        let runs = spec.runs();
        if runs.is_none_or(|n| n > MAX_RUNS) {
            let mut shown: Vec<String> = spec
                .axes
                .iter()
                .take(5)
                .map(|a| format!("`{}`: {}", echo(&a.key), a.values.len()))
                .collect();
            if spec.axes.len() > 5 {
                shown.push(format!("and {} more", spec.axes.len() - 5));
            }
            let count = runs.map_or("more than 18446744073709551615".to_string(), |n| {
                n.to_string()
            });
            return Err(src.err(
                &at(&["sweep"]),
                "sweep",
                format!(
                    "{count} runs ({} grid axes [{}] × {} variants × {} seeds); a sweep may have at most {MAX_RUNS}: split it into several files or sweep fewer values",
                    spec.axes.len(),
                    shown.join(", "),
                    spec.variants.len(),
                    spec.seeds.len()
                ),
            ));
        }
        Ok(spec)
    }
}

fn parse_seeds(
    src: &Source,
    seeds: Option<&toml::Value>,
    base_seed: u64,
) -> Result<Vec<u64>, ScenarioError> {
    let here = vec![key("sweep"), key("seeds")];
    let bad = |m: String| src.err(&here, "sweep.seeds", m);
    match seeds {
        None => Ok(vec![base_seed]),
        Some(toml::Value::Integer(n)) if (1..=MAX_SEEDS).contains(n) => (0..*n as u64)
            .map(|i| base_seed.checked_add(i))
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| {
                bad(format!(
                    "{n} seeds from the scenario's seed {base_seed} pass the largest seed ({})",
                    u64::MAX
                ))
            }),
        Some(toml::Value::Array(a)) if !a.is_empty() && a.len() as i64 <= MAX_SEEDS => {
            let mut out: Vec<u64> = Vec::with_capacity(a.len());
            for (i, v) in a.iter().enumerate() {
                let seed = v
                    .as_integer()
                    .and_then(|s| u64::try_from(s).ok())
                    .ok_or_else(|| {
                        src.err(
                            &[key("sweep"), key("seeds"), Seg::Index(i)],
                            "sweep.seeds",
                            format!(
                                "expected a list of seeds (integers >= 0), found {}",
                                echo(&v.to_string())
                            ),
                        )
                    })?;
                if out.contains(&seed) {
                    return Err(src.err(
                        &[key("sweep"), key("seeds"), Seg::Index(i)],
                        "sweep.seeds",
                        format!("seed {seed} is listed twice"),
                    ));
                }
                out.push(seed);
            }
            Ok(out)
        }
        Some(_) => Err(bad(format!(
            "expected a count (1 to {MAX_SEEDS}) or a non-empty list of at most {MAX_SEEDS} seeds"
        ))),
    }
}

fn parse_variants(
    src: &Source,
    variants: Option<&toml::Value>,
) -> Result<Vec<Variant>, ScenarioError> {
    let list = match variants {
        None => return Ok(Spec::single(0).variants),
        Some(toml::Value::Array(list)) if !list.is_empty() => list,
        Some(_) => {
            return Err(src.err(
                &[key("sweep"), key("variants")],
                "sweep.variants",
                "expected [[sweep.variants]] tables",
            ))
        }
    };
    let mut out: Vec<Variant> = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let here = vec![key("sweep"), key("variants"), Seg::Index(i)];
        let path = format!("sweep.variants[{i}]");
        let toml::Value::Table(t) = v else {
            return Err(src.err(&here, &path, "expected a table of overrides"));
        };
        let name = match t.get("name") {
            None => None,
            Some(toml::Value::String(n)) => Some(n.clone()),
            Some(_) => {
                let mut at = here.clone();
                at.push(key("name"));
                return Err(src.err(&at, &format!("{path}.name"), "expected a string"));
            }
        };
        let sets: Vec<(String, toml::Value)> = t
            .iter()
            .filter(|(k, _)| k.as_str() != "name")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (j, earlier) in out.iter().enumerate() {
            let same_sets = earlier.sets == sets;
            if earlier.name == name && same_sets {
                return Err(src.err(
                    &here,
                    &path,
                    format!(
                        "duplicate variant: the same name and overrides as sweep.variants[{j}]; remove one"
                    ),
                ));
            }
            if name.is_some() && earlier.name == name {
                return Err(src.err(
                    &here,
                    &path,
                    format!(
                        "the name `{}` is already used by sweep.variants[{j}]; names label the points, so they must differ",
                        echo(name.as_deref().unwrap_or(""))
                    ),
                ));
            }
        }
        out.push(Variant {
            index: Some(i),
            name,
            sets,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_split_keys_and_indices() {
        assert_eq!(
            path_segs("faults[1].for"),
            vec![key("faults"), Seg::Index(1), key("for")]
        );
    }
}
