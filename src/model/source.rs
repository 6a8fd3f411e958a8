//! The mock mailbox provider: the list API over each mailbox's change log,
//! answered "as of" the request time, with token-bucket rate
//! limits (429 + retry-after) and outage windows (503).
//!
//! `list` answers at the instant the request reaches the source; the
//! provider half (`provider.rs`) draws the API latency and owns the
//! answer's transport. The logs are the ledger's (their one owner); each
//! call is handed them, and extends a mailbox's log generated on demand
//! past the time it answers as of ([`Logs::advance_past`]) before reading.

use super::config::{CursorKind, SourceConfig};
use super::faults::{factor_at, Window, Windows};
use super::quota::{Method, Quota, QuotaStats};
use super::ratelimit::RateLimiter;
use super::traffic::{Change, Logs};
use crate::engine::arena::{prefetch, Ahead};
use crate::engine::time::{SimDuration, SimTime};

/// How far ahead of the time a call answers as of a mailbox's log
/// generated on demand is extended (virtual µs): six hours, so a mailbox
/// generates four times a day (a few hours of traffic held ahead cost
/// little; a generator call per hour cost 3% of a webhook run).
pub const AHEAD: u64 = 6 * 3_600_000_000;

/// Where a consumer stands in a mailbox's changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Cursor {
    /// Nothing consumed yet.
    #[default]
    Start,
    /// `sequence`: the number of changes consumed.
    Seq(u32),
    /// `timestamp` / `timestamp_inclusive`: the last stamp consumed.
    Stamp(u64),
    /// `timestamp_id`: the last `(stamp, sequence)` consumed.
    StampId(u64, u32),
    /// A full resync is under way: the next snapshot page to fetch.
    Resync(u32),
    /// The first page of a window query: changes stamped at or after this.
    /// Later pages continue with exact keyset tokens on a `sequence` API,
    /// or with the API's own timestamp cursor otherwise.
    Since(u64),
}

/// A list request: changes of `mailbox` after `cursor`, at most `limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListRequest {
    /// Mailbox index.
    pub mailbox: u32,
    /// Where to continue.
    pub cursor: Cursor,
    /// Page size asked for.
    pub limit: u32,
    /// `If-None-Match`: answer 304 instead of an empty page.
    pub conditional: bool,
}

/// The changes of one page, in the order the API returns them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Items<'a> {
    /// A run of the log: sequence numbers `first_seq..`.
    Run {
        /// Sequence number of `changes[0]`.
        first_seq: u32,
        /// The changes.
        changes: &'a [Change],
    },
    /// Changes picked by stamp order (timestamp cursors).
    Picked {
        /// Their sequence numbers, in `(stamp, sequence)` order.
        seqs: &'a [u32],
        /// Sequence number of `log[0]`.
        base: u32,
        /// The mailbox's retained log.
        log: &'a [Change],
    },
}

impl<'a> Items<'a> {
    /// Number of changes.
    pub fn len(&self) -> usize {
        match self {
            Items::Run { changes, .. } => changes.len(),
            Items::Picked { seqs, .. } => seqs.len(),
        }
    }

    /// True for an empty page.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(sequence, change)` pairs in page order.
    pub fn iter(&self) -> ItemsIter<'a> {
        ItemsIter {
            items: *self,
            next: 0,
        }
    }
}

/// Iterator over a page's `(sequence, change)` pairs: a plain index, so an
/// empty or short page costs a few instructions.
#[derive(Clone, Debug)]
pub struct ItemsIter<'a> {
    items: Items<'a>,
    next: usize,
}

impl<'a> Iterator for ItemsIter<'a> {
    type Item = (u32, &'a Change);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let i = self.next;
        self.next += 1;
        match self.items {
            Items::Run { first_seq, changes } => changes.get(i).map(|c| (first_seq + i as u32, c)),
            Items::Picked { seqs, base, log } => {
                seqs.get(i).map(|&s| (s, &log[(s - base) as usize]))
            }
        }
    }
}

/// One page of changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page<'a> {
    /// The changes.
    pub items: Items<'a>,
    /// Cursor to send next.
    pub next_cursor: Cursor,
    /// True when more changes were visible after this page at request time.
    pub has_more: bool,
}

