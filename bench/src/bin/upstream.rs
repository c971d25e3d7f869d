//! "Write your own backend": the minimal hand-written service a team would put
//! behind Envoy instead of Datagate — axum + tokio-postgres + a pool, prepared
//! statements, the same JSON shapes as Datagate's GET-by-key and POST row.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use clap::Parser;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use serde_json::{json, Value};
use std::str::FromStr;

#[derive(Parser)]
struct Args {
    /// HTTP listen address: `IP:PORT`, or `unix:/path` for a Unix socket (the
    /// same transport choice as the sidecar's, so the ratios compare like with like).
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: String,
    /// PostgreSQL URL.
    #[arg(long)]
    postgres: String,
    /// Pool size.
    #[arg(long, default_value_t = 8)]
    pool: usize,
}

type Reply = (StatusCode, Json<Value>);

fn fail(e: impl std::fmt::Display) -> Reply {
    (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"description": e.to_string(), "code": 503})))
}

async fn by_key(State(pool): State<Pool>, Path((m, model)): Path<(String, String)>) -> Reply {
    let client = match pool.get().await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let stmt = match client
        .prepare_cached("SELECT manufacturer, model, year FROM bench.vehicle WHERE manufacturer = $1 AND model = $2")
        .await
    {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    match client.query(&stmt, &[&m, &model]).await {
        Ok(rows) => rows_json(&rows),
        Err(e) => fail(e),
    }
}

fn rows_json(rows: &[tokio_postgres::Row]) -> Reply {
    let data: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"manufacturer": r.get::<_, String>(0), "model": r.get::<_, String>(1), "year": r.get::<_, Option<i32>>(2)})
        })
        .collect();
    (StatusCode::OK, Json(json!({"count": data.len(), "data": data})))
}

/// `?where={"manufacturer":{"$eq":..},"model":{"$gt":..}}`: what a hand-written
/// service would parse for the one query shape it supports.
async fn query(State(pool): State<Pool>, RawQuery(raw): RawQuery) -> Reply {
    let bad = |m: &str| (StatusCode::BAD_REQUEST, Json(json!({"description": m, "code": 400})));
    let filter = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "where")
        .and_then(|(_, v)| serde_json::from_str::<Value>(&v).ok());
    let Some(filter) = filter else { return bad("where must be a JSON object") };
    let (Some(m), Some(after)) = (filter["manufacturer"]["$eq"].as_str(), filter["model"]["$gt"].as_str()) else {
        return bad("supported: manufacturer $eq and model $gt");
    };
    let client = match pool.get().await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let stmt = match client
        .prepare_cached(
            "SELECT manufacturer, model, year FROM bench.vehicle WHERE manufacturer = $1 AND model > $2 \
             ORDER BY model LIMIT 100",
        )
        .await
    {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    match client.query(&stmt, &[&m, &after]).await {
        Ok(rows) => rows_json(&rows),
        Err(e) => fail(e),
    }
}

async fn insert(State(pool): State<Pool>, Json(row): Json<Value>) -> Reply {
    let (Some(m), Some(model)) = (row["manufacturer"].as_str(), row["model"].as_str()) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"description": "manufacturer and model are required", "code": 400})),
        );
    };
    let year = row["year"].as_i64().and_then(|y| i32::try_from(y).ok());
    let client = match pool.get().await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let stmt = match client
        .prepare_cached(
            "INSERT INTO bench.vehicle (manufacturer, model, year) VALUES ($1, $2, $3) \
             ON CONFLICT (manufacturer, model) DO UPDATE SET year = excluded.year",
        )
        .await
    {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    match client.execute(&stmt, &[&m, &model, &year]).await {
        Ok(_) => (StatusCode::CREATED, Json(json!({"manufacturer": m, "model": model}))),
        Err(e) => fail(e),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let cfg = tokio_postgres::Config::from_str(&args.postgres)?;
    let mgr =
        Manager::from_config(cfg, tokio_postgres::NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    let pool = Pool::builder(mgr).max_size(args.pool).build()?;
    pool.get()
        .await?
        .batch_execute(
            "CREATE SCHEMA IF NOT EXISTS bench; CREATE TABLE IF NOT EXISTS bench.vehicle \
             (manufacturer text NOT NULL, model text NOT NULL, year integer, PRIMARY KEY (manufacturer, model))",
        )
        .await?;
    let app = Router::new()
        .route("/v2/keyspaces/bench/vehicle/{m}/{model}", get(by_key))
        .route("/v2/keyspaces/bench/vehicle", get(query).post(insert))
        .with_state(pool);
    if let Some(path) = args.listen.strip_prefix("unix:") {
        let _ = std::fs::remove_file(path);
        axum::serve(tokio::net::UnixListener::bind(path)?, app).await?;
    } else {
        use axum::serve::ListenerExt;
        // NODELAY as the sidecar sets it: what a hand-written service on TCP would do.
        let listener = tokio::net::TcpListener::bind(&args.listen).await?.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app).await?;
    }
    Ok(())
}
