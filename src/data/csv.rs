//! The `csv` and `series` sources.
//!
//! Files have one header row; cells are trimmed of surrounding spaces and
//! blank lines are skipped. Every cell other than the target must hold a
//! finite number (missing values are not supported).

use super::error::{DataError, ErrorKind};
use super::{Source, SourceKind, Targets};
use ::csv::{ReaderBuilder, StringRecord, Trim};
use ndarray::Array2;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// A CSV file's header and rows, each row with its 1-based line number.
struct Table {
    header: Vec<String>,
    rows: Vec<(u64, StringRecord)>,
}

/// The 1-based line numbers of a file's bytes, as an editor counts them: a
/// line ends at `\n`, `\r\n` or a lone `\r` (the line ends the `csv` crate
/// accepts).
struct Lines<'a> {
    bytes: &'a [u8],
    /// The offset at which each line after the first starts.
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Lines<'a> {
        let starts = bytes
            .iter()
            .enumerate()
            .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
            .map(|(i, _)| i + 1)
            .collect();
        Lines { bytes, starts }
    }

    /// The line of the record the `csv` crate places at `position`.
    ///
    /// The crate's own line count is unreliable: a record's position is where
    /// the reader started looking for it, which is before the `\n` of a
    /// `\r\n` ending the previous row and before any blank lines, and a lone
    /// `\r` is not counted at all. The record's first byte is the first one
    /// from there that ends no line.
    fn of(&self, position: &::csv::Position) -> u64 {
        let from = (position.byte() as usize).min(self.bytes.len());
        let first = self.bytes[from..]
            .iter()
            .position(|&b| b != b'\n' && b != b'\r')
            .map_or(self.bytes.len(), |i| from + i);
        self.starts.partition_point(|&start| start <= first) as u64 + 1
    }
}

/// Reads the whole file, checking that every row has as many fields as the
/// header.
fn read_table(path: &Path) -> Result<Table, DataError> {
    let mut file = File::open(path).map_err(|e| DataError::open(path, &e))?;
    if path.is_dir() {
        return Err(DataError::new(ErrorKind::Io, "is a folder, not a CSV file").at(path));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| DataError::open(path, &e))?;
    let lines = Lines::new(&bytes);
    let mut reader = ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(Trim::All)
        .from_reader(bytes.as_slice());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(path, &lines, &e))?
        .iter()
        .map(str::to_string)
        .collect();
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err(DataError::new(ErrorKind::Empty, "the file is empty")
            .at(path)
            .with_help("a CSV file needs a header row naming its columns"));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, &lines, &e))?;
        let line = record.position().map_or(0, |p| lines.of(p));
        if record.len() != header.len() {
            return Err(DataError::new(
                ErrorKind::RaggedRow,
                format!(
                    "this row has {} fields but the header has {} columns",
                    record.len(),
                    header.len()
                ),
            )
            .at(path)
            .with_line(line));
        }
        rows.push((line, record));
    }
    if rows.is_empty() {
        return Err(DataError::new(ErrorKind::Empty, "no data rows after the header").at(path));
    }
    Ok(Table { header, rows })
}

fn csv_error(path: &Path, lines: &Lines, err: &::csv::Error) -> DataError {
    // The crate's own message names its line count, which may be wrong.
    let message = match err.kind() {
        ::csv::ErrorKind::Utf8 { err, .. } => format!(
            "column {} is not valid UTF-8 text (save the file as UTF-8)",
            err.field() + 1
        ),
        ::csv::ErrorKind::Io(err) => format!("cannot read the file: {err}"),
        _ => format!("cannot read the file: {err}"),
    };
    let mut e = DataError::new(ErrorKind::Io, message).at(path);
    if let Some(line) = err.position().map(|p| lines.of(p)) {
        e = e.with_line(line);
    }
    e
}

