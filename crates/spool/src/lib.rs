//! The durable spool: the only hand-off between capture and upload. Segment files live in
//! `DIR/segments/`, their manifest and the event log in `DIR/spool.db` (SQLite, WAL, synchronous
//! FULL, schema versioned and migrated on open: [`SCHEMA_VERSION`]). Nothing is deleted here; the
//! uplink removes a segment only after the backend confirmed its hash.
//!
//! Also here, since they are the spool's I/O: the [`Timeline`] every writer of events uses,
//! [`write_atomically`], sealing ([`seal`]) and hashing ([`sha256_file`]).

pub mod seal;
pub mod timeline;

pub use timeline::{Timeline, TimelineFailures};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use vigil_core::event::{Event, Interval, Severity};

/// The spool schema this code writes. 1: segments, events, uploads, kv (0.1); 2: events carry
/// severity, interval and `truncated`; a `schema_version` table.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool database {path}: {source}")]
    Db { path: PathBuf, source: rusqlite::Error },
    #[error("spool directory {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "spool database {path} has schema version {found}, newer than this Vigil ({SCHEMA_VERSION}): update Vigil"
    )]
    TooNew { path: PathBuf, found: u32 },
}

impl SpoolError {
    /// A stable machine code: `spool.full`, `spool.read_only`, `spool.too_new`, `spool.db`, `spool.io`.
    pub fn code(&self) -> &'static str {
        match self {
            SpoolError::Db { source: rusqlite::Error::SqliteFailure(f, _), .. } => match f.code {
                rusqlite::ErrorCode::DiskFull => "spool.full",
                rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::PermissionDenied => "spool.read_only",
                _ => "spool.db",
            },
            SpoolError::Db { .. } => "spool.db",
            SpoolError::Io { source, .. } if source.raw_os_error() == Some(28) => "spool.full",
            SpoolError::Io { .. } => "spool.io",
            SpoolError::TooNew { .. } => "spool.too_new",
        }
    }
}

/// One finished segment: an independently playable fragmented MP4 file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentRecord {
    /// `camera`, `screen-0`, `screen-1`, ...
    pub source: String,
    /// Per source, from 0, without gaps.
    pub sequence: u64,
    /// File name inside `segments/`.
    pub file: String,
    /// Wall-clock start (RFC 3339).
    pub started_at: String,
    /// Start relative to the recording's start, in milliseconds (the media timeline).
    pub start_ms: u64,
    pub duration_ms: u64,
    pub video_frames: u64,
    pub audio_frames: u64,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub sha256: String,
    /// Finished by crash recovery rather than by the recorder.
    pub recovered: bool,
}

/// One event on the session's timeline, as stored: the same shape it travels in.
pub type EventRecord = vigil_core::protocol::WireEvent;

/// Makes every file this process creates from now on private to its user (umask 077): the
/// spool, segments, photos, logs. Call it first thing in `main`.
pub fn private_files() {
    // SAFETY: umask only changes this process's file creation mask.
    #[cfg(unix)]
    unsafe {
        libc::umask(0o077);
    }
}

