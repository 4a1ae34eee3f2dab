//! `onair`: go live from a terminal with the test pattern and tone, and watch as a viewer.

mod devices;
mod error;
mod live;
mod output;
mod recording;
mod replay;
mod schedule;
mod session;
mod token;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::Reporter;

#[derive(Debug, Parser)]
#[command(
    name = "onair",
    version,
    about = "OnAir from the terminal: go live, watch, list devices, schedule streams"
)]
struct Cli {
    /// One JSON object per line instead of human-readable progress.
    #[arg(long, global = true)]
    json: bool,
    /// Path of the LiveKit SDK library (liblivekit_ffi); found automatically otherwise.
    #[arg(long, global = true, env = "ONAIR_LIVEKIT_LIB", value_name = "PATH")]
    sdk_lib: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Publish the test pattern and a tone to a LiveKit room until Ctrl-C (or --duration).
    Live(Box<live::LiveArgs>),
    /// Join a room as a viewer and report, each second, what arrives.
    Watch(watch::WatchArgs),
    /// List cameras and microphones (ids for `onair live --camera` / `--mic`).
    Devices(devices::DevicesArgs),
    /// Plan streams ahead on the backend: add, list, edit, cancel.
    Schedule(schedule::ScheduleArgs),
    /// Replays of past streams: upload a recording, list, delete.
    Replay(replay::ReplayArgs),
}

fn main() -> ExitCode {
    // Before any thread exists: it may start the program again in place (see its docs).
    let memory = onair_livekit::tune_memory();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ONAIR_LOG")
                .unwrap_or_else(|_| "warn,livekit_sdk=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    memory.log();
    let out = Reporter::new(cli.json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("onair-rt")
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            out.error(
                "runtime",
                &format!("cannot start the async runtime: {err}"),
                None,
            );
            return ExitCode::from(1);
        }
    };
    let load = onair_livekit::LoadOptions {
        path: cli.sdk_lib,
        ..Default::default()
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Live(args) => match args.backend.clone() {
                Some(backend) => session::run(&args, &backend, &load, &out).await,
                None => live::run(*args, &load, &out).await,
            },
            Command::Watch(args) => watch::run(args, &load, &out).await,
            Command::Devices(args) => devices::run(args, &out),
            Command::Schedule(args) => schedule::run(args, &out).await,
            Command::Replay(args) => replay::run(args, &out).await,
        }
    });
    let code = match result {
        Ok(code) => code,
        Err(err) => {
            out.error(err.kind(), &err.to_string(), err.hint());
            err.exit_code()
        }
    };
    // Rooms are closed by now; tear the SDK runtime down before the process exits.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    onair_livekit::dispose();
    ExitCode::from(code)
}

/// SIGTERM, which `live` and `watch` both end on cleanly (as on Ctrl-C).
fn sigterm() -> Result<tokio::signal::unix::Signal, error::CliError> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| error::CliError::Usage(format!("cannot listen for SIGTERM: {e}")))
}
