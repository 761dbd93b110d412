//! The one way events reach the spool. A write that fails is never dropped silently: it is
//! logged, counted, and its error kept, so that the app's status and `vigil run`'s summary can
//! show that the record is incomplete.

use crate::{Spool, SpoolError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use vigil_core::event::Event;

/// A session's timeline: shared (`Arc`) by the recorder, the watchers, the lockdown, the session.
pub struct Timeline {
    spool: Arc<Spool>,
    failed: AtomicU64,
    last_error: Mutex<Option<(String, String)>>,
}

/// Writes that failed so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TimelineFailures {
    /// How many events could not be written.
    pub count: u64,
    /// The last error's code (`spool.read_only`, `spool.full`, ...) and message.
    pub last_code: Option<String>,
    pub last_error: Option<String>,
}

impl Timeline {
    pub fn new(spool: Arc<Spool>) -> Timeline {
        Timeline { spool, failed: AtomicU64::new(0), last_error: Mutex::new(None) }
    }

    /// The spool the events go to.
    pub fn spool(&self) -> &Arc<Spool> {
        &self.spool
    }

    /// Records `event`; returns its sequence number, or `None` when the write failed (logged and
    /// counted in [`failures`](Self::failures)).
    pub fn record(&self, event: Event) -> Option<u64> {
        self.try_record(&event).ok()
    }

    /// Records `event`, returning the error as well (it is counted all the same).
    pub fn try_record(&self, event: &Event) -> Result<u64, SpoolError> {
        self.spool.add_event(event).inspect_err(|e| {
            let n = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::error!(kind = %event.kind, code = e.code(), error = %e, failed = n, "an event could not be written to the spool");
            *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some((e.code().to_owned(), e.to_string()));
        })
    }

    /// The writes that failed so far.
    pub fn failures(&self) -> TimelineFailures {
        let last = self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone();
        TimelineFailures {
            count: self.failed.load(Ordering::Relaxed),
            last_code: last.as_ref().map(|l| l.0.clone()),
            last_error: last.map(|l| l.1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use vigil_core::event::EventKind;

    #[test]
    fn records_and_counts_nothing_when_writes_work() {
        let dir = tempfile::tempdir().unwrap();
        let t = Timeline::new(Arc::new(Spool::open(dir.path()).unwrap()));
        let id = vigil_core::event::interval_id("app");
        assert_eq!(t.record(Event::new(EventKind::AppProhibitedStarted, json!({"pid": 1})).opens(&id)), Some(1));
        assert_eq!(t.record(Event::new(EventKind::AppProhibitedExited, json!({"pid": 1})).closes(&id)), Some(2));
        assert_eq!(t.failures().count, 0);
        let events = t.spool().events().unwrap();
        assert_eq!(events[0].interval.as_ref().unwrap().id, id);
        assert_eq!(events[1].interval.as_ref().unwrap().phase, vigil_core::event::Phase::Close);
        assert_eq!(events[0].severity, vigil_core::event::Severity::Warning);
    }
}
