//! Webhook delivery: provider retry arithmetic, receiver modes, dedup,
//! thin payloads, crashes.

use crate::common::{commit_times, hook, run};

const MIN: u64 = 60_000_000;

/// Changes whose every attempt falls inside an outage `[start, end)` when
/// attempt k happens at `t + offsets[k]`: the exact expected loss.
fn fully_covered(times: &[u64], start: u64, end: u64, offsets: &[u64]) -> u64 {
    times
        .iter()
        .filter(|&&t| offsets.iter().all(|o| (start..end).contains(&(t + o))))
        .count() as u64
}

/// Cumulative attempt offsets from retry delays (each retry `extra` after
/// the previous attempt's failure is seen, e.g. a timeout).
fn offsets(delays_s: &[u64], extra_us: u64) -> Vec<u64> {
    let mut v = vec![0];
    for d in delays_s {
        let last = *v.last().unwrap();
        v.push(last + extra_us + d * 1_000_000);
    }
    v
}

#[test]
fn nylas_outage_longer_than_the_retry_span_loses_exactly_the_covered_changes() {
    // Latency 0 and refused connections: each failure is seen at once, so
    // attempts happen at t, t + 10 min, t + 20 min exactly.
    let nylas = offsets(&[600, 600], 0);
    for (len_min, at_min) in [(45u64, 300u64), (10, 300), (20, 600)] {
        let text = hook(
            500,
            50.0,
            "1d",
            "1h",
            "preset = \"nylas\"\nlatency = \"0ms\"\nmax_in_flight = 1000",
            "",
            &format!("[[faults]]\nkind = \"endpoint_outage\"\nmode = \"refused\"\nat = \"{at_min}m\"\nfor = \"{len_min}m\""),
        );
        let want = fully_covered(
            &commit_times(&text),
            at_min * MIN,
            (at_min + len_min) * MIN,
            &nylas,
        );
        let r = run(&text);
        assert_eq!(r.changes.lost, want, "{len_min}-minute outage");
        assert_eq!(r.webhooks.as_ref().unwrap().abandoned, want);
        if len_min <= 20 {
            assert_eq!(
                want, 0,
                "an outage no longer than the 20-minute span loses nothing"
            );
        } else {
            // Rate × (D − S): 500 × 50/day × 25 min ≈ 434; Poisson noise.
            assert!((350..520).contains(&want), "{want}");
        }
    }
}

#[test]
fn svix_outage_longer_than_27h35m_loses_the_changes_of_its_first_d_minus_s() {
    let svix = offsets(&[5, 300, 1800, 7200, 18000, 36000, 36000], 0);
    let span_s = 5 + 300 + 1800 + 7200 + 18000 + 36000 + 36000;
    assert_eq!(span_s, 27 * 3600 + 35 * 60 + 5);
    for len_h in [30u64, 27] {
        let text = hook(
            100,
            50.0,
            "3d",
            "2d",
            "preset = \"svix\"\nlatency = \"0ms\"\nmax_in_flight = 1000",
            "",
            &format!("[[faults]]\nkind = \"endpoint_outage\"\nmode = \"503\"\nat = \"6h\"\nfor = \"{len_h}h\""),
        );
        let start = 6 * 60 * MIN;
        let want = fully_covered(&commit_times(&text), start, start + len_h * 60 * MIN, &svix);
        let r = run(&text);
        assert_eq!(r.changes.lost, want, "{len_h} h outage");
        if len_h == 27 {
            assert_eq!(want, 0);
        } else {
            // 100 × 50/day × (30 h − 27 h 35 m) ≈ 503.
            assert!((420..590).contains(&want), "{want}");
        }
    }
}

#[test]
fn hanging_endpoint_adds_the_timeout_to_every_retry() {
    // With mode "hang" each failure is seen after the 10 s timeout, so
    // attempts are at t, t + 10 s + 10 min, t + 20 s + 20 min.
    let hang = offsets(&[600, 600], 10_000_000);
    let text = hook(
        500,
        50.0,
        "1d",
        "1h",
        "preset = \"nylas\"\nlatency = \"0ms\"\nmax_in_flight = 1000",
        "",
        "[[faults]]\nkind = \"endpoint_outage\"\nmode = \"hang\"\nat = \"5h\"\nfor = \"45m\"",
    );
    let want = fully_covered(&commit_times(&text), 300 * MIN, 345 * MIN, &hang);
    let r = run(&text);
    assert_eq!(r.changes.lost, want);
    assert!(want > 0);
}

