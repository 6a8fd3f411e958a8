//! Provider quotas as the providers publish them: units per fixed window
//! per mailbox (Microsoft Graph's 10,000 requests per 10 minutes per app
//! per mailbox, Gmail's 15,000 units per user per minute), per project
//! (Gmail's 1,200,000 units per minute), and per day, with a weight per
//! method (Gmail's quota units per call). A request over any limit is
//! answered 429 with the `Retry-After` such a provider computes: the time
//! until the window that refused it ends, when it would be admitted.
//!
//! Windows are fixed (aligned at multiples of their length from time
//! zero) and counted in O(1) per request: one `(window, used)` pair per
//! mailbox. Neither provider publishes its algorithm: Graph's throttling
//! guidance says "10,000 API requests in a 10 minute period" and Outlook's
//! 2017 announcement "10000 requests per 10-minute period"
//! (devblogs.microsoft.com, "Throttling coming to Outlook API and
//! Microsoft Graph"); Gmail's old per-second limit was "a moving average
//! (allows short bursts)". A fixed window is the assumption that allows
//! the largest bursts at window edges (up to twice the limit across a
//! boundary), so it is the optimistic reading of either.
//!
//! Graph also caps concurrent requests per app per mailbox at 4
//! (learn.microsoft.com/graph/throttling-limits, "Outlook service
//! limits"). A request is in service from its arrival at the source until
//! its answer leaves (arrival + the drawn API latency; a fetch, whose
//! answer the model hands over at once, is in service for a latency drawn
//! from its own stream, so fetch bursts bind as they would); one arriving
//! while `cap` requests of its mailbox are in service is refused with a
//! 429 whose `Retry-After` is the time until the first of them ends,
//! rounded up to a whole second (Graph sends a Retry-After on a 429 but
//! does not publish its value for this limit: assumed). A long poll's
//! hold is not counted as service (only its latency).
//!
//! Only admitted requests use quota (a refused one is not counted), and a
//! `rate_squeeze` fault scales the token buckets, not these quotas.

use crate::engine::time::{SimDuration, SimTime};

/// One fixed-window limit: at most `limit` units per `length`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowLimit {
    /// The window's length.
    pub length: SimDuration,
    /// Units admitted per window.
    pub limit: u64,
}

/// Quota units per call, by kind of call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Weights {
    /// A list request (poll, reconcile, resync page): Graph 1, Gmail
    /// `history.list` 2.
    pub list: u64,
    /// A thin notification's fetch: Graph 1, Gmail `messages.get` 5.
    pub fetch: u64,
    /// A subscription call (renewal or creation): Graph 1, Gmail `watch`
    /// 100.
    pub subscribe: u64,
}

impl Weights {
    /// One unit per call of any kind (Graph; `custom`'s default).
    pub const ONE: Weights = Weights {
        list: 1,
        fetch: 1,
        subscribe: 1,
    };
}

/// Which kind of call a request is (it picks the weight).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// A list request.
    List,
    /// A message fetch.
    Fetch,
    /// A subscription renewal or creation.
    Subscribe,
}

/// A provider's quota (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct QuotaConfig {
    /// Preset name, or `custom`.
    pub name: String,
    /// Per mailbox (Graph: per app per mailbox; Gmail: per user).
    pub per_mailbox: Option<WindowLimit>,
    /// Across all mailboxes (Gmail: per project).
    pub per_project: Option<WindowLimit>,
    /// Units per day across all mailboxes (days from time zero).
    pub daily: Option<u64>,
    /// Units per call.
    pub weights: Weights,
    /// Requests of one mailbox in service at once (Graph: 4).
    pub concurrent_per_mailbox: Option<u32>,
}

/// The quota preset names, for `[source] quota`.
pub const QUOTA_PRESETS: [&str; 3] = ["msgraph", "gmail", "custom"];

/// Microsoft Graph, Outlook resources: 10,000 requests per 10 minutes per
/// app per mailbox, every request one unit, no daily cap
/// (learn.microsoft.com/graph/throttling-limits, "Outlook service
/// limits"; announced by devblogs.microsoft.com, "Throttling coming to
/// Outlook API and Microsoft Graph", 2017).
pub fn msgraph() -> QuotaConfig {
    QuotaConfig {
        name: "msgraph".into(),
        per_mailbox: Some(WindowLimit {
            length: SimDuration::from_secs(600),
            limit: 10_000,
        }),
        per_project: None,
        daily: None,
        weights: Weights::ONE,
        concurrent_per_mailbox: Some(4),
    }
}

