//! Per-key growable arrays in one shared allocation: the change logs and
//! the replica keep one array per mailbox, and ten thousand `Vec`s cost
//! ten thousand 24-byte headers (a cold cache line per lookup) and ten
//! thousand allocations. An [`Arena`] keeps every key's elements in one
//! `Vec`, each key in its own [`Region`] (twelve bytes, held by the
//! caller next to whatever else it keeps per key). A region that must
//! grow past its room moves to the end of the arena with twice the room;
//! the slots it leaves behind, and those trimmed off a region's front,
//! are waste until the caller compacts the arena (when
//! [`Arena::wants_compaction`]), which packs every region in the order
//! given.
//!
//! Several arenas indexed alike (one per field of a per-key record) stay
//! in lockstep when the same operations are applied to each: every
//! operation's result depends only on the region and the arena's length.

use std::ops::Range;

/// Where one key's elements lie in an [`Arena`]: `len` elements from
/// `start`, with room for `cap` before the next region.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Region {
    /// Index of the first element.
    pub start: u32,
    /// Elements held.
    pub len: u32,
    /// Room from `start`, `len` included.
    pub cap: u32,
}

impl Region {
    /// The arena indexes of the elements held.
    #[inline]
    pub fn range(self) -> Range<usize> {
        self.start as usize..(self.start + self.len) as usize
    }
}

/// Every key's elements in one array; see the module doc.
#[derive(Clone, Debug, Default)]
pub struct Arena<T> {
    data: Vec<T>,
    /// Slots in no region.
    waste: usize,
}

/// Hints the CPU to bring `item`'s cache line in, so that a later read
/// does not wait on memory. Only a hint: it reads nothing the program
/// sees, so no result depends on it (drivers call it for the event after
/// the one they handle; a run's per-mailbox state is too big for the
/// caches, and a random mailbox's record is a miss). A no-op off x86-64.
#[inline(always)]
pub fn prefetch<T>(item: &T) {
    prefetch_address((item as *const T).cast::<u8>());
}

/// [`prefetch`] of every cache line `item` spans (a random stream's
/// state is several lines, and which one the next draw reads is not
/// known without loading it).
#[inline(always)]
pub fn prefetch_all<T>(item: &T) {
    let base = (item as *const T).cast::<u8>();
    for offset in (0..std::mem::size_of::<T>()).step_by(64) {
        prefetch_address(base.wrapping_add(offset));
    }
}

