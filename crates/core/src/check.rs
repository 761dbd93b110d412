//! Turning facts into findings under a policy, and the versioned check report.
//! The report's JSON shape is `schemas/check-report.v1.schema.json` at the repository root.

use crate::facts::{Facts, Monitor, MonitorList, ScreenProbe};
use crate::policy::ExamPolicy;
use crate::verdict::Verdict;
use serde::{Deserialize, Serialize};

/// The value of the report's `schema` field; bumped on any incompatible change.
pub const REPORT_SCHEMA: &str = "vigil.check-report.v1";

/// One thing the check concluded, with the verdict the policy gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable identifier (`monitors.count`, `processes.prohibited`, ...).
    pub id: String,
    pub title: String,
    pub verdict: Verdict,
    /// One line for a person: what was found and, when it is not ok, what to do.
    pub message: String,
}

/// The full result of a system check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub vigil_version: String,
    pub generated_at: String,
    pub duration_ms: u64,
    pub policy: PolicyRef,
    pub overall: Verdict,
    pub exit_code: i32,
    pub findings: Vec<Finding>,
    pub facts: Facts,
}

/// Which policy decided the verdicts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyRef {
    pub name: String,
    /// The file it came from, or `built-in`.
    pub source: String,
}

impl Report {
    /// Builds a report from facts and the findings evaluated from them.
    pub fn new(facts: Facts, policy: &ExamPolicy, policy_source: &str, duration_ms: u64) -> Report {
        let findings = evaluate(&facts, policy);
        let overall = findings.iter().map(|f| f.verdict).max().unwrap_or(Verdict::Ok);
        Report {
            schema: REPORT_SCHEMA.to_owned(),
            vigil_version: env!("CARGO_PKG_VERSION").to_owned(),
            generated_at: crate::time::now_rfc3339(),
            duration_ms,
            policy: PolicyRef { name: policy.name.clone(), source: policy_source.to_owned() },
            overall,
            exit_code: overall.exit_code(),
            findings,
            facts,
        }
    }

    pub fn finding(&self, id: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.id == id)
    }
}

fn finding(id: &str, title: &str, verdict: Verdict, message: String) -> Finding {
    Finding { id: id.to_owned(), title: title.to_owned(), verdict, message }
}

/// A finding that is ok (saying `none`) when nothing was found, else `verdict` listing what was,
/// and what to do.
fn listed((id, title): (&str, &str), found: Vec<String>, none: &str, (verdict, advice): (Verdict, &str)) -> Finding {
    if found.is_empty() {
        finding(id, title, Verdict::Ok, none.into())
    } else {
        finding(id, title, verdict, format!("{}; {advice}", found.join("; ")))
    }
}

/// A warning when Vigil could not look (`unknown`, saying why), else as [`listed`].
fn unknown_or_listed(
    (id, title): (&str, &str),
    unknown: Option<String>,
    found: Vec<String>,
    none: &str,
    verdict: (Verdict, &str),
) -> Finding {
    match unknown {
        Some(why) => finding(id, title, Verdict::Warn, why),
        None => listed((id, title), found, none, verdict),
    }
}

/// " (pid 42)", or nothing when the pid is not known.
fn pid_note(pid: Option<u32>) -> String {
    pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
}

/// `verdict` when `condition` holds, else ok.
fn when(condition: bool, verdict: Verdict) -> Verdict {
    if condition {
        verdict
    } else {
        Verdict::Ok
    }
}

