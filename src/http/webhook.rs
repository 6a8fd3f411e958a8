//! Webhook deliveries over HTTP: the request a sender POSTs for a
//! [`Delivery`] (a Standard Webhooks envelope, signed with every key in
//! force), and what an endpoint's answer means to the sender.
//!
//! The `webhook-id` is the same for every attempt of one notification
//! (`msg_<mailbox>_<change>`), so a consumer can deduplicate on it; the
//! body never carries the commit time, only ids and the version (or, for
//! thin payloads, ids only: the consumer fetches the message).

use crate::engine::time::SimDuration;
use crate::model::config::Forgery;
use crate::model::traffic::DELETED;
use crate::model::transmit::{Delivery, Status, Verdict};
use crate::signing::{SignedHeaders, SigningKey};
use serde_json::json;

/// The event type every delivery carries.
pub const EVENT_TYPE: &str = "mail.changed";

/// One delivery as an HTTP request: a JSON body and its signed headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookRequest {
    /// The JSON body.
    pub body: String,
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    pub headers: SignedHeaders,
}

/// The idempotency key of a delivery: stable across its attempts.
pub fn message_id(d: &Delivery) -> String {
    format!("msg_{}_{}", d.mailbox, d.seq)
}

/// The request for delivery `d`, sent at `timestamp_secs` (Unix seconds,
/// from the driver's clock) and signed with `keys` (several during a
/// rotation).
pub fn request(d: &Delivery, keys: &[SigningKey], timestamp_secs: u64) -> WebhookRequest {
    let data = match d.version {
        Some(v) => json!({
            "mailbox": d.mailbox,
            "change": d.seq,
            "message": d.msg,
            "version": v & !DELETED,
            "deleted": v & DELETED != 0,
        }),
        None => json!({"mailbox": d.mailbox, "change": d.seq, "message": d.msg}),
    };
    let body = json!({
        "type": EVENT_TYPE,
        "timestamp": rfc3339(timestamp_secs),
        "data": data,
    })
    .to_string();
    let headers = SignedHeaders::new(keys, &message_id(d), timestamp_secs, body.as_bytes());
    WebhookRequest { body, headers }
}

/// Message ids at or above this are forged: the source never has them,
/// so a replica that holds one applied a forged delivery.
pub const FORGED_MESSAGE_BASE: u32 = 1_000_000_000;

/// How far a forged timestamp is off (outside the 5-minute tolerance).
pub const FORGED_SKEW_SECS: u64 = 600;

/// The delivery a `forged` fault adds beside `d`: the same mailbox, a
/// message the source never had (`FORGED_MESSAGE_BASE + n`), a change id
/// no real change has.
pub fn forged_delivery(d: &Delivery, n: u32) -> Delivery {
    Delivery {
        msg: FORGED_MESSAGE_BASE.saturating_add(n),
        seq: u32::MAX - n,
        version: d.version.map(|_| 1),
        ..*d
    }
}

/// A forged request for `d`: signed so that a correct check refuses it.
/// `keys` are the sender's real keys, `wrong` a key the consumer does not
/// trust, `timestamp_secs` the wall clock now.
pub fn forged_request(
    d: &Delivery,
    forgery: Forgery,
    keys: &[SigningKey],
    wrong: &SigningKey,
    timestamp_secs: u64,
) -> WebhookRequest {
    match forgery {
        Forgery::WrongSecret => request(d, std::slice::from_ref(wrong), timestamp_secs),
        Forgery::StaleTimestamp => {
            request(d, keys, timestamp_secs.saturating_sub(FORGED_SKEW_SECS))
        }
        Forgery::FutureTimestamp => request(d, keys, timestamp_secs + FORGED_SKEW_SECS),
        Forgery::BadSignature | Forgery::Any => {
            let mut r = request(d, keys, timestamp_secs);
            // A well-formed v1 entry of the right length over other bytes.
            r.headers.signature = format!("v1,{}", "A".repeat(43) + "=");
            r
        }
    }
}

/// What an endpoint's answer means to the sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointAnswer {
    /// The outcome as the model counts it: 2xx is `Ok`, 429 is
    /// `RateLimited`, anything else a failure.
    pub status: Status,
    /// `Retry-After`, in whole seconds of wall time, when the endpoint
    /// sent one with a throttling status (429, 502, 503, 504: Standard
    /// Webhooks' "throttle on 429/502/504 honouring retry-after", and 503,
    /// HTTP's own use of it).
    pub retry_after_secs: Option<u64>,
    /// 410 Gone: providers disable the endpoint.
    pub gone: bool,
    /// Svix's `webhook-delivery: abort-message`: stop retrying this one.
    pub abort: bool,
}

/// Reads an endpoint's answer: its status code and `(name, value)`
/// headers (names compared case-insensitively). Never fails: anything
/// unreadable is a plain failure.
pub fn answer(status: u16, headers: &[(&str, &str)]) -> EndpointAnswer {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    EndpointAnswer {
        status: match status {
            200..=299 => Status::Ok,
            429 => Status::RateLimited,
            _ => Status::Failed,
        },
        retry_after_secs: header("retry-after")
            .and_then(|v| v.parse().ok())
            .filter(|_| matches!(status, 429 | 502..=504)),
        gone: status == 410,
        abort: header("webhook-delivery").is_some_and(|v| v.eq_ignore_ascii_case("abort-message")),
    }
}

