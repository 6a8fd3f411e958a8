//! The two HTTP faces of a live run, as axum routers that only translate:
//! the mail API (requests parsed by `http::mail_api`, answered by the
//! node, held until the answer's virtual time) and the reference
//! consumer's endpoint (signatures verified, envelopes parsed by
//! `http::client`, answers from the node's consumer half, and the replica
//! contract).

use super::clock::Clock;
use super::node::Input;
use crate::http::{client, mail_api};
use crate::model::transmit::Status;
use crate::signing::{Verifier, WebhookHeaders};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use serde_json::json;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// A JSON response.
fn json_response(status: u16, headers: &[(&str, String)], body: String) -> Response {
    let mut b = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    if !body.is_empty() {
        b = b.header("content-type", "application/json");
    }
    for (k, v) in headers {
        b = b.header(*k, v.as_str());
    }
    b.body(Body::from(body)).expect("a valid response")
}

/// A JSON error, `{"error": code, "message": text}`.
fn error(status: u16, code: &str, message: impl std::fmt::Display) -> Response {
    json_response(
        status,
        &[],
        json!({"error": code, "message": message.to_string()}).to_string(),
    )
}

/// What the mail API's handlers share.
#[derive(Clone)]
struct Api {
    tx: mpsc::UnboundedSender<Input>,
    clock: Clock,
    mailboxes: u32,
}

/// The mail API: every path goes through `mail_api::parse`, so unknown
/// routes and bad parameters get its 4xx JSON errors.
pub fn api_router(tx: mpsc::UnboundedSender<Input>, clock: Clock, mailboxes: u32) -> Router {
    Router::new().fallback(api).with_state(Api {
        tx,
        clock,
        mailboxes,
    })
}

async fn api(State(s): State<Api>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let inm = headers.get("if-none-match").and_then(|v| v.to_str().ok());
    let req = match mail_api::parse(method.as_str(), target, inm, s.mailboxes) {
        Ok(r) => r,
        Err(e) => return to_response(e.response()),
    };
    let (reply, answer) = oneshot::channel();
    if s.tx.send(Input::Api { req, reply }).is_err() {
        return error(503, "unavailable", "the run has ended");
    }
    match answer.await {
        Ok((response, at)) => {
            // The sampled API latency (and a long poll's hold); an answer
            // already due goes at once (a sleep would round up to the
            // timer's next 1 ms tick).
            super::clock::sleep_until(s.clock.wall(at)).await;
            to_response(response)
        }
        Err(_) => error(503, "unavailable", "the run has ended"),
    }
}

fn to_response(r: mail_api::ApiResponse) -> Response {
    let headers: Vec<(&str, String)> = r.headers.into_iter().collect();
    json_response(r.status, &headers, r.body)
}

/// What the endpoint's handlers share.
#[derive(Clone)]
struct Endpoint {
    tx: mpsc::UnboundedSender<Input>,
    verifier: Arc<Verifier>,
    clock: Clock,
}

/// The reference consumer's endpoint: `POST` anywhere is a webhook (401
/// when its signature does not verify, 400 when its envelope is not
/// one), and `GET /syncsim/replica` serves the replica contract.
/// Timestamps are checked against `clock`'s Unix time.
pub fn endpoint_router(
    tx: mpsc::UnboundedSender<Input>,
    verifier: Verifier,
    clock: Clock,
) -> Router {
    Router::new()
        .route("/syncsim/replica", axum::routing::get(replica))
        .fallback(webhook)
        .with_state(Endpoint {
            tx,
            verifier: Arc::new(verifier),
            clock,
        })
}

async fn replica(State(s): State<Endpoint>) -> Response {
    let (reply, doc) = oneshot::channel();
    if s.tx.send(Input::Replica(reply)).is_err() {
        return error(503, "unavailable", "the consumer has stopped");
    }
    match doc.await {
        Ok(body) => json_response(200, &[], body),
        Err(_) => error(503, "unavailable", "the consumer has stopped"),
    }
}

async fn webhook(
    State(s): State<Endpoint>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return error(405, "method_not_allowed", "deliveries are POSTed");
    }
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let verified = WebhookHeaders::from_pairs(pairs)
        .and_then(|h| s.verifier.verify(&h, &body, s.clock.unix_secs()));
    if let Err(e) = verified {
        return error(401, e.code(), e);
    }
    let parsed = match client::parse_delivery(&body) {
        Ok(p) => p,
        Err(e) => return error(400, "bad_envelope", e),
    };
    let (reply, status) = oneshot::channel();
    if s.tx.send(Input::Webhook { parsed, reply }).is_err() {
        return error(503, "unavailable", "the consumer has stopped");
    }
    match status.await {
        Ok(Status::Ok) => json_response(200, &[], String::new()),
        Ok(Status::RateLimited) => error(429, "rate_limited", "the endpoint is busy"),
        Ok(Status::Refused) => error(503, "unavailable", "the consumer is down"),
        Ok(Status::Failed) | Err(_) => error(500, "failed", "processing failed"),
    }
}
