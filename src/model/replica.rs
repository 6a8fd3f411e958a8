//! The consumer's copy of every mailbox, and the idempotent processor that
//! applies changes to it. Like a real consumer's store it knows ids and
//! versions only: per message the version it holds (one byte, see
//! [`super::version`]), per change id whether it processed it (one bit). What the provider
//! committed, and when, is the ledger's (`ledger.rs`).

use super::config::Dedup;
use super::traffic::{Logs, DELETED};
use super::transmit::PageItem;
use super::version;
use crate::engine::arena::{prefetch, Ahead, Arena, Region};
use std::collections::BTreeMap;

/// What applying one delivery did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Applied {
    /// First time this change reached the replica.
    pub first: bool,
    /// What happened to the replica's state.
    pub effect: Effect,
}

/// The effect of one delivery on the replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The version was written.
    Written,
    /// Nothing changed (already processed, or not newer).
    Skipped,
    /// An older version overwrote a newer one.
    StaleOverwrite,
}

/// The replica of all mailboxes: per mailbox an array of message
/// versions and the consumer's own record of the change ids it has
/// processed (for `event_id` dedup), each grown as messages and ids reach
/// it (a run whose logs are generated on demand does not know them in
/// advance). Both live in shared arenas ([`Arena`]), one region per
/// mailbox, found through one 24-byte head: applying a change touches the
/// head's line and one line of each array.
#[derive(Clone, Debug)]
pub struct Replica {
    /// Per mailbox, where its copy lies.
    heads: Vec<CopyHead>,
    /// The version held per message (0 = never seen), with [`DELETED`],
    /// packed one byte each ([`version::pack`]).
    versions: Arena<u8>,
    /// The exact values of the escaped versions, by `(mailbox, message)`.
    overflow: BTreeMap<(u32, u32), u32>,
    /// Per change id: processed before (one bit each).
    processed: Arena<u64>,
    /// Per mailbox, how many messages it has, when known (logs generated
    /// up front): what [`Replica::hold`] accepts. `None`: any.
    known: Option<Vec<u32>>,
}

/// Whether a change carrying `version` overwrites the `held` one under
/// `dedup` (`first`: its id was not processed before), and the effect.
#[inline]
fn decide(held: u32, version: u32, first: bool, dedup: Dedup) -> (bool, Effect) {
    let held = held & !DELETED;
    let number = version & !DELETED;
    let newer = number > held;
    let write = match dedup {
        Dedup::Version => newer,
        Dedup::EventId => first,
        Dedup::None => true,
    };
    let effect = if !write {
        Effect::Skipped
    } else if !newer && number < held {
        Effect::StaleOverwrite
    } else {
        Effect::Written
    };
    (write, effect)
}

/// Where one mailbox's copy lies in the replica's arenas.
#[derive(Clone, Copy, Debug, Default)]
struct CopyHead {
    versions: Region,
    processed: Region,
}

/// The least room a mailbox's array gets when it grows.
const MIN_ROOM: u32 = 8;

impl Replica {
    /// An empty replica for the source's mailboxes (sizes only: it reads
    /// nothing else from the logs). Over logs generated up front its
    /// arrays are sized once; over logs generated on demand they grow.
    pub fn new(logs: &Logs) -> Self {
        let n = logs.mailboxes();
        let mut r = Replica {
            heads: Vec::with_capacity(n as usize),
            versions: Arena::default(),
            overflow: BTreeMap::new(),
            processed: Arena::default(),
            known: None,
        };
        if logs.is_lazy() {
            for m in 0..n {
                // Zeros (never seen) for the messages and change ids
                // expected (a size hint: they grow past it if need be), so
                // that applying a change seldom has to grow them.
                let messages = logs.expected_messages(m) as u32;
                let words = (logs.expected_changes(m) as u32).div_ceil(64);
                r.heads.push(CopyHead {
                    versions: r.versions.push_defaults(messages),
                    processed: r.processed.push_defaults(words),
                });
            }
            return r;
        }
        let sizes = |m| (logs.final_state(m).len() as u32, logs.end(m).div_ceil(64));
        let (messages, words) = (0..n)
            .map(sizes)
            .fold((0, 0), |(a, b), (x, y)| (a + x as usize, b + y as usize));
        r.versions.reserve(messages);
        r.processed.reserve(words);
        for m in 0..n {
            let (messages, words) = sizes(m);
            r.heads.push(CopyHead {
                versions: r.versions.push_defaults(messages),
                processed: r.processed.push_defaults(words),
            });
        }
        r.known = Some((0..n).map(|m| logs.final_state(m).len() as u32).collect());
        r
    }

