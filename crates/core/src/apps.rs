//! Prohibited applications: the rule type, Vigil's default lists (data files per OS), and the
//! matcher that decides whether a running executable is prohibited.
//!
//! A rule matches by the executable's *file name* and by its *full path*, case-insensitively, with
//! glob patterns (`*`, `?`, `[...]`). The kernel's process name (cut to 15 characters on Linux) is
//! only a fallback for processes whose executable cannot be read.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

/// One prohibited application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppRule {
    /// Stable identifier, used by `applications.allowed`.
    pub id: String,
    /// Name shown to the candidate.
    pub name: String,
    pub category: AppCategory,
    /// Globs on the executable file name (`anydesk*`).
    #[serde(default)]
    pub executables: Vec<String>,
    /// Globs on the full executable path (`*/AnyDesk.app/*`).
    #[serde(default)]
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppCategory {
    RemoteAccess,
    ScreenSharing,
    Meeting,
    Messenger,
    AiAssistant,
    VirtualMachine,
    Other,
}

/// Assistive technology a policy may never prohibit (screen readers, magnifiers, on-screen
/// keyboards and their speech services): a name for people and a typical executable path.
/// `vigil policy validate` refuses a rule that matches any of them, and a test holds the default
/// lists to the same. (Matching stays by name and path: a prohibited program renamed `orca` is
/// still flagged by its path or its own rule; nothing is exempted at run time.)
pub const ASSISTIVE_TECHNOLOGY: &[(&str, &str)] = &[
    ("Orca screen reader", "/usr/bin/orca"),
    ("Speech Dispatcher", "/usr/bin/speech-dispatcher"),
    ("Speech Dispatcher eSpeak NG module", "/usr/lib/speech-dispatcher-modules/sd_espeak-ng"),
    ("eSpeak NG", "/usr/bin/espeak-ng"),
    ("AT-SPI bus", "/usr/libexec/at-spi-bus-launcher"),
    ("AT-SPI registry", "/usr/libexec/at-spi2-registryd"),
    ("Onboard on-screen keyboard", "/usr/bin/onboard"),
    ("Florence on-screen keyboard", "/usr/bin/florence"),
    ("KMag magnifier", "/usr/bin/kmag"),
    ("NVDA screen reader", "C:/Program Files (x86)/NVDA/nvda.exe"),
    ("JAWS screen reader", "C:/Program Files/Freedom Scientific/JAWS/2025/jfw.exe"),
    ("ZoomText", "C:/Program Files/Freedom Scientific/ZoomText/2025/ZoomText.exe"),
    ("Narrator", "C:/Windows/System32/Narrator.exe"),
    ("Magnifier", "C:/Windows/System32/Magnify.exe"),
    ("On-Screen Keyboard", "C:/Windows/System32/osk.exe"),
    ("Touch keyboard", "C:/Program Files/Common Files/microsoft shared/ink/TabTip.exe"),
    ("VoiceOver", "/System/Library/CoreServices/VoiceOver.app/Contents/MacOS/VoiceOver"),
    ("Accessibility Keyboard", "/System/Library/Input Methods/Assistive Control.app/Contents/MacOS/Assistive Control"),
];

/// The name of the assistive technology a process is, by its executable path or, when that is
/// unreadable, its kernel name (at most 15 characters on Linux).
pub fn assistive_technology(exe: Option<&str>, process_name: &str) -> Option<&'static str> {
    ASSISTIVE_TECHNOLOGY.iter().find_map(|(name, path)| {
        let file = path.rsplit('/').next().unwrap_or(path);
        let matches = match exe {
            Some(exe) => exe.replace('\\', "/").eq_ignore_ascii_case(path),
            None => {
                !process_name.is_empty() && file.to_ascii_lowercase().starts_with(&process_name.to_ascii_lowercase())
            }
        };
        matches.then_some(*name)
    })
}

/// The assistive technology `matcher` would prohibit, if any.
pub fn prohibits_assistive_technology(matcher: &AppMatcher) -> Option<(&'static str, &'static str)> {
    ASSISTIVE_TECHNOLOGY.iter().copied().find(|(_, path)| {
        let file = path.rsplit('/').next().unwrap_or(path);
        matcher.find(Some(path), file).is_some() || matcher.find(None, file).is_some()
    })
}

/// Operating systems with a default list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    Linux,
    Windows,
    Macos,
}

