//! The webhook sender: the provider's delivery system, sans-IO.
//!
//! One notification per source change. Each is attempted, and on failure
//! retried after the preset's delays, then given up (skipped, as real
//! providers do). At most `max_in_flight` attempts are outstanding; the rest
//! wait in order, so with random network times deliveries overtake each
//! other. Endpoint health: when at least `failing_ratio` of attempts failed
//! over the sliding window the endpoint is failing; failing for
//! `disable_after` disables it (no more sends) until `reenable_after`.
//!
//! A real endpoint's answer can say more than ok or failed (a
//! [`Verdict`]); the preset says which of it the provider honours
//! ([`Honours`](super::presets::Honours), from FACTS.md): a 410 disables
//! the endpoint at once, as health does, and gives the message up as
//! `endpoint_disabled`; Svix's `abort-message` gives the message up at
//! once (a failed attempt); a `Retry-After` on a failure delays its next
//! retry to at least that long, but still consumes one retry of the
//! schedule (so a throttling endpoint cannot keep a message alive
//! forever, and the give-up point stays the preset's).
//!
//! The sender never sends by itself: methods take `now` and push
//! [`SenderOut`]s that the driver turns into transmissions and timers.

use super::presets::{HealthRule, SenderConfig};
use super::transmit::Verdict;
use crate::engine::time::{SimDuration, SimTime};
use std::collections::VecDeque;

/// Index of a notification in the sender's table.
pub type NoteId = u32;

/// One notification being delivered.
#[derive(Clone, Copy, Debug, Default)]
pub struct Note {
    /// Mailbox of the change.
    pub mailbox: u32,
    /// Sequence number of the change in its mailbox (the event id).
    pub seq: u32,
    /// Attempts sent so far.
    pub attempt: u16,
    /// Bumped at every attempt; events carry it, so late ones are ignored.
    pub gen: u32,
    /// True while an attempt awaits its outcome.
    pub in_flight: bool,
    /// When the current attempt was sent.
    pub sent_at: SimTime,
}

/// What the sender asks the driver to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SenderOut {
    /// Transmit the current attempt of this notification now.
    Send(NoteId),
    /// Call [`Sender::retry_due`] for this notification at this time.
    Retry(NoteId, SimTime),
    /// Call [`Sender::reenable`] at this time.
    Reenable(SimTime),
    /// This change will not be delivered by webhook.
    GaveUp {
        /// Mailbox of the change.
        mailbox: u32,
        /// Sequence number of the change.
        seq: u32,
        /// True when skipped because the endpoint was disabled (not after
        /// its last attempt).
        disabled: bool,
    },
}

/// Delivery counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SenderStats {
    /// Notifications created (one per change).
    pub notifications: u64,
    /// Attempts sent.
    pub attempts: u64,
    /// Notifications acknowledged with a 2xx.
    pub delivered: u64,
    /// Attempts that failed (refused, error status, timeout).
    pub failed_attempts: u64,
    /// Notifications given up after their last attempt.
    pub abandoned: u64,
    /// Notifications never (or no longer) sent because the endpoint was disabled.
    pub skipped_disabled: u64,
    /// Times the endpoint was disabled.
    pub disabled_times: u64,
    /// Total time the endpoint spent disabled.
    pub disabled_for: SimDuration,
}

/// Buckets in a sliding window (health, Graph's slow-endpoint rule).
const HEALTH_BUCKETS: usize = 15;

/// Two counts over a sliding window of [`HEALTH_BUCKETS`] buckets, kept
/// as outcomes come and buckets leave the window (no outcome scans it).
#[derive(Clone, Debug)]
struct Tally {
    /// (bucket number, first count, second count); `u64::MAX` when unused.
    buckets: [(u64, u32, u32); HEALTH_BUCKETS],
    /// The bucket the last outcome fell in.
    current: u64,
    /// The counts in the live buckets.
    a: u64,
    b: u64,
}

impl Tally {
    const EMPTY: Tally = Tally {
        buckets: [(u64::MAX, 0, 0); HEALTH_BUCKETS],
        current: u64::MAX,
        a: 0,
        b: 0,
    };

    fn bucket_len(window: SimDuration) -> u64 {
        (window.0 / HEALTH_BUCKETS as u64).max(1)
    }

