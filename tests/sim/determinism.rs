//! Same scenario + same seed = the same report, byte for byte, in one
//! process and across processes; another seed gives another digest.

use crate::common::{bin, run, scenario, temp_dir};
use std::process::Command;

const TEXT: &str = r#"
name = "det"
seed = 7
horizon = "6h"
drain = "10m"

[source]
mailboxes = 300
messages_per_day = 80
spread = { dist = "pareto", alpha = 1.5 }
diurnal = "office"
api_latency = { dist = "lognormal", median = "120ms", p99 = "900ms" }
rate_limit = { per_mailbox_per_s = 0.02, per_mailbox_burst = 1, global_per_s = 20 }

[[source.bursts]]
at = "1h"
mailboxes = [3, 9]
messages = 500
over = "2m"

[consumer]
strategy = "poll"
poll_interval = "1m"
poll_jitter = "10s"

[[faults]]
kind = "source_outage"
at = "2h"
for = "15m"
"#;

#[test]
fn same_seed_same_bytes_in_process() {
    let a = run(TEXT).to_json();
    let b = run(TEXT).to_json();
    assert_eq!(a, b);
    // The scenario exercises every random stream and both limits.
    let r = run(TEXT);
    assert!(
        r.requests.rate_limited > 0 && r.requests.errors > 0,
        "{r:?}"
    );
}

#[test]
fn same_seed_same_bytes_across_processes() {
    let dir = temp_dir("det");
    let file = dir.join("det.toml");
    std::fs::write(&file, TEXT).unwrap();
    let mut outs = vec![];
    for i in 0..2 {
        let out = dir.join(format!("r{i}.json"));
        let st = Command::new(bin())
            .arg("run")
            .arg(&file)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        outs.push(std::fs::read(&out).unwrap());
    }
    assert_eq!(outs[0], outs[1]);
    assert_eq!(
        outs[0],
        run(TEXT).to_json().into_bytes(),
        "CLI and library agree"
    );
}

#[test]
fn another_seed_another_digest() {
    let a = syncsim::run(&scenario(TEXT));
    let mut s = scenario(TEXT);
    s.seed = 8;
    let b = syncsim::run(&s);
    assert_ne!(a.digest, b.digest);
    assert_eq!(a.digest.len(), 16);
}

#[test]
fn hybrid_cursor_and_polling_style_features_are_deterministic() {
    // Every issue-5 feature in two scenarios: a hybrid with timestamp
    // cursors, ties, late commits, retention, and a poller with adaptive
    // pace and conditional requests.
    let hybrid = r#"
name = "det-hybrid"
seed = 3
horizon = "12h"
drain = "2h"

[source]
mailboxes = 200
messages_per_day = 300
cursor = "timestamp_inclusive"
timestamp_granularity = "1s"
commit_delay = { dist = "lognormal", median = "2s", p99 = "40s" }
retention = "3h"

[webhooks]
preset = "nylas"

[consumer]
strategy = "hybrid"
reconcile_every = "20m"
lookback = "watermark"

[[faults]]
kind = "endpoint_outage"
at = "2h"
for = "45m"

[[faults]]
kind = "consumer_crash"
at = "6h"
for = "4h"
"#;
    let poller = r#"
name = "det-poll"
seed = 4
horizon = "12h"

[source]
mailboxes = 200
messages_per_day = 300
cursor = "timestamp"
timestamp_granularity = "1s"

[consumer]
strategy = "poll"
if_none_match = true
adaptive = { min = "5s", max = "5m" }
"#;
    for text in [hybrid, poller] {
        let a = run(text).to_json();
        assert_eq!(a, run(text).to_json());
        let mut other = scenario(text);
        other.seed += 100;
        assert_ne!(syncsim::run(&other).digest, run(text).digest);
    }
}
