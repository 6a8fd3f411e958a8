//! The client side of the mapping: the requests a consumer sends for its
//! list and fetch calls, and its reading of the API's responses and of a
//! webhook delivery's body back into the model's messages. The inverse
//! of [`mail_api`](super::mail_api) and
//! [`webhook::request`](super::webhook::request).
//!
//! A driver knows its own call (mailbox, cursor asked, caller, send time),
//! so the parsers return only what the wire adds: a [`Listed`], a fetch's
//! result, a [`ParsedDelivery`]. Three things do not survive the wire:
//!
//! - `Retry-After` is whole wall seconds, rounded up by the server: a
//!   `RateLimited { retry_after: d }` comes back as
//!   `ceil(d / speed s).max(1) * speed s` of virtual time: not shorter
//!   than `d` (up to float rounding) and less than one wall second longer.
//! - A resync page other than the last carries no end cursor (the model
//!   keeps one on every page, but the consumer reads it only on the last,
//!   see `Poller::on_snapshot`): its `end_cursor` is its `next_cursor`,
//!   `resync:K+1`, the page to fetch next.
//! - A fetch error other than 429 and 410 is a 503, read as
//!   [`Listed::Unavailable`].
//!
//! Every malformed answer is a [`ClientError`], never a panic; unknown
//! JSON fields are ignored.

use super::mail_api::{cursor_token, parse_cursor, MAX_WAIT_MS};
use super::webhook::EVENT_TYPE;
use crate::engine::time::SimDuration;
use crate::model::source::Cursor;
use crate::model::traffic::DELETED;
use crate::model::transmit::{FetchCall, ListCall, Listed, PageItem};
use serde_json::Value;

/// A `GET` request to the mail API: the target and the headers to send
/// (the method is always `GET`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRequest {
    /// Path and query, e.g. `/v1/mailboxes/3/changes?cursor=seq:7&limit=50`.
    pub path_and_query: String,
    /// `(name, value)` headers (`If-None-Match` for a conditional list).
    pub headers: Vec<(&'static str, String)>,
}

/// A webhook delivery's body, read back: the `data` of a `mail.changed`
/// envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedDelivery {
    /// Mailbox of the change.
    pub mailbox: u32,
    /// The change's id (`change`).
    pub seq: u32,
    /// The message changed.
    pub msg: u32,
    /// The new version with the [`DELETED`] bit (a full payload), or
    /// `None` (a thin one: fetch the message).
    pub version: Option<u32>,
}

/// A response the client cannot read as an answer of the mail API (or a
/// body that is not a delivery).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// A status the API does not answer this call with (a 4xx refusal, a
    /// 5xx other than 503, a 304 to a fetch), with the error JSON's code
    /// and message when the body had them.
    #[error("unexpected status {status}{}", detail(.code, .message))]
    Status {
        /// The HTTP status.
        status: u16,
        /// The body's `error`, if any.
        code: Option<String>,
        /// The body's `message`, if any.
        message: Option<String>,
    },
    /// The body is not JSON.
    #[error("the body is not JSON: {0}")]
    Json(String),
    /// A field is missing or has the wrong type or range.
    #[error("field `{field}` is {problem}")]
    Field {
        /// Where it is, e.g. `changes[2].id`.
        field: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// `next_cursor` is not a cursor token.
    #[error("`{0}` is not a cursor token")]
    Cursor(String),
    /// A 429 without `Retry-After` in whole seconds.
    #[error("429 without a Retry-After in whole seconds (got {})", or_none(.found))]
    RetryAfter {
        /// The header's value, if there was one.
        found: Option<String>,
    },
    /// A resync page whose numbers do not add up.
    #[error("resync page {page} of {pages} with has_more {has_more}")]
    Snapshot {
        /// `snapshot.page`.
        page: u32,
        /// `snapshot.pages`.
        pages: u32,
        /// `has_more`.
        has_more: bool,
    },
    /// A webhook envelope of another event type.
    #[error("event type {}, expected \"{expected}\"", or_none(.found), expected = EVENT_TYPE)]
    EventType {
        /// The envelope's `type` as JSON text, if it had one.
        found: Option<String>,
    },
}

/// What was found instead, for a message: the text, or `none`.
fn or_none(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("none")
}

/// `: code: message` for [`ClientError::Status`], as much as is known.
fn detail(code: &Option<String>, message: &Option<String>) -> String {
    match (code, message) {
        (Some(c), Some(m)) => format!(": {c}: {m}"),
        (Some(c), None) => format!(": {c}"),
        (None, Some(m)) => format!(": {m}"),
        (None, None) => String::new(),
    }
}