/// Applies `policy` to `facts`. The order of findings is stable (it is the report's order).
pub fn evaluate(facts: &Facts, policy: &ExamPolicy) -> Vec<Finding> {
    let v = &policy.verdicts;
    let req = &policy.requirements;
    let s = &facts.system;
    let mut out = Vec::new();

    out.push(finding(
        "system.os",
        "Operating system",
        Verdict::Ok,
        format!("{} {} (kernel {}, {})", s.os, s.os_version, s.kernel, s.arch),
    ));
    out.push(finding(
        "system.cpu",
        "Processor",
        Verdict::Ok,
        format!("{}, {} logical cores", s.cpu_brand, s.cpu_logical_cores),
    ));
    let low_mem = s.memory_total_mib < req.min_memory_mib;
    out.push(finding(
        "system.memory",
        "Memory",
        when(low_mem, v.low_memory),
        if low_mem {
            format!("{} MiB installed, the exam needs {} MiB", s.memory_total_mib, req.min_memory_mib)
        } else {
            format!("{} MiB installed, {} MiB available", s.memory_total_mib, s.memory_available_mib)
        },
    ));
    out.push(match s.disk_free_mib {
        Some(free) if free < req.min_free_disk_mib => finding(
            "system.disk",
            "Free disk space",
            v.low_disk,
            format!("{free} MiB free at {}, the exam needs {} MiB: free some space", s.data_dir, req.min_free_disk_mib),
        ),
        Some(free) => {
            finding("system.disk", "Free disk space", Verdict::Ok, format!("{free} MiB free at {}", s.data_dir))
        }
        None => finding(
            "system.disk",
            "Free disk space",
            v.low_disk,
            format!("could not measure free space at {}", s.data_dir),
        ),
    });

    out.extend(monitor_findings(facts, policy));
    out.push(device_finding(
        "camera",
        "Camera",
        &facts.cameras,
        v.camera_missing,
        "connect a camera or close the app that uses it",
    ));
    out.push(device_finding(
        "microphone",
        "Microphone",
        &facts.microphones,
        v.microphone_missing,
        "connect a microphone",
    ));
    if let Some(probes) = facts.screen_capture.as_ref().filter(|p| !p.is_empty()) {
        out.push(screen_capture_finding(probes, policy.verdicts.screen_capture));
    }
    out.extend(capture_signal_findings(&facts.capture_signals, v));
    out.extend(desktop_findings(&facts.desktop, policy));
    if let Some(level) = &facts.microphone_level {
        out.push(match (level.rms_dbfs, &level.error) {
            (Some(rms), None) => {
                let silent = rms < req.min_microphone_dbfs;
                finding(
                    "microphone.level",
                    "Microphone level",
                    when(silent, v.microphone_silent),
                    format!(
                        "RMS {rms:.1} dBFS, peak {:.1} dBFS over {:.1} s{}",
                        level.peak_dbfs.unwrap_or(f64::NEG_INFINITY),
                        level.seconds,
                        if silent { ": the microphone seems muted or unplugged" } else { "" }
                    ),
                )
            }
            (_, err) => finding(
                "microphone.level",
                "Microphone level",
                v.microphone_silent,
                format!("could not measure: {}", err.as_deref().unwrap_or("no samples")),
            ),
        });
    }

    let p = &facts.processes;
    out.push(if let Some(err) = &p.error {
        finding(
            "processes.prohibited",
            "Prohibited applications",
            v.prohibited_application,
            format!("could not list processes: {err}"),
        )
    } else if p.prohibited.is_empty() {
        finding(
            "processes.prohibited",
            "Prohibited applications",
            Verdict::Ok,
            format!("none among {} processes", p.scanned),
        )
    } else {
        let list: Vec<String> = p
            .prohibited
            .iter()
            .map(|m| format!("{} (pid {}, {})", m.app_name, m.pid, m.exe.as_deref().unwrap_or(&m.process_name)))
            .collect();
        finding(
            "processes.prohibited",
            "Prohibited applications",
            v.prohibited_application,
            format!("running: {}; close them before the exam", list.join(", ")),
        )
    });

    // Assistive technology is information for the reviewer, never a risk.
    out.push(finding(
        "processes.assistive",
        "Assistive technology",
        Verdict::Ok,
        if p.assistive.is_empty() {
            "none running".to_owned()
        } else {
            let list: Vec<String> = p.assistive.iter().map(|a| format!("{} (pid {})", a.name, a.pid)).collect();
            format!("running: {}; always allowed", list.join(", "))
        },
    ));

    let vm = &facts.virtual_machine;
    let signals = |e: &[crate::facts::Evidence]| {
        e.iter().map(|e| format!("{}: {}", e.signal, e.detail)).collect::<Vec<_>>().join("; ")
    };
    out.push(finding(
        "virtual_machine",
        "Virtual machine",
        when(vm.detected, v.virtual_machine),
        if vm.detected {
            format!("yes ({}): {}", vm.kind.as_deref().unwrap_or("unknown hypervisor"), signals(&vm.evidence))
        } else {
            "no".to_owned()
        },
    ));
    let rs = &facts.remote_session;
    out.push(finding(
        "remote_session",
        "Remote session",
        when(rs.detected, v.remote_session),
        format!(
            "{} (display server: {}{})",
            if rs.detected { format!("yes: {}", signals(&rs.evidence)) } else { "no".to_owned() },
            rs.display_server,
            rs.x_server.as_ref().map(|x| format!(", {x}")).unwrap_or_default()
        ),
    ));

    if let Some(b) = &facts.backend {
        out.push(if b.reachable {
            finding(
                "backend.reachable",
                "Proctoring server",
                Verdict::Ok,
                format!("{} answered {} in {:.0} ms", b.url, b.status.unwrap_or(0), b.latency_ms.unwrap_or(0.0)),
            )
        } else {
            finding(
                "backend.reachable",
                "Proctoring server",
                v.backend_unreachable,
                format!(
                    "{} is unreachable: {}; check the network connection",
                    b.url,
                    b.error.as_deref().unwrap_or("no answer")
                ),
            )
        });
        out.push(finding(
            "backend.tls",
            "Secure connection",
            when(!b.tls && !b.loopback, v.insecure_connection),
            match (b.tls, b.loopback) {
                (true, _) => "TLS".to_owned(),
                (false, true) => "plain HTTP on this machine (loopback)".to_owned(),
                (false, false) => "plain HTTP over the network: use an https:// server address".to_owned(),
            },
        ));
    }
    out
}