/// Makes `dir` and what is directly in it private to this user: directories 0700, files 0600
/// (only those that are not already). Stops at the first change that fails.
#[cfg(unix)]
pub fn make_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let set = |path: &Path, mode: u32| -> std::io::Result<()> {
        if std::fs::metadata(path)?.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
        Ok(())
    };
    set(dir, 0o700)?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        set(&entry.path(), if entry.file_type()?.is_dir() { 0o700 } else { 0o600 })?;
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn make_private(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Only the candidate's user may enter the spool and read its files (a spool made by an older
/// version was world-readable). Best effort: a spool that cannot be changed (read-only,
/// immutable) still opens, and the failure is logged.
fn restrict(dir: &Path) {
    for d in [dir.to_path_buf(), dir.join("segments")] {
        if let Err(e) = make_private(&d) {
            tracing::warn!(path = %d.display(), error = %e, "cannot restrict the spool's permissions");
        }
    }
}

/// `uploads.done`: still to send, sent, or refused for good and kept aside.
const UPLOAD_PENDING: i64 = 0;
const UPLOAD_SET_ASIDE: i64 = 2;

pub struct Spool {
    dir: PathBuf,
    db: Mutex<Connection>,
}

impl Spool {
    /// Opens (creating if needed) the spool in `dir`.
    pub fn open(dir: &Path) -> Result<Spool, SpoolError> {
        let io = |source| SpoolError::Io { path: dir.to_path_buf(), source };
        std::fs::create_dir_all(dir.join("segments")).map_err(io)?;
        let path = dir.join("spool.db");
        let db_err = |source| SpoolError::Db { path: path.clone(), source };
        let mut db = Connection::open(&path).map_err(db_err)?;
        db.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;")
            .map_err(db_err)?;
        migrate(&mut db).map_err(|e| match e {
            Migration::Db(source) => SpoolError::Db { path: path.clone(), source },
            Migration::TooNew(found) => SpoolError::TooNew { path: path.clone(), found },
        })?;
        restrict(dir);
        Ok(Spool { dir: dir.to_path_buf(), db: Mutex::new(db) })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn segments_dir(&self) -> PathBuf {
        self.dir.join("segments")
    }

    fn with_db<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, SpoolError> {
        let db = self.db.lock().unwrap_or_else(|p| p.into_inner());
        f(&db).map_err(|source| SpoolError::Db { path: self.dir.join("spool.db"), source })
    }

    /// Records a finished segment. Idempotent: the same (source, sequence) again is ignored.
    pub fn add_segment(&self, s: &SegmentRecord) -> Result<(), SpoolError> {
        self.with_db(|db| {
            db.execute(
                "INSERT OR IGNORE INTO segments VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
                params![
                    s.source,
                    s.sequence,
                    s.file,
                    s.started_at,
                    s.start_ms,
                    s.duration_ms,
                    s.video_frames,
                    s.audio_frames,
                    s.width,
                    s.height,
                    s.bytes,
                    s.sha256,
                    s.recovered
                ],
            )
            .map(|_| ())
        })
    }

    pub fn segments(&self) -> Result<Vec<SegmentRecord>, SpoolError> {
        self.with_db(|db| {
            let mut stmt = db.prepare(
                "SELECT source, sequence, file, started_at, start_ms, duration_ms, video_frames, audio_frames,
                        width, height, bytes, sha256, recovered FROM segments ORDER BY source, sequence",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(SegmentRecord {
                    source: r.get(0)?,
                    sequence: r.get(1)?,
                    file: r.get(2)?,
                    started_at: r.get(3)?,
                    start_ms: r.get(4)?,
                    duration_ms: r.get(5)?,
                    video_frames: r.get(6)?,
                    audio_frames: r.get(7)?,
                    width: r.get(8)?,
                    height: r.get(9)?,
                    bytes: r.get(10)?,
                    sha256: r.get(11)?,
                    recovered: r.get(12)?,
                })
            })?;
            rows.collect()
        })
    }

    pub fn has_segment(&self, file: &str) -> Result<bool, SpoolError> {
        self.with_db(|db| {
            db.query_row("SELECT 1 FROM segments WHERE file = ?1", [file], |_| Ok(())).optional().map(|r| r.is_some())
        })
    }

    /// The next free sequence number of `source` (after every recorded one).
    pub fn next_sequence(&self, source: &str) -> Result<u64, SpoolError> {
        self.with_db(|db| {
            db.query_row("SELECT COALESCE(MAX(sequence) + 1, 0) FROM segments WHERE source = ?1", [source], |r| {
                r.get(0)
            })
        })
    }

    /// Files one JPEG picture (an identity photo, a flag's evidence) as a one-picture segment of
    /// `source`, written atomically: `bytes` are the JPEG, or its age file when `sealed`. Returns
    /// its sequence number.
    pub fn add_picture(&self, source: &str, bytes: &[u8], sealed: bool) -> Result<u64, SpoolError> {
        let sequence = self.next_sequence(source)?;
        let file = format!("{source}-{sequence:06}.jpg{}", if sealed { ".age" } else { "" });
        let path = self.segments_dir().join(&file);
        write_atomically(&path, bytes).map_err(|source| SpoolError::Io { path: path.clone(), source })?;
        self.add_segment(&SegmentRecord {
            source: source.to_owned(),
            sequence,
            file,
            started_at: vigil_core::time::now_rfc3339(),
            start_ms: 0,
            duration_ms: 0,
            video_frames: 1,
            audio_frames: 0,
            width: 0,
            height: 0,
            bytes: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            recovered: false,
        })?;
        Ok(sequence)
    }

    /// Appends an event, stamped now; returns its sequence number. Writers go through
    /// [`Timeline`], which counts the writes that fail.
    pub fn add_event(&self, event: &Event) -> Result<u64, SpoolError> {
        let time = vigil_core::time::now_rfc3339();
        let (interval_id, phase) = Interval::columns(event.interval.as_ref());
        self.with_db(|db| {
            db.prepare_cached(
                "INSERT INTO events (time, kind, data, severity, interval_id, interval_phase, truncated)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                time,
                event.kind.as_str(),
                event.data.to_string(),
                event.severity.as_str(),
                interval_id,
                phase,
                event.truncated
            ])?;
            Ok(db.last_insert_rowid() as u64)
        })
    }

    pub fn events(&self) -> Result<Vec<EventRecord>, SpoolError> {
        self.with_db(|db| {
            let mut stmt = db.prepare("SELECT seq, time, kind, data, severity, interval_id, interval_phase, truncated FROM events ORDER BY seq")?;
            let rows = stmt.query_map([], event_row)?;
            rows.collect()
        })
    }
}