impl ClientError {
    /// A [`ClientError::Field`] for field `name` of the object at `at`.
    fn field(at: &str, name: &str, problem: &'static str) -> Self {
        let field = if at.is_empty() {
            name.to_string()
        } else {
            format!("{at}.{name}")
        };
        ClientError::Field { field, problem }
    }
}

// ----- requests ----------------------------------------------------------

/// The request for list call `call`, with virtual time running `speed`
/// times faster than the wall clock: `GET
/// /v1/mailboxes/{m}/changes?cursor=&limit=`, plus `wait_ms` for a long
/// poll (the virtual wait over `speed`, to the nearest wall millisecond,
/// at least 1 and at most [`MAX_WAIT_MS`]) and `If-None-Match:
/// "<cursor>"` for a conditional one. Cursor tokens are `[a-z0-9:]`, legal as they are in a
/// query and in an entity tag, so nothing is percent-encoded. The limit
/// is sent as it is (the API refuses one outside 1 to
/// [`MAX_LIMIT`](super::mail_api::MAX_LIMIT) with a 400).
pub fn list_request(call: &ListCall, speed: f64) -> ClientRequest {
    let req = &call.req;
    let token = cursor_token(req.cursor);
    let mut path_and_query = format!(
        "/v1/mailboxes/{}/changes?cursor={token}&limit={}",
        req.mailbox, req.limit
    );
    if !call.wait.is_zero() {
        path_and_query += &format!("&wait_ms={}", wall_wait_ms(call.wait, speed));
    }
    let headers = if req.conditional {
        vec![("If-None-Match", format!("\"{token}\""))]
    } else {
        Vec::new()
    };
    ClientRequest {
        path_and_query,
        headers,
    }
}

/// Wall milliseconds for a long poll of virtual `wait` at `speed`: `wait
/// / speed`, rounded to the nearest millisecond, at least 1 and at most
/// [`MAX_WAIT_MS`] (the longest the API holds; a shorter hold only
/// answers sooner).
fn wall_wait_ms(wait: SimDuration, speed: f64) -> u64 {
    let ms = (wait.as_millis_f64() / speed).round();
    // `as` saturates (and maps NaN to 0): no speed makes this panic.
    (ms as u64).clamp(1, MAX_WAIT_MS)
}

/// The request for fetch call `call`: `GET /v1/mailboxes/{m}/messages/{id}`.
pub fn fetch_request(call: &FetchCall) -> ClientRequest {
    ClientRequest {
        path_and_query: format!("/v1/mailboxes/{}/messages/{}", call.mailbox, call.msg),
        headers: Vec::new(),
    }
}

// ----- responses ---------------------------------------------------------

/// Reads the response to a list call: its status, `(name, value)` headers
/// (names compared case-insensitively) and body, with virtual time running
/// `speed` times faster than the wall clock. 200 is a page (a resync page
/// when the body has `snapshot`), 304 [`Listed::NotModified`], 429
/// [`Listed::RateLimited`] (`Retry-After` seconds times `speed`), 503
/// [`Listed::Unavailable`], 410 [`Listed::Expired`]; anything else is an
/// error. The inverse of [`list_response`](super::mail_api::list_response),
/// up to what the module doc lists.
pub fn parse_list_response(
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    speed: f64,
) -> Result<Listed, ClientError> {
    match status {
        200 => page(&json(body)?),
        304 => Ok(Listed::NotModified),
        _ => error_answer(status, headers, body, speed),
    }
}

/// Reads the response to a fetch (arguments as for
/// [`parse_list_response`]): 200 is the message's latest change, 429, 503
/// and 410 the API's error as a [`Listed`]; anything else is an error. The
/// inverse of [`fetch_response`](super::mail_api::fetch_response).
pub fn parse_fetch_response(
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    speed: f64,
) -> Result<Result<PageItem, Listed>, ClientError> {
    match status {
        200 => item(&json(body)?, "").map(Ok),
        _ => error_answer(status, headers, body, speed).map(Err),
    }
}

/// The answer an error status stands for (429, 503, 410), or the error an
/// unexpected status is.
fn error_answer(
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    speed: f64,
) -> Result<Listed, ClientError> {
    match status {
        429 => Ok(Listed::RateLimited {
            retry_after: retry_after(headers, speed)?,
        }),
        503 => Ok(Listed::Unavailable),
        410 => Ok(Listed::Expired),
        _ => Err(unexpected(status, body)),
    }
}

