//! New samples for a trained model (`dl predict`): read from a file as the
//! data source reads its own, then transformed as the training data was,
//! with the `standardize` statistics of its training rows.
//!
//! The files hold *raw* samples, before the data set's transforms: a CSV
//! with the training data's feature columns (found by header name; other
//! columns, such as the label, are ignored), a `.npy` array of samples, an
//! IDX image file like MNIST's, or PNG/JPEG images with pixel values
//! 0..255 (for data sets whose samples are images, `[1, H, W]` grey or
//! `[3, H, W]` colour).

use super::SourceKind;
use super::csv;
use super::error::{DataError, ErrorKind};
use super::idx;
use super::npy;
use super::transform::{Standardization, reshape, standardize};
use crate::ir::Transform;
use ndarray::{Array2, ArrayD, IxDyn};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What new samples must look like for a model trained on a data set, and
/// what it takes to transform them as the data set's own: saved in the
/// checkpoint so that prediction needs no training data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Per-sample shape as the source reads it, before any `reshape`.
    pub raw_shape: Vec<usize>,
    /// Per-sample shape the model takes, after the transforms.
    pub sample_shape: Vec<usize>,
    /// The number of classes; `None` for regression.
    pub classes: Option<usize>,
    /// The name of each input column (a CSV input is matched by these).
    pub feature_names: Vec<String>,
    /// The statistics of each `standardize`, in order.
    pub standardize: Vec<Standardization>,
    /// What the source is.
    pub kind: SourceKind,
}

impl InputSpec {
    /// The spec of a model used on its own, with no data set: samples of
    /// its declared input shape, taken as they are.
    pub fn of_shape(shape: &[usize]) -> InputSpec {
        InputSpec {
            raw_shape: shape.to_vec(),
            sample_shape: shape.to_vec(),
            classes: None,
            feature_names: Vec::new(),
            standardize: Vec::new(),
            kind: SourceKind::Plain,
        }
    }

    /// Elements of one raw sample.
    fn raw_len(&self) -> usize {
        self.raw_shape.iter().product()
    }

    /// Maps a value the model predicts for a series back to the series'
    /// units: a standardized series trains on standardized targets.
    pub fn unstandardize_target(&self, value: f32) -> f32 {
        match (&self.kind, self.standardize.last()) {
            (SourceKind::Series, Some(s)) if self.standardize.len() == 1 => {
                (f64::from(value) * s.std[0] + s.mean[0]) as f32
            }
            _ => value,
        }
    }
}

/// The kinds of input file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputFormat {
    /// A CSV file with a header row.
    Csv,
    /// A NumPy `.npy` array of `f32` or `f64`.
    Npy,
    /// An IDX file of unsigned-byte images (possibly gzipped).
    Idx,
    /// A PNG or JPEG image: one sample.
    Image,
}

impl InputFormat {
    /// The format of `path`, from its extension, or for a file without a
    /// known one from its first bytes (IDX, or gzip holding IDX).
    pub fn of(path: &Path) -> Result<InputFormat, DataError> {
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match extension.as_deref() {
            Some("csv") => return Ok(InputFormat::Csv),
            Some("npy") => return Ok(InputFormat::Npy),
            Some("png" | "jpg" | "jpeg") => return Ok(InputFormat::Image),
            _ => {}
        }
        let mut head = [0u8; 4];
        let read = std::fs::File::open(path)
            .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
            .map_err(|e| DataError::open(path, &e))?;
        let gzip = read >= 2 && head[..2] == [0x1f, 0x8b];
        if gzip || (read == 4 && u32::from_be_bytes(head) == idx::IMAGES_MAGIC) {
            return Ok(InputFormat::Idx);
        }
        Err(DataError::new(
            ErrorKind::BadArgument,
            "cannot tell what kind of file this is",
        )
        .at(path)
        .with_help("give a .csv, .npy, .png or .jpg file, or an IDX image file"))
    }
}

