//! A sweep folder checks itself. `sweep.json` ([`Meta`]) names the base
//! scenario (a hash), the expansion (a hash) and every run it expects, by
//! id; `points/<id>.json` holds a finished run ([`Stored`]) whose report
//! carries its own digest; `crashed/<id>.json` a run that panicked
//! ([`Crash`]). Reading a folder ([`collect`]) verifies every stored run
//! against `sweep.json` and its digest, and refuses (naming the file) a
//! damaged, edited, foreign or missing run instead of dropping or mixing it.

use super::exec::{point_file, Stored};
use super::Sweep;
use crate::exit;
use crate::output::write_atomic;
use crate::scenario::Thresholds;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The version of the folder layout this syncsim reads and writes.
pub const FORMAT: u32 = 2;

/// Why a sweep folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// The folder fails its checks (bad input: exit 2).
    #[error("{0}")]
    Bad(String),
    /// A stored run is not the run the sweep expects there (bad input:
    /// exit 2).
    #[error("{}: {source}; run the sweep again to recompute it", path.display())]
    Stored {
        /// The stored run's file.
        path: PathBuf,
        /// What is wrong with it.
        source: VerifyError,
    },
    /// Reading or writing failed (exit 4).
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A record could not be turned into JSON (exit 4, as a failed write).
    #[error("{}: {source}", path.display())]
    Encode {
        /// The file it was for.
        path: PathBuf,
        /// What serde said.
        source: serde_json::Error,
    },
}

impl FolderError {
    /// The process exit code for this error: [`exit::BAD_INPUT`] for a
    /// folder that fails its checks, [`exit::IO`] for a failed read or
    /// write.
    pub fn exit_code(&self) -> u8 {
        match self {
            FolderError::Bad(_) | FolderError::Stored { .. } => exit::BAD_INPUT,
            FolderError::Io { .. } | FolderError::Encode { .. } => exit::IO,
        }
    }

    /// An IO error about `path`.
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FolderError + '_ {
        move |source| FolderError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// One run a sweep expects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedRun {
    /// The seed.
    pub seed: u64,
    /// The run id (its stored file's name).
    pub id: String,
}

/// One point a sweep expects, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedPoint {
    /// Its label.
    pub label: String,
    /// Its overrides.
    pub overrides: Vec<(String, String)>,
    /// Grid axes that do not apply to it (shown as
    /// [`super::NOT_APPLICABLE`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_applicable: Vec<String>,
    /// Its runs, one per seed.
    pub runs: Vec<PlannedRun>,
}

/// What a sweep folder says about itself (`sweep.json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Folder layout version ([`FORMAT`]).
    pub format: u32,
    /// The base scenario's name.
    pub name: String,
    /// The scenario file the sweep was run from, as given.
    pub file: String,
    /// The override keys, in column order.
    pub keys: Vec<String>,
    /// `sweep --set` overrides applied to the base scenario.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sets: Vec<(String, String)>,
    /// The scenario's thresholds, as `path -> ["op value", ...]`.
    pub thresholds: BTreeMap<String, Vec<String>>,
    /// Hash of the base scenario (the file without `[sweep]`).
    pub scenario: String,
    /// Hash of the expansion (every run id, in order).
    pub expanded: String,
    /// Every point, in order, with its runs.
    pub points: Vec<PlannedPoint>,
    /// The driver, when not the event engine (e.g. `net tick=50ms`; see
    /// [`super::Driver::identity`]): shards of one sweep on two drivers
    /// are two sweeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
}

