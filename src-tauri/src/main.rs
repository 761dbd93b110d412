//! Vigil desktop app: a thin Tauri shell over the Vigil crates. The candidate's flow (join,
//! consent, check, identity, exam, finish) is in `flow`; the UI in `ui/` calls it over IPC.
//!
//! Started as `vigil-app [vigil://join?server=URL&code=CODE&key=BASE64]`; IT can provision the
//! server and its key in `/etc/vigil/provisioning.toml` (debug builds: or `VIGIL_PROVISIONING`).

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod exam_window;
mod flow;
mod launch;
mod page_reports;

fn main() {
    vigil_spool::private_files();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    // The provisioning file is IT's: only a debug build (development, tests) lets the
    // environment choose another one.
    let provisioning =
        if cfg!(debug_assertions) { std::env::var_os("VIGIL_PROVISIONING").map(Into::into) } else { None };
    let launch = launch::read(&args, provisioning, launch::env_locale());
    let flow = flow::Flow::new(vigil_session::data_dir(None), flow::capture_from_env(), launch);
    let result = tauri::Builder::default()
        .manage(flow)
        .invoke_handler(tauri::generate_handler![
            flow::launch_info,
            flow::server_identity,
            flow::join,
            flow::system_check,
            flow::screen_sharing_asked,
            flow::preview_start,
            flow::preview_frame,
            flow::take_photo,
            flow::confirm_photos,
            flow::start_exam,
            flow::exam_status,
            flow::exam_banner,
            flow::quit_exam,
            flow::finish_exam,
            flow::finish_status,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("vigil-app: cannot start the window: {e}");
        std::process::exit(1);
    }
}
