//! Paging: a poll pages until `has_more` is false. The API computes
//! `has_more` exactly, so 1,000 changes at page size 200 cost 5 pages, with
//! no final empty page.

use crate::common::run;

fn burst(messages: u32, page_size: u32) -> String {
    format!(
        "name = \"burst\"\nseed = 5\nhorizon = \"1d\"\n\n[source]\nmailboxes = 1\nmessages_per_day = 0\npage_size = {page_size}\napi_latency = \"100ms\"\n\n[[source.bursts]]\nat = \"3h\"\nmailboxes = 1\nmessages = {messages}\n\n[consumer]\nstrategy = \"poll\"\npoll_interval = \"5m\"\n"
    )
}

#[test]
fn burst_of_1000_at_page_size_200_costs_5_pages() {
    let r = run(&burst(1000, 200));
    let q = &r.requests;
    // 288 cycles; the one after the burst takes 5 pages, all others 1 (empty).
    assert_eq!(q.poll_cycles, 288);
    assert_eq!(
        q.poll - q.poll_cycles,
        4,
        "extra pages beyond one per cycle"
    );
    assert_eq!(q.poll_empty, q.poll_cycles - 1);
    assert_eq!(r.changes.generated, 1000);
    assert_eq!(r.changes.lost, 0);
    assert_eq!(r.consistency.divergent_messages, 0);
    // Pages follow each other after one 100 ms round trip each.
    let max_ms = r.latency_ms.all.max.unwrap();
    assert!(max_ms <= 300_000.0 + 5.0 * 100.0 + 1.0, "max {max_ms}");
}

#[test]
fn pages_are_ceil_of_changes_over_page_size() {
    for (messages, page, pages) in [(1000, 1000, 1), (1001, 200, 6), (199, 200, 1), (450, 50, 9)] {
        let r = run(&burst(messages, page));
        assert_eq!(
            r.requests.poll - r.requests.poll_cycles,
            pages - 1,
            "{messages} at {page}"
        );
        assert_eq!(r.changes.lost, 0);
    }
}
