//! Reviewers instead of a shared token: accounts made with `vigil-server reviewer`, sign-in
//! with a password whose wrong tries make the next one wait, an HttpOnly SameSite cookie, CSRF
//! on every change, sign-out, and an audit log of who did what.

use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

mod common;
use common::{admin as server_cmd, start};

fn add_reviewer(dir: &std::path::Path, name: &str, role: &str, password: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil-server"))
        .args(["reviewer", "add", "--name", name, "--role", role, "--data"])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn sign_in(url: &str, name: &str, password: &str) -> reqwest::blocking::Response {
    Client::new()
        .post(format!("{url}/v1/review/sign-in"))
        .json(&json!({"name": name, "password": password}))
        .send()
        .unwrap()
}

#[test]
fn a_reviewer_signs_in_works_with_csrf_and_leaves_an_audit_trail() {
    let s = start(1024 * 1024);
    let dir = s.dir.path();
    // Accounts: a short password is refused; the list shows name and role, never the password.
    assert!(!add_reviewer(dir, "Әсем", "reviewer", "short").status.success());
    assert!(add_reviewer(dir, "Әсем", "reviewer", "correct horse battery").status.success());
    assert!(add_reviewer(dir, "Head proctor", "admin", "another long passphrase").status.success());
    let list = server_cmd(dir, &["reviewer", "list"]);
    assert!(list.contains("Әсем\treviewer") && list.contains("Head proctor\tadmin"), "{list}");
    assert!(!list.contains("argon2") && !list.contains("horse"), "{list}");

    // A session to look at.
    let joined: Value = Client::new()
        .post(format!("{}/v1/sessions", s.url))
        .json(&json!({"exam_code": "MATH-101", "candidate": {"name": "Aigerim"}, "consent": {"accepted": true, "at": "2026-11-25T10:00:00Z", "inventory_version": 1}, "device": {"os": "Debian"}}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = joined["session_id"].as_str().unwrap().to_owned();

    // A wrong password is refused, and the next try must wait, even with the right password.
    let wrong = sign_in(&s.url, "Әсем", "wrong horse battery");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let early = sign_in(&s.url, "Әсем", "correct horse battery");
    assert_eq!(early.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(early.headers()["Retry-After"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let second_wrong: Value = sign_in(&s.url, "Әсем", "still wrong").json().unwrap();
    assert!(second_wrong["error"]["message"].as_str().unwrap().contains("4 s"), "the wait doubles: {second_wrong}");
    std::thread::sleep(std::time::Duration::from_millis(4100));

    let ok = sign_in(&s.url, "Әсем", "correct horse battery");
    assert_eq!(ok.status(), StatusCode::OK);
    let set_cookie = ok.headers()["Set-Cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let csrf = ok.json::<Value>().unwrap()["csrf"].as_str().unwrap().to_owned();
    let with_cookie = |req: reqwest::blocking::RequestBuilder| req.header("Cookie", &cookie);

    // Reading works with the cookie alone; a change needs the CSRF token too.
    let list = with_cookie(Client::new().get(format!("{}/v1/review/sessions", s.url))).send().unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    let detail = with_cookie(Client::new().get(format!("{}/v1/review/sessions/{id}", s.url))).send().unwrap();
    assert_eq!(detail.status(), StatusCode::OK);
    let instruct = |csrf: Option<&str>| {
        let mut req = with_cookie(Client::new().post(format!("{}/v1/review/sessions/{id}/instructions", s.url)))
            .json(&json!({"kind": "message", "text": "Please face the camera"}));
        if let Some(c) = csrf {
            req = req.header("X-Vigil-Csrf", c);
        }
        req.send().unwrap().status()
    };
    assert_eq!(instruct(None), StatusCode::FORBIDDEN);
    assert_eq!(instruct(Some("0000")), StatusCode::FORBIDDEN);
    assert_eq!(instruct(Some(&csrf)), StatusCode::ACCEPTED);

    // A reviewer is not an admin: no audit log for them.
    let audit_as_reviewer = with_cookie(Client::new().get(format!("{}/v1/review/audit", s.url))).send().unwrap();
    assert_eq!(audit_as_reviewer.status(), StatusCode::FORBIDDEN);

    // Signed out: the cookie opens nothing any more.
    let out = with_cookie(Client::new().post(format!("{}/v1/review/sign-out", s.url))).header("X-Vigil-Csrf", &csrf);
    assert_eq!(out.send().unwrap().status(), StatusCode::NO_CONTENT);
    let after = with_cookie(Client::new().get(format!("{}/v1/review/sessions", s.url))).send().unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);

    // The audit log (admin token, as a script reads it): who did what, in order.
    let token = server_cmd(dir, &["token"]);
    let audit: Value =
        Client::new().get(format!("{}/v1/review/audit", s.url)).bearer_auth(&token).send().unwrap().json().unwrap();
    let entries: Vec<(String, String, String)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().into(),
                e["action"].as_str().unwrap().into(),
                e["target"].as_str().unwrap().into(),
            )
        })
        .collect();
    let a = |actor: &str, action: &str, target: &str| (actor.to_owned(), action.to_owned(), target.to_owned());
    assert_eq!(
        entries,
        [
            a("Әсем", "sign_in.refused", ""),
            a("Әсем", "sign_in.refused", ""),
            a("Әсем", "sign_in", ""),
            a("Әсем", "session.viewed", &id),
            a("Әсем", "session.instructed", &id),
            a("Әсем", "sign_out", ""),
        ]
    );

    // Removed: signing in is refused like a wrong password.
    server_cmd(dir, &["reviewer", "remove", "--name", "Head proctor"]);
    assert_eq!(sign_in(&s.url, "Head proctor", "another long passphrase").status(), StatusCode::UNAUTHORIZED);
}