#[test]
fn inline_handlers_slower_than_the_timeout_make_duplicates() {
    // Handler time lognormal(median 8 s, p99 20 s) against a 10 s timeout:
    // p = P(h > 10 s) = 1 − Φ(ln(10/8) / σ), σ = ln(20/8) / 2.326. Each
    // timed-out attempt is retried (3 attempts), and every attempt is
    // processed, so receptions per notification = 1 + p + p².
    let sigma = (20.0f64 / 8.0).ln() / 2.326_347_874;
    let z = (10.0f64 / 8.0).ln() / sigma;
    let p = 0.5 * libm::erfc(z / std::f64::consts::SQRT_2);
    let want_dup_share = p + p * p;
    for dedup in ["event_id", "none"] {
        let text = hook(
            200,
            50.0,
            "1d",
            "2h",
            "preset = \"nylas\"\nlatency = \"0ms\"\nmax_in_flight = 1000",
            &format!("ack = \"inline\"\nworkers = 500\nhandler_time = {{ dist = \"lognormal\", median = \"8s\", p99 = \"20s\" }}\ndedup = \"{dedup}\""),
            "",
        );
        let r = run(&text);
        let w = r.webhooks.as_ref().unwrap();
        let n = w.notifications;
        let share = w.duplicates as f64 / n as f64;
        assert!(
            (share - want_dup_share).abs() < 0.03,
            "{dedup}: duplicate share {share}, want {want_dup_share:.3}"
        );
        // Nothing is lost: even a notification whose 3 attempts all timed
        // out was processed each time.
        assert_eq!(r.changes.lost, 0, "{dedup}");
        match dedup {
            "event_id" => assert_eq!(r.consistency.applied_twice, 0),
            _ => assert_eq!(
                r.consistency.applied_twice, w.duplicates,
                "none processes every copy"
            ),
        }
    }
}

#[test]
fn queue_first_acks_fast_so_slow_handlers_make_no_duplicates() {
    let text = hook(
        200,
        50.0,
        "1d",
        "2h",
        "preset = \"nylas\"",
        "ack = \"queue_first\"\nworkers = 500\nhandler_time = { dist = \"lognormal\", median = \"8s\", p99 = \"20s\" }",
        "",
    );
    let r = run(&text);
    assert_eq!(r.webhooks.as_ref().unwrap().duplicates, 0);
    assert_eq!(r.changes.lost, 0);
}

fn crash_text(queue: &str) -> String {
    // 400 messages land in mailbox 0 at 6 h; one worker at 500 ms each needs
    // 200 s, so at the crash (6 h + 60 s) about 280 items are queued.
    hook(
        300,
        20.0,
        "1d",
        "2h",
        "preset = \"nylas\"",
        &format!("ack = \"queue_first\"\nqueue = \"{queue}\"\nworkers = 1\nhandler_time = \"500ms\""),
        "[[source.bursts]]\nat = \"6h\"\nmailboxes = 1\nmessages = 400\n\n[[faults]]\nkind = \"consumer_crash\"\nat = \"6h1m\"\nfor = \"5m\"",
    )
}

#[test]
fn memory_queue_crash_loses_exactly_what_it_held_durable_loses_nothing() {
    let memory = run(&crash_text("memory"));
    let q = memory.queue.as_ref().unwrap();
    // 400 items need 200 s; 60 s in, ~120 are done and ~280 wait (+1 in progress).
    assert!(
        (250..=300).contains(&q.lost_in_crash),
        "lost in crash {}",
        q.lost_in_crash
    );
    assert_eq!(
        memory.changes.lost, q.lost_in_crash,
        "every loss is a crash loss"
    );
    // Deliveries during the 5-minute downtime are refused and retried 10 min later.
    assert!(memory.webhooks.as_ref().unwrap().inbound_refused > 0);
    let durable = run(&crash_text("durable"));
    assert_eq!(durable.queue.as_ref().unwrap().lost_in_crash, 0);
    assert_eq!(durable.changes.lost, 0);
    assert_eq!(durable.faults.consumer_crashes, 1);
}

