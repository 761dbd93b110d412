//! Cameras (nokhwa) and microphones (cpal), by name. An empty list is a fact, not an error.

use cpal::traits::{DeviceTrait, HostTrait};
use vigil_core::facts::{DeviceList, MediaDevice};

pub fn cameras() -> DeviceList {
    match nokhwa::query(nokhwa::utils::ApiBackend::Auto) {
        Ok(found) => DeviceList {
            devices: found
                .into_iter()
                .map(|c| MediaDevice { name: c.human_name(), id: c.index().to_string() })
                .collect(),
            error: None,
        },
        Err(e) => DeviceList { devices: Vec::new(), error: Some(e.to_string()) },
    }
}

/// Input devices. With a sound server (PulseAudio, or PipeWire through its PulseAudio socket) these
/// are its sources; with bare ALSA, only devices on a sound card (ALSA also lists software
/// plugins such as `null` or `lavrate`, which are not microphones).
pub fn microphones() -> DeviceList {
    let host = cpal::default_host();
    let alsa = host.id() == cpal::HostId::Alsa;
    let devices = match host.input_devices() {
        Ok(d) => d,
        Err(e) => return DeviceList { devices: Vec::new(), error: Some(e.to_string()) },
    };
    let mut list = DeviceList::default();
    for device in devices {
        if !device.supports_input() {
            continue;
        }
        let name = device.description().map(|d| d.name().to_owned()).unwrap_or_else(|_| device.to_string());
        let id = device.id().map(|i| i.to_string()).unwrap_or_else(|_| name.clone());
        if alsa && !is_alsa_card_device(&id) {
            continue;
        }
        list.devices.push(MediaDevice { name, id });
    }
    list
}

/// `alsa:hw:CARD=PCH,DEV=0`, `alsa:sysdefault:CARD=PCH`, `alsa:default` (when no server is there,
/// `default` is the first card) are devices; `alsa:null`, `alsa:lavrate`, ... are plugins.
fn is_alsa_card_device(id: &str) -> bool {
    let name = id.strip_prefix("alsa:").unwrap_or(id);
    name.contains("CARD=") || name.starts_with("hw:") || name.starts_with("plughw:") || name == "default"
}

#[cfg(test)]
mod tests {
    #[test]
    fn alsa_plugins_are_not_microphones() {
        for id in ["alsa:null", "alsa:lavrate", "alsa:pulse", "alsa:jack", "alsa:oss", "alsa:speex"] {
            assert!(!super::is_alsa_card_device(id), "{id}");
        }
        for id in ["alsa:hw:CARD=PCH,DEV=0", "alsa:sysdefault:CARD=PCH", "alsa:default"] {
            assert!(super::is_alsa_card_device(id), "{id}");
        }
    }
}
