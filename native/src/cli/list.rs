//! `tcphub list`: who is connected.

use std::process::ExitCode;

use tcphub_native::client::ClientError;

use super::{display, ServerArg, TokenArg};

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Sync this alias first: a hub with authentication answers `list`
    /// only to a session that has authenticated (give it an alias of its
    /// own, such as `ops`: under `takeover`, listing as a connected
    /// client's alias would replace that client).
    #[arg(long, short = 'n')]
    name: Option<String>,
    #[command(flatten)]
    credential: TokenArg,
    /// Print one JSON document instead of the table, for scripts:
    /// `{"self":ID,"sessions":[{"sessionId":ID,"clientName":ALIAS|null,"node":NODE|null}, ...]}`.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArg,
}

/// The `--json` document. Every field is always there (`null` when
/// absent), so scripts can rely on the shape.
#[derive(serde::Serialize)]
struct Listing<'a> {
    /// The session that listed (to leave itself out, say).
    #[serde(rename = "self")]
    own: &'a str,
    sessions: Vec<Row<'a>>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Row<'a> {
    session_id: &'a str,
    client_name: Option<&'a str>,
    /// The cluster node the session is on; null on a single hub.
    node: Option<&'a str>,
}

pub async fn run(args: ListArgs) -> Result<ExitCode, String> {
    let mut client = args.server.connect().await?;
    let own = client.local_addr().to_string();
    if let Some(name) = &args.name {
        client
            .sync_with_token(name, args.credential.get(), None)
            .await
            .map_err(|e| format!("cannot sync alias {name:?}: {e}"))?;
    }
    let sessions = client.list().await.map_err(|e| match e {
        ClientError::Hub { ref code, .. } if code == "unauthorized" && args.name.is_none() => {
            format!("{e} (sync first: --name ALIAS --token TOKEN, or TCPHUB_TOKEN)")
        }
        e => e.to_string(),
    })?;
    if args.json {
        let listing = Listing {
            own: &own,
            sessions: sessions
                .iter()
                .map(|s| Row {
                    session_id: &s.session_id,
                    client_name: s.client_name.as_deref(),
                    node: s.node.as_deref(),
                })
                .collect(),
        };
        let json = serde_json::to_string(&listing).expect("a listing always serializes");
        println!("{json}");
    } else {
        println!("{}", display::sessions_table(&sessions, Some(&own)));
    }
    Ok(ExitCode::SUCCESS)
}
