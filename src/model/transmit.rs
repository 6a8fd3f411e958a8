//! What travels between the two halves of the seam: owned, typed messages
//! ([`ToProvider`], [`ToConsumer`]) and the timers each half asks for
//! ([`Output`]).
//!
//! The [`Provider`](super::provider::Provider) (mail API + webhook sender)
//! and the [`Consumer`](super::consumer::Consumer) (strategy, endpoint,
//! workers, replica) never call each other: each yields `Output`s, and a
//! driver (the event engine, a test pair, later turmoil or real sockets)
//! carries every message to the other half at the time its network
//! says, and calls back every timer when it is due. A driver looks inside
//! a transmit only to route it and to apply the network to it.

use super::poller::RequestKind;
use super::sender::NoteId;
use super::source::{Cursor, ListRequest};
use crate::engine::time::{SimDuration, SimTime};

/// Which delivery attempt an answer belongs to (the sender's own handle;
/// the consumer only echoes it back, as an HTTP response goes back on its
/// request's connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// The sender's notification.
    pub note: NoteId,
    /// The attempt's generation (late answers of earlier attempts are
    /// recognised by it).
    pub gen: u32,
}

/// The connection a webhook answer goes back on: the attempt, and whether
/// the network will lose the response (set by the driver's network, never
/// read by a consumer's logic).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyTo {
    /// The attempt waiting for the answer.
    pub ticket: Ticket,
    /// The response will be lost on its way back.
    pub lost: bool,
}

/// Which of a list call's answers a driver may hand to the consumer as
/// soon as it is computed (at its arrival time) instead of scheduling it:
/// safe when nothing else can touch what the answer touches before it
/// arrives. A driver may always ignore this and deliver at arrival.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Early {
    /// Every answer (a poller owns its mailbox's replica between a request
    /// and its answer).
    Any,
    /// Only errors (a reconciler shares the replica with the webhook path,
    /// so its pages arrive as their own events; its errors only touch its
    /// own retry timer).
    Errors,
}

/// Who in the consumer sent a list call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// The poller, with what kind of request it is.
    Poller(RequestKind),
    /// The hybrid's reconciler.
    Reconciler,
    /// A catch-up listing after a lifecycle notification.
    CatchUp,
}

/// Consumer → provider: list a mailbox's changes after a cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListCall {
    /// The request (mailbox, cursor, limit, `If-None-Match`).
    pub req: ListRequest,
    /// Long polling: how long the API may hold an empty answer (zero: no
    /// hold, answer at once).
    pub wait: SimDuration,
    /// Who asked (echoed in the answer).
    pub caller: Caller,
    /// When it was sent (echoed in the answer).
    pub sent_at: SimTime,
    /// Which answers may be handed over early.
    pub early: Early,
}

/// One change in a listed page: what a real API returns (ids and a
/// version), never the commit time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageItem {
    /// The change's id in its mailbox's log (its sequence number).
    pub seq: u32,
    /// The message it changed.
    pub msg: u32,
    /// The message's version after it (with the deleted flag).
    pub version: u32,
}

/// What the mail API answered to a list call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listed {
    /// 200 with a page (possibly empty).
    Page {
        /// The changes, in the API's order.
        items: Vec<PageItem>,
        /// The cursor to send next.
        next_cursor: Cursor,
        /// More changes were visible after this page.
        has_more: bool,
    },
    /// 304: nothing new (conditional requests).
    NotModified,
    /// 429: retry after this long.
    RateLimited {
        /// The `Retry-After` sent.
        retry_after: SimDuration,
    },
    /// 503 during a source outage.
    Unavailable,
    /// The cursor is older than the retention: resync.
    Expired,
    /// One page of a full resync.
    Snapshot {
        /// This page's index.
        page: u32,
        /// Pages in the whole snapshot.
        pages: u32,
        /// The cursor to continue from after the last page.
        end_cursor: Cursor,
        /// On the last page: every change visible when the snapshot was
        /// taken (applied by version, so the replica ends at that state).
        state: Vec<PageItem>,
    },
}

/// Provider → consumer: the answer to a [`ListCall`] (what a client
/// knows about its own request: which mailbox, who asked, when).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListAnswer {
    /// The mailbox listed.
    pub mailbox: u32,
    /// The cursor the call asked from.
    pub asked: Cursor,
    /// Who asked.
    pub caller: Caller,
    /// Which answers may be handed over early.
    pub early: Early,
    /// When the call was sent.
    pub sent_at: SimTime,
    /// When the answer reaches the consumer.
    pub at: SimTime,
    /// The answer.
    pub listed: Listed,
}

