//! The policy's lockdown section: what happens during the exam. Navigation rules for the exam
//! window, what to do about prohibited applications, the quit password, keyboard and clipboard.

use serde::{Deserialize, Serialize};

/// `[lockdown]` in a policy. Every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lockdown {
    /// What to do when a prohibited application runs during the exam.
    pub prohibited_app_action: AppAction,
    /// SHA-256 (hex) of the password that closes the exam window without finishing (for a
    /// proctor in the room). None: only finishing the exam closes it.
    pub quit_password_sha256: Option<String>,
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
            quit_password_sha256: None,
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

/// URL rules: glob patterns on `scheme://host/path` (`*` any run of characters, `?` one).
/// A block rule beats an allow rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Navigation {
    pub allow: Vec<String>,
    pub block: Vec<String>,
}

/// A navigation decision and the rule that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow(String),
    Block(String),
}

/// Compiled navigation rules for one exam.
pub struct UrlRules {
    allow: Vec<(String, globset::GlobMatcher)>,
    block: Vec<(String, globset::GlobMatcher)>,
}

/// A navigation rule that does not compile: `lockdown.navigation.{list}[{index}]`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("lockdown.navigation.{list}[{index}]: invalid pattern `{pattern}`: {message}")]
pub struct UrlRuleError {
    pub list: &'static str,
    pub index: usize,
    pub pattern: String,
    pub message: String,
}

fn compile(list: &'static str, patterns: &[String]) -> Result<Vec<(String, globset::GlobMatcher)>, UrlRuleError> {
    patterns
        .iter()
        .enumerate()
        .map(|(index, p)| {
            globset::GlobBuilder::new(p)
                .case_insensitive(true)
                .literal_separator(false)
                .build()
                .map(|g| (p.clone(), g.compile_matcher()))
                .map_err(|e| UrlRuleError { list, index, pattern: p.clone(), message: e.kind().to_string() })
        })
        .collect()
}

/// `scheme://host/path` of a URL (no port, query or fragment), lower-case scheme and host.
pub fn match_target(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or(host)
    } else {
        host.split(':').next().unwrap_or(host)
    };
    let path_and_more = &rest[end..];
    let path = path_and_more.split(['?', '#']).next().unwrap_or("");
    let path = if path.is_empty() { "/" } else { path };
    Some(format!("{}://{}{}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase(), path))
}

impl UrlRules {
    /// Compiles `nav`; with no allow rule, `exam_url`'s origin (`scheme://host/*`) is allowed.
    pub fn new(nav: &Navigation, exam_url: Option<&str>) -> Result<UrlRules, UrlRuleError> {
        let mut allow = nav.allow.clone();
        if allow.is_empty() {
            if let Some(target) = exam_url.and_then(match_target) {
                let origin = target.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
                allow.push(format!("{origin}/*"));
            }
        }
        Ok(UrlRules { allow: compile("allow", &allow)?, block: compile("block", &nav.block)? })
    }

    /// Whether the exam window may open `url`. Internal pages (`about:blank`) are allowed.
    pub fn decide(&self, url: &str) -> Decision {
        if url == "about:blank" {
            return Decision::Allow("about:blank".into());
        }
        let Some(target) = match_target(url) else { return Decision::Block("not a web address".into()) };
        if let Some((p, _)) = self.block.iter().find(|(_, g)| g.is_match(&target)) {
            return Decision::Block(p.clone());
        }
        match self.allow.iter().find(|(_, g)| g.is_match(&target)) {
            Some((p, _)) => Decision::Allow(p.clone()),
            None => Decision::Block("no allow rule matches".into()),
        }
    }
}

/// Whether `password` is the quit password whose SHA-256 the policy holds.
pub fn quit_password_matches(lockdown: &Lockdown, password: &str) -> bool {
    use sha2::Digest;
    match &lockdown.quit_password_sha256 {
        Some(hash) => hex::encode(sha2::Sha256::digest(password.as_bytes())).eq_ignore_ascii_case(hash.trim()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(allow: &[&str], block: &[&str], exam: Option<&str>) -> UrlRules {
        let nav = Navigation {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            block: block.iter().map(|s| s.to_string()).collect(),
        };
        UrlRules::new(&nav, exam).unwrap()
    }

    #[test]
    fn the_exam_origin_is_allowed_by_default_and_nothing_else() {
        let r = rules(&[], &[], Some("https://Exam.Example.org:8443/test/1?x=y"));
        assert!(matches!(r.decide("https://exam.example.org/test/2"), Decision::Allow(_)));
        assert!(matches!(r.decide("https://exam.example.org"), Decision::Allow(_)));
        assert!(matches!(r.decide("https://google.com/search?q=answer"), Decision::Block(_)));
        assert!(matches!(r.decide("http://exam.example.org/test"), Decision::Block(_)), "another scheme");
        assert!(matches!(r.decide("https://exam.example.org.evil.com/"), Decision::Block(_)));
    }

    #[test]
    fn a_block_rule_beats_an_allow_rule() {
        let r = rules(&["https://*.example.org/*"], &["*://*/admin/*"], None);
        assert!(matches!(r.decide("https://lms.example.org/quiz"), Decision::Allow(_)));
        assert_eq!(r.decide("https://lms.example.org/admin/grades"), Decision::Block("*://*/admin/*".into()));
        assert!(matches!(r.decide("https://user:pw@lms.example.org/quiz#top"), Decision::Allow(_)));
        assert!(matches!(r.decide("file:///etc/passwd"), Decision::Block(_)));
        assert!(matches!(r.decide("javascript:alert(1)"), Decision::Block(_)));
    }

    #[test]
    fn quit_password_is_checked_by_hash() {
        let mut l = Lockdown::default();
        assert!(!quit_password_matches(&l, ""), "no password set: never");
        l.quit_password_sha256 = Some("5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D1542D8".into()); // "password"
        assert!(quit_password_matches(&l, "password"));
        assert!(!quit_password_matches(&l, "Password"));
    }
}
