//! Mail traffic: the change log of every mailbox, generated from the seed
//! (Poisson arrivals shaped by a diurnal profile and a per-mailbox
//! activity multiplier, plus bulk bursts; a created/updated/deleted mix),
//! up front ([`generate`]) or on demand ahead of the run ([`Logs::lazy`]).
//!
//! A log generated ahead lets the source answer "as of" any time
//! without an event per arrival. Mailbox `m` draws only from its own
//! streams, so its traffic is the same whatever the strategy, and its
//! generator ([`MailboxTraffic`]) can run forward in windows of any size
//! and still give the same changes ([`generate`] runs each to the
//! horizon in one pass).

use super::config::{SourceConfig, Spread};
use super::version::{Versions, VersionsRef, NO_OVERFLOW};
use crate::engine::arena::{prefetch, Ahead, Arena, Region};
use crate::engine::rng::{Purpose, SimRng, Streams};
use crate::engine::sample::{below, exponential, standard_normal, unit, Delay};
use crate::engine::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// Bit set in a version for a deletion.
pub const DELETED: u32 = 1 << 31;

/// One committed change: 16 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// Commit time at the source.
    pub at: SimTime,
    /// Message index within its mailbox.
    pub msg: u32,
    /// The message's version after this change, with [`DELETED`] set for a
    /// deletion. Version 1 is the creation.
    pub version: u32,
}

/// What a change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// A new message.
    Created,
    /// An existing message changed.
    Updated,
    /// A message was deleted.
    Deleted,
}

impl Change {
    /// The kind of change.
    pub fn kind(&self) -> ChangeKind {
        if self.version & DELETED != 0 {
            ChangeKind::Deleted
        } else if self.version == 1 {
            ChangeKind::Created
        } else {
            ChangeKind::Updated
        }
    }

    /// The version number without the deletion bit.
    pub fn number(&self) -> u32 {
        self.version & !DELETED
    }
}

/// Where one mailbox's retained log lies in the shared per-change arenas
/// of [`Logs`]: changes `base..base + len` by sequence number (sequence
/// numbers are absolute: trimming the front moves `base`, never
/// renumbers) in `region` of each arena. Sixteen bytes, so the heads of
/// 10,000 mailboxes take 160 KB: a change's lookup costs its head's line
/// and the change's, not a cold header per array.
#[derive(Clone, Copy, Debug, Default)]
struct LogHead {
    /// Sequence number of the first retained change.
    base: u32,
    /// Where the retained changes lie (the same in every arena).
    region: Region,
}

/// Every mailbox's change log and the final state of its messages. The
/// retained logs live in three shared arrays indexed by change (the
/// change, the ledger's byte, the stamp lag), each mailbox in its own
/// region ([`LogHead`], [`Arena`]): the three arenas see the same
/// operations, so a mailbox's region is the same in each. Readers use absolute
/// sequence numbers ([`Logs::window`], [`Logs::get`]): a change's
/// sequence number never changes when the front of its log is trimmed
/// ([`Logs::trim_before`]), so cursors, deliveries and traces hold the
/// same numbers whatever is retained.
#[derive(Clone, Debug, Default)]
pub struct Logs {
    /// Per mailbox, where its retained log lies.
    heads: Vec<LogHead>,
    /// The retained changes, region by region, in commit order within one.
    changes: Arena<Change>,
    /// Per change, the ledger's byte (applied, received, loss marks).
    flags: Arena<u8>,
    /// Per change, how far its stamp (`updated_at`) lies before its
    /// commit (`at`), in µs: commit delay plus granularity truncation.
    /// Empty when stamps equal commit times (else in lockstep with
    /// `changes`).
    lags: Arena<u32>,
    /// Per mailbox, the commit time of the last change trimmed (0: none):
    /// a listing that starts at or before it would have needed a trimmed
    /// change.
    trimmed_at: Vec<u64>,
    /// `changes_before[m]`: changes generated for mailboxes before `m`
    /// (length mailboxes + 1): a flat index for per-change state.
    change_start: Vec<usize>,
    /// Final version (with [`DELETED`]) of every message, mailbox by
    /// mailbox, packed one byte each ([`super::version`]).
    final_state: Vec<u8>,
    /// The exact values of the escaped versions in `final_state`, by
    /// mailbox then message index (only mailboxes that have one).
    final_overflow: BTreeMap<u32, BTreeMap<u32, u32>>,
    /// `final_state[msg_start[m]..msg_start[m + 1]]` is mailbox `m`'s.
    msg_start: Vec<usize>,
    /// True when some stamp differs from its commit time.
    stamps: bool,
    /// Log entries held now, across mailboxes.
    retained: u64,
    /// The most log entries ever held at once.
    peak_retained: u64,
    /// Changes generated so far, across mailboxes (the run's total once
    /// every mailbox reached the horizon).
    generated: u64,
    /// Per mailbox, its generator, for logs generated on demand
    /// ([`Logs::lazy`]); empty for logs generated up front.
    gens: Vec<MailboxTraffic>,
    /// Per mailbox (logs generated on demand), the commit time of its last
    /// change generated, or `u64::MAX` once its generator is done: while
    /// it is after `t`, [`Logs::advance_past`] has nothing to do, and
    /// knows it from one dense array.
    last_at: Vec<u64>,
    /// Reused buffers a generator fills before its changes are copied in.
    fresh: (Vec<Change>, Vec<u32>),
}

impl Logs {
    /// Number of mailboxes.
    pub fn mailboxes(&self) -> u32 {
        self.heads.len() as u32
    }

    /// Mailbox `m`'s retained changes and the sequence number of the
    /// first: change `seq` is `changes[seq - base]`.
    #[inline]
    pub fn window(&self, m: u32) -> (u32, &[Change]) {
        let h = self.heads[m as usize];
        (h.base, self.changes.get(h.region))
    }

    /// Mailbox `m`'s whole log from sequence number 0, for the readers
    /// that need the finished past (snapshots, scoring a live replica,
    /// traces). Panics once the front of the log is trimmed: such a run
    /// must keep that state incrementally instead.
    pub fn whole(&self, m: u32) -> &[Change] {
        let (base, changes) = self.window(m);
        if base != 0 {
            not_retained(m, 0, base, self.end(m));
        }
        changes
    }

