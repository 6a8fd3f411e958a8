//! Token buckets in integer arithmetic (nano-tokens), so refills are exact
//! and the same on every machine.

use crate::engine::time::{SimDuration, SimTime};

const NANO: f64 = 1e9;

/// A token bucket's fixed parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BucketParams {
    /// Refill in nano-tokens per microsecond (= tokens per second × 1000).
    per_us: u64,
    /// Capacity in nano-tokens.
    cap: u64,
}

impl BucketParams {
    /// `per_s` tokens per second, holding at most `burst` tokens
    /// (`burst` below 1 is raised to 1 so a request can ever pass).
    pub fn new(per_s: f64, burst: f64) -> Self {
        BucketParams {
            per_us: ((per_s * 1_000.0).round() as u64).max(1),
            cap: (burst.max(1.0) * NANO).round() as u64,
        }
    }
}

impl BucketParams {
    /// These parameters with rate and size multiplied by `f` (a squeeze);
    /// the bucket still holds at least one token.
    #[inline]
    pub fn scaled(&self, f: f64) -> BucketParams {
        if f == 1.0 {
            return *self;
        }
        BucketParams {
            per_us: ((self.per_us as f64 * f).round() as u64).max(1),
            cap: ((self.cap as f64 * f).round() as u64).max(NANO as u64),
        }
    }
}

/// A bucket's changing state: tokens held and when they were counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    tokens: u64,
    last: u64,
}

impl Bucket {
    /// A full bucket.
    pub fn full(p: &BucketParams) -> Self {
        Bucket {
            tokens: p.cap,
            last: 0,
        }
    }

    #[inline(always)]
    fn refill(&mut self, p: &BucketParams, now: SimTime) {
        self.tokens = self.tokens.min(p.cap);
        if now.0 > self.last {
            let add = (now.0 - self.last).saturating_mul(p.per_us);
            self.tokens = self.tokens.saturating_add(add).min(p.cap);
            self.last = now.0;
        }
    }

    /// How long until one token is available (zero if one is now).
    pub fn wait(&mut self, p: &BucketParams, now: SimTime) -> SimDuration {
        self.refill(p, now);
        if self.tokens >= NANO as u64 {
            SimDuration::ZERO
        } else {
            SimDuration((NANO as u64 - self.tokens).div_ceil(p.per_us))
        }
    }

    /// Takes one token; call only after [`Bucket::wait`] returned zero.
    #[inline(always)]
    pub fn take(&mut self) {
        self.tokens -= NANO as u64;
    }
}

/// Per-mailbox and global buckets together: a request passes only if both
/// have a token, and then takes one from each.
#[derive(Clone, Debug, Default)]
pub struct RateLimiter {
    per_mailbox: Option<(BucketParams, Vec<Bucket>)>,
    global: Option<(BucketParams, Bucket)>,
}

impl RateLimiter {
    /// A limiter for `mailboxes`, with optional per-mailbox and global
    /// `(per_s, burst)` limits.
    pub fn new(
        mailboxes: u32,
        per_mailbox: Option<(f64, f64)>,
        global: Option<(f64, f64)>,
    ) -> Self {
        RateLimiter {
            per_mailbox: per_mailbox.map(|(r, b)| {
                let p = BucketParams::new(r, b);
                (p, vec![Bucket::full(&p); mailboxes as usize])
            }),
            global: global.map(|(r, b)| {
                let p = BucketParams::new(r, b);
                (p, Bucket::full(&p))
            }),
        }
    }

    /// True when only per-mailbox buckets limit requests (no global one).
    pub fn per_mailbox_only(&self) -> bool {
        self.global.is_none()
    }

    /// Admits a request from `mailbox` at `now` as [`RateLimiter::admit`]
    /// unsqueezed would, when only a per-mailbox bucket (or none) limits
    /// requests and it has a token: takes it and returns true. Otherwise
    /// changes nothing and returns false.
    #[inline(always)]
    pub fn take_if_ready(&mut self, mailbox: u32, now: SimTime) -> bool {
        if self.global.is_some() {
            return false;
        }
        let Some((p, bs)) = &mut self.per_mailbox else {
            return true;
        };
        let b = &mut bs[mailbox as usize];
        let mut next = *b;
        next.refill(p, now);
        if next.tokens < NANO as u64 {
            return false;
        }
        next.take();
        *b = next;
        true
    }

