//! Findable losses and capacity figures: the report lists the first lost
//! changes (with their cause) and the slowest ones; `trace --lost` and
//! `trace --worst N` follow them to a verdict; the capacity section's
//! totals are the run's counters over its days; the hybrid counts the
//! webhooks that arrive for changes reconciliation already applied.

use crate::common::{logs, run, scenario};

const OUTAGE: &str = "scenarios/webhook-nylas-outage.toml";

fn bundled(path: &str) -> syncsim::Report {
    let s = syncsim::load(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(path)
            .as_path(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    syncsim::run(&s)
}

/// The bundled Nylas outage: 3 attempts over 20 minutes against a 45-minute
/// outage at 12h, so the changes first tried in its first 25 minutes are
/// lost (the scenario's comment); the report's sample holds the first ten
/// by commit time, all given up, all committed in that window.
#[test]
fn the_report_lists_the_first_lost_and_the_slowest_changes() {
    let r = bundled(OUTAGE);
    let c = &r.changes;
    assert!(c.lost > 500, "{}", c.lost);
    assert_eq!(c.lost_sample.len(), 10);
    let mut last = 0u64;
    for l in &c.lost_sample {
        assert_eq!(l.cause, syncsim::metrics::report::LossCause::WebhookGaveUp);
        let at = syncsim::engine::time::parse_duration(&l.committed)
            .unwrap()
            .0;
        assert!(
            (12 * 3_600_000_000..(12 * 60 + 25) * 60_000_000).contains(&at),
            "{l:?}"
        );
        assert!(at >= last, "by commit time");
        last = at;
    }
    assert_eq!(c.lost_by_cause.webhook_gave_up, c.lost);
    // In JSON the cause is a word, not prose.
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(
        json["changes"]["lost_sample"][0]["cause"],
        "webhook_gave_up"
    );
    // The slowest, slowest first; the first is the latency maximum (the
    // histogram's max is within its 0.1% resolution of the exact lag).
    assert_eq!(c.slowest.len(), 10);
    assert!(c.slowest.windows(2).all(|w| w[0].lag_ms >= w[1].lag_ms));
    let max = r.latency_ms.all.max.unwrap();
    assert!((c.slowest[0].lag_ms / max - 1.0).abs() < 0.002, "{max}");
    // Capacity: the counters over the simulated days (1 d + 1 h drain).
    let cap = &r.capacity;
    let days = 25.0 / 24.0;
    let close = |a: f64, b: f64| (a / b - 1.0).abs() < 1e-12;
    assert!(
        close(
            cap.source_requests_per_day,
            r.requests.total.max(1) as f64 / days
        ) || r.requests.total == 0
    );
    let w = r.webhooks.as_ref().unwrap();
    assert!(close(cap.inbound_per_day, w.inbound_requests as f64 / days));
    assert!(close(cap.inbound_per_month, 30.0 * cap.inbound_per_day));
    assert_eq!(cap.inbound_peak_rps, w.inbound_peak_rps);
    assert_eq!(cap.source_peak_rps, r.requests.peak_rps);
    // ~50,000 changes a day, each delivered about once: 45,000-55,000/day.
    assert!(
        (45_000.0..55_000.0).contains(&cap.inbound_per_day),
        "{}",
        cap.inbound_per_day
    );
}

fn trace(args: &[&str]) -> (i32, String, String) {
    crate::common::syncsim(&[&["trace"], args].concat())
}

/// `trace --lost` follows the report's lost changes: each ends in a
/// `verdict` of `lost` with the report's cause, after three attempts that
/// met the outage (`fate` a word of a closed set).
#[test]
fn trace_lost_finds_the_lost_messages_of_the_outage() {
    let r = bundled(OUTAGE);
    let (code, out, err) = trace(&[OUTAGE, "--lost", "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSONL"))
        .collect();
    for l in &r.changes.lost_sample {
        let ours = |r: &&serde_json::Value| r["mailbox"] == l.mailbox && r["seq"] == l.seq;
        let verdict = lines
            .iter()
            .filter(ours)
            .find(|r| r["event"] == "verdict")
            .unwrap_or_else(|| panic!("no verdict for {l:?}"));
        assert_eq!(verdict["verdict"], "lost");
        assert_eq!(verdict["cause"], "webhook_gave_up");
        assert_eq!(verdict["message"], l.message);
        let attempts: Vec<_> = lines
            .iter()
            .filter(ours)
            .filter(|r| r["event"] == "attempt")
            .collect();
        assert_eq!(attempts.len(), 3, "{l:?}");
        for a in attempts {
            assert_eq!(
                (&a["fate"], &a["outage"]),
                (&"endpoint_outage".into(), &"503".into())
            );
        }
    }
    // Every fate in the trace is one of the words.
    for a in lines.iter().filter(|r| r["event"] == "attempt") {
        let f = a["fate"].as_str().unwrap();
        assert!(
            ["sent", "request_lost", "endpoint_outage"].contains(&f),
            "{f}"
        );
    }
    // The text form: aligned columns, the header names the lost changes.
    let (code, text, _) = trace(&[OUTAGE, "--lost"]);
    assert_eq!(code, 0);
    let first = &r.changes.lost_sample[0];
    assert!(
        text.starts_with(&format!(
            "10 of {} lost changes (the first by commit time):\n  mailbox {} message {} (#{})",
            r.changes.lost, first.mailbox, first.message, first.seq
        )),
        "{text}"
    );
    let events: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" m") && l.trim_start().starts_with('+'))
        .collect();
    let col = |l: &str| l.find(" m").unwrap();
    assert!(events.iter().all(|l| col(l) == col(events[0])), "aligned");
    assert!(
        text.contains("verdict=lost  cause=webhook_gave_up"),
        "{text}"
    );
}

