//! Integration tests: each module is one behaviour, asserting values derived
//! from arithmetic or ../shared/FACTS.md, with the tolerance stated.

mod advise;
mod bad_input;
mod batch;
mod check;
mod common;
mod cost;
mod cursors;
mod determinism;
mod digests;
mod faults;
mod findable;
mod hybrid;
mod layers;
mod live;
mod net;
mod openapi;
mod outage;
mod paging;
mod pair;
mod poll_arithmetic;
mod props;
mod quota;
mod schema;
mod seeds;
mod streaming;
mod styles;
mod subscriptions;
mod sweep;
mod trace;
mod trust;
mod webhooks;
