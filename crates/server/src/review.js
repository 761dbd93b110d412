"use strict";
const $ = (id) => document.getElementById(id);

// The workspace in English, Russian and Kazakh: the browser's language by default, the picker
// after that (remembered in this browser). Times are shown in the reviewer's own time zone.
const STRINGS = {
  en: { live: "Live", live_count: "{n} sessions running now", recent_screen: "Recent screen of {name}", last_seen: "last heard {s} s ago", no_open_flags: "no open flags", instructions_state: "instructions: {queued} queued, {taken} taken by the app, {shown} shown to the candidate", report_pdf: "Report (PDF)", player: "Recording", play: "Play", pause: "Pause", position: "Position in the session", no_recording: "Nothing was recorded in this session.", not_recorded: "not recorded at this moment", loading_media: "loading…", go_to: "Go to {time}: {what}", severity: "Severity", until: "Until", decision: "Decision", mark_confirmed: "Confirm", mark_dismissed: "Dismiss", confirmed: "confirmed", dismissed: "dismissed", open: "still open", no_flags: "No flags.", all: "all", at_least: "{severity} and above", topic: "About", note_at_position: "Note at the player's position", add_note: "Add note", notes: "Notes", device: "Device and system check", info: "info", notice: "notice", critical: "critical",
    title: "Vigil review", name: "Name", password: "Password", sign_in: "Sign in", sign_out: "Sign out",
    language: "Language", loading: "Loading sessions…", listed: "{n} sessions, by review priority", signed_out: "Signed out.",
    sessions: "Sessions", candidate: "Candidate", priority: "Priority", risk: "Risk", flags: "Flags", state: "State",
    exam: "Exam", started: "Started", duration: "Duration", verdict: "Verdict", not_reviewed: "not reviewed",
    flag_counts: "{c} critical, {w} warnings, {n} notices", minutes: "{m} min {s} s",
    high: "high", medium: "medium", low: "low", running: "running", finished: "finished", abandoned: "abandoned",
    clear: "clear", suspicious: "suspicious", violation: "violation",
    loading_session: "Loading the session…", timeline: "Timeline", recordings: "Recordings", seq: "#", time: "Time",
    event: "Event", details: "Details", photo: "identity photo ({kind})", flag_picture: "the camera when this flag began", comment: "Comment", save_verdict: "Save verdict",
    saved: "saved", saved_by: "saved by {name}", not_reviewed_yet: "not reviewed yet", report: "Report (JSON)",
    events_csv: "Events (CSV)", instruction: "Instruction", text: "Text", send: "Send", delivered: "{n} delivered so far",
    queued: "queued: delivered with the candidate's next heartbeat", message: "message", warning: "warning",
    pause: "pause", terminate: "terminate", accommodation_note: "Accommodation: screen reader in use. Speech the microphone hears is noted, never a risk.",
    accommodation_off: "Accommodation: screen reader in use. Speech the microphone hears is not flagged." },
  ru: { live: "Сейчас", live_count: "Идёт сессий: {n}", recent_screen: "Недавний экран: {name}", last_seen: "на связи {s} с назад", no_open_flags: "открытых отметок нет", instructions_state: "указания: в очереди {queued}, получено приложением {taken}, показано кандидату {shown}", report_pdf: "Отчёт (PDF)", player: "Запись", play: "Воспроизвести", pause: "Пауза", position: "Позиция в сессии", no_recording: "В этой сессии ничего не записано.", not_recorded: "в этот момент не записывалось", loading_media: "загрузка…", go_to: "Перейти к {time}: {what}", severity: "Важность", until: "До", decision: "Решение", mark_confirmed: "Подтвердить", mark_dismissed: "Отклонить", confirmed: "подтверждено", dismissed: "отклонено", open: "ещё длится", no_flags: "Отметок нет.", all: "все", at_least: "{severity} и выше", topic: "Тема", note_at_position: "Заметка к текущей позиции", add_note: "Добавить заметку", notes: "Заметки", device: "Устройство и проверка системы", info: "сведения", notice: "замечание", critical: "критично",
    title: "Vigil: проверка", name: "Имя", password: "Пароль", sign_in: "Войти", sign_out: "Выйти",
    language: "Язык", loading: "Загрузка сессий…", listed: "Сессий: {n}, по приоритету проверки", signed_out: "Вы вышли.",
    sessions: "Сессии", candidate: "Кандидат", priority: "Приоритет", risk: "Риск", flags: "Отметки", state: "Состояние",
    exam: "Экзамен", started: "Начало", duration: "Длительность", verdict: "Решение", not_reviewed: "не проверено",
    flag_counts: "критических: {c}, предупреждений: {w}, замечаний: {n}", minutes: "{m} мин {s} с",
    high: "высокий", medium: "средний", low: "низкий", running: "идёт", finished: "завершена", abandoned: "прервана",
    clear: "нарушений нет", suspicious: "подозрительно", violation: "нарушение",
    loading_session: "Загрузка сессии…", timeline: "Хронология", recordings: "Записи", seq: "№", time: "Время",
    event: "Событие", details: "Подробности", photo: "фото для идентификации ({kind})", flag_picture: "камера в начале этой отметки", comment: "Комментарий",
    save_verdict: "Сохранить решение", saved: "сохранено", saved_by: "сохранил(а) {name}", not_reviewed_yet: "ещё не проверено",
    report: "Отчёт (JSON)", events_csv: "События (CSV)", instruction: "Указание", text: "Текст", send: "Отправить",
    delivered: "доставлено: {n}", queued: "в очереди: дойдёт со следующим сигналом от кандидата", message: "сообщение",
    warning: "предупреждение", pause: "пауза", terminate: "завершить",
    accommodation_note: "Особые условия: кандидат пользуется экранным чтецом. Речь, которую слышит микрофон, отмечается без риска.",
    accommodation_off: "Особые условия: кандидат пользуется экранным чтецом. Речь, которую слышит микрофон, не отмечается." },
  kk: { live: "Қазір", live_count: "Қазір жүріп жатқан сессиялар: {n}", recent_screen: "{name}: соңғы экран", last_seen: "{s} с бұрын байланыста болды", no_open_flags: "ашық белгілер жоқ", instructions_state: "нұсқаулар: кезекте {queued}, қолданба алды {taken}, кандидатқа көрсетілді {shown}", report_pdf: "Есеп (PDF)", player: "Жазба", play: "Ойнату", pause: "Кідірту", position: "Сессиядағы орын", no_recording: "Бұл сессияда ештеңе жазылмаған.", not_recorded: "бұл сәтте жазылмаған", loading_media: "жүктелуде…", go_to: "{time} сәтіне өту: {what}", severity: "Маңыздылығы", until: "Дейін", decision: "Шешім", mark_confirmed: "Растау", mark_dismissed: "Қабылдамау", confirmed: "расталды", dismissed: "қабылданбады", open: "әлі жалғасуда", no_flags: "Белгілер жоқ.", all: "барлығы", at_least: "{severity} және жоғары", topic: "Тақырып", note_at_position: "Ойнатқыштағы орынға жазба", add_note: "Жазба қосу", notes: "Жазбалар", device: "Құрылғы және жүйені тексеру", info: "мәлімет", notice: "ескертпе", critical: "сыни",
    title: "Vigil: тексеру", name: "Аты", password: "Құпиясөз", sign_in: "Кіру", sign_out: "Шығу",
    language: "Тіл", loading: "Сессиялар жүктелуде…", listed: "Сессиялар: {n}, тексеру басымдығы бойынша", signed_out: "Сіз шықтыңыз.",
    sessions: "Сессиялар", candidate: "Кандидат", priority: "Басымдық", risk: "Тәуекел", flags: "Белгілер", state: "Күйі",
    exam: "Емтихан", started: "Басталды", duration: "Ұзақтығы", verdict: "Шешім", not_reviewed: "тексерілмеген",
    flag_counts: "сыни: {c}, ескерту: {w}, ескертпе: {n}", minutes: "{m} мин {s} с",
    high: "жоғары", medium: "орташа", low: "төмен", running: "жүріп жатыр", finished: "аяқталды", abandoned: "үзілді",
    clear: "бұзушылық жоқ", suspicious: "күмәнді", violation: "бұзушылық",
    loading_session: "Сессия жүктелуде…", timeline: "Оқиғалар тізбегі", recordings: "Жазбалар", seq: "№", time: "Уақыты",
    event: "Оқиға", details: "Толығырақ", photo: "жеке басын растайтын сурет ({kind})", flag_picture: "осы белгі басталғандағы камера", comment: "Түсініктеме",
    save_verdict: "Шешімді сақтау", saved: "сақталды", saved_by: "{name} сақтады", not_reviewed_yet: "әлі тексерілмеген",
    report: "Есеп (JSON)", events_csv: "Оқиғалар (CSV)", instruction: "Нұсқау", text: "Мәтін", send: "Жіберу",
    delivered: "жеткізілді: {n}", queued: "кезекте: кандидаттың келесі белгісімен жетеді", message: "хабар",
    warning: "ескерту", pause: "үзіліс", terminate: "аяқтау",
    accommodation_note: "Арнайы жағдай: кандидат экран оқу құралын пайдаланады. Микрофон естіген сөйлеу тәуекелсіз белгіленеді.",
    accommodation_off: "Арнайы жағдай: кандидат экран оқу құралын пайдаланады. Микрофон естіген сөйлеу белгіленбейді." },
};
const LANGS = Object.keys(STRINGS);
let lang = localStorage.getItem("vigil-review-lang")
  || LANGS.find((l) => (navigator.language || "en").toLowerCase().startsWith(l)) || "en";