/// `Retry-After` (whole wall seconds) as virtual time at `speed`.
fn retry_after(headers: &[(&str, &str)], speed: f64) -> Result<SimDuration, ClientError> {
    let value = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .map(|(_, v)| v.trim());
    let secs =
        value
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| ClientError::RetryAfter {
                found: value.map(str::to_owned),
            })?;
    Ok(SimDuration::from_secs_f64(secs as f64 * speed))
}

/// An unexpected status, with the error JSON's code and message if the
/// body has them.
fn unexpected(status: u16, body: &[u8]) -> ClientError {
    let v: Option<Value> = serde_json::from_slice(body).ok();
    let text = |k: &str| {
        v.as_ref()
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    ClientError::Status {
        status,
        code: text("error"),
        message: text("message"),
    }
}

/// A 200 list body: a page of changes, or a resync page.
fn page(body: &Value) -> Result<Listed, ClientError> {
    let token = str_field(body, "", "next_cursor")?;
    let next_cursor = parse_cursor(token).map_err(|_| ClientError::Cursor(token.to_string()))?;
    let has_more = bool_field(body, "", "has_more")?;
    match body.get("snapshot") {
        None => Ok(Listed::Page {
            items: items(body, "changes")?,
            next_cursor,
            has_more,
        }),
        Some(snap) => snapshot(snap, items(body, "messages")?, next_cursor, has_more),
    }
}

/// A resync page: `snapshot.page` of `snapshot.pages`, the `messages`
/// as its state (the server sends them on the last page), and its
/// `next_cursor` as the end cursor (on an earlier page `resync:K+1`, which
/// the consumer does not read: it asks for page K+1 on its own).
fn snapshot(
    snap: &Value,
    state: Vec<PageItem>,
    next_cursor: Cursor,
    has_more: bool,
) -> Result<Listed, ClientError> {
    let page = u32_field(snap, "snapshot", "page")?;
    let pages = u32_field(snap, "snapshot", "pages")?;
    let last = page.checked_add(1) == Some(pages);
    if page >= pages || has_more == last {
        return Err(ClientError::Snapshot {
            page,
            pages,
            has_more,
        });
    }
    Ok(Listed::Snapshot {
        page,
        pages,
        end_cursor: next_cursor,
        state,
    })
}

/// The array `name` of `body`, as changes.
fn items(body: &Value, name: &str) -> Result<Vec<PageItem>, ClientError> {
    let array = field(body, "", name)?
        .as_array()
        .ok_or_else(|| ClientError::field("", name, "not an array"))?;
    array
        .iter()
        .enumerate()
        .map(|(i, v)| item(v, &format!("{name}[{i}]")))
        .collect()
}

/// One change (`id`, `message`, `version`, `deleted`) at `at`.
fn item(v: &Value, at: &str) -> Result<PageItem, ClientError> {
    Ok(PageItem {
        seq: u32_field(v, at, "id")?,
        msg: u32_field(v, at, "message")?,
        version: version(v, at)?,
    })
}

/// `version` and `deleted` as one version with the [`DELETED`] bit.
fn version(v: &Value, at: &str) -> Result<u32, ClientError> {
    let version = u32_field(v, at, "version")?;
    if version & DELETED != 0 {
        return Err(ClientError::field(
            at,
            "version",
            "too large (the deleted bit travels as `deleted`)",
        ));
    }
    let deleted = bool_field(v, at, "deleted")?;
    Ok(if deleted { version | DELETED } else { version })
}

// ----- webhook deliveries ------------------------------------------------

/// Reads a webhook delivery's body (the envelope
/// [`webhook::request`](super::webhook::request) builds): a `mail.changed`
/// event's `data`, with `version` and `deleted` both present (a full
/// payload) or both absent (a thin one). The `timestamp` is not read: the
/// signed `webhook-timestamp` header is the one to trust. Verify the
/// signature over these same bytes first
/// ([`Verifier::verify`](crate::signing::Verifier::verify)); this only
/// reads what was signed.
pub fn parse_delivery(body: &[u8]) -> Result<ParsedDelivery, ClientError> {
    let envelope = json(body)?;
    let kind = envelope.get("type").and_then(Value::as_str);
    if kind != Some(EVENT_TYPE) {
        let found = envelope.get("type").map(|t| t.to_string());
        return Err(ClientError::EventType { found });
    }
    let data = field(&envelope, "", "data")?;
    let thin = data.get("version").is_none() && data.get("deleted").is_none();
    Ok(ParsedDelivery {
        mailbox: u32_field(data, "data", "mailbox")?,
        seq: u32_field(data, "data", "change")?,
        msg: u32_field(data, "data", "message")?,
        version: if thin {
            None
        } else {
            Some(version(data, "data")?)
        },
    })
}

// ----- JSON fields -------------------------------------------------------

/// The body as JSON.
fn json(body: &[u8]) -> Result<Value, ClientError> {
    serde_json::from_slice(body).map_err(|e| ClientError::Json(e.to_string()))
}

/// Field `name` of the object at `at` (missing also when `obj` is not an
/// object).
fn field<'v>(obj: &'v Value, at: &str, name: &str) -> Result<&'v Value, ClientError> {
    obj.get(name)
        .ok_or_else(|| ClientError::field(at, name, "missing"))
}

