//! The `alphery` binary: `serve` (default), `migrate`, `export-schema`.

use std::path::PathBuf;
use std::sync::Arc;

use alphery_api::config::{Config, LogFormat};
use alphery_api::schema::build_tenant_schema;
use alphery_api::server;
use clap::{Parser, Subcommand};
use entity::runtime::meta::TenantMeta;

#[derive(Parser)]
#[command(
    name = "alphery",
    version,
    about = "Alphery OS — a multi-tenant business OS with a per-tenant GraphQL API"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Run only job workers (and the job relay): scale them beside `serve --workers false`.
    Worker,
    /// Write the SDL a new tenant sees (platform operations, no entities yet).
    ExportSchema {
        /// Output file; `-` for standard output.
        #[arg(long, default_value = "schema.graphql")]
        out: PathBuf,
    },
}

/// Installs the log (on standard output, through `log_sink`); the guard writes what is left
/// when dropped.
fn init_logging(filter: &str, format: LogFormat) -> alphery_api::log_sink::FlushGuard {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (sink, guard) = alphery_api::log_sink::init();
    let lines = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(sink);
    match format {
        // Colours only when the log's stream (standard output) is a terminal: a log file gets
        // plain text, and every request's span (its request id) is not dressed in escape
        // codes that nobody sees.
        LogFormat::Text => lines.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout())).init(),
        // The event's fields at the top level beside `timestamp`, `level` and `message`; the
        // request's span (its `request_id`) as `span`.
        LogFormat::Json => lines.json().flatten_event(true).with_span_list(false).init(),
    }
    guard
}

/// See the workspace's `mimalloc` dependency for why; counted so the schema cache can weigh
/// what it keeps (`alloc`).
#[global_allocator]
static ALLOCATOR: alphery_api::alloc::Counting<mimalloc::MiMalloc> =
    alphery_api::alloc::Counting(mimalloc::MiMalloc);

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let _logs = init_logging(&cli.config.log, cli.config.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config).await,
        Command::Worker => worker(cli.config).await,
        Command::Migrate => server::connect_and_migrate(&cli.config).await.map(|_| {
            alphery_api::log_sink::print_line(&format!(
                "migrations applied to {}",
                redact(&cli.config.database_url())
            ));
        }),
        Command::ExportSchema { out } => export_schema(&out),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message());
            if let alphery_api::ApiError::Internal(cause) = &e {
                eprintln!("cause: {cause}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), alphery_api::ApiError> {
    let db_url = redact(&config.database_url());
    let json = config.log_format == LogFormat::Json;
    let running = server::start(config).await?;
    let url = running.url();
    let (graphiql, graphql) = (format!("{url}/graphiql"), format!("{url}/graphql"));
    let ws = format!("ws://{}/graphql/ws", running.addr);
    let mut text = format!(
        "\n  Alphery OS is running on {db_url}\n  GraphiQL:   {graphiql}\n  GraphQL:    {graphql}   (subscriptions: {ws})\n"
    );
    let mut fields = serde_json::json!({
        "database": db_url, "graphiql": graphiql, "graphql": graphql, "subscriptions": ws,
    });
    if let Some(demo) = &running.demo {
        let (tenant, email, password) = (&demo.tenant, &demo.email, &demo.password);
        text.push_str(&format!(
            "  Demo login: tenant `{tenant}`, email `{email}`, password `{password}`\n              \
             mutation {{ login(input: {{tenant: \"{tenant}\", email: \"{email}\", password: \"{password}\"}}) {{ accessToken }} }}\n"
        ));
        fields["demo"] = serde_json::json!({ "tenant": tenant, "email": email, "password": password });
    }
    say(json, "Alphery OS is running", &text, fields);
    shutdown_signal().await?;
    say(json, "shutting down", "shutting down", serde_json::json!({}));
    Ok(())
}

async fn worker(config: Config) -> Result<(), alphery_api::ApiError> {
    let (system, db) = server::connect(&config).await?;
    let peers = server::start_peers(&config, None)?;
    let metrics = Arc::new(jobs::metrics::JobMetrics::default());
    server::start_workers(&config, &db, &system, &peers, metrics.clone()).await?;
    let database = redact(&config.database_url());
    let mut text = format!("alphery worker running on {database}");
    let mut fields = serde_json::json!({ "database": database });
    if let Some(bind) = &config.metrics_bind {
        let addr = server::serve_worker_metrics(&config, &system, metrics, bind).await?;
        text.push_str(&format!(" (metrics: http://{addr}/metrics)"));
        fields["metrics"] = serde_json::Value::from(format!("http://{addr}/metrics"));
    }
    say(config.log_format == LogFormat::Json, "alphery worker running", &text, fields);
    shutdown_signal().await?;
    Ok(())
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM (what a process manager sends to stop a service), so
/// that `main` returns and the log's last lines are written (`log_sink`).
async fn shutdown_signal() -> Result<(), alphery_api::ApiError> {
    let failed = |e: std::io::Error| alphery_api::ApiError::Internal(format!("signal: {e}"));
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(failed)?;
        tokio::select! {
            interrupted = tokio::signal::ctrl_c() => interrupted.map_err(failed),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map_err(failed)
    }
}

/// Prints a notice on standard output: `text`, or, when the log is JSON, one JSON line of
/// `message` and `fields`, so that every line there is JSON.
fn say(json: bool, message: &str, text: &str, mut fields: serde_json::Value) {
    if json {
        fields["message"] = serde_json::Value::from(message);
        alphery_api::log_sink::print_line(&fields.to_string());
    } else {
        alphery_api::log_sink::print_line(text);
    }
}

fn export_schema(out: &PathBuf) -> Result<(), alphery_api::ApiError> {
    let meta = Arc::new(TenantMeta::new(String::new(), 1, Vec::new()));
    let owner = Arc::new(entity::runtime::policy::Permissions::full());
    let schema = build_tenant_schema(
        &meta,
        &owner,
        &alphery_api::schema::SchemaOptions::default(),
        alphery_api::features::ALL,
    )?;
    let sdl = alphery_api::schema::build::sdl(&schema);
    if out.as_os_str() == "-" {
        print!("{sdl}");
        return Ok(());
    }
    std::fs::write(out, sdl)
        .map_err(|e| alphery_api::ApiError::Internal(format!("write {}: {e}", out.display())))
}

/// Hides a password in a database URL before printing it.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
