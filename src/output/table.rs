//! The readable summary of one report, for a terminal.

use crate::metrics::{LatencyStats, Report};
use std::fmt::Write;

fn opt(x: Option<f64>) -> String {
    x.map_or("-".into(), fmt_ms)
}

/// Milliseconds as a short human string: `812ms`, `2.5s`, `2.4m`, `1.3h`.
pub fn fmt_ms(ms: f64) -> String {
    if ms < 1_000.0 {
        format!("{ms:.0}ms")
    } else if ms < 60_000.0 {
        format!("{:.1}s", ms / 1e3)
    } else if ms < 3_600_000.0 {
        format!("{:.1}m", ms / 6e4)
    } else {
        format!("{:.1}h", ms / 3.6e6)
    }
}

/// An amount of money for a person: two decimals below 1,000, then
/// three significant digits with a suffix (`12.34`, `4.57K`, `1.20M`).
pub fn fmt_money(x: f64) -> String {
    if x.abs() < 1e3 {
        format!("{x:.2}")
    } else {
        fmt_count(x)
    }
}

/// A count for a person, three significant digits with a suffix:
/// `288`, `46.1K`, `1.44M`, `2.88B`.
pub fn fmt_count(x: f64) -> String {
    let a = x.abs();
    let (v, suffix) = if a < 1e3 {
        return format!("{x:.0}");
    } else if a < 1e6 {
        (x / 1e3, "K")
    } else if a < 1e9 {
        (x / 1e6, "M")
    } else {
        (x / 1e9, "B")
    };
    let digits = if v.abs() >= 99.95 {
        0
    } else if v.abs() >= 9.995 {
        1
    } else {
        2
    };
    format!("{v:.digits$}{suffix}")
}

fn latency_row(out: &mut String, name: &str, s: &LatencyStats) {
    if s.count == 0 {
        return;
    }
    let _ = writeln!(
        out,
        "  {name:<10} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        s.count,
        opt(s.mean),
        opt(s.p50),
        opt(s.p90),
        opt(s.p99),
        opt(s.p999),
        opt(s.max)
    );
}

