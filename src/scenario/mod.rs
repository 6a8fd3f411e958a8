//! Scenario files: TOML (or JSON) in, a validated [`Scenario`] out, or a
//! [`ScenarioError`] naming the file, line, column, key path and what is
//! allowed.

pub mod advise;
pub mod build;
pub mod consumer;
pub mod cost;
pub mod faults;
pub mod schema;
pub mod spec;
pub mod thresholds;
pub mod webhooks;

pub use crate::model::config::{
    Ack, CursorKind, Dedup, DropWhat, MailboxSet, Mix, OutageMode, QueueKind, Spread,
};
pub use consumer::*;
pub use faults::*;
pub use spec::*;
pub use thresholds::*;
pub use webhooks::*;

use std::path::Path;

/// Why a scenario could not be loaded. Every variant is the user's to fix;
/// none is fatal to the process beyond exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The path as given.
        file: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file was read but is not a valid scenario.
    #[error("{file}:{line}:{column}: {}{}", if path.is_empty() { String::new() } else { format!("`{}`: ", shorten_message(path)) }, shorten_message(message))]
    Invalid {
        /// The path as given.
        file: String,
        /// 1-based line of the offending key or value.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Dotted key path (`source.page_size`, `faults[0].for`), empty for syntax errors.
        path: String,
        /// What is wrong and what is allowed.
        message: String,
    },
}

impl ScenarioError {
    /// The file the error is about, as given.
    pub fn file(&self) -> &str {
        match self {
            ScenarioError::Io { file, .. } | ScenarioError::Invalid { file, .. } => file,
        }
    }
}

/// Longest echo of a user value in an error message, in characters.
pub const ECHO_MAX: usize = 80;
/// A value up to `ECHO_MAX + ECHO_SLACK` characters is echoed whole (so a
/// shortened echo is never shortened again).
const ECHO_SLACK: usize = 20;
/// Longest error message, in characters, after values are shortened.
pub const MESSAGE_MAX: usize = 1000;

/// `value` for an error message: whole when short, else its first
/// [`ECHO_MAX`] characters, `…` and the original length in characters.
pub fn echo(value: &str) -> String {
    let chars: Vec<char> = value.chars().take(ECHO_MAX + ECHO_SLACK + 1).collect();
    if chars.len() <= ECHO_MAX + ECHO_SLACK {
        return value.to_string();
    }
    let head: String = chars[..ECHO_MAX].iter().collect();
    format!("{head}… ({} chars)", value.chars().count())
}

/// An error message with every echoed value shortened: each quoted span
/// (`` `…` `` or `"…"`) and each unquoted word longer than about
/// [`ECHO_MAX`] characters is cut to `ECHO_MAX` with `…` and its length,
/// then the whole message to about [`MESSAGE_MAX`]. Messages from serde and
/// toml quote the offending value, so this covers text we do not format
/// ourselves. Shortening twice changes nothing.
pub fn shorten_message(msg: &str) -> String {
    let chars: Vec<char> = msg.chars().collect();
    let mut out = String::with_capacity(msg.len().min(MESSAGE_MAX + 64));
    let mut i = 0;
    let span = |out: &mut String, inner: &[char]| {
        if inner.len() <= ECHO_MAX + ECHO_SLACK {
            out.extend(inner);
            None
        } else {
            out.extend(&inner[..ECHO_MAX]);
            out.push('…');
            Some(inner.len())
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            out.push(c);
            i += 1;
            continue;
        }
        if c == '`' || c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != c {
                j += if c == '"' && chars[j] == '\\' { 2 } else { 1 };
            }
            if j < chars.len() {
                out.push(c);
                let cut = span(&mut out, &chars[i + 1..j]);
                out.push(c);
                if let Some(len) = cut {
                    out.push_str(&format!(" ({len} chars)"));
                }
                i = j + 1;
                continue;
            }
        }
        let mut j = i;
        while j < chars.len() && !chars[j].is_whitespace() {
            j += 1;
        }
        if let Some(len) = span(&mut out, &chars[i..j]) {
            out.push_str(&format!(" ({len} chars)"));
        }
        i = j;
    }
    let total = out.chars().count();
    if total > MESSAGE_MAX + 200 {
        let head: String = out.chars().take(MESSAGE_MAX).collect();
        return format!("{head}… (message of {total} chars)");
    }
    out
}

/// The two accepted file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// TOML (the default).
    Toml,
    /// JSON (files ending in `.json`).
    Json,
}

impl Format {
    /// The format a file name implies.
    pub fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Format::Json,
            _ => Format::Toml,
        }
    }
}

/// Reads, parses and validates the scenario file at `path`.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
        file: file.clone(),
        source,
    })?;
    parse(&text, &file, Format::of(path))
}

/// `scenario` with another seed, validated again: some checks depend on
/// the seed (a heavy-tailed spread's real size), so `--seed` and sweep
/// seeds cannot skip them. `file` is only used in messages.
pub fn reseed(mut scenario: Scenario, seed: u64, file: &str) -> Result<Scenario, ScenarioError> {
    scenario.seed = seed;
    scenario.validate().map_err(|inv| ScenarioError::Invalid {
        file: file.to_string(),
        line: 1,
        column: 1,
        path: shorten_message(&inv.path),
        message: shorten_message(&format!("with seed {seed}: {}", inv.message)),
    })?;
    Ok(scenario)
}

