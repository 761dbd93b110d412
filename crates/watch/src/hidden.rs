//! Signs of hidden capture and second channels: other programs recording the computer's sound
//! output (a recording stream on a sound server's `.monitor` source, the way AI interview
//! assistants hear the interviewer), and cameras that are not physical devices (v4l2loopback,
//! OBS's or DroidCam's virtual camera showing a recorded face).
//!
//! The sound server is asked through `pactl` (PulseAudio, or PipeWire through its PulseAudio
//! service), which also tells, through `pactl subscribe`, when a recording stream comes or goes.
//! Cameras are judged by what sysfs says of their bus and driver.
//!
//! Capture devices and virtual displays carry the screen to another machine: an HDMI capture
//! device plugged in here (known USB ids), and outputs that are one on the other end (an EDID
//! naming a capture device), that have no EDID at all (a dummy plug, a virtual head), or whose
//! driver makes virtual displays (DisplayLink's evdi, vkms); read from sysfs too.
//!
//! Screen casts received by other programs (a video call sharing the screen, a helper watching
//! it) are read from PipeWire's graph, where a Wayland desktop's portal puts every shared screen.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use vigil_core::facts::{CaptureDevice, CaptureSignals, ScreenCast, SoundRecorder, VirtualCamera};

/// Everything this module can tell now (for the system check).
pub fn signals() -> CaptureSignals {
    let (sound_recorders, sound_error) = match sound_output_recorders() {
        Ok(found) => (found, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let (screen_casts, screen_cast_error) = match screen_casts() {
        Ok(found) => (found, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let sys = Path::new("/sys");
    CaptureSignals {
        sound_recorders,
        sound_error,
        virtual_cameras: virtual_cameras(sys),
        capture_devices: capture_devices(sys),
        screen_casts,
        screen_cast_error,
    }
}

/// Other programs receiving a screen cast through PipeWire (read with `pw-dump`). Where no
/// PipeWire runs, no program can receive one through it: none.
pub fn screen_casts() -> Result<Vec<ScreenCast>, String> {
    let out = match Command::new("pw-dump").stdin(Stdio::null()).stderr(Stdio::null()).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("pw-dump is not installed (install pipewire-bin so that Vigil can see who receives a \
                        screen cast)"
                .into())
        }
        Err(e) => return Err(format!("pw-dump: {e}")),
    };
    if !out.status.success() {
        return Ok(Vec::new());
    }
    parse_screen_casts(&String::from_utf8_lossy(&out.stdout), std::process::id())
}

/// The screen casts in a `pw-dump`: a video node that is not a camera (what the desktop portal
/// makes of a shared screen or window: GNOME's, KDE's, xdg-desktop-portal-wlr's), linked to a
/// stream of a program other than `own_pid`.
pub fn parse_screen_casts(dump: &str, own_pid: u32) -> Result<Vec<ScreenCast>, String> {
    let objects: Vec<serde_json::Value> = serde_json::from_str(dump).map_err(|e| format!("pw-dump: {e}"))?;
    let of_type = |o: &serde_json::Value, t: &str| o["type"].as_str().is_some_and(|k| k.ends_with(t));
    // pw-dump writes numbers as numbers, some older versions as strings.
    let number = |v: &serde_json::Value| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()));
    let props = |o: &serde_json::Value| o["info"]["props"].clone();
    let by_id = |t: &str| -> std::collections::HashMap<u64, serde_json::Value> {
        objects.iter().filter(|o| of_type(o, t)).filter_map(|o| Some((number(&o["id"])?, props(o)))).collect()
    };
    let (nodes, clients) = (by_id(":Node"), by_id(":Client"));
    let text = |p: &serde_json::Value, k: &str| p[k].as_str().map(str::to_owned);
    let screen_source = |p: &serde_json::Value| {
        let video = matches!(p["media.class"].as_str(), Some("Video/Source" | "Stream/Output/Video"));
        let camera = matches!(p["device.api"].as_str(), Some("v4l2" | "libcamera")) || p["media.role"] == "Camera";
        video && !camera
    };
    let mut found = Vec::new();
    for link in objects.iter().filter(|o| of_type(o, ":Link")) {
        let (Some(from), Some(to)) = (number(&link["info"]["output-node-id"]), number(&link["info"]["input-node-id"]))
        else {
            continue;
        };
        let (Some(source), Some(sink)) = (nodes.get(&from), nodes.get(&to)) else { continue };
        if !screen_source(source) {
            continue;
        }
        let client = number(&sink["client.id"]).and_then(|c| clients.get(&c)).cloned().unwrap_or_default();
        let pid = number(&client["application.process.id"]).or_else(|| number(&client["pipewire.sec.pid"]));
        let pid = pid.and_then(|p| u32::try_from(p).ok());
        if pid == Some(own_pid) {
            continue;
        }
        let cast = ScreenCast {
            source: text(source, "node.description")
                .or_else(|| text(source, "node.name"))
                .unwrap_or_else(|| format!("node {from}")),
            app: text(&client, "application.name")
                .or_else(|| text(sink, "node.name"))
                .unwrap_or_else(|| "unknown".into()),
            pid,
            binary: text(&client, "application.process.binary"),
        };
        if !found.contains(&cast) {
            found.push(cast);
        }
    }
    Ok(found)
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

/// HDMI capture devices by USB vendor and product id.
const CAPTURE_USB_IDS: &[(&str, &str, &str)] = &[
    ("534d", "2109", "MacroSilicon MS2109 HDMI capture"),
    ("345f", "2130", "MacroSilicon MS2130 HDMI capture"),
    ("0fd9", "0066", "Elgato Cam Link 4K"),
];
/// Words in a monitor's EDID name that say it is a capture device.
const CAPTURE_EDID_NAMES: &[&str] = &["capture", "ms2109", "ms2130", "cam link", "elgato", "avermedia", "hdmi to usb"];
/// DRM drivers whose outputs are virtual displays a program feeds elsewhere.
const VIRTUAL_DISPLAY_DRIVERS: &[&str] = &["evdi", "vkms"];
/// DRM drivers of virtual machines: their outputs are virtual by nature (the virtual-machine
/// finding says so), not a sign of their own.
const VM_DISPLAY_DRIVERS: &[&str] = &["virtio-gpu", "virtio_gpu", "qxl", "bochs-drm", "vmwgfx", "cirrus", "simpledrm"];

/// Capture devices and virtual displays under `sys` (`/sys`).
pub fn capture_devices(sys: &Path) -> Vec<CaptureDevice> {
    let mut found = usb_capture_devices(sys);
    found.extend(display_outputs(sys));
    found.sort_by(|a, b| a.device.cmp(&b.device));
    found
}

fn driver_of(dir: &Path) -> Option<String> {
    std::fs::read_link(dir.join("driver")).ok().and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_owned())
}

