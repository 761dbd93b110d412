//! A policy compiled once, when a session opens: the prohibited-application matcher for this
//! OS, the exam window's URL rules and the encryption recipient. Everyone who needs them (the
//! watchers, the exam window, the recorder, identity photos) borrows them from here instead of
//! parsing the policy again. A policy that does not compile stops the session before capture,
//! with an error naming the field.

use crate::apps::{AppMatcher, Os};
use crate::policy::{ExamPolicy, PolicyError};
use crate::url_rules::UrlRules;
use std::sync::Arc;

/// An age X25519 recipient (`age1...`), the public half of the exam's key.
pub type Recipient = age::x25519::Recipient;

/// A string that is not an age X25519 recipient.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{0}` is not an age X25519 recipient (age1...)")]
pub struct BadRecipient(pub String);

/// Parses an age X25519 recipient.
pub fn parse_recipient(recipient: &str) -> Result<Recipient, BadRecipient> {
    recipient.trim().parse().map_err(|_| BadRecipient(recipient.to_owned()))
}

/// The exam's policy with everything derived from it built.
pub struct CompiledPolicy {
    pub policy: ExamPolicy,
    /// Prohibited applications on this OS.
    pub apps: AppMatcher,
    /// The exam window's navigation rules (the exam page's origin when the policy allows none).
    pub navigation: UrlRules,
    /// Where segments and photos are encrypted to (`encrypt_to`).
    pub recipient: Option<Arc<Recipient>>,
}

impl std::fmt::Debug for CompiledPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledPolicy").field("name", &self.policy.name).finish_non_exhaustive()
    }
}

impl CompiledPolicy {
    /// Compiles `policy` for `os`, with `exam_url` as the exam page. Errors name the field.
    pub fn compile(policy: ExamPolicy, os: Os, exam_url: Option<&str>) -> Result<CompiledPolicy, PolicyError> {
        let apps = AppMatcher::new(policy.prohibited_apps(os)).map_err(|e| {
            let own = policy.applications.prohibited.iter().position(|r| r.id.eq_ignore_ascii_case(&e.rule_id));
            let field = match own {
                Some(i) => format!("applications.prohibited[{i}]{}", e.field),
                None => "applications.use_default_list".to_owned(),
            };
            PolicyError { field: Some(field), message: e.message.clone() }
        })?;
        let navigation = UrlRules::new(&policy.lockdown.navigation, exam_url).map_err(|e| PolicyError {
            field: Some(format!("lockdown.navigation.{}[{}]", e.list, e.index)),
            message: format!("invalid pattern `{}`: {}", e.pattern, e.message),
        })?;
        let recipient = match &policy.encrypt_to {
            Some(r) => Some(Arc::new(
                parse_recipient(r)
                    .map_err(|e| PolicyError { field: Some("encrypt_to".into()), message: e.to_string() })?,
            )),
            None => None,
        };
        Ok(CompiledPolicy { policy, apps, navigation, recipient })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Format;

    #[test]
    fn a_glob_that_does_not_compile_names_its_field() {
        // Built by hand: `parse` would refuse it, a foreign backend might not.
        let mut policy = ExamPolicy::default();
        policy.applications.prohibited.push(crate::apps::AppRule {
            id: "broken".into(),
            name: "Broken".into(),
            category: crate::apps::AppCategory::Other,
            executables: vec!["ok".into(), "[unclosed".into()],
            paths: vec![],
        });
        let e = CompiledPolicy::compile(policy, Os::Linux, None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("applications.prohibited[0].executables[1]"));
    }

    #[test]
    fn compiles_the_default_policy_and_the_exam_origin() {
        let p = ExamPolicy::parse("schema = 1", Format::Toml).unwrap();
        let c = CompiledPolicy::compile(p, Os::Linux, Some("https://lms.example.org/quiz/1")).unwrap();
        assert!(c.apps.rules().iter().any(|r| r.id == "anydesk"));
        assert!(matches!(c.navigation.decide("https://lms.example.org/quiz/2"), crate::url_rules::Decision::Allow(_)));
        assert!(c.recipient.is_none());
    }
}
