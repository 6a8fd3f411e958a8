//! Subscription expiry and renewal (issue 16, item 3): a Graph
//! subscription or Gmail watch lives `L` unless renewed; the consumer
//! renews every `R`; a renewal that fails leaves the old expiry in force,
//! and while a subscription has expired the provider notifies nothing.
//!
//! Arithmetic (the model's rules, `model::config::SubscriptionConfig`):
//! every subscription is created just before time 0 (expires at `L`), and
//! renewals are sent at `R, 2R, 3R, ...` (answered at once). A successful
//! renewal at `t` moves the expiry to `t + L`. If the renewal at `kR`
//! fails, the expiry stays `(k-1)R + L`; the next renewal, at `(k+1)R`,
//! finds the subscription gone when `(k+1)R >= (k-1)R + L` (i.e. `2R >=
//! L`), is answered 404, and the consumer creates a new one at once. So
//! the changes committed in `[(k-1)R + L, (k+1)R)` are never notified.

use crate::common::{commit_times, run, scenario};

const H: u64 = 3_600_000_000;

/// 20 mailboxes × 200 changes a day for 2 days (+ 4 h drain), Graph's
/// thin notifications, a subscription of `L = 10 h` renewed every
/// `R = 6 h`; `strategy`, and `faults` appended.
fn text(strategy: &str, faults: &str) -> String {
    format!(
        "name = \"subs\"\nseed = 5\nhorizon = \"2d\"\ndrain = \"4h\"\n\n[source]\nmailboxes = 20\nmessages_per_day = 200\n\n\
         [webhooks]\npreset = \"msgraph\"\nsubscription_lifetime = \"10h\"\n\n\
         [consumer]\nstrategy = \"{strategy}\"\nrenew_every = \"6h\"\nreconcile_every = \"30m\"\nlookback = \"2h\"\ndedup = \"version\"\n\n{faults}"
    )
}

/// The renewal at 2R = 12 h fails for every mailbox (a 1-minute window
/// around it).
const ONE_FAILURE: &str = "[[faults]]\nkind = \"renewal_failure\"\nat = \"12h\"\nfor = \"1m\"\n";

#[test]
fn working_renewals_lose_nothing_and_are_counted_as_requests() {
    let r = run(&text("webhook", ""));
    // No fault: nothing expires, so nothing is lost to expiry (or at all:
    // no delivery faults, and the 4 h drain outlasts every delivery).
    assert_eq!(r.changes.lost_by_cause.subscription_expired, Some(0));
    assert_eq!(r.changes.lost, 0);
    // Renewals at 6 h, 12 h, ..., 48 h (every multiple of 6 h before the
    // end at 52 h): 8 per mailbox, 160 in all; none re-created.
    assert_eq!(r.requests.renew, Some(8 * 20));
    assert_eq!(r.requests.subscribe, Some(0));
    assert_eq!(r.requests.renew_failed, Some(0));
    // Every request at the source is a fetch (thin payloads) or a renewal.
    assert_eq!(r.requests.total, r.requests.fetch + 8 * 20);
}

#[test]
fn one_failed_renewal_loses_exactly_the_gap_and_the_hybrid_recovers_it() {
    // k = 2: the renewal at 12 h fails; expiry stays R + L = 16 h; the
    // renewal at 3R = 18 h is answered 404 and the subscription is created
    // again. Gap [16 h, 18 h), every mailbox.
    let (from, to) = (16 * H, 18 * H);
    let gap = commit_times(&text("webhook", ONE_FAILURE))
        .into_iter()
        .filter(|&at| from <= at && at < to)
        .count() as u64;
    // About 20 × 200 / 12 ≈ 333 changes in two hours: the test means
    // something only if the gap holds some.
    assert!(gap > 100, "{gap}");
    let r = run(&text("webhook", ONE_FAILURE));
    assert_eq!(r.changes.lost_by_cause.subscription_expired, Some(gap));
    assert_eq!(r.changes.lost, gap, "nothing else is lost");
    assert_eq!(r.requests.renew_failed, Some(20), "one failure per mailbox");
    assert_eq!(
        r.requests.subscribe,
        Some(20),
        "one re-creation per mailbox"
    );
    // The hybrid's reconciler (every 30 min, 2 h lookback >= cadence)
    // lists what the webhooks never announced: nothing is lost, and
    // reconciliation applied at least the gap's changes first.
    let h = run(&text("hybrid", ONE_FAILURE));
    assert_eq!(h.changes.lost, 0);
    assert_eq!(h.changes.lost_by_cause.subscription_expired, Some(0));
    assert!(
        h.changes.first_seen_by.reconcile >= gap,
        "{} < {gap}",
        h.changes.first_seen_by.reconcile
    );
}

