fn main() {
    // App commands must be listed here so that capabilities can grant them explicitly;
    // nothing is reachable from a webview unless a capability says so.
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(&["system_check"])),
    )
    .expect("tauri build script failed");
}
