//! What a system check observes, before any policy is applied. The sensors in `vigil-watch` and
//! `vigil-capture` fill these in; [`crate::check::evaluate`] turns them into findings.
//! Every list carries an `error` so that a sensor that failed is reported, never a crash.

use crate::apps::{AppCategory, MatchedBy};
use serde::{Deserialize, Serialize};

/// Everything one check observed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Facts {
    pub system: SystemFacts,
    pub monitors: MonitorFacts,
    pub cameras: DeviceList,
    pub microphones: DeviceList,
    /// Present only with `--mic-probe`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub microphone_level: Option<MicLevel>,
    /// One real picture grabbed from each monitor the way the recorder grabs it (present when the
    /// caller probed; the probe lives in `vigil-capture`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_capture: Option<Vec<ScreenProbe>>,
    pub processes: ProcessScan,
    /// Signs that something else captures the exam or that a device is not what it seems.
    #[serde(default)]
    pub capture_signals: CaptureSignals,
    pub virtual_machine: VmFacts,
    pub remote_session: RemoteFacts,
    /// The desktop session: its type and compositor.
    #[serde(default)]
    pub desktop: DesktopFacts,
    /// Present only with `--server`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<BackendFacts>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SystemFacts {
    pub os: String,
    pub os_version: String,
    pub kernel: String,
    pub arch: String,
    pub cpu_brand: String,
    pub cpu_logical_cores: usize,
    pub cpu_physical_cores: Option<usize>,
    pub memory_total_mib: u64,
    pub memory_available_mib: u64,
    /// Where Vigil keeps its data (spool, logs).
    pub data_dir: String,
    /// Free space on the file system that holds `data_dir` (or its nearest existing parent).
    pub disk_free_mib: Option<u64>,
    /// Private IP addresses of this machine's interfaces (the backend sees the public one).
    pub local_ips: Vec<String>,
}

/// One monitor as a display library reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Monitor {
    pub name: String,
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    pub scale_factor: f32,
    pub primary: bool,
}

/// One picture grabbed from a monitor: its size, whether it was black everywhere, or why it
/// could not be grabbed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ScreenProbe {
    pub monitor: String,
    /// The monitor's size as listed.
    pub width: u32,
    pub height: u32,
    /// The size of the picture grabbed (0 when none was).
    pub grabbed_width: u32,
    pub grabbed_height: u32,
    pub dark: bool,
    pub error: Option<String>,
}

/// The monitors as two independent libraries see them (they should agree), and on Wayland as the
/// compositor announces them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MonitorFacts {
    pub display_info: MonitorList,
    pub xcap: MonitorList,
    /// On a Wayland session, the compositor's own outputs (`wl_output`): pixel sizes and layout
    /// positions. display-info and xcap then see only Xwayland's view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wayland: Option<MonitorList>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MonitorList {
    pub monitors: Vec<Monitor>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaDevice {
    pub name: String,
    /// A backend-specific id (V4L2 index, ALSA name, ...).
    pub id: String,
}

/// The desktop session the exam runs in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DesktopFacts {
    /// `wayland`, `x11`, `tty` or `none`.
    pub session_type: String,
    /// `XDG_CURRENT_DESKTOP` (`GNOME`, `KDE`, `sway`, ...).
    pub desktop: Option<String>,
    /// The compositor (or window manager) Vigil recognised, and its version.
    pub compositor: Option<String>,
    pub compositor_version: Option<String>,
    /// How this compositor can hide chosen windows from screen capture, when it can.
    pub hides_windows: Option<String>,
    /// The rules in this compositor's configuration that hide windows from screen capture.
    #[serde(default)]
    pub hiding_rules: Vec<HidingRule>,
}

/// A rule in a compositor's configuration that hides windows from screen capture (Hyprland's
/// `noscreenshare`, niri's `block-out-from`, a KWin rule "exclude from screen capture").
///
/// Two rules are the same rule when they differ only in `line` (an edit above it moves it).
#[derive(Debug, Clone, Eq, Serialize, Deserialize)]
pub struct HidingRule {
    /// `Hyprland`, `niri` or `KWin`.
    pub compositor: String,
    /// The configuration file, and the rule's line in it (1-based).
    pub file: String,
    pub line: u32,
    /// The windows it hides, as the rule matches them (`class:^(cluely)$`, `app-id="^cluely$"`).
    pub windows: String,
    /// What it hides them from: `screencast`, `screen-capture` (niri), or `screen capture`.
    pub from: String,
}

impl PartialEq for HidingRule {
    fn eq(&self, other: &Self) -> bool {
        (&self.compositor, &self.file, &self.windows, &self.from)
            == (&other.compositor, &other.file, &other.windows, &other.from)
    }
}

impl std::hash::Hash for HidingRule {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (&self.compositor, &self.file, &self.windows, &self.from).hash(state);
    }
}

