// First screen: run the system check through the app's IPC and list the findings.
"use strict";

const statusEl = document.getElementById("status");
const list = document.getElementById("findings");
const button = document.getElementById("recheck");

function render(report) {
  list.replaceChildren();
  for (const f of report.findings) {
    const li = document.createElement("li");
    li.className = f.verdict;
    for (const [cls, text] of [["verdict", f.verdict], ["title", f.title], ["message", f.message]]) {
      const span = document.createElement("span");
      span.className = cls;
      span.textContent = text;
      li.append(span);
    }
    list.append(li);
  }
  const words = { ok: "Everything is ready.", warn: "Ready, with warnings.", fail: "Some problems need fixing before the exam." };
  statusEl.textContent = words[report.overall] || report.overall;
}

async function check() {
  button.disabled = true;
  statusEl.textContent = "Checking your computer…";
  try {
    render(await window.__TAURI__.core.invoke("system_check"));
  } catch (e) {
    statusEl.textContent = "The check could not run: " + e;
  } finally {
    button.disabled = false;
  }
}

button.addEventListener("click", check);
check();
