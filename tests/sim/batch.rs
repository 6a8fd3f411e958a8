//! Sweeps on batch engines: `sweep --shard-from kubernetes|slurm` reads
//! its slice from the variables a Kubernetes Indexed Job or a Slurm job
//! array sets in each task; every task's folder merged gives the unsharded
//! sweep, byte for byte; missing, malformed or out-of-range variables are
//! refused with exit 2 before anything runs.

use crate::common::{bin, temp_dir};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// 3 points × 2 seeds = 6 runs of a few milliseconds each.
const SWEEP: &str = r#"
name = "batch"
seed = 3
horizon = "3h"
drain = "10m"

[source]
mailboxes = 20
messages_per_day = 80

[consumer]
strategy = "poll"
poll_interval = "5m"

[thresholds]
"changes.lost" = "== 0"

[sweep]
seeds = 2
"consumer.poll_interval" = ["1m", "5m", "15m"]
"#;

/// Every variable the engines set: removed from each child first, so a
/// test run inside a real array job reads only what the test sets.
const ENGINE_VARS: [&str; 6] = [
    "JOB_COMPLETION_INDEX",
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "SLURM_ARRAY_TASK_STEP",
];

/// `syncsim sweep FILE --out OUT --no-progress --jobs 1 ARGS...` with
/// exactly the engine variables `vars` set.
fn sweep(file: &Path, out: &Path, args: &[&str], vars: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.arg("sweep")
        .arg(file)
        .arg("--out")
        .arg(out)
        .args(["--no-progress", "--jobs", "1"])
        .args(args);
    for v in ENGINE_VARS {
        cmd.env_remove(v);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

fn merge(dirs: &[PathBuf], out: &Path) {
    ok(Command::new(bin())
        .arg("merge")
        .args(dirs)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap());
}

/// The files a sweep writes from its results, which must match byte for
/// byte.
fn outputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    ["results.csv", "summary.csv", "report.md"]
        .iter()
        .map(|f| {
            let p = dir.join(f);
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (f.to_string(), bytes)
        })
        .collect()
}

fn setup(name: &str) -> (PathBuf, PathBuf, Vec<(String, Vec<u8>)>) {
    let dir = temp_dir(name);
    let file = dir.join("batch.toml");
    std::fs::write(&file, SWEEP).unwrap();
    ok(sweep(&file, &dir.join("whole"), &[], &[]));
    let whole = outputs(&dir.join("whole"));
    // 6 runs and the header.
    assert_eq!(String::from_utf8_lossy(&whole[0].1).lines().count(), 7);
    (dir, file, whole)
}

#[test]
fn a_kubernetes_indexed_job_merges_to_the_unsharded_sweep() {
    let (dir, file, whole) = setup("batch-k8s");
    // completions: 4 (6 runs: two shards of 2, two of 1); indexes 0..=3.
    let mut shards = Vec::new();
    for index in 0..4 {
        let out = dir.join(format!("shard-{index}"));
        let o = ok(sweep(
            &file,
            &out,
            &["--shard-from", "kubernetes", "--shard-count", "4"],
            &[("JOB_COMPLETION_INDEX", index.to_string())],
        ));
        let log = String::from_utf8_lossy(&o.stderr);
        assert!(
            log.contains(&format!(
                "shard {}/4 (from JOB_COMPLETION_INDEX={index}, --shard-count 4)",
                index + 1
            )),
            "{log}"
        );
        shards.push(out);
    }
    // Any 3 of the 4 are an incomplete set.
    let partial = Command::new(bin())
        .arg("merge")
        .args(&shards[..3])
        .arg("--out")
        .arg(dir.join("partial"))
        .output()
        .unwrap();
    assert_eq!(partial.status.code(), Some(2));
    merge(&shards, &dir.join("merged"));
    assert_eq!(outputs(&dir.join("merged")), whole);
}

#[test]
fn a_slurm_array_from_id_1_merges_to_the_unsharded_sweep() {
    let (dir, file, whole) = setup("batch-slurm");
    // sbatch --array=1-3: ids 1, 2, 3 are shards 1/3, 2/3, 3/3.
    let mut shards = Vec::new();
    for id in 1..=3 {
        let out = dir.join(format!("task-{id}"));
        let vars = [
            ("SLURM_ARRAY_TASK_ID", id.to_string()),
            ("SLURM_ARRAY_TASK_MIN", "1".into()),
            ("SLURM_ARRAY_TASK_MAX", "3".into()),
            ("SLURM_ARRAY_TASK_STEP", "1".into()),
            ("SLURM_ARRAY_TASK_COUNT", "3".into()),
        ];
        let o = ok(sweep(&file, &out, &["--shard-from", "slurm"], &vars));
        let log = String::from_utf8_lossy(&o.stderr);
        assert!(
            log.contains(&format!("shard {id}/3 (from SLURM_ARRAY_TASK_ID={id}")),
            "{log}"
        );
        shards.push(out);
    }
    merge(&shards, &dir.join("merged"));
    assert_eq!(outputs(&dir.join("merged")), whole);
}

#[test]
fn bad_engine_variables_exit_2_naming_the_variable_before_anything_runs() {
    let dir = temp_dir("batch-bad");
    let file = dir.join("batch.toml");
    std::fs::write(&file, SWEEP).unwrap();
    let k8s = |index: Option<&str>, extra: &[&str]| {
        let mut args = vec!["--shard-from", "kubernetes"];
        args.extend_from_slice(extra);
        let vars: Vec<(&str, String)> = index
            .map(|i| ("JOB_COMPLETION_INDEX", i.to_string()))
            .into_iter()
            .collect();
        sweep(&file, &dir.join("out"), &args, &vars)
    };
    let slurm = |vars: &[(&str, &str)]| {
        let vars: Vec<(&str, String)> = vars.iter().map(|(k, v)| (*k, v.to_string())).collect();
        sweep(&file, &dir.join("out"), &["--shard-from", "slurm"], &vars)
    };
    let cases: Vec<(Output, &str)> = vec![
        (
            k8s(None, &["--shard-count", "4"]),
            "JOB_COMPLETION_INDEX is not set",
        ),
        (
            k8s(Some("two"), &["--shard-count", "4"]),
            "JOB_COMPLETION_INDEX=`two` is not a whole number",
        ),
        (
            k8s(Some("-1"), &["--shard-count", "4"]),
            "JOB_COMPLETION_INDEX=`-1` is not a whole number",
        ),
        (
            k8s(Some("4"), &["--shard-count", "4"]),
            "JOB_COMPLETION_INDEX=4 is out of range for --shard-count 4",
        ),
        (k8s(Some("0"), &[]), "add --shard-count N"),
        (k8s(Some("0"), &["--shard-count", "0"]), "--shard-count 0"),
        (k8s(Some("0"), &["--shard", "1/4"]), "cannot be used with"),
        (slurm(&[]), "SLURM_ARRAY_TASK_ID is not set"),
        (
            slurm(&[
                ("SLURM_ARRAY_TASK_ID", "4"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_COUNT", "3"),
            ]),
            "SLURM_ARRAY_TASK_ID=4 is not one of the array's 3 ids",
        ),
        (
            slurm(&[
                ("SLURM_ARRAY_TASK_ID", "7"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_MAX", "7"),
                ("SLURM_ARRAY_TASK_COUNT", "3"),
            ]),
            "not one evenly spaced range",
        ),
    ];
    for (o, want) in cases {
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{want}: {err}");
        assert!(err.contains(want), "want `{want}` in: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(
        !dir.join("out").exists(),
        "nothing ran, nothing was written"
    );
}

#[test]
fn shards_swept_from_two_spellings_of_one_path_are_refused_by_name() {
    let dir = temp_dir("batch-path");
    std::fs::write(dir.join("batch.toml"), SWEEP).unwrap();
    for (k, path) in [(1, "batch.toml"), (2, "./batch.toml")] {
        ok(Command::new(bin())
            .current_dir(&dir)
            .args(["sweep", path, "--no-progress", "--shard", &format!("{k}/2")])
            .args(["--out", &format!("s{k}")])
            .output()
            .unwrap());
    }
    let o = Command::new(bin())
        .current_dir(&dir)
        .args(["merge", "s1", "s2", "--out", "merged"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("s2 was swept from `./batch.toml` but s1 from `batch.toml`")
            && err.contains("run every shard with the same path"),
        "{err}"
    );
}