/// Video devices whose USB device (an ancestor in sysfs with `idVendor` and `idProduct`) is a
/// known HDMI capture device.
fn usb_capture_devices(sys: &Path) -> Vec<CaptureDevice> {
    let Ok(dir) = std::fs::read_dir(sys.join("class/video4linux")) else { return Vec::new() };
    let mut seen = std::collections::HashSet::new();
    dir.filter_map(Result::ok)
        .filter_map(|entry| {
            let real = std::fs::canonicalize(entry.path()).ok()?;
            let usb = real.ancestors().find(|a| a.join("idVendor").is_file())?;
            let id = (read_trimmed(&usb.join("idVendor"))?, read_trimmed(&usb.join("idProduct"))?);
            let (_, _, what) = CAPTURE_USB_IDS.iter().find(|(v, p, _)| (*v, *p) == (id.0.as_str(), id.1.as_str()))?;
            // One entry per physical device (it has several video nodes).
            seen.insert(usb.to_path_buf()).then(|| CaptureDevice {
                kind: "usb_capture".into(),
                device: format!("/dev/{}", entry.file_name().to_string_lossy()),
                name: read_trimmed(&entry.path().join("name")).unwrap_or_default(),
                reason: format!(
                    "USB id {}:{} is a {what}: it records a video signal, such as another screen",
                    id.0, id.1
                ),
            })
        })
        .collect()
}

