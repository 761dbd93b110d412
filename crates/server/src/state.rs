//! Server state: data directory, database, signing key, admin token, exam identities, limits.
//!
//! Custody: the data directory is 0700 and everything in it 0600 (the process umask is 077).
//! Each exam's age identity, which decrypts its recordings, lives in `DIR/keys/exam-CODE.age`,
//! apart from the database and the media.

use crate::limits::{Limits, RateLimiter};
use anyhow::{bail, Context, Result};
use ed25519_dalek::SigningKey;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;
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
    pub config: Config,
    /// Wrong exam codes per client address.
    pub wrong_codes: RateLimiter,
    /// Joins per exam.
    pub exam_joins: RateLimiter,
}

/// How `vigil-server serve` was configured (the defaults serve the admin commands).
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// External tus server clients upload to (`--upload-endpoint`).
    pub upload_endpoint: Option<String>,
    pub limits: Limits,
    /// The origin clients address this server by, when it is behind a proxy (`--public-url`).
    pub public_origin: Option<String>,
    /// Who receives the recordings (`--organiser`), named in every signed join.
    pub organiser: Option<String>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// 32 random bytes from the OS as hex.
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
    /// Opens the data directory, creating the key and admin token on first start, and moving
    /// exam identities out of the database if an older version kept them there.
    pub fn open(dir: &Path, config: Config) -> Result<AppState> {
        for sub in ["uploads", "segments", "keys"] {
            std::fs::create_dir_all(dir.join(sub)).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let restrict = |dir: &Path| {
            vigil_spool::make_private(dir).with_context(|| format!("cannot make {} private", dir.display()))
        };
        restrict(dir)?;
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
        restrict(dir)?; // the database's files are new on first start
        let state = AppState(Arc::new(Inner {
            dir: dir.to_path_buf(),
            db: Mutex::new(db),
            key: SigningKey::from_bytes(&seed),
            admin_token_hash: crate::db::hash_token(&admin_token),
            admin_token,
            wrong_codes: RateLimiter::new(config.limits.wrong_codes_per_minute),
            exam_joins: RateLimiter::new(config.limits.joins_per_exam_per_minute),
            config,
        }));
        state.move_identities_out_of_the_database()?;
        Ok(state)
    }

    fn move_identities_out_of_the_database(&self) -> Result<()> {
        let kept: Vec<(String, String)> = {
            let db = self.db();
            let mut stmt = db.prepare("SELECT code, age_identity FROM exams WHERE age_identity != ''")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        if kept.is_empty() {
            return Ok(());
        }
        for (code, identity) in &kept {
            self.write_identity(code, identity)?;
            self.db().execute("UPDATE exams SET age_identity = '' WHERE code = ?1", [code])?;
            tracing::info!(exam = %code, "exam identity moved out of the database into keys/");
        }
        // Overwrites the freed pages that held the identities.
        self.db().execute_batch("VACUUM").context("removing old identities from the database file")?;
        Ok(())
    }

    fn identity_path(&self, code: &str) -> PathBuf {
        self.dir.join("keys").join(format!("exam-{code}.age"))
    }

    fn write_identity(&self, code: &str, identity: &str) -> Result<()> {
        let path = self.identity_path(code);
        let tmp = path.with_extension("age.tmp");
        let _ = std::fs::remove_file(&tmp);
        create_secret(&tmp, identity.as_bytes()).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// The age identity that decrypts `code`'s recordings.
    pub fn exam_identity(&self, code: &str) -> std::io::Result<String> {
        std::fs::read_to_string(self.identity_path(code))
    }

    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// Compares the token's hash in constant time.
    pub fn is_admin(&self, token: &str) -> bool {
        crate::db::hash_token(token).as_bytes().ct_eq(self.admin_token_hash.as_bytes()).into()
    }

    pub fn public_key(&self) -> String {
        public_key_base64(&self.key)
    }

    pub fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates (or replaces) exam `code`; `retention_days`: how long its sessions are kept after
    /// they finish (none: until deleted).
    pub fn create_exam(
        &self,
        code: &str,
        policy: &ExamPolicy,
        exam_url: Option<&str>,
        retention_days: Option<f64>,
    ) -> Result<()> {
        if retention_days.is_some_and(|d| !(0.0..=36_500.0).contains(&d)) {
            bail!("the retention period must be 0 to 36500 days");
        }
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
        self.write_identity(code, &identity)?;
        self.db().execute(
            "INSERT OR REPLACE INTO exams (code, policy_json, signature, exam_url, created_at, age_identity, retention_days)
             VALUES (?1, ?2, ?3, ?4, ?5, '', ?6)",
            rusqlite::params![
                code,
                signed.policy_json,
                signed.signature,
                exam_url,
                vigil_core::time::now_rfc3339(),
                retention_days
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
