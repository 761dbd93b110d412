//! The session report as a PDF for the file (`GET /v1/review/sessions/{id}/report.pdf`): the
//! same content as `report.json` — candidate, exam, times, verdict and notes, the flags with the
//! reviewer's decisions, the identity photos, every event, every segment's hash and the signed
//! receipt — in English, Russian or Kazakh (`?lang=`). The text is set in DejaVu Sans, embedded
//! (subset) in the file, so names in Cyrillic and Latin scripts read the same everywhere.
//!
//! Two steps: [`Layout`] places lines and pictures on A4 pages (measuring text with the font's
//! own advances and wrapping it), then [`render`] draws the pages with krilla.

use crate::api::{ApiError, ApiResult};
use crate::review_export::report;
use crate::reviewers::{actor, audit};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::text::{Font, TextDirection};
use krilla::Document;
use serde::Deserialize;
use serde_json::{json, Value};
use skrifa::instance::{LocationRef, Size as FontSize};
use skrifa::{FontRef, MetadataProvider};

const REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

const PAGE_W: f32 = 595.0; // A4 in points
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 48.0;
const BOTTOM: f32 = PAGE_H - MARGIN - 18.0; // room for the footer
const TEXT: f32 = 9.5;
const SMALL: f32 = 8.0;

#[derive(Deserialize)]
pub struct ReportQuery {
    lang: Option<String>,
}

/// `GET /v1/review/sessions/{id}/report.pdf[?lang=en|ru|kk]`.
pub async fn report_pdf(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<ReportQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let who = actor(&state, &headers)?;
    let lang = Lang::parse(query.lang.as_deref())?;
    let report = report(&state, &id)?;
    let (mut photos, mut evidence) = (Vec::new(), std::collections::BTreeMap::new());
    for s in report["segments"].as_array().into_iter().flatten() {
        let (Some(source), Some(sequence)) = (s["source"].as_str(), s["sequence"].as_u64()) else { continue };
        if let Some(kind) = source.strip_prefix("identity-") {
            let jpeg = crate::review::filed_bytes(&state, &id, source, sequence).await?;
            photos.push((kind.to_owned(), jpeg));
        } else if source == "evidence-camera" {
            evidence.insert(sequence, crate::review::filed_bytes(&state, &id, source, sequence).await?);
        }
    }
    let pdf = tokio::task::spawn_blocking(move || render(&report, &photos, &evidence, lang))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, "report.failed", e.to_string()))??;
    audit(&state, &who, "session.exported", &id, json!({"format": "pdf", "lang": lang.code()}));
    let mut resp = ([(header::CONTENT_TYPE, "application/pdf")], pdf).into_response();
    let disposition = format!("attachment; filename=\"vigil-{}-report.pdf\"", &id[..id.len().min(16)]);
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// The report's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ru,
    Kk,
}

impl Lang {
    fn parse(s: Option<&str>) -> ApiResult<Lang> {
        match s.unwrap_or("en") {
            "en" => Ok(Lang::En),
            "ru" => Ok(Lang::Ru),
            "kk" => Ok(Lang::Kk),
            other => {
                Err(crate::api::bad_request("report.invalid_lang", format!("lang must be en, ru or kk, not {other:?}")))
            }
        }
    }

    fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
            Lang::Kk => "kk",
        }
    }

    /// The report's words, in this language.
    fn t(self, key: &str) -> &'static str {
        let row = WORDS.iter().find(|w| w[0] == key).unwrap_or(&WORDS[0]);
        row[match self {
            Lang::En => 1,
            Lang::Ru => 2,
            Lang::Kk => 3,
        }]
    }
}

