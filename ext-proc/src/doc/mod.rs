//! Documents: pure logic for paths, edits, filters and JSON Schema. The API
//! layer parses requests with it; stores run its edits in their transactions.

pub mod edit;
pub mod filter;
pub mod path;
pub mod schema;
