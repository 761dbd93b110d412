//! Navigation rules for the exam window, matched on parsed URLs, never on flat strings.
//!
//! A rule is `SCHEME://HOST[:PORT]/PATH`:
//! - `SCHEME` is `https`, `http`, or `*` (either of those two, nothing else);
//! - `HOST` is matched label by label, case-insensitively, after IDNA (`пример.рф` and
//!   `xn--e1afmkfd.xn--p1ai` are the same host): `*` stands for characters within one label and
//!   never crosses a `.`; a leading `**.` stands for one or more labels (any depth of subdomain,
//!   not the bare domain);
//! - `PORT`, when given, must be the URL's port (or its scheme's default); without it any port;
//! - `PATH` is matched segment by segment: `*` never crosses a `/`, `**` does; `?` is one
//!   character; paths are case-sensitive and compared percent-encoded, after `.` and `..` are
//!   resolved. Query and fragment are ignored.
//!
//! Any other scheme (`data:`, `javascript:`, `file:`, ...) is blocked unless a rule names it
//! exactly, as `SCHEME:PATTERN` over the rest of the URL (`data:**`). A `blob:` URL is decided by
//! the URL inside it (its origin and path). `about:blank` is always allowed. A block rule beats an
//! allow rule.

use std::fmt;

/// A navigation decision and the rule that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow(String),
    Block(String),
}

/// A navigation rule that does not compile: `lockdown.navigation.{list}[{index}]`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("lockdown.navigation.{list}[{index}]: invalid rule `{pattern}`: {message}")]
pub struct UrlRuleError {
    pub list: &'static str,
    pub index: usize,
    pub pattern: String,
    pub message: String,
}

/// One compiled rule.
#[derive(Debug, Clone)]
enum Rule {
    Web {
        schemes: &'static [&'static str],
        host: String,
        port: Option<u16>,
        path: String,
    },
    /// A non-web scheme named exactly, with a pattern over the rest of the URL.
    Other {
        scheme: String,
        rest: String,
    },
}

impl Rule {
    fn parse(text: &str) -> Result<Rule, String> {
        let text = text.trim();
        let Some((scheme, rest)) = text.split_once(':') else {
            return Err("a rule needs a scheme: `https://HOST/PATH`".into());
        };
        let scheme = scheme.to_ascii_lowercase();
        let schemes: &'static [&'static str] = match scheme.as_str() {
            "https" => &["https"],
            "http" => &["http"],
            "*" => &["http", "https"],
            s if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) => {
                return Ok(Rule::Other { scheme, rest: rest.to_owned() });
            }
            _ => return Err(format!("`{scheme}` is not a scheme")),
        };
        let Some(rest) = rest.strip_prefix("//") else {
            return Err(format!("expected `{scheme}://HOST/PATH`"));
        };
        let (authority, path) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        if authority.contains('@') || rest.contains(['?', '#']) {
            return Err("a rule has no user, query or fragment".into());
        }
        // `[v6]:port`, `host:port`, or either without the port.
        let split_at = match authority.rfind(']') {
            Some(end) => authority[end..].find(':').map(|n| end + n),
            None => authority.rfind(':'),
        };
        let (host, port) = match split_at {
            Some(at) => {
                let p = &authority[at + 1..];
                (&authority[..at], Some(p.parse::<u16>().map_err(|_| format!("`{p}` is not a port"))?))
            }
            None => (authority, None),
        };
        if host.is_empty() {
            return Err("the host is empty".into());
        }
        Ok(Rule::Web { schemes, host: normalize_host(host)?, port, path: path.to_owned() })
    }

    fn matches(&self, url: &url::Url) -> bool {
        match self {
            Rule::Web { schemes, host, port, path } => {
                let Some(url_host) = url.host_str() else { return false };
                schemes.contains(&url.scheme())
                    && glob(host.as_bytes(), url_host.as_bytes(), b'.')
                    && port.is_none_or(|p| url.port_or_known_default() == Some(p))
                    && glob(path.as_bytes(), url.path().as_bytes(), b'/')
            }
            Rule::Other { scheme, rest } => {
                url.scheme() == scheme
                    && glob(rest.as_bytes(), &url[url::Position::AfterScheme..].as_bytes()[1..], b'/')
            }
        }
    }
}

/// The host as URLs carry it: a whole host is parsed like a URL's (IDNA, IPv4, `[v6]`); with
/// wildcards, each label is lower-cased, and IDNA-encoded when it is not ASCII.
fn normalize_host(host: &str) -> Result<String, String> {
    if !host.contains(['*', '?']) {
        return url::Host::parse(host).map(|h| h.to_string()).map_err(|e| format!("host `{host}`: {e}"));
    }
    let labels: Result<Vec<String>, String> = host
        .split('.')
        .map(|label| {
            if label.is_ascii() {
                Ok(label.to_ascii_lowercase())
            } else {
                url::Host::parse(label).map(|h| h.to_string()).map_err(|e| format!("host label `{label}`: {e}"))
            }
        })
        .collect();
    Ok(labels?.join("."))
}

