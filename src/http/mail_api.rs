//! The mock mail API's HTTP mapping.
//!
//! ```text
//! GET /v1/mailboxes                              → {"mailboxes": N}
//! GET /v1/mailboxes/{m}/changes?cursor=&limit=&wait_ms=
//!     If-None-Match: "<cursor>"                  → 200 page · 304 · 410 · 429 · 503
//! GET /v1/mailboxes/{m}/messages/{id}            → 200 message · 429 · 503
//! ```
//!
//! Cursors travel as opaque tokens (`start`, `seq:N`, `ts:US`,
//! `tsid:US:N`, `since:US`, `resync:K`); a page's `next_cursor` is also
//! its `ETag`, so a client sends it back as `If-None-Match` to get a 304
//! when nothing changed. Every error is JSON: `{"error": code, "message":
//! text}`, with a 4xx for a bad request and never a panic.

use crate::engine::time::SimDuration;
use crate::model::source::Cursor;
use crate::model::traffic::DELETED;
use crate::model::transmit::{Fetched, ListAnswer, Listed, PageItem};
use serde_json::{json, Value};

/// The largest page a client may ask for.
pub const MAX_LIMIT: u32 = 1_000;

/// The longest long poll a client may ask for (`wait_ms`), in wall
/// milliseconds.
pub const MAX_WAIT_MS: u64 = 60_000;

/// A request the mail API understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiRequest {
    /// How many mailboxes there are.
    Mailboxes,
    /// A mailbox's changes after a cursor.
    List {
        /// Mailbox index.
        mailbox: u32,
        /// Where to continue.
        cursor: Cursor,
        /// Page size asked for (`None`: the API's own).
        limit: Option<u32>,
        /// Long polling: how long the API may hold an empty answer.
        wait: SimDuration,
        /// `If-None-Match` named this cursor: answer 304 if nothing new.
        conditional: bool,
    },
    /// One message.
    Fetch {
        /// Mailbox index.
        mailbox: u32,
        /// Message id.
        msg: u32,
    },
}

/// A response: status, headers, JSON body (empty for a 304).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers besides `Content-Type` (always `application/json`).
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: String,
}

/// A request the API refuses, as the 4xx it answers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// HTTP status (4xx).
    pub status: u16,
    /// A stable machine-readable code.
    pub code: &'static str,
    /// What was wrong, for people.
    pub message: String,
}

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 404 for a message the mailbox does not have (yet): a fetch the
    /// model never makes, but a real client (or a forged thin delivery)
    /// may.
    pub fn unknown_message(mailbox: u32, msg: u32) -> Self {
        ApiError::new(
            404,
            "unknown_message",
            format!("mailbox {mailbox} has no message {msg}"),
        )
    }

    /// The JSON response for this error.
    pub fn response(&self) -> ApiResponse {
        ApiResponse {
            status: self.status,
            headers: Vec::new(),
            body: json!({"error": self.code, "message": self.message}).to_string(),
        }
    }
}

/// The wire token of a cursor.
pub fn cursor_token(c: Cursor) -> String {
    match c {
        Cursor::Start => "start".into(),
        Cursor::Seq(n) => format!("seq:{n}"),
        Cursor::Stamp(t) => format!("ts:{t}"),
        Cursor::StampId(t, n) => format!("tsid:{t}:{n}"),
        Cursor::Since(t) => format!("since:{t}"),
        Cursor::Resync(k) => format!("resync:{k}"),
    }
}

