//! Which slice of a sweep this process runs: `--shard K/N` given on the
//! command line (a GitHub Actions matrix, a shell loop), or read from the
//! environment a batch engine gives each task of an array job:
//!
//! | engine | index | count |
//! |---|---|---|
//! | Kubernetes Indexed Job | `JOB_COMPLETION_INDEX` (0-based) | none: `--shard-count N`, the Job's `completions` |
//! | Slurm job array | `SLURM_ARRAY_TASK_ID`, offset by `SLURM_ARRAY_TASK_MIN` and `SLURM_ARRAY_TASK_STEP` | `SLURM_ARRAY_TASK_COUNT` |
//!
//! Shard `K` of `N` (1-based) runs the sweep's runs whose index is `K - 1`
//! modulo `N`; the `N` shards together run every run once, and
//! `syncsim merge` joins their folders. The selection is a pure function
//! of the variables ([`from_env`] takes a lookup, not the process
//! environment), so it is tested without touching the environment.

use std::fmt;

/// The Kubernetes Job controller's variable: the pod's completion index,
/// `0..completions`.
pub const K8S_INDEX: &str = "JOB_COMPLETION_INDEX";
/// Slurm's variable: this task's array index (the `--array` value).
pub const SLURM_ID: &str = "SLURM_ARRAY_TASK_ID";
/// Slurm's variable: the number of tasks in the array.
pub const SLURM_COUNT: &str = "SLURM_ARRAY_TASK_COUNT";
/// Slurm's variable: the array's lowest index (`1` for `--array=1-8`).
pub const SLURM_MIN: &str = "SLURM_ARRAY_TASK_MIN";
/// Slurm's variable: the array's highest index.
pub const SLURM_MAX: &str = "SLURM_ARRAY_TASK_MAX";
/// Slurm's variable: the array's index step (`2` for `--array=0-14:2`).
pub const SLURM_STEP: &str = "SLURM_ARRAY_TASK_STEP";

/// A slice of a sweep: shard `index` (1-based) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, `1..=count`.
    pub index: usize,
    /// How many shards the sweep is split into (at least 1).
    pub count: usize,
}

impl Shard {
    /// Parses `K/N` with `1 <= K <= N` (spaces around the numbers allowed).
    pub fn parse(text: &str) -> Option<Shard> {
        let (k, n) = text.split_once('/')?;
        let shard = Shard {
            index: k.trim().parse().ok()?,
            count: n.trim().parse().ok()?,
        };
        (shard.index >= 1 && shard.index <= shard.count).then_some(shard)
    }

    /// Whether the run at position `run` (0-based, in sweep order) is in
    /// this shard.
    pub fn holds(&self, run: usize) -> bool {
        run % self.count == self.index - 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A batch engine whose environment names the shard (`--shard-from`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// A Kubernetes Job with `completionMode: Indexed`: the index from
    /// `JOB_COMPLETION_INDEX`; the count must be given (`--shard-count`).
    Kubernetes,
    /// A Slurm job array (`sbatch --array=...`): index and count from the
    /// `SLURM_ARRAY_TASK_*` variables.
    Slurm,
}

impl Engine {
    /// The name used on the command line (`--shard-from NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Engine::Kubernetes => "kubernetes",
            Engine::Slurm => "slurm",
        }
    }
}

/// A shard read from the environment, with where it came from (for the
/// log line, e.g. `JOB_COMPLETION_INDEX=2, --shard-count 4`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selected {
    /// The shard.
    pub shard: Shard,
    /// The variables (and flag) it was read from, as `NAME=value` text.
    pub from: String,
}

