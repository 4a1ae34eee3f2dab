//! Tokens for local use: `--token`, or minted here from `--api-key`/`--api-secret`
//! (a development convenience; the studio gets its tokens from the OnAir backend).

use std::time::Duration;

use clap::Args;
use livekit_api::access_token::{AccessToken, VideoGrants};

use crate::error::CliError;

#[derive(Debug, Clone, Args)]
pub struct Credentials {
    /// LiveKit server URL.
    #[arg(long, env = "LIVEKIT_URL", default_value = "ws://127.0.0.1:7880")]
    pub url: String,
    /// A ready-made access token.
    #[arg(long, env = "LIVEKIT_TOKEN", conflicts_with_all = ["api_key", "api_secret"])]
    pub token: Option<String>,
    /// API key to mint a token with (with --api-secret).
    #[arg(long, env = "LIVEKIT_API_KEY", requires = "api_secret")]
    pub api_key: Option<String>,
    /// API secret matching --api-key (prefer the environment variable: argv is visible to other users).
    #[arg(
        long,
        env = "LIVEKIT_API_SECRET",
        requires = "api_key",
        hide_env_values = true
    )]
    pub api_secret: Option<String>,
    /// Room to join when minting a token.
    #[arg(long, default_value = "onair-demo")]
    pub room: String,
    /// Participant identity when minting a token.
    #[arg(long)]
    pub identity: Option<String>,
}

pub enum Role {
    Publisher,
    Viewer,
}

impl Credentials {
    pub fn token(&self, role: Role) -> Result<String, CliError> {
        if let Some(token) = &self.token {
            return Ok(token.clone());
        }
        let (Some(key), Some(secret)) = (&self.api_key, &self.api_secret) else {
            return Err(CliError::Usage(
                "give --token, or --api-key and --api-secret (or LIVEKIT_API_KEY / LIVEKIT_API_SECRET)".into(),
            ));
        };
        let (identity, publish) = match role {
            Role::Publisher => (
                self.identity
                    .clone()
                    .unwrap_or_else(|| "onair-publisher".into()),
                true,
            ),
            Role::Viewer => (
                self.identity
                    .clone()
                    .unwrap_or_else(|| format!("onair-viewer-{}", std::process::id())),
                false,
            ),
        };
        // Least privilege: a publisher cannot subscribe, a viewer cannot publish.
        AccessToken::with_api_key(key, secret)
            .with_identity(&identity)
            .with_name(&identity)
            .with_ttl(Duration::from_secs(6 * 3600))
            .with_grants(VideoGrants {
                room_join: true,
                room: self.room.clone(),
                can_publish: Some(publish),
                can_subscribe: Some(!publish),
                can_publish_data: Some(false),
                ..Default::default()
            })
            .to_jwt()
            .map_err(|e| CliError::Token(e.to_string()))
    }
}
