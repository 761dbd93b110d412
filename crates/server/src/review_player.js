"use strict";
// One player for a whole session: the camera (with its sound) and every screen, each a <video> fed
// through Media Source Extensions from the session's fragmented MP4 segments, all driven by one
// clock. Only the segments around the position are fetched, and the ones far from it are dropped
// again, so a two-hour session costs what a minute does.
//
// Time is seconds on the session's clock: 0 is the moment the server admitted the candidate (or
// the earliest recording, if the candidate's clock ran behind the server's).

const AHEAD_S = 20; // fetched ahead of the position
const BEHIND_S = 2; // fetched behind it (a seek lands inside a segment)
const KEEP_S = 40; // kept on either side before being dropped
const DRIFT_S = 0.35; // a track further than this from the clock is moved back onto it
const GAP_S = 0.5; // a hole this small between two segments is stepped over

/// The codecs an MP4's init segment declares: `avc1.PPCCLL` from its avcC box, `opus` if it has
/// an Opus track. Only the `moov` box is read, never the media data.
function codecsOf(buffer) {
  const u8 = new Uint8Array(buffer);
  const view = new DataView(buffer);
  const fourcc = (i) => String.fromCharCode(u8[i], u8[i + 1], u8[i + 2], u8[i + 3]);
  let moov = null;
  for (let at = 0; at + 8 <= u8.length;) {
    const size = view.getUint32(at);
    if (fourcc(at + 4) === "moov") { moov = [at, Math.min(u8.length, at + size)]; break; }
    if (size < 8) break;
    at += size;
  }
  if (!moov) throw new Error("not a fragmented MP4: no moov box");
  const codecs = [];
  const hex = (n) => n.toString(16).padStart(2, "0");
  for (let i = moov[0]; i + 8 <= moov[1]; i++) {
    const box = fourcc(i);
    if (box === "avcC" && !codecs.some((c) => c.startsWith("avc1"))) codecs.push("avc1." + hex(u8[i + 5]) + hex(u8[i + 6]) + hex(u8[i + 7]));
    if (box === "Opus" && !codecs.includes("opus")) codecs.push("opus");
  }
  return codecs;
}

/// One source's recording: its segments (start and end on the session clock), a <video> and the
/// MediaSource behind it.
class Track {
  constructor(source, segments, duration, fetchBytes) {
    this.source = source;
    this.segments = segments.sort((a, b) => a.start - b.start);
    this.duration = duration;
    this.fetchBytes = fetchBytes;
    this.appended = new Set();
    this.failed = new Map(); // segment -> why it cannot be shown; not fetched again
    this.video = document.createElement("video");
    this.video.muted = source !== "camera"; // the sound is the camera track's
    this.video.dataset.source = source;
    this.mediaSource = new MediaSource();
    this.opened = new Promise((resolve) => this.mediaSource.addEventListener("sourceopen", resolve, { once: true }));
    this.video.src = URL.createObjectURL(this.mediaSource);
  }

  /// Why the moment `t` cannot be shown (its segment failed, or the track did), or "".
  errorAt(t) {
    const s = this.segments.find((x) => x.start <= t && t < x.end && this.failed.has(x));
    return s ? this.failed.get(s) : this.failed.get(null) || "";
  }

  /// Whether a segment of this source covers `t`.
  covers(t) {
    return this.segments.some((s) => s.start <= t && t < s.end);
  }

  /// Where the video can show `t`: `t` itself, the start of a buffered range just after it (a
  /// hole between two segments), or null.
  playableAt(t) {
    const b = this.video.buffered;
    for (let i = 0; i < b.length; i++) {
      if (b.start(i) <= t && t < b.end(i)) return t;
      if (t < b.start(i) && b.start(i) - t <= GAP_S) return b.start(i);
    }
    return null;
  }

