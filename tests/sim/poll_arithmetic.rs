//! The seeds' polling arithmetic: 86,400 / interval polls per mailbox-day,
//! mean lag = interval / 2 + mean API latency, empty polls = e^(−λT).

use crate::common::{poll, run};

const LOGNORMAL: &str = "{ dist = \"lognormal\", median = \"120ms\", p99 = \"900ms\" }";

/// Mean of the lognormal above: exp(mu + sigma²/2) with mu = ln 120 ms and
/// sigma = ln(900/120) / z99.
fn lognormal_mean_s() -> f64 {
    let sigma = (900.0f64 / 120.0).ln() / 2.326_347_874;
    0.120 * (sigma * sigma / 2.0).exp()
}

#[test]
fn polls_per_mailbox_day_are_86400_over_interval() {
    for (interval, secs) in [("1m", 60.0), ("5m", 300.0), ("15m", 900.0)] {
        // Jitter of a tenth of the interval must not change the rate.
        let text = poll(500, 20.0, interval, "1d", "0s", LOGNORMAL).replace(
            "strategy",
            &format!("poll_jitter = \"{}s\"\nstrategy", secs / 10.0),
        );
        let r = run(&text);
        let want = 86_400.0 / secs;
        let got = r.requests.poll_cycles_per_mailbox_day;
        assert!(
            (got / want - 1.0).abs() < 0.005,
            "{interval}: {got} cycles/mailbox-day, want {want} ± 0.5%"
        );
        // At 20 messages/day every cycle is one page: requests = cycles.
        let got = r.requests.per_mailbox_day;
        assert!(
            (got / want - 1.0).abs() < 0.005,
            "{interval}: {got} requests/mailbox-day, want {want} ± 0.5%"
        );
    }
}

#[test]
fn mean_lag_is_half_the_interval_plus_api_latency() {
    for (interval, secs) in [("1m", 60.0), ("5m", 300.0)] {
        // Drain of one interval lets the last changes arrive.
        let r = run(&poll(1000, 50.0, interval, "1d", interval, LOGNORMAL));
        let want_s = secs / 2.0 + lognormal_mean_s();
        let got_s = r.latency_ms.all.mean.unwrap() / 1e3;
        assert!(
            (got_s / want_s - 1.0).abs() < 0.03,
            "{interval}: mean lag {got_s}s, want {want_s}s ± 3%"
        );
        // No lag can exceed one interval plus the slowest answer (< 10 s here).
        let max_s = r.latency_ms.all.max.unwrap() / 1e3;
        assert!(max_s <= secs + 10.0, "{interval}: max {max_s}s");
        assert_eq!(r.changes.lost, 0);
        assert_eq!(r.changes.applied, r.changes.generated);
    }
}

#[test]
fn share_of_empty_polls_is_exp_minus_lambda_t() {
    for (per_day, interval, secs) in [
        (50.0, "5m", 300.0),
        (200.0, "5m", 300.0),
        (50.0, "15m", 900.0),
    ] {
        // No drain: every poll window sees Poisson traffic.
        let r = run(&poll(1000, per_day, interval, "1d", "0s", "\"100ms\""));
        let lambda = per_day / 86_400.0;
        let want = (-lambda * secs).exp();
        let got = r.requests.poll_empty as f64 / r.requests.poll as f64;
        assert!(
            (got - want).abs() < 0.02,
            "{per_day}/day every {interval}: empty share {got}, want {want} ± 2 pp"
        );
    }
}

#[test]
fn one_minute_polling_costs_five_times_five_minute() {
    let one = run(&poll(200, 50.0, "1m", "1d", "0s", "\"100ms\""));
    let five = run(&poll(200, 50.0, "5m", "1d", "0s", "\"100ms\""));
    let ratio = one.requests.total as f64 / five.requests.total as f64;
    assert!((ratio - 5.0).abs() < 0.025, "ratio {ratio}, want 5 ± 0.5%");
}

#[test]
fn bundled_scenarios_reproduce_the_seeds_figures() {
    // FACTS.md: 5-minute polling = 288 requests/mailbox-day and ~2.5 min
    // mean lag; 1-minute = 1,440 and ~30 s. Lag tolerance 3%, cost 0.5%.
    for (file, per_day, lag_s) in [
        ("poll-5min.toml", 288.0, 150.0),
        ("poll-1min.toml", 1440.0, 30.0),
    ] {
        let path = format!("{}/scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
        let r = syncsim::run(&syncsim::load(std::path::Path::new(&path)).unwrap());
        let cost = r.requests.per_mailbox_day;
        assert!(
            (cost / per_day - 1.0).abs() < 0.005,
            "{file}: {cost} requests/mailbox-day"
        );
        let lag = r.latency_ms.all.mean.unwrap() / 1e3;
        assert!(
            (lag / (lag_s + lognormal_mean_s()) - 1.0).abs() < 0.03,
            "{file}: mean lag {lag}s"
        );
        assert_eq!(r.changes.lost, 0, "{file}");
    }
}
