//! Monitors as display-info and xcap see them. Two libraries, so that a disagreement (a hidden or
//! virtual monitor one of them misses) becomes a finding. On a Wayland session the compositor's
//! own list ([`crate::wayland_outputs`]) comes first; the other two then show Xwayland's view.

use crate::wayland_outputs;
use vigil_core::facts::{Monitor, MonitorFacts, MonitorList};

pub fn monitors() -> MonitorFacts {
    MonitorFacts {
        display_info: from_display_info(),
        xcap: from_xcap(),
        wayland: wayland_outputs::is_wayland().then(wayland_outputs::monitors),
    }
}

pub fn from_display_info() -> MonitorList {
    match display_info::DisplayInfo::all() {
        Ok(all) => MonitorList {
            monitors: all
                .into_iter()
                .map(|d| Monitor {
                    name: d.name,
                    x: d.x,
                    y: d.y,
                    width: d.width,
                    height: d.height,
                    scale_factor: d.scale_factor,
                    primary: d.is_primary,
                })
                .collect(),
            error: None,
        },
        Err(e) => MonitorList { monitors: Vec::new(), error: Some(no_display_hint(e.to_string())) },
    }
}

pub fn from_xcap() -> MonitorList {
    let read = |m: &xcap::Monitor| -> Result<Monitor, xcap::XCapError> {
        Ok(Monitor {
            name: m.name()?,
            x: m.x()?,
            y: m.y()?,
            width: m.width()?,
            height: m.height()?,
            scale_factor: m.scale_factor()?,
            primary: m.is_primary()?,
        })
    };
    let _xcap = vigil_core::xcap_lock::xcap_lock();
    match xcap::Monitor::all().and_then(|all| all.iter().map(read).collect::<Result<Vec<_>, _>>()) {
        Ok(monitors) => MonitorList { monitors, error: None },
        Err(e) => MonitorList { monitors: Vec::new(), error: Some(no_display_hint(e.to_string())) },
    }
}

fn no_display_hint(err: String) -> String {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        format!("{err} (no DISPLAY or WAYLAND_DISPLAY set: is a graphical session running?)")
    } else {
        err
    }
}

/// How many monitors there are now (the Wayland compositor's outputs, else display-info), or None
/// when it cannot tell.
pub fn count() -> Option<usize> {
    if wayland_outputs::is_wayland() {
        let list = wayland_outputs::monitors();
        return list.error.is_none().then_some(list.monitors.len());
    }
    display_info::DisplayInfo::all().ok().map(|all| all.len())
}