/// Parses and validates scenario text; `file` is only used in messages.
pub fn parse(text: &str, file: &str, format: Format) -> Result<Scenario, ScenarioError> {
    let err = |offset: usize, path: String, message: String| {
        let (line, column) = line_col(text, offset);
        ScenarioError::Invalid {
            file: file.to_string(),
            line,
            column,
            path: shorten_message(&path),
            message: shorten_message(&message),
        }
    };
    let scenario: Scenario = match format {
        Format::Toml => {
            let de = toml::de::Deserializer::parse(text).map_err(|e| {
                err(
                    e.span().map_or(0, |s| s.start),
                    String::new(),
                    e.message().trim().to_string(),
                )
            })?;
            serde_path_to_error::deserialize(de).map_err(|e| {
                let inner = e.inner().clone();
                let path = full_path(&e.path().to_string(), inner.message());
                let offset = inner
                    .span()
                    .map(|s| s.start)
                    .or_else(|| locate_toml(text, &path))
                    .unwrap_or(0);
                err(offset, path, inner.message().trim().to_string())
            })?
        }
        Format::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            let scenario = serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let path = full_path(&e.path().to_string(), &e.inner().to_string());
                let inner = e.into_inner();
                let (line, column) = (inner.line(), inner.column());
                ScenarioError::Invalid {
                    file: file.to_string(),
                    line,
                    column,
                    path: shorten_message(&path),
                    message: shorten_message(&strip_json_position(&inner.to_string())),
                }
            })?;
            de.end().map_err(|e| err(0, String::new(), e.to_string()))?;
            scenario
        }
    };
    scenario.validate().map_err(|inv| {
        let offset = match format {
            Format::Toml => locate_toml(text, &inv.path),
            Format::Json => locate_json(text, &inv.path),
        }
        .unwrap_or(0);
        err(offset, inv.path, inv.message)
    })?;
    Ok(scenario)
}

/// The key path an error is about. serde_path_to_error writes `.` or `?`
/// for the root; a missing field is reported at its parent, so append it.
fn full_path(p: &str, message: &str) -> String {
    let parent = if p == "." || p == "?" { "" } else { p };
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match (parent, missing) {
        ("", Some(field)) => field.to_string(),
        (parent, Some(field)) => format!("{parent}.{field}"),
        (parent, None) => parent.to_string(),
    }
}

/// serde_json appends " at line L column C"; we print the position ourselves.
fn strip_json_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary_compat(offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// `str::floor_char_boundary` is unstable; this is the same for our use.
trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}
impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        while i > 0 && !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

/// Splits `a.b[2].c` into keys (`Ok`) and indices (`Err`).
pub(crate) fn path_segments(path: &str) -> Vec<Result<&str, usize>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            if i > 0 {
                out.push(Ok(&rest[..i]));
            }
            rest = &rest[i..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let close = stripped.find(']').unwrap_or(stripped.len());
                if let Ok(n) = stripped[..close].parse() {
                    out.push(Err(n));
                }
                rest = stripped.get(close + 1..).unwrap_or("");
            }
        } else if !rest.is_empty() {
            out.push(Ok(rest));
        }
    }
    out
}

/// Byte offset of the value at `path` in a TOML document (the deepest part
/// of the path that exists).
fn locate_toml(text: &str, path: &str) -> Option<usize> {
    locate_toml_segments(text, &path_segments(path))
}

/// Byte offset of the value at `segments` (keys `Ok`, indices `Err`) in a
/// TOML document: the deepest part that exists. A key may hold dots.
pub(crate) fn locate_toml_segments(text: &str, segments: &[Result<&str, usize>]) -> Option<usize> {
    let doc = toml::de::DeTable::parse(text).ok()?;
    let mut best = None;
    let table = doc.get_ref();
    let mut value: Option<&toml::Spanned<toml::de::DeValue>> = None;
    for (i, seg) in segments.iter().enumerate() {
        let lookup = |key: &str| match value {
            None => table.get(key),
            Some(v) => v.get_ref().get(key),
        };
        let next = match (seg, value) {
            (Ok(key), _) => lookup(key).or_else(|| {
                // A quoted key with dots in it (`"changes.lost" = ...`):
                // try the rest of the path as one key.
                let rest: Vec<&str> = segments[i..].iter().filter_map(|s| s.ok()).collect();
                (rest.len() == segments.len() - i)
                    .then(|| lookup(&rest.join(".")))
                    .flatten()
            }),
            (Err(n), Some(v)) => v.get_ref().get(*n),
            (Err(_), None) => None,
        };
        match next {
            Some(v) => {
                best = Some(v.span().start);
                value = Some(v);
            }
            None => break,
        }
    }
    best
}

/// Best-effort offset of the last key of `path` in a JSON document.
fn locate_json(text: &str, path: &str) -> Option<usize> {
    locate_json_segments(text, &path_segments(path))
}

/// Best-effort offset of the last key of `segments` in a JSON document.
pub(crate) fn locate_json_segments(text: &str, segments: &[Result<&str, usize>]) -> Option<usize> {
    let key = segments.iter().rev().find_map(|s| s.ok())?;
    text.find(&format!("\"{key}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_split_keys_and_indices() {
        assert_eq!(
            path_segments("faults[1].for"),
            vec![Ok("faults"), Err(1), Ok("for")]
        );
        assert_eq!(
            path_segments("source.page_size"),
            vec![Ok("source"), Ok("page_size")]
        );
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab", 0), (1, 1));
    }
}
