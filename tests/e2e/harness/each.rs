//! One test per store, or per edge-filter build, from a function taking it.

/// Generates one test per store from a function taking the store.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[test] fn $name() { super::$name($crate::harness::Store::Sqlite) } )* }
        mod postgres { $( #[test] fn $name() { super::$name($crate::harness::Store::Postgres) } )* }
    };
}

/// Generates one test per edge-filter build from a function taking the [`Filter`].
#[macro_export]
macro_rules! on_both_filters {
    ($($name:ident),* $(,)?) => {
        mod wasm { $( #[test] fn $name() { super::$name($crate::harness::Filter::Wasm) } )* }
        mod native { $( #[test] fn $name() { super::$name($crate::harness::Filter::Native) } )* }
    };
}
