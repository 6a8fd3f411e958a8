//! The consumer's copy of every mailbox, and the idempotent processor that
//! applies changes to it. The replica remembers, per change, whether it was
//! applied (one byte), and per message the version it holds (four bytes).

use super::traffic::{Change, Logs, DELETED};

use super::config::Dedup;

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
}

/// The replica of all mailboxes, flat like [`Logs`]: per-mailbox offsets
/// into one array of message versions and one of change flags.
#[derive(Clone, Debug)]
pub struct Replica {
    /// Version held per message (0 = never seen), with [`DELETED`].
    versions: Vec<u32>,
    /// Per change: [`APPLIED`] once it has been delivered.
    flags: Vec<u8>,
    change_start: Vec<usize>,
    msg_start: Vec<usize>,
}

impl Replica {
    /// An empty replica sized for the source's logs.
    pub fn new(logs: &Logs) -> Self {
        Replica {
            versions: vec![0; logs.total_messages() as usize],
            flags: vec![0; logs.total_changes() as usize],
            change_start: logs.change_offsets().to_vec(),
            msg_start: logs.message_offsets().to_vec(),
        }
    }

    /// Processes a delivery of change `seq` of `mailbox` that carries the
    /// state `data` (the change itself, or for a thin fetch the message's
    /// latest change), under `dedup`:
    /// - `Version`: write only if newer (duplicates and reordering are harmless);
    /// - `EventId`: skip a change seen before, otherwise write blindly;
    /// - `None`: process everything, write blindly.
    #[inline]
    pub fn apply(&mut self, mailbox: u32, seq: u32, data: &Change, dedup: Dedup) -> Applied {
        let flag = &mut self.flags[self.change_start[mailbox as usize] + seq as usize];
        let first = *flag & APPLIED == 0;
        *flag |= APPLIED;
        let held = &mut self.versions[self.msg_start[mailbox as usize] + data.msg as usize];
        let newer = data.number() > (*held & !DELETED);
        let write = match dedup {
            Dedup::Version => newer,
            Dedup::EventId => first,
            Dedup::None => true,
        };
        let effect = if !write {
            Effect::Skipped
        } else if !newer && data.number() < (*held & !DELETED) {
            *held = data.version;
            Effect::StaleOverwrite
        } else {
            *held = data.version;
            Effect::Written
        };
        Applied { first, effect }
    }

    /// Records that a delivery of change `seq` reached the consumer;
    /// returns true if one had before (a duplicate delivery).
    #[inline]
    pub fn received(&mut self, mailbox: u32, seq: u32) -> bool {
        let flag = &mut self.flags[self.change_start[mailbox as usize] + seq as usize];
        let again = *flag & RECEIVED != 0;
        *flag |= RECEIVED;
        again
    }

    /// Records a possible cause of loss for change `seq`.
    #[inline]
    pub fn mark(&mut self, mailbox: u32, seq: u32, mark: Mark) {
        self.flags[self.change_start[mailbox as usize] + seq as usize] |= mark as u8;
    }

    /// The recorded causes of change `seq` (a bit set of [`Mark`]s).
    pub fn marks(&self, mailbox: u32, seq: u32) -> u8 {
        self.flags[self.change_start[mailbox as usize] + seq as usize] & !(APPLIED | RECEIVED)
    }

    /// True when change `seq` of `mailbox` has been applied.
    pub fn has_applied(&self, mailbox: u32, seq: u32) -> bool {
        self.flags[self.change_start[mailbox as usize] + seq as usize] & APPLIED != 0
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
        for (i, c) in l.changes(1).iter().enumerate() {
            let a = r.apply(1, i as u32, c, Dedup::Version);
            assert_eq!((a.first, a.effect), (true, Effect::Written));
        }
        assert_eq!(r.divergence(&l), (0, 0));
    }

    #[test]
    fn duplicates_and_stale_are_harmless() {
        let l = logs();
        let ch = l.changes(1);
        let mut r = Replica::new(&l);
        let a = |first, effect| Applied { first, effect };
        assert_eq!(
            r.apply(1, 2, &ch[2], Dedup::Version),
            a(true, Effect::Written)
        );
        assert_eq!(
            r.apply(1, 2, &ch[2], Dedup::Version),
            a(false, Effect::Skipped)
        );
        assert_eq!(
            r.apply(1, 0, &ch[0], Dedup::Version),
            a(true, Effect::Skipped)
        );
        assert_eq!(r.divergence(&l), (0, 0));
        assert!(r.has_applied(1, 0) && !r.has_applied(1, 1));
    }

    #[test]
    fn dedup_modes_differ_on_repeats_and_reordering() {
        let l = logs();
        let ch = l.changes(1);
        let a = |first, effect| Applied { first, effect };
        // event_id: a repeat is skipped, but an old version overwrites.
        let mut r = Replica::new(&l);
        assert_eq!(
            r.apply(1, 1, &ch[1], Dedup::EventId),
            a(true, Effect::Written)
        );
        assert_eq!(
            r.apply(1, 1, &ch[1], Dedup::EventId),
            a(false, Effect::Skipped)
        );
        assert_eq!(
            r.apply(1, 0, &ch[0], Dedup::EventId),
            a(true, Effect::StaleOverwrite)
        );
        // none: a repeat is processed again.
        let mut r = Replica::new(&l);
        assert_eq!(r.apply(1, 1, &ch[1], Dedup::None), a(true, Effect::Written));
        assert_eq!(
            r.apply(1, 1, &ch[1], Dedup::None),
            a(false, Effect::Written)
        );
        assert!(!r.received(1, 1) && r.received(1, 1));
    }
}