/// The file name of a segment: `camera-000003.mp4`.
pub fn segment_file_name(source: &str, sequence: u64) -> String {
    format!("{source}-{sequence:06}.mp4")
}

/// A valid source id: 1-32 characters of `a-z`, `0-9` and `-` (it becomes part of file names).
pub fn is_valid_source(source: &str) -> bool {
    (1..=32).contains(&source.len())
        && source.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Spool {
    /// A small persistent setting (session id, acknowledged event seq, ...).
    pub fn get(&self, key: &str) -> Result<Option<String>, SpoolError> {
        self.with_db(|db| db.query_row("SELECT value FROM kv WHERE key = ?1", [key], |r| r.get(0)).optional())
    }

    pub fn set(&self, key: &str, value: &str) -> Result<(), SpoolError> {
        self.with_db(|db| db.execute("INSERT OR REPLACE INTO kv VALUES (?1, ?2)", [key, value]).map(|_| ()))
    }

    /// Segments not yet confirmed uploaded, oldest first.
    pub fn pending_uploads(&self) -> Result<Vec<(SegmentRecord, Option<String>)>, SpoolError> {
        let done: std::collections::HashMap<String, (Option<String>, i64)> = self.with_db(|db| {
            let mut stmt = db.prepare("SELECT file, location, done FROM uploads")?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, (r.get::<_, Option<String>>(1)?, r.get::<_, i64>(2)?)))
            })?;
            rows.collect()
        })?;
        let mut segs: Vec<(SegmentRecord, Option<String>)> = self
            .segments()?
            .into_iter()
            .filter_map(|s| match done.get(&s.file) {
                Some((loc, UPLOAD_PENDING)) => Some((s, loc.clone())),
                Some(_) => None,
                None => Some((s, None)),
            })
            .collect();
        segs.sort_by_key(|(s, _)| (s.start_ms, s.source.clone()));
        Ok(segs)
    }

    /// Remembers where a segment's upload lives (to resume it after a restart).
    pub fn set_upload_location(&self, file: &str, location: Option<&str>) -> Result<(), SpoolError> {
        self.with_db(|db| {
            db.execute(
                "INSERT INTO uploads (file, location) VALUES (?1, ?2) ON CONFLICT(file) DO UPDATE SET location = ?2",
                params![file, location],
            )
            .map(|_| ())
        })
    }

    /// Points a segment's record at a new file (its sealed copy), with the new size and hash.
    pub fn replace_segment_file(&self, old: &str, new: &str, bytes: u64, sha256: &str) -> Result<(), SpoolError> {
        self.with_db(|db| {
            db.execute(
                "UPDATE segments SET file = ?2, bytes = ?3, sha256 = ?4 WHERE file = ?1",
                params![old, new, bytes, sha256],
            )
            .map(|_| ())
        })
    }

    /// Takes a segment the server refused for good out of the upload queue; it stays on disk.
    pub fn set_aside(&self, file: &str) -> Result<(), SpoolError> {
        self.with_db(|db| {
            db.execute(
                "INSERT INTO uploads (file, done) VALUES (?1, ?2) ON CONFLICT(file) DO UPDATE SET done = ?2",
                params![file, UPLOAD_SET_ASIDE],
            )
            .map(|_| ())
        })
    }

    /// The files of segments set aside.
    pub fn set_aside_files(&self) -> Result<Vec<String>, SpoolError> {
        self.with_db(|db| {
            let mut stmt = db.prepare("SELECT file FROM uploads WHERE done = ?1 ORDER BY file")?;
            let rows = stmt.query_map([UPLOAD_SET_ASIDE], |r| r.get(0))?;
            rows.collect()
        })
    }

    pub fn mark_uploaded(&self, file: &str) -> Result<(), SpoolError> {
        self.with_db(|db| {
            db.execute(
                "INSERT INTO uploads (file, done) VALUES (?1, 1) ON CONFLICT(file) DO UPDATE SET done = 1",
                [file],
            )
            .map(|_| ())
        })
    }

    /// Events after `after`, at most `limit`.
    pub fn events_after(&self, after: u64, limit: usize) -> Result<Vec<EventRecord>, SpoolError> {
        self.with_db(|db| {
            let mut stmt = db.prepare_cached(
                "SELECT seq, time, kind, data, severity, interval_id, interval_phase, truncated FROM events
                 WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after, limit as u64], event_row)?;
            rows.collect()
        })
    }

    pub fn last_event_seq(&self) -> Result<u64, SpoolError> {
        self.with_db(|db| db.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0)))
    }
}

