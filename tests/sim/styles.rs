//! Other ways to poll: conditional requests (304), adaptive intervals, long
//! polling. Each changes cost and latency as the arithmetic predicts.

use crate::common::{poll, run};

fn with(consumer: &str, per_day: f64, interval: &str) -> String {
    poll(500, per_day, interval, "1d", "0s", "\"100ms\"")
        .replace(&format!("poll_interval = \"{interval}\"\n"), consumer)
}

#[test]
fn conditional_polls_turn_empty_polls_into_304s_and_change_nothing_else() {
    let plain = run(&poll(500, 50.0, "5m", "1d", "0s", "\"100ms\""));
    let cond = run(&(poll(500, 50.0, "5m", "1d", "0s", "\"100ms\"") + "if_none_match = true\n"));
    // Same schedule, same answers: every empty page becomes a 304.
    assert_eq!(cond.requests.total, plain.requests.total);
    assert_eq!(cond.requests.not_modified, plain.requests.poll_empty);
    assert_eq!(cond.requests.poll_empty, 0);
    assert_eq!(cond.latency_ms, plain.latency_ms, "latency is unchanged");
    // The cheap share is e^(−λT): λT = 50 × 300 / 86,400.
    let share = cond.requests.not_modified as f64 / cond.requests.total as f64;
    let want = (-50.0f64 * 300.0 / 86_400.0).exp();
    assert!((share - want).abs() < 0.02, "{share} vs {want}");
}

#[test]
fn adaptive_polling_costs_86400_over_max_when_idle() {
    let adaptive = "adaptive = { min = \"10s\", max = \"10m\", factor = 2 }\n";
    let idle = run(&with(adaptive, 0.0, "5m"));
    let got = idle.requests.per_mailbox_day;
    assert!(
        (got / 144.0 - 1.0).abs() < 0.005,
        "idle: {got} requests/mailbox-day, want 86,400 / 600 = 144"
    );
}

#[test]
fn one_isolated_change_adds_the_fast_ladder_minus_the_idle_polls_it_replaces() {
    // After a change the gaps run 10, 20, 40, 80, 160, 320 s (each plus the
    // 0.1 s answer), then 600 s: 6 fast polls over 630.6 s, where idle
    // polling (600.1 s cycles) would have made 1.05: 4.95 extra.
    let adaptive = "adaptive = { min = \"10s\", max = \"10m\", factor = 2 }\n";
    let idle = run(&with(adaptive, 0.0, "5m"));
    let one = run(&(with(adaptive, 0.0, "5m")
        + "\n[[source.bursts]]\nat = \"6h\"\nmailboxes = 500\nmessages = 1\n"));
    let extra = (one.requests.total as f64 - idle.requests.total as f64) / 500.0;
    let want = 6.0 - 630.6 / 600.1;
    assert!(
        (extra - want).abs() < 0.15,
        "extra polls per change {extra}, want {want}"
    );
}

#[test]
fn adaptive_polling_sits_between_its_fixed_extremes() {
    // Poisson changes: each adds at most the 4.95 extra polls of an
    // isolated change (a change during a ladder restarts it, sharing fast
    // polls), so 144 < cost <= 144 + 50 × 4.95 = 391.5 per mailbox-day.
    let adaptive = "adaptive = { min = \"10s\", max = \"10m\", factor = 2 }\n";
    let r = run(&with(adaptive, 50.0, "5m"));
    let cost = r.requests.per_mailbox_day;
    assert!(cost > 144.0 + 50.0 && cost <= 391.5 * 1.01, "cost {cost}");
    // Latency: changes while idle wait ~300 s, changes in a fast phase far
    // less; so below fixed 10-minute polling's 300 s and above 10-second
    // polling's 5 s.
    let lag = r.latency_ms.all.mean.unwrap() / 1e3;
    let slow = run(&poll(500, 50.0, "10m", "1d", "0s", "\"100ms\""));
    let slow_lag = slow.latency_ms.all.mean.unwrap() / 1e3;
    assert!(
        lag < slow_lag && lag > 5.0,
        "adaptive lag {lag}s vs fixed 10 min {slow_lag}s"
    );
    assert!(cost < 86_400.0 / 10.0 && cost > 144.0);
}

#[test]
fn long_polling_answers_at_the_commit_and_costs_one_request_per_hold_or_change() {
    // Held up to H = 30 s; the answer comes when a change commits. A cycle
    // lasts min(Exp(λ), H) plus the 100 ms answer: requests per day =
    // 86,400 / ((1 − e^(−λH)) / λ + 0.1).
    let r = run(&with("long_poll = \"30s\"\n", 50.0, "5m"));
    let lambda = 50.0 / 86_400.0;
    let cycle = (1.0 - (-lambda * 30.0f64).exp()) / lambda + 0.1;
    let want = 86_400.0 / cycle;
    let got = r.requests.per_mailbox_day;
    assert!((got / want - 1.0).abs() < 0.01, "{got} vs {want}");
    // Lag is the answer's trip: 100 ms, plus at most another 100 ms for a
    // change that commits while the next request is being sent. Only
    // changes before a mailbox's first request (a seeded start in [0, H))
    // wait longer, up to H.
    let lag = r.latency_ms.all.mean.unwrap();
    assert!((100.0..=105.0).contains(&lag), "mean lag {lag} ms");
    assert!(r.latency_ms.all.p999.unwrap() <= 201.0);
    assert!(r.latency_ms.all.max.unwrap() <= 30_201.0);
    assert_eq!(r.changes.lost, 0);
}
