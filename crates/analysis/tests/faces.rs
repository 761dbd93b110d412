//! The two face detectors on scenes cut from a public-domain photograph
//! (`tests/analysis/solvay-1927.png`) with ImageMagick, at the analysis size (320x240 grey): one
//! face, a group, none. The far detector's yaw on a real turned head (`tests/analysis/cameraman.png`,
//! CC0) and its mirror image, and on a frontal one. A face too small for the near detector, which
//! the far one still sees, is not missing; nor is a group whose faces only the far one finds
//! alone. A head bowed (rendered from the frontal face, `Scene::BowedFace`) has a large pitch, a
//! glance at the keyboard a small one, and bowed for 8 s it is a flag. A face the far detector is
//! unsure of counts where the face mesh sees one (a faint person behind), not a cat's head. The
//! face mesh reads the photograph's three-quarter view as turned away, and none of its 28 people
//! who face the camera.

use std::path::Path;
use std::process::Command;
use vigil_analysis::head::{pitch_degrees, HeadDetector};
use vigil_analysis::mesh::FaceMesh;
use vigil_analysis::vision::{flags_in_y4m, models_dir, FaceDetector, Grey, VisionAnalyzer, VisionOptions};
use vigil_testkit::clip::{PEOPLE, TURNED_AWAY};
use vigil_testkit::{camera_clip, Scene};

/// The part `crop` of the Solvay photograph, resized to 320x240, as grey pixels.
fn scene(crop: &str) -> Grey {
    picture("solvay-1927.png", crop, &[])
}

/// The part `crop` of a test picture, changed by ImageMagick's `options` (`-flop`), resized to
/// 320x240, as grey pixels.
fn picture(file: &str, crop: &str, options: &[&str]) -> Grey {
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/analysis").join(file);
    grey(&photo, &[&["-crop", crop, "+repage"], options].concat())
}

