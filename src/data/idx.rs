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
use std::io::Read;
use std::path::{Path, PathBuf};

/// Magic number of an IDX file of unsigned-byte 3-d arrays (images).
pub(crate) const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned-byte vectors (labels).
pub(crate) const LABELS_MAGIC: u32 = 0x0000_0801;

/// Reads a file, decompressing it when it starts with the gzip magic.
pub(crate) fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::open(path, &e))?;
    if raw.len() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
        let mut out = Vec::with_capacity(raw.len() * 5);
        MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| {
                let kind = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    ErrorKind::Truncated
                } else {
                    ErrorKind::Io
                };
                DataError::new(kind, format!("cannot decompress the gzip data: {e}")).at(path)
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Checks an IDX header against `magic` and returns the sizes and the data.
pub(crate) fn parse<'a>(
    bytes: &'a [u8],
    magic: u32,
    path: &Path,
) -> Result<(Vec<usize>, &'a [u8]), DataError> {
    let what = if magic == IMAGES_MAGIC {
        "IDX images"
    } else {
        "IDX labels"
    };
    if bytes.len() < 4 {
        return Err(DataError::new(
            ErrorKind::Truncated,
            format!(
                "file too short ({} bytes) to hold an IDX header",
                bytes.len()
            ),
        )
        .at(path));
    }
    let found = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if found != magic {
        return Err(DataError::new(
            ErrorKind::BadIdx,
            format!(
                "bad magic number 0x{found:08x}; expected 0x{magic:08x} ({what}, unsigned bytes)"
            ),
        )
        .at(path));
    }
    let ndim = bytes[3] as usize;
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(DataError::new(
            ErrorKind::Truncated,
            format!(
                "file too short ({} bytes) for its {header}-byte IDX header",
                bytes.len()
            ),
        )
        .at(path));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let data = &bytes[header..];
    match expected {
        Some(n) if n == data.len() => Ok((dims, data)),
        Some(n) if n > data.len() => Err(DataError::new(
            ErrorKind::Truncated,
            format!(
                "truncated: the header announces {n} data bytes ({}) but only {} follow",
                dims.iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(" x "),
                data.len()
            ),
        )
        .at(path)),
        _ => Err(DataError::new(
            ErrorKind::BadIdx,
            format!(
                "the file holds {} data bytes, more than its header announces ({})",
                data.len(),
                dims.iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(" x ")
            ),
        )
        .at(path)),
    }
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
    let image_bytes = read_maybe_gz(&image_path)?;
    let (dims, pixels) = parse(&image_bytes, IMAGES_MAGIC, &image_path)?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    if (rows, cols) != (28, 28) {
        return Err(DataError::new(
            ErrorKind::BadIdx,
            format!("the images are {rows} x {cols} pixels; `mnist` expects 28 x 28"),
        )
        .at(&image_path));
    }
    let label_bytes = read_maybe_gz(&label_path)?;
    let (label_dims, labels) = parse(&label_bytes, LABELS_MAGIC, &label_path)?;
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
