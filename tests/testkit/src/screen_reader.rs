//! A real screen reader on an X display, per `shared/TESTING.md`: a private D-Bus session bus,
//! the AT-SPI bus with accessibility switched on, and Orca 43 whose speech goes nowhere
//! (speech-dispatcher is pointed at nothing) but whose debug log holds every `SPEECH OUTPUT:`
//! line: what a blind candidate would have heard. Tests press keys with `xdotool` and read
//! what Orca said since a [`Mark`].

use crate::{wait_until, Guard};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct ScreenReader {
    display: String,
    bus: String,
    log: PathBuf,
    _orca: Guard,
    _registry: Guard,
    _dbus: Guard,
    dir: tempfile::TempDir,
}

/// A point in Orca's speech: what it says after it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mark(usize);

impl ScreenReader {
    /// Starts the session bus, the AT-SPI bus and Orca for `display`.
    pub fn start(display: &str) -> Result<ScreenReader> {
        // Orca refuses to start while another Orca of the same user runs (one that just ended
        // may still be going away).
        let others = || {
            let out = Command::new("pgrep").args(["-u", &uid(), "-x", "orca"]).output();
            out.map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().map(str::to_owned).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        if wait_until(Duration::from_secs(10), "other Orcas to end", || others().is_empty()).is_err() {
            bail!("another Orca runs for this user (pids {:?}); Orca runs once per user: stop it first", others());
        }
        let dir = tempfile::Builder::new().prefix("vigil-orca-").tempdir()?;
        let bus = format!("unix:path={}", dir.path().join("bus").display());
        let dbus = Guard::spawn(
            Command::new("dbus-daemon")
                .args(["--session", "--nofork", "--nosyslog", &format!("--address={bus}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            "dbus-daemon",
        )?;
        let socket = dir.path().join("bus");
        wait_until(Duration::from_secs(10), "the session bus", || socket.exists())?;
        let registry = Guard::spawn(
            Command::new("/usr/libexec/at-spi-bus-launcher")
                .arg("--launch-immediately")
                .env("DISPLAY", display)
                .env("DBUS_SESSION_BUS_ADDRESS", &bus)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            "at-spi-bus-launcher",
        )?;
        // Accessibility on, as a desktop's setting would switch it on.
        wait_until(Duration::from_secs(10), "the AT-SPI bus", || {
            Command::new("dbus-send")
                .args([
                    "--session",
                    "--dest=org.a11y.Bus",
                    "--print-reply",
                    "/org/a11y/bus",
                    "org.freedesktop.DBus.Properties.Set",
                    "string:org.a11y.Status",
                    "string:IsEnabled",
                    "variant:boolean:true",
                ])
                .env("DBUS_SESSION_BUS_ADDRESS", &bus)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })?;
        let log = dir.path().join("orca-debug.log");
        let orca = Guard::spawn(
            Command::new(DEBIAN_PYTHON)
                .arg(scripts().join("orca-line-buffered.py"))
                .arg(format!("--debug-file={}", log.display()))
                .env("DISPLAY", display)
                .env("DBUS_SESSION_BUS_ADDRESS", &bus)
                // Its own settings, and no speech synthesiser: the log is what it says.
                .env("XDG_CONFIG_HOME", dir.path().join("config"))
                .env("XDG_DATA_HOME", dir.path().join("data"))
                .env("XDG_CACHE_HOME", dir.path().join("cache"))
                .env("SPEECHD_CMD", "/bin/false")
                .env("SPEECHD_ADDRESS", format!("unix_socket:{}", dir.path().join("no-speechd").display()))
                .env("LANG", "en_US.UTF-8")
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            "orca",
        )?;
        let reader =
            ScreenReader { display: display.to_owned(), bus, log, _orca: orca, _registry: registry, _dbus: dbus, dir };
        reader.wait_said(Mark(0), Duration::from_secs(60), "Orca to start", |s| s.contains("Screen reader on"))?;
        Ok(reader)
    }

    /// What a program needs in its environment to be seen by the screen reader.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("DBUS_SESSION_BUS_ADDRESS".into(), self.bus.clone())]
    }

    /// Where Orca's settings and log live (kept for a failing test's report).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything Orca has said so far, one utterance per entry.
    pub fn speech(&self) -> Vec<String> {
        let text = std::fs::read(&self.log).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        text.lines().filter_map(utterance).collect()
    }

    /// A mark at the end of what was said so far.
    pub fn mark(&self) -> Mark {
        Mark(self.speech().len())
    }

    /// What was said since `mark`.
    pub fn since(&self, mark: Mark) -> Vec<String> {
        self.speech().into_iter().skip(mark.0).collect()
    }

    /// Waits until something said since `mark` satisfies `heard`; all that was said since then.
    pub fn wait_said(
        &self,
        mark: Mark,
        timeout: Duration,
        what: &str,
        heard: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>> {
        let deadline = Instant::now() + timeout;
        loop {
            let said = self.since(mark);
            if said.iter().any(|s| heard(s)) {
                return Ok(said);
            }
            if Instant::now() > deadline {
                bail!("Orca never said {what}; it said: {said:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until Orca has been quiet for `quiet` (at most `timeout`); what it said since `mark`.
    pub fn settle(&self, mark: Mark, quiet: Duration, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let (mut count, mut since) = (usize::MAX, Instant::now());
        loop {
            let said = self.since(mark);
            if said.len() != count {
                (count, since) = (said.len(), Instant::now());
            } else if since.elapsed() >= quiet || Instant::now() > deadline {
                return said;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Presses `keys` (xdotool's names: `Tab`, `shift+Tab`, `Return`, `space`, `Down`) in the
    /// focused window, then waits until Orca is quiet; what it said.
    pub fn press(&self, keys: &str) -> Result<Vec<String>> {
        let mark = self.mark();
        self.xdotool(&["key", "--delay", "120", keys])?;
        Ok(self.settle(mark, Duration::from_millis(1500), Duration::from_secs(15)))
    }

    /// Types `text` into the focused field.
    pub fn type_text(&self, text: &str) -> Result<()> {
        self.xdotool(&["type", "--delay", "20", text])
    }

    /// Gives the keyboard focus to the newest window titled exactly `title` (there is no window
    /// manager to do it); what Orca said when it arrived.
    pub fn focus_window(&self, title: &str) -> Result<Vec<String>> {
        let mut id = String::new();
        wait_until(Duration::from_secs(60), &format!("a window titled {title}"), || {
            let out = Command::new("xdotool")
                .args(["search", "--onlyvisible", "--name", &format!("^{title}$")])
                .env("DISPLAY", &self.display)
                .output();
            id = out
                .map(|o| String::from_utf8_lossy(&o.stdout).lines().last().unwrap_or("").to_owned())
                .unwrap_or_default();
            !id.is_empty()
        })?;
        let mark = self.mark();
        self.xdotool(&["windowfocus", "--sync", &id])?;
        Ok(self.settle(mark, Duration::from_millis(2000), Duration::from_secs(20)))
    }

    fn xdotool(&self, args: &[&str]) -> Result<()> {
        let status = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &self.display)
            .status()
            .with_context(|| format!("xdotool: {}", crate::install_hint("xdotool")))?;
        if !status.success() {
            bail!("xdotool {args:?} failed: {status}");
        }
        Ok(())
    }

    /// Every control in the accessible tree of the application named `app` that is showing
    /// and has no name (the AT-SPI walk of `tests/screen-reader/unnamed.py`), as `role @ path`.
    pub fn unnamed_controls(&self, app: &str) -> Result<Vec<String>> {
        let script = scripts().join("unnamed.py");
        let out = Command::new(DEBIAN_PYTHON)
            .arg(&script)
            .arg(app)
            .env("DISPLAY", &self.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .output()
            .context("python3 with pyatspi (Debian package python3-pyatspi)")?;
        if !out.status.success() {
            bail!("{} failed: {}", script.display(), String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.is_empty()).map(str::to_owned).collect())
    }
}

/// The Python that has Debian's `pyatspi` and runs Orca (another `python3` may come first in
/// PATH).
const DEBIAN_PYTHON: &str = "/usr/bin/python3";

/// `tests/screen-reader`: the AT-SPI walk and Orca's launcher.
fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../screen-reader")
}

fn uid() -> String {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// The text of one `SPEECH OUTPUT: 'text'{...}` line of Orca's debug log.
fn utterance(line: &str) -> Option<String> {
    let rest = line.split_once("SPEECH OUTPUT: '")?.1;
    // The text, its closing quote, then Orca's voice settings: `'text'{'established': False}`.
    let rest = rest.rsplit_once("{'").map_or(rest, |(text, _)| text).trim_end();
    let text = rest.strip_suffix('\'').unwrap_or(rest).trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn utterances_come_from_speech_output_lines() {
        let line = "03:54:37.695931 - SPEECH OUTPUT: 'Exam code entry required.'{'established': False}";
        assert_eq!(super::utterance(line).as_deref(), Some("Exam code entry required."));
        assert_eq!(super::utterance("03:54:37 - SPEECH OUTPUT: 'tab ' {'x': 1}").as_deref(), Some("tab"));
        assert_eq!(super::utterance("SPEECH OUTPUT: ''{'established': False}"), None);
        assert_eq!(super::utterance("SPEECH OUTPUT: 'it's'{'established': False}").as_deref(), Some("it's"));
        assert_eq!(super::utterance("EVENT MANAGER: focus"), None);
    }
}
