//! The outputs (monitors) a Wayland compositor announces, read one way wherever Vigil needs them:
//! `wl_output` for each output's name, current mode (pixels), scale and transform, and xdg-output
//! for its position in the compositor's layout (`wl_output`'s own is 0,0 on wlroots).
//!
//! [`Outputs`] handles these events for any event-queue state that holds one: the state gives it
//! with `AsMut<Outputs>` and passes it the events with `wayland_client::delegate_dispatch!`.
//! [`connect`] opens a connection and reads the outputs; [`outputs`] just lists them.

use wayland_client::globals::{registry_queue_init, GlobalList, GlobalListContents};
use wayland_client::protocol::{wl_output, wl_registry};
use wayland_client::{Connection, Dispatch, EventQueue, QueueHandle, WEnum};
use wayland_protocols::xdg::xdg_output::zv1::client::{zxdg_output_manager_v1, zxdg_output_v1};

/// Whether this process talks to a Wayland compositor (a non-empty `WAYLAND_DISPLAY`).
pub fn is_wayland() -> bool {
    std::env::var_os("WAYLAND_DISPLAY").is_some_and(|v| !v.is_empty())
}

/// One output as the compositor announced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The compositor's name for it (`DP-1`), or `WL-<index>` where it gives none.
    pub name: String,
    /// Its position in the compositor's layout.
    pub x: i32,
    pub y: i32,
    /// Its current mode in pixels, as its buffer is (before its transform).
    pub mode: (u32, u32),
    /// Its transform turns it a quarter: it shows its mode with width and height swapped.
    pub turned: bool,
    /// Its integer scale (1 where the compositor says none).
    pub scale: i32,
}

impl Output {
    /// Its size in pixels as it is shown (its mode, turned by its transform).
    pub fn shown_size(&self) -> (u32, u32) {
        if self.turned {
            (self.mode.1, self.mode.0)
        } else {
            self.mode
        }
    }

    /// Its size in the layout's (logical) coordinates: the shown size over the scale.
    pub fn logical_size(&self) -> (i32, i32) {
        let (w, h) = self.shown_size();
        let scale = self.scale.max(1);
        (w as i32 / scale, h as i32 / scale)
    }
}

/// What the compositor has said of one output so far.
#[derive(Debug, Default)]
struct Announced {
    name: Option<String>,
    geometry_position: (i32, i32),
    mode: (i32, i32),
    scale: Option<i32>,
    turned: bool,
    /// xdg-output's layout position, which wins over `wl_output`'s.
    logical_position: Option<(i32, i32)>,
}

/// The outputs of one connection, with their proxies, as their events arrive.
#[derive(Debug, Default)]
pub struct Outputs {
    list: Vec<(wl_output::WlOutput, Announced)>,
}

impl Outputs {
    /// Binds every output in `globals`, and its xdg-output where the compositor has the manager;
    /// their events come on `qh`'s queue (a round trip later).
    pub fn bind<D>(globals: &GlobalList, qh: &QueueHandle<D>) -> Outputs
    where
        D: Dispatch<wl_output::WlOutput, ()>
            + Dispatch<zxdg_output_manager_v1::ZxdgOutputManagerV1, ()>
            + Dispatch<zxdg_output_v1::ZxdgOutputV1, usize>
            + 'static,
    {
        let list: Vec<_> = globals
            .contents()
            .clone_list()
            .into_iter()
            .filter(|g| g.interface == "wl_output")
            .map(|g| {
                let proxy: wl_output::WlOutput = globals.registry().bind(g.name, g.version.min(4), qh, ());
                (proxy, Announced::default())
            })
            .collect();
        if let Ok(manager) = globals.bind::<zxdg_output_manager_v1::ZxdgOutputManagerV1, _, _>(qh, 1..=3, ()) {
            for (i, (proxy, _)) in list.iter().enumerate() {
                manager.get_xdg_output(proxy, qh, i);
            }
        }
        Outputs { list }
    }

    /// Every output, in the order the compositor listed them.
    pub fn list(&self) -> Vec<Output> {
        self.list
            .iter()
            .enumerate()
            .map(|(i, (_, a))| Output {
                name: a.name.clone().unwrap_or_else(|| format!("WL-{i}")),
                x: a.logical_position.unwrap_or(a.geometry_position).0,
                y: a.logical_position.unwrap_or(a.geometry_position).1,
                mode: (u32::try_from(a.mode.0).unwrap_or(0), u32::try_from(a.mode.1).unwrap_or(0)),
                turned: a.turned,
                scale: a.scale.unwrap_or(1),
            })
            .collect()
    }

    /// The proxy of the output named `name` (as [`Outputs::list`] names it).
    pub fn proxy(&self, name: &str) -> Option<&wl_output::WlOutput> {
        let index = self.list().iter().position(|o| o.name == name)?;
        self.list.get(index).map(|(proxy, _)| proxy)
    }
}