/// key, English, Russian, Kazakh.
const WORDS: &[[&str; 4]] = &[
    ["?", "?", "?", "?"],
    ["title", "Session report", "Отчёт о сессии", "Сессия туралы есеп"],
    ["candidate", "Candidate", "Кандидат", "Кандидат"],
    ["exam", "Exam", "Экзамен", "Емтихан"],
    ["session", "Session", "Сессия", "Сессия"],
    ["started", "Started", "Начало", "Басталды"],
    ["finished", "Finished", "Окончание", "Аяқталды"],
    ["not_finished", "not finished", "не завершена", "аяқталмаған"],
    ["verdict", "Verdict", "Решение", "Шешім"],
    ["not_reviewed", "not reviewed", "не проверено", "тексерілмеген"],
    ["by", "by", "автор", "авторы"],
    ["clear", "clear", "нарушений нет", "бұзушылық жоқ"],
    ["suspicious", "suspicious", "подозрительно", "күмәнді"],
    ["violation", "violation", "нарушение", "бұзушылық"],
    ["flags", "Flags", "Отметки", "Белгілер"],
    ["no_flags", "No flags.", "Отметок нет.", "Белгілер жоқ."],
    ["time", "Time", "Время", "Уақыты"],
    ["severity", "Severity", "Важность", "Маңыздылығы"],
    ["event", "Event", "Событие", "Оқиға"],
    ["decision", "Decision", "Решение", "Шешім"],
    ["confirmed", "confirmed", "подтверждено", "расталды"],
    ["dismissed", "dismissed", "отклонено", "қабылданбады"],
    ["undecided", "—", "—", "—"],
    ["critical", "critical", "критично", "сыни"],
    ["warning", "warning", "предупреждение", "ескерту"],
    ["notice", "notice", "замечание", "ескертпе"],
    ["info", "info", "сведения", "мәлімет"],
    ["notes", "Reviewer's notes", "Заметки проверяющего", "Тексерушінің жазбалары"],
    ["no_notes", "No notes.", "Заметок нет.", "Жазбалар жоқ."],
    ["photos", "Identity photos", "Фото для идентификации", "Жеке басын растайтын суреттер"],
    [
        "flag_pictures",
        "The camera when each flag began",
        "Камера в начале каждой отметки",
        "Әр белгі басталғандағы камера",
    ],
    ["timeline", "Timeline", "Хронология", "Оқиғалар тізбегі"],
    ["evidence", "Evidence and its integrity", "Доказательства и их целостность", "Дәлелдер және олардың тұтастығы"],
    [
        "receipt_ok",
        "The server's signed receipt verifies with its key",
        "Подписанная сервером квитанция проверена его ключом",
        "Сервер қол қойған түбіртек оның кілтімен расталды",
    ],
    [
        "receipt_bad",
        "The receipt does NOT verify with the server's key",
        "Квитанция НЕ проходит проверку ключом сервера",
        "Түбіртек сервер кілтімен РАСТАЛМАДЫ",
    ],
    [
        "no_receipt",
        "No receipt: the session has not finished",
        "Квитанции нет: сессия не завершена",
        "Түбіртек жоқ: сессия аяқталмаған",
    ],
    ["server_key", "Server key", "Ключ сервера", "Сервер кілті"],
    [
        "segments",
        "Recorded segments (source #sequence, SHA-256)",
        "Записанные фрагменты (источник №, SHA-256)",
        "Жазылған бөліктер (көзі №, SHA-256)",
    ],
    ["generated", "Generated", "Создан", "Жасалды"],
    ["page", "page", "стр.", "бет"],
];

/// What is drawn: text, a filled box, a picture.
enum Op {
    Text { x: f32, y: f32, size: f32, bold: bool, color: (u8, u8, u8), text: String },
    Box { x: f32, y: f32, w: f32, h: f32, color: (u8, u8, u8) },
    Picture { x: f32, y: f32, w: f32, h: f32, jpeg: Vec<u8> },
}

/// Text widths from the font's advances.
struct Metrics<'a> {
    regular: FontRef<'a>,
    bold: FontRef<'a>,
}

impl Metrics<'_> {
    fn width(&self, text: &str, size: f32, bold: bool) -> f32 {
        let font = if bold { &self.bold } else { &self.regular };
        let charmap = font.charmap();
        let glyphs = font.glyph_metrics(FontSize::new(size), LocationRef::default());
        text.chars().map(|c| charmap.map(c).and_then(|g| glyphs.advance_width(g)).unwrap_or(size * 0.6)).sum()
    }

    /// `text` in lines no wider than `width`: at spaces, or inside a word longer than a line.
    fn wrap(&self, text: &str, size: f32, bold: bool, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            for word in paragraph.split(' ') {
                let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
                if self.width(&candidate, size, bold) <= width {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                for c in word.chars() {
                    line.push(c);
                    if self.width(&line, size, bold) > width {
                        let last = line.pop().unwrap_or(' ');
                        lines.push(std::mem::replace(&mut line, last.to_string()));
                    }
                }
            }
            lines.push(line);
        }
        lines
    }
}

/// Pages being filled from the top.
struct Layout<'a> {
    metrics: Metrics<'a>,
    pages: Vec<Vec<Op>>,
    y: f32,
}

/// A table column: where it starts (from the left margin) and how wide it is.
type Column = (f32, f32);