/// The prefetch instruction for the line holding `address`.
#[inline(always)]
fn prefetch_address(address: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` only hints the cache; it dereferences
    // nothing and cannot fault, whatever the address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(address.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

/// How far ahead a prefetch hint looks: the caller's per-key records live
/// in small index arrays (heads) that point into big arenas, so a hint
/// for an event two ahead loads the head, and one for the next event
/// (whose head is then in cache) loads the data it points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ahead {
    /// The event after next: load the per-key heads only.
    Heads,
    /// The next event: load the elements the heads point to.
    Data,
}

/// Below this many wasted slots an arena is never worth compacting.
const MIN_WASTE: usize = 4096;

impl<T: Copy + Default> Arena<T> {
    /// An empty arena with room reserved for `n` slots.
    pub fn with_capacity(n: usize) -> Self {
        Arena {
            data: Vec::with_capacity(n),
            waste: 0,
        }
    }

    /// Slots in the arena, in regions or not.
    pub fn slots(&self) -> usize {
        self.data.len()
    }

    /// Slots in no region.
    pub fn waste(&self) -> usize {
        self.waste
    }

    /// The elements `r` holds.
    #[inline]
    pub fn get(&self, r: Region) -> &[T] {
        &self.data[r.range()]
    }

    /// Hints the CPU to load element `i` of `r` (nothing if it is not
    /// held): see [`prefetch`].
    #[inline(always)]
    pub fn prefetch(&self, r: Region, i: usize) {
        if i < r.len as usize {
            if let Some(x) = self.data.get(r.start as usize + i) {
                prefetch(x);
            }
        }
    }

    /// The elements `r` holds, to change.
    #[inline]
    pub fn get_mut(&mut self, r: Region) -> &mut [T] {
        &mut self.data[r.range()]
    }

    /// A new region at the end holding `items`, with room for `cap`
    /// (at least `items.len()`).
    pub fn push_region(&mut self, items: &[T], cap: u32) -> Region {
        let start = self.data.len();
        let cap = cap.max(index(items.len()));
        index(start + cap as usize);
        self.data.extend_from_slice(items);
        self.data.resize(start + cap as usize, T::default());
        Region {
            start: index(start),
            len: items.len() as u32,
            cap,
        }
    }

    /// A new region at the end holding `len` default elements (and no
    /// more room).
    pub fn push_defaults(&mut self, len: u32) -> Region {
        let r = self.push_region(&[], len);
        Region { len, ..r }
    }

    /// `r` with `items` appended: in place if they fit its room, else
    /// moved to the end with room for twice as many (at least `min_cap`).
    pub fn append(&mut self, r: Region, items: &[T], min_cap: u32) -> Region {
        let k = items.len() as u32;
        let mut r = r;
        if r.len + k > r.cap {
            r = self.moved(
                r,
                index(r.len as usize + items.len())
                    .max(double(r.cap))
                    .max(min_cap),
            );
        }
        let at = (r.start + r.len) as usize;
        self.data[at..at + items.len()].copy_from_slice(items);
        r.len += k;
        r
    }

    /// `r` grown with default elements to hold `len` (a no-op if it
    /// does), moved to the end with twice the room (at least `min_cap`)
    /// if it must.
    pub fn grown(&mut self, r: Region, len: u32, min_cap: u32) -> Region {
        if len <= r.len {
            return r;
        }
        let mut r = r;
        if len > r.cap {
            r = self.moved(r, len.max(double(r.cap)).max(min_cap));
        }
        let at = (r.start + r.len) as usize;
        self.data[at..r.start as usize + len as usize].fill(T::default());
        r.len = len;
        r
    }

    /// `r`'s elements copied to a new region at the end with room for
    /// `cap` (at least `r.len`); the old slots become waste.
    pub fn moved(&mut self, r: Region, cap: u32) -> Region {
        let start = self.data.len();
        let cap = cap.max(r.len);
        index(start + cap as usize);
        self.data.extend_from_within(r.range());
        self.data.resize(start + cap as usize, T::default());
        self.waste += r.cap as usize;
        Region {
            start: index(start),
            len: r.len,
            cap,
        }
    }

    /// `r` without its first `n` elements (at most all of them).
    pub fn trim_front(&mut self, r: Region, n: u32) -> Region {
        let n = n.min(r.len);
        self.waste += n as usize;
        Region {
            start: r.start + n,
            len: r.len - n,
            cap: r.cap - n,
        }
    }

    /// True once the slots in no region are half the arena (and more than
    /// a few thousand): time to [`Arena::compact`].
    pub fn wants_compaction(&self) -> bool {
        self.waste > MIN_WASTE && self.waste >= self.data.len() / 2
    }

    /// Rewrites the arena with `regions` (every region in it, each once)
    /// packed in the order given, each with room for `room(len)` elements
    /// (at least `len`); returns the new regions in the same order.
    pub fn compact(&mut self, regions: &[Region], room: impl Fn(u32) -> u32) -> Vec<Region> {
        let caps: Vec<u32> = regions.iter().map(|r| room(r.len).max(r.len)).collect();
        let total: usize = caps.iter().map(|&c| c as usize).sum();
        index(total);
        let mut data = Vec::with_capacity(total);
        let mut out = Vec::with_capacity(regions.len());
        for (r, &cap) in regions.iter().zip(&caps) {
            let start = data.len();
            data.extend_from_slice(&self.data[r.range()]);
            data.resize(start + cap as usize, T::default());
            out.push(Region {
                start: index(start),
                len: r.len,
                cap,
            });
        }
        self.data = data;
        self.waste = 0;
        out
    }

    /// [`Arena::compact`] over the regions `region` finds in `heads`
    /// (every region in the arena), written back in place.
    pub fn compact_in<H>(
        &mut self,
        heads: &mut [H],
        region: impl Fn(&mut H) -> &mut Region,
        room: impl Fn(u32) -> u32,
    ) {
        let regions: Vec<Region> = heads.iter_mut().map(|h| *region(h)).collect();
        for (h, r) in heads.iter_mut().zip(self.compact(&regions, room)) {
            *region(h) = r;
        }
    }

    /// Gives back the arena's spare capacity (after building it whole).
    pub fn shrink_to_fit(&mut self) {
        self.data.shrink_to_fit();
    }

    /// Reserves room for `n` more slots.
    pub fn reserve(&mut self, n: usize) {
        self.data.reserve(n);
    }
}

/// A slot index or count as a region holds it (every region's end is
/// checked when it is placed, so `start + cap` never wraps). Four billion
/// slots is tens of gigabytes: a run that large has run out of memory
/// before.
fn index(i: usize) -> u32 {
    u32::try_from(i).expect("an arena holds fewer than 2^32 slots")
}

/// Twice a region's room, as the room it moves with.
fn double(cap: u32) -> u32 {
    cap.saturating_mul(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Append(usize, Vec<u16>),
        Grow(usize, u32),
        Trim(usize, u32),
        Compact,
    }

    fn op(keys: usize) -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..keys, prop::collection::vec(any::<u16>(), 0..20)).prop_map(|(k, v)| Op::Append(k, v)),
            2 => (0..keys, 0u32..60).prop_map(|(k, n)| Op::Grow(k, n)),
            2 => (0..keys, 0u32..15).prop_map(|(k, n)| Op::Trim(k, n)),
            1 => Just(Op::Compact),
        ]
    }

    /// A prefetch of any index, held or not (past the region, past the
    /// arena, in an empty arena), neither panics nor changes anything.
    #[test]
    fn prefetch_of_any_index_changes_nothing() {
        let mut arena = Arena::<u16>::default();
        Arena::<u16>::default().prefetch(Region::default(), 0);
        let a = arena.push_region(&[7, 8], 4);
        for i in [0, 1, 2, 3, 4, usize::MAX] {
            arena.prefetch(a, i);
        }
        assert_eq!(arena.get(a), &[7, 8]);
        assert_eq!(arena.slots(), 4);
    }

    #[test]
    fn push_defaults_holds_exactly_its_length_of_defaults() {
        let mut arena = Arena::<u16>::default();
        let a = arena.push_region(&[7, 8], 4);
        let b = arena.push_defaults(3);
        assert_eq!((b.len, b.cap), (3, 3));
        assert_eq!(arena.get(b), &[0, 0, 0]);
        assert_eq!(arena.get(a), &[7, 8]);
        assert_eq!(arena.slots(), 7);
        let b = arena.append(b, &[5], 0);
        assert_eq!(arena.get(b), &[0, 0, 0, 5]);
    }

    proptest! {
        /// Whatever the order of appends, growths, trims and compactions,
        /// every key holds exactly what a `Vec` per key would, and the
        /// waste is exactly the slots in no region.
        #[test]
        fn regions_behave_like_a_vec_per_key(ops in prop::collection::vec(op(5), 0..200)) {
            let mut arena = Arena::<u16>::default();
            let mut regions = vec![Region::default(); 5];
            let mut model: Vec<Vec<u16>> = vec![Vec::new(); 5];
            for op in ops {
                match op {
                    Op::Append(k, v) => {
                        regions[k] = arena.append(regions[k], &v, 4);
                        model[k].extend(&v);
                    }
                    Op::Grow(k, n) => {
                        regions[k] = arena.grown(regions[k], n, 4);
                        if n as usize > model[k].len() {
                            model[k].resize(n as usize, 0);
                        }
                    }
                    Op::Trim(k, n) => {
                        regions[k] = arena.trim_front(regions[k], n);
                        let n = (n as usize).min(model[k].len());
                        model[k].drain(..n);
                    }
                    Op::Compact => regions = arena.compact(&regions, |len| len + 2),
                }
                for k in 0..5 {
                    prop_assert_eq!(arena.get(regions[k]), &model[k][..]);
                }
                let held: usize = regions.iter().map(|r| r.cap as usize).sum();
                prop_assert_eq!(arena.slots(), held + arena.waste());
            }
        }
    }

    #[test]
    fn a_full_region_moves_with_twice_the_room() {
        let mut a = Arena::<u32>::default();
        let r = a.push_region(&[1, 2], 2);
        let other = a.push_region(&[9], 1);
        let r = a.append(r, &[3], 0);
        assert_eq!((r.start, r.len, r.cap), (3, 3, 4));
        assert_eq!(a.get(r), &[1, 2, 3]);
        assert_eq!(a.get(other), &[9]);
        assert_eq!(a.waste(), 2);
        // Room left: the next append stays in place.
        let r2 = a.append(r, &[4], 0);
        assert_eq!(r2.start, r.start);
    }

    #[test]
    fn compaction_in_place_rewrites_each_heads_region() {
        let mut a = Arena::<u32>::default();
        let mut heads: Vec<(u8, Region)> =
            vec![(0, a.push_region(&[1, 2], 4)), (1, a.push_region(&[3], 1))];
        heads[1].1 = a.append(heads[1].1, &[4], 0);
        a.compact_in(&mut heads, |h| &mut h.1, |len| len);
        assert_eq!(
            (a.get(heads[0].1), a.get(heads[1].1)),
            (&[1, 2][..], &[3, 4][..])
        );
        assert_eq!((a.slots(), a.waste(), heads[1].1.start), (4, 0, 2));
    }

    #[test]
    fn compaction_waits_for_half_the_arena_to_be_waste() {
        let mut a = Arena::<u8>::default();
        let r = a.push_region(&[0; 10_000], 10_000);
        let r = a.trim_front(r, 4_999);
        assert!(
            !a.wants_compaction(),
            "waste {} of {}",
            a.waste(),
            a.slots()
        );
        let r = a.trim_front(r, 1);
        assert!(a.wants_compaction());
        let r = a.compact(&[r], |len| len)[0];
        assert_eq!((a.slots(), a.waste(), r.start, r.len), (5_000, 0, 0, 5_000));
    }
}
