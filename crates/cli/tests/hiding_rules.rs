//! A compositor rule that hides a window from screen capture (here niri's `block-out-from`, the
//! compositor named by the `NIRI_SOCKET` variable it gives its clients; niri cannot run on this
//! machine): `vigil check` lists it with its file and line, and a rule written into the
//! configuration during `vigil run` (niri applies it at once) is a `desktop.hiding_rule` interval
//! on the server's timeline, closed when the rule is taken out again.

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};
use vigil_testkit::server::seconds_after;
use vigil_testkit::{PulseAudio, ReferenceServer, XvfbDisplay};

const PLAIN: &str = "window-rule {\n    match app-id=\"firefox\"\n    opacity 0.9\n}\n";
const HIDING: &str = "window-rule {\n    match app-id=\"firefox\"\n    opacity 0.9\n}\n\
                      window-rule {\n    match app-id=r#\"^interview-coder$\"#\n    block-out-from \"screencast\"\n}\n";

fn write_config(config_home: &Path, text: &str) -> std::path::PathBuf {
    let file = config_home.join("niri/config.kdl");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, text).unwrap();
    file
}

/// `cmd` on a niri desktop whose configuration is in `config_home`.
fn niri_desktop<'a>(cmd: &'a mut Command, config_home: &Path) -> &'a mut Command {
    cmd.env("XDG_CONFIG_HOME", config_home).env("NIRI_SOCKET", "/run/user/1000/niri.test.sock")
}

fn vigil(config_home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
    niri_desktop(&mut cmd, config_home);
    cmd
}

#[test]
fn the_check_lists_a_hiding_rule_with_its_file_and_line() {
    let home = tempfile::tempdir().unwrap();
    let file = write_config(home.path(), HIDING);
    let out = vigil(home.path()).args(["check", "--json"]).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let finding = |id: &str| report["findings"].as_array().unwrap().iter().find(|f| f["id"] == id).cloned().unwrap();
    assert_eq!(finding("desktop.capture_hiding")["verdict"], "warn");
    let rules = finding("desktop.hiding_rules");
    assert_eq!(rules["verdict"], "warn", "{rules}");
    let expected = format!("app-id=r#\"^interview-coder$\"# hidden from screencast ({}:5)", file.display());
    assert!(rules["message"].as_str().unwrap().starts_with(&expected), "{rules}");
    assert_eq!(report["facts"]["desktop"]["hiding_rules"][0]["compositor"], "niri");

    // The same configuration without the rule: the compositor still can hide, no rule does.
    write_config(home.path(), PLAIN);
    let out = vigil(home.path()).args(["check", "--json"]).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = report["findings"].as_array().unwrap().iter().find(|f| f["id"] == "desktop.hiding_rules").unwrap();
    assert_eq!(rules["verdict"], "ok", "{rules}");
}

#[test]
fn a_rule_added_during_the_exam_is_an_interval_on_the_timeline() {
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), PLAIN);
    let pulse = PulseAudio::start().unwrap();
    let x = XvfbDisplay::start(640, 480).unwrap();
    let server = ReferenceServer::start("HIDE-1").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = niri_desktop(
        &mut server.headless_run(env!("CARGO_BIN_EXE_vigil"), "HIDE-1", "Aigerim", 20, dir.path()),
        home.path(),
    )
    .args(["--camera", "synthetic"])
    .env("DISPLAY", &x.display)
    .envs(pulse.env())
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let added = SystemTime::now();
    write_config(home.path(), HIDING);
    std::thread::sleep(Duration::from_secs(7));
    let removed = SystemTime::now();
    write_config(home.path(), PLAIN);
    let detail = server.session_of_run(&run.wait_with_output().unwrap()).unwrap();
    let events = detail["events"].as_array().unwrap();
    let opened = seconds_after(events, "desktop.hiding_rule", added);
    let closed = seconds_after(events, "desktop.hiding_rule_removed", removed);
    println!("opened {opened:?}, closed {closed:?}");
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert_eq!(opened[0].1["windows"], "app-id=r#\"^interview-coder$\"#");
    assert_eq!(opened[0].1["from"], "screencast");
    assert_eq!(closed.len(), 1, "{closed:?}");
    // Read every 5 s: each change is on the timeline within 6 s.
    assert!((0.0..=6.0).contains(&opened[0].0) && (0.0..=6.0).contains(&closed[0].0), "{opened:?} {closed:?}");
    assert!(detail["intervals"].as_array().unwrap().iter().any(|i| i["kind"] == "desktop.hiding_rule"));
}
