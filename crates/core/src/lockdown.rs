//! The policy's lockdown section: what happens during the exam. Navigation rules for the exam
//! window, what to do about prohibited applications, the quit password, keyboard and clipboard.

use serde::{Deserialize, Serialize};

/// `[lockdown]` in a policy. Every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lockdown {
    /// What to do when a prohibited application runs during the exam.
    pub prohibited_app_action: AppAction,
    /// Argon2id hash (a PHC string from `vigil policy hash-password`) of the password with which
    /// a proctor in the room ends the exam early: the exam window closes, recording stops and what
    /// was recorded is delivered, with an `exam.quit_with_password` event. None: only finishing
    /// the exam closes it.
    pub quit_password: Option<String>,
    /// On X11: take Alt+Tab, Super and similar shortcuts while the exam window is active.
    pub grab_keyboard: bool,
    /// Copy and paste in the exam window.
    pub clipboard: ClipboardRule,
    /// Where the exam window may go. With no `allow` rule, the exam page's own origin is allowed.
    pub navigation: Navigation,
    /// Exam window full screen, always on top, without decorations.
    pub fullscreen: bool,
}

impl Default for Lockdown {
    fn default() -> Self {
        Lockdown {
            prohibited_app_action: AppAction::Warn,
            quit_password: None,
            grab_keyboard: true,
            clipboard: ClipboardRule::Block,
            navigation: Navigation::default(),
            fullscreen: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppAction {
    /// An event for the proctor and a warning for the candidate.
    Warn,
    /// As `warn`, and the exam cannot go on until the application is closed.
    RequireClose,
    /// Vigil ends the application (SIGTERM), with an event.
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClipboardRule {
    /// Cleared at the start; copying out of and pasting into the exam are blocked and logged.
    Block,
    /// Cleared at the start; copy and paste work and are logged.
    Log,
    Allow,
}

/// Where the exam window may go: rules on parsed URLs (see [`crate::url_rules`] and the README).
/// A block rule beats an allow rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Navigation {
    pub allow: Vec<String>,
    pub block: Vec<String>,
}

/// Whether `password` is the quit password whose hash the policy holds.
pub fn quit_password_matches(lockdown: &Lockdown, password: &str) -> bool {
    lockdown.quit_password.as_deref().is_some_and(|phc| crate::quit_password::verify(phc, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quit_password_is_checked_by_its_argon2_hash() {
        let mut l = Lockdown::default();
        assert!(!quit_password_matches(&l, ""), "no password set: never");
        l.quit_password = Some(crate::quit_password::hash("proctor 2026 in room 4").unwrap());
        assert!(quit_password_matches(&l, "proctor 2026 in room 4"));
        assert!(!quit_password_matches(&l, "proctor2026"));
    }
}