#[test]
fn thin_payloads_cost_one_fetch_per_delivery_full_cost_none() {
    for (payload, fetch_per_delivery) in [("thin", 1), ("full", 0)] {
        let text = hook(
            300,
            50.0,
            "1d",
            "1h",
            &format!("preset = \"msgraph\"\npayload = \"{payload}\""),
            "",
            "",
        );
        let r = run(&text);
        let w = r.webhooks.as_ref().unwrap();
        assert_eq!(w.duplicates, 0);
        assert_eq!(
            r.requests.fetch,
            fetch_per_delivery * w.delivered,
            "{payload}"
        );
        assert_eq!(r.requests.total, r.requests.fetch);
        assert_eq!(r.changes.lost, 0);
    }
}

#[test]
fn thin_fetches_during_a_source_outage_fail_and_dead_letter() {
    let text = hook(
        300,
        50.0,
        "1d",
        "1h",
        "preset = \"msgraph\"",
        "",
        "[[faults]]\nkind = \"source_outage\"\nat = \"5h\"\nfor = \"20m\"",
    );
    let r = run(&text);
    let q = r.queue.as_ref().unwrap();
    // Every notification processed during the outage fails its 3 quick tries:
    // ≈ 300 × 50/day × 20 min = 208.
    assert!((150..270).contains(&q.dead_lettered), "{}", q.dead_lettered);
    assert_eq!(r.changes.lost, q.dead_lettered);
    assert_eq!(r.changes.lost_by_cause.dead_lettered, q.dead_lettered);
    assert_eq!(q.processing_failures, 3 * q.dead_lettered);
}

/// Retries `k` (1-based) of an item whose first try failed: `base · (2^k − 1)`
/// after that try with a doubling `processing_backoff` (µs).
fn backoff_offset(base_us: u64, k: u32) -> u64 {
    base_us * ((1u64 << k) - 1)
}

#[test]
fn a_processing_backoff_outlasts_a_source_outage_that_back_to_back_retries_cannot() {
    let outage = "[[faults]]\nkind = \"source_outage\"\nat = \"5h\"\nfor = \"20m\"";
    let text = |consumer: &str| {
        hook(
            300,
            50.0,
            "1d",
            "2h",
            "preset = \"msgraph\"",
            consumer,
            outage,
        )
    };
    let (start, end) = (300 * MIN, 320 * MIN);
    // What is left of the outage when each notification's first fetch
    // fails (commit time; delivery and handler add ~0.1 s, far from the
    // backoff steps, hence the small tolerances below).
    let left: Vec<u64> = commit_times(&text(""))
        .into_iter()
        .filter(|c| (start..end).contains(c))
        .map(|c| end - c)
        .collect();
    let base = 30_000_000;
    let near = |got: u64, want: u64| got.abs_diff(want) <= 2 + want / 100;

    // 7 tries, 30 s doubling: the 6th retry comes 31.5 min after the
    // first, past any remainder of a 20-minute outage: nothing is lost,
    // and an item fails once per retry that still falls in the outage.
    let r = run(&text(
        "processing_attempts = 7\nprocessing_backoff = { base = \"30s\" }",
    ));
    assert_eq!(r.changes.lost, 0);
    let failures: u64 = left
        .iter()
        .map(|&l| (1..7).find(|&k| backoff_offset(base, k) >= l).unwrap() as u64)
        .sum();
    let q = r.queue.as_ref().unwrap();
    assert!(
        near(q.processing_failures, failures),
        "{} failures, analysis {failures}",
        q.processing_failures
    );

    // The default 3 tries with the same backoff: retries at +30 s and
    // +90 s, so exactly the items with more than 90 s of outage left are
    // dead-lettered.
    let r = run(&text("processing_backoff = { base = \"30s\" }"));
    let want = left
        .iter()
        .filter(|&&l| l > backoff_offset(base, 2))
        .count() as u64;
    assert!(
        near(r.changes.lost, want),
        "{} lost, analysis {want}",
        r.changes.lost
    );
    assert_eq!(r.changes.lost_by_cause.dead_lettered, r.changes.lost);

    // Back to back (no backoff): every notification of the outage is lost.
    let r = run(&text(""));
    let want = left.len() as u64;
    assert!(
        near(r.changes.lost, want),
        "{} lost, analysis {want}",
        r.changes.lost
    );
}