    /// The version held for message `msg` of `mailbox` (0: never seen),
    /// with [`DELETED`]; `None` for a message the mailbox does not have.
    pub fn held(&self, mailbox: u32, msg: u32) -> Option<u32> {
        let h = self.heads.get(mailbox as usize)?;
        match &self.known {
            Some(k) if msg >= k[mailbox as usize] => None,
            _ => Some(
                self.versions
                    .get(h.versions)
                    .get(msg as usize)
                    .map_or(0, |&b| self.unpack(mailbox, msg, b)),
            ),
        }
    }

    /// Sets the version held for message `msg` of `mailbox` (as read from
    /// a real consumer over the replica contract, which knows no change
    /// ids); false, and nothing held, for a message the mailbox does not
    /// have.
    pub fn hold(&mut self, mailbox: u32, msg: u32, version: u32) -> bool {
        if self.held(mailbox, msg).is_none() {
            return false;
        }
        self.grow(mailbox, 0, msg + 1);
        self.write(mailbox, msg, version);
        true
    }

    /// The version byte `b` of message `msg` of `mailbox` stands for.
    #[inline]
    fn unpack(&self, mailbox: u32, msg: u32, b: u8) -> u32 {
        version::unpack(b).unwrap_or_else(|| self.escaped(mailbox, msg))
    }

    #[cold]
    fn escaped(&self, mailbox: u32, msg: u32) -> u32 {
        *self
            .overflow
            .get(&(mailbox, msg))
            .expect("an escaped version has its exact value in the overflow table")
    }

    /// Holds `version` for message `msg` of `mailbox` (its slot exists).
    #[inline]
    fn write(&mut self, mailbox: u32, msg: u32, version: u32) {
        let h = self.heads[mailbox as usize];
        let slot = &mut self.versions.get_mut(h.versions)[msg as usize];
        version::store(slot, version).apply(&mut self.overflow, (mailbox, msg), version);
    }

    /// Hints the CPU to load what [`Replica::apply`] of change `seq` of
    /// message `msg` in `mailbox` will touch, or only the mailbox's head
    /// (see [`crate::engine::arena::prefetch`]).
    #[inline]
    pub fn prefetch(&self, mailbox: u32, msg: u32, seq: u32, ahead: Ahead) {
        if let Some(h) = self.heads.get(mailbox as usize) {
            if ahead == Ahead::Heads {
                return prefetch(h);
            }
            self.processed.prefetch(h.processed, seq as usize / 64);
            self.versions.prefetch(h.versions, msg as usize);
        }
    }

