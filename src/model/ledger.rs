//! The ledger: what happened in a run, reported by both halves as it
//! happens, and read once at the end to assemble the report
//! (`metrics::assemble`). It is the only place that joins the provider's
//! ground truth (what was committed, when) with what the consumer did
//! (what it received and applied, when): the consumer's replica itself
//! sees only ids, versions and its own receive times.
//!
//! Per change it keeps one byte (applied, received, and the causes of a
//! possible loss); the rest is fixed-size counters, histograms, and the
//! optional trace.

use super::poller::Poller;
use super::replica::{Applied, Effect};
use super::trace::{Filter, Record, Trace};
use super::traffic::Logs;
use crate::engine::time::{SimDuration, SimTime};
use crate::metrics::assemble::{cursor_passed, verdict, Losses};
use crate::metrics::{Metrics, Path};
use serde_json::{Map, Value};

const APPLIED: u8 = 1;
const RECEIVED: u8 = 2;

/// Why a change may have been lost, recorded as it happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mark {
    /// The sender gave up after its last attempt.
    GaveUp = 4,
    /// The sender skipped it: endpoint disabled.
    Disabled = 8,
    /// Dead-lettered after failed processing.
    DeadLettered = 16,
    /// Lost with a memory queue in a crash.
    Crashed = 32,
    /// Never notified: the mailbox's subscription had expired when it
    /// committed.
    Unsubscribed = 64,
}

/// What a run observed.
#[derive(Debug)]
pub struct Ledger {
    /// Ground truth, owned here (the one owner of the mutable logs: the
    /// provider reads and extends them through the ledger it is handed),
    /// with per change one byte of [`APPLIED`], [`RECEIVED`] and [`Mark`]
    /// bits, trimmed with the change.
    logs: Logs,
    /// Counters and latency recorders.
    pub metrics: Metrics,
    /// Webhook deliveries that reached the consumer a second time or more.
    pub duplicates: u64,
    /// First webhook deliveries of changes another path had applied
    /// already (the hybrid's reconciler got there first).
    pub redundant: u64,
    /// Thin-payload fetches.
    pub fetches: u64,
    /// Changes the sender gave up on.
    pub gave_up: u64,
    /// Consumer crashes.
    pub crashes: u64,
    trace: Option<Trace>,
    /// The verdicts of the lost changes trimmed so far (a streaming run).
    losses: Losses,
}

impl Ledger {
    /// An empty ledger over the run's ground truth.
    pub fn new(logs: Logs) -> Self {
        Ledger {
            logs,
            metrics: Metrics::default(),
            duplicates: 0,
            redundant: 0,
            fetches: 0,
            gave_up: 0,
            crashes: 0,
            trace: None,
            losses: Losses::default(),
        }
    }

    /// The bit of a change's byte ([`Ledger::flags`]) set once it is applied.
    pub const APPLIED: u8 = APPLIED;

    /// Change `seq`'s whole byte: [`Ledger::APPLIED`], received and the
    /// [`Mark`] bits.
    pub fn flags(&self, m: u32, seq: u32) -> u8 {
        self.flag_of(m, seq)
    }

    /// The verdicts of the lost changes trimmed so far.
    pub fn losses(&self) -> &Losses {
        &self.losses
    }

    /// Drops mailbox `m`'s changes before `seq` from the logs, folding
    /// each one's verdict (its byte is final: no one touches it any more)
    /// into [`Ledger::losses`], with `poller` for cursor skips (its cursor
    /// only moves forward, so it passed a change now iff it has at the
    /// end). Returns how many changes were dropped.
    pub fn trim(&mut self, m: u32, seq: u32, poller: Option<&Poller>) -> u64 {
        let base = self.logs.base(m);
        let end = seq.min(self.logs.end(m));
        for (i, &flag) in self.logs.flags(m).iter().enumerate() {
            let s = base + i as u32;
            if s >= end {
                break;
            }
            let logs = &self.logs;
            let cause = verdict(flag, || cursor_passed(poller, m, s, logs.stamp(m, s)));
            if let Some(cause) = cause {
                let c = logs.change(m, s);
                self.losses.add(c.at, m, s, c.msg, cause);
            }
        }
        self.logs.trim_before(m, end)
    }

    /// Ground truth: every change committed (and still retained).
    pub fn logs(&self) -> &Logs {
        &self.logs
    }

    /// Ground truth, to extend (logs generated on demand) or trim.
    pub fn logs_mut(&mut self) -> &mut Logs {
        &mut self.logs
    }

    /// Closes the books at the end of a run: a log generated on demand is
    /// generated to the horizon, so the report sees every change.
    pub fn finish(&mut self) {
        self.logs.finish();
    }

    #[inline]
    fn flag(&mut self, m: u32, seq: u32) -> &mut u8 {
        self.logs.flag_mut(m, seq)
    }

    #[inline]
    fn flag_of(&self, m: u32, seq: u32) -> u8 {
        self.logs.flag(m, seq)
    }

