//! What a consumer that subscribed with a `lifecycleNotificationUrl` does
//! after a lifecycle notification (`subscriptionRemoved`, `missed`): a
//! one-off listing of the mailbox, paged until `has_more` is false.
//!
//! Graph's advice on `missed` is to resynchronise the resource with a
//! delta query, and on `subscriptionRemoved` to create the subscription
//! again (learn.microsoft.com/graph/change-notifications-lifecycle-events);
//! neither notification says which changes went unannounced. So the
//! catch-up is delta-shaped: it lists everything stamped since the start
//! of the mailbox's previous catch-up (at first: since time zero, when the
//! subscription, and with it the delta token, was created), which covers
//! every change the notifications missed, whenever the gap began, at the
//! cost of listing what the webhooks did deliver since then too. (A
//! "since my last notification" window is cheaper but misses changes when
//! a late retry of an older notification arrives after the gap began.)
//! Pages are applied by version, like a reconciler's.
//!
//! A notification arriving while the mailbox's catch-up runs makes it run
//! once more when it ends. Errors (429, 503) retry the same page after
//! the `Retry-After`, or an exponential backoff from 1 s capped at 1 min
//! (assumed). Sans-IO: methods take the time and return what to send.

use super::source::{Cursor, ListRequest};
use crate::engine::time::{SimDuration, SimTime};

/// First backoff after an error (doubling per error in a row).
const RETRY: SimDuration = SimDuration::from_secs(1);
/// The backoff's cap.
const RETRY_MAX: SimDuration = SimDuration::from_secs(60);

#[derive(Clone, Copy, Debug, Default)]
struct Run {
    /// Where the next catch-up starts: the start of the last completed one.
    watermark: u64,
    /// When the run in progress started.
    started: u64,
    /// The cursor of the run in progress, if one is.
    cursor: Option<Cursor>,
    /// A notification arrived during the run: run again after it.
    again: bool,
    /// Errors in a row.
    failures: u16,
}

/// Every mailbox's catch-up state.
#[derive(Clone, Debug)]
pub struct CatchUp {
    page_size: u32,
    runs: Vec<Run>,
}

impl CatchUp {
    /// Catch-ups for `mailboxes`, listing `page_size` at a time.
    pub fn new(page_size: u32, mailboxes: u32) -> Self {
        CatchUp {
            page_size,
            runs: vec![Run::default(); mailboxes as usize],
        }
    }

    fn req(&self, m: u32, cursor: Cursor) -> ListRequest {
        ListRequest {
            mailbox: m,
            cursor,
            limit: self.page_size,
            conditional: false,
        }
    }

    /// A lifecycle notification for `m` arrived at `now`: the first
    /// request of a catch-up to send now, or `None` when one is already
    /// running (it will run again when it ends).
    pub fn trigger(&mut self, m: u32, now: SimTime) -> Option<ListRequest> {
        let r = &mut self.runs[m as usize];
        if r.cursor.is_some() {
            r.again = true;
            return None;
        }
        r.started = now.0;
        let cursor = Cursor::Since(r.watermark);
        r.cursor = Some(cursor);
        Some(self.req(m, cursor))
    }

    /// The request of `m`'s run in progress (to send again after an
    /// error), if one is.
    pub fn current(&self, m: u32) -> Option<ListRequest> {
        self.runs[m as usize].cursor.map(|c| self.req(m, c))
    }

    /// A page of `m`'s catch-up was applied at `now`: the next request to
    /// send, if the run goes on (or starts again).
    pub fn on_page(
        &mut self,
        m: u32,
        now: SimTime,
        next: Cursor,
        has_more: bool,
    ) -> Option<ListRequest> {
        let r = &mut self.runs[m as usize];
        r.failures = 0;
        if has_more && Some(next) != r.cursor {
            r.cursor = Some(next);
            return Some(self.req(m, next));
        }
        r.watermark = r.started;
        r.cursor = None;
        if std::mem::take(&mut r.again) {
            return self.trigger(m, now);
        }
        None
    }

    /// `m`'s request failed at `now` (429 with `retry_after`, or 503):
    /// when to send it again.
    pub fn on_error(&mut self, m: u32, now: SimTime, retry_after: SimDuration) -> SimTime {
        let r = &mut self.runs[m as usize];
        let shift = r.failures.min(16) as u32;
        r.failures = r.failures.saturating_add(1);
        let backoff = SimDuration(RETRY.0.saturating_mul(1 << shift)).min(RETRY_MAX);
        now + backoff.max(retry_after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> SimTime {
        SimTime(s * 1_000_000)
    }

    /// The first catch-up lists since time zero; the next since the first
    /// one's start; a notification during a run queues exactly one rerun,
    /// which starts at the end of the run and lists since its start.
    #[test]
    fn catch_ups_are_delta_shaped_and_coalesce() {
        let mut c = CatchUp::new(100, 1);
        let first = c.trigger(0, t(10)).expect("starts");
        assert_eq!(first.cursor, Cursor::Since(0));
        assert_eq!(c.trigger(0, t(11)), None, "running: queued");
        assert_eq!(c.trigger(0, t(12)), None, "still one rerun");
        // The page ends the run; the queued rerun starts at 13 s, since 10 s.
        let again = c.on_page(0, t(13), Cursor::Stamp(5), false).expect("rerun");
        assert_eq!(again.cursor, Cursor::Since(t(10).0));
        assert_eq!(c.on_page(0, t(14), Cursor::Stamp(6), false), None);
        assert_eq!(
            c.trigger(0, t(20)).map(|r| r.cursor),
            Some(Cursor::Since(t(13).0))
        );
    }

    /// Errors back off 1, 2, 4 s ..., at least the Retry-After, at most
    /// 60 s.
    #[test]
    fn errors_back_off() {
        let mut c = CatchUp::new(100, 1);
        c.trigger(0, t(0));
        assert_eq!(c.on_error(0, t(100), SimDuration::ZERO), t(101));
        assert_eq!(c.on_error(0, t(100), SimDuration::ZERO), t(102));
        assert_eq!(c.on_error(0, t(100), SimDuration::from_secs(30)), t(130));
        for _ in 0..10 {
            c.on_error(0, t(0), SimDuration::ZERO);
        }
        assert_eq!(c.on_error(0, t(0), SimDuration::ZERO), t(60));
    }
}
