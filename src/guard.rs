//! Damaged pages as errors, not panics.
//!
//! redb verifies page checksums only in its integrity check, which reads
//! the whole file; opening without it (read-only opens, and every open
//! that is to cost the same at any file size) trusts pages, and redb may
//! panic on one that was damaged outside it. Every public entry point of
//! heatstore that reaches redb runs inside [`guarded`]: a panic raised in
//! redb's source there becomes [`crate::Error::Corrupt`], and the store
//! should not be used further. A panic raised anywhere else is a bug of
//! heatstore's and goes on unwinding.
//!
//! Telling the two apart needs the panic's location, which only a panic
//! hook sees: the first guarded call installs one that records it (and
//! keeps quiet about redb's panics inside a guard), then hands every panic
//! to the hook that was installed before. A hook installed later replaces
//! it; a panic inside a guard is then reported as corruption wherever it
//! was raised.

use std::cell::Cell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Once;

use crate::error::{Corrupt, Result};

thread_local! {
    /// How many guarded calls this thread is inside.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Whether the last panic inside a guard was raised in redb (`None`:
    /// not seen by our hook).
    static IN_REDB: Cell<Option<bool>> = const { Cell::new(None) };
}

fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if DEPTH.with(Cell::get) > 0 {
                let in_redb = info
                    .location()
                    .map(|l| l.file().contains("/redb-") || l.file().contains("/redb/src/"));
                IN_REDB.with(|c| c.set(in_redb));
                if in_redb == Some(true) {
                    return;
                }
            }
            previous(info);
        }));
    });
}

/// Runs `f`, turning a panic raised inside redb into [`Corrupt`] naming
/// `what` was being read.
pub(crate) fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    install_hook();
    DEPTH.with(|d| d.set(d.get() + 1));
    let outcome = catch_unwind(AssertUnwindSafe(f));
    DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    match outcome {
        Ok(r) => r,
        Err(payload) => {
            if IN_REDB.with(Cell::take) == Some(false) {
                resume_unwind(payload);
            }
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(Corrupt::new(
                "store file",
                format!(
                    "redb failed while {what} ({msg}): a page of the file is damaged; \
                     `heatstore check` reports what, `heatstore recover` salvages the rest"
                ),
            )
            .into())
        }
    }
}
