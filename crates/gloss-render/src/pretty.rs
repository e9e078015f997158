//! JSON written by hand exactly as `serde_json::to_writer_pretty` writes it (two-space
//! indents, `"key": value`, `[]` and `{}` when empty), for the parts of a report too large to
//! go through serde: `analyze` writes millions of blocks, and serde_json's pretty printer made
//! a few small writes per key and per indent for each (docs/PERFORMANCE.md). The rest of a
//! report still goes through serde and is spliced in at its depth.
use serde::Serialize;
use std::io::{self, Write};

/// A newline and the indent of nesting `depth`.
pub fn newline(out: &mut Vec<u8>, depth: usize) {
    out.push(b'\n');
    out.resize(out.len() + 2 * depth, b' ');
}

/// `"key": ` on its own line at `depth` (`key` needs no escaping).
pub fn key(out: &mut Vec<u8>, depth: usize, key: &str) {
    newline(out, depth);
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\": ");
}

/// The fields of `value` (which serializes as a JSON object) as they sit inside an object
/// whose fields are at `depth` (1 or more): each on its own line after a newline, separated
/// by commas, without the braces. Returns false, writing nothing, when the object has no
/// field.
pub fn fields<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    depth: usize,
    value: &T,
) -> io::Result<bool> {
    let text = serde_json::to_vec_pretty(value)?;
    // `{\n  "a": 1,\n  "b": 2\n}`, or `{}`
    let Some(inner) = text.strip_prefix(b"{").and_then(|t| t.strip_suffix(b"\n}")) else {
        return Ok(false);
    };
    // Every line moves in by `depth - 1` levels: JSON strings never hold a raw newline.
    let mut lines = inner.split(|&b| b == b'\n');
    lines.next(); // before the first newline: nothing
    for line in lines {
        newline(out, depth.saturating_sub(1));
        out.extend_from_slice(line);
    }
    Ok(true)
}

/// [`fields`] of an object at the top level (fields at depth 1, where serde_json already
/// indents them), streamed to `w` as serde_json writes them: a report's audit part is tens of
/// megabytes on a large binary, too much to hold as text.
pub fn top_fields<W: Write + ?Sized, T: Serialize + ?Sized>(
    w: &mut W,
    value: &T,
) -> io::Result<bool> {
    let mut inner = Unbraced {
        w,
        skipped_brace: false,
        held: [0; 2],
        held_len: 0,
    };
    serde_json::to_writer_pretty(&mut inner, value)?;
    // `{\n  "a": 1\n}` ends in `\n}` with fields, `{}` ends in `}` (held back) without
    Ok(inner.held[..inner.held_len] == *b"\n}")
}

/// serde_json's pretty text of an object, passed on without its braces: the first byte (`{`)
/// is dropped and the last two (`\n}`) are held back until the text ends.
struct Unbraced<'w, W: Write + ?Sized> {
    w: &'w mut W,
    skipped_brace: bool,
    held: [u8; 2],
    held_len: usize,
}

impl<W: Write + ?Sized> Write for Unbraced<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len();
        let mut buf = buf;
        if !self.skipped_brace && !buf.is_empty() {
            self.skipped_brace = true;
            buf = &buf[1..];
        }
        // what was held, then `buf`: all but the last two bytes go on
        if buf.len() >= 2 {
            self.w.write_all(&self.held[..self.held_len])?;
            self.w.write_all(&buf[..buf.len() - 2])?;
            self.held.copy_from_slice(&buf[buf.len() - 2..]);
            self.held_len = 2;
        } else if let [b] = *buf {
            if self.held_len == 2 {
                self.w.write_all(&self.held[..1])?;
                self.held = [self.held[1], b];
            } else {
                self.held[self.held_len] = b;
                self.held_len += 1;
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `"0x..."`, as [`gloss_core::Addr`] serializes.
pub fn addr(out: &mut Vec<u8>, a: u64) {
    out.extend_from_slice(b"\"0x");
    gloss_core::hex::push_hex(out, a);
    out.push(b'"');
}

/// An unsigned number, as serde_json writes it.
pub fn number(out: &mut Vec<u8>, n: u64) {
    gloss_core::hex::push_dec(out, n);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Inner {
        a: u32,
        list: Vec<u32>,
        none: Vec<u32>,
        text: &'static str,
    }

    #[derive(Serialize)]
    struct Outer {
        first: &'static str,
        items: Vec<Inner>,
        last: Option<u8>,
    }

    /// An object written from its parts at each depth (the first field by `fields`, the
    /// second by hand, the rest by `fields` again) is the text serde_json's pretty printer
    /// gives for the whole: strings with escaped newlines and quotes included.
    #[test]
    fn spliced_parts_read_as_serde_jsons_pretty_text() {
        let inner = || Inner {
            a: 7,
            list: vec![1, 2],
            none: vec![],
            text: "line\nbreak \"quoted\"",
        };
        let whole = Outer {
            first: "x\ny",
            items: vec![inner(), inner()],
            last: None,
        };
        let want = serde_json::to_string_pretty(&whole).unwrap();

        #[derive(Serialize)]
        struct First {
            first: &'static str,
        }
        #[derive(Serialize)]
        struct Last {
            last: Option<u8>,
        }
        let mut out = b"{".to_vec();
        assert!(fields(&mut out, 1, &First { first: "x\ny" }).unwrap());
        out.push(b',');
        key(&mut out, 1, "items");
        out.push(b'[');
        for (i, item) in whole.items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            newline(&mut out, 2);
            out.push(b'{');
            assert!(fields(&mut out, 3, item).unwrap());
            newline(&mut out, 2);
            out.push(b'}');
        }
        newline(&mut out, 1);
        out.push(b']');
        out.push(b',');
        assert!(fields(&mut out, 1, &Last { last: None }).unwrap());
        newline(&mut out, 0);
        out.push(b'}');
        assert_eq!(String::from_utf8(out).unwrap(), want);

        // streamed at the top level: the same text as `fields` at depth 1
        let (mut streamed, mut held) = (Vec::new(), Vec::new());
        assert!(top_fields(&mut streamed, &whole).unwrap());
        assert!(fields(&mut held, 1, &whole).unwrap());
        assert_eq!(streamed, held);

        #[derive(Serialize)]
        struct Empty {}
        assert!(!fields(&mut Vec::new(), 1, &Empty {}).unwrap());
        assert!(!top_fields(&mut Vec::new(), &Empty {}).unwrap());
        let mut a = Vec::new();
        addr(&mut a, 0x4005d0);
        assert_eq!(a, serde_json::to_vec(&gloss_core::Addr(0x4005d0)).unwrap());
    }
}
