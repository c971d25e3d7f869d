//! `datagate`: run the sidecar, or mint a development token.

use clap::{Parser, Subcommand};
use datagate::config::{Config, FileConfig};
use datagate::envoy_config::{self, check, render, DatagateConfig, Profile};
use datagate::lease::Leaser;
use datagate::{server, token};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

mod allocator;

#[derive(Parser)]
#[command(name = "datagate", version, about = "Datagate: a data API gateway inside Envoy")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log shippers).
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the ext_proc sidecar Envoy talks to.
    Serve {
        /// gRPC listen address: unix:/path/to.sock, or IP:PORT for a sidecar on
        /// another host than Envoy [default: unix:/tmp/datagate.sock].
        #[arg(long, env = "DATAGATE_LISTEN")]
        listen: Option<String>,
        /// Store URL: sqlite://PATH or postgres://USER@HOST:PORT/DB [default: sqlite://.datagate/datagate.db].
        #[arg(long, env = "DATAGATE_STORE")]
        store: Option<String>,
        /// JSON configuration file; command-line values override it.
        #[arg(long, env = "DATAGATE_CONFIG")]
        config: Option<PathBuf>,
        /// On SIGTERM/Ctrl-C, how long to report NOT_SERVING before closing the
        /// listener (at least the health-check interval of the Envoys in front) [default: 2s].
        #[arg(long, env = "DATAGATE_DRAIN_DELAY", value_parser = humantime::parse_duration)]
        drain_delay: Option<Duration>,
        /// Then the longest wait for the requests in flight [default: 15s].
        #[arg(long, env = "DATAGATE_DRAIN_TIMEOUT", value_parser = humantime::parse_duration)]
        drain_timeout: Option<Duration>,
        /// Redis holding the global per-tenant budgets the edge filters lease
        /// (`globalLimit`), e.g. redis://127.0.0.1:6379; without it lease calls answer 503.
        #[arg(long, env = "DATAGATE_REDIS")]
        redis: Option<String>,
        /// The longest a lease call may wait for Redis.
        #[arg(long, env = "DATAGATE_REDIS_TIMEOUT", default_value = "200ms", value_parser = humantime::parse_duration)]
        redis_timeout: Duration,
        /// Admin HTTP address for /metrics, /healthz and /readyz, or `off` [default: 127.0.0.1:9911].
        #[arg(long, env = "DATAGATE_ADMIN_LISTEN")]
        admin_listen: Option<String>,
        /// Log format: one line of text or one JSON object per event; the level comes from RUST_LOG.
        #[arg(long, env = "DATAGATE_LOG_FORMAT", value_enum, default_value = "text")]
        log_format: LogFormat,
    },
    /// Print a tenant's (or every tenant's) usage as a table, read from the store.
    Usage {
        /// Store URL [default: sqlite://.datagate/datagate.db].
        #[arg(long, env = "DATAGATE_STORE")]
        store: Option<String>,
        /// One tenant; all tenants when absent.
        #[arg(long)]
        tenant: Option<String>,
        /// How far back, e.g. 1h, 24h, 30d.
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        since: Duration,
        /// Bucket width: minute, hour or day.
        #[arg(long, default_value = "hour")]
        granularity: String,
    },
    /// Print a development token (HS256, signed with the dev key the bundled Envoy config trusts).
    Token {
        /// Tenant the token acts for.
        #[arg(long)]
        tenant: String,
        /// Lifetime, e.g. 30m, 1h, 7d.
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        ttl: Duration,
        /// The token's subject.
        #[arg(long, default_value = "developer")]
        subject: String,
        /// HMAC secret; defaults to the development secret.
        #[arg(long, env = "DATAGATE_DEV_SECRET", hide_env_values = true)]
        secret: Option<String>,
        /// Key id placed in the token header.
        #[arg(long, default_value = token::DEV_KID)]
        kid: String,
    },
    /// Create an API key: prints the key (give it to the client, once) and the
    /// `apiKeys` entry for the edge filter's configuration (only its SHA-256).
    Apikey {
        /// Tenant the key acts for.
        #[arg(long)]
        tenant: String,
        /// Rate-limit plan.
        #[arg(long)]
        plan: Option<String>,
        /// A label for logs.
        #[arg(long)]
        name: Option<String>,
    },
    /// Print the Envoy bootstrap (edge, mesh) or write the include fragments,
    /// rendered from a Datagate config (see README "Running a fleet").
    EnvoyConfig {
        /// edge: the gateway bootstrap; mesh: a pod sidecar beside an application;
        /// include: the fragments for an existing Envoy (needs --out-dir).
        #[arg(long, value_enum, default_value = "edge")]
        profile: Profile,
        /// The Datagate config (JSON); absent: the defaults (the committed envoy/*.yaml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// include: the directory to write the fragments to (e.g. envoy/fragments).
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
    /// Validate a Datagate config and the edge filter config in it, listing every
    /// error; then `envoy --mode validate` the rendered bootstraps when Envoy is
    /// on the PATH (or in .venv/bin).
    CheckConfig {
        /// The Datagate config (JSON); absent: the defaults.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    allocator::purge_promptly();
    allocator::few_c_arenas();
    let cli = Cli::parse();
    match cli.command {
        Command::Token { tenant, ttl, subject, secret, kid } => {
            let secret = secret.unwrap_or_else(|| token::DEV_SECRET.to_owned());
            match token::mint(secret.as_bytes(), &kid, &tenant, &subject, ttl) {
                Ok(t) => {
                    println!("{t}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("datagate token: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Usage { store, tenant, since, granularity } => usage(store, tenant, since, &granularity),
        Command::Serve {
            listen,
            store,
            config,
            drain_delay,
            drain_timeout,
            redis,
            redis_timeout,
            admin_listen,
            log_format,
        } => {
            let d = server::Drain::default();
            let drain =
                server::Drain { delay: drain_delay.unwrap_or(d.delay), timeout: drain_timeout.unwrap_or(d.timeout) };
            let leaser = match Leaser::new(redis.as_deref(), redis_timeout) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("datagate serve: --redis: {e}");
                    return ExitCode::from(2);
                }
            };
            // Held until `serve` returns: dropping it flushes the last lines.
            let _logs = match init_logs(log_format) {
                Ok(guard) => guard,
                Err(e) => {
                    eprintln!("datagate serve: cannot start the log writer thread: {e}");
                    return ExitCode::FAILURE;
                }
            };
            serve(listen, store, config, admin_listen, drain, leaser)
        }
        Command::EnvoyConfig { profile, config, out_dir } => envoy_config(profile, config, out_dir),
        Command::CheckConfig { config } => {
            let report = check::check(config.as_deref());
            for line in &report.passed {
                println!("ok   {line}");
            }
            if report.errors.is_empty() {
                return ExitCode::SUCCESS;
            }
            eprintln!("datagate check-config: invalid configuration:");
            for e in &report.errors {
                eprintln!("  - {e}");
            }
            ExitCode::from(2)
        }
        Command::Apikey { tenant, plan, name } => {
            let (key, entry) = token::api_key(&tenant, plan.as_deref(), name.as_deref());
            println!("key:   {key}");
            println!("entry: {entry}");
            ExitCode::SUCCESS
        }
    }
}

fn envoy_config(profile: Profile, path: Option<PathBuf>, out_dir: Option<PathBuf>) -> ExitCode {
    let settings = match path.as_deref().map(DatagateConfig::load).transpose() {
        Ok(c) => c.unwrap_or_default().validate(profile),
        Err(e) => Err(e),
    };
    let settings = match settings {
        Ok(s) => s,
        Err(envoy_config::ConfigErrors(errors)) => {
            eprintln!("datagate envoy-config: invalid configuration:");
            for e in errors {
                eprintln!("  - {e}");
            }
            return ExitCode::from(2);
        }
    };
    match (profile, out_dir) {
        (Profile::Include, Some(dir)) => {
            for (name, text) in render::fragments(&settings) {
                if let Err(e) = std::fs::write(dir.join(name), text) {
                    eprintln!("datagate envoy-config: cannot write {}: {e}", dir.join(name).display());
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        (Profile::Include, None) => {
            eprintln!("datagate envoy-config: --profile include writes several files: give --out-dir");
            ExitCode::from(2)
        }
        (_, Some(_)) => {
            eprintln!("datagate envoy-config: --out-dir is for --profile include; edge and mesh print to stdout");
            ExitCode::from(2)
        }
        (_, None) => {
            print!("{}", render::bootstrap(profile, &settings));
            ExitCode::SUCCESS
        }
    }
}

/// Logs to stderr through a background writer (see [`datagate::logs`]): a
/// request's log line costs its formatting, not a write system call or a
/// wake-up of another thread.
fn init_logs(format: LogFormat) -> std::io::Result<datagate::logs::Guard> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let (writer, guard) = datagate::logs::batched(std::io::stderr())?;
    // The per-request line skips the subscriber's formatter (datagate::usage::line).
    datagate::logs::set_direct(
        &writer,
        match format {
            LogFormat::Text => datagate::logs::Format::Text,
            LogFormat::Json => datagate::logs::Format::Json,
        },
    );
    match format {
        // The background writer hides whether stderr is a terminal: colour only when it is
        // (escape codes in a log file cost formatting time and garble the lines).
        LogFormat::Text => tracing_subscriber::fmt()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(writer)
            .with_env_filter(filter)
            .init(),
        LogFormat::Json => {
            tracing_subscriber::fmt().json().flatten_event(true).with_writer(writer).with_env_filter(filter).init()
        }
    }
    Ok(guard)
}

fn usage(store: Option<String>, tenant: Option<String>, since: Duration, granularity: &str) -> ExitCode {
    let store = store.unwrap_or_else(|| "sqlite://.datagate/datagate.db".to_owned());
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("datagate usage: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(datagate::usage::table::print(&store, tenant, since, granularity)) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("datagate usage: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(
    listen: Option<String>,
    store: Option<String>,
    path: Option<PathBuf>,
    admin_listen: Option<String>,
    drain: server::Drain,
    leaser: Leaser,
) -> ExitCode {
    let mut file = match path.as_deref().map(FileConfig::load).transpose() {
        Ok(f) => f.unwrap_or_default(),
        Err(e) => {
            eprintln!("datagate serve: {e}");
            return ExitCode::from(2);
        }
    };
    file.listen = listen.or(file.listen);
    file.store = store.or(file.store);
    file.admin_listen = admin_listen.or(file.admin_listen);
    let config = match Config::validate(file) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("datagate serve: invalid configuration:");
            for e in errors {
                eprintln!("  - {e}");
            }
            return ExitCode::from(2);
        }
    };
    // Blocking threads: SQLite's calls (at most `pool_size` at once, see
    // store::sqlite) and the odd DNS lookup. Tokio's default cap (512) let a
    // new thread start whenever a call began before the last one's thread was
    // back in the pool: 12 or more under load, each with its own allocator
    // pages (mimalloc counted 17 thread heaps and 85 pages of 64 KiB at peak).
    // (One beyond the pool instead of four, tried 2026-12-01: peaks of 22.6,
    // 24.0, 24.2 and 24.4 MiB over the bench's SQLite rows against 24.1 and
    // 24.6, no clear gain, so the four stay for lookups and file opens.)
    let blocking = config.pool_size + 4;
    let runtime = match tokio::runtime::Builder::new_multi_thread().max_blocking_threads(blocking).enable_all().build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("datagate serve: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let listener = datagate::listen::Listener::bind(&config.listen).await?;
        server::serve_with_leases(config, listener, shutdown_signal(), drain, leaser).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("datagate serve: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}