    /// Drops the buckets that left a `window` ending at `now` (times
    /// come in order, so a bucket is never ahead of now's).
    fn advance(&mut self, now: SimTime, window: SimDuration) -> u64 {
        let n = now.0 / Self::bucket_len(window);
        if n != self.current {
            for b in &mut self.buckets {
                if b.0 != u64::MAX && n - b.0 >= HEALTH_BUCKETS as u64 {
                    self.a -= b.1 as u64;
                    self.b -= b.2 as u64;
                    *b = (u64::MAX, 0, 0);
                }
            }
            self.current = n;
        }
        n
    }

    /// Counts one outcome at `now` in the first (`second` false) or the
    /// second count; returns both counts over the window.
    fn record(&mut self, now: SimTime, window: SimDuration, second: bool) -> (u64, u64) {
        let n = self.advance(now, window);
        let b = &mut self.buckets[(n % HEALTH_BUCKETS as u64) as usize];
        if b.0 != n {
            *b = (n, 0, 0);
        }
        if second {
            b.2 += 1;
            self.b += 1;
        } else {
            b.1 += 1;
            self.a += 1;
        }
        (self.a, self.b)
    }
}

/// Sliding-window endpoint health.
#[derive(Clone, Debug)]
struct Health {
    rule: Option<HealthRule>,
    /// Successes and failures over the window.
    tally: Tally,
    failing_since: Option<SimTime>,
    disabled_since: Option<SimTime>,
}

impl Health {
    /// Records an outcome; returns true if this disabled the endpoint.
    fn record(&mut self, now: SimTime, ok: bool) -> bool {
        let Some(rule) = self.rule else { return false };
        let (oks, fails) = self.tally.record(now, rule.window, !ok);
        if fails as f64 >= rule.failing_ratio * (oks + fails) as f64 && fails > 0 {
            let since = *self.failing_since.get_or_insert(now);
            if now.since(since) >= rule.disable_after && self.disabled_since.is_none() {
                self.disabled_since = Some(now);
                return true;
            }
        } else {
            self.failing_since = None;
        }
        false
    }
}

/// Where Graph's slow-endpoint rule ([`SlowRule`](super::presets::SlowRule)) has put
/// the endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Throttle {
    /// Notifications go out at once.
    Normal,
    /// New notifications go out after the rule's delay.
    Slow,
    /// New notifications are dropped.
    Drop,
}

/// The provider's sender for one endpoint.
#[derive(Clone, Debug)]
pub struct Sender {
    cfg: SenderConfig,
    notes: Vec<Note>,
    free: Vec<NoteId>,
    backlog: VecDeque<NoteId>,
    in_flight: u32,
    health: Health,
    /// Fast and slow answers over Graph's window (with a [`SlowRule`]).
    pace: Tally,
    /// Counters.
    pub stats: SenderStats,
}

impl Sender {
    /// A sender with `cfg`.
    pub fn new(cfg: SenderConfig) -> Self {
        Sender {
            health: Health {
                rule: cfg.health,
                tally: Tally::EMPTY,
                failing_since: None,
                disabled_since: None,
            },
            pace: Tally::EMPTY,
            cfg,
            notes: Vec::new(),
            free: Vec::new(),
            backlog: VecDeque::new(),
            in_flight: 0,
            stats: SenderStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SenderConfig {
        &self.cfg
    }

    /// A notification's state.
    #[inline]
    pub fn note(&self, id: NoteId) -> &Note {
        &self.notes[id as usize]
    }

    /// True while the endpoint is disabled.
    pub fn disabled(&self) -> bool {
        self.health.disabled_since.is_some()
    }

    /// Notifications in the sender (waiting, in flight or awaiting a retry).
    pub fn pending(&self) -> usize {
        self.notes.len() - self.free.len()
    }

    /// A change was committed at `now`: create its notification.
    pub fn notify(&mut self, now: SimTime, mailbox: u32, seq: u32, out: &mut Vec<SenderOut>) {
        self.stats.notifications += 1;
        if self.disabled() {
            self.stats.skipped_disabled += 1;
            out.push(SenderOut::GaveUp {
                mailbox,
                seq,
                disabled: true,
            });
            return;
        }
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.notes.push(Note::default());
                (self.notes.len() - 1) as NoteId
            }
        };
        let gen = self.notes[id as usize].gen;
        self.notes[id as usize] = Note {
            mailbox,
            seq,
            attempt: 0,
            gen,
            in_flight: false,
            sent_at: now,
        };
        match (self.throttle(now), self.cfg.slow) {
            // Graph drops new notifications to an endpoint marked "drop".
            (Throttle::Drop, _) => self.give_up(id, true, out),
            // ... and sends them on a delay to one marked "slow".
            (Throttle::Slow, Some(rule)) => out.push(SenderOut::Retry(id, now + rule.delay)),
            _ => self.dispatch(now, id, out),
        }
    }