fn describe(m: &Monitor) -> String {
    format!("{} {}x{} at ({},{}){}", m.name, m.width, m.height, m.x, m.y, if m.primary { " primary" } else { "" })
}

fn monitor_findings(facts: &Facts, policy: &ExamPolicy) -> Vec<Finding> {
    let req = &policy.requirements;
    let (di, xc) = (&facts.monitors.display_info, &facts.monitors.xcap);
    // On Wayland the compositor's own list counts. Elsewhere xcap's (it records X11 screens), or
    // display-info's if xcap failed.
    let wayland = facts.monitors.wayland.as_ref().filter(|w| w.error.is_none());
    let primary: &MonitorList = match wayland {
        Some(w) => w,
        None if xc.error.is_none() => xc,
        None => di,
    };
    let n = primary.monitors.len() as u32;
    let list: Vec<String> = primary.monitors.iter().map(describe).collect();
    let count_ok = (req.min_monitors..=req.max_monitors).contains(&n);
    let count = finding(
        "monitors.count",
        "Monitors",
        when(!count_ok, policy.verdicts.monitor_count),
        match (&primary.error, n) {
            (Some(e), _) => format!("could not list monitors: {e}"),
            (None, 0) => "no monitor found (no display?)".to_owned(),
            _ if !count_ok => format!(
                "{n} found ({}); the exam allows {}..{}: disconnect the extra monitors",
                list.join(", "),
                req.min_monitors,
                req.max_monitors
            ),
            _ => format!("{n} found: {}", list.join(", ")),
        },
    );
    vec![count, agreement(di, xc, wayland, policy.verdicts.display_mismatch)]
}

/// `monitors.agreement`: display-info and xcap see the same layout; on Wayland, Xwayland sees as
/// many monitors as the compositor lists (it lays them out in its own, scaled, space).
fn agreement(di: &MonitorList, xc: &MonitorList, wayland: Option<&MonitorList>, mismatch: Verdict) -> Finding {
    let listed = |l: &MonitorList| {
        l.error.clone().unwrap_or_else(|| l.monitors.iter().map(describe).collect::<Vec<_>>().join(", "))
    };
    let layout = |l: &MonitorList| {
        let mut g: Vec<_> = l.monitors.iter().map(|m| (m.x, m.y, m.width, m.height)).collect();
        g.sort();
        g
    };
    let (agree, message) = match wayland {
        Some(w) if di.error.is_some() => {
            (true, format!("the compositor lists {}; no Xwayland to compare with", w.monitors.len()))
        }
        Some(w) if di.monitors.len() == w.monitors.len() => {
            (true, format!("the compositor and Xwayland both see {}", w.monitors.len()))
        }
        Some(w) => (
            false,
            format!(
                "the compositor lists {} ({}), Xwayland (display-info) sees {} ({})",
                w.monitors.len(),
                listed(w),
                di.monitors.len(),
                listed(di)
            ),
        ),
        None if di.error.is_none() && xc.error.is_none() && layout(di) == layout(xc) => {
            (true, "display-info and xcap agree".to_owned())
        }
        None => (
            false,
            format!(
                "display-info sees {} ({}), xcap sees {} ({})",
                di.monitors.len(),
                listed(di),
                xc.monitors.len(),
                listed(xc)
            ),
        ),
    };
    finding("monitors.agreement", "Monitor detection", when(!agree, mismatch), message)
}

