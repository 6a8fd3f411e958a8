//! Measurement: counters, latency histograms and the busiest second,
//! collected while the run goes, in memory that does not grow with the
//! number of events or requests. [`report`] turns them into the report.

pub mod report;

pub mod assemble;

pub mod units;

use crate::engine::time::{SimDuration, SimTime, MICROS_PER_SEC};
pub use assemble::Path;
use hdrhistogram::Histogram;

pub use report::{LatencyStats, Report};

/// Latencies of one delivery path: an HdrHistogram (3 significant digits)
/// for percentiles, plus an exact sum for the mean.
#[derive(Clone, Debug)]
pub struct LatencyRecorder {
    hist: Histogram<u64>,
    sum_us: u128,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        LatencyRecorder {
            // 1 µs to 2^42 µs (~50 days), fixed size; longer values saturate.
            hist: Histogram::new_with_bounds(1, 1 << 42, 3).expect("valid histogram bounds"),
            sum_us: 0,
        }
    }
}

impl LatencyRecorder {
    /// Records one latency.
    #[inline]
    pub fn record(&mut self, d: SimDuration) {
        self.hist.saturating_record(d.0);
        self.sum_us += d.0 as u128;
    }

    /// Adds every sample `other` recorded (same bounds: exact).
    pub fn add(&mut self, other: &LatencyRecorder) {
        self.hist
            .add(&other.hist)
            .expect("latency recorders share their bounds");
        self.sum_us += other.sum_us;
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// Summary in milliseconds (`None` fields when there are no samples).
    pub fn stats(&self) -> LatencyStats {
        let n = self.hist.len();
        let ms = |us: u64| Some(us as f64 / 1_000.0);
        if n == 0 {
            return LatencyStats::default();
        }
        LatencyStats {
            count: n,
            mean: Some(round3(self.sum_us as f64 / n as f64 / 1_000.0)),
            p50: ms(self.hist.value_at_quantile(0.5)),
            p90: ms(self.hist.value_at_quantile(0.9)),
            p99: ms(self.hist.value_at_quantile(0.99)),
            p999: ms(self.hist.value_at_quantile(0.999)),
            max: ms(self.hist.max()),
            extra: std::collections::BTreeMap::new(),
        }
    }

    /// [`Self::stats`] plus the percentiles `extra` names (leaf name ->
    /// percent, e.g. `p95` -> 95), read from the same histogram.
    pub fn stats_with(&self, extra: &std::collections::BTreeMap<String, f64>) -> LatencyStats {
        let mut s = self.stats();
        for (leaf, pct) in extra {
            let v = (!self.hist.is_empty())
                .then(|| self.hist.value_at_quantile(pct / 100.0) as f64 / 1_000.0);
            s.extra.insert(leaf.clone(), v);
        }
        s
    }
}

/// Rounds to three decimals so reports do not carry float noise.
pub fn round3(x: f64) -> f64 {
    (x * 1_000.0).round() / 1_000.0
}

/// Requests per virtual second, tracking only the busiest second so far.
///
/// Requests are counted in time order, except that a driver may count a
/// request up to [`PeakRate::AHEAD`] ahead of the others (the event engine
/// runs an independent mailbox's polls ahead of time): the counts of the
/// last `SPAN` seconds stay open in a ring, and a second is folded into the
/// peak once a request `SPAN` seconds later is counted.
#[derive(Clone, Debug, Default)]
pub struct PeakRate {
    /// The latest second counted.
    latest: u64,
    /// Counts of seconds `latest - SPAN + 1 ..= latest`, at `second % SPAN`
    /// (allocated at the first request).
    ring: Vec<u32>,
    /// The busiest second folded so far.
    peak: u64,
}

/// Seconds a [`PeakRate`] keeps open.
const SPAN: u64 = 1 << 16;

impl PeakRate {
    /// How far ahead of the latest request another may be counted
    /// (18 hours): any request counted later must be at most this much
    /// before the latest one.
    pub const AHEAD: SimDuration = SimDuration((SPAN - 2) * MICROS_PER_SEC);

    /// Counts one request at `now`.
    #[inline(always)]
    pub fn hit(&mut self, now: SimTime) {
        let s = now.0 / MICROS_PER_SEC;
        // A second already open (most hits: polls run ahead behind the
        // furthest one) is a single increment.
        if s <= self.latest {
            if let Some(c) = self.ring.get_mut((s % SPAN) as usize) {
                debug_assert!(s + SPAN > self.latest, "counted too far behind");
                *c += 1;
                return;
            }
        }
        self.hit_new(s);
    }

