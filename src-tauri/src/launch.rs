//! How the app was started: a `vigil://join?...` deep link on the command line, a provisioning
//! file from IT, and the candidate's language.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Values the join screen starts with.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Launch {
    pub server: Option<String>,
    pub server_key: Option<String>,
    pub exam_code: Option<String>,
    /// `en`, `ru` or `kk`.
    pub language: String,
    /// Where the values came from: `provisioning` (IT's file) or `link` (a join link).
    pub source: Option<String>,
    /// A problem with the link or the provisioning file, for the join screen to show: a stable
    /// code (`launch.bad_link`, `launch.insecure_link`, `launch.other_server`,
    /// `launch.bad_provisioning`; translated in the UI) and the details.
    pub problem_code: Option<&'static str>,
    pub problem: Option<String>,
    /// The server and its key come from IT's provisioning file: the join screen shows them
    /// read-only and `join` refuses any other.
    pub provisioned: bool,
    /// IT allowed plain `http://` to a server on another machine (`insecure_http = true` in the
    /// provisioning file; test networks only).
    pub insecure_http: bool,
}

/// `/etc/vigil/provisioning.toml`: what IT deploys with the app. The candidate's environment
/// cannot point elsewhere: `VIGIL_PROVISIONING` is read by debug builds (development and tests)
/// only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Provisioning {
    server: String,
    server_key: String,
    exam_code: Option<String>,
    #[serde(default)]
    insecure_http: bool,
}

pub const DEFAULT_PROVISIONING: &str = "/etc/vigil/provisioning.toml";

/// Reads the launch values from the arguments, the provisioning file and the locale.
pub fn read(args: &[String], provisioning: Option<PathBuf>, locale: Option<String>) -> Launch {
    let mut l = Launch { language: language(locale.as_deref()), ..Default::default() };
    let file = provisioning.unwrap_or_else(|| PathBuf::from(DEFAULT_PROVISIONING));
    if file.exists() {
        match read_provisioning(&file) {
            Ok(p) => {
                l.server = Some(p.server);
                l.server_key = Some(p.server_key);
                l.exam_code = p.exam_code;
                l.insecure_http = p.insecure_http;
                l.source = Some("provisioning".into());
                l.provisioned = true;
            }
            Err(e) => l.fail("launch.bad_provisioning", e),
        }
    }
    if let Some(link) = args.iter().find(|a| a.starts_with("vigil:")) {
        match parse_link(link) {
            Ok((server, code, key)) => {
                // On a provisioned machine the link may name the exam, not another server.
                if l.server.as_ref().is_some_and(|s| {
                    server
                        .as_ref()
                        .is_some_and(|link_server| link_server.trim_end_matches('/') != s.trim_end_matches('/'))
                }) {
                    let pinned = l.server.clone().unwrap_or_default();
                    l.fail(
                        "launch.other_server",
                        format!("the join link names another server than this computer is set up for ({pinned})"),
                    );
                } else if !l.provisioned && server.as_deref().is_some_and(|s| !is_secure(s)) {
                    l.fail(
                        "launch.insecure_link",
                        format!("the join link's server {} is not https://", server.as_deref().unwrap_or_default()),
                    );
                } else {
                    if l.server.is_none() {
                        l.server = server;
                        l.server_key = key;
                    }
                    l.exam_code = code.or(l.exam_code);
                    l.source = Some("link".into());
                }
            }
            Err(e) => l.fail("launch.bad_link", e),
        }
    }
    l
}

impl Launch {
    fn fail(&mut self, code: &'static str, detail: impl Into<String>) {
        self.problem_code = Some(code);
        self.problem = Some(detail.into());
    }
}

/// `https://`, or `http://` to this machine.
fn is_secure(server: &str) -> bool {
    tauri::Url::parse(server)
        .is_ok_and(|u| u.scheme() == "https" || (u.scheme() == "http" && vigil_core::is_loopback(&u)))
}

fn read_provisioning(path: &Path) -> Result<Provisioning, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{} is not a valid provisioning file: {}", path.display(), e.message()))
}

/// What a join link names: (server, code, key).
type LinkParts = (Option<String>, Option<String>, Option<String>);

