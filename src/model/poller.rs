//! The polling consumer: one cursor and one timer per mailbox.
//!
//! A poll cycle starts on a fixed-rate schedule (`phase + k·interval`, each
//! tick moved by a seeded jitter), pages until `has_more` is false, saves
//! the cursor only after a page was applied, backs off exponentially after
//! 5xx and honours `Retry-After` on 429. Sans-IO: every method takes the
//! time and returns when the poller next wants to send a request.

use super::source::{Cursor, ListRequest};
use crate::engine::rng::{Purpose, SimRng, Streams};
use crate::engine::sample::below;
use crate::engine::time::{SimDuration, SimTime};

/// Poller settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PollerConfig {
    /// Time between poll cycles of a mailbox.
    pub interval: SimDuration,
    /// Each tick moves by a uniform offset in `[-jitter, +jitter]`.
    pub jitter: SimDuration,
    /// Page size to ask for.
    pub page_size: u32,
    /// First backoff after an error.
    pub backoff_base: SimDuration,
    /// Longest backoff.
    pub backoff_max: SimDuration,
    /// How the next cycle is timed.
    pub pace: Pace,
    /// Send `If-None-Match` (304 when nothing changed).
    pub conditional: bool,
}

/// How a poller times its cycles.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    /// Every `interval`, on a fixed-rate schedule.
    Fixed,
    /// `min` after a cycle that found changes, else the last interval
    /// times `factor`, up to `max`; measured from the cycle's end.
    Adaptive {
        /// Shortest interval.
        min: SimDuration,
        /// Longest interval.
        max: SimDuration,
        /// Growth per empty cycle.
        factor: f64,
    },
    /// Long polling: the source holds each request; the next is sent as
    /// soon as the answer arrives.
    Long,
}

/// Per-mailbox state: 40 bytes (tested).
#[derive(Clone, Copy, Debug, Default)]
struct MailboxPoll {
    /// Start of the current schedule slot (before jitter).
    slot: u64,
    /// The saved cursor (saved only after a page is applied).
    cursor: Cursor,
    /// Errors in a row (for backoff); 0 when healthy.
    failures: u16,
    /// True while a cycle is in progress (paging or retrying).
    in_cycle: bool,
    /// What the next request of the cycle is.
    pending: RequestKind,
    /// True when the current cycle found changes (adaptive pace).
    saw_changes: bool,
    /// The current adaptive interval, µs.
    interval: u64,
}

/// What kind of request the poller is about to send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RequestKind {
    /// The first request of a poll cycle.
    #[default]
    CycleStart,
    /// The next page of a cycle.
    NextPage,
    /// A retry after an error or 429.
    Retry,
    /// A page of a full resync (after an expired cursor).
    Resync,
}

/// The polling consumer for all mailboxes.
#[derive(Debug)]
pub struct Poller {
    cfg: PollerConfig,
    state: Vec<MailboxPoll>,
    /// Per-mailbox jitter streams; empty without jitter.
    jitter_rngs: Vec<SimRng>,
}

impl Poller {
    /// Hints the CPU to load mailbox `m`'s schedule (see
    /// [`crate::engine::arena::prefetch`]).
    #[inline]
    pub fn prefetch(&self, m: u32) {
        if let Some(s) = self.state.get(m as usize) {
            crate::engine::arena::prefetch(s);
        }
    }

    /// A poller for `mailboxes`, each with a seeded phase in `[0, interval)`.
    /// Returns the poller and each mailbox's first tick.
    pub fn new(cfg: PollerConfig, mailboxes: u32, streams: &Streams) -> (Self, Vec<SimTime>) {
        let mut poller = Poller {
            cfg,
            state: vec![MailboxPoll::default(); mailboxes as usize],
            jitter_rngs: if cfg.jitter.is_zero() {
                Vec::new()
            } else {
                (0..mailboxes)
                    .map(|m| streams.stream(Purpose::PollJitter, m as u64))
                    .collect()
            },
        };
        let firsts = (0..mailboxes)
            .map(|m| {
                let phase = below(
                    &mut streams.stream(Purpose::PollPhase, m as u64),
                    cfg.interval.0,
                );
                poller.state[m as usize].slot = phase;
                poller.state[m as usize].interval = cfg.interval.0;
                poller.tick_time(m, SimTime::ZERO)
            })
            .collect();
        (poller, firsts)
    }

