//! Message versions one byte each. Per-message state is what grows with a
//! long run (a month of 10,000 mailboxes creates about 12 million
//! messages, each with a version in the source's generator and in the
//! consumer's replica), and nearly every version is small: a message is
//! created at 1 and updated a few times. So a version is stored as one
//! byte — its number (up to 126) and the [`DELETED`] bit — and the rare
//! larger one as the byte [`ESCAPE`] plus its exact value in an overflow
//! table. Every `u32` round-trips exactly ([`pack`], [`unpack`]); what is
//! stored changes, what is read never does.

use super::traffic::DELETED;
use std::collections::BTreeMap;

/// The low seven bits of a version whose number does not fit: its exact
/// value is in the owner's overflow table.
pub const ESCAPE: u8 = 0x7F;

/// The byte's bit for [`DELETED`].
const DELETED_BIT: u8 = 0x80;

/// Packs version `v` (with [`DELETED`]) into one byte, and whether its
/// exact value must also go to the overflow table (its number is 127 or
/// more: the byte is then [`ESCAPE`] with the deleted bit).
#[inline]
pub fn pack(v: u32) -> (u8, bool) {
    let deleted = ((v >> 24) as u8) & DELETED_BIT;
    let number = v & !DELETED;
    if number < ESCAPE as u32 {
        (number as u8 | deleted, false)
    } else {
        (ESCAPE | deleted, true)
    }
}

/// The version a byte from [`pack`] stands for, or `None` for [`ESCAPE`]
/// (look it up in the overflow table).
#[inline]
pub fn unpack(b: u8) -> Option<u32> {
    let number = b & !DELETED_BIT;
    (number != ESCAPE).then_some(number as u32 | ((b >> 7) as u32) << 31)
}

/// What the overflow table must do after [`store`]: the exact value of a
/// version past one byte goes in, and a slot no longer escaped leaves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Nothing (both the old and the new version fit a byte).
    Keep,
    /// Insert (or replace) the new version's exact value.
    Insert,
    /// Remove the old version's entry.
    Remove,
}

impl Overflow {
    /// Does it to `table`, where `key` names the slot stored and `v` is
    /// the version stored in it.
    #[inline]
    pub fn apply<K: Ord>(self, table: &mut BTreeMap<K, u32>, key: K, v: u32) {
        match self {
            Overflow::Keep => {}
            Overflow::Insert => {
                table.insert(key, v);
            }
            Overflow::Remove => {
                table.remove(&key);
            }
        }
    }
}

/// Stores version `v` in `slot` (a byte from [`pack`]) and says what the
/// owner's overflow table must do for this slot.
#[inline]
pub fn store(slot: &mut u8, v: u32) -> Overflow {
    let (b, wide) = pack(v);
    let old = std::mem::replace(slot, b);
    if wide {
        Overflow::Insert
    } else if unpack(old).is_none() {
        Overflow::Remove
    } else {
        Overflow::Keep
    }
}

/// One mailbox's versions by message index, growable: one byte each plus
/// an overflow table for the rare large one (a `Vec<u32>` in a quarter of
/// the memory).
#[derive(Clone, Debug, Default)]
pub struct Versions {
    bytes: Vec<u8>,
    wide: BTreeMap<u32, u32>,
}

impl Versions {
    /// Number of messages.
    #[inline]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True when there are no messages.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The version of message `i` (which must exist).
    #[inline]
    pub fn get(&self, i: u32) -> u32 {
        self.view().get(i)
    }

    /// Sets the version of message `i` (which must exist).
    #[inline]
    pub fn set(&mut self, i: u32, v: u32) {
        store(&mut self.bytes[i as usize], v).apply(&mut self.wide, i, v);
    }

    /// Appends a message with version `v`.
    #[inline]
    pub fn push(&mut self, v: u32) {
        self.bytes.push(0);
        self.set(self.bytes.len() as u32 - 1, v);
    }

