//! `cargo bench -p vigil-cli --bench check`: how long `vigil check` takes, and one scan of all
//! processes against the prohibited-application list. Prints figures; asserts nothing.
//!
//! To look like a desktop, it runs under its own Xvfb display and with 300 extra processes.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vigil_core::apps::{AppMatcher, Os};
use vigil_core::ExamPolicy;
use vigil_testkit::{Guard, XvfbDisplay};

fn stats(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    println!(
        "{name:<40} n={:<4} min {:>8.2} ms  median {:>8.2} ms  p95 {:>8.2} ms  max {:>8.2} ms",
        samples.len(),
        ms(samples[0]),
        ms(pct(0.5)),
        ms(pct(0.95)),
        ms(*samples.last().unwrap())
    );
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Vec<Duration> {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect()
}

fn main() {
    let x = XvfbDisplay::start(1920, 1080).expect("Xvfb for the benchmark");
    // SAFETY of set_var: single-threaded at this point; the sensors below read DISPLAY.
    unsafe { std::env::set_var("DISPLAY", &x.display) };
    let extra: Vec<Guard> = (0..300)
        .map(|_| Guard::spawn(Command::new("sleep").arg("120").stdout(Stdio::null()), "sleep").unwrap())
        .collect();
    let data = tempfile::tempdir().unwrap();

    let cli = time(20, || {
        let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args(["check", "--json", "--data-dir"])
            .arg(data.path())
            .env("DISPLAY", &x.display)
            .output()
            .unwrap();
        assert!(
            out.status.code().is_some_and(|c| c <= 2),
            "vigil check failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    println!("processes running: {}", vigil_watch::processes::snapshot().map(|s| s.len()).unwrap_or(0));
    stats("vigil check (whole command, no mic probe)", cli);

    let matcher = AppMatcher::new(ExamPolicy::default().prohibited_apps(Os::current())).unwrap();
    stats(
        "process scan (snapshot + match)",
        time(50, || {
            let snap = vigil_watch::processes::snapshot().unwrap();
            vigil_watch::processes::scan(&snap, &matcher)
        }),
    );
    let snap = vigil_watch::processes::snapshot().unwrap();
    stats("  match only (list of rules vs snapshot)", time(200, || vigil_watch::processes::scan(&snap, &matcher)));
    stats("monitors (display-info + xcap)", time(20, vigil_watch::displays::monitors));
    stats("cameras (nokhwa)", time(20, vigil_watch::devices::cameras));
    stats("microphones (cpal)", time(20, vigil_watch::devices::microphones));
    stats("virtual machine detection", time(20, vigil_watch::vm::detect));
    stats("system facts", time(20, || vigil_watch::system::facts(data.path())));
    drop(extra);
}
