//! Stored JSON text handled as text: the top-level members of an object and
//! a compact copy of a value, without building a `serde_json::Value`.
//!
//! A read that returns a stored document unchanged (a Data API `findOne` by
//! `_id`) otherwise parses the store's text into a tree, moves `_id` first,
//! drops the hidden fields and serializes the tree again: about a fifth of
//! the sidecar's instructions for that request. The input here is text a
//! store wrote (PostgreSQL's `jsonb` output, or serde_json's on SQLite), so
//! it is valid JSON; the scanner still refuses (returns `None`) anything it
//! does not recognise, and the caller falls back to parsing.

/// The top-level members of a JSON object text, in order: each key as
/// written (quotes included) and its value's text (surrounding whitespace
/// trimmed). `None` when the text is not an object, or a key holds an escape
/// (so a key compares equal to its plain spelling only when it is one).
pub fn members(text: &str) -> Option<Vec<(&str, &str)>> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    let mut out = Vec::new();
    if b.get(i) == Some(&b'}') {
        return (skip_ws(b, i + 1) == b.len()).then_some(out);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(b, i)?;
        let key = &text[i..key_end];
        if key.contains('\\') {
            return None;
        }
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(b, i + 1);
        let end = value_end(b, start)?;
        out.push((key, text[start..end].trim_end_matches(is_ws_char)));
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') if skip_ws(b, i + 1) == b.len() => return Some(out),
            _ => return None,
        }
    }
}

/// Appends `value` without the whitespace between its tokens (PostgreSQL
/// writes `{"a": 1, "b": 2}`; the reply is `{"a":1,"b":2}`, as serde_json writes).
pub fn compact_into(out: &mut Vec<u8>, value: &str) {
    runs(value, |run| out.extend_from_slice(run.as_bytes()));
}

/// [`compact_into`] for a `String`: the text stays text, with no second
/// UTF-8 check (only ASCII whitespace is dropped, between whole characters).
pub fn compact_str_into(out: &mut String, value: &str) {
    runs(value, |run| out.push_str(run));
}

/// Hands `put` the runs of `value` between the whitespace outside its
/// strings, in order: a run at a time, not a byte at a time (a document's
/// text is a few dozen runs; byte by byte it cost about 15 instructions a
/// byte, bench/instructions, Data API findOne).
fn runs(value: &str, mut put: impl FnMut(&str)) {
    let b = value.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        match b[i] {
            // An unterminated string keeps the rest as it is.
            b'"' => i = string_end(b, i).unwrap_or(b.len()),
            c if is_ws(c) => {
                if start < i {
                    put(&value[start..i]);
                }
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < b.len() {
        put(&value[start..]);
    }
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

fn is_ws_char(c: char) -> bool {
    c.is_ascii() && is_ws(c as u8)
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|c| is_ws(*c)) {
        i += 1;
    }
    i
}

/// The index just past the string that opens at `start` (a `"`).
fn string_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The index just past the value that starts at `start`: where, outside any
/// string and nested container, a `,` or the enclosing `}` comes.
fn value_end(b: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i = string_end(b, i)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b']' => depth = depth.checked_sub(1)?,
            b'}' if depth == 0 => break,
            b'}' => depth -= 1,
            b',' if depth == 0 => break,
            _ => {}
        }
        i += 1;
    }
    (depth == 0 && i > start && i < b.len()).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_of_compact_and_spaced_text() {
        let m = members(r#"{"_id":"a","n":[1,{"x":"}"}],"s":"a,\"b"}"#).unwrap();
        assert_eq!(m, vec![(r#""_id""#, r#""a""#), (r#""n""#, r#"[1,{"x":"}"}]"#), (r#""s""#, r#""a,\"b""#)]);
        let m = members("{ \"a\" : 1 , \"b\": {\"c\": [1, 2]}\n}").unwrap();
        assert_eq!(m, vec![(r#""a""#, "1"), (r#""b""#, r#"{"c": [1, 2]}"#)]);
        assert_eq!(members("{}").unwrap(), vec![]);
        assert_eq!(members(" { } ").unwrap(), vec![]);
    }

    #[test]
    fn anything_else_is_refused() {
        for t in ["", "[1]", "1", r#""a""#, "{", r#"{"a"}"#, r#"{"a":}"#, r#"{"a":1,}"#, r#"{"a":1} x"#, r#"{"a":[1}"#]
        {
            assert_eq!(members(t), None, "{t}");
        }
        // An escaped key is left to the parser.
        assert_eq!(members(r#"{"\u005fid":1}"#), None);
    }

    #[test]
    fn members_agree_with_serde_json() {
        let docs = [
            serde_json::json!({"_id": "x", "a": {"b": [1, 2.5, null, true]}, "s": "q\"u,o}te", "e": {}, "l": []}),
            serde_json::json!({"k": "é☃", "n": -1e300, "u": "\u{1}"}),
        ];
        for d in docs {
            let text = serde_json::to_string_pretty(&d).unwrap();
            let m = members(&text).unwrap();
            let obj = d.as_object().unwrap();
            assert_eq!(m.len(), obj.len());
            for ((k, v), (ek, ev)) in m.iter().zip(obj) {
                assert_eq!(serde_json::from_str::<String>(k).unwrap(), *ek);
                assert_eq!(serde_json::from_str::<serde_json::Value>(v).unwrap(), *ev);
                let mut c = Vec::new();
                compact_into(&mut c, v);
                assert_eq!(c, serde_json::to_vec(ev).unwrap());
            }
        }
    }

    #[test]
    fn compacting_keeps_spaces_inside_strings() {
        let mut out = Vec::new();
        compact_into(&mut out, "{\"a b\": [1, \" x \\\" y \"]}");
        assert_eq!(out, br#"{"a b":[1," x \" y "]}"#);
        let mut text = String::new();
        compact_str_into(&mut text, " {\"é\\\\\" :\t[ \"☃ \\\" ,\" , null ] }\n");
        assert_eq!(text, r#"{"é\\":["☃ \" ,",null]}"#);
        let mut open = String::new();
        compact_str_into(&mut open, "[1, \"a b");
        assert_eq!(open, "[1,\"a b", "an unterminated string is kept as it is");
    }
}
