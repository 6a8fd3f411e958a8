//! Windowed provider quotas (`[source] quota`): 429s with the provider's
//! Retry-After (the end of the refusing window), per-method weights, daily
//! caps, and the report's headroom fields (peak use / limit).

use crate::common::{run, scenario};

/// One-page polls of `mailboxes` empty mailboxes every minute for
/// `horizon`, no drain, fixed 50 ms API latency, with `quota` appended to
/// `[source]` (and `thresholds` at the end).
fn polled(mailboxes: u32, horizon: &str, quota: &str, thresholds: &str) -> String {
    format!(
        "name = \"q\"\nseed = 5\nhorizon = \"{horizon}\"\ndrain = \"0s\"\n\n[source]\nmailboxes = {mailboxes}\nmessages_per_day = 0\napi_latency = \"50ms\"\n{quota}\n\n[consumer]\nstrategy = \"poll\"\npoll_interval = \"1m\"\n{thresholds}"
    )
}

/// Interval I = 1 min, window W = 10 min: W / I = 10 polls offered per
/// mailbox-window against a limit of 4. The first window admits 4 and
/// refuses the 5th with Retry-After = time to the window's end; the
/// poller retries then (the first request of the next window, admitted)
/// and skips the slots it missed, so every later window holds the retry,
/// 3 slots (admitted: 4 units) and a refused 4th slot. One 429 per
/// mailbox per window: 1 h / 10 min = 6 windows x 3 mailboxes = 18, not
/// the (10 − 4) x 6 x 3 = 108 a client ignoring Retry-After would get.
/// Peak use is the full limit: fraction 4 / 4 = 1.
#[test]
fn polls_over_a_windowed_quota_get_one_429_per_window() {
    let q = "quota = \"custom\"\nquota_limits = { mailbox_window = \"10m\", mailbox_limit = 4 }";
    let r = run(&polled(3, "1h", q, ""));
    let quota = r.quota.as_ref().expect("a quota section");
    assert_eq!(quota.rate_limited, 18, "{quota:?}");
    assert_eq!(r.requests.rate_limited, 18);
    assert_eq!(quota.mailbox_window_peak_fraction, Some(1.0));
    // 6 windows x 3 mailboxes x 4 admitted = 72 units, plus at most one
    // retry per mailbox due exactly at the end (3 600 s) if it runs.
    assert!((72..=75).contains(&quota.units), "{quota:?}");
    assert_eq!(quota.project_window_peak_fraction, None);
    assert_eq!(quota.daily_peak_fraction, None);
}

/// Same polling under a limit of 20 per 10 min: 10 polls per window use
/// half of it (fraction exactly 10 / 20), nothing is refused, and the
/// headroom is threshold-able: `< 0.6` passes and `< 0.4` fails.
#[test]
fn under_the_quota_headroom_is_peak_over_limit_and_nothing_is_refused() {
    let q = "quota = \"custom\"\nquota_limits = { mailbox_window = \"10m\", mailbox_limit = 20 }";
    for (cond, pass) in [("< 0.6", true), ("< 0.4", false)] {
        let text = polled(
            2,
            "1h",
            q,
            &format!("\n[thresholds]\n\"quota.mailbox_window_peak_fraction\" = \"{cond}\"\n"),
        );
        let r = run(&text);
        let quota = r.quota.as_ref().expect("a quota section");
        assert_eq!(quota.mailbox_window_peak_fraction, Some(0.5));
        assert_eq!((quota.rate_limited, r.requests.rate_limited), (0, 0));
        // 2 mailboxes x 60 polls, one unit each.
        assert_eq!(quota.units, 120);
        let checks = r.check(&scenario(&text).thresholds);
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].pass, pass, "{cond}: {:?}", checks[0]);
    }
}

/// The msgraph preset: a poll a minute is 10 of 10,000 requests per
/// 10 minutes: fraction 0.001, no 429.
#[test]
fn msgraph_preset_headroom_for_a_minute_poll() {
    let r = run(&polled(1, "1h", "quota = \"msgraph\"", ""));
    let quota = r.quota.as_ref().expect("a quota section");
    assert_eq!(quota.preset, "msgraph");
    assert_eq!(quota.mailbox_window_peak_fraction, Some(0.001));
    assert_eq!(quota.rate_limited, 0);
}

/// Weights and a daily cap: a list costs 3 units against a cap of 30 a
/// day, polled every minute for 2 days. Day 0 admits 10 polls (30 units)
/// and refuses the 11th until midnight; the retry opens day 1, 9 more
/// slots pass and the next is refused: one 429 per day = 2, and
/// 2 x 30 = 60 units, peak 30 / 30 = 1.
#[test]
fn weighted_calls_against_a_daily_cap() {
    let q = "quota = \"custom\"\nquota_limits = { daily_limit = 30, list_units = 3 }";
    let r = run(&polled(1, "2d", q, ""));
    let quota = r.quota.as_ref().expect("a quota section");
    assert_eq!(quota.rate_limited, 2, "{quota:?}");
    assert_eq!(quota.daily_peak_fraction, Some(1.0));
    // The retry due at exactly 2 d (the run's end) may add 3 units.
    assert!((60..=63).contains(&quota.units), "{quota:?}");
}

/// Without a quota the report has no quota section (so every existing
/// digest is unchanged: `digests` checks them).
#[test]
fn no_quota_no_section() {
    let r = run(&polled(1, "1h", "", ""));
    assert!(r.quota.is_none());
    assert!(!r.to_json().contains("\"quota\""));
}

