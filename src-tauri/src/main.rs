//! Vigil desktop app: a thin Tauri shell over the Vigil crates. This first screen runs the system
//! check through the same code as `vigil check` and shows its findings.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::path::PathBuf;
use vigil_core::{ExamPolicy, Report};
use vigil_watch::CheckOptions;

/// Runs the system check with the built-in policy (the candidate flow brings the exam's own).
#[tauri::command]
async fn system_check() -> Result<Report, String> {
    tauri::async_runtime::spawn_blocking(|| {
        let started = std::time::Instant::now();
        let opts = CheckOptions { policy: ExamPolicy::default(), data_dir: data_dir(), server: None };
        let facts = vigil_watch::gather(&opts);
        Report::new(facts, &opts.policy, "built-in", started.elapsed().as_millis() as u64)
    })
    .await
    .map_err(|e| format!("the system check stopped unexpectedly: {e}"))
}

fn data_dir() -> PathBuf {
    std::env::var_os("VIGIL_DATA_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/vigil")))
        .unwrap_or_else(|| PathBuf::from(".vigil"))
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let result = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![system_check])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("vigil-app: cannot start the window: {e}");
        std::process::exit(1);
    }
}
