//! Sweeps: a scenario's `[sweep]` expands into points, each run for every
//! seed.
//!
//! ```toml
//! [sweep]
//! seeds = 3                                   # or a list: [1, 2, 3]
//! "consumer.poll_interval" = ["1m", "5m"]    # grid axes: every combination
//! [[sweep.variants]]                          # and/or named override sets
//! name = "hybrid 30m"
//! "consumer.strategy" = "hybrid"
//! "consumer.reconcile_every" = "30m"
//! ```
//!
//! Points are variants × grid (the last axis varies fastest), in file
//! order; every point is the base file with its overrides applied and
//! validated like any scenario. A point's identity is a hash of its
//! scenario text and seed, so stored results can be trusted on resume.

pub mod exec;
pub mod stats;
pub mod tables;

use crate::scenario::{parse, Format, Scenario, ScenarioError};
use sha2::{Digest, Sha256};
use std::path::Path;

/// One run of a sweep: a point and a seed.
#[derive(Clone, Debug)]
pub struct Run {
    /// Position of the point (not the seed) in the sweep.
    pub point: usize,
    /// Human label of the point, e.g. `hybrid 30m, source.mailboxes=100`.
    pub label: String,
    /// The overrides that make the point, as `(path, value)` text.
    pub overrides: Vec<(String, String)>,
    /// The seed.
    pub seed: u64,
    /// The scenario to run (seed already set).
    pub scenario: Scenario,
    /// Hash of the point's scenario text and seed.
    pub hash: String,
}

/// A whole sweep: the runs in order (point-major, then seed).
#[derive(Clone, Debug)]
pub struct Sweep {
    /// The base scenario's name.
    pub name: String,
    /// Every run.
    pub runs: Vec<Run>,
    /// The override keys, in column order.
    pub keys: Vec<String>,
}

/// The file at `path` as a TOML table (JSON files too), for overrides.
fn read_table(path: &Path) -> Result<(String, toml::Table), ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
        file: file.clone(),
        source,
    })?;
    let table = match Format::of(path) {
        Format::Toml => toml::from_str(&text).map_err(|e| err(&file, "", e.to_string()))?,
        Format::Json => serde_json::from_str(&text).map_err(|e| err(&file, "", e.to_string()))?,
    };
    Ok((file, table))
}

/// A named set of overrides (`[[sweep.variants]]`).
type Variant = (Option<String>, Vec<(String, toml::Value)>);

fn err(file: &str, path: &str, message: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid {
        file: file.to_string(),
        line: 1,
        column: 1,
        path: path.to_string(),
        message: message.into(),
    }
}

