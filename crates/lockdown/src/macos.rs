//! macOS (not built yet): the calls this implementation will make, so that the seam is fixed.
//!
//! - shortcuts and other apps: an Automatic Assessment Configuration session
//!   (`AEAssessmentSession` with `AEAssessmentConfiguration`), which blocks app switching,
//!   screenshots and most system shortcuts; undone with `-[AEAssessmentSession end]`. VoiceOver
//!   keeps working in an assessment session.
//! - clipboard: `NSPasteboard.generalPasteboard.clearContents`, then watching `changeCount`.
//! - windows over the exam: `CGWindowListCopyWindowInfo(kCGWindowListOptionOnScreenAboveWindow,
//!   examWindowNumber)`; the exam window itself uses `NSWindow.sharingType = .none` (Tauri's
//!   `content_protected`).

use crate::{LockdownError, PlatformLockdown, Step};
use std::sync::Arc;
use vigil_spool::Timeline;

/// Until it is built, every step is refused (and recorded as `lockdown.unsupported`).
pub struct MacosLockdown;

impl PlatformLockdown for MacosLockdown {
    fn name(&self) -> &'static str {
        "macos"
    }
    fn grab_shortcuts(&mut self, _: &Arc<Timeline>) -> Result<Step, LockdownError> {
        Err(LockdownError::Unsupported { feature: "keyboard (AEAssessmentSession)" })
    }
    fn clear_clipboard(&mut self, _: &Arc<Timeline>, _: bool) -> Result<Step, LockdownError> {
        Err(LockdownError::Unsupported { feature: "clipboard (NSPasteboard)" })
    }
    fn watch_windows_over(&mut self, _: &Arc<Timeline>, _: &str) -> Result<Step, LockdownError> {
        Err(LockdownError::Unsupported { feature: "window stacking (CGWindowListCopyWindowInfo)" })
    }
}
