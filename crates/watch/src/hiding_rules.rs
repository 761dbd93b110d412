//! Rules in a compositor's configuration that hide windows from screen capture. Hyprland, niri
//! and KWin apply a changed configuration at once, and none of them lists its rules over IPC, so
//! the configuration files are what tells:
//!
//! - Hyprland: `hypr/hyprland.conf` (and the files it `source`s) with a `windowrule`/
//!   `windowrulev2` line or a `windowrule { }` block whose effect is `noscreenshare` /
//!   `no_screen_share`, and `hypr/hyprland.lua` (0.55+) with `no_screen_share = true` in a
//!   `hl.window_rule({ .. })` call;
//! - niri: `config.kdl` (`$NIRI_CONFIG`, and the files it `include`s) with a `window-rule` or
//!   `layer-rule` that has `block-out-from`; nodes commented out with `/-` do not count;
//! - KWin: `kwinrulesrc` groups with `excludefromcapture=true` under a rule that applies.
//!
//! A rule set only for the running session (`hyprctl keyword`, a KWin script) is in no file; the
//! check says that the compositor can hide windows all the same.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use vigil_core::facts::HidingRule;

/// How deep `source`/`include` are followed, and the largest file read.
const MAX_DEPTH: usize = 8;
const MAX_FILE_BYTES: u64 = 1 << 20;

/// The hiding rules of `compositor` (as [`crate::desktop`] names it), from the configuration
/// files `env` (`XDG_CONFIG_HOME`, `HOME`, `NIRI_CONFIG`) points to.
pub fn read(compositor: &str, env: &dyn Fn(&str) -> Option<String>) -> Vec<HidingRule> {
    let home = env("HOME").map(PathBuf::from);
    let Some(config) = env("XDG_CONFIG_HOME").map(PathBuf::from).or_else(|| home.as_ref().map(|h| h.join(".config")))
    else {
        return Vec::new();
    };
    let mut reader = Reader { compositor, home, seen: HashSet::new(), rules: Vec::new() };
    match compositor {
        "Hyprland" => {
            reader.hyprland_conf(&config.join("hypr/hyprland.conf"), 0);
            reader.hyprland_lua(&config.join("hypr/hyprland.lua"));
        }
        "niri" => {
            let file = env("NIRI_CONFIG").map(PathBuf::from).unwrap_or_else(|| config.join("niri/config.kdl"));
            let file = if file.exists() { file } else { PathBuf::from("/etc/niri/config.kdl") };
            reader.niri(&file, 0);
        }
        "KWin" => {
            reader.kwin(&config.join("kwinrulesrc"));
            reader.kwin(Path::new("/etc/xdg/kwinrulesrc"));
        }
        _ => {}
    }
    reader.rules
}

struct Reader<'a> {
    compositor: &'a str,
    home: Option<PathBuf>,
    /// Files already read (a `source` loop is read once).
    seen: HashSet<PathBuf>,
    rules: Vec<HidingRule>,
}