/// Parses a cursor token (400 if it is not one).
pub fn parse_cursor(token: &str) -> Result<Cursor, ApiError> {
    let bad = || {
        ApiError::new(
            400,
            "bad_cursor",
            format!(
                "`{token}` is not a cursor (start, seq:N, ts:US, tsid:US:N, since:US, resync:K)"
            ),
        )
    };
    let mut parts = token.split(':');
    let kind = parts.next().unwrap_or_default();
    let mut num = || -> Result<u64, ApiError> {
        parts
            .next()
            .and_then(|p| p.parse::<u64>().ok())
            .ok_or_else(bad)
    };
    let small = |n: u64| u32::try_from(n).map_err(|_| bad());
    let cursor = match kind {
        "start" => Cursor::Start,
        "seq" => Cursor::Seq(small(num()?)?),
        "ts" => Cursor::Stamp(num()?),
        "tsid" => {
            let t = num()?;
            Cursor::StampId(t, small(num()?)?)
        }
        "since" => Cursor::Since(num()?),
        "resync" => Cursor::Resync(small(num()?)?),
        _ => return Err(bad()),
    };
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(cursor)
}

/// Decodes a query value's `%XX` escapes (clients commonly send a
/// cursor's `:` as `%3A`); an escape that is not two hex digits stays as
/// it is, and then fails the value's own check.
fn unescape(v: &str) -> std::borrow::Cow<'_, str> {
    if !v.contains('%') {
        return std::borrow::Cow::Borrowed(v);
    }
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).and_then(|&c| hex(c)),
            b.get(i + 2).and_then(|&c| hex(c)),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (c, ..) => {
                out.push(c);
                i += 1;
            }
        }
    }
    std::borrow::Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Parses a request of `method` to `target` (path and query) against an
/// API of `mailboxes` mailboxes; `if_none_match` is that header's value.
pub fn parse(
    method: &str,
    target: &str,
    if_none_match: Option<&str>,
    mailboxes: u32,
) -> Result<ApiRequest, ApiError> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let not_found = || ApiError::new(404, "not_found", format!("no such resource: {path}"));
    let route = match segments.as_slice() {
        ["", "v1", "mailboxes"] => Route::Mailboxes,
        ["", "v1", "mailboxes", m, "changes"] => Route::Changes(m),
        ["", "v1", "mailboxes", m, "messages", id] => Route::Message(m, id),
        _ => return Err(not_found()),
    };
    if method != "GET" {
        return Err(ApiError::new(
            405,
            "method_not_allowed",
            format!("{method} {path}: only GET is served"),
        ));
    }
    let mailbox = |m: &str| -> Result<u32, ApiError> {
        match m.parse::<u32>() {
            Ok(i) if i < mailboxes => Ok(i),
            _ => Err(ApiError::new(
                404,
                "unknown_mailbox",
                format!("no mailbox `{m}` (there are {mailboxes}, 0..{mailboxes})"),
            )),
        }
    };
    match route {
        Route::Mailboxes => Ok(ApiRequest::Mailboxes),
        Route::Message(m, id) => Ok(ApiRequest::Fetch {
            mailbox: mailbox(m)?,
            msg: id.parse().map_err(|_| {
                ApiError::new(
                    404,
                    "unknown_message",
                    format!("`{id}` is not a message id"),
                )
            })?,
        }),
        Route::Changes(m) => {
            let mailbox = mailbox(m)?;
            let (mut cursor, mut limit, mut wait) = (Cursor::Start, None, SimDuration::ZERO);
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let v = &*unescape(v);
                match k {
                    "cursor" => cursor = parse_cursor(v)?,
                    "limit" => match v.parse::<u32>() {
                        Ok(n) if (1..=MAX_LIMIT).contains(&n) => limit = Some(n),
                        _ => {
                            return Err(ApiError::new(
                                400,
                                "bad_limit",
                                format!("limit `{v}`: a whole number from 1 to {MAX_LIMIT}"),
                            ))
                        }
                    },
                    "wait_ms" => match v.parse::<u64>() {
                        Ok(ms) if ms <= MAX_WAIT_MS => wait = SimDuration::from_millis(ms),
                        _ => {
                            return Err(ApiError::new(
                                400,
                                "bad_wait",
                                format!("wait_ms `{v}`: milliseconds from 0 to {MAX_WAIT_MS}"),
                            ))
                        }
                    },
                    _ => {
                        return Err(ApiError::new(
                            400,
                            "unknown_parameter",
                            format!("unknown query parameter `{k}` (cursor, limit, wait_ms)"),
                        ))
                    }
                }
            }
            // `If-None-Match` may list several tags, weak or strong.
            let token = cursor_token(cursor);
            let conditional = if_none_match.is_some_and(|tags| {
                tags.split(',').any(|t| {
                    let t = t.trim();
                    t.strip_prefix("W/").unwrap_or(t).trim_matches('"') == token
                })
            });
            Ok(ApiRequest::List {
                mailbox,
                cursor,
                limit,
                wait,
                conditional,
            })
        }
    }
}

