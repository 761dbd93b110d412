// The candidate's flow: join -> consent -> check -> identity -> exam -> finish. Each step calls
// the app's IPC commands (src-tauri/src/flow.rs); this file only shows screens and results.
"use strict";

const invoke = (cmd, args) => window.__TAURI__.core.invoke(cmd, args);
const $ = (id) => document.getElementById(id);

const state = { screen: "join", joinArgs: null, timers: [], photos: {}, lastReport: null, lastExam: null };

// ---- events ----
// Handlers are looked up by element id when an event reaches the document, so that translated
// elements can be re-created (see `recreateTranslated`) without losing them.

const clickHandlers = {};
const on = (id, fn) => (clickHandlers[id] = fn);

document.addEventListener("click", (ev) => {
  const button = ev.target.closest("button[id]");
  if (!button || !clickHandlers[button.id]) return;
  // A busy button keeps its focus (a disabled one would drop it) but does nothing.
  if (button.getAttribute("aria-disabled") === "true") return;
  clickHandlers[button.id](ev);
});
document.addEventListener("submit", (ev) => {
  if (ev.target.id === "join-form") joinSubmitted(ev);
});

/** Marks a button the candidate just pressed as working (or done): it keeps the focus. */
function busy(button, working) {
  if (working) button.setAttribute("aria-disabled", "true");
  else button.removeAttribute("aria-disabled");
}

// ---- screens, errors, announcements ----
// Orca 43 says nothing when a heading gets focus or when a live region's text changes in a
// WebKitGTK page; it does read a labelled element that gets focus. So each screen is a region
// named by its heading, and errors and statuses that matter are focused when they appear.

function show(screen) {
  for (const s of document.querySelectorAll("[data-screen]")) s.hidden = s.dataset.screen !== screen;
  state.screen = screen;
  const section = document.querySelector(`[data-screen="${screen}"]`);
  const step = section.dataset.step;
  $("step").textContent = step ? t("step", { n: step }) : "";
  clearError();
  section.focus();
  state.shownAt = Date.now();
}

/**
 * A fresh copy of element `id` in its place. WebKitGTK does not tell screen readers that a name
 * changed, so an element whose text changed is re-created before it is focused; otherwise
 * Orca would say the old text.
 */
function renew(id) {
  const el = $(id);
  const copy = el.cloneNode(true);
  el.replaceWith(copy);
  return copy;
}

/**
 * Shows `text` (if given) in a status element and moves focus there, so that it is spoken; not
 * before the screen's title had time to be spoken, and only if the focus is still where it was.
 */
function announce(id, text) {
  if (text !== undefined) $(id).textContent = text;
  const screen = state.screen;
  const from = document.activeElement;
  setTimeout(() => {
    // Without scrolling: the page does not jump under a pointer that is about to click.
    if (state.screen === screen && document.activeElement === from) renew(id).focus({ preventScroll: true });
  }, Math.max(0, (state.shownAt || 0) + 1500 - Date.now()));
}

function showError(err) {
  const code = err && err.code ? err.code : "unknown";
  const text = t(hasT(`error.${code}`) ? `error.${code}` : "error.unknown");
  const detail = err && (err.detail || err.message || (typeof err === "string" ? err : ""));
  const detailText = detail ? t("error.detail", { detail }) : "";
  const same = !$("error").hidden && $("error-text").textContent === text && $("error-detail").textContent === detailText;
  $("error-text").textContent = text;
  $("error-detail").textContent = detailText;
  $("error").hidden = false;
  // Spoken once: the same error again (a poll) does not take the focus again.
  if (!same) renew("error").focus();
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
  setExpanded("key-toggle", !launch.server_key);
  // IT pinned the server and its key: the candidate sees them but cannot change them.
  $("server").readOnly = launch.provisioned;
  $("server-key").readOnly = launch.provisioned;
  renderJoinFrom();
  if (launch.problem) showError({ code: launch.problem_code || "launch", detail: launch.problem });
  else if (launch.server && launch.server_key) showJoinRecipient(launch.server, launch.server_key);
  return launch;
}

// A join link or IT's file named the server and its key: say who receives the recordings, as the
// server signed it, before the candidate types anything. A server that does not answer yet is not
// an error here; joining reports it.
async function showJoinRecipient(server, serverKey) {
  try {
    state.receiver = await invoke("server_identity", { server, serverKey, examCode: null });
  } catch (e) {
    return;
  }
  $("join-recipient").hidden = false;
  renderReceiver();
}
// Another server or key than the one named: the name no longer applies.
for (const id of ["server", "server-key"]) $(id).addEventListener("input", () => ($("join-recipient").hidden = true));

