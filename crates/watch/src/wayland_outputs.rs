//! Monitors as a Wayland compositor announces them (`wl_output`): the source of truth on a
//! Wayland session, where display-info and xcap only see Xwayland's picture of the layout (scaled
//! sizes, or nothing at all without `DISPLAY`). Each output's size is its current mode in pixels
//! (turned by its transform), its position the compositor's layout position (xdg-output's
//! logical position; `wl_output`'s own is 0,0 on wlroots).

use vigil_core::facts::{Monitor, MonitorList};
use wayland_client::globals::{registry_queue_init, GlobalListContents};
use wayland_client::protocol::{wl_output, wl_registry};
use wayland_client::{Connection, Dispatch, QueueHandle, WEnum};
use wayland_protocols::xdg::xdg_output::zv1::client::{zxdg_output_manager_v1, zxdg_output_v1};

/// Whether this process talks to a Wayland compositor (a non-empty `WAYLAND_DISPLAY`).
pub fn is_wayland() -> bool {
    std::env::var_os("WAYLAND_DISPLAY").is_some_and(|v| !v.is_empty())
}

/// The compositor's outputs, or why they could not be read.
pub fn monitors() -> MonitorList {
    match read() {
        Ok(monitors) => MonitorList { monitors, error: None },
        Err(e) => MonitorList { monitors: Vec::new(), error: Some(e) },
    }
}

/// One output being read.
struct Output {
    proxy: wl_output::WlOutput,
    monitor: Monitor,
    /// Its transform turns it a quarter (the mode's width is its height).
    turned: bool,
    /// xdg-output's layout position, which wins over `wl_output`'s.
    logical_position: Option<(i32, i32)>,
}

#[derive(Default)]
struct Outputs(Vec<Output>);

fn read() -> Result<Vec<Monitor>, String> {
    let conn = Connection::connect_to_env().map_err(|e| format!("cannot reach the Wayland compositor: {e}"))?;
    let (globals, mut queue) =
        registry_queue_init::<Outputs>(&conn).map_err(|e| format!("the compositor's registry: {e}"))?;
    let qh = queue.handle();
    let mut state = Outputs::default();
    for global in globals.contents().clone_list() {
        if global.interface == "wl_output" {
            let output: wl_output::WlOutput = globals.registry().bind(global.name, global.version.min(4), &qh, ());
            let monitor = Monitor {
                name: format!("WL-{}", state.0.len()),
                x: 0,
                y: 0,
                width: 0,
                height: 0,
                scale_factor: 1.0,
                primary: false,
            };
            state.0.push(Output { proxy: output, monitor, turned: false, logical_position: None });
        }
    }
    if let Ok(manager) = globals.bind::<zxdg_output_manager_v1::ZxdgOutputManagerV1, _, _>(&qh, 1..=3, ()) {
        for (i, output) in state.0.iter().enumerate() {
            manager.get_xdg_output(&output.proxy, &qh, i);
        }
    }
    // The outputs' events come after the bind; a second round trip waits for all of them.
    for _ in 0..2 {
        queue.roundtrip(&mut state).map_err(|e| format!("the compositor's outputs: {e}"))?;
    }
    Ok(state
        .0
        .into_iter()
        .map(|o| {
            let mut m = o.monitor;
            if o.turned {
                std::mem::swap(&mut m.width, &mut m.height);
            }
            if let Some((x, y)) = o.logical_position {
                (m.x, m.y) = (x, y);
            }
            m
        })
        .collect())
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for Outputs {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<wl_output::WlOutput, ()> for Outputs {
    fn event(
        state: &mut Self,
        proxy: &wl_output::WlOutput,
        event: wl_output::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let Some(o) = state.0.iter_mut().find(|o| &o.proxy == proxy) else { return };
        let m = &mut o.monitor;
        match event {
            wl_output::Event::Geometry { x, y, transform, .. } => {
                (m.x, m.y) = (x, y);
                o.turned = matches!(
                    transform,
                    WEnum::Value(
                        wl_output::Transform::_90
                            | wl_output::Transform::_270
                            | wl_output::Transform::Flipped90
                            | wl_output::Transform::Flipped270
                    )
                );
            }
            wl_output::Event::Mode { flags: WEnum::Value(flags), width, height, .. }
                if flags.contains(wl_output::Mode::Current) =>
            {
                m.width = u32::try_from(width).unwrap_or(0);
                m.height = u32::try_from(height).unwrap_or(0);
            }
            wl_output::Event::Name { name } => m.name = name,
            wl_output::Event::Scale { factor } => m.scale_factor = factor as f32,
            _ => {}
        }
    }
}

impl Dispatch<zxdg_output_manager_v1::ZxdgOutputManagerV1, ()> for Outputs {
    fn event(
        _: &mut Self,
        _: &zxdg_output_manager_v1::ZxdgOutputManagerV1,
        _: zxdg_output_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<zxdg_output_v1::ZxdgOutputV1, usize> for Outputs {
    fn event(
        state: &mut Self,
        _: &zxdg_output_v1::ZxdgOutputV1,
        event: zxdg_output_v1::Event,
        index: &usize,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let (zxdg_output_v1::Event::LogicalPosition { x, y }, Some(o)) = (event, state.0.get_mut(*index)) {
            o.logical_position = Some((x, y));
        }
    }
}
