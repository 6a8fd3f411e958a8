//! Helpers shared by the integration tests.

use syncsim::scenario::{parse, Format, Scenario};
use syncsim::Report;

/// Parses a TOML scenario or panics with the error (test input is ours).
pub fn scenario(text: &str) -> Scenario {
    parse(text, "test.toml", Format::Toml).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs a TOML scenario.
pub fn run(text: &str) -> Report {
    syncsim::run(&scenario(text))
}

/// A poll scenario: `mailboxes` mailboxes, `per_day` messages each, polled
/// every `interval`, with `extra` appended to `[source]`.
pub fn poll(
    mailboxes: u32,
    per_day: f64,
    interval: &str,
    horizon: &str,
    drain: &str,
    latency: &str,
) -> String {
    format!(
        "name = \"t\"\nseed = 11\nhorizon = \"{horizon}\"\ndrain = \"{drain}\"\n\n[source]\nmailboxes = {mailboxes}\nmessages_per_day = {per_day}\napi_latency = {latency}\n\n[consumer]\nstrategy = \"poll\"\npoll_interval = \"{interval}\"\n"
    )
}

/// The path to the built `syncsim` binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_syncsim")
}

/// Runs the `syncsim` binary with `args` in the crate's folder (the
/// test-panic hook unset): its exit code, stdout and stderr.
pub fn syncsim(args: &[&str]) -> (i32, String, String) {
    let o = std::process::Command::new(bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .env_remove(syncsim::sweep::pool::TEST_PANIC_VAR)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `syncsim validate FILE`: its exit code (none when killed) and stderr.
pub fn validate(file: &std::path::Path) -> (Option<i32>, String) {
    let path = file.to_str().expect("test paths are UTF-8");
    let (code, _, stderr) = syncsim(&["validate", path]);
    ((code >= 0).then_some(code), stderr)
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("syncsim-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A webhook scenario: `mailboxes` × `per_day` over `horizon` + `drain`,
/// with `webhooks` as the body of `[webhooks]`, `consumer` appended to
/// `[consumer]`, and `rest` appended at the end (faults).
pub fn hook(
    mailboxes: u32,
    per_day: f64,
    horizon: &str,
    drain: &str,
    webhooks: &str,
    consumer: &str,
    rest: &str,
) -> String {
    format!(
        "name = \"hook\"\nseed = 21\nhorizon = \"{horizon}\"\ndrain = \"{drain}\"\n\n[source]\nmailboxes = {mailboxes}\nmessages_per_day = {per_day}\n\n[webhooks]\n{webhooks}\n\n[consumer]\nstrategy = \"webhook\"\n{consumer}\n\n{rest}\n"
    )
}

/// Commit times (µs) of every change the scenario generates: ground truth
/// drawn from the same seeds as the run.
pub fn commit_times(text: &str) -> Vec<u64> {
    let s = scenario(text);
    let logs = syncsim::model::traffic::generate(
        &s.source.config(),
        s.horizon.get(),
        &syncsim::engine::Streams::new(s.seed),
    );
    (0..logs.mailboxes())
        .flat_map(|m| logs.whole(m).iter().map(|c| c.at.0).collect::<Vec<_>>())
        .collect()
}

/// Half-width of a binomial 99% interval for a share `p` of `n` trials.
pub fn binomial_99(p: f64, n: u64) -> f64 {
    2.576 * (p * (1.0 - p) / n as f64).sqrt()
}

/// The ground-truth logs a scenario generates.
pub fn logs(text: &str) -> syncsim::model::traffic::Logs {
    let s = scenario(text);
    syncsim::model::traffic::generate(
        &s.source.config(),
        s.horizon.get(),
        &syncsim::engine::Streams::new(s.seed),
    )
}