impl Reader<'_> {
    /// The text of `file`, once per file, when it exists and is not too large.
    fn text(&mut self, file: &Path) -> Option<String> {
        let canonical = file.canonicalize().ok()?;
        if !self.seen.insert(canonical) || std::fs::metadata(file).ok()?.len() > MAX_FILE_BYTES {
            return None;
        }
        std::fs::read_to_string(file).ok()
    }

    fn push(&mut self, file: &Path, line: usize, windows: String, from: &str) {
        self.rules.push(HidingRule {
            compositor: self.compositor.to_owned(),
            file: file.display().to_string(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            windows: if windows.is_empty() { "every window".into() } else { windows },
            from: from.to_owned(),
        });
    }

    /// `~/x`, a path relative to `dir`, or an absolute one; a `*` in the last part is a glob.
    fn expand(&self, dir: &Path, path: &str) -> Vec<PathBuf> {
        let path = path.trim().trim_matches('"');
        let full = match (path.strip_prefix("~/"), &self.home) {
            (Some(rest), Some(home)) => home.join(rest),
            _ => dir.join(path),
        };
        let name = full.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let Some((prefix, suffix)) = name.split_once('*') else { return vec![full] };
        let Some(parent) = full.parent() else { return Vec::new() };
        let mut files: Vec<PathBuf> = std::fs::read_dir(parent)
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        let n = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                        n.len() >= prefix.len() + suffix.len() && n.starts_with(prefix) && n.ends_with(suffix)
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    fn hyprland_conf(&mut self, file: &Path, depth: usize) {
        let Some(text) = (depth <= MAX_DEPTH).then(|| self.text(file)).flatten() else { return };
        let dir = file.parent().unwrap_or(Path::new("/")).to_owned();
        // A `windowrule { .. }` block (0.53+): its first line, effects and matches so far.
        let mut block: Option<(usize, bool, Vec<String>)> = None;
        for (n, raw) in text.lines().enumerate() {
            let line = hypr_uncomment(raw).trim().to_owned();
            if let Some((start, hides, matches)) = &mut block {
                if line.starts_with('}') {
                    let (start, hides, matches) = (*start, *hides, std::mem::take(matches));
                    block = None;
                    if hides {
                        self.push(file, start, matches.join(", "), "screen capture");
                    }
                } else if let Some((key, value)) = line.split_once('=') {
                    let key = key.trim();
                    if key.starts_with("match:") {
                        matches.push(format!("{key} = {}", value.trim()));
                    } else if hides_screen_share(&format!("{key} {value}")) {
                        *hides = true;
                    }
                }
                continue;
            }
            if line.starts_with("windowrule") && line.ends_with('{') && !line.contains('=') {
                block = Some((n + 1, false, Vec::new()));
                continue;
            }
            let Some((key, value)) = line.split_once('=') else { continue };
            match key.trim() {
                "source" => {
                    for path in self.expand(&dir, value) {
                        self.hyprland_conf(&path, depth + 1);
                    }
                }
                "windowrule" | "windowrulev2" => {
                    let parts: Vec<&str> = value.split(',').map(str::trim).collect();
                    if parts.iter().any(|p| hides_screen_share(p)) {
                        let windows: Vec<&str> = parts.into_iter().filter(|p| !is_screen_share(p)).collect();
                        self.push(file, n + 1, windows.join(", "), "screen capture");
                    }
                }
                _ => {}
            }
        }
    }

    fn hyprland_lua(&mut self, file: &Path) {
        let Some(text) = self.text(file) else { return };
        let code: String = text.lines().map(|l| lua_uncomment(l).to_owned() + "\n").collect();
        let mut from = 0;
        while let Some(at) = code[from..].find("window_rule(").map(|i| from + i) {
            let open = at + "window_rule".len();
            let body = balanced(&code[open..], '(', ')').unwrap_or(&code[open..]);
            from = open + body.len().max(1);
            let squeezed: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
            if squeezed.contains("no_screen_share = true") || squeezed.contains("no_screen_share=true") {
                let windows = body
                    .find("match")
                    .and_then(|m| body[m..].find('{').map(|b| m + b))
                    .and_then(|b| balanced(&body[b..], '{', '}'))
                    .map(|m| m.trim_matches(['{', '}']).split_whitespace().collect::<Vec<_>>().join(" "))
                    .unwrap_or_default();
                let line = code[..at].matches('\n').count() + 1;
                self.push(file, line, windows, "screen capture");
            }
        }
    }

    fn niri(&mut self, file: &Path, depth: usize) {
        let Some(text) = (depth <= MAX_DEPTH).then(|| self.text(file)).flatten() else { return };
        let dir = file.parent().unwrap_or(Path::new("/")).to_owned();
        // (first line, matchers, what it blocks out from) of the rule being read.
        let mut rule: Option<(usize, Vec<String>, Vec<String>)> = None;
        let mut depth_in = 0usize;
        let mut skip_until: Option<usize> = None;
        for token in kdl_statements(&text) {
            match token {
                Kdl::Open(line, head) => {
                    depth_in += 1;
                    if skip_until.is_some() {
                        continue;
                    }
                    if head.starts_with("/-") {
                        skip_until = Some(depth_in - 1);
                    } else if depth_in == 1 && (head == "window-rule" || head == "layer-rule") {
                        rule = Some((line, Vec::new(), Vec::new()));
                    }
                }
                Kdl::Close => {
                    depth_in = depth_in.saturating_sub(1);
                    if skip_until == Some(depth_in) {
                        skip_until = None;
                    } else if depth_in == 0 {
                        if let Some((line, matches, blocked)) = rule.take() {
                            if !blocked.is_empty() {
                                self.push(file, line, matches.join(" or "), &blocked.join(", "));
                            }
                        }
                    }
                }
                Kdl::Statement(_, text) if skip_until.is_some() || text.starts_with("/-") => {}
                Kdl::Statement(_, text) => {
                    let (name, args) = text.split_once(char::is_whitespace).unwrap_or((&text, ""));
                    match (depth_in, name, &mut rule) {
                        (0, "include", _) => {
                            for path in self.expand(&dir, args) {
                                self.niri(&path, depth + 1);
                            }
                        }
                        (1, "match", Some((_, matches, _))) => matches.push(args.trim().to_owned()),
                        (1, "block-out-from", Some((_, _, blocked))) => {
                            blocked.push(args.trim().trim_matches('"').to_owned())
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    fn kwin(&mut self, file: &Path) {
        let Some(text) = self.text(file) else { return };
        // Each group: its line, its name and its keys (lower case) with their values.
        type Group = (usize, String, Vec<(String, String)>);
        let mut groups: Vec<Group> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                groups.push((n + 1, name.to_owned(), Vec::new()));
            } else if let (Some((key, value)), Some((_, _, keys))) = (line.split_once('='), groups.last_mut()) {
                keys.push((key.trim().to_lowercase(), value.trim().to_owned()));
            }
        }
        for (line, name, keys) in groups {
            let get = |k: &str| keys.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
            // KWin's rule kinds: 0 unused, 1 "do not affect"; the others apply it.
            let applies = get("excludefromcapturerule").and_then(|r| r.parse::<u32>().ok()).is_some_and(|r| r >= 2);
            if name == "General"
                || get("excludefromcapture") != Some("true")
                || !applies
                || get("enabled") == Some("false")
            {
                continue;
            }
            let windows: Vec<String> = ["wmclass", "title", "windowrole"]
                .into_iter()
                .filter_map(|k| get(k).filter(|v| !v.is_empty()).map(|v| format!("{k}={v}")))
                .chain(get("description").map(|d| format!("\"{d}\"")))
                .collect();
            self.push(file, line, windows.join(" "), "screen capture");
        }
    }
}

/// Whether a Hyprland rule part hides from screen sharing (`noscreenshare`, `no_screen_share on`).
fn hides_screen_share(part: &str) -> bool {
    let mut words = part.split_whitespace();
    let effect = words.next().is_some_and(|w| matches!(w, "noscreenshare" | "no_screen_share"));
    effect && !matches!(words.next(), Some("0" | "off" | "false" | "no"))
}

fn is_screen_share(part: &str) -> bool {
    part.split_whitespace().next().is_some_and(|w| matches!(w, "noscreenshare" | "no_screen_share"))
}

/// A hyprlang line without its comment (`#`; `##` is a literal `#`).
fn hypr_uncomment(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '#' {
            if chars.peek() == Some(&'#') {
                chars.next();
            } else {
                break;
            }
        }
        out.push(c);
    }
    out
}

/// A Lua line without its `--` comment (strings holding `--` are rare in a configuration).
fn lua_uncomment(line: &str) -> &str {
    line.split_once("--").map_or(line, |(code, _)| code)
}

/// The text from `s`'s first `open` through the `close` that balances it.
fn balanced(s: &str, open: char, close: char) -> Option<&str> {
    let start = s.find(open)?;
    let mut depth = 0i32;
    for (i, c) in s[start..].char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(&s[start..=start + i]);
            }
        }
    }
    None
}

/// A KDL document as statements (one node, its children not included), block openings with
/// their node's head, and block ends. Comments are gone; strings are kept as written.
#[derive(Debug, PartialEq)]
enum Kdl {
    Statement(usize, String),
    Open(usize, String),
    Close,
}

fn kdl_statements(text: &str) -> Vec<Kdl> {
    let mut out = Vec::new();
    let mut current = String::new();
    let (mut line, mut start) = (1usize, 1usize);
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let flush = |current: &mut String, out: &mut Vec<Kdl>, start: usize| {
        let t = current.trim();
        if !t.is_empty() {
            out.push(Kdl::Statement(start, t.to_owned()));
        }
        current.clear();
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if current.trim().is_empty() {
            start = line;
        }
        match c {
            '/' if next == Some('/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '/' if next == Some('*') => {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    line += usize::from(chars[i] == '\n');
                    i += 1;
                }
                i += 2;
                continue;
            }
            '"' | 'r' | '#' if starts_string(&chars[i..]) => {
                // A plain string (with escapes) or a raw one (r#"..."#, #"..."#).
                let hashes = chars[i..].iter().skip(usize::from(c == 'r')).take_while(|&&h| h == '#').count();
                let open = usize::from(c == 'r') + hashes + 1;
                current.extend(&chars[i..i + open]);
                i += open;
                while i < chars.len() {
                    let ch = chars[i];
                    current.push(ch);
                    line += usize::from(ch == '\n');
                    i += 1;
                    if hashes == 0 && c != 'r' && ch == '\\' && i < chars.len() {
                        current.push(chars[i]);
                        i += 1;
                    } else if ch == '"' && chars[i..].iter().take(hashes).all(|&h| h == '#') {
                        current.extend(&chars[i..(i + hashes).min(chars.len())]);
                        i += hashes;
                        break;
                    }
                }
                continue;
            }
            '{' => {
                out.push(Kdl::Open(start, current.trim().to_owned()));
                current.clear();
            }
            '}' => {
                flush(&mut current, &mut out, start);
                out.push(Kdl::Close);
            }
            '\n' | ';' => {
                flush(&mut current, &mut out, start);
                line += usize::from(c == '\n');
            }
            _ => current.push(c),
        }
        i += 1;
    }
    flush(&mut current, &mut out, start);
    out
}