/// Why the shard cannot be read from the environment. Every message names
/// the variable or flag, its value and what is expected (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// A variable the engine always sets is missing: not running as a
    /// task of that engine's array job.
    #[error("--shard-from {engine}: {var} is not set; {hint}")]
    Missing {
        /// `kubernetes` or `slurm`.
        engine: &'static str,
        /// The variable.
        var: &'static str,
        /// Where the engine sets it.
        hint: &'static str,
    },
    /// A variable is not a whole number (or, for a step, is 0).
    #[error("--shard-from {engine}: {var}=`{value}` is not {expected}")]
    Malformed {
        /// `kubernetes` or `slurm`.
        engine: &'static str,
        /// The variable.
        var: &'static str,
        /// Its value, as found.
        value: String,
        /// What it should be, e.g. `a whole number`.
        expected: &'static str,
    },
    /// Kubernetes gives no shard count, and `--shard-count` is missing.
    #[error("--shard-from kubernetes: Kubernetes does not tell a pod how many completions its Job has; add --shard-count N with N the Job's `completions`")]
    CountRequired,
    /// `--shard-count 0`.
    #[error("--shard-count 0: a sweep is split into at least 1 shard")]
    ZeroCount,
    /// The index is outside `0..count` (or, for Slurm, outside the array's
    /// range).
    #[error("--shard-from {engine}: {detail}")]
    OutOfRange {
        /// `kubernetes` or `slurm`.
        engine: &'static str,
        /// Which values disagree, and what is expected.
        detail: String,
    },
    /// `--shard-count` disagrees with the engine's own count.
    #[error("--shard-from slurm: --shard-count {flag} but {SLURM_COUNT}={env}; drop --shard-count (the array's size is the shard count) or make them equal")]
    CountMismatch {
        /// The flag's value.
        flag: usize,
        /// The variable's value.
        env: usize,
    },
    /// The Slurm array's ids are not one evenly spaced range (e.g.
    /// `--array=1,2,7`), so an id does not map to one shard.
    #[error("--shard-from slurm: the array's ids are not one evenly spaced range ({detail}); submit it as --array=0-{last} (or any A-B or A-B:S range of {count} ids)", last = count - 1)]
    Sparse {
        /// The variables that disagree.
        detail: String,
        /// Tasks in the array.
        count: usize,
    },
}

impl ShardError {
    /// The process exit code: always [`crate::exit::BAD_INPUT`].
    pub fn exit_code(&self) -> u8 {
        crate::exit::BAD_INPUT
    }
}