    /// Mailbox `m`'s retained changes as `(sequence, change)` pairs, in
    /// commit order.
    pub fn entries(&self, m: u32) -> impl Iterator<Item = (u32, &Change)> + '_ {
        let (base, changes) = self.window(m);
        changes
            .iter()
            .enumerate()
            .map(move |(i, c)| (base + i as u32, c))
    }

    /// Change `seq` of mailbox `m`, if it is retained (`None` past the end
    /// of the log or before its trimmed front).
    #[inline]
    pub fn get(&self, m: u32, seq: u32) -> Option<&Change> {
        let (base, changes) = self.window(m);
        changes.get(seq.checked_sub(base)? as usize)
    }

    /// Change `seq` of mailbox `m`. Panics unless it is retained: a caller
    /// holding a sequence number of a change that no reader may touch any
    /// longer is a broken invariant.
    #[inline]
    pub fn change(&self, m: u32, seq: u32) -> Change {
        match self.get(m, seq) {
            Some(c) => *c,
            None => not_retained(m, seq, self.base(m), self.end(m)),
        }
    }

    /// Sequence number of mailbox `m`'s first retained change.
    #[inline]
    pub fn base(&self, m: u32) -> u32 {
        self.heads[m as usize].base
    }

    /// Sequence number after mailbox `m`'s last change generated.
    #[inline]
    pub fn end(&self, m: u32) -> u32 {
        let h = self.heads[m as usize];
        h.base + h.region.len
    }

    /// Final state of mailbox `m`'s messages, by message index (for logs
    /// generated on demand: the state as far as generated).
    pub fn final_state(&self, m: u32) -> VersionsRef<'_> {
        match self.gens.get(m as usize) {
            Some(g) => g.versions(),
            None => VersionsRef::new(
                &self.final_state[self.msg_start[m as usize]..self.msg_start[m as usize + 1]],
                self.final_overflow.get(&m).unwrap_or(&NO_OVERFLOW),
            ),
        }
    }

    /// Logs generated on demand: every mailbox starts empty with its
    /// generator ([`MailboxTraffic`]), and [`Logs::advance_past`] extends
    /// one, window by window, with exactly the changes [`generate`] gives
    /// it. Per-change flat indexes ([`Logs::change_offsets`],
    /// [`Logs::total_changes`]) do not exist for these logs.
    pub fn lazy(spec: &SourceConfig, horizon: SimDuration, streams: &Streams) -> Logs {
        let bursts = bursts_by_mailbox(spec);
        let gens: Vec<MailboxTraffic> = (0..spec.mailboxes)
            .map(|m| {
                let mut g = MailboxTraffic::new(spec, m, horizon, streams, &bursts[m as usize]);
                g.reserve_for_horizon();
                g
            })
            .collect();
        Logs {
            heads: vec![LogHead::default(); gens.len()],
            trimmed_at: vec![0; gens.len()],
            last_at: vec![0; gens.len()],
            stamps: gens.first().is_some_and(|g| g.stamps()),
            gens,
            ..Logs::default()
        }
    }

    /// Generates mailbox `m`'s log on demand (see [`Logs::lazy`]) in
    /// windows of `window` µs until it holds a change committed after `t`
    /// or the horizon is reached: then every change committed by `t` is in
    /// the log, and so is the next one. Returns how many entries were
    /// added.
    #[inline]
    pub fn advance_past(&mut self, m: u32, t: u64, window: u64) -> u64 {
        match self.last_at.get(m as usize) {
            Some(&last) if last <= t => self.generate_past(m, t, window),
            _ => 0,
        }
    }

    /// [`Logs::advance_past`] when mailbox `m` may need more changes.
    #[inline(never)]
    fn generate_past(&mut self, m: u32, t: u64, window: u64) -> u64 {
        let mut gens = std::mem::take(&mut self.gens);
        let added = match gens.get_mut(m as usize) {
            Some(g) => self.advance_with(g, m, t, window),
            None => 0,
        };
        self.gens = gens;
        added
    }

    /// [`Logs::generate_past`] for mailbox `m` with its generator `g`
    /// (taken out of `gens`).
    fn advance_with(&mut self, g: &mut MailboxTraffic, m: u32, t: u64, window: u64) -> u64 {
        let (mut fresh, mut lags) = std::mem::take(&mut self.fresh);
        fresh.clear();
        lags.clear();
        let h = self.heads[m as usize];
        let last = self.changes.get(h.region).last().map(|c| c.at.0);
        let last = g.fill_past(last, t, window, &mut fresh, &mut lags);
        let added = self.took(m, last, g.done(), &fresh, &lags);
        self.fresh = (fresh, lags);
        added
    }

    /// Books mailbox `m`'s changes generated past its log (`fresh`, with
    /// their stamp `lags`; `last`: the commit time of its last change
    /// now; `done`: its generator reached the horizon): appends them and
    /// notes where its generator stands. Returns how many there were.
    fn took(
        &mut self,
        m: u32,
        last: Option<u64>,
        done: bool,
        fresh: &[Change],
        lags: &[u32],
    ) -> u64 {
        self.last_at[m as usize] = if done { u64::MAX } else { last.unwrap_or(0) };
        if !fresh.is_empty() {
            self.append(m, fresh, lags);
        }
        let added = fresh.len() as u64;
        self.generated += added;
        self.retained += added;
        self.peak_retained = self.peak_retained.max(self.retained);
        added
    }

    /// Takes out every generator (logs generated on demand), so that a
    /// driver can advance the mailboxes in two parts at once: those before
    /// a split here ([`Logs::advance_lower`]), the others apart with an
    /// [`Upper`] (on its second thread). [`Logs::put_gens`] puts them
    /// back. Nothing else may read or extend the logs in between.
    pub fn take_gens(&mut self) -> Vec<MailboxTraffic> {
        std::mem::take(&mut self.gens)
    }

    /// What advancing mailboxes `split..` apart starts from (see
    /// [`Logs::take_gens`]).
    pub fn upper(&self, split: u32) -> Upper {
        let split = split.min(self.mailboxes());
        let (last, last_at) = (split..self.mailboxes())
            .map(|m| {
                let h = self.heads[m as usize];
                let last = self.changes.get(h.region).last().map(|c| c.at.0);
                (last, self.last_at[m as usize])
            })
            .unzip();
        Upper {
            first: split,
            last,
            last_at,
            t: 0,
            changes: Vec::new(),
            lags: Vec::new(),
            ends: Vec::new(),
        }
    }

    /// Advances mailboxes `0..lower.len()` (with their generators, taken
    /// out) as [`Logs::advance_past`] does each.
    pub fn advance_lower(&mut self, lower: &mut [MailboxTraffic], t: u64, window: u64) {
        for (m, g) in (0u32..).zip(lower.iter_mut()) {
            if self.last_at[m as usize] <= t {
                self.advance_with(g, m, t, window);
            }
        }
    }

    /// Puts back every generator taken with [`Logs::take_gens`], booking
    /// what `upper` generated, mailbox by mailbox, as
    /// [`Logs::advance_past`] would have appended it.
    pub fn put_gens(&mut self, gens: Vec<MailboxTraffic>, upper: Upper) {
        assert!(
            self.gens.is_empty() && gens.len() == self.heads.len(),
            "every generator comes back"
        );
        let (mut c, mut l) = (0, 0);
        for (i, &(ce, le)) in upper.ends.iter().enumerate() {
            let m = upper.first + i as u32;
            if upper.last_at[i] <= upper.t {
                let done = gens[m as usize].done();
                self.took(
                    m,
                    upper.last[i],
                    done,
                    &upper.changes[c..ce],
                    &upper.lags[l..le],
                );
            }
            (c, l) = (ce, le);
        }
        self.gens = gens;
    }

    /// Appends `changes` (with their stamp `lags`) to mailbox `m`'s
    /// region in every arena, compacting them first once half their slots
    /// are in no region.
    fn append(&mut self, m: u32, changes: &[Change], lags: &[u32]) {
        let r = self.heads[m as usize].region;
        if r.len as usize + changes.len() > r.cap as usize && self.changes.wants_compaction() {
            self.compact();
        }
        let r = self.heads[m as usize].region;
        let len = r.len + changes.len() as u32;
        let region = self.changes.append(r, changes, MIN_ROOM);
        let f = self.flags.grown(r, len, MIN_ROOM);
        debug_assert_eq!(f, region, "the arenas move in lockstep");
        if self.stamps {
            let l = match lags.len() == changes.len() {
                true => self.lags.append(r, lags, MIN_ROOM),
                false => self.lags.grown(r, len, MIN_ROOM),
            };
            debug_assert_eq!(l, region, "the arenas move in lockstep");
        }
        self.heads[m as usize].region = region;
    }

    /// Packs every mailbox's region in every arena, each with room for as
    /// many changes again as it holds.
    #[cold]
    fn compact(&mut self) {
        let regions: Vec<Region> = self.heads.iter().map(|h| h.region).collect();
        let room = |len: u32| len.saturating_mul(2).max(MIN_ROOM);
        let packed = self.changes.compact(&regions, room);
        let f = self.flags.compact(&regions, room);
        assert_eq!(f, packed, "the arenas move in lockstep");
        if self.stamps {
            let l = self.lags.compact(&regions, room);
            assert_eq!(l, packed, "the arenas move in lockstep");
        }
        for (h, r) in self.heads.iter_mut().zip(packed) {
            h.region = r;
        }
    }

    /// The stamp (`updated_at`) of change `seq` of mailbox `m` (retained):
    /// never after its commit time.
    #[inline]
    pub fn stamp(&self, m: u32, seq: u32) -> u64 {
        let h = self.heads[m as usize];
        let i = (seq - h.base) as usize;
        let lag = match self.stamps {
            true => self.lags.get(h.region)[i] as u64,
            false => 0,
        };
        self.changes.get(h.region)[i].at.0 - lag
    }

    /// True when some stamp differs from its commit time.
    pub fn has_stamps(&self) -> bool {
        self.stamps
    }

    /// Changes generated across all mailboxes (for logs generated on
    /// demand: so far; the run's total after [`Logs::finish`]).
    pub fn total_changes(&self) -> u64 {
        self.generated
    }

    /// Messages across all mailboxes (generated so far).
    pub fn total_messages(&self) -> u64 {
        if self.gens.is_empty() {
            self.final_state.len() as u64
        } else {
            self.gens.iter().map(|g| g.versions().len() as u64).sum()
        }
    }

    /// Mailbox `m`'s expected message count over the horizon, a size hint
    /// for per-message arrays (logs generated on demand; 0 otherwise).
    pub fn expected_messages(&self, m: u32) -> usize {
        self.gens
            .get(m as usize)
            .map_or(0, MailboxTraffic::expected_messages)
    }

    /// Mailbox `m`'s expected change count over the horizon, a size hint
    /// for per-change arrays (logs generated on demand; 0 otherwise).
    pub fn expected_changes(&self, m: u32) -> usize {
        self.gens
            .get(m as usize)
            .map_or(0, MailboxTraffic::expected_changes)
    }

    /// True for logs generated on demand ([`Logs::lazy`]).
    pub fn is_lazy(&self) -> bool {
        !self.gens.is_empty()
    }

    /// Generates every mailbox to the horizon (logs generated on demand;
    /// nothing for logs generated up front): the end of a run, so that
    /// [`Logs::final_state`] and [`Logs::total_changes`] are the
    /// horizon's.
    pub fn finish(&mut self) {
        for m in 0..self.gens.len() as u32 {
            self.advance_past(m, u64::MAX, 0);
        }
    }

    /// The ledger's byte of change `seq` of mailbox `m` (retained).
    #[inline]
    pub fn flag(&self, m: u32, seq: u32) -> u8 {
        let h = self.heads[m as usize];
        match self
            .flags
            .get(h.region)
            .get(seq.wrapping_sub(h.base) as usize)
        {
            Some(f) => *f,
            None => not_retained(m, seq, h.base, h.base + h.region.len),
        }
    }

    /// Hints the CPU to load change `seq` of mailbox `m` and its ledger
    /// byte, or only the mailbox's head (see
    /// [`crate::engine::arena::prefetch`]; nothing if it is not retained).
    #[inline]
    pub fn prefetch(&self, m: u32, seq: u32, ahead: Ahead) {
        if let Some(h) = self.heads.get(m as usize) {
            if ahead == Ahead::Heads {
                if let Some(last) = self.last_at.get(m as usize) {
                    prefetch(last);
                }
                return prefetch(h);
            }
            let i = seq.wrapping_sub(h.base) as usize;
            self.changes.prefetch(h.region, i);
            self.flags.prefetch(h.region, i);
        }
    }

    /// The ledger's byte of change `seq` of mailbox `m` (retained), to
    /// change.
    #[inline]
    pub fn flag_mut(&mut self, m: u32, seq: u32) -> &mut u8 {
        let h = self.heads[m as usize];
        match self
            .flags
            .get_mut(h.region)
            .get_mut(seq.wrapping_sub(h.base) as usize)
        {
            Some(f) => f,
            None => not_retained(m, seq, h.base, h.base + h.region.len),
        }
    }

    /// Mailbox `m`'s retained ledger bytes, from [`Logs::base`].
    pub fn flags(&self, m: u32) -> &[u8] {
        self.flags.get(self.heads[m as usize].region)
    }

    /// Mailbox `m`'s retained ledger bytes, to change.
    pub fn flags_mut(&mut self, m: u32) -> &mut [u8] {
        self.flags.get_mut(self.heads[m as usize].region)
    }

    /// Panics unless a listing of mailbox `m` that starts at the first
    /// change committed at or after `at` finds it retained: no change
    /// committed at or after `at` may have been trimmed.
    #[inline]
    pub fn check_from(&self, m: u32, at: u64) {
        let trimmed_at = self.trimmed_at[m as usize];
        if at <= trimmed_at && self.heads[m as usize].base > 0 {
            not_retained_at(m, at, trimmed_at);
        }
    }

    /// Log entries held now, across mailboxes.
    pub fn retained(&self) -> u64 {
        self.retained
    }

    /// The most log entries held at once so far (what the memory
    /// invariant bounds).
    pub fn peak_retained(&self) -> u64 {
        self.peak_retained
    }

    /// Per-mailbox offsets of every generated change (length mailboxes +
    /// 1): `change_offsets()[m] + seq` indexes per-change state kept flat.
    pub fn change_offsets(&self) -> &[usize] {
        &self.change_start
    }

    /// Per-mailbox offsets into the flat message array (length mailboxes + 1).
    pub fn message_offsets(&self) -> &[usize] {
        &self.msg_start
    }

    /// Drops mailbox `m`'s changes before `seq` (no reader touches them
    /// any more); later sequence numbers keep their meaning. Returns how
    /// many entries were dropped.
    pub fn trim_before(&mut self, m: u32, seq: u32) -> u64 {
        let h = self.heads[m as usize];
        let n = seq.saturating_sub(h.base).min(h.region.len);
        if n == 0 {
            return 0;
        }
        self.trimmed_at[m as usize] = self.changes.get(h.region)[n as usize - 1].at.0;
        let region = self.changes.trim_front(h.region, n);
        let f = self.flags.trim_front(h.region, n);
        debug_assert_eq!(f, region, "the arenas move in lockstep");
        if self.stamps {
            let l = self.lags.trim_front(h.region, n);
            debug_assert_eq!(l, region, "the arenas move in lockstep");
        }
        self.heads[m as usize] = LogHead {
            base: h.base + n,
            region,
        };
        self.retained -= n as u64;
        n as u64
    }

    /// Logs built from per-mailbox `(changes, final_state)` pairs (tests).
    pub fn from_mailboxes(mailboxes: Vec<(Vec<Change>, Vec<u32>)>) -> Self {
        let mut logs = Logs::empty();
        for (changes, state) in mailboxes {
            let mut versions = Versions::default();
            state.into_iter().for_each(|v| versions.push(v));
            logs.push_final_state(versions.view());
            logs.push_mailbox(&changes, &[]);
        }
        logs
    }

    fn empty() -> Self {
        Logs {
            change_start: vec![0],
            msg_start: vec![0],
            ..Logs::default()
        }
    }

    /// Appends the next mailbox's final state (before its log:
    /// [`Logs::push_mailbox`]).
    fn push_final_state(&mut self, state: VersionsRef<'_>) {
        self.final_state.extend_from_slice(state.bytes());
        if !state.overflow().is_empty() {
            let m = self.heads.len() as u32;
            self.final_overflow.insert(m, state.overflow().clone());
        }
    }

    /// Appends the next mailbox's log (its messages' final state already
    /// pushed: [`Logs::push_final_state`]).
    fn push_mailbox(&mut self, changes: &[Change], lags: &[u32]) {
        let n = changes.len();
        if !lags.is_empty() && !self.stamps {
            // Earlier mailboxes' stamps equal their commit times.
            self.stamps = true;
            for h in &self.heads {
                let r = self.lags.push_region(&vec![0; h.region.len as usize], 0);
                debug_assert_eq!(r, h.region, "the arenas move in lockstep");
            }
        }
        let region = self.changes.push_region(changes, 0);
        self.flags.push_region(&vec![0; n], 0);
        if self.stamps {
            match lags.is_empty() {
                true => self.lags.push_region(&vec![0; n], 0),
                false => self.lags.push_region(lags, 0),
            };
        }
        self.heads.push(LogHead { base: 0, region });
        self.trimmed_at.push(0);
        self.change_start
            .push(self.change_start.last().copied().unwrap_or(0) + n);
        self.msg_start.push(self.final_state.len());
        self.generated += n as u64;
        self.retained += n as u64;
        self.peak_retained = self.peak_retained.max(self.retained);
    }
}

