//! `vigil analyze` on real audio: a voice (Debian's espeak-ng, English and Kazakh) between
//! silences is one speech flag at the right time; noise, a tone and clicks are none; the
//! organiser's screen-reader accommodation makes the flag a note, or turns speech off.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sh(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("{program}: {e} (scripts/install-deps installs espeak-ng and sox)"));
    assert!(status.success(), "{program} {args:?}");
}

/// `text` spoken by espeak-ng in `voice`, with 3 s of silence before and after (16-bit WAV).
fn speech_clip(dir: &Path, voice: &str, text: &str) -> PathBuf {
    let (voice_wav, silence, clip) =
        (dir.join(format!("{voice}.wav")), dir.join("silence.wav"), dir.join(format!("{voice}-clip.wav")));
    sh("espeak-ng", &["-v", voice, "-w", voice_wav.to_str().unwrap(), text]);
    sh("sox", &["-n", "-r", "22050", "-b", "16", "-c", "1", silence.to_str().unwrap(), "trim", "0", "3"]);
    sh(
        "sox",
        &[
            silence.to_str().unwrap(),
            voice_wav.to_str().unwrap(),
            silence.to_str().unwrap(),
            "-b",
            "16",
            clip.to_str().unwrap(),
        ],
    );
    clip
}

fn analyze(args: &[&str]) -> (Vec<Value>, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil")).arg("analyze").arg("--json").args(args).output().unwrap();
    let reports = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (reports, out.status.code().unwrap())
}

#[test]
fn a_voice_is_one_speech_flag_at_its_time_and_noise_tones_and_clicks_are_none() {
    let dir = tempfile::tempdir().unwrap();
    let english =
        speech_clip(dir.path(), "en", "The answer to question four is in the second paragraph. Let me read it again.");
    let kazakh = speech_clip(dir.path(), "kk", "Менің атым Айгерім, мен емтихан тапсырып жатырмын.");
    let mut quiet = Vec::new();
    for (name, synth) in
        [("brown", "brownnoise"), ("white", "whitenoise"), ("tone", "sine 440"), ("clicks", "square 8")]
    {
        let file = dir.path().join(format!("{name}.wav"));
        let mut args = vec!["-n", "-r", "16000", "-b", "16", "-c", "1", file.to_str().unwrap(), "synth", "8"];
        args.extend(synth.split(' '));
        args.extend(["vol", "0.4"]);
        sh("sox", &args);
        quiet.push(file);
    }

    let (reports, code) = analyze(&[english.to_str().unwrap(), kazakh.to_str().unwrap()]);
    assert_eq!(code, 1, "something was flagged");
    for r in &reports {
        let flags = r["flags"].as_array().unwrap();
        assert_eq!(flags.len(), 1, "{r}");
        let start = flags[0]["start_ms"].as_u64().unwrap();
        assert!((3000..=5000).contains(&start), "speech starts at 3 s, flagged at {start} ms: {r}");
        assert_eq!(flags[0]["severity"], "warning");
    }

    let paths: Vec<&str> = quiet.iter().map(|p| p.to_str().unwrap()).collect();
    let (reports, code) = analyze(&paths);
    assert_eq!(code, 0, "{reports:?}");
    assert!(reports.iter().all(|r| r["flags"].as_array().unwrap().is_empty()), "{reports:#?}");

    // The same voice over a loud fan (brown noise louder than the voice): still speech.
    let fan = dir.path().join("fan.wav");
    sh(
        "sox",
        &["-n", "-r", "22050", "-b", "16", "-c", "1", fan.to_str().unwrap(), "synth", "12", "brownnoise", "vol", "0.3"],
    );
    let noisy = dir.path().join("en-over-fan.wav");
    sh("sox", &["-m", english.to_str().unwrap(), fan.to_str().unwrap(), noisy.to_str().unwrap(), "trim", "0", "11"]);
    let (reports, _) = analyze(&[noisy.to_str().unwrap()]);
    let flags = reports[0]["flags"].as_array().unwrap();
    assert_eq!(flags.len(), 1, "{reports:#?}");
    assert!((3000..=5000).contains(&flags[0]["start_ms"].as_u64().unwrap()), "{reports:#?}");
}

