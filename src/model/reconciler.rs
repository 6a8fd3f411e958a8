//! The hybrid's reconciler: every `reconcile_every` (seeded phase per
//! mailbox), list each mailbox's changes in a window and apply what the
//! replica lacks. The window is `lookback` back from the run's start, or
//! (`watermark`) everything stamped since the previous run began. Pages
//! continue until `has_more` is false. Sans-IO: methods take the time and
//! return when the reconciler next wants to send.
//!
//! Runs that fall due while the consumer is down are skipped (a scheduled
//! job, not a loop): after a crash of length D the first run comes up to
//! one period after the restart, so recovering every change needs
//! `lookback >= reconcile_every + D`.

use super::source::{Cursor, ListRequest};
use crate::engine::rng::{Purpose, Streams};
use crate::engine::sample::below;
use crate::engine::time::{SimDuration, SimTime};

/// How far back a run looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookback {
    /// Changes stamped within this span before the run.
    Window(SimDuration),
    /// Changes stamped since the previous run began.
    Watermark,
}

/// Reconciler settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReconcilerConfig {
    /// Time between runs for one mailbox.
    pub every: SimDuration,
    /// The window.
    pub lookback: Lookback,
    /// Page size to ask for.
    pub page_size: u32,
    /// First backoff after an error within a run; it doubles per failure
    /// in a row, up to `every`.
    pub retry: SimDuration,
}

#[derive(Clone, Copy, Debug, Default)]
struct MailboxRun {
    /// Start of the current schedule slot.
    slot: u64,
    /// When the previous run began (the watermark).
    watermark: u64,
    /// The cursor of the run in progress.
    cursor: Cursor,
    /// True while a run is in progress.
    running: bool,
    /// Errors in a row (for backoff).
    failures: u16,
}

/// The reconciler for all mailboxes.
#[derive(Clone, Debug)]
pub struct Reconciler {
    cfg: ReconcilerConfig,
    state: Vec<MailboxRun>,
}

impl Reconciler {
    /// Hints the CPU to load mailbox `m`'s schedule (see
    /// [`crate::engine::arena::prefetch`]).
    #[inline]
    pub fn prefetch(&self, m: u32) {
        if let Some(s) = self.state.get(m as usize) {
            crate::engine::arena::prefetch(s);
        }
    }

    /// A reconciler with a seeded phase per mailbox; returns each first run.
    pub fn new(cfg: ReconcilerConfig, mailboxes: u32, streams: &Streams) -> (Self, Vec<SimTime>) {
        let mut firsts = Vec::with_capacity(mailboxes as usize);
        let state = (0..mailboxes)
            .map(|m| {
                let phase = below(
                    &mut streams.stream(Purpose::ReconcilePhase, m as u64),
                    cfg.every.0,
                );
                firsts.push(SimTime(phase));
                MailboxRun {
                    slot: phase,
                    ..MailboxRun::default()
                }
            })
            .collect();
        (Reconciler { cfg, state }, firsts)
    }

    /// The request to send now for `mailbox` (starting a run if none is in
    /// progress), and whether it starts a run.
    pub fn request(&mut self, mailbox: u32, now: SimTime) -> (ListRequest, bool) {
        let s = &mut self.state[mailbox as usize];
        let starts = !s.running;
        if starts {
            s.running = true;
            let since = match self.cfg.lookback {
                Lookback::Window(l) => now.0.saturating_sub(l.0),
                Lookback::Watermark => s.watermark,
            };
            s.watermark = now.0;
            s.cursor = Cursor::Since(since);
        }
        (
            ListRequest {
                mailbox,
                cursor: s.cursor,
                limit: self.cfg.page_size,
                conditional: false,
            },
            starts,
        )
    }

    /// A page was applied at `now`: continue the run, or end it and sleep
    /// until the next slot.
    pub fn on_page(&mut self, mailbox: u32, now: SimTime, next: Cursor, has_more: bool) -> SimTime {
        let s = &mut self.state[mailbox as usize];
        s.failures = 0;
        if has_more && next != s.cursor {
            s.cursor = next;
            now
        } else {
            s.running = false;
            self.next_slot(mailbox, now)
        }
    }