/// A `u32` field.
fn u32_field(obj: &Value, at: &str, name: &str) -> Result<u32, ClientError> {
    field(obj, at, name)?
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| ClientError::field(at, name, "not a whole number from 0 to 4294967295"))
}

/// A boolean field.
fn bool_field(obj: &Value, at: &str, name: &str) -> Result<bool, ClientError> {
    field(obj, at, name)?
        .as_bool()
        .ok_or_else(|| ClientError::field(at, name, "not true or false"))
}

/// A string field.
fn str_field<'v>(obj: &'v Value, at: &str, name: &str) -> Result<&'v str, ClientError> {
    field(obj, at, name)?
        .as_str()
        .ok_or_else(|| ClientError::field(at, name, "not a string"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::time::SimTime;
    use crate::http::mail_api::{
        fetch_response, list_response, parse, ApiRequest, ApiResponse, MAX_LIMIT,
    };
    use crate::http::webhook::request;
    use crate::model::source::ListRequest;
    use crate::model::transmit::{Caller, Delivery, Early, Fetched, ListAnswer, ReplyTo, Ticket};
    use crate::signing::{Secret, SigningKey, Verifier};
    use proptest::collection::vec;
    use proptest::prelude::*;
    use serde_json::json;

    /// Speeds at which `k` whole wall seconds are exactly `k * speed`
    /// virtual seconds, both ways (see the module doc for the rounding).
    const SPEEDS: [f64; 7] = [0.25, 0.5, 1.0, 2.0, 10.0, 60.0, 1_000.0];

    fn answer(asked: Cursor, listed: Listed) -> ListAnswer {
        ListAnswer {
            mailbox: 3,
            asked,
            caller: Caller::Reconciler,
            early: Early::Errors,
            sent_at: SimTime::ZERO,
            at: SimTime(1),
            listed,
        }
    }

    fn call(req: ListRequest, wait: SimDuration) -> ListCall {
        ListCall {
            req,
            wait,
            caller: Caller::Reconciler,
            sent_at: SimTime::ZERO,
            early: Early::Errors,
        }
    }

    fn read_list(r: &ApiResponse, speed: f64) -> Result<Listed, ClientError> {
        let headers: Vec<(&str, &str)> = r.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        parse_list_response(r.status, &headers, r.body.as_bytes(), speed)
    }

    fn read_fetch(r: &ApiResponse, speed: f64) -> Result<Result<PageItem, Listed>, ClientError> {
        let headers: Vec<(&str, &str)> = r.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        parse_fetch_response(r.status, &headers, r.body.as_bytes(), speed)
    }

    /// What a `Listed` looks like after the wire: a resync page before the
    /// last has its `next_cursor`, `resync:K+1`, as its end cursor.
    fn on_the_wire(listed: Listed) -> Listed {
        match listed {
            Listed::Snapshot {
                page, pages, state, ..
            } if page + 1 < pages => Listed::Snapshot {
                page,
                pages,
                end_cursor: Cursor::Resync(page + 1),
                state,
            },
            other => other,
        }
    }

    fn whole_secs(k: u64, speed: f64) -> SimDuration {
        SimDuration::from_secs_f64(k as f64 * speed)
    }

    fn cursor() -> impl Strategy<Value = Cursor> {
        prop_oneof![
            Just(Cursor::Start),
            any::<u32>().prop_map(Cursor::Seq),
            any::<u64>().prop_map(Cursor::Stamp),
            (any::<u64>(), any::<u32>()).prop_map(|(t, n)| Cursor::StampId(t, n)),
            any::<u64>().prop_map(Cursor::Since),
            any::<u32>().prop_map(Cursor::Resync),
        ]
    }

    fn item() -> impl Strategy<Value = PageItem> {
        (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(seq, msg, version)| PageItem {
            seq,
            msg,
            version,
        })
    }

    fn items() -> impl Strategy<Value = Vec<PageItem>> {
        vec(item(), 0..12)
    }

    /// `(page, pages)` with `page < pages`, small ones often.
    fn page_of() -> impl Strategy<Value = (u32, u32)> {
        prop_oneof![1u32..4, 1u32..=u32::MAX].prop_flat_map(|pages| (0..pages, Just(pages)))
    }

    /// Every `Listed`, with a `Retry-After` of whole wall seconds at `speed`.
    fn listed(speed: f64) -> impl Strategy<Value = Listed> {
        prop_oneof![
            (items(), cursor(), any::<bool>()).prop_map(|(items, next_cursor, has_more)| {
                Listed::Page {
                    items,
                    next_cursor,
                    has_more,
                }
            }),
            Just(Listed::NotModified),
            (1u64..=86_400).prop_map(move |k| Listed::RateLimited {
                retry_after: whole_secs(k, speed)
            }),
            Just(Listed::Unavailable),
            Just(Listed::Expired),
            (page_of(), cursor(), items()).prop_map(|((page, pages), end_cursor, state)| {
                Listed::Snapshot {
                    page,
                    pages,
                    end_cursor,
                    state,
                }
            }),
        ]
    }

    fn speed_and_listed() -> impl Strategy<Value = (f64, Listed)> {
        proptest::sample::select(SPEEDS.to_vec()).prop_flat_map(|s| (Just(s), listed(s)))
    }

    /// JSON made of the field names the parsers look for: shapes that are
    /// almost right.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "(start|seq:|resync:|ts:)[0-9]{0,3}".prop_map(Value::from),
            Just(Value::from(EVENT_TYPE)),
        ];
        let key = proptest::sample::select(vec![
            "changes",
            "messages",
            "snapshot",
            "page",
            "pages",
            "next_cursor",
            "has_more",
            "id",
            "message",
            "version",
            "deleted",
            "type",
            "data",
            "mailbox",
            "change",
        ]);
        leaf.prop_recursive(4, 48, 8, move |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(Value::from),
                vec((key.clone(), inner), 0..8).prop_map(|kv| {
                    Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                }),
            ]
        })
    }

    #[test]
    fn list_requests_carry_cursor_limit_wait_and_etag() {
        let req = ListRequest {
            mailbox: 3,
            cursor: Cursor::StampId(17, 4),
            limit: 50,
            conditional: true,
        };
        let r = list_request(&call(req, SimDuration::from_secs(30)), 1.0);
        assert_eq!(
            r.path_and_query,
            "/v1/mailboxes/3/changes?cursor=tsid:17:4&limit=50&wait_ms=30000"
        );
        assert_eq!(r.headers, vec![("If-None-Match", "\"tsid:17:4\"".into())]);
        let plain = ListRequest {
            conditional: false,
            ..req
        };
        let r = list_request(&call(plain, SimDuration::ZERO), 60.0);
        assert_eq!(
            r.path_and_query,
            "/v1/mailboxes/3/changes?cursor=tsid:17:4&limit=50"
        );
        assert!(r.headers.is_empty());
        assert_eq!(
            fetch_request(&FetchCall {
                mailbox: 2,
                msg: 99,
                seq: 5,
                id: 1
            }),
            ClientRequest {
                path_and_query: "/v1/mailboxes/2/messages/99".into(),
                headers: Vec::new(),
            }
        );
    }

    #[test]
    fn waits_are_wall_milliseconds_at_least_one_at_most_the_api_cap() {
        let s = SimDuration::from_secs;
        assert_eq!(wall_wait_ms(s(30), 1.0), 30_000);
        assert_eq!(wall_wait_ms(s(30), 60.0), 500);
        assert_eq!(wall_wait_ms(SimDuration(1), 1.0), 1, "at least 1 ms");
        assert_eq!(wall_wait_ms(s(30), 1e9), 1);
        assert_eq!(wall_wait_ms(s(600), 1.0), MAX_WAIT_MS, "the API's cap");
        assert_eq!(wall_wait_ms(s(30), 0.0), MAX_WAIT_MS);
        assert_eq!(wall_wait_ms(s(30), f64::NAN), 1);
        assert_eq!(wall_wait_ms(s(30), -1.0), 1);
    }

    #[test]
    fn every_cursor_token_needs_no_percent_encoding() {
        for c in [
            Cursor::Start,
            Cursor::Seq(u32::MAX),
            Cursor::Stamp(u64::MAX),
            Cursor::StampId(u64::MAX, u32::MAX),
            Cursor::Since(u64::MAX),
            Cursor::Resync(u32::MAX),
        ] {
            let token = cursor_token(c);
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':'),
                "{token}"
            );
        }
    }

    #[test]
    fn responses_read_back_with_their_details() {
        let page = Listed::Page {
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
            has_more: true,
        };
        let r = list_response(&answer(Cursor::Seq(7), page.clone()), 1.0);
        assert_eq!(read_list(&r, 1.0), Ok(page));
        // Header names in any case.
        assert_eq!(
            parse_list_response(429, &[("retry-after", " 3 ")], b"", 2.0),
            Ok(Listed::RateLimited {
                retry_after: SimDuration::from_secs(6)
            })
        );
        // The last resync page keeps its state and its end cursor.
        let last = Listed::Snapshot {
            page: 2,
            pages: 3,
            end_cursor: Cursor::Seq(40),
            state: vec![PageItem {
                seq: 3,
                msg: 1,
                version: 4,
            }],
        };
        let r = list_response(&answer(Cursor::Resync(2), last.clone()), 1.0);
        assert_eq!(read_list(&r, 1.0), Ok(last));
        // An earlier one continues with the next page.
        let first = Listed::Snapshot {
            page: 0,
            pages: 3,
            end_cursor: Cursor::Seq(40),
            state: Vec::new(),
        };
        let r = list_response(&answer(Cursor::Resync(0), first), 1.0);
        assert_eq!(
            read_list(&r, 1.0),
            Ok(Listed::Snapshot {
                page: 0,
                pages: 3,
                end_cursor: Cursor::Resync(1),
                state: Vec::new(),
            })
        );
    }

    #[test]
    fn unexpected_statuses_and_malformed_bodies_are_errors() {
        // A 400 of the API's own, with its code and message.
        let refused = parse("GET", "/v1/mailboxes/1/changes?cursor=x", None, 10)
            .unwrap_err()
            .response();
        let e = read_list(&refused, 1.0).unwrap_err();
        assert!(
            matches!(&e, ClientError::Status { status: 400, code: Some(c), message: Some(_) } if c == "bad_cursor"),
            "{e:?}"
        );
        assert!(e
            .to_string()
            .starts_with("unexpected status 400: bad_cursor: "));
        let html = parse_list_response(500, &[], b"<html>oops</html>", 1.0);
        assert_eq!(
            html,
            Err(ClientError::Status {
                status: 500,
                code: None,
                message: None
            })
        );
        assert_eq!(html.unwrap_err().to_string(), "unexpected status 500");
        assert!(matches!(
            parse_fetch_response(304, &[], b"", 1.0),
            Err(ClientError::Status { status: 304, .. })
        ));
        let list = |body: Value| parse_list_response(200, &[], body.to_string().as_bytes(), 1.0);
        let field = |f: &str, problem: &'static str| {
            Err(ClientError::Field {
                field: f.into(),
                problem,
            })
        };
        assert!(matches!(
            parse_list_response(200, &[], b"{\"changes\": [", 1.0),
            Err(ClientError::Json(_))
        ));
        assert_eq!(list(json!({})), field("next_cursor", "missing"));
        assert_eq!(list(json!([1, 2])), field("next_cursor", "missing"));
        assert_eq!(
            list(json!({"next_cursor": "seq:x", "has_more": false, "changes": []})),
            Err(ClientError::Cursor("seq:x".into()))
        );
        assert_eq!(
            list(json!({"next_cursor": "seq:1", "has_more": false})),
            field("changes", "missing")
        );
        assert_eq!(
            list(json!({"next_cursor": "seq:1", "has_more": 0, "changes": []})),
            field("has_more", "not true or false")
        );
        let with_item = |item: Value| {
            list(
                json!({"next_cursor": "seq:1", "has_more": false, "changes": [
                {"id": 1, "message": 2, "version": 3, "deleted": false}, item]}),
            )
        };
        let range = "not a whole number from 0 to 4294967295";
        assert_eq!(
            with_item(json!({"id": -1, "message": 2, "version": 3, "deleted": false})),
            field("changes[1].id", range)
        );
        assert_eq!(
            with_item(
                json!({"id": 1, "message": 4_294_967_296u64, "version": 3, "deleted": false})
            ),
            field("changes[1].message", range)
        );
        assert_eq!(
            with_item(json!({"id": 1, "message": 2, "version": DELETED, "deleted": true})),
            field(
                "changes[1].version",
                "too large (the deleted bit travels as `deleted`)"
            )
        );
        assert_eq!(
            with_item(json!({"id": 1, "message": 2, "version": 3})),
            field("changes[1].deleted", "missing")
        );
        let snap = |page: u32, pages: u32, has_more: bool| {
            list(
                json!({"snapshot": {"page": page, "pages": pages}, "messages": [],
                "next_cursor": "resync:1", "has_more": has_more}),
            )
        };
        assert!(snap(0, 2, true).is_ok());
        assert!(snap(1, 2, false).is_ok());
        for (page, pages, has_more) in [(0, 2, false), (1, 2, true), (2, 2, false), (0, 0, false)] {
            assert_eq!(
                snap(page, pages, has_more),
                Err(ClientError::Snapshot {
                    page,
                    pages,
                    has_more
                })
            );
        }
        assert_eq!(
            list(
                json!({"snapshot": {"page": u32::MAX, "pages": u32::MAX}, "messages": [],
                "next_cursor": "seq:1", "has_more": false})
            ),
            Err(ClientError::Snapshot {
                page: u32::MAX,
                pages: u32::MAX,
                has_more: false
            })
        );
        // 429 needs Retry-After in seconds (not an HTTP date).
        assert_eq!(
            parse_list_response(429, &[], b"", 1.0),
            Err(ClientError::RetryAfter { found: None })
        );
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        let e = parse_fetch_response(429, &[("Retry-After", date)], b"", 1.0).unwrap_err();
        assert_eq!(
            e,
            ClientError::RetryAfter {
                found: Some(date.into())
            }
        );
        assert_eq!(
            e.to_string(),
            format!("429 without a Retry-After in whole seconds (got {date})")
        );
    }

    #[test]
    fn deliveries_read_back_and_other_envelopes_are_refused() {
        let delivery = |body: Value| parse_delivery(body.to_string().as_bytes());
        let data = json!({"mailbox": 1, "change": 2, "message": 3});
        assert_eq!(
            delivery(json!({"type": EVENT_TYPE, "data": data})),
            Ok(ParsedDelivery {
                mailbox: 1,
                seq: 2,
                msg: 3,
                version: None
            })
        );
        let e = delivery(json!({"type": "mail.deleted", "data": data})).unwrap_err();
        assert_eq!(
            e,
            ClientError::EventType {
                found: Some("\"mail.deleted\"".into())
            }
        );
        assert_eq!(
            e.to_string(),
            "event type \"mail.deleted\", expected \"mail.changed\""
        );
        assert_eq!(
            delivery(json!({"data": data})),
            Err(ClientError::EventType { found: None })
        );
        assert_eq!(
            delivery(json!({"type": EVENT_TYPE})),
            Err(ClientError::Field {
                field: "data".into(),
                problem: "missing"
            })
        );
        let half = json!({"mailbox": 1, "change": 2, "message": 3, "deleted": true});
        assert_eq!(
            delivery(json!({"type": EVENT_TYPE, "data": half})),
            Err(ClientError::Field {
                field: "data.version".into(),
                problem: "missing"
            })
        );
        assert!(matches!(parse_delivery(b""), Err(ClientError::Json(_))));
    }

    #[test]
    fn every_strict_prefix_of_a_body_is_an_error() {
        let page = Listed::Page {
            items: vec![PageItem {
                seq: 1,
                msg: 2,
                version: 3 | DELETED,
            }],
            next_cursor: Cursor::Seq(2),
            has_more: false,
        };
        let body = list_response(&answer(Cursor::Start, page), 1.0).body;
        for cut in 0..body.len() {
            let r = parse_list_response(200, &[], &body.as_bytes()[..cut], 1.0);
            assert!(r.is_err(), "{cut}: {r:?}");
        }
    }

    proptest! {
        /// Every answer reads back as what was sent (up to the wire's
        /// losses, see the module doc).
        #[test]
        fn list_responses_round_trip((speed, listed) in speed_and_listed(), asked in cursor()) {
            let r = list_response(&answer(asked, listed.clone()), speed);
            prop_assert_eq!(read_list(&r, speed), Ok(on_the_wire(listed)));
        }

        /// `Retry-After` rounds a virtual wait up to the next whole wall
        /// second (at least one): never sooner, less than a second later.
        #[test]
        fn retry_after_rounds_up_to_whole_wall_seconds(
            micros in 1u64..1_000_000_000_000,
            speed in proptest::sample::select(SPEEDS.to_vec()),
        ) {
            let sent = SimDuration(micros);
            let r = list_response(&answer(Cursor::Start, Listed::RateLimited { retry_after: sent }), speed);
            let Ok(Listed::RateLimited { retry_after }) = read_list(&r, speed) else {
                panic!("not a 429: {r:?}");
            };
            let second = whole_secs(1, speed);
            prop_assert!(retry_after >= sent, "{retry_after:?} < {sent:?}");
            prop_assert!(retry_after.0 < sent.0 + second.0, "{retry_after:?} vs {sent:?}");
        }

        /// A fetch's answer reads back as what was sent.
        #[test]
        fn fetch_responses_round_trip(
            speed in proptest::sample::select(SPEEDS.to_vec()),
            ok in item(),
            k in 1u64..=86_400,
            which in 0..4,
        ) {
            let result = match which {
                0 => Ok(ok),
                1 => Err(Listed::RateLimited { retry_after: whole_secs(k, speed) }),
                2 => Err(Listed::Unavailable),
                _ => Err(Listed::Expired),
            };
            let call = FetchCall { mailbox: 1, msg: ok.msg, seq: ok.seq, id: 0 };
            let f = Fetched { call, result: result.clone() };
            prop_assert_eq!(read_fetch(&fetch_response(&f, speed), speed), Ok(result));
        }

        /// The API reads a list request back as the call it was built for.
        #[test]
        fn list_requests_parse_back(
            mailbox in 0u32..100,
            cursor in cursor(),
            limit in 1..=MAX_LIMIT,
            conditional in any::<bool>(),
            wait_ms in prop_oneof![Just(0u64), 1..=MAX_WAIT_MS],
            speed in proptest::sample::select(SPEEDS.to_vec()),
        ) {
            let req = ListRequest { mailbox, cursor, limit, conditional };
            let wait = SimDuration::from_secs_f64(wait_ms as f64 / 1_000.0 * speed);
            let r = list_request(&call(req, wait), speed);
            let etag = r.headers.iter().find(|(k, _)| *k == "If-None-Match").map(|(_, v)| v.as_str());
            prop_assert_eq!(
                parse("GET", &r.path_and_query, etag, 100),
                Ok(ApiRequest::List {
                    mailbox,
                    cursor,
                    limit: Some(limit),
                    wait: SimDuration::from_millis(wait_ms),
                    conditional,
                })
            );
            let f = fetch_request(&FetchCall { mailbox, msg: limit, seq: 0, id: 0 });
            prop_assert_eq!(
                parse("GET", &f.path_and_query, None, 100),
                Ok(ApiRequest::Fetch { mailbox, msg: limit })
            );
        }

        /// A delivery's body reads back as the delivery, full or thin,
        /// after its signature verifies.
        #[test]
        fn deliveries_round_trip(
            mailbox in any::<u32>(),
            seq in any::<u32>(),
            msg in any::<u32>(),
            version in proptest::option::of(any::<u32>()),
            ts in 0u64..4_102_444_800,
        ) {
            let secret: Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
            let keys = [SigningKey::V1(secret)];
            let d = Delivery {
                reply: ReplyTo { ticket: Ticket { note: 0, gen: 1 }, lost: false },
                attempt: 1,
                mailbox,
                seq,
                msg,
                version,
                deadline: SimTime(1),
            };
            let req = request(&d, &keys, ts);
            let verified = Verifier::trusting(&keys).verify(&req.headers.as_received(), req.body.as_bytes(), ts);
            prop_assert!(verified.is_ok(), "{:?}", verified);
            prop_assert_eq!(
                parse_delivery(req.body.as_bytes()),
                Ok(ParsedDelivery { mailbox, seq, msg, version })
            );
        }

        /// Random bytes under any status and headers: an answer or an
        /// error, never a panic; statuses the API does not use are errors.
        #[test]
        fn random_bytes_never_panic(
            status in prop_oneof![Just(200u16), Just(304), Just(410), Just(429), Just(503), any::<u16>()],
            retry in "[ -~]{0,8}",
            body in vec(any::<u8>(), 0..256),
            speed in prop_oneof![Just(1.0), any::<f64>()],
        ) {
            let headers = [("Retry-After", retry.as_str())];
            let listed = parse_list_response(status, &headers, &body, speed);
            let fetched = parse_fetch_response(status, &headers, &body, speed);
            if ![200, 304, 410, 429, 503].contains(&status) {
                prop_assert!(listed.is_err() && fetched.is_err());
            }
            let _ = parse_delivery(&body);
        }

        /// Almost-right JSON (the parsers' own field names, any shape):
        /// never a panic.
        #[test]
        fn almost_right_json_never_panics(v in json_value(), data in json_value()) {
            let body = v.to_string();
            let _ = parse_list_response(200, &[], body.as_bytes(), 1.0);
            let _ = parse_fetch_response(200, &[], body.as_bytes(), 1.0);
            let _ = parse_delivery(body.as_bytes());
            let envelope = json!({"type": EVENT_TYPE, "data": data}).to_string();
            let _ = parse_delivery(envelope.as_bytes());
            let page = json!({"next_cursor": "seq:1", "has_more": false, "changes": [data],
                "snapshot": v}).to_string();
            let _ = parse_list_response(200, &[], page.as_bytes(), 1.0);
        }
    }
}
