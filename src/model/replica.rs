//! The consumer's copy of every mailbox, and the idempotent processor that
//! applies changes to it. The replica remembers, per change, whether it was
//! applied (one byte), and per message the version it holds (four bytes).

use super::traffic::{Change, Logs, DELETED};

/// What applying one change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// First time this change reached the replica.
    First,
    /// The change had been applied before (a duplicate; no effect).
    Again,
    /// First delivery, but the replica already held a newer version (no effect).
    Stale,
}

const APPLIED: u8 = 1;

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

    /// Applies change number `seq` of `mailbox`: last writer wins by
    /// version, so re-applying or applying out of order is harmless.
    #[inline]
    pub fn apply(&mut self, mailbox: u32, seq: u32, change: &Change) -> Applied {
        let flag = &mut self.flags[self.change_start[mailbox as usize] + seq as usize];
        if *flag & APPLIED != 0 {
            return Applied::Again;
        }
        *flag |= APPLIED;
        let held = &mut self.versions[self.msg_start[mailbox as usize] + change.msg as usize];
        if (*held & !DELETED) >= change.number() {
            return Applied::Stale;
        }
        *held = change.version;
        Applied::First
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
            assert_eq!(r.apply(1, i as u32, c), Applied::First);
        }
        assert_eq!(r.divergence(&l), (0, 0));
    }

    #[test]
    fn duplicates_and_stale_are_harmless() {
        let l = logs();
        let ch = l.changes(1);
        let mut r = Replica::new(&l);
        assert_eq!(r.apply(1, 2, &ch[2]), Applied::First);
        assert_eq!(r.apply(1, 2, &ch[2]), Applied::Again);
        assert_eq!(r.apply(1, 0, &ch[0]), Applied::Stale);
        assert_eq!(r.divergence(&l), (0, 0));
        assert!(r.has_applied(1, 0) && !r.has_applied(1, 1));
    }
}