impl Layout<'_> {
    fn room(&mut self, height: f32) {
        if self.y + height > BOTTOM {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("a page")
    }

    fn heading(&mut self, text: &str) {
        self.y += 10.0;
        self.room(40.0);
        let y = self.y + 13.0;
        self.ops().push(Op::Text { x: MARGIN, y, size: 13.0, bold: true, color: (20, 23, 31), text: text.to_owned() });
        self.ops().push(Op::Box { x: MARGIN, y: y + 4.0, w: PAGE_W - 2.0 * MARGIN, h: 0.8, color: (29, 78, 216) });
        self.y = y + 10.0;
    }

    fn paragraph(&mut self, text: &str, size: f32, bold: bool, color: (u8, u8, u8)) {
        self.row(&[(0.0, PAGE_W - 2.0 * MARGIN)], &[text.to_owned()], size, bold, color);
    }

    /// One table row: each cell wrapped in its column, the row as tall as its tallest cell.
    fn row(&mut self, columns: &[Column], cells: &[String], size: f32, bold: bool, color: (u8, u8, u8)) {
        let line_h = size * 1.35;
        let wrapped: Vec<Vec<String>> =
            columns.iter().zip(cells).map(|(c, text)| self.metrics.wrap(text, size, bold, c.1 - 4.0)).collect();
        let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        self.room(line_h * lines as f32 + 2.0);
        for ((x, _), cell) in columns.iter().zip(wrapped) {
            for (i, line) in cell.into_iter().enumerate() {
                let y = self.y + size + line_h * i as f32;
                self.ops().push(Op::Text { x: MARGIN + x, y, size, bold, color, text: line });
            }
        }
        self.y += line_h * lines as f32 + 2.0;
    }

    fn picture(&mut self, jpeg: Vec<u8>, caption: &str) {
        let (w, h) = jpeg_size(&jpeg).unwrap_or((320, 240));
        let scale = (200.0 / w as f32).min(150.0 / h as f32);
        let (w, h) = (w as f32 * scale, h as f32 * scale);
        self.room(h + 20.0);
        let y = self.y;
        self.ops().push(Op::Picture { x: MARGIN, y, w, h, jpeg });
        self.y += h + 2.0;
        self.paragraph(caption, SMALL, false, (75, 85, 99));
    }
}

/// A JPEG's pixel size, from its start-of-frame marker.
fn jpeg_size(jpeg: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    while i + 9 < jpeg.len() {
        if jpeg[i] != 0xFF {
            return None;
        }
        let marker = jpeg[i + 1];
        let len = u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize;
        if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
            let h = u16::from_be_bytes([jpeg[i + 5], jpeg[i + 6]]) as u32;
            let w = u16::from_be_bytes([jpeg[i + 7], jpeg[i + 8]]) as u32;
            return (w > 0 && h > 0).then_some((w, h));
        }
        i += 2 + len;
    }
    None
}

fn severity_color(severity: &str) -> (u8, u8, u8) {
    match severity {
        "critical" => (185, 28, 28),
        "warning" => (146, 64, 14),
        "notice" => (29, 78, 216),
        _ => (55, 65, 81),
    }
}

/// Milliseconds as m:ss or h:mm:ss.
fn clock(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return "?".into() };
    let s = ms.max(0) / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// An event in a few words: its kind and the detail that names what happened.
fn describe(kind: &str, data: &Value) -> String {
    let what = ["app_name", "source", "monitors", "url", "text", "reason"].iter().find_map(|k| match &data[*k] {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    });
    what.map_or_else(|| kind.to_owned(), |w| format!("{kind} — {w}"))
}

fn str_of<'v>(v: &'v Value, key: &str) -> &'v str {
    v[key].as_str().unwrap_or("")
}

