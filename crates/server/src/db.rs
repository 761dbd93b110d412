//! The server's state in SQLite (WAL): exams, sessions, events, uploads, segments, instructions.
//! Tokens are stored as SHA-256 hashes only.

use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use std::path::Path;
use vigil_core::event::Interval;
use vigil_core::protocol::{Instruction, Receipt, ReceiptSegment, WireEvent};

pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let db = Connection::open(path)?;
    db.execute_batch(
        "PRAGMA journal_mode=WAL;
         PRAGMA synchronous=NORMAL;
         PRAGMA busy_timeout=5000;
         CREATE TABLE IF NOT EXISTS exams (code TEXT PRIMARY KEY, policy_json TEXT NOT NULL, signature TEXT NOT NULL,
           exam_url TEXT, created_at TEXT NOT NULL, age_identity TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, exam_code TEXT NOT NULL, candidate TEXT NOT NULL,
           token_hash TEXT NOT NULL, consent TEXT NOT NULL, device TEXT NOT NULL, created_at TEXT NOT NULL, finished_at TEXT,
           client_key TEXT UNIQUE, events_acked INTEGER NOT NULL DEFAULT 0);
         CREATE TABLE IF NOT EXISTS events (session_id TEXT NOT NULL, seq INTEGER NOT NULL, time TEXT NOT NULL,
           kind TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (session_id, seq));
         CREATE TABLE IF NOT EXISTS uploads (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, length INTEGER NOT NULL,
           offset INTEGER NOT NULL, source TEXT NOT NULL, sequence INTEGER NOT NULL, sha256 TEXT NOT NULL,
           created_at TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS segments (session_id TEXT NOT NULL, source TEXT NOT NULL, sequence INTEGER NOT NULL,
           sha256 TEXT NOT NULL, bytes INTEGER NOT NULL, upload_id TEXT NOT NULL, received_at TEXT NOT NULL,
           PRIMARY KEY (session_id, source, sequence));
         CREATE TABLE IF NOT EXISTS instructions (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL,
           body TEXT NOT NULL, delivered INTEGER NOT NULL DEFAULT 0);
         CREATE TABLE IF NOT EXISTS segment_times (session_id TEXT NOT NULL, source TEXT NOT NULL,
           sequence INTEGER NOT NULL, started_at TEXT NOT NULL, start_ms INTEGER NOT NULL, duration_ms INTEGER NOT NULL,
           PRIMARY KEY (session_id, source, sequence));",
    )?;
    crate::reviewers::create_tables(&db)?;
    crate::review_work::create_tables(&db)?;
    crate::retention::create_tables(&db)?;
    // Databases made before the review list knew when a client was last heard get the column.
    let has_last_seen: bool =
        db.prepare("SELECT 1 FROM pragma_table_info('sessions') WHERE name = 'last_seen'")?.exists([])?;
    if !has_last_seen {
        db.execute_batch("ALTER TABLE sessions ADD COLUMN last_seen TEXT;")?;
    }
    // Databases made before events had a severity and an interval get those columns.
    let has_severity: bool =
        db.prepare("SELECT 1 FROM pragma_table_info('events') WHERE name = 'severity'")?.exists([])?;
    if !has_severity {
        db.execute_batch(
            "ALTER TABLE events ADD COLUMN severity TEXT NOT NULL DEFAULT 'info';
             ALTER TABLE events ADD COLUMN interval_id TEXT;
             ALTER TABLE events ADD COLUMN interval_phase TEXT;
             ALTER TABLE events ADD COLUMN truncated INTEGER NOT NULL DEFAULT 0;",
        )?;
    }
    // Databases made before `events_acked` existed (0.1 pre-releases) get the column.
    let has_acked: bool =
        db.prepare("SELECT 1 FROM pragma_table_info('sessions') WHERE name = 'events_acked'")?.exists([])?;
    if !has_acked {
        db.execute_batch(
            "ALTER TABLE sessions ADD COLUMN events_acked INTEGER NOT NULL DEFAULT 0;
             UPDATE sessions SET events_acked = (SELECT COUNT(*) FROM events e WHERE e.session_id = sessions.id);",
        )?;
    }
    // Databases made before receipts were signed and kept get the column.
    let has_receipt: bool =
        db.prepare("SELECT 1 FROM pragma_table_info('sessions') WHERE name = 'receipt'")?.exists([])?;
    if !has_receipt {
        db.execute_batch("ALTER TABLE sessions ADD COLUMN receipt TEXT;")?;
    }
    Ok(db)
}

