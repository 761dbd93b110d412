//! Virtual machine and container detection from several independent signals, so that one missing
//! source (many guests, this very CI machine among them, expose no DMI tables) does not hide a VM.
//!
//! Signals: the CPUID hypervisor bit and vendor leaf, the `hypervisor` CPU flag, DMI/SMBIOS
//! strings, virtual NIC MAC prefixes, virtio and hypervisor PCI devices, container markers.

use std::fs;
use std::path::Path;
use vigil_core::facts::{Evidence, VmFacts};

pub fn detect() -> VmFacts {
    detect_in(Path::new("/"), cpuid_hypervisor())
}

/// Detection against a root directory (for tests with a fabricated `/sys` and `/proc`) and a
/// given CPUID result (`Some(vendor)` when the hypervisor bit is set).
pub fn detect_in(root: &Path, cpuid: Option<String>) -> VmFacts {
    let mut evidence = Vec::new();
    let mut kinds: Vec<String> = Vec::new();
    let mut add = |signal: &str, detail: String, kind: Option<&str>| {
        evidence.push(Evidence { signal: signal.to_owned(), detail });
        if let Some(k) = kind {
            kinds.push(k.to_owned());
        }
    };

    if let Some(vendor) = cpuid {
        let kind = hypervisor_kind(&vendor);
        add("cpuid", format!("hypervisor bit set, vendor \"{vendor}\""), kind);
    }
    if read(root, "proc/cpuinfo")
        .is_some_and(|c| c.lines().any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "hypervisor")))
    {
        add("cpuinfo", "CPU flag `hypervisor`".to_owned(), None);
    }
    for file in ["sys_vendor", "product_name", "bios_vendor", "board_vendor", "chassis_vendor"] {
        if let Some(value) = read(root, &format!("sys/class/dmi/id/{file}")) {
            let value = value.trim().to_owned();
            if let Some(kind) = dmi_kind(&value) {
                add("dmi", format!("{file} = \"{value}\""), Some(kind));
            }
        }
    }
    for (iface, mac) in list_dir(root, "sys/class/net")
        .into_iter()
        .filter_map(|i| read(root, &format!("sys/class/net/{i}/address")).map(|m| (i, m.trim().to_ascii_lowercase())))
    {
        if let Some(kind) = mac_kind(&mac) {
            add("mac", format!("{iface} {mac} ({kind} prefix)"), Some(kind));
        }
    }
    let virtio = list_dir(root, "sys/bus/virtio/devices");
    if !virtio.is_empty() {
        add("virtio", format!("{} virtio devices ({})", virtio.len(), virtio.join(", ")), None);
    }
    let mut pci: Vec<&str> = list_dir(root, "sys/bus/pci/devices")
        .iter()
        .filter_map(|d| read(root, &format!("sys/bus/pci/devices/{d}/vendor")))
        .filter_map(|v| pci_vendor_kind(v.trim()))
        .collect();
    pci.sort();
    pci.dedup();
    for kind in pci {
        add("pci", format!("{kind} virtual PCI devices"), Some(kind));
    }
    for marker in ["/.dockerenv", "/run/.containerenv"] {
        if root.join(marker.trim_start_matches('/')).exists() {
            add("container", format!("{marker} exists"), Some("container"));
        }
    }
    if let Some(cg) = read(root, "proc/1/cgroup") {
        if let Some(word) = ["docker", "lxc", "kubepods", "containerd", "libpod"].iter().find(|w| cg.contains(*w)) {
            add("container", format!("/proc/1/cgroup mentions {word}"), Some("container"));
        }
    }

    // A hypervisor beats the generic "container" label: a container inside a VM is still a VM.
    let kind = kinds.iter().find(|k| *k != "container").or(kinds.first()).cloned();
    VmFacts { detected: !evidence.is_empty(), kind, evidence }
}

fn read(root: &Path, rel: &str) -> Option<String> {
    fs::read_to_string(root.join(rel)).ok()
}

fn list_dir(root: &Path, rel: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root.join(rel))
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// The CPUID hypervisor vendor string, when CPUID leaf 1 says a hypervisor is present.
pub fn cpuid_hypervisor() -> Option<String> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::__cpuid;
        #[allow(unused_unsafe)]
        // SAFETY: CPUID is available on every x86_64 CPU and has no side effects.
        let (leaf1, leaf_hv) = unsafe { (__cpuid(1), __cpuid(0x4000_0000)) };
        if leaf1.ecx & (1 << 31) == 0 {
            return None;
        }
        let bytes: Vec<u8> = [leaf_hv.ebx, leaf_hv.ecx, leaf_hv.edx].iter().flat_map(|r| r.to_le_bytes()).collect();
        Some(String::from_utf8_lossy(&bytes).trim_matches(|c: char| c == '\0' || c.is_whitespace()).to_owned())
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