fn device_finding(id: &str, title: &str, list: &crate::facts::DeviceList, missing: Verdict, advice: &str) -> Finding {
    if list.devices.is_empty() {
        let why = list.error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default();
        finding(id, title, missing, format!("none found{why}: {advice}"))
    } else {
        let names: Vec<&str> = list.devices.iter().map(|d| d.name.as_str()).collect();
        finding(id, title, Verdict::Ok, names.join(", "))
    }
}

/// `desktop.session`: the session type is one the exam allows (with the compositor and its
/// version); `desktop.capture_hiding`: the compositor cannot hide windows from screen capture;
/// `desktop.hiding_rules` (when it can): no rule in its configuration does.
fn desktop_findings(d: &crate::facts::DesktopFacts, policy: &ExamPolicy) -> Vec<Finding> {
    if d.session_type.is_empty() {
        return Vec::new(); // not observed (a report of an older Vigil)
    }
    let kind = match d.session_type.as_str() {
        "wayland" => "Wayland session",
        "x11" => "X11 session",
        "tty" => "text console session",
        _ => "no graphical session (neither WAYLAND_DISPLAY nor DISPLAY)",
    };
    let what = match (&d.compositor, &d.compositor_version) {
        (Some(c), Some(v)) => format!("{kind}, {c} {v}"),
        (Some(c), None) => format!("{kind}, {c}"),
        (None, _) => kind.to_owned(),
    };
    let allowed = &policy.requirements.session_types;
    let ok =
        allowed.iter().any(|t| t.as_str() == d.session_type) || !matches!(d.session_type.as_str(), "x11" | "wayland");
    let mut out = vec![if ok {
        finding("desktop.session", "Desktop session", Verdict::Ok, what)
    } else {
        let names: Vec<&str> = allowed.iter().map(|t| t.as_str()).collect();
        finding(
            "desktop.session",
            "Desktop session",
            Verdict::Fail,
            format!("{what}: this exam allows only {}; log in with one of those", names.join(", ")),
        )
    }];
    if let (Some(how), Some(c)) = (&d.hides_windows, &d.compositor) {
        out.push(finding(
            "desktop.capture_hiding",
            "Windows hidden from capture",
            policy.verdicts.hiding_compositor,
            format!("{c}: {how}; the screen recording may not show every window"),
        ));
        let rules = d
            .hiding_rules
            .iter()
            .map(|r| format!("{} hidden from {} ({}:{})", r.windows, r.from, r.file, r.line))
            .collect();
        out.push(listed(
            ("desktop.hiding_rules", "Rules that hide windows from capture"),
            rules,
            &format!("no rule in {c}'s configuration hides a window from screen capture"),
            (
                policy.verdicts.hiding_rules,
                "these windows are not in the recording; remove the rules (the compositor applies the change at once)",
            ),
        ));
    }
    out
}

/// `sound.recorders`: no other program records the sound output; `camera.virtual`: every camera
/// is a physical device; `display.capture_devices`: no HDMI capture device and no output that is
/// one, virtual or without an EDID.
fn capture_signal_findings(signals: &crate::facts::CaptureSignals, v: &crate::policy::Verdicts) -> [Finding; 4] {
    let recorders = unknown_or_listed(
        ("sound.recorders", "Other recordings of the sound"),
        signals
            .sound_error
            .as_deref()
            .map(|e| format!("Vigil cannot tell whether another program records the sound: {e}")),
        signals
            .sound_recorders
            .iter()
            .map(|r| format!("{}{} records the computer's sound output", r.app, pid_note(r.pid)))
            .collect(),
        "no other program records the computer's sound output",
        (v.sound_recorder, "close it"),
    );
    let cameras = listed(
        ("camera.virtual", "Virtual cameras"),
        signals.virtual_cameras.iter().map(|c| format!("{} \"{}\": {}", c.device, c.name, c.reason)).collect(),
        "every camera is a physical device",
        (v.virtual_camera, "remove it or unload its driver"),
    );
    let devices = listed(
        ("display.capture_devices", "Capture devices and virtual displays"),
        signals
            .capture_devices
            .iter()
            .map(|d| match d.name.as_str() {
                "" => format!("{}: {}", d.device, d.reason),
                name => format!("{} \"{name}\": {}", d.device, d.reason),
            })
            .collect(),
        "no capture device and no virtual display",
        (v.capture_device, "unplug it"),
    );
    let casts = unknown_or_listed(
        ("display.screen_casts", "Screen sharing by other programs"),
        signals
            .screen_cast_error
            .as_deref()
            .map(|e| format!("Vigil cannot tell whether another program receives the screen: {e}")),
        signals
            .screen_casts
            .iter()
            .map(|c| format!("{}{} receives the screen cast \"{}\"", c.app, pid_note(c.pid), c.source))
            .collect(),
        "no other program receives a screen cast",
        (v.screen_cast, "stop sharing the screen and close it"),
    );
    [recorders, cameras, devices, casts]
}

