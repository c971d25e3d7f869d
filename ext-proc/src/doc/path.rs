//! Document paths: `a.b.[0].c` in `where`, `fields` and `sort`, or one URL
//! segment per step (`/a/b/[0]/c`). `[*]` is any array element and `*` any
//! key (filters only); `\.`, `\,`, `\*` and `\\` make those characters literal.

use crate::fault::Fault;
use std::fmt;

/// One step into a document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// An object member.
    Key(String),
    /// An array element.
    Index(usize),
    /// Any array element (`[*]`).
    AnyIndex,
    /// Any object member (`*`).
    AnyKey,
}

/// A path from the document root.
pub type Path = Vec<Segment>;

/// The longest array a document may hold (every API's limit, and the highest
/// array index a path or an update may name plus one).
pub const MAX_ARRAY: usize = 1_000_000;
/// Array indexes above this are refused (the array-length limit).
const MAX_INDEX: usize = MAX_ARRAY;
/// Steps in one path; deeper than the document depth limit could never match.
const MAX_STEPS: usize = 64;

/// Parses one step as written between dots or as a URL segment.
fn segment(raw: &str, literal: bool, whole: &str) -> Result<Segment, Fault> {
    let bad = |why: &str| Fault::Invalid(format!("path '{whole}': {why}"));
    if raw.is_empty() {
        return Err(bad("empty step (two dots in a row, or a leading or trailing dot)"));
    }
    // No stored member name holds one (writes refuse it), and the stores' JSON
    // paths end at it: SQLite would answer a malformed-path error.
    if raw.contains('\0') {
        return Err(bad("a step contains U+0000, which no stored member name holds"));
    }
    if literal {
        return Ok(Segment::Key(raw.to_owned()));
    }
    if raw == "*" {
        return Ok(Segment::AnyKey);
    }
    if let Some(inner) = raw.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        if inner == "*" {
            return Ok(Segment::AnyIndex);
        }
        let n: usize = inner.parse().map_err(|_| bad(&format!("'{raw}' is not an array index like [0] or [*]")))?;
        if n > MAX_INDEX {
            return Err(bad(&format!("array index {n} is above {MAX_INDEX}")));
        }
        return Ok(Segment::Index(n));
    }
    Ok(Segment::Key(raw.to_owned()))
}

/// Parses a dotted path (`a.b.[0].c`, `\.` for a literal dot).
pub fn parse(text: &str) -> Result<Path, Fault> {
    let mut steps = Vec::new();
    let mut current = String::new();
    // A step with an escaped character is always a plain key, never `*` or `[n]`.
    let mut escaped = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('.' | ',' | '*' | '\\' | '[' | ']')) => {
                    current.push(e);
                    escaped = true;
                }
                other => {
                    return Err(Fault::Invalid(format!(
                        "path '{text}': '\\' must be followed by '.', ',', '*', '[', ']' or '\\', got {}",
                        other.map_or("the end".to_owned(), |o| format!("'{o}'"))
                    )))
                }
            },
            '.' => {
                steps.push(segment(&current, escaped, text)?);
                current.clear();
                escaped = false;
            }
            c => current.push(c),
        }
    }
    steps.push(segment(&current, escaped, text)?);
    check_len(text, steps)
}

/// Parses URL segments after the document id (already percent-decoded).
pub fn from_segments(segments: &[String]) -> Result<Path, Fault> {
    let whole = segments.join("/");
    let steps = segments.iter().map(|s| segment(s, false, &whole)).collect::<Result<Vec<_>, _>>()?;
    if steps.iter().any(|s| matches!(s, Segment::AnyIndex | Segment::AnyKey)) {
        return Err(Fault::Invalid(format!("path '{whole}': wildcards are only allowed in 'where'")));
    }
    check_len(&whole, steps)
}

fn check_len(text: &str, steps: Path) -> Result<Path, Fault> {
    if steps.len() > MAX_STEPS {
        return Err(Fault::Invalid(format!("path '{text}' has more than {MAX_STEPS} steps")));
    }
    Ok(steps)
}

/// Whether a path has `[*]` or `*`.
pub fn has_wildcard(path: &[Segment]) -> bool {
    path.iter().any(|s| matches!(s, Segment::AnyIndex | Segment::AnyKey))
}

/// Refuses wildcards where a single location is needed (`fields`, `sort`).
pub fn plain(text: &str, what: &str) -> Result<Path, Fault> {
    let p = parse(text)?;
    if has_wildcard(&p) {
        return Err(Fault::Invalid(format!("{what} path '{text}' cannot contain wildcards")));
    }
    Ok(p)
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Segment::Key(k) => {
                for c in k.chars() {
                    if matches!(c, '.' | ',' | '*' | '\\' | '[' | ']') {
                        write!(f, "\\")?;
                    }
                    write!(f, "{c}")?;
                }
                Ok(())
            }
            Segment::Index(n) => write!(f, "[{n}]"),
            Segment::AnyIndex => write!(f, "[*]"),
            Segment::AnyKey => write!(f, "*"),
        }
    }
}

/// A path written back in dotted form (for messages).
pub fn display(path: &[Segment]) -> String {
    path.iter().map(ToString::to_string).collect::<Vec<_>>().join(".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use Segment::*;

    #[test]
    fn dotted_paths() {
        assert_eq!(parse("a.b.[0].c").unwrap(), vec![Key("a".into()), Key("b".into()), Index(0), Key("c".into())]);
        assert_eq!(parse("a.[*].*").unwrap(), vec![Key("a".into()), AnyIndex, AnyKey]);
        assert_eq!(parse(r"a\.b.c\*").unwrap(), vec![Key("a.b".into()), Key("c*".into())]);
        assert_eq!(parse(r"\*").unwrap(), vec![Key("*".into())]);
        assert_eq!(parse(r"\[0\]").unwrap(), vec![Key("[0]".into())]);
        for bad in ["", "a..b", ".a", "a.", "a.[x]", r"a\q", "a\\", "a.[-1]", "a.[99999999]", "a\0", "b.x\0y"] {
            assert!(matches!(parse(bad).unwrap_err(), Fault::Invalid(_)), "{bad}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in [r"a\.b.[3].\*.c", "x.[*].*", r"q\\r"] {
            assert_eq!(display(&parse(text).unwrap()), text);
        }
    }

    #[test]
    fn url_segments() {
        let segs: Vec<String> = ["a", "[2]", "b.c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(from_segments(&segs).unwrap(), vec![Key("a".into()), Index(2), Key("b.c".into())]);
        assert!(matches!(from_segments(&["[*]".to_string()]).unwrap_err(), Fault::Invalid(_)));
        assert!(plain("a.*", "sort").is_err());
    }
}