    /// Processes change `item.seq` of `mailbox`, carrying the state
    /// `item.msg`/`item.version` (the change itself, or for a thin fetch
    /// the message's latest version), under `dedup`:
    /// - `Version`: write only if newer (duplicates and reordering are harmless);
    /// - `EventId`: skip a change id processed before, otherwise write blindly;
    /// - `None`: process everything, write blindly.
    #[inline]
    pub fn apply(&mut self, mailbox: u32, item: PageItem, dedup: Dedup) -> Applied {
        let bit = item.seq as usize;
        let word = (bit / 64) as u32;
        let h = self.heads[mailbox as usize];
        if word >= h.processed.len || item.msg >= h.versions.len {
            self.grow(mailbox, word + 1, item.msg + 1);
        }
        let h = self.heads[mailbox as usize];
        let word = &mut self.processed.get_mut(h.processed)[word as usize];
        let first = *word & (1 << (bit % 64)) == 0;
        *word |= 1 << (bit % 64);
        let slot = &mut self.versions.get_mut(h.versions)[item.msg as usize];
        let (byte, wide) = version::pack(item.version);
        match version::unpack(*slot) {
            Some(held) if !wide => {
                let (write, effect) = decide(held, item.version, first, dedup);
                if write {
                    *slot = byte;
                }
                Applied { first, effect }
            }
            _ => self.apply_wide(mailbox, item, first, dedup),
        }
    }

    /// [`Replica::apply`] when the held or the new version is past one
    /// byte (in the overflow table).
    #[cold]
    #[inline(never)]
    fn apply_wide(&mut self, mailbox: u32, item: PageItem, first: bool, dedup: Dedup) -> Applied {
        let h = self.heads[mailbox as usize];
        let byte = self.versions.get(h.versions)[item.msg as usize];
        let held = self.unpack(mailbox, item.msg, byte);
        let (write, effect) = decide(held, item.version, first, dedup);
        if write {
            self.write(mailbox, item.msg, item.version);
        }
        Applied { first, effect }
    }