impl Meta {
    /// The meta of an expanded sweep.
    pub fn new(sweep: &Sweep) -> Meta {
        let mut points: Vec<PlannedPoint> = Vec::new();
        for r in &sweep.runs {
            if points.len() <= r.point {
                points.push(PlannedPoint {
                    label: r.label.clone(),
                    overrides: r.overrides.clone(),
                    not_applicable: r.not_applicable.clone(),
                    runs: Vec::new(),
                });
            }
            points[r.point].runs.push(PlannedRun {
                seed: r.seed,
                id: r.hash.clone(),
            });
        }
        Meta {
            format: FORMAT,
            name: sweep.name.clone(),
            file: sweep.file.display().to_string(),
            keys: sweep.keys.clone(),
            sets: sweep.sets.clone(),
            thresholds: thresholds_text(&sweep.base.thresholds),
            scenario: sweep.scenario_hash.clone(),
            expanded: sweep.expanded_hash.clone(),
            points,
            driver: sweep.driver.identity(),
        }
    }

    /// The thresholds, parsed back.
    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
            .iter()
            .map(|(k, v)| {
                let cs = v
                    .iter()
                    .filter_map(|c| crate::scenario::Condition::parse(c).ok())
                    .collect();
                (k.clone(), crate::scenario::Conditions(cs))
            })
            .collect()
    }

    /// Runs in the whole sweep (all shards).
    pub fn run_count(&self) -> usize {
        self.points.iter().map(|p| p.runs.len()).sum()
    }

    /// Every planned run with its point index, in order.
    pub fn planned(&self) -> impl Iterator<Item = (usize, &PlannedPoint, &PlannedRun)> {
        self.points
            .iter()
            .enumerate()
            .flat_map(|(i, p)| p.runs.iter().map(move |r| (i, p, r)))
    }

    /// The path of `sweep.json` in `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("sweep.json")
    }

    /// Reads `dir/sweep.json`; `Ok(None)` when there is none.
    pub fn read(dir: &Path) -> Result<Option<Meta>, FolderError> {
        let path = Meta::path(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(FolderError::io(&path)(e)),
        };
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            FolderError::Bad(format!(
                "{}: damaged, not a sweep description ({e})",
                path.display()
            ))
        })?;
        if value.get("format").and_then(|f| f.as_u64()) != Some(u64::from(FORMAT)) {
            return Err(FolderError::Bad(format!(
                "{}: written by another version of syncsim (layout {}, this one reads {FORMAT}); run the sweep again into a new folder",
                path.display(),
                value.get("format").map_or("1".into(), |f| f.to_string())
            )));
        }
        let meta: Meta = serde_json::from_value(value).map_err(|e| {
            FolderError::Bad(format!(
                "{}: damaged, not a sweep description ({e})",
                path.display()
            ))
        })?;
        let ids = meta.planned().map(|(_, _, r)| r.id.as_bytes());
        if super::short_hash(std::iter::once(meta.scenario.as_bytes()).chain(ids)) != meta.expanded
        {
            return Err(FolderError::Bad(format!(
                "{}: its run list does not match its own hash (edited?); run the sweep again",
                path.display()
            )));
        }
        Ok(Some(meta))
    }

    /// Reads `dir/sweep.json`, which must exist.
    pub fn require(dir: &Path) -> Result<Meta, FolderError> {
        Meta::read(dir)?.ok_or_else(|| {
            FolderError::Bad(format!(
                "{}: not a sweep folder (no sweep.json)",
                dir.display()
            ))
        })
    }

    /// Writes `dir/sweep.json` atomically.
    pub fn write(&self, dir: &Path) -> Result<(), FolderError> {
        write_json(&Meta::path(dir), self)
    }
}

/// Thresholds as `sweep.json` keeps them: `path -> ["op value", ...]`.
pub fn thresholds_text(thresholds: &Thresholds) -> BTreeMap<String, Vec<String>> {
    thresholds
        .iter()
        .map(|(k, v)| (k.clone(), v.0.iter().map(|c| c.to_string()).collect()))
        .collect()
}

/// Writes `value` as pretty JSON to `path`, atomically: how every file of
/// a sweep folder is written.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), FolderError> {
    let text = serde_json::to_string_pretty(value).map_err(|source| FolderError::Encode {
        path: path.to_path_buf(),
        source,
    })?;
    write_atomic(path, text.as_bytes()).map_err(FolderError::io(path))
}

