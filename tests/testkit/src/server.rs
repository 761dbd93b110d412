//! The reference backend (`vigil-server`) on a free port of 127.0.0.1, with a demo exam; it can
//! be stopped and started again on the same port and data, to play an outage.

use crate::{wait_until, workspace_bin, Guard};
use anyhow::{bail, Context, Result};
use std::process::{Command, Stdio};
use std::time::Duration;
use vigil_core::protocol::{ServerInfo, SignedJson, SignedKind};

pub struct ReferenceServer {
    pub url: String,
    pub port: u16,
    /// The server's public key, as clients are provisioned with it.
    pub key: String,
    pub admin_token: String,
    pub data: tempfile::TempDir,
    serve_args: Vec<String>,
    process: Option<Guard>,
}

fn admin(data: &std::path::Path, args: &[&str]) -> Result<String> {
    let out = Command::new(workspace_bin("vigil-server"))
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .context("vigil-server")?;
    if !out.status.success() {
        bail!("vigil-server {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

impl ReferenceServer {
    /// Starts a server with exam `code` (default policy).
    pub fn start(code: &str) -> Result<ReferenceServer> {
        Self::start_with(code, &[])
    }

    /// Starts a server with exam `code` and more arguments to `vigil-server serve`.
    pub fn start_with(code: &str, serve_args: &[&str]) -> Result<ReferenceServer> {
        let data = tempfile::Builder::new().prefix("vigil-server-").tempdir()?;
        admin(data.path(), &["exam", "create", "--code", code])?;
        let key = admin(data.path(), &["key"])?;
        let admin_token = admin(data.path(), &["token"])?;
        let mut s = ReferenceServer {
            url: String::new(),
            port: 0,
            key,
            admin_token,
            data,
            serve_args: serve_args.iter().map(|a| a.to_string()).collect(),
            process: None,
        };
        // A free port can be taken by another test between our probe and the server's bind: the
        // server then exits and the other one answers. Try a few ports.
        let mut last = None;
        for _ in 0..5 {
            s.port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            s.url = format!("http://127.0.0.1:{}", s.port);
            match s.resume() {
                Ok(()) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("tried at least once"))
    }

    /// Starts the server process again (after [`stop`](Self::stop)); ready when the server on the
    /// port signs with this server's key (not merely when something listens there).
    pub fn resume(&mut self) -> Result<()> {
        let mut guard = Guard::spawn(
            Command::new(workspace_bin("vigil-server"))
                .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port), "--data"])
                .arg(self.data.path())
                .args(&self.serve_args)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            "vigil-server",
        )?;
        let mut exited = None;
        wait_until(Duration::from_secs(20), "vigil-server to answer", || {
            if let Err(e) = guard.ensure_running() {
                exited = Some(e);
                return true;
            }
            self.answers_as_itself()
        })?;
        if let Some(e) = exited {
            bail!("vigil-server on port {}: {e}", self.port);
        }
        self.process = Some(guard);
        Ok(())
    }

    fn answers_as_itself(&self) -> bool {
        let info = reqwest::blocking::Client::new()
            .get(format!("{}/v1/server-info", self.url))
            .timeout(Duration::from_secs(2))
            .send()
            .and_then(|r| r.json::<SignedJson>());
        info.is_ok_and(|signed| signed.open::<ServerInfo>(SignedKind::ServerInfo, &self.key).is_ok())
    }

    /// Creates (or replaces) exam `code` with a policy (TOML text) and an exam page address.
    pub fn create_exam(&self, code: &str, policy_toml: Option<&str>, exam_url: Option<&str>) -> Result<()> {
        let mut args = vec!["exam".to_owned(), "create".into(), "--code".into(), code.into()];
        if let Some(p) = policy_toml {
            let file = self.data.path().join(format!("{code}.policy.toml"));
            std::fs::write(&file, p)?;
            args.extend(["--policy".into(), file.display().to_string()]);
        }
        if let Some(u) = exam_url {
            args.extend(["--exam-url".into(), u.into()]);
        }
        admin(self.data.path(), &args.iter().map(String::as_str).collect::<Vec<_>>())?;
        Ok(())
    }

    /// Kills the server (an outage); its data stays.
    pub fn stop(&mut self) {
        self.process = None;
    }

    /// `vigil run --headless --consent` (the program `vigil`) as candidate `name` on this server's
    /// exam `code` for `seconds`, its data in `data_dir`, without Wayland, its output piped: the
    /// caller adds the display, devices and camera (`--camera`), then spawns it.
    pub fn headless_run(
        &self,
        vigil: impl AsRef<std::ffi::OsStr>,
        code: &str,
        name: &str,
        seconds: u32,
        data_dir: &std::path::Path,
    ) -> Command {
        let mut cmd = Command::new(vigil);
        cmd.args(["run", "--headless", "--consent", "--name", name])
            .args(["--server", &self.url, "--server-key", &self.key, "--exam-code", code])
            .args(["--duration", &seconds.to_string(), "--drain-timeout", "120", "--data-dir"])
            .arg(data_dir)
            .env_remove("WAYLAND_DISPLAY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// The review API's detail (events, intervals, ...) of the session whose receipt a finished
    /// `vigil run --headless` printed (an error with its stderr when the run failed).
    pub fn session_of_run(&self, out: &std::process::Output) -> Result<serde_json::Value> {
        if !out.status.success() {
            bail!("vigil run: {}", String::from_utf8_lossy(&out.stderr));
        }
        let receipt: serde_json::Value = serde_json::from_slice(&out.stdout).context("the run's receipt")?;
        let id = receipt["session_id"].as_str().context("the receipt's session_id")?;
        self.review(&format!("/v1/review/sessions/{id}"))
    }

    /// `GET` on the review API with the admin token, as JSON.
    pub fn review(&self, path: &str) -> Result<serde_json::Value> {
        let resp = reqwest::blocking::Client::new()
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.admin_token)
            .send()?;
        if !resp.status().is_success() {
            bail!("GET {path}: {}", resp.status());
        }
        Ok(resp.json()?)
    }
}

/// The events of `kind` in a review detail's `events`, each with its time in seconds after `t`
/// (negative: before it) and its data.
pub fn seconds_after(
    events: &[serde_json::Value],
    kind: &str,
    t: std::time::SystemTime,
) -> Vec<(f64, serde_json::Value)> {
    let t = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as f64).unwrap_or(0.0);
    events
        .iter()
        .filter(|e| e["kind"] == kind)
        .filter_map(|e| {
            let at = vigil_core::time::parse_rfc3339_ms(e["time"].as_str()?)? as f64;
            Some(((at - t) / 1000.0, e["data"].clone()))
        })
        .collect()
}
