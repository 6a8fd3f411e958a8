//! docs/openapi.json, docs/live.md and examples/consumer.py checked
//! against the code: the spec's routes against `mail_api.rs`'s module
//! doc, its error codes against the codes the source builds (read from
//! the source text, so a new code without the spec fails here), its
//! parameter ranges against the parser, the replica example against the
//! spec, and the example consumer's signature check against the published
//! vectors.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use syncsim::http::mail_api::{cursor_token, parse, parse_cursor, MAX_LIMIT};

fn repo_file(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn spec() -> Value {
    serde_json::from_str(&repo_file("docs/openapi.json"))
        .unwrap_or_else(|e| panic!("docs/openapi.json is not JSON: {e}"))
}

/// The non-test part of src/http/mail_api.rs.
fn mail_api_source() -> String {
    let text = repo_file("src/http/mail_api.rs");
    text.split("#[cfg(test)]").next().unwrap().to_string()
}

/// Follows a local `$ref` (`#/components/...`) once.
fn resolve<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => spec
            .pointer(r.strip_prefix('#').expect("local $ref"))
            .unwrap_or_else(|| panic!("dangling $ref {r}")),
        None => v,
    }
}

/// The text of the function that `signature` starts, to its closing brace.
fn fn_body<'a>(src: &'a str, signature: &str) -> &'a str {
    let start = src
        .find(signature)
        .unwrap_or_else(|| panic!("`{signature}` is gone from mail_api.rs"));
    let len = src[start..].find("\n}\n").unwrap();
    &src[start..start + len]
}

/// The string literals that start match arms (`"kind" =>`) in `code`.
fn arm_literals(code: &str) -> Vec<&str> {
    code.lines()
        .filter(|l| l.contains("\" =>"))
        .filter_map(leading_literal)
        .collect()
}

/// The string literal at the start of `s` (after whitespace), if any.
fn leading_literal(s: &str) -> Option<&str> {
    let s = s.trim_start().strip_prefix('"')?;
    s.split_once('"').map(|(lit, _)| lit)
}

/// Every `(status, code)` the mail API's source answers with:
/// `ApiError::new(STATUS, "code", ..)` calls, and `"error": "code"`
/// literals in hand-built responses, with the nearest `status: STATUS`
/// before them.
fn source_error_codes() -> Vec<(u16, String)> {
    let src = mail_api_source();
    let mut out = Vec::new();
    for (at, _) in src.match_indices("ApiError::new(") {
        let args = &src[at + "ApiError::new(".len()..];
        let (status, rest) = args.split_once(',').unwrap();
        // The constructor's own definition has parameters, not values.
        let Ok(status) = status.trim().parse::<u16>() else {
            continue;
        };
        let code = leading_literal(rest)
            .unwrap_or_else(|| panic!("ApiError::new({status}, ..) without a literal code"));
        out.push((status, code.to_string()));
    }
    for (at, _) in src.match_indices("\"error\":") {
        let Some(code) = leading_literal(&src[at + "\"error\":".len()..]) else {
            continue; // `"error": self.code`
        };
        let before = &src[..at];
        let status_at = before
            .rfind("status: ")
            .unwrap_or_else(|| panic!("no `status:` before the `{code}` response"));
        let status = before[status_at + "status: ".len()..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse::<u16>()
            .unwrap_or_else(|e| panic!("the status of `{code}`: {e}"));
        out.push((status, code.to_string()));
    }
    out.sort();
    out.dedup();
    out
}

/// The codes an error response of the spec allows (`const` or `enum` on
/// its body's `error`).
fn response_codes(spec: &Value, response: &Value) -> Vec<String> {
    let response = resolve(spec, response);
    let Some(schema) = response.pointer("/content/application~1json/schema") else {
        return Vec::new();
    };
    let mut codes = Vec::new();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        let error = &part["properties"]["error"];
        if let Some(c) = error["const"].as_str() {
            codes.push(c.to_string());
        }
        for c in error["enum"].as_array().into_iter().flatten() {
            codes.push(c.as_str().unwrap().to_string());
        }
    }
    codes
}

