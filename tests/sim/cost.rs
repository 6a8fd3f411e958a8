//! `[cost]`: money per 30-day month computed from the report's own counts,
//! absent (and every digest unchanged) without prices.

use crate::common::{hook, poll, run, scenario, temp_dir, validate};

const PRICES: &str = "\n[cost]\ncurrency = \"EUR\"\nper_1000_requests = 0.40\nper_1000_by_kind = { fetch = 2.0 }\nper_delivery = 0.001\nper_worker_hour = 0.05\n";

fn close(got: f64, want: f64, what: &str) {
    // Float sums of a handful of terms: equal to 1e-9 relative.
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: got {got}, want {want}"
    );
}

/// 10 mailboxes polled every 5 minutes for one day (no drain): 288 polls
/// per mailbox-day (86,400 s / 300 s), 2,880 requests a day, 86,400 in a
/// 30-day month; at 0.40 per 1,000 that is 34.56 a month, 3.456 per
/// mailbox. A poller has no worker pool: no worker-hours, whatever
/// `consumer.workers` says.
#[test]
fn polling_costs_its_requests_and_nothing_else() {
    let text = poll(10, 20.0, "5m", "1d", "0s", "\"100ms\"")
        .replace("[consumer]\n", "[consumer]\nworkers = 16\n")
        + PRICES;
    let r = run(&text);
    let cost = r.cost.as_ref().expect("priced");
    assert_eq!(cost.currency, "EUR");
    // The report's own count, scaled to 30 days.
    close(
        cost.requests_month,
        r.requests.total as f64 * 30.0 * 0.40 / 1000.0,
        "requests",
    );
    // And the arithmetic: 2,880 a day ± one poll per mailbox at the edges
    // of the day (seeded phases): within 10 / 2,880 = 0.35%.
    assert!(
        (cost.month - 34.56).abs() <= 34.56 * 0.0035,
        "month {}",
        cost.month
    );
    close(cost.per_mailbox_month, cost.month / 10.0, "per mailbox");
    assert_eq!(cost.worker_hours_month, 0.0);
    assert_eq!(cost.workers_month, 0.0);
    assert_eq!(cost.deliveries_month, 0.0);
    close(
        cost.requests_by_kind_month.poll,
        cost.requests_month,
        "all of it is polls",
    );
}

/// A hybrid with thin payloads: every kind at its price. Fetches at 2.0
/// per 1,000 (their own price), reconcile and other requests at 0.40,
/// deliveries received at 0.001 each, 3 workers for 720 hours at 0.05
/// (108.0); each count is the report's, × 30 / 1.25 days (1 d + 6 h).
#[test]
fn hybrid_costs_add_up_from_the_reports_counts() {
    let text = hook(
        20,
        40.0,
        "1d",
        "6h",
        "preset = \"msgraph\"",
        "workers = 3\nreconcile_every = \"30m\"\nlookback = \"1h\"",
        "[[faults]]\nkind = \"endpoint_outage\"\nat = \"5h\"\nfor = \"20m\"\n",
    )
    .replace("strategy = \"webhook\"", "strategy = \"hybrid\"")
        + PRICES;
    let r = run(&text);
    let c = r.cost.as_ref().expect("priced");
    let month = 30.0 / 1.25;
    let q = &r.requests;
    assert!(
        q.fetch > 0 && q.reconcile > 0,
        "thin fetches and reconciles"
    );
    let k = &c.requests_by_kind_month;
    close(k.fetch, q.fetch as f64 * month * 2.0 / 1000.0, "fetch");
    close(
        k.reconcile,
        q.reconcile as f64 * month * 0.4 / 1000.0,
        "reconcile",
    );
    close(k.poll, 0.0, "no polls");
    let other = q.total - q.fetch - q.reconcile - q.poll - q.resync;
    close(k.other, other as f64 * month * 0.4 / 1000.0, "other");
    close(
        c.requests_month,
        k.poll + k.fetch + k.reconcile + k.resync + k.other,
        "requests",
    );
    let inbound = r.webhooks.as_ref().expect("webhooks").inbound_requests;
    assert!(inbound > 0);
    close(
        c.deliveries_month,
        inbound as f64 * month * 0.001,
        "deliveries",
    );
    close(c.worker_hours_month, 3.0 * 720.0, "worker-hours");
    close(c.workers_month, 108.0, "workers");
    close(
        c.month,
        c.requests_month + c.deliveries_month + c.workers_month,
        "total",
    );
    // A threshold names it like any report path.
    let t: syncsim::scenario::Thresholds =
        toml::from_str(&format!("\"cost.month\" = \"< {}\"", c.month + 1.0)).unwrap();
    assert!(r.check(&t).iter().all(|x| x.pass));
    let t: syncsim::scenario::Thresholds =
        toml::from_str(&format!("\"cost.month\" = \"< {}\"", c.month - 1.0)).unwrap();
    assert!(r.check(&t).iter().all(|x| !x.pass));
}

/// Prices change nothing simulated: the report with `[cost]`, its cost
/// section removed, is byte for byte the report without (same digest),
/// and a report without `[cost]` has no `cost` key at all.
#[test]
fn prices_leave_the_simulation_and_its_digest_alone() {
    let plain = poll(5, 30.0, "10m", "6h", "1h", "\"100ms\"");
    let without = run(&plain);
    assert!(without.cost.is_none());
    assert!(!without.to_json().contains("\"cost\""));
    assert_eq!(
        without.digest,
        syncsim::engine::des::run(&scenario(&plain)).digest
    );
    let mut with = run(&(plain + PRICES));
    assert!(with.cost.is_some());
    assert_ne!(with.digest, without.digest, "the digest covers the cost");
    with.cost = None;
    with.seal();
    assert_eq!(with.to_json(), without.to_json());
}

/// A negative price is refused with its key, line and column; a cost
/// threshold without prices is refused by name.
#[test]
fn bad_prices_are_named() {
    let dir = temp_dir("cost-bad");
    let base = poll(5, 30.0, "10m", "6h", "1h", "\"100ms\"");
    let f = dir.join("neg.toml");
    std::fs::write(&f, format!("{base}\n[cost]\nper_delivery = -0.5\n")).unwrap();
    let (code, err) = validate(&f);
    assert_eq!(code, Some(2), "{err}");
    let line = base.lines().count() + 3;
    assert!(err.contains(&format!("neg.toml:{line}:")), "{err}");
    assert!(
        err.contains("cost.per_delivery") && err.contains(">= 0"),
        "{err}"
    );
    let f = dir.join("unpriced.toml");
    std::fs::write(
        &f,
        format!("{base}\n[thresholds]\n\"cost.month\" = \"< 500\"\n"),
    )
    .unwrap();
    let (code, err) = validate(&f);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("thresholds.cost.month") && err.contains("[cost]"),
        "{err}"
    );
}
