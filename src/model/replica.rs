//! The consumer's copy of every mailbox, and the idempotent processor that
//! applies changes to it. Like a real consumer's store it knows ids and
//! versions only: per message the version it holds (four bytes), per
//! change id whether it processed it (one bit). What the provider
//! committed, and when, is the ledger's (`ledger.rs`).

use super::config::Dedup;
use super::traffic::{Logs, DELETED};
use super::transmit::PageItem;

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

/// The replica of all mailboxes, flat like [`Logs`]: per-mailbox offsets
/// into one array of message versions, and the consumer's own record of
/// the change ids it has processed (for `event_id` dedup).
#[derive(Clone, Debug)]
pub struct Replica {
    /// Version held per message (0 = never seen), with [`DELETED`].
    versions: Vec<u32>,
    /// Per change id: processed before (one bit each).
    processed: Vec<u64>,
    change_start: Vec<usize>,
    msg_start: Vec<usize>,
}

impl Replica {
    /// An empty replica with room for the source's mailboxes, messages
    /// and change ids (sizes only: it reads nothing else from the logs).
    pub fn new(logs: &Logs) -> Self {
        Replica {
            versions: vec![0; logs.total_messages() as usize],
            processed: vec![0; (logs.total_changes() as usize).div_ceil(64)],
            change_start: logs.change_offsets().to_vec(),
            msg_start: logs.message_offsets().to_vec(),
        }
    }

    /// The version held for message `msg` of `mailbox` (0: never seen),
    /// with [`DELETED`]; `None` for a message the mailbox does not have.
    pub fn held(&self, mailbox: u32, msg: u32) -> Option<u32> {
        let (start, end) = self.messages_of(mailbox)?;
        (start + (msg as usize) < end).then(|| self.versions[start + msg as usize])
    }

    /// Sets the version held for message `msg` of `mailbox` (as read from
    /// a real consumer over the replica contract, which knows no change
    /// ids); false, and nothing held, for a message the mailbox does not
    /// have.
    pub fn hold(&mut self, mailbox: u32, msg: u32, version: u32) -> bool {
        let Some((start, end)) = self.messages_of(mailbox) else {
            return false;
        };
        if start + (msg as usize) >= end {
            return false;
        }
        self.versions[start + msg as usize] = version;
        true
    }

    /// The range of mailbox `m`'s messages in `versions`.
    fn messages_of(&self, m: u32) -> Option<(usize, usize)> {
        let start = *self.msg_start.get(m as usize)?;
        let end = *self.msg_start.get(m as usize + 1)?;
        Some((start, end))
    }

    /// Processes change `item.seq` of `mailbox`, carrying the state
    /// `item.msg`/`item.version` (the change itself, or for a thin fetch
    /// the message's latest version), under `dedup`:
    /// - `Version`: write only if newer (duplicates and reordering are harmless);
    /// - `EventId`: skip a change id processed before, otherwise write blindly;
    /// - `None`: process everything, write blindly.
    #[inline]
    pub fn apply(&mut self, mailbox: u32, item: PageItem, dedup: Dedup) -> Applied {
        let bit = self.change_start[mailbox as usize] + item.seq as usize;
        let word = &mut self.processed[bit / 64];
        let first = *word & (1 << (bit % 64)) == 0;
        *word |= 1 << (bit % 64);
        let held = &mut self.versions[self.msg_start[mailbox as usize] + item.msg as usize];
        let number = item.version & !DELETED;
        let newer = number > (*held & !DELETED);
        let write = match dedup {
            Dedup::Version => newer,
            Dedup::EventId => first,
            Dedup::None => true,
        };
        let effect = if !write {
            Effect::Skipped
        } else if !newer && number < (*held & !DELETED) {
            *held = item.version;
            Effect::StaleOverwrite
        } else {
            *held = item.version;
            Effect::Written
        };
        Applied { first, effect }
    }

    /// Compares with the source's final state: `(divergent messages,
    /// divergent mailboxes)`.
    pub fn divergence(&self, logs: &Logs) -> (u64, u64) {
        let mut messages = 0;
        let mut mailboxes = 0;
        for m in 0..logs.mailboxes() {
            let mine = &self.versions[self.msg_start[m as usize]..self.msg_start[m as usize + 1]];
            let d = mine
                .iter()
                .zip(logs.final_state(m))
                .filter(|(a, b)| a != b)
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
}
