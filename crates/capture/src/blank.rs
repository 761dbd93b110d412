//! Screens that record only black. A capture can "work" and still show nothing: the root window
//! of Xwayland, a screen that is off, a desktop that blocks capture. Each screen track reports
//! whether each picture is dark; a screen dark for [`BLANK_AFTER_MS`] opens a
//! `capture.screen_blank` interval, and when every screen is, `capture.blind` (critical).

use crate::frame::{PixelFormat, VideoFrame};
use std::collections::BTreeMap;

/// How long a screen must stay dark before it is reported.
pub const BLANK_AFTER_MS: u64 = 10_000;

/// The brightest luma (0-255) a "black" picture may have anywhere: the limited-range black of 16
/// with room for encoder noise, far below any visible desktop, text or cursor.
const DARK_LUMA: u8 = 24;

/// Whether a picture is black everywhere (sampled on a grid of about 64x36 points and every
/// pixel of one row through the middle, so a small bright window or text still counts).
pub fn is_dark(frame: &VideoFrame) -> bool {
    let (w, h) = (frame.width as usize, frame.height as usize);
    if w == 0 || h == 0 {
        return true;
    }
    let luma = |x: usize, y: usize| -> u8 {
        let i = y * w + x;
        let px = |bpp: usize, r: usize, g: usize, b: usize| {
            let p = &frame.data[i * bpp..];
            ((u32::from(p[r]) * 77 + u32::from(p[g]) * 150 + u32::from(p[b]) * 29) >> 8) as u8
        };
        match frame.format {
            PixelFormat::I420 => frame.data[i],
            PixelFormat::Rgb8 => px(3, 0, 1, 2),
            PixelFormat::Rgba8 => px(4, 0, 1, 2),
            PixelFormat::Bgrx8 => px(4, 2, 1, 0),
        }
    };
    if frame.data.len() < frame.format.frame_len(w, h) {
        return true;
    }
    let (sx, sy) = ((w / 64).max(1), (h / 36).max(1));
    let grid = (0..h).step_by(sy).all(|y| (0..w).step_by(sx).all(|x| luma(x, y) <= DARK_LUMA));
    grid && (0..w).all(|x| luma(x, h / 2) <= DARK_LUMA)
}

/// What changed, for the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `source` has been dark since `since_ms`.
    Blank { source: String, since_ms: u64 },
    /// `source` shows a picture again after `blank_ms` of black.
    Visible { source: String, blank_ms: u64 },
    /// Every screen is dark: these.
    Blind { screens: Vec<String> },
    /// A screen shows a picture again after `blind_ms` with none.
    Sighted { blind_ms: u64 },
}

#[derive(Debug, Default)]
struct Screen {
    dark_since: Option<u64>,
    reported: bool,
}

/// The dark state of every screen track, shared by their encoder threads.
#[derive(Debug, Default)]
pub struct BlankWatch {
    screens: BTreeMap<String, Screen>,
    blind_since: Option<u64>,
    /// Every screen was dark at some point (the recording is not what was asked).
    pub ever_blind: bool,
}

impl BlankWatch {
    /// A picture of `source` at `at_ms`, dark or not.
    pub fn frame(&mut self, source: &str, dark: bool, at_ms: u64) -> Vec<Change> {
        let mut changes = Vec::new();
        let screen = self.screens.entry(source.to_owned()).or_default();
        match (dark, screen.dark_since) {
            (true, None) => screen.dark_since = Some(at_ms),
            (true, Some(since)) if !screen.reported && at_ms.saturating_sub(since) >= BLANK_AFTER_MS => {
                screen.reported = true;
                changes.push(Change::Blank { source: source.to_owned(), since_ms: since });
            }
            (false, Some(since)) => {
                if screen.reported {
                    changes.push(Change::Visible { source: source.to_owned(), blank_ms: at_ms.saturating_sub(since) });
                }
                *screen = Screen::default();
            }
            _ => {}
        }
        changes.extend(self.blind_change(at_ms));
        changes
    }

    /// `source`'s track ended (its monitor was unplugged): it no longer counts.
    pub fn gone(&mut self, source: &str, at_ms: u64) -> Vec<Change> {
        self.screens.remove(source);
        self.blind_change(at_ms).into_iter().collect()
    }