/// Reads the samples of `paths` (in order, each file one or more samples)
/// and transforms them with `transforms` as `spec` says: the model's input,
/// `[samples, sample_shape...]`. With `resize`, images of another size
/// are resized to the model's (bilinear).
pub fn read_input(
    paths: &[&Path],
    spec: &InputSpec,
    transforms: &[Transform],
    resize: bool,
) -> Result<ArrayD<f32>, DataError> {
    if let SourceKind::Text { .. } = spec.kind {
        return Err(DataError::new(
            ErrorKind::BadArgument,
            "a model of `text` data predicts characters: use `dl sample`",
        ));
    }
    let mut rows = Vec::new();
    let mut count = 0;
    for &path in paths {
        let x = read_raw(path, spec, resize)?;
        count += x.nrows();
        rows.extend(x);
    }
    let mut x = Array2::from_shape_vec((count, spec.raw_len()), rows)
        .expect("every file gave rows of the raw length");
    apply_fitted(&mut x, transforms, spec)?;
    let mut shape = spec.raw_shape.clone();
    for t in transforms {
        if let Transform::Reshape(dims) = t {
            shape = reshape(&shape, dims)?;
        }
    }
    let mut full = vec![count];
    full.extend(&shape);
    Ok(x.into_shape_with_order(IxDyn(&full))
        .expect("the reshapes keep the element count"))
}

/// The value transforms of `transforms` applied to new samples `x` (one
/// row each, as the source reads them), with the statistics that
/// `standardize` took from the training rows (`spec.standardize`, in
/// order), exactly as `transform::apply` transformed the data's own rows.
fn apply_fitted(
    x: &mut Array2<f32>,
    transforms: &[Transform],
    spec: &InputSpec,
) -> Result<(), DataError> {
    let mut fitted = spec.standardize.iter();
    for t in transforms {
        match t {
            Transform::Scale(k) => {
                let k = *k as f32;
                x.mapv_inplace(|v| v * k);
            }
            Transform::Standardize => {
                let stats = fitted.next().ok_or_else(|| {
                    bad("the weights hold fewer `standardize` statistics than the data has transforms")
                })?;
                if spec.kind == SourceKind::Series {
                    let (m, s) = (stats.mean[0], stats.std[0]);
                    x.mapv_inplace(|v| ((f64::from(v) - m) / s) as f32);
                } else {
                    if stats.mean.len() != x.ncols() {
                        return Err(bad(format!(
                            "the saved `standardize` statistics are for {} features, the input has {}",
                            stats.mean.len(),
                            x.ncols()
                        )));
                    }
                    standardize(x, stats);
                }
            }
            Transform::Reshape(_) | Transform::Shuffle { .. } | Transform::Split { .. } => {}
        }
    }
    Ok(())
}

/// One file's samples as rows of raw values.
fn read_raw(path: &Path, spec: &InputSpec, resize: bool) -> Result<Array2<f32>, DataError> {
    match InputFormat::of(path)? {
        InputFormat::Csv => csv::feature_columns(path, &spec.feature_names),
        InputFormat::Npy => read_npy(path, spec),
        InputFormat::Idx => read_idx(path, spec),
        InputFormat::Image => read_image(path, spec, resize),
    }
}

/// The shape of samples, as text: `[1, 28, 28]`.
fn shape_text(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    format!("[{}]", dims.join(", "))
}

fn bad(message: impl Into<String>) -> DataError {
    DataError::new(ErrorKind::BadArgument, message)
}

fn wrong_shape(path: &Path, message: String) -> DataError {
    DataError::new(ErrorKind::WrongShape, message).at(path)
}

