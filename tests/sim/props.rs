//! Property: no *valid* scenario panics. Random scenarios across presets ×
//! strategies × cursor kinds × polling styles × every fault kind × small
//! sizes × seeds must load, run to the end, and give reports whose counts
//! add up. `PROPTEST_CASES` raises the case count for a longer hunt.

use proptest::prelude::*;
use proptest::test_runner::Config;

const PRESETS: [&str; 8] = [
    "nylas", "svix", "stripe", "shopify", "github", "msgraph", "gmail", "custom",
];
const CURSORS: [&str; 4] = [
    "sequence",
    "timestamp",
    "timestamp_inclusive",
    "timestamp_id",
];

/// A duration string of `s` seconds.
fn d(s: u64) -> String {
    format!("{s}s")
}

/// One `[[faults]]` table of kind `k` (0..9), windowed at `at` for `len`
/// seconds and/or with probability `p`, valid for a webhook scenario when
/// `hooks` (the other kinds are dropped otherwise).
fn fault(k: u8, at: u64, len: u64, p: f64, windowed: bool, hooks: bool) -> Option<String> {
    let window = format!("at = \"{}\"\nfor = \"{}\"\n", d(at), d(len));
    let w_or_p = if windowed {
        window.clone()
    } else {
        format!("probability = {p}\n")
    };
    let t = match k {
        0 if hooks => format!(
            "kind = \"endpoint_outage\"\nmode = \"{}\"\n{w_or_p}",
            ["refused", "503", "hang"][(at % 3) as usize]
        ),
        1 if hooks => format!(
            "kind = \"drop\"\nwhat = \"{}\"\n{w_or_p}mailboxes = 0.5\n",
            ["request", "response"][(at % 2) as usize]
        ),
        2 if hooks => format!("kind = \"duplicate\"\n{w_or_p}"),
        3 if hooks => format!(
            "kind = \"reorder\"\nmax_delay = \"{}\"\n{w_or_p}",
            d(1 + len)
        ),
        4 => format!("kind = \"consumer_crash\"\n{window}"),
        5 => format!("kind = \"source_outage\"\n{window}"),
        6 => format!(
            "kind = \"rate_squeeze\"\nfactor = {}\n{window}",
            0.05 + p * 0.9
        ),
        7 if hooks => format!(
            "kind = \"slow_consumer\"\nfactor = {}\n{window}",
            1.5 + p * 20.0
        ),
        8 if hooks => format!(
            "kind = \"bursty_loss\"\np_good_to_bad = {}\np_bad_to_good = {}\nloss_bad = 0.8\n",
            p * 0.2,
            0.1 + p * 0.5
        ),
        _ => return None,
    };
    Some(format!("\n[[faults]]\n{t}"))
}