/// Reads the shard from `env` (a variable lookup: the process environment
/// in `main`, a map in tests) as `engine` sets it. `count` is
/// `--shard-count`: required for Kubernetes, which gives no count; for
/// Slurm optional, and then it must equal `SLURM_ARRAY_TASK_COUNT`.
///
/// Slurm array ids need not start at 0: task `id` of an array
/// `MIN..=MAX` with step `STEP` is shard `(id - MIN) / STEP + 1`, so
/// `--array=1-8` and `--array=0-14:2` both make 8 shards.
pub fn from_env(
    engine: Engine,
    count: Option<usize>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Selected, ShardError> {
    if count == Some(0) {
        return Err(ShardError::ZeroCount);
    }
    match engine {
        Engine::Kubernetes => kubernetes(count, &env),
        Engine::Slurm => slurm(count, &env),
    }
}

/// A variable that must be set.
fn required(
    engine: Engine,
    var: &'static str,
    hint: &'static str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<String, ShardError> {
    env(var).ok_or(ShardError::Missing {
        engine: engine.name(),
        var,
        hint,
    })
}

/// A variable's value as a whole number (ASCII digits only: no sign, no
/// spaces, no `0x`).
fn number(engine: Engine, var: &'static str, value: &str) -> Result<usize, ShardError> {
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    digits
        .then(|| value.parse().ok())
        .flatten()
        .ok_or_else(|| ShardError::Malformed {
            engine: engine.name(),
            var,
            value: value.to_string(),
            expected: "a whole number",
        })
}

fn kubernetes(
    count: Option<usize>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Selected, ShardError> {
    let engine = Engine::Kubernetes;
    let raw = required(
        engine,
        K8S_INDEX,
        "the Job controller sets it in the pods of a Job with `completionMode: Indexed` (run outside one with --shard K/N)",
        env,
    )?;
    let index = number(engine, K8S_INDEX, &raw)?;
    let count = count.ok_or(ShardError::CountRequired)?;
    if index >= count {
        return Err(ShardError::OutOfRange {
            engine: engine.name(),
            detail: format!(
                "{K8S_INDEX}={index} is out of range for --shard-count {count} (expected 0 to {}); --shard-count must equal the Job's `completions`",
                count - 1
            ),
        });
    }
    Ok(Selected {
        shard: Shard {
            index: index + 1,
            count,
        },
        from: format!("{K8S_INDEX}={index}, --shard-count {count}"),
    })
}

fn slurm(
    flag: Option<usize>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Selected, ShardError> {
    let engine = Engine::Slurm;
    let in_array = "Slurm sets it in the tasks of a job array (sbatch --array=0-7); run outside one with --shard K/N";
    let id = number(
        engine,
        SLURM_ID,
        &required(engine, SLURM_ID, in_array, env)?,
    )?;
    let min = number(
        engine,
        SLURM_MIN,
        &required(
            engine,
            SLURM_MIN,
            "Slurm sets it with SLURM_ARRAY_TASK_ID; without it the array's first id is unknown",
            env,
        )?,
    )?;
    let (count, count_from) = match (env(SLURM_COUNT), flag) {
        (Some(raw), flag) => {
            let n = number(engine, SLURM_COUNT, &raw)?;
            if n == 0 {
                return Err(ShardError::Malformed {
                    engine: engine.name(),
                    var: SLURM_COUNT,
                    value: raw,
                    expected: "a count of at least 1",
                });
            }
            if let Some(f) = flag.filter(|&f| f != n) {
                return Err(ShardError::CountMismatch { flag: f, env: n });
            }
            (n, format!("{SLURM_COUNT}={n}"))
        }
        // An old Slurm that sets no count: the flag gives it.
        (None, Some(f)) => (f, format!("--shard-count {f}")),
        (None, None) => {
            return Err(ShardError::Missing {
                engine: engine.name(),
                var: SLURM_COUNT,
                hint: "current Slurm sets it in the tasks of a job array; with a Slurm that does not, add --shard-count N, the number of tasks in the array",
            })
        }
    };
    let step = match env(SLURM_STEP) {
        None => 1,
        Some(raw) => match number(engine, SLURM_STEP, &raw)? {
            0 => {
                return Err(ShardError::Malformed {
                    engine: engine.name(),
                    var: SLURM_STEP,
                    value: raw,
                    expected: "a step of at least 1",
                })
            }
            s => s,
        },
    };
    // The ids must be min, min + step, ..., min + (count - 1) * step: then
    // every id is one shard and every shard one id.
    let last = (count - 1)
        .checked_mul(step)
        .and_then(|span| span.checked_add(min));
    if let Some(raw) = env(SLURM_MAX) {
        let max = number(engine, SLURM_MAX, &raw)?;
        if last != Some(max) {
            return Err(ShardError::Sparse {
                detail: format!(
                    "{SLURM_MIN}={min}, {SLURM_MAX}={max}, {SLURM_STEP}={step}, {SLURM_COUNT}={count}: {count} ids from {min} in steps of {step} end at {}",
                    last.map_or_else(|| "an overflow".to_string(), |l| l.to_string())
                ),
                count,
            });
        }
    }
    let offset = id.checked_sub(min).filter(|o| o % step == 0);
    let index = offset.map(|o| o / step).filter(|&i| i < count);
    let Some(index) = index else {
        return Err(ShardError::OutOfRange {
            engine: engine.name(),
            detail: format!(
                "{SLURM_ID}={id} is not one of the array's {count} ids ({min}{} in steps of {step})",
                last.map_or_else(String::new, |l| format!(" to {l}"))
            ),
        });
    };
    let mut from = format!("{SLURM_ID}={id}");
    if min != 0 || step != 1 {
        from.push_str(&format!(", {SLURM_MIN}={min}"));
    }
    if step != 1 {
        from.push_str(&format!(", {SLURM_STEP}={step}"));
    }
    from.push_str(", ");
    from.push_str(&count_from);
    Ok(Selected {
        shard: Shard {
            index: index + 1,
            count,
        },
        from,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn shard(index: usize, count: usize) -> Shard {
        Shard { index, count }
    }

    #[test]
    fn parses_k_of_n() {
        assert_eq!(Shard::parse("2/8"), Some(shard(2, 8)));
        assert_eq!(Shard::parse(" 1 / 1 "), Some(shard(1, 1)));
        for bad in ["0/8", "9/8", "2", "a/8", "2/", "/8", "-1/8", "2/8/1", ""] {
            assert_eq!(Shard::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn shards_partition_the_runs() {
        let n = 3;
        for run in 0..10 {
            let owners: Vec<usize> = (1..=n).filter(|&k| shard(k, n).holds(run)).collect();
            assert_eq!(owners, vec![run % n + 1]);
        }
    }

    #[test]
    fn kubernetes_index_is_zero_based_and_needs_the_count() {
        let pick = |i: &str, n| from_env(Engine::Kubernetes, n, env(&[(K8S_INDEX, i)]));
        assert_eq!(pick("0", Some(4)).unwrap().shard, shard(1, 4));
        let last = pick("3", Some(4)).unwrap();
        assert_eq!(last.shard, shard(4, 4));
        assert_eq!(last.from, "JOB_COMPLETION_INDEX=3, --shard-count 4");
        assert_eq!(pick("0", None), Err(ShardError::CountRequired));
        assert_eq!(pick("0", Some(0)), Err(ShardError::ZeroCount));
        let e = pick("4", Some(4)).unwrap_err().to_string();
        assert!(
            e.contains(
                "JOB_COMPLETION_INDEX=4 is out of range for --shard-count 4 (expected 0 to 3)"
            ),
            "{e}"
        );
        for bad in [
            "",
            "x",
            "-1",
            "+1",
            " 1",
            "1.0",
            "0x1",
            "99999999999999999999999",
        ] {
            let e = pick(bad, Some(4)).unwrap_err();
            assert!(matches!(e, ShardError::Malformed { .. }), "{bad}: {e}");
            assert!(
                e.to_string()
                    .contains(&format!("`{bad}` is not a whole number")),
                "{e}"
            );
        }
        let e = from_env(Engine::Kubernetes, Some(4), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("JOB_COMPLETION_INDEX is not set") && e.contains("Indexed"),
            "{e}"
        );
    }

    /// The variables Slurm sets for `--array=MIN-MAX:STEP`, task `id`.
    fn array(id: usize, min: usize, max: usize, step: usize) -> Vec<(&'static str, String)> {
        vec![
            (SLURM_ID, id.to_string()),
            (SLURM_MIN, min.to_string()),
            (SLURM_MAX, max.to_string()),
            (SLURM_STEP, step.to_string()),
            (SLURM_COUNT, ((max - min) / step + 1).to_string()),
        ]
    }

    fn slurm(vars: &[(&str, String)], flag: Option<usize>) -> Result<Selected, ShardError> {
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        from_env(Engine::Slurm, flag, env(&vars))
    }

    #[test]
    fn slurm_ids_map_to_shards_whatever_the_first_id_and_step() {
        // --array=0-7, --array=1-8, --array=10-24:2: 8 shards each, every
        // id one shard.
        for (min, max, step) in [(0, 7, 1), (1, 8, 1), (10, 24, 2)] {
            let got: Vec<Shard> = (min..=max)
                .step_by(step)
                .map(|id| slurm(&array(id, min, max, step), None).unwrap().shard)
                .collect();
            let want: Vec<Shard> = (1..=8).map(|k| shard(k, 8)).collect();
            assert_eq!(got, want, "--array={min}-{max}:{step}");
        }
        let picked = slurm(&array(3, 1, 8, 1), None).unwrap();
        assert_eq!(
            picked.from,
            "SLURM_ARRAY_TASK_ID=3, SLURM_ARRAY_TASK_MIN=1, SLURM_ARRAY_TASK_COUNT=8"
        );
        assert_eq!(
            slurm(&array(2, 0, 7, 1), None).unwrap().from,
            "SLURM_ARRAY_TASK_ID=2, SLURM_ARRAY_TASK_COUNT=8"
        );
    }

    #[test]
    fn slurm_count_flag_is_checked_or_fills_in() {
        assert_eq!(
            slurm(&array(0, 0, 3, 1), Some(4)).unwrap().shard,
            shard(1, 4)
        );
        assert_eq!(
            slurm(&array(0, 0, 3, 1), Some(5)),
            Err(ShardError::CountMismatch { flag: 5, env: 4 })
        );
        // An old Slurm without SLURM_ARRAY_TASK_COUNT: the flag gives it.
        let mut old = array(2, 0, 3, 1);
        old.retain(|(k, _)| *k != SLURM_COUNT);
        let picked = slurm(&old, Some(4)).unwrap();
        assert_eq!(picked.shard, shard(3, 4));
        assert_eq!(picked.from, "SLURM_ARRAY_TASK_ID=2, --shard-count 4");
        let e = slurm(&old, None).unwrap_err().to_string();
        assert!(
            e.contains("SLURM_ARRAY_TASK_COUNT is not set") && e.contains("--shard-count"),
            "{e}"
        );
    }

    #[test]
    fn slurm_refuses_what_is_not_one_task_of_one_range() {
        let without = |var: &str| {
            let mut v = array(1, 0, 3, 1);
            v.retain(|(k, _)| *k != var);
            slurm(&v, None).unwrap_err().to_string()
        };
        let e = without(SLURM_ID);
        assert!(
            e.contains("SLURM_ARRAY_TASK_ID is not set") && e.contains("--array"),
            "{e}"
        );
        assert!(without(SLURM_MIN).contains("SLURM_ARRAY_TASK_MIN is not set"));
        // Step and max are optional.
        assert_eq!(
            slurm(
                &[
                    (SLURM_ID, "5".into()),
                    (SLURM_MIN, "4".into()),
                    (SLURM_COUNT, "2".into())
                ],
                None
            )
            .unwrap()
            .shard,
            shard(2, 2)
        );
        // --array=1,2,7: 3 tasks, but not one range.
        let sparse = [
            (SLURM_ID, "7".to_string()),
            (SLURM_MIN, "1".to_string()),
            (SLURM_MAX, "7".to_string()),
            (SLURM_STEP, "1".to_string()),
            (SLURM_COUNT, "3".to_string()),
        ];
        let e = slurm(&sparse, None).unwrap_err();
        assert!(matches!(e, ShardError::Sparse { .. }), "{e}");
        assert!(e.to_string().contains("--array=0-2"), "{e}");
        // Ids outside the array or off its step.
        for (id, min, max, step) in [(0, 1, 8, 1), (9, 1, 8, 1), (11, 10, 24, 2)] {
            let mut v = array(min, min, max, step);
            v[0].1 = id.to_string();
            let e = slurm(&v, None).unwrap_err();
            assert!(matches!(e, ShardError::OutOfRange { .. }), "{id}: {e}");
            assert!(
                e.to_string().contains(&format!(
                    "SLURM_ARRAY_TASK_ID={id} is not one of the array's"
                )),
                "{e}"
            );
        }
        let mut zero = array(0, 0, 3, 1);
        zero[3].1 = "0".into();
        assert!(slurm(&zero, None)
            .unwrap_err()
            .to_string()
            .contains("SLURM_ARRAY_TASK_STEP=`0` is not a step of at least 1"));
        let mut none = array(0, 0, 3, 1);
        none[4].1 = "0".into();
        none.retain(|(k, _)| *k != SLURM_MAX);
        assert!(slurm(&none, None)
            .unwrap_err()
            .to_string()
            .contains("SLURM_ARRAY_TASK_COUNT=`0`"));
        let mut huge = array(0, 0, 3, 1);
        huge[3].1 = usize::MAX.to_string();
        assert!(matches!(slurm(&huge, None), Err(ShardError::Sparse { .. })));
        let mut bad = array(0, 0, 3, 1);
        bad[0].1 = "3_1".into();
        assert!(slurm(&bad, None)
            .unwrap_err()
            .to_string()
            .contains("SLURM_ARRAY_TASK_ID=`3_1` is not a whole number"));
    }
}
