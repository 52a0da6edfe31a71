//! Mounting heatstore's routes on an application's own axum router: the
//! app keeps its routes, heatstore adds `/collect`, `/api/*`, the tracker
//! and the dashboard (at `/`), and the maintenance scheduler erases what is
//! due in the background. The routes belong at the root of their origin
//! (the tracker finds `/api/opt-out` and the overlay from the endpoint's
//! origin, the dashboard calls `/api/...`): merge them, do not nest them
//! under a prefix; the app's own routes take other paths.
//!
//! ```text
//! cargo run --example embed --features server -- /tmp/embed.heatstore 127.0.0.1:8080
//! ```
//!
//! Then the tag `<script src="http://127.0.0.1:8080/heatstore.js"
//! data-site="shop.example.com"
//! data-endpoint="http://127.0.0.1:8080/collect" async></script>` and the
//! dashboard at `http://127.0.0.1:8080/` (token `change-me`).
//! `HEATSTORE_EMBED_ONCE=1` stops after one self-test request.
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use heatstore::server::{router, serve, ServerConfig};
use heatstore::{ScheduleOptions, Store};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "embed.heatstore".into());
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());

    // One store per process, shared by every handler.
    let store = Arc::new(Store::open(&path)?);
    let _maintenance = store.start_maintenance(ScheduleOptions::default())?;

    let mut config = ServerConfig::new("change-me");
    config.add_site("shop.example.com", "https://shop.example.com")?;
    // Behind a reverse proxy: the client's address for cookieless ids.
    config.proxy_header = Some("x-forwarded-for".into());

    // The application's own routes, and heatstore's merged beside them.
    let app = Router::new()
        .route("/shop", get(|| async { "the shop's own page" }))
        .route("/health", get(|| async { "ok" }))
        .merge(router(Arc::clone(&store), config)?);

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let bound = listener.local_addr()?;
    println!("serving on http://{bound}/ (the dashboard at /, the app at /shop)");
    if std::env::var_os("HEATSTORE_EMBED_ONCE").is_some() {
        let server = tokio::spawn(serve(listener, app, std::future::pending()));
        let js = fetch(bound, "/heatstore.js").await?;
        println!("GET /heatstore.js: {} bytes", js.len());
        server.abort();
        return Ok(());
    }
    serve(listener, app, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

/// A bare HTTP/1.1 GET (the example needs no HTTP client crate).
async fn fetch(addr: std::net::SocketAddr, path: &str) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Write};
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let get = move || {
        let mut s = std::net::TcpStream::connect(addr)?;
        s.write_all(req.as_bytes())?;
        let mut out = Vec::new();
        s.read_to_end(&mut out)?;
        Ok(out)
    };
    tokio::task::spawn_blocking(get).await?
}