    /// The config.
    pub fn config(&self) -> &PollerConfig {
        &self.cfg
    }

    /// The saved cursor of a mailbox.
    pub fn cursor(&self, mailbox: u32) -> Cursor {
        self.state[mailbox as usize].cursor
    }

    /// The sequence cursor of `mailbox`'s next cycle when that cycle is a
    /// quiet-poll candidate (see `halves::quiet_poll`): fixed pace, no
    /// jitter, no cycle under way, a sequence cursor saved. With it, the
    /// next slot's start: an answer arriving before it ends the cycle
    /// with the next tick there, whenever it arrives.
    #[inline(always)]
    pub fn quiet_cursor(&self, mailbox: u32) -> Option<(u32, SimTime)> {
        let s = &self.state[mailbox as usize];
        match s.cursor {
            Cursor::Seq(c)
                if !s.in_cycle && self.cfg.pace == Pace::Fixed && self.cfg.jitter.is_zero() =>
            {
                Some((c, SimTime(s.slot + self.cfg.interval.0)))
            }
            _ => None,
        }
    }

    /// A quiet cycle of `mailbox` (see [`Poller::quiet_cursor`]) was
    /// answered empty before the next slot's start: as
    /// [`Poller::request`] then [`Poller::on_page_applied`] with the same
    /// cursor would, the cycle ends with the next tick at that slot
    /// (returned).
    #[inline(always)]
    pub fn quiet_answered(&mut self, mailbox: u32) -> SimTime {
        let s = &mut self.state[mailbox as usize];
        s.failures = 0;
        s.slot += self.cfg.interval.0;
        SimTime(s.slot)
    }

    /// The request to send now for `mailbox`, and what kind it is.
    #[inline]
    pub fn request(&mut self, mailbox: u32) -> (ListRequest, RequestKind) {
        let s = &mut self.state[mailbox as usize];
        let kind = if s.in_cycle {
            s.pending
        } else {
            s.in_cycle = true;
            RequestKind::CycleStart
        };
        (
            ListRequest {
                mailbox,
                cursor: s.cursor,
                limit: self.cfg.page_size,
                conditional: self.cfg.conditional,
            },
            kind,
        )
    }

    /// A page was applied at `now`: save the cursor; returns when to send
    /// the next request (now, for the next page). A full page that does not
    /// move the cursor (more ties than a page, with an inclusive cursor)
    /// would loop forever: the cycle ends there, as a real client's loop
    /// guard would end it.
    #[inline(always)]
    pub fn on_page_applied(
        &mut self,
        mailbox: u32,
        now: SimTime,
        next_cursor: Cursor,
        has_more: bool,
    ) -> SimTime {
        let s = &mut self.state[mailbox as usize];
        let stuck = has_more && next_cursor == s.cursor;
        // Moving from "nothing yet" to "position 0" is no news.
        let moved = next_cursor != s.cursor
            && !(s.cursor == Cursor::Start && next_cursor == Cursor::Seq(0));
        s.saw_changes |= moved;
        s.cursor = next_cursor;
        s.failures = 0;
        if has_more && !stuck {
            s.pending = RequestKind::NextPage;
            now
        } else {
            s.in_cycle = false;
            self.next_tick(mailbox, now)
        }
    }

    /// The source said the cursor expired: resync from page 0 now.
    pub fn on_expired(&mut self, mailbox: u32, now: SimTime) -> SimTime {
        let s = &mut self.state[mailbox as usize];
        s.cursor = Cursor::Resync(0);
        s.pending = RequestKind::Resync;
        now
    }

