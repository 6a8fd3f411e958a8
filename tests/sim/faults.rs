//! Every fault kind, each against the value its arithmetic predicts.

use crate::common::{binomial_99, hook, poll, run};

/// A custom sender: 3 attempts 1 s apart, 2 s timeout, no network time.
const FAST_RETRY: &str = "preset = \"custom\"\ntimeout = \"2s\"\nretries = [\"1s\", \"1s\"]\npayload = \"full\"\nlatency = \"0ms\"\nmax_in_flight = 10000";

fn drops(p: f64, what: &str, dedup: &str) -> syncsim::Report {
    run(&hook(
        2000,
        50.0,
        "1d",
        "1h",
        FAST_RETRY,
        &format!("dedup = \"{dedup}\""),
        &format!("[[faults]]\nkind = \"drop\"\nwhat = \"{what}\"\nprobability = {p}"),
    ))
}

#[test]
fn independent_request_drops_lose_p_to_the_k() {
    for p in [0.3, 0.1] {
        let r = drops(p, "request", "event_id");
        let n = r.changes.generated;
        let want = p * p * p; // 3 attempts
        let got = r.changes.lost as f64 / n as f64;
        let tol = binomial_99(want, n);
        assert!(
            (got - want).abs() <= tol,
            "p = {p}: lost share {got}, want {want} ± {tol}"
        );
        // Every drop is a failed attempt, and a failed attempt's share is p.
        let w = r.webhooks.as_ref().unwrap();
        assert_eq!(w.failed_attempts, r.faults.dropped_requests);
        let fail = w.failed_attempts as f64 / w.attempts as f64;
        assert!(
            (fail - p).abs() <= binomial_99(p, w.attempts),
            "attempt failure share {fail}"
        );
    }
}

#[test]
fn lost_responses_make_duplicates_but_no_loss() {
    // The consumer processed it; only the 200 was lost: the sender retries.
    // Receptions per notification: 1 + p + p² (3 attempts).
    let p = 0.3;
    for dedup in ["event_id", "none"] {
        let r = drops(p, "response", dedup);
        let w = r.webhooks.as_ref().unwrap();
        let share = w.duplicates as f64 / w.notifications as f64;
        let want = p + p * p;
        assert!(
            (share - want).abs() < 0.01,
            "{dedup}: duplicate share {share}, want {want}"
        );
        assert_eq!(r.changes.lost, 0);
        let expect_twice = if dedup == "none" { w.duplicates } else { 0 };
        assert_eq!(r.consistency.applied_twice, expect_twice, "{dedup}");
    }
}

#[test]
fn duplicate_deliveries_are_absorbed_by_event_id_dedup() {
    let p = 0.2;
    for dedup in ["event_id", "none"] {
        let r = run(&hook(
            2000,
            50.0,
            "1d",
            "1h",
            FAST_RETRY,
            &format!("dedup = \"{dedup}\""),
            &format!("[[faults]]\nkind = \"duplicate\"\nprobability = {p}"),
        ));
        let w = r.webhooks.as_ref().unwrap();
        let share = w.duplicates as f64 / w.notifications as f64;
        assert!(
            (share - p).abs() <= binomial_99(p, w.notifications),
            "{share}"
        );
        assert_eq!(r.changes.lost, 0);
        let expect_twice = if dedup == "none" { w.duplicates } else { 0 };
        assert_eq!(r.consistency.applied_twice, expect_twice, "{dedup}");
    }
}

#[test]
fn reordering_without_a_version_check_writes_stale_data() {
    // Few live messages (creates and deletes balance, mostly updates) and
    // up to 2 minutes of extra delay, under a 5-minute timeout so no
    // attempt times out, and room for every delivery in flight (50 slots
    // held ~1 min each would throttle the sender below the arrival rate):
    // updates to one message overtake each other.
    let text = |dedup: &str| {
        hook(
            50,
            2000.0,
            "1d",
            "1h",
            "preset = \"svix\"\ntimeout = \"5m\"\nmax_in_flight = 1000",
            &format!("dedup = \"{dedup}\""),
            "[source.mix]\ncreated = 0.1\nupdated = 0.8\ndeleted = 0.1\n\n[[faults]]\nkind = \"reorder\"\nprobability = 1.0\nmax_delay = \"2m\"",
        )
    };
    let blind = run(&text("event_id"));
    let versioned = run(&text("version"));
    assert!(blind.faults.reordered > 0);
    assert_eq!(blind.webhooks.as_ref().unwrap().failed_attempts, 0);
    assert!(
        blind.consistency.stale_overwrites > 100,
        "{}",
        blind.consistency.stale_overwrites
    );
    assert!(blind.consistency.divergent_messages > 0);
    assert_eq!(versioned.consistency.stale_overwrites, 0);
    assert_eq!(versioned.consistency.divergent_messages, 0);
    assert_eq!(versioned.changes.lost, 0);
}

#[test]
fn bursty_loss_drops_at_the_stationary_rate() {
    // Gilbert-Elliott with p(g→b) = 0.05, p(b→g) = 0.5, loss 0 / 1:
    // π_bad = 0.05 / 0.55 = 0.0909 of attempts are lost, in bursts.
    let r = run(&hook(
        2000,
        50.0,
        "1d",
        "1h",
        FAST_RETRY,
        "",
        "[[faults]]\nkind = \"bursty_loss\"\np_good_to_bad = 0.05\np_bad_to_good = 0.5",
    ));
    let w = r.webhooks.as_ref().unwrap();
    let share = r.faults.dropped_requests as f64 / w.attempts as f64;
    // Bursts (mean length 2) inflate the variance about threefold: allow 2×
    // the binomial interval.
    let want = 0.05 / 0.55;
    assert!(
        (share - want).abs() <= 2.0 * binomial_99(want, w.attempts),
        "{share} vs {want}"
    );
    // Retries are seconds apart, thousands of attempts later: effectively
    // independent, so loss ≈ π_bad³ = 0.00075.
    let lost = r.changes.lost as f64 / r.changes.generated as f64;
    assert!(lost < 0.002, "{lost}");
}