/// Connects to the compositor `WAYLAND_DISPLAY` names and reads its outputs into a new `D`.
pub fn connect<D>() -> Result<(GlobalList, EventQueue<D>, D), String>
where
    D: Default
        + AsMut<Outputs>
        + Dispatch<wl_registry::WlRegistry, GlobalListContents>
        + Dispatch<wl_output::WlOutput, ()>
        + Dispatch<zxdg_output_manager_v1::ZxdgOutputManagerV1, ()>
        + Dispatch<zxdg_output_v1::ZxdgOutputV1, usize>
        + 'static,
{
    let conn = Connection::connect_to_env().map_err(|e| format!("cannot reach the Wayland compositor: {e}"))?;
    let (globals, mut queue) =
        registry_queue_init::<D>(&conn).map_err(|e| format!("the compositor's registry: {e}"))?;
    let mut state = D::default();
    *state.as_mut() = Outputs::bind(&globals, &queue.handle());
    // The outputs' events come after the bind, their xdg-outputs' a round trip later.
    for _ in 0..2 {
        queue.roundtrip(&mut state).map_err(|e| format!("the compositor's outputs: {e}"))?;
    }
    Ok((globals, queue, state))
}

/// The outputs of this session's compositor, read on a connection of their own.
pub fn outputs() -> Result<Vec<Output>, String> {
    let (_, _, only) = connect::<OnlyOutputs>()?;
    Ok(only.0.list())
}

/// A queue's state that holds nothing but the outputs.
#[derive(Default)]
struct OnlyOutputs(Outputs);

impl AsMut<Outputs> for OnlyOutputs {
    fn as_mut(&mut self) -> &mut Outputs {
        &mut self.0
    }
}

crate::delegate_outputs!(OnlyOutputs);

impl<D> Dispatch<wl_registry::WlRegistry, GlobalListContents, D> for Outputs
where
    D: Dispatch<wl_registry::WlRegistry, GlobalListContents> + AsMut<Outputs>,
{
    fn event(
        _: &mut D,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<D>,
    ) {
    }
}

impl<D> Dispatch<wl_output::WlOutput, (), D> for Outputs
where
    D: Dispatch<wl_output::WlOutput, ()> + AsMut<Outputs>,
{
    fn event(
        state: &mut D,
        proxy: &wl_output::WlOutput,
        event: wl_output::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<D>,
    ) {
        let Some((_, a)) = state.as_mut().list.iter_mut().find(|(p, _)| p == proxy) else { return };
        match event {
            wl_output::Event::Geometry { x, y, transform, .. } => {
                a.geometry_position = (x, y);
                a.turned = matches!(
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
                a.mode = (width, height);
            }
            wl_output::Event::Name { name } => a.name = Some(name),
            wl_output::Event::Scale { factor } => a.scale = Some(factor),
            _ => {}
        }
    }
}

impl<D> Dispatch<zxdg_output_manager_v1::ZxdgOutputManagerV1, (), D> for Outputs
where
    D: Dispatch<zxdg_output_manager_v1::ZxdgOutputManagerV1, ()> + AsMut<Outputs>,
{
    fn event(
        _: &mut D,
        _: &zxdg_output_manager_v1::ZxdgOutputManagerV1,
        _: zxdg_output_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<D>,
    ) {
    }
}

impl<D> Dispatch<zxdg_output_v1::ZxdgOutputV1, usize, D> for Outputs
where
    D: Dispatch<zxdg_output_v1::ZxdgOutputV1, usize> + AsMut<Outputs>,
{
    fn event(
        state: &mut D,
        _: &zxdg_output_v1::ZxdgOutputV1,
        event: zxdg_output_v1::Event,
        index: &usize,
        _: &Connection,
        _: &QueueHandle<D>,
    ) {
        if let (zxdg_output_v1::Event::LogicalPosition { x, y }, Some((_, a))) =
            (event, state.as_mut().list.get_mut(*index))
        {
            a.logical_position = Some((x, y));
        }
    }
}

/// Passes a state's output events (and its registry's, which carry nothing it needs) to the
/// [`Outputs`] it holds: `vigil_wayland::delegate_outputs!(State);`.
#[macro_export]
macro_rules! delegate_outputs {
    ($state:ty) => {
        $crate::__wayland_client::delegate_dispatch!($state: [
            $crate::__wayland_client::protocol::wl_registry::WlRegistry:
                $crate::__wayland_client::globals::GlobalListContents
        ] => $crate::Outputs);
        $crate::__wayland_client::delegate_dispatch!($state: [
            $crate::__wayland_client::protocol::wl_output::WlOutput: ()
        ] => $crate::Outputs);
        $crate::__wayland_client::delegate_dispatch!($state: [
            $crate::__wayland_protocols::xdg::xdg_output::zv1::client::zxdg_output_manager_v1::ZxdgOutputManagerV1: ()
        ] => $crate::Outputs);
        $crate::__wayland_client::delegate_dispatch!($state: [
            $crate::__wayland_protocols::xdg::xdg_output::zv1::client::zxdg_output_v1::ZxdgOutputV1: usize
        ] => $crate::Outputs);
    };
}

#[doc(hidden)]
pub use wayland_client as __wayland_client;
#[doc(hidden)]
pub use wayland_protocols as __wayland_protocols;
