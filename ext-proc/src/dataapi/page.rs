//! The opaque `pageState`: where the last page ended and how many documents
//! the client has seen (clients resend the original `limit`, which caps the total).

use super::envelope::CmdError;
use base64::Engine;
use serde_json::{json, Value as Json};

/// A decoded page state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageState {
    /// The last store key returned.
    pub after: String,
    /// Documents returned so far.
    pub seen: u64,
}

impl PageState {
    /// The wire form.
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json!([self.after, self.seen]).to_string())
    }

    /// From the wire form.
    pub fn decode(text: &str) -> Result<PageState, CmdError> {
        let bad = || CmdError::invalid("pageState is malformed or belongs to another query");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let v: Json = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        match (v.get(0).and_then(Json::as_str), v.get(1).and_then(Json::as_u64)) {
            (Some(a), Some(n)) => Ok(PageState { after: a.to_owned(), seen: n }),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let p = PageState { after: "k\"1".into(), seen: 40 };
        assert_eq!(PageState::decode(&p.encode()).unwrap(), p);
        assert!(PageState::decode("!!").is_err());
    }
}
