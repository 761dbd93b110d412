//! One process-wide lock around the xcap library. Its X11 calls are not safe to run concurrently
//! from several threads (connections fail with "Connection error"), and both the sensors
//! (`vigil-watch`) and the recorder (`vigil-capture`) call it, so both take this lock. It lives
//! here, the one crate both depend on; it does no I/O itself.

use std::sync::{Mutex, MutexGuard};

static XCAP: Mutex<()> = Mutex::new(());

/// Held for the duration of one call into xcap.
pub fn xcap_lock() -> MutexGuard<'static, ()> {
    XCAP.lock().unwrap_or_else(|p| p.into_inner())
}
