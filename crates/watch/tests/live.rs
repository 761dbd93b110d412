//! The live watchers against real processes: a prohibited application started while they run is
//! reported as started, with the policy's action (close: Vigil ends it), and reported again when
//! it is gone; one already running is reported as running; allowed ones are not reported.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vigil_core::apps::Os;
use vigil_core::lockdown::AppAction;
use vigil_core::{CompiledPolicy, ExamPolicy};
use vigil_testkit::RenamedProcess;
use vigil_watch::live::{Alert, AlertSink, LiveWatchers, WatchRules};

/// The watchers see every process on the machine: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

#[derive(Default)]
struct Collect(Mutex<Vec<Alert>>);

impl AlertSink for Collect {
    fn alert(&self, alert: Alert) {
        self.0.lock().unwrap().push(alert);
    }
}

impl Collect {
    fn wait(&self, what: &str, pred: impl Fn(&Alert) -> bool) -> Alert {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(a) = self.0.lock().unwrap().iter().find(|a| pred(a)) {
                return a.clone();
            }
            assert!(Instant::now() < deadline, "no {what} alert; got {:?}", self.0.lock().unwrap());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn rules(action: AppAction) -> WatchRules {
    let mut policy = ExamPolicy::default();
    policy.lockdown.prohibited_app_action = action;
    policy.requirements.max_monitors = 16; // monitors are not what this test is about
    policy.requirements.min_monitors = 0;
    let compiled = CompiledPolicy::compile(policy, Os::current(), None).unwrap();
    WatchRules::from_policy(&Arc::new(compiled))
}

#[test]
fn a_running_one_is_reported_and_a_started_one_is_closed_per_policy() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let already = RenamedProcess::start("anydesk", 60).unwrap();
    let sink = Arc::new(Collect::default());
    let _w = LiveWatchers::start(rules(AppAction::Close), sink.clone());
    let running = sink.wait("running", |a| a.kind == "app.prohibited.running" && a.data["pid"] == already.pid());
    assert_eq!(running.data["app_id"], "anydesk");

    let started = RenamedProcess::start("TeamViewer", 60).unwrap();
    let pid = started.pid();
    sink.wait("started", |a| a.kind == "app.prohibited.started" && a.data["pid"] == pid);
    let closed = sink.wait("closed", |a| a.kind == "app.prohibited.closed" && a.data["pid"] == pid);
    assert_eq!(closed.data["signal_sent"], true);
    // Vigil's SIGTERM ended it: the watcher sees it go.
    sink.wait("exited", |a| a.kind == "app.prohibited.exited" && a.data["pid"] == pid);
    let unlisted = RenamedProcess::start("harmless-tool", 60).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        !sink.0.lock().unwrap().iter().any(|a| a.data["pid"] == unlisted.pid()),
        "an unlisted program was reported"
    );
}

#[test]
fn require_close_blocks_until_the_application_is_gone() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let sink = Arc::new(Collect::default());
    let _w = LiveWatchers::start(rules(AppAction::RequireClose), sink.clone());
    std::thread::sleep(Duration::from_millis(400));
    let app = RenamedProcess::start("anydesk", 60).unwrap();
    let pid = app.pid();
    let started = sink.wait("started", |a| a.kind == "app.prohibited.started" && a.data["pid"] == pid);
    assert!(started.blocking && started.active);
    assert!(
        !sink.0.lock().unwrap().iter().any(|a| a.kind == "app.prohibited.closed"),
        "require_close must not kill it"
    );
    drop(app);
    let gone = sink.wait("exited", |a| a.kind == "app.prohibited.exited" && a.data["pid"] == pid);
    assert!(!gone.active);
}