/// The picture at `path`, changed by ImageMagick's `options`, resized to 320x240, as grey pixels.
fn grey(path: &Path, options: &[&str]) -> Grey {
    let out = Command::new("convert")
        .arg(path)
        .args(options)
        .args(["-resize", "320x240!", "-colorspace", "gray", "-depth", "8", "gray:-"])
        .output()
        .expect("ImageMagick's convert (scripts/install-deps installs imagemagick)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout.len(), 320 * 240);
    Grey { width: 320, height: 240, pixels: out.stdout }
}

#[test]
fn one_face_a_group_and_none() {
    let (one, group, none) = (scene("128x96+831+245"), scene("320x240+830+180"), scene("320x240+600+820"));
    let near = FaceDetector::load(&models_dir()).expect("the near face model");
    assert_eq!(near.faces(&one).unwrap().len(), 1, "one face near the camera");
    assert_eq!(near.faces(&none).unwrap().len(), 0, "no face");
    let far = HeadDetector::load(&models_dir()).expect("the far face model");
    assert_eq!(far.heads(&one).unwrap().len(), 1, "one face, one head");
    assert!(far.heads(&group).unwrap().len() >= 2, "two faces or more: {:?}", far.heads(&group));
    assert_eq!(far.heads(&none).unwrap().len(), 0, "no face");
}

#[test]
fn a_turned_head_has_a_large_yaw_a_frontal_one_a_small_one() {
    let faces = FaceDetector::load(&models_dir()).expect("the face model");
    let heads = HeadDetector::load(&models_dir()).expect("the head model");
    for (options, sign) in [(&[][..], 1.0), (&["-flop"][..], -1.0)] {
        let turned = picture("cameraman.png", "240x180+100+40", options);
        let head = heads.head(&turned).unwrap().expect("the far detector finds the turned head");
        let near = faces.faces(&turned).unwrap();
        println!("cameraman {options:?}: {head:?}, the near detector's {near:?}");
        assert!(head.yaw_degrees * sign >= 35.0, "{head:?}");
        // The near detector, which judges the turn where it sees one face, agrees.
        assert!(matches!(&near[..], [face] if face.yaw_degrees * sign >= 35.0), "{near:?}");
    }
    let frontal = scene("128x96+831+245");
    let head = heads.head(&frontal).unwrap().expect("the far detector finds the frontal face");
    let near = faces.faces(&frontal).unwrap();
    println!("a frontal face: {head:?}, the near detector's {near:?}");
    assert!(head.yaw_degrees.abs() < 20.0, "{head:?}");
    assert!(matches!(&near[..], [face] if face.yaw_degrees.abs() < 20.0), "{near:?}");
}

#[test]
fn the_face_mesh_reads_a_three_quarter_view_as_turned_and_no_frontal_person() {
    let dir = tempfile::tempdir().unwrap();
    let (near, far) = (FaceDetector::load(&models_dir()).unwrap(), HeadDetector::load(&models_dir()).unwrap());
    let mesh = FaceMesh::load(&models_dir()).expect("the face mesh");
    // As the analysis does: the mesh on the near detector's one face, or where it sees none, on
    // the far one's lone head (sure or not).
    let yaw = |name: &str, picture: &Grey| {
        let mut found = near.faces(picture).unwrap();
        if found.is_empty() {
            let (sure, unsure) = far.sure_and_unsure(picture).unwrap();
            found = [sure, unsure].concat();
        }
        assert_eq!(found.len(), 1, "{name}: one face");
        let pose = mesh.pose(picture, &found[0]).unwrap().unwrap_or_else(|| panic!("{name}: the mesh sees no face"));
        println!("{name}: the mesh's yaw {:.0}, the detector's {:.0}", pose.yaw_degrees, found[0].yaw_degrees);
        pose.yaw_degrees
    };
    let person = |who: u8| {
        let name = format!("person{who:02}");
        camera_clip(dir.path(), &name, &[(Scene::Person(who), 1)], true).expect("a clip");
        yaw(&name, &grey(&dir.path().join(format!("{name}-0.png")), &[]))
    };
    // The three-quarter view, turned about 45 degrees to the picture's left (both BlazeFace
    // detectors read it under 35 degrees).
    assert!(person(TURNED_AWAY) <= -35.0, "the three-quarter view is turned");
    // The cameraman's profile, and its mirror image.
    for (options, sign) in [(&[][..], 1.0), (&["-flop"][..], -1.0)] {
        let turned = yaw("the cameraman", &picture("cameraman.png", "240x180+100+40", options));
        assert!(turned * sign >= 45.0, "the profile: {turned}");
    }
    // Everyone else in the photograph faces the camera, a few of them turned by up to 20-25
    // degrees: none is turned away (the default threshold is 35), and most read under 15 (26 of 28).
    let frontal: Vec<f32> = (0..PEOPLE.len() as u8).filter(|who| *who != TURNED_AWAY).map(person).collect();
    let most = frontal.iter().fold(0f32, |most, y| most.max(y.abs()));
    assert!(most < 32.0, "a face turned by {most} degrees: {frontal:?}");
    let under_15 = frontal.iter().filter(|y| y.abs() < 15.0).count();
    assert!(under_15 * 4 >= frontal.len() * 3, "{under_15} under 15 degrees: {frontal:?}");
}

#[test]
fn a_three_quarter_view_for_8_s_is_turned_away_faces_whose_key_points_read_turned_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let flags = |who: u8| {
        let name = format!("person{who:02}");
        let clip = camera_clip(dir.path(), &name, &[(Scene::Person(who), 8)], false).expect("a clip");
        let dir = models_dir();
        let (faces, heads) = (FaceDetector::load(&dir).unwrap(), HeadDetector::load(&dir).unwrap());
        let analyzer = VisionAnalyzer::new(VisionOptions::default(), Some(faces), Some(heads))
            .with_mesh(Some(FaceMesh::load(&dir).unwrap()));
        let flags = flags_in_y4m(&clip, analyzer).expect("the clip");
        flags.iter().map(|f| (f.kind, f.start_ms)).collect::<Vec<_>>()
    };
    assert_eq!(flags(TURNED_AWAY), vec![("face.turned", 0)]);
    // Faces the far detector's key points read turned by 34-46 degrees, which the mesh reads
    // under 20.
    for who in [0, 8] {
        assert_eq!(flags(who), vec![], "person {who:02}");
    }
}