/// Renders a report as a short table.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let q = &r.requests;
    let c = &r.changes;
    let sim = &r.simulated;
    let pct = |a: u64, b: u64| {
        if b == 0 {
            0.0
        } else {
            a as f64 * 100.0 / b as f64
        }
    };
    let _ = writeln!(
        out,
        "scenario {}  seed {}  digest {}",
        r.scenario, r.seed, r.digest
    );
    let _ = writeln!(
        out,
        "{} mailboxes, strategy {}, horizon {} + drain {} ({} days)",
        sim.mailboxes, sim.strategy, sim.horizon, sim.drain, sim.days
    );
    let cap = &r.capacity;
    let _ = writeln!(
        out,
        "capacity   source  peak {:>6} req/s   {:>7} requests/day   {:>7} per 30-day month   rate-limited {}",
        cap.source_peak_rps,
        fmt_count(cap.source_requests_per_day),
        fmt_count(cap.source_requests_per_month),
        cap.source_rate_limited
    );
    if r.webhooks.is_some() {
        let _ = writeln!(
            out,
            "           inbound peak {:>6} req/s   {:>7} deliveries/day {:>7} per 30-day month   rate-limited {}",
            cap.inbound_peak_rps,
            fmt_count(cap.inbound_per_day),
            fmt_count(cap.inbound_per_month),
            cap.inbound_rate_limited
        );
    }
    if let Some(cost) = &r.cost {
        let _ = writeln!(
            out,
            "cost       {} {} per 30-day month ({} per mailbox): requests {}, deliveries {}, workers {} ({} worker-hours)",
            fmt_money(cost.month),
            cost.currency,
            fmt_money(cost.per_mailbox_month),
            fmt_money(cost.requests_month),
            fmt_money(cost.deliveries_month),
            fmt_money(cost.workers_month),
            fmt_count(cost.worker_hours_month)
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "changes    generated {:>10}  applied {:>10}  lost {:>8}  loss rate {:.4}%",
        c.generated,
        c.applied,
        c.lost,
        c.loss_rate * 100.0
    );
    if !c.lost_sample.is_empty() {
        let first: Vec<String> = c
            .lost_sample
            .iter()
            .take(3)
            .map(|l| format!("{}:{} ({})", l.mailbox, l.message, l.cause.name()))
            .collect();
        let _ = writeln!(
            out,
            "  first lost (mailbox:message): {}  -> `syncsim trace FILE --lost`",
            first.join(", ")
        );
    }
    if let Some(s) = c.slowest.first() {
        let _ = writeln!(
            out,
            "  slowest: {}:{} applied {} after its commit, by {}  -> `syncsim trace FILE --worst 5`",
            s.mailbox,
            s.message,
            fmt_ms(s.lag_ms),
            s.path
        );
    }
    let _ = writeln!(
        out,
        "requests   total {:>14}  per mailbox-day {:>9.1}  peak {} rps",
        q.total, q.per_mailbox_day, q.peak_rps
    );
    if q.poll > 0 {
        let _ = writeln!(
            out,
            "  poll {}  (cycles {}, {:.1} per mailbox-day; empty {:.1}%)",
            q.poll,
            q.poll_cycles,
            q.poll_cycles_per_mailbox_day,
            pct(q.poll_empty, q.poll)
        );
    }
    if q.fetch > 0 {
        let _ = writeln!(out, "  fetch {} (thin payloads)", q.fetch);
    }
    let _ = writeln!(
        out,
        "  rate-limited {}  errors {}",
        q.rate_limited, q.errors
    );
    if let Some(u) = &r.quota {
        let peak = |label: &str, f: Option<f64>| {
            f.map(|f| format!("  {label} peak {:.1}%", f * 100.0))
                .unwrap_or_default()
        };
        let _ = writeln!(
            out,
            "quota      {}: {} units, refused {}{}{}{}{}",
            u.preset,
            u.units,
            u.rate_limited,
            peak("mailbox window", u.mailbox_window_peak_fraction),
            peak("project window", u.project_window_peak_fraction),
            peak("day", u.daily_peak_fraction),
            peak("concurrency", u.concurrent_peak_fraction)
        );
    }
    if let Some(w) = &r.webhooks {
        let _ = writeln!(
            out,
            "webhooks   {}: {} notifications, {} attempts, delivered {}, failed attempts {}, abandoned {}, skipped while disabled {}",
            w.preset, w.notifications, w.attempts, w.delivered, w.failed_attempts, w.abandoned, w.skipped_disabled
        );
        let _ = writeln!(
            out,
            "  duplicates {}  redundant {}  endpoint disabled {:.0}s  inbound {} (refused {}, 429 {}, peak {} rps)",
            w.duplicates,
            w.redundant,
            w.endpoint_disabled_for,
            w.inbound_requests,
            w.inbound_refused,
            w.inbound_rate_limited,
            w.inbound_peak_rps
        );
    }
    if let Some(qu) = &r.queue {
        let _ = writeln!(
            out,
            "queue      max depth {}  dead-lettered {}  lost in crash {}  processing failures {}",
            qu.max_depth, qu.dead_lettered, qu.lost_in_crash, qu.processing_failures
        );
    }
    let f = &r.faults;
    if *f != Default::default() {
        let _ = writeln!(
            out,
            "faults     outage hits {}  dropped requests {}  dropped responses {}  duplicated {}  reordered {}  crashes {}",
            f.endpoint_outage_hits, f.dropped_requests, f.dropped_responses, f.duplicated, f.reordered, f.consumer_crashes
        );
    }
    let _ = writeln!(
        out,
        "\nlatency    {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "changes", "mean", "p50", "p90", "p99", "p999", "max"
    );
    let l = &r.latency_ms;
    latency_row(&mut out, "all", &l.all);
    latency_row(&mut out, "webhook", &l.webhook);
    latency_row(&mut out, "poll", &l.poll);
    latency_row(&mut out, "reconcile", &l.reconcile);
    let k = &r.consistency;
    let _ = writeln!(
        out,
        "\nconsistency  divergent messages {}  mailboxes {}  stale overwrites {}  applied twice {}",
        k.divergent_messages, k.divergent_mailboxes, k.stale_overwrites, k.applied_twice
    );
    let _ = writeln!(out, "engine       {} events", r.engine.events);
    if let Some(l) = &r.live {
        let statuses: Vec<String> = l
            .http_status
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let _ = writeln!(
            out,
            "live         {}x, {:.1} s wall; {} deliveries sent ({:.1}/s), {} late, {:.0} ms behind at most; {} API requests",
            l.speed, l.wall_secs, l.deliveries_sent, l.deliveries_per_s, l.late_deliveries,
            l.behind_schedule_max_ms, l.api_requests
        );
        let _ = writeln!(
            out,
            "  endpoint answers: {}{}",
            if statuses.is_empty() {
                "none".to_string()
            } else {
                statuses.join(", ")
            },
            if l.unknown_in_replica > 0 {
                format!(
                    "; {} replica entries for messages the source never had",
                    l.unknown_in_replica
                )
            } else {
                String::new()
            }
        );
    }
    out
}

