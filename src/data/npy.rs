//! NumPy `.npy` files: a reader for little-endian `f32` or `f64` values in
//! C order, the form `numpy.save` writes for float arrays, and a writer of
//! `f32` arrays.

use ndarray::{ArrayD, IxDyn};

/// Reads a `.npy` file's bytes into an array (`f64` values are rounded to `f32`).
pub fn parse(bytes: &[u8]) -> Result<ArrayD<f32>, String> {
    let rest = bytes
        .strip_prefix(b"\x93NUMPY")
        .ok_or("not a .npy file (it does not start with \\x93NUMPY)")?;
    let (&major, rest) = rest.split_first().ok_or("truncated header")?;
    let rest = rest.get(1..).ok_or("truncated header")?;
    let (length, rest) = match major {
        1 => {
            let b = rest.get(..2).ok_or("truncated header")?;
            (u16::from_le_bytes([b[0], b[1]]) as usize, &rest[2..])
        }
        2 | 3 => {
            let b = rest.get(..4).ok_or("truncated header")?;
            (
                u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize,
                &rest[4..],
            )
        }
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let header = rest.get(..length).ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "the header is not text")?;
    let data = &rest[length..];
    let descr = field(header, "descr")?;
    let width: usize = match descr.trim_matches(|c| c == '\'' || c == '"') {
        "<f4" => 4,
        "<f8" => 8,
        other => {
            return Err(format!(
                "values of type `{other}` are not supported; save little-endian float32 or float64"
            ));
        }
    };
    if field(header, "fortran_order")?.starts_with("True") {
        return Err("Fortran-order arrays are not supported; save with C order".into());
    }
    let shape = shape(&field(header, "shape")?)?;
    // NOTE: the sizes other than zero must multiply to something an array
    // can index even when a zero makes the array empty.
    let fits = |n: &usize| *n <= isize::MAX as usize;
    let mut nonzero = shape.iter().filter(|&&d| d != 0);
    if nonzero
        .try_fold(width, |a, &d| a.checked_mul(d))
        .filter(fits)
        .is_none()
    {
        return Err(format!(
            "the shape {shape:?} is too large: it needs more bytes than can exist"
        ));
    }
    let needed = shape.iter().try_fold(width, |a, &d| a.checked_mul(d));
    if needed != Some(data.len()) {
        return Err(format!(
            "the shape {shape:?} needs {} bytes of data, the file has {}",
            needed.unwrap_or(0),
            data.len()
        ));
    }
    let values: Vec<f32> = if width == 4 {
        data.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    } else {
        data.chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect()
    };
    Ok(ArrayD::from_shape_vec(IxDyn(&shape), values).expect("count checked"))
}

/// The bytes of a version 1.0 `.npy` file holding `values` (`f32`, C order)
/// of `shape`, as `numpy.save` writes them.
pub fn to_bytes(shape: &[usize], values: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape_text = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    with_header(header, &data)
}

/// A version 1.0 `.npy` file: the magic (6 bytes), the version (2) and the
/// header's length (2), then the header dictionary padded with spaces and
/// ended by a newline to a multiple of 64 bytes, then `data`.
fn with_header(mut header: String, data: &[u8]) -> Vec<u8> {
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

/// The text of `'key': VALUE` in the header dictionary, up to the next key.
fn field(header: &str, key: &str) -> Result<String, String> {
    let start = header
        .find(&format!("'{key}'"))
        .ok_or(format!("the header has no `{key}`"))?;
    let after = &header[start + key.len() + 2..];
    let after = after
        .trim_start()
        .strip_prefix(':')
        .unwrap_or(after)
        .trim_start();
    let end = if after.starts_with('(') {
        after.find(')').map_or(after.len(), |e| e + 1)
    } else {
        after.find(',').unwrap_or(after.len())
    };
    Ok(after[..end].trim().to_string())
}

fn shape(text: &str) -> Result<Vec<usize>, String> {
    let inner = text
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or(format!("cannot read the shape `{text}`"))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| format!("cannot read the shape `{text}`"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes `numpy.save` writes (version 1.0, header padded to 64 bytes).
    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        npy_ordered(descr, "False", shape, data)
    }

    fn npy_ordered(descr: &str, fortran: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let header =
            format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}");
        with_header(header, data)
    }

    #[test]
    fn a_shape_too_large_for_memory_is_an_error() {
        for shape in [
            "(4294967296, 4294967296)",
            "(0, 4294967296, 4294967296, 4294967296)",
            "(4294967296, 4294967296, 0)",
        ] {
            let e = parse(&npy("<f4", shape, &[])).unwrap_err();
            assert!(e.contains("too large"), "{shape}: {e}");
        }
        let e = parse(&npy("<f4", "(3, 0)", &[1, 2, 3, 4])).unwrap_err();
        assert!(e.contains("needs 0 bytes"), "{e}");
    }

    #[test]
    fn what_it_writes_it_reads_back() {
        let values = [1.0f32, -2.5, 3.0, 0.25, 5.0, 6.0];
        let t = parse(&to_bytes(&[3, 2], &values)).unwrap();
        assert_eq!(t.shape(), &[3, 2]);
        assert_eq!(t.iter().copied().collect::<Vec<_>>(), values);
        let t = parse(&to_bytes(&[6], &values)).unwrap();
        assert_eq!(t.shape(), &[6]);
    }

    #[test]
    fn reads_f32_and_f64() {
        let data: Vec<u8> = [1.0f32, -2.5, 3.0, 0.25, 5.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let t = parse(&npy("<f4", "(2, 3)", &data)).unwrap();
        assert_eq!(t.shape(), &[2, 3]);
        assert_eq!(
            t.iter().copied().collect::<Vec<_>>(),
            [1.0, -2.5, 3.0, 0.25, 5.0, 6.0]
        );
        let data: Vec<u8> = [1.5f64, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let t = parse(&npy("<f8", "(2,)", &data)).unwrap();
        assert_eq!(t.shape(), &[2]);
        assert_eq!(t[[1]], 2.0);
        let t = parse(&npy("<f4", "()", &7.0f32.to_le_bytes())).unwrap();
        assert_eq!(t.ndim(), 0);
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        assert!(
            parse(b"PK\x03\x04")
                .unwrap_err()
                .contains("not a .npy file")
        );
        assert!(
            parse(&npy("<i8", "(1,)", &[0; 8]))
                .unwrap_err()
                .contains("`<i8`")
        );
        assert!(
            parse(&npy("<f4", "(3,)", &[0; 8]))
                .unwrap_err()
                .contains("needs 12 bytes")
        );
        assert!(
            parse(&npy_ordered("<f4", "True", "(1,)", &[0; 4]))
                .unwrap_err()
                .contains("Fortran")
        );
        assert!(parse(b"\x93NUMPY\x01").is_err());
    }
}
