//! The domain error: what went wrong, in terms of the data and not of HTTP.
//!
//! Everything below the translators (documents, JSON checks, the catalog,
//! the stores' refusals) fails with a [`Fault`]; `error.rs` is the one place
//! that turns it into a status and a JSON body. Keeping HTTP out of here is
//! what lets GraphQL and the Data API reuse the same code without
//! re-interpreting status codes.

/// A failure of an operation, by what the caller should be told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Fault {
    /// The input is malformed or names something invalid; the text names the
    /// offending field, path or value.
    #[error("{0}")]
    Invalid(String),
    /// The thing the operation reads or changes does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The thing being created already exists.
    #[error("{0}")]
    Conflict(String),
    /// The input is above a configured limit (size, depth, count).
    #[error("{0}")]
    LimitExceeded(String),
    /// The store cannot be reached right now; retrying may work.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The store did not answer within the configured time (milliseconds).
    #[error("storage did not answer within {0} ms")]
    Timeout(u64),
    /// A fault on our side that the caller can do nothing about.
    #[error("internal error: {0}")]
    Internal(String),
}