    /// [`PeakRate::hit`] in second `s`: the first hit, or one past the
    /// latest second (which closes the seconds leaving the window).
    #[inline(never)]
    fn hit_new(&mut self, s: u64) {
        if self.ring.is_empty() {
            self.ring = vec![0; SPAN as usize];
        }
        if s > self.latest {
            // Seconds leaving the window are final.
            for second in (self.latest + 1)..=s.min(self.latest + SPAN) {
                let slot = &mut self.ring[(second % SPAN) as usize];
                self.peak = self.peak.max(*slot as u64);
                *slot = 0;
            }
            self.latest = s;
        }
        debug_assert!(s + SPAN > self.latest, "counted too far behind");
        self.ring[(s % SPAN) as usize] += 1;
    }

    /// The most requests seen in one second.
    pub fn peak(&self) -> u64 {
        self.ring
            .iter()
            .map(|&c| c as u64)
            .max()
            .unwrap_or(0)
            .max(self.peak)
    }
}

/// Counters of one run.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    /// Every request the source received.
    pub requests: u64,
    /// List requests of the poller (one per page, retries included).
    pub poll: u64,
    /// Poll requests answered with an empty page.
    pub poll_empty: u64,
    /// Poll cycles started.
    pub poll_cycles: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// 5xx answers.
    pub errors: u64,
    /// Deliveries of an already-applied change that were processed again.
    pub applied_twice: u64,
    /// Older versions written over newer ones.
    pub stale_overwrites: u64,
    /// Resync (snapshot) page requests.
    pub resync: u64,
    /// Full resyncs completed.
    pub resyncs: u64,
    /// "Cursor expired" answers.
    pub expired: u64,
    /// Changes first applied by a resync.
    pub first_by_resync: u64,
    /// Poll or reconcile deliveries of changes already applied (skipped).
    pub redelivered: u64,
    /// Reconciler list requests.
    pub reconcile: u64,
    /// 304 answers to conditional polls.
    pub not_modified: u64,
    /// Subscription renewals sent (Graph subscription PATCH, Gmail watch).
    pub renew: u64,
    /// Subscriptions created again after one expired.
    pub subscribe: u64,
    /// Subscription calls that failed (5xx, `renewal_failure`).
    pub renew_failed: u64,
    /// Lifecycle notifications the provider sent.
    pub lifecycle_sent: u64,
    /// Lifecycle notifications the consumer received.
    pub lifecycle: u64,
    /// Catch-up list requests after lifecycle notifications.
    pub catch_up: u64,
}

/// How many of the slowest changes a report lists (`changes.slowest`).
pub const SLOWEST_IN_REPORT: usize = 10;

/// One change's first application, as [`Slowest`] keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slow {
    /// Commit to first application.
    pub lag: SimDuration,
    /// Mailbox.
    pub mailbox: u32,
    /// The change's sequence number in its mailbox's log.
    pub seq: u32,
    /// The message it changed (kept here: the change itself may be
    /// trimmed from the log before the report is assembled).
    pub msg: u32,
    /// The path that applied it first.
    pub path: Path,
}

/// The `k` slowest first applications so far, slowest first (ties: by
/// mailbox, then sequence number, so the list does not depend on the
/// order in which mailboxes were run). Fixed size; one comparison per
/// apply once full.
#[derive(Clone, Debug)]
pub struct Slowest {
    k: usize,
    items: Vec<Slow>,
}

impl Default for Slowest {
    fn default() -> Self {
        Slowest::new(SLOWEST_IN_REPORT)
    }
}

impl Slowest {
    /// Keeps the `k` slowest.
    pub fn new(k: usize) -> Self {
        Slowest {
            k,
            items: Vec::with_capacity(k + 1),
        }
    }

    /// Offers one first application.
    #[inline]
    pub fn offer(&mut self, s: Slow) {
        let key = |x: &Slow| (std::cmp::Reverse(x.lag), x.mailbox, x.seq);
        if self.items.len() == self.k && self.items.last().is_none_or(|l| key(&s) >= key(l)) {
            return;
        }
        let at = self.items.partition_point(|i| key(i) < key(&s));
        self.items.insert(at, s);
        self.items.truncate(self.k);
    }

