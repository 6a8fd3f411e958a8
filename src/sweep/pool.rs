//! Running many simulations at once, each isolated from the others: one
//! thread pool for `sweep` and `check`, and [`isolated`], which turns a
//! panic inside one run into an error value for that run instead of the end
//! of the whole process.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

/// Applies `work` to every item on `jobs` threads (at least one) and returns
/// the results in item order, whatever the threads' timing.
pub fn par_map<T, R, F>(items: &[T], jobs: usize, work: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = work(item);
                *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
            });
        }
    });
    slots
        .into_iter()
        .map(|s| {
            s.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .expect("every slot is filled: each index is taken exactly once")
        })
        .collect()
}

/// Test hook (not for normal use): when the environment variable
/// `SYNCSIM_TEST_PANIC` is `SEED` or `SEED:LABEL`, the `sweep` and `check`
/// runners panic inside the run of that seed (of the point with that label
/// only, when one is given), before the simulation starts. It lets tests
/// exercise crash isolation deterministically; the model never reads it,
/// and unset (the normal case) it changes nothing.
pub const TEST_PANIC_VAR: &str = "SYNCSIM_TEST_PANIC";

/// Panics when the [`TEST_PANIC_VAR`] hook names this run.
fn test_hook(seed: u64, label: &str) {
    let Some(spec) = std::env::var_os(TEST_PANIC_VAR) else {
        return;
    };
    let spec = spec.to_string_lossy();
    let (want_seed, want_label) = match spec.split_once(':') {
        Some((s, l)) => (s, Some(l)),
        None => (&*spec, None),
    };
    if want_seed.trim().parse() == Ok(seed) && want_label.is_none_or(|l| l == label) {
        panic!("{TEST_PANIC_VAR} hook: forced panic in the run of seed {seed} [{label}]");
    }
}

thread_local! {
    /// True while this thread is inside [`isolated`].
    static INSIDE: Cell<bool> = const { Cell::new(false) };
    /// The message and place of the last panic caught on this thread.
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once per process) a panic hook that is silent for panics
/// inside [`isolated`] (their message is kept and reported with the run)
/// and hands every other panic to the hook that was there before.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if INSIDE.with(Cell::get) {
                let payload = info.payload();
                let text = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(no message)".to_string());
                let place = info
                    .location()
                    .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_default();
                CAUGHT.with(|c| *c.borrow_mut() = Some(format!("{text}{place}")));
            } else {
                previous(info);
            }
        }));
    });
}

/// A run that panicked: a syncsim bug, caught by [`isolated`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the run of seed {seed} [{label}] panicked: {message}")]
pub struct Panicked {
    /// The run's seed.
    pub seed: u64,
    /// The run's point.
    pub label: String,
    /// The panic's message and where it happened.
    pub message: String,
}

/// Runs `work` (the run of `seed` at the point `label`), catching a panic:
/// the `Err` holds the panic's message and where it happened. A panic is a
/// syncsim bug; catching it lets every other run finish and be reported.
pub fn isolated<R>(seed: u64, label: &str, work: impl FnOnce() -> R) -> Result<R, Panicked> {
    install_hook();
    INSIDE.with(|f| f.set(true));
    CAUGHT.with(|c| c.borrow_mut().take());
    let result = catch_unwind(AssertUnwindSafe(|| {
        test_hook(seed, label);
        work()
    }));
    INSIDE.with(|f| f.set(false));
    let context = crate::engine::des::take_panic_context();
    result.map_err(|payload| {
        let message = CAUGHT
            .with(|c| c.borrow_mut().take())
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic with no message".to_string());
        Panicked {
            seed,
            label: label.to_string(),
            message: match context {
                Some((_, at)) => format!("{message} (at virtual time {at} = {} µs)", at.0),
                None => message,
            },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn par_map_keeps_order() {
        let items: Vec<u64> = (0..100).collect();
        assert_eq!(
            par_map(&items, 3, |x| x * 2),
            (0..100).map(|x| x * 2).collect::<Vec<_>>()
        );
        assert!(par_map(&[] as &[u8], 4, |x| *x).is_empty());
    }

    #[test]
    fn isolated_catches_a_panic_with_its_message() {
        assert_eq!(isolated(1, "p", || 7), Ok(7));
        let e = isolated(1, "p", || -> u8 { panic!("boom {}", 3) }).unwrap_err();
        assert_eq!((e.seed, e.label.as_str()), (1, "p"));
        let m = &e.message;
        assert!(m.starts_with("boom 3 at ") && m.contains("pool.rs"), "{m}");
    }
}