/// The index of the column called `name`, or an error listing the columns.
fn find_column(table: &Table, path: &Path, name: &str) -> Result<usize, DataError> {
    if let Some(i) = table.header.iter().position(|h| h == name) {
        return Ok(i);
    }
    let mut err = DataError::new(
        ErrorKind::UnknownColumn,
        format!(
            "no column named `{name}`; the columns are: {}",
            table.header.join(", ")
        ),
    )
    .at(path);
    if let Some(best) = table
        .header
        .iter()
        .filter(|h| strsim::jaro_winkler(h, name) > 0.8)
        .max_by(|a, b| strsim::jaro_winkler(a, name).total_cmp(&strsim::jaro_winkler(b, name)))
    {
        err = err.with_help(format!("did you mean `{best}`?"));
    }
    Err(err)
}

/// The columns `names` of the CSV file at `path`, in that order, as rows of
/// numbers (other columns are ignored): new samples of a model trained on
/// a `csv` data set with these feature names.
pub(crate) fn feature_columns(path: &Path, names: &[String]) -> Result<Array2<f32>, DataError> {
    let table = read_table(path)?;
    let columns = names
        .iter()
        .map(|name| find_column(&table, path, name))
        .collect::<Result<Vec<usize>, DataError>>()?;
    let mut x = Vec::with_capacity(table.rows.len() * names.len());
    for (line, record) in &table.rows {
        for (&j, name) in columns.iter().zip(names) {
            x.push(number(record.get(j).unwrap_or(""), path, *line, j, name)?);
        }
    }
    Ok(Array2::from_shape_vec((table.rows.len(), names.len()), x)
        .expect("csv: one value per column and row"))
}

/// Parses a feature or target cell as a finite `f32`.
fn number(cell: &str, path: &Path, line: u64, col: usize, name: &str) -> Result<f32, DataError> {
    match cell.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => {
            let message = if cell.is_empty() {
                "empty cell; missing values are not supported".to_string()
            } else {
                format!("cannot read `{cell}` as a number")
            };
            Err(DataError::new(ErrorKind::NotNumeric, message)
                .at(path)
                .with_line(line)
                .with_column(col + 1, name))
        }
    }
}

/// Parses a class label: a non-negative integer (`2` or `2.0`), below
/// `classes` when that is given.
fn label(
    cell: &str,
    classes: Option<u64>,
    path: &Path,
    line: u64,
    col: usize,
    name: &str,
) -> Result<u32, DataError> {
    let fail = |kind, message: String| {
        Err(DataError::new(kind, message)
            .at(path)
            .with_line(line)
            .with_column(col + 1, name))
    };
    let value: i128 = match cell.parse::<i128>() {
        Ok(v) => v,
        Err(_) => match cell.parse::<f64>() {
            Ok(v) if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e18 => v as i128,
            Ok(v) if v.is_finite() => {
                return fail(
                    ErrorKind::BadLabel,
                    format!("label `{cell}` is not an integer; labels are class ids 0, 1, 2, ..."),
                );
            }
            _ => {
                return fail(
                    ErrorKind::NotNumeric,
                    if cell.is_empty() {
                        "empty label cell".to_string()
                    } else {
                        format!("cannot read label `{cell}` as a number")
                    },
                );
            }
        },
    };
    if value < 0 {
        return fail(
            ErrorKind::BadLabel,
            format!("label `{cell}` is negative; labels are class ids 0, 1, 2, ..."),
        );
    }
    if let Some(k) = classes
        && value >= i128::from(k)
    {
        return fail(
            ErrorKind::BadLabel,
            format!(
                "label `{cell}` is out of range for classes = {k} (labels must be 0..{})",
                k - 1
            ),
        );
    }
    if value > i128::from(u32::MAX) {
        return fail(
            ErrorKind::BadLabel,
            format!("label `{cell}` is out of range"),
        );
    }
    Ok(value as u32)
}

