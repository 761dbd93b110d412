//! `vigil check` end to end, on real devices that each test starts for itself.

use serde_json::Value;
use std::process::{Command, Output};
use vigil_testkit::{PulseAudio, RenamedProcess, Screen, VncDisplay, XvfbDisplay};

fn vigil(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
    cmd.args(args).env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY").env_remove("PULSE_SERVER");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run vigil")
}

/// Runs `vigil check --json` and validates the output against the published schema.
fn check_json(extra: &[&str], env: &[(&str, String)]) -> (Value, i32) {
    let mut args = vec!["check", "--json"];
    args.extend_from_slice(extra);
    let out = vigil(&args, env);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("not JSON ({e}): {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    let schema: Value = serde_json::from_str(include_str!("../../../schemas/check-report.v1.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> =
        validator.iter_errors(&report).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "report does not match the schema: {errors:#?}");
    let code = out.status.code().expect("exit code");
    assert_eq!(report["exit_code"], code, "exit code in the report and of the process differ");
    (report, code)
}

fn finding<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["findings"].as_array().unwrap().iter().find(|f| f["id"] == id).unwrap_or_else(|| panic!("no finding {id}"))
}

fn monitors(report: &Value, source: &str) -> Vec<(i64, i64, i64, i64)> {
    let mut v: Vec<_> = report["facts"]["monitors"][source]["monitors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["x"].as_i64().unwrap(),
                m["y"].as_i64().unwrap(),
                m["width"].as_i64().unwrap(),
                m["height"].as_i64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn two_monitors_under_tigervnc_are_both_listed() {
    let vnc = VncDisplay::start(&[Screen::new(0, 0, 1920, 1080), Screen::new(1920, 0, 1920, 1080)]).expect("TigerVNC");
    let (report, code) = check_json(&[], &[("DISPLAY", vnc.display.clone())]);
    let expected = vec![(0, 0, 1920, 1080), (1920, 0, 1920, 1080)];
    assert_eq!(monitors(&report, "xcap"), expected);
    assert_eq!(monitors(&report, "display_info"), expected);
    // The default policy allows one monitor.
    assert_eq!(finding(&report, "monitors.count")["verdict"], "fail");
    assert_eq!(finding(&report, "monitors.agreement")["verdict"], "ok");
    assert_eq!(code, 2);
    // A VNC X server is a remote-session signal.
    assert_eq!(report["facts"]["remote_session"]["x_server"], "Xtigervnc");
}

#[test]
fn one_monitor_under_xvfb() {
    let x = XvfbDisplay::start(1600, 900).expect("Xvfb");
    let (report, _) = check_json(&[], &[("DISPLAY", x.display.clone())]);
    assert_eq!(monitors(&report, "xcap"), vec![(0, 0, 1600, 900)]);
    assert_eq!(monitors(&report, "display_info"), vec![(0, 0, 1600, 900)]);
    assert_eq!(finding(&report, "monitors.count")["verdict"], "ok");
    assert_eq!(report["facts"]["remote_session"]["x_server"], "Xvfb");
    // Xvfb's default background is a grey weave: a real picture.
    let capture = finding(&report, "monitors.capture");
    assert_eq!(capture["verdict"], "ok", "{capture}");
    assert_eq!(report["facts"]["screen_capture"][0]["grabbed_width"], 1600);

    // A screen that gives only black fails the check: the recording would show nothing.
    let black = Command::new("xsetroot").args(["-solid", "black"]).env("DISPLAY", &x.display).status();
    assert!(black.expect("xsetroot").success());
    let (report, code) = check_json(&[], &[("DISPLAY", x.display.clone())]);
    let capture = finding(&report, "monitors.capture");
    assert_eq!(capture["verdict"], "fail", "{capture}");
    assert!(capture["message"].as_str().unwrap().contains("black everywhere"), "{capture}");
    assert_eq!(code, 2);
}

#[test]
fn no_display_is_a_finding_not_a_crash() {
    let (report, code) = check_json(&[], &[]);
    assert_eq!(finding(&report, "monitors.count")["verdict"], "fail");
    assert!(finding(&report, "monitors.count")["message"].as_str().unwrap().contains("DISPLAY"));
    assert_eq!(code, 2);
}

#[test]
fn microphone_probe_hears_a_tone() {
    let mut pulse = PulseAudio::start().expect("PulseAudio");
    pulse.play_tone(440, 0.5, 30).unwrap();
    let (report, _) = check_json(&["--mic-probe"], &pulse.env());
    let level = &report["facts"]["microphone_level"];
    assert!(level["error"].is_null(), "{level}");
    let rms = level["rms_dbfs"].as_f64().unwrap();
    let peak = level["peak_dbfs"].as_f64().unwrap();
    // A 0.5 sine: RMS 20*log10(0.5/sqrt 2) = -9.03 dBFS, peak -6.02 dBFS.
    assert!((rms - -9.03).abs() < 1.0, "rms {rms} dBFS");
    assert!((peak - -6.02).abs() < 1.0, "peak {peak} dBFS");
    assert!(level["seconds"].as_f64().unwrap() >= 1.9);
    assert_eq!(finding(&report, "microphone.level")["verdict"], "ok");
    assert_eq!(finding(&report, "microphone")["verdict"], "ok");
}

#[test]
fn silent_microphone_is_reported() {
    let pulse = PulseAudio::start().expect("PulseAudio");
    let (report, _) = check_json(&["--mic-probe", "--mic-seconds", "1"], &pulse.env());
    let rms = report["facts"]["microphone_level"]["rms_dbfs"].as_f64().unwrap();
    assert!(rms < -60.0, "rms {rms}");
    assert_eq!(finding(&report, "microphone.level")["verdict"], "warn");
}

#[test]
fn renamed_remote_access_tools_are_flagged_with_their_path() {
    let anydesk = RenamedProcess::start("anydesk", 60).unwrap();
    let helper = RenamedProcess::start("AnyDesk-remote-helper", 60).unwrap();
    let innocent = RenamedProcess::start("innocent-sleeper", 60).unwrap();
    let (report, code) = check_json(&[], &[]);
    let hits = report["facts"]["processes"]["prohibited"].as_array().unwrap();
    for p in [&anydesk, &helper] {
        let hit = hits
            .iter()
            .find(|h| h["pid"] == p.pid())
            .unwrap_or_else(|| panic!("{} not flagged: {hits:#?}", p.exe.display()));
        assert_eq!(hit["exe"], p.exe.display().to_string());
        assert_eq!(hit["app_id"], "anydesk");
        assert_eq!(hit["matched_by"], "executable");
    }
    // The kernel cut the helper's name to 15 characters; the match used the full file name.
    let helper_hit = hits.iter().find(|h| h["pid"] == helper.pid()).unwrap();
    assert_eq!(helper_hit["process_name"].as_str().unwrap().len(), 15);
    assert!(!hits.iter().any(|h| h["pid"] == innocent.pid()), "unlisted process flagged");
    assert_eq!(finding(&report, "processes.prohibited")["verdict"], "fail");
    assert!(finding(&report, "processes.prohibited")["message"]
        .as_str()
        .unwrap()
        .contains(&anydesk.exe.display().to_string()));
    assert_eq!(code, 2);
    // A remote-access tool is also a remote-session signal.
    assert_eq!(report["facts"]["remote_session"]["detected"], true);
}

#[test]
fn policy_decides_the_no_camera_verdict_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let lenient = dir.path().join("lenient.toml");
    // Everything this headless machine lacks or is becomes a warning; the camera is optional.
    std::fs::write(
        &lenient,
        "schema = 1\n[requirements]\nmin_monitors = 0\n[verdicts]\ncamera_missing = \"ok\"\nmicrophone_missing = \"warn\"\n\
         monitor_count = \"warn\"\ndisplay_mismatch = \"warn\"\nvirtual_machine = \"warn\"\nremote_session = \"warn\"\nprohibited_application = \"warn\"\n",
    )
    .unwrap();
    let (report, code) = check_json(&["--policy", lenient.to_str().unwrap()], &[]);
    let camera = finding(&report, "camera");
    assert!(camera["message"].as_str().unwrap().starts_with("none found"), "{camera}");
    assert_eq!(camera["verdict"], "ok");
    assert_eq!(report["facts"]["cameras"]["devices"].as_array().unwrap().len(), 0);
    assert!(code <= 1, "lenient policy should not fail: {report:#}");

    let (report, code) = check_json(&[], &[]);
    assert_eq!(finding(&report, "camera")["verdict"], "fail");
    assert_eq!(code, 2);
}

#[test]
fn this_machine_is_a_kvm_guest() {
    // CI and development machines of this project are KVM guests without DMI tables.
    let out = vigil(&["check"], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains("Virtual machine")).expect("virtual machine line");
    assert!(line.contains("yes (KVM)"), "{line}");
    assert!(line.contains("cpuid"), "evidence missing: {line}");
}

#[test]
fn broken_policy_exits_3_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"schema": 1, "verdicts": {"virtual_machine": "maybe"}}"#).unwrap();
    for args in [vec!["policy", "validate", bad.to_str().unwrap()], vec!["check", "--policy", bad.to_str().unwrap()]] {
        let out = vigil(&args, &[]);
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("verdicts.virtual_machine") && err.contains("maybe"), "{err}");
    }
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "schema = 1\n").unwrap();
    let out = vigil(&["policy", "validate", good.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("valid"));
    let missing = vigil(&["policy", "validate", "/nonexistent/policy.toml"], &[]);
    assert_eq!(missing.status.code(), Some(3));
}

