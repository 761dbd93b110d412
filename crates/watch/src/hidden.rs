//! Signs of hidden capture and second channels: other programs recording the computer's sound
//! output (a recording stream on a sound server's `.monitor` source, the way AI interview
//! assistants hear the interviewer), and cameras that are not physical devices (v4l2loopback,
//! OBS's or DroidCam's virtual camera showing a recorded face).
//!
//! The sound server is asked through `pactl` (PulseAudio, or PipeWire through its PulseAudio
//! service), which also tells, through `pactl subscribe`, when a recording stream comes or goes.
//! Cameras are judged by what sysfs says of their bus and driver.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use vigil_core::facts::{CaptureSignals, SoundRecorder, VirtualCamera};

/// Everything this module can tell now (for the system check).
pub fn signals() -> CaptureSignals {
    let (sound_recorders, sound_error) = match sound_output_recorders() {
        Ok(found) => (found, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    CaptureSignals { sound_recorders, sound_error, virtual_cameras: virtual_cameras(Path::new("/sys")) }
}

/// Programs other than this one recording a `.monitor` source, from the sound server.
pub fn sound_output_recorders() -> Result<Vec<SoundRecorder>, String> {
    let sources = pactl(&["list", "sources"])?;
    let outputs = pactl(&["list", "source-outputs"])?;
    parse_recorders(&sources, &outputs, std::process::id())
}

fn pactl(args: &[&str]) -> Result<String, String> {
    let out =
        Command::new("pactl").args(["--format=json"]).args(args).stdin(Stdio::null()).output().map_err(|e| {
            format!("pactl: {e} (install pulseaudio-utils so that Vigil can see who records the sound)")
        })?;
    if !out.status.success() {
        return Err(format!("pactl {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("pactl {}: {e}", args.join(" ")))
}

/// The recording streams on monitor sources, from `pactl --format=json list sources` and
/// `... list source-outputs`; streams of `own_pid` are left out.
pub fn parse_recorders(sources: &str, outputs: &str, own_pid: u32) -> Result<Vec<SoundRecorder>, String> {
    let parse = |what: &str, text: &str| {
        serde_json::from_str::<Vec<serde_json::Value>>(text).map_err(|e| format!("pactl's list of {what}: {e}"))
    };
    let monitors: std::collections::HashMap<u64, String> = parse("sources", sources)?
        .iter()
        .filter(|s| {
            let of_sink = s["monitor_of_sink"].as_str().is_some_and(|m| !m.is_empty() && m != "n/a");
            of_sink || s["name"].as_str().is_some_and(|n| n.ends_with(".monitor"))
        })
        .filter_map(|s| Some((s["index"].as_u64()?, s["name"].as_str()?.to_owned())))
        .collect();
    let mut found = Vec::new();
    for stream in parse("recording streams", outputs)? {
        let Some(source) = stream["source"].as_u64().and_then(|i| monitors.get(&i)) else { continue };
        let props = &stream["properties"];
        let prop = |k: &str| props[k].as_str().map(str::to_owned);
        let pid = prop("application.process.id").and_then(|p| p.parse().ok());
        if pid == Some(own_pid) {
            continue;
        }
        found.push(SoundRecorder {
            app: prop("application.name").or_else(|| prop("media.name")).unwrap_or_else(|| "unknown".into()),
            pid,
            binary: prop("application.process.binary"),
            source: source.clone(),
        });
    }
    Ok(found)
}

/// Tells when recording streams come or go (`pactl subscribe`), so that the list is read again
/// only then. Dropping it ends the subscription.
pub struct SoundStreamChanges {
    child: Child,
    changes: mpsc::Receiver<()>,
}

impl SoundStreamChanges {
    pub fn start() -> Result<SoundStreamChanges, String> {
        let mut child = Command::new("pactl")
            .arg("subscribe")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("pactl subscribe: {e}"))?;
        let stdout = child.stdout.take().ok_or("pactl subscribe: no output")?;
        let (tx, changes) = mpsc::channel();
        std::thread::Builder::new()
            .name("sound-streams".into())
            .spawn(move || {
                for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                    if line.contains("source-output") && tx.send(()).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| format!("pactl subscribe: {e}"))?;
        Ok(SoundStreamChanges { child, changes })
    }

    /// Whether a recording stream came, went or changed since the last call.
    pub fn changed(&self) -> bool {
        let mut any = false;
        while self.changes.try_recv().is_ok() {
            any = true;
        }
        any
    }
}

impl Drop for SoundStreamChanges {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Drivers of virtual video devices.
const VIRTUAL_DRIVERS: &[&str] = &["v4l2loopback", "v4l2 loopback", "akvcam", "vivid"];
/// Names that virtual cameras give themselves.
const VIRTUAL_NAMES: &[&str] = &["obs virtual camera", "droidcam", "dummy video device", "akvcam", "virtual camera"];

/// Video devices under `sys` (`/sys`) that are not physical cameras: on the virtual bus (no USB
/// or PCI device behind them), with a loopback driver, or named like a virtual camera.
pub fn virtual_cameras(sys: &Path) -> Vec<VirtualCamera> {
    let Ok(dir) = std::fs::read_dir(sys.join("class/video4linux")) else { return Vec::new() };
    let mut found: Vec<VirtualCamera> = dir
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let node = entry.path();
            let device = format!("/dev/{}", entry.file_name().to_string_lossy());
            let name = std::fs::read_to_string(node.join("name")).unwrap_or_default().trim().to_owned();
            let real = std::fs::canonicalize(&node).unwrap_or(node.clone());
            let driver = std::fs::read_link(node.join("device/driver"))
                .ok()
                .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()));
            let lower = name.to_lowercase();
            let reason = if let Some(d) = driver.as_deref().filter(|d| VIRTUAL_DRIVERS.contains(d)) {
                format!("its driver is {d}, which shows whatever a program sends it")
            } else if real.components().any(|c| c.as_os_str() == "virtual") {
                "it sits on no USB or PCI bus: a virtual device a program feeds".to_owned()
            } else if VIRTUAL_NAMES.iter().any(|v| lower.contains(v)) {
                format!("its name \"{name}\" is a virtual camera's")
            } else {
                return None;
            };
            Some(VirtualCamera { device, name, driver, reason })
        })
        .collect();
    found.sort_by(|a, b| a.device.cmp(&b.device));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCES: &str = r#"[
        {"index": 0, "name": "alsa_output.pci-0000_00_1f.3.analog-stereo.monitor", "monitor_of_sink": "alsa_output.pci-0000_00_1f.3.analog-stereo"},
        {"index": 1, "name": "alsa_input.pci-0000_00_1f.3.analog-stereo", "monitor_of_sink": "n/a"}
    ]"#;

    fn stream(source: u64, app: &str, pid: u32) -> String {
        format!(
            r#"{{"index": 7, "source": {source}, "properties": {{"application.name": "{app}",
               "application.process.id": "{pid}", "application.process.binary": "{app}-bin"}}}}"#
        )
    }

    #[test]
    fn only_other_programs_on_monitor_sources_are_sound_recorders() {
        let outputs = format!("[{}, {}, {}]", stream(0, "cluely", 4242), stream(1, "zoom", 77), stream(0, "vigil", 9));
        let found = parse_recorders(SOURCES, &outputs, 9).unwrap();
        assert_eq!(
            found,
            [SoundRecorder {
                app: "cluely".into(),
                pid: Some(4242),
                binary: Some("cluely-bin".into()),
                source: "alsa_output.pci-0000_00_1f.3.analog-stereo.monitor".into(),
            }]
        );
        assert!(parse_recorders(SOURCES, "[]", 9).unwrap().is_empty());
        assert!(parse_recorders("not json", "[]", 9).unwrap_err().contains("sources"));
    }

    /// A sysfs tree: `class/video4linux/NAME` links to `devices/PATH/video4linux/NAME`, with a
    /// `name` file and, if given, a `device/driver` link.
    fn node(sys: &Path, video: &str, path: &str, name: &str, driver: Option<&str>) {
        let real = sys.join("devices").join(path).join("video4linux").join(video);
        std::fs::create_dir_all(&real).unwrap();
        std::fs::write(real.join("name"), format!("{name}\n")).unwrap();
        if let Some(d) = driver {
            let drivers = sys.join("bus/drivers").join(d);
            std::fs::create_dir_all(&drivers).unwrap();
            std::fs::create_dir_all(real.join("device")).unwrap();
            std::os::unix::fs::symlink(&drivers, real.join("device/driver")).unwrap();
        }
        std::fs::create_dir_all(sys.join("class/video4linux")).unwrap();
        std::os::unix::fs::symlink(&real, sys.join("class/video4linux").join(video)).unwrap();
    }

    #[test]
    fn loopback_and_virtual_bus_cameras_are_virtual_usb_ones_are_not() {
        let sys = tempfile::tempdir().unwrap();
        let sys = sys.path();
        node(
            sys,
            "video0",
            "pci0000:00/0000:00:14.0/usb1/1-6/1-6:1.0",
            "Integrated Camera: Integrated C",
            Some("uvcvideo"),
        );
        node(
            sys,
            "video1",
            "pci0000:00/0000:00:14.0/usb1/1-6/1-6:1.0",
            "Integrated Camera: Integrated C",
            Some("uvcvideo"),
        );
        node(sys, "video4", "virtual", "OBS Virtual Camera", None);
        node(sys, "video5", "platform/v4l2loopback-000", "Dummy video device (0x0000)", Some("v4l2 loopback"));
        let found = virtual_cameras(sys);
        let devices: Vec<&str> = found.iter().map(|c| c.device.as_str()).collect();
        assert_eq!(devices, ["/dev/video4", "/dev/video5"], "{found:?}");
        assert!(found[0].reason.contains("no USB or PCI bus"), "{found:?}");
        assert_eq!(found[1].driver.as_deref(), Some("v4l2 loopback"));
        assert!(virtual_cameras(&sys.join("nothing")).is_empty());
    }
}