/// The least room a mailbox's region gets when it moves or is packed.
const MIN_ROOM: u32 = 8;

/// The panic of a reader asking for a change no longer (or not yet) held:
/// out of line, so the readers' hot paths stay small enough to inline.
#[cold]
#[inline(never)]
fn not_retained(m: u32, seq: u32, base: u32, end: u32) -> ! {
    panic!("invariant broken: mailbox {m} change {seq} is not retained (the log holds {base}..{end}; trimmed before {base})")
}

/// The panic of a listing that starts before a trimmed change.
#[cold]
#[inline(never)]
fn not_retained_at(m: u32, at: u64, trimmed_at: u64) -> ! {
    panic!("invariant broken: a listing of mailbox {m} from {at} µs needs changes trimmed (trimmed up to {trimmed_at} µs)")
}

/// The activity multiplier of one mailbox (mean 1 across mailboxes).
fn multiplier(spread: Spread, rng: &mut SimRng) -> f64 {
    match spread {
        Spread::Even => 1.0,
        Spread::LogNormal { sigma } => {
            libm::exp(sigma * standard_normal(rng) - sigma * sigma / 2.0)
        }
        Spread::Pareto { alpha } => {
            // Pareto(x_m, alpha) has mean alpha x_m / (alpha - 1); choose x_m for mean 1.
            let xm = (alpha - 1.0) / alpha;
            xm / libm::pow(1.0 - unit(rng), 1.0 / alpha)
        }
    }
}

