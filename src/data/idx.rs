//! The `mnist` source: the four IDX files of the MNIST database.
//!
//! An IDX file is a big-endian header — two zero bytes, a type byte (`0x08`
//! for unsigned bytes) and the number of dimensions — followed by one `u32`
//! size per dimension and the data. Images are magic `0x00000803` (2051,
//! `count × rows × cols`), labels `0x00000801` (2049, `count`). Files may be
//! gzipped; that is detected by the gzip magic `1f 8b`, not by the name.

use super::error::{DataError, ErrorKind};
use super::{Part, Source, SourceKind, Targets};
use flate2::read::MultiGzDecoder;
use ndarray::Array2;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Magic number of an IDX file of unsigned-byte 3-d arrays (images).
pub(crate) const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned-byte vectors (labels).
pub(crate) const LABELS_MAGIC: u32 = 0x0000_0801;

/// Reads the IDX file at `path` (gzipped or not: the gzip magic `1f 8b`
/// decides) holding `magic`: its sizes and data bytes.
///
/// The header is read and checked first, then exactly the data bytes it
/// announces, so that a file with a bad header costs nothing and
/// decompression stops where the header says the data ends (a small gzip
/// file can expand to gigabytes); one byte more than announced is an error.
pub(crate) fn read(path: &Path, magic: u32) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let what = if magic == IMAGES_MAGIC {
        "IDX images"
    } else {
        "IDX labels"
    };
    let file = File::open(path).map_err(|e| DataError::open(path, &e))?;
    let mut file = BufReader::new(file);
    let gzipped = file
        .fill_buf()
        .map(|b| b.starts_with(&[0x1f, 0x8b]))
        .map_err(|e| DataError::open(path, &e))?;
    let mut reader: Box<dyn Read> = if gzipped {
        Box::new(MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let failed = |e: std::io::Error| {
        let kind = if e.kind() == std::io::ErrorKind::UnexpectedEof {
            ErrorKind::Truncated
        } else {
            ErrorKind::Io
        };
        let message = if gzipped {
            format!("cannot decompress the gzip data: {e}")
        } else {
            format!("cannot read it: {e}")
        };
        DataError::new(kind, message).at(path)
    };
    let mut head = [0u8; 4];
    let got = read_up_to(&mut reader, &mut head).map_err(failed)?;
    if got < head.len() {
        return Err(DataError::new(
            ErrorKind::Truncated,
            format!("file too short ({got} bytes) to hold an IDX header"),
        )
        .at(path));
    }
    let found = u32::from_be_bytes(head);
    if found != magic {
        return Err(DataError::new(
            ErrorKind::BadIdx,
            format!(
                "bad magic number 0x{found:08x}; expected 0x{magic:08x} ({what}, unsigned bytes)"
            ),
        )
        .at(path));
    }
    let mut sizes = vec![0u8; 4 * head[3] as usize];
    let got = read_up_to(&mut reader, &mut sizes).map_err(failed)?;
    if got < sizes.len() {
        return Err(DataError::new(
            ErrorKind::Truncated,
            format!(
                "file too short ({} bytes) for its {}-byte IDX header",
                4 + got,
                4 + sizes.len()
            ),
        )
        .at(path));
    }
    let dims: Vec<usize> = sizes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let shown = dims
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(" x ");
    let expected = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| {
            DataError::new(
                ErrorKind::BadIdx,
                format!("the header's sizes ({shown}) are too large to exist"),
            )
            .at(path)
        })?;
    let mut data = Vec::new();
    reader
        .by_ref()
        .take(expected as u64)
        .read_to_end(&mut data)
        .map_err(failed)?;
    if data.len() < expected {
        return Err(DataError::new(
            ErrorKind::Truncated,
            format!(
                "truncated: the header announces {expected} data bytes ({shown}) but only {} follow",
                data.len()
            ),
        )
        .at(path));
    }
    if read_up_to(&mut reader, &mut [0u8; 1]).map_err(failed)? > 0 {
        return Err(DataError::new(
            ErrorKind::BadIdx,
            format!(
                "the file holds more data than its header announces ({shown}: {expected} bytes)"
            ),
        )
        .at(path));
    }
    Ok((dims, data))
}

/// Fills as much of `buf` as the reader has; the number of bytes read.
fn read_up_to(reader: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Finds `name` or `name.gz` in `dir`.
fn locate(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    for candidate in [name.to_string(), format!("{name}.gz")] {
        let path = dir.join(&candidate);
        if path.is_file() {
            return Ok(path);
        }
    }
    if !dir.is_dir() {
        return Err(DataError::missing(dir, "MNIST folder not found"));
    }
    Err(DataError::missing(
        &dir.join(name),
        format!("MNIST file not found (looked for `{name}` and `{name}.gz`)"),
    ))
}

/// Reads one images/labels pair into a part with raw 0..255 pixel values.
fn read_pair(dir: &Path, images: &str, labels: &str) -> Result<(Part, [usize; 2]), DataError> {
    let image_path = locate(dir, images)?;
    let label_path = locate(dir, labels)?;
    let (dims, pixels) = read(&image_path, IMAGES_MAGIC)?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    if (rows, cols) != (28, 28) {
        return Err(DataError::new(
            ErrorKind::BadIdx,
            format!("the images are {rows} x {cols} pixels; `mnist` expects 28 x 28"),
        )
        .at(&image_path));
    }
    let (label_dims, labels) = read(&label_path, LABELS_MAGIC)?;
    if label_dims[0] != count {
        return Err(DataError::new(
            ErrorKind::CountMismatch,
            format!(
                "{} labels here but {count} images in {}",
                label_dims[0],
                image_path.display()
            ),
        )
        .at(&label_path));
    }
    if let Some((i, &bad)) = labels.iter().enumerate().find(|(_, l)| **l > 9) {
        return Err(DataError::new(
            ErrorKind::BadLabel,
            format!("label {bad} of sample {i} is out of range (MNIST classes are 0..9)"),
        )
        .at(&label_path));
    }
    let x: Vec<f32> = pixels.iter().map(|&p| f32::from(p)).collect();
    let part = Part {
        x: Array2::from_shape_vec((count, rows * cols), x).expect("idx: sizes were checked"),
        y: Targets::Classes(labels.iter().map(|&l| u32::from(l)).collect()),
    };
    Ok((part, [rows, cols]))
}

/// `mnist(dir)`: `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each optionally
/// with a `.gz` suffix. The 60,000 training images are the rows; the 10,000
/// test images come as the source's own test part. Samples are `[1, 28, 28]`
/// with raw pixel values 0..255 (programs write `scale(1 / 255)`).
pub(crate) fn mnist(dir: &Path) -> Result<Source, DataError> {
    let (train, [rows, cols]) =
        read_pair(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte")?;
    let (test, _) = read_pair(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")?;
    let feature_names = (0..rows)
        .flat_map(|r| (0..cols).map(move |c| format!("pixel_{r}_{c}")))
        .collect();
    Ok(Source {
        x: train.x,
        y: train.y,
        test: Some(test),
        sample_shape: vec![1, rows, cols],
        classes: Some(10),
        feature_names,
        kind: SourceKind::Plain,
    })
}
