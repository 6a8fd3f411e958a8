//! The seam over HTTP, written once for every driver that speaks it (the
//! live mode on real sockets and the network mode on turmoil, issues 13
//! and 14): how a consumer's list and fetch calls look as requests, and
//! how the provider's answers look as responses. Pure functions over
//! strings and status codes, sans-IO like the halves: a driver parses a
//! request with [`mail_api::parse`], hands the call to the `Provider`,
//! and writes back what [`mail_api::list_response`] or
//! [`mail_api::fetch_response`] return; a sender POSTs what
//! [`webhook::request`] builds for a `Delivery` and reads the endpoint's
//! answer with [`webhook::answer`]. A client goes the other way with
//! [`client`]: it builds the requests for its calls and reads the
//! responses, and a delivery's body, back into the model's messages.
//! `docs/api.md` documents both.

pub mod client;
pub mod mail_api;
pub mod webhook;
