//! The JSON Schema of scenario files, generated from the scenario types
//! (schemars): the derived structs give the keys, their doc comments the
//! descriptions; the types that parse text themselves (durations, delay
//! distributions, thresholds, ...) describe their accepted forms here.
//! `syncsim schema` prints it; `docs/scenario.schema.json` is the shipped
//! copy (a test keeps it current and validates every bundled scenario).

use super::consumer::LookbackSpec;
use super::spec::{DelaySpec, Diurnal, NonNegative, Positive, Probability, Scenario};
use super::thresholds::Conditions;
use crate::engine::time::{PositiveDuration, SimDuration};
use crate::model::config::{
    Ack, CursorKind, Dedup, DropWhat, Forgery, MailboxSet, Mix, OutageMode, QueueKind, Spread,
};
use crate::model::presets::Payload;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use std::borrow::Cow;

/// A duration string: `250ms`, `30s`, `5m`, `1h30m`, `2d` (or `0`).
const DURATION_PATTERN: &str = r"^(0|([0-9]+(\.[0-9]+)?|\.[0-9]+)(us|ms|s|m|h|d|w)(([0-9]+(\.[0-9]+)?|\.[0-9]+)(us|ms|s|m|h|d|w))*)$";

macro_rules! schema {
    ($ty:ty, $name:literal, $body:tt) => {
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($body)
            }
        }
    };
}

/// The closed set of words an enum accepts.
macro_rules! words {
    ($ty:ty, $name:literal, $desc:literal, [$($w:literal),+]) => {
        schema!($ty, $name, { "description": $desc, "type": "string", "enum": [$($w),+] });
    };
}

