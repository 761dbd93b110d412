//! Video streams from PipeWire, on a remote the desktop portal opened: one thread runs PipeWire's
//! loop for every stream and leaves each stream's latest picture in its slot. Pictures come in
//! shared memory (BGRx or BGRA, which PipeWire's producers offer without a GPU), at most
//! [`MAX_FPS`] a second, and only when the screen changed where the producer knows damage.

use crate::portal::StreamSlot;
use pipewire::context::ContextRc;
use pipewire::main_loop::MainLoopRc;
use pipewire::properties::properties;
use pipewire::spa;
use pipewire::stream::{StreamFlags, StreamRc, StreamState};
use spa::param::format::{FormatProperties, MediaSubtype, MediaType};
use spa::param::video::{VideoFormat, VideoInfoRaw};
use spa::param::ParamType;
use spa::pod::{serialize::PodSerializer, Pod};
use spa::utils::{Direction, Fraction, Rectangle, SpaTypes};
use std::os::fd::OwnedFd;
use std::sync::Arc;

/// The most pictures a second asked of the producer: screens are recorded at 1-2 a second, and
/// every delivered picture is copied once.
pub const MAX_FPS: u32 = 5;

/// Starts a stream for each of `nodes` on the PipeWire remote `fd`; their pictures go to the
/// returned slots, in the same order. The thread runs for the life of the process.
pub(crate) fn start(fd: OwnedFd, nodes: &[u32]) -> Result<Vec<Arc<StreamSlot>>, String> {
    let slots: Vec<Arc<StreamSlot>> = nodes.iter().map(|_| Arc::default()).collect();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let (nodes, thread_slots) = (nodes.to_vec(), slots.clone());
    std::thread::Builder::new()
        .name("pipewire-screens".into())
        .spawn(move || {
            // Everything PipeWire hands out is bound to this thread.
            let result = run(fd, &nodes, &thread_slots, &ready_tx);
            if let Err(e) = result {
                let _ = ready_tx.send(Err(e.clone()));
                thread_slots.iter().for_each(|s| s.end(format!("PipeWire: {e}")));
            }
        })
        .map_err(|e| e.to_string())?;
    match ready_rx.recv_timeout(std::time::Duration::from_secs(10)) {
        Ok(Ok(())) => Ok(slots),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("PipeWire did not start within 10 s".into()),
    }
}