/// `vigil://join?server=URL&code=CODE[&key=BASE64]` -> (server, code, key).
fn parse_link(link: &str) -> Result<LinkParts, String> {
    let url = tauri::Url::parse(link).map_err(|e| format!("the join link is not a valid address: {e}"))?;
    if url.scheme() != "vigil" || url.host_str() != Some("join") {
        return Err("the join link must start with vigil://join?".into());
    }
    let get = |name: &str| {
        url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_owned()).filter(|v| !v.is_empty())
    };
    let server = get("server");
    if let Some(s) = &server {
        let parsed = tauri::Url::parse(s).map_err(|_| format!("the join link's server `{s}` is not an address"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("the join link's server `{s}` must be http(s)"));
        }
    }
    Ok((server, get("code"), get("key")))
}

/// `ru_RU.UTF-8` -> `ru`; Kazakh -> `kk`; anything else -> `en`.
pub fn language(locale: Option<&str>) -> String {
    let tag = locale.unwrap_or("").to_ascii_lowercase();
    for lang in ["ru", "kk"] {
        if tag.starts_with(lang) {
            return lang.into();
        }
    }
    "en".into()
}

/// The locale from the environment, as POSIX orders it.
pub fn env_locale() -> Option<String> {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty() && v != "C" && v != "POSIX")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_join_link_fills_server_code_and_key() {
        let l = read(
            &args(&["vigil-app", "vigil://join?server=http%3A%2F%2F127.0.0.1%3A8470&code=MATH-1&key=abc"]),
            Some("/nonexistent".into()),
            Some("kk_KZ.UTF-8".into()),
        );
        assert_eq!(l.server.as_deref(), Some("http://127.0.0.1:8470"));
        assert_eq!(l.exam_code.as_deref(), Some("MATH-1"));
        assert_eq!(l.server_key.as_deref(), Some("abc"));
        assert_eq!(l.language, "kk");
        assert_eq!(l.problem, None);
    }

    #[test]
    fn a_link_to_a_plain_http_server_elsewhere_is_refused() {
        let l = read(
            &args(&["vigil://join?server=http%3A%2F%2Fexam.example&code=A&key=K"]),
            Some("/nonexistent".into()),
            None,
        );
        assert_eq!(l.problem_code, Some("launch.insecure_link"));
        assert_eq!((l.server, l.server_key), (None, None), "nothing from a refused link is filled in");
        let l = read(
            &args(&["vigil://join?server=https%3A%2F%2Fexam.example&code=A&key=K"]),
            Some("/nonexistent".into()),
            None,
        );
        assert_eq!((l.problem_code, l.server.as_deref()), (None, Some("https://exam.example")));
        assert!(!l.provisioned);
    }

    #[test]
    fn a_broken_link_is_a_problem_not_a_crash() {
        let l = read(&args(&["vigil://other?x"]), Some("/nonexistent".into()), None);
        assert!(l.problem.unwrap().contains("vigil://join"));
        let l = read(&args(&["vigil://join?server=ftp://x&code=A"]), Some("/nonexistent".into()), None);
        assert!(l.problem.unwrap().contains("http(s)"));
    }

    #[test]
    fn provisioning_pins_the_server_and_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        std::fs::write(&file, "server = \"https://exam.example\"\nserver_key = \"KEY\"\n").unwrap();
        let l = read(&args(&["vigil://join?code=C1&key=OTHER"]), Some(file.clone()), Some("ru_RU.UTF-8".into()));
        assert_eq!(
            (l.server.as_deref(), l.server_key.as_deref(), l.exam_code.as_deref()),
            (Some("https://exam.example"), Some("KEY"), Some("C1"))
        );
        assert_eq!(l.language, "ru");
        assert!(l.provisioned);
        let l = read(&args(&["vigil://join?server=https://evil.example&code=C1&key=EVIL"]), Some(file.clone()), None);
        assert_eq!(l.server_key.as_deref(), Some("KEY"));
        assert_eq!(l.problem_code, Some("launch.other_server"));
        assert!(l.problem.unwrap().contains("another server"));
        std::fs::write(&file, "server = 1").unwrap();
        assert!(read(&[], Some(file), None).problem.unwrap().contains("not a valid provisioning file"));
    }
}
