//! The reviewer's player on a real session: `vigil run --headless` records two monitors (one
//! unplugged for a while and plugged back), the synthetic camera with a tone from PulseAudio,
//! and a prohibited application for 16 s. While it runs, a reviewer watches it live in Chromium
//! (the open flag, a screen thumbnail, a message the candidate is shown); once it is over, they
//! click the application's flag, and every track stands at its start with a decoded picture.

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vigil_testkit::{workspace_bin, AppDriver, PulseAudio, ReferenceServer, RenamedProcess, Screen, VncDisplay};

const FHD: Screen = Screen::new(0, 0, 1920, 1080);
const FHD_RIGHT: Screen = Screen::new(1920, 0, 1920, 1080);
const REVIEWER: &str = "Динара Сәрсенова";
const PASSWORD: &str = "a long reviewer passphrase";

fn add_reviewer(server: &ReferenceServer) {
    let mut add = Command::new(workspace_bin("vigil-server"))
        .args(["reviewer", "add", "--name", REVIEWER, "--role", "reviewer", "--data"])
        .arg(server.data.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    add.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
    assert!(add.wait().unwrap().success());
}

/// With `VIGIL_SCREENSHOTS=DIR` set, the page as it looks now, for the README.
fn screenshot(page: &AppDriver, name: &str) {
    if let Some(dir) = std::env::var_os("VIGIL_SCREENSHOTS") {
        page.screenshot(&std::path::Path::new(&dir).join(name)).unwrap();
    }
}

/// Milliseconds between two RFC 3339 times.
fn between(from: &str, to: &str) -> i64 {
    let ms = |t: &str| vigil_core::time::parse_rfc3339_ms(t).unwrap_or_else(|| panic!("not a time: {t}"));
    ms(to) - ms(from)
}

/// Each video's source, position, readiness and the state its caption shows.
const TRACKS: &str =
    "return [...document.querySelectorAll('.stage figure')].map((f) => { const v = f.querySelector('video'); \
     return [v.dataset.source, v.currentTime, v.readyState, f.querySelector('.track-state').textContent]; })";

#[test]
fn a_click_on_a_flag_moves_every_track_to_its_start() {
    let vnc = VncDisplay::start(&[FHD, FHD_RIGHT]).expect("TigerVNC");
    let mut pulse = PulseAudio::start().expect("PulseAudio");
    pulse.play_tone(440, 0.3, 60).unwrap();
    let server = ReferenceServer::start("MATH-101").unwrap();
    add_reviewer(&server);
    let data = tempfile::tempdir().unwrap();
    // Something on the screens, so a black picture would stand out.
    let root = Command::new("xsetroot").args(["-solid", "#2563eb"]).env("DISPLAY", &vnc.display).status();
    assert!(root.expect("xsetroot (x11-xserver-utils)").success());

    let mut run = Command::new(env!("CARGO_BIN_EXE_vigil"));
    run.args(["run", "--headless", "--consent", "--name", "Әлия Тестова", "--camera", "synthetic"])
        .args(["--server", &server.url, "--server-key", &server.key, "--exam-code", "MATH-101"])
        .args(["--duration", "40", "--drain-timeout", "120", "--data-dir"])
        .arg(data.path())
        .env("DISPLAY", &vnc.display)
        .env_remove("WAYLAND_DISPLAY")
        .envs(pulse.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = run.spawn().unwrap();
    // The session's clock starts when the server admits the candidate (after the system check).
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.review("/v1/review/sessions").unwrap()["sessions"].as_array().is_none_or(|s| s.is_empty()) {
        assert!(Instant::now() < deadline, "the session never joined");
        std::thread::sleep(Duration::from_millis(200));
    }
    let joined = Instant::now();
    let at = |s: u64| {
        if let Some(wait) = Duration::from_secs(s).checked_sub(joined.elapsed()) {
            std::thread::sleep(wait);
        }
    };
    at(4);
    let app = RenamedProcess::start("anydesk", 16).unwrap();

    // Live, while the candidate is still at it: the open flag, a thumbnail of the screen, and a
    // message that reaches the candidate.
    let page = AppDriver::chromium(&format!("{}/review", server.url)).expect("Chromium and chromedriver (Debian)");
    page.type_into("#name", REVIEWER).unwrap();
    page.type_into("#password", PASSWORD).unwrap();
    page.click("#login button").unwrap();
    page.wait_visible("#show-live", Duration::from_secs(10)).unwrap();
    page.click("#show-live").unwrap();
    let card = "document.querySelector('.live .card')";
    page.wait_script(
        "the open AnyDesk flag on the live card",
        &format!("const c = {card}; return !!c && c.querySelector('ul').textContent.includes('AnyDesk')"),
        Duration::from_secs(20),
    )
    .unwrap();
    page.wait_script(
        "a screen thumbnail playing on the live card",
        &format!("const c = {card}; return !!c && c.querySelector('video').readyState >= 2"),
        Duration::from_secs(30),
    )
    .unwrap_or_else(|e| panic!("{e}: {:?}", page.script(&format!("return {card}.outerHTML"))));
    page.type_into(".live .card form input", "Please face the camera").unwrap();
    page.click(".live .card form button").unwrap();
    page.wait_script(
        "the message shown to the candidate",
        &format!("return {card}.querySelector('.instructions').textContent.includes('1 shown to the candidate')"),
        Duration::from_secs(30),
    )
    .unwrap_or_else(|e| panic!("{e}: {:?}", page.script(&format!("return {card}.outerHTML"))));
    screenshot(&page, "review-live-en.png");

    let unplug = joined.elapsed().as_secs().max(22);
    assert!(unplug <= 28, "the live checks took until {unplug} s into the session");
    at(unplug);
    vnc.set_screens(&[FHD]).unwrap();
    at(unplug + 6);
    vnc.set_screens(&[FHD, FHD_RIGHT]).unwrap();
    let out = child.wait_with_output().unwrap();
    drop(app);
    assert!(out.status.success(), "vigil run: {}", String::from_utf8_lossy(&out.stderr));
    let receipt: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = receipt["session_id"].as_str().unwrap().to_owned();

    // What the player must do, from the API: the application's flag (TigerVNC, a VNC server, is one
    // too), its offset in the session,
    // and the tracks recorded at that moment.
    let detail = server.review(&format!("/v1/review/sessions/{id}")).unwrap();
    let started_at = detail["session"]["started_at"].as_str().unwrap();
    let flag = detail["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["data"]["app_name"] == "AnyDesk")
        .unwrap_or_else(|| panic!("no prohibited-application interval: {:#}", detail["intervals"]))
        .clone();
    let flag_at = between(started_at, flag["start"].as_str().unwrap()) as f64 / 1000.0;
    let mut sources: Vec<String> = detail["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap().to_owned())
        .filter(|s| !vigil_core::protocol::is_picture_source(s))
        .collect();
    sources.sort();
    sources.dedup();
    assert_eq!(sources, ["camera", "screen-0", "screen-1"]);
    let removed = detail["events"].as_array().unwrap().iter().find(|e| e["kind"] == "monitor.removed").unwrap().clone();
    let gone_at = between(started_at, removed["time"].as_str().unwrap()) as f64 / 1000.0;

    page.click("#show-list").unwrap();
    page.wait_visible("#sessions table a", Duration::from_secs(10)).unwrap();
    screenshot(&page, "review-list-en.png");
    page.click("#sessions table tr:nth-child(2) a").unwrap();
    page.wait_visible(".stage video", Duration::from_secs(10)).unwrap();
    // The start: every track shows its first picture.
    page.wait_script(
        "a picture in every track at the start",
        "return [...document.querySelectorAll('.stage video')].every((v) => v.readyState >= 2)",
        Duration::from_secs(20),
    )
    .unwrap_or_else(|e| panic!("{e}: {:?}", page.script(TRACKS)));

    // The flag: a click, and all three tracks stand within 1 s of its start, with a picture.
    page.click(&format!("section.flags tr[data-seq='{}'] button.jump", flag["start_seq"])).unwrap();
    let check = format!(
        "return [...document.querySelectorAll('.stage video')].every((v) => !v.seeking && v.readyState >= 2 && Math.abs(v.currentTime - {flag_at}) < 1)"
    );
    page.wait_script("every track at the flag's start", &check, Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("{e}: the flag at {flag_at} s; the tracks: {:?}", page.script(TRACKS)));

    screenshot(&page, "review-session-en.png");

    // Played from there, the tracks stay together.
    page.click(".controls button").unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let playing = page.script(TRACKS).unwrap();
    let times: Vec<f64> = playing.as_array().unwrap().iter().map(|t| t[1].as_f64().unwrap()).collect();
    let (lo, hi) = times.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &t| (lo.min(t), hi.max(t)));
    assert!(hi - lo < 1.0, "the tracks drifted apart: {playing}");
    assert!(lo > flag_at + 1.0, "nothing played: {playing}");
    page.click(".controls button").unwrap();

    // While the second monitor was unplugged its track says so; the others show pictures.
    let gap = gone_at + 3.0;
    page.script(&format!(
        "const b = document.querySelector('.controls input'); b.value = {gap}; b.dispatchEvent(new Event('input')); return true"
    ))
    .unwrap();
    page.wait_script(
        "the unplugged monitor's track marked as not recorded",
        "const f = document.querySelector('video[data-source=\"screen-1\"]').closest('figure'); \
         return f.querySelector('.track-state').textContent === 'not recorded at this moment'",
        Duration::from_secs(20),
    )
    .unwrap_or_else(|e| panic!("{e}: at {gap} s: {:?}", page.script(TRACKS)));
    page.wait_script(
        "the camera shows the moment",
        &format!("const v = document.querySelector('video[data-source=\"camera\"]'); return v.readyState >= 2 && Math.abs(v.currentTime - {gap}) < 1"),
        Duration::from_secs(20),
    )
    .unwrap_or_else(|e| panic!("{e}: at {gap} s: {:?}", page.script(TRACKS)));

    // A note at the player's position lands in the API at that offset.
    page.type_into("form.note input", "screen 2 unplugged here").unwrap();
    page.click("form.note button").unwrap();
    page.wait_script(
        "the note saved",
        "return document.querySelector('form.note [role=status]').textContent === 'saved'",
        Duration::from_secs(10),
    )
    .unwrap();
    let detail = server.review(&format!("/v1/review/sessions/{id}")).unwrap();
    let note = &detail["notes"][0];
    assert_eq!(note["text"], "screen 2 unplugged here");
    assert_eq!(note["author"], REVIEWER);
    let note_at = note["offset_ms"].as_f64().unwrap() / 1000.0;
    assert!((note_at - gap).abs() < 1.0, "note at {note_at} s, the player was at {gap} s");

    if let Some(dir) = std::env::var_os("VIGIL_SCREENSHOTS") {
        kazakh_screenshots(&page, &server, &id, &flag["start_seq"], std::path::Path::new(&dir));
    }
}

/// The list and the session in Kazakh, and the PDF report's first page in English and Kazakh.
fn kazakh_screenshots(page: &AppDriver, server: &ReferenceServer, id: &str, flag_seq: &Value, dir: &std::path::Path) {
    page.script(
        "const l = document.getElementById('lang'); l.value = 'kk'; l.dispatchEvent(new Event('change')); return true",
    )
    .unwrap();
    page.wait_script(
        "the list in Kazakh",
        "const th = document.querySelector('#sessions th'); return !!th && th.textContent === 'Кандидат'",
        Duration::from_secs(10),
    )
    .unwrap();
    screenshot(page, "review-list-kk.png");
    page.click("#sessions table tr:nth-child(2) a").unwrap();
    page.wait_script(
        "the session in Kazakh",
        "return [...document.querySelectorAll('.stage video')].length === 3 && document.querySelectorAll('section.flags button.jump').length > 0",
        Duration::from_secs(10),
    )
    .unwrap();
    page.click(&format!("section.flags tr[data-seq='{flag_seq}'] button.jump")).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    screenshot(page, "review-session-kk.png");
    for lang in ["en", "kk"] {
        let pdf = reqwest::blocking::Client::new()
            .get(format!("{}/v1/review/sessions/{id}/report.pdf?lang={lang}", server.url))
            .bearer_auth(&server.admin_token)
            .send()
            .unwrap()
            .bytes()
            .unwrap();
        let file = dir.join(format!("report-{lang}.pdf"));
        std::fs::write(&file, &pdf).unwrap();
        let png = dir.join(format!("report-{lang}"));
        let ok = Command::new("pdftoppm")
            .args(["-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile"])
            .arg(&file)
            .arg(&png)
            .status();
        assert!(ok.unwrap().success());
        std::fs::remove_file(file).unwrap();
    }
}