/// Signs of hidden capture and second channels.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CaptureSignals {
    /// Other programs recording the computer's sound output (what the speakers play): the way an
    /// AI assistant hears an interviewer.
    pub sound_recorders: Vec<SoundRecorder>,
    /// Why the sound server could not be asked (then nothing is known about recorders).
    pub sound_error: Option<String>,
    /// Cameras that are not physical devices (a loopback driver, a virtual bus).
    pub virtual_cameras: Vec<VirtualCamera>,
    /// HDMI capture devices plugged in, and outputs that are a capture device, virtual or have no
    /// EDID: ways to carry the screen to another machine.
    #[serde(default)]
    pub capture_devices: Vec<CaptureDevice>,
    /// Other programs receiving a screen cast (a shared screen or window) through PipeWire.
    #[serde(default)]
    pub screen_casts: Vec<ScreenCast>,
    /// Why PipeWire's graph could not be read (then nothing is known about screen casts).
    #[serde(default)]
    pub screen_cast_error: Option<String>,
}

/// A program receiving a screen cast: a PipeWire video stream that is not a camera's, linked to
/// it (a video call sharing the screen, a helper watching it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ScreenCast {
    /// The shared stream, as PipeWire names it (`xdpw_stream`, `gnome-shell-screencast`).
    pub source: String,
    /// The receiving program's name as it told PipeWire.
    pub app: String,
    pub pid: Option<u32>,
    pub binary: Option<String>,
}

/// A capture device or a display output that is not a monitor.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CaptureDevice {
    /// `usb_capture` (an HDMI capture device plugged in here) or `display` (an output).
    pub kind: String,
    /// `/dev/video3`, or the DRM connector (`card0-HDMI-A-1`).
    pub device: String,
    /// The name it gives (its EDID's monitor name for an output; may be empty).
    pub name: String,
    /// Why it is reported.
    pub reason: String,
}

/// A recording stream on a sound server's `.monitor` source.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SoundRecorder {
    /// The program's name as it told the sound server.
    pub app: String,
    pub pid: Option<u32>,
    pub binary: Option<String>,
    /// The monitor source it records (`alsa_output.pci-0000_00_1f.3.analog-stereo.monitor`).
    pub source: String,
}

/// A video device whose driver or bus says it is not a camera.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VirtualCamera {
    /// `/dev/video2`
    pub device: String,
    /// The name it shows to programs (`OBS Virtual Camera`).
    pub name: String,
    /// The kernel driver (`v4l2 loopback`), when sysfs names one.
    pub driver: Option<String>,
    /// Why it is not taken for a camera.
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeviceList {
    pub devices: Vec<MediaDevice>,
    pub error: Option<String>,
}

/// A short level measurement on the default input.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MicLevel {
    pub device: Option<String>,
    pub seconds: f64,
    pub sample_rate: u32,
    pub channels: u16,
    pub samples: u64,
    pub rms_dbfs: Option<f64>,
    pub peak_dbfs: Option<f64>,
    pub error: Option<String>,
}

/// One process that matches a prohibited-application rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessMatch {
    pub pid: u32,
    /// The kernel's process name (at most 15 characters on Linux).
    pub process_name: String,
    /// Full executable path, when readable.
    pub exe: Option<String>,
    pub app_id: String,
    pub app_name: String,
    pub category: AppCategory,
    pub matched_by: MatchedBy,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProcessScan {
    pub scanned: usize,
    pub prohibited: Vec<ProcessMatch>,
    /// Assistive technology that is running (screen readers, magnifiers, on-screen keyboards):
    /// reported for information, always allowed.
    #[serde(default)]
    pub assistive: Vec<AssistiveProcess>,
    pub error: Option<String>,
}

/// One running program from [`crate::apps::ASSISTIVE_TECHNOLOGY`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssistiveProcess {
    pub pid: u32,
    pub name: String,
}

/// One signal considered by virtual-machine detection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evidence {
    /// `cpuid`, `dmi`, `mac`, `virtio`, `container`, `cpuinfo`, ...
    pub signal: String,
    pub detail: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VmFacts {
    pub detected: bool,
    /// The hypervisor or container kind when known (`KVM`, `VMware`, `VirtualBox`, `container`).
    pub kind: Option<String>,
    /// The signals that point to a virtual machine or container.
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RemoteFacts {
    /// `x11`, `wayland`, or `none`.
    pub display_server: String,
    /// The X server program when it can be identified (`Xorg`, `Xvfb`, `Xtigervnc`, ...).
    pub x_server: Option<String>,
    pub detected: bool,
    /// The signals that point to a remote or virtual session.
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BackendFacts {
    pub url: String,
    pub reachable: bool,
    pub status: Option<u16>,
    pub latency_ms: Option<f64>,
    pub tls: bool,
    /// The host is a loopback address (plain HTTP is acceptable there).
    pub loopback: bool,
    pub error: Option<String>,
}
