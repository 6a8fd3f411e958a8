//! The mock mailbox provider: the list API over each mailbox's change log,
//! answered "as of" the request time, with API latency, token-bucket rate
//! limits (429 + retry-after) and outage windows (503).
//!
//! `list` is the whole request/response exchange: the driver calls it at the
//! instant the request reaches the source and delivers the answer after the
//! returned latency. Latencies come from one stream drawn in request order
//! (deterministic, since request order is; one hot stream instead of a cold
//! one per mailbox).

use super::faults::{Window, Windows};
use super::ratelimit::RateLimiter;
use super::traffic::{Change, Logs};
use crate::engine::rng::{Purpose, Streams};
use crate::engine::sample::Sampler;
use crate::engine::time::{SimDuration, SimTime};
use crate::scenario::SourceSpec;

/// A list request: changes of `mailbox` after `cursor`, at most `limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListRequest {
    /// Mailbox index.
    pub mailbox: u32,
    /// Opaque `sequence` cursor: the number of changes already consumed.
    pub cursor: u32,
    /// Page size asked for.
    pub limit: u32,
}

/// One page of changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page<'a> {
    /// Sequence number of `changes[0]`.
    pub first_seq: u32,
    /// The changes, oldest first.
    pub changes: &'a [Change],
    /// Cursor to send next.
    pub next_cursor: u32,
    /// True when more changes were visible after this page at request time.
    pub has_more: bool,
}

/// What the source answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListOutcome<'a> {
    /// 200 with a page (possibly empty).
    Page(Page<'a>),
    /// 429: try again after this long.
    RateLimited {
        /// The `Retry-After` the source sent.
        retry_after: SimDuration,
    },
    /// 503 during an outage.
    Unavailable,
}

/// An answer and how long it took to arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer<'a> {
    /// The response.
    pub outcome: ListOutcome<'a>,
    /// Time from sending the request to receiving the response.
    pub latency: SimDuration,
}

/// The mock source.
#[derive(Debug)]
pub struct Source {
    logs: Logs,
    page_size: u32,
    latency: Sampler,
    limiter: RateLimiter,
    outages: Windows,
    squeeze: Vec<(Window, f64)>,
    /// Per mailbox: where the last answer ended and when the change there
    /// commits (`u64::MAX` if none): the server's index that answers "no
    /// news" without reading the message store, like IMAP's HIGHESTMODSEQ.
    /// 16 bytes per mailbox in one dense array.
    next_at: Vec<(u32, u64)>,
}

impl Source {
    /// A source with the given logs (from [`super::traffic::generate`]).
    pub fn new(
        spec: &SourceSpec,
        logs: Logs,
        outages: Windows,
        squeeze: Vec<(Window, f64)>,
        streams: &Streams,
    ) -> Self {
        let n = spec.mailboxes.get();
        let rl = &spec.rate_limit;
        let pair = |rate: Option<crate::scenario::Positive>,
                    burst: Option<crate::scenario::Positive>| {
            rate.map(|r| (r.0, burst.map_or(r.0, |b| b.0)))
        };
        Source {
            logs,
            page_size: spec.page_size.get(),
            latency: Sampler::new(spec.api_latency.0, streams.stream(Purpose::ApiLatency, 0)),
            limiter: RateLimiter::new(
                n,
                pair(rl.per_mailbox_per_s, rl.per_mailbox_burst),
                pair(rl.global_per_s, rl.global_burst),
            ),
            outages,
            squeeze,
            next_at: vec![(0, 0); n as usize],
        }
    }

    /// Number of mailboxes.
    pub fn mailboxes(&self) -> u32 {
        self.logs.mailboxes()
    }

    /// The largest page the API returns.
    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// All logs (ground truth).
    pub fn logs(&self) -> &Logs {
        &self.logs
    }

