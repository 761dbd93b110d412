"use strict";
const $ = (id) => document.getElementById(id);
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
  $("status").textContent = "Loading sessions…";
  try {
    const { sessions } = await (await api("/v1/review/sessions")).json();
    const table = el("table");
    table.append(Object.assign(el("tr"), { innerHTML: "<th>Candidate</th><th>Priority</th><th>Risk</th><th>Flags</th><th>State</th><th>Exam</th><th>Started</th><th>Duration</th><th>Verdict</th>" }));
    for (const s of sessions) {
      const tr = el("tr");
      const link = Object.assign(el("a", s.candidate), { href: "#" + s.id });
      link.addEventListener("click", () => showSession(s.id));
      const first = el("td"); first.append(link); tr.append(first);
      const flags = `${s.flags.critical} critical, ${s.flags.warning} warnings, ${s.flags.notice} notices`;
      const duration = `${Math.floor(s.duration_s / 60)} min ${s.duration_s % 60} s`;
      const started = new Date(s.started_at).toLocaleString();
      for (const v of [s.priority, s.risk, flags, s.state, s.exam_code, started, duration, s.verdict || "not reviewed"]) tr.append(el("td", String(v)));
      table.append(tr);
    }
    $("sessions").replaceChildren(el("h2", "Sessions"), table);
    $("status").textContent = sessions.length + " sessions, by review priority";
  } catch (e) { $("status").textContent = e.message; $("status").className = "error"; }
}
async function showSession(id) {
  // The previous candidate's evidence goes at once.
  $("detail").replaceChildren(el("p", "Loading the session…"));
  const d = await (await api("/v1/review/sessions/" + id)).json();
  const timeline = el("table");
  timeline.append(Object.assign(el("tr"), { innerHTML: "<th>#</th><th>Time</th><th>Event</th><th>Details</th>" }));
  for (const e of d.events) {
    const tr = el("tr");
    for (const v of [e.seq, e.time, e.kind, JSON.stringify(e.data)]) tr.append(el("td", String(v)));
    timeline.append(tr);
  }
  const grid = el("div"); grid.className = "grid";
  for (const s of d.segments) {
    const fig = el("figure");
    const blob = await (await api(s.download)).blob();
    // Identity photos are pictures; everything else is video.
    const photo = s.source.startsWith("identity-");
    const media = photo ? Object.assign(el("img"), { alt: "identity photo (" + s.source.slice(9) + ")" }) : el("video");
    if (!photo) { media.controls = true; media.preload = "none"; }
    media.src = URL.createObjectURL(blob);
    fig.append(media, el("figcaption", s.source + " #" + s.sequence + " (" + s.bytes + " bytes, sha256 " + s.sha256.slice(0, 12) + "…)"));
    grid.append(fig);
  }
  // The organiser's accommodation comes first: it changes how speech on the recording reads.
  const notes = d.events.filter((e) => e.kind === "accommodation.applied").map((e) => {
    const p = el("p", "Accommodation: screen reader in use. Speech the microphone hears is " +
      (e.data.speech_flags === "off" ? "not flagged." : "noted, never a risk."));
    p.className = "accommodation";
    return p;
  });
  $("detail").replaceChildren(el("h2", d.session.candidate + " — " + d.session.exam_code), ...notes, verdictForm(id, d), exports(id), ...(d.session.finished_at ? [] : [instructForm(id, d)]), el("h3", "Timeline"), timeline, el("h3", "Recordings"), grid);
}
// The report and the events, downloaded with the sign-in's cookie.
function exports(id) {
  const p = el("p");
  p.append(Object.assign(el("a", "Report (JSON)"), { href: `/v1/review/sessions/${id}/report.json`, download: "" }), " · ",
    Object.assign(el("a", "Events (CSV)"), { href: `/v1/review/sessions/${id}/events.csv`, download: "" }));
  return p;
}
// While the session runs: a message, warning, pause or end for the candidate; what reached them
// is on the timeline as proctor.instruction.
function instructForm(id, d) {
  const form = el("form"); form.className = "instruct";
  const kind = el("select");
  for (const k of ["message", "warning", "pause", "terminate"]) kind.append(Object.assign(el("option", k), { value: k }));
  const kindLabel = el("label", "Instruction "); kindLabel.append(kind);
  const text = Object.assign(el("input"), { size: 40, placeholder: "text or reason" });
  const textLabel = el("label", "Text "); textLabel.append(text);
  const delivered = d.events.filter((e) => e.kind === "proctor.instruction").length;
  const status = el("span", `${delivered} delivered so far`);
  status.setAttribute("role", "status");
  form.append(kindLabel, " ", textLabel, " ", el("button", "Send"), " ", status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = kind.value === "terminate" ? { kind: kind.value, reason: text.value }
      : kind.value === "pause" ? { kind: kind.value } : { kind: kind.value, text: text.value };
    try {
      await api(`/v1/review/sessions/${id}/instructions`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      status.textContent = "queued: delivered with the candidate's next heartbeat";
      text.value = "";
    } catch (e) { status.textContent = e.message; }
  });
  return form;
}
// The verdict, with a comment: saved to the server (and its audit log).
function verdictForm(id, d) {
  const form = el("form"); form.className = "verdict";
  const label = el("label", "Verdict ");
  const select = el("select");
  for (const v of ["clear", "suspicious", "violation"]) select.append(Object.assign(el("option", v), { value: v }));
  if (d.verdict) select.value = d.verdict.verdict;
  label.append(select);
  const comment = Object.assign(el("input"), { value: d.verdict ? d.verdict.comment : "", placeholder: "comment", size: 40 });
  const commentLabel = el("label", "Comment "); commentLabel.append(comment);
  const saved = el("span", d.verdict ? `saved by ${d.verdict.author}` : "not reviewed yet");
  saved.setAttribute("role", "status");
  form.append(label, " ", commentLabel, " ", el("button", "Save verdict"), " ", saved);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api(`/v1/review/sessions/${id}/verdict`, { method: "PUT", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ verdict: select.value, comment: comment.value }) });
      saved.textContent = "saved";
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
  $("status").textContent = "Signed out.";
});
fetch("/v1/review/me", { credentials: "same-origin" }).then((r) => (r.ok ? r.json().then(signedIn) : null)).catch(() => {});
