//! The `upstream` data path (`"dataPath": "upstream"`): Envoy's router forwards
//! data requests to the sidecar as plain HTTP instead of asking it over ext_proc.
//! The same suites as the default path, unchanged, on both stores: every answer,
//! error, tenant boundary, restart and usage count must be the same whichever
//! path carried the request. Plus what only this path has to prove.

use crate::harness::{assert_error, json_of, on_upstream_path, token, Gateway, Store};

/// One test per store for each suite, run on the upstream path.
macro_rules! over_upstream {
    ($($suite:ident :: $name:ident),* $(,)?) => {
        mod sqlite { $( #[test] fn $name() { crate::harness::on_upstream_path(|| crate::$suite::$name(crate::harness::Store::Sqlite)) } )* }
        mod postgres { $( #[test] fn $name() { crate::harness::on_upstream_path(|| crate::$suite::$name(crate::harness::Store::Postgres)) } )* }
    };
}

over_upstream!(
    rows::crud_by_primary_key,
    rows::origin_query_verbatim,
    documents::documents_session,
    dataapi::astrapy_session,
    dataapi::astra_db_ts_session,
    graphql::gql_client_session,
    tenancy::tenants_are_isolated,
    lifecycle::acknowledged_writes_survive_restart,
    metering::two_tenants_see_exactly_their_own_usage,
    errors::bad_input_gets_clear_errors,
    hardening::long_lists_are_refused_with_the_limit,
    data_path::spoofed_identity_headers_do_not_reach_the_sidecar,
);

/// Over plain HTTP every client header reaches the sidecar (ext_proc forwards
/// only those it reads): the tenant and plan headers must still be the edge
/// filter's, whatever the client sends.
pub(crate) fn spoofed_identity_headers_do_not_reach_the_sidecar(store: Store) {
    let gw = Gateway::start(store);
    let (acme, globex) = (token("acme"), token("globex"));
    gw.vehicle_table(&globex, "blog");
    let r = gw
        .get("/v2/keyspaces/blog/vehicle/rows")
        .header("x-cassandra-token", &acme)
        .header("x-tenant-id", "globex")
        .header("x-tenant-plan", "unlimited")
        .send()
        .unwrap();
    assert_error(r, 404, "keyspace 'blog' not found");
    // No token, only the header: the edge filter refuses it before the sidecar.
    let r = gw.get("/v2/keyspaces/blog/vehicle/rows").header("x-tenant-id", "globex").send().unwrap();
    assert_eq!(r.status(), 401);
    let (s, _) =
        json_of(gw.get("/v2/keyspaces/blog/vehicle/rows").header("x-cassandra-token", &globex).send().unwrap());
    assert_eq!(s, 200);
}

/// CONNECT (no route matches it), TRACE, HEAD (no body may follow over HTTP/2),
/// an early refusal with a body: each a JSON 405 with `Allow`, the connection kept.
#[test]
fn methods_the_api_does_not_serve_get_405_with_allow() {
    on_upstream_path(crate::edge_errors::methods_the_api_does_not_serve_get_405_with_allow);
}

#[test]
fn the_upstream_render_has_no_ext_proc() {
    on_upstream_path(|| {
        let gw = Gateway::start(Store::Sqlite);
        let stats = gw.stats();
        assert!(!stats.contains(".ext_proc.streams_started"), "an ext_proc filter on the upstream path");
        let (s, _) = json_of(gw.get("/health").send().unwrap());
        assert_eq!(s, 200);
        assert!(gw.stats().contains("cluster.datagate_ext_proc.upstream_rq_200"), "the router sent it to the sidecars");
    });
}
