//! The consumer's copy of every mailbox, and the idempotent processor that
//! applies changes to it. The replica remembers, per change, whether it was
//! applied (one byte), and per message the version it holds (four bytes).

use super::traffic::{Change, MailboxLog, DELETED};

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

#[derive(Clone, Debug, Default)]
struct MailboxReplica {
    /// Version held per message (0 = never seen), with [`DELETED`].
    versions: Vec<u32>,
    /// Per change: [`APPLIED`] once it has been delivered.
    flags: Vec<u8>,
}

/// The replica of all mailboxes.
#[derive(Clone, Debug)]
pub struct Replica {
    mailboxes: Vec<MailboxReplica>,
}

impl Replica {
    /// An empty replica sized for the source's logs.
    pub fn new(logs: &[MailboxLog]) -> Self {
        Replica {
            mailboxes: logs
                .iter()
                .map(|l| MailboxReplica {
                    versions: vec![0; l.final_state.len()],
                    flags: vec![0; l.changes.len()],
                })
                .collect(),
        }
    }

    /// Applies change number `seq` of `mailbox`: last writer wins by
    /// version, so re-applying or applying out of order is harmless.
    #[inline]
    pub fn apply(&mut self, mailbox: u32, seq: u32, change: &Change) -> Applied {
        let r = &mut self.mailboxes[mailbox as usize];
        let flag = &mut r.flags[seq as usize];
        if *flag & APPLIED != 0 {
            return Applied::Again;
        }
        *flag |= APPLIED;
        let held = &mut r.versions[change.msg as usize];
        if (*held & !DELETED) >= change.number() {
            return Applied::Stale;
        }
        *held = change.version;
        Applied::First
    }

    /// True when change `seq` of `mailbox` has been applied.
    pub fn has_applied(&self, mailbox: u32, seq: u32) -> bool {
        self.mailboxes[mailbox as usize].flags[seq as usize] & APPLIED != 0
    }

    /// Compares with the source's final state: `(divergent messages,
    /// divergent mailboxes)`.
    pub fn divergence(&self, logs: &[MailboxLog]) -> (u64, u64) {
        let mut messages = 0;
        let mut mailboxes = 0;
        for (r, l) in self.mailboxes.iter().zip(logs) {
            let d = r
                .versions
                .iter()
                .zip(&l.final_state)
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

    fn log() -> MailboxLog {
        let c = |msg, version| Change {
            at: SimTime(0),
            msg,
            version,
        };
        MailboxLog {
            changes: vec![c(0, 1), c(0, 2), c(0, 3 | DELETED)],
            final_state: vec![3 | DELETED],
        }
    }

    #[test]
    fn in_order_apply_converges() {
        let l = log();
        let mut r = Replica::new(std::slice::from_ref(&l));
        for (i, c) in l.changes.iter().enumerate() {
            assert_eq!(r.apply(0, i as u32, c), Applied::First);
        }
        assert_eq!(r.divergence(&[l]), (0, 0));
    }

    #[test]
    fn duplicates_and_stale_are_harmless() {
        let l = log();
        let mut r = Replica::new(std::slice::from_ref(&l));
        assert_eq!(r.apply(0, 2, &l.changes[2]), Applied::First);
        assert_eq!(r.apply(0, 2, &l.changes[2]), Applied::Again);
        assert_eq!(r.apply(0, 0, &l.changes[0]), Applied::Stale);
        assert_eq!(r.divergence(std::slice::from_ref(&l)), (0, 0));
        assert!(r.has_applied(0, 0) && !r.has_applied(0, 1));
    }
}
