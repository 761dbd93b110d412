//! The reviewer's list of sessions: state, duration, flags by severity, a risk score and review
//! priority, filters, search and pages.
//!
//! - **State**: `finished`; `running` while the client was heard (heartbeat, events) in the last
//!   [`ABANDONED_AFTER_S`] seconds; `abandoned` after that silence, with `last_seen`.
//! - **Flags**: events of severity notice, warning and critical (an interval counts once, when it
//!   opens); a documented kind has its documented severity, whatever the client sent.
//! - **Risk** (0-100): the sum over flags of each one's weight ([`vigil_core::policy::Review`]:
//!   the exam policy's `[review] weights`, else by severity), capped at 100.
//! - **Priority**: `high` from 60, `medium` from 25, else `low`; the list is sorted by risk,
//!   then newest first.

use crate::api::{bad_request, ApiResult};
use crate::reviewers::actor;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use vigil_core::event::EventKind;
use vigil_core::policy::Review;

/// Seconds without a heartbeat or events after which an unfinished session is `abandoned`.
pub const ABANDONED_AFTER_S: i64 = 600;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    exam: Option<String>,
    /// `running`, `finished` or `abandoned`.
    state: Option<String>,
    /// `clear`, `suspicious`, `violation` or `none` (not reviewed yet).
    verdict: Option<String>,
    /// Part of the candidate's name, any case.
    q: Option<String>,
    /// Started on or after this day (`YYYY-MM-DD`, UTC).
    from: Option<String>,
    /// Started on or before this day.
    to: Option<String>,
    /// `priority` (default) or `newest`.
    sort: Option<String>,
    #[serde(default = "first_page")]
    page: usize,
    #[serde(default = "default_per_page")]
    per_page: usize,
}

fn first_page() -> usize {
    1
}

fn default_per_page() -> usize {
    50
}

/// One row of the list, before filters.
struct Row {
    json: serde_json::Value,
    risk: u32,
    started_at: String,
}

/// The severity an event counts with: a documented kind's own, else what was stored.
pub fn severity(kind: &str, stored: String) -> String {
    EventKind::parse(kind).map_or(stored, |k| k.severity().as_str().to_owned())
}

/// Whether events of `severity` are flags (notice and above).
pub fn is_flag(severity: &str) -> bool {
    ["notice", "warning", "critical"].contains(&severity)
}

/// `priority` for a risk score.
pub fn priority(risk: u32) -> &'static str {
    match risk {
        60.. => "high",
        25.. => "medium",
        _ => "low",
    }
}