/// Which resource a path names.
enum Route<'a> {
    Mailboxes,
    Changes(&'a str),
    Message(&'a str, &'a str),
}

/// A change as JSON: ids and a version, never the commit time.
fn item_json(i: &PageItem) -> Value {
    json!({
        "id": i.seq,
        "message": i.msg,
        "version": i.version & !DELETED,
        "deleted": i.version & DELETED != 0,
    })
}

/// Whole seconds for `Retry-After` (rounded up, at least 1), with virtual
/// time running `speed` times faster than the wall clock.
pub fn retry_after_secs(d: SimDuration, speed: f64) -> u64 {
    let secs = d.as_secs_f64() / speed.max(f64::MIN_POSITIVE);
    (secs.ceil() as u64).max(1)
}

/// The response to `GET /v1/mailboxes`.
pub fn mailboxes_response(mailboxes: u32) -> ApiResponse {
    ApiResponse {
        status: 200,
        headers: Vec::new(),
        body: json!({ "mailboxes": mailboxes }).to_string(),
    }
}

/// The response for a list call's answer (`speed` scales `Retry-After`).
pub fn list_response(answer: &ListAnswer, speed: f64) -> ApiResponse {
    let ok = |headers, body: Value| ApiResponse {
        status: 200,
        headers,
        body: body.to_string(),
    };
    match &answer.listed {
        Listed::Page {
            items,
            next_cursor,
            has_more,
        } => {
            let token = cursor_token(*next_cursor);
            ok(
                vec![("ETag", format!("\"{token}\""))],
                json!({
                    "changes": items.iter().map(item_json).collect::<Vec<_>>(),
                    "next_cursor": token,
                    "has_more": has_more,
                }),
            )
        }
        Listed::NotModified => ApiResponse {
            status: 304,
            headers: vec![("ETag", format!("\"{}\"", cursor_token(answer.asked)))],
            body: String::new(),
        },
        Listed::Snapshot {
            page,
            pages,
            end_cursor,
            state,
        } => {
            let last = page + 1 == *pages;
            let next = if last {
                *end_cursor
            } else {
                Cursor::Resync(page + 1)
            };
            ok(
                Vec::new(),
                json!({
                    "snapshot": {"page": page, "pages": pages},
                    "messages": state.iter().map(item_json).collect::<Vec<_>>(),
                    "next_cursor": cursor_token(next),
                    "has_more": !last,
                }),
            )
        }
        other => error_response(other, speed),
    }
}

/// The response for an error answer (429, 503, 410).
fn error_response(listed: &Listed, speed: f64) -> ApiResponse {
    match listed {
        Listed::RateLimited { retry_after } => {
            let secs = retry_after_secs(*retry_after, speed);
            ApiResponse {
                status: 429,
                headers: vec![("Retry-After", secs.to_string())],
                body: json!({"error": "rate_limited", "message": format!("retry after {secs} s")})
                    .to_string(),
            }
        }
        Listed::Expired => ApiError::new(
            410,
            "cursor_expired",
            "the cursor is older than the change log's retention: resync from `resync:0`",
        )
        .response(),
        _ => ApiResponse {
            status: 503,
            headers: vec![("Retry-After", "1".into())],
            body: json!({"error": "unavailable", "message": "the mail API is down"}).to_string(),
        },
    }
}