    /// `source`'s track ended while its monitor is still there (screen sharing stopped, the
    /// capture failed): it counts as a screen Vigil cannot see, at once.
    pub fn lost(&mut self, source: &str, at_ms: u64) -> Vec<Change> {
        self.screens.insert(source.to_owned(), Screen { dark_since: Some(at_ms), reported: true });
        self.blind_change(at_ms).into_iter().collect()
    }

    fn blind_change(&mut self, at_ms: u64) -> Option<Change> {
        let blind = !self.screens.is_empty() && self.screens.values().all(|s| s.reported);
        match (blind, self.blind_since) {
            (true, None) => {
                self.blind_since = Some(at_ms);
                self.ever_blind = true;
                Some(Change::Blind { screens: self.screens.keys().cloned().collect() })
            }
            (false, Some(since)) => {
                self.blind_since = None;
                Some(Change::Sighted { blind_ms: at_ms.saturating_sub(since) })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn frame(w: u32, h: u32, fill: u8, dot: Option<(usize, usize)>) -> VideoFrame {
        let mut data = vec![fill; (w * h * 4) as usize];
        if let Some((x, y)) = dot {
            let i = (y * w as usize + x) * 4;
            data[i..i + 3].copy_from_slice(&[255, 255, 255]);
        }
        VideoFrame { width: w, height: h, format: PixelFormat::Bgrx8, data, captured: Duration::ZERO, unchanged: false }
    }

    #[test]
    fn black_is_dark_and_a_desktop_or_one_line_of_text_is_not() {
        assert!(is_dark(&frame(1920, 1080, 0, None)));
        assert!(is_dark(&frame(1920, 1080, 16, None)));
        assert!(!is_dark(&frame(1920, 1080, 60, None)));
        // One bright pixel on the middle row (a line of text across a black terminal).
        assert!(!is_dark(&frame(1920, 1080, 0, Some((1001, 540)))));
    }

    #[test]
    fn a_screen_dark_for_ten_seconds_is_reported_once_and_every_screen_dark_is_blind() {
        let mut w = BlankWatch::default();
        assert!(w.frame("screen-0", true, 0).is_empty());
        assert!(w.frame("screen-1", false, 0).is_empty());
        assert!(w.frame("screen-0", true, 9_999).is_empty());
        assert_eq!(w.frame("screen-0", true, 10_000), [Change::Blank { source: "screen-0".into(), since_ms: 0 }]);
        assert!(w.frame("screen-0", true, 12_000).is_empty());
        assert!(!w.ever_blind);
        // The second screen goes dark too: both reported, then blind.
        assert!(w.frame("screen-1", true, 12_000).is_empty());
        let changes = w.frame("screen-1", true, 22_000);
        assert_eq!(
            changes,
            [
                Change::Blank { source: "screen-1".into(), since_ms: 12_000 },
                Change::Blind { screens: vec!["screen-0".into(), "screen-1".into()] }
            ]
        );
        assert!(w.ever_blind);
        // One comes back.
        assert_eq!(
            w.frame("screen-0", false, 25_000),
            [Change::Visible { source: "screen-0".into(), blank_ms: 25_000 }, Change::Sighted { blind_ms: 3_000 }]
        );
        // A short dark moment (a blink, a mode switch) is nothing.
        assert!(w.frame("screen-0", true, 26_000).is_empty());
        assert!(w.frame("screen-0", false, 27_000).is_empty());
    }

    #[test]
    fn a_lost_screen_counts_as_unseen_at_once() {
        let mut w = BlankWatch::default();
        w.frame("screen-0", false, 0);
        w.frame("screen-1", false, 0);
        assert!(w.lost("screen-0", 1_000).is_empty(), "the other screen still shows a picture");
        assert_eq!(w.lost("screen-1", 2_000), [Change::Blind { screens: vec!["screen-0".into(), "screen-1".into()] }]);
        assert!(w.ever_blind);
    }

    #[test]
    fn an_unplugged_screen_no_longer_counts() {
        let mut w = BlankWatch::default();
        w.frame("screen-0", false, 0);
        w.frame("screen-1", true, 0);
        w.frame("screen-1", true, 10_000);
        assert_eq!(w.gone("screen-0", 11_000), [Change::Blind { screens: vec!["screen-1".into()] }]);
    }
}