  /// Fetches and appends the segments around `t`, nearest first, and drops the far ones. A call
  /// while one runs is remembered; `urgent` (a seek) makes the running one give way.
  async fill(t, urgent = false) {
    if (this.running) {
      this.next = t;
      if (urgent) this.interrupted = true;
      return;
    }
    this.running = true;
    try {
      await this.opened;
      const distance = (s) => (s.end <= t ? 1000 + t - s.end : Math.max(0, s.start - t));
      const wanted = this.segments.filter((s) => s.end > t - BEHIND_S && s.start < t + AHEAD_S).sort((a, b) => distance(a) - distance(b));
      for (const s of wanted) {
        if (this.interrupted) break;
        if (this.appended.has(s) || this.failed.has(s)) continue;
        try {
          const bytes = await this.fetchBytes(s.download);
          if (!this.buffer) {
            this.buffer = this.mediaSource.addSourceBuffer(`video/mp4; codecs="${codecsOf(bytes).join(", ")}"`);
            this.mediaSource.duration = this.duration;
          }
          // A segment's own timestamps start at 0: it is placed at its start on the session clock.
          this.buffer.timestampOffset = s.start;
          await this.whenDone(() => this.buffer.appendBuffer(bytes));
          this.appended.add(s);
        } catch (e) {
          this.failed.set(s, e.message || String(e));
        }
      }
      await this.drop(t);
    } catch (e) {
      this.failed.set(null, e.message || String(e));
    } finally {
      this.running = false;
      this.interrupted = false;
    }
    if (this.next !== undefined) {
      const next = this.next;
      this.next = undefined;
      await this.fill(next);
    }
  }

  /// Drops the appended segments far from `t`, as whole ranges before and after the kept ones (a
  /// cut inside a kept segment would take its key frame and the frames that need it).
  async drop(t) {
    if (!this.buffer) return;
    const kept = [...this.appended].filter((s) => s.end > t - KEEP_S && s.start < t + KEEP_S);
    if (kept.length === this.appended.size) return;
    if (kept.length === 0) {
      await this.whenDone(() => this.buffer.remove(0, this.duration));
    } else {
      const from = Math.min(...kept.map((s) => s.start));
      const to = Math.max(...kept.map((s) => s.end));
      if ([...this.appended].some((s) => s.start < from)) await this.whenDone(() => this.buffer.remove(0, from));
      if ([...this.appended].some((s) => s.end > to)) await this.whenDone(() => this.buffer.remove(to, this.duration));
    }
    this.appended = new Set(kept);
  }

  whenDone(start) {
    return new Promise((resolve, reject) => {
      const done = () => { this.buffer.removeEventListener("error", failed); resolve(); };
      const failed = () => { this.buffer.removeEventListener("updateend", done); reject(new Error(`${this.source}: the browser could not decode a segment`)); };
      this.buffer.addEventListener("updateend", done, { once: true });
      this.buffer.addEventListener("error", failed, { once: true });
      start();
    });
  }

  close() {
    this.video.pause();
    URL.revokeObjectURL(this.video.src);
    this.video.removeAttribute("src");
    this.video.load();
  }
}

/// Places each segment on the session clock. Segments of one recorder run share its clock
/// (`start_ms`), which is exact; the wall clock (`offset_ms`) only anchors each run.
function placeSegments(segments) {
  const dated = segments.filter((s) => typeof s.offset_ms === "number" && typeof s.duration_ms === "number" && s.duration_ms > 0);
  dated.sort((a, b) => a.offset_ms - b.offset_ms);
  const anchors = [];
  for (const s of dated) {
    const raw = s.offset_ms - (s.start_ms ?? 0);
    let anchor = anchors.find((a) => Math.abs(a - raw) < 1000);
    if (anchor === undefined) { anchor = raw; anchors.push(anchor); }
    s.at_ms = anchor + (s.start_ms ?? 0);
  }
  const origin = Math.min(0, ...dated.map((s) => s.at_ms));
  return {
    origin,
    placed: dated.map((s) => ({ source: s.source, download: s.download, start: (s.at_ms - origin) / 1000, end: (s.at_ms - origin + s.duration_ms) / 1000 })),
  };
}

