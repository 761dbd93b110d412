//! Translations are complete: every language file has exactly the keys of the English one, no
//! value is empty, placeholders match, and every key the UI uses (in `index.html` and
//! `main.js`) exists.

use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::Path;

fn ui() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui")
}

fn load(lang: &str) -> Map<String, Value> {
    let text = std::fs::read_to_string(ui().join(format!("i18n/{lang}.json"))).unwrap();
    serde_json::from_str::<Value>(&text).unwrap().as_object().unwrap().clone()
}

fn placeholders(s: &str) -> BTreeSet<String> {
    s.split('{').skip(1).filter_map(|p| p.split_once('}').map(|(name, _)| name.to_owned())).collect()
}

#[test]
fn every_language_has_every_key_with_the_same_placeholders() {
    let en = load("en");
    assert!(en.len() > 100, "the English file looks truncated");
    for lang in ["ru", "kk"] {
        let other = load(lang);
        let missing: Vec<_> = en.keys().filter(|k| !other.contains_key(*k)).collect();
        let extra: Vec<_> = other.keys().filter(|k| !en.contains_key(*k)).collect();
        assert!(missing.is_empty(), "{lang}.json lacks {missing:?}");
        assert!(extra.is_empty(), "{lang}.json has keys English does not: {extra:?}");
        for (k, v) in &other {
            let v = v.as_str().unwrap_or_default();
            assert!(!v.trim().is_empty(), "{lang}.json: `{k}` is empty");
            assert_eq!(
                placeholders(v),
                placeholders(en[k].as_str().unwrap()),
                "{lang}.json: `{k}` has other placeholders than English"
            );
        }
    }
}

#[test]
fn every_key_the_ui_uses_exists() {
    let en = load("en");
    let html = std::fs::read_to_string(ui().join("index.html")).unwrap();
    let js = std::fs::read_to_string(ui().join("main.js")).unwrap();
    let mut used = BTreeSet::new();
    for attr in ["data-i18n=\"", "data-i18n-alt=\"", "data-i18n-placeholder=\""] {
        used.extend(html.split(attr).skip(1).map(|s| s.split('"').next().unwrap().to_owned()));
    }
    // Literal keys in scripts: t("key" ...) (not createElement("li")) and dataset.i18n = "key".
    for pat in ["t(\"", "i18n = \""] {
        for (at, _) in js.match_indices(pat) {
            let before = js[..at].chars().next_back().unwrap_or(' ');
            if pat.starts_with('t') && (before.is_alphanumeric() || before == '_' || before == '.') {
                continue;
            }
            used.insert(js[at + pat.len()..].split('"').next().unwrap().to_owned());
        }
    }
    assert!(used.len() > 60, "found only {} keys: the scan is broken", used.len());
    let missing: Vec<_> = used.iter().filter(|k| !en.contains_key(*k)).collect();
    assert!(missing.is_empty(), "keys used by the UI but not translated: {missing:?}");
    // Keys built at run time from a prefix: every error code the app sends has a sentence.
    let flow = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/flow.rs")).unwrap();
    // The codes passed to UiError::new, and those join_error chooses from the session's code.
    let join_error = flow.split("fn join_error").nth(1).and_then(|f| f.split("\n}\n").next()).unwrap_or_default();
    let codes: BTreeSet<String> = flow
        .split("UiError::new(\"")
        .skip(1)
        .chain(join_error.split("=> \"").skip(1))
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect();
    assert!(codes.contains("join.bad_policy") && codes.contains("photo.failed"), "the scan is broken: {codes:?}");
    assert!(codes.len() > 10);
    for code in codes {
        assert!(en.contains_key(&format!("error.{code}")), "error code `{code}` has no translation");
    }
}