/// A run that panicked: a syncsim bug, reported with what reproduces it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Crash {
    /// The run id.
    pub id: String,
    /// The scenario file, as given.
    pub file: String,
    /// The point's label.
    pub label: String,
    /// The point's overrides.
    pub overrides: Vec<(String, String)>,
    /// The seed.
    pub seed: u64,
    /// The panic message and where it happened.
    pub message: String,
    /// The shell command that reproduces the run.
    pub repro: String,
}

impl Crash {
    /// One line for a terminal, then the repro line.
    pub fn render(&self) -> String {
        render_crash(
            &self.file,
            &self.label,
            self.seed,
            &self.message,
            &self.repro,
        )
    }
}

/// How `sweep`, `report` and `check` show a crashed run: one line naming
/// the run (`what`: its file or scenario) and the panic, then the command
/// that reproduces it.
pub fn render_crash(what: &str, label: &str, seed: u64, message: &str, repro: &str) -> String {
    format!(
        "CRASH {what} [{label}] seed {seed}: {message}\n  reproduce: {repro}\n  (this is a syncsim bug; please report it with the line above)"
    )
}

/// The stored crash record of run `id`.
pub fn crash_file(out: &Path, id: &str) -> PathBuf {
    out.join("crashed").join(format!("{id}.json"))
}

/// Why a stored result is not the run a sweep expects there.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The file cannot be read.
    #[error("cannot read: {0}")]
    Read(#[source] std::io::Error),
    /// The file is not a whole stored result (e.g. truncated).
    #[error("damaged, not a whole result ({0})")]
    NotAResult(#[source] serde_json::Error),
    /// The file holds another run.
    #[error("holds run {}, not run {expected}", super::spec::echo(found))]
    OtherRun {
        /// The run id the file holds.
        found: String,
        /// The run id expected there.
        expected: String,
    },
    /// The stored report is not a whole report.
    #[error("damaged, not a whole report ({0})")]
    NotAReport(#[source] serde_json::Error),
    /// The report's values do not hash to its digest.
    #[error(
        "its values do not match its digest {} (edited?)",
        super::spec::echo(digest)
    )]
    Digest {
        /// The digest the report carries.
        digest: String,
    },
    /// The report is of another seed or point.
    #[error(
        "its report is of seed {seed} at {point:?}, not seed {expected_seed} at the point `{label}`"
    )]
    OtherPoint {
        /// The report's seed.
        seed: u64,
        /// The report's point.
        point: BTreeMap<String, String>,
        /// The seed expected.
        expected_seed: u64,
        /// The label of the point expected.
        label: String,
    },
}

/// Why the stored result at `path` is not the run `planned` of `point`, or
/// the result itself.
pub fn verify(
    path: &Path,
    point: &PlannedPoint,
    planned: &PlannedRun,
) -> Result<Stored, VerifyError> {
    let text = std::fs::read_to_string(path).map_err(VerifyError::Read)?;
    let stored: Stored = serde_json::from_str(&text).map_err(VerifyError::NotAResult)?;
    if stored.hash != planned.id {
        return Err(VerifyError::OtherRun {
            found: stored.hash,
            expected: planned.id.clone(),
        });
    }
    let mut report: crate::Report =
        serde_json::from_value(stored.report.clone()).map_err(VerifyError::NotAReport)?;
    let digest = std::mem::take(&mut report.digest);
    report.seal();
    if report.digest != digest {
        return Err(VerifyError::Digest { digest });
    }
    let overrides: BTreeMap<String, String> = point.overrides.iter().cloned().collect();
    if report.seed != planned.seed || report.point != overrides {
        return Err(VerifyError::OtherPoint {
            seed: report.seed,
            point: report.point,
            expected_seed: planned.seed,
            label: point.label.clone(),
        });
    }
    Ok(stored)
}