/// Gmail API: 15,000 quota units per user per minute and 1,200,000 per
/// project per minute; `history.list` costs 2 units, `messages.get` 5,
/// `watch` 100 (developers.google.com/gmail/api/reference/quota). The
/// current page lists no daily cap (older versions listed 250 units per
/// user per second and a daily project limit); set `daily_limit` to model
/// one.
pub fn gmail() -> QuotaConfig {
    QuotaConfig {
        name: "gmail".into(),
        per_mailbox: Some(WindowLimit {
            length: SimDuration::from_secs(60),
            limit: 15_000,
        }),
        per_project: Some(WindowLimit {
            length: SimDuration::from_secs(60),
            limit: 1_200_000,
        }),
        daily: None,
        weights: Weights {
            list: 2,
            fetch: 5,
            subscribe: 100,
        },
        concurrent_per_mailbox: None,
    }
}

/// A quota preset by name (`custom`: no limits, weight 1 each, to be
/// filled in by explicit keys).
pub fn quota_preset(name: &str) -> Option<QuotaConfig> {
    Some(match name {
        "msgraph" => msgraph(),
        "gmail" => gmail(),
        "custom" => QuotaConfig {
            name: "custom".into(),
            per_mailbox: None,
            per_project: None,
            daily: None,
            weights: Weights::ONE,
            concurrent_per_mailbox: None,
        },
        _ => return None,
    })
}

/// Where each quota preset's figures come from, one line each:
/// `(preset, figure, origin)` with origin `published (source)`,
/// `assumed` or `not modelled`.
pub fn quota_origins() -> Vec<(&'static str, &'static str, &'static str)> {
    const GRAPH: &str =
        "published (learn.microsoft.com/graph/throttling-limits, Outlook service limits)";
    const GMAIL: &str = "published (developers.google.com/gmail/api/reference/quota)";
    vec![
        ("msgraph", "10,000 requests / 10 min / mailbox", GRAPH),
        ("msgraph", "1 unit per request", GRAPH),
        ("msgraph", "fixed window (algorithm not published)", "assumed"),
        ("msgraph", "4 concurrent requests / mailbox", GRAPH),
        (
            "msgraph",
            "Retry-After of a concurrency 429: until the first request in service ends, in whole seconds",
            "assumed",
        ),
        ("gmail", "15,000 units / min / user", GMAIL),
        ("gmail", "1,200,000 units / min / project", GMAIL),
        ("gmail", "history.list 2, messages.get 5, watch 100", GMAIL),
        ("gmail", "fixed window (algorithm not published)", "assumed"),
    ]
}

/// A fixed window's count: which window, and units used in it.
#[derive(Clone, Copy, Debug, Default)]
struct Count {
    window: u64,
    used: u64,
}

impl Count {
    /// Units used in `limit`'s window holding `now` (resets on a new one);
    /// the index of that window.
    #[inline]
    fn roll(&mut self, length: SimDuration, now: SimTime) -> u64 {
        let w = now.0 / length.0.max(1);
        if w != self.window {
            self.window = w;
            self.used = 0;
        }
        w
    }
}

/// What the quota measured over a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuotaStats {
    /// Units admitted.
    pub units: u64,
    /// Requests refused (429) by the quota.
    pub rate_limited: u64,
    /// Most units one mailbox used in one window.
    pub mailbox_peak: u64,
    /// Most units used across mailboxes in one project window.
    pub project_peak: u64,
    /// Most units used in one day.
    pub daily_peak: u64,
    /// Most requests of one mailbox in service at once.
    pub concurrent_peak: u64,
}

/// A quota's state: one count per mailbox, one per project window, one
/// per day.
#[derive(Clone, Debug)]
pub struct Quota {
    cfg: QuotaConfig,
    mailboxes: Vec<Count>,
    project: Count,
    day: Count,
    stats: QuotaStats,
    /// Per mailbox (with a concurrency cap): when each request in
    /// service ends.
    in_service: Vec<Vec<u64>>,
}

const DAY: SimDuration = SimDuration::from_secs(86_400);