    /// Resync page `page` of `pages` arrived at `now` (and, if it was the
    /// last, the snapshot was applied): continue, or save `end` and sleep.
    pub fn on_snapshot(
        &mut self,
        mailbox: u32,
        now: SimTime,
        page: u32,
        pages: u32,
        end: Cursor,
    ) -> SimTime {
        let s = &mut self.state[mailbox as usize];
        s.failures = 0;
        if page + 1 < pages {
            s.cursor = Cursor::Resync(page + 1);
            s.pending = RequestKind::Resync;
            now
        } else {
            s.cursor = end;
            s.in_cycle = false;
            self.next_tick(mailbox, now)
        }
    }

    /// The source answered 429 at `now`: retry after `retry_after`.
    pub fn on_rate_limited(
        &mut self,
        mailbox: u32,
        now: SimTime,
        retry_after: SimDuration,
    ) -> SimTime {
        self.state[mailbox as usize].pending = RequestKind::Retry;
        now + retry_after
    }

    /// The source failed (5xx) at `now`: retry after an exponential backoff.
    pub fn on_error(&mut self, mailbox: u32, now: SimTime) -> SimTime {
        let s = &mut self.state[mailbox as usize];
        let shift = s.failures.min(40) as u32;
        s.failures = s.failures.saturating_add(1);
        if s.pending != RequestKind::Resync {
            s.pending = RequestKind::Retry;
        }
        let delay = self
            .cfg
            .backoff_base
            .0
            .saturating_mul(1u64 << shift)
            .min(self.cfg.backoff_max.0);
        now + SimDuration(delay)
    }

    /// The jittered time of the current slot, not before `floor`.
    fn tick_time(&mut self, mailbox: u32, floor: SimTime) -> SimTime {
        let slot = self.state[mailbox as usize].slot;
        let t = match self.jitter_rngs.get_mut(mailbox as usize) {
            Some(rng) => {
                let j = self.cfg.jitter.0;
                (slot + below(rng, 2 * j + 1)).saturating_sub(j)
            }
            None => slot,
        };
        SimTime(t.max(floor.0))
    }

    /// Ends a cycle at `now` and returns when the next one starts.
    fn next_tick(&mut self, mailbox: u32, now: SimTime) -> SimTime {
        match self.cfg.pace {
            Pace::Fixed => self.next_slot(mailbox, now),
            Pace::Long => now,
            Pace::Adaptive { min, max, factor } => {
                let s = &mut self.state[mailbox as usize];
                s.interval = if s.saw_changes {
                    min.0
                } else {
                    ((s.interval.max(min.0) as f64 * factor) as u64).min(max.0)
                };
                s.saw_changes = false;
                now + SimDuration(s.interval)
            }
        }
    }