/// The client of `session_id` was heard (a heartbeat or events) just now.
pub fn seen(db: &Connection, session_id: &str) -> rusqlite::Result<()> {
    db.execute("UPDATE sessions SET last_seen = ?2 WHERE id = ?1", params![session_id, vigil_core::time::now_rfc3339()])
        .map(|_| ())
}

/// The signed receipt a finished session was given, if it was.
pub fn receipt(db: &Connection, session_id: &str) -> rusqlite::Result<Option<Receipt>> {
    let text: Option<String> =
        db.query_row("SELECT receipt FROM sessions WHERE id = ?1", [session_id], |r| r.get(0)).optional()?.flatten();
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// Bytes a session has filed or is uploading.
pub fn session_bytes(db: &Connection, session_id: &str) -> rusqlite::Result<u64> {
    db.query_row(
        "SELECT (SELECT COALESCE(SUM(bytes), 0) FROM segments WHERE session_id = ?1)
              + (SELECT COALESCE(SUM(length), 0) FROM uploads WHERE session_id = ?1)",
        [session_id],
        |r| r.get(0),
    )
}

/// Files a segment (no-op if one is filed under the same name: see [`filed_hash`]). `location`
/// is this server's upload id or the URL on the external tus server.
#[allow(clippy::too_many_arguments)]
pub fn file_segment(
    db: &Connection,
    session_id: &str,
    source: &str,
    sequence: u64,
    sha256: &str,
    bytes: u64,
    location: &str,
) -> rusqlite::Result<()> {
    db.execute(
        "INSERT OR IGNORE INTO segments VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![session_id, source, sequence, sha256, bytes, location, vigil_core::time::now_rfc3339()],
    )
    .map(|_| ())
}

/// When a segment starts and how long it lasts, as its upload said; the first word stands, like
/// the segment it describes.
pub fn record_segment_time(
    db: &Connection,
    session_id: &str,
    source: &str,
    sequence: u64,
    time: &vigil_core::protocol::SegmentTime,
) -> rusqlite::Result<()> {
    db.execute(
        "INSERT OR IGNORE INTO segment_times VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![session_id, source, sequence, time.started_at, time.start_ms, time.duration_ms],
    )
    .map(|_| ())
}

/// The times of a session's segments, by (source, sequence).
pub fn segment_times(
    db: &Connection,
    session_id: &str,
) -> rusqlite::Result<std::collections::HashMap<(String, u64), vigil_core::protocol::SegmentTime>> {
    let mut stmt = db.prepare_cached(
        "SELECT source, sequence, started_at, start_ms, duration_ms FROM segment_times WHERE session_id = ?1",
    )?;
    let rows = stmt.query_map([session_id], |r| {
        Ok((
            (r.get(0)?, r.get(1)?),
            vigil_core::protocol::SegmentTime { started_at: r.get(2)?, start_ms: r.get(3)?, duration_ms: r.get(4)? },
        ))
    })?;
    rows.collect()
}

/// The hash a segment was filed with, if it was.
pub fn filed_hash(db: &Connection, session_id: &str, source: &str, sequence: u64) -> rusqlite::Result<Option<String>> {
    db.query_row(
        "SELECT sha256 FROM segments WHERE session_id = ?1 AND source = ?2 AND sequence = ?3",
        params![session_id, source, sequence],
        |r| r.get(0),
    )
    .optional()
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub struct Exam {
    pub policy_json: String,
    pub signature: String,
    pub exam_url: Option<String>,
}

pub fn exam(db: &Connection, code: &str) -> rusqlite::Result<Option<Exam>> {
    db.query_row("SELECT policy_json, signature, exam_url FROM exams WHERE code = ?1", [code], |r| {
        Ok(Exam { policy_json: r.get(0)?, signature: r.get(1)?, exam_url: r.get(2)? })
    })
    .optional()
}

/// The session a bearer token belongs to, if any (and whether it is finished).
pub fn session_for_token(db: &Connection, session_id: &str, token: &str) -> rusqlite::Result<Option<bool>> {
    db.query_row(
        "SELECT finished_at IS NOT NULL FROM sessions WHERE id = ?1 AND token_hash = ?2",
        params![session_id, hash_token(token)],
        |r| r.get(0),
    )
    .optional()
}

/// Stores events (idempotent) and returns the highest contiguous sequence held.
pub fn add_events(db: &mut Connection, session_id: &str, events: &[WireEvent]) -> rusqlite::Result<u64> {
    let tx = db.transaction()?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO events (session_id, seq, time, kind, data, severity, interval_id, interval_phase, truncated)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for e in events {
            let (id, phase) = Interval::columns(e.interval.as_ref());
            insert.execute(params![
                session_id,
                e.seq,
                e.time,
                e.kind,
                e.data.to_string(),
                e.severity.as_str(),
                id,
                phase,
                e.truncated
            ])?;
        }
    }
    // Advance the acknowledged run from where it stood: only the new events are read.
    let mut acked = contiguous_events(&tx, session_id)?;
    {
        let mut next = tx.prepare_cached("SELECT seq FROM events WHERE session_id = ?1 AND seq > ?2 ORDER BY seq")?;
        let mut rows = next.query(params![session_id, acked])?;
        while let Some(row) = rows.next()? {
            if row.get::<_, u64>(0)? != acked + 1 {
                break;
            }
            acked += 1;
        }
    }
    tx.execute("UPDATE sessions SET events_acked = ?2 WHERE id = ?1", params![session_id, acked])?;
    tx.commit()?;
    Ok(acked)
}

/// Highest `n` such that events 1..=n are all held.
pub fn contiguous_events(db: &Connection, session_id: &str) -> rusqlite::Result<u64> {
    db.query_row("SELECT events_acked FROM sessions WHERE id = ?1", [session_id], |r| r.get(0))
        .optional()
        .map(|n| n.unwrap_or(0))
}

pub fn events(db: &Connection, session_id: &str) -> rusqlite::Result<Vec<WireEvent>> {
    let mut stmt = db.prepare_cached(
        "SELECT seq, time, kind, data, severity, interval_id, interval_phase, truncated
         FROM events WHERE session_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([session_id], vigil_spool::event_row)?;
    rows.collect()
}

pub fn segments(db: &Connection, session_id: &str) -> rusqlite::Result<Vec<ReceiptSegment>> {
    let mut stmt = db.prepare_cached(
        "SELECT source, sequence, sha256, bytes FROM segments WHERE session_id = ?1 ORDER BY source, sequence",
    )?;
    let rows = stmt.query_map([session_id], |r| {
        Ok(ReceiptSegment { source: r.get(0)?, sequence: r.get(1)?, sha256: r.get(2)?, bytes: r.get(3)? })
    })?;
    rows.collect()
}

/// Where a segment was stored: this server's upload id, or the URL on the external tus server.
pub fn segment_location(db: &Connection, session_id: &str, source: &str, sequence: u64) -> rusqlite::Result<String> {
    db.query_row(
        "SELECT upload_id FROM segments WHERE session_id = ?1 AND source = ?2 AND sequence = ?3",
        params![session_id, source, sequence],
        |r| r.get(0),
    )
}

/// Pending instructions for a session, marked delivered.
pub fn take_instructions(db: &Connection, session_id: &str) -> rusqlite::Result<Vec<Instruction>> {
    let mut stmt =
        db.prepare_cached("SELECT id, body FROM instructions WHERE session_id = ?1 AND delivered = 0 ORDER BY id")?;
    let rows: Vec<(i64, String)> =
        stmt.query_map([session_id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    for (id, _) in &rows {
        db.execute("UPDATE instructions SET delivered = 1 WHERE id = ?1", [id])?;
    }
    Ok(rows.into_iter().filter_map(|(_, b)| serde_json::from_str(&b).ok()).collect())
}
