"use strict";
const $ = (id) => document.getElementById(id);
const el = (tag, text) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; return e; };
const token = () => sessionStorage.getItem("vigil-admin") || "";
async function api(path) {
  const r = await fetch(path, { headers: { Authorization: "Bearer " + token() } });
  if (!r.ok) throw new Error(path + ": " + r.status + " " + (await r.text()));
  return r;
}
async function listSessions() {
  $("status").textContent = "Loading sessions…";
  try {
    const { sessions } = await (await api("/v1/review/sessions")).json();
    const table = el("table");
    table.append(Object.assign(el("tr"), { innerHTML: "<th>Candidate</th><th>Exam</th><th>Started</th><th>Finished</th><th>Segments</th><th>Events</th>" }));
    for (const s of sessions) {
      const tr = el("tr");
      const link = Object.assign(el("a", s.candidate), { href: "#" + s.id });
      link.addEventListener("click", () => showSession(s.id));
      const first = el("td"); first.append(link); tr.append(first);
      for (const v of [s.exam_code, s.started_at, s.finished_at || "running", s.segments, s.events]) tr.append(el("td", String(v)));
      table.append(tr);
    }
    $("sessions").replaceChildren(el("h2", "Sessions"), table);
    $("status").textContent = sessions.length + " sessions";
  } catch (e) { $("status").textContent = e.message; $("status").className = "error"; }
}
async function showSession(id) {
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
    const video = el("video"); video.controls = true; video.preload = "none";
    const blob = await (await api(s.download)).blob();
    video.src = URL.createObjectURL(blob);
    fig.append(video, el("figcaption", s.source + " #" + s.sequence + " (" + s.bytes + " bytes, sha256 " + s.sha256.slice(0, 12) + "…)"));
    grid.append(fig);
  }
  $("detail").replaceChildren(el("h2", d.session.candidate + " — " + d.session.exam_code), el("h3", "Timeline"), timeline, el("h3", "Recordings"), grid);
}
$("login").addEventListener("submit", (ev) => { ev.preventDefault(); sessionStorage.setItem("vigil-admin", $("token").value.trim()); listSessions(); });
if (token()) listSessions();
