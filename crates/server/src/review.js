"use strict";
const $ = (id) => document.getElementById(id);

// The workspace in English, Russian and Kazakh: the browser's language by default, the picker
// after that (remembered in this browser). Times are shown in the reviewer's own time zone.
const STRINGS = {
  en: { title: "Vigil review", name: "Name", password: "Password", sign_in: "Sign in", sign_out: "Sign out",
    language: "Language", loading: "Loading sessions…", listed: "{n} sessions, by review priority", signed_out: "Signed out.",
    sessions: "Sessions", candidate: "Candidate", priority: "Priority", risk: "Risk", flags: "Flags", state: "State",
    exam: "Exam", started: "Started", duration: "Duration", verdict: "Verdict", not_reviewed: "not reviewed",
    flag_counts: "{c} critical, {w} warnings, {n} notices", minutes: "{m} min {s} s",
    high: "high", medium: "medium", low: "low", running: "running", finished: "finished", abandoned: "abandoned",
    clear: "clear", suspicious: "suspicious", violation: "violation",
    loading_session: "Loading the session…", timeline: "Timeline", recordings: "Recordings", seq: "#", time: "Time",
    event: "Event", details: "Details", photo: "identity photo ({kind})", comment: "Comment", save_verdict: "Save verdict",
    saved: "saved", saved_by: "saved by {name}", not_reviewed_yet: "not reviewed yet", report: "Report (JSON)",
    events_csv: "Events (CSV)", instruction: "Instruction", text: "Text", send: "Send", delivered: "{n} delivered so far",
    queued: "queued: delivered with the candidate's next heartbeat", message: "message", warning: "warning",
    pause: "pause", terminate: "terminate", accommodation_note: "Accommodation: screen reader in use. Speech the microphone hears is noted, never a risk.",
    accommodation_off: "Accommodation: screen reader in use. Speech the microphone hears is not flagged." },
  ru: { title: "Vigil: проверка", name: "Имя", password: "Пароль", sign_in: "Войти", sign_out: "Выйти",
    language: "Язык", loading: "Загрузка сессий…", listed: "Сессий: {n}, по приоритету проверки", signed_out: "Вы вышли.",
    sessions: "Сессии", candidate: "Кандидат", priority: "Приоритет", risk: "Риск", flags: "Отметки", state: "Состояние",
    exam: "Экзамен", started: "Начало", duration: "Длительность", verdict: "Решение", not_reviewed: "не проверено",
    flag_counts: "критических: {c}, предупреждений: {w}, замечаний: {n}", minutes: "{m} мин {s} с",
    high: "высокий", medium: "средний", low: "низкий", running: "идёт", finished: "завершена", abandoned: "прервана",
    clear: "нарушений нет", suspicious: "подозрительно", violation: "нарушение",
    loading_session: "Загрузка сессии…", timeline: "Хронология", recordings: "Записи", seq: "№", time: "Время",
    event: "Событие", details: "Подробности", photo: "фото для идентификации ({kind})", comment: "Комментарий",
    save_verdict: "Сохранить решение", saved: "сохранено", saved_by: "сохранил(а) {name}", not_reviewed_yet: "ещё не проверено",
    report: "Отчёт (JSON)", events_csv: "События (CSV)", instruction: "Указание", text: "Текст", send: "Отправить",
    delivered: "доставлено: {n}", queued: "в очереди: дойдёт со следующим сигналом от кандидата", message: "сообщение",
    warning: "предупреждение", pause: "пауза", terminate: "завершить",
    accommodation_note: "Особые условия: кандидат пользуется экранным чтецом. Речь, которую слышит микрофон, отмечается без риска.",
    accommodation_off: "Особые условия: кандидат пользуется экранным чтецом. Речь, которую слышит микрофон, не отмечается." },
  kk: { title: "Vigil: тексеру", name: "Аты", password: "Құпиясөз", sign_in: "Кіру", sign_out: "Шығу",
    language: "Тіл", loading: "Сессиялар жүктелуде…", listed: "Сессиялар: {n}, тексеру басымдығы бойынша", signed_out: "Сіз шықтыңыз.",
    sessions: "Сессиялар", candidate: "Кандидат", priority: "Басымдық", risk: "Тәуекел", flags: "Белгілер", state: "Күйі",
    exam: "Емтихан", started: "Басталды", duration: "Ұзақтығы", verdict: "Шешім", not_reviewed: "тексерілмеген",
    flag_counts: "сыни: {c}, ескерту: {w}, ескертпе: {n}", minutes: "{m} мин {s} с",
    high: "жоғары", medium: "орташа", low: "төмен", running: "жүріп жатыр", finished: "аяқталды", abandoned: "үзілді",
    clear: "бұзушылық жоқ", suspicious: "күмәнді", violation: "бұзушылық",
    loading_session: "Сессия жүктелуде…", timeline: "Оқиғалар тізбегі", recordings: "Жазбалар", seq: "№", time: "Уақыты",
    event: "Оқиға", details: "Толығырақ", photo: "жеке басын растайтын сурет ({kind})", comment: "Түсініктеме",
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
async function showSession(id) {
  // The previous candidate's evidence goes at once.
  $("detail").replaceChildren(el("p", t("loading_session")));
  const d = await (await api("/v1/review/sessions/" + id)).json();
  const timeline = el("table");
  timeline.append(headerRow(["seq", "time", "event", "details"]));
  for (const e of d.events) {
    const tr = el("tr");
    for (const v of [e.seq, new Date(e.time).toLocaleString(lang), e.kind, JSON.stringify(e.data)]) tr.append(el("td", String(v)));
    timeline.append(tr);
  }
  const grid = el("div"); grid.className = "grid";
  for (const s of d.segments) {
    const fig = el("figure");
    const blob = await (await api(s.download)).blob();
    // Identity photos are pictures; everything else is video.
    const photo = s.source.startsWith("identity-");
    const media = photo ? Object.assign(el("img"), { alt: t("photo", { kind: s.source.slice(9) }) }) : el("video");
    if (!photo) { media.controls = true; media.preload = "none"; }
    media.src = URL.createObjectURL(blob);
    fig.append(media, el("figcaption", s.source + " #" + s.sequence + " (" + s.bytes + " bytes, sha256 " + s.sha256.slice(0, 12) + "…)"));
    grid.append(fig);
  }
  // The organiser's accommodation comes first: it changes how speech on the recording reads.
  const notes = d.events.filter((e) => e.kind === "accommodation.applied").map((e) => {
    const p = el("p", t(e.data.speech_flags === "off" ? "accommodation_off" : "accommodation_note"));
    p.className = "accommodation";
    return p;
  });
  $("detail").replaceChildren(el("h2", d.session.candidate + " — " + d.session.exam_code), ...notes, verdictForm(id, d), exports(id), ...(d.session.finished_at ? [] : [instructForm(id, d)]), el("h3", t("timeline")), timeline, el("h3", t("recordings")), grid);
}
// The report and the events, downloaded with the sign-in's cookie.
function exports(id) {
  const p = el("p");
  p.append(Object.assign(el("a", t("report")), { href: `/v1/review/sessions/${id}/report.json`, download: "" }), " · ",
    Object.assign(el("a", t("events_csv")), { href: `/v1/review/sessions/${id}/events.csv`, download: "" }));
  return p;
}
// While the session runs: a message, warning, pause or end for the candidate; what reached them
// is on the timeline as proctor.instruction.
function instructForm(id, d) {
  const form = el("form"); form.className = "instruct";
  const kind = el("select");
  for (const k of ["message", "warning", "pause", "terminate"]) kind.append(Object.assign(el("option", t(k)), { value: k }));
  const kindLabel = el("label", t("instruction") + " "); kindLabel.append(kind);
  const text = Object.assign(el("input"), { size: 40 });
  const textLabel = el("label", t("text") + " "); textLabel.append(text);
  const delivered = d.events.filter((e) => e.kind === "proctor.instruction").length;
  const status = el("span", t("delivered", { n: delivered }));
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