/// Expands the sweep in the file at `path`. A file without `[sweep]` is one
/// point with its own seed.
pub fn expand(path: &Path) -> Result<Sweep, ScenarioError> {
    let base = crate::scenario::load(path)?;
    let (file, mut table) = read_table(path)?;
    let sweep = match table.remove("sweep") {
        None => toml::Table::new(),
        Some(toml::Value::Table(t)) => t,
        Some(_) => return Err(err(&file, "sweep", "expected a table")),
    };
    let seeds: Vec<u64> = match sweep.get("seeds") {
        None => vec![base.seed],
        Some(toml::Value::Integer(n)) if *n > 0 && *n <= 10_000 => {
            (0..*n as u64).map(|i| base.seed + i).collect()
        }
        Some(toml::Value::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|v| v.as_integer().filter(|i| *i >= 0).map(|i| i as u64))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                err(
                    &file,
                    "sweep.seeds",
                    "expected a list of seeds (integers >= 0)",
                )
            })?,
        Some(_) => {
            return Err(err(
                &file,
                "sweep.seeds",
                "expected a count (1 to 10000) or a list of seeds",
            ))
        }
    };
    // Variants: named override sets (default: one, empty).
    let mut variants: Vec<Variant> = Vec::new();
    match sweep.get("variants") {
        None => variants.push((None, Vec::new())),
        Some(toml::Value::Array(list)) if !list.is_empty() => {
            for (i, v) in list.iter().enumerate() {
                let toml::Value::Table(t) = v else {
                    return Err(err(
                        &file,
                        &format!("sweep.variants[{i}]"),
                        "expected a table of overrides",
                    ));
                };
                let name = t.get("name").and_then(|n| n.as_str()).map(str::to_string);
                let sets = t
                    .iter()
                    .filter(|(k, _)| k.as_str() != "name")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                variants.push((name, sets));
            }
        }
        Some(_) => {
            return Err(err(
                &file,
                "sweep.variants",
                "expected [[sweep.variants]] tables",
            ))
        }
    }
    // Grid axes: every other key, a non-empty list of values.
    let mut axes: Vec<(String, Vec<toml::Value>)> = Vec::new();
    for (k, v) in &sweep {
        if k == "seeds" || k == "variants" {
            continue;
        }
        match v {
            toml::Value::Array(values) if !values.is_empty() => {
                axes.push((k.clone(), values.clone()))
            }
            _ => {
                return Err(err(
                    &file,
                    &format!("sweep.{k}"),
                    "expected a non-empty list of values to sweep",
                ))
            }
        }
    }
    let mut keys: Vec<String> = Vec::new();
    for (_, sets) in &variants {
        for (k, _) in sets {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys.extend(axes.iter().map(|(k, _)| k.clone()));
    let mut combos: Vec<Vec<(String, toml::Value)>> = vec![Vec::new()];
    for (k, values) in &axes {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((k.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    let mut runs = Vec::new();
    let mut point = 0;
    for (name, sets) in &variants {
        for combo in &combos {
            let mut t = table.clone();
            let mut overrides = Vec::new();
            for (k, v) in sets.iter().chain(combo) {
                set_path(&mut t, k, v.clone()).map_err(|m| err(&file, &format!("sweep.{k}"), m))?;
                overrides.push((k.clone(), show(v)));
            }
            let label = label(name.as_deref(), &overrides, sets.len());
            let point_text = toml::to_string(&t).map_err(|e| err(&file, "sweep", e.to_string()))?;
            let scenario = parse(&point_text, &format!("{file} [{label}]"), Format::Toml)?;
            for &seed in &seeds {
                let mut s = scenario.clone();
                s.seed = seed;
                let mut h = Sha256::new();
                h.update(point_text.as_bytes());
                h.update(seed.to_le_bytes());
                let hash = h
                    .finalize()
                    .iter()
                    .take(8)
                    .map(|b| format!("{b:02x}"))
                    .collect();
                runs.push(Run {
                    point,
                    label: label.clone(),
                    overrides: overrides.clone(),
                    seed,
                    scenario: s,
                    hash,
                });
            }
            point += 1;
        }
    }
    Ok(Sweep {
        name: base.name,
        runs,
        keys,
    })
}

/// A value as it would be written on the command line (`--set k=v`).
pub fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn label(name: Option<&str>, overrides: &[(String, String)], from_variant: usize) -> String {
    let grid: Vec<String> = overrides[from_variant..]
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    match (name, grid.is_empty()) {
        (Some(n), true) => n.to_string(),
        (Some(n), false) => format!("{n}, {}", grid.join(", ")),
        (None, false) => grid.join(", "),
        (None, true) => {
            let all: Vec<String> = overrides.iter().map(|(k, v)| format!("{k}={v}")).collect();
            if all.is_empty() {
                "base".into()
            } else {
                all.join(", ")
            }
        }
    }
}

/// Sets `value` at the dotted `path` (`consumer.poll_interval`,
/// `faults[0].for`), creating tables on the way.
pub fn set_path(table: &mut toml::Table, path: &str, value: toml::Value) -> Result<(), String> {
    let mut parts: Vec<(String, Option<usize>)> = Vec::new();
    for seg in path.split('.') {
        match seg.split_once('[') {
            Some((k, rest)) => {
                let i: usize = rest
                    .trim_end_matches(']')
                    .parse()
                    .map_err(|_| format!("bad index in `{path}`"))?;
                parts.push((k.to_string(), Some(i)));
            }
            None => parts.push((seg.to_string(), None)),
        }
    }
    let Some(((last, last_index), init)) = parts.split_last() else {
        return Err("empty path".into());
    };
    let mut cur = table;
    for (k, idx) in init {
        let entry = cur
            .entry(k.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let next = match (entry, idx) {
            (toml::Value::Table(t), None) => t,
            (toml::Value::Array(a), Some(i)) => match a.get_mut(*i) {
                Some(toml::Value::Table(t)) => t,
                _ => return Err(format!("`{path}`: no table at index {i}")),
            },
            _ => return Err(format!("`{path}`: `{k}` is not a table")),
        };
        cur = next;
    }
    match last_index {
        None => {
            cur.insert(last.clone(), value);
        }
        Some(i) => match cur.get_mut(last) {
            Some(toml::Value::Array(a)) if *i < a.len() => a[*i] = value,
            _ => return Err(format!("`{path}`: no element {i}")),
        },
    }
    Ok(())
}

/// Parses `text` as a TOML value (`5`, `"1m"`, `true`, `[1, 2]`), or takes
/// it as a plain string (`1m`, `hybrid`).
pub fn parse_value(text: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

/// Loads a scenario with `path=value` overrides applied (for `run --set`,
/// which reproduces one point of a sweep).
pub fn load_with(path: &Path, sets: &[(String, String)]) -> Result<Scenario, ScenarioError> {
    if sets.is_empty() {
        return crate::scenario::load(path);
    }
    crate::scenario::load(path)?; // the file itself must be valid
    let (file, mut table) = read_table(path)?;
    for (k, v) in sets {
        set_path(&mut table, k, parse_value(v)).map_err(|m| err(&file, k, m))?;
    }
    let point_text = toml::to_string(&table).map_err(|e| err(&file, "", e.to_string()))?;
    let label: Vec<String> = sets.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parse(
        &point_text,
        &format!("{file} [{}]", label.join(", ")),
        Format::Toml,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_path_creates_and_indexes() {
        let mut t: toml::Table =
            toml::from_str("[consumer]\nstrategy = 'poll'\n[[faults]]\nkind = 'drop'\n").unwrap();
        set_path(
            &mut t,
            "consumer.poll_interval",
            toml::Value::String("1m".into()),
        )
        .unwrap();
        set_path(&mut t, "faults[0].probability", toml::Value::Float(0.5)).unwrap();
        set_path(
            &mut t,
            "source.rate_limit.global_per_s",
            toml::Value::Integer(5),
        )
        .unwrap();
        let text = toml::to_string(&t).unwrap();
        assert!(
            text.contains("poll_interval = \"1m\"")
                && text.contains("probability = 0.5")
                && text.contains("global_per_s = 5"),
            "{text}"
        );
        assert!(set_path(&mut t, "faults[3].x", toml::Value::Integer(1)).is_err());
    }
}