    /// Removes every message, keeping the memory.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.wide.clear();
    }

    /// Reserves room for exactly `n` more messages.
    pub fn reserve_exact(&mut self, n: usize) {
        self.bytes.reserve_exact(n);
    }

    /// A read-only view.
    #[inline]
    pub fn view(&self) -> VersionsRef<'_> {
        VersionsRef {
            bytes: &self.bytes,
            wide: &self.wide,
        }
    }
}

/// An empty overflow table, for views of byte arrays that have none.
pub static NO_OVERFLOW: BTreeMap<u32, u32> = BTreeMap::new();

/// A read-only view of versions by message index: packed bytes and their
/// overflow table (keyed by message index).
#[derive(Clone, Copy, Debug)]
pub struct VersionsRef<'a> {
    bytes: &'a [u8],
    wide: &'a BTreeMap<u32, u32>,
}

impl<'a> VersionsRef<'a> {
    /// A view of `bytes` (from [`pack`]) whose escaped versions are in
    /// `wide`.
    pub fn new(bytes: &'a [u8], wide: &'a BTreeMap<u32, u32>) -> Self {
        VersionsRef { bytes, wide }
    }

    /// Number of messages.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True when there are no messages.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The packed bytes (escaped ones need [`VersionsRef::overflow`]).
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The exact values of the escaped versions, by message index.
    pub fn overflow(&self) -> &'a BTreeMap<u32, u32> {
        self.wide
    }

    /// The version of message `i` (which must exist).
    #[inline]
    pub fn get(&self, i: u32) -> u32 {
        let b = self.bytes[i as usize];
        unpack(b).unwrap_or_else(|| self.escaped(i))
    }

    #[cold]
    fn escaped(&self, i: u32) -> u32 {
        *self
            .wide
            .get(&i)
            .expect("an escaped version has its exact value in the overflow table")
    }

    /// Every version, by message index.
    pub fn iter(&self) -> impl Iterator<Item = u32> + 'a {
        let this = *self;
        (0..self.bytes.len() as u32).map(move |i| this.get(i))
    }

    /// The versions as plain `u32`s.
    pub fn to_vec(&self) -> Vec<u32> {
        self.iter().collect()
    }
}

impl PartialEq for VersionsRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_versions_fit_a_byte_and_large_ones_escape() {
        assert_eq!(pack(0), (0, false));
        assert_eq!(pack(1), (1, false));
        assert_eq!(pack(126), (126, false));
        assert_eq!(pack(126 | DELETED), (126 | 0x80, false));
        assert_eq!(pack(127), (ESCAPE, true));
        assert_eq!(pack(1_000 | DELETED), (ESCAPE | 0x80, true));
        assert_eq!(unpack(ESCAPE), None);
        assert_eq!(unpack(ESCAPE | 0x80), None);
        assert_eq!(unpack(3 | 0x80), Some(3 | DELETED));
    }

    proptest! {
        #[test]
        fn every_u32_round_trips(v in any::<u32>()) {
            let (b, wide) = pack(v);
            match unpack(b) {
                Some(back) => { prop_assert!(!wide); prop_assert_eq!(back, v); }
                None => prop_assert!(wide),
            }
        }

        /// Versions behaves as a `Vec<u32>` through pushes and sets of
        /// small, large and deleted values (escapes made and undone).
        #[test]
        fn versions_match_a_plain_vec(ops in prop::collection::vec(
            (any::<bool>(), any::<u16>(), prop_oneof![1u32..130, 100u32..100_000, any::<u32>()]),
            0..200,
        )) {
            let mut plain: Vec<u32> = Vec::new();
            let mut packed = Versions::default();
            for (push, at, v) in ops {
                if push || plain.is_empty() {
                    plain.push(v);
                    packed.push(v);
                } else {
                    let i = at as usize % plain.len();
                    plain[i] = v;
                    packed.set(i as u32, v);
                }
                prop_assert_eq!(packed.len(), plain.len());
            }
            prop_assert_eq!(packed.view().to_vec(), plain.clone());
            let escaped = plain.iter().filter(|v| **v & !DELETED >= ESCAPE as u32).count();
            prop_assert_eq!(packed.wide.len(), escaped, "no stale overflow entries");
        }
    }
}
