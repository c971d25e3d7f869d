//! The request target as any HTTP server accepts it. Envoy passes on bytes that
//! RFC 3986 allows nowhere in a URI (`"`, `{`, `}`, `|`, `\`, `^`, `` ` ``, `<`,
//! `>`, and anything outside printable ASCII), as curl sends them when a
//! `where` clause is typed raw, the REST API's own examples among them. A
//! strict server behind Envoy (hyper, in the sidecar's upstream data path; many
//! applications beside Datagate in the mesh profile) refuses such a request
//! outright, before any handler could answer with a JSON error. The edge filter
//! percent-encodes exactly those bytes: every decoder reads the same request,
//! and a well-formed target is left alone.

/// `path` (the whole `:path`, query included) with every byte no URI may hold
/// percent-encoded; `None` when there is none (nearly always: no allocation).
pub fn normalized(path: &str) -> Option<String> {
    let bad = path.bytes().filter(|b| needs_encoding(*b)).count();
    if bad == 0 {
        return None;
    }
    let mut out = String::with_capacity(path.len() + 2 * bad);
    for b in path.bytes() {
        if needs_encoding(b) {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push(char::from(b));
        }
    }
    Some(out)
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Outside RFC 3986's unreserved, reserved and `%` characters.
fn needs_encoding(b: u8) -> bool {
    !(0x21..=0x7e).contains(&b) || matches!(b, b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_where_clause_is_encoded() {
        let raw = r#"/v2/keyspaces/blog/vehicle?where={"manufacturer":{"$eq":"Tesla"}}"#;
        assert_eq!(
            normalized(raw).unwrap(),
            "/v2/keyspaces/blog/vehicle?where=%7B%22manufacturer%22:%7B%22$eq%22:%22Tesla%22%7D%7D"
        );
    }

    #[test]
    fn a_well_formed_target_is_left_alone() {
        for ok in ["/", "/v2/keyspaces?a=b&c=%7B", "/x/[1]/@:!$&'()*+,;=-._~", "/graphql?query=%7B%20x%20%7D"] {
            assert_eq!(normalized(ok), None, "{ok}");
        }
    }

    #[test]
    fn everything_outside_printable_ascii_is_encoded() {
        assert_eq!(normalized("/a b|c\u{e9}").unwrap(), "/a%20b%7Cc%C3%A9");
        assert_eq!(normalized("/\\^`<>").unwrap(), "/%5C%5E%60%3C%3E");
    }
}