/// What the source answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListOutcome<'a> {
    /// 200 with a page (possibly empty).
    Page(Page<'a>),
    /// 429: try again after this long.
    RateLimited {
        /// The `Retry-After` the source sent.
        retry_after: SimDuration,
    },
    /// 503 during an outage.
    Unavailable,
    /// The cursor is older than the log's retention: resync.
    Expired,
    /// 304: nothing new after the cursor (conditional requests).
    NotModified,
    /// One page of a full resync (the mailbox's live messages).
    Snapshot {
        /// This page's index.
        page: u32,
        /// Pages in the whole snapshot: `max(1, ceil(live / page_size))`.
        pages: u32,
        /// The cursor to continue from after the last page.
        end_cursor: Cursor,
    },
}

/// The mock source.
#[derive(Debug)]
pub struct Source {
    mailboxes: u32,
    page_size: u32,
    limiter: RateLimiter,
    /// The provider's windowed quota, if any.
    quota: Option<Box<Quota>>,
    outages: Windows,
    squeeze: Vec<(Window, f64)>,
    /// Per mailbox: where the last answer ended and when the change there
    /// commits (`u64::MAX` if none): the server's index that answers "no
    /// news" without reading the message store, like IMAP's HIGHESTMODSEQ.
    /// 16 bytes per mailbox in one dense array.
    next_at: Vec<(u32, u64)>,
    kind: CursorKind,
    retention: Option<SimDuration>,
    /// Scratch for timestamp-ordered pages: (stamp, sequence).
    picked: Vec<(u64, u32)>,
    /// Scratch: the sequence numbers of the page being answered.
    picked_seqs: Vec<u32>,
    /// Log entries examined by timestamp listings (a cost gauge: a
    /// lookback must cost its window, not the mailbox's history).
    scanned: u64,
    /// Per mailbox: where the last timestamp listing started in the log.
    /// Cursors and lookback windows move forward, so the next start is
    /// found by galloping from here over the few changes since, not by a
    /// binary search over the whole (cold) history.
    start_hint: Vec<u32>,
}

impl Source {
    /// A source of `spec.mailboxes` mailboxes (their logs, from
    /// [`super::traffic`], are handed to each call).
    pub fn new(spec: &SourceConfig, outages: Windows, squeeze: Vec<(Window, f64)>) -> Self {
        let n = spec.mailboxes;
        let pair = |b: Option<super::config::BucketConfig>| b.map(|b| (b.per_s, b.burst));
        Source {
            mailboxes: n,
            page_size: spec.page_size,
            limiter: RateLimiter::new(n, pair(spec.per_mailbox_limit), pair(spec.global_limit)),
            quota: spec.quota.clone().map(|q| Box::new(Quota::new(q, n))),
            outages,
            squeeze,
            next_at: vec![(0, 0); n as usize],
            kind: spec.cursor,
            retention: spec.retention,
            picked: Vec::new(),
            picked_seqs: Vec::new(),
            scanned: 0,
            start_hint: vec![0; n as usize],
        }
    }

    /// Number of mailboxes.
    pub fn mailboxes(&self) -> u32 {
        self.mailboxes
    }