    /// Admits a request from `mailbox` at `now`, or says how long to wait.
    /// `factor` (normally 1) scales rates and bucket sizes: a rate squeeze.
    #[inline]
    pub fn admit(&mut self, mailbox: u32, now: SimTime, factor: f64) -> Result<(), SimDuration> {
        let mut wait = SimDuration::ZERO;
        if let Some((p, b)) = &mut self.global {
            wait = wait.max(b.wait(&p.scaled(factor), now));
        }
        if let Some((p, bs)) = &mut self.per_mailbox {
            wait = wait.max(bs[mailbox as usize].wait(&p.scaled(factor), now));
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        if let Some((_, b)) = &mut self.global {
            b.take();
        }
        if let Some((_, bs)) = &mut self.per_mailbox {
            bs[mailbox as usize].take();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeeze_cuts_the_sustained_rate() {
        // 10/s squeezed to a tenth: about 1/s over a minute.
        let mut rl = RateLimiter::new(1, Some((10.0, 1.0)), None);
        let mut now = SimTime(0);
        let mut passed = 0;
        while now.0 < 60_000_000 {
            match rl.admit(0, now, 0.1) {
                Ok(()) => passed += 1,
                Err(w) => now = SimTime(now.0 + w.0),
            }
        }
        assert!((60..=61).contains(&passed), "{passed}");
    }

    #[test]
    fn bucket_allows_burst_then_rate() {
        let mut rl = RateLimiter::new(1, Some((10.0, 5.0)), None);
        let t = SimTime(1_000_000);
        for _ in 0..5 {
            assert_eq!(rl.admit(0, t, 1.0), Ok(()));
        }
        // Empty: next token in 1/10 s.
        assert_eq!(rl.admit(0, t, 1.0), Err(SimDuration(100_000)));
        assert_eq!(rl.admit(0, SimTime(t.0 + 100_000), 1.0), Ok(()));
    }

    /// `take_if_ready` admits as `admit` does (same answers, same
    /// buckets), changes nothing when it refuses, and refuses outright
    /// under a global bucket (which it does not handle).
    #[test]
    fn take_if_ready_admits_as_admit_does() {
        let mut a = RateLimiter::new(2, Some((10.0, 3.0)), None);
        let mut b = a.clone();
        let mut t = SimTime(1_000_000);
        let (mut took, mut refused) = (0, 0);
        for i in 0..200u64 {
            t = SimTime(t.0 + (i * 7_919) % 60_000);
            let m = (i % 2) as u32;
            let before = b.per_mailbox.clone();
            let ok = b.take_if_ready(m, t);
            assert_eq!(ok, a.admit(m, t, 1.0).is_ok(), "request {i}");
            if ok {
                took += 1;
            } else {
                refused += 1;
                assert_eq!(b.per_mailbox, before, "a refusal changes nothing");
                // `admit` refilled its bucket: as of `t`, the same state.
                b.per_mailbox.as_mut().unwrap().1[m as usize].refill(&before.unwrap().0, t);
            }
            assert_eq!(a.per_mailbox, b.per_mailbox, "request {i}");
        }
        assert!(took > 20 && refused > 20, "{took} {refused}");
        let mut g = RateLimiter::new(1, None, Some((10.0, 3.0)));
        assert!(!g.take_if_ready(0, t));
    }

    #[test]
    fn sustained_rate_is_exact_over_a_minute() {
        let mut rl = RateLimiter::new(1, None, Some((3.0, 1.0)));
        let mut now = SimTime(0);
        let mut passed = 0;
        while now.0 < 60_000_000 {
            match rl.admit(0, now, 1.0) {
                Ok(()) => passed += 1,
                Err(w) => now = SimTime(now.0 + w.0),
            }
        }
        // One initial token plus 3/s for 60 s.
        assert!((180..=181).contains(&passed), "{passed}");
    }
}
