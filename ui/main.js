// The candidate's flow: join -> consent -> check -> identity -> exam -> finish. Each step calls
// the app's IPC commands (src-tauri/src/flow.rs); this file only shows screens and results.
"use strict";

const invoke = (cmd, args) => window.__TAURI__.core.invoke(cmd, args);
const $ = (id) => document.getElementById(id);

const state = { screen: "join", joinArgs: null, timers: [], photos: {}, lastReport: null, lastExam: null };

// ---- screens, errors ----

function show(screen) {
  for (const s of document.querySelectorAll("[data-screen]")) s.hidden = s.dataset.screen !== screen;
  state.screen = screen;
  const section = document.querySelector(`[data-screen="${screen}"]`);
  const step = section.dataset.step;
  $("step").textContent = step ? t("step", { n: step }) : "";
  clearError();
  // Screen readers and keyboard users start at the new screen's heading.
  section.querySelector("h2").focus();
}

function showError(err) {
  const code = err && err.code ? err.code : "unknown";
  $("error-text").textContent = t(hasT(`error.${code}`) ? `error.${code}` : "error.unknown");
  const detail = err && (err.detail || err.message || (typeof err === "string" ? err : ""));
  $("error-detail").textContent = detail ? t("error.detail", { detail }) : "";
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
}

function every(ms, fn) {
  const id = setInterval(fn, ms);
  state.timers.push(id);
  return id;
}

function stopTimers() {
  state.timers.forEach(clearInterval);
  state.timers = [];
}

// ---- 1. join ----

async function initJoin() {
  const launch = await invoke("launch_info");
  $("server").value = launch.server || "";
  $("server-key").value = launch.server_key || "";
  $("code").value = launch.exam_code || "";
  if (launch.source) {
    $("join-from").dataset.source = launch.source;
    $("join-from").hidden = false;
  }
  if (launch.server_key) $("key-details").open = false;
  else $("key-details").open = true;
  // IT pinned the server and its key: the candidate sees them but cannot change them.
  $("server").readOnly = launch.provisioned;
  $("server-key").readOnly = launch.provisioned;
  renderJoinFrom();
  if (launch.problem) showError({ code: launch.problem_code || "launch", detail: launch.problem });
  return launch;
}

function renderJoinFrom() {
  const el = $("join-from");
  if (el.dataset.source) el.textContent = t("join.from", { source: t(`join.source.${el.dataset.source}`) });
}

$("join-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const args = { server: $("server").value.trim(), serverKey: $("server-key").value.trim(), examCode: $("code").value.trim(), name: $("name").value.trim() };
  if (!args.server || !args.examCode || !args.name) {
    showError({ code: "join.missing_fields" });
    const first = [$("server"), $("code"), $("name")].find((el) => !el.value.trim());
    first.setAttribute("aria-invalid", "true");
    first.focus();
    return;
  }
  for (const el of [$("server"), $("code"), $("name")]) el.removeAttribute("aria-invalid");
  state.joinArgs = args;
  try {
    // Who receives the recordings, signed by the server: named before the candidate agrees.
    state.receiver = await invoke("server_identity", { server: args.server, serverKey: args.serverKey });
  } catch (e) {
    showError(e);
    return;
  }
  renderReceiver();
  show("consent");
});

function renderReceiver() {
  const r = state.receiver;
  if (!r) return;
  $("consent-recipient").textContent = r.organiser
    ? t("consent.recipient", { organiser: r.organiser, host: r.host })
    : t("consent.recipient_host", { host: r.host });
}

// ---- 2. consent ----