/// The response for a fetch's answer.
pub fn fetch_response(f: &Fetched, speed: f64) -> ApiResponse {
    match &f.result {
        Ok(item) => ApiResponse {
            status: 200,
            headers: Vec::new(),
            body: item_json(item).to_string(),
        },
        Err(listed) => error_response(listed, speed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::time::SimTime;
    use crate::model::transmit::{Caller, Early, FetchCall};
    use proptest::prelude::*;

    fn answer(listed: Listed) -> ListAnswer {
        ListAnswer {
            mailbox: 3,
            asked: Cursor::Seq(7),
            caller: Caller::Reconciler,
            early: Early::Errors,
            sent_at: SimTime::ZERO,
            at: SimTime(1),
            listed,
        }
    }

    #[test]
    fn percent_encoded_query_values_are_decoded() {
        let r = parse(
            "GET",
            "/v1/mailboxes/3/changes?cursor=seq%3A7&limit=5",
            None,
            10,
        );
        assert!(
            matches!(
                r,
                Ok(ApiRequest::List {
                    cursor: Cursor::Seq(7),
                    ..
                })
            ),
            "{r:?}"
        );
        let bad = parse("GET", "/v1/mailboxes/3/changes?cursor=seq%3", None, 10);
        assert_eq!(bad.unwrap_err().code, "bad_cursor");
        let bad = parse("GET", "/v1/mailboxes/3/changes?cursor=%ZZ", None, 10);
        assert_eq!(bad.unwrap_err().code, "bad_cursor");
    }

    #[test]
    fn every_cursor_round_trips() {
        for c in [
            Cursor::Start,
            Cursor::Seq(0),
            Cursor::Seq(u32::MAX),
            Cursor::Stamp(u64::MAX),
            Cursor::StampId(17, 4),
            Cursor::Since(1_700_000_000_000_000),
            Cursor::Resync(2),
        ] {
            assert_eq!(parse_cursor(&cursor_token(c)), Ok(c));
        }
        for bad in [
            "",
            "seq",
            "seq:",
            "seq:-1",
            "seq:4294967296",
            "ts:1:2",
            "tsid:1",
            "nope:1",
        ] {
            assert_eq!(parse_cursor(bad).unwrap_err().status, 400, "{bad}");
        }
    }

    #[test]
    fn requests_parse_and_bad_ones_get_the_right_4xx() {
        assert_eq!(
            parse(
                "GET",
                "/v1/mailboxes/3/changes?cursor=seq:7&limit=50&wait_ms=30000",
                Some("\"seq:7\""),
                10
            ),
            Ok(ApiRequest::List {
                mailbox: 3,
                cursor: Cursor::Seq(7),
                limit: Some(50),
                wait: SimDuration::from_secs(30),
                conditional: true,
            })
        );
        assert_eq!(
            parse("GET", "/v1/mailboxes/3/changes", Some("\"seq:9\""), 10),
            Ok(ApiRequest::List {
                mailbox: 3,
                cursor: Cursor::Start,
                limit: None,
                wait: SimDuration::ZERO,
                conditional: false,
            })
        );
        let weak = parse(
            "GET",
            "/v1/mailboxes/3/changes?cursor=seq:7",
            Some("\"x\", W/\"seq:7\""),
            10,
        );
        assert!(
            matches!(
                weak,
                Ok(ApiRequest::List {
                    conditional: true,
                    ..
                })
            ),
            "{weak:?}"
        );
        assert_eq!(
            parse("GET", "/v1/mailboxes/", None, 10),
            Ok(ApiRequest::Mailboxes)
        );
        assert_eq!(
            parse("GET", "/v1/mailboxes/0/messages/12", None, 10),
            Ok(ApiRequest::Fetch {
                mailbox: 0,
                msg: 12
            })
        );
        let status = |m: &str, t: &str| parse(m, t, None, 10).unwrap_err();
        assert_eq!(
            status("GET", "/v1/mailboxes/10/changes").code,
            "unknown_mailbox"
        );
        assert_eq!(status("GET", "/v1/mailboxes/x/changes").status, 404);
        assert_eq!(status("GET", "/v2/anything").status, 404);
        assert_eq!(status("POST", "/v1/mailboxes/1/changes").status, 405);
        for (query, code) in [
            ("limit=0", "bad_limit"),
            ("limit=1001", "bad_limit"),
            ("wait_ms=60001", "bad_wait"),
            ("cursor=seq:x", "bad_cursor"),
            ("page=2", "unknown_parameter"),
        ] {
            let e = status("GET", &format!("/v1/mailboxes/1/changes?{query}"));
            assert_eq!((e.status, e.code), (400, code), "{query}");
        }
        let body: Value = serde_json::from_str(&status("GET", "/v1/x").response().body).unwrap();
        assert_eq!(body["error"], "not_found");
    }

    #[test]
    fn answers_map_to_statuses_etags_and_retry_after() {
        let page = answer(Listed::Page {
            items: vec![
                PageItem {
                    seq: 7,
                    msg: 2,
                    version: 1,
                },
                PageItem {
                    seq: 8,
                    msg: 2,
                    version: 2 | DELETED,
                },
            ],
            next_cursor: Cursor::Seq(9),
            has_more: false,
        });
        let r = list_response(&page, 1.0);
        assert_eq!(
            (r.status, r.headers.clone()),
            (200, vec![("ETag", "\"seq:9\"".to_string())])
        );
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["next_cursor"], "seq:9");
        assert_eq!(
            body["changes"][1],
            json!({"id": 8, "message": 2, "version": 2, "deleted": true})
        );
        assert!(
            body["changes"][0].get("at").is_none(),
            "no commit times on the wire"
        );
        let r = list_response(&answer(Listed::NotModified), 1.0);
        assert_eq!((r.status, r.body.as_str()), (304, ""));
        assert_eq!(r.headers, vec![("ETag", "\"seq:7\"".to_string())]);
        let limited = answer(Listed::RateLimited {
            retry_after: SimDuration::from_millis(2_500),
        });
        assert_eq!(
            list_response(&limited, 1.0).headers,
            vec![("Retry-After", "3".to_string())]
        );
        // At 60x, 2.5 virtual seconds are 42 ms of wall time: at least 1 s.
        assert_eq!(
            list_response(&limited, 60.0).headers,
            vec![("Retry-After", "1".to_string())]
        );
        assert_eq!(list_response(&answer(Listed::Unavailable), 1.0).status, 503);
        assert_eq!(list_response(&answer(Listed::Expired), 1.0).status, 410);
        let snap = answer(Listed::Snapshot {
            page: 1,
            pages: 2,
            end_cursor: Cursor::Seq(40),
            state: vec![PageItem {
                seq: 3,
                msg: 1,
                version: 4,
            }],
        });
        let body: Value = serde_json::from_str(&list_response(&snap, 1.0).body).unwrap();
        assert_eq!(
            (body["next_cursor"].as_str(), body["has_more"].as_bool()),
            (Some("seq:40"), Some(false))
        );
        let call = FetchCall {
            mailbox: 0,
            msg: 1,
            seq: 3,
            id: 0,
        };
        let ok = Fetched {
            call,
            result: Ok(PageItem {
                seq: 5,
                msg: 1,
                version: 3,
            }),
        };
        assert_eq!(fetch_response(&ok, 1.0).status, 200);
        let down = Fetched {
            call,
            result: Err(Listed::Unavailable),
        };
        assert_eq!(fetch_response(&down, 1.0).status, 503);
    }

    proptest! {
        /// Whatever arrives, the parser answers (a request or a 4xx) and
        /// never panics.
        #[test]
        fn any_request_line_gets_an_answer(method in "[A-Z]{0,7}", target in "/[a-z0-9/?=&:._%-]{0,60}", etag in proptest::option::of("[ -~]{0,20}")) {
            if let Err(e) = parse(&method, &target, etag.as_deref(), 100) {
                prop_assert!((400..500).contains(&e.status));
            }
        }
    }
}
