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
    let _ = writeln!(
        out,
        "scenario {}  seed {}  digest {}\n{} mailboxes, horizon {} + drain {} ({} days)\n",
        r.scenario,
        r.seed,
        r.digest,
        r.simulated.mailboxes,
        r.simulated.horizon,
        r.simulated.drain,
        r.simulated.days
    );
    let _ = writeln!(
        out,
        "changes    generated {:>10}  applied {:>10}  lost {:>8}  loss rate {:.4}%",
        c.generated,
        c.applied,
        c.lost,
        c.loss_rate * 100.0
    );
    let _ = writeln!(
        out,
        "requests   total {:>14}  per mailbox-day {:>9.1}  peak {} rps",
        q.total, q.per_mailbox_day, q.peak_rps
    );
    let _ =
        writeln!(
        out,
        "  poll {}  (cycles {}, {:.1} per mailbox-day; empty {:.1}%)  rate-limited {}  errors {}",
        q.poll,
        q.poll_cycles,
        q.poll_cycles_per_mailbox_day,
        if q.poll == 0 { 0.0 } else { q.poll_empty as f64 * 100.0 / q.poll as f64 },
        q.rate_limited,
        q.errors
    );
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
    out
}
