//! `vigil-test-portal`: a ScreenCast backend for xdg-desktop-portal, for tests on a headless sway.
//!
//! xdg-desktop-portal-wlr 0.7 cannot screencast without a GPU (with screencopy v3 it insists on a
//! DMA-BUF format, which the pixman renderer never offers; upstream issue #289), so the tests put
//! this backend behind the real xdg-desktop-portal instead. The frontend, the permission store
//! (restore tokens), PipeWire and its session manager are the real ones; this program only stands
//! in for the desktop's backend: each shared output is a PipeWire video node carrying BGRx
//! pictures of that output (taken with `grim`, twice a second), and the sharing dialog is scripted:
//!
//! ```text
//! vigil-test-portal --output NAME@X,Y,W,H ... [--share N] [--refuse] [--dialog-log FILE]
//! ```
//!
//! `--output` names an output with its place and size in the layout (logical) coordinates;
//! `--share N` is how many of them the candidate picks in the dialog (default: all), `--refuse`
//! cancels it; every dialog shown adds a line to `--dialog-log`. A session started with restore
//! data this backend gave shows no dialog and shares the same outputs again.

use anyhow::{bail, Context, Result};
use pipewire as pw;
use pw::spa;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use zbus::zvariant::{ObjectPath, OwnedValue, Value};

const BUS_NAME: &str = "org.freedesktop.impl.portal.desktop.vigiltest";
const VENDOR: &str = "vigiltest";

#[derive(Debug, Clone)]
struct Output {
    name: String,
    position: (i32, i32),
    size: (i32, i32),
}

#[derive(Debug, Default)]
struct Args {
    outputs: Vec<Output>,
    share: Option<usize>,
    refuse: bool,
    dialog_log: Option<std::path::PathBuf>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--output" => {
                let v = it.next().context("--output NAME@X,Y,W,H")?;
                let (name, geometry) = v.split_once('@').context("--output NAME@X,Y,W,H")?;
                let n: Vec<i32> = geometry.split(',').map(str::parse).collect::<Result<_, _>>()?;
                let [x, y, w, h] = n[..] else { bail!("--output NAME@X,Y,W,H") };
                args.outputs.push(Output { name: name.into(), position: (x, y), size: (w, h) });
            }
            "--share" => args.share = Some(it.next().context("--share N")?.parse()?),
            "--refuse" => args.refuse = true,
            "--dialog-log" => args.dialog_log = Some(it.next().context("--dialog-log FILE")?.into()),
            other => bail!("unknown argument {other}"),
        }
    }
    if args.outputs.is_empty() {
        bail!("no --output given");
    }
    Ok(args)
}

/// What the PipeWire thread is asked: start a stream for each output, answer with their node ids.
type StartStreams = (Vec<String>, mpsc::Sender<Result<Vec<u32>, String>>);

struct ScreenCast {
    args: Arc<Args>,
    /// Per session: the outputs a restore asked for, if any.
    restores: Mutex<HashMap<String, Vec<String>>>,
    pipewire: pw::channel::Sender<StartStreams>,
}

fn value(v: impl Into<Value<'static>>) -> OwnedValue {
    OwnedValue::try_from(v.into()).unwrap_or_else(|_| OwnedValue::from(0u32))
}

#[zbus::interface(name = "org.freedesktop.impl.portal.ScreenCast")]
impl ScreenCast {
    fn create_session(
        &self,
        _handle: ObjectPath<'_>,
        _session_handle: ObjectPath<'_>,
        _app_id: String,
        _options: HashMap<String, OwnedValue>,
    ) -> (u32, HashMap<String, OwnedValue>) {
        (0, HashMap::new())
    }

    fn select_sources(
        &self,
        _handle: ObjectPath<'_>,
        session_handle: ObjectPath<'_>,
        _app_id: String,
        options: HashMap<String, OwnedValue>,
    ) -> (u32, HashMap<String, OwnedValue>) {
        let restored = options.get("restore_data").and_then(|v| restore_names(v));
        if let (Some(names), Ok(mut restores)) = (restored, self.restores.lock()) {
            restores.insert(session_handle.to_string(), names);
        }
        (0, HashMap::new())
    }