/// `GET /v1/review/sessions`.
pub async fn sessions(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    actor(&state, &headers)?;
    if let Some(s) = q.state.as_deref().filter(|s| !["running", "finished", "abandoned"].contains(s)) {
        return Err(bad_request("request.invalid_filter", format!("state {s} is not running, finished or abandoned")));
    }
    let per_page = q.per_page.clamp(1, 200);
    let page = q.page.max(1);
    let now_ms = vigil_core::time::parse_rfc3339_ms(&vigil_core::time::now_rfc3339()).unwrap_or(0);
    let rows = {
        let db = state.db();

        // Each exam's weights, once.
        let mut weights: HashMap<String, Review> = HashMap::new();
        let mut stmt = db.prepare_cached("SELECT code, policy_json FROM exams")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (code, policy) = row?;
            let review = serde_json::from_str::<vigil_core::ExamPolicy>(&policy).map(|p| p.review).unwrap_or_default();
            weights.insert(code, review);
        }
        // Flags per session, kind and severity (an interval once, when it opens). A documented kind
        // weighs by its documented severity, whatever the client said.
        let mut flags: HashMap<String, Vec<(String, String, u64)>> = HashMap::new();
        let mut stmt = db.prepare_cached(
            "SELECT session_id, kind, severity, COUNT(*) FROM events
         WHERE interval_phase IS NULL OR interval_phase = 'open'
         GROUP BY session_id, kind, severity",
        )?;
        for row in stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, u64>(3)?))
        })? {
            let (id, kind, stored, n) = row?;
            let severity = severity(&kind, stored);
            if is_flag(&severity) {
                flags.entry(id).or_default().push((kind, severity, n));
            }
        }
        let mut stmt = db.prepare_cached(
            "SELECT s.id, s.exam_code, s.candidate, s.created_at, s.finished_at, s.last_seen,
                (SELECT COUNT(*) FROM segments g WHERE g.session_id = s.id),
                (SELECT COUNT(*) FROM events e WHERE e.session_id = s.id),
                v.verdict
         FROM sessions s LEFT JOIN review_verdicts v ON v.session_id = s.id",
        )?;
        let mut rows = Vec::new();
        let found = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, u64>(6)?,
                r.get::<_, u64>(7)?,
                r.get::<_, Option<String>>(8)?,
            ))
        })?;
        for row in found {
            let (id, exam, candidate, started, finished, last_seen, segments, events, verdict) = row?;
            let ms = |t: &Option<String>| t.as_deref().and_then(vigil_core::time::parse_rfc3339_ms);
            let start_ms = vigil_core::time::parse_rfc3339_ms(&started).unwrap_or(now_ms);
            let seen_ms = ms(&last_seen).unwrap_or(start_ms);
            let session_state = match ms(&finished) {
                Some(_) => "finished",
                None if now_ms - seen_ms > ABANDONED_AFTER_S * 1000 => "abandoned",
                None => "running",
            };
            let end_ms = ms(&finished).unwrap_or(if session_state == "running" { now_ms } else { seen_ms });
            let review = weights.get(&exam).cloned().unwrap_or_default();
            let mut by_severity: HashMap<&str, u64> = HashMap::new();
            let mut risk: u64 = 0;
            for (kind, severity, n) in flags.get(&id).map(Vec::as_slice).unwrap_or_default() {
                *by_severity.entry(severity.as_str()).or_default() += n;
                risk += u64::from(review.weight(kind, severity)) * n;
            }
            let risk = risk.min(100) as u32;
            rows.push(Row {
                json: json!({"id": id, "exam_code": exam, "candidate": candidate, "started_at": started,
                "finished_at": finished, "last_seen": last_seen.unwrap_or_else(|| started.clone()),
                "state": session_state, "duration_s": (end_ms - start_ms).max(0) / 1000,
                "segments": segments, "events": events,
                "flags": {"critical": by_severity.get("critical").copied().unwrap_or(0),
                          "warning": by_severity.get("warning").copied().unwrap_or(0),
                          "notice": by_severity.get("notice").copied().unwrap_or(0)},
                "risk": risk, "priority": priority(risk), "verdict": verdict}),
                risk,
                started_at: started,
            });
        }
        rows
    };

    let wanted = |r: &Row| {
        let j = &r.json;
        let name = j["candidate"].as_str().unwrap_or("").to_lowercase();
        let day = &r.started_at[..r.started_at.len().min(10)];
        q.exam.as_deref().is_none_or(|e| j["exam_code"] == e)
            && q.state.as_deref().is_none_or(|s| j["state"] == s)
            && q.verdict.as_deref().is_none_or(|v| match v {
                "none" => j["verdict"].is_null(),
                v => j["verdict"] == v,
            })
            && q.q.as_deref().is_none_or(|s| name.contains(&s.trim().to_lowercase()))
            && q.from.as_deref().is_none_or(|f| day >= f)
            && q.to.as_deref().is_none_or(|t| day <= t)
    };
    let mut rows: Vec<Row> = rows.into_iter().filter(wanted).collect();
    match q.sort.as_deref() {
        Some("newest") => rows.sort_by(|a, b| b.started_at.cmp(&a.started_at)),
        _ => rows.sort_by(|a, b| b.risk.cmp(&a.risk).then_with(|| b.started_at.cmp(&a.started_at))),
    }
    let total = rows.len();
    let page_rows: Vec<serde_json::Value> =
        rows.into_iter().skip((page - 1).saturating_mul(per_page)).take(per_page).map(|r| r.json).collect();
    Ok(Json(json!({"sessions": page_rows, "total": total, "page": page, "per_page": per_page})))
}

#[cfg(test)]
mod tests {
    #[test]
    fn priority_follows_the_risk() {
        assert_eq!(super::priority(0), "low");
        assert_eq!(super::priority(24), "low");
        assert_eq!(super::priority(25), "medium");
        assert_eq!(super::priority(60), "high");
        assert_eq!(super::priority(100), "high");
    }
}
