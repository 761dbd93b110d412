//! Windows (not built yet): the calls this implementation will make, so that the seam is fixed.
//!
//! - shortcuts: a low-level keyboard hook (`SetWindowsHookExW(WH_KEYBOARD_LL, ...)`) swallowing
//!   Alt+Tab, Alt+Esc, Ctrl+Esc and the Windows keys while the exam window is active; undone with
//!   `UnhookWindowsHookEx`. Narrator and NVDA keys pass through.
//! - clipboard: `OpenClipboard` + `EmptyClipboard`, then `AddClipboardFormatListener` to log
//!   `WM_CLIPBOARDUPDATE` from other programs; undone with `RemoveClipboardFormatListener`.
//! - windows over the exam: `SetWinEventHook(EVENT_SYSTEM_FOREGROUND, ...)` and
//!   `EnumWindows` z-order against the exam window; the exam window itself uses
//!   `SetWindowDisplayAffinity(WDA_EXCLUDEFROMCAPTURE)` (Tauri's `content_protected`).

use crate::{LockdownError, PlatformLockdown, Step};
use std::sync::Arc;
use vigil_spool::Timeline;

/// Until it is built, every step is refused (and recorded as `lockdown.unsupported`).
pub struct WindowsLockdown;

impl PlatformLockdown for WindowsLockdown {
    fn name(&self) -> &'static str {
        "windows"
    }
    fn grab_shortcuts(&mut self, _: &Arc<Timeline>) -> Result<Step, LockdownError> {
        Err(LockdownError::Unsupported { feature: "keyboard (WH_KEYBOARD_LL hook)" })
    }
    fn clear_clipboard(&mut self, _: &Arc<Timeline>, _: bool) -> Result<Step, LockdownError> {
        Err(LockdownError::Unsupported { feature: "clipboard (EmptyClipboard)" })
    }
    fn watch_windows_over(&mut self, _: &Arc<Timeline>, _: &str) -> Result<Step, LockdownError> {
        Err(LockdownError::Unsupported { feature: "window stacking (SetWinEventHook)" })
    }
}
