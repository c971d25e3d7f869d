//! The floor: the raw driver issuing the benchmark's GET-by-key query in a
//! loop at the same concurrency, no HTTP, no Envoy. Prints one JSON line.

use clap::Parser;
use std::str::FromStr;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// PostgreSQL URL.
    #[arg(long)]
    postgres: String,
    /// Concurrent requests in flight (one connection each).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Distinct keys to cycle through (`m{i % keys}` / `model`).
    #[arg(long, default_value_t = 1000)]
    keys: usize,
    /// Instead of loading: run these SQL statements and exit (bench setup).
    #[arg(long)]
    exec: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(sql) = &args.exec {
        let (client, conn) = tokio_postgres::connect(&args.postgres, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        client.batch_execute(sql).await?;
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    let mut tasks = Vec::new();
    for t in 0..args.concurrency {
        let cfg = tokio_postgres::Config::from_str(&args.postgres)?;
        let (client, conn) = cfg.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        let keys = args.keys;
        tasks.push(tokio::spawn(async move {
            let stmt = client
                .prepare("SELECT manufacturer, model, year FROM bench.vehicle WHERE manufacturer = $1 AND model = $2")
                .await?;
            let mut latencies = Vec::new();
            let mut i = t;
            while Instant::now() < deadline {
                let m = format!("m{}", i % keys);
                let start = Instant::now();
                let rows = client.query(&stmt, &[&m, &"model"]).await?;
                latencies.push(start.elapsed());
                anyhow::ensure!(rows.len() == 1, "key {m} missing from bench.vehicle");
                i += args.concurrency;
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{}",
        serde_json::json!({"requests": all.len(), "seconds": args.seconds, "p50_ms": pct(0.50), "p99_ms": pct(0.99)})
    );
    Ok(())
}