$("consent-accept").addEventListener("click", async () => {
  const buttons = [$("consent-accept"), $("consent-decline")];
  buttons.forEach((b) => (b.disabled = true));
  $("consent-status").textContent = t("join.joining");
  try {
    await invoke("join", { ...state.joinArgs, consent: true });
    $("consent-status").textContent = "";
    await startCheck();
  } catch (e) {
    $("consent-status").textContent = "";
    show("join");
    showError(e);
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
});

$("consent-decline").addEventListener("click", () => {
  // Nothing was stored or sent: joining happens only after consent.
  state.joinArgs = null;
  show("declined");
});

$("declined-back").addEventListener("click", () => show("join"));

// ---- 3. check ----

async function startCheck() {
  show("check");
  await invoke("preview_start");
  every(150, refreshPreview);
  await runCheck();
}

async function refreshPreview() {
  const p = await invoke("preview_frame").catch(() => null);
  if (!p) return;
  for (const id of ["camera-preview", "identity-preview"]) {
    if (p.image) {
      $(id).src = p.image;
      $(id).hidden = false;
    }
  }
  $("camera-status").textContent = p.camera_error ? p.camera_error : p.image ? "" : t("check.camera_waiting");
  if (p.mic_dbfs !== null && p.mic_dbfs !== undefined) $("mic-meter").value = Math.max(-60, p.mic_dbfs);
  $("mic-status").textContent = p.mic_error ? p.mic_error : t("check.mic_hint");
}

function renderReport(report) {
  state.lastReport = report;
  const list = $("findings");
  list.replaceChildren();
  for (const f of report.findings) {
    const li = document.createElement("li");
    li.className = f.verdict;
    const verdict = document.createElement("span");
    verdict.className = "verdict";
    verdict.textContent = t(`verdict.${f.verdict}`);
    const title = document.createElement("span");
    title.className = "title";
    title.textContent = hasT(`finding.${f.id}`) ? t(`finding.${f.id}`) : f.title;
    const message = document.createElement("span");
    message.className = "message";
    message.textContent = f.message;
    li.append(verdict, title, message);
    if (f.verdict !== "ok" && hasT(`advice.${f.id}`)) {
      const advice = document.createElement("span");
      advice.className = "advice";
      advice.textContent = t(`advice.${f.id}`);
      li.append(advice);
    }
    list.append(li);
  }
  $("check-status").textContent = t(`check.overall.${report.overall}`);
  // The exam's policy decides: a failing finding blocks going on.
  $("check-continue").disabled = report.overall === "fail";
}

async function runCheck() {
  $("check-again").disabled = true;
  $("check-continue").disabled = true;
  $("check-status").textContent = t("check.running");
  try {
    renderReport(await invoke("system_check"));
  } catch (e) {
    showError(e);
  } finally {
    $("check-again").disabled = false;
  }
}

$("check-again").addEventListener("click", runCheck);
$("check-continue").addEventListener("click", () => show("identity"));

// ---- 4. identity ----

async function takePhoto(kind) {
  try {
    $(`photo-${kind}`).src = await invoke("take_photo", { kind });
    $(`photo-${kind}`).hidden = false;
    state.photos[kind] = true;
    const button = $(`take-${kind}`);
    button.dataset.i18n = `identity.retake_${kind}`;
    button.textContent = t(button.dataset.i18n);
    $("identity-continue").disabled = !(state.photos.face && state.photos.id);
    clearError();
  } catch (e) {
    showError(e);
  }
}

$("take-face").addEventListener("click", () => takePhoto("face"));
$("take-id").addEventListener("click", () => takePhoto("id"));

$("identity-continue").addEventListener("click", async () => {
  $("identity-continue").disabled = true;
  $("identity-status").textContent = t("identity.saving");
  try {
    await invoke("confirm_photos");
    stopTimers();
    const url = await invoke("start_exam");
    $("identity-status").textContent = "";
    show("exam");
    $("exam-page").textContent = url ? t("exam.page_loading") : t("exam.no_page");
    every(1000, refreshExam);
    refreshExam();
  } catch (e) {
    $("identity-status").textContent = "";
    $("identity-continue").disabled = false;
    showError(e);
  }
});

// ---- 5. exam ----

function sourceName(source) {
  if (source === "camera") return t("source.camera");
  const m = /^screen-(\d+)$/.exec(source);
  return m ? t("source.screen", { n: Number(m[1]) + 1 }) : source;
}

function renderExam(s) {
  state.lastExam = s;
  const sources = $("exam-sources");
  sources.replaceChildren();
  for (const src of s.recording) {
    const tag = document.createElement("span");
    tag.className = "rec";
    tag.textContent = sourceName(src);
    sources.append(tag);
  }
  if (!s.recording.length) sources.textContent = t("exam.not_recording");
  const mins = Math.floor(s.elapsed_secs / 60);
  $("exam-time").textContent = `${mins}:${String(s.elapsed_secs % 60).padStart(2, "0")}`;
  $("exam-connection").textContent = s.online ? t("exam.online") : t("exam.offline");
  $("exam-connection").className = s.online ? "online" : "offline";
  $("exam-backlog").textContent = t("exam.backlog_value", { segments: s.backlog_segments, events: s.backlog_events });
  if (s.exam_page) $("exam-page").textContent = t("exam.page_loaded");
  renderMessages(s.messages);
  renderWarnings(s.warnings);
  $("exam-blocked").textContent = s.blocked_urls.length ? t("exam.blocked_url", { url: s.blocked_urls[s.blocked_urls.length - 1] }) : "";
  if (s.recording_error) showError({ code: "unknown", detail: t("exam.recording_error", { detail: s.recording_error }) });
  const lost = s.timeline_failures || {};
  if (lost.count) showError({ code: "unknown", detail: t("exam.timeline_failures", { count: lost.count, detail: lost.last_error || "" }) });
}

function warningText(w) {
  const d = w.data || {};
  if (w.kind.startsWith("app.prohibited")) return t(w.blocking ? "warning.app_blocking" : "warning.app", { app: d.app_name || d.process_name });
  if (w.kind === "monitor.rule_broken") return t("warning.monitors", { count: d.monitors, min: d.min, max: d.max });
  return w.kind;
}

// Warnings show here and as a banner over the exam page (which covers the screen).
function renderWarnings(warnings) {
  const lines = warnings.map(warningText);
  const blocking = warnings.some((w) => w.blocking);
  const key = JSON.stringify([lines, blocking]);
  if (key === state.warningKey) return;
  state.warningKey = key;
  const list = $("exam-warning-list");
  list.replaceChildren(...lines.map((l) => Object.assign(document.createElement("li"), { textContent: l })));
  $("exam-warnings").hidden = !lines.length;
  invoke("exam_banner", { lines, blocking }).catch(() => {});
}

// Re-rendered only when a message arrives, so that screen readers announce it once.
function renderMessages(messages) {
  const list = $("exam-messages");
  if (list.dataset.count === String(messages.length) && list.dataset.lang === I18N.lang) return;
  list.dataset.count = messages.length;
  list.dataset.lang = I18N.lang;
  list.replaceChildren();
  for (const m of messages) {
    const li = document.createElement("li");
    li.className = m.kind;
    if (m.kind === "message") li.textContent = m.text;
    else if (m.kind === "warning") li.textContent = `${t("exam.message.warning")}: ${m.text}`;
    else if (m.kind === "pause") li.textContent = t("exam.message.pause");
    else if (m.kind === "terminate") li.textContent = t("exam.message.terminate", { reason: m.reason });
    list.append(li);
  }
  if (!messages.length) {
    const li = document.createElement("li");
    li.className = "none";
    li.textContent = t("exam.no_messages");
    list.append(li);
  }
}

async function refreshExam() {
  try {
    const s = await invoke("exam_status");
    renderExam(s);
    if (s.terminated) finish();
  } catch (e) {
    showError(e);
  }
}

// Finishing asks once more, in the page (no native dialog), and can be cancelled.
$("exam-finish").addEventListener("click", () => {
  $("exam-finish").hidden = true;
  $("finish-confirm").hidden = false;
  $("finish-yes").focus();
});
$("finish-cancel").addEventListener("click", () => {
  $("finish-confirm").hidden = true;
  $("exam-finish").hidden = false;
  $("exam-finish").focus();
});
$("finish-yes").addEventListener("click", finish);

$("quit-button").addEventListener("click", async () => {
  try {
    await invoke("quit_exam", { password: $("quit-password").value });
    $("quit-password").value = "";
    stopTimers();
    show("finish");
    every(500, refreshFinish);
  } catch (e) {
    $("quit-password").value = "";
    showError(e);
  }
});

// ---- 6. finish ----

async function finish() {
  stopTimers();
  show("finish");
  $("finish-retry").hidden = true;
  try {
    await invoke("finish_exam");
  } catch (e) {
    showError(e);
    $("finish-retry").hidden = false;
    return;
  }
  every(500, refreshFinish);
}

function renderFinish(f) {
  if (f.progress) {
    const total = f.progress.segments_total;
    const sent = total - f.progress.segments_left;
    $("finish-progress").max = Math.max(total, 1);
    $("finish-progress").value = total ? sent : 1;
    $("finish-progress-text").textContent = t("finish.progress_value", { sent, total });
  }
  if (f.receipt) {
    const r = f.receipt;
    $("finish-heading").dataset.i18n = "finish.done_heading";
    $("finish-heading").textContent = t("finish.done_heading");
    $("finish-progress-box").hidden = true;
    $("receipt").hidden = false;
    $("receipt-session").textContent = r.session_id;
    $("receipt-finished").textContent = r.finished_at;
    $("receipt-segments").textContent = r.segments;
    $("receipt-events").textContent = r.events;
    const list = $("receipt-hashes");
    list.replaceChildren();
    for (const h of r.hashes) {
      const li = document.createElement("li");
      li.textContent = `${sourceName(h.source)} #${h.sequence}: ${h.sha256}`;
      list.append(li);
    }
  }
  if (f.error) {
    showError(f.error);
    $("finish-retry").hidden = false;
  }
}

async function refreshFinish() {
  const f = await invoke("finish_status");
  renderFinish(f);
  if (f.receipt || f.error) stopTimers();
}

$("finish-retry").addEventListener("click", finish);

// ---- language ----

$("language").addEventListener("change", async (ev) => {
  await loadLanguage(ev.target.value);
  renderJoinFrom();
  renderReceiver();
  const s = document.querySelector(`[data-screen="${state.screen}"]`);
  $("step").textContent = s.dataset.step ? t("step", { n: s.dataset.step }) : "";
  if (state.lastReport && state.screen === "check") renderReport(state.lastReport);
  if (state.lastExam && state.screen === "exam") {
    state.warningKey = null;
    renderExam(state.lastExam);
  }
  $("error").hidden = true;
});

// ---- start ----

(async () => {
  const launch = await invoke("launch_info").catch(() => ({ language: "en" }));
  const lang = I18N.languages.includes(launch.language) ? launch.language : "en";
  $("language").value = lang;
  await loadLanguage(lang);
  show("join");
  await initJoin();
})();