/// An hour in µs.
pub const HOUR_US: u64 = 3_600_000_000;

/// The mean number of changes [`generate`] makes for `spec` over `horizon`
/// with these streams. With a spread, each mailbox's activity multiplier
/// is drawn exactly as `generate` draws it and summed (a heavy tail can put
/// far more than the nominal mean into one mailbox); nothing is stored.
/// Counting stops once the total passes `stop_above`.
pub fn expected_changes(
    spec: &SourceConfig,
    horizon: SimDuration,
    streams: &Streams,
    stop_above: f64,
) -> f64 {
    let n = spec.mailboxes;
    let per_mailbox = spec.messages_per_day * horizon.as_secs_f64() / 86_400.0;
    let mut total: f64 = spec.bursts.iter().map(|b| b.changes()).sum();
    if spec.spread == Spread::Even || per_mailbox == 0.0 {
        return total + per_mailbox * n as f64;
    }
    for m in 0..n {
        let mult = multiplier(
            spec.spread,
            &mut streams.stream(Purpose::MailboxRate, m as u64),
        );
        total += per_mailbox * mult;
        if total > stop_above {
            break;
        }
    }
    total
}

/// A mailbox's messages not deleted, in the order the operations pick
/// from: two bytes each while every message index fits in 16 bits (a
/// mailbox's first 65,536 messages), four from the first one that does
/// not. Per-message state is what a long run's memory grows with.
#[derive(Clone, Debug)]
enum Live {
    Narrow(Vec<u16>),
    Wide(Vec<u32>),
}

impl Default for Live {
    fn default() -> Self {
        Live::Narrow(Vec::new())
    }
}

impl Live {
    #[inline]
    fn len(&self) -> usize {
        match self {
            Live::Narrow(v) => v.len(),
            Live::Wide(v) => v.len(),
        }
    }

    #[inline]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    fn get(&self, k: usize) -> u32 {
        match self {
            Live::Narrow(v) => v[k] as u32,
            Live::Wide(v) => v[k],
        }
    }

    #[inline]
    fn push(&mut self, msg: u32) {
        match self {
            Live::Narrow(v) => match u16::try_from(msg) {
                Ok(narrow) => v.push(narrow),
                Err(_) => self.widen_and_push(msg),
            },
            Live::Wide(v) => v.push(msg),
        }
    }

    #[cold]
    #[inline(never)]
    fn widen_and_push(&mut self, msg: u32) {
        let mut wide: Vec<u32> = match self {
            Live::Narrow(v) => v.iter().map(|&x| x as u32).collect(),
            Live::Wide(v) => std::mem::take(v),
        };
        wide.push(msg);
        *self = Live::Wide(wide);
    }

    #[inline]
    fn swap_remove(&mut self, k: usize) {
        match self {
            Live::Narrow(v) => {
                v.swap_remove(k);
            }
            Live::Wide(v) => {
                v.swap_remove(k);
            }
        }
    }

    /// Empties the list, narrow again (keeping a narrow list's memory).
    fn clear(&mut self) {
        match self {
            Live::Narrow(v) => v.clear(),
            Live::Wide(_) => *self = Live::default(),
        }
    }

    fn reserve_exact(&mut self, n: usize) {
        match self {
            Live::Narrow(v) => v.reserve_exact(n),
            Live::Wide(v) => v.reserve_exact(n),
        }
    }
}

/// Reusable buffers of a [`MailboxTraffic`] (see
/// [`MailboxTraffic::new_in`]).
#[derive(Debug, Default)]
pub struct Scratch {
    live: Live,
    versions: Versions,
    times: Vec<u64>,
    burst_times: Vec<u64>,
}

/// One mailbox's change log, generated forward hour by hour from the
/// mailbox's own streams: Poisson arrivals at its rate shaped by the
/// diurnal weights (exponential gaps in "operational time" mapped through
/// the cumulative rate), merged with its burst messages (Poisson first on
/// ties), each given an operation and a target, and a stamp. Whatever
/// the windows it is asked for, it yields the same changes as one pass
/// over the whole horizon: the ground for streaming traffic (only what is
/// still needed kept in memory).
#[derive(Clone, Debug)]
pub struct MailboxTraffic {
    weights: [f64; 24],
    horizon: u64,
    /// Mean changes per µs before the hour's weight (0: Poisson off).
    base_per_us: f64,
    arrivals: SimRng,
    /// Operational time left before the next arrival.
    need: f64,
    /// Start of the next hour to generate.
    hour: u64,
    /// The mailbox's burst times, sorted; those before `next_burst` are
    /// already merged.
    bursts: Vec<u64>,
    next_burst: usize,
    mix: super::config::Mix,
    ops: SimRng,
    /// Messages not deleted, in the order the operations pick from.
    live: Live,
    /// Every message's version so far, with [`DELETED`].
    versions: Versions,
    /// Stamp granularity (µs; 1 or less: exact).
    granularity: u64,
    /// Commit delay and its stream, when stamps lag commits.
    delay: Option<(Delay, SimRng)>,
    /// Scratch: this window's Poisson times.
    times: Vec<u64>,
}

impl MailboxTraffic {
    /// Mailbox `m`'s generator over `[0, horizon)`; `bursts` are its
    /// `(at, messages, over)` bursts in scenario order.
    pub fn new(
        spec: &SourceConfig,
        m: u32,
        horizon: SimDuration,
        streams: &Streams,
        bursts: &[(SimDuration, u32, SimDuration)],
    ) -> Self {
        Self::new_in(spec, m, horizon, streams, bursts, Scratch::default())
    }

    /// [`MailboxTraffic::new`] in the buffers of a finished generator
    /// ([`MailboxTraffic::into_scratch`]): generating mailbox after
    /// mailbox then allocates nothing once the buffers are grown.
    pub fn new_in(
        spec: &SourceConfig,
        m: u32,
        horizon: SimDuration,
        streams: &Streams,
        bursts: &[(SimDuration, u32, SimDuration)],
        scratch: Scratch,
    ) -> Self {
        let Scratch {
            mut live,
            mut versions,
            mut times,
            mut burst_times,
        } = scratch;
        live.clear();
        versions.clear();
        times.clear();
        burst_times.clear();
        let mult = multiplier(
            spec.spread,
            &mut streams.stream(Purpose::MailboxRate, m as u64),
        );
        let base_per_us = spec.messages_per_day * mult / 86_400e6;
        let mut arrivals = streams.stream(Purpose::Arrivals, m as u64);
        let need = if base_per_us > 0.0 {
            exponential(&mut arrivals, 1.0)
        } else {
            0.0
        };
        if !bursts.is_empty() {
            let mut rng = streams.stream(Purpose::Bursts, m as u64);
            for &(at, count, over) in bursts {
                for _ in 0..count {
                    let off = if over.is_zero() {
                        0
                    } else {
                        below(&mut rng, over.0)
                    };
                    burst_times.push((at.0 + off).min(horizon.0.saturating_sub(1)));
                }
            }
            burst_times.sort_unstable();
        }
        let stamps = spec.timestamp_granularity.0 > 1 || spec.commit_delay.is_some();
        MailboxTraffic {
            weights: spec.diurnal,
            horizon: horizon.0,
            base_per_us,
            arrivals,
            need,
            hour: 0,
            bursts: burst_times,
            next_burst: 0,
            mix: spec.mix,
            ops: streams.stream(Purpose::Operations, m as u64),
            live,
            versions,
            granularity: if stamps {
                spec.timestamp_granularity.0
            } else {
                1
            },
            delay: spec
                .commit_delay
                .map(|d| (d, streams.stream(Purpose::CommitDelay, m as u64))),
            times,
        }
    }