/// `monitors.capture`: every monitor gave a picture of its own size that is not black everywhere.
fn screen_capture_finding(probes: &[ScreenProbe], broken: Verdict) -> Finding {
    let problems: Vec<String> = probes
        .iter()
        .filter_map(|p| match &p.error {
            Some(e) => Some(format!("{}: {e}", p.monitor)),
            // H.264 takes even sizes: the recorder drops an odd last row or column, nothing more.
            None if p.grabbed_width != p.width & !1 || p.grabbed_height != p.height & !1 => Some(format!(
                "{}: the picture is {}x{}, the monitor {}x{} (the recording would be cropped or scaled)",
                p.monitor, p.grabbed_width, p.grabbed_height, p.width, p.height
            )),
            None if p.dark => Some(format!("{}: the picture is black everywhere", p.monitor)),
            None => None,
        })
        .collect();
    if problems.is_empty() {
        let n = probes.len();
        return finding(
            "monitors.capture",
            "Screen recording",
            Verdict::Ok,
            format!("{n} of {n} monitors give a picture"),
        );
    }
    finding(
        "monitors.capture",
        "Screen recording",
        broken,
        format!("Vigil cannot see what is on screen: {}", problems.join("; ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::*;

    fn monitor(x: i32) -> Monitor {
        Monitor { name: format!("M{x}"), x, y: 0, width: 1920, height: 1080, scale_factor: 1.0, primary: x == 0 }
    }

    fn healthy() -> Facts {
        let monitors = MonitorList { monitors: vec![monitor(0)], error: None };
        let dev = DeviceList { devices: vec![MediaDevice { name: "dev".into(), id: "0".into() }], error: None };
        Facts {
            system: SystemFacts { memory_total_mib: 8192, disk_free_mib: Some(50_000), ..Default::default() },
            monitors: MonitorFacts { display_info: monitors.clone(), xcap: monitors, wayland: None },
            cameras: dev.clone(),
            microphones: dev,
            ..Default::default()
        }
    }

    fn verdict(r: &[Finding], id: &str) -> Verdict {
        r.iter().find(|f| f.id == id).unwrap_or_else(|| panic!("no finding {id}")).verdict
    }

    #[test]
    fn healthy_machine_is_all_ok() {
        let r = Report::new(healthy(), &ExamPolicy::default(), "built-in", 1);
        assert_eq!(r.overall, Verdict::Ok, "{:#?}", r.findings);
        assert_eq!(r.exit_code, 0);
    }

    #[test]
    fn missing_camera_follows_policy() {
        let mut f = healthy();
        f.cameras = DeviceList::default();
        let mut p = ExamPolicy::default();
        assert_eq!(verdict(&evaluate(&f, &p), "camera"), Verdict::Fail);
        p.verdicts.camera_missing = Verdict::Warn;
        let r = Report::new(f, &p, "x", 0);
        assert_eq!(r.finding("camera").unwrap().verdict, Verdict::Warn);
        assert!(r.finding("camera").unwrap().message.starts_with("none found"));
        assert_eq!(r.exit_code, 1);
    }

    #[test]
    fn monitor_count_and_disagreement() {
        let mut f = healthy();
        f.monitors.xcap.monitors.push(monitor(1920));
        let r = evaluate(&f, &ExamPolicy::default());
        assert_eq!(verdict(&r, "monitors.count"), Verdict::Fail);
        assert_eq!(verdict(&r, "monitors.agreement"), Verdict::Warn);
        f.monitors.display_info.monitors.push(monitor(1920));
        let mut p = ExamPolicy::default();
        p.requirements.max_monitors = 2;
        let r = evaluate(&f, &p);
        assert_eq!(verdict(&r, "monitors.count"), Verdict::Ok);
        assert_eq!(verdict(&r, "monitors.agreement"), Verdict::Ok);
    }

    #[test]
    fn on_wayland_the_compositor_lists_the_monitors() {
        let mut f = healthy();
        let output = |name: &str, x: i32| Monitor {
            name: name.into(),
            x,
            y: 0,
            width: 1280,
            height: 720,
            scale_factor: 2.0,
            primary: false,
        };
        f.monitors.wayland =
            Some(MonitorList { monitors: vec![output("HEADLESS-1", 0), output("HEADLESS-2", 640)], error: None });
        // Xwayland's picture of a scaled layout: other sizes, one monitor fewer.
        let mut p = ExamPolicy::default();
        p.requirements.max_monitors = 2;
        let r = evaluate(&f, &p);
        let count = r.iter().find(|x| x.id == "monitors.count").unwrap();
        assert_eq!(count.verdict, Verdict::Ok);
        assert_eq!(count.message, "2 found: HEADLESS-1 1280x720 at (0,0), HEADLESS-2 1280x720 at (640,0)");
        assert_eq!(verdict(&r, "monitors.agreement"), Verdict::Warn);
        f.monitors.display_info.monitors.push(monitor(320));
        assert_eq!(verdict(&evaluate(&f, &p), "monitors.agreement"), Verdict::Ok);
        f.monitors.display_info = MonitorList { monitors: Vec::new(), error: Some("no DISPLAY".into()) };
        let r = evaluate(&f, &p);
        assert_eq!(verdict(&r, "monitors.agreement"), Verdict::Ok);
        assert_eq!(verdict(&evaluate(&f, &ExamPolicy::default()), "monitors.count"), Verdict::Fail);
    }

    #[test]
    fn a_program_receiving_a_screen_cast_is_named_by_the_policys_verdict() {
        let mut f = healthy();
        assert_eq!(verdict(&evaluate(&f, &ExamPolicy::default()), "display.screen_casts"), Verdict::Ok);
        f.capture_signals.screen_casts.push(crate::facts::ScreenCast {
            source: "xdpw_stream".into(),
            app: "Zoom".into(),
            pid: Some(4242),
            binary: None,
        });
        let r = evaluate(&f, &ExamPolicy::default());
        let cast = r.iter().find(|x| x.id == "display.screen_casts").unwrap();
        assert_eq!(cast.verdict, Verdict::Warn);
        assert!(cast.message.contains("Zoom (pid 4242) receives the screen cast \"xdpw_stream\""), "{}", cast.message);
        let mut strict = ExamPolicy::default();
        strict.verdicts.screen_cast = Verdict::Fail;
        assert_eq!(verdict(&evaluate(&f, &strict), "display.screen_casts"), Verdict::Fail);
        f.capture_signals.screen_casts.clear();
        f.capture_signals.screen_cast_error = Some("pw-dump is not installed".into());
        assert_eq!(verdict(&evaluate(&f, &ExamPolicy::default()), "display.screen_casts"), Verdict::Warn);
    }

    #[test]
    fn running_assistive_technology_is_information_not_a_risk() {
        let mut f = healthy();
        let r = evaluate(&f, &ExamPolicy::default());
        let none = r.iter().find(|x| x.id == "processes.assistive").unwrap();
        assert_eq!((none.verdict, none.message.as_str()), (Verdict::Ok, "none running"));
        f.processes.assistive.push(crate::facts::AssistiveProcess { pid: 42, name: "Orca screen reader".into() });
        let r = evaluate(&f, &ExamPolicy::default());
        let orca = r.iter().find(|x| x.id == "processes.assistive").unwrap();
        assert_eq!(orca.verdict, Verdict::Ok);
        assert!(orca.message.contains("Orca screen reader (pid 42)"), "{}", orca.message);
        assert_eq!(verdict(&r, "processes.prohibited"), Verdict::Ok);
    }

    #[test]
    fn vm_prohibited_apps_and_backend() {
        let mut f = healthy();
        f.virtual_machine = VmFacts {
            detected: true,
            kind: Some("KVM".into()),
            evidence: vec![Evidence { signal: "cpuid".into(), detail: "KVMKVMKVM".into() }],
        };
        f.processes.prohibited.push(ProcessMatch {
            pid: 7,
            process_name: "anydesk".into(),
            exe: Some("/opt/anydesk".into()),
            app_id: "anydesk".into(),
            app_name: "AnyDesk".into(),
            category: crate::apps::AppCategory::RemoteAccess,
            matched_by: crate::apps::MatchedBy::Executable,
        });
        f.backend = Some(BackendFacts { url: "http://10.0.0.1/".into(), reachable: true, ..Default::default() });
        let r = evaluate(&f, &ExamPolicy::default());
        let vm = r.iter().find(|x| x.id == "virtual_machine").unwrap();
        assert_eq!(vm.verdict, Verdict::Warn);
        assert!(vm.message.starts_with("yes (KVM)"), "{}", vm.message);
        assert_eq!(verdict(&r, "processes.prohibited"), Verdict::Fail);
        assert!(r.iter().any(|x| x.message.contains("/opt/anydesk")));
        assert_eq!(verdict(&r, "backend.reachable"), Verdict::Ok);
        assert_eq!(verdict(&r, "backend.tls"), Verdict::Fail);
    }

    #[test]
    fn another_sound_recorder_and_a_virtual_camera_are_findings_by_policy() {
        use crate::facts::{SoundRecorder, VirtualCamera};
        let mut f = healthy();
        let r = evaluate(&f, &ExamPolicy::default());
        assert_eq!((verdict(&r, "sound.recorders"), verdict(&r, "camera.virtual")), (Verdict::Ok, Verdict::Ok));
        f.capture_signals.sound_recorders.push(SoundRecorder {
            app: "cluely".into(),
            pid: Some(4242),
            binary: Some("cluely".into()),
            source: "vsink.monitor".into(),
        });
        f.capture_signals.virtual_cameras.push(VirtualCamera {
            device: "/dev/video4".into(),
            name: "OBS Virtual Camera".into(),
            driver: None,
            reason: "it sits on no USB or PCI bus".into(),
        });
        let r = evaluate(&f, &ExamPolicy::default());
        assert_eq!((verdict(&r, "sound.recorders"), verdict(&r, "camera.virtual")), (Verdict::Warn, Verdict::Warn));
        assert!(r.iter().any(|x| x.message.contains("cluely (pid 4242)")));
        let strict = ExamPolicy::parse(
            "schema = 1\n[verdicts]\nsound_recorder = \"fail\"\nvirtual_camera = \"fail\"",
            crate::policy::Format::Toml,
        )
        .unwrap();
        let r = evaluate(&f, &strict);
        assert_eq!((verdict(&r, "sound.recorders"), verdict(&r, "camera.virtual")), (Verdict::Fail, Verdict::Fail));
        f.capture_signals = Default::default();
        f.capture_signals.sound_error = Some("pactl: not found".into());
        assert_eq!(verdict(&evaluate(&f, &strict), "sound.recorders"), Verdict::Warn);
    }

    #[test]
    fn a_capture_device_or_virtual_display_is_a_finding_by_policy() {
        let mut f = healthy();
        assert_eq!(verdict(&evaluate(&f, &ExamPolicy::default()), "display.capture_devices"), Verdict::Ok);
        f.capture_signals.capture_devices.push(crate::facts::CaptureDevice {
            kind: "display".into(),
            device: "card0-HDMI-A-1".into(),
            name: "USB Capture".into(),
            reason: "a capture device that records it".into(),
        });
        let r = evaluate(&f, &ExamPolicy::default());
        assert_eq!(verdict(&r, "display.capture_devices"), Verdict::Warn);
        assert!(r.iter().any(|x| x.message.contains("card0-HDMI-A-1 \"USB Capture\"")), "{r:?}");
        let strict =
            ExamPolicy::parse("schema = 1\n[verdicts]\ncapture_device = \"fail\"", crate::policy::Format::Toml)
                .unwrap();
        assert_eq!(verdict(&evaluate(&f, &strict), "display.capture_devices"), Verdict::Fail);
    }

    #[test]
    fn the_session_type_must_be_allowed_and_a_hiding_compositor_is_said() {
        use crate::facts::DesktopFacts;
        let mut f = healthy();
        f.desktop = DesktopFacts {
            session_type: "wayland".into(),
            compositor: Some("Hyprland".into()),
            compositor_version: Some("0.45.2".into()),
            hides_windows: Some("a window rule (noscreenshare) hides chosen windows".into()),
            ..Default::default()
        };
        let r = evaluate(&f, &ExamPolicy::default());
        assert_eq!(verdict(&r, "desktop.session"), Verdict::Ok);
        assert!(r.iter().any(|x| x.message == "Wayland session, Hyprland 0.45.2"));
        assert_eq!(verdict(&r, "desktop.capture_hiding"), Verdict::Warn);
        assert_eq!(verdict(&r, "desktop.hiding_rules"), Verdict::Ok);
        f.desktop.hiding_rules.push(crate::facts::HidingRule {
            compositor: "Hyprland".into(),
            file: "/home/c/.config/hypr/hyprland.conf".into(),
            line: 12,
            windows: "class:^(cluely)$".into(),
            from: "screen capture".into(),
        });
        let r = evaluate(&f, &ExamPolicy::default());
        let rules = r.iter().find(|x| x.id == "desktop.hiding_rules").unwrap();
        assert_eq!(rules.verdict, Verdict::Warn);
        assert!(rules
            .message
            .starts_with("class:^(cluely)$ hidden from screen capture (/home/c/.config/hypr/hyprland.conf:12)"));
        let strict =
            ExamPolicy::parse("schema = 1\n[verdicts]\nhiding_rules = \"fail\"", crate::policy::Format::Toml).unwrap();
        assert_eq!(verdict(&evaluate(&f, &strict), "desktop.hiding_rules"), Verdict::Fail);
        let x11_only =
            ExamPolicy::parse("schema = 1\n[requirements]\nsession_types = [\"x11\"]", crate::policy::Format::Toml)
                .unwrap();
        assert_eq!(verdict(&evaluate(&f, &x11_only), "desktop.session"), Verdict::Fail);
        f.desktop = DesktopFacts { session_type: "x11".into(), ..Default::default() };
        let r = evaluate(&f, &x11_only);
        assert_eq!(verdict(&r, "desktop.session"), Verdict::Ok);
        assert!(r.iter().all(|x| x.id != "desktop.capture_hiding"));
        assert!(
            ExamPolicy::parse("schema = 1\n[requirements]\nsession_types = []", crate::policy::Format::Toml).is_err()
        );
    }

    #[test]
    fn silent_microphone() {
        let mut f = healthy();
        f.microphone_level = Some(MicLevel {
            device: None,
            seconds: 2.0,
            sample_rate: 48_000,
            channels: 1,
            samples: 96_000,
            rms_dbfs: Some(-90.0),
            peak_dbfs: Some(-80.0),
            error: None,
        });
        assert_eq!(verdict(&evaluate(&f, &ExamPolicy::default()), "microphone.level"), Verdict::Warn);
        f.microphone_level.as_mut().unwrap().rms_dbfs = Some(-9.0);
        assert_eq!(verdict(&evaluate(&f, &ExamPolicy::default()), "microphone.level"), Verdict::Ok);
    }

    #[test]
    fn a_black_failed_or_cropped_screen_grab_fails_monitors_capture() {
        let probe = |dark, error: Option<&str>, grabbed: (u32, u32)| ScreenProbe {
            monitor: "XWAYLAND0".into(),
            width: 1921,
            height: 1080,
            grabbed_width: grabbed.0,
            grabbed_height: grabbed.1,
            dark,
            error: error.map(str::to_owned),
        };
        let mut f = healthy();
        f.screen_capture = Some(vec![probe(false, None, (1920, 1080))]);
        assert_eq!(verdict(&evaluate(&f, &ExamPolicy::default()), "monitors.capture"), Verdict::Ok);
        for bad in
            [probe(true, None, (1920, 1080)), probe(false, Some("refused"), (0, 0)), probe(false, None, (480, 270))]
        {
            f.screen_capture = Some(vec![bad.clone()]);
            assert_eq!(verdict(&evaluate(&f, &ExamPolicy::default()), "monitors.capture"), Verdict::Fail, "{bad:?}");
        }
        f.screen_capture = None;
        assert!(evaluate(&f, &ExamPolicy::default()).iter().all(|x| x.id != "monitors.capture"));
    }
}