impl Quota {
    /// A fresh quota for `mailboxes`.
    pub fn new(cfg: QuotaConfig, mailboxes: u32) -> Self {
        let cfg_cap = cfg.concurrent_per_mailbox.is_some();
        let n = if cfg.per_mailbox.is_some() {
            mailboxes as usize
        } else {
            0
        };
        Quota {
            cfg,
            mailboxes: vec![Count::default(); n],
            project: Count::default(),
            day: Count::default(),
            stats: QuotaStats::default(),
            in_service: vec![Vec::new(); if cfg_cap { mailboxes as usize } else { 0 }],
        }
    }

    /// Takes one of `mailbox`'s concurrency slots from `now` until
    /// `until` (when the answer leaves), or refuses the request with the
    /// `Retry-After` until the first request in service ends (whole
    /// seconds). Always admits without a cap.
    pub fn hold(&mut self, mailbox: u32, now: SimTime, until: SimTime) -> Result<(), SimDuration> {
        let Some(cap) = self.cfg.concurrent_per_mailbox else {
            return Ok(());
        };
        let Some(slots) = self.in_service.get_mut(mailbox as usize) else {
            return Ok(());
        };
        slots.retain(|&end| end > now.0);
        if slots.len() >= cap as usize {
            self.stats.rate_limited += 1;
            let first = slots.iter().copied().min().unwrap_or(now.0);
            let secs = (first - now.0).div_ceil(1_000_000).max(1);
            return Err(SimDuration::from_secs(secs));
        }
        slots.push(until.0);
        self.stats.concurrent_peak = self.stats.concurrent_peak.max(slots.len() as u64);
        Ok(())
    }

    /// Gives back the slot [`Quota::hold`] took until `until` (the
    /// request was refused or failed at once, so it is not in service).
    pub fn release(&mut self, mailbox: u32, until: SimTime) {
        if let Some(slots) = self.in_service.get_mut(mailbox as usize) {
            if let Some(i) = slots.iter().rposition(|&e| e == until.0) {
                slots.swap_remove(i);
            }
        }
    }

    /// The configuration.
    pub fn config(&self) -> &QuotaConfig {
        &self.cfg
    }

    /// True when every limit is per mailbox: one mailbox's calls never
    /// change what another's are answered.
    pub fn per_mailbox_only(&self) -> bool {
        self.cfg.per_project.is_none() && self.cfg.daily.is_none()
    }

    /// What was measured so far.
    pub fn stats(&self) -> QuotaStats {
        self.stats
    }