/// Lays out and draws the report.
/// `photos`: the identity photos by kind; `evidence`: the camera pictures filed at flags' starts,
/// by their sequence in `evidence-camera` (a flag's `data.picture`).
pub fn render(
    report: &Value,
    photos: &[(String, Vec<u8>)],
    evidence: &std::collections::BTreeMap<u64, Vec<u8>>,
    lang: Lang,
) -> ApiResult<Vec<u8>> {
    let failed = |what: &str| ApiError(StatusCode::INTERNAL_SERVER_ERROR, "report.failed", what.to_owned());
    let metrics = Metrics {
        regular: FontRef::new(REGULAR).map_err(|_| failed("the embedded font is unreadable"))?,
        bold: FontRef::new(BOLD).map_err(|_| failed("the embedded font is unreadable"))?,
    };
    let mut l = Layout { metrics, pages: vec![Vec::new()], y: MARGIN };
    let t = |k: &str| lang.t(k);
    let session = &report["session"];
    let start = vigil_core::time::parse_rfc3339_ms(str_of(session, "started_at"));
    let offset = |time: &str| Some(vigil_core::time::parse_rfc3339_ms(time)? - start?);
    let ink = (20, 23, 31);
    let grey = (75, 85, 99);

    l.paragraph(&format!("Vigil — {}", t("title")), 18.0, true, ink);
    l.y += 4.0;
    let facts = [(0.0, 110.0), (110.0, PAGE_W - 2.0 * MARGIN - 110.0)];
    let verdict = match report["verdict"].as_object() {
        Some(v) => {
            let word = v.get("verdict").and_then(Value::as_str).map(t).unwrap_or("?");
            let comment = v.get("comment").and_then(Value::as_str).unwrap_or("");
            let author = v.get("author").and_then(Value::as_str).unwrap_or("");
            format!(
                "{word} ({} {author}){}",
                t("by"),
                if comment.is_empty() { String::new() } else { format!(": {comment}") }
            )
        }
        None => t("not_reviewed").to_owned(),
    };
    let finished = session["finished_at"].as_str().map_or_else(|| t("not_finished").to_owned(), str::to_owned);
    for (key, value) in [
        ("candidate", str_of(session, "candidate").to_owned()),
        ("exam", str_of(session, "exam_code").to_owned()),
        ("session", str_of(session, "id").to_owned()),
        ("started", str_of(session, "started_at").to_owned()),
        ("finished", finished),
        ("verdict", verdict),
    ] {
        l.row(&facts, &[t(key).to_owned(), value], 10.5, key == "candidate" || key == "verdict", ink);
    }

    l.heading(t("flags"));
    let flags = report["flags"].as_array().cloned().unwrap_or_default();
    let flag_cols = [(0.0, 45.0), (45.0, 85.0), (130.0, 290.0), (420.0, 80.0)];
    if flags.is_empty() {
        l.paragraph(t("no_flags"), TEXT, false, grey);
    } else {
        l.row(&flag_cols, &[t("time"), t("severity"), t("event"), t("decision")].map(str::to_owned), TEXT, true, ink);
        for f in &flags {
            let severity = str_of(f, "severity");
            let decision = f["decision"].as_str().map_or(t("undecided"), |d| t(d));
            let cells = [
                clock(f["offset_ms"].as_i64()),
                t(severity).to_owned(),
                describe(str_of(f, "kind"), &f["data"]),
                decision.to_owned(),
            ];
            l.row(&flag_cols, &cells, TEXT, false, severity_color(severity));
        }
        // Each flag's evidence picture, when the device filed one.
        let pictured: Vec<_> =
            flags.iter().filter_map(|f| Some((f, evidence.get(&f["data"]["picture"].as_u64()?)?))).collect();
        if !pictured.is_empty() {
            l.heading(t("flag_pictures"));
            for (f, jpeg) in pictured {
                let caption = format!("{} {}", clock(f["offset_ms"].as_i64()), describe(str_of(f, "kind"), &f["data"]));
                l.picture(jpeg.to_vec(), &caption);
            }
        }
    }

    l.heading(t("notes"));
    let notes = report["notes"].as_array().cloned().unwrap_or_default();
    if notes.is_empty() {
        l.paragraph(t("no_notes"), TEXT, false, grey);
    }
    for n in &notes {
        let line = [clock(n["offset_ms"].as_i64()), format!("{} — {}", str_of(n, "text"), str_of(n, "author"))];
        l.row(&[(0.0, 50.0), (50.0, PAGE_W - 2.0 * MARGIN - 50.0)], &line, TEXT, false, ink);
    }

    if !photos.is_empty() {
        l.heading(t("photos"));
        for (kind, jpeg) in photos {
            l.picture(jpeg.clone(), kind);
        }
    }

    l.heading(t("timeline"));
    let event_cols = [(0.0, 45.0), (45.0, 85.0), (130.0, PAGE_W - 2.0 * MARGIN - 130.0)];
    l.row(&event_cols, &[t("time"), t("severity"), t("event")].map(str::to_owned), SMALL, true, ink);
    for e in report["events"].as_array().into_iter().flatten() {
        let severity = str_of(e, "severity");
        let cells = [clock(offset(str_of(e, "time"))), t(severity).to_owned(), describe(str_of(e, "kind"), &e["data"])];
        l.row(&event_cols, &cells, SMALL, false, severity_color(severity));
    }

    l.heading(t("evidence"));
    match report["receipt_verified"].as_bool() {
        Some(true) => l.paragraph(&format!("✓ {}", t("receipt_ok")), TEXT, true, (21, 128, 61)),
        Some(false) => l.paragraph(&format!("✗ {}", t("receipt_bad")), TEXT, true, (185, 28, 28)),
        None => l.paragraph(t("no_receipt"), TEXT, false, grey),
    }
    l.paragraph(&format!("{}: {}", t("server_key"), str_of(report, "server_key")), SMALL, false, grey);
    l.paragraph(t("segments"), SMALL, true, ink);
    for s in report["segments"].as_array().into_iter().flatten() {
        let line = format!("{} #{}  {}", str_of(s, "source"), s["sequence"], str_of(s, "sha256"));
        l.paragraph(&line, SMALL, false, grey);
    }
    l.paragraph(&format!("{}: {}", t("generated"), str_of(report, "generated_at")), SMALL, false, grey);

    let footer = format!("Vigil · {} · {}", str_of(session, "candidate"), str_of(session, "id"));
    draw(l.pages, &footer, t("page")).map_err(|e| failed(&format!("the PDF could not be written: {e}")))
}