impl ListAnswer {
    /// True when a driver may hand this answer to the consumer as soon as
    /// it is computed (see [`Early`]).
    #[inline]
    pub fn may_hand_early(&self) -> bool {
        match self.early {
            Early::Any => true,
            Early::Errors => matches!(
                self.listed,
                Listed::RateLimited { .. } | Listed::Unavailable
            ),
        }
    }
}

/// Consumer → provider: fetch one message (a thin notification's
/// follow-up). The model has no fetch latency: a driver answers a fetch
/// at the instant it is asked (a failed transport is
/// `Err(Listed::Unavailable)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchCall {
    /// Mailbox.
    pub mailbox: u32,
    /// Message id.
    pub msg: u32,
    /// The change whose notification asked for it.
    pub seq: u32,
    /// The consumer's own id for this fetch (echoed back: two fetches of
    /// one change, e.g. for a duplicate delivery, may be in progress).
    pub id: u32,
}

/// Provider → consumer: the answer to a [`FetchCall`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// The call answered.
    pub call: FetchCall,
    /// The message's latest change visible now, or the API's error.
    pub result: Result<PageItem, Listed>,
}

/// What a subscription call asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubscribeKind {
    /// Extend the mailbox's subscription (Graph: PATCH the subscription's
    /// expiry; Gmail: call `watch` again).
    Renew,
    /// Create a new subscription (after the old one expired).
    Create,
    /// Create a new subscription after a `subscriptionRemoved` lifecycle
    /// notification (the renewal schedule goes on as it was).
    Recreate,
}

/// Consumer → provider: a subscription call for one mailbox. Like a
/// fetch, it is answered at the instant it is asked (no modelled
/// latency).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubscribeCall {
    /// The mailbox whose subscription it is.
    pub mailbox: u32,
    /// Renew or create.
    pub kind: SubscribeKind,
}

/// What the API answered to a [`SubscribeCall`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subscription {
    /// 200: the subscription lives until this time.
    Active(SimTime),
    /// 404: the subscription to renew has expired (create a new one).
    NotFound,
    /// 5xx: the call failed; the subscription is as it was.
    Failed,
}

/// Provider → consumer: the answer to a [`SubscribeCall`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subscribed {
    /// The call answered.
    pub call: SubscribeCall,
    /// The answer.
    pub result: Subscription,
}

/// Which lifecycle event a [`Lifecycle`] notification reports (Microsoft
/// Graph's `lifecycleEvent`, sent to the subscription's
/// `lifecycleNotificationUrl`; learn.microsoft.com/graph/
/// change-notifications-lifecycle-events, "Reduce missing subscriptions
/// and change notifications"). Graph's third kind,
/// `reauthorizationRequired`, asks for a renewal the consumer's cadence
/// already makes, and is not modelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifecycleEvent {
    /// `subscriptionRemoved`: the mailbox's subscription is gone (here:
    /// it expired unrenewed); Graph's advice is to create it again. It
    /// carries the subscription's `subscriptionExpirationDateTime`.
    SubscriptionRemoved {
        /// When the subscription expired.
        expired_at: SimTime,
    },
    /// `missed`: change notifications for the mailbox were not delivered
    /// (here: dropped by Graph's slow-endpoint rule); Graph's advice is
    /// to resynchronise the resource (a delta query). It does not say
    /// which changes.
    Missed,
}

/// Provider → consumer: a lifecycle notification for one mailbox's
/// subscription. It travels like a delivery (the network's latency and
/// delivery faults apply) but is sent once: no retries, and its answer
/// is not modelled (a lost one is lost).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifecycle {
    /// The mailbox whose subscription it concerns.
    pub mailbox: u32,
    /// What happened.
    pub event: LifecycleEvent,
}

/// What the provider sends the consumer unasked: webhook delivery
/// attempts and, when the run has them, lifecycle notifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Push {
    /// A webhook delivery attempt.
    Delivery(Delivery),
    /// A lifecycle notification.
    Lifecycle(Lifecycle),
}

/// Provider → consumer: one webhook delivery attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The attempt, and (set by the driver's network) whether its
    /// response will be lost: the consumer echoes it in its answer.
    pub reply: ReplyTo,
    /// Which attempt of this notification it is (1 = first).
    pub attempt: u16,
    /// Mailbox of the change.
    pub mailbox: u32,
    /// The change's id (the event id).
    pub seq: u32,
    /// The message changed.
    pub msg: u32,
    /// The new version (a full payload), or `None` (a thin one: fetch it).
    pub version: Option<u32>,
    /// The sender's timeout: no answer by then is a failure.
    pub deadline: SimTime,
}