#[test]
fn renewing_at_least_twice_per_lifetime_absorbs_one_failure() {
    // R = 4 h < L / 2 = 5 h: the renewal at 12 h fails, expiry stays
    // 8 h + 10 h = 18 h, the renewal at 16 h finds it alive: no gap.
    let t = text("webhook", ONE_FAILURE).replace("renew_every = \"6h\"", "renew_every = \"4h\"");
    let r = run(&t);
    assert_eq!(r.changes.lost, 0);
    assert_eq!(r.requests.renew_failed, Some(20));
    assert_eq!(r.requests.subscribe, Some(0));
}

#[test]
fn a_consumer_that_retries_a_failed_renewal_loses_nothing() {
    // renew_retry = 10 min: the renewal at 12 h fails (the fault's window
    // is [12 h, 12 h 1 min)), the retry at 12 h 10 min succeeds (expiry
    // 22 h 10 min), and the cadence goes on from there: renewals at 6 h,
    // 12 h, then 12 h 10 min + k × 6 h for k = 0..6 (up to 48 h 10 min,
    // before the end at 52 h): 9 per mailbox, 180 in all.
    let t = text("webhook", ONE_FAILURE).replace(
        "renew_every = \"6h\"",
        "renew_every = \"6h\"\nrenew_retry = \"10m\"",
    );
    let r = run(&t);
    assert_eq!(r.changes.lost, 0);
    assert_eq!(r.requests.renew_failed, Some(20));
    assert_eq!(r.requests.subscribe, Some(0));
    assert_eq!(r.requests.renew, Some(9 * 20));
}

#[test]
fn short_runs_of_expiring_presets_model_nothing_and_long_ones_do() {
    // A 1-day msgraph run (lifetime 10,080 min) renews nothing and its
    // report has no subscription fields: the bundled scenarios keep their
    // digests.
    let short = "name='s'\nseed=1\nhorizon='1d'\n[source]\nmailboxes=2\nmessages_per_day=10\n\
                 [webhooks]\npreset='msgraph'\n[consumer]\nstrategy='webhook'\n";
    assert!(!scenario(short).models_subscriptions());
    assert_eq!(run(short).requests.renew, None);
    // 8 days outlast Graph's 7-day lifetime: renewals at half of it
    // (5,040 min = 3.5 d), i.e. at 3.5 d and 7 d, two per mailbox.
    let long = short.replace("horizon='1d'", "horizon='8d'");
    let s = scenario(&long);
    let sub = s.subscription().expect("modelled");
    assert_eq!(sub.lifetime.as_secs_f64(), 10_080.0 * 60.0);
    assert_eq!(sub.renew_every.as_secs_f64(), 5_040.0 * 60.0);
    let r = run(&long);
    assert_eq!(r.requests.renew, Some(2 * 2));
    assert_eq!(r.changes.lost, 0);
    // gmail: a 7-day watch renewed daily (Google's recommendation).
    let gmail = long.replace("'msgraph'", "'gmail'");
    let sub = scenario(&gmail).subscription().expect("modelled");
    assert_eq!(sub.renew_every.as_secs_f64(), 86_400.0);
    assert_eq!(sub.lifetime.as_secs_f64(), 7.0 * 86_400.0);
}