/// Seconds as m:ss or h:mm:ss.
function clock(t) {
  const s = Math.max(0, Math.floor(t));
  const two = (n) => String(n).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}` : `${Math.floor(s / 60)}:${two(s % 60)}`;
}

/// The player: tracks side by side (click one to make it large), play/pause, a seek bar and the
/// time. `labels` holds the translated words it shows.
class SessionPlayer {
  constructor(segments, fetchBytes, labels) {
    const { origin, placed } = placeSegments(segments.filter((s) => !isPicture(s)));
    this.origin = origin; // ms on the session clock of the player's 0
    this.labels = labels;
    this.duration = Math.max(1, ...placed.map((s) => s.end));
    const sources = [...new Set(placed.map((s) => s.source))].sort((a, b) => (a === "camera" ? -1 : b === "camera" ? 1 : a.localeCompare(b, "en", { numeric: true })));
    this.tracks = sources.map((src) => new Track(src, placed.filter((s) => s.source === src), this.duration, fetchBytes));
    this.t = 0;
    this.playing = false;
    this.element = this.render();
    this.last = performance.now();
    this.timer = setInterval(() => this.tick(), 200);
    // The first recorded moment: the join and the check come before any recording.
    this.seek(Math.min(this.duration, ...placed.map((s) => s.start)));
  }

  render() {
    const root = document.createElement("section");
    root.className = "player";
    root.setAttribute("aria-label", this.labels.player);
    const stage = document.createElement("div");
    stage.className = "stage";
    for (const tr of this.tracks) {
      const fig = document.createElement("figure");
      const state = document.createElement("span");
      state.className = "track-state";
      const caption = document.createElement("figcaption");
      caption.append(tr.source, " ", state);
      tr.video.setAttribute("aria-label", tr.source);
      tr.stateElement = state;
      // A click makes a track the large one; the others stay small beside it.
      tr.video.addEventListener("click", () => {
        for (const f of stage.children) f.classList.toggle("large", f === fig && !f.classList.contains("large"));
      });
      fig.append(tr.video, caption);
      stage.append(fig);
    }
    const controls = document.createElement("div");
    controls.className = "controls";
    this.playButton = document.createElement("button");
    this.playButton.type = "button";
    this.playButton.textContent = this.labels.play;
    this.playButton.addEventListener("click", () => (this.playing ? this.pause() : this.play()));
    this.bar = Object.assign(document.createElement("input"), { type: "range", min: 0, max: this.duration, step: 0.1, value: 0 });
    this.bar.setAttribute("aria-label", this.labels.position);
    this.bar.addEventListener("input", () => this.seek(Number(this.bar.value)));
    this.time = document.createElement("output");
    controls.append(this.playButton, this.bar, this.time);
    root.append(stage, controls);
    if (this.tracks.length === 0) root.append(Object.assign(document.createElement("p"), { textContent: this.labels.no_recording }));
    return root;
  }

  play() {
    this.playing = true;
    this.playButton.textContent = this.labels.pause;
  }

  pause() {
    this.playing = false;
    this.playButton.textContent = this.labels.play;
    for (const tr of this.tracks) tr.video.pause();
  }

  /// Moves every track to `t` (seconds on the player's clock).
  seek(t) {
    this.t = Math.min(Math.max(0, t), this.duration);
    for (const tr of this.tracks) {
      tr.fill(this.t, true);
      tr.video.currentTime = this.t;
    }
    this.show();
  }

  /// Moves to a moment given in ms from the session's start (an event, a note).
  seekToOffset(offsetMs) {
    this.seek((offsetMs - this.origin) / 1000);
  }

  /// The position as ms from the session's start (for a note).
  offsetMs() {
    return Math.max(0, Math.round(this.t * 1000 + this.origin));
  }

  tick() {
    if (!this.element.isConnected) return this.close(); // another session is shown
    const now = performance.now();
    const elapsed = (now - this.last) / 1000;
    this.last = now;
    // The clock waits while a track that recorded this moment is still loading it.
    let waiting = false;
    for (const tr of this.tracks) {
      tr.fill(this.t);
      const at = tr.playableAt(this.t);
      const recorded = tr.covers(this.t);
      if (recorded && at === null && !tr.errorAt(this.t)) waiting = true;
      tr.stateElement.textContent = tr.errorAt(this.t) || (!recorded ? this.labels.not_recorded : at === null ? this.labels.loading : "");
      if (at === null) {
        if (!tr.video.paused) tr.video.pause();
        continue;
      }
      if (Math.abs(tr.video.currentTime - at) > DRIFT_S) tr.video.currentTime = at;
      if (this.playing && tr.video.paused) tr.video.play().catch(() => {});
      if (!this.playing && !tr.video.paused) tr.video.pause();
    }
    if (this.playing && !waiting) this.t = Math.min(this.duration, this.t + elapsed);
    if (this.t >= this.duration) this.pause();
    this.show();
  }

  show() {
    if (document.activeElement !== this.bar) this.bar.value = this.t;
    this.time.textContent = `${clock(this.t)} / ${clock(this.duration)}`;
  }

  close() {
    clearInterval(this.timer);
    for (const tr of this.tracks) tr.close();
  }
}

/// Identity photos and flags' evidence are single pictures, not video.
function isPicture(segment) {
  return segment.source.startsWith("identity-") || segment.source.startsWith("evidence-");
}

window.VigilPlayer = { SessionPlayer, clock, isPicture };