prop_compose! {
    /// A random valid scenario's TOML text, its strategy drawn from
    /// `strategies` (0 poll, 1 webhook, 2 hybrid).
    fn scenario_text(strategies: std::ops::Range<u8>)(
        seed in 0u64..1_000_000,
        strategy in strategies,
        preset in 0usize..PRESETS.len(),
        thin in any::<bool>(),
        mailboxes in 1u32..40,
        per_day in 0.0f64..400.0,
        horizon_h in 1u64..30,
        drain_m in 0u64..180,
        spread in 0u8..3,
        office in any::<bool>(),
        cursor in 0usize..CURSORS.len(),
        granular in any::<bool>(),
        delay in any::<bool>(),
        retention_h in prop::option::of(1u64..12),
        page in 1u32..300,
        limited in any::<bool>(),
        burst in prop::option::of((0u64..3600, 1u32..500)),
        style in 0u8..4,
        interval_s in 10u64..3600,
        ack_inline in any::<bool>(),
        memory in any::<bool>(),
        workers in 1u32..8,
        dedup in 0usize..3,
        failure in 0.0f64..0.3,
        inbound in prop::option::of(1u32..50),
        watermark in any::<bool>(),
        faults in prop::collection::vec((0u8..9, 0u64..36_000, 1u64..7_200, 0.0f64..1.0, any::<bool>()), 0..4),
    ) -> String {
        let horizon = horizon_h * 3600;
        let hooks = strategy != 0;
        let mut t = format!(
            "name = \"prop\"\nseed = {seed}\nhorizon = \"{}\"\ndrain = \"{}\"\n\n[source]\nmailboxes = {mailboxes}\nmessages_per_day = {per_day}\npage_size = {page}\ncursor = \"{}\"\napi_latency = {{ dist = \"lognormal\", median = \"80ms\", p99 = \"900ms\" }}\n",
            d(horizon), d(drain_m * 60), CURSORS[cursor]
        );
        t += match spread {
            0 => "",
            1 => "spread = { dist = \"lognormal\", sigma = 1.2 }\n",
            _ => "spread = { dist = \"pareto\", alpha = 1.3 }\n",
        };
        if office {
            t += "diurnal = \"office\"\n";
        }
        if granular {
            t += "timestamp_granularity = \"1s\"\n";
        }
        if delay {
            t += "commit_delay = { dist = \"uniform\", min = \"0s\", max = \"30s\" }\n";
        }
        if let Some(h) = retention_h {
            t += &format!("retention = \"{h}h\"\n");
        }
        if limited && seed % 2 == 0 {
            t += "rate_limit = { per_mailbox_per_s = 0.05, per_mailbox_burst = 2, global_per_s = 5 }\n";
        } else if limited {
            t += "rate_limit = { per_mailbox_per_s = 0.05, per_mailbox_burst = 2 }\n";
        }
        if let Some((at, n)) = burst {
            t += &format!(
                "\n[[source.bursts]]\nat = \"{}\"\nmailboxes = {}\nmessages = {n}\nover = \"1m\"\n",
                d(at.min(horizon - 1)),
                mailboxes.min(3)
            );
        }
        if hooks {
            t += &format!("\n[webhooks]\npreset = \"{}\"\n", PRESETS[preset]);
            if PRESETS[preset] == "custom" {
                t += "timeout = \"5s\"\nretries = [\"30s\", \"5m\"]\n";
            }
            if thin || PRESETS[preset] == "custom" {
                t += &format!("payload = \"{}\"\n", if thin { "thin" } else { "full" });
            }
        }
        t += &format!(
            "\n[consumer]\nstrategy = \"{}\"\n",
            ["poll", "webhook", "hybrid"][strategy as usize]
        );
        match style {
            0 => t += &format!("poll_interval = \"{}\"\npoll_jitter = \"5s\"\n", d(interval_s)),
            1 => t += &format!("poll_interval = \"{}\"\nif_none_match = true\n", d(interval_s)),
            2 => t += &format!("adaptive = {{ min = \"10s\", max = \"{}\", factor = 2 }}\n", d(interval_s.max(11))),
            _ if CURSORS[cursor] == "sequence" => {
                t += &format!("poll_interval = \"{}\"\nlong_poll = \"30s\"\n", d(interval_s))
            }
            _ => t += &format!("poll_interval = \"{}\"\n", d(interval_s)),
        }
        if hooks {
            t += &format!(
                "ack = \"{}\"\nqueue = \"{}\"\nworkers = {workers}\ndedup = \"{}\"\nprocessing_failure = {failure}\nhandler_time = {{ dist = \"lognormal\", median = \"20ms\", p99 = \"2s\" }}\n",
                if ack_inline { "inline" } else { "queue_first" },
                if memory { "memory" } else { "durable" },
                ["none", "event_id", "version"][dedup],
            );
            if let Some(per_s) = inbound {
                t += &format!("inbound_rate_limit = {{ per_s = {per_s} }}\n");
            }
        }
        if strategy == 2 {
            t += &format!("reconcile_every = \"{}\"\n", d(interval_s.max(60)));
            t += if watermark {
                "lookback = \"watermark\"\n"
            } else {
                "lookback = \"1h\"\n"
            };
        }
        for (k, at, len, p, windowed) in faults {
            if let Some(f) = fault(k, at.min(horizon - 1), len, p, windowed, hooks) {
                t += &f;
            }
        }
        t
    }
}