impl Os {
    pub const ALL: [Os; 3] = [Os::Linux, Os::Windows, Os::Macos];

    /// The OS this binary was built for (Linux for anything not Windows or macOS).
    pub fn current() -> Os {
        if cfg!(target_os = "windows") {
            Os::Windows
        } else if cfg!(target_os = "macos") {
            Os::Macos
        } else {
            Os::Linux
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListFile {
    app: Vec<AppRule>,
}

/// The text of the built-in list for `os` (a TOML file with `[[app]]` entries).
pub fn default_list_text(os: Os) -> &'static str {
    match os {
        Os::Linux => include_str!("../data/prohibited-apps/linux.toml"),
        Os::Windows => include_str!("../data/prohibited-apps/windows.toml"),
        Os::Macos => include_str!("../data/prohibited-apps/macos.toml"),
    }
}

/// Vigil's built-in prohibited-application list for `os`.
pub fn default_list(os: Os) -> Vec<AppRule> {
    // The lists are compiled in and checked by this crate's tests, so a parse failure is a build bug.
    toml::from_str::<ListFile>(default_list_text(os))
        .map(|f| f.app)
        .unwrap_or_else(|e| panic!("built-in prohibited-apps list for {os:?} is invalid: {e}"))
}

impl AppRule {
    /// Ok, or (`.field` suffix, message) for the first problem.
    pub(crate) fn validate(&self) -> Result<(), (String, String)> {
        if self.id.trim().is_empty() {
            return Err((".id".into(), "must not be empty".into()));
        }
        if self.executables.is_empty() && self.paths.is_empty() {
            return Err((String::new(), format!("rule `{}` needs at least one of executables or paths", self.id)));
        }
        for (field, list) in [("executables", &self.executables), ("paths", &self.paths)] {
            for (i, pattern) in list.iter().enumerate() {
                glob(pattern).map_err(|e| (format!(".{field}[{i}]"), e))?;
            }
        }
        Ok(())
    }
}

fn glob(pattern: &str) -> Result<globset::Glob, String> {
    if pattern.trim().is_empty() {
        return Err("empty pattern".into());
    }
    GlobBuilder::new(&pattern.replace('\\', "/"))
        .case_insensitive(true)
        .literal_separator(false)
        .build()
        .map_err(|e| format!("invalid pattern `{pattern}`: {}", e.kind()))
}

/// How a process was matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    Executable,
    Path,
    ProcessName,
}

/// A prohibited-application rule that does not compile.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("application rule `{rule_id}`{field}: {message}")]
pub struct AppRuleError {
    pub rule_id: String,
    /// Within the rule: `.executables[0]`, `.paths[1]`.
    pub field: String,
    pub message: String,
}

/// Compiled rules, ready to test many processes quickly.
pub struct AppMatcher {
    rules: Vec<AppRule>,
    executables: GlobSet,
    exe_owner: Vec<usize>,
    paths: GlobSet,
    path_owner: Vec<usize>,
}

impl AppMatcher {
    /// Compiles `rules`. An invalid pattern is an error naming the rule and the pattern.
    pub fn new(rules: Vec<AppRule>) -> Result<AppMatcher, AppRuleError> {
        let (mut exe, mut exe_owner) = (GlobSetBuilder::new(), Vec::new());
        let (mut path, mut path_owner) = (GlobSetBuilder::new(), Vec::new());
        let err =
            |rule: &AppRule, field: String, message: String| AppRuleError { rule_id: rule.id.clone(), field, message };
        for (i, rule) in rules.iter().enumerate() {
            for (j, p) in rule.executables.iter().enumerate() {
                exe.add(glob(p).map_err(|m| err(rule, format!(".executables[{j}]"), m))?);
                exe_owner.push(i);
            }
            for (j, p) in rule.paths.iter().enumerate() {
                path.add(glob(p).map_err(|m| err(rule, format!(".paths[{j}]"), m))?);
                path_owner.push(i);
            }
        }
        let whole =
            |e: globset::Error| AppRuleError { rule_id: String::new(), field: String::new(), message: e.to_string() };
        Ok(AppMatcher {
            rules,
            executables: exe.build().map_err(whole)?,
            exe_owner,
            paths: path.build().map_err(whole)?,
            path_owner,
        })
    }

    pub fn rules(&self) -> &[AppRule] {
        &self.rules
    }

