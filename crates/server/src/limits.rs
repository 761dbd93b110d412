//! Resource limits: body sizes, quotas, expiry, and fixed-window rate limits.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Largest JSON body of a join (candidate, consent, device facts).
pub const MAX_JOIN_BODY: usize = 64 * 1024;
/// Largest serialized device facts in a join.
pub const MAX_DEVICE_BYTES: usize = 16 * 1024;
/// Largest serialized consent in a join.
pub const MAX_CONSENT_BYTES: usize = 1024;
/// Largest event batch body; clients batch below it and split on 413.
pub const MAX_EVENTS_BODY: usize = vigil_core::protocol::MAX_EVENT_BATCH_BYTES;
/// Largest body of the other small JSON requests (heartbeat, registration, instruction).
pub const MAX_SMALL_BODY: usize = 16 * 1024;
/// Largest number SQLite stores in an INTEGER column; bigger ones are a 400.
pub const MAX_STORED: u64 = i64::MAX as u64;

/// Configurable limits (`vigil-server serve --help`).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest segment (`Upload-Length`).
    pub max_upload_bytes: u64,
    /// Largest PATCH body, advertised as `Vigil-Max-Patch-Bytes`.
    pub max_patch_bytes: u64,
    /// All uploads of one session together.
    pub session_quota_bytes: u64,
    /// Unfinished uploads older than this are deleted.
    pub upload_ttl: Duration,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// Requests handled at once; more wait.
    pub max_in_flight: usize,
    pub wrong_codes_per_minute: u32,
    pub joins_per_exam_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_upload_bytes: 256 * 1024 * 1024,
            max_patch_bytes: 8 * 1024 * 1024,
            session_quota_bytes: 16 * 1024 * 1024 * 1024,
            upload_ttl: Duration::from_secs(24 * 3600),
            request_timeout: Duration::from_secs(120),
            max_in_flight: 1024,
            wrong_codes_per_minute: 20,
            joins_per_exam_per_minute: 6000,
        }
    }
}

/// At most `max` hits per key per minute; the window starts with the key's first hit.
pub struct RateLimiter {
    max: u32,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

const WINDOW: Duration = Duration::from_secs(60);

impl RateLimiter {
    pub fn new(max: u32) -> RateLimiter {
        RateLimiter { max, windows: Mutex::new(HashMap::new()) }
    }

    /// `Err(retry_after)` when `key` used up its window.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        match windows.get(key) {
            Some(&(start, n)) if n >= self.max && start.elapsed() < WINDOW => Err(WINDOW - start.elapsed()),
            _ => Ok(()),
        }
    }

    /// Counts a hit; `Err(retry_after)` when it is over the limit.
    pub fn hit(&self, key: &str) -> Result<(), Duration> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| start.elapsed() < WINDOW);
        }
        let entry = windows.entry(key.to_owned()).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 += 1;
        if entry.1 > self.max {
            Err(WINDOW.saturating_sub(entry.0.elapsed()))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_limited_alone_and_others_go_on() {
        let l = RateLimiter::new(3);
        for _ in 0..3 {
            assert!(l.hit("a").is_ok());
        }
        assert!(l.check("a").is_err());
        let wait = l.hit("a").unwrap_err();
        assert!(wait <= WINDOW && wait > Duration::from_secs(50), "{wait:?}");
        assert!(l.check("b").is_ok() && l.hit("b").is_ok());
    }
}
