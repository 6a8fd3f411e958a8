//! Traces: a timeline of everything that touched one mailbox or one
//! message: commits, requests and pages, delivery attempts and their
//! fates, the endpoint's answers, retries, give-ups, processing, applies,
//! crashes. Off by default; when off, every trace site is one
//! predictable branch on `None` and builds nothing.

use crate::engine::time::{SimDuration, SimTime};
use serde_json::{Map, Value};
use std::fmt::Write;

/// What to trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// Everything about one mailbox.
    Mailbox(u32),
    /// Everything about one message (`mailbox`, message index).
    Message(u32, u32),
}

impl Filter {
    /// Parses `M` (a mailbox) or `M:MSG` (a message).
    pub fn parse_message(text: &str) -> Result<Filter, String> {
        let (m, msg) = text
            .split_once(':')
            .ok_or_else(|| format!("`{text}`: expected MAILBOX:MESSAGE, e.g. 17:3"))?;
        let m = m
            .trim()
            .parse()
            .map_err(|_| format!("`{m}` is not a mailbox index"))?;
        let msg = msg
            .trim()
            .parse()
            .map_err(|_| format!("`{msg}` is not a message index"))?;
        Ok(Filter::Message(m, msg))
    }

    /// The mailbox the filter is about.
    pub fn mailbox(&self) -> u32 {
        match *self {
            Filter::Mailbox(m) | Filter::Message(m, _) => m,
        }
    }
}

/// One line of a trace.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// When.
    pub at: SimTime,
    /// Mailbox.
    pub mailbox: u32,
    /// The change concerned, if any: (sequence number, message, version).
    pub change: Option<(u32, u32, u32)>,
    /// What happened (`commit`, `poll`, `attempt`, `apply`, ...).
    pub event: &'static str,
    /// Details.
    pub detail: Map<String, Value>,
}

impl Record {
    /// The record as one JSON object (a JSONL line).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("t_us".into(), self.at.0.into());
        m.insert("t".into(), SimDuration(self.at.0).to_string().into());
        m.insert("mailbox".into(), self.mailbox.into());
        if let Some((seq, msg, version)) = self.change {
            m.insert("seq".into(), seq.into());
            m.insert("message".into(), msg.into());
            m.insert("version".into(), (version & !(1 << 31)).into());
            m.insert("deleted".into(), (version & (1 << 31) != 0).into());
        }
        m.insert("event".into(), self.event.into());
        m.extend(self.detail.clone());
        Value::Object(m)
    }

    /// One human line: `+6h1m0.05s  m17 #42 msg 8 v2  attempt  {...}`.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{:>16}  m{}",
            format!("+{}", SimDuration(self.at.0)),
            self.mailbox
        );
        if let Some((seq, msg, version)) = self.change {
            let _ = write!(out, " #{seq} msg {msg} v{}", version & !(1 << 31));
        }
        let _ = write!(out, "  {}", self.event);
        for (k, v) in &self.detail {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let _ = write!(out, "  {k}={v}");
        }
        out
    }
}

/// The trace being collected.
#[derive(Clone, Debug)]
pub struct Trace {
    /// What to keep.
    pub filter: Filter,
    /// What was kept, in event order.
    pub records: Vec<Record>,
}

impl Trace {
    /// A trace for `filter`.
    pub fn new(filter: Filter) -> Self {
        Trace {
            filter,
            records: Vec::new(),
        }
    }

    /// True when an event about mailbox `m` (and message `msg`, if it
    /// concerns one) belongs in this trace. Mailbox-wide events (requests,
    /// crashes) belong to a message trace only with `msg = None` passed as
    /// `Some` by the caller when they carried the message.
    pub fn wants(&self, m: u32, msg: Option<u32>) -> bool {
        match self.filter {
            Filter::Mailbox(fm) => fm == m,
            Filter::Message(fm, fmsg) => fm == m && msg == Some(fmsg),
        }
    }

    /// The records in time order (stable: ties keep event order), as JSONL.
    pub fn jsonl(records: &[Record]) -> String {
        records
            .iter()
            .map(|r| r.to_json().to_string() + "\n")
            .collect()
    }
}

/// Builds a detail map from `key => value` pairs.
#[macro_export]
#[doc(hidden)]
macro_rules! detail {
    ($($k:literal => $v:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut m = serde_json::Map::new();
        $( m.insert($k.to_string(), serde_json::json!($v)); )*
        m
    }};
}

/// Where two traces of the same run first differ: the index and each
/// side's record there (`None` past a trace's end); `None` when they are
/// equal. `run --check-determinism` names this event.
pub fn first_divergence<'a>(
    a: &'a [Record],
    b: &'a [Record],
) -> Option<(usize, Option<&'a Record>, Option<&'a Record>)> {
    let n = a.len().max(b.len());
    (0..n)
        .find(|&i| a.get(i).map(Record::to_json) != b.get(i).map(Record::to_json))
        .map(|i| (i, a.get(i), b.get(i)))
}

/// `records` (one run's trace for `filter`, in event order) with the
/// traced mailbox's commits added from the change log, sorted by time
/// (stable: commits first at equal times). Every driver's trace is
/// finished this way.
pub fn with_commits(
    logs: &super::traffic::Logs,
    filter: Filter,
    mut records: Vec<Record>,
) -> Vec<Record> {
    let m = filter.mailbox();
    if m < logs.mailboxes() {
        let mut commits: Vec<Record> = Vec::new();
        for (seq, c) in logs.changes(m).iter().enumerate() {
            if let Filter::Message(_, msg) = filter {
                if c.msg != msg {
                    continue;
                }
            }
            let stamp = logs.stamp(m, seq as u32);
            commits.push(Record {
                at: c.at,
                mailbox: m,
                change: Some((seq as u32, c.msg, c.version)),
                event: "commit",
                detail: crate::detail!("kind" => format!("{:?}", c.kind()).to_lowercase(), "stamp_us" => stamp),
            });
        }
        commits.extend(records);
        records = commits;
        records.sort_by_key(|r| r.at); // stable: commits first at equal times
    }
    records
}
