//! Another program recording the computer's sound output (`parec` on the null sink's monitor,
//! as an AI interview assistant listens to the interviewer): `vigil check` names it, and during
//! `vigil run` it is an `audio.output_recorded` interval on the server's timeline, opened and
//! closed within 2 s of the program starting and stopping. Vigil's own microphone stream on the
//! same monitor source is not reported.

use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};
use vigil_testkit::server::seconds_after;
use vigil_testkit::{Guard, PulseAudio, ReferenceServer, XvfbDisplay};

fn parec(pulse: &PulseAudio) -> Guard {
    let mut cmd = pulse.command("parec");
    cmd.args(["-d", "vsink.monitor"]).stdout(Stdio::null()).stderr(Stdio::null());
    Guard::spawn(&mut cmd, "parec").unwrap()
}

#[test]
fn a_program_recording_the_sound_output_is_a_finding_and_an_interval() {
    let pulse = PulseAudio::start().unwrap();
    let recorder = parec(&pulse);
    std::thread::sleep(Duration::from_millis(500));
    let out = Command::new(env!("CARGO_BIN_EXE_vigil")).args(["check", "--json"]).envs(pulse.env()).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let finding = report["findings"].as_array().unwrap().iter().find(|f| f["id"] == "sound.recorders").unwrap();
    assert_eq!(finding["verdict"], "warn", "{finding}");
    assert!(finding["message"].as_str().unwrap().contains("parec (pid "), "{finding}");
    assert_eq!(report["facts"]["capture_signals"]["sound_recorders"][0]["source"], "vsink.monitor");
    drop(recorder);

    let x = XvfbDisplay::start(640, 480).unwrap();
    let server = ReferenceServer::start("SOUND-1").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = server
        .headless_run(env!("CARGO_BIN_EXE_vigil"), "SOUND-1", "Nurlan", 14, dir.path())
        .args(["--camera", "synthetic"])
        .env("DISPLAY", &x.display)
        .envs(pulse.env())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let started = SystemTime::now();
    let recorder = parec(&pulse);
    std::thread::sleep(Duration::from_secs(4));
    let stopped = SystemTime::now();
    drop(recorder);
    let detail = server.session_of_run(&run.wait_with_output().unwrap()).unwrap();
    let events = detail["events"].as_array().unwrap();
    let (opened, closed) = (
        seconds_after(events, "audio.output_recorded", started),
        seconds_after(events, "audio.output_released", stopped),
    );
    assert_eq!(opened.len(), 1, "only the other program, not Vigil's own stream: {opened:?}");
    assert_eq!(opened[0].1["app"], "parec");
    assert_eq!(closed.len(), 1, "{closed:?}");
    let (open_s, close_s) = (opened[0].0, closed[0].0);
    println!("reported {open_s:.2} s after parec started, {close_s:.2} s after it stopped");
    assert!((0.0..=2.0).contains(&open_s) && (0.0..=2.0).contains(&close_s), "{open_s} {close_s}");
    assert!(detail["intervals"].as_array().unwrap().iter().any(|i| i["kind"] == "audio.output_recorded"));
}