    /// Where Graph's slow-endpoint rule puts the endpoint at `now`: the
    /// share of slow answers over the rule's window against its two
    /// thresholds (always [`Throttle::Normal`] without a rule).
    pub fn throttle(&mut self, now: SimTime) -> Throttle {
        let Some(rule) = self.cfg.slow else {
            return Throttle::Normal;
        };
        self.pace.advance(now, rule.window);
        let (fast, slow) = (self.pace.a, self.pace.b);
        let share = if slow == 0 {
            0.0
        } else {
            slow as f64 / (fast + slow) as f64
        };
        if share > rule.drop_share {
            Throttle::Drop
        } else if share > rule.slow_share {
            Throttle::Slow
        } else {
            Throttle::Normal
        }
    }

    /// A retry timer fired.
    pub fn retry_due(&mut self, now: SimTime, id: NoteId, out: &mut Vec<SenderOut>) {
        self.dispatch(now, id, out);
    }

    /// The outcome of attempt `gen` of `id` is known at `now` (a 2xx, or a
    /// failure: refused, error status, timeout, perhaps with a 410, an
    /// abort or a `Retry-After` that the preset honours or not). Returns
    /// false for an outcome that no longer matters (an earlier attempt's
    /// late answer).
    pub fn on_result(
        &mut self,
        now: SimTime,
        id: NoteId,
        gen: u32,
        verdict: Verdict,
        out: &mut Vec<SenderOut>,
    ) -> bool {
        let note = &mut self.notes[id as usize];
        if note.gen != gen || !note.in_flight {
            return false;
        }
        note.in_flight = false;
        let note = *note;
        self.in_flight -= 1;
        let ok = verdict.ok;
        let honours = self.cfg.honours;
        let gone = !ok && verdict.gone && honours.gone;
        let abort = !ok && verdict.abort && honours.abort;
        if self.health.record(now, ok) {
            self.disable(now, out);
        }
        if let Some(rule) = self.cfg.slow {
            // No answer by the timeout, or one slower than the threshold.
            let slow = verdict.timed_out || now.since(note.sent_at) > rule.threshold;
            self.pace.record(now, rule.window, slow);
        }
        if gone && !self.disabled() {
            self.health.disabled_since = Some(now);
            self.disable(now, out);
        }
        if ok {
            self.stats.delivered += 1;
            self.release(id);
        } else {
            self.stats.failed_attempts += 1;
            if gone || abort {
                self.give_up(id, gone, out);
            } else if let Some(delay) = self.cfg.retries.get(note.attempt as usize - 1) {
                // Retry-After delays the retry it precedes, never adds one.
                let wait = match verdict.retry_after {
                    Some(after) if honours.retry_after => (*delay).max(after),
                    _ => *delay,
                };
                out.push(SenderOut::Retry(id, now + wait));
            } else {
                self.give_up(id, false, out);
            }
        }
        while self.in_flight < self.cfg.max_in_flight {
            let Some(next) = self.backlog.pop_front() else {
                break;
            };
            self.dispatch(now, next, out);
        }
        true
    }

    /// The endpoint is enabled again (an operator, after `reenable_after`).
    pub fn reenable(&mut self, now: SimTime) {
        if let Some(since) = self.health.disabled_since.take() {
            self.stats.disabled_for = self.stats.disabled_for + now.since(since);
        }
        self.health.failing_since = None;
        self.health.tally = Tally::EMPTY;
    }

    /// Closes the books at the end of the run.
    pub fn finish(&mut self, end: SimTime) {
        if let Some(since) = self.health.disabled_since {
            self.stats.disabled_for = self.stats.disabled_for + end.since(since);
        }
    }

    /// The endpoint was disabled at `now` (`health.disabled_since` is
    /// set): count it, ask for the re-enable, give up what waits.
    fn disable(&mut self, now: SimTime, out: &mut Vec<SenderOut>) {
        self.stats.disabled_times += 1;
        if let Some(after) = self.cfg.reenable_after {
            out.push(SenderOut::Reenable(now + after));
        }
        while let Some(waiting) = self.backlog.pop_front() {
            self.give_up(waiting, true, out);
        }
    }

