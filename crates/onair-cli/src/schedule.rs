//! `onair schedule add|list|edit|cancel`: the creator's scheduled streams on the backend.
//! Times are typed and shown in this machine's time zone and sent in UTC.

use chrono::{DateTime, Local, NaiveDateTime, TimeZone, Utc};
use clap::{Args, Subcommand};
use onair_client::BackendClient;
use onair_core::wire::schedule::{ScheduleRequest, ScheduledStream};
use serde_json::json;

use crate::error::CliError;
use crate::output::Reporter;

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// The OnAir backend; the API key comes from ONAIR_API_KEY or the OS keyring.
    #[arg(long, env = "ONAIR_BACKEND", value_name = "URL", global = true)]
    pub backend: Option<String>,
    #[command(subcommand)]
    pub command: ScheduleCommand,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Plan a stream.
    Add(PlanArgs),
    /// The streams you scheduled (the last 30 days and ahead).
    List,
    /// Change an upcoming stream (every detail, as when adding it).
    Edit {
        /// The scheduled stream's id (`onair schedule list` shows it).
        id: i64,
        #[command(flatten)]
        plan: PlanArgs,
    },
    /// Call an upcoming stream off; its paid tickets are refunded.
    Cancel {
        /// The scheduled stream's id.
        id: i64,
    },
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[arg(long)]
    pub title: String,
    /// When: `2026-12-11 18:00` (this machine's time zone), RFC 3339
    /// (`2026-12-11T18:00:00+01:00`), or from now (`+2h`, `+90m`, `+120s`).
    #[arg(long, value_name = "TIME")]
    pub start: String,
    /// Expected length in minutes (1–720).
    #[arg(long, default_value_t = 60)]
    pub duration: i64,
    #[arg(long, default_value = "")]
    pub description: String,
    /// Pay-per-view price, e.g. 4.99.
    #[arg(long, value_name = "PRICE")]
    pub price: Option<String>,
}

/// A start time as typed, in Unix milliseconds.
pub fn parse_start(text: &str, now: DateTime<Utc>) -> Result<i64, String> {
    let text = text.trim();
    if let Some(ahead) = text.strip_prefix('+') {
        let (number, unit) = ahead.split_at(
            ahead
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(ahead.len()),
        );
        let n: i64 = number
            .parse()
            .map_err(|_| format!("{text:?}: after + comes a number and s, m, h or d"))?;
        let seconds = match unit {
            "s" => n,
            "m" => n * 60,
            "h" => n * 3600,
            "d" => n * 86_400,
            _ => return Err(format!("{text:?}: after the number comes s, m, h or d")),
        };
        return Ok(now.timestamp_millis() + seconds * 1000);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.timestamp_millis());
    }
    for format in ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Local
                .from_local_datetime(&naive)
                .earliest()
                .map(|at| at.timestamp_millis())
                .ok_or_else(|| {
                    format!("{text:?} does not exist in this time zone (a clock change)")
                });
        }
    }
    Err(format!(
        "{text:?} is not a time: use `2026-12-11 18:00`, RFC 3339, or `+2h`"
    ))
}

fn request(plan: &PlanArgs) -> Result<ScheduleRequest, CliError> {
    Ok(ScheduleRequest {
        title: plan.title.clone(),
        description: plan.description.clone(),
        starts_at: parse_start(&plan.start, Utc::now()).map_err(CliError::Usage)?,
        duration_minutes: plan.duration,
        ppv_price: plan.price.clone().map(serde_json::Value::String),
    })
}

fn local(ms: i64) -> String {
    Local
        .timestamp_millis_opt(ms)
        .single()
        .map(|at| at.format("%a %Y-%m-%d %H:%M %Z").to_string())
        .unwrap_or_else(|| ms.to_string())
}

fn line(stream: &ScheduledStream) -> String {
    let price = stream
        .ppv_price_cents
        .map(|c| format!(", {}.{:02}", c / 100, c % 100))
        .unwrap_or_default();
    format!(
        "#{} {} — {} ({} min{price}) {:?}",
        stream.id,
        local(stream.starts_at),
        stream.title,
        stream.duration_minutes,
        stream.state
    )
}

pub async fn run(args: ScheduleArgs, out: &Reporter) -> Result<u8, CliError> {
    let backend = args.backend.ok_or_else(|| {
        CliError::Usage("which backend? pass --backend URL or set ONAIR_BACKEND".into())
    })?;
    let client = BackendClient::new(&backend, &crate::session::api_key(&backend)?);
    match args.command {
        ScheduleCommand::Add(plan) => {
            let stream = client.schedule_stream(&request(&plan)?).await?;
            out.event("scheduled", json!({"stream": stream}), || {
                format!("scheduled {}", line(&stream))
            });
        }
        ScheduleCommand::List => {
            let streams = client.schedule().await?;
            out.event("schedule", json!({"streams": streams}), || {
                if streams.is_empty() {
                    "nothing scheduled: `onair schedule add --title … --start …` plans a stream"
                        .into()
                } else {
                    streams.iter().map(line).collect::<Vec<_>>().join("\n")
                }
            });
        }
        ScheduleCommand::Edit { id, plan } => {
            let stream = client.edit_scheduled_stream(id, &request(&plan)?).await?;
            out.event("edited", json!({"stream": stream}), || {
                format!("changed {}", line(&stream))
            });
        }
        ScheduleCommand::Cancel { id } => {
            let cancelled = client.cancel_scheduled_stream(id).await?;
            out.event(
                "cancelled",
                json!({"stream": cancelled.stream, "refunded_tickets": cancelled.refunded_tickets}),
                || {
                    format!(
                        "cancelled {}; {} ticket(s) refunded",
                        line(&cancelled.stream),
                        cancelled.refunded_tickets
                    )
                },
            );
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_is_read_from_now_in_rfc_3339_or_in_local_time() {
        let now = Utc.timestamp_millis_opt(1_800_000_000_000).unwrap();
        assert_eq!(parse_start("+120s", now), Ok(1_800_000_120_000));
        assert_eq!(parse_start("+2h", now), Ok(1_800_007_200_000));
        assert_eq!(
            parse_start("2027-01-15T09:00:00+01:00", now),
            Ok(1_800_000_000_000)
        );
        let local = parse_start("2027-01-15 08:00", now).unwrap();
        let expected = Local
            .from_local_datetime(
                &NaiveDateTime::parse_from_str("2027-01-15 08:00", "%Y-%m-%d %H:%M").unwrap(),
            )
            .earliest()
            .unwrap()
            .timestamp_millis();
        assert_eq!(local, expected);
        for bad in ["tomorrow", "+2y", "+h", "2027-13-01 08:00"] {
            assert!(parse_start(bad, now).is_err(), "{bad}");
        }
    }
}
