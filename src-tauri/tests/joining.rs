//! Joining rules that hold against a determined candidate: on a provisioned computer the server
//! and its key are read-only and a join to another server is refused; a join link to a plain
//! `http://` server elsewhere is refused with a translated message and fills in nothing.

mod common;

use std::path::Path;
use std::time::Duration;
use vigil_testkit::{AppDriver, ReferenceServer, XvfbDisplay};

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn app(x: &XvfbDisplay, data: &Path, provisioning: &Path, args: &[String]) -> AppDriver {
    let env: Vec<(String, String)> = vec![
        ("DISPLAY".into(), x.display.clone()),
        ("VIGIL_DATA_DIR".into(), data.display().to_string()),
        ("VIGIL_CAMERA".into(), "synthetic".into()),
        ("VIGIL_PROVISIONING".into(), provisioning.display().to_string()),
        ("LANG".into(), "kk_KZ.UTF-8".into()),
        ("LC_ALL".into(), "".into()),
        ("WAYLAND_DISPLAY".into(), "".into()),
    ];
    let app =
        AppDriver::start(Path::new(env!("CARGO_BIN_EXE_vigil-app")), args, &env).expect("the app under tauri-driver");
    app.wait_visible("#screen-join h2", common::FIRST_SCREEN).unwrap();
    app
}

fn kk(key: &str) -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/i18n/kk.json")).unwrap();
    let map: serde_json::Value = serde_json::from_str(&text).unwrap();
    map[key].as_str().unwrap().to_owned()
}

#[test]
fn a_provisioned_computer_joins_its_server_only() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let x = XvfbDisplay::start(1280, 900).expect("Xvfb");
    let server = ReferenceServer::start("PROV").unwrap();
    let data = tempfile::tempdir().unwrap();
    let provisioning = data.path().join("provisioning.toml");
    std::fs::write(
        &provisioning,
        format!("server = \"{}\"\nserver_key = \"{}\"\nexam_code = \"PROV\"\n", server.url, server.key),
    )
    .unwrap();
    let app = app(&x, data.path(), &provisioning, &[]);
    assert_eq!(app.script("return document.getElementById('server').value").unwrap(), server.url.as_str());
    let read_only = app
        .script("return [document.getElementById('server').readOnly, document.getElementById('server-key').readOnly]")
        .unwrap();
    assert_eq!(read_only, serde_json::json!([true, true]));
    // A candidate who changes the field anyway (devtools, a script) is refused by the app, before
    // anything goes to the other server.
    let other = ReferenceServer::start("PROV").unwrap();
    app.script(&format!("document.getElementById('server').value = '{}'; return true", other.url)).unwrap();
    app.type_into("#name", "Айгерім Сапарова").unwrap();
    app.click("#join-continue").unwrap();
    app.wait_visible("#error", Duration::from_secs(20)).unwrap();
    assert_eq!(app.text("#error-text").unwrap(), kk("error.join.not_provisioned"));
    let sessions = other.review("/v1/review/sessions").unwrap();
    assert!(sessions["sessions"].as_array().unwrap().is_empty(), "the other server got a join");
    // The join command itself refuses too (a script calling it past the screens).
    assert!(app.script("return document.getElementById('screen-consent').hidden").unwrap() == true);
}

#[test]
fn a_plain_http_join_link_is_refused_with_a_translated_message() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let x = XvfbDisplay::start(1280, 900).expect("Xvfb");
    let data = tempfile::tempdir().unwrap();
    let link = "vigil://join?server=http%3A%2F%2Fexam.example.org&code=MATH-1&key=AAAA".to_owned();
    let app = app(&x, data.path(), &data.path().join("none.toml"), &[link]);
    app.wait_visible("#error", Duration::from_secs(20)).unwrap();
    assert_eq!(app.text("#error-text").unwrap(), kk("error.launch.insecure_link"));
    assert_eq!(app.script("return document.getElementById('server').value").unwrap(), "");
    assert_eq!(app.script("return document.getElementById('server').readOnly").unwrap(), false);
}
