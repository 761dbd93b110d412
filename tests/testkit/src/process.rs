//! A real process with a chosen executable name: a copy of /bin/sleep under that name.

use crate::Guard;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub struct RenamedProcess {
    pub exe: PathBuf,
    guard: Guard,
    _dir: tempfile::TempDir,
}

impl RenamedProcess {
    /// Copies `/bin/sleep` to a fresh directory as `name` and starts it for `seconds`.
    pub fn start(name: &str, seconds: u32) -> Result<RenamedProcess> {
        let dir = tempfile::Builder::new().prefix("vigil-proc-").tempdir()?;
        let exe = dir.path().join(name);
        std::fs::copy("/bin/sleep", &exe).context("copying /bin/sleep")?;
        let guard = Guard::spawn(
            Command::new(&exe).arg(seconds.to_string()).stdout(Stdio::null()).stderr(Stdio::null()),
            name,
        )?;
        Ok(RenamedProcess { exe, guard, _dir: dir })
    }

    pub fn pid(&self) -> u32 {
        self.guard.pid()
    }
}