#[test]
fn live_and_network_modes_refuse_expiring_subscriptions() {
    let cfg = scenario(&text("webhook", ONE_FAILURE)).config();
    let err = syncsim::live::check_drivable(&cfg).unwrap_err().to_string();
    assert!(err.contains("syncsim run"), "{err}");
    let fine = scenario(
        &text("webhook", "")
            .replace("renew_every = \"6h\"\n", "")
            .replace("subscription_lifetime = \"10h\"\n", ""),
    )
    .config();
    assert!(syncsim::live::check_drivable(&fine).is_ok());
}

/// `text` with Graph's lifecycle notifications (`lifecycle`), a fixed
/// one-way webhook latency of 1 s (a round trip inside Graph's 3 s
/// timeout, so its slow-endpoint rule never fires), and a burst of 50
/// changes per mailbox in the first half second after the expiry at 16 h,
/// so that the gap between the expiry and the consumer hearing of it
/// holds changes.
fn slow_wire(strategy: &str, lifecycle: bool) -> String {
    text(strategy, ONE_FAILURE)
        .replace(
            "subscription_lifetime = \"10h\"\n",
            &format!(
                "subscription_lifetime = \"10h\"\nlatency = \"1s\"\nlifecycle_notifications = {lifecycle}\n"
            ),
        )
        .replace(
            "messages_per_day = 200\n",
            "messages_per_day = 200\n\n[[source.bursts]]\nat = \"16h\"\nmailboxes = 20\nmessages = 50\nover = \"500ms\"\n",
        )
}

#[test]
fn lifecycle_notifications_recover_the_gap_a_failed_renewal_causes() {
    // As above, the renewal at 12 h fails and the subscription expires at
    // 16 h. With lifecycle notifications Graph sends `subscriptionRemoved`
    // at 16 h; it arrives at 16 h + 1 s (the wire's one-way latency); the
    // consumer re-creates the subscription then (one creation per
    // mailbox) and runs a catch-up listing since time zero (its first),
    // answered as of 16 h + 1 s: it holds every change of the gap
    // [16 h, 16 h + 1 s), the burst's 1,000 included, none of which was
    // notified. Nothing is lost.
    let (from, to) = (16 * H, 16 * H + 1_000_000);
    let logs = crate::common::logs(&slow_wire("webhook", true));
    let gap = (0..logs.mailboxes())
        .flat_map(|m| logs.whole(m).iter())
        .filter(|c| from <= c.at.0 && c.at.0 < to)
        .count() as u64;
    // The burst: 20 × 50 (Poisson traffic adds ~0.05 in a second).
    assert!(gap >= 1_000, "{gap}");
    // One page per mailbox unless more than 200 changes are visible at
    // 16 h + 1 s (page size 200): max(1, ceil(n / 200)) each (~133 + 50
    // per mailbox). Later pages are answered a few API latencies
    // (~120 ms) later: exact unless a change commits in those
    // milliseconds at a page boundary.
    let pages: u64 = (0..logs.mailboxes())
        .map(|m| {
            let n = logs.whole(m).iter().filter(|c| c.at.0 <= to).count() as u64;
            n.div_ceil(200).max(1)
        })
        .sum();
    let r = run(&slow_wire("webhook", true));
    assert_eq!(r.changes.lost, 0);
    assert_eq!(r.changes.lost_by_cause.subscription_expired, Some(0));
    assert_eq!(r.requests.lifecycle, Some(20), "one removal per mailbox");
    assert_eq!(r.requests.subscribe, Some(20), "re-created once each");
    // The renewal chain is unchanged (the re-creation adds none): 8 per
    // mailbox, the one at 18 h finding the re-created subscription alive.
    assert_eq!(r.requests.renew, Some(8 * 20));
    assert_eq!(r.requests.renew_failed, Some(20));
    assert_eq!(r.requests.catch_up, Some(pages));
    // Every request is counted (and so priced and quota-charged).
    assert_eq!(
        r.requests.total,
        r.requests.fetch + 8 * 20 + 20 + pages,
        "fetches + renewals + creations + catch-up pages"
    );
    // The gap's changes were never notified: the catch-up listing
    // (counted as reconciliation) applied them first.
    assert!(
        r.changes.first_seen_by.reconcile >= gap,
        "{} < {gap}",
        r.changes.first_seen_by.reconcile
    );

    // The same run without lifecycle notifications: the webhooks stay
    // silent until the renewal at 18 h re-creates the subscription, and
    // the whole gap [16 h, 18 h) is lost (the arithmetic above).
    let (from, to) = (16 * H, 18 * H);
    let gap2 = (0..logs.mailboxes())
        .flat_map(|m| logs.whole(m).iter())
        .filter(|c| from <= c.at.0 && c.at.0 < to)
        .count() as u64;
    let without = run(&slow_wire("webhook", false));
    assert_eq!(without.changes.lost, gap2);
    assert_eq!(without.requests.lifecycle, None);
}