fn run(
    fd: OwnedFd,
    nodes: &[u32],
    slots: &[Arc<StreamSlot>],
    ready: &std::sync::mpsc::Sender<Result<(), String>>,
) -> Result<(), String> {
    pipewire::init();
    let main_loop = MainLoopRc::new(None).map_err(|e| format!("main loop: {e}"))?;
    let context = ContextRc::new(&main_loop, None).map_err(|e| format!("context: {e}"))?;
    let core = context.connect_fd_rc(fd, None).map_err(|e| format!("cannot connect to the shared remote: {e}"))?;
    let mut streams = Vec::new();
    for (node, slot) in nodes.iter().zip(slots) {
        let stream = StreamRc::new(
            core.clone(),
            "vigil-screen",
            properties! {
                *pipewire::keys::MEDIA_TYPE => "Video",
                *pipewire::keys::MEDIA_CATEGORY => "Capture",
                *pipewire::keys::MEDIA_ROLE => "Screen",
            },
        )
        .map_err(|e| format!("stream for node {node}: {e}"))?;
        let (on_state, on_picture) = (slot.clone(), slot.clone());
        let listener = stream
            .add_local_listener_with_user_data(VideoInfoRaw::default())
            .state_changed({
                // A stream that streamed and then pauses lost its producer: the candidate
                // stopped sharing, or the monitor went away. Its last picture is not the screen.
                let mut streamed = false;
                move |_, _, old, new| match new {
                    StreamState::Error(e) => on_state.end(format!("the shared stream failed: {e}")),
                    StreamState::Unconnected => on_state.end("screen sharing was stopped".into()),
                    StreamState::Paused if streamed => {
                        on_state.end("screen sharing was stopped (the desktop ended the shared stream)".into())
                    }
                    StreamState::Streaming => streamed = true,
                    _ => tracing::debug!(?old, ?new, "shared stream"),
                }
            })
            .param_changed(|_, info, id, param| {
                if id != ParamType::Format.as_raw() {
                    return;
                }
                if let Some(param) = param {
                    if let Err(e) = info.parse(param) {
                        tracing::warn!(error = ?e, "a shared stream's format could not be read");
                    }
                }
            })
            .process(move |stream, info| {
                let Some(mut buffer) = stream.dequeue_buffer() else { return };
                let size = info.size();
                if !matches!(info.format(), VideoFormat::BGRx | VideoFormat::BGRA) || size.width == 0 {
                    return;
                }
                let Some(data) = buffer.datas_mut().first_mut() else { return };
                let chunk = data.chunk();
                let (offset, len, stride) = (chunk.offset() as usize, chunk.size() as usize, chunk.stride());
                // An empty chunk: the producer had nothing new (only the cursor moved).
                let Ok(stride) = usize::try_from(stride) else { return };
                if len == 0 || stride < size.width as usize * 4 {
                    return;
                }
                let need = stride * (size.height as usize - 1) + size.width as usize * 4;
                if let Some(rows) = data.data().and_then(|d| d.get(offset..offset + need)) {
                    on_picture.deliver(rows, size.width, size.height, stride);
                }
            })
            .register()
            .map_err(|e| format!("stream listener: {e}"))?;
        let format = format_param()?;
        let mut params = [Pod::from_bytes(&format).ok_or("bad format parameter")?];
        stream
            .connect(Direction::Input, Some(*node), StreamFlags::AUTOCONNECT | StreamFlags::MAP_BUFFERS, &mut params)
            .map_err(|e| format!("cannot connect to node {node}: {e}"))?;
        streams.push((stream, listener));
    }
    let _ = ready.send(Ok(()));
    main_loop.run();
    Ok(())
}

/// What Vigil takes: raw BGRx or BGRA of any size, at most `MAX_FPS` a second.
fn format_param() -> Result<Vec<u8>, String> {
    let object = spa::pod::object!(
        SpaTypes::ObjectParamFormat,
        ParamType::EnumFormat,
        spa::pod::property!(FormatProperties::MediaType, Id, MediaType::Video),
        spa::pod::property!(FormatProperties::MediaSubtype, Id, MediaSubtype::Raw),
        spa::pod::property!(
            FormatProperties::VideoFormat,
            Choice,
            Enum,
            Id,
            VideoFormat::BGRx,
            VideoFormat::BGRx,
            VideoFormat::BGRA
        ),
        spa::pod::property!(
            FormatProperties::VideoSize,
            Choice,
            Range,
            Rectangle,
            Rectangle { width: 1920, height: 1080 },
            Rectangle { width: 1, height: 1 },
            Rectangle { width: 16384, height: 16384 }
        ),
        spa::pod::property!(
            FormatProperties::VideoFramerate,
            Choice,
            Range,
            Fraction,
            Fraction { num: MAX_FPS, denom: 1 },
            Fraction { num: 0, denom: 1 },
            Fraction { num: 1000, denom: 1 }
        ),
        spa::pod::property!(
            FormatProperties::VideoMaxFramerate,
            Choice,
            Range,
            Fraction,
            Fraction { num: MAX_FPS, denom: 1 },
            Fraction { num: 1, denom: 1 },
            Fraction { num: MAX_FPS, denom: 1 }
        ),
    );
    PodSerializer::serialize(std::io::Cursor::new(Vec::new()), &spa::pod::Value::Object(object))
        .map(|(cursor, _)| cursor.into_inner())
        .map_err(|e| format!("format parameter: {e:?}"))
}