#[test]
fn a_processing_backoff_max_below_its_base_is_refused_naming_the_key() {
    let text = hook(
        10,
        50.0,
        "1h",
        "0s",
        "preset = \"msgraph\"",
        "processing_backoff = { base = \"1m\", max = \"10s\" }",
        "",
    );
    let err = syncsim::scenario::parse(&text, "t.toml", syncsim::scenario::Format::Toml)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("consumer.processing_backoff.max") && err.contains("t.toml:"),
        "{err}"
    );
}

#[test]
fn presets_command_lists_the_facts() {
    let out = std::process::Command::new(crate::common::bin())
        .arg("presets")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for (name, attempts, span) in [
        ("nylas", "3", "20m"),
        ("svix", "8", "1d3h35m5s"),
        ("shopify", "9", "4h"),
        ("github", "1", "0s"),
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing"));
        assert!(line.contains(attempts) && line.contains(span), "{line}");
    }
}

#[test]
fn bundled_nylas_scenario_loses_exactly_the_changes_its_45_minute_outage_covers() {
    // scenarios/webhook-nylas-outage.toml: 503s answered after the default
    // 50 ms network time, so attempts are at t, t + 10 min + 50 ms,
    // t + 20 min + 100 ms. The 10-minute outage (4 h) loses nothing; the
    // 45-minute one (12 h) loses the changes of its first ~25 minutes.
    let path = format!(
        "{}/scenarios/webhook-nylas-outage.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let nylas = offsets(&[600, 600], 50_000);
    let times = commit_times(&text);
    assert_eq!(fully_covered(&times, 240 * MIN, 250 * MIN, &nylas), 0);
    let want = fully_covered(&times, 720 * MIN, 765 * MIN, &nylas);
    let r = run(&text);
    assert_eq!(r.changes.lost, want);
    // 1,000 mailboxes × 50/day × 25 min ≈ 868, within Poisson noise.
    assert!((780..960).contains(&want), "{want}");
}

#[test]
fn endpoint_failing_for_disable_after_is_disabled_then_reenabled() {
    // Failing from the outage start (5 h); the first failure >= 2 h later
    // disables the endpoint; it is re-enabled 30 min later, still inside the
    // 3 h outage, fails again, but the outage ends before another 2 h.
    let text = hook(
        500,
        50.0,
        "1d",
        "6h",
        "preset = \"svix\"\nlatency = \"0ms\"\ndisable_after = \"2h\"\nreenable_after = \"30m\"\nmax_in_flight = 1000",
        "",
        "[[faults]]\nkind = \"endpoint_outage\"\nmode = \"refused\"\nat = \"5h\"\nfor = \"3h\"",
    );
    let r = run(&text);
    let w = r.webhooks.as_ref().unwrap();
    // Attempts arrive every few seconds, so disabling happens within
    // seconds of 7 h, and lasts exactly the 30 minutes.
    assert!(
        (w.endpoint_disabled_for - 1800.0).abs() < 1e-6,
        "{}",
        w.endpoint_disabled_for
    );
    // Everything committed while disabled is skipped (500 × 50/day × 30 min
    // ≈ 521), plus every retry that came due in those 30 minutes.
    let created_while_disabled = 500.0 * 50.0 / 1440.0 * 30.0;
    assert!(
        w.skipped_disabled as f64 > 0.8 * created_while_disabled,
        "{}",
        w.skipped_disabled
    );
    assert_eq!(r.changes.lost, w.skipped_disabled + w.abandoned);
}
