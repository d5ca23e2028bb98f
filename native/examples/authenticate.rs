//! The host program decides who may hold which alias: a closure gets each
//! `sync`'s alias and token and answers. Run it with
//! `cargo run -p tcphub-native --example authenticate`.
use std::sync::Arc;

use tcphub_core::{AliasPattern, AuthDecision, AuthRequest, Grant, Permissions, RawValue};
use tcphub_native::client::{Client, ClientError};
use tcphub_native::{Auth, Server, ServerOptions};

/// Your user database; a closure may just as well ask another service.
fn user_of(token: &str) -> Option<&'static str> {
    match token {
        "alice-secret" => Some("alice"),
        "bob-secret" => Some("bob"),
        _ => None,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let auth = Auth::from_fn("users", |request: AuthRequest| async move {
        match user_of(&request.token) {
            // alice may be any `alice-*` alias and talk to anyone.
            Some("alice") if request.alias.as_str().starts_with("alice-") => {
                AuthDecision::Grant(Grant {
                    identity: Some(Arc::from("alice")),
                    permissions: Permissions::default(),
                })
            }
            // bob is `bob` and may only write to alice's aliases.
            Some("bob") if request.alias.as_str() == "bob" => AuthDecision::Grant(Grant {
                identity: None,
                permissions: Permissions {
                    relay: vec![AliasPattern::new("alice-*").expect("a valid pattern")],
                    broadcast: false,
                    list: false,
                },
            }),
            _ => AuthDecision::Deny,
        }
    });
    let options = ServerOptions {
        listen: "127.0.0.1:0".parse()?,
        auth: Some(auth),
        ..ServerOptions::default()
    };
    let (server, _hub, _events) = Server::bind(options).await?;
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    let mut alice = Client::connect(addr).await?;
    alice
        .sync_with_token("alice-laptop", Some("alice-secret"), None)
        .await?;
    let mut bob = Client::connect(addr).await?;
    bob.sync_with_token("bob", Some("bob-secret"), None).await?;
    println!("alice-laptop and bob signed in");

    let mut mallory = Client::connect(addr).await?;
    match mallory.sync_with_token("bob", Some("guess"), None).await {
        Err(ClientError::Hub { code, .. }) => println!("mallory as bob: {code}"),
        other => panic!("mallory got in: {other:?}"),
    }

    bob.send_info(
        Some("alice-laptop"),
        &RawValue::from_string("\"hi alice\"".into())?,
    )
    .await?;
    println!("alice-laptop got: {:?}", alice.expect_frame().await?);
    bob.send_info(Some("*"), &RawValue::from_string("\"hi all\"".into())?)
        .await?;
    println!("bob to everyone: {:?}", bob.expect_frame().await?);

    let _ = stop.send(());
    serving.await??;
    Ok(())
}
