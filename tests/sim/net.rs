//! Network mode (turmoil): the reference consumer over simulated TCP gives
//! the event engine's counts where timing cannot change them, the same
//! seed gives the same digest, and a consumer's crash is a host crash.

use super::common::scenario;
use syncsim::net::{self, NetOptions};
use syncsim::Report;

fn net_run(text: &str) -> Report {
    net::run_reference(scenario(text).config(), &NetOptions::default())
        .unwrap()
        .report
}

const POLL: &str = r#"
name = "net-poll"
seed = 3
horizon = "1h"
[source]
mailboxes = 6
messages_per_day = 300
api_latency = { dist = "lognormal", median = "120ms", p99 = "900ms" }
[consumer]
strategy = "poll"
poll_interval = "5m"
if_none_match = true
"#;

#[test]
fn net_poll_counts_match_the_event_engine() {
    let sim = syncsim::run(&scenario(POLL));
    let net = net_run(POLL);
    assert_eq!(net.changes.generated, sim.changes.generated);
    assert_eq!(net.changes.lost, sim.changes.lost);
    assert_eq!(net.changes.applied, sim.changes.applied);
    // 6 mailboxes x 12 polls an hour, on the same seeded phases.
    assert_eq!(net.requests.poll, 72);
    assert_eq!(net.requests.poll, sim.requests.poll);
    assert_eq!(net.requests.not_modified, sim.requests.not_modified);
    let n = net.net.as_ref().expect("network figures");
    assert_eq!(n.api_requests, 72, "every poll went over simulated TCP");
}
