//! What a consumer does with the data it receives, whatever its strategy:
//! a listed page (poll or reconcile) or a full resync snapshot is applied
//! to the replica by version, and each application is recorded. This is
//! where the sans-IO consumer half of the seam (ARCHITECTURE.md) grows;
//! drivers call these steps and keep only their own bookkeeping (traces).

use super::replica::{Applied, Replica};
use super::source::Items;
use super::traffic::{Change, Logs};
use crate::engine::time::SimTime;
use crate::metrics::{Metrics, Path};
use crate::model::config::Dedup;

/// Applies a listed page arriving at `at`, by version: the source's data is
/// authoritative, so nothing older is ever written. `seen` hears every
/// application (for traces).
#[inline(always)]
pub fn apply_page(
    replica: &mut Replica,
    metrics: &mut Metrics,
    m: u32,
    items: Items<'_>,
    at: SimTime,
    path: Path,
    mut seen: impl FnMut(u32, &Change, Applied),
) {
    // Most pages are empty: leave before any iterator is built.
    if items.is_empty() {
        return;
    }
    for (seq, change) in items.iter() {
        let a = replica.apply(m, seq, change, Dedup::Version);
        metrics.record_apply(a, at.since(change.at), path);
        seen(seq, change, a);
    }
}

/// Applies a full resync of mailbox `m` taken as of `as_of`, arriving at
/// `arrive`: every change visible then is applied (by version, so the
/// replica ends at the snapshot's state); those not seen before count as
/// first seen by resync.
pub fn apply_snapshot(
    logs: &Logs,
    replica: &mut Replica,
    metrics: &mut Metrics,
    m: u32,
    as_of: SimTime,
    arrive: SimTime,
) {
    let log = logs.changes(m);
    let visible = log.partition_point(|c| c.at <= as_of);
    for (seq, change) in log[..visible].iter().enumerate() {
        let a = replica.apply(m, seq as u32, change, Dedup::Version);
        metrics.record_apply(a, arrive.since(change.at), Path::Resync);
    }
}
