//! `heatstore serve`: the tracker's endpoint, the reports' HTTP API and the
//! dashboard over one store (feature `server`), with maintenance run in
//! the background when it is due.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use heatstore::server::{router, serve, ServerConfig};
use heatstore::ScheduleOptions;

use crate::common::{CmdResult, DbArg, Failure};

/// Arguments of `heatstore serve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    db: DbArg,
    /// Address to listen on, e.g. 127.0.0.1:8080 (put TLS in front of it
    /// at a reverse proxy: docs/deployment.md).
    #[arg(long, value_name = "HOST:PORT")]
    addr: String,
    /// The bearer token of the API and dashboard (or set HEATSTORE_TOKEN).
    #[arg(long, env = "HEATSTORE_TOKEN", hide_env_values = true)]
    token: String,
    /// A site and the origin its pages are served from, e.g.
    /// shop.example.com=https://shop.example.com. Repeatable (one site may
    /// have several origins).
    #[arg(long, value_name = "NAME=ORIGIN")]
    site: Vec<String>,
    /// The header a reverse proxy puts the client's address in (e.g.
    /// x-forwarded-for); its last entry is used, for cookieless ids only.
    /// Without it: the connection's address.
    #[arg(long, value_name = "HEADER")]
    proxy_header: Option<String>,
    /// The largest /collect body in bytes.
    #[arg(long, default_value_t = heatstore::server::DEFAULT_MAX_BODY)]
    max_body: usize,
    /// Worker threads of the HTTP server (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

/// Serves until Ctrl-C or SIGTERM, then commits what was collected.
pub fn run(args: &Args) -> CmdResult {
    let mut config = ServerConfig::new(&args.token);
    for s in &args.site {
        config.add_site_arg(s)?;
    }
    if let Some(h) = &args.proxy_header {
        let name = h.trim().to_ascii_lowercase();
        if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(Failure::new(format!(
                "--proxy-header {h:?} is not a header name"
            )));
        }
        config.proxy_header = Some(name);
    }
    config.max_body = args.max_body;
    let store = Arc::new(args.db.open_or_create().map_err(|e| {
        Failure::new(format!(
            "cannot open the store {}: {e}",
            args.db.db.display()
        ))
    })?);
    let scheduler = store.start_maintenance(ScheduleOptions::default())?;
    let app = router(Arc::clone(&store), config)?;
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = args.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt
        .build()
        .map_err(|e| Failure::new(format!("cannot start the server's threads: {e}")))?;
    let served = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.addr)
            .await
            .map_err(|e| Failure::new(format!("cannot listen on {}: {e}", args.addr)))?;
        let bound: SocketAddr = listener.local_addr().map_err(Failure::new)?;
        // One line on stdout, so that scripts can wait for it.
        let _ = writeln!(
            std::io::stdout(),
            "heatstore serving {} on http://{bound}/ (dashboard at /, tracker at /heatstore.js)",
            args.db.db.display()
        );
        let _ = std::io::stdout().flush();
        serve(listener, app, stop_signal())
            .await
            .map_err(|e| Failure::new(format!("the server failed: {e}")))
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(10));
    scheduler.stop();
    served
}

/// Ctrl-C, or SIGTERM on Unix.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
