fn main() {
    // App commands must be listed here so that capabilities can grant them explicitly;
    // nothing is reachable from a webview unless a capability says so.
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(&[
        "launch_info",
        "server_identity",
        "join",
        "system_check",
        "preview_start",
        "preview_frame",
        "take_photo",
        "confirm_photos",
        "start_exam",
        "exam_status",
        "exam_banner",
        "quit_exam",
        "finish_exam",
        "finish_status",
    ])))
    .expect("tauri build script failed");
}