/// How a webhook endpoint answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 2xx.
    Ok,
    /// Connection refused (the consumer is down).
    Refused,
    /// 429 from the endpoint's inbound limit.
    RateLimited,
    /// 500 (inline processing failed).
    Failed,
}

/// Consumer → provider: the endpoint's answer to a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryAnswer {
    /// The connection it goes back on.
    pub reply: ReplyTo,
    /// The answer.
    pub status: Status,
}

/// What the sender learns from one delivery attempt: the outcome, and
/// what a real endpoint may add to a failure. The event engine only ever
/// builds plain verdicts ([`Verdict::plain`]); a driver facing a real
/// endpoint reads the rest from its answer (`http::webhook`). Which of the
/// extras a provider honours is its preset's rule
/// ([`Honours`](super::presets::Honours)), applied by the sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// A 2xx: delivered (the extras below are then ignored).
    pub ok: bool,
    /// No answer before the sender's timeout (a failure).
    pub timed_out: bool,
    /// The endpoint's `Retry-After` on a throttling failure (429, 502,
    /// 503, 504), in virtual time.
    pub retry_after: Option<SimDuration>,
    /// 410 Gone: the endpoint asks to be disabled.
    pub gone: bool,
    /// Svix's `webhook-delivery: abort-message`: stop retrying this message.
    pub abort: bool,
}

impl Verdict {
    /// A 2xx (`ok`), or a failure with nothing more to it: an error
    /// status, a refused connection, or when `timed_out` the sender's own
    /// timeout.
    pub const fn plain(ok: bool, timed_out: bool) -> Verdict {
        Verdict {
            ok,
            timed_out,
            retry_after: None,
            gone: false,
            abort: false,
        }
    }
}

/// An owned message from the consumer to the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToProvider {
    /// A list call (answered by `Provider::handle_list`).
    List(ListCall),
    /// A thin notification's fetch (answered by `Provider::handle_fetch`).
    Fetch(FetchCall),
    /// The endpoint's answer to a delivery.
    Answer(DeliveryAnswer),
    /// A subscription renewal or creation (answered by
    /// `Provider::handle_subscribe`, at once).
    Subscribe(SubscribeCall),
}

/// An owned message from the provider to the consumer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToConsumer {
    /// A list call's answer.
    Listed(ListAnswer),
    /// A fetch's answer (no modelled latency: it arrives when asked).
    Fetched(Fetched),
    /// A webhook delivery attempt.
    Delivery(Delivery),
    /// A subscription call's answer (no modelled latency: it arrives
    /// when asked).
    Subscribed(Subscribed),
    /// A lifecycle notification.
    Lifecycle(Lifecycle),
}

/// What a half asks its driver for, in the order it asks (drivers keep
/// that order: it breaks ties between events at the same instant): a
/// message `X` to carry to the other half, or a timer `T` to call back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output<T, X> {
    /// Carry this to the other half.
    Transmit(X),
    /// Call the half's `handle_timeout` with `T` at this time.
    Timer(SimTime, T),
}

/// A half's outputs waiting for its driver: first in, first out. Drivers
/// drain it completely after every input, so it is a plain vector read
/// from the front and emptied when read to the end (no ring arithmetic
/// on the hottest path of a run).
#[derive(Clone, Debug)]
pub struct Outbox<O> {
    items: Vec<Option<O>>,
    next: usize,
}

impl<O> Default for Outbox<O> {
    fn default() -> Self {
        Outbox {
            items: Vec::new(),
            next: 0,
        }
    }
}

impl<O> Outbox<O> {
    /// Queues one output.
    #[inline]
    pub fn push(&mut self, o: O) {
        self.items.push(Some(o));
    }

    /// True when every output has been taken.
    pub fn is_empty(&self) -> bool {
        self.next >= self.items.len()
    }

    /// The oldest output not yet taken.
    #[inline]
    pub fn pop(&mut self) -> Option<O> {
        match self.items.get_mut(self.next) {
            Some(slot) => {
                self.next += 1;
                slot.take()
            }
            None => {
                if self.next != 0 {
                    self.items.clear();
                    self.next = 0;
                }
                None
            }
        }
    }
}