/// `trace --worst 3` traces the three slowest changes, and their verdicts'
/// lags are the report's slowest.
#[test]
fn trace_worst_follows_the_slowest_changes() {
    let r = bundled(OUTAGE);
    let (code, out, err) = trace(&[OUTAGE, "--worst", "3", "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for s in &r.changes.slowest[..3] {
        let v = lines
            .iter()
            .find(|l| l["event"] == "verdict" && l["mailbox"] == s.mailbox && l["seq"] == s.seq)
            .unwrap_or_else(|| panic!("{s:?}"));
        assert_eq!(v["verdict"], "applied");
        assert_eq!(v["lag_ms"].as_f64(), Some(s.lag_ms));
        assert_eq!(v["path"], s.path.as_str());
    }
}

#[test]
fn tracing_a_message_that_does_not_exist_is_an_error() {
    let (code, _, err) = trace(&[OUTAGE, "--message", "3:100000"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("message 100000 of mailbox 3 does not exist"),
        "{err}"
    );
    let (code, _, err) = trace(&[OUTAGE, "--message", "5000:1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("mailbox 5000 does not exist"), "{err}");
    let (code, _, _) = trace(&[OUTAGE]);
    assert_eq!(code, 2, "one of --mailbox, --message, --lost, --worst");
}

/// A hybrid mailbox trace shows cursors in words (`since +1h30m`), never
/// Rust's Debug form (`Since(5400000000)`).
#[test]
fn traces_have_no_debug_formatting() {
    let s = scenario(
        "name = \"t\"\nseed = 2\nhorizon = \"3h\"\n\n[source]\nmailboxes = 2\nmessages_per_day = 200\n\n[webhooks]\npreset = \"nylas\"\n\n[consumer]\nstrategy = \"hybrid\"\nreconcile_every = \"30m\"\nlookback = \"1h\"\n",
    );
    let (_, records) = syncsim::run_traced(&s, syncsim::model::trace::Filter::Mailbox(1));
    let text: String = records.iter().map(|r| r.render() + "\n").collect();
    assert!(text.contains("cursor=since +"), "{text}");
    for debug in [
        "Since(",
        "Seq(",
        "Stamp",
        "Written",
        "Accepted",
        "Status503",
    ] {
        assert!(!text.contains(debug), "{debug} in\n{text}");
    }
    assert_eq!(
        records.iter().filter(|r| r.event == "verdict").count(),
        records.iter().filter(|r| r.event == "commit").count()
    );
}

/// Hybrid through a 30-minute endpoint outage with one retry 40 minutes
/// after a failure and reconciliation every 5 minutes: every change
/// committed during the outage fails its first attempt, is applied by
/// reconciliation within ~5 minutes, and its retry (after the outage)
/// arrives for a change already applied: one redundant delivery per
/// change committed in the window (±2 at its edges), none elsewhere.
#[test]
fn the_hybrid_counts_webhooks_reconciliation_made_redundant() {
    let text = "name = \"t\"\nseed = 8\nhorizon = \"6h\"\ndrain = \"1h\"\n\n[source]\nmailboxes = 200\nmessages_per_day = 100\n\n[webhooks]\npreset = \"nylas\"\nretries = [\"40m\"]\nlatency = \"50ms\"\n\n[consumer]\nstrategy = \"hybrid\"\nreconcile_every = \"5m\"\nlookback = \"1h\"\n\n[[faults]]\nkind = \"endpoint_outage\"\nmode = \"503\"\nat = \"2h\"\nfor = \"30m\"\n";
    let l = logs(text);
    let (from, to) = (2 * 3_600_000_000u64, 2 * 3_600_000_000u64 + 30 * 60_000_000);
    let in_window: u64 = (0..l.mailboxes())
        .map(|m| {
            l.whole(m)
                .iter()
                .filter(|c| (from..to).contains(&c.at.0))
                .count() as u64
        })
        .sum();
    assert!(in_window > 300, "{in_window}");
    let r = run(text);
    let w = r.webhooks.as_ref().unwrap();
    assert!(
        w.redundant.abs_diff(in_window) <= 2,
        "{} vs {in_window}",
        w.redundant
    );
    assert_eq!(w.duplicates, 0);
    assert_eq!(r.changes.lost, 0);
    // Webhooks alone: nothing else applies a change first.
    let r = run(&text.replace(
        "strategy = \"hybrid\"\nreconcile_every = \"5m\"\nlookback = \"1h\"",
        "strategy = \"webhook\"",
    ));
    assert_eq!(r.webhooks.unwrap().redundant, 0);
}