#[test]
fn lifecycle_notifications_need_graph_and_are_refused_live() {
    let t = slow_wire("webhook", true).replace("\"msgraph\"", "\"gmail\"");
    let err = syncsim::scenario::parse(&t, "t.toml", syncsim::scenario::Format::Toml)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("webhooks.lifecycle_notifications") && err.contains("only msgraph"),
        "{err}"
    );
    // A short Graph run models no expiry, but its lifecycle notifications
    // (`missed`) still have no wire in live and network modes.
    let short = "name='s'\nseed=1\nhorizon='1d'\n[source]\nmailboxes=2\nmessages_per_day=10\n\
                 [webhooks]\npreset='msgraph'\nlifecycle_notifications=true\n[consumer]\nstrategy='webhook'\n";
    let err = syncsim::live::check_drivable(&scenario(short).config())
        .unwrap_err()
        .to_string();
    assert!(err.contains("lifecycle_notifications"), "{err}");
}

#[test]
fn missed_notifications_are_caught_up() {
    // Graph's slow-endpoint rule (more than 15% of answers slower than
    // 10 s, or timed out, over 10 minutes: drop). A one-way latency of
    // 2 s makes every round trip 4 s, past Graph's 3 s timeout: every
    // attempt times out, so once the first answers are in, every new
    // notification is dropped (`webhooks.skipped_disabled`, lost as
    // `endpoint_disabled` without lifecycle notifications). With them,
    // each drop sends `missed` (none is lost on the wire: no faults), and
    // the catch-up listing it triggers, sent when `missed` arrives 2 s
    // after the drop, holds the dropped change: nothing is lost. The
    // sender's side is the same in both runs (fixed latency, nothing
    // drawn), so the drops are the same.
    let text = |lifecycle: bool| {
        format!(
            "name='m'\nseed=4\nhorizon='6h'\ndrain='6h'\n[source]\nmailboxes=5\nmessages_per_day=200\n\
             [webhooks]\npreset='msgraph'\nlatency='2s'\nlifecycle_notifications={lifecycle}\n\
             [consumer]\nstrategy='webhook'\ndedup='version'\n"
        )
    };
    let without = run(&text(false));
    let dropped = without
        .webhooks
        .as_ref()
        .expect("webhooks")
        .skipped_disabled;
    assert!(dropped > 100, "{dropped}");
    assert_eq!(without.changes.lost_by_cause.endpoint_disabled, dropped);
    let with = run(&text(true));
    assert_eq!(
        with.webhooks.as_ref().expect("webhooks").skipped_disabled,
        dropped
    );
    assert_eq!(
        with.requests.lifecycle,
        Some(dropped),
        "one `missed` per drop"
    );
    assert_eq!(with.changes.lost, 0);
    // Catch-ups coalesce (one rerun at most per mailbox while one runs),
    // so there are at most as many runs as notifications, and at least
    // one per mailbox.
    let pages = with.requests.catch_up.expect("counted");
    assert!((5..=dropped * 2).contains(&pages), "{pages}");
}