#[test]
fn a_face_too_small_for_the_near_detector_is_not_missing() {
    let dir = tempfile::tempdir().unwrap();
    // About 20 pixels wide in the analysed picture, with a camera's noise, for 20 s.
    let clip =
        camera_clip(dir.path(), "small", &[(Scene::SmallFace, 20)], false).expect("a clip (ffmpeg, ImageMagick)");
    let flags = |heads: Option<HeadDetector>| {
        let faces = FaceDetector::load(&models_dir()).expect("the face model");
        let analyzer = VisionAnalyzer::new(VisionOptions::default(), Some(faces), heads);
        let flags = flags_in_y4m(&clip, analyzer).expect("the clip");
        flags.iter().map(|f| f.kind).collect::<Vec<_>>()
    };
    // The near detector alone does not see it...
    assert!(flags(None).contains(&"face.missing"), "{:?}", flags(None));
    // ...the far one finds it there: no flag at all.
    let heads = HeadDetector::load(&models_dir()).expect("the head model");
    assert_eq!(flags(Some(heads)), Vec::<&str>::new());
}

/// A bowed face scene as the clips render it, at 320x240 grey.
fn bowed(dir: &Path, scene: Scene) -> Grey {
    let name = format!("{scene:?}").replace(['(', ')'], "");
    camera_clip(dir, &name, &[(scene, 1)], true).expect("a clip");
    grey(&dir.join(format!("{name}-0.png")), &[])
}

#[test]
fn a_bowed_head_has_a_large_pitch_a_glance_at_the_keyboard_a_small_one() {
    let faces = FaceDetector::load(&models_dir()).expect("the face model");
    let heads = HeadDetector::load(&models_dir()).expect("the head model");
    let dir = tempfile::tempdir().unwrap();
    let places = |scene: Scene| {
        let picture = bowed(dir.path(), scene);
        let near = faces.faces(&picture).unwrap();
        let far = heads.heads(&picture).unwrap();
        println!("{scene:?}: the near detector's {near:?}, the far one's {far:?}");
        assert_eq!((near.len(), far.len()), (1, 1), "one face, seen by both");
        far[0].nose_place
    };
    // The Solvay face and the astronaut, each against its own frontal place (as the analysis
    // judges a candidate), bowed by 50 degrees, and glancing at the keyboard (about 20).
    for bowed in [Scene::BowedFace, Scene::BowedOtherFace] {
        let frontal = places(bowed(0));
        let (keyboard, down) = (pitch_degrees(places(bowed(20)), frontal), pitch_degrees(places(bowed(50)), frontal));
        println!("{:?}: 20 degrees read {keyboard:.1}, 50 read {down:.1}", bowed(0));
        assert!(down >= 40.0, "bowed 50 degrees: {down}");
        assert!((10.0..30.0).contains(&keyboard), "bowed 20 degrees: {keyboard}");
    }
}

#[test]
fn a_head_bowed_for_8_s_is_turned_away_a_glance_down_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let flags = |name: &str, scenes: &[(Scene, u32)]| {
        let clip = camera_clip(dir.path(), name, scenes, false).expect("a clip (ffmpeg, ImageMagick)");
        let faces = FaceDetector::load(&models_dir()).expect("the face model");
        let heads = HeadDetector::load(&models_dir()).expect("the head model");
        let mesh = FaceMesh::load(&models_dir()).expect("the face mesh");
        let analyzer = VisionAnalyzer::new(VisionOptions::default(), Some(faces), Some(heads)).with_mesh(Some(mesh));
        flags_in_y4m(&clip, analyzer).expect("the clip")
    };
    let bowed = flags("bowed", &[(Scene::Face, 5), (Scene::BowedFace(50), 8), (Scene::Face, 7)]);
    println!("bowed 50 degrees from 5 s to 13 s: {bowed:?}");
    assert!(
        matches!(&bowed[..], [f] if f.kind == "face.turned"
            && (f.start_ms as f64 - 5_000.0).abs() <= 2_000.0
            && (f.end_ms as f64 - 13_000.0).abs() <= 2_000.0),
        "{bowed:?}"
    );
    let glance = flags("keyboard", &[(Scene::Face, 5), (Scene::BowedFace(20), 8), (Scene::Face, 7)]);
    assert!(glance.is_empty(), "looking at the keyboard for 8 s: {glance:?}");
}

