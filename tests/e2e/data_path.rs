//! The two data paths. The shipped one (`"dataPath": "upstream"`, every other
//! suite's): Envoy's router forwards data requests to the sidecar as plain
//! HTTP. The other (`"dataPath": "extProc"`): Envoy's ext_proc filter asks the
//! sidecar over gRPC and it answers in Envoy's place. The core suites run here
//! unchanged over ext_proc, on both stores: every answer, error, tenant
//! boundary, restart, failure and usage count must be the same whichever path
//! carried the request. Plus what only one path has to prove.

use crate::harness::{assert_error, json_of, on_ext_proc_path, token, Gateway, Store};

/// One test per store for each suite, run on the ext_proc path.
macro_rules! over_ext_proc {
    ($($suite:ident :: $name:ident),* $(,)?) => {
        mod sqlite { $( #[test] fn $name() { crate::harness::on_ext_proc_path(|| crate::$suite::$name(crate::harness::Store::Sqlite)) } )* }
        mod postgres { $( #[test] fn $name() { crate::harness::on_ext_proc_path(|| crate::$suite::$name(crate::harness::Store::Postgres)) } )* }
    };
}

mod ext_proc {
    over_ext_proc!(
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
        hardening::internal_errors_name_the_request_not_the_sql,
    );
}

/// What differs most between the paths when things fail: a dead replica (ext_proc's
/// stream error, not the router's reset), a replica whose store is gone (ext_proc's
/// 5xx answers eject it; over HTTP its health check does), Envoy's own answers.
mod ext_proc_failures {
    use crate::harness::on_ext_proc_path;

    #[test]
    fn killing_one_of_two_sidecars_fails_at_most_a_thousandth() {
        on_ext_proc_path(crate::fleet::killing_one_of_two_sidecars_fails_at_most_a_thousandth);
    }

    #[test]
    fn a_sidecar_whose_store_is_gone_leaves_the_rotation() {
        on_ext_proc_path(crate::fleet::a_sidecar_whose_store_is_gone_leaves_the_rotation);
    }

    #[test]
    fn methods_the_api_does_not_serve_get_405_with_allow() {
        on_ext_proc_path(crate::edge_errors::methods_the_api_does_not_serve_get_405_with_allow);
    }

    #[test]
    fn envoys_own_answers_are_json() {
        on_ext_proc_path(crate::edge_errors::envoys_own_answers_are_json);
    }
}

crate::on_both_stores!(spoofed_identity_headers_do_not_reach_the_sidecar);

/// Over plain HTTP every client header reaches the sidecar (ext_proc forwards
/// only those it reads): the tenant and plan headers must still be the edge
/// filter's, whatever the client sends.
fn spoofed_identity_headers_do_not_reach_the_sidecar(store: Store) {
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

#[test]
fn the_shipped_render_routes_to_the_sidecars() {
    let gw = Gateway::start(Store::Sqlite);
    assert!(!gw.stats().contains(".ext_proc.streams_started"), "an ext_proc filter on the upstream path");
    let (s, _) = json_of(gw.get("/health").send().unwrap());
    assert_eq!(s, 200);
    assert!(gw.stats().contains("cluster.datagate_ext_proc.upstream_rq_200"), "the router sent it to the sidecars");
}

#[test]
fn the_ext_proc_render_asks_the_sidecars_over_ext_proc() {
    on_ext_proc_path(|| {
        let gw = Gateway::start(Store::Sqlite);
        let (s, _) = json_of(gw.get("/health").send().unwrap());
        assert_eq!(s, 200);
        let stats = gw.stats();
        let streams = stats.lines().find_map(|l| l.split_once(".ext_proc.streams_started: ")).map(|(_, n)| n.trim());
        assert!(streams.is_some_and(|n| n != "0"), "no ext_proc stream: {stats}");
    });
}
