//! The consumer as a process syncsim controls (`serve --consumer-cmd`), so
//! `consumer_crash` windows act on it the way Jepsen's process faults do:
//! SIGKILL at the window's start (no shutdown hook runs, memory is gone),
//! a fresh start at its end.
//!
//! The command runs through `sh -c` with its stdout and stderr inherited,
//! and learns where things are from its environment: `SYNCSIM_API_URL`,
//! `SYNCSIM_LISTEN` (the host:port of `--webhook-url`),
//! `SYNCSIM_WEBHOOK_SECRET` (the signing secret, handed to the child only,
//! never printed) and `SYNCSIM_SPEED`.

use std::process::Stdio;
use tokio::process::{Child, Command};

/// A consumer process and what was done to it.
#[derive(Debug)]
pub struct ConsumerProcess {
    cmd: String,
    env: Vec<(String, String)>,
    child: Option<Child>,
    /// Times it was killed by a crash window.
    pub kills: u64,
    /// Times it was started (the first start included).
    pub starts: u64,
}

impl ConsumerProcess {
    /// A process for `cmd` (not started) with `env` added to its
    /// environment.
    pub fn new(cmd: impl Into<String>, env: Vec<(String, String)>) -> ConsumerProcess {
        ConsumerProcess {
            cmd: cmd.into(),
            env,
            child: None,
            kills: 0,
            starts: 0,
        }
    }

    /// Starts it (a no-op while it runs). The process is killed when this
    /// value is dropped, so a run never leaves one behind.
    pub fn start(&mut self) -> std::io::Result<()> {
        if self.running() {
            return Ok(());
        }
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(&self.cmd)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        // Its own process group, so a kill reaches what `sh` started too.
        #[cfg(unix)]
        c.process_group(0);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        self.child = Some(c.spawn()?);
        self.starts += 1;
        Ok(())
    }

    /// SIGKILLs it (a no-op when it is not running).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&child);
            if child.start_kill().is_ok() {
                self.kills += 1;
            }
            // Reap it in the background: no zombie, nothing blocks.
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }
}

impl Drop for ConsumerProcess {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            kill_group(c);
            let _ = c.start_kill();
        }
    }
}

/// SIGKILLs the child's whole process group (unix).
fn kill_group(child: &Child) {
    #[cfg(unix)]
    if let Some(pid) = child.id() {
        // SAFETY: kill(2) with a negative pid signals that process group;
        // it touches no memory of ours.
        unsafe {
            libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
        }
    }
    #[cfg(not(unix))]
    let _ = child;
}