    /// Advances to the first schedule slot after `now` and returns its time.
    fn next_slot(&mut self, mailbox: u32, now: SimTime) -> SimTime {
        let interval = self.cfg.interval.0;
        let s = &mut self.state[mailbox as usize];
        s.slot += interval;
        if s.slot <= now.0 {
            // A long cycle overran whole slots: skip them, keep the phase.
            s.slot += (now.0 - s.slot) / interval * interval + interval;
        }
        let floor = SimTime(now.0 + 1);
        self.tick_time(mailbox, floor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What ARCHITECTURE's memory invariant counts per polling mailbox
    /// (on 64-bit targets, where a `u64` is 8-aligned).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_mailbox_poll_state_is_40_bytes() {
        assert_eq!(std::mem::size_of::<MailboxPoll>(), 40);
    }

    fn cfg() -> PollerConfig {
        PollerConfig {
            interval: SimDuration::from_secs(300),
            jitter: SimDuration::ZERO,
            page_size: 200,
            backoff_base: SimDuration::from_secs(1),
            backoff_max: SimDuration::from_secs(300),
            pace: Pace::Fixed,
            conditional: false,
        }
    }

    #[test]
    fn fixed_rate_schedule_keeps_phase() {
        let (mut p, firsts) = Poller::new(cfg(), 1, &Streams::new(1));
        let t0 = firsts[0];
        assert!(t0.0 < 300_000_000);
        let (_, kind) = p.request(0);
        assert_eq!(kind, RequestKind::CycleStart);
        let next = p.on_page_applied(0, t0 + SimDuration::from_millis(100), Cursor::Seq(0), false);
        assert_eq!(next.0, t0.0 + 300_000_000);
    }

    #[test]
    fn adaptive_pace_drops_to_min_then_grows_to_max() {
        let mut c = cfg();
        c.pace = Pace::Adaptive {
            min: SimDuration::from_secs(10),
            max: SimDuration::from_secs(600),
            factor: 2.0,
        };
        c.interval = SimDuration::from_secs(600);
        let (mut p, _) = Poller::new(c, 1, &Streams::new(1));
        let mut now = SimTime(0);
        let mut gaps = vec![];
        // The first cycle moves the cursor (a change); the rest find nothing.
        for _ in 0..8 {
            p.request(0);
            let next = p.on_page_applied(0, now, Cursor::Seq(1), false);
            gaps.push(next.since(now).as_secs_f64());
            now = next;
        }
        assert_eq!(
            gaps,
            vec![10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 600.0, 600.0]
        );
    }

    #[test]
    fn backoff_doubles_to_the_cap() {
        let (mut p, _) = Poller::new(cfg(), 1, &Streams::new(1));
        p.request(0);
        let mut now = SimTime(0);
        let mut delays = vec![];
        for _ in 0..11 {
            let next = p.on_error(0, now);
            delays.push(next.since(now).as_secs_f64());
            now = next;
            assert_eq!(p.request(0).1, RequestKind::Retry);
        }
        assert_eq!(
            delays,
            vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 300.0, 300.0]
        );
    }

    #[test]
    fn paging_continues_immediately_and_saves_cursor() {
        let (mut p, _) = Poller::new(cfg(), 1, &Streams::new(1));
        p.request(0);
        let now = SimTime(5);
        assert_eq!(p.on_page_applied(0, now, Cursor::Seq(200), true), now);
        let (req, kind) = p.request(0);
        assert_eq!(
            (req.cursor, kind),
            (Cursor::Seq(200), RequestKind::NextPage)
        );
    }

    #[test]
    fn a_full_page_that_does_not_move_the_cursor_ends_the_cycle() {
        let (mut p, _) = Poller::new(cfg(), 1, &Streams::new(1));
        p.request(0);
        let now = SimTime(5);
        assert_eq!(p.on_page_applied(0, now, Cursor::Stamp(7), true), now);
        p.request(0);
        assert!(
            p.on_page_applied(0, now, Cursor::Stamp(7), true) > now,
            "stuck: wait for the next tick"
        );
    }

    #[test]
    fn expiry_resyncs_page_by_page_then_saves_the_end_cursor() {
        let (mut p, _) = Poller::new(cfg(), 1, &Streams::new(1));
        p.request(0);
        let now = SimTime(9);
        assert_eq!(p.on_expired(0, now), now);
        assert_eq!(
            p.request(0),
            (
                ListRequest {
                    mailbox: 0,
                    cursor: Cursor::Resync(0),
                    limit: 200,
                    conditional: false,
                },
                RequestKind::Resync
            )
        );
        assert_eq!(p.on_snapshot(0, now, 0, 2, Cursor::Seq(350)), now);
        assert_eq!(p.request(0).0.cursor, Cursor::Resync(1));
        assert!(p.on_snapshot(0, now, 1, 2, Cursor::Seq(350)) > now);
        assert_eq!(p.cursor(0), Cursor::Seq(350));
    }
}
