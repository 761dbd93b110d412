//! Flags and the hysteresis that makes them: a condition must hold for `on_ms` before a flag
//! starts (it then starts where the condition started), and must be gone for `off_ms` before it
//! ends (it then ends where the condition stopped).

use serde::Serialize;

/// One flag: what, when, how sure, and how it counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flag {
    /// `speech`, ...
    pub kind: &'static str,
    pub start_ms: u64,
    pub end_ms: u64,
    /// The highest confidence seen while it lasted (0-1).
    pub peak: f32,
    /// `warning`, or `info` when an accommodation applies.
    pub severity: &'static str,
    /// The accommodation that makes it a note (`screen_reader`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accommodation: Option<&'static str>,
}

/// How long a condition must hold, and be gone, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hysteresis {
    pub on_ms: u64,
    pub off_ms: u64,
}

/// A flag opening (live: it has held `on_ms`; it starts where the condition started) or closing.
#[derive(Debug, Clone, PartialEq)]
pub enum Edge {
    Open { kind: &'static str, start_ms: u64 },
    Close(Flag),
}

impl Edge {
    /// The same edge on a clock `by_ms` ahead (a detector's clock placed on the recording's).
    pub fn shifted(self, by_ms: u64) -> Edge {
        match self {
            Edge::Open { kind, start_ms } => Edge::Open { kind, start_ms: start_ms + by_ms },
            Edge::Close(f) => Edge::Close(Flag { start_ms: f.start_ms + by_ms, end_ms: f.end_ms + by_ms, ..f }),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Edge::Open { kind, .. } => kind,
            Edge::Close(f) => f.kind,
        }
    }
}

/// Turns a stream of (time, active, confidence) observations into flags.
#[derive(Debug)]
pub struct FlagTracker {
    kind: &'static str,
    h: Hysteresis,
    /// Since when the condition holds (not yet a flag, or a flag).
    since: Option<u64>,
    /// The last time it held.
    last_on: u64,
    peak: f32,
    flagged: bool,
}

impl FlagTracker {
    pub fn new(kind: &'static str, h: Hysteresis) -> FlagTracker {
        FlagTracker { kind, h, since: None, last_on: 0, peak: 0.0, flagged: false }
    }

    /// One observation at `t_ms` (in order); a flag that just ended, if any.
    pub fn observe(&mut self, t_ms: u64, active: bool, confidence: f32) -> Option<Flag> {
        match self.step(t_ms, active, confidence) {
            Some(Edge::Close(flag)) => Some(flag),
            _ => None,
        }
    }

    /// One observation at `t_ms` (in order), for live use: the flag opening or closing, if any.
    pub fn step(&mut self, t_ms: u64, active: bool, confidence: f32) -> Option<Edge> {
        if active {
            let since = *self.since.get_or_insert(t_ms);
            self.last_on = t_ms;
            self.peak = self.peak.max(confidence);
            if !self.flagged && t_ms - since >= self.h.on_ms {
                self.flagged = true;
                return Some(Edge::Open { kind: self.kind, start_ms: since });
            }
            return None;
        }
        let since = self.since?;
        if t_ms - self.last_on < self.h.off_ms {
            return None;
        }
        // Gone long enough: a flag ends where the condition stopped; a blip leaves nothing.
        let flag = self.flagged.then(|| self.flag(since, self.last_on));
        self.since = None;
        self.peak = 0.0;
        self.flagged = false;
        flag.map(Edge::Close)
    }

    /// The end of the input at `t_ms`: a flag still open ends there.
    pub fn finish(&mut self, t_ms: u64) -> Option<Flag> {
        let since = self.since.take()?;
        let flag = (self.flagged || t_ms.saturating_sub(since) >= self.h.on_ms).then(|| self.flag(since, self.last_on));
        self.peak = 0.0;
        self.flagged = false;
        flag
    }

    /// Whether a flag is open now (for a live prompt to the candidate).
    pub fn is_flagged(&self) -> bool {
        self.flagged
    }

    fn flag(&self, start_ms: u64, end_ms: u64) -> Flag {
        Flag { kind: self.kind, start_ms, end_ms, peak: self.peak, severity: "warning", accommodation: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: Hysteresis = Hysteresis { on_ms: 1000, off_ms: 1500 };

    /// Observations every 100 ms from `spans` of (from, to) in ms being active, until `end`.
    fn run(spans: &[(u64, u64)], end: u64) -> Vec<Flag> {
        let mut t = FlagTracker::new("speech", H);
        let mut out = Vec::new();
        for ms in (0..end).step_by(100) {
            let on = spans.iter().any(|(a, b)| (*a..*b).contains(&ms));
            out.extend(t.observe(ms, on, if on { 0.9 } else { 0.1 }));
        }
        out.extend(t.finish(end));
        out
    }

    #[test]
    fn a_blip_is_not_a_flag_and_a_short_gap_does_not_split_one() {
        assert_eq!(run(&[(2000, 2500)], 10_000), []);
        let flags = run(&[(2000, 4000), (4800, 7000)], 12_000);
        assert_eq!(flags.len(), 1, "{flags:?}");
        assert_eq!((flags[0].start_ms, flags[0].end_ms), (2000, 6900));
        assert_eq!(flags[0].peak, 0.9);
        let two = run(&[(1000, 3000), (6000, 8000)], 12_000);
        assert_eq!(two.iter().map(|f| (f.start_ms, f.end_ms)).collect::<Vec<_>>(), [(1000, 2900), (6000, 7900)]);
    }

    #[test]
    fn a_flag_open_at_the_end_is_closed_there() {
        let flags = run(&[(3000, 99_000)], 8000);
        assert_eq!((flags[0].start_ms, flags[0].end_ms), (3000, 7900));
    }
}