/// A `.npy` array: one sample of the raw shape, or samples along its first
/// axis (each of the raw shape, or flat).
fn read_npy(path: &Path, spec: &InputSpec) -> Result<Array2<f32>, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::open(path, &e))?;
    let array = npy::parse(&bytes)
        .map_err(|message| DataError::new(ErrorKind::BadArgument, message).at(path))?;
    let shape = array.shape().to_vec();
    let len = spec.raw_len();
    let samples = if shape == spec.raw_shape {
        1
    } else if shape.len() >= 2 && shape[1..].iter().product::<usize>() == len {
        shape[0]
    } else {
        return Err(wrong_shape(
            path,
            format!(
                "the array has shape {}; the model takes samples of shape {}, so give one \
                 sample of that shape or an array of shape [N, {}]",
                shape_text(&shape),
                shape_text(&spec.raw_shape),
                spec.raw_shape
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    let values: Vec<f32> = array.into_iter().collect();
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(DataError::new(
            ErrorKind::NotNumeric,
            format!("value {i} (in C order) is not finite"),
        )
        .at(path));
    }
    Ok(Array2::from_shape_vec((samples, len), values).expect("sizes checked"))
}

/// An IDX file of images, each of the raw sample's height and width.
fn read_idx(path: &Path, spec: &InputSpec) -> Result<Array2<f32>, DataError> {
    let (dims, data) = idx::read(path, idx::IMAGES_MAGIC)?;
    let &[count, rows, cols] = dims.as_slice() else {
        return Err(DataError::new(
            ErrorKind::BadIdx,
            format!("an IDX image file has 3 sizes, this one {}", dims.len()),
        )
        .at(path));
    };
    let fits = match spec.raw_shape.as_slice() {
        [1, h, w] | [h, w] => (*h, *w) == (rows, cols),
        other => other.iter().product::<usize>() == rows * cols,
    };
    if !fits {
        return Err(wrong_shape(
            path,
            format!(
                "the file holds {rows}x{cols} images; the model takes samples of shape {}",
                shape_text(&spec.raw_shape)
            ),
        ));
    }
    let values = data.iter().map(|&b| f32::from(b)).collect();
    Ok(Array2::from_shape_vec((count, rows * cols), values).expect("sizes checked"))
}

/// A PNG or JPEG image as one sample `[channels, height, width]` of values
/// 0..255: grey for one channel, red, green and blue for three.
fn read_image(path: &Path, spec: &InputSpec, resize: bool) -> Result<Array2<f32>, DataError> {
    let &[channels, height, width] = spec.raw_shape.as_slice() else {
        return Err(wrong_shape(
            path,
            format!(
                "the model takes samples of shape {}, not images [channels, height, width]",
                shape_text(&spec.raw_shape)
            ),
        ));
    };
    if channels != 1 && channels != 3 {
        return Err(wrong_shape(
            path,
            format!(
                "the model takes images of {channels} channels; a picture has 1 (grey) or 3 (colour)"
            ),
        ));
    }
    let image = image::ImageReader::open(path)
        .map_err(|e| DataError::open(path, &e))?
        .with_guessed_format()
        .map_err(|e| DataError::open(path, &e))?
        .decode()
        .map_err(|e| {
            DataError::new(
                ErrorKind::BadArgument,
                format!("cannot decode the image: {e}"),
            )
            .at(path)
        })?;
    let (w, h) = (image.width() as usize, image.height() as usize);
    let image = if (h, w) == (height, width) {
        image
    } else if resize {
        image.resize_exact(
            width as u32,
            height as u32,
            image::imageops::FilterType::Triangle,
        )
    } else {
        return Err(wrong_shape(
            path,
            format!("the image is {w}x{h} pixels; the model takes {width}x{height}"),
        )
        .with_help("resize it first, or pass --resize"));
    };
    let values: Vec<f32> = if channels == 1 {
        image
            .to_luma8()
            .into_raw()
            .into_iter()
            .map(f32::from)
            .collect()
    } else {
        // Interleaved RGB to planes: channel-major, as the model reads it.
        let rgb = image.to_rgb8().into_raw();
        (0..3)
            .flat_map(|c| rgb.iter().skip(c).step_by(3).map(|&v| f32::from(v)))
            .collect()
    };
    Ok(Array2::from_shape_vec((1, values.len()), values).expect("one sample"))
}
