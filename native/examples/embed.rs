//! Embedding the server: a host program that welcomes each client as it
//! syncs and answers what clients send it. A client in the same program
//! plays the other side, so the example runs to its end on its own. Run it
//! with `cargo run -p tcphub-native --example embed`.
use tcphub_core::{Event, HubFrame, RawValue};
use tcphub_native::client::Client;
use tcphub_native::{Server, ServerOptions};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // ServerOptions::default() listens on 127.0.0.1:9000; port 0 picks a free one.
    let options = ServerOptions {
        listen: "127.0.0.1:0".parse()?,
        ..ServerOptions::default()
    };
    let (server, hub, mut events) = Server::bind(options).await?;
    let addr = server.local_addr();
    // A host that runs until Ctrl-C passes `async { let _ = tokio::signal::ctrl_c().await; }`.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    // The host: reads the hub's events in order and answers with commands.
    // The events end once the server has stopped.
    let host = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                Event::Synced { alias, .. } => {
                    let alias = alias.as_str().to_owned();
                    let welcome = serde_json::value::to_raw_value(&format!("welcome, {alias}"))?;
                    hub.send_to_alias(alias, welcome).await?;
                }
                Event::Message {
                    alias: Some(alias),
                    message,
                    ..
                } => {
                    println!("host: {} said {}", alias.as_str(), message.get());
                    let reply = RawValue::from_string(r#"{"ok":true}"#.into())?;
                    hub.send_to_alias(alias.as_str().to_owned(), reply).await?;
                }
                _ => {} // Opened, Released, Joined, Left, Relayed, Closed, ...
            }
        }
        Ok::<(), Error>(())
    });

    let mut client = Client::connect(addr).await?;
    client.sync("Client-1").await?;
    print_next(&mut client).await?;
    client
        .send_info(None, &RawValue::from_string(r#""hello host""#.into())?)
        .await?;
    print_next(&mut client).await?;

    let _ = stop.send(());
    serving.await??;
    host.await??;
    Ok(())
}

/// Prints the next message `client` is sent.
async fn print_next(client: &mut Client) -> Result<(), Error> {
    match client.expect_frame().await? {
        HubFrame::Info { from, message, .. } => println!("Client-1: {from} sent {message}"),
        other => println!("Client-1: {other:?}"),
    }
    Ok(())
}
