//! What the exam page's script reports, and what of it is believed.
//!
//! The exam page has no IPC; the script Vigil puts into every frame reports by asking to navigate
//! to `vigil-event:TOKEN/KIND?frame=main|sub`, which the navigation handler cancels. `TOKEN` is
//! random per exam window and lives only in that script's closure, so page scripts (an LMS bug,
//! third-party analytics) cannot make reports: without the token a report is dropped. Only the
//! clipboard kinds are accepted, each at most [`MAX_PER_WINDOW`] times per [`WINDOW`]; the next
//! accepted report says how many were suppressed before it.

use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use vigil_core::event::{Event, EventKind};

/// Reports of one kind taken per window.
pub const MAX_PER_WINDOW: u32 = 5;
pub const WINDOW: Duration = Duration::from_secs(10);

/// The kinds the page script may report.
const KINDS: &[EventKind] = &[
    EventKind::ClipboardCopy,
    EventKind::ClipboardCut,
    EventKind::ClipboardPaste,
    EventKind::ClipboardCopyBlocked,
    EventKind::ClipboardCutBlocked,
    EventKind::ClipboardPasteBlocked,
];

/// The per-window token and the rate limit's counts.
pub struct PageReports {
    token: String,
    /// Per kind: the window's start, reports taken in it, reports suppressed since the last taken.
    counts: HashMap<EventKind, (Instant, u32, u32)>,
}

impl PageReports {
    /// A new random token (from the OS).
    pub fn new() -> PageReports {
        let mut bytes = [0u8; 16];
        let token = match getrandom::fill(&mut bytes) {
            Ok(()) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
            // Without randomness no report can be trusted: a token nothing can match.
            Err(_) => String::new(),
        };
        PageReports { token, counts: HashMap::new() }
    }

    /// The token the page script carries.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The event a `vigil-event:` navigation stands for, if it is a genuine report that the rate
    /// limit lets through.
    pub fn accept(&mut self, url: &tauri::Url, now: Instant) -> Option<Event> {
        let (token, kind) = url.path().split_once('/')?;
        if self.token.is_empty() || token != self.token {
            tracing::warn!("a vigil-event report without the page script's token was dropped");
            return None;
        }
        let kind = EventKind::parse(kind).filter(|k| KINDS.contains(k))?;
        let frame = match url.query_pairs().find(|(k, _)| k == "frame").map(|(_, v)| v.into_owned()) {
            Some(f) if f == "sub" => "sub",
            _ => "main",
        };
        let (start, taken, suppressed) = self.counts.entry(kind).or_insert((now, 0, 0));
        if now.duration_since(*start) >= WINDOW {
            (*start, *taken) = (now, 0);
        }
        if *taken >= MAX_PER_WINDOW {
            *suppressed += 1;
            return None;
        }
        *taken += 1;
        let mut data = json!({ "frame": frame });
        if *suppressed > 0 {
            data["suppressed_before"] = json!(*suppressed);
            *suppressed = 0;
        }
        Some(Event::new(kind, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> tauri::Url {
        tauri::Url::parse(s).unwrap()
    }

    #[test]
    fn only_reports_with_the_token_and_a_known_kind_count() {
        let mut r = PageReports::new();
        let t = r.token().to_owned();
        assert_eq!(t.len(), 32);
        let now = Instant::now();
        let e = r.accept(&url(&format!("vigil-event:{t}/clipboard.copy.blocked?frame=sub")), now).unwrap();
        assert_eq!(e.kind, EventKind::ClipboardCopyBlocked);
        assert_eq!(e.data["frame"], "sub");
        assert!(r.accept(&url("vigil-event:clipboard.copy"), now).is_none(), "no token");
        assert!(r.accept(&url(&format!("vigil-event:{}/clipboard.copy", "0".repeat(32))), now).is_none());
        assert!(r.accept(&url(&format!("vigil-event:{t}/session.joined")), now).is_none(), "not a page kind");
        assert!(r.accept(&url(&format!("vigil-event:{t}/clipboard.anything")), now).is_none());
        assert_ne!(PageReports::new().token(), t, "a token per window");
    }

    #[test]
    fn a_burst_is_cut_and_the_next_report_counts_what_was_suppressed() {
        let mut r = PageReports::new();
        let u = url(&format!("vigil-event:{}/clipboard.paste.blocked", r.token()));
        let t0 = Instant::now();
        let taken = (0..40).filter(|_| r.accept(&u, t0).is_some()).count();
        assert_eq!(taken as u32, MAX_PER_WINDOW);
        let next = r.accept(&u, t0 + WINDOW).unwrap();
        assert_eq!(next.data["suppressed_before"], 40 - MAX_PER_WINDOW);
        assert_eq!(next.data["frame"], "main");
        assert!(r.accept(&u, t0 + WINDOW).unwrap().data.get("suppressed_before").is_none());
    }
}
