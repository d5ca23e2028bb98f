//! `tcphub list`: who is connected.

use std::process::ExitCode;

use super::{display, ServerArg};

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    server: ServerArg,
}

pub async fn run(args: ListArgs) -> Result<ExitCode, String> {
    let mut client = args.server.connect().await?;
    let own = client.local_addr().to_string();
    let sessions = client.list().await.map_err(|e| e.to_string())?;
    println!("{}", display::sessions_table(&sessions, Some(&own)));
    Ok(ExitCode::SUCCESS)
}