    /// The messages this mailbox is expected to create over the horizon
    /// (mean plus 3 sd of Poisson noise, bursts included): a size hint.
    pub fn expected_messages(&self) -> usize {
        let created = self.poisson_changes() * self.mix.created + self.bursts.len() as f64;
        (created + 3.0 * created.sqrt() + 8.0) as usize
    }

    /// The changes this mailbox is expected to make over the horizon
    /// (mean plus 3 sd, bursts included): a size hint.
    pub fn expected_changes(&self) -> usize {
        let changes = self.poisson_changes() + self.bursts.len() as f64;
        (changes + 3.0 * changes.sqrt() + 8.0) as usize
    }

    /// Mean number of Poisson (not burst) changes over the horizon.
    fn poisson_changes(&self) -> f64 {
        let mean_weight = self.weights.iter().sum::<f64>() / 24.0;
        self.base_per_us * self.horizon as f64 * mean_weight
    }

    /// Reserves room for the messages this mailbox is expected to create
    /// over the horizon (mean plus 3 sd of Poisson noise, bursts
    /// included), so that a generator run on demand grows its per-message
    /// arrays once instead of doubling them (fewer copies, and no slack of
    /// up to half the array for the rest of the run).
    pub fn reserve_for_horizon(&mut self) {
        let n = self.expected_messages();
        self.versions.reserve_exact(n);
        self.live.reserve_exact(n);
    }

    /// Gives back the generator's buffers for the next mailbox's
    /// [`MailboxTraffic::new_in`].
    pub fn into_scratch(self) -> Scratch {
        Scratch {
            live: self.live,
            versions: self.versions,
            times: self.times,
            burst_times: self.bursts,
        }
    }

    /// True when stamps may lag commits (then [`MailboxTraffic::fill`]
    /// reports each change's lag).
    pub fn stamps(&self) -> bool {
        self.granularity > 1 || self.delay.is_some()
    }

    /// Every change committed before this time is generated.
    pub fn frontier(&self) -> u64 {
        self.hour
    }

    /// True once the whole horizon is generated.
    pub fn done(&self) -> bool {
        self.hour >= self.horizon
    }

    /// Every message's version so far (the final state once
    /// [`MailboxTraffic::done`]).
    pub fn versions(&self) -> VersionsRef<'_> {
        self.versions.view()
    }

    /// Generates in windows of `window` µs past the frontier until the
    /// mailbox holds a change committed after `t` (or the horizon is
    /// reached), appending to `out` and `lags`; `last` is the commit time
    /// of its last change so far. Returns the commit time of its last
    /// change then.
    pub fn fill_past(
        &mut self,
        last: Option<u64>,
        t: u64,
        window: u64,
        out: &mut Vec<Change>,
        lags: &mut Vec<u32>,
    ) -> Option<u64> {
        let mut last = last;
        while !self.done() && last.is_none_or(|at| at <= t) {
            let until = self
                .frontier()
                .max(t.saturating_add(1))
                .saturating_add(window);
            let from = out.len();
            self.fill(until, out, lags);
            last = out[from..].last().map(|c| c.at.0).or(last);
        }
        last
    }

    /// Generates every hour that starts before `until` (at most the
    /// horizon), appending the changes to `out` in commit order and, when
    /// [`MailboxTraffic::stamps`], each one's stamp lag to `lags`.
    pub fn fill(&mut self, until: u64, out: &mut Vec<Change>, lags: &mut Vec<u32>) {
        let until = until.min(self.horizon);
        if self.hour >= until {
            return;
        }
        let mut times = std::mem::take(&mut self.times);
        times.clear();
        while self.hour < until {
            let end = (self.hour + HOUR_US).min(self.horizon);
            self.arrivals_in_hour(end, &mut times);
            self.hour = end;
        }
        let window_end = self.hour;
        let (mut i, mut j) = (0, self.next_burst);
        let bursts_end = self.bursts.partition_point(|&b| b < window_end);
        while i < times.len() || j < bursts_end {
            let poisson = j >= bursts_end || (i < times.len() && times[i] <= self.bursts[j]);
            let (at, forced_create) = if poisson {
                i += 1;
                (times[i - 1], false)
            } else {
                j += 1;
                (self.bursts[j - 1], true)
            };
            let change = self.operation(at, forced_create);
            if self.stamps() {
                lags.push(self.stamp_lag(at));
            }
            out.push(change);
        }
        self.next_burst = bursts_end;
        self.times = times;
    }

    /// The Poisson arrivals of the hour starting at `self.hour` and ending
    /// at `end`.
    fn arrivals_in_hour(&mut self, end: u64, out: &mut Vec<u64>) {
        if self.base_per_us <= 0.0 {
            return;
        }
        let rate = self.base_per_us * self.weights[((self.hour / HOUR_US) % 24) as usize];
        if rate <= 0.0 {
            return;
        }
        let mut pos = self.hour as f64;
        loop {
            let t = pos + self.need / rate;
            if t >= end as f64 {
                self.need -= (end as f64 - pos) * rate;
                return;
            }
            let at = t.round() as u64;
            if at >= end {
                self.need = exponential(&mut self.arrivals, 1.0);
                return;
            }
            out.push(at);
            pos = t;
            self.need = exponential(&mut self.arrivals, 1.0);
        }
    }

    /// The change at `at`: a creation (always for a burst message), or an
    /// update or deletion of a live message, per the mix.
    fn operation(&mut self, at: u64, forced_create: bool) -> Change {
        let mix = self.mix;
        let u = if forced_create {
            0.0
        } else {
            unit(&mut self.ops)
        };
        if forced_create || self.live.is_empty() || u < mix.created {
            let msg = self.versions.len() as u32;
            self.versions.push(1);
            self.live.push(msg);
            return Change {
                at: SimTime(at),
                msg,
                version: 1,
            };
        }
        let k = below(&mut self.ops, self.live.len() as u64) as usize;
        let msg = self.live.get(k);
        let next = (self.versions.get(msg) & !DELETED) + 1;
        let version = if u < mix.created + mix.updated {
            next
        } else {
            self.live.swap_remove(k);
            next | DELETED
        };
        self.versions.set(msg, version);
        Change {
            at: SimTime(at),
            msg,
            version,
        }
    }

    /// How far the stamp of a change committed at `at` lies before it:
    /// commit time minus a commit delay, then truncated to the
    /// granularity. (A commit delay keeps the commit, and so the log order
    /// and the visibility, where it is and moves the stamp back, which is
    /// what a database does to a long transaction.)
    fn stamp_lag(&mut self, at: u64) -> u32 {
        let d = match &mut self.delay {
            Some((d, rng)) => d.sample(rng).0.min(u32::MAX as u64 / 2),
            None => 0,
        };
        let raw = at.saturating_sub(d);
        let g = self.granularity;
        let stamp = if g > 1 { raw / g * g } else { raw };
        (at - stamp).min(u32::MAX as u64) as u32
    }
}

/// Each mailbox's burst messages `(at, messages, over)`, in scenario order.
fn bursts_by_mailbox(spec: &SourceConfig) -> Vec<Vec<(SimDuration, u32, SimDuration)>> {
    let mut burst_of = vec![Vec::new(); spec.mailboxes as usize];
    for b in &spec.bursts {
        for m in b.mailboxes.iter() {
            burst_of[m as usize].push((b.at, b.messages, b.over));
        }
    }
    burst_of
}

/// Nominal changes from which [`split_at`] proposes to split generating
/// the traffic in two: about 7 ms of generating, against some 50 µs to
/// start a thread.
pub const PARALLEL_FROM: f64 = 20_000.0;

/// Generates every mailbox's log for `spec` over `horizon`, in one pass.
pub fn generate(spec: &SourceConfig, horizon: SimDuration, streams: &Streams) -> Logs {
    generate_joined(spec, horizon, streams, spec.mailboxes, Batch::default)
}