impl EndpointAnswer {
    /// This answer as the sender's [`Verdict`], for a driver whose clock
    /// runs `speed` virtual seconds per wall second (`Retry-After` is wall
    /// time). Whether the sender acts on the extras is its preset's rule.
    pub fn verdict(&self, speed: f64) -> Verdict {
        Verdict {
            ok: self.status == Status::Ok,
            timed_out: false,
            retry_after: self
                .retry_after_secs
                .map(|secs| SimDuration::from_secs_f64(secs as f64 * speed)),
            gone: self.gone,
            abort: self.abort,
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for Unix seconds (proleptic Gregorian, UTC).
pub fn rfc3339(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days to a civil date (H. Hinnant's algorithm), from 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as i64;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::time::SimTime;
    use crate::model::transmit::{ReplyTo, Ticket};
    use crate::signing::{verify, Secret, WebhookHeaders};
    use std::time::Duration;

    fn delivery(version: Option<u32>, attempt: u16) -> Delivery {
        Delivery {
            reply: ReplyTo {
                ticket: Ticket {
                    note: 4,
                    gen: attempt as u32,
                },
                lost: false,
            },
            attempt,
            mailbox: 12,
            seq: 345,
            msg: 67,
            version,
            deadline: SimTime(1),
        }
    }

    #[test]
    fn a_delivery_is_signed_and_verifies_with_the_same_id_on_every_attempt() {
        let secret: Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
        let keys = [SigningKey::V1(secret.clone())];
        let first = request(&delivery(Some(3 | DELETED), 1), &keys, 1_614_265_330);
        let retry = request(&delivery(Some(3 | DELETED), 2), &keys, 1_614_265_390);
        assert_eq!(first.headers.id, "msg_12_345");
        assert_eq!(first.headers.id, retry.headers.id, "the idempotency key");
        let body: serde_json::Value = serde_json::from_str(&first.body).unwrap();
        assert_eq!(body["type"], EVENT_TYPE);
        assert_eq!(body["timestamp"], "2021-02-25T15:02:10Z");
        assert_eq!(
            body["data"],
            json!({"mailbox": 12, "change": 345, "message": 67, "version": 3, "deleted": true})
        );
        let ok = verify(
            &[secret],
            &first.headers.as_received(),
            first.body.as_bytes(),
            1_614_265_331,
            Duration::from_secs(300),
        );
        assert!(ok.is_ok(), "{ok:?}");
        let tampered = WebhookHeaders {
            id: Some("msg_12_346"),
            ..first.headers.as_received()
        };
        let keys2: Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
        assert!(verify(
            &[keys2],
            &tampered,
            first.body.as_bytes(),
            1_614_265_331,
            Duration::from_secs(300)
        )
        .is_err());
        let thin = request(&delivery(None, 1), &keys, 0);
        let body: serde_json::Value = serde_json::from_str(&thin.body).unwrap();
        assert_eq!(
            body["data"],
            json!({"mailbox": 12, "change": 345, "message": 67})
        );
        assert_eq!(body["timestamp"], "1970-01-01T00:00:00Z");
    }

    #[test]
    fn endpoint_answers_mean_what_providers_take_them_to_mean() {
        assert_eq!(answer(204, &[]).status, Status::Ok);
        let limited = answer(429, &[("retry-after", "30")]);
        assert_eq!(
            (limited.status, limited.retry_after_secs),
            (Status::RateLimited, Some(30))
        );
        assert_eq!(
            answer(503, &[("Retry-After", "soon")]).retry_after_secs,
            None
        );
        let gone = answer(410, &[]);
        assert!(gone.gone && gone.status == Status::Failed);
        assert!(answer(500, &[("Webhook-Delivery", "abort-message")]).abort);
        assert!(!answer(500, &[]).abort);
        // Retry-After only throttles a throttling status.
        for (code, kept) in [
            (502, true),
            (503, true),
            (504, true),
            (500, false),
            (200, false),
        ] {
            let a = answer(code, &[("retry-after", "7")]);
            assert_eq!(a.retry_after_secs.is_some(), kept, "{code}");
        }
    }

    #[test]
    fn a_verdict_carries_retry_after_in_virtual_time() {
        // 30 wall seconds at speed 120 are an hour of virtual time.
        let v = answer(429, &[("Retry-After", "30")]).verdict(120.0);
        assert_eq!(
            v,
            Verdict {
                retry_after: Some(SimDuration::from_secs(3_600)),
                ..Verdict::plain(false, false)
            }
        );
        let gone = answer(410, &[("webhook-delivery", "abort-message")]).verdict(1.0);
        assert!(!gone.ok && gone.gone && gone.abort && gone.retry_after.is_none());
        assert_eq!(answer(204, &[]).verdict(60.0), Verdict::plain(true, false));
    }

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_614_265_330), "2021-02-25T15:02:10Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn every_forgery_fails_a_correct_check_and_the_real_one_passes() {
        use crate::signing::{Secret, Verifier, VerifyError};
        let key = SigningKey::V1(Secret::from_bytes(&[7; 32]).unwrap());
        let wrong = SigningKey::V1(Secret::from_bytes(&[8; 32]).unwrap());
        let verifier = Verifier::trusting(std::slice::from_ref(&key));
        let d = forged_delivery(&delivery(Some(2), 1), 3);
        assert_eq!(d.msg, FORGED_MESSAGE_BASE + 3);
        let now = 1_700_000_000;
        let check =
            |r: &WebhookRequest| verifier.verify(&r.headers.as_received(), r.body.as_bytes(), now);
        assert!(check(&request(&d, std::slice::from_ref(&key), now)).is_ok());
        for (f, want) in [
            (Forgery::BadSignature, "no signature matches"),
            (Forgery::WrongSecret, "no signature matches"),
            (Forgery::StaleTimestamp, "before now"),
            (Forgery::FutureTimestamp, "after now"),
        ] {
            let r = forged_request(&d, f, std::slice::from_ref(&key), &wrong, now);
            let err: VerifyError = check(&r).unwrap_err();
            assert!(err.to_string().contains(want), "{f:?}: {err}");
        }
    }
}
