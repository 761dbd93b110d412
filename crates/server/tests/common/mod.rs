//! A `vigil-server` on a free port of 127.0.0.1 with exam `MATH-101`, for this crate's tests.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub child: Child,
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a `vigil-server` admin command on `dir`; its trimmed output.
pub fn admin(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil-server")).args(args).arg("--data").arg(dir).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

pub fn start(max_upload: u64) -> Server {
    start_with(max_upload, &[])
}

/// A server with extra `serve` flags.
pub fn start_with(max_upload: u64, flags: &[&str]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    admin(dir.path(), &["exam", "create", "--code", "MATH-101", "--exam-url", "https://exam.example/start"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_vigil-server"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--max-upload-bytes", &max_upload.to_string()])
        .args(flags)
        .arg("--data")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::blocking::Client::new().get(format!("{url}/v1/health")).send().is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, url, dir }
}

/// `plain` sealed to the recipient of the exam policy in a join answer.
#[allow(dead_code)]
pub fn seal_for(joined: &serde_json::Value, plain: &[u8]) -> Vec<u8> {
    let policy: serde_json::Value = serde_json::from_str(joined["policy"]["policy_json"].as_str().unwrap()).unwrap();
    let recipient = vigil_spool::seal::parse_recipient(policy["encrypt_to"].as_str().unwrap()).unwrap();
    vigil_spool::seal::seal_bytes(plain, &recipient).unwrap()
}

#[allow(dead_code)]
pub fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Creates a tus upload (the hash of `body` unless `sha` says otherwise); returns the response.
#[allow(dead_code)]
pub fn create_upload(
    s: &Server,
    token: &str,
    session: &str,
    source: &str,
    seq: u64,
    body: &[u8],
    sha: Option<&str>,
) -> reqwest::blocking::Response {
    let sha = sha.map(str::to_owned).unwrap_or_else(|| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body)));
    reqwest::blocking::Client::new()
        .post(format!("{}/v1/uploads", s.url))
        .bearer_auth(token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", body.len().to_string())
        .header(
            "Upload-Metadata",
            format!(
                "session {},source {},sequence {},sha256 {}",
                b64(session),
                b64(source),
                b64(&seq.to_string()),
                b64(&sha)
            ),
        )
        .send()
        .unwrap()
}

/// Joins exam `exam` as `name`: the session id, its token, and the whole answer.
#[allow(dead_code)]
pub fn join(url: &str, exam: &str, name: &str) -> (String, String, serde_json::Value) {
    let joined: serde_json::Value = reqwest::blocking::Client::new()
        .post(format!("{url}/v1/sessions"))
        .json(&serde_json::json!({"exam_code": exam, "candidate": {"name": name}, "consent": {"accepted": true, "at": "2026-11-25T10:00:00Z", "inventory_version": 1}, "device": {"os": "Debian"}}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    (joined["session_id"].as_str().unwrap().to_owned(), joined["token"].as_str().unwrap().to_owned(), joined)
}

/// A `size` (e.g. "32x24") teal JPEG (ImageMagick) filed as the session's face photo, sealed
/// like the app's.
#[allow(dead_code)]
pub fn upload_face_photo(s: &Server, id: &str, token: &str, joined: &serde_json::Value, size: &str) {
    let jpeg = Command::new("convert").args(["-size", size, "xc:teal", "jpg:-"]).output().expect("ImageMagick");
    assert!(jpeg.status.success());
    let body = seal_for(joined, &jpeg.stdout);
    let created = create_upload(s, token, id, "identity-face", 0, &body, None);
    let location = created.headers()["Location"].to_str().unwrap().to_owned();
    let done = reqwest::blocking::Client::new()
        .patch(format!("{}{location}", s.url))
        .bearer_auth(token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/offset+octet-stream")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(done.status(), reqwest::StatusCode::NO_CONTENT);
}

/// The text of a PDF, as `pdftotext -layout` (poppler-utils) reads it.
#[allow(dead_code)]
pub fn pdf_text(pdf: &[u8]) -> String {
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF: {:?}", String::from_utf8_lossy(&pdf[..pdf.len().min(64)]));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), pdf).unwrap();
    let out = Command::new("pdftotext")
        .args(["-layout"])
        .arg(file.path())
        .arg("-")
        .output()
        .expect("pdftotext (Debian package poppler-utils)");
    assert!(out.status.success(), "pdftotext: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}