    /// The rule a process matches, if any. `exe_path` is the full executable path when readable;
    /// `process_name` is the kernel's (possibly truncated) name, used only when there is no path.
    pub fn find(&self, exe_path: Option<&str>, process_name: &str) -> Option<(&AppRule, MatchedBy)> {
        let first = |set: &GlobSet, owner: &[usize], s: &str| set.matches(s).first().map(|&m| owner[m]);
        match exe_path {
            Some(path) => {
                let path = path.replace('\\', "/");
                let file = path.rsplit('/').next().unwrap_or(&path);
                if let Some(i) = first(&self.executables, &self.exe_owner, file) {
                    return Some((&self.rules[i], MatchedBy::Executable));
                }
                first(&self.paths, &self.path_owner, &path).map(|i| (&self.rules[i], MatchedBy::Path))
            }
            None => first(&self.executables, &self.exe_owner, process_name)
                .map(|i| (&self.rules[i], MatchedBy::ProcessName)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assistive_technology_is_known_by_path_or_by_kernel_name() {
        assert_eq!(assistive_technology(Some("/usr/bin/orca"), "orca"), Some("Orca screen reader"));
        assert_eq!(assistive_technology(Some("C:\\Windows\\System32\\Narrator.exe"), "Narrator.exe"), Some("Narrator"));
        // A kernel name is cut to 15 characters; an unreadable path falls back to it.
        assert_eq!(assistive_technology(None, "speech-dispatch"), Some("Speech Dispatcher"));
        // Another program called orca elsewhere is not the screen reader.
        assert_eq!(assistive_technology(Some("/tmp/orca"), "orca"), None);
        assert_eq!(assistive_technology(Some("/usr/bin/bash"), "bash"), None);
        assert_eq!(assistive_technology(None, ""), None);
    }

    #[test]
    fn no_default_list_prohibits_assistive_technology() {
        for os in Os::ALL {
            let m = AppMatcher::new(default_list(os)).unwrap();
            assert_eq!(prohibits_assistive_technology(&m), None, "{os:?}");
        }
    }

    #[test]
    fn every_default_list_parses_and_compiles() {
        for os in Os::ALL {
            let rules = default_list(os);
            assert!(rules.len() >= 15, "{os:?} list is too short");
            for r in &rules {
                r.validate().unwrap_or_else(|e| panic!("{os:?} {}: {e:?}", r.id));
            }
            for cat in [
                AppCategory::RemoteAccess,
                AppCategory::ScreenSharing,
                AppCategory::Meeting,
                AppCategory::Messenger,
                AppCategory::AiAssistant,
                AppCategory::VirtualMachine,
            ] {
                assert!(rules.iter().any(|r| r.category == cat), "{os:?} has no {cat:?} entry");
            }
            AppMatcher::new(rules).unwrap();
        }
    }

    #[test]
    fn matches_by_file_name_case_insensitively_not_truncated_name() {
        let m = AppMatcher::new(default_list(Os::Linux)).unwrap();
        let (rule, by) = m.find(Some("/tmp/x/AnyDesk-remote-helper"), "AnyDesk-remote-").unwrap();
        assert_eq!((rule.id.as_str(), by), ("anydesk", MatchedBy::Executable));
        let (rule, _) = m.find(Some("/usr/bin/anydesk"), "anydesk").unwrap();
        assert_eq!(rule.id, "anydesk");
        assert!(m.find(Some("/usr/bin/sleep"), "sleep").is_none());
        assert!(m.find(Some("/usr/bin/bash"), "bash").is_none());
        // Without a readable path, the kernel name is the fallback.
        assert_eq!(m.find(None, "anydesk").unwrap().1, MatchedBy::ProcessName);
    }

    #[test]
    fn matches_by_path_with_windows_separators() {
        let m = AppMatcher::new(default_list(Os::Windows)).unwrap();
        let (rule, _) = m.find(Some(r"C:\Program Files\TeamViewer\TeamViewer.exe"), "TeamViewer.exe").unwrap();
        assert_eq!(rule.id, "teamviewer");
        let m = AppMatcher::new(default_list(Os::Macos)).unwrap();
        let (rule, by) = m.find(Some("/Applications/AnyDesk.app/Contents/MacOS/helper"), "helper").unwrap();
        assert_eq!((rule.id.as_str(), by), ("anydesk", MatchedBy::Path));
    }
}