/// Draws laid-out pages, each with a footer naming the session and the page.
fn draw(pages: Vec<Vec<Op>>, footer: &str, page_word: &str) -> Result<Vec<u8>, String> {
    let regular = Font::new(REGULAR.to_vec().into(), 0).ok_or("the embedded font is unreadable")?;
    let bold = Font::new(BOLD.to_vec().into(), 0).ok_or("the embedded font is unreadable")?;
    let mut doc = Document::new();
    let count = pages.len();
    for (n, ops) in pages.into_iter().enumerate() {
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H).ok_or("page size")?;
        let mut page = doc.start_page_with(settings);
        let mut surface = page.surface();
        let fill = |(r, g, b): (u8, u8, u8)| Fill {
            paint: rgb::Color::new(r, g, b).into(),
            opacity: NormalizedF32::ONE,
            rule: Default::default(),
        };
        let footer_op = Op::Text {
            x: MARGIN,
            y: PAGE_H - MARGIN + 4.0,
            size: 7.5,
            bold: false,
            color: (107, 114, 128),
            text: format!("{footer} · {page_word} {} / {count}", n + 1),
        };
        for op in ops.into_iter().chain([footer_op]) {
            match op {
                Op::Text { x, y, size, bold: b, color, text } => {
                    surface.set_fill(Some(fill(color)));
                    let font = if b { bold.clone() } else { regular.clone() };
                    surface.draw_text(Point::from_xy(x, y), font, size, &text, false, TextDirection::Auto);
                }
                Op::Box { x, y, w, h, color } => {
                    surface.set_fill(Some(fill(color)));
                    let mut path = PathBuilder::new();
                    path.push_rect(Rect::from_xywh(x, y, w, h).ok_or("a box")?);
                    if let Some(path) = path.finish() {
                        surface.draw_path(&path);
                    }
                }
                Op::Picture { x, y, w, h, jpeg } => {
                    // A photo that cannot be read leaves its place empty rather than failing the report.
                    if let Ok(image) = krilla::image::Image::from_jpeg(jpeg.into(), true) {
                        surface.push_transform(&Transform::from_translate(x, y));
                        surface.draw_image(image, Size::from_wh(w, h).ok_or("a picture's size")?);
                        surface.pop();
                    }
                }
            }
        }
        surface.finish();
        page.finish();
    }
    doc.finish().map_err(|e| format!("{e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_words_and_lines_wrap_within_the_width() {
        let metrics = Metrics { regular: FontRef::new(REGULAR).unwrap(), bold: FontRef::new(BOLD).unwrap() };
        let text = "Әлия Бекова opened AnyDesk 0123456789abcdef0123456789abcdef0123456789abcdef";
        let lines = metrics.wrap(text, 10.0, false, 120.0);
        assert!(lines.len() >= 3, "{lines:?}");
        assert!(lines.iter().all(|l| metrics.width(l, 10.0, false) <= 120.0), "{lines:?}");
        assert_eq!(lines.concat().replace(' ', ""), text.replace(' ', ""));
    }

    #[test]
    fn jpeg_size_is_read_from_the_frame_header() {
        // SOI, then a baseline SOF0 of 8-bit, 240 rows, 320 columns.
        let jpeg = [0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0xF0, 0x01, 0x40, 0x03, 0, 0, 0, 0, 0, 0];
        assert_eq!(jpeg_size(&jpeg), Some((320, 240)));
        assert_eq!(jpeg_size(b"not a jpeg"), None);
    }
}