function renderJoinFrom() {
  const el = $("join-from");
  if (el.dataset.source) el.textContent = t("join.from", { source: t(`join.source.${el.dataset.source}`) });
}

// A disclosure: a button that shows or hides the panel it controls.
function setExpanded(id, open) {
  $(id).setAttribute("aria-expanded", String(open));
  $($(id).getAttribute("aria-controls")).hidden = !open;
}
for (const id of ["key-toggle", "quit-toggle", "hashes-toggle"]) on(id, () => setExpanded(id, $(id).getAttribute("aria-expanded") !== "true"));

async function joinSubmitted(ev) {
  ev.preventDefault();
  const button = $("join-continue");
  if (button.getAttribute("aria-disabled") === "true") return;
  const args = { server: $("server").value.trim(), serverKey: $("server-key").value.trim(), examCode: $("code").value.trim(), name: $("name").value.trim() };
  const fields = [$("server"), $("code"), $("name")];
  for (const el of fields) {
    // An empty field is marked (and described by the error) only after the candidate tried.
    if (el.value.trim()) {
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
    } else {
      el.setAttribute("aria-invalid", "true");
      el.setAttribute("aria-describedby", "error-text");
    }
  }
  if (!args.server || !args.examCode || !args.name) {
    // The error is spoken first; Tab from it leads to the first field.
    showError({ code: "join.missing_fields" });
    return;
  }
  state.joinArgs = args;
  busy(button, true);
  try {
    // Who receives the recordings, signed by the server: named before the candidate agrees.
    state.receiver = await invoke("server_identity", { server: args.server, serverKey: args.serverKey, examCode: args.examCode });
  } catch (e) {
    showError(e);
    return;
  } finally {
    busy(button, false);
  }
  renderReceiver();
  show("consent");
}

function renderReceiver() {
  const r = state.receiver;
  if (!r) return;
  const recipient = r.organiser
    ? t("consent.recipient", { organiser: r.organiser, host: r.host })
    : t("consent.recipient_host", { host: r.host });
  $("join-recipient").textContent = recipient;
  $("consent-recipient").textContent = recipient;
  // Exactly the flags this exam computes, as the server signed them (the session computes no others).
  if (Array.isArray(r.flags)) {
    const list = r.flags.map((f) => t(`flag.${f}`)).join(", ");
    const text = r.flags.length ? t("consent.item.flags_list", { flags: list }) : t("consent.item.no_flags");
    $("consent-flags").textContent = r.evidence_pictures ? `${text} ${t("consent.item.flags_pictures")}` : text;
  }
}

// ---- 2. consent ----

on("consent-accept", async () => {
  const buttons = [$("consent-accept"), $("consent-decline")];
  buttons.forEach((b) => busy(b, true));
  announce("consent-status", t("join.joining"));
  try {
    await invoke("join", { ...state.joinArgs, consent: true });
    $("consent-status").textContent = "";
    await startCheck();
  } catch (e) {
    $("consent-status").textContent = "";
    show("join");
    showError(e);
  } finally {
    buttons.forEach((b) => busy(b, false));
  }
});

on("consent-decline", () => {
  // Nothing was stored or sent: joining happens only after consent.
  state.joinArgs = null;
  show("declined");
});

on("declined-back", () => show("join"));

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
  busy($("check-again"), true);
  $("check-continue").disabled = true;
  // Joined, on a Wayland desktop that shares screens through its own dialog: said before it opens.
  const asks = state.joinArgs !== null && (await invoke("screen_sharing_asked").catch(() => false));
  $("check-sharing").hidden = !asks;
  $("check-status").textContent = t(asks ? "check.sharing" : "check.running");
  try {
    renderReport(await invoke("system_check"));
    // The overall result is spoken; the findings follow it in reading order.
    announce("check-status");
  } catch (e) {
    showError(e);
  } finally {
    busy($("check-again"), false);
  }
}

on("check-again", runCheck);
on("check-continue", () => show("identity"));

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

on("take-face", () => takePhoto("face"));
on("take-id", () => takePhoto("id"));