/// The webhook presets as a table: attempts, retry delays, span, timeout,
/// payload, concurrency and health rule.
pub fn presets() -> String {
    use crate::model::presets::{preset, PRESETS};
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:>8}  {:<44} {:>10} {:>7}  {:<5} {:>9}  health",
        "preset", "attempts", "retry delays", "span", "timeout", "body", "in flight"
    );
    for name in PRESETS {
        let c = preset(name).expect("listed presets exist");
        let mut delays: Vec<String> = c.retries.iter().take(12).map(|d| d.to_string()).collect();
        if c.retries.len() > 12 {
            // gmail's fitted Pub/Sub backoff has 149 steps: show the shape.
            delays.truncate(7);
            delays.push(format!("... ({} in all)", c.retries.len()));
        }
        let delays = if delays.is_empty() {
            "none".to_string()
        } else {
            delays.join(" ")
        };
        let health = match c.health {
            Some(h) => format!(
                "failing at {:.0}% over {}, disabled after {}",
                h.failing_ratio * 100.0,
                h.window,
                h.disable_after
            ),
            None => "never disabled".into(),
        };
        let _ = writeln!(
            out,
            "{:<8} {:>8}  {:<44} {:>10} {:>7}  {:<5} {:>9}  {}",
            name,
            c.attempts(),
            delays,
            c.retry_span().to_string(),
            c.timeout.to_string(),
            format!("{:?}", c.payload).to_lowercase(),
            c.max_in_flight,
            health
        );
    }
    out.push_str(&origins());
    out.push_str(&quotas());
    out
}

/// The quota presets (`[source] quota`): each limit, the per-call
/// weights, and where the figures come from.
pub fn quotas() -> String {
    use crate::model::quota::{quota_origins, quota_preset, QUOTA_PRESETS};
    let mut out =
        String::from("\nquota presets ([source] quota; windows are fixed, from time zero)\n");
    let _ = writeln!(
        out,
        "{:<8} {:<22} {:<22} {:<10}  units per list/fetch/subscribe",
        "quota", "per mailbox", "per project", "per day"
    );
    for name in QUOTA_PRESETS.iter().filter(|n| **n != "custom") {
        let q = quota_preset(name).expect("listed quota presets exist");
        let window = |w: Option<crate::model::quota::WindowLimit>| {
            w.map_or("none".to_string(), |w| {
                format!("{} / {}", w.limit, w.length)
            })
        };
        let _ = writeln!(
            out,
            "{:<8} {:<22} {:<22} {:<10}  {}/{}/{}",
            name,
            window(q.per_mailbox),
            window(q.per_project),
            q.daily.map_or("none".to_string(), |d| d.to_string()),
            q.weights.list,
            q.weights.fetch,
            q.weights.subscribe
        );
    }
    let _ = writeln!(out, "\nwhere the quota figures come from:");
    for (name, figure, origin) in quota_origins() {
        let _ = writeln!(out, "  {name:<8} {figure}: {origin}");
    }
    out
}

/// Where each preset's figures come from: published (with the source),
/// fitted (syncsim's values matching a published total or shape) or
/// assumed (syncsim's default).
pub fn origins() -> String {
    use crate::model::presets::{origins, Origin, FIELDS, PRESETS};
    let mut out = String::from(
        "\nwhere the figures come from (published: the provider's docs say it; fitted: syncsim's values\nmatching what the provider publishes; assumed: syncsim's default):\n",
    );
    for name in PRESETS {
        let Some(o) = origins(name) else { continue };
        let _ = writeln!(out, "{name}");
        let mut published = Vec::new();
        for (field, origin) in FIELDS.iter().zip(o) {
            match origin {
                Origin::Published(src) => published.push(format!("{field} ({src})")),
                Origin::Fitted(why) => {
                    let _ = writeln!(out, "  fitted     {field}: {why}");
                }
                Origin::Assumed => {
                    let _ = writeln!(out, "  assumed    {field}");
                }
            }
        }
        if !published.is_empty() {
            let _ = writeln!(out, "  published  {}", published.join("; "));
        }
    }
    out
}

/// Threshold results, one line each (empty when there are none).
pub fn checks(results: &[crate::scenario::CheckResult]) -> String {
    if results.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nthresholds\n");
    for r in results {
        let _ = writeln!(
            out,
            "  {}  {} {}  (got {})",
            if r.pass { "pass" } else { "FAIL" },
            r.path,
            r.condition.brief(&r.path),
            r.got_brief()
        );
    }
    out
}
