//! Retrying what the network may refuse for a while.

use std::time::{Duration, Instant};
use vigil_uplink::{backoff, UplinkError};

/// Retries transient failures with backoff until `limit` has passed; other errors end at once.
/// Each retry is logged with `what`.
pub fn retry<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Result<T, UplinkError>) -> Result<T, UplinkError> {
    let deadline = Instant::now() + limit;
    let mut attempt = 0;
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if e.is_transient() && Instant::now() < deadline => {
                attempt += 1;
                let wait = backoff(attempt).min(deadline.saturating_duration_since(Instant::now()));
                tracing::warn!("{what}: {e}; retrying in {:.1} s", wait.as_secs_f64());
                std::thread::sleep(wait);
            }
            Err(e) => return Err(e),
        }
    }
}