    /// The largest page the API returns.
    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// Answers a list request arriving at `now` (rate limits and outages
    /// first). The API latency is the provider's to draw.
    #[inline(always)]
    pub fn list<'a>(
        &'a mut self,
        now: SimTime,
        req: ListRequest,
        logs: &'a mut Logs,
    ) -> ListOutcome<'a> {
        if let Err(outcome) = self.gate(req.mailbox, now, Method::List) {
            return outcome;
        }
        // The common case, straight to the sequence scan.
        if self.retention.is_none()
            && !self.kind.by_time()
            && matches!(req.cursor, Cursor::Start | Cursor::Seq(_))
        {
            return self.list_seq(now, req, logs);
        }
        self.answer(now, req, logs)
    }

    /// Admits a list request of `mailbox` at `now` from the sequence
    /// cursor `cursor` when [`Source::list`] would answer it empty without
    /// reading the log (the mailbox's next-change hint says nothing
    /// commits after `cursor` by `now`), with no quota or retention, and
    /// no outage, squeeze (a factor other than 1) or refusal at `now` in
    /// the way: takes its token and returns true. Otherwise changes
    /// nothing and returns false. A quiet poll (see `halves::quiet_poll`)
    /// costs this instead of a listing.
    #[inline(always)]
    pub fn quiet_list(&mut self, now: SimTime, mailbox: u32, cursor: u32) -> bool {
        let quiet = self.no_news(mailbox, cursor, now)
            && self.quota.is_none()
            && self.retention.is_none()
            && !self.kind.by_time()
            && !self.outages.contains(now)
            && self.squeeze_factor(now) == 1.0;
        // Last: the only check that changes anything, and only if it passes.
        quiet && self.limiter.take_if_ready(mailbox, now)
    }

    /// True when one mailbox's calls never change how another's are
    /// answered: no global rate limit and no quota shared across
    /// mailboxes (outages and squeezes are fixed windows).
    pub fn mailboxes_independent(&self) -> bool {
        self.limiter.per_mailbox_only() && self.quota.as_ref().is_none_or(|q| q.per_mailbox_only())
    }

    /// When the next change after a `sequence` cursor commits (for a held
    /// long-poll request), if any.
    /// Called after [`Source::list`] answered the same cursor: a log
    /// generated on demand then holds the change after it, if any.
    pub fn next_commit(&self, mailbox: u32, cursor: Cursor, logs: &Logs) -> Option<SimTime> {
        let c = match cursor {
            Cursor::Seq(c) => c,
            _ => 0,
        };
        if c < logs.base(mailbox) {
            logs.change(mailbox, c);
        }
        logs.get(mailbox, c).map(|x| x.at)
    }

    /// The answer to an admitted request as of `as_of`: a pure function of
    /// the log, so it may be computed when the answer arrives.
    pub fn answer<'a>(
        &'a mut self,
        as_of: SimTime,
        req: ListRequest,
        logs: &'a mut Logs,
    ) -> ListOutcome<'a> {
        let now = as_of;
        let outcome = self.answer_page(now, req, logs);
        match outcome {
            ListOutcome::Page(p) if req.conditional && p.items.is_empty() => {
                ListOutcome::NotModified
            }
            other => other,
        }
    }

    fn answer_page<'a>(
        &'a mut self,
        now: SimTime,
        req: ListRequest,
        logs: &'a mut Logs,
    ) -> ListOutcome<'a> {
        logs.advance_past(req.mailbox, now.0, AHEAD);
        match req.cursor {
            Cursor::Resync(page) => self.snapshot(req.mailbox, now, page, logs),
            cursor if self.expired(req.mailbox, cursor, now, logs) => ListOutcome::Expired,
            Cursor::Start | Cursor::Seq(_) if !self.kind.by_time() => self.list_seq(now, req, logs),
            _ => self.list_by_time(now, req, logs),
        }
    }
}