/// Bad quota input is a clear error naming the key.
#[test]
fn bad_quota_input_names_the_key() {
    let parse = |extra: &str| {
        syncsim::scenario::parse(
            &polled(1, "1h", extra, ""),
            "q.toml",
            syncsim::scenario::Format::Toml,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
    };
    let e = parse("quota = \"aws\"");
    assert!(e.contains("source.quota") && e.contains("msgraph"), "{e}");
    let e = parse("quota = \"custom\"");
    assert!(e.contains("needs a limit"), "{e}");
    let e = parse("quota_limits = { daily_limit = 5 }");
    assert!(e.contains("without a quota"), "{e}");
    let e = parse("quota = \"custom\"\nquota_limits = { mailbox_limit = 5 }");
    assert!(e.contains("mailbox_window"), "{e}");
    let e = parse("quota = \"gmail\"\nquota_limits = { mailbox_limit = 50 }");
    assert!(e.contains("could never pass"), "{e}");
}

/// Gmail weights end to end: a webhooks-only consumer of the gmail
/// preset (thin notifications, each followed by a `messages.get`; `watch`
/// renewed daily) far under every limit, so every call is admitted and
/// the quota's units are exactly 5 per fetch, plus 100 per subscription
/// call, plus 2 per list (none here). The project window sees every mailbox's
/// calls, so its peak is at least the busiest mailbox's.
#[test]
fn gmail_units_are_the_weighted_sum_of_calls() {
    let text = "name = \"g\"\nseed = 9\nhorizon = \"3d\"\ndrain = \"1h\"\n\n[source]\nmailboxes = 5\nmessages_per_day = 40\nquota = \"gmail\"\n\n[webhooks]\npreset = \"gmail\"\n\n[consumer]\nstrategy = \"webhook\"\nrenew_every = \"1d\"\n";
    let r = run(text);
    let quota = r.quota.as_ref().expect("a quota section");
    let q = &r.requests;
    let calls = q.renew.unwrap_or(0) + q.subscribe.unwrap_or(0);
    // 5 mailboxes x 3 renewals (days 1, 2, 3) at least; ~40 x 3 x 5 fetches.
    assert!(calls >= 15 && q.fetch > 300, "{q:?}");
    assert_eq!(quota.rate_limited, 0);
    assert_eq!(
        quota.units,
        5 * q.fetch + 100 * calls + 2 * (q.poll + q.reconcile + q.resync),
        "{q:?} {quota:?}"
    );
    let per_mailbox = quota.mailbox_window_peak_fraction.expect("gmail has one") * 15_000.0;
    let project = quota.project_window_peak_fraction.expect("gmail has one") * 1_200_000.0;
    assert!(project + 0.5 >= per_mailbox, "{quota:?}");
}

/// One mailbox, a burst of 16 changes within 1 ms at 1 h, Graph's thin
/// notifications (a fetch each), `workers` workers with a fixed 1 s
/// handler time, a fixed 200 ms API latency (a fetch is in service that
/// long), processing_attempts 5, no backoff, and Graph's quota (4
/// concurrent requests per mailbox).
fn fetch_burst(workers: u32) -> String {
    format!(
        "name = \"c\"\nseed = 2\nhorizon = \"2h\"\ndrain = \"1h\"\n\n[source]\nmailboxes = 1\nmessages_per_day = 0\napi_latency = \"200ms\"\nquota = \"msgraph\"\n\n\
         [[source.bursts]]\nat = \"1h\"\nmailboxes = 1\nmessages = 16\nover = \"1ms\"\n\n\
         [webhooks]\npreset = \"msgraph\"\n\n[consumer]\nstrategy = \"webhook\"\nworkers = {workers}\nhandler_time = \"1s\"\nprocessing_attempts = 5\n"
    )
}

/// Graph's cap of 4 concurrent requests per mailbox binds on a fetch
/// burst. 16 workers take the 16 notifications as they arrive (within
/// 1 ms) and fetch 1 s later, within the same millisecond: 4 fetches are
/// admitted (in service until +200 ms) and 12 answered 429. Each refused
/// item fails processing and goes straight back to the queue (no
/// backoff); a worker takes it at once and fetches 1 s later, when every
/// earlier fetch has left service: 12 → 4 admitted, 8 refused; then 8 → 4
/// and 4; then 4 → 4 admitted. 429s: 12 + 8 + 4 = 24; fetches 16 + 12 +
/// 8 + 4 = 40; the fourth try is within processing_attempts = 5, so
/// nothing is lost; the peak is the cap (fraction 1). With 4 workers the
/// fetches never overlap beyond 4: no 429.
#[test]
fn graphs_concurrency_cap_binds_on_a_fetch_burst() {
    let r = run(&fetch_burst(16));
    let q = r.quota.as_ref().expect("a quota section");
    assert_eq!(q.rate_limited, 24, "{q:?}");
    assert_eq!(r.requests.rate_limited, 24);
    assert_eq!(r.requests.fetch, 40);
    assert_eq!(q.concurrent_peak_fraction, Some(1.0));
    assert_eq!(r.changes.lost, 0);
    let calm = run(&fetch_burst(4));
    let q = calm.quota.as_ref().expect("a quota section");
    assert_eq!((q.rate_limited, calm.requests.fetch), (0, 16), "{q:?}");
    assert_eq!(q.concurrent_peak_fraction, Some(1.0));
}
