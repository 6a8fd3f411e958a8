//! A source outage delays the poller but loses nothing; the worst lag
//! reflects the outage.

use crate::common::{poll, run};

fn with_outage(at: &str, len: &str) -> String {
    poll(1000, 50.0, "5m", "1d", "1h", "\"100ms\"")
        + &format!("\n[[faults]]\nkind = \"source_outage\"\nat = \"{at}\"\nfor = \"{len}\"\n")
}

#[test]
fn thirty_minute_outage_delays_but_loses_nothing() {
    let r = run(&with_outage("6h", "30m"));
    assert_eq!(r.changes.lost, 0);
    assert_eq!(r.consistency.divergent_messages, 0);
    // Every mailbox fails at least its backoff ladder 1+2+...+256 s (10
    // tries) inside 30 minutes.
    assert!(
        r.requests.errors >= 10 * 1000,
        "errors {}",
        r.requests.errors
    );
    // A change committed just after the outage began waits for the first
    // success after it ends: lag ≥ ~30 min. The worst case is committed just
    // after the last success before (≤ 5 min earlier) and delivered at the
    // first retry after the end (backoff capped at 5 min): ≤ 30 + 5 + 5 min.
    let max_min = r.latency_ms.all.max.unwrap() / 60_000.0;
    assert!((29.0..=40.1).contains(&max_min), "max lag {max_min} min");
    let calm = run(&poll(1000, 50.0, "5m", "1d", "1h", "\"100ms\""));
    assert!(calm.latency_ms.all.max.unwrap() / 60_000.0 <= 5.01);
    assert!(r.latency_ms.all.mean > calm.latency_ms.all.mean);
}

#[test]
fn repeating_outage_counts_errors_only_inside_windows() {
    let text = poll(100, 50.0, "5m", "1d", "1h", "\"100ms\"")
        + "\n[[faults]]\nkind = \"source_outage\"\nat = \"1h\"\nevery = \"6h\"\nfor = \"10m\"\n";
    let r = run(&text);
    assert_eq!(r.changes.lost, 0);
    assert!(r.requests.errors > 0);
    let max_min = r.latency_ms.all.max.unwrap() / 60_000.0;
    assert!((9.0..=20.1).contains(&max_min), "max lag {max_min} min");
}
