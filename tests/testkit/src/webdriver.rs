//! End-to-end UI tests of the desktop app: `tauri-driver` (which runs WebKitWebDriver) on free
//! ports, and a small W3C WebDriver client over HTTP: find, click, type, read, run a script,
//! take a screenshot.

use crate::{wait_until, Guard};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One app under `tauri-driver`, with a WebDriver session on its main window. Dropping it ends
/// the session (which closes the app) and stops the driver.
pub struct AppDriver {
    http: reqwest::blocking::Client,
    base: String,
    session: String,
    _driver: Guard,
    /// A browser's own profile directory, removed with it.
    _profile: Option<tempfile::TempDir>,
    /// What the driver, and the app or browser it started, printed: shown when a wait fails.
    log: tempfile::NamedTempFile,
}

/// A new log file, and the driver's stdout and stderr writing to it.
fn driver_log() -> Result<(tempfile::NamedTempFile, Stdio, Stdio)> {
    let log = tempfile::Builder::new().prefix("vigil-webdriver-").suffix(".log").tempfile()?;
    let (out, err) = (log.reopen()?, log.reopen()?);
    Ok((log, out.into(), err.into()))
}

impl AppDriver {
    /// Starts `app` with `args` under a new `tauri-driver`, with `env` added to the environment
    /// the app inherits.
    pub fn start(app: &Path, args: &[String], env: &[(String, String)]) -> Result<AppDriver> {
        let free = || -> Result<u16> { Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port()) };
        let (port, native) = (free()?, free()?);
        let (log, out, err) = driver_log()?;
        let driver = Guard::spawn(
            Command::new(tauri_driver())
                .args(["--port", &port.to_string(), "--native-port", &native.to_string()])
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdout(out)
                .stderr(err),
            "tauri-driver",
        )?;
        let base = format!("http://127.0.0.1:{port}");
        wait_until(Duration::from_secs(20), "tauri-driver to listen", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        })?;
        let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(120)).build()?;
        let caps = json!({"capabilities": {"alwaysMatch": {"tauri:options": {"application": app, "args": args}}}});
        // tauri-driver listens a moment before it can start the native driver: a refused first
        // request is retried.
        let mut attempt = 0;
        let resp: Value = loop {
            match http.post(format!("{base}/session")).json(&caps).send() {
                Ok(r) => break r.json()?,
                Err(e) if attempt < 5 => {
                    attempt += 1;
                    eprintln!("tauri-driver not ready ({e}); retrying");
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(e) => return Err(e.into()),
            }
        };
        let session =
            resp["value"]["sessionId"].as_str().with_context(|| format!("no WebDriver session: {resp}"))?.to_owned();
        Ok(AppDriver { http, base, session, _driver: driver, _profile: None, log })
    }

    /// Debian's Chromium, headless, under a new `chromedriver`, at `url`: the same client for a
    /// web page (the reviewer's workspace).
    pub fn chromium(url: &str) -> Result<AppDriver> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let (log, out, err) = driver_log()?;
        let driver = Guard::spawn(
            Command::new("chromedriver").arg(format!("--port={port}")).stdout(out).stderr(err),
            "chromedriver",
        )?;
        let base = format!("http://127.0.0.1:{port}");
        wait_until(Duration::from_secs(20), "chromedriver to listen", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        })?;
        let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(120)).build()?;
        let profile = tempfile::Builder::new().prefix("vigil-chromium-").tempdir()?;
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", format!("--user-data-dir={}", profile.path().display()),
                     "--lang=en-US"]}}}});
        let resp: Value = http.post(format!("{base}/session")).json(&caps).send()?.json()?;
        let session =
            resp["value"]["sessionId"].as_str().with_context(|| format!("no WebDriver session: {resp}"))?.to_owned();
        let driver = AppDriver { http, base, session, _driver: driver, _profile: Some(profile), log };
        driver.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))?;
        Ok(driver)
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp: Value = req.send().with_context(|| format!("WebDriver {path}"))?.json()?;
        if let Some(err) = resp["value"].get("error") {
            bail!("WebDriver {path}: {err}: {}", resp["value"]["message"]);
        }
        Ok(resp["value"].clone())
    }

    /// The element matching a CSS selector (an error if there is none).
    pub fn find(&self, css: &str) -> Result<String> {
        let v = self.call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css})))?;
        v[ELEMENT].as_str().map(str::to_owned).with_context(|| format!("no element {css}"))
    }

    /// Waits until `css` matches a displayed element, then returns it.
    pub fn wait_visible(&self, css: &str, timeout: Duration) -> Result<String> {
        let mut found = None;
        wait_until(timeout, &format!("{css} to be shown"), || {
            found = self.find(css).ok().filter(|e| {
                self.call(reqwest::Method::GET, &format!("/element/{e}/displayed"), None)
                    .is_ok_and(|v| v == json!(true))
            });
            found.is_some()
        })
        .map_err(|e| self.explained(e))?;
        Ok(found.unwrap_or_default())
    }

    /// `e`, followed by [`AppDriver::diagnosis`].
    fn explained(&self, e: anyhow::Error) -> anyhow::Error {
        anyhow::anyhow!("{e:#}\n{}", self.diagnosis())
    }

    /// What the page shows and what the driver and the app printed last: the context of a wait
    /// that timed out, so that a failure on a CI machine can be understood from its output.
    pub fn diagnosis(&self) -> String {
        let page = self
            .script(
                "const shown = [...document.querySelectorAll('[data-screen]')].filter(s => !s.hidden) \
                   .map(s => s.dataset.screen); \
                 const error = document.getElementById('error'); \
                 return JSON.stringify({url: location.href, ready: document.readyState, shown, \
                   error: error && !error.hidden ? error.textContent : null});",
            )
            .map_or_else(|e| format!("the page cannot be read: {e:#}"), |v| v.as_str().unwrap_or_default().to_owned());
        let log = std::fs::read_to_string(self.log.path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        format!("the page: {page}\nthe last lines the driver and the app printed:\n{tail}")
    }

    pub fn click(&self, css: &str) -> Result<()> {
        let e = self.wait_visible(css, Duration::from_secs(30))?;
        self.call(reqwest::Method::POST, &format!("/element/{e}/click"), Some(json!({})))?;
        Ok(())
    }

    /// Replaces the text of an input.
    pub fn type_into(&self, css: &str, text: &str) -> Result<()> {
        let e = self.wait_visible(css, Duration::from_secs(30))?;
        self.call(reqwest::Method::POST, &format!("/element/{e}/clear"), Some(json!({})))?;
        self.call(reqwest::Method::POST, &format!("/element/{e}/value"), Some(json!({"text": text})))?;
        Ok(())
    }

    /// Visible text of the element.
    pub fn text(&self, css: &str) -> Result<String> {
        let e = self.find(css)?;
        Ok(self
            .call(reqwest::Method::GET, &format!("/element/{e}/text"), None)?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Runs a script in the page (`return ...` gives its value).
    pub fn script(&self, script: &str) -> Result<Value> {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": []})))
    }

    /// Waits until a script returns true.
    pub fn wait_script(&self, what: &str, script: &str, timeout: Duration) -> Result<()> {
        wait_until(timeout, what, || self.script(script).is_ok_and(|v| v == json!(true))).map_err(|e| self.explained(e))
    }

    /// Handles of the app's webview windows, and the current one.
    pub fn window_handles(&self) -> Result<(Vec<String>, String)> {
        let all = self.call(reqwest::Method::GET, "/window/handles", None)?;
        let current = self.call(reqwest::Method::GET, "/window", None)?;
        let all = all
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        Ok((all, current.as_str().unwrap_or_default().to_owned()))
    }

    /// Makes `handle` the window later commands go to.
    pub fn switch_to(&self, handle: &str) -> Result<()> {
        self.call(reqwest::Method::POST, "/window", Some(json!({"handle": handle})))?;
        Ok(())
    }

    /// Runs an async script; it calls `arguments[0](value)` when done.
    pub fn script_async(&self, script: &str) -> Result<Value> {
        self.call(reqwest::Method::POST, "/execute/async", Some(json!({"script": script, "args": []})))
    }

    /// Saves a PNG of the window's content, once the page has painted (two animation frames).
    /// WebKit sometimes hands back the empty first surface of a window that is still painting;
    /// such a picture (a few KB of flat colour) is taken again.
    pub fn screenshot(&self, path: &Path) -> Result<()> {
        use base64::Engine;
        let mut png = Vec::new();
        for _ in 0..5 {
            self.script_async(
                "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
            )?;
            let v = self.call(reqwest::Method::GET, "/screenshot", None)?;
            png = base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default())?;
            if png.len() > 8 * 1024 {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }
}

impl Drop for AppDriver {
    fn drop(&mut self) {
        let _ =
            self.http.delete(format!("{}/session/{}", self.base, self.session)).timeout(Duration::from_secs(10)).send();
    }
}

/// `tauri-driver` from PATH or `~/.cargo/bin`.
fn tauri_driver() -> std::path::PathBuf {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from).unwrap_or_default();
    let cargo_bin = home.join(".cargo/bin/tauri-driver");
    if cargo_bin.exists() {
        cargo_bin
    } else {
        "tauri-driver".into()
    }
}
