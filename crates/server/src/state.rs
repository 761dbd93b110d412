//! Server state: data directory, database, signing key, admin token, storage.

use anyhow::{bail, Context, Result};
use ed25519_dalek::SigningKey;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use vigil_core::protocol::{public_key_base64, SignedPolicy};
use vigil_core::ExamPolicy;

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    pub dir: PathBuf,
    pub db: Mutex<Connection>,
    pub key: SigningKey,
    admin_token_hash: String,
    admin_token: String,
    pub upload_endpoint: Option<String>,
    pub max_upload_bytes: u64,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// 32 random bytes as hex.
pub fn random_hex() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the OS random source");
    hex::encode(b)
}

/// Writes `bytes` to `path` with mode 600, unless it exists.
fn create_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

impl AppState {
    /// Opens the data directory, creating the key and admin token on first start.
    pub fn open(dir: &Path, upload_endpoint: Option<String>, max_upload_bytes: u64) -> Result<AppState> {
        std::fs::create_dir_all(dir.join("uploads")).with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::create_dir_all(dir.join("segments"))?;
        let key_path = dir.join("ed25519.key");
        if !key_path.exists() {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("random source: {e}"))?;
            create_secret(&key_path, &seed).context("writing the signing key")?;
        }
        let seed: [u8; 32] = std::fs::read(&key_path)?
            .try_into()
            .map_err(|_| anyhow::anyhow!("{} is not a 32-byte key", key_path.display()))?;
        let token_path = dir.join("admin.token");
        if !token_path.exists() {
            create_secret(&token_path, random_hex().as_bytes()).context("writing the admin token")?;
        }
        let admin_token = std::fs::read_to_string(&token_path)?.trim().to_owned();
        if admin_token.len() < 32 {
            bail!("{} is too short to be a token", token_path.display());
        }
        let db = crate::db::open(&dir.join("server.db")).context("opening server.db")?;
        Ok(AppState(Arc::new(Inner {
            dir: dir.to_path_buf(),
            db: Mutex::new(db),
            key: SigningKey::from_bytes(&seed),
            admin_token_hash: crate::db::hash_token(&admin_token),
            admin_token,
            upload_endpoint,
            max_upload_bytes,
        })))
    }

    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    pub fn is_admin(&self, token: &str) -> bool {
        crate::db::hash_token(token) == self.admin_token_hash
    }

    pub fn public_key(&self) -> String {
        public_key_base64(&self.key)
    }

    pub fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn create_exam(&self, code: &str, policy: &ExamPolicy, exam_url: Option<&str>) -> Result<()> {
        if code.is_empty()
            || code.len() > 64
            || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            bail!("exam code must be 1-64 letters, digits, '-' or '_'");
        }
        // Each exam gets its own age identity; clients encrypt segments to its recipient.
        let (identity, recipient) = vigil_spool::seal::generate();
        let mut policy = policy.clone();
        policy.encrypt_to = Some(recipient);
        let signed = SignedPolicy::sign(serde_json::to_string(&policy)?, &self.key);
        self.db().execute(
            "INSERT OR REPLACE INTO exams VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![
                code,
                signed.policy_json,
                signed.signature,
                exam_url,
                vigil_core::time::now_rfc3339(),
                identity
            ],
        )?;
        Ok(())
    }

    pub fn segment_path(&self, session: &str, source: &str, sequence: u64) -> PathBuf {
        self.dir.join("segments").join(session).join(vigil_spool::segment_file_name(source, sequence))
    }

    pub fn upload_path(&self, id: &str) -> PathBuf {
        self.dir.join("uploads").join(id)
    }
}
