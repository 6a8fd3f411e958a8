//! Traces: a timeline of everything that touched one mailbox or one
//! message: commits, requests and pages, delivery attempts and their
//! fates, the endpoint's answers, retries, give-ups, processing, applies,
//! crashes. Off by default; when off, every trace site is one
//! predictable branch on `None` and builds nothing.

use crate::engine::time::{SimDuration, SimTime};
use serde_json::{Map, Value};
use std::fmt::Write;

/// What to trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    /// Everything about one mailbox.
    Mailbox(u32),
    /// Everything about one message (`mailbox`, message index).
    Message(u32, u32),
    /// Everything about several messages (`(mailbox, message)`, sorted,
    /// e.g. the lost or slowest ones of a run).
    Messages(Vec<(u32, u32)>),
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

    /// The mailboxes the filter is about, sorted.
    pub fn mailboxes(&self) -> Vec<u32> {
        match self {
            Filter::Mailbox(m) | Filter::Message(m, _) => vec![*m],
            Filter::Messages(v) => {
                let mut out: Vec<u32> = v.iter().map(|(m, _)| *m).collect();
                out.dedup();
                out
            }
        }
    }

    /// True when the filter keeps what happened to message `msg` of
    /// mailbox `m` (`None`: a mailbox-wide event, such as a request or a
    /// crash, kept by mailbox traces only, except crashes, which every
    /// trace of the mailbox keeps).
    pub fn keeps(&self, m: u32, msg: Option<u32>, event: &str) -> bool {
        match self {
            Filter::Mailbox(fm) => *fm == m,
            Filter::Message(fm, fmsg) => {
                *fm == m && (msg == Some(*fmsg) || (msg.is_none() && event == "consumer_crash"))
            }
            Filter::Messages(v) => match msg {
                Some(msg) => v.binary_search(&(m, msg)).is_ok(),
                None => event == "consumer_crash" && v.iter().any(|(fm, _)| *fm == m),
            },
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

    /// One human line, in aligned columns: time, mailbox, change (`#seq
    /// msg N vV`), event, then `key=value` details:
    /// `   +6h1m0.05s  m17    #42 msg 8 v2      attempt           attempt=1  fate=sent`.
    pub fn render(&self) -> String {
        let change = self.change.map_or(String::new(), |(seq, msg, version)| {
            format!("#{seq} msg {msg} v{}", version & !(1 << 31))
        });
        let mut out = format!(
            "{:>20}  {:<6} {:<20} {:<18}",
            format!("+{}", SimDuration(self.at.0)),
            format!("m{}", self.mailbox),
            change,
            self.event
        );
        // A verdict reads first (`verdict=lost  cause=...`).
        let first = self.detail.get_key_value("verdict");
        let rest = self.detail.iter().filter(|(k, _)| *k != "verdict");
        for (k, v) in first.into_iter().chain(rest) {
            let v = match v {
                Value::Null => continue,
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let _ = write!(out, "  {k}={v}");
        }
        out.trim_end().to_string()
    }
}

/// A fieldless enum variant's name, as a trace word: `StaleOverwrite` ->
/// `stale_overwrite`, `Status503` -> `status503`.
pub fn word(x: &impl std::fmt::Debug) -> String {
    let name = format!("{x:?}");
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A list cursor as a trace shows it: `start`, `seq 42`, `stamp +6h1m`,
/// `stamp +6h1m id 42`, `resync page 3`, `since +2h50m46.296s`.
pub fn cursor(c: &super::source::Cursor) -> String {
    use super::source::Cursor;
    let t = |us: u64| format!("+{}", SimDuration(us));
    match *c {
        Cursor::Start => "start".into(),
        Cursor::Seq(n) => format!("seq {n}"),
        Cursor::Stamp(us) => format!("stamp {}", t(us)),
        Cursor::StampId(us, id) => format!("stamp {} id {id}", t(us)),
        Cursor::Resync(page) => format!("resync page {page}"),
        Cursor::Since(us) => format!("since {}", t(us)),
    }
}

/// What became of a traced change by the end of the run, as a final
/// `verdict` record per change: applied (when, by which path, how long
/// after its commit) or lost (and why, `cause` as in the report's
/// `lost_by_cause`). `first_apply` is the change's first apply record in
/// the trace, if any; `lost` its loss cause when it was never applied.
pub fn verdict(
    end: SimTime,
    mailbox: u32,
    change: (u32, u32, u32),
    committed: SimTime,
    first_apply: Option<&Record>,
    lost: Option<&'static str>,
) -> Record {
    let detail = match (lost, first_apply) {
        (Some(cause), _) => crate::detail!("verdict" => "lost", "cause" => cause),
        (None, Some(a)) => {
            let lag = a.at.since(committed);
            crate::detail!(
                "verdict" => "applied",
                "path" => a.detail.get("path").cloned().unwrap_or(Value::Null),
                "applied_us" => a.at.0,
                "lag_ms" => lag.as_millis_f64(),
                "lag" => SimDuration(lag.0 / 1_000 * 1_000).to_string(),
            )
        }
        (None, None) => crate::detail!("verdict" => "applied"),
    };
    Record {
        at: end,
        mailbox,
        change: Some(change),
        event: "verdict",
        detail,
    }
}

/// One `verdict` record per change `filter` names ([`verdict`]), in log
/// order: `records` is the run's trace (its first `apply` of a change,
/// `first: true`, says when and by which path), `cause` says why a change
/// was lost (`None`: applied). Every driver ends a trace with these.
pub fn verdicts(
    end: SimTime,
    logs: &super::traffic::Logs,
    filter: &Filter,
    records: &[Record],
    cause: impl Fn(u32, u32) -> Option<&'static str>,
) -> Vec<Record> {
    let mut first_apply: std::collections::BTreeMap<(u32, u32), usize> = Default::default();
    for (i, r) in records.iter().enumerate() {
        if let (Some((seq, _, _)), true) = (
            r.change,
            r.event == "apply" && r.detail.get("first") == Some(&true.into()),
        ) {
            first_apply.entry((r.mailbox, seq)).or_insert(i);
        }
    }
    traced_changes(logs, filter)
        .map(|(m, seq, c)| {
            let first = first_apply.get(&(m, seq)).map(|&i| &records[i]);
            verdict(end, m, (seq, c.msg, c.version), c.at, first, cause(m, seq))
        })
        .collect()
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

/// Every change `filter` names, as `(mailbox, sequence, change)` in log
/// order, mailbox by mailbox (mailboxes the logs lack are skipped).
pub fn traced_changes<'a>(
    logs: &'a super::traffic::Logs,
    filter: &'a Filter,
) -> impl Iterator<Item = (u32, u32, &'a super::traffic::Change)> + 'a {
    filter
        .mailboxes()
        .into_iter()
        .filter(move |&m| m < logs.mailboxes())
        .flat_map(move |m| {
            logs.whole(m)
                .iter()
                .enumerate()
                .filter(move |(_, c)| filter.keeps(m, Some(c.msg), "commit"))
                .map(move |(seq, c)| (m, seq as u32, c))
        })
}

/// `records` (one run's trace for `filter`, in event order) with the
/// traced mailbox's commits added from the change log, sorted by time
/// (stable: commits first at equal times). Every driver's trace is
/// finished this way.
pub fn with_commits(
    logs: &super::traffic::Logs,
    filter: &Filter,
    mut records: Vec<Record>,
) -> Vec<Record> {
    let mut commits: Vec<Record> = traced_changes(logs, filter)
        .map(|(m, seq, c)| Record {
            at: c.at,
            mailbox: m,
            change: Some((seq, c.msg, c.version)),
            event: "commit",
            detail: crate::detail!("kind" => format!("{:?}", c.kind()).to_lowercase(), "stamp_us" => logs.stamp(m, seq)),
        })
        .collect();
    commits.extend(records);
    records = commits;
    records.sort_by_key(|r| r.at); // stable: commits first at equal times
    records
}