impl Source {
    /// `sequence` cursors: a run of the log after the cursor.
    // Always inlined: the hottest call of a polling run (one per poll);
    // LLVM stopped inlining it once the source grew subscription calls.
    #[inline(always)]
    fn list_seq<'a>(
        &'a mut self,
        now: SimTime,
        req: ListRequest,
        logs: &'a mut Logs,
    ) -> ListOutcome<'a> {
        let cursor = match req.cursor {
            Cursor::Seq(c) => c,
            _ => 0,
        };
        if self.no_news(req.mailbox, cursor, now) {
            if req.conditional {
                return ListOutcome::NotModified;
            }
            return ListOutcome::Page(Page {
                items: Items::Run {
                    first_seq: cursor,
                    changes: &[],
                },
                next_cursor: Cursor::Seq(cursor),
                has_more: false,
            });
        }
        // Sequence numbers are absolute; the log holds `base..`, and
        // (generated on demand) every change committed by `now` and the
        // next.
        logs.advance_past(req.mailbox, now.0, AHEAD);
        let logs: &'a Logs = logs;
        let (base, log) = logs.window(req.mailbox);
        if cursor < base {
            logs.change(req.mailbox, cursor);
        }
        let start = (cursor.wrapping_sub(base) as usize).min(log.len());
        let after = &log[start..];
        let limit = req.limit.min(self.page_size) as usize;
        // Scan forward, not binary search: the log holds the whole future,
        // and most polls stop at the first change (one cache line).
        let take = after.iter().take(limit).take_while(|c| c.at <= now).count();
        let next = after.get(take).map_or(u64::MAX, |c| c.at.0);
        let has_more = take == limit && next <= now.0;
        let end = base + (start + take) as u32;
        self.next_at[req.mailbox as usize] = (end, next);
        if take == 0 && req.conditional {
            return ListOutcome::NotModified;
        }
        ListOutcome::Page(Page {
            items: Items::Run {
                first_seq: base + start as u32,
                changes: &after[..take],
            },
            next_cursor: Cursor::Seq(end),
            has_more,
        })
    }

    /// Timestamp cursors: visible changes after the cursor in
    /// `(stamp, sequence)` order. A stamp is never after its commit, so
    /// only changes committed after the cursor's stamp can match.
    /// Hints the CPU to load what a listing of mailbox `m` reads first:
    /// its index entries and log head, then the log where the last
    /// timestamp listing started (see [`crate::engine::arena::prefetch`]).
    #[inline]
    pub fn prefetch(&self, m: u32, logs: &Logs, ahead: Ahead) {
        let i = m as usize;
        match ahead {
            Ahead::Heads => {
                if let (Some(hint), Some(next)) = (self.start_hint.get(i), self.next_at.get(i)) {
                    prefetch(hint);
                    prefetch(next);
                }
                logs.prefetch(m, 0, Ahead::Heads);
            }
            Ahead::Data => {
                if let Some(&hint) = self.start_hint.get(i) {
                    logs.prefetch(m, hint, Ahead::Data);
                }
            }
        }
    }

    fn list_by_time<'a>(
        &'a mut self,
        now: SimTime,
        req: ListRequest,
        logs: &'a mut Logs,
    ) -> ListOutcome<'a> {
        let m = req.mailbox;
        logs.advance_past(m, now.0, AHEAD);
        let logs: &'a Logs = logs;
        let (base, log) = logs.window(m);
        let kind = self.kind;
        // Indices into `log` below; sequence numbers are `base` on.
        let hint = self.start_hint[m as usize].saturating_sub(base) as usize;
        let lo = match req.cursor {
            Cursor::Stamp(c) if kind == CursorKind::Timestamp => gallop(log, hint, |x| x.at.0 <= c),
            // A window query (`since`) starts at the first change committed
            // at or after its stamp, not at the start of the history: a
            // lookback costs the window, not the log. (Stamps never follow
            // their commit, so nothing stamped later committed earlier.)
            Cursor::Stamp(c) | Cursor::StampId(c, _) | Cursor::Since(c) => {
                gallop(log, hint, |x| x.at.0 < c)
            }
            _ => 0,
        };
        // Every change the listing may pick must still be held.
        match req.cursor {
            Cursor::Stamp(c) | Cursor::StampId(c, _) | Cursor::Since(c) => logs.check_from(m, c),
            _ => logs.check_from(m, 0),
        }
        self.start_hint[m as usize] = base + lo as u32;
        self.picked.clear();
        let mut scanned = 0u64;
        for (i, c) in log.iter().enumerate().skip(lo) {
            if c.at > now {
                break;
            }
            scanned += 1;
            let seq = base + i as u32;
            let st = logs.stamp(m, seq);
            let after = match req.cursor {
                Cursor::Stamp(cs) if kind == CursorKind::Timestamp => st > cs,
                Cursor::Stamp(cs) => st >= cs,
                Cursor::StampId(cs, ci) => (st, seq) > (cs, ci),
                Cursor::Since(cs) => st >= cs,
                _ => true,
            };
            if after {
                self.picked.push((st, seq));
            }
        }
        self.scanned += scanned;
        self.picked.sort_unstable();
        let limit = req.limit.min(self.page_size) as usize;
        let take = self.picked.len().min(limit);
        let next_cursor = match self.picked[..take].last() {
            None => req.cursor,
            Some(&(st, seq)) if matches!(kind, CursorKind::TimestampId | CursorKind::Sequence) => {
                Cursor::StampId(st, seq)
            }
            Some(&(st, _)) => Cursor::Stamp(st),
        };
        self.picked_seqs.clear();
        self.picked_seqs
            .extend(self.picked[..take].iter().map(|p| p.1));
        ListOutcome::Page(Page {
            items: Items::Picked {
                seqs: &self.picked_seqs,
                base,
                log,
            },
            next_cursor,
            has_more: self.picked.len() > take,
        })
    }

    /// True when `cursor` has unconsumed changes older than the retention.
    fn expired(&self, m: u32, cursor: Cursor, now: SimTime, logs: &Logs) -> bool {
        let Some(keep) = self.retention else {
            return false;
        };
        let Some(oldest) = now.0.checked_sub(keep.0) else {
            return false;
        };
        let (base, log) = logs.window(m);
        let next = match cursor {
            Cursor::Start => 0,
            Cursor::Seq(c) => c,
            Cursor::Stamp(c) | Cursor::StampId(c, _) => {
                base + log.partition_point(|x| x.at.0 <= c) as u32
            }
            Cursor::Resync(_) | Cursor::Since(_) => return false,
        };
        logs.get(m, next).is_some_and(|c| c.at.0 < oldest)
    }

    /// Page `page` of a full resync as of `now`: the mailbox's live
    /// messages, `page_size` at a time.
    fn snapshot(&self, m: u32, now: SimTime, page: u32, logs: &Logs) -> ListOutcome<'static> {
        let log = logs.whole(m);
        let visible = log.partition_point(|c| c.at <= now);
        let mut live = std::collections::BTreeMap::new();
        for c in &log[..visible] {
            live.insert(c.msg, c.version & super::traffic::DELETED == 0);
        }
        let live = live.values().filter(|alive| **alive).count() as u32;
        ListOutcome::Snapshot {
            page,
            pages: live.div_ceil(self.page_size).max(1),
            end_cursor: self.end_cursor(m, now, logs),
        }
    }

    /// The cursor that stands after every change visible at `now`.
    pub fn end_cursor(&self, m: u32, now: SimTime, logs: &Logs) -> Cursor {
        let log = logs.whole(m);
        let visible = log.partition_point(|c| c.at <= now) as u32;
        let last = (0..visible).map(|i| (logs.stamp(m, i), i)).max();
        match (self.kind, last) {
            (CursorKind::Sequence, _) => Cursor::Seq(visible),
            (_, None) => Cursor::Start,
            (CursorKind::TimestampId, Some((st, i))) => Cursor::StampId(st, i),
            (_, Some((st, _))) => Cursor::Stamp(st),
        }
    }

    /// Rate limits (with any squeeze), the quota (charged `method`'s
    /// units), then outages: `Err` is the answer.
    #[inline(always)]
    fn gate(
        &mut self,
        mailbox: u32,
        now: SimTime,
        method: Method,
    ) -> Result<(), ListOutcome<'static>> {
        let factor = self.squeeze_factor(now);
        if let Err(retry_after) = self.limiter.admit(mailbox, now, factor) {
            return Err(ListOutcome::RateLimited { retry_after });
        }
        if let Some(q) = &mut self.quota {
            if let Err(retry_after) = q.admit(mailbox, now, method) {
                return Err(ListOutcome::RateLimited { retry_after });
            }
        }
        if self.outages.contains(now) {
            return Err(ListOutcome::Unavailable);
        }
        Ok(())
    }

    /// The rate-limit factor at `now`: the product of the squeezes whose
    /// windows contain it (1 outside them all).
    #[inline(always)]
    fn squeeze_factor(&self, now: SimTime) -> f64 {
        factor_at(&self.squeeze, now)
    }

    /// True when mailbox `m`'s next-change hint proves that nothing
    /// commits after the sequence cursor `cursor` by `now` (the last
    /// answer ended there, and the change after it commits later).
    #[inline(always)]
    fn no_news(&self, m: u32, cursor: u32, now: SimTime) -> bool {
        let (end, next) = self.next_at[m as usize];
        end == cursor && next > now.0
    }

    /// Charges a subscription call (renewal or creation) for `mailbox` at
    /// `now` to the quota: `Err` with the `Retry-After` if it is refused.
    /// Token buckets and outages do not gate subscription calls.
    pub fn admit_subscribe(&mut self, mailbox: u32, now: SimTime) -> Result<(), SimDuration> {
        match &mut self.quota {
            Some(q) => q.admit(mailbox, now, Method::Subscribe),
            None => Ok(()),
        }
    }

    /// Takes one of `mailbox`'s concurrency slots from `now` until
    /// `until` (see [`Quota::hold`]): `Err` with the `Retry-After` when
    /// the quota's cap is reached. Always admits without one.
    #[inline]
    pub fn hold(&mut self, mailbox: u32, now: SimTime, until: SimTime) -> Result<(), SimDuration> {
        match &mut self.quota {
            Some(q) => q.hold(mailbox, now, until),
            None => Ok(()),
        }
    }

    /// Gives back a slot [`Source::hold`] took (the request was answered
    /// with an error at once).
    pub fn release(&mut self, mailbox: u32, until: SimTime) {
        if let Some(q) = &mut self.quota {
            q.release(mailbox, until);
        }
    }

    /// True when the quota caps concurrent requests per mailbox.
    pub fn caps_concurrency(&self) -> bool {
        self.quota
            .as_ref()
            .is_some_and(|q| q.config().concurrent_per_mailbox.is_some())
    }

    /// What the quota measured, and its config, if the source has one.
    pub fn quota(&self) -> Option<(&super::quota::QuotaConfig, QuotaStats)> {
        self.quota.as_deref().map(|q| (q.config(), q.stats()))
    }

    /// Log entries examined by timestamp listings so far.
    pub fn scanned(&self) -> u64 {
        self.scanned
    }

    /// Fetches one message (a thin notification's follow-up) as of `now`:
    /// the sequence number of the latest change to `msg` committed by then,
    /// or the error the API answered. Subject to rate limits and outages.
    pub fn fetch(
        &mut self,
        now: SimTime,
        mailbox: u32,
        msg: u32,
        logs: &mut Logs,
    ) -> Result<u32, ListOutcome<'static>> {
        self.gate(mailbox, now, Method::Fetch)?;
        logs.advance_past(mailbox, now.0, AHEAD);
        let (base, log) = logs.window(mailbox);
        let visible = log.partition_point(|c| c.at <= now);
        let seq = log[..visible]
            .iter()
            .rposition(|c| c.msg == msg)
            // Invariant: a notification is processed after its change
            // commits (the event queue pops in time order).
            .unwrap_or_else(|| {
                panic!("invariant broken at {now:?}: mailbox {mailbox} message {msg} notified before any change to it committed")
            });
        Ok(base + seq as u32)
    }
}