/// `csv(path, label = column, classes = k)` or `csv(path, target = column)`.
///
/// All columns except `column` are features, in file order. Labels must be
/// non-negative integers; the class count is `classes` when given (labels
/// must then be below it), else the largest label plus one.
pub(crate) fn read(
    path: &Path,
    column: &str,
    is_label: bool,
    classes: Option<i64>,
) -> Result<Source, DataError> {
    let table = read_table(path)?;
    let target = find_column(&table, path, column)?;
    let declared = match classes {
        Some(k) if k < 1 => {
            return Err(DataError::new(
                ErrorKind::BadArgument,
                format!("classes = {k}: the class count must be positive"),
            ));
        }
        Some(k) => Some(k as u64),
        None => None,
    };
    let features = table.header.len() - 1;
    let mut x = Vec::with_capacity(table.rows.len() * features);
    let mut labels = Vec::new();
    let mut values = Vec::new();
    for (line, record) in &table.rows {
        for (j, cell) in record.iter().enumerate() {
            let name = &table.header[j];
            if j == target {
                if is_label {
                    labels.push(label(cell, declared, path, *line, j, name)?);
                } else {
                    values.push(number(cell, path, *line, j, name)?);
                }
            } else {
                x.push(number(cell, path, *line, j, name)?);
            }
        }
    }
    let n = table.rows.len();
    let x = Array2::from_shape_vec((n, features), x).expect("csv: row lengths were checked");
    let (y, classes) = if is_label {
        let k = match declared {
            Some(k) => k as usize,
            None => labels.iter().max().map_or(0, |&m| m as usize + 1),
        };
        (Targets::Classes(labels), Some(k))
    } else {
        let y = Array2::from_shape_vec((n, 1), values).expect("csv: one target per row");
        (Targets::Values(y), None)
    };
    let mut feature_names = table.header;
    feature_names.remove(target);
    Ok(Source {
        x,
        y,
        test: None,
        sample_shape: vec![features],
        classes,
        feature_names,
        kind: SourceKind::Plain,
    })
}

/// `series(path, column, window = w, horizon = h)`: sliding windows over one
/// column of a CSV file (other columns are ignored but must be well formed).
///
/// Sample `i` has inputs `s[i], ..., s[i + w - 1]` (shape `[w, 1]`) and the
/// target `s[i + w - 1 + h]`, the value `h` steps after the window, so a
/// series of length `L` gives `L - w - h + 1` samples, in time order.
/// Targets are regression values (`[1]`); `standardize` scales them with
/// the inputs (one mean and deviation for the whole series).
pub(crate) fn series(
    path: &Path,
    column: &str,
    window: i64,
    horizon: i64,
) -> Result<Source, DataError> {
    if window < 1 || horizon < 1 {
        return Err(DataError::new(
            ErrorKind::BadArgument,
            format!("series: window ({window}) and horizon ({horizon}) must be positive"),
        ));
    }
    let table = read_table(path)?;
    let col = find_column(&table, path, column)?;
    let values: Vec<f32> = table
        .rows
        .iter()
        .map(|(line, record)| number(&record[col], path, *line, col, column))
        .collect::<Result<_, _>>()?;
    let (w, h) = (window as usize, horizon as usize);
    let len = values.len();
    if len < w + h {
        return Err(DataError::new(
            ErrorKind::BadArgument,
            format!(
                "the series has {len} values, too few for window = {w} and horizon = {h} (needs at least {})",
                w + h
            ),
        )
        .at(path));
    }
    let n = len - w - h + 1;
    let mut x = Vec::with_capacity(n * w);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        x.extend_from_slice(&values[i..i + w]);
        y.push(values[i + w - 1 + h]);
    }
    let feature_names = (0..w)
        .map(|k| match w - 1 - k {
            0 => format!("{column}[t]"),
            lag => format!("{column}[t-{lag}]"),
        })
        .collect();
    Ok(Source {
        x: Array2::from_shape_vec((n, w), x).expect("series: n windows of w values"),
        y: Targets::Values(Array2::from_shape_vec((n, 1), y).expect("series: n targets")),
        test: None,
        sample_shape: vec![w, 1],
        classes: None,
        feature_names,
        kind: SourceKind::Series,
    })
}
