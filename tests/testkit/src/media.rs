//! Checks on media files Vigil wrote, by Debian's ffmpeg (an independent decoder).

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

/// Decodes every stream of `file` with ffmpeg and fails with ffmpeg's words on any error or
/// warning. It decodes at the file's own time base: at ffmpeg's default (1 / the frame rate), two
/// pictures captured closer than a frame apart (one late under load, the next on time) round to
/// one time and ffmpeg complains of its own output's timestamps, not the file's.
pub fn decodes_cleanly(file: &Path) -> Result<()> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-enc_time_base", "-1", "-f", "null", "-"])
        .output()
        .context("ffmpeg (Debian package ffmpeg)")?;
    if !out.status.success() || !out.stderr.is_empty() {
        bail!("ffmpeg decode of {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}