/// Whether a string starts here: `"`, `r"`, `r#"`, `#"`, `##"`.
fn starts_string(chars: &[char]) -> bool {
    let rest = chars.strip_prefix(&['r']).unwrap_or(chars);
    let after = rest.iter().skip_while(|&&c| c == '#').copied().next();
    after == Some('"') && (chars[0] == '"' || rest.len() < chars.len() || rest[0] == '#')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn home_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        dir
    }

    fn rules(compositor: &str, home: &Path) -> Vec<(u32, String, String)> {
        let home = home.to_owned();
        let env = move |k: &str| (k == "HOME").then(|| home.display().to_string());
        read(compositor, &env).into_iter().map(|r| (r.line, r.windows, r.from)).collect()
    }

    #[test]
    fn hyprland_rules_of_every_syntax_and_sourced_files() {
        let home = home_with(&[
            (
                ".config/hypr/hyprland.conf",
                "# windowrulev2 = noscreenshare, class:^(commented)$\n\
                 windowrulev2 = float, class:^(kitty)$\n\
                 windowrulev2 = noscreenshare, class:^(cluely)$ # the assistant\n\
                 windowrule = noscreenshare 0, class:^(off)$\n\
                 source = ~/.config/hypr/rules/*.conf\n\
                 source = ~/.config/hypr/hyprland.conf\n\
                 windowrule {\n  name = hide-helper\n  match:class = helper\n  no_screen_share = on\n}\n",
            ),
            (".config/hypr/rules/a.conf", "windowrule = match:title Interview.*, no_screen_share on\n"),
            (".config/hypr/rules/b.txt", "windowrule = noscreenshare, class:^(not-sourced)$\n"),
            (
                ".config/hypr/hyprland.lua",
                "hl.window_rule({ match = { class = \"kitty\" }, border_size = 10 })\n\
                 -- hl.window_rule({ match = { class = \"x\" }, no_screen_share = true })\n\
                 hl.window_rule({\n  name = \"hide\",\n  match = {\n    class = \"ghost\"\n  },\n  no_screen_share = true\n})\n",
            ),
        ]);
        let found = rules("Hyprland", home.path());
        let windows: Vec<&str> = found.iter().map(|(_, w, _)| w.as_str()).collect();
        assert_eq!(
            windows,
            ["class:^(cluely)$", "match:title Interview.*", "match:class = helper", "class = \"ghost\""],
            "{found:?}"
        );
        assert_eq!(found[0].0, 3);
        assert_eq!(found[2].0, 7);
        assert_eq!(found[3].0, 3);
        assert!(rules("niri", home.path()).is_empty());
    }

    #[test]
    fn niri_rules_without_commented_out_ones() {
        let home = home_with(&[
            (
                ".config/niri/config.kdl",
                "// window-rule { block-out-from \"screencast\"; }\n\
                 /-window-rule {\n    match app-id=r#\"^org\\.keepassxc\\.KeePassXC$\"#\n    block-out-from \"screen-capture\"\n}\n\
                 window-rule {\n    match app-id=\"^cluely$\"\n    match title=r#\"Interview {coder}\"#\n    /-block-out-from \"screencast\"\n    block-out-from \"screencast\"\n    border { off; }\n}\n\
                 window-rule { match app-id=\"firefox\"; opacity 0.9; }\n\
                 /* layer-rule {\n block-out-from \"screencast\"\n} */\n\
                 include \"more.kdl\"\n",
            ),
            (".config/niri/more.kdl", "layer-rule { match namespace=\"^notifications$\"; block-out-from \"screen-capture\"; }\n"),
        ]);
        let found = rules("niri", home.path());
        assert_eq!(
            found,
            [
                (6, "app-id=\"^cluely$\" or title=r#\"Interview {coder}\"#".to_owned(), "screencast".to_owned()),
                (1, "namespace=\"^notifications$\"".to_owned(), "screen-capture".to_owned()),
            ]
        );
    }

    #[test]
    fn kwin_rules_that_apply() {
        let home = home_with(&[(
            ".config/kwinrulesrc",
            "[General]\ncount=3\nrules=a,b,c\n\n\
             [a]\nDescription=Hide the helper\nexcludefromcapture=true\nexcludefromcapturerule=2\nwmclass=cluely\nwmclassmatch=1\n\n\
             [b]\nexcludefromcapture=true\nexcludefromcapturerule=1\nwmclass=dont-affect\n\n\
             [c]\nEnabled=false\nexcludefromcapture=true\nexcludefromcapturerule=3\nwmclass=disabled\n",
        )]);
        assert_eq!(
            rules("KWin", home.path()),
            [(5, "wmclass=cluely \"Hide the helper\"".to_owned(), "screen capture".to_owned())]
        );
    }

    #[test]
    fn kdl_statements_keep_strings_and_lines() {
        let tokens = kdl_statements("a \"x;{}\" // c\nb {\n  c r#\"q\"}\"#; d\n}\n");
        assert_eq!(
            tokens,
            [
                Kdl::Statement(1, "a \"x;{}\"".into()),
                Kdl::Open(2, "b".into()),
                Kdl::Statement(3, "c r#\"q\"}\"#".into()),
                Kdl::Statement(3, "d".into()),
                Kdl::Close,
            ]
        );
    }
}
