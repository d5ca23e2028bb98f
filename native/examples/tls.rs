//! TLS from Rust: a hub serving TLS with a certificate from two PEM files,
//! and a client that trusts that certificate. Run it with
//! `cargo run -p tcphub-native --example tls`.
use tcphub_core::{Event, RawValue};
use tcphub_native::client::Client;
use tcphub_native::{ClientTlsOptions, Server, ServerOptions, TlsOptions};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // The files `openssl req` makes above; here a throwaway self-signed pair.
    let dir = std::env::temp_dir().join(format!("tcphub-tls-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])?;
    std::fs::write(dir.join("cert.pem"), made.cert.pem())?;
    std::fs::write(dir.join("key.pem"), made.key_pair.serialize_pem())?;

    let options = ServerOptions {
        listen: "127.0.0.1:0".parse()?,
        tls: Some(TlsOptions::new(dir.join("cert.pem"), dir.join("key.pem"))),
        ..ServerOptions::default()
    };
    // Server::bind reads the files: ServeError::Tls names one it cannot use.
    let (server, _hub, mut events) = Server::bind(options).await?;
    let addr = server.local_addr().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    // The client checks the hub's certificate against `ca`; the name it
    // must carry is the host of the address (`server_name` to say another).
    let tls = ClientTlsOptions {
        ca: Some(dir.join("cert.pem")),
        server_name: None,
    };
    let mut client = Client::connect_tls(&addr, &tls).await?;
    client.sync("Client-1").await?;
    client
        .send_info(None, &RawValue::from_string(r#""hello over TLS""#.into())?)
        .await?;
    while let Some(event) = events.recv().await {
        if let Event::Message { message, .. } = event {
            println!("the host got {}", message.get());
            break;
        }
    }

    let _ = stop.send(());
    serving.await??;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