    /// Grows mailbox `m`'s arrays to hold at least `words` words of
    /// processed bits and `messages` versions (zeros), compacting an
    /// arena first once half its slots are in no region.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, m: u32, words: u32, messages: u32) {
        let room = |len: u32| len.saturating_add(len / 2);
        if self.versions.wants_compaction() {
            self.versions
                .compact_in(&mut self.heads, |h| &mut h.versions, room);
        }
        if self.processed.wants_compaction() {
            self.processed
                .compact_in(&mut self.heads, |h| &mut h.processed, room);
        }
        let h = &mut self.heads[m as usize];
        h.processed = self.processed.grown(h.processed, words, MIN_ROOM);
        h.versions = self.versions.grown(h.versions, messages, MIN_ROOM);
    }

    /// Compares with the source's final state: `(divergent messages,
    /// divergent mailboxes)`. A message the replica never saw holds 0,
    /// which no final state is (versions start at 1).
    pub fn divergence(&self, logs: &Logs) -> (u64, u64) {
        let mut messages = 0;
        let mut mailboxes = 0;
        for m in 0..logs.mailboxes() {
            let mine = self.versions.get(self.heads[m as usize].versions);
            let theirs = logs.final_state(m);
            // Equal bytes that are not escaped are equal versions (the
            // packing is one-to-one below the escape); anything else is
            // compared exactly.
            let d = (theirs.bytes().iter().zip(0..))
                .filter(|&(&t, i)| {
                    let b = mine.get(i as usize).copied().unwrap_or(0);
                    if b == t && version::unpack(t).is_some() {
                        return false;
                    }
                    theirs.get(i) != self.unpack(m, i, b)
                })
                .count() as u64;
            messages += d;
            mailboxes += (d > 0) as u64;
        }
        (messages, mailboxes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::time::SimTime;
    use crate::model::traffic::Change;

    fn it(seq: u32, c: &Change) -> PageItem {
        PageItem {
            seq,
            msg: c.msg,
            version: c.version,
        }
    }

    fn logs() -> Logs {
        let c = |msg, version| Change {
            at: SimTime(0),
            msg,
            version,
        };
        // Mailbox 0 is empty, so offsets are exercised.
        Logs::from_mailboxes(vec![
            (vec![], vec![]),
            (vec![c(0, 1), c(0, 2), c(0, 3 | DELETED)], vec![3 | DELETED]),
        ])
    }

    #[test]
    fn in_order_apply_converges() {
        let l = logs();
        let mut r = Replica::new(&l);
        assert_eq!(r.divergence(&l), (1, 1));
        for (i, c) in l.whole(1).iter().enumerate() {
            let a = r.apply(1, it(i as u32, c), Dedup::Version);
            assert_eq!((a.first, a.effect), (true, Effect::Written));
        }
        assert_eq!(r.divergence(&l), (0, 0));
    }

    #[test]
    fn duplicates_and_stale_are_harmless() {
        let l = logs();
        let ch = l.whole(1);
        let mut r = Replica::new(&l);
        let a = |first, effect| Applied { first, effect };
        assert_eq!(
            r.apply(1, it(2, &ch[2]), Dedup::Version),
            a(true, Effect::Written)
        );
        assert_eq!(
            r.apply(1, it(2, &ch[2]), Dedup::Version),
            a(false, Effect::Skipped)
        );
        assert_eq!(
            r.apply(1, it(0, &ch[0]), Dedup::Version),
            a(true, Effect::Skipped)
        );
        assert_eq!(r.divergence(&l), (0, 0));
    }

    #[test]
    fn dedup_modes_differ_on_repeats_and_reordering() {
        let l = logs();
        let ch = l.whole(1);
        let a = |first, effect| Applied { first, effect };
        // event_id: a repeat is skipped, but an old version overwrites.
        let mut r = Replica::new(&l);
        assert_eq!(
            r.apply(1, it(1, &ch[1]), Dedup::EventId),
            a(true, Effect::Written)
        );
        assert_eq!(
            r.apply(1, it(1, &ch[1]), Dedup::EventId),
            a(false, Effect::Skipped)
        );
        assert_eq!(
            r.apply(1, it(0, &ch[0]), Dedup::EventId),
            a(true, Effect::StaleOverwrite)
        );
        // none: a repeat is processed again.
        let mut r = Replica::new(&l);
        assert_eq!(
            r.apply(1, it(1, &ch[1]), Dedup::None),
            a(true, Effect::Written)
        );
        assert_eq!(
            r.apply(1, it(1, &ch[1]), Dedup::None),
            a(false, Effect::Written)
        );
    }

    #[test]
    fn versions_past_one_byte_are_held_exactly() {
        // One message updated 300 times (the last a deletion): versions
        // from 127 on go through the overflow table.
        let changes: Vec<Change> = (1..=300)
            .map(|v| Change {
                at: SimTime(0),
                msg: 0,
                version: if v == 300 { v | DELETED } else { v },
            })
            .collect();
        let l = Logs::from_mailboxes(vec![(changes, vec![300 | DELETED])]);
        assert_eq!(l.final_state(0).to_vec(), vec![300 | DELETED]);
        let ch = l.whole(0);
        let mut r = Replica::new(&l);
        for (i, c) in ch.iter().enumerate() {
            r.apply(0, it(i as u32, c), Dedup::Version);
            assert_eq!(r.held(0, 0), Some(c.version), "after change {i}");
        }
        assert_eq!(r.divergence(&l), (0, 0));
        assert_eq!(r.overflow.len(), 1);
        // An older version overwrites blindly under `none`: back to one
        // byte, and the overflow entry goes.
        let a = r.apply(0, it(3, &ch[3]), Dedup::None);
        assert_eq!(a.effect, Effect::StaleOverwrite);
        assert_eq!(r.held(0, 0), Some(4));
        assert!(r.overflow.is_empty());
        assert_eq!(r.divergence(&l), (1, 1));
        // Stale under `version`: skipped, whatever the widths.
        r.apply(0, it(199, &ch[199]), Dedup::Version);
        assert_eq!(r.held(0, 0), Some(200));
        let a = r.apply(0, it(150, &ch[150]), Dedup::Version);
        assert_eq!(a.effect, Effect::Skipped);
        assert_eq!(r.held(0, 0), Some(200));
    }
}