    /// The consumer applied change `seq` of mailbox `m` at `at` by `path`,
    /// with `effect` on its replica: records whether this was the change's
    /// first application and, if so, its latency from the commit.
    #[inline]
    pub fn applied(
        &mut self,
        m: u32,
        seq: u32,
        at: SimTime,
        effect: Effect,
        path: Path,
    ) -> Applied {
        let flag = self.flag(m, seq);
        let first = *flag & APPLIED == 0;
        *flag |= APPLIED;
        let a = Applied { first, effect };
        if !first {
            // A later application counts; its latency is not recorded.
            self.metrics.record_apply(a, SimDuration::ZERO, path);
            return a;
        }
        let change = self.logs.change(m, seq);
        let lag = at.since(change.at);
        self.metrics.record_apply(a, lag, path);
        self.metrics.slowest.offer(crate::metrics::Slow {
            lag,
            mailbox: m,
            seq,
            msg: change.msg,
            path,
        });
        a
    }

    /// A webhook delivery of change `seq` was taken in by the consumer;
    /// counts it as a duplicate if one was before, and as redundant if it
    /// is the first but another path (reconciliation) applied the change
    /// already.
    #[inline]
    pub fn received(&mut self, m: u32, seq: u32) {
        let flag = self.flag(m, seq);
        let again = *flag & RECEIVED != 0;
        let redundant = !again && *flag & APPLIED != 0;
        *flag |= RECEIVED;
        self.duplicates += again as u64;
        self.redundant += redundant as u64;
    }

    /// Records a possible cause of loss for change `seq`.
    #[inline]
    pub fn mark(&mut self, m: u32, seq: u32, mark: Mark) {
        *self.flag(m, seq) |= mark as u8;
    }

    /// Adds `other`'s loss causes (its [`Mark`]s) to this ledger's, change
    /// by change: a driver whose provider and consumer keep a ledger each
    /// (live and network mode) scores with both sides' causes. Both must
    /// be of the same run (the same logs).
    pub fn absorb_marks(&mut self, other: &Ledger) {
        let marks = !(APPLIED | RECEIVED);
        for m in 0..self.logs.mailboxes() {
            let theirs = other.logs.flags(m);
            for (mine, theirs) in self.logs.flags_mut(m).iter_mut().zip(theirs) {
                *mine |= theirs & marks;
            }
        }
    }

    /// The recorded causes of change `seq` (a bit set of [`Mark`]s).
    pub fn marks(&self, m: u32, seq: u32) -> u8 {
        self.flag_of(m, seq) & !(APPLIED | RECEIVED)
    }

    /// True when change `seq` of mailbox `m` has been applied.
    pub fn has_applied(&self, m: u32, seq: u32) -> bool {
        self.flag_of(m, seq) & APPLIED != 0
    }

    /// Starts collecting a trace of what `filter` names.
    pub fn start_trace(&mut self, filter: Filter) {
        self.trace = Some(Trace::new(filter));
    }

    /// The trace collected, if any.
    pub fn take_trace(&mut self) -> Option<Trace> {
        self.trace.take()
    }

    /// True while a trace is collected (trace sites build nothing when off).
    #[inline(always)]
    pub fn tracing(&self) -> bool {
        self.trace.is_some()
    }

    /// The first mailbox a trace is about, if tracing.
    pub fn traced_mailbox(&self) -> Option<u32> {
        self.trace
            .as_ref()
            .and_then(|t| t.filter.mailboxes().first().copied())
    }

    /// The mailboxes a trace is about (none when not tracing).
    pub fn traced_mailboxes(&self) -> Vec<u32> {
        self.trace
            .as_ref()
            .map_or(Vec::new(), |t| t.filter.mailboxes())
    }

    /// `(seq, message, version)` of change `seq` of mailbox `m`, for traces.
    pub fn change(&self, m: u32, seq: u32) -> Option<(u32, u32, u32)> {
        self.logs.get(m, seq).map(|c| (seq, c.msg, c.version))
    }

    /// Records a trace event (the cold path: only called while tracing).
    #[cold]
    #[inline(never)]
    pub fn emit(
        &mut self,
        at: SimTime,
        m: u32,
        change: Option<(u32, u32, u32)>,
        event: &'static str,
        detail: Map<String, Value>,
    ) {
        if let Some(t) = &mut self.trace {
            let keep = t.filter.keeps(m, change.map(|c| c.1), event);
            if keep {
                t.records.push(Record {
                    at,
                    mailbox: m,
                    change,
                    event,
                    detail,
                });
            }
        }
    }
}

/// `trace!(ledger, at, mailbox, change, "event", "key" => value, ...)`:
/// one branch when tracing is off; builds the record only when on.
macro_rules! trace {
    ($ledger:expr, $at:expr, $m:expr, $change:expr, $event:literal $(, $k:literal => $v:expr)* $(,)?) => {
        if $ledger.tracing() {
            $ledger.emit($at, $m, $change, $event, $crate::detail!($($k => $v),*));
        }
    };
}
pub(crate) use trace;