schema!(SimDuration, "Duration", {
    "description": "A duration: one or more <number><unit> parts, units us, ms, s, m, h, d, w (e.g. \"250ms\", \"30s\", \"5m\", \"1h30m\", \"2d\"), or 0.",
    "anyOf": [
        { "type": "string", "pattern": DURATION_PATTERN },
        { "const": 0 }
    ]
});
schema!(PositiveDuration, "PositiveDuration", {
    "description": "A duration greater than zero (e.g. \"5m\", \"1h30m\").",
    "type": "string",
    "pattern": DURATION_PATTERN,
    "not": { "pattern": r"^(0+(\.0+)?[a-z]+)+$" }
});
schema!(NonNegative, "NonNegative", { "type": "number", "minimum": 0 });
schema!(Positive, "Positive", { "type": "number", "exclusiveMinimum": 0 });
schema!(Probability, "Probability", { "type": "number", "minimum": 0, "maximum": 1 });
schema!(Spread, "Spread", {
    "description": "How activity is spread across mailboxes.",
    "oneOf": [
        { "type": "object", "properties": { "dist": { "const": "even" } }, "required": ["dist"], "additionalProperties": false },
        { "type": "object", "properties": { "dist": { "const": "lognormal" }, "sigma": { "type": "number", "exclusiveMinimum": 0 } }, "required": ["dist", "sigma"], "additionalProperties": false },
        { "type": "object", "properties": { "dist": { "const": "pareto" }, "alpha": { "type": "number", "exclusiveMinimum": 1 } }, "required": ["dist", "alpha"], "additionalProperties": false }
    ]
});
schema!(Diurnal, "Diurnal", {
    "description": "Hourly activity: \"flat\", \"office\", or 24 weights >= 0 (hour 0 = midnight).",
    "anyOf": [
        { "type": "string", "enum": ["flat", "office"] },
        { "type": "array", "items": { "type": "number", "minimum": 0 }, "minItems": 24, "maxItems": 24 }
    ]
});
schema!(Mix, "Mix", {
    "description": "Shares of created / updated / deleted changes (summing to 1; created > 0).",
    "type": "object",
    "properties": {
        "created": { "type": "number", "exclusiveMinimum": 0, "maximum": 1 },
        "updated": { "type": "number", "minimum": 0, "maximum": 1 },
        "deleted": { "type": "number", "minimum": 0, "maximum": 1 }
    },
    "required": ["created"],
    "additionalProperties": false
});
schema!(MailboxSet, "MailboxSet", {
    "description": "A count of mailboxes (the first N) or a list of mailbox indices.",
    "anyOf": [
        { "type": "integer", "minimum": 1 },
        { "type": "array", "items": { "type": "integer", "minimum": 0 }, "minItems": 1 }
    ]
});
schema!(DelaySpec, "Delay", {
    "description": "A delay: a duration, or a distribution.",
    "anyOf": [
        { "type": "string", "pattern": DURATION_PATTERN },
        { "type": "object", "properties": { "dist": { "const": "fixed" }, "value": { "type": "string", "pattern": DURATION_PATTERN } }, "required": ["dist", "value"], "additionalProperties": false },
        { "type": "object", "properties": { "dist": { "const": "uniform" }, "min": { "type": "string", "pattern": DURATION_PATTERN }, "max": { "type": "string", "pattern": DURATION_PATTERN } }, "required": ["dist", "min", "max"], "additionalProperties": false },
        { "type": "object", "properties": { "dist": { "const": "lognormal" }, "median": { "type": "string", "pattern": DURATION_PATTERN }, "p99": { "type": "string", "pattern": DURATION_PATTERN } }, "required": ["dist", "median", "p99"], "additionalProperties": false }
    ]
});
schema!(LookbackSpec, "Lookback", {
    "description": "How far back a reconciliation run lists: a duration, or \"watermark\" (since the previous run began).",
    "anyOf": [
        { "const": "watermark" },
        { "type": "string", "pattern": DURATION_PATTERN }
    ]
});
schema!(Conditions, "Conditions", {
    "description": "\"OP NUMBER\" or \"OP DURATION\" (OP one of <, <=, ==, >=, >), e.g. \"< 60000\" or \"< 5m\" on a latency path; or a list of them.",
    "anyOf": [
        { "type": "string", "pattern": r"^\s*(<=|>=|==|<|>)\s*\S+\s*$" },
        { "type": "array", "items": { "type": "string", "pattern": r"^\s*(<=|>=|==|<|>)\s*\S+\s*$" }, "minItems": 1 }
    ]
});
words!(
    CursorKind,
    "CursorKind",
    "The list API's cursor.",
    [
        "sequence",
        "timestamp",
        "timestamp_inclusive",
        "timestamp_id"
    ]
);
words!(
    Ack,
    "Ack",
    "When the endpoint answers a delivery.",
    ["queue_first", "inline"]
);
words!(
    QueueKind,
    "QueueKind",
    "The endpoint's queue.",
    ["durable", "memory"]
);
words!(
    Dedup,
    "Dedup",
    "How the consumer treats a change it already has.",
    ["none", "event_id", "version"]
);
words!(
    OutageMode,
    "OutageMode",
    "How an endpoint outage fails deliveries.",
    ["refused", "503", "hang"]
);
words!(
    DropWhat,
    "DropWhat",
    "What a drop fault loses.",
    ["request", "response"]
);
words!(
    Forgery,
    "Forgery",
    "How a forged delivery is forged.",
    [
        "any",
        "bad_signature",
        "wrong_secret",
        "stale_timestamp",
        "future_timestamp"
    ]
);
words!(
    Payload,
    "Payload",
    "Full payloads carry the change; thin ones ids only (one fetch each).",
    ["thin", "full"]
);

/// `[sweep]`: seeds, grid axes (any key path of the scenario, with a
/// list of values) and named variants.
pub struct SweepSchema;

schema!(SweepSchema, "Sweep", {
    "description": "A sweep: `seeds` (a count or a list), grid axes (\"key.path\" = [values]) and [[sweep.variants]] (a `name` and key paths to set).",
    "type": "object",
    "properties": {
        "seeds": { "anyOf": [ { "type": "integer", "minimum": 1 }, { "type": "array", "items": { "type": "integer", "minimum": 0 }, "minItems": 1 } ] },
        "variants": {
            "type": "array",
            "items": { "type": "object", "properties": { "name": { "type": "string" } }, "required": ["name"] }
        }
    },
    "additionalProperties": { "type": "array" }
});

/// The JSON Schema (draft-07, which taplo / Even Better TOML read) of a
/// scenario file, pretty-printed with a trailing newline.
pub fn scenario_schema() -> String {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let mut schema = generator.into_root_schema_for::<Scenario>();
    schema.insert("title".into(), "syncsim scenario".into());
    let mut s = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    s.push('\n');
    s
}
