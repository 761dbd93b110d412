//! Vigil's sensors: what the machine is and what runs on it. Each module observes one thing and
//! returns plain facts (`vigil_core::facts`); no sensor ever panics on what it finds, a failure
//! becomes an `error` in the facts.

pub mod desktop;
pub mod devices;
pub mod displays;
pub mod hidden;
pub mod hiding_rules;
pub mod live;
pub mod network;
pub mod processes;
pub mod remote;
pub mod system;
pub mod vm;
pub mod wayland_outputs;

use std::path::PathBuf;
use vigil_core::apps::{AppMatcher, Os};
use vigil_core::facts::{Facts, ProcessScan};
use vigil_core::ExamPolicy;

/// What a system check should look at.
pub struct CheckOptions {
    pub policy: ExamPolicy,
    /// Where Vigil keeps its data; free space is measured there.
    pub data_dir: PathBuf,
    /// Probe this backend URL for reachability, latency and TLS.
    pub server: Option<String>,
}

/// Gathers every fact a system check needs, running the slow sensors in parallel.
/// (The microphone level probe lives in `vigil-capture`; the caller adds it.)
pub fn gather(opts: &CheckOptions) -> Facts {
    let (system, monitors, cameras, microphones, snapshot, backend, capture_signals) = std::thread::scope(|s| {
        let monitors = s.spawn(displays::monitors);
        let cameras = s.spawn(devices::cameras);
        let microphones = s.spawn(devices::microphones);
        let snapshot = s.spawn(processes::snapshot);
        let backend = opts.server.as_deref().map(|url| s.spawn(move || network::probe_backend(url)));
        let signals = s.spawn(hidden::signals);
        let system = system::facts(&opts.data_dir);
        (
            system,
            monitors.join().unwrap_or_default(),
            cameras.join().unwrap_or_default(),
            microphones.join().unwrap_or_default(),
            snapshot.join().unwrap_or_else(|_| Err(processes::ProcessListError("the process sensor panicked".into()))),
            backend.map(|b| b.join().unwrap_or_default()),
            signals.join().unwrap_or_default(),
        )
    });

    let (processes, snapshot) = match (snapshot, AppMatcher::new(opts.policy.prohibited_apps(Os::current()))) {
        (Ok(snap), Ok(matcher)) => (processes::scan(&snap, &matcher), snap),
        (Err(e), _) => (ProcessScan { error: Some(e.to_string()), ..Default::default() }, Vec::new()),
        (_, Err(e)) => (ProcessScan { error: Some(e.to_string()), ..Default::default() }, Vec::new()),
    };
    let remote_session = remote::detect(&snapshot, &processes.prohibited);
    let desktop = desktop::facts(&snapshot);
    Facts {
        system,
        monitors,
        cameras,
        microphones,
        microphone_level: None,
        screen_capture: None,
        processes,
        capture_signals,
        virtual_machine: vm::detect(),
        remote_session,
        desktop,
        backend,
    }
}