/// An event from a row of `seq, time, kind, data, severity, interval_id, interval_phase,
/// truncated` (the spool's columns, and the reference server's).
pub fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventRecord> {
    let data: String = r.get(3)?;
    let severity: String = r.get(4)?;
    Ok(EventRecord {
        seq: r.get(0)?,
        time: r.get(1)?,
        kind: r.get(2)?,
        severity: Severity::parse(&severity).unwrap_or_default(),
        interval: Interval::from_columns(r.get(5)?, r.get(6)?),
        truncated: r.get(7)?,
        data: serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data)),
    })
}

enum Migration {
    Db(rusqlite::Error),
    TooNew(u32),
}

impl From<rusqlite::Error> for Migration {
    fn from(e: rusqlite::Error) -> Self {
        Migration::Db(e)
    }
}

/// The schema version of an open spool: from `schema_version`, else 1 if the 0.1 tables are
/// there (that release had no version table), else 0 (new).
fn schema_version(db: &Connection) -> rusqlite::Result<u32> {
    let has = |table: &str| db.prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1")?.exists([table]);
    if has("schema_version")? {
        db.query_row("SELECT version FROM schema_version", [], |r| r.get(0))
    } else if has("events")? {
        Ok(1)
    } else {
        Ok(0)
    }
}