    /// The request failed (5xx, or 429 with `wait` = Retry-After): retry
    /// within the run after an exponential backoff (capped at the period),
    /// or the Retry-After if longer.
    pub fn on_error(&mut self, mailbox: u32, now: SimTime, wait: SimDuration) -> SimTime {
        let s = &mut self.state[mailbox as usize];
        let shift = s.failures.min(40) as u32;
        s.failures = s.failures.saturating_add(1);
        let backoff = self
            .cfg
            .retry
            .0
            .saturating_mul(1 << shift)
            .min(self.cfg.every.0);
        now + SimDuration(backoff).max(wait)
    }

    /// The consumer is down at the run's time: skip it.
    pub fn skip(&mut self, mailbox: u32, now: SimTime) -> SimTime {
        self.state[mailbox as usize].running = false;
        self.next_slot(mailbox, now)
    }

    /// Advances to the first slot after `now`.
    fn next_slot(&mut self, mailbox: u32, now: SimTime) -> SimTime {
        let every = self.cfg.every.0;
        let s = &mut self.state[mailbox as usize];
        s.slot += every;
        if s.slot <= now.0 {
            s.slot += (now.0 - s.slot) / every * every + every;
        }
        SimTime(s.slot)
    }
}

impl Reconciler {
    /// The earliest commit time mailbox `m`'s listings may still need at
    /// `now` or later: the run in progress's cursor, and the window of any
    /// run starting from `now` (its `since`: `now` minus the lookback, or
    /// the watermark). A change committed before it is never listed again.
    pub fn needs_from(&self, m: u32, now: SimTime) -> u64 {
        let s = &self.state[m as usize];
        let next = match self.cfg.lookback {
            Lookback::Window(l) => now.0.saturating_sub(l.0),
            Lookback::Watermark => s.watermark,
        };
        let current = match s.cursor {
            _ if !s.running => u64::MAX,
            Cursor::Since(c) | Cursor::Stamp(c) | Cursor::StampId(c, _) => c,
            _ => 0,
        };
        next.min(current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(lookback: Lookback) -> ReconcilerConfig {
        ReconcilerConfig {
            every: SimDuration::from_secs(1800),
            lookback,
            page_size: 100,
            retry: SimDuration::from_secs(1),
        }
    }

    #[test]
    fn window_and_watermark_runs() {
        let (mut r, firsts) = Reconciler::new(
            cfg(Lookback::Window(SimDuration::from_secs(3600))),
            1,
            &Streams::new(1),
        );
        let t = firsts[0] + SimDuration::from_secs(7200);
        let (req, starts) = r.request(0, t);
        assert!(starts);
        assert_eq!(req.cursor, Cursor::Since(t.0 - 3_600_000_000));
        let next = r.on_page(0, t, Cursor::StampId(5, 1), false);
        assert_eq!(
            next.0 % 1_800_000_000,
            firsts[0].0 % 1_800_000_000,
            "phase kept"
        );

        let (mut w, _) = Reconciler::new(cfg(Lookback::Watermark), 1, &Streams::new(1));
        assert_eq!(w.request(0, SimTime(100)).0.cursor, Cursor::Since(0));
        w.on_page(0, SimTime(100), Cursor::Start, false);
        assert_eq!(w.request(0, SimTime(5000)).0.cursor, Cursor::Since(100));
    }

    #[test]
    fn errors_back_off_exponentially_up_to_the_period() {
        let (mut r, _) = Reconciler::new(cfg(Lookback::Watermark), 1, &Streams::new(3));
        let mut now = SimTime(0);
        let mut gaps = vec![];
        for _ in 0..13 {
            let next = r.on_error(0, now, SimDuration::ZERO);
            gaps.push(next.since(now).as_secs_f64());
            now = next;
        }
        assert_eq!(gaps[..4], [1.0, 2.0, 4.0, 8.0]);
        assert_eq!(gaps[11..], [1800.0, 1800.0]);
    }

    #[test]
    fn pages_continue_within_a_run_and_skips_keep_the_schedule() {
        let (mut r, firsts) = Reconciler::new(cfg(Lookback::Watermark), 1, &Streams::new(2));
        let t = firsts[0];
        r.request(0, t);
        assert_eq!(r.on_page(0, t, Cursor::StampId(9, 3), true), t);
        let (req, starts) = r.request(0, t);
        assert!(!starts);
        assert_eq!(req.cursor, Cursor::StampId(9, 3));
        let later = r.skip(0, t + SimDuration::from_secs(4000));
        assert!(later.0 > t.0 + 4_000_000_000 && (later.0 - t.0) % 1_800_000_000 == 0);
    }
}