/// `log.partition_point(before)` (`before` true on a prefix of the log),
/// searched outward from `hint` with doubling steps, then bisected: costs
/// the log of the distance from the hint, and touches the hint's (warm)
/// neighbourhood instead of the middle of a cold history.
fn gallop(log: &[Change], hint: usize, before: impl Fn(&Change) -> bool) -> usize {
    let len = log.len();
    let hint = hint.min(len);
    let mut step = 1;
    if hint > 0 && !before(&log[hint - 1]) {
        // The answer lies below the hint: every index from `hi` fails.
        let mut hi = hint - 1;
        loop {
            if hi == 0 {
                return 0;
            }
            let probe = hi.saturating_sub(step);
            if before(&log[probe]) {
                return probe + 1 + log[probe + 1..hi].partition_point(&before);
            }
            hi = probe;
            step *= 2;
        }
    }
    // The answer is at or above the hint: every index below `lo` holds.
    let mut lo = hint;
    loop {
        if lo >= len {
            return len;
        }
        let probe = (lo + step - 1).min(len - 1);
        if before(&log[probe]) {
            lo = probe + 1;
            step *= 2;
        } else {
            return lo + log[lo..probe].partition_point(&before);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::Streams;
    use crate::model::faults::Window;
    use crate::model::traffic::generate;
    use crate::scenario::{parse, Format};

    /// A source and the logs it is handed (the ledger's, in a run).
    struct With {
        src: Source,
        logs: Logs,
    }

    impl With {
        fn list(&mut self, now: SimTime, req: ListRequest) -> ListOutcome<'_> {
            self.src.list(now, req, &mut self.logs)
        }
        fn answer(&mut self, now: SimTime, req: ListRequest) -> ListOutcome<'_> {
            self.src.answer(now, req, &mut self.logs)
        }
        fn end_cursor(&self, m: u32, now: SimTime) -> Cursor {
            self.src.end_cursor(m, now, &self.logs)
        }
        fn next_commit(&self, m: u32, cursor: Cursor) -> Option<SimTime> {
            self.src.next_commit(m, cursor, &self.logs)
        }
        fn logs(&self) -> &Logs {
            &self.logs
        }
        fn scanned(&self) -> u64 {
            self.src.scanned()
        }
    }

    fn with(cfg: &SourceConfig, logs: Logs, outages: Windows) -> With {
        With {
            src: Source::new(cfg, outages, Vec::new()),
            logs,
        }
    }

    /// One mailbox, no Poisson traffic, a burst of 450 at 1 h (all with the
    /// same stamp when the granularity is coarse).
    fn source(extra: &str, outages: Windows) -> With {
        let text = format!(
            "name='t'\nseed=3\nhorizon='1d'\n[source]\nmailboxes=1\nmessages_per_day=0\npage_size=200\napi_latency='50ms'\n{extra}\n[[source.bursts]]\nat='1h'\nmailboxes=1\nmessages=450\nover='10s'\n[consumer]\nstrategy='poll'\npoll_interval='5m'\n"
        );
        let s = parse(&text, "t.toml", Format::Toml).unwrap();
        let streams = Streams::new(s.seed);
        let logs = generate(&s.source.config(), s.horizon.get(), &streams);
        with(&s.source.config(), logs, outages)
    }

    /// A one-hour lookback over a mailbox with 30 days of history examines
    /// about an hour of changes (issue 12: it used to walk the whole log,
    /// making reconciliation quadratic in the horizon).
    #[test]
    fn a_lookback_listing_costs_its_window_not_the_history() {
        let text = "name='t'\nseed=3\nhorizon='30d'\n[source]\nmailboxes=1\nmessages_per_day=240\npage_size=200\ncursor='timestamp_id'\napi_latency='50ms'\n[consumer]\nstrategy='poll'\npoll_interval='5m'\n";
        let s = parse(text, "t.toml", Format::Toml).unwrap();
        let streams = Streams::new(s.seed);
        let cfg = s.source.config();
        let logs = generate(&cfg, s.horizon.get(), &streams);
        let history = logs.window(0).1.len();
        let mut src = with(&cfg, logs, Windows::default());
        let hour = 3_600_000_000u64;
        let now = SimTime(29 * 24 * hour + 12 * hour);
        let in_window = src
            .logs()
            .window(0)
            .1
            .iter()
            .filter(|c| c.at.0 >= now.0 - hour && c.at <= now)
            .count();
        let ListOutcome::Page(p) = src.answer(now, req(Cursor::Since(now.0 - hour))) else {
            panic!("expected a page")
        };
        assert_eq!(p.items.len(), in_window);
        // ~240 a day: ~10 in the hour (Poisson), out of ~7,000 in the log.
        assert!(history > 6_000, "{history}");
        assert_eq!(
            src.scanned(),
            in_window as u64,
            "scanned {} of {history}",
            src.scanned()
        );
    }

    /// A page as owned data: `(sequence, change)` pairs, next cursor, more.
    fn owned(o: ListOutcome) -> (Vec<(u32, Change)>, Cursor, bool) {
        let ListOutcome::Page(p) = o else {
            panic!("expected a page: {o:?}")
        };
        let items = p.items.iter().map(|(s, c)| (s, *c)).collect();
        (items, p.next_cursor, p.has_more)
    }

    /// Sequence numbers are absolute: over a log trimmed before change
    /// `k`, the source answers every cursor at or after `k` exactly as
    /// over the whole log (sequence numbers, changes, next cursors, the
    /// end cursor and the next commit).
    #[test]
    fn a_trimmed_log_answers_like_the_whole_one() {
        for kind in ["sequence", "timestamp_id"] {
            let text = format!("name='t'\nseed=3\nhorizon='2d'\n[source]\nmailboxes=2\nmessages_per_day=500\npage_size=50\ncursor='{kind}'\ntimestamp_granularity='1s'\napi_latency='50ms'\n[consumer]\nstrategy='poll'\npoll_interval='5m'\n");
            let s = parse(&text, "t.toml", Format::Toml).unwrap();
            let cfg = s.source.config();
            let logs = generate(&cfg, s.horizon.get(), &Streams::new(s.seed));
            // ~1,000 changes in mailbox 1; trim the first half.
            let k = logs.end(1) / 2;
            assert!(k > 100, "{k}");
            let mut trimmed = logs.clone();
            assert_eq!(trimmed.trim_before(1, k), k as u64);
            let at = logs.change(1, k).at;
            let stamp = logs.stamp(1, k);
            let mut whole = with(&cfg, logs, Windows::default());
            let mut part = with(&cfg, trimmed, Windows::default());
            let cursors = if kind == "sequence" {
                vec![Cursor::Seq(k), Cursor::Seq(k + 7)]
            } else {
                // Stamps truncate commits (no delay), so no change before
                // `k` sorts after `(stamp, k)`, nor commits after `at`.
                vec![Cursor::StampId(stamp, k), Cursor::Since(at.0 + 1)]
            };
            let hour = 3_600_000_000;
            for now in [at, SimTime(at.0 + hour), SimTime(48 * hour)] {
                for &cursor in &cursors {
                    let r = ListRequest {
                        mailbox: 1,
                        ..req(cursor)
                    };
                    let w = owned(whole.answer(now, r));
                    assert!(!w.0.is_empty() || now == at, "{kind} {cursor:?} at {now:?}");
                    assert_eq!(
                        owned(part.answer(now, r)),
                        w,
                        "{kind} {cursor:?} at {now:?}"
                    );
                }
                // (The end cursor, a snapshot's, reads the whole log:
                // runs with snapshots keep it.)
                let _ = whole.end_cursor(1, now);
                assert_eq!(
                    part.next_commit(1, Cursor::Seq(k + 1)),
                    whole.next_commit(1, Cursor::Seq(k + 1))
                );
            }
        }
    }

    fn req(cursor: Cursor) -> ListRequest {
        ListRequest {
            mailbox: 0,
            cursor,
            limit: 200,
            conditional: false,
        }
    }

    /// Pages from `Start` until `has_more` is false; returns page sizes and
    /// the distinct sequence numbers delivered.
    fn drain(src: &mut With, now: SimTime) -> (Vec<usize>, std::collections::BTreeSet<u32>) {
        let mut cursor = Cursor::Start;
        let mut sizes = vec![];
        let mut seen = std::collections::BTreeSet::new();
        loop {
            let ListOutcome::Page(p) = src.list(now, req(cursor)) else {
                panic!("expected a page")
            };
            sizes.push(p.items.len());
            seen.extend(p.items.iter().map(|(s, _)| s));
            let stuck = p.next_cursor == cursor;
            cursor = p.next_cursor;
            if !p.has_more || stuck {
                break;
            }
        }
        (sizes, seen)
    }

    #[test]
    fn sequence_pages_until_has_more_is_false() {
        let mut src = source("", Windows::default());
        assert!(
            matches!(src.list(SimTime(0), req(Cursor::Start)), ListOutcome::Page(p) if p.items.is_empty() && !p.has_more)
        );
        let (sizes, seen) = drain(&mut src, SimTime(3_700_000_000));
        assert_eq!(sizes, vec![200, 200, 50]);
        assert_eq!(seen.len(), 450);
    }

    #[test]
    fn cursor_kinds_on_tied_stamps() {
        // Granularity 1 min: all 450 changes (10 s apart at most) share one
        // or two stamps, so pages end inside a run of ties.
        let now = SimTime(3_700_000_000);
        let mut strict = source(
            "cursor='timestamp'\ntimestamp_granularity='1m'",
            Windows::default(),
        );
        let (_, seen) = drain(&mut strict, now);
        assert!(
            seen.len() < 450,
            "strict > skips the rest of a tie at a page boundary: {}",
            seen.len()
        );
        let mut inclusive = source(
            "cursor='timestamp_inclusive'\ntimestamp_granularity='1m'",
            Windows::default(),
        );
        let (sizes, _) = drain(&mut inclusive, now);
        assert_eq!(
            sizes,
            vec![200, 200],
            "a full page of ties does not move >=: stuck"
        );
        let mut keyset = source(
            "cursor='timestamp_id'\ntimestamp_granularity='1m'",
            Windows::default(),
        );
        let (sizes, seen) = drain(&mut keyset, now);
        assert_eq!((sizes, seen.len()), (vec![200, 200, 50], 450));
    }

    #[test]
    fn expired_cursor_and_snapshot_pages() {
        let mut src = source("retention='2h'", Windows::default());
        let late = SimTime(4 * 3_600_000_000);
        // Start has unconsumed changes committed at 1 h: older than 2 h at 4 h.
        assert_eq!(src.list(late, req(Cursor::Start)), ListOutcome::Expired);
        assert!(matches!(
            src.list(SimTime(7_000_000_000), req(Cursor::Start)),
            ListOutcome::Page(_)
        ));
        let snap = src.list(late, req(Cursor::Resync(0)));
        assert_eq!(
            snap,
            ListOutcome::Snapshot {
                page: 0,
                pages: 3,
                end_cursor: Cursor::Seq(450)
            }
        );
    }

    #[test]
    fn outage_answers_503_and_rate_limit_429() {
        let w = Windows(vec![Window::Once {
            start: SimTime(10),
            end: SimTime(20),
        }]);
        let mut src = source("rate_limit = { per_mailbox_per_s = 1 }", w);
        assert_eq!(
            src.list(SimTime(15), req(Cursor::Start)),
            ListOutcome::Unavailable
        );
        assert!(
            matches!(src.list(SimTime(16), req(Cursor::Start)), ListOutcome::RateLimited { retry_after } if retry_after.0 > 0)
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]
        /// Galloping from any hint finds exactly what a binary search
        /// over the whole log finds, for any sorted log and any bound.
        #[test]
        fn gallop_agrees_with_partition_point(
            mut ats in proptest::collection::vec(0u64..50, 0..40),
            hint in 0usize..45,
            bound in 0u64..55,
        ) {
            ats.sort_unstable();
            let log: Vec<Change> = ats
                .iter()
                .map(|&at| Change { at: SimTime(at), msg: 0, version: 1 })
                .collect();
            let want = log.partition_point(|c| c.at.0 < bound);
            proptest::prop_assert_eq!(gallop(&log, hint, |c| c.at.0 < bound), want);
            let want = log.partition_point(|c| c.at.0 <= bound);
            proptest::prop_assert_eq!(gallop(&log, hint, |c| c.at.0 <= bound), want);
        }
    }
}