#[test]
fn the_screen_reader_accommodation_makes_a_note_or_turns_speech_off() {
    let dir = tempfile::tempdir().unwrap();
    let clip = speech_clip(dir.path(), "ru", "Я читаю вопрос номер пять и думаю над ответом.");
    let policy = |flags: &str| {
        let p = dir.path().join(format!("{flags}.toml"));
        std::fs::write(
            &p,
            format!("schema = 1\n[accommodations]\nscreen_reader = [\"Айгерім\"]\nspeech_flags = \"{flags}\"\n"),
        )
        .unwrap();
        p
    };
    let note = policy("note");
    let (reports, _) = analyze(&["--policy", note.to_str().unwrap(), "--candidate", "айгерім", clip.to_str().unwrap()]);
    let flag = &reports[0]["flags"][0];
    assert_eq!(
        (flag["severity"].as_str(), flag["accommodation"].as_str()),
        (Some("info"), Some("screen_reader")),
        "{reports:?}"
    );
    // Another candidate of the same exam: a warning as usual.
    let (reports, _) = analyze(&["--policy", note.to_str().unwrap(), "--candidate", "Bolat", clip.to_str().unwrap()]);
    assert_eq!(reports[0]["flags"][0]["severity"], "warning");

    let off = policy("off");
    let (reports, code) =
        analyze(&["--policy", off.to_str().unwrap(), "--candidate", "Айгерім", clip.to_str().unwrap()]);
    assert_eq!((code, reports[0]["speech_analysed"].as_bool()), (0, Some(false)));
    assert!(reports[0]["flags"].as_array().unwrap().is_empty());

    // Not audio: a clear error, exit 3.
    let junk = dir.path().join("junk.wav");
    std::fs::write(&junk, b"not audio").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vigil")).args(["analyze", junk.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[wav.not_wav]"));
}

/// The camera flags on labelled clips cut from a photograph: each flag where its scene is (within
/// 2 s of the labelled start), and nothing on a steady face.
#[test]
fn camera_clips_give_each_flag_at_its_scene_and_a_steady_face_none() {
    use vigil_testkit::{camera_clip, Scene};
    let dir = tempfile::tempdir().unwrap();
    let steady = camera_clip(dir.path(), "steady", &[(Scene::Face, 12)], false).unwrap();
    let (reports, code) = analyze(&[steady.to_str().unwrap()]);
    assert_eq!(reports[0]["flags"], serde_json::json!([]), "a steady face was flagged");
    assert_eq!(code, 0);

    let scenes = [
        (Scene::Face, 5),
        (Scene::NoFace, 6),
        (Scene::Face, 5),
        (Scene::TwoFaces, 6),
        (Scene::Face, 5),
        (Scene::Black, 5),
        (Scene::Face, 4),
        (Scene::TurnedHead, 6),
        (Scene::Face, 4),
    ];
    let clip = camera_clip(dir.path(), "labelled", &scenes, false).unwrap();
    let (reports, code) = analyze(&[clip.to_str().unwrap()]);
    assert_eq!(code, 1);
    let flags: Vec<(String, f64, f64)> = reports[0]["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_owned(),
                f["start_ms"].as_f64().unwrap() / 1000.0,
                f["end_ms"].as_f64().unwrap() / 1000.0,
            )
        })
        .collect();
    let at = |kind: &str, start: f64, end: f64| {
        flags.iter().any(|(k, s, e)| k == kind && (s - start).abs() <= 2.0 && (e - end).abs() <= 2.0)
    };
    // No face 5-11 s, two faces 16-22 s, covered 27-32 s, the head turned away 36-42 s; the noisy
    // picture is never frozen.
    assert!(at("face.missing", 5.0, 11.0), "{flags:?}");
    assert!(at("face.multiple", 16.0, 22.0), "{flags:?}");
    assert!(at("camera.covered", 27.0, 32.0), "{flags:?}");
    assert!(at("face.turned", 36.0, 42.0), "{flags:?}");
    assert_eq!(flags.iter().filter(|(k, ..)| k == "face.turned").count(), 1, "frontal faces are not turned: {flags:?}");
    assert!(
        !flags.iter().any(|(k, s, _)| k == "face.missing" && (34.0..44.0).contains(s)),
        "a turned head is not a missing face: {flags:?}"
    );
    assert!(
        !flags.iter().any(|(k, s, _)| k == "face.missing" && (25.0..33.0).contains(s)),
        "covered is not also no face: {flags:?}"
    );
    assert!(!flags.iter().any(|(k, ..)| k == "camera.frozen"), "{flags:?}");

    // The same picture without a sensor's noise: a still image, frozen.
    let still = camera_clip(dir.path(), "still", &[(Scene::Face, 10)], true).unwrap();
    let (reports, _) = analyze(&[still.to_str().unwrap()]);
    assert_eq!(reports[0]["flags"][0]["kind"], "camera.frozen", "{}", reports[0]);

    // A policy that turns the face flags off: they are not computed.
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "schema = 1\n[analysis]\nface_missing = false\nface_multiple = false\nface_turned = false\ncamera_frozen = false\n",
    )
    .unwrap();
    let (reports, _) = analyze(&["--policy", policy.to_str().unwrap(), clip.to_str().unwrap()]);
    let kinds: Vec<&str> =
        reports[0]["flags"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["camera.covered"]);
}
