//! The process exit codes of every `syncsim` command. When several apply,
//! the command exits with the largest.

/// Success: everything ran, every threshold holds.
pub const OK: u8 = 0;
/// A `[thresholds]` condition broke (`run`, `check`).
pub const THRESHOLD: u8 = 1;
/// Bad input: a scenario file, an argument, or a sweep folder that fails
/// its checks (damaged, edited, foreign or incomplete). The message names
/// the file and, for scenarios, line, column and key.
pub const BAD_INPUT: u8 = 2;
/// A run crashed (panicked): a syncsim bug; the message names the point
/// and seed and gives the command that reproduces it. Other runs finished
/// and their outputs were written.
pub const CRASH: u8 = 3;
/// Outputs could not be written (or a folder could not be read): an IO
/// error, named with its path.
pub const IO: u8 = 4;
