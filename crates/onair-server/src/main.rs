//! `onair-server`: serve the API, or manage streamers.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use onair_server::{db, keys, serve, AppState, Config};

#[derive(Debug, Parser)]
#[command(name = "onair-server", version, about = "The OnAir backend")]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "ONAIR_BIND", default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
    },
    /// Manage streamers.
    #[command(subcommand)]
    Streamer(StreamerCommand),
}

#[derive(Debug, Subcommand)]
enum StreamerCommand {
    /// Create a streamer and print its API key (shown this once; only a hash is stored).
    Add { username: String },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ONAIR_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let pool = db::open(&cli.config.database_url)
        .await
        .with_context(|| format!("cannot open the database {}", cli.config.database_url))?;
    match cli.command {
        Command::Serve { bind } => {
            if cli.config.livekit_api_key.is_empty() || cli.config.livekit_api_secret.is_empty() {
                bail!("serving needs the LiveKit API key and secret: set LIVEKIT_API_KEY and LIVEKIT_API_SECRET (or --livekit-api-key/--livekit-api-secret)");
            }
            match cli.config.payments {
                onair_server::Payments::Stripe => {
                    if cli.config.stripe_secret_key.is_empty()
                        || cli.config.stripe_webhook_secret.is_empty()
                    {
                        bail!("--payments stripe needs STRIPE_SECRET_KEY (sk_…) and STRIPE_WEBHOOK_SECRET (whsec_… of the endpoint posting to /api/payments/stripe/webhook)");
                    }
                    tracing::info!(api = %cli.config.stripe_api_base, "pay-per-view payments through Stripe Checkout");
                }
                onair_server::Payments::Development => tracing::warn!(
                    "pay-per-view payments: development provider — every ticket is paid at once and no money moves; set ONAIR_PAYMENTS=stripe for real payments"
                ),
            }
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .with_context(|| format!("cannot listen on {bind} (in use? pass --bind)"))?;
            tracing::info!(%bind, "serving the OnAir API");
            let state = AppState::new(cli.config, pool);
            let shutdown = state.shutdown.clone();
            tokio::spawn(async move {
                stop_signal().await;
                tracing::info!("stopping");
                shutdown.cancel();
            });
            serve(listener, state).await?;
        }
        Command::Streamer(StreamerCommand::Add { username }) => {
            let username =
                onair_core::validate::username(&username).map_err(|e| anyhow::anyhow!("{e}"))?;
            let key = keys::generate();
            let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
            let hash = keys::hash(cli.config.key_secret.as_bytes(), &key);
            if db::add_streamer(&pool, username, &hash, now)
                .await?
                .is_none()
            {
                bail!("the username {username:?} is taken; choose another");
            }
            eprintln!("streamer {username:?} created; its API key (shown once, keep it safe):");
            println!("{key}");
        }
    }
    Ok(())
}

async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