    /// The slowest, slowest first.
    pub fn items(&self) -> &[Slow] {
        &self.items
    }
}

/// Everything measured during a run.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    /// Counters.
    pub counters: Counters,
    /// Busiest second at the source.
    pub source_rps: PeakRate,
    /// Latency of changes first applied by the poller.
    pub latency_poll: LatencyRecorder,
    /// Latency of changes first applied from a webhook.
    pub latency_webhook: LatencyRecorder,
    /// Latency (time to detection) of changes first applied by reconciliation.
    pub latency_reconcile: LatencyRecorder,
    /// Latency of changes first applied by a resync listing (reported
    /// only within [`Metrics::latency_all`]).
    pub latency_resync: LatencyRecorder,
    /// Events the engine processed.
    pub events: u64,
    /// The slowest first applications.
    pub slowest: Slowest,
}

impl Metrics {
    /// Latency of every first application: the union of the per-path
    /// recorders (each first application is recorded on exactly one path,
    /// so the merged histogram and sum equal recording every one twice).
    pub fn latency_all(&self) -> LatencyRecorder {
        let mut all = LatencyRecorder::default();
        for r in [
            &self.latency_poll,
            &self.latency_webhook,
            &self.latency_reconcile,
            &self.latency_resync,
        ] {
            all.add(r);
        }
        all
    }

    /// Counts one request reaching the source at `now`.
    #[inline]
    pub fn source_request(&mut self, now: SimTime) {
        self.counters.requests += 1;
        self.source_rps.hit(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests counted up to `AHEAD` out of time order give the peak an
    /// in-order count gives: second 10 gets 3 hits (one counted after a
    /// hit 10 hours later), second 20 gets 2; the peak is 3.
    #[test]
    fn peak_rate_takes_hits_ahead_of_time() {
        let s = |x: u64| SimTime(x * MICROS_PER_SEC + 7);
        let mut r = PeakRate::default();
        r.hit(s(10));
        r.hit(s(36_010));
        r.hit(s(10));
        r.hit(s(10));
        r.hit(s(20));
        r.hit(s(20));
        assert_eq!(r.peak(), 3);
        // Seconds 10 and 20 are folded once a hit SPAN seconds on comes.
        r.hit(s(10 + SPAN + 5));
        assert_eq!(r.peak(), 3);
        const { assert!(PeakRate::AHEAD.0 / MICROS_PER_SEC < SPAN) };
    }

    #[test]
    fn slowest_keeps_the_k_largest_in_order() {
        let mut s = Slowest::new(3);
        for (i, ms) in [5u64, 1, 9, 7, 9, 3, 8].iter().enumerate() {
            s.offer(Slow {
                lag: SimDuration::from_millis(*ms),
                mailbox: 0,
                seq: i as u32,
                msg: 0,
                path: Path::Poll,
            });
        }
        let got: Vec<(u64, u32)> = s.items().iter().map(|x| (x.lag.0 / 1_000, x.seq)).collect();
        // 9 (seq 2) before the later 9 (seq 4), then 8; 7 and below dropped.
        assert_eq!(got, [(9, 2), (9, 4), (8, 6)]);
    }

    #[test]
    fn peak_rate_finds_busiest_second() {
        let mut p = PeakRate::default();
        for t in [0, 10, 1_000_000, 1_000_001, 1_500_000, 3_000_000] {
            p.hit(SimTime(t));
        }
        assert_eq!(p.peak(), 3);
    }

    #[test]
    fn latency_mean_is_exact_and_percentiles_close() {
        let mut r = LatencyRecorder::default();
        for ms in 1..=1000u64 {
            r.record(SimDuration::from_millis(ms));
        }
        let s = r.stats();
        assert_eq!(s.count, 1000);
        assert_eq!(s.mean, Some(500.5));
        // Three significant digits: within 0.1% (plus rounding) of the truth.
        let close = |got: Option<f64>, want: f64| (got.unwrap() / want - 1.0).abs() <= 0.002;
        assert!(close(s.p50, 500.0), "{:?}", s.p50);
        assert!(close(s.p99, 990.0), "{:?}", s.p99);
        assert!(close(s.max, 1000.0), "{:?}", s.max);
    }
}
