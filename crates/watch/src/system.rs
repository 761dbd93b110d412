//! OS, CPU, memory, free disk space where Vigil keeps its data, and private IP addresses.

use std::path::Path;
use sysinfo::{CpuRefreshKind, Disks, MemoryRefreshKind, Networks, RefreshKind, System};
use vigil_core::facts::SystemFacts;

const MIB: u64 = 1024 * 1024;

pub fn facts(data_dir: &Path) -> SystemFacts {
    let kind =
        RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram()).with_cpu(CpuRefreshKind::nothing());
    let sys = System::new_with_specifics(kind).ok();
    let cpus = sys.as_ref().map(|s| s.cpus()).unwrap_or_default();
    SystemFacts {
        os: System::name().unwrap_or_else(|_| std::env::consts::OS.to_owned()),
        os_version: System::os_version().unwrap_or_default(),
        kernel: System::kernel_version().unwrap_or_default(),
        arch: System::cpu_arch(),
        cpu_brand: cpus.first().map(|c| c.brand().trim().to_owned()).unwrap_or_default(),
        cpu_logical_cores: cpus.len(),
        cpu_physical_cores: System::physical_core_count().ok(),
        memory_total_mib: sys.as_ref().map_or(0, |s| s.total_memory() / MIB),
        memory_available_mib: sys.as_ref().map_or(0, |s| s.available_memory() / MIB),
        data_dir: data_dir.display().to_string(),
        disk_free_mib: free_space(data_dir).map(|b| b / MIB),
        local_ips: local_ips(),
    }
}

/// Free bytes on the file system that holds `dir`, or its nearest existing ancestor
/// (the data directory may not exist before the first session).
pub fn free_space(dir: &Path) -> Option<u64> {
    let dir = dir.ancestors().find(|p| p.exists())?.canonicalize().ok()?;
    let disks = Disks::new_with_refreshed_list().ok()?;
    disks
        .iter()
        .filter(|d| dir.starts_with(d.mount_point()))
        .max_by_key(|d| d.mount_point().as_os_str().len())
        .map(|d| d.available_space())
}

/// Private (RFC 1918 / unique-local / link-local) addresses of this machine's interfaces.
pub fn local_ips() -> Vec<String> {
    let Ok(networks) = Networks::new_with_refreshed_list() else { return Vec::new() };
    let mut ips: Vec<String> = networks
        .values()
        .flat_map(|data| data.ip_networks().iter().map(|n| n.addr))
        .filter(|ip| match ip {
            std::net::IpAddr::V4(v4) => v4.is_private() || v4.is_link_local(),
            std::net::IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00 || (v6.segments()[0] & 0xffc0) == 0xfe80,
        })
        .map(|ip| ip.to_string())
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_machine() {
        let dir = tempfile::tempdir().unwrap();
        let f = facts(&dir.path().join("not/yet/created"));
        assert!(!f.os.is_empty());
        assert!(f.cpu_logical_cores >= 1);
        assert!(f.memory_total_mib > 0 && f.memory_available_mib <= f.memory_total_mib);
        let free = f.disk_free_mib.expect("free space of the temp dir's file system");
        assert!(free > 0);
    }
}