#[test]
fn endpoint_outage_by_probability_and_share_of_mailboxes() {
    // 503 with probability 0.5 for 20% of mailboxes, 3 attempts: those
    // mailboxes lose 0.5³ = 12.5%, the others nothing: 2.5% overall.
    let r = run(&hook(
        2000,
        50.0,
        "1d",
        "1h",
        FAST_RETRY,
        "",
        "[[faults]]\nkind = \"endpoint_outage\"\nmode = \"503\"\nprobability = 0.5\nmailboxes = 0.2",
    ));
    let lost = r.changes.lost as f64 / r.changes.generated as f64;
    // Membership is itself random (sd of the share ≈ 0.009): ±0.4 pp.
    assert!((lost - 0.025).abs() < 0.004, "{lost}");
}

#[test]
fn slow_consumer_window_makes_inline_handlers_time_out() {
    // Handler 300 ms × 50 = 15 s > the 10 s timeout, for 30 minutes only.
    let text = |faults: &str| {
        hook(
            500,
            50.0,
            "1d",
            "2h",
            "preset = \"nylas\"\nlatency = \"0ms\"",
            "ack = \"inline\"\nworkers = 200\nhandler_time = \"300ms\"",
            faults,
        )
    };
    let calm = run(&text(""));
    assert_eq!(calm.webhooks.as_ref().unwrap().duplicates, 0);
    let slow = run(&text(
        "[[faults]]\nkind = \"slow_consumer\"\nat = \"8h\"\nfor = \"30m\"\nfactor = 50",
    ));
    let w = slow.webhooks.as_ref().unwrap();
    // Every notification processed in the window times out once and is
    // retried 10 min later, also in the window for the first 20 minutes:
    // duplicates ≈ rate × (30 + 20) min = 500 × 50/day × 50 min ≈ 868.
    let want = 500.0 * 50.0 / 1440.0 * 50.0;
    assert!(
        (w.duplicates as f64 / want - 1.0).abs() < 0.15,
        "{} vs {want}",
        w.duplicates
    );
    assert_eq!(slow.changes.lost, 0);
}

#[test]
fn rate_squeeze_causes_429s_only_inside_its_window() {
    // 1,000 mailboxes every minute = 16.7 requests/s against a global limit
    // of 25/s: fine, until a squeeze to a fifth (5/s) for 30 minutes.
    let base = poll(1000, 50.0, "1m", "1d", "1h", "\"100ms\"").replace(
        "api_latency",
        "rate_limit = { global_per_s = 25 }\napi_latency",
    );
    let calm = run(&base);
    assert_eq!(calm.requests.rate_limited, 0);
    let squeezed = run(&(base
        + "\n[[faults]]\nkind = \"rate_squeeze\"\nat = \"3h\"\nfor = \"30m\"\nfactor = 0.2\n"));
    assert!(
        squeezed.requests.rate_limited > 1000,
        "{}",
        squeezed.requests.rate_limited
    );
    assert_eq!(squeezed.changes.lost, 0);
    // At 5/s a full round of 1,000 polls takes 200 s instead of 60 s, so
    // the worst lag grows from ~1 min to several.
    assert!(squeezed.latency_ms.all.max.unwrap() > 2.0 * calm.latency_ms.all.max.unwrap());
}

#[test]
fn consumer_crash_pauses_the_poller_without_loss() {
    let text = poll(300, 50.0, "5m", "1d", "1h", "\"100ms\"")
        + "\n[[faults]]\nkind = \"consumer_crash\"\nat = \"4h\"\nfor = \"40m\"\n";
    let r = run(&text);
    assert_eq!(r.changes.lost, 0);
    // A change committed just as the crash began waits ~40 min.
    let max_min = r.latency_ms.all.max.unwrap() / 60_000.0;
    assert!((38.0..=46.0).contains(&max_min), "{max_min}");
    // 25 h = 300 slots; the 40 minutes down cover exactly 8 of them, and
    // the deferred poll at restart starts one catch-up cycle.
    assert_eq!(r.requests.poll_cycles, 300 * (300 - 8 + 1));
}

#[test]
fn fault_runs_are_deterministic() {
    let text = hook(
        300,
        80.0,
        "1d",
        "1h",
        "preset = \"svix\"",
        "ack = \"inline\"\nqueue = \"memory\"\nprocessing_failure = 0.05\ninbound_rate_limit = { per_s = 2 }",
        "[[faults]]\nkind = \"drop\"\nprobability = 0.1\n\n[[faults]]\nkind = \"reorder\"\nprobability = 0.3\nmax_delay = \"20s\"\n\n[[faults]]\nkind = \"duplicate\"\nprobability = 0.1\n\n[[faults]]\nkind = \"bursty_loss\"\np_good_to_bad = 0.01\np_bad_to_good = 0.3\n\n[[faults]]\nkind = \"consumer_crash\"\nevery = \"6h\"\nfor = \"3m\"\n\n[[faults]]\nkind = \"endpoint_outage\"\nmode = \"hang\"\nat = \"2h\"\nfor = \"15m\"\n\n[[faults]]\nkind = \"slow_consumer\"\nat = \"9h\"\nfor = \"1h\"\nfactor = 5",
    );
    let a = run(&text);
    let b = run(&text);
    assert_eq!(a.to_json(), b.to_json());
    let mut other = crate::common::scenario(&text);
    other.seed += 1;
    assert_ne!(syncsim::run(&other).digest, a.digest);
}