/// Connected DRM outputs (`class/drm/cardN-CONNECTOR`) that are a capture device, virtual, or
/// without an EDID.
fn display_outputs(sys: &Path) -> Vec<CaptureDevice> {
    let Ok(dir) = std::fs::read_dir(sys.join("class/drm")) else { return Vec::new() };
    dir.filter_map(Result::ok)
        .filter_map(|entry| {
            let connector = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            // Connectors only (card0-HDMI-A-1), not the cards or render nodes.
            if !connector.starts_with("card") || !connector.contains('-') {
                return None;
            }
            if read_trimmed(&path.join("status")).as_deref() != Some("connected") {
                return None;
            }
            let card = path.parent()?.join(connector.split('-').next()?);
            let driver = driver_of(&card.join("device")).or_else(|| driver_of(&path.join("device/device")));
            let edid = std::fs::read(path.join("edid")).unwrap_or_default();
            let name = edid_name(&edid).unwrap_or_default();
            let reason = if let Some(d) = driver.as_deref().filter(|d| VIRTUAL_DISPLAY_DRIVERS.contains(d)) {
                format!("a virtual display made by the {d} driver: a program can send what it shows elsewhere")
            } else if CAPTURE_EDID_NAMES.iter().any(|c| name.to_lowercase().contains(c)) {
                format!("the screen on this output calls itself \"{name}\": a capture device that records it")
            } else if edid.is_empty() && !driver.as_deref().is_some_and(|d| VM_DISPLAY_DRIVERS.contains(&d)) {
                "connected but with no EDID: a dummy plug or a virtual output, not a monitor".to_owned()
            } else {
                return None;
            };
            Some(CaptureDevice { kind: "display".into(), device: connector, name, reason })
        })
        .collect()
}

