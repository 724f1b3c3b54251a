//! A process-wide stop request, set by a signal handler (the CLI installs one for SIGINT and
//! SIGTERM) and polled by training between batches, so a run stops at a point where
//! everything committed so far is intact and the rest can be redone on resume.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks every training loop in the process to stop at its next batch boundary.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Whether a stop has been requested.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Withdraws a request (for library users that handle one and carry on).
pub fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
}