/// Wildcard match where `*` and `?` never cross `sep`, and `**` does. Exact bytes otherwise:
/// hosts are lower case on both sides already, and paths are case-sensitive (a block rule on
/// `/admin/**` must not be dodged by `/Admin/`).
fn glob(pattern: &[u8], text: &[u8], sep: u8) -> bool {
    // memo[p][t]: whether pattern[p..] matches text[t..]; patterns and URLs are short.
    let mut memo = vec![None; (pattern.len() + 1) * (text.len() + 1)];
    glob_at(pattern, text, sep, 0, 0, &mut memo)
}

fn glob_at(p: &[u8], t: &[u8], sep: u8, pi: usize, ti: usize, memo: &mut [Option<bool>]) -> bool {
    let key = pi * (t.len() + 1) + ti;
    if let Some(known) = memo[key] {
        return known;
    }
    let result = match p.get(pi) {
        None => ti == t.len(),
        Some(b'*') if p.get(pi + 1) == Some(&b'*') => (ti..=t.len()).any(|end| glob_at(p, t, sep, pi + 2, end, memo)),
        Some(b'*') => {
            let stop = t[ti..].iter().position(|&c| c == sep).map_or(t.len(), |n| ti + n);
            (ti..=stop).any(|end| glob_at(p, t, sep, pi + 1, end, memo))
        }
        Some(b'?') => t.get(ti).is_some_and(|&c| c != sep) && glob_at(p, t, sep, pi + 1, ti + 1, memo),
        Some(&c) => t.get(ti) == Some(&c) && glob_at(p, t, sep, pi + 1, ti + 1, memo),
    };
    memo[key] = Some(result);
    result
}

/// Compiled navigation rules for one exam.
pub struct UrlRules {
    allow: Vec<(String, Rule)>,
    block: Vec<(String, Rule)>,
}

impl fmt::Debug for UrlRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |rules: &[(String, Rule)]| rules.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>();
        f.debug_struct("UrlRules").field("allow", &names(&self.allow)).field("block", &names(&self.block)).finish()
    }
}

fn compile(list: &'static str, patterns: &[String]) -> Result<Vec<(String, Rule)>, UrlRuleError> {
    patterns
        .iter()
        .enumerate()
        .map(|(index, p)| {
            Rule::parse(p).map(|r| (p.clone(), r)).map_err(|message| UrlRuleError {
                list,
                index,
                pattern: p.clone(),
                message,
            })
        })
        .collect()
}

/// The rule that allows an exam page's whole origin: `SCHEME://HOST:PORT/**`.
pub fn origin_rule(exam_url: &str) -> Option<String> {
    let url = url::Url::parse(exam_url).ok()?;
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    matches!(url.scheme(), "http" | "https").then(|| format!("{}://{host}:{port}/**", url.scheme()))
}

impl UrlRules {
    /// Compiles `nav`; with no allow rule, `exam_url`'s origin is allowed ([`origin_rule`]).
    pub fn new(nav: &crate::lockdown::Navigation, exam_url: Option<&str>) -> Result<UrlRules, UrlRuleError> {
        let mut allow = nav.allow.clone();
        if allow.is_empty() {
            allow.extend(exam_url.and_then(origin_rule));
        }
        Ok(UrlRules { allow: compile("allow", &allow)?, block: compile("block", &nav.block)? })
    }