    /// Admits a `method` call for `mailbox` at `now` and charges its
    /// units, or refuses it with the `Retry-After` until the latest of the
    /// refusing windows ends (and charges nothing).
    pub fn admit(&mut self, mailbox: u32, now: SimTime, method: Method) -> Result<(), SimDuration> {
        let units = match method {
            Method::List => self.cfg.weights.list,
            Method::Fetch => self.cfg.weights.fetch,
            Method::Subscribe => self.cfg.weights.subscribe,
        };
        let mut wait = SimDuration::ZERO;
        let mut check = |count: &mut Count, length: SimDuration, limit: u64| {
            let w = count.roll(length, now);
            if count.used + units > limit {
                let end = (w + 1).saturating_mul(length.0);
                wait = wait.max(SimDuration(end - now.0));
            }
        };
        if let Some(l) = self.cfg.per_mailbox {
            if let Some(c) = self.mailboxes.get_mut(mailbox as usize) {
                check(c, l.length, l.limit);
            }
        }
        if let Some(l) = self.cfg.per_project {
            check(&mut self.project, l.length, l.limit);
        }
        if let Some(limit) = self.cfg.daily {
            check(&mut self.day, DAY, limit);
        }
        if !wait.is_zero() {
            self.stats.rate_limited += 1;
            return Err(wait);
        }
        let s = &mut self.stats;
        s.units += units;
        if self.cfg.per_mailbox.is_some() {
            if let Some(c) = self.mailboxes.get_mut(mailbox as usize) {
                c.used += units;
                s.mailbox_peak = s.mailbox_peak.max(c.used);
            }
        }
        if self.cfg.per_project.is_some() {
            self.project.used += units;
            s.project_peak = s.project_peak.max(self.project.used);
        }
        if self.cfg.daily.is_some() {
            self.day.used += units;
            s.daily_peak = s.daily_peak.max(self.day.used);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Graph's cap of 4: four requests in service (ending at 1.2 s, 1.5 s,
    /// 2 s, 3 s) admit no fifth at 1 s, whose Retry-After is the 0.2 s to
    /// the first end rounded up to 1 s; at 1.2 s one slot is free again;
    /// a released slot is free at once; the peak is 4.
    #[test]
    fn graph_caps_four_requests_in_service_per_mailbox() {
        let ms = |x: u64| SimTime(x * 1_000);
        let mut q = Quota::new(msgraph(), 2);
        for end in [1_200, 1_500, 2_000, 3_000] {
            assert_eq!(q.hold(0, ms(1_000), ms(end)), Ok(()));
        }
        assert_eq!(
            q.hold(0, ms(1_000), ms(4_000)),
            Err(SimDuration::from_secs(1))
        );
        assert_eq!(q.hold(1, ms(1_000), ms(4_000)), Ok(()), "another mailbox");
        assert_eq!(q.hold(0, ms(1_200), ms(4_000)), Ok(()));
        assert_eq!(
            q.hold(0, ms(1_300), ms(5_000)),
            Err(SimDuration::from_secs(1))
        );
        q.release(0, ms(4_000));
        assert_eq!(q.hold(0, ms(1_300), ms(5_000)), Ok(()));
        assert_eq!((q.stats().concurrent_peak, q.stats().rate_limited), (4, 2));
    }

    fn t(secs: u64) -> SimTime {
        SimTime(secs * 1_000_000)
    }

    /// Admits `n` `method` calls for mailbox 0 at `at` seconds, each of
    /// which must pass, then returns the answer to one more.
    fn fill(
        q: &mut Quota,
        n: u32,
        at: u64,
        method: Method,
        next: Method,
    ) -> Result<(), SimDuration> {
        for i in 0..n {
            assert_eq!(q.admit(0, t(at), method), Ok(()), "call {i}");
        }
        q.admit(0, t(at), next)
    }

    /// Graph: 10,000 per 10 min per mailbox. 10,000 requests at t = 1 s
    /// pass; the next is refused with Retry-After 600 − 1 = 599 s (the
    /// window [0, 600 s) ends then), another mailbox is unaffected, and at
    /// 600 s the window admits again.
    #[test]
    fn graph_window_refuses_the_10001st_until_the_window_ends() {
        let mut q = Quota::new(msgraph(), 2);
        assert_eq!(
            fill(&mut q, 10_000, 1, Method::List, Method::Fetch),
            Err(SimDuration::from_secs(599))
        );
        assert_eq!(q.admit(1, t(1), Method::List), Ok(()));
        assert_eq!(q.admit(0, t(600), Method::List), Ok(()));
        let s = q.stats();
        // 10,000 + 1 + 1 admitted, one unit each; the peak is the full window.
        assert_eq!(
            (s.units, s.rate_limited, s.mailbox_peak),
            (10_002, 1, 10_000)
        );
    }

    /// Gmail weights: 15,000 units per user-minute hold 2,999 fetches
    /// (5 units: 14,995) and then one `history.list` (2: 14,997) but not
    /// a `watch` (100); the refusal waits for the minute to end.
    #[test]
    fn gmail_weights_charge_units_per_method() {
        let mut q = Quota::new(gmail(), 1);
        assert_eq!(fill(&mut q, 2_999, 30, Method::Fetch, Method::List), Ok(()));
        assert_eq!(
            q.admit(0, t(30), Method::Subscribe),
            Err(SimDuration::from_secs(30))
        );
        assert_eq!(q.stats().mailbox_peak, 14_997);
        assert_eq!(q.stats().project_peak, 14_997);
    }

    /// A daily cap of 3 units: the fourth call on day 0 waits until
    /// midnight (86,400 − 3,600 s = 82,800 s from 1 h).
    #[test]
    fn daily_cap_waits_for_the_next_day() {
        let mut q = quota_preset("custom").expect("custom exists");
        q.daily = Some(3);
        let mut q = Quota::new(q, 1);
        assert_eq!(
            fill(&mut q, 3, 3_600, Method::List, Method::List),
            Err(SimDuration::from_secs(82_800))
        );
        assert_eq!(q.admit(0, t(86_400), Method::List), Ok(()));
        assert_eq!(q.stats().daily_peak, 3);
    }
}
