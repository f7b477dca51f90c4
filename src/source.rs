//! Reading a `.dl` file's text. Every command that reads a program (`dl
//! check`, `train`, `eval`, `sample`, `bench`, `repl FILE`, `:load`) goes
//! through [`read`], so they all see the same text.
//!
//! A UTF-8 byte-order mark at the start is not part of the program: it is
//! dropped, and spans are relative to the text after it, which keeps the
//! line and column of every diagnostic what an editor shows.

use std::path::Path;

/// The UTF-8 encoding of U+FEFF, the byte-order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads the program in `path`.
pub fn read(path: &Path) -> std::io::Result<String> {
    let bytes = std::fs::read(path)?;
    decode(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// The program text of a file's bytes, without a leading byte-order mark.
pub fn decode(mut bytes: Vec<u8>) -> Result<String, std::string::FromUtf8Error> {
    let bom = if bytes.starts_with(BOM) { BOM.len() } else { 0 };
    bytes.drain(..bom);
    String::from_utf8(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_dropped() {
        let text = decode(b"\xEF\xBB\xBFmodel M(x: [2]) { dense(1) }\n".to_vec()).unwrap();
        assert_eq!(text, "model M(x: [2]) { dense(1) }\n");
        // Only at the start.
        let text = decode(b"# a\xEF\xBB\xBF\n".to_vec()).unwrap();
        assert_eq!(text, "# a\u{FEFF}\n");
        assert_eq!(decode(BOM.to_vec()).unwrap(), "");
    }
}