const t = (key, vars = {}) => (STRINGS[lang][key] ?? STRINGS.en[key] ?? key).replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
function translatePage() {
  document.documentElement.lang = lang;
  document.title = t("title");
  for (const e of document.querySelectorAll("[data-t]")) e.textContent = t(e.dataset.t);
  $("lang").value = lang;
}
const headerRow = (keys) => { const tr = el("tr"); for (const k of keys) tr.append(el("th", t(k))); return tr; };
const el = (tag, text) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; return e; };
// Signed in with a name and password: the HttpOnly cookie goes with every request, and every
// change repeats the CSRF token the sign-in returned.
const me = { csrf: "" };
async function api(path, options = {}) {
  const headers = options.method && options.method !== "GET" ? { "X-Vigil-Csrf": me.csrf } : {};
  const r = await fetch(path, { ...options, headers: { ...headers, ...(options.headers || {}) }, credentials: "same-origin" });
  if (!r.ok) throw new Error(path + ": " + r.status + " " + (await r.text()));
  return r;
}
function signedIn(who) {
  me.csrf = who.csrf || "";
  $("login").hidden = true;
  $("who").hidden = false;
  $("who-name").textContent = who.name;
  listSessions();
}
async function listSessions() {
  clearInterval(liveTimer);
  $("status").textContent = t("loading");
  try {
    const { sessions } = await (await api("/v1/review/sessions")).json();
    const table = el("table");
    table.append(headerRow(["candidate", "priority", "risk", "flags", "state", "exam", "started", "duration", "verdict"]));
    for (const s of sessions) {
      const tr = el("tr");
      const link = Object.assign(el("a", s.candidate), { href: "#" + s.id });
      link.addEventListener("click", () => showSession(s.id));
      const first = el("td"); first.append(link); tr.append(first);
      const flags = t("flag_counts", { c: s.flags.critical, w: s.flags.warning, n: s.flags.notice });
      const duration = t("minutes", { m: Math.floor(s.duration_s / 60), s: s.duration_s % 60 });
      const started = new Date(s.started_at).toLocaleString(lang);
      for (const v of [t(s.priority), s.risk, flags, t(s.state), s.exam_code, started, duration, s.verdict ? t(s.verdict) : t("not_reviewed")]) tr.append(el("td", String(v)));
      table.append(tr);
    }
    $("sessions").replaceChildren(el("h2", t("sessions")), table);
    $("status").textContent = t("listed", { n: sessions.length });
  } catch (e) { $("status").textContent = e.message; $("status").className = "error"; }
}
let player = null;
async function showSession(id) {
  // The previous candidate's evidence goes at once.
  if (player) player.close();
  $("detail").replaceChildren(el("p", t("loading_session")));
  const d = await (await api("/v1/review/sessions/" + id)).json();
  player = new VigilPlayer.SessionPlayer(d.segments, async (url) => (await api(url)).arrayBuffer(), {
    player: t("player"), play: t("play"), pause: t("pause"), position: t("position"),
    no_recording: t("no_recording"), not_recorded: t("not_recorded"), loading: t("loading_media") });
  // Identity photos are pictures, shown as such.
  const photos = el("div"); photos.className = "photos";
  for (const s of d.segments.filter((s) => s.source.startsWith("identity-"))) {
    const fig = el("figure");
    fig.append(Object.assign(el("img"), { src: s.download, alt: t("photo", { kind: s.source.slice(9) }) }),
      el("figcaption", t("photo", { kind: s.source.slice(9) }) + " · sha256 " + s.sha256.slice(0, 12) + "…"));
    photos.append(fig);
  }
  // The organiser's accommodation comes first: it changes how speech on the recording reads.
  const notes = d.events.filter((e) => e.kind === "accommodation.applied").map((e) => {
    const p = el("p", t(e.data.speech_flags === "off" ? "accommodation_off" : "accommodation_note"));
    p.className = "accommodation";
    return p;
  });
  $("detail").replaceChildren(el("h2", d.session.candidate + " — " + d.session.exam_code), ...notes, verdictForm(id, d), exports(id),
    ...(d.session.finished_at ? [] : [instructForm(id, d.events.filter((e) => e.kind === "proctor.instruction").length)]), player.element, flagsView(id, d), noteForm(id, d),
    eventsView(d), photos, deviceView(d));
}
const SEVERITIES = ["info", "notice", "warning", "critical"];
// Milliseconds from the session's start to an event's time.
const offsetOf = (d, time) => Date.parse(time) - Date.parse(d.session.started_at);
// An event in a few words: its kind and the detail that names what happened.
function describe(kind, data) {
  const what = ["app_name", "source", "monitors", "url", "text", "reason"].map((k) => data && data[k]).find((v) => v !== undefined && v !== null);
  return what === undefined ? kind : `${kind} — ${what}`;
}
// A button showing a moment that moves every track there.
function jumpButton(offsetMs, label) {
  const b = el("button", VigilPlayer.clock((offsetMs - player.origin) / 1000));
  b.type = "button"; b.className = "jump";
  b.setAttribute("aria-label", t("go_to", { time: b.textContent, what: label }));
  b.dataset.offsetMs = String(offsetMs);
  b.addEventListener("click", () => player.seekToOffset(offsetMs));
  return b;
}
// The flags (intervals): a bar along the session, coloured by severity, and a list with the
// reviewer's decision on each.
function flagsView(id, d) {
  const section = el("section"); section.className = "flags";
  const bar = el("div"); bar.className = "flag-bar"; bar.setAttribute("aria-hidden", "true");
  const table = el("table");
  table.append(headerRow(["time", "severity", "event", "until", "decision"]));
  const decided = new Map((d.flag_reviews || []).map((r) => [r.seq, r.decision]));
  for (const iv of d.intervals) {
    // A flag made with hysteresis is written when it was decided; its condition began
    // `at_ms - start_ms` earlier, on the recording's clock.
    const late = typeof iv.data?.start_ms === "number" && typeof iv.data?.at_ms === "number" ? Math.max(0, iv.data.at_ms - iv.data.start_ms) : 0;
    const from = offsetOf(d, iv.start) - late;
    const to = iv.end ? offsetOf(d, iv.end) : (player.duration * 1000 + player.origin);
    const mark = el("div"); mark.className = "flag sev-" + iv.severity;
    mark.style.left = (100 * (from - player.origin) / 1000 / player.duration) + "%";
    mark.style.width = Math.max(0.4, 100 * (to - from) / 1000 / player.duration) + "%";
    mark.addEventListener("click", () => player.seekToOffset(from));
    bar.append(mark);
    const tr = el("tr"); tr.className = "sev-" + iv.severity; tr.dataset.kind = iv.kind; tr.dataset.seq = iv.start_seq;
    const when = el("td"); when.append(jumpButton(from, describe(iv.kind, iv.data)));
    const decision = el("td");
    const status = el("span", decided.has(iv.start_seq) ? t(decided.get(iv.start_seq)) : "");
    status.setAttribute("role", "status");
    for (const choice of ["confirmed", "dismissed"]) {
      const b = el("button", t("mark_" + choice)); b.type = "button";
      b.addEventListener("click", async () => {
        try {
          await api(`/v1/review/sessions/${id}/flags/${iv.start_seq}`, { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ decision: choice }) });
          status.textContent = t(choice);
        } catch (e) { status.textContent = e.message; }
      });
      decision.append(b, " ");
    }
    decision.append(status);
    const what = el("td", describe(iv.kind, iv.data));
    // The camera when the flag began, filed by the device as its evidence.
    const picture = d.segments.find((s) => s.source === "evidence-camera" && s.sequence === iv.data?.picture);
    if (picture) what.append(Object.assign(el("img"), { src: picture.download, alt: t("flag_picture"), className: "evidence" }));
    tr.append(when, el("td", t(iv.severity)), what, el("td", iv.end ? VigilPlayer.clock((to - player.origin) / 1000) : t("open")), decision);
    table.append(tr);
  }
  section.append(el("h3", t("flags")), bar, d.intervals.length ? table : el("p", t("no_flags")));
  return section;
}
// Every event, filterable by severity and by what it is about (the first part of its kind).
function eventsView(d) {
  const section = el("section");
  const severity = el("select");
  for (const s of ["all", ...SEVERITIES]) severity.append(Object.assign(el("option", s === "all" ? t("all") : t("at_least", { severity: t(s) })), { value: s }));
  const topic = el("select");
  for (const k of ["all", ...new Set(d.events.map((e) => e.kind.split(".")[0]))]) topic.append(Object.assign(el("option", k === "all" ? t("all") : k), { value: k }));
  const severityLabel = el("label", t("severity") + " "); severityLabel.append(severity);
  const topicLabel = el("label", t("topic") + " "); topicLabel.append(topic);
  const table = el("table"); table.className = "events";
  table.append(headerRow(["time", "severity", "event", "details"]));
  for (const e of d.events) {
    const tr = el("tr"); tr.className = "sev-" + e.severity; tr.dataset.kind = e.kind; tr.dataset.severity = e.severity;
    const when = el("td"); when.append(jumpButton(offsetOf(d, e.time), e.kind));
    tr.append(when, el("td", t(e.severity)), el("td", describe(e.kind, e.data)), el("td", JSON.stringify(e.data)));
    table.append(tr);
  }
  const filter = () => {
    const min = SEVERITIES.indexOf(severity.value);
    for (const tr of table.querySelectorAll("tr[data-kind]")) {
      tr.hidden = (min >= 0 && SEVERITIES.indexOf(tr.dataset.severity) < min) || (topic.value !== "all" && tr.dataset.kind.split(".")[0] !== topic.value);
    }
  };
  severity.addEventListener("change", filter);
  topic.addEventListener("change", filter);
  const filters = el("p"); filters.append(severityLabel, " ", topicLabel);
  section.append(el("h3", t("timeline")), filters, table);
  return section;
}
// Notes at a moment: the player's position when the note is saved.
function noteForm(id, d) {
  const section = el("section");
  const list = el("ul");
  const item = (n) => { const li = el("li"); li.append(jumpButton(n.offset_ms, n.text), " ", n.text, " — " + n.author); return li; };
  for (const n of d.notes || []) list.append(item(n));
  const form = el("form"); form.className = "note";
  const text = Object.assign(el("input"), { size: 50, required: true });
  const label = el("label", t("note_at_position") + " "); label.append(text);
  const status = el("span"); status.setAttribute("role", "status");
  form.append(label, " ", el("button", t("add_note")), " ", status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const note = { offset_ms: player.offsetMs(), text: text.value };
    try {
      await api(`/v1/review/sessions/${id}/notes`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(note) });
      list.append(item({ ...note, author: $("who-name").textContent }));
      text.value = ""; status.textContent = t("saved");
    } catch (e) { status.textContent = e.message; }
  });
  section.append(el("h3", t("notes")), list, form);
  return section;
}
// What the candidate's device reported at the check, with its verdicts.
function deviceView(d) {
  const details = el("details");
  details.append(el("summary", t("device")), el("pre", JSON.stringify(d.session.device, null, 2)));
  return details;
}
// The live view: every running session as a card with when it was last heard, the flags open
// now, its most recent screen recording playing as a thumbnail, and the proctor's instructions.
let liveTimer = null;
const cards = new Map();
async function showLive() {
  clearInterval(liveTimer);
  if (player) { player.close(); player = null; }
  $("detail").replaceChildren();
  const grid = el("div"); grid.className = "live";
  cards.clear();
  $("sessions").replaceChildren(el("h2", t("live")), grid);
  const refresh = async () => {
    if (!grid.isConnected) return clearInterval(liveTimer);
    try {
      const { sessions } = await (await api("/v1/review/live")).json();
      $("status").textContent = t("live_count", { n: sessions.length });
      for (const s of sessions) liveCard(grid, s);
      for (const [id, card] of cards) if (!sessions.some((s) => s.id === id)) { card.remove(); cards.delete(id); }
    } catch (e) { $("status").textContent = e.message; }
  };
  await refresh();
  liveTimer = setInterval(refresh, 5000);
}
function liveCard(grid, s) {
  let card = cards.get(s.id);
  if (!card) {
    card = el("article"); card.className = "card"; card.dataset.id = s.id;
    const name = Object.assign(el("a", s.candidate), { href: "#" + s.id });
    name.addEventListener("click", () => { clearInterval(liveTimer); showSession(s.id); });
    const thumb = el("video"); thumb.muted = true; thumb.loop = true; thumb.autoplay = true; thumb.playsInline = true;
    thumb.setAttribute("aria-label", t("recent_screen", { name: s.candidate }));
    const heading = el("h3"); heading.append(name);
    card.append(heading, el("p"), thumb, el("ul"), el("p"), instructForm(s.id, s.instructions.shown));
    card.querySelector("p").className = "seen";
    grid.append(card);
    cards.set(s.id, card);
  }
  const [seen, thumb, flags, sent] = [card.querySelector("p.seen"), card.querySelector("video"), card.querySelector("ul"), card.querySelectorAll("p")[1]];
  seen.textContent = t("last_seen", { s: s.silent_s }) + " · " + s.exam_code;
  // The newest screen segment (the camera's if there is no screen), replaced when a newer one is in.
  const recent = s.recent_segments.find((r) => r.source.startsWith("screen-")) || s.recent_segments[0];
  if (recent && thumb.dataset.download !== recent.download) { thumb.dataset.download = recent.download; thumb.src = recent.download; }
  flags.replaceChildren(...s.open_flags.map((f) => {
    const li = el("li", describe(f.kind, f.data) + " · " + t(f.severity)); li.className = "sev-" + f.severity; return li;
  }));
  if (!s.open_flags.length) flags.append(el("li", t("no_open_flags")));
  sent.className = "instructions";
  sent.textContent = t("instructions_state", s.instructions);
}
$("show-live").addEventListener("click", showLive);
$("show-list").addEventListener("click", () => { clearInterval(liveTimer); listSessions(); });
// The report and the events, downloaded with the sign-in's cookie.
function exports(id) {
  const p = el("p");
  p.append(Object.assign(el("a", t("report_pdf")), { href: `/v1/review/sessions/${id}/report.pdf?lang=${lang}`, download: "", className: "report-pdf" }), " · ",
    Object.assign(el("a", t("report")), { href: `/v1/review/sessions/${id}/report.json`, download: "" }), " · ",
    Object.assign(el("a", t("events_csv")), { href: `/v1/review/sessions/${id}/events.csv`, download: "" }));
  return p;
}
// While the session runs: a message, warning, pause or end for the candidate; what reached them
// is on the timeline as proctor.instruction.
function instructForm(id, shown) {
  const form = el("form"); form.className = "instruct";
  const kind = el("select");
  for (const k of ["message", "warning", "pause", "terminate"]) kind.append(Object.assign(el("option", t(k)), { value: k }));
  const kindLabel = el("label", t("instruction") + " "); kindLabel.append(kind);
  const text = Object.assign(el("input"), { size: 40 });
  const textLabel = el("label", t("text") + " "); textLabel.append(text);
  const status = el("span", t("delivered", { n: shown }));
  status.setAttribute("role", "status");
  form.append(kindLabel, " ", textLabel, " ", el("button", t("send")), " ", status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = kind.value === "terminate" ? { kind: kind.value, reason: text.value }
      : kind.value === "pause" ? { kind: kind.value } : { kind: kind.value, text: text.value };
    try {
      await api(`/v1/review/sessions/${id}/instructions`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      status.textContent = t("queued");
      text.value = "";
    } catch (e) { status.textContent = e.message; }
  });
  return form;
}
// The verdict, with a comment: saved to the server (and its audit log).
function verdictForm(id, d) {
  const form = el("form"); form.className = "verdict";
  const label = el("label", t("verdict") + " ");
  const select = el("select");
  for (const v of ["clear", "suspicious", "violation"]) select.append(Object.assign(el("option", t(v)), { value: v }));
  if (d.verdict) select.value = d.verdict.verdict;
  label.append(select);
  const comment = Object.assign(el("input"), { value: d.verdict ? d.verdict.comment : "", size: 40 });
  const commentLabel = el("label", t("comment") + " "); commentLabel.append(comment);
  const saved = el("span", d.verdict ? t("saved_by", { name: d.verdict.author }) : t("not_reviewed_yet"));
  saved.setAttribute("role", "status");
  saved.dataset.state = d.verdict ? "saved" : "";
  form.append(label, " ", commentLabel, " ", el("button", t("save_verdict")), " ", saved);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api(`/v1/review/sessions/${id}/verdict`, { method: "PUT", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ verdict: select.value, comment: comment.value }) });
      saved.textContent = t("saved");
      saved.dataset.state = "saved";
    } catch (e) { saved.textContent = e.message; }
  });
  return form;
}
$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const r = await fetch("/v1/review/sign-in", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: $("name").value.trim(), password: $("password").value }) });
  $("password").value = "";
  const body = await r.json().catch(() => ({}));
  if (!r.ok) { $("status").textContent = (body.error && body.error.message) || ("sign-in failed: " + r.status); $("status").className = "error"; return; }
  $("status").className = "";
  signedIn(body);
});
$("sign-out").addEventListener("click", async () => {
  await api("/v1/review/sign-out", { method: "POST" }).catch(() => {});
  me.csrf = "";
  $("who").hidden = true; $("login").hidden = false;
  $("sessions").replaceChildren(); $("detail").replaceChildren();
  $("status").textContent = t("signed_out");
});
$("lang").addEventListener("change", () => {
  lang = $("lang").value;
  localStorage.setItem("vigil-review-lang", lang);
  translatePage();
  if (!$("who").hidden) listSessions();
  $("detail").replaceChildren();
});
translatePage();
fetch("/v1/review/me", { credentials: "same-origin" }).then((r) => (r.ok ? r.json().then(signedIn) : null)).catch(() => {});