/// Where a driver with a second thread may split [`generate`]'s work
/// (mailboxes from the index returned generated apart with
/// [`Batch::generate`], then joined with [`generate_joined`]): half the
/// mailboxes, from [`PARALLEL_FROM`] changes at the nominal rate.
pub fn split_at(spec: &SourceConfig, horizon: SimDuration) -> Option<u32> {
    (nominal_changes(spec, horizon) >= PARALLEL_FROM && spec.mailboxes >= 2)
        .then_some(spec.mailboxes / 2)
}

/// The nominal number of changes of `spec` over `horizon`: the mean
/// rate, without the spread's draws or the bursts.
fn nominal_changes(spec: &SourceConfig, horizon: SimDuration) -> f64 {
    spec.messages_per_day * spec.mailboxes as f64 * horizon.as_secs_f64() / 86_400.0
}

/// [`generate`], with mailboxes `split..` generated apart: this generates
/// mailboxes `..split`, then appends what `upper` returns (called once,
/// only when `split` is not the mailbox count: the
/// [`Batch::generate`] of mailboxes `split..`, perhaps joined from
/// another thread). Each mailbox draws from its own streams only and the
/// logs are appended in mailbox order, so the logs are the same whatever
/// the split (tested).
pub fn generate_joined(
    spec: &SourceConfig,
    horizon: SimDuration,
    streams: &Streams,
    split: u32,
    upper: impl FnOnce() -> Batch,
) -> Logs {
    let n = spec.mailboxes;
    let split = split.min(n);
    let burst_of = bursts_by_mailbox(spec);
    let mut logs = Logs::empty();
    // Reserve the expected message count (mean + 6 sd, plus bursts) so the
    // flat array does not double past it; shrink_to_fit below trims it.
    let expected = nominal_changes(spec, horizon);
    let bursts_total: u64 = spec
        .bursts
        .iter()
        .map(|b| b.messages as u64 * b.mailboxes.count())
        .sum();
    let reserve = (expected + 6.0 * expected.sqrt()) as usize + bursts_total as usize;
    logs.final_state.reserve_exact(reserve);
    logs.heads.reserve_exact(n as usize);
    logs.changes.reserve(reserve);
    logs.flags.reserve(reserve);
    // Each mailbox's log is generated into reused buffers, then copied
    // into an array of exactly its size.
    let (mut changes, mut lags) = (Vec::new(), Vec::new());
    let mut scratch = Scratch::default();
    for m in 0..split {
        let mut t =
            MailboxTraffic::new_in(spec, m, horizon, streams, &burst_of[m as usize], scratch);
        changes.clear();
        lags.clear();
        t.fill(horizon.0, &mut changes, &mut lags);
        logs.push_final_state(t.versions());
        logs.push_mailbox(&changes, &lags);
        scratch = t.into_scratch();
    }
    if split < n {
        let batch = upper();
        assert_eq!(
            batch.sizes.len(),
            (n - split) as usize,
            "the batch holds the mailboxes after the split"
        );
        batch.append_to(&mut logs);
    }
    logs.final_state.shrink_to_fit();
    logs.changes.shrink_to_fit();
    logs.flags.shrink_to_fit();
    logs.lags.shrink_to_fit();
    logs
}

/// Consecutive mailboxes' logs generated apart (on a driver's second
/// thread), kept flat until [`generate_joined`] appends them in order.
#[derive(Debug, Default)]
pub struct Batch {
    changes: Vec<Change>,
    lags: Vec<u32>,
    finals: Vec<u8>,
    /// Per mailbox: its changes, lags and messages (final state bytes).
    sizes: Vec<(usize, usize, usize)>,
    /// Per mailbox: its final state's escaped versions.
    wide: Vec<BTreeMap<u32, u32>>,
}

impl Batch {
    /// Generates the logs of `mailboxes` (of `spec`) over `horizon`.
    pub fn generate(
        spec: &SourceConfig,
        mailboxes: std::ops::Range<u32>,
        horizon: SimDuration,
        streams: &Streams,
    ) -> Batch {
        let burst_of = bursts_by_mailbox(spec);
        let mut b = Batch::default();
        let mut scratch = Scratch::default();
        for m in mailboxes {
            let mut t =
                MailboxTraffic::new_in(spec, m, horizon, streams, &burst_of[m as usize], scratch);
            let (c, l) = (b.changes.len(), b.lags.len());
            t.fill(horizon.0, &mut b.changes, &mut b.lags);
            let state = t.versions();
            b.finals.extend_from_slice(state.bytes());
            b.wide.push(state.overflow().clone());
            b.sizes
                .push((b.changes.len() - c, b.lags.len() - l, state.len()));
            scratch = t.into_scratch();
        }
        b
    }

    /// Appends the batch's mailboxes to `logs`, as if generated there.
    fn append_to(&self, logs: &mut Logs) {
        let (mut c, mut l, mut f) = (0, 0, 0);
        for (&(changes, lags, finals), wide) in self.sizes.iter().zip(&self.wide) {
            logs.push_final_state(VersionsRef::new(&self.finals[f..f + finals], wide));
            logs.push_mailbox(&self.changes[c..c + changes], &self.lags[l..l + lags]);
            (c, l, f) = (c + changes, l + lags, f + finals);
        }
    }
}

/// Advancing mailboxes `first..` of logs generated on demand apart from
/// the others (see [`Logs::take_gens`]): where their logs stood, and what
/// [`Upper::advance_past`] generated, until [`Logs::put_gens`] books it.
#[derive(Debug)]
pub struct Upper {
    first: u32,
    /// Per mailbox: the commit time of its last change.
    last: Vec<Option<u64>>,
    /// Per mailbox: [`Logs::advance_past`]'s test (generate when this is
    /// not after the time asked for).
    last_at: Vec<u64>,
    /// The time asked for.
    t: u64,
    changes: Vec<Change>,
    lags: Vec<u32>,
    /// Per mailbox: where its changes and lags end in the flat buffers.
    ends: Vec<(usize, usize)>,
}

