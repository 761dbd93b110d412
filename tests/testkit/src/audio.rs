//! A private PulseAudio server with a null sink whose monitor is the default source, so that a
//! tone played into the sink is what the "microphone" hears.

use crate::{private_dir, wait_until, Guard};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

pub struct PulseAudio {
    runtime_dir: tempfile::TempDir,
    _tones: Vec<Guard>,
}

impl PulseAudio {
    pub fn start() -> Result<PulseAudio> {
        let runtime_dir = private_dir("vigil-pulse-")?;
        let pulse = PulseAudio { runtime_dir, _tones: Vec::new() };
        let status = pulse
            .command("pulseaudio")
            .args(["--daemonize", "--exit-idle-time=-1", "--disallow-exit", "--disable-shm", "-n"])
            .args(["--load=module-native-protocol-unix", "--load=module-null-sink sink_name=vsink rate=48000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .with_context(|| crate::install_hint("pulseaudio"))?;
        if !status.success() {
            bail!("pulseaudio failed to start ({status})");
        }
        let socket = pulse.runtime_dir.path().join("pulse/native");
        wait_until(Duration::from_secs(10), "the PulseAudio socket", || socket.exists())?;
        pulse.pactl(&["set-default-sink", "vsink"])?;
        pulse.pactl(&["set-default-source", "vsink.monitor"])?;
        Ok(pulse)
    }

    /// The runtime directory every client must use (as `XDG_RUNTIME_DIR`).
    pub fn runtime_dir(&self) -> &Path {
        self.runtime_dir.path()
    }

    /// Environment for a client process of this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("XDG_RUNTIME_DIR", self.runtime_dir().display().to_string()),
            ("PULSE_SERVER", format!("unix:{}", self.runtime_dir().join("pulse/native").display())),
        ]
    }

    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.envs(self.env()).env("HOME", self.runtime_dir());
        c
    }

    pub fn pactl(&self, args: &[&str]) -> Result<String> {
        let out = self.command("pactl").args(args).output().with_context(|| crate::install_hint("pactl"))?;
        if !out.status.success() {
            bail!("pactl {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Plays a sine of `freq` Hz at `amplitude` (0..1) into the sink for `seconds`, in the
    /// background (sox | pacat).
    pub fn play_tone(&mut self, freq: u32, amplitude: f32, seconds: u32) -> Result<()> {
        let script = format!(
            "sox -q -n -r 48000 -c 2 -b 16 -e signed-integer -t raw - synth {seconds} sine {freq} vol {amplitude} \
             | pacat -d vsink --rate=48000 --channels=2 --format=s16le --latency-msec=50"
        );
        let mut sh = self.command("sh");
        sh.args(["-c", &script]).stdout(Stdio::null()).stderr(Stdio::null());
        self._tones.push(Guard::spawn(&mut sh, "sox")?);
        // Let the stream reach the sink before anyone listens.
        std::thread::sleep(Duration::from_millis(300));
        Ok(())
    }

    /// Plays a sound file into the sink (paplay), in the background; returns when it started.
    pub fn play_file(&mut self, file: &Path) -> Result<std::time::SystemTime> {
        let mut paplay = self.command("paplay");
        paplay.args(["-d", "vsink", "--latency-msec=50"]).arg(file).stdout(Stdio::null()).stderr(Stdio::null());
        let started = std::time::SystemTime::now();
        self._tones.push(Guard::spawn(&mut paplay, "paplay")?);
        Ok(started)
    }
}

impl Drop for PulseAudio {
    fn drop(&mut self) {
        self._tones.clear();
        let _ = self.command("pulseaudio").arg("--kill").stderr(Stdio::null()).status();
    }
}
