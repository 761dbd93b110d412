//! The backend's command line: what it cannot serve is refused with a message, before it
//! touches the session bus or PipeWire. (This test also makes `cargo test --workspace` build the
//! binary that the portal tests of other crates start.)

use std::process::Command;

#[test]
fn bad_arguments_are_refused_with_a_message() {
    for (args, says) in [
        (&[][..], "no --output given"),
        (&["--output", "HEADLESS-1"][..], "--output NAME@X,Y,W,H"),
        (&["--output", "HEADLESS-1@0,0,640"][..], "--output NAME@X,Y,W,H"),
        (&["--output", "HEADLESS-1@0,0,640,480", "--share"][..], "--share N"),
        (&["--output", "HEADLESS-1@0,0,640,480", "--colour"][..], "unknown argument --colour"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_vigil-test-portal"))
            .args(args)
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(says), "{args:?}: {stderr}");
    }
}
