//! The proxy-wasm serialized header map, read in place.
//!
//! The SDK's `get_http_request_headers` turns the host's buffer into a `String`
//! pair per header; on the hot path that was a dozen allocations per request.
//! Here the buffer stays as it came and the pairs borrow from it.
//!
//! Layout (little-endian `u32`s): the pair count, then a (key length, value
//! length) per pair, then each key and value followed by a NUL byte.

/// Stands in for a header value that is not UTF-8 (Envoy passes obs-text
/// bytes): the header stays visible by name, so a forged identity header is
/// still stripped, and a credential in it is refused rather than ignored.
pub const NOT_UTF8: &str = "\u{FFFD}";

/// The `(name, value)` pairs in `buf`; `None` if the buffer is malformed.
/// A value that is not UTF-8 reads as [`NOT_UTF8`]; a name that is not is
/// skipped (Envoy accepts none).
pub fn pairs(buf: &[u8]) -> Option<Vec<(&str, &str)>> {
    if buf.is_empty() {
        return Some(Vec::new());
    }
    let word = |at: usize| -> Option<usize> {
        let b: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
        Some(u32::from_le_bytes(b) as usize)
    };
    let count = word(0)?;
    // Each pair needs at least 8 bytes of sizes and 2 NULs: bounds the allocation below.
    if count > buf.len() / 10 {
        return None;
    }
    let mut data = 4 + count * 8;
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let (klen, vlen) = (word(4 + i * 8)?, word(8 + i * 8)?);
        let key = buf.get(data..data + klen)?;
        data += klen + 1;
        let value = buf.get(data..data + vlen)?;
        data += vlen + 1;
        if data > buf.len() {
            return None;
        }
        if let Ok(k) = std::str::from_utf8(key) {
            out.push((k, std::str::from_utf8(value).unwrap_or(NOT_UTF8)));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serialize(pairs: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = (pairs.len() as u32).to_le_bytes().to_vec();
        for (k, v) in pairs {
            out.extend_from_slice(&(k.len() as u32).to_le_bytes());
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        }
        for (k, v) in pairs {
            out.extend_from_slice(k.as_bytes());
            out.push(0);
            out.extend_from_slice(v);
            out.push(0);
        }
        out
    }

    #[test]
    fn reads_pairs_in_place() {
        let buf = serialize(&[(":path", b"/v2/x?y=1"), ("x-cassandra-token", b"abc"), ("empty", b"")]);
        assert_eq!(pairs(&buf), Some(vec![(":path", "/v2/x?y=1"), ("x-cassandra-token", "abc"), ("empty", "")]));
        assert_eq!(pairs(&[]), Some(vec![]));
        assert_eq!(pairs(&serialize(&[])), Some(vec![]));
    }

    #[test]
    fn keeps_names_of_non_utf8_values() {
        let buf = serialize(&[("x-tenant-id", &[b'a', 0xe9]), ("ok", b"v")]);
        assert_eq!(pairs(&buf), Some(vec![("x-tenant-id", NOT_UTF8), ("ok", "v")]));
    }

    #[test]
    fn refuses_malformed_buffers() {
        let good = serialize(&[("a", b"b"), ("cc", b"dd")]);
        for cut in 1..good.len() {
            assert_eq!(pairs(&good[..cut]), None, "truncated at {cut}");
        }
        let mut huge = good.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(pairs(&huge), None);
        let mut long_key = good;
        long_key[4..8].copy_from_slice(&1000u32.to_le_bytes());
        assert_eq!(pairs(&long_key), None);
    }
}
