//! Reading a `.dl` file's text. Every command that reads a program (`dl
//! check`, `train`, `eval`, `sample`, `bench`, `repl FILE`, `:load`) goes
//! through [`read`], so they all see the same text.
//!
//! A UTF-8 byte-order mark at the start is not part of the program: it is
//! dropped, and spans are relative to the text after it, which keeps the
//! line and column of every diagnostic what an editor shows. Bytes that are
//! not UTF-8 are a diagnostic (E0003), not an I/O error.

use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;
use std::path::Path;

/// The UTF-8 encoding of U+FEFF, the byte-order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Why a `.dl` file's text could not be had.
#[derive(Debug)]
pub enum ReadError {
    /// The file cannot be read at all (missing, a folder, no permission).
    Io(std::io::Error),
    /// The file is not UTF-8. `diagnostic` (E0003) is to be rendered against
    /// `text`, the file decoded with U+FFFD for what is not UTF-8.
    NotUtf8 {
        /// The file's text, lossily decoded.
        text: String,
        /// The diagnostic, pointing at the first byte that is not UTF-8.
        diagnostic: Box<Diagnostic>,
    },
}

/// Reads the program in `path`; diagnostics name it as `path` displays.
pub fn read(path: &Path) -> Result<String, ReadError> {
    let bytes = std::fs::read(path).map_err(ReadError::Io)?;
    decode(&path.display().to_string(), bytes)
}

/// The program text of a file's bytes (the file called `name`): without a
/// leading byte-order mark, or E0003 at the first byte that is not UTF-8.
pub fn decode(name: &str, mut bytes: Vec<u8>) -> Result<String, ReadError> {
    let bom = if bytes.starts_with(BOM) { BOM.len() } else { 0 };
    bytes.drain(..bom);
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(error) => {
            let at = error.utf8_error().valid_up_to();
            let bytes = error.into_bytes();
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let diagnostic = not_utf8(name, &bytes, at, bom);
            Err(ReadError::NotUtf8 {
                text,
                diagnostic: Box::new(diagnostic),
            })
        }
    }
}

/// E0003 for `bytes` (the file after its byte-order mark, `bom` bytes long),
/// whose first byte that is not UTF-8 is at `at`.
fn not_utf8(name: &str, bytes: &[u8], at: usize, bom: usize) -> Diagnostic {
    // Up to `at`, the lossy text is the file's own; the byte is one U+FFFD there.
    let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
    let offset = bom + at;
    let utf16 = bom == 0 && (bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF"));
    let help = if utf16 {
        "the file starts with a UTF-16 byte-order mark: save it as UTF-8".to_string()
    } else {
        "programs are read as UTF-8: save the file as UTF-8 \
         (text saved as Latin-1 or Windows-1252 is not)"
            .to_string()
    };
    Diagnostic::error(
        Code::E0003,
        format!(
            "{name} is not valid UTF-8: byte 0x{:02X} at offset {offset} (line {line})",
            bytes[at]
        ),
        Span::new(at, at + '\u{FFFD}'.len_utf8()),
        "not UTF-8",
    )
    .with_help(help)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_utf8(bytes: &[u8]) -> (String, Diagnostic) {
        match decode("p.dl", bytes.to_vec()) {
            Err(ReadError::NotUtf8 { text, diagnostic }) => (text, *diagnostic),
            other => panic!("expected E0003, got {other:?}"),
        }
    }

    #[test]
    fn a_byte_order_mark_is_dropped() {
        let text = decode(
            "p.dl",
            b"\xEF\xBB\xBFmodel M(x: [2]) { dense(1) }\n".to_vec(),
        )
        .unwrap();
        assert_eq!(text, "model M(x: [2]) { dense(1) }\n");
        // Only at the start.
        let text = decode("p.dl", b"# a\xEF\xBB\xBF\n".to_vec()).unwrap();
        assert_eq!(text, "# a\u{FEFF}\n");
        assert_eq!(decode("p.dl", BOM.to_vec()).unwrap(), "");
    }

    #[test]
    fn the_first_byte_that_is_not_utf8_is_named() {
        let (text, d) = not_utf8(b"model M(x: [2]) {\n  # caf\xE9\n  dense(1) # \xFF\n}\n");
        assert_eq!(d.code, Code::E0003);
        assert_eq!(
            d.message,
            "p.dl is not valid UTF-8: byte 0xE9 at offset 25 (line 2)"
        );
        assert_eq!(&text[d.span().range()], "\u{FFFD}");
        assert_eq!(crate::span::line_column(&text, 25), (2, 8));
        // The offset counts the byte-order mark; the span does not.
        let (text, d) = not_utf8(b"\xEF\xBB\xBF# \x80\n");
        assert_eq!(
            d.message,
            "p.dl is not valid UTF-8: byte 0x80 at offset 5 (line 1)"
        );
        assert_eq!(&text[d.span().range()], "\u{FFFD}");
        assert_eq!(d.span().start, 2);
        // A truncated sequence at the end.
        let (_, d) = not_utf8(b"# \xC3");
        assert!(
            d.message.ends_with("byte 0xC3 at offset 2 (line 1)"),
            "{}",
            d.message
        );
    }

    #[test]
    fn utf16_is_recognised() {
        let (_, d) = not_utf8(b"\xFF\xFEm\0o\0");
        assert!(
            d.message.contains("byte 0xFF at offset 0 (line 1)"),
            "{}",
            d.message
        );
        assert!(d.help.as_deref().unwrap().contains("UTF-16"));
        let (_, d) = not_utf8(b"# \xE9\n");
        assert!(!d.help.as_deref().unwrap().contains("UTF-16"));
    }
}