    /// Whether the exam window may open `url`, and the rule that decided.
    pub fn decide(&self, url: &str) -> Decision {
        if url == "about:blank" {
            return Decision::Allow("about:blank".into());
        }
        let Ok(mut parsed) = url::Url::parse(url) else { return Decision::Block("not a URL".into()) };
        if parsed.scheme() == "blob" {
            // A blob is as good as the page that made it.
            match url::Url::parse(parsed.path()) {
                Ok(inner) if matches!(inner.scheme(), "http" | "https") => parsed = inner,
                _ => return Decision::Block("a blob: of no web origin".into()),
            }
        }
        if let Some((p, _)) = self.block.iter().find(|(_, r)| r.matches(&parsed)) {
            return Decision::Block(p.clone());
        }
        match self.allow.iter().find(|(_, r)| r.matches(&parsed)) {
            Some((p, _)) => Decision::Allow(p.clone()),
            None => Decision::Block("no allow rule matches".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lockdown::Navigation;

    fn rules(allow: &[&str], block: &[&str], exam: Option<&str>) -> UrlRules {
        let nav = Navigation {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            block: block.iter().map(|s| s.to_string()).collect(),
        };
        UrlRules::new(&nav, exam).unwrap()
    }

    fn allowed(r: &UrlRules, url: &str) -> bool {
        matches!(r.decide(url), Decision::Allow(_))
    }

    #[test]
    fn the_exam_origin_is_allowed_by_default_and_nothing_else() {
        let r = rules(&[], &[], Some("https://Exam.Example.org:8443/test/1?x=y"));
        assert!(allowed(&r, "https://exam.example.org:8443/test/2/deep/page"));
        assert!(allowed(&r, "https://exam.example.org:8443"));
        assert!(!allowed(&r, "https://exam.example.org/test/2"), "another port");
        assert!(!allowed(&r, "https://google.com/search?q=answer"));
        assert!(!allowed(&r, "http://exam.example.org:8443/test"), "another scheme");
        assert!(!allowed(&r, "https://exam.example.org.evil.com:8443/"));
    }

    /// The escapes of the flat-string globs, each next to the legitimate neighbour it imitates.
    #[test]
    fn wildcards_do_not_cross_dots_slashes_or_schemes() {
        let r = rules(&["https://*.example.org/**"], &[], None);
        assert!(allowed(&r, "https://lms.example.org/quiz/1"));
        assert!(!allowed(&r, "https://evil.example/x.example.org/"));
        assert!(!allowed(&r, "https://evil.example/?.example.org/"));
        assert!(!allowed(&r, "https://a.b.example.org/"), "one label only");
        assert!(!allowed(&r, "https://example.org/"), "a label is required");
        let any = rules(&["*://lms.example.org/**"], &[], None);
        assert!(allowed(&any, "http://lms.example.org/"));
        assert!(!allowed(&any, "data:text/html,<a>x://lms.example.org/</a>"));
        assert!(!allowed(&any, "javascript:'//lms.example.org/'"));
        assert!(!allowed(&any, "file:///lms.example.org/etc/passwd"));
        let deep = rules(&["https://**.example.org/*"], &[], None);
        assert!(allowed(&deep, "https://a.b.example.org/x"));
        assert!(!allowed(&deep, "https://a.b.example.org/x/y"), "`*` stays in one segment");
        assert!(!allowed(&deep, "https://example.org.evil.example/x"));
    }

    #[test]
    fn ports_hosts_and_paths_are_parsed() {
        let r = rules(&["https://lms.example.org:8443/course/*/quiz"], &[], None);
        assert!(allowed(&r, "https://LMS.Example.org:8443/course/7/quiz?attempt=2#q3"));
        assert!(!allowed(&r, "https://lms.example.org/course/7/quiz"));
        assert!(!allowed(&r, "https://lms.example.org:8443/course/7/8/quiz"));
        assert!(allowed(&r, "https://user:pw@lms.example.org:8443/course/7/quiz"), "user info is not the host");
        assert!(!allowed(&r, "https://lms.example.org:8443@evil.example:8443/course/7/quiz"));
        // `..` is resolved before matching.
        let r = rules(&["https://lms.example.org/course/**"], &[], None);
        assert!(!allowed(&r, "https://lms.example.org/course/../admin"));
        // IDNA: the rule in Unicode matches the punycode host, and back.
        let r = rules(&["https://пример.рф/**", "https://*.пример.рф/**"], &[], None);
        assert!(allowed(&r, "https://xn--e1afmkfd.xn--p1ai/a"));
        assert!(allowed(&r, "https://ПРИМЕР.рф/a"));
        assert!(allowed(&r, "https://lms.пример.рф/a"));
        // Addresses, as exam servers on a LAN have them.
        let r = rules(&[], &[], Some("http://127.0.0.1:8470/demo-exam"));
        assert!(allowed(&r, "http://127.0.0.1:8470/demo-exam/editor"));
        assert!(!allowed(&r, "http://127.0.0.2:8470/demo-exam"));
        let r = rules(&["http://[::1]:8470/**", "https://10.0.*.*/**"], &[], None);
        assert!(allowed(&r, "http://[::1]:8470/x"));
        assert!(allowed(&r, "https://10.0.3.4/x"));
        assert!(!allowed(&r, "https://10.1.3.4/x"));
    }

    #[test]
    fn other_schemes_only_when_named_and_blobs_by_their_origin() {
        let r = rules(&["https://lms.example.org/**", "data:image/**"], &[], None);
        assert!(allowed(&r, "data:image/png;base64,AAAA"));
        assert!(!allowed(&r, "data:text/html,hi"));
        assert!(allowed(&r, "blob:https://lms.example.org/0b1c-22"));
        assert!(!allowed(&r, "blob:https://evil.example/0b1c-22"));
        assert!(!allowed(&r, "blob:null/0b1c"));
        assert!(allowed(&r, "about:blank"));
    }

    #[test]
    fn a_block_rule_beats_an_allow_rule() {
        let r = rules(&["https://*.example.org/**"], &["*://*.example.org/admin/**"], None);
        assert!(allowed(&r, "https://lms.example.org/quiz"));
        assert_eq!(
            r.decide("https://lms.example.org/admin/grades"),
            Decision::Block("*://*.example.org/admin/**".into())
        );
    }

    #[test]
    fn bad_rules_say_which_and_why() {
        for bad in ["lms.example.org/*", "https:/x/", "https:///x", "https://x:99999/", "https://u@x/", "https://x/?q"]
        {
            let nav = Navigation { allow: vec!["https://ok.example/**".into(), bad.into()], block: vec![] };
            let e = UrlRules::new(&nav, None).unwrap_err();
            assert_eq!((e.list, e.index), ("allow", 1), "{bad}: {e}");
        }
    }
}