    fn dispatch(&mut self, now: SimTime, id: NoteId, out: &mut Vec<SenderOut>) {
        if self.disabled() {
            self.give_up(id, true, out);
        } else if self.in_flight < self.cfg.max_in_flight {
            self.in_flight += 1;
            self.stats.attempts += 1;
            let note = &mut self.notes[id as usize];
            note.attempt += 1;
            note.gen = note.gen.wrapping_add(1);
            note.in_flight = true;
            note.sent_at = now;
            out.push(SenderOut::Send(id));
        } else {
            self.backlog.push_back(id);
        }
    }

    fn give_up(&mut self, id: NoteId, disabled: bool, out: &mut Vec<SenderOut>) {
        let note = self.notes[id as usize];
        if disabled {
            self.stats.skipped_disabled += 1;
        } else {
            self.stats.abandoned += 1;
        }
        out.push(SenderOut::GaveUp {
            mailbox: note.mailbox,
            seq: note.seq,
            disabled,
        });
        self.release(id);
    }

    fn release(&mut self, id: NoteId) {
        self.notes[id as usize].gen = self.notes[id as usize].gen.wrapping_add(1);
        self.free.push(id);
    }
}

impl Sender {
    /// Calls `f(mailbox, seq)` for every notification the sender still
    /// holds (waiting, in flight, or awaiting a retry): the changes it may
    /// still read (a streaming run keeps them).
    pub fn each_pending(&self, mut f: impl FnMut(u32, u32)) {
        let mut free = vec![false; self.notes.len()];
        for &id in &self.free {
            free[id as usize] = true;
        }
        for (n, _) in self.notes.iter().zip(free).filter(|(_, free)| !free) {
            f(n.mailbox, n.seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::presets::{preset, Honours};

    const OK: Verdict = Verdict::plain(true, false);
    const FAILED: Verdict = Verdict::plain(false, false);

    /// A failure carrying a `Retry-After` of `secs`.
    fn throttled(secs: u64) -> Verdict {
        Verdict {
            retry_after: Some(SimDuration::from_secs(secs)),
            ..FAILED
        }
    }

    /// Answers the current attempt of `id` at `now`; returns what the
    /// sender asked for.
    fn answer(s: &mut Sender, now: SimTime, id: NoteId, v: Verdict) -> Vec<SenderOut> {
        let mut out = vec![];
        let gen = s.note(id).gen;
        assert!(s.on_result(now, id, gen, v, &mut out));
        out
    }

    fn gave_up(mailbox: u32, seq: u32, disabled: bool) -> SenderOut {
        SenderOut::GaveUp {
            mailbox,
            seq,
            disabled,
        }
    }

    fn sends(out: &[SenderOut]) -> Vec<NoteId> {
        out.iter()
            .filter_map(|o| {
                if let SenderOut::Send(id) = o {
                    Some(*id)
                } else {
                    None
                }
            })
            .collect()
    }

    /// Regression: unused health buckets start at `u64::MAX`; counting them
    /// overflowed (debug builds panicked, release wrapped). Every preset
    /// with a health rule records outcomes from time zero on.
    #[test]
    fn health_window_counts_from_time_zero_without_overflow() {
        let rule = HealthRule {
            failing_ratio: 0.5,
            window: SimDuration::from_secs(900),
            disable_after: SimDuration::from_secs(60),
        };
        let mut h = Health {
            rule: Some(rule),
            tally: Tally::EMPTY,
            failing_since: None,
            disabled_since: None,
        };
        // Failing from t = 0: disabled once 60 s of failure have passed.
        assert!(!h.record(SimTime(0), false));
        assert!(!h.record(SimTime(59 * 1_000_000), false));
        assert!(h.record(SimTime(60 * 1_000_000), false));
        // A fresh window 20 min later only counts what happened since.
        let mut h2 = h.clone();
        h2.disabled_since = None;
        h2.failing_since = None;
        assert!(!h2.record(SimTime(1_300 * 1_000_000), true));
        assert_eq!(h2.failing_since, None);
    }

    #[test]
    fn nylas_retries_twice_then_gives_up() {
        let mut s = Sender::new(preset("nylas").unwrap());
        let mut out = vec![];
        s.notify(SimTime(0), 3, 7, &mut out);
        let id = sends(&out)[0];
        let mut now = SimTime(0);
        let mut retry_times = vec![];
        for _ in 0..3 {
            out.clear();
            let gen = s.note(id).gen;
            assert!(s.on_result(now, id, gen, FAILED, &mut out));
            match out[0] {
                SenderOut::Retry(_, at) => {
                    retry_times.push(at.since(now).as_secs_f64());
                    now = at;
                    out.clear();
                    s.retry_due(now, id, &mut out);
                    assert_eq!(sends(&out), vec![id]);
                }
                SenderOut::GaveUp {
                    mailbox,
                    seq,
                    disabled,
                } => assert_eq!((mailbox, seq, disabled), (3, 7, false)),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(retry_times, vec![600.0, 600.0]);
        assert_eq!(
            (s.stats.attempts, s.stats.abandoned, s.stats.failed_attempts),
            (3, 1, 3)
        );
        assert_eq!(s.pending(), 0);
    }

    #[test]
    fn in_flight_limit_queues_in_order_and_late_answers_are_ignored() {
        let mut cfg = preset("nylas").unwrap();
        cfg.max_in_flight = 2;
        let mut s = Sender::new(cfg);
        let mut out = vec![];
        for seq in 0..4 {
            s.notify(SimTime(0), 0, seq, &mut out);
        }
        let first = sends(&out);
        assert_eq!(first.len(), 2);
        let gen = s.note(first[0]).gen;
        out.clear();
        assert!(s.on_result(SimTime(5), first[0], gen, OK, &mut out));
        let next = sends(&out);
        assert_eq!(s.note(next[0]).seq, 2, "backlog is FIFO");
        assert!(
            !s.on_result(SimTime(6), first[0], gen, OK, &mut out),
            "stale outcome"
        );
        assert_eq!(s.stats.delivered, 1);
    }

    #[test]
    fn failing_for_disable_after_disables_and_reenables() {
        let mut cfg = preset("nylas").unwrap();
        cfg.retries = vec![SimDuration::from_secs(60); 10_000];
        cfg.health = Some(HealthRule {
            failing_ratio: 0.95,
            window: SimDuration::from_secs(900),
            disable_after: SimDuration::from_secs(3600),
        });
        cfg.reenable_after = Some(SimDuration::from_secs(600));
        let mut s = Sender::new(cfg);
        let mut out = vec![];
        s.notify(SimTime(0), 0, 0, &mut out);
        let id = sends(&out)[0];
        let mut now = SimTime(0);
        let mut reenable_at = None;
        for _ in 0..100 {
            out.clear();
            let gen = s.note(id).gen;
            s.on_result(now, id, gen, FAILED, &mut out);
            if let Some(SenderOut::Reenable(at)) =
                out.iter().find(|o| matches!(o, SenderOut::Reenable(_)))
            {
                reenable_at = Some(*at);
            }
            if s.disabled() {
                break;
            }
            now = now + SimDuration::from_secs(60);
            out.clear();
            s.retry_due(now, id, &mut out);
        }
        // Failing from t = 0; disabled at the first failure >= 1 h later.
        assert!(s.disabled());
        assert_eq!(now, SimTime(3_600_000_000));
        assert_eq!(reenable_at, Some(SimTime(4_200_000_000)));
        out.clear();
        s.notify(now, 0, 1, &mut out);
        assert!(matches!(out[0], SenderOut::GaveUp { .. }));
        s.reenable(SimTime(4_200_000_000));
        assert!(!s.disabled());
        assert_eq!(s.stats.disabled_for, SimDuration::from_secs(600));
    }

    #[test]
    fn svix_retry_after_delays_the_retry_but_consumes_the_schedule() {
        let cfg = preset("svix").unwrap();
        let retries = cfg.retries.clone();
        assert_eq!(cfg.honours, Honours::SVIX);
        let mut s = Sender::new(cfg);
        let mut out = vec![];
        s.notify(SimTime(0), 0, 0, &mut out);
        let id = sends(&out)[0];
        // Attempt 1 answered 429 + Retry-After 600 s at t = 2 s: the retry
        // waits 600 s, not the schedule's 5 s.
        let now = SimTime::ZERO + SimDuration::from_secs(2);
        assert_eq!(retries[0], SimDuration::from_secs(5));
        let out = answer(&mut s, now, id, throttled(600));
        assert_eq!(
            out,
            vec![SenderOut::Retry(id, now + SimDuration::from_secs(600))]
        );
        // A Retry-After shorter than the schedule's next delay (5 min after
        // attempt 2) changes nothing.
        let mut now = now + SimDuration::from_secs(600);
        s.retry_due(now, id, &mut vec![]);
        let out = answer(&mut s, now, id, throttled(60));
        assert_eq!(out, vec![SenderOut::Retry(id, now + retries[1])]);
        // Every later attempt throttled: still 8 attempts, then given up.
        for _ in 2..retries.len() {
            now = now + retries[1];
            s.retry_due(now, id, &mut vec![]);
            let out = answer(&mut s, now, id, throttled(1));
            assert!(matches!(out[..], [SenderOut::Retry(..)]), "{out:?}");
        }
        now = now + retries[1];
        s.retry_due(now, id, &mut vec![]);
        assert_eq!(s.note(id).attempt as usize, retries.len() + 1);
        let out = answer(&mut s, now, id, throttled(600));
        assert_eq!(out, vec![gave_up(0, 0, false)]);
        assert_eq!(
            (s.stats.attempts, s.stats.failed_attempts, s.stats.abandoned),
            (8, 8, 1)
        );
    }

    #[test]
    fn svix_plain_failure_follows_the_schedule() {
        let cfg = preset("svix").unwrap();
        let first = cfg.retries[0];
        let mut s = Sender::new(cfg);
        let mut out = vec![];
        s.notify(SimTime(0), 0, 0, &mut out);
        let id = sends(&out)[0];
        let now = SimTime(1_000);
        assert_eq!(
            answer(&mut s, now, id, FAILED),
            vec![SenderOut::Retry(id, now + first)]
        );
    }

    #[test]
    fn svix_410_disables_the_endpoint_and_gives_up_the_backlog() {
        let mut cfg = preset("svix").unwrap();
        cfg.max_in_flight = 1;
        cfg.reenable_after = Some(SimDuration::from_secs(3_600));
        let mut s = Sender::new(cfg);
        let mut out = vec![];
        for seq in 0..3 {
            s.notify(SimTime(0), 4, seq, &mut out);
        }
        let id = sends(&out)[0];
        assert_eq!(s.pending(), 3, "one in flight, two waiting");
        let now = SimTime(2_000_000);
        let gone = Verdict {
            gone: true,
            ..FAILED
        };
        let out = answer(&mut s, now, id, gone);
        assert_eq!(
            out,
            vec![
                SenderOut::Reenable(now + SimDuration::from_secs(3_600)),
                gave_up(4, 1, true),
                gave_up(4, 2, true),
                gave_up(4, 0, true),
            ]
        );
        assert!(s.disabled());
        assert_eq!(s.pending(), 0);
        assert_eq!(
            (
                s.stats.disabled_times,
                s.stats.skipped_disabled,
                s.stats.failed_attempts,
                s.stats.abandoned
            ),
            (1, 3, 1, 0)
        );
        let mut out = vec![];
        s.notify(now, 4, 3, &mut out);
        assert_eq!(out, vec![gave_up(4, 3, true)]);
    }

    #[test]
    fn svix_abort_gives_up_that_message_only() {
        let cfg = preset("svix").unwrap();
        let first = cfg.retries[0];
        let mut s = Sender::new(cfg);
        let mut out = vec![];
        s.notify(SimTime(0), 1, 0, &mut out);
        s.notify(SimTime(0), 1, 1, &mut out);
        let ids = sends(&out);
        let now = SimTime(3_000_000);
        let abort = Verdict {
            abort: true,
            ..FAILED
        };
        assert_eq!(
            answer(&mut s, now, ids[0], abort),
            vec![gave_up(1, 0, false)]
        );
        assert!(!s.disabled());
        assert_eq!(
            answer(&mut s, now, ids[1], FAILED),
            vec![SenderOut::Retry(ids[1], now + first)]
        );
        assert_eq!(
            (
                s.stats.failed_attempts,
                s.stats.abandoned,
                s.stats.disabled_times
            ),
            (2, 1, 0)
        );
    }

    #[test]
    fn presets_without_the_rules_see_plain_failures_and_a_2xx_is_a_2xx() {
        // nylas: FACTS.md documents none of the three; its 10-minute
        // schedule holds whatever the endpoint adds.
        let cfg = preset("nylas").unwrap();
        let first = cfg.retries[0];
        assert_eq!(cfg.honours, Honours::NONE);
        let mut s = Sender::new(cfg);
        let mut out = vec![];
        for seq in 0..4 {
            s.notify(SimTime(0), 0, seq, &mut out);
        }
        let ids = sends(&out);
        let now = SimTime(5);
        let all = Verdict {
            retry_after: Some(SimDuration::from_secs(7_200)),
            gone: true,
            abort: true,
            ..FAILED
        };
        for (id, v) in [
            (ids[0], throttled(7_200)),
            (
                ids[1],
                Verdict {
                    gone: true,
                    ..FAILED
                },
            ),
            (
                ids[2],
                Verdict {
                    abort: true,
                    ..FAILED
                },
            ),
        ] {
            assert_eq!(
                answer(&mut s, now, id, v),
                vec![SenderOut::Retry(id, now + first)]
            );
        }
        assert!(!s.disabled());
        // A 2xx is delivered whatever else it says (svix too).
        assert_eq!(
            answer(&mut s, now, ids[3], Verdict { ok: true, ..all }),
            vec![]
        );
        assert_eq!(s.stats.delivered, 1);
        let mut svix = Sender::new(preset("svix").unwrap());
        let mut out = vec![];
        svix.notify(SimTime(0), 0, 0, &mut out);
        let id = sends(&out)[0];
        assert_eq!(
            answer(&mut svix, now, id, Verdict { ok: true, ..all }),
            vec![]
        );
        assert!(!svix.disabled());
        // github: no retries and never disabled, so a 410 is one more
        // failed last attempt.
        let mut gh = Sender::new(preset("github").unwrap());
        let mut out = vec![];
        gh.notify(SimTime(0), 2, 9, &mut out);
        let id = sends(&out)[0];
        assert_eq!(
            answer(
                &mut gh,
                now,
                id,
                Verdict {
                    gone: true,
                    ..FAILED
                }
            ),
            vec![gave_up(2, 9, false)]
        );
        assert!(!gh.disabled());
    }

    /// Graph's rule: more than 10% of answers slow over 10 minutes delays
    /// new notifications by 10 s; more than 15% drops them; an empty
    /// window (10 minutes without answers) ends it.
    #[test]
    fn msgraph_delays_then_drops_for_a_slow_endpoint() {
        let mut cfg = preset("msgraph").unwrap();
        cfg.max_in_flight = 100;
        let mut s = Sender::new(cfg);
        let mut out = vec![];
        for seq in 0..22 {
            s.notify(SimTime(0), 0, seq, &mut out);
        }
        let ids = sends(&out);
        assert_eq!(ids.len(), 22);
        let fast = SimTime::ZERO + SimDuration::from_secs(1);
        let late = SimTime::ZERO + SimDuration::from_secs(3);
        let timed_out = Verdict::plain(false, true);
        // 18 fast answers and 2 timeouts: 2/20 = 10%, not above 10%.
        for &id in &ids[..18] {
            answer(&mut s, fast, id, OK);
        }
        for &id in &ids[18..20] {
            answer(&mut s, late, id, timed_out);
        }
        assert_eq!(s.throttle(late), Throttle::Normal);
        // A third timeout: 3/21 = 14.3% > 10%: the next notification
        // goes out 10 s late.
        answer(&mut s, late, ids[20], timed_out);
        assert_eq!(s.throttle(late), Throttle::Slow);
        let mut out = vec![];
        s.notify(late, 0, 22, &mut out);
        assert!(
            matches!(out[..], [SenderOut::Retry(_, at)] if at == late + SimDuration::from_secs(10)),
            "{out:?}"
        );
        // A fourth: 4/22 = 18.2% > 15%: dropped.
        answer(&mut s, late, ids[21], timed_out);
        let mut out = vec![];
        s.notify(late, 0, 23, &mut out);
        assert_eq!(out, vec![gave_up(0, 23, true)]);
        // Ten minutes without answers empty the window: normal again.
        let later = late + SimDuration::from_secs(700);
        assert_eq!(s.throttle(later), Throttle::Normal);
        // Other presets have no such rule.
        let mut nylas = Sender::new(preset("nylas").unwrap());
        assert_eq!(nylas.throttle(later), Throttle::Normal);
    }
}