on("identity-continue", async () => {
  busy($("identity-continue"), true);
  announce("identity-status", t("identity.saving"));
  try {
    await invoke("confirm_photos");
    stopTimers();
    const url = await invoke("start_exam");
    $("identity-status").textContent = "";
    busy($("identity-continue"), false);
    show("exam");
    $("exam-page").textContent = url ? t("exam.page_loading") : t("exam.no_page");
    every(1000, refreshExam);
    refreshExam();
  } catch (e) {
    $("identity-status").textContent = "";
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
  renderWarnings(s.warnings, s.messages, s.prompts || []);
  $("exam-blocked").textContent = s.blocked_urls.length ? t("exam.blocked_url", { url: s.blocked_urls[s.blocked_urls.length - 1] }) : "";
  if (s.recording_error) showError({ code: "unknown", detail: t("exam.recording_error", { detail: s.recording_error }) });
  const lost = s.timeline_failures || {};
  if (lost.count) showError({ code: "unknown", detail: t("exam.timeline_failures", { count: lost.count, detail: lost.last_error || "" }) });
}

function warningText(w) {
  const d = w.data || {};
  if (w.kind.startsWith("app.prohibited")) return t(w.blocking ? "warning.app_blocking" : "warning.app", { app: d.app_name || d.process_name });
  if (w.kind === "monitor.rule_broken") return t("warning.monitors", { count: d.monitors, min: d.min, max: d.max });
  if (w.kind === "audio.output_recorded") return t("warning.sound_recorder", { app: d.app });
  if (w.kind === "camera.virtual") return t("warning.virtual_camera", { name: d.name });
  if (w.kind === "display.capture_device") return t("warning.capture_device", { name: d.name || d.device });
  if (w.kind === "display.screen_cast") return t("warning.screen_cast", { app: d.app });
  if (w.kind === "desktop.hiding_rule") return t("warning.hiding_rule", { windows: d.windows });
  return w.kind;
}

/** A proctor's message as the candidate reads it. */
function messageText(m) {
  if (m.kind === "message") return `${t("exam.message.from_proctor")}: ${m.text}`;
  if (m.kind === "warning") return `${t("exam.message.warning")}: ${m.text}`;
  if (m.kind === "pause") return t("exam.message.pause");
  return t("exam.message.terminate", { reason: m.reason });
}

// How long a proctor's message stays over the exam page.
const MESSAGE_SHOWN_MS = 30000;

// Warnings show here and as a banner over the exam page (which covers the screen), and so do the
// proctor's messages for their first 30 s: the candidate is in the exam window, not here.
// An on-device flag that lasts (no face, speech, ...) is a gentle prompt there too, so that the
// candidate can put it right.
function renderWarnings(warnings, messages = [], prompts = []) {
  state.messageSince = state.messageSince || [];
  messages.forEach((_, i) => (state.messageSince[i] = state.messageSince[i] || Date.now()));
  const recent = messages.filter((_, i) => Date.now() - state.messageSince[i] < MESSAGE_SHOWN_MS);
  const promptLines = prompts.map((kind) => t(`prompt.${kind}`));
  const lines = [...warnings.map(warningText), ...recent.map(messageText)];
  const blocking = warnings.some((w) => w.blocking);
  const key = JSON.stringify([lines, promptLines, blocking]);
  if (key === state.warningKey) return;
  state.warningKey = key;
  const list = $("exam-warning-list");
  const warningLines = warnings.map(warningText);
  list.replaceChildren(...warningLines.map((l) => Object.assign(document.createElement("li"), { textContent: l })));
  $("exam-warnings").hidden = !warningLines.length;
  $("exam-prompts").replaceChildren(...promptLines.map((l) => Object.assign(document.createElement("li"), { textContent: l })));
  $("exam-prompts").hidden = !promptLines.length;
  invoke("exam_banner", { lines, notes: promptLines, blocking, hint: t("warning.return_hint") }).catch(() => {});
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
    li.textContent = m.kind === "message" ? m.text : messageText(m);
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
on("exam-finish", () => {
  $("exam-finish").hidden = true;
  $("finish-confirm").hidden = false;
  $("finish-yes").focus();
});
on("finish-cancel", () => {
  $("finish-confirm").hidden = true;
  $("exam-finish").hidden = false;
  $("exam-finish").focus();
});
on("finish-yes", finish);

on("quit-button", async () => {
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
  if (f.receipt && $("receipt").hidden) {
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
    announce("receipt-done");
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

on("finish-retry", finish);

// ---- language ----

// WebKitGTK tells the screen reader nothing when a name changes, so Orca would keep reading the
// old language's names: the translated screens are re-created instead (handlers are delegated,
// and cloning keeps values, states and pictures).
function recreateTranslated() {
  const main = $("main");
  main.replaceWith(main.cloneNode(true));
}

$("language").addEventListener("change", async (ev) => {
  await loadLanguage(ev.target.value);
  recreateTranslated();
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