/// The monitor name in an EDID (its display descriptor with tag 0xFC), if it has one.
pub fn edid_name(edid: &[u8]) -> Option<String> {
    if edid.len() < 128 || edid[..8] != [0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0] {
        return None;
    }
    edid[54..126].chunks_exact(18).find(|d| d[..3] == [0, 0, 0] && d[3] == 0xfc).map(|d| {
        let text: String = d[5..18].iter().take_while(|&&b| b != 0x0a).map(|&b| b as char).collect();
        text.trim().to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCES: &str = r#"[
        {"index": 0, "name": "alsa_output.pci-0000_00_1f.3.analog-stereo.monitor", "monitor_of_sink": "alsa_output.pci-0000_00_1f.3.analog-stereo"},
        {"index": 1, "name": "alsa_input.pci-0000_00_1f.3.analog-stereo", "monitor_of_sink": "n/a"}
    ]"#;

    /// A PipeWire graph as `pw-dump` writes it: a shared screen (the portal's node) received by a
    /// video call and by this process, a camera received by the video call, and a sound stream.
    const GRAPH: &str = r#"[
        {"id": 31, "type": "PipeWire:Interface:Client", "info": {"props": {"application.name": "Zoom",
            "application.process.id": 4242, "application.process.binary": "zoom"}}},
        {"id": 32, "type": "PipeWire:Interface:Client", "info": {"props": {"application.name": "vigil",
            "pipewire.sec.pid": 77}}},
        {"id": 40, "type": "PipeWire:Interface:Node", "info": {"props": {"node.name": "xdpw_stream",
            "media.class": "Video/Source", "client.id": 30}}},
        {"id": 41, "type": "PipeWire:Interface:Node", "info": {"props": {"node.name": "v4l2_input.usb-cam",
            "media.class": "Video/Source", "device.api": "v4l2"}}},
        {"id": 42, "type": "PipeWire:Interface:Node", "info": {"props": {"node.name": "zoom-video",
            "media.class": "Stream/Input/Video", "client.id": 31}}},
        {"id": 43, "type": "PipeWire:Interface:Node", "info": {"props": {"node.name": "vigil",
            "media.class": "Stream/Input/Video", "client.id": "32"}}},
        {"id": 44, "type": "PipeWire:Interface:Node", "info": {"props": {"node.name": "speakers",
            "media.class": "Audio/Sink"}}},
        {"id": 50, "type": "PipeWire:Interface:Link", "info": {"output-node-id": 40, "input-node-id": 42}},
        {"id": 51, "type": "PipeWire:Interface:Link", "info": {"output-node-id": 41, "input-node-id": 42}},
        {"id": 52, "type": "PipeWire:Interface:Link", "info": {"output-node-id": 40, "input-node-id": 43}},
        {"id": 53, "type": "PipeWire:Interface:Link", "info": {"output-node-id": 42, "input-node-id": 44}}
    ]"#;

    #[test]
    fn a_screen_cast_received_by_another_program_is_found_and_cameras_and_our_own_are_not() {
        let found = parse_screen_casts(GRAPH, 77).unwrap();
        assert_eq!(
            found,
            [ScreenCast {
                source: "xdpw_stream".into(),
                app: "Zoom".into(),
                pid: Some(4242),
                binary: Some("zoom".into())
            }]
        );
        // Seen from another process, our own stream counts too.
        assert_eq!(parse_screen_casts(GRAPH, 1).unwrap().len(), 2);
        assert!(parse_screen_casts("[]", 77).unwrap().is_empty());
        assert!(parse_screen_casts("not json", 77).is_err());
    }

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

    /// A 128-byte EDID whose monitor name descriptor says `name`.
    fn edid(name: &str) -> Vec<u8> {
        let mut e = vec![0u8; 128];
        e[..8].copy_from_slice(&[0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0]);
        let d = &mut e[72..90];
        d[..5].copy_from_slice(&[0, 0, 0, 0xfc, 0]);
        let mut text = name.as_bytes().to_vec();
        text.push(0x0a);
        text.resize(13, b' ');
        d[5..].copy_from_slice(&text);
        e
    }

    /// A DRM connector `card0-NAME` of a card with `driver`, connected or not, with an EDID.
    fn connector(sys: &Path, card: &str, name: &str, driver: &str, connected: bool, edid: &[u8]) {
        let card_dir = sys.join("devices/pci0000:00/0000:00:02.0/drm").join(card);
        let dir = card_dir.join(format!("{card}-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("status"), if connected { "connected\n" } else { "disconnected\n" }).unwrap();
        std::fs::write(dir.join("edid"), edid).unwrap();
        let drivers = sys.join("bus/drivers").join(driver);
        std::fs::create_dir_all(&drivers).unwrap();
        if !card_dir.join("device").exists() {
            std::fs::create_dir_all(card_dir.join("device")).unwrap();
            std::os::unix::fs::symlink(&drivers, card_dir.join("device/driver")).unwrap();
        }
        std::fs::create_dir_all(sys.join("class/drm")).unwrap();
        let link = sys.join("class/drm").join(format!("{card}-{name}"));
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        if !sys.join("class/drm").join(card).exists() {
            std::os::unix::fs::symlink(&card_dir, sys.join("class/drm").join(card)).unwrap();
        }
    }

    #[test]
    fn capture_edids_virtual_drivers_and_edidless_outputs_are_found_monitors_are_not() {
        let sys = tempfile::tempdir().unwrap();
        let sys = sys.path();
        connector(sys, "card0", "eDP-1", "i915", true, &edid("LG Display"));
        connector(sys, "card0", "HDMI-A-1", "i915", true, &edid("USB Capture"));
        connector(sys, "card0", "DP-1", "i915", true, &[]);
        connector(sys, "card0", "DP-2", "i915", false, &[]);
        connector(sys, "card1", "DVI-I-1", "evdi", true, &edid("DELL P2419H"));
        connector(sys, "card2", "Virtual-1", "virtio-gpu", true, &[]);
        let found = capture_devices(sys);
        let got: Vec<(&str, &str)> = found.iter().map(|d| (d.device.as_str(), d.name.as_str())).collect();
        assert_eq!(got, [("card0-DP-1", ""), ("card0-HDMI-A-1", "USB Capture"), ("card1-DVI-I-1", "DELL P2419H")]);
        assert!(found[0].reason.contains("no EDID"), "{found:?}");
        assert!(found[1].reason.contains("capture device"), "{found:?}");
        assert!(found[2].reason.contains("evdi"), "{found:?}");
        assert!(found.iter().all(|d| d.kind == "display"));
        assert_eq!(edid_name(&edid("LG Display")).as_deref(), Some("LG Display"));
        assert_eq!(edid_name(b"short"), None);
    }

    #[test]
    fn a_known_hdmi_capture_device_is_found_once_a_webcam_is_not() {
        let sys = tempfile::tempdir().unwrap();
        let sys = sys.path();
        let usb = |port: &str, vendor: &str, product: &str| {
            let dir = sys.join("devices/pci0000:00/0000:00:14.0/usb1").join(port);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("idVendor"), format!("{vendor}\n")).unwrap();
            std::fs::write(dir.join("idProduct"), format!("{product}\n")).unwrap();
        };
        usb("1-6", "04f2", "b604");
        usb("1-2", "534d", "2109");
        node(sys, "video0", "pci0000:00/0000:00:14.0/usb1/1-6/1-6:1.0", "Integrated Camera", Some("uvcvideo"));
        node(sys, "video2", "pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0", "USB Video: USB Video", Some("uvcvideo"));
        node(sys, "video3", "pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0", "USB Video: USB Video", Some("uvcvideo"));
        let found = capture_devices(sys);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].kind.as_str(), found[0].name.as_str()), ("usb_capture", "USB Video: USB Video"));
        assert!(found[0].reason.contains("534d:2109"), "{found:?}");
    }
}