/// What a sweep folder holds, verified against its `sweep.json`.
#[derive(Debug, Default)]
pub struct Collected {
    /// Verified results, in sweep order, labelled as `sweep.json` says.
    pub results: Vec<Stored>,
    /// Runs that crashed, in sweep order.
    pub crashes: Vec<Crash>,
    /// Runs with neither a result nor a crash record: (point label, seed,
    /// expected file).
    pub missing: Vec<(String, u64, PathBuf)>,
}

impl Collected {
    /// An error naming the missing runs, if any.
    pub fn require_complete(&self, dir: &Path, total: usize) -> Result<(), FolderError> {
        let Some((label, seed, path)) = self.missing.first() else {
            return Ok(());
        };
        Err(FolderError::Bad(format!(
            "{}: {} of {total} runs missing, e.g. point `{}` seed {seed} ({}); finish the sweep with `syncsim sweep FILE --out {}`, or merge every shard",
            dir.display(),
            self.missing.len(),
            super::spec::echo(label),
            path.display(),
            dir.display()
        )))
    }
}

/// Reads every run `meta` expects from the folders `dirs` (one, or the
/// shards of a merge), verifying each; refuses a damaged or edited result,
/// and any result or crash file that is not a run of this sweep.
pub fn collect(dirs: &[PathBuf], meta: &Meta) -> Result<Collected, FolderError> {
    let expected: BTreeMap<&str, (&PlannedPoint, &PlannedRun)> = meta
        .planned()
        .map(|(_, p, r)| (r.id.as_str(), (p, r)))
        .collect();
    let mut found: BTreeMap<String, Stored> = BTreeMap::new();
    let mut crashed: BTreeMap<String, Crash> = BTreeMap::new();
    for dir in dirs {
        for (sub, is_crash) in [("points", false), ("crashed", true)] {
            let folder = dir.join(sub);
            let entries = match std::fs::read_dir(&folder) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && is_crash => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(FolderError::Bad(format!(
                        "{}: not a sweep folder (no points/)",
                        dir.display()
                    )))
                }
                Err(e) => return Err(FolderError::io(&folder)(e)),
            };
            // In name order, so the first bad file named is the same on
            // every machine.
            let mut paths = entries
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(FolderError::io(&folder))?;
            paths.sort();
            for path in paths {
                if path.extension().and_then(|x| x.to_str()) != Some("json") {
                    continue; // e.g. a `.tmp.PID` file of an interrupted write
                }
                let id = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let Some((point, planned)) = expected.get(id.as_str()) else {
                    return Err(FolderError::Bad(format!(
                        "{}: not a run of this sweep ({} does not list it): a run of another scenario or of an edited file; remove it, or run the sweep again",
                        path.display(),
                        Meta::path(dir).display()
                    )));
                };
                if is_crash {
                    let crash = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| serde_json::from_str::<Crash>(&t).ok())
                        .filter(|c| c.id == id)
                        .ok_or_else(|| {
                            FolderError::Bad(format!("{}: damaged crash record", path.display()))
                        })?;
                    crashed.insert(id, crash);
                } else {
                    let stored =
                        verify(&path, point, planned).map_err(|source| FolderError::Stored {
                            path: path.clone(),
                            source,
                        })?;
                    found.insert(id, stored);
                }
            }
        }
    }
    let mut out = Collected::default();
    for (i, point, planned) in meta.planned() {
        if let Some(mut s) = found.remove(&planned.id) {
            s.point = i;
            s.label = point.label.clone();
            s.overrides = point.overrides.clone();
            out.results.push(s);
        } else if let Some(c) = crashed.remove(&planned.id) {
            out.crashes.push(Crash {
                label: point.label.clone(),
                ..c
            });
        } else {
            out.missing.push((
                point.label.clone(),
                planned.seed,
                point_file(&dirs[0], &planned.id),
            ));
        }
    }
    Ok(out)
}