proptest! {
    #![proptest_config(config(500))]

    #[test]
    fn no_valid_scenario_panics(text in scenario_text(0..3)) {
        let s = parse(&text);
        let r = syncsim::run(&s);
        let c = &r.changes;
        // Every generated change is applied or lost, never both or neither.
        prop_assert!(c.applied + c.lost == c.generated, "{text}\n{c:?}");
        let by = &c.first_seen_by;
        prop_assert_eq!(by.webhook + by.poll + by.reconcile + by.resync, c.applied, "{}", text);
        prop_assert!(r.requests.total >= r.requests.poll + r.requests.reconcile, "{text}");
    }
}

proptest! {
    #![proptest_config(config(200))]

    /// Running each mailbox's polls ahead of the queue (the event engine's
    /// shortcut for polling runs) gives the report the queue gives, byte
    /// for byte, event count included, under every fault, cursor kind,
    /// polling style and per-mailbox rate limit the generator writes.
    #[test]
    fn running_polls_ahead_changes_no_report(text in scenario_text(0..1)) {
        let s = parse(&text);
        let ahead = syncsim::engine::des::run(&s);
        let queued = syncsim::engine::des::run_in_queue_order(&s);
        prop_assert_eq!(&ahead.digest, &queued.digest, "{}", text);
        prop_assert_eq!(ahead.engine.events, queued.engine.events, "{}", text);
    }
}

proptest! {
    #![proptest_config(config(60))]

    /// A run that streams its traffic (logs generated on demand, trimmed
    /// every six hours behind what anyone may still touch, verdicts folded as
    /// changes are trimmed) gives the report of a run that keeps every log
    /// whole, byte for byte, for every strategy, preset, cursor kind,
    /// polling style and fault the generator writes, over horizons
    /// stretched to up to ~4 days (so that retries, endpoint-disable
    /// windows, outages and lookbacks span many trims). A mark set too far
    /// panics (a reader asks for a trimmed change); a verdict folded too
    /// early changes the digest.
    #[test]
    fn streaming_traffic_changes_no_report(text in scenario_text(0..3), stretch in 1u64..4) {
        let text = stretch_horizon(&text, stretch);
        let s = parse(&text);
        let streamed = syncsim::engine::des::run_retained(&s).0;
        let whole = syncsim::engine::des::run_whole_logs(&s);
        prop_assert_eq!(
            serde_json::to_string(&streamed).unwrap(),
            serde_json::to_string(&whole).unwrap(),
            "{}", text
        );
    }
}

/// `cases` cases (or `PROPTEST_CASES`), nothing persisted.
fn config(cases: u32) -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(cases),
        failure_persistence: None,
        ..Config::default()
    }
}

/// A scenario the generator wrote (which must be valid).
fn parse(text: &str) -> syncsim::scenario::Scenario {
    syncsim::scenario::parse(text, "prop.toml", syncsim::scenario::Format::Toml)
        .unwrap_or_else(|e| panic!("the generator wrote an invalid scenario: {e}\n{text}"))
}

/// `text` with its horizon multiplied by `k` (the generator's horizons
/// are 1 to 30 hours).
fn stretch_horizon(text: &str, k: u64) -> String {
    let mut out = String::new();
    for line in text.lines() {
        match line
            .strip_prefix("horizon = \"")
            .and_then(|r| r.strip_suffix("s\""))
            .and_then(|n| n.parse::<u64>().ok())
        {
            Some(secs) => out += &format!("horizon = \"{}s\"\n", secs * k),
            None => {
                out += line;
                out.push('\n');
            }
        }
    }
    out
}
