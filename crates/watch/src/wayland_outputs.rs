//! Monitors as a Wayland compositor announces them (`wl_output`, read by [`vigil_wayland`]): the
//! source of truth on a Wayland session, where display-info and xcap only see Xwayland's picture
//! of the layout (scaled sizes, or nothing at all without `DISPLAY`). Each output's size is its
//! current mode in pixels (turned by its transform), its position the compositor's layout
//! position.

use vigil_core::facts::{Monitor, MonitorList};

pub use vigil_wayland::is_wayland;

/// The compositor's outputs, or why they could not be read.
pub fn monitors() -> MonitorList {
    match vigil_wayland::outputs() {
        Ok(outputs) => MonitorList { monitors: outputs.iter().map(monitor).collect(), error: None },
        Err(e) => MonitorList { monitors: Vec::new(), error: Some(e) },
    }
}

fn monitor(o: &vigil_wayland::Output) -> Monitor {
    let (width, height) = o.shown_size();
    Monitor { name: o.name.clone(), x: o.x, y: o.y, width, height, scale_factor: o.scale as f32, primary: false }
}