impl Upper {
    /// Advances each mailbox, with `gens` (their generators, in mailbox
    /// order from the split), as [`Logs::advance_past`] does.
    pub fn advance_past(&mut self, gens: &mut [MailboxTraffic], t: u64, window: u64) {
        assert_eq!(gens.len(), self.last.len(), "one generator per mailbox");
        self.t = t;
        self.changes.clear();
        self.lags.clear();
        self.ends.clear();
        for ((g, last), &last_at) in gens.iter_mut().zip(&mut self.last).zip(&self.last_at) {
            if last_at <= t {
                *last = g.fill_past(*last, t, window, &mut self.changes, &mut self.lags);
            }
            self.ends.push((self.changes.len(), self.lags.len()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{parse, Format};

    fn spec(extra: &str) -> crate::scenario::Scenario {
        let text = format!(
            "name='t'\nseed=3\nhorizon='10d'\n[source]\nmailboxes=200\nmessages_per_day=40\n{extra}\n[consumer]\nstrategy='poll'\npoll_interval='5m'\n"
        );
        parse(&text, "t.toml", Format::Toml).unwrap()
    }

    /// Generating the upper mailboxes apart and joining them gives the
    /// logs one pass gives, whatever the split: changes, stamp lags
    /// (commit delays and a coarse granularity), bursts, final states,
    /// escaped versions (a few messages updated hundreds of times).
    #[test]
    fn a_split_generation_gives_the_same_logs() {
        let lags = "commit_delay={dist='uniform',min='0s',max='30s'}\ntimestamp_granularity='1s'\n\
                    [[source.bursts]]\nat='2d'\nmailboxes=7\nmessages=40\nover='1m'\n";
        let wide = "mix={created=0.002,updated=0.998,deleted=0.0}\n";
        for (extra, shows) in [(lags, "stamps: true"), (wide, "final_overflow: {0: {")] {
            let s = spec(extra);
            let (cfg, h, streams) = (s.source.config(), s.horizon.get(), Streams::new(s.seed));
            let whole = format!("{:?}", generate(&cfg, h, &streams));
            assert!(whole.contains(shows), "{shows} is exercised");
            for split in [0, 1, 7, 100, 199] {
                let upper = || Batch::generate(&cfg, split..cfg.mailboxes, h, &streams);
                let parts = format!("{:?}", generate_joined(&cfg, h, &streams, split, upper));
                assert!(parts == whole, "split at {split}");
            }
            assert_eq!(
                split_at(&cfg, h),
                Some(100),
                "80,000 changes are worth a thread"
            );
        }
        let small = spec("").source.config();
        assert_eq!(split_at(&small, SimDuration::from_secs(86_400)), None);
    }

    #[test]
    fn poisson_count_matches_rate() {
        let s = spec("");
        let logs = generate(&s.source.config(), s.horizon.get(), &Streams::new(s.seed));
        let total = logs.total_changes();
        // Expected 200 × 40 × 10 = 80,000; Poisson sd = 283: 1% is 2.8 sd.
        assert!((total as f64 / 80_000.0 - 1.0).abs() < 0.01, "{total}");
        for m in 0..logs.mailboxes() {
            assert!(logs.window(m).1.windows(2).all(|w| w[0].at <= w[1].at));
        }
    }

    #[test]
    fn mix_shares_hold() {
        let s = spec("");
        let logs = generate(&s.source.config(), s.horizon.get(), &Streams::new(s.seed));
        let (mut c, mut u, mut d) = (0, 0, 0);
        for ch in (0..logs.mailboxes()).flat_map(|m| logs.window(m).1) {
            match ch.kind() {
                ChangeKind::Created => c += 1,
                ChangeKind::Updated => u += 1,
                ChangeKind::Deleted => d += 1,
            }
        }
        let n = (c + u + d) as f64;
        assert!((c as f64 / n - 0.8).abs() < 0.01);
        assert!((u as f64 / n - 0.15).abs() < 0.01);
        assert!((d as f64 / n - 0.05).abs() < 0.005);
    }

    #[test]
    fn office_profile_is_busier_by_day() {
        let s = spec("diurnal = 'office'");
        let logs = generate(&s.source.config(), s.horizon.get(), &Streams::new(s.seed));
        let hour = |c: &Change| (c.at.0 / HOUR_US) % 24;
        let night = (0..logs.mailboxes())
            .flat_map(|m| logs.window(m).1)
            .filter(|c| hour(c) == 2)
            .count() as f64;
        let day = (0..logs.mailboxes())
            .flat_map(|m| logs.window(m).1)
            .filter(|c| hour(c) == 10)
            .count() as f64;
        // Weights 0.1 vs 2.2: ratio 22, allow sampling noise.
        assert!(day / night > 15.0 && day / night < 32.0, "{day} / {night}");
    }

    /// Generating a mailbox in arbitrary windows gives exactly the changes,
    /// stamps and final state of one pass over the horizon (bursts, spread,
    /// diurnal weights, commit delays and granularity all in play).
    #[test]
    fn any_windows_give_the_same_log_as_one_pass() {
        let s = spec(
            "spread = { dist = 'lognormal', sigma = 1.0 }\ndiurnal = 'office'\ntimestamp_granularity = '1s'\ncommit_delay = { dist = 'lognormal', median = '200ms', p99 = '3s' }\n[[source.bursts]]\nat = '2d'\nmailboxes = 30\nmessages = 40\nover = '90m'\n[[source.bursts]]\nat = '2d1h'\nmailboxes = 5\nmessages = 7",
        );
        let cfg = s.source.config();
        let horizon = s.horizon.get();
        let streams = Streams::new(s.seed);
        let whole = generate(&cfg, horizon, &streams);
        let mut step_rng = streams.stream(Purpose::Arrivals, 999_999);
        for m in 0..cfg.mailboxes {
            let bursts: Vec<_> = cfg
                .bursts
                .iter()
                .filter(|b| b.mailboxes.iter().any(|x| x == m))
                .map(|b| (b.at, b.messages, b.over))
                .collect();
            let mut t = MailboxTraffic::new(&cfg, m, horizon, &streams, &bursts);
            let (mut changes, mut lags) = (Vec::new(), Vec::new());
            let mut until = 0;
            while !t.done() {
                // Windows from nothing to 30 hours, not hour-aligned.
                until += below(&mut step_rng, 30 * HOUR_US);
                t.fill(until, &mut changes, &mut lags);
            }
            assert_eq!(changes, whole.window(m).1, "mailbox {m}");
            assert_eq!(t.versions(), whole.final_state(m), "mailbox {m}");
            assert!(t.stamps());
            let stamps: Vec<u64> = (0..changes.len() as u32)
                .map(|i| whole.stamp(m, i))
                .collect();
            let ours: Vec<u64> = changes
                .iter()
                .zip(&lags)
                .map(|(c, &l)| c.at.0 - l as u64)
                .collect();
            assert_eq!(ours, stamps, "mailbox {m}");
        }
        assert!(whole.has_stamps());
    }

    /// Trimming the front of a mailbox's log keeps every later change
    /// under its sequence number (changes and stamps), counts what is
    /// retained, and leaves other mailboxes alone.
    #[test]
    fn trimming_keeps_sequence_numbers() {
        let s = spec("timestamp_granularity = '1s'");
        let logs = generate(&s.source.config(), s.horizon.get(), &Streams::new(s.seed));
        let mut t = logs.clone();
        let end = logs.end(7);
        // 40 a day for 10 days: ~400 changes, far more than 10.
        assert!(end > 10, "{end}");
        assert_eq!(t.trim_before(7, 10), 10);
        assert_eq!(t.trim_before(7, 4), 0, "behind the base: nothing to drop");
        assert_eq!((t.base(7), t.end(7)), (10, end));
        assert_eq!(t.get(7, 9), None);
        assert_eq!(t.entries(7).count() as u32, end - 10);
        for (seq, c) in t.entries(7) {
            assert_eq!(Some(c), logs.get(7, seq));
            assert_eq!(t.stamp(7, seq), logs.stamp(7, seq));
        }
        assert_eq!(t.window(6), logs.window(6));
        assert_eq!(t.retained(), logs.total_changes() - 10);
        assert_eq!(t.peak_retained(), logs.total_changes());
        assert_eq!(t.trim_before(7, u32::MAX), (end - 10) as u64);
        assert_eq!((t.base(7), t.end(7)), (end, end));
    }

    /// Logs generated on demand, advanced ten minutes of virtual time at
    /// a time and trimmed behind a one-hour mark, hold exactly the changes
    /// of [`generate`] under the same sequence numbers (and the same final
    /// state), and at most a few hours of traffic at once whatever the
    /// horizon: the memory property of streaming traffic, at the level of
    /// the logs (`tests/sim/streaming.rs` checks it in runs).
    #[test]
    fn lazy_logs_stream_the_same_changes_in_bounded_memory() {
        let (mailboxes, per_day) = (50u32, 240.0);
        for (horizon, total) in [("2d", 2.0), ("20d", 20.0)] {
            let text = format!("name='t'\nseed=3\nhorizon='{horizon}'\n[source]\nmailboxes={mailboxes}\nmessages_per_day={per_day}\ntimestamp_granularity='1s'\n[consumer]\nstrategy='poll'\npoll_interval='5m'\n");
            let s = parse(&text, "t.toml", Format::Toml).unwrap();
            let (cfg, h, streams) = (s.source.config(), s.horizon.get(), Streams::new(s.seed));
            let whole = generate(&cfg, h, &streams);
            let mut lazy = Logs::lazy(&cfg, h, &streams);
            let step = HOUR_US / 6;
            let mut now = 0;
            while now < h.0 {
                now += step;
                for m in 0..mailboxes {
                    lazy.advance_past(m, now, HOUR_US);
                    let (base, log) = lazy.window(m);
                    assert!(log.last().is_none_or(|c| c.at.0 > now) || lazy.end(m) == whole.end(m));
                    for (seq, c) in lazy.entries(m) {
                        assert_eq!(Some(c), whole.get(m, seq), "mailbox {m} change {seq}");
                        assert_eq!(lazy.stamp(m, seq), whole.stamp(m, seq));
                    }
                    let keep = base + log.partition_point(|c| c.at.0 + HOUR_US < now) as u32;
                    lazy.trim_before(m, keep);
                }
            }
            for m in 0..mailboxes {
                assert_eq!(lazy.end(m), whole.end(m), "mailbox {m}");
                assert_eq!(lazy.final_state(m), whole.final_state(m), "mailbox {m}");
            }
            // 50 mailboxes × 240 a day = 500 changes an hour. What is
            // held was committed at most 1 h 10 min before `now` (trimmed
            // 1 h behind the previous step) and before the generator's
            // frontier: a fill reaches 1 h past `now` or past the old
            // frontier, itself at most ~2 h past the previous step, plus
            // rounding to the generator's hour: under 4 h ahead. So at
            // most ~5 h 10 min, 2,600 changes; 3,200 is 6.4 h (13 sd of
            // Poisson noise above). Every step holds the last hour (500,
            // sd 22): at least 400. The whole log is 24,000 (2 d) and
            // 240,000 (20 d) changes: the bound does not grow with it.
            let expected_total = mailboxes as f64 * per_day * total;
            assert!((whole.total_changes() as f64 / expected_total - 1.0).abs() < 0.05);
            let peak = lazy.peak_retained();
            assert!((400..=3_200).contains(&peak), "{horizon}: peak {peak}");
        }
    }

    /// Taking out the upper mailboxes' generators, advancing them apart
    /// (here before the others, to show the order does not matter) and
    /// putting them back gives the logs that advancing every mailbox on
    /// demand gives: the same changes and stamps, trims included, and
    /// nothing left to generate until the time asked for.
    #[test]
    fn advancing_the_upper_mailboxes_apart_gives_the_same_logs() {
        let s =
            spec("commit_delay={dist='uniform',min='0s',max='30s'}\ntimestamp_granularity='1s'\n");
        let (cfg, streams) = (s.source.config(), Streams::new(s.seed));
        let h = SimDuration::from_secs(3 * 86_400);
        let (mut one, mut two) = (Logs::lazy(&cfg, h, &streams), Logs::lazy(&cfg, h, &streams));
        let n = cfg.mailboxes;
        for step in 0..13u64 {
            let t = step * 6 * HOUR_US;
            for m in 0..n {
                one.advance_past(m, t, HOUR_US);
            }
            let mut gens = two.take_gens();
            let (lower, higher) = gens.split_at_mut(77);
            let mut upper = two.upper(77);
            upper.advance_past(higher, t, HOUR_US);
            two.advance_lower(lower, t, HOUR_US);
            two.put_gens(gens, upper);
            for m in 0..n {
                assert_eq!(two.advance_past(m, t, HOUR_US), 0, "mailbox {m} at {t}");
                assert_eq!(one.window(m), two.window(m), "mailbox {m} at {t}");
                for (seq, _) in one.entries(m) {
                    assert_eq!(one.stamp(m, seq), two.stamp(m, seq));
                }
                let (base, log) = one.window(m);
                let keep = base + log.partition_point(|c| c.at.0 + 2 * HOUR_US < t) as u32;
                one.trim_before(m, keep);
                two.trim_before(m, keep);
            }
        }
        one.finish();
        two.finish();
        assert_eq!(one.total_changes(), two.total_changes());
        assert_eq!(one.peak_retained(), two.peak_retained());
        for m in 0..n {
            assert_eq!(one.final_state(m), two.final_state(m), "mailbox {m}");
        }
    }

    /// A reader of the whole past fails loudly on a trimmed log rather
    /// than reading part of it.
    #[test]
    #[should_panic(expected = "trimmed")]
    fn the_whole_log_is_gone_once_trimmed() {
        let s = spec("");
        let mut logs = generate(&s.source.config(), s.horizon.get(), &Streams::new(s.seed));
        logs.trim_before(3, 1);
        logs.whole(3);
    }

    #[test]
    fn spread_keeps_mean_and_makes_a_tail() {
        let s = spec("spread = { dist = 'lognormal', sigma = 1.0 }");
        let logs = generate(&s.source.config(), s.horizon.get(), &Streams::new(s.seed));
        let mut counts: Vec<usize> = (0..logs.mailboxes())
            .map(|m| logs.window(m).1.len())
            .collect();
        let total: usize = counts.iter().sum();
        counts.sort_unstable();
        // Mean multiplier is 1, but 200 lognormal(σ=1) draws have sd ≈ 0.09 of the mean.
        assert!((total as f64 / 80_000.0 - 1.0).abs() < 0.3, "{total}");
        assert!(
            counts[199] > 4 * counts[100],
            "max {} median {}",
            counts[199],
            counts[100]
        );
    }

    #[test]
    fn stamps_truncate_and_lag_commits() {
        let s = spec("timestamp_granularity = '1s'\ncommit_delay = '3s'");
        let logs = generate(&s.source.config(), s.horizon.get(), &Streams::new(s.seed));
        assert!(logs.has_stamps());
        for m in 0..5 {
            for (i, c) in logs.entries(m) {
                let st = logs.stamp(m, i);
                assert_eq!(st % 1_000_000, 0);
                assert!(
                    st <= c.at.0 - 3_000_000 && st > c.at.0 - 4_000_000,
                    "{st} {}",
                    c.at.0
                );
            }
        }
        let plain = spec("");
        let logs = generate(
            &plain.source.config(),
            plain.horizon.get(),
            &Streams::new(plain.seed),
        );
        assert!(!logs.has_stamps());
        assert_eq!(logs.stamp(0, 0), logs.change(0, 0).at.0);
    }

    #[test]
    fn bursts_land_at_their_time() {
        let s = spec("[[source.bursts]]\nat='1h'\nmailboxes=[5]\nmessages=300");
        let logs = generate(&s.source.config(), s.horizon.get(), &Streams::new(s.seed));
        let at_burst = logs
            .window(5)
            .1
            .iter()
            .filter(|c| c.at.0 == HOUR_US)
            .count();
        assert_eq!(at_burst, 300);
        assert!(logs.window(4).1.iter().all(|c| c.at.0 != HOUR_US));
    }

    #[test]
    fn final_state_is_exact_past_one_byte_versions() {
        // Nearly every change updates one of a few messages: versions pass
        // 126 (one byte) and go through the overflow table.
        let s = spec("[source.mix]\ncreated = 0.005\nupdated = 0.995\ndeleted = 0.0");
        let cfg = s.source.config();
        let whole = generate(&cfg, s.horizon.get(), &Streams::new(s.seed));
        let mut lazy = Logs::lazy(&cfg, s.horizon.get(), &Streams::new(s.seed));
        lazy.finish();
        let mut most = 0;
        for m in 0..whole.mailboxes() {
            let mut expect = vec![0; whole.final_state(m).len()];
            for c in whole.whole(m) {
                expect[c.msg as usize] = c.version;
            }
            most = most.max(expect.iter().copied().max().unwrap_or(0));
            assert_eq!(whole.final_state(m).to_vec(), expect, "mailbox {m}");
            assert_eq!(lazy.final_state(m), whole.final_state(m), "mailbox {m}");
        }
        assert!(most > 126, "the test needs versions past one byte: {most}");
    }

    proptest::proptest! {
        /// The live list behaves as a `Vec<u32>` through pushes (message
        /// indices crossing 2^16, where it widens), picks, removals and
        /// clears.
        #[test]
        fn live_list_matches_a_plain_vec(ops in proptest::collection::vec((0u8..4, proptest::prelude::any::<u16>()), 0..300)) {
            let (mut plain, mut live) = (Vec::<u32>::new(), Live::default());
            let mut next = 65_500u32;
            for (op, at) in ops {
                match op {
                    0 | 1 => {
                        plain.push(next);
                        live.push(next);
                        next += 1;
                    }
                    2 if !plain.is_empty() => {
                        let k = at as usize % plain.len();
                        proptest::prop_assert_eq!(live.get(k), plain[k]);
                        plain.swap_remove(k);
                        live.swap_remove(k);
                    }
                    3 if at % 16 == 0 => {
                        plain.clear();
                        live.clear();
                        next = 65_500;
                    }
                    _ => {}
                }
                proptest::prop_assert_eq!(live.len(), plain.len());
            }
            let got: Vec<u32> = (0..live.len()).map(|k| live.get(k)).collect();
            proptest::prop_assert_eq!(got, plain);
        }
    }
}