    /// Answers a list request arriving at `now`.
    #[inline]
    pub fn list(&mut self, now: SimTime, req: ListRequest) -> Answer<'_> {
        let latency = self.latency.sample();
        if let Err(outcome) = self.gate(req.mailbox, now) {
            return Answer { outcome, latency };
        }
        let hint = &mut self.next_at[req.mailbox as usize];
        if hint.0 == req.cursor && hint.1 > now.0 {
            return Answer {
                outcome: ListOutcome::Page(Page {
                    first_seq: req.cursor,
                    changes: &[],
                    next_cursor: req.cursor,
                    has_more: false,
                }),
                latency,
            };
        }
        let log = self.logs.changes(req.mailbox);
        let start = (req.cursor as usize).min(log.len());
        let after = &log[start..];
        let limit = req.limit.min(self.page_size) as usize;
        // Scan forward, not binary search: the log holds the whole future,
        // and most polls stop at the first change (one cache line).
        let take = after.iter().take(limit).take_while(|c| c.at <= now).count();
        let next = after.get(take).map_or(u64::MAX, |c| c.at.0);
        let has_more = take == limit && next <= now.0;
        *hint = ((start + take) as u32, next);
        Answer {
            outcome: ListOutcome::Page(Page {
                first_seq: start as u32,
                changes: &after[..take],
                next_cursor: (start + take) as u32,
                has_more,
            }),
            latency,
        }
    }
}

impl Source {
    /// Rate limits (with any squeeze) then outages: `Err` is the answer.
    #[inline]
    fn gate(&mut self, mailbox: u32, now: SimTime) -> Result<(), ListOutcome<'static>> {
        let factor = if self.squeeze.is_empty() {
            1.0
        } else {
            self.squeeze
                .iter()
                .filter(|(w, _)| w.contains(now))
                .map(|(_, f)| *f)
                .product()
        };
        if let Err(retry_after) = self.limiter.admit(mailbox, now, factor) {
            return Err(ListOutcome::RateLimited { retry_after });
        }
        if self.outages.contains(now) {
            return Err(ListOutcome::Unavailable);
        }
        Ok(())
    }

    /// Fetches one message (a thin notification's follow-up) as of `now`:
    /// the sequence number of the latest change to `msg` committed by then,
    /// or the error the API answered. Subject to rate limits and outages.
    pub fn fetch(
        &mut self,
        now: SimTime,
        mailbox: u32,
        msg: u32,
    ) -> Result<u32, ListOutcome<'static>> {
        self.gate(mailbox, now)?;
        let log = self.logs.changes(mailbox);
        let visible = log.partition_point(|c| c.at <= now);
        let seq = log[..visible]
            .iter()
            .rposition(|c| c.msg == msg)
            .expect("a notified message has a visible change");
        Ok(seq as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::faults::Window;
    use crate::model::traffic::generate;
    use crate::scenario::{parse, Format};

    fn source(extra: &str, outages: Windows) -> Source {
        let text = format!(
            "name='t'\nseed=3\nhorizon='1d'\n[source]\nmailboxes=1\nmessages_per_day=0\npage_size=200\napi_latency='50ms'\n{extra}\n[[source.bursts]]\nat='1h'\nmailboxes=1\nmessages=450\n[consumer]\nstrategy='poll'\npoll_interval='5m'\n"
        );
        let s = parse(&text, "t.toml", Format::Toml).unwrap();
        let streams = Streams::new(s.seed);
        let logs = generate(&s.source, s.horizon.get(), &streams);
        Source::new(&s.source, logs, outages, Vec::new(), &streams)
    }

    #[test]
    fn pages_until_has_more_is_false() {
        let mut src = source("", Windows::default());
        let hour = SimTime(3_600_000_000);
        let req = |cursor| ListRequest {
            mailbox: 0,
            cursor,
            limit: 200,
        };
        assert!(
            matches!(src.list(SimTime(0), req(0)).outcome, ListOutcome::Page(p) if p.changes.is_empty() && !p.has_more)
        );
        let mut cursor = 0;
        let mut sizes = vec![];
        loop {
            let a = src.list(hour, req(cursor));
            assert_eq!(a.latency, SimDuration::from_millis(50));
            let ListOutcome::Page(p) = a.outcome else {
                panic!("expected a page")
            };
            sizes.push(p.changes.len());
            cursor = p.next_cursor;
            if !p.has_more {
                break;
            }
        }
        assert_eq!(sizes, vec![200, 200, 50]);
    }

    #[test]
    fn outage_answers_503_and_rate_limit_429() {
        let w = Windows(vec![Window::Once {
            start: SimTime(10),
            end: SimTime(20),
        }]);
        let mut src = source("rate_limit = { per_mailbox_per_s = 1 }", w);
        let req = ListRequest {
            mailbox: 0,
            cursor: 0,
            limit: 200,
        };
        assert_eq!(src.list(SimTime(15), req).outcome, ListOutcome::Unavailable);
        assert!(
            matches!(src.list(SimTime(16), req).outcome, ListOutcome::RateLimited { retry_after } if retry_after.0 > 0)
        );
    }
}