#[test]
fn usage_errors_exit_3_and_help_exits_0() {
    assert_eq!(vigil(&["check", "--no-such-flag"], &[]).status.code(), Some(3));
    assert_eq!(vigil(&["frobnicate"], &[]).status.code(), Some(3));
    let help = vigil(&["check", "--help"], &[]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--mic-probe"));
}

#[test]
fn shipped_policies_validate_and_default_policy_round_trips() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let mut n = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        let out = vigil(&["policy", "validate", path.to_str().unwrap()], &[]);
        assert_eq!(out.status.code(), Some(0), "{}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
        n += 1;
    }
    assert!(n >= 2);
    let dir = tempfile::tempdir().unwrap();
    for fmt in ["toml", "json"] {
        let out = vigil(&["policy", "default", "--format", fmt], &[]);
        let file = dir.path().join(format!("default.{fmt}"));
        std::fs::write(&file, &out.stdout).unwrap();
        assert_eq!(vigil(&["policy", "validate", file.to_str().unwrap()], &[]).status.code(), Some(0), "{fmt}");
    }
}

#[test]
fn backend_probe_reports_reachability() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/", listener.local_addr().unwrap().port());
    drop(listener);
    let (report, _) = check_json(&["--server", &url], &[]);
    assert_eq!(report["facts"]["backend"]["reachable"], false);
    assert_eq!(finding(&report, "backend.reachable")["verdict"], "fail");
    assert_eq!(finding(&report, "backend.tls")["verdict"], "ok"); // loopback
}

