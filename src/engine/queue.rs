//! The event queue: events ordered by `(time, seq)`, where `seq` is an
//! insertion counter, so events at the same virtual time pop in the order
//! they were scheduled, every run, on every machine.
//!
//! Structure: a calendar queue. Time is cut into buckets of 2^20 µs
//! (~1.05 s). Events in the current bucket sit in a small sorted vector;
//! events in the next 4,096 buckets (~72 min) are appended unsorted to a
//! ring of vectors, with a bitmap of occupied buckets; anything later waits
//! in an overflow heap. Pushing is an append; popping takes the last entry
//! of a vector the size of one second's events, which stays in L1. When the
//! current bucket empties, the next occupied bucket (with any overflow
//! events of the same bucket) is sorted in.

use super::time::SimTime;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// log2 of the bucket width in microseconds.
const SHIFT: u32 = 20;
/// Buckets in the ring (a power of two).
const SLOTS: usize = 4096;
const WORDS: usize = SLOTS / 64;

/// One scheduled event. Ordered so that `BinaryHeap` (a max-heap) pops the
/// earliest `(time, seq)` first.
#[derive(Clone, Copy, Debug)]
struct Entry<E> {
    time: u64,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: the smallest (time, seq) is the heap's maximum.
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// A deterministic priority queue of events of type `E`.
///
/// Invariant: events pop in `(time, seq)` order; two events with equal
/// times pop in insertion order. Nothing else decides the order.
pub struct EventQueue<E> {
    /// Events of the current bucket `win`, sorted latest first (pop from
    /// the end).
    current: Vec<Entry<E>>,
    /// Events of buckets `win + 1 .. win + SLOTS`, at `bucket % SLOTS`.
    ring: Vec<Vec<Entry<E>>>,
    /// Bit `i` set when `ring[i]` is not empty.
    occupied: [u64; WORDS],
    /// Events at or beyond `win + SLOTS` when they were pushed.
    overflow: BinaryHeap<Entry<E>>,
    /// Drained bucket vectors kept for reuse, so buckets do not regrow
    /// from nothing on every pass of the ring.
    spare: Vec<Vec<Entry<E>>>,
    /// The current bucket number (`time >> SHIFT`).
    win: u64,
    len: usize,
    next_seq: u64,
    now: u64,
}

impl<E> std::fmt::Debug for EventQueue<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventQueue")
            .field("len", &self.len)
            .field("now", &self.now)
            .field("next_seq", &self.next_seq)
            .finish()
    }
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue {
            current: Vec::new(),
            ring: (0..SLOTS).map(|_| Vec::new()).collect(),
            occupied: [0; WORDS],
            overflow: BinaryHeap::new(),
            spare: Vec::new(),
            win: 0,
            len: 0,
            next_seq: 0,
            now: 0,
        }
    }

    /// An empty queue (buckets grow as needed; kept for API symmetry).
    pub fn with_capacity(_n: usize) -> Self {
        Self::new()
    }

    /// Schedules `event` at `time`. A time before the last popped event is
    /// a component bug: debug builds stop; release builds run it at the
    /// current time rather than rewrite history.
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) {
        debug_assert!(
            time.0 >= self.now,
            "event scheduled in the past: {} < {}",
            time.0,
            self.now
        );
        let time = time.0.max(self.now);
        let entry = Entry {
            time,
            seq: self.next_seq,
            event,
        };
        self.next_seq += 1;
        self.len += 1;
        let bucket = time >> SHIFT;
        if bucket == self.win {
            // Same-second follow-ups: keep `current` sorted latest first.
            // The place is found from the end (the earliest), where a
            // follow-up lands: past the entries due no later than it (its
            // `seq` is the largest, so it pops after those at its time).
            let mut at = self.current.len();
            while at > 0 && self.current[at - 1].time <= time {
                at -= 1;
            }
            self.current.insert(at, entry);
        } else if bucket - self.win < SLOTS as u64 {
            let slot = bucket as usize % SLOTS;
            let v = &mut self.ring[slot];
            if v.capacity() == 0 {
                if let Some(reused) = self.spare.pop() {
                    *v = reused;
                }
            }
            v.push(entry);
            self.occupied[slot / 64] |= 1 << (slot % 64);
        } else {
            self.overflow.push(entry);
        }
    }

    /// Removes and returns the earliest event.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        loop {
            if let Some(e) = self.current.pop() {
                debug_assert!(e.time >= self.now, "queue popped out of order");
                self.len -= 1;
                self.now = e.time;
                return Some((SimTime(e.time), e.event));
            }
            if self.len == 0 {
                return None;
            }
            self.advance();
        }
    }

    /// The event that would pop `n` places from now (0: next) if nothing
    /// were pushed before it, when it is already sorted in (an event of
    /// the current second; `None` past it). Cheap: for hints such as
    /// prefetching, never for decisions.
    #[inline]
    pub fn peek(&self, n: usize) -> Option<&E> {
        let i = self.current.len().checked_sub(n + 1)?;
        Some(&self.current[i].event)
    }

    /// Moves to the next bucket holding events and loads it into `current`.
    fn advance(&mut self) {
        let ring_next = self.next_occupied().map(|d| self.win + d);
        let overflow_next = self.overflow.peek().map(|e| e.time >> SHIFT);
        self.win = match (ring_next, overflow_next) {
            (Some(r), Some(o)) => r.min(o),
            (Some(r), None) => r,
            (None, Some(o)) => o,
            (None, None) => unreachable!("len > 0 but no events"),
        };
        let slot = self.win as usize % SLOTS;
        if self.occupied[slot / 64] & (1 << (slot % 64)) != 0 && ring_next == Some(self.win) {
            self.occupied[slot / 64] &= !(1 << (slot % 64));
            // The bucket's vector becomes `current`, the slot starts empty,
            // and the drained vector goes to the spare pool: memory follows
            // the busiest stretch of pending events, not the ring's size.
            let drained =
                std::mem::replace(&mut self.current, std::mem::take(&mut self.ring[slot]));
            if drained.capacity() > 0 {
                self.spare.push(drained);
            }
        }
        // Overflow events of this bucket join before sorting: an event
        // pushed long ago (to the overflow) and one pushed recently (to the
        // ring) can share a bucket, and only `(time, seq)` may order them.
        while self
            .overflow
            .peek()
            .is_some_and(|e| e.time >> SHIFT == self.win)
        {
            let e = self.overflow.pop().expect("peeked");
            self.current.push(e);
        }
        self.current.sort_unstable();
    }

    /// Distance (1..SLOTS) from `win` to the next occupied ring bucket.
    fn next_occupied(&self) -> Option<u64> {
        let start = (self.win as usize + 1) % SLOTS;
        for step in 0..=WORDS {
            let idx = (start / 64 + step) % WORDS;
            let mut word = self.occupied[idx];
            if step == 0 {
                word &= u64::MAX << (start % 64);
            } else if step == WORDS {
                word &= !(u64::MAX << (start % 64));
            }
            if word != 0 {
                let slot = idx * 64 + word.trailing_zeros() as usize;
                let d = (slot + SLOTS - start) % SLOTS + 1;
                return Some(d as u64);
            }
        }
        None
    }

    /// The time of the last popped event: the driver's "now".
    pub fn now(&self) -> SimTime {
        SimTime(self.now)
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many events were ever scheduled.
    pub fn scheduled(&self) -> u64 {
        self.next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `peek(n)` shows the events of the current second in the order
    /// they pop, and nothing past them.
    #[test]
    fn peek_shows_the_next_events_in_pop_order() {
        let mut q = EventQueue::new();
        assert_eq!(q.peek(0), None);
        for (t, e) in [(30, 'c'), (10, 'a'), (20, 'b'), (5_000_000, 'z')] {
            q.push(SimTime(t), e);
        }
        assert_eq!(q.pop(), Some((SimTime(10), 'a')));
        assert_eq!(
            (q.peek(0), q.peek(1), q.peek(2)),
            (Some(&'b'), Some(&'c'), None)
        );
        q.push(SimTime(15), 'x');
        assert_eq!((q.peek(0), q.peek(1)), (Some(&'x'), Some(&'b')));
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ['x', 'b', 'c', 'z']);
    }

    #[test]
    fn pops_in_time_then_insertion_order() {
        let mut q = EventQueue::new();
        q.push(SimTime(5), 'a');
        q.push(SimTime(1), 'b');
        q.push(SimTime(5), 'c');
        q.push(SimTime(1), 'd');
        q.push(SimTime(3), 'e');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!['b', 'd', 'e', 'a', 'c']);
    }

    /// A small deterministic generator for the model test.
    fn lcg(x: &mut u64) -> u64 {
        *x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *x >> 33
    }

    #[test]
    fn matches_a_sorted_reference_across_buckets_ring_wrap_and_overflow() {
        // Delays from "now" (same instant) up to days, so events land in the
        // current bucket, the ring (and its wrap-around) and the overflow.
        let spans = [0u64, 1, 1 << 20, 1 << 22, 1 << 26, 1 << 32, 1 << 36];
        for seed in 0..20u64 {
            let mut x = seed + 1;
            let mut q = EventQueue::new();
            let mut model: BinaryHeap<std::cmp::Reverse<(u64, u64)>> = BinaryHeap::new();
            let mut seq = 0u64;
            let mut now = 0u64;
            let mut push =
                |q: &mut EventQueue<u64>, model: &mut BinaryHeap<_>, now: u64, x: &mut u64| {
                    let span = spans[lcg(x) as usize % spans.len()];
                    let t = now + if span == 0 { 0 } else { lcg(x) % span };
                    q.push(SimTime(t), seq);
                    model.push(std::cmp::Reverse((t, seq)));
                    seq += 1;
                };
            for _ in 0..500 {
                push(&mut q, &mut model, now, &mut x);
            }
            for _ in 0..20_000 {
                let std::cmp::Reverse((t, id)) = model.pop().unwrap();
                assert_eq!(q.pop(), Some((SimTime(t), id)), "seed {seed}");
                now = t;
                for _ in 0..(lcg(&mut x) % 3) {
                    push(&mut q, &mut model, now, &mut x);
                }
                if model.is_empty() {
                    break;
                }
            }
            assert_eq!(q.len(), model.len());
        }
    }

    /// Regression: an event that went to the overflow (scheduled more than
    /// a ring ahead) and a later-pushed ring event in the same bucket must
    /// still pop in time order. The overflow event used to pop first.
    #[test]
    fn overflow_and_ring_events_of_one_bucket_pop_in_time_order() {
        let mut q = EventQueue::new();
        let far = (SLOTS as u64 + 10) << SHIFT;
        q.push(SimTime(far + 900), 'o'); // beyond the ring: overflow
        q.push(SimTime(far - (100 << SHIFT)), 'a'); // ring
        assert_eq!(q.pop(), Some((SimTime(far - (100 << SHIFT)), 'a')));
        q.push(SimTime(far + 5), 'r'); // now within the ring, same bucket
        assert_eq!(q.pop(), Some((SimTime(far + 5), 'r')));
        assert_eq!(q.pop(), Some((SimTime(far + 900), 'o')));
        assert!(q.is_empty());
    }

    #[test]
    fn many_ties_keep_fifo_order() {
        let mut q = EventQueue::new();
        for i in 0..1000u32 {
            q.push(SimTime(7), i);
        }
        for i in 0..1000u32 {
            assert_eq!(q.pop(), Some((SimTime(7), i)));
        }
        assert!(q.is_empty());
    }
}