/// Brings the spool to [`SCHEMA_VERSION`], one step at a time, in one transaction.
fn migrate(db: &mut Connection) -> Result<(), Migration> {
    let found = schema_version(db)?;
    if found > SCHEMA_VERSION {
        return Err(Migration::TooNew(found));
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = db.transaction()?;
    if found < 1 {
        tx.execute_batch(
            "CREATE TABLE segments (
               source TEXT NOT NULL, sequence INTEGER NOT NULL, file TEXT NOT NULL UNIQUE,
               started_at TEXT NOT NULL, start_ms INTEGER NOT NULL, duration_ms INTEGER NOT NULL,
               video_frames INTEGER NOT NULL, audio_frames INTEGER NOT NULL,
               width INTEGER NOT NULL, height INTEGER NOT NULL,
               bytes INTEGER NOT NULL, sha256 TEXT NOT NULL, recovered INTEGER NOT NULL,
               PRIMARY KEY (source, sequence));
             CREATE TABLE events (
               seq INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL);
             CREATE TABLE uploads (file TEXT PRIMARY KEY, location TEXT, done INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )?;
    }
    if found < 2 {
        // Events written by 0.1 keep the severity their kind has now.
        tx.execute_batch(
            "ALTER TABLE events ADD COLUMN severity TEXT NOT NULL DEFAULT 'info';
             ALTER TABLE events ADD COLUMN interval_id TEXT;
             ALTER TABLE events ADD COLUMN interval_phase TEXT;
             ALTER TABLE events ADD COLUMN truncated INTEGER NOT NULL DEFAULT 0;
             CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (0);",
        )?;
        let kinds: Vec<String> = {
            let mut stmt = tx.prepare("SELECT DISTINCT kind FROM events")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for kind in kinds {
            if let Some(k) = vigil_core::event::EventKind::parse(&kind) {
                tx.execute("UPDATE events SET severity = ?1 WHERE kind = ?2", params![k.severity().as_str(), kind])?;
            }
        }
    }
    tx.execute("UPDATE schema_version SET version = ?1", [SCHEMA_VERSION])?;
    tx.commit()?;
    Ok(())
}

/// A random 32-hex-digit key from the OS random source.
pub fn random_key() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // No OS random source: fall back to std's randomly seeded hasher state.
        use std::hash::{BuildHasher, Hasher};
        for (i, chunk) in b.chunks_mut(8).enumerate() {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(i);
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    hex::encode(b)
}

/// SHA-256 of bytes, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Writes a file atomically: a temporary file beside it, fsync, rename, directory fsync. After a
/// crash the file is either absent or whole.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    #[cfg(unix)]
    #[test]
    fn a_world_readable_spool_is_made_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("spool");
        let spool = Spool::open(&dir).unwrap();
        std::fs::write(dir.join("segments/camera-000000.mp4"), b"x").unwrap();
        drop(spool);
        for (path, mode) in [(dir.clone(), 0o755), (dir.join("segments"), 0o755), (dir.join("spool.db"), 0o644)] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        std::fs::set_permissions(dir.join("segments/camera-000000.mp4"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        let _spool = Spool::open(&dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("segments")), 0o700);
        assert_eq!(mode(&dir.join("spool.db")), 0o600);
        assert_eq!(mode(&dir.join("segments/camera-000000.mp4")), 0o600);
    }

    use super::*;

    fn record(source: &str, sequence: u64) -> SegmentRecord {
        SegmentRecord {
            source: source.into(),
            sequence,
            file: format!("{source}-{sequence:06}.mp4"),
            started_at: "2026-01-01T00:00:00.000Z".into(),
            start_ms: sequence * 10_000,
            duration_ms: 10_000,
            video_frames: 150,
            audio_frames: 500,
            width: 640,
            height: 480,
            bytes: 1234,
            sha256: "ab".repeat(32),
            recovered: false,
        }
    }

    #[test]
    fn segments_and_events_persist_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let spool = Spool::open(dir.path()).unwrap();
            assert_eq!(spool.next_sequence("camera").unwrap(), 0);
            spool.add_segment(&record("camera", 0)).unwrap();
            spool.add_segment(&record("camera", 0)).unwrap(); // idempotent
            spool.add_segment(&record("camera", 1)).unwrap();
            spool
                .add_event(&Event::new(
                    vigil_core::event::EventKind::MonitorAdded,
                    serde_json::json!({"name": "VNC-1"}),
                ))
                .unwrap();
        }
        let spool = Spool::open(dir.path()).unwrap();
        assert_eq!(spool.segments().unwrap(), vec![record("camera", 0), record("camera", 1)]);
        assert_eq!(spool.next_sequence("camera").unwrap(), 2);
        assert_eq!(spool.next_sequence("screen-0").unwrap(), 0);
        assert!(spool.has_segment("camera-000001.mp4").unwrap());
        let events = spool.events().unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data["name"], "VNC-1");
    }

    #[test]
    fn hashes_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(sha256_file(&p).unwrap(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
