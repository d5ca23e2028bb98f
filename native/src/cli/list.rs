//! `tcphub list`: who is connected.

use std::process::ExitCode;

use tcphub_native::client::ClientError;

use super::{display, ServerArg};

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Sync this alias first: a hub with authentication answers `list`
    /// only to a session that has authenticated (give it an alias of its
    /// own, such as `ops`: under `takeover`, listing as a connected
    /// client's alias would replace that client).
    #[arg(long, short = 'n')]
    name: Option<String>,
    /// The credential for --name (prefer the environment variable: a
    /// command line is visible to other users of the machine).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "TCPHUB_TOKEN",
        hide_env_values = true,
        requires = "name"
    )]
    token: Option<String>,
    #[command(flatten)]
    server: ServerArg,
}

pub async fn run(args: ListArgs) -> Result<ExitCode, String> {
    let mut client = args.server.connect().await?;
    let own = client.local_addr().to_string();
    if let Some(name) = &args.name {
        client
            .sync_with_token(name, args.token.as_deref(), None)
            .await
            .map_err(|e| format!("cannot sync alias {name:?}: {e}"))?;
    }
    let sessions = client.list().await.map_err(|e| match e {
        ClientError::Hub { ref code, .. } if code == "unauthorized" && args.name.is_none() => {
            format!("{e} (sync first: --name ALIAS --token TOKEN, or TCPHUB_TOKEN)")
        }
        e => e.to_string(),
    })?;
    println!("{}", display::sessions_table(&sessions, Some(&own)));
    Ok(ExitCode::SUCCESS)
}
