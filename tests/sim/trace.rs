//! Traces: one message through an endpoint outage shows every retry, the
//! give-up, and its recovery by reconciliation; tracing changes nothing.

use crate::common::{bin, logs, scenario, temp_dir};
use std::process::Command;

const TEXT: &str = r#"
name = "trace"
seed = 4
horizon = "12h"
drain = "2h"

[source]
mailboxes = 100
messages_per_day = 100

[webhooks]
preset = "nylas"
latency = "50ms"

[consumer]
strategy = "hybrid"
reconcile_every = "30m"
lookback = "1h"

[[faults]]
kind = "endpoint_outage"
mode = "503"
at = "6h"
for = "45m"
"#;

#[test]
fn a_message_through_an_outage_is_retried_then_recovered_by_reconciliation() {
    // A change committed in the first 25 minutes of the 45-minute outage:
    // all three attempts (0, +10, +20 min) fail, the sender gives up, and
    // the next reconciliation run lists it.
    let l = logs(TEXT);
    let (m, seq, msg) = (0..l.mailboxes())
        .find_map(|m| {
            l.whole(m)
                .iter()
                .enumerate()
                .find(|(_, c)| {
                    c.at.0 > 6 * 3_600_000_000 + 60_000_000
                        && c.at.0 < 6 * 3_600_000_000 + 20 * 60_000_000
                })
                .map(|(s, c)| (m, s as u32, c.msg))
        })
        .expect("some change in the outage");
    let dir = temp_dir("trace");
    let file = dir.join("trace.toml");
    std::fs::write(&file, TEXT).unwrap();
    let out = Command::new(bin())
        .args(["trace"])
        .arg(&file)
        .args(["--message", &format!("{m}:{msg}"), "--format", "jsonl"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let ours: Vec<&serde_json::Value> = lines.iter().filter(|r| r["seq"] == seq).collect();
    let events: Vec<String> = ours
        .iter()
        .map(|r| r["event"].as_str().unwrap().to_string())
        .collect();
    let want = [
        "commit",
        "notify",
        "attempt",
        "answer_failed",
        "retry_scheduled",
        "attempt",
        "answer_failed",
        "retry_scheduled",
        "attempt",
        "answer_failed",
        "gave_up",
    ];
    assert_eq!(&events[..want.len()], &want, "{events:?}");
    for a in ours.iter().filter(|r| r["event"] == "attempt") {
        assert_eq!(
            (&a["fate"], &a["outage"]),
            (&"endpoint_outage".into(), &"503".into())
        );
    }
    let attempts: Vec<u64> = ours
        .iter()
        .filter(|r| r["event"] == "attempt")
        .map(|r| r["t_us"].as_u64().unwrap())
        .collect();
    assert!(
        attempts.windows(2).all(|w| w[1] - w[0] >= 600_000_000),
        "10 minutes apart: {attempts:?}"
    );
    let recovered = ours
        .iter()
        .find(|r| r["event"] == "apply")
        .expect("recovered");
    assert_eq!(
        (recovered["path"].as_str(), recovered["first"].as_bool()),
        (Some("reconcile"), Some(true))
    );
    assert!(recovered["t_us"].as_u64().unwrap() > attempts[2]);
    // Tracing observes; it does not change the run.
    let s = scenario(TEXT);
    let (traced, _) = syncsim::run_traced(&s, syncsim::model::trace::Filter::Mailbox(m));
    assert_eq!(traced.digest, syncsim::run(&s).digest);
}

#[test]
fn a_mailbox_trace_shows_its_polls() {
    let s = scenario(
        "name = \"t\"\nseed = 1\nhorizon = \"1h\"\n\n[source]\nmailboxes = 3\nmessages_per_day = 500\n\n[consumer]\nstrategy = \"poll\"\npoll_interval = \"5m\"\n",
    );
    let (r, records) = syncsim::run_traced(&s, syncsim::model::trace::Filter::Mailbox(1));
    let polls = records.iter().filter(|r| r.event == "poll").count() as u64;
    assert_eq!(
        polls,
        r.requests.poll_cycles / 3,
        "12 polls an hour, each traced"
    );
    let applies = records.iter().filter(|r| r.event == "apply").count();
    let commits = records.iter().filter(|r| r.event == "commit").count();
    assert!(applies > 0 && applies <= commits);
    assert!(records.windows(2).all(|w| w[0].at <= w[1].at), "time order");
}