#[test]
fn a_steady_face_raises_nothing_and_keeps_the_far_detectors_pace() {
    use vigil_analysis::y4m::Y4mReader;
    let dir = tempfile::tempdir().unwrap();
    // A still face with a camera's noise for 30 s: its key points jitter, but its nose does not
    // move as a bow does, so the far detector keeps its pace.
    let clip = camera_clip(dir.path(), "steady", &[(Scene::Face, 30)], false).expect("a clip");
    let faces = FaceDetector::load(&models_dir()).expect("the face model");
    let heads = HeadDetector::load(&models_dir()).expect("the head model");
    let mut analyzer = VisionAnalyzer::new(VisionOptions::default(), Some(faces), Some(heads));
    let mut video = Y4mReader::open(&clip).unwrap();
    let mut n = 0u64;
    while let Some(frame) = video.next_frame().unwrap() {
        let t_ms = (n as f64 * 1000.0 / f64::from(video.fps)) as u64;
        if analyzer.wants(t_ms) {
            let edges = analyzer.push(t_ms, Grey::from_luma(&frame, video.width, video.height, video.width as usize));
            assert!(edges.is_empty(), "a steady face raises nothing: {edges:?}");
        }
        n += 1;
    }
    println!("near detector runs {}, far {}", analyzer.detections(), analyzer.head_detections());
    assert!(analyzer.head_detections() <= 17, "far detector runs: {}", analyzer.head_detections());
}

#[test]
fn the_face_mesh_reads_a_raised_head_evenly_from_face_to_face() {
    let faces = FaceDetector::load(&models_dir()).expect("the face model");
    let heads = HeadDetector::load(&models_dir()).expect("the head model");
    let mesh = FaceMesh::load(&models_dir()).expect("the face mesh");
    let dir = tempfile::tempdir().unwrap();
    // As the analysis does: the near detector's one face, or where it sees none, the far one's.
    let pitch = |scene: Scene| {
        let picture = bowed(dir.path(), scene);
        let mut found = faces.faces(&picture).unwrap();
        if found.is_empty() {
            found = heads.heads(&picture).unwrap();
        }
        assert_eq!(found.len(), 1, "{scene:?}: one face");
        let pose = mesh.pose(&picture, &found[0]).unwrap();
        pose.unwrap_or_else(|| panic!("{scene:?}: the mesh sees no face")).pitch_degrees
    };
    // The Solvay face and the astronaut, rendered raised by 10 and 30 degrees and bowed by 20,
    // each against its own frontal reading.
    for bowed in [Scene::BowedFace, Scene::BowedOtherFace] {
        let frontal = pitch(bowed(0));
        let (glance, up, down) = (pitch(bowed(-10)) - frontal, pitch(bowed(-30)) - frontal, pitch(bowed(20)) - frontal);
        println!(
            "{:?}: frontal {frontal:.1}; raised 10 reads {glance:.1}, raised 30 {up:.1}, bowed 20 {down:.1}",
            bowed(0)
        );
        assert!(up <= -15.0, "raised 30 degrees: {up}");
        assert!((-8.0..0.0).contains(&glance), "raised 10 degrees: {glance}");
        assert!(down >= 10.0, "bowed 20 degrees: {down}");
    }
    // A face too small to read is no answer.
    let small = bowed(dir.path(), Scene::BowedFace(0));
    let mut face = faces.faces(&small).unwrap()[0];
    face.area[2] = face.area[0] + 30.0;
    face.area[3] = face.area[1] + 30.0;
    assert_eq!(mesh.pose(&small, &face).unwrap(), None);
}