fn hypervisor_kind(vendor: &str) -> Option<&'static str> {
    Some(match vendor {
        v if v.starts_with("KVMKVMKVM") => "KVM",
        v if v.starts_with("VMwareVMware") => "VMware",
        v if v.starts_with("VBoxVBoxVBox") => "VirtualBox",
        v if v.starts_with("Microsoft Hv") => "Hyper-V",
        v if v.starts_with("XenVMMXenVMM") => "Xen",
        v if v.starts_with("TCGTCGTCGTCG") => "QEMU",
        v if v.starts_with("prl hyperv") => "Parallels",
        v if v.starts_with("bhyve") => "bhyve",
        v if v.starts_with("ACRN") => "ACRN",
        v if v.starts_with("QNXQVMBSQG") => "QNX",
        v if v.starts_with("Apple VZ") || v.starts_with("VirtualApple") => "Apple Virtualization",
        _ => return None,
    })
}

fn dmi_kind(value: &str) -> Option<&'static str> {
    let v = value.to_ascii_lowercase();
    Some(match v {
        _ if v.contains("qemu") || v.contains("bochs") => "QEMU",
        _ if v.contains("kvm") => "KVM",
        _ if v.contains("vmware") => "VMware",
        _ if v.contains("virtualbox") || v.contains("innotek") => "VirtualBox",
        _ if v.contains("xen") => "Xen",
        _ if v.contains("parallels") => "Parallels",
        _ if v.contains("virtual machine") || v.contains("hyper-v") => "Hyper-V",
        _ if v.contains("amazon ec2") => "Amazon EC2",
        _ if v.contains("google compute engine") => "Google Compute Engine",
        _ => return None,
    })
}

fn mac_kind(mac: &str) -> Option<&'static str> {
    const PREFIXES: [(&str, &str); 9] = [
        ("52:54:00", "QEMU/KVM"),
        ("08:00:27", "VirtualBox"),
        ("0a:00:27", "VirtualBox"),
        ("00:05:69", "VMware"),
        ("00:0c:29", "VMware"),
        ("00:1c:14", "VMware"),
        ("00:50:56", "VMware"),
        ("00:15:5d", "Hyper-V"),
        ("00:16:3e", "Xen"),
    ];
    PREFIXES.iter().find(|(p, _)| mac.starts_with(p)).map(|(_, k)| *k)
}

fn pci_vendor_kind(vendor: &str) -> Option<&'static str> {
    Some(match vendor.to_ascii_lowercase().as_str() {
        "0x1af4" => "virtio (Red Hat)",
        "0x15ad" => "VMware",
        "0x80ee" => "VirtualBox",
        "0x1414" => "Hyper-V",
        "0x5853" => "Xen",
        "0x1ab8" => "Parallels",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    #[test]
    fn bare_metal_tree_is_not_a_vm() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "proc/cpuinfo", "flags\t\t: fpu vme sse2\n");
        write(dir.path(), "sys/class/dmi/id/sys_vendor", "LENOVO\n");
        write(dir.path(), "sys/class/net/eth0/address", "3c:52:82:00:11:22\n");
        write(dir.path(), "proc/1/cgroup", "0::/init.scope\n");
        let f = detect_in(dir.path(), None);
        assert!(!f.detected, "{:?}", f.evidence);
        assert_eq!(f.kind, None);
    }

    #[test]
    fn virtualbox_by_dmi_and_mac_without_cpuid() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "sys/class/dmi/id/product_name", "VirtualBox\n");
        write(dir.path(), "sys/class/net/enp0s3/address", "08:00:27:aa:bb:cc\n");
        let f = detect_in(dir.path(), None);
        assert!(f.detected);
        assert_eq!(f.kind.as_deref(), Some("VirtualBox"));
        assert_eq!(f.evidence.len(), 2);
    }

    #[test]
    fn kvm_without_dmi_and_container_inside() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), ".dockerenv", "");
        write(dir.path(), "sys/bus/virtio/devices/virtio0/x", "");
        let f = detect_in(dir.path(), Some("KVMKVMKVM".into()));
        assert_eq!(f.kind.as_deref(), Some("KVM"));
        let signals: Vec<&str> = f.evidence.iter().map(|e| e.signal.as_str()).collect();
        assert_eq!(signals, ["cpuid", "virtio", "container"]);
    }
}