    fn start(
        &self,
        _handle: ObjectPath<'_>,
        session_handle: ObjectPath<'_>,
        _app_id: String,
        _parent_window: String,
        _options: HashMap<String, OwnedValue>,
    ) -> (u32, HashMap<String, OwnedValue>) {
        let restored = self.restores.lock().ok().and_then(|mut r| r.remove(session_handle.as_str()));
        let names: Vec<String> = match restored {
            Some(names) => names,
            None => {
                // The dialog: the candidate picks outputs, or cancels.
                if let Some(log) = &self.args.dialog_log {
                    let line = format!("dialog for {session_handle}\n");
                    let _ = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(log)
                        .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
                }
                if self.args.refuse {
                    return (1, HashMap::new());
                }
                let n = self.args.share.unwrap_or(self.args.outputs.len());
                self.args.outputs.iter().take(n).map(|o| o.name.clone()).collect()
            }
        };
        let (tx, rx) = mpsc::channel();
        if self.pipewire.send((names.clone(), tx)).is_err() {
            return (2, HashMap::new());
        }
        let nodes = match rx.recv() {
            Ok(Ok(nodes)) => nodes,
            other => {
                eprintln!("vigil-test-portal: streams not started: {other:?}");
                return (2, HashMap::new());
            }
        };
        let streams: Vec<(u32, HashMap<String, Value<'static>>)> = names
            .iter()
            .zip(nodes)
            .filter_map(|(name, node)| {
                let o = self.args.outputs.iter().find(|o| &o.name == name)?;
                let props = HashMap::from([
                    ("position".to_owned(), Value::from(o.position)),
                    ("size".to_owned(), Value::from(o.size)),
                    ("source_type".to_owned(), Value::from(1u32)),
                ]);
                Some((node, props))
            })
            .collect();
        let results = HashMap::from([
            ("streams".to_owned(), value(streams)),
            ("persist_mode".to_owned(), value(2u32)),
            ("restore_data".to_owned(), value((VENDOR.to_owned(), 1u32, Value::from(names.join(","))))),
        ]);
        (0, results)
    }

    #[zbus(property)]
    fn available_source_types(&self) -> u32 {
        1
    }

    #[zbus(property)]
    fn available_cursor_modes(&self) -> u32 {
        1 | 2
    }

    #[zbus(property, name = "version")]
    fn version(&self) -> u32 {
        4
    }
}

/// The output names in restore data this backend gave: `(suv)`, this vendor's, version 1, the
/// names joined by commas.
fn restore_names(v: &Value<'_>) -> Option<Vec<String>> {
    let Value::Structure(s) = v else { return None };
    let [Value::Str(vendor), Value::U32(1), data] = s.fields() else { return None };
    let data = match data {
        Value::Value(inner) => inner.as_ref(),
        other => other,
    };
    let Value::Str(names) = data else { return None };
    (vendor.as_str() == VENDOR).then(|| names.split(',').map(str::to_owned).collect())
}

/// One output's picture as BGRx rows, and its size, from `grim`.
fn grab(output: &str) -> Result<(Vec<u8>, u32, u32)> {
    let out = std::process::Command::new("grim").args(["-o", output, "-t", "ppm", "-"]).output()?;
    if !out.status.success() {
        bail!("grim -o {output}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // A binary PPM: "P6\nW H\n255\n" then RGB.
    let text_end = out.stdout.iter().enumerate().filter(|(_, &b)| b == b'\n').nth(2).context("short PPM")?.0 + 1;
    let header = std::str::from_utf8(&out.stdout[..text_end])?;
    let mut fields = header.split_whitespace().skip(1);
    let w: u32 = fields.next().context("width")?.parse()?;
    let h: u32 = fields.next().context("height")?.parse()?;
    let rgb = &out.stdout[text_end..];
    if rgb.len() < (w * h * 3) as usize {
        bail!("short PPM");
    }
    let bgrx = rgb.chunks_exact(3).take((w * h) as usize).flat_map(|p| [p[2], p[1], p[0], 0]).collect();
    Ok((bgrx, w, h))
}

fn format_pod(width: u32, height: u32) -> Result<Vec<u8>> {
    use spa::param::format::{FormatProperties, MediaSubtype, MediaType};
    use spa::param::video::VideoFormat;
    use spa::param::ParamType;
    use spa::utils::{Fraction, Rectangle, SpaTypes};
    let object = spa::pod::object!(
        SpaTypes::ObjectParamFormat,
        ParamType::EnumFormat,
        spa::pod::property!(FormatProperties::MediaType, Id, MediaType::Video),
        spa::pod::property!(FormatProperties::MediaSubtype, Id, MediaSubtype::Raw),
        spa::pod::property!(FormatProperties::VideoFormat, Id, VideoFormat::BGRx),
        spa::pod::property!(FormatProperties::VideoSize, Rectangle, Rectangle { width, height }),
        spa::pod::property!(FormatProperties::VideoFramerate, Fraction, Fraction { num: 0, denom: 1 }),
        spa::pod::property!(
            FormatProperties::VideoMaxFramerate,
            Choice,
            Range,
            Fraction,
            Fraction { num: 30, denom: 1 },
            Fraction { num: 1, denom: 1 },
            Fraction { num: 30, denom: 1 }
        ),
    );
    serialize(object)
}

fn buffers_pod(size: u32, stride: u32) -> Result<Vec<u8>> {
    use spa::pod::{Object, Property, PropertyFlags, Value as PodValue};
    use spa::sys;
    let prop = |key, value| Property { key, flags: PropertyFlags::empty(), value };
    let object = Object {
        type_: sys::SPA_TYPE_OBJECT_ParamBuffers,
        id: sys::SPA_PARAM_Buffers,
        properties: vec![
            prop(sys::SPA_PARAM_BUFFERS_buffers, PodValue::Int(4)),
            prop(sys::SPA_PARAM_BUFFERS_blocks, PodValue::Int(1)),
            prop(sys::SPA_PARAM_BUFFERS_size, PodValue::Int(size as i32)),
            prop(sys::SPA_PARAM_BUFFERS_stride, PodValue::Int(stride as i32)),
        ],
    };
    serialize(object)
}

fn serialize(object: spa::pod::Object) -> Result<Vec<u8>> {
    let (cursor, _) = spa::pod::serialize::PodSerializer::serialize(
        std::io::Cursor::new(Vec::new()),
        &spa::pod::Value::Object(object),
    )
    .map_err(|e| anyhow::anyhow!("pod: {e:?}"))?;
    Ok(cursor.into_inner())
}

/// One output's producer stream and its latest picture.
struct Producer {
    output: String,
    stream: pw::stream::StreamRc,
    picture: Rc<RefCell<Vec<u8>>>,
    _listener: pw::stream::StreamListener<()>,
}

fn producer(core: &pw::core::CoreRc, output: &str) -> Result<Producer> {
    let (pixels, width, height) = grab(output)?;
    let stride = width * 4;
    let picture = Rc::new(RefCell::new(pixels));
    let stream = pw::stream::StreamRc::new(
        core.clone(),
        &format!("vigil-test-portal {output}"),
        pw::properties::properties! {
            *pw::keys::MEDIA_CLASS => "Video/Source",
            *pw::keys::MEDIA_ROLE => "Screen",
        },
    )?;
    let source = picture.clone();
    let listener = stream
        .add_local_listener()
        .param_changed(move |stream, _: &mut (), id, param| {
            if id != spa::param::ParamType::Format.as_raw() || param.is_none() {
                return;
            }
            if let Ok(bytes) = buffers_pod(stride * height, stride) {
                if let Some(pod) = spa::pod::Pod::from_bytes(&bytes) {
                    if let Err(e) = stream.update_params(&mut [pod]) {
                        eprintln!("vigil-test-portal: buffers: {e}");
                    }
                }
            }
        })
        .process(move |stream, _| {
            let Some(mut buffer) = stream.dequeue_buffer() else { return };
            let Some(data) = buffer.datas_mut().first_mut() else { return };
            let picture = source.borrow();
            let written = match data.data() {
                Some(out) if out.len() >= picture.len() => {
                    out[..picture.len()].copy_from_slice(&picture);
                    picture.len()
                }
                _ => 0,
            };
            let chunk = data.chunk_mut();
            *chunk.offset_mut() = 0;
            *chunk.stride_mut() = stride as i32;
            *chunk.size_mut() = written as u32;
        })
        .register()?;
    let format = format_pod(width, height)?;
    let mut params = [spa::pod::Pod::from_bytes(&format).context("format pod")?];
    stream.connect(
        spa::utils::Direction::Output,
        None,
        pw::stream::StreamFlags::DRIVER | pw::stream::StreamFlags::MAP_BUFFERS,
        &mut params,
    )?;
    Ok(Producer { output: output.to_owned(), stream, picture, _listener: listener })
}

fn main() -> Result<()> {
    let args = Arc::new(parse_args()?);
    pw::init();
    let main_loop = pw::main_loop::MainLoopRc::new(None)?;
    let context = pw::context::ContextRc::new(&main_loop, None)?;
    let core = context.connect_rc(None).context("cannot reach PipeWire")?;
    let producers: Rc<RefCell<Vec<Producer>>> = Rc::default();

    // Answers wait until the daemon has given every new stream its node id.
    type Pending = (std::ops::Range<usize>, mpsc::Sender<Result<Vec<u32>, String>>, std::time::Instant);
    let pending: Rc<RefCell<Vec<Pending>>> = Rc::default();
    let (pw_tx, pw_rx) = pw::channel::channel::<StartStreams>();
    let _requests = pw_rx.attach(main_loop.loop_(), {
        let (core, producers, pending) = (core.clone(), producers.clone(), pending.clone());
        move |(names, reply): StartStreams| {
            let mut started = Vec::new();
            for name in &names {
                match producer(&core, name) {
                    Ok(p) => started.push(p),
                    Err(e) => {
                        let _ = reply.send(Err(format!("{name}: {e}")));
                        return;
                    }
                }
            }
            // One client at a time (tests run one after another): a new start ends earlier streams.
            let mut all = producers.borrow_mut();
            pending.borrow_mut().clear();
            *all = started;
            let range = 0..all.len();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            pending.borrow_mut().push((range, reply, deadline));
        }
    });
    let answer = main_loop.loop_().add_timer({
        let (producers, pending) = (producers.clone(), pending.clone());
        move |_| {
            let all = producers.borrow();
            pending.borrow_mut().retain(|(range, reply, deadline)| {
                let nodes: Vec<u32> = all[range.clone()].iter().map(|p| p.stream.node_id()).collect();
                let known = nodes.iter().all(|&n| n != pw::constants::ID_ANY);
                if known || std::time::Instant::now() > *deadline {
                    let _ = reply.send(if known { Ok(nodes) } else { Err("no node id within 5 s".into()) });
                    return false;
                }
                true
            });
        }
    });
    let tick = std::time::Duration::from_millis(20);
    let _ = answer.update_timer(Some(tick), Some(tick));

    // Twice a second, every stream gets a fresh picture of its output.
    let timer = main_loop.loop_().add_timer({
        let producers = producers.clone();
        move |_| {
            for p in producers.borrow().iter() {
                if let Ok((pixels, _, _)) = grab(&p.output) {
                    *p.picture.borrow_mut() = pixels;
                }
                let _ = p.stream.trigger_process();
            }
        }
    });
    let period = std::time::Duration::from_millis(500);
    let _ = timer.update_timer(Some(period), Some(period));

    let screencast = ScreenCast { args: args.clone(), restores: Mutex::default(), pipewire: pw_tx };
    let _bus = zbus::blocking::connection::Builder::session()?
        .name(BUS_NAME)?
        .serve_at("/org/freedesktop/portal/desktop", screencast)?
        .build()
        .context("cannot take the portal backend's name on the session bus")?;
    eprintln!("vigil-test-portal: serving {} output(s)", args.outputs.len());
    main_loop.run();
    Ok(())
}