#[test]
fn every_documented_route_is_a_path_of_the_spec() {
    let spec = spec();
    assert_eq!(spec["openapi"], "3.1.0");
    let routes: Vec<String> = repo_file("src/http/mail_api.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("//! GET "))
        .map(|l| {
            let path = l.split_whitespace().next().unwrap();
            path.split('?').next().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        routes.len(),
        3,
        "the module doc's route table changed: {routes:?}"
    );
    for route in &routes {
        let item = &spec["paths"][route];
        assert!(
            item["get"].is_object(),
            "docs/openapi.json has no `GET {route}` (mail_api.rs documents it)"
        );
        // Path parameters are declared, by the names the route uses.
        let declared: Vec<String> = item["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| resolve(&spec, p)["name"].as_str().unwrap().to_string())
            .collect();
        for name in route
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        {
            assert!(
                declared.iter().any(|d| d == name),
                "{route}: parameter `{name}` undeclared"
            );
        }
    }
    // Every mail API path is one the source routes (the consumer's
    // replica endpoint aside, which has its own server).
    for (path, item) in spec["paths"].as_object().unwrap() {
        if item.get("servers").is_none() {
            assert!(
                routes.contains(path),
                "docs/openapi.json documents `{path}`, which mail_api.rs does not route"
            );
        }
    }
    let replica = &spec["paths"]["/syncsim/replica"];
    assert!(
        replica["get"].is_object() && replica["servers"].is_array(),
        "the consumer's replica endpoint, with the consumer's server"
    );
    assert!(spec["webhooks"]["mail.changed"]["post"].is_object());
}

#[test]
fn every_error_code_of_the_source_is_in_the_spec_with_its_status() {
    let spec = spec();
    let error_code = &spec["components"]["schemas"]["ErrorCode"];
    let listed: Vec<&str> = error_code["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let from_source = source_error_codes();
    assert!(
        from_source.len() >= 11,
        "the scan found too few codes: {from_source:?}"
    );
    for (status, code) in &from_source {
        assert!(
            listed.contains(&code.as_str()),
            "error code `{code}` ({status}) of src/http/mail_api.rs is missing from docs/openapi.json's ErrorCode enum"
        );
        assert_eq!(
            error_code["x-status"][code].as_u64(),
            Some(u64::from(*status)),
            "ErrorCode x-status of `{code}`"
        );
    }
    for code in &listed {
        assert!(
            from_source.iter().any(|(_, c)| c == code),
            "docs/openapi.json lists `{code}`, which src/http/mail_api.rs never answers"
        );
    }
    // Each operation's error answers name codes of their own status.
    let mut seen = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (status, response) in item["get"]["responses"].as_object().unwrap() {
            for code in response_codes(&spec, response) {
                assert_eq!(
                    error_code["x-status"][&code]
                        .as_u64()
                        .map(|s| s.to_string()),
                    Some(status.clone()),
                    "GET {path} answers `{code}` under {status}"
                );
                seen.push(code);
            }
        }
    }
    for (name, status) in [("NotFound", "404"), ("MethodNotAllowed", "405")] {
        for code in response_codes(&spec, &spec["components"]["responses"][name]) {
            assert_eq!(
                error_code["x-status"][&code]
                    .as_u64()
                    .map(|s| s.to_string()),
                Some(status.to_string())
            );
            seen.push(code);
        }
    }
    for code in &listed {
        assert!(
            seen.iter().any(|c| c == code),
            "no response of docs/openapi.json answers `{code}`"
        );
    }
}

/// A query parameter's schema in the spec.
fn param_schema<'a>(spec: &'a Value, name: &str) -> &'a Value {
    &spec["components"]["parameters"][name]["schema"]
}

#[test]
fn parameter_ranges_are_the_parsers() {
    let spec = spec();
    let limit = param_schema(&spec, "limit");
    assert_eq!(
        limit["maximum"].as_u64(),
        Some(u64::from(MAX_LIMIT)),
        "limit maximum"
    );
    let list = |query: &str| parse("GET", &format!("/v1/mailboxes/0/changes?{query}"), None, 1);
    for (name, code) in [("limit", "bad_limit"), ("wait_ms", "bad_wait")] {
        let s = param_schema(&spec, name);
        let (lo, hi) = (
            s["minimum"].as_u64().unwrap(),
            s["maximum"].as_u64().unwrap(),
        );
        for ok in [lo, hi] {
            assert!(list(&format!("{name}={ok}")).is_ok(), "{name}={ok}");
        }
        let mut bad = vec![hi + 1];
        bad.extend(lo.checked_sub(1));
        for b in bad {
            assert_eq!(list(&format!("{name}={b}")).unwrap_err().code, code);
        }
    }
    // Every cursor kind the parser knows has a canonical example in the
    // spec, and every example round-trips.
    let cursor = &spec["components"]["schemas"]["Cursor"];
    let examples: Vec<&str> = cursor["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    for e in &examples {
        let c = parse_cursor(e).unwrap_or_else(|err| panic!("spec cursor example `{e}`: {err}"));
        assert_eq!(&cursor_token(c), e);
    }
    let src = mail_api_source();
    let kinds = arm_literals(fn_body(&src, "pub fn parse_cursor("));
    assert_eq!(kinds.len(), 6, "cursor kinds in parse_cursor: {kinds:?}");
    let pattern = cursor["pattern"].as_str().unwrap();
    for kind in kinds {
        assert!(
            examples.iter().any(|e| e.split(':').next() == Some(kind)),
            "no `{kind}` cursor among the spec's examples"
        );
        assert!(pattern.contains(kind), "the Cursor pattern lacks `{kind}`");
    }
    // The changes route's query parameters are the ones `parse` reads.
    let mut read = arm_literals(fn_body(&src, "pub fn parse("));
    read.sort();
    let mut query: Vec<&str> = spec["paths"]["/v1/mailboxes/{m}/changes"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| resolve(&spec, p))
        .filter(|p| p["in"] == "query")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    query.sort();
    assert_eq!(
        query, read,
        "query parameters of GET /v1/mailboxes/{{m}}/changes"
    );
}

#[test]
fn the_replica_example_in_live_md_is_the_contract() {
    let doc = repo_file("docs/live.md");
    let after = doc
        .split_once("<!-- replica-example -->")
        .expect("docs/live.md marks its replica example with <!-- replica-example -->")
        .1;
    let block = after
        .split_once("```json\n")
        .expect("a ```json block after the marker")
        .1
        .split_once("```")
        .unwrap()
        .0;
    let replica: Value = serde_json::from_str(block)
        .unwrap_or_else(|e| panic!("the replica example in docs/live.md is not JSON: {e}"));
    let spec = spec();
    let entry = &spec["components"]["schemas"]["ReplicaEntry"];
    let mut fields: Vec<&str> = entry["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    fields.sort();
    let messages = replica["messages"]
        .as_array()
        .expect("`messages`, an array");
    assert!(!messages.is_empty());
    for m in messages {
        let mut keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, fields, "{m}");
        for f in ["mailbox", "message", "version"] {
            assert!(m[f].is_u64(), "{m}: `{f}` is a whole number");
        }
        assert!(m["deleted"].is_boolean(), "{m}");
    }
    assert_eq!(
        replica.as_object().unwrap().len(),
        1,
        "only `messages` at the top"
    );
}

/// The example consumer's `verify` against every v1 vector of
/// docs/webhook-signing-vectors.json (the v1a ones need ed25519, which
/// the standard library lacks: skipped), rejections by their error name.
const PY_VECTORS: &str = r#"
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("consumer", sys.argv[1])
consumer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(consumer)
vectors = json.load(open(sys.argv[2], encoding="utf-8"))
tolerance = vectors["tolerance_secs"]
checked, skipped, failures = 0, 0, []

def secrets(keys):
    if all(k.startswith("whsec_") for k in keys):
        return [consumer.parse_secret(k) for k in keys]
    return None

for v in vectors["accepted"]:
    keys = secrets(v.get("trusted_keys", v["signing_keys"]))
    if keys is None:
        skipped += 1
        continue
    headers = {"webhook-id": v["msg_id"], "webhook-timestamp": str(v["timestamp"]),
               "webhook-signature": v["signature"]}
    try:
        consumer.verify(keys, headers, v["body"].encode(), v["now"], tolerance)
        checked += 1
    except consumer.VerifyError as e:
        failures.append(f"accepted vector {v['name']!r} rejected: {e}")
for v in vectors["rejected"]:
    keys = secrets(v["trusted_keys"])
    if keys is None:
        skipped += 1
        continue
    try:
        consumer.verify(keys, v["headers"], v["body"].encode(), v["now"], tolerance)
        failures.append(f"rejected vector {v['name']!r} accepted")
    except consumer.VerifyError as e:
        if e.code == v["error"]:
            checked += 1
        else:
            failures.append(f"rejected vector {v['name']!r}: {e.code}, expected {v['error']}")
print(f"checked {checked} vectors, skipped {skipped} (v1a)")
print("\n".join(failures))
sys.exit(1 if failures or checked < 20 else 0)
"#;

#[test]
fn the_example_consumer_verifies_the_published_vectors() {
    if Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!(
            "note: python3 is not on PATH; examples/consumer.py's signature check not tested"
        );
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("python3")
        // No __pycache__ left in examples/.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .args(["-c", PY_VECTORS])
        .arg(root.join("examples/consumer.py"))
        .arg(root.join("docs/webhook-signing-vectors.json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Importing the example must not start anything: a hang is a failure.
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("importing examples/consumer.py did not return within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    eprintln!("{}", stdout.trim());
}

/// The signed delivery shown in docs/live.md is what syncsim's sender
/// builds for it, and its body has the fields the spec's envelope names.
#[test]
fn the_delivery_in_live_md_is_what_the_sender_signs() {
    use syncsim::engine::time::SimTime;
    use syncsim::http::webhook::request;
    use syncsim::model::transmit::{Delivery, ReplyTo, Ticket};
    use syncsim::signing::{Secret, SigningKey};

    let delivery = |version: Option<u32>| Delivery {
        reply: ReplyTo {
            ticket: Ticket { note: 0, gen: 0 },
            lost: false,
        },
        attempt: 1,
        mailbox: 12,
        seq: 345,
        msg: 67,
        version,
        deadline: SimTime(0),
    };
    let secret: Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
    let keys = [SigningKey::V1(secret)];
    let full = request(
        &delivery(Some(3 | syncsim::model::traffic::DELETED)),
        &keys,
        1_614_265_330,
    );
    let doc = repo_file("docs/live.md");
    for (what, text) in [
        ("webhook-id", format!("webhook-id: {}", full.headers.id)),
        (
            "webhook-timestamp",
            format!("webhook-timestamp: {}", full.headers.timestamp),
        ),
        (
            "webhook-signature",
            format!("webhook-signature: {}", full.headers.signature),
        ),
        ("body", full.body.clone()),
    ] {
        assert!(
            doc.contains(&text),
            "docs/live.md's example delivery: its {what} should read {text}"
        );
    }
    let spec = spec();
    let required = |schema: &str| -> Vec<String> {
        let mut r: Vec<String> = spec["components"]["schemas"][schema]["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .collect();
        r.sort();
        r
    };
    let keys_of = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let body: Value = serde_json::from_str(&full.body).unwrap();
    assert_eq!(keys_of(&body), required("WebhookEnvelope"));
    assert_eq!(
        body["type"],
        spec["components"]["schemas"]["WebhookEnvelope"]["properties"]["type"]["const"]
    );
    assert_eq!(keys_of(&body["data"]), required("FullData"));
    let thin = request(&delivery(None), &keys, 1_614_265_330);
    let body: Value = serde_json::from_str(&thin.body).unwrap();
    assert_eq!(keys_of(&body["data"]), required("ThinData"));
}
