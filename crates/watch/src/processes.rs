//! Running processes, and which of them are prohibited applications. Matching uses the full
//! executable path and file name (`/proc/PID/exe`), not only the kernel's 15-character name.

use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};
use vigil_core::apps::AppMatcher;
use vigil_core::facts::{AssistiveProcess, ProcessMatch, ProcessScan};

/// One running process.
#[derive(Debug, Clone)]
pub struct ProcessInfo {
    pub pid: u32,
    /// The kernel's process name (truncated to 15 characters on Linux).
    pub name: String,
    /// The executable path, when this user may read it.
    pub exe: Option<String>,
    pub cmd: Vec<String>,
}

/// The process list could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot list processes: {0}")]
pub struct ProcessListError(pub String);

impl ProcessListError {
    /// The stable machine code: `watch.processes`.
    pub fn code(&self) -> &'static str {
        "watch.processes"
    }
}

/// All processes right now.
pub fn snapshot() -> Result<Vec<ProcessInfo>, ProcessListError> {
    let mut sys = System::new().map_err(|e| ProcessListError(e.to_string()))?;
    let kind = ProcessRefreshKind::nothing().with_exe(UpdateKind::Always).with_cmd(UpdateKind::Always);
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    let mut list: Vec<ProcessInfo> = sys
        .processes()
        .values()
        // Threads show up as tasks of their process on Linux; only processes count.
        .filter(|p| p.thread_kind().is_none())
        .map(|p| ProcessInfo {
            pid: p.pid().as_u32(),
            name: p.name().to_string_lossy().into_owned(),
            exe: p.exe().filter(|e| !e.as_os_str().is_empty()).map(|e| e.display().to_string()),
            cmd: p.cmd().iter().map(|a| a.to_string_lossy().into_owned()).collect(),
        })
        .collect();
    list.sort_by_key(|p| p.pid);
    Ok(list)
}

/// The processes in `snapshot` that `matcher` prohibits.
pub fn scan(snapshot: &[ProcessInfo], matcher: &AppMatcher) -> ProcessScan {
    let own_pid = std::process::id();
    let prohibited = snapshot
        .iter()
        .filter(|p| p.pid != own_pid)
        .filter_map(|p| {
            let (rule, matched_by) = matcher.find(p.exe.as_deref(), &p.name)?;
            Some(ProcessMatch {
                pid: p.pid,
                process_name: p.name.clone(),
                exe: p.exe.clone(),
                app_id: rule.id.clone(),
                app_name: rule.name.clone(),
                category: rule.category,
                matched_by,
            })
        })
        .collect();
    let assistive = snapshot
        .iter()
        .filter_map(|p| {
            let name = vigil_core::apps::assistive_technology(p.exe.as_deref(), &p.name)?;
            Some(AssistiveProcess { pid: p.pid, name: name.to_owned() })
        })
        .collect();
    ProcessScan { scanned: snapshot.len(), prohibited, assistive, error: None }
}
