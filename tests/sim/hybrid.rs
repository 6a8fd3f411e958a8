//! The hybrid: webhooks plus a reconciler every C with lookback L.

use crate::common::{binomial_99, commit_times, hook, run};

const MIN: u64 = 60_000_000;

fn hybrid(webhooks: &str, every: &str, lookback: &str, faults: &str) -> String {
    hook(
        2000,
        50.0,
        "1d",
        "3h",
        webhooks,
        &format!("reconcile_every = \"{every}\"\nlookback = \"{lookback}\""),
        faults,
    )
    .replace("strategy = \"webhook\"", "strategy = \"hybrid\"")
}

fn in_window(times: &[u64], start: u64, end: u64) -> u64 {
    times.iter().filter(|&&t| t >= start && t < end).count() as u64
}

#[test]
fn endpoint_outage_loses_nothing_when_lookback_covers_the_period() {
    // GitHub-style: no retries, so every change of a 1-hour outage misses
    // its webhook. A run at r lists changes stamped after r − L; the first
    // run after a change at t comes r − t ~ U[0, C) later, so a change is
    // lost iff r − t > L: share (C − L) / C when L < C, none when L ≥ C.
    let outage = "[[faults]]\nkind = \"endpoint_outage\"\nat = \"6h\"\nfor = \"1h\"";
    let base = hybrid("preset = \"github\"", "30m", "30m", outage);
    let n = in_window(&commit_times(&base), 360 * MIN, 420 * MIN);
    for (lookback, want_share) in [
        (30.0, 0.0),
        (45.0, 0.0),
        (20.0, 1.0 / 3.0),
        (10.0, 2.0 / 3.0),
    ] {
        let r = run(&hybrid(
            "preset = \"github\"",
            "30m",
            &format!("{lookback}m"),
            outage,
        ));
        let got = r.changes.lost as f64 / n as f64;
        assert!(
            (got - want_share).abs() <= binomial_99(want_share, n) + 1e-9,
            "L = {lookback} min: lost share {got}, want {want_share}"
        );
        assert_eq!(
            r.changes.lost, r.changes.lost_by_cause.webhook_gave_up,
            "every loss was a webhook given up"
        );
        // Reconciliation cost: one list request per mailbox per run.
        assert!((r.requests.reconcile as f64 / 2000.0 / (27.0 / 24.0) - 48.0).abs() < 0.5);
    }
}

#[test]
fn consumer_crash_needs_lookback_of_period_plus_downtime() {
    // The whole consumer is down 20 min: webhooks refused (no retries), and
    // reconcile runs in the downtime are skipped. A change at t in the
    // downtime waits for the first run after the restart: r − t = U_C + V_D
    // (V = restart − t, uniform on [0, D)). Lost iff U_C + V_D > L:
    // L = C + D loses nothing; L = C loses P(U_C + V_D > C) = D / (2C) = 1/3.
    let crash = "[[faults]]\nkind = \"consumer_crash\"\nat = \"6h\"\nfor = \"20m\"";
    let base = hybrid("preset = \"github\"", "30m", "30m", crash);
    let n = in_window(&commit_times(&base), 360 * MIN, 380 * MIN);
    let full = run(&hybrid("preset = \"github\"", "30m", "50m", crash));
    assert_eq!(full.changes.lost, 0, "L = C + D recovers everything");
    let short = run(&base);
    let got = short.changes.lost as f64 / n as f64;
    let want = 20.0 / 60.0;
    assert!(
        (got - want).abs() <= binomial_99(want, n),
        "L = C: lost share {got}, want {want}"
    );
}

#[test]
fn recovery_rate_is_at_least_the_webhook_loss_and_close_above() {
    // Same seed, same faults: the sender's attempts (and so the webhook
    // losses) are identical with or without a reconciler. A 45-minute
    // outage against Nylas' 20-minute retry span loses the first 25
    // minutes' changes by webhook alone; the hybrid recovers them, and
    // also reaches first some changes that were still waiting for a retry:
    // only changes committed in the outage can be (their first attempt failed).
    let outage =
        "[[faults]]\nkind = \"endpoint_outage\"\nmode = \"503\"\nat = \"6h\"\nfor = \"45m\"";
    let hyb = run(&hybrid("preset = \"nylas\"", "30m", "1h", outage));
    let alone = run(&hook(
        2000,
        50.0,
        "1d",
        "3h",
        "preset = \"nylas\"",
        "",
        outage,
    ));
    assert_eq!(hyb.changes.generated, alone.changes.generated);
    assert_eq!(hyb.changes.lost, 0);
    let loss = alone.changes.loss_rate;
    let recovery = hyb.changes.recovery_rate;
    let in_outage = in_window(&commit_times(&hyb_text(outage)), 360 * MIN, 405 * MIN) as f64
        / hyb.changes.generated as f64;
    assert!(
        loss > 0.005,
        "the outage must cost the webhook path something: {loss}"
    );
    assert!(
        recovery >= loss,
        "recovery {recovery} < webhook loss {loss}"
    );
    assert!(
        recovery <= in_outage,
        "recovery {recovery} above the outage share {in_outage}"
    );
    assert_eq!(
        hyb.webhooks.as_ref().unwrap().abandoned,
        alone.webhooks.as_ref().unwrap().abandoned,
        "common random numbers"
    );
}

fn hyb_text(outage: &str) -> String {
    hybrid("preset = \"nylas\"", "30m", "1h", outage)
}

#[test]
fn healthy_endpoint_recovery_rate_is_under_a_tenth_of_a_percent() {
    // FACTS.md: the recovery rate is the webhook path's health score.
    let r = run(&hybrid("preset = \"svix\"", "30m", "1h", ""));
    assert_eq!(r.changes.lost, 0);
    assert!(
        r.changes.recovery_rate < 0.001,
        "{}",
        r.changes.recovery_rate
    );
}

/// Webhooks are down all along (no retries): only the reconciler delivers,
/// on a source whose commits lag their stamps by up to 5 minutes.
fn late_commits(lookback: &str) -> String {
    hybrid(
        "preset = \"github\"",
        "30m",
        lookback,
        "[[faults]]\nkind = \"endpoint_outage\"\nat = \"0s\"\nfor = \"2d\"",
    )
    .replace(
        "messages_per_day = 50",
        "messages_per_day = 50\ncommit_delay = { dist = \"uniform\", min = \"0s\", max = \"5m\" }",
    )
}

#[test]
fn a_lookback_longer_than_period_plus_delay_recovers_late_commits() {
    // With a watermark (since the previous run began), a change stamped
    // before a run but committed after it is never listed. A window of
    // C + 5 min reaches back past any stamp the previous run could miss.
    let watermark = run(&late_commits("watermark"));
    let lost = watermark.changes.lost as f64 / watermark.changes.generated as f64;
    // A change is missed when its commit straddles a run: P ≈ E[d] / C =
    // 2.5 / 30 = 8.3%.
    assert!((lost - 2.5 / 30.0).abs() < 0.01, "watermark loses {lost}");
    let window = run(&late_commits("35m"));
    assert_eq!(window.changes.lost, 0);
    assert_eq!(
        window.changes.first_seen_by.reconcile,
        window.changes.generated
    );
}
