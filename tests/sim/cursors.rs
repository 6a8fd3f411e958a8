//! Cursor pitfalls: ties at page boundaries, late commits, expired cursors.

use crate::common::{logs, run};

/// Only bursts: 20 mailboxes get 120 messages each, spread over 2 s at 3 h
/// with 1-second stamps (two stamps of ~60 changes each), page size 100.
fn ties(cursor: &str) -> String {
    format!(
        "name = \"ties\"\nseed = 8\nhorizon = \"6h\"\ndrain = \"10m\"\n\n[source]\nmailboxes = 20\nmessages_per_day = 0\npage_size = 100\ncursor = \"{cursor}\"\ntimestamp_granularity = \"1s\"\napi_latency = \"100ms\"\n\n[[source.bursts]]\nat = \"3h\"\nmailboxes = 20\nmessages = 120\nover = \"2s\"\n\n[consumer]\nstrategy = \"poll\"\npoll_interval = \"5m\"\n"
    )
}

/// Per mailbox, the burst in `(stamp, seq)` order: how many changes past
/// the first page (100 items) share its last stamp (skipped by `>`), how
/// many in the first page do (listed again by `>=`), and the size of the
/// last stamp group (listed again by `>=` at every later poll).
fn page_boundary_ties(text: &str) -> (u64, u64, u64) {
    let l = logs(text);
    let (mut skipped, mut repeated, mut last_group) = (0, 0, 0);
    for m in 0..l.mailboxes() {
        let mut items: Vec<(u64, u32)> = (0..l.whole(m).len() as u32)
            .map(|s| (l.stamp(m, s), s))
            .collect();
        items.sort_unstable();
        let boundary = items[99].0;
        // `>` after the first page skips the rest of the boundary stamp.
        skipped += items[100..].iter().filter(|i| i.0 == boundary).count() as u64;
        // `>=` lists again the first page's items with the boundary stamp.
        repeated += items[..100].iter().filter(|i| i.0 == boundary).count() as u64;
        let last = items.last().unwrap().0;
        last_group += items.iter().filter(|i| i.0 == last).count() as u64;
    }
    (skipped, repeated, last_group)
}

#[test]
fn ties_at_page_boundaries_by_cursor_kind() {
    let (skipped, repeated, last_group) = page_boundary_ties(&ties("timestamp"));
    assert!(
        skipped > 100 && repeated > 100,
        "the scenario must put ties on the boundary: {skipped} {repeated}"
    );
    // Strict `>`: exactly the tied changes past the boundary are lost.
    let strict = run(&ties("timestamp"));
    assert_eq!(strict.changes.lost, skipped);
    assert_eq!(
        strict.changes.lost_by_cause.cursor_skip, skipped,
        "the cursor moved past them"
    );
    // Inclusive `>=`: nothing lost; the boundary's ties are listed again,
    // and so is the last stamp's group at every later poll: the burst is
    // seen by the first poll after 3 h, and 37 or 38 polls follow before
    // 6 h 10 min (every 5 min, by phase).
    let inclusive = run(&ties("timestamp_inclusive"));
    assert_eq!(inclusive.changes.lost, 0);
    let got = inclusive.changes.redelivered;
    let (lo, hi) = (repeated + 37 * last_group, repeated + 38 * last_group);
    assert!(
        (lo..=hi).contains(&got),
        "redelivered {got}, want {lo}..={hi}"
    );
    // Keyset and sequence: exact.
    for kind in ["timestamp_id", "sequence"] {
        let r = run(&ties(kind));
        assert_eq!((r.changes.lost, r.changes.redelivered), (0, 0), "{kind}");
        assert_eq!(r.consistency.divergent_messages, 0, "{kind}");
    }
}

/// A busy mailbox set with commit delays uniform in [0, 60 s]: a change
/// stamped early but committed late lands behind a timestamp cursor that
/// has already moved past its stamp.
fn late_commits(cursor: &str) -> String {
    format!(
        "name = \"late\"\nseed = 9\nhorizon = \"1d\"\ndrain = \"1h\"\n\n[source]\nmailboxes = 50\nmessages_per_day = 2000\ncursor = \"{cursor}\"\ncommit_delay = {{ dist = \"uniform\", min = \"0s\", max = \"60s\" }}\napi_latency = \"100ms\"\n\n[consumer]\nstrategy = \"poll\"\npoll_interval = \"1m\"\n"
    )
}

#[test]
fn late_commits_slip_behind_timestamp_cursors_not_sequence() {
    for kind in ["timestamp", "timestamp_inclusive", "timestamp_id"] {
        let r = run(&late_commits(kind));
        // A change is skipped when a poll falls after a later-stamped
        // change's commit and before its own: with 43 s between changes
        // and up to 60 s of delay, a few percent.
        let share = r.changes.lost as f64 / r.changes.generated as f64;
        assert!(share > 0.005 && share < 0.2, "{kind}: lost share {share}");
    }
    let seq = run(&late_commits("sequence"));
    assert_eq!(seq.changes.lost, 0, "sequence cursors follow commit order");
    assert_eq!(seq.consistency.divergent_messages, 0);
}

/// Retention 1 h, and the consumer is down 2 h: every mailbox with a change
/// committed in the first hour of the downtime has an expired cursor.
fn expiry(mailboxes: u32) -> String {
    format!(
        "name = \"expiry\"\nseed = 10\nhorizon = \"12h\"\ndrain = \"1h\"\n\n[source]\nmailboxes = {mailboxes}\nmessages_per_day = 400\npage_size = 20\nretention = \"1h\"\napi_latency = \"100ms\"\n\n[consumer]\nstrategy = \"poll\"\npoll_interval = \"5m\"\n\n[[faults]]\nkind = \"consumer_crash\"\nat = \"4h\"\nfor = \"2h\"\n"
    )
}

#[test]
fn expired_cursor_triggers_one_resync_sized_by_the_mailbox() {
    let text = expiry(30);
    let l = logs(&text);
    let (crash, restart) = (4 * 3_600_000_000u64, 6 * 3_600_000_000u64);
    let retention = 3_600_000_000u64;
    // The first poll after the restart (at 6 h exactly: deferred polls
    // fire then) finds the oldest unconsumed change committed after the
    // last pre-crash poll; with 400/day (one per 3.6 min) nearly every
    // mailbox has one before 5 h. The snapshot is taken at 6 h.
    let (mut want_resyncs, mut want_pages) = (0, 0);
    for m in 0..l.mailboxes() {
        let log = l.whole(m);
        let expired = log
            .iter()
            .any(|c| c.at.0 >= crash && c.at.0 < restart - retention);
        if expired {
            want_resyncs += 1;
            let visible = log.partition_point(|c| c.at.0 <= restart);
            let mut alive = std::collections::BTreeMap::new();
            for c in &log[..visible] {
                alive.insert(c.msg, c.version & (1 << 31) == 0);
            }
            let live = alive.values().filter(|a| **a).count() as u64;
            want_pages += live.div_ceil(20).max(1);
        }
    }
    let r = run(&text);
    assert!(want_resyncs >= 25, "{want_resyncs}");
    assert_eq!(
        r.requests.resyncs, want_resyncs,
        "exactly one resync per expired mailbox"
    );
    assert_eq!(r.requests.expired, want_resyncs);
    assert_eq!(
        r.requests.resync, want_pages,
        "pages = sum of ceil(live messages / 20)"
    );
    assert_eq!(r.changes.lost, 0);
    assert_eq!(r.consistency.divergent_messages, 0);
    assert!(r.changes.first_seen_by.resync > 0);
}