/// IT tries navigation rules before an exam: `vigil policy check-url` names the rule that decided,
/// with exit 0 for allowed, 1 for blocked, 3 for a broken policy.
#[test]
fn policy_check_url_names_the_deciding_rule() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("exam.toml");
    std::fs::write(
        &policy,
        "schema = 1\n[lockdown.navigation]\nallow = [\"https://*.example.org/**\"]\nblock = [\"*://*.example.org/admin/**\"]\n",
    )
    .unwrap();
    let p = policy.to_str().unwrap();
    let run = |url: &str| {
        let out = vigil(&["policy", "check-url", p, url], &[]);
        (out.status.code(), String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    assert_eq!(run("https://lms.example.org/quiz/1"), (Some(0), "allowed by https://*.example.org/**".into()));
    assert_eq!(run("https://lms.example.org/admin/x"), (Some(1), "blocked by *://*.example.org/admin/**".into()));
    assert_eq!(run("https://evil.example/x.example.org/"), (Some(1), "blocked by no allow rule matches".into()));
    assert_eq!(run("data:text/html,x://lms.example.org/"), (Some(1), "blocked by no allow rule matches".into()));
    // Without allow rules the exam page's origin decides.
    std::fs::write(&policy, "schema = 1\n").unwrap();
    let out =
        vigil(&["policy", "check-url", p, "https://exam.example/x", "--exam-url", "https://exam.example/start"], &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "allowed by https://exam.example:443/**");
    std::fs::write(&policy, "schema = 1\n[lockdown.navigation]\nallow = [\"lms.example.org/*\"]\n").unwrap();
    let out = vigil(&["policy", "check-url", p, "https://lms.example.org/"], &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lockdown.navigation.allow[0]"));
}

/// `vigil policy hash-password` makes a hash the policy accepts, and 0.1's SHA-256 is refused
/// with the way out.
#[test]
fn policy_hash_password_makes_a_hash_the_policy_accepts() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["policy", "hash-password"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"proctor in room 4\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let phc = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(phc.starts_with("$argon2id$"), "{phc}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("one check takes"));
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("exam.toml");
    std::fs::write(&policy, format!("schema = 1\n[lockdown]\nquit_password = \"{phc}\"\n")).unwrap();
    assert!(vigil(&["policy", "validate", policy.to_str().unwrap()], &[]).status.success());
    let sha = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";
    std::fs::write(&policy, format!("schema = 1\n[lockdown]\nquit_password = \"{sha}\"\n")).unwrap();
    let out = vigil(&["policy", "validate", policy.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lockdown.quit_password") && err.contains("vigil policy hash-password"), "{err}");
}
