//! `cargo bench -p vigil-watch --bench live`: how fast the live watchers notice, and what they
//! cost. Prints figures; asserts nothing.
//!
//! - process start -> `app.prohibited.started` in the spool: 40 starts of a copy of /bin/sleep
//!   named `anydesk`, p50 / p99 / max;
//! - monitor change -> `monitor.rule_broken` / `monitor.rule_ok` in the spool: 20 changes by
//!   SetDesktopSize on TigerVNC (1 <-> 2 monitors), p50 / p99 / max;
//! - CPU of the watchers over 30 s with this machine's processes and 200 extra ones.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vigil_core::ExamPolicy;
use vigil_spool::Spool;
use vigil_testkit::{RenamedProcess, Screen, VncDisplay};
use vigil_watch::live::{Alert, AlertSink, LiveWatchers, WatchRules};

/// Files alerts in a real spool and notes when each arrived.
struct Recorder {
    spool: Spool,
    seen: Mutex<Vec<(Instant, Alert)>>,
}

impl AlertSink for Recorder {
    fn alert(&self, alert: Alert) {
        self.spool.add_event(&alert.event()).unwrap();
        self.seen.lock().unwrap().push((Instant::now(), alert));
    }
}

fn wait_for(rec: &Recorder, after: usize, pred: impl Fn(&Alert) -> bool) -> Option<Instant> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some((t, _)) = rec.seen.lock().unwrap().iter().skip(after).find(|(_, a)| pred(a)) {
            return Some(*t);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

fn report(what: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.total_cmp(b));
    let p = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    println!("{what:<42} n={:<3} p50 {:>6.0} ms  p99 {:>6.0} ms  max {:>6.0} ms", ms.len(), p(0.5), p(0.99), p(1.0));
}

fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}

fn main() {
    const ONE: Screen = Screen::new(0, 0, 1920, 1080);
    const TWO: Screen = Screen::new(1920, 0, 1920, 1080);
    let vnc = VncDisplay::start(&[ONE]).expect("TigerVNC");
    std::env::set_var("DISPLAY", &vnc.display);
    let dir = tempfile::tempdir().unwrap();
    let rec = Arc::new(Recorder { spool: Spool::open(dir.path()).unwrap(), seen: Mutex::new(Vec::new()) });
    let mut policy = ExamPolicy::default();
    policy.applications.allowed.push("vnc-server".into()); // the bench's own display
    let compiled = vigil_core::CompiledPolicy::compile(policy, vigil_core::apps::Os::current(), None).unwrap();
    let rules = WatchRules::from_policy(&Arc::new(compiled));
    let poll = rules.poll;
    let _watchers = LiveWatchers::start(rules, rec.clone());
    std::thread::sleep(Duration::from_secs(1));
    println!(
        "watchers poll every {} ms; {} processes running",
        poll.as_millis(),
        std::fs::read_dir("/proc")
            .unwrap()
            .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok()))
            .count()
    );

    let mut starts = Vec::new();
    for i in 0..40 {
        let after = rec.seen.lock().unwrap().len();
        let t0 = Instant::now();
        let p = RenamedProcess::start("anydesk", 30).unwrap();
        let pid = p.pid();
        match wait_for(&rec, after, |a| a.kind == "app.prohibited.started" && a.data["pid"] == pid) {
            Some(t) => starts.push(t.duration_since(t0).as_secs_f64() * 1000.0),
            None => println!("start {i}: no event within 10 s"),
        }
        drop(p);
        std::thread::sleep(Duration::from_millis(37 + (i * 13) % 200)); // not in step with the poll
    }
    report("process start -> event in the spool", starts);

    let mut changes = Vec::new();
    for i in 0..20 {
        let after = rec.seen.lock().unwrap().len();
        let (screens, kind): (&[Screen], &str) =
            if i % 2 == 0 { (&[ONE, TWO], "monitor.rule_broken") } else { (&[ONE], "monitor.rule_ok") };
        let t0 = Instant::now();
        vnc.set_screens(screens).unwrap();
        match wait_for(&rec, after, |a| a.kind == kind) {
            Some(t) => changes.push(t.duration_since(t0).as_secs_f64() * 1000.0),
            None => println!("change {i}: no {kind} within 10 s"),
        }
        std::thread::sleep(Duration::from_millis(150 + (i * 71) % 400));
    }
    report("monitor change -> event in the spool", changes);

    // Cost: 200 more processes, nothing else running in this process but the watchers.
    let mut extra: Vec<_> =
        (0..200).map(|_| Command::new("sleep").arg("60").stdout(Stdio::null()).spawn().unwrap()).collect();
    std::thread::sleep(Duration::from_secs(1));
    let (cpu0, t0) = (process_cpu_seconds(), Instant::now());
    std::thread::sleep(Duration::from_secs(30));
    let (cpu, wall) = (process_cpu_seconds() - cpu0, t0.elapsed().as_secs_f64());
    println!(
        "watchers' CPU over {wall:.0} s with {} more processes: {:.2}% of one core ({:.3} CPU s)",
        extra.len(),
        cpu / wall * 100.0,
        cpu
    );
    for c in &mut extra {
        let _ = c.kill();
        let _ = c.wait();
    }
}
