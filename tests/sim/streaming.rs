//! Streaming traffic (issue 12 item 2): an event-engine run generates each
//! mailbox's log on demand and trims what no one may still touch, so its
//! memory does not grow with the horizon; its report is the one a run over
//! whole logs gives.

use std::path::Path;
use syncsim::engine::des;

/// Bundled scenarios with webhooks, retries, outages, crashes, lookback
/// windows and polling, some stretched to several days so that many
/// hourly trims happen while retries and disable windows are pending:
/// streaming and whole-log runs give byte-identical reports.
#[test]
fn bundled_scenarios_report_the_same_streaming_and_whole() {
    let cases: [(&str, &[(&str, &str)]); 8] = [
        ("scenarios/ci/poll.toml", &[("horizon", "3d")]),
        ("scenarios/ci/hybrid.toml", &[("horizon", "3d")]),
        ("scenarios/ci/webhook-faults.toml", &[("horizon", "3d")]),
        ("scenarios/ci/memory-crash.toml", &[("horizon", "2d")]),
        (
            "scenarios/webhook-nylas-outage.toml",
            &[("source.mailboxes", "200")],
        ),
        (
            "scenarios/webhook-retry-storm.toml",
            &[("source.mailboxes", "300")],
        ),
        (
            "scenarios/seeds/outage-hybrid.toml",
            &[("source.mailboxes", "300")],
        ),
        ("scenarios/seeds/poll-5min.toml", &[("horizon", "3d")]),
    ];
    for (file, sets) in cases {
        let sets: Vec<(String, String)> = sets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let s = syncsim::sweep::load_with(Path::new(file), &sets)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let (streamed, peak) = des::run_retained(&s);
        let whole = des::run_whole_logs(&s);
        assert_eq!(
            serde_json::to_string(&streamed).unwrap(),
            serde_json::to_string(&whole).unwrap(),
            "{file}"
        );
        // The stretched runs trim: they never hold the whole log at once.
        assert!(
            peak < whole.changes.generated,
            "{file}: peak {peak} of {}",
            whole.changes.generated
        );
    }
}

/// The memory property, counted rather than measured: a hybrid run (svix
/// webhooks with 1% of deliveries dropped, a reconciler every 30 minutes
/// with a 1-hour lookback) and a polling run hold at most a few hours of
/// traffic at once, whether the horizon is 2 or 20 days.
///
/// 50 mailboxes × 240 changes a day = 500 changes an hour. What a mailbox
/// holds: the reconciler's lookback (1 h) or the poll cursor (≤ 5 min),
/// plus up to one trim period (`TRIM_EVERY`, 6 h), plus what is generated
/// ahead of now (at most `source::AHEAD`, 6 h, past now, rounded up to the
/// generator's next hour: < 7 h), plus changes whose delivery is still
/// retried (a dropped attempt is retried 5 s later; a change needs the
/// 30-minute retry with probability 10⁻⁶). So under 14 h + a few minutes:
/// ~7,000 changes, 8,000 with 12 sd of Poisson noise above that. Every
/// trim keeps at least the last hour's lookback for the hybrid (500, sd
/// 22): at least 400. A polling run's mailboxes are independent, so the
/// engine runs each one's polls up to `PeakRate::AHEAD` (18 h) ahead of
/// the queue, and its log is generated that far before the next trim:
/// 18 h + 6 h + < 7 h = 31 h, ~15,500 changes, 17,000 with 12 sd above.
/// The whole logs are 24,000 (2 d) and 240,000 (20 d) changes.
#[test]
fn peak_retained_does_not_grow_with_the_horizon() {
    for strategy in ["hybrid", "poll"] {
        let mut peaks = Vec::new();
        for horizon in ["2d", "20d"] {
            let text = format!(
                "name='flat'\nseed=5\nhorizon='{horizon}'\ndrain='1h'\n[source]\nmailboxes=50\nmessages_per_day=240\n[webhooks]\npreset='svix'\n[consumer]\nstrategy='{strategy}'\n{}\n[[faults]]\nkind='drop'\nprobability=0.01\n",
                if strategy == "hybrid" {
                    "reconcile_every='30m'\nlookback='1h'"
                } else {
                    "poll_interval='5m'"
                }
            );
            let text = if strategy == "poll" {
                text.replace("[webhooks]\npreset='svix'\n", "")
                    .replace("[[faults]]\nkind='drop'\nprobability=0.01\n", "")
            } else {
                text
            };
            let s = syncsim::scenario::parse(&text, "flat.toml", syncsim::scenario::Format::Toml)
                .unwrap();
            let (report, peak) = des::run_retained(&s);
            let days = if horizon == "2d" { 2.0 } else { 20.0 };
            let expected = 50.0 * 240.0 * days;
            assert!(
                (report.changes.generated as f64 / expected - 1.0).abs() < 0.05,
                "{strategy} {horizon}: {}",
                report.changes.generated
            );
            let bound = if strategy == "hybrid" { 8_000 } else { 17_000 };
            assert!(peak <= bound, "{strategy} {horizon}: peak {peak}");
            if strategy == "hybrid" {
                assert!(peak >= 400, "{strategy} {horizon}: peak {peak}");
            }
            peaks.push(peak);
        }
        // Ten times the horizon, not ten times the memory: the 20-day peak
        // is within the 2-day one's Poisson noise (a few busier hours).
        assert!(
            peaks[1] as f64 <= peaks[0] as f64 * 1.3,
            "{strategy}: {peaks:?}"
        );
    }
}