#[test]
fn a_head_raised_for_8_s_is_turned_away_a_glance_up_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let flags = |name: &str, scenes: &[(Scene, u32)], mesh: bool| {
        let clip = camera_clip(dir.path(), name, scenes, false).expect("a clip (ffmpeg, ImageMagick)");
        let faces = FaceDetector::load(&models_dir()).expect("the face model");
        let heads = HeadDetector::load(&models_dir()).expect("the head model");
        let mesh = mesh.then(|| FaceMesh::load(&models_dir()).expect("the face mesh"));
        let analyzer = VisionAnalyzer::new(VisionOptions::default(), Some(faces), Some(heads)).with_mesh(mesh);
        flags_in_y4m(&clip, analyzer).expect("the clip")
    };
    let scenes = [(Scene::OtherFace, 5), (Scene::BowedOtherFace(-45), 8), (Scene::OtherFace, 7)];
    let raised = flags("raised", &scenes, true);
    println!("raised 45 degrees from 5 s to 13 s: {raised:?}");
    assert!(
        matches!(&raised[..], [f] if f.kind == "face.turned"
            && (f.start_ms as f64 - 5_000.0).abs() <= 2_000.0
            && (f.end_ms as f64 - 13_000.0).abs() <= 2_000.0),
        "{raised:?}"
    );
    // BlazeFace's key points alone do not see it.
    assert_eq!(flags("raised", &scenes, false), vec![]);
    let glance =
        flags("glance", &[(Scene::OtherFace, 5), (Scene::BowedOtherFace(-15), 8), (Scene::OtherFace, 7)], true);
    assert!(glance.is_empty(), "looking up 15 degrees for 8 s: {glance:?}");
}

#[test]
fn a_face_the_far_detector_is_unsure_of_counts_where_the_face_mesh_sees_one() {
    let heads = HeadDetector::load(&models_dir()).expect("the head model");
    let mesh = FaceMesh::load(&models_dir()).expect("the face mesh");
    // A cat's head: the far detector is unsure of it, the mesh sees no face there.
    let cat = picture("chelsea.png", "400x300+20+0", &[]);
    let (sure, unsure) = heads.sure_and_unsure(&cat).unwrap();
    println!("cat: sure {sure:?}, unsure {unsure:?}");
    assert!(sure.is_empty() && !unsure.is_empty(), "{sure:?} {unsure:?}");
    assert!(unsure.iter().all(|h| !mesh.sees_face(&cat, h).unwrap()));
    // A person behind the candidate, small and faint: unsure, and a face to the mesh; so a
    // second face for 8 s is a flag with the mesh, and none without it.
    let dir = tempfile::tempdir().unwrap();
    let scenes = [(Scene::Person(3), 6), (Scene::PersonAndAnother(3, 10), 8), (Scene::Person(3), 6)];
    let clip = camera_clip(dir.path(), "behind", &scenes, false).expect("a clip (ffmpeg, ImageMagick)");
    let flags = |mesh: bool| {
        let faces = FaceDetector::load(&models_dir()).expect("the face model");
        let heads = HeadDetector::load(&models_dir()).expect("the head model");
        let mesh = mesh.then(|| FaceMesh::load(&models_dir()).expect("the face mesh"));
        flags_in_y4m(&clip, VisionAnalyzer::new(VisionOptions::default(), Some(faces), Some(heads)).with_mesh(mesh))
            .expect("the clip")
    };
    let with_mesh = flags(true);
    println!("person 10 behind person 3 from 6 s to 14 s: {with_mesh:?}");
    assert!(
        matches!(&with_mesh[..], [f] if f.kind == "face.multiple"
            && (f.start_ms as f64 - 6_000.0).abs() <= 2_000.0
            && (f.end_ms as f64 - 14_000.0).abs() <= 2_000.0),
        "{with_mesh:?}"
    );
    assert_eq!(flags(false), vec![]);
}
