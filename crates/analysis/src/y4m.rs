//! Raw video in YUV4MPEG2 (`.y4m`, as `ffmpeg -f yuv4mpegpipe` writes it): 4:2:0 pictures after
//! a one-line header. For `vigil analyze` and for a camera played from a file.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum Y4mError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not a YUV4MPEG2 file ({detail})")]
    Format { path: String, detail: String },
}

/// A Y4M file being read, picture by picture.
pub struct Y4mReader {
    path: String,
    input: BufReader<Box<dyn Read + Send>>,
    pub width: u32,
    pub height: u32,
    /// Pictures per second, from the header's `F` (25 if absent).
    pub fps: f32,
}

impl std::fmt::Debug for Y4mReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Y4mReader({} {}x{} at {} fps)", self.path, self.width, self.height, self.fps)
    }
}

impl Y4mReader {
    pub fn open(path: &Path) -> Result<Y4mReader, Y4mError> {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|source| Y4mError::Io { path: name.clone(), source })?;
        Y4mReader::new(name, Box::new(file))
    }

    /// Reads the header from `input`.
    pub fn new(path: String, input: Box<dyn Read + Send>) -> Result<Y4mReader, Y4mError> {
        let mut input = BufReader::new(input);
        let bad = |detail: &str| Y4mError::Format { path: path.clone(), detail: detail.to_owned() };
        let mut header = Vec::new();
        (&mut input)
            .take(1024)
            .read_until(b'\n', &mut header)
            .map_err(|source| Y4mError::Io { path: path.clone(), source })?;
        let header = String::from_utf8_lossy(&header);
        let mut words = header.trim_end().split(' ');
        if words.next() != Some("YUV4MPEG2") {
            return Err(bad("no YUV4MPEG2 signature"));
        }
        let (mut width, mut height, mut fps) = (0u32, 0u32, 25.0f32);
        for w in words {
            let (tag, value) = w.split_at(w.len().min(1));
            match tag {
                "W" => width = value.parse().map_err(|_| bad("bad width"))?,
                "H" => height = value.parse().map_err(|_| bad("bad height"))?,
                "F" => {
                    let (n, d) = value.split_once(':').ok_or_else(|| bad("bad frame rate"))?;
                    let (n, d): (f32, f32) =
                        (n.parse().map_err(|_| bad("bad frame rate"))?, d.parse().map_err(|_| bad("bad frame rate"))?);
                    fps = if n > 0.0 && d > 0.0 { n / d } else { return Err(bad("bad frame rate")) };
                }
                "C" if !value.starts_with("420") => {
                    return Err(bad(&format!("colour space C{value}: only 4:2:0 is read")))
                }
                _ => {}
            }
        }
        if width == 0 || height == 0 || width % 2 == 1 || height % 2 == 1 || width > 8192 || height > 8192 {
            return Err(bad(&format!("picture size {width}x{height}: even sizes up to 8192 are read")));
        }
        Ok(Y4mReader { path, input, width, height, fps })
    }

    /// Bytes of one 4:2:0 picture (Y, then U and V at a quarter size each).
    pub fn frame_len(&self) -> usize {
        let (w, h) = (self.width as usize, self.height as usize);
        w * h + 2 * (w / 2) * (h / 2)
    }

    /// The next picture (I420), or `None` at the end of the file.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, Y4mError> {
        let io = |path: &str, source| Y4mError::Io { path: path.to_owned(), source };
        let mut line = Vec::new();
        (&mut self.input).take(1024).read_until(b'\n', &mut line).map_err(|e| io(&self.path, e))?;
        if line.is_empty() {
            return Ok(None);
        }
        if !line.starts_with(b"FRAME") {
            return Err(Y4mError::Format {
                path: self.path.clone(),
                detail: "a picture without its FRAME mark".into(),
            });
        }
        let mut frame = vec![0; self.frame_len()];
        match self.input.read_exact(&mut frame) {
            Ok(()) => Ok(Some(frame)),
            // A file cut in the middle of its last picture ends there.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(io(&self.path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(bytes: Vec<u8>) -> Result<Y4mReader, Y4mError> {
        Y4mReader::new("test.y4m".into(), Box::new(std::io::Cursor::new(bytes)))
    }

    #[test]
    fn pictures_are_read_until_the_end() {
        let mut file = b"YUV4MPEG2 W4 H2 F30000:1001 Ip A1:1 C420jpeg\n".to_vec();
        for v in [10u8, 20] {
            file.extend(b"FRAME\n");
            file.extend(std::iter::repeat_n(v, 4 * 2 + 2 * 2));
        }
        let mut r = reader(file).unwrap();
        assert_eq!((r.width, r.height, (r.fps * 100.0).round()), (4, 2, 2997.0));
        assert_eq!(r.next_frame().unwrap().unwrap()[0], 10);
        assert_eq!(r.next_frame().unwrap().unwrap()[0], 20);
        assert!(r.next_frame().unwrap().is_none());
    }

    #[test]
    fn other_files_are_refused_with_the_reason() {
        assert!(reader(b"RIFF....WAVE".to_vec()).unwrap_err().to_string().contains("no YUV4MPEG2 signature"));
        let e = reader(b"YUV4MPEG2 W4 H2 C444\n".to_vec()).unwrap_err().to_string();
        assert!(e.contains("only 4:2:0"), "{e}");
        assert!(reader(b"YUV4MPEG2 W3 H2\n".to_vec()).is_err());
    }
}
