//! The HTTP face of a store (feature `server`): the tracker's endpoint,
//! the reports' API and the dashboard, as one [`axum::Router`] that a Rust
//! web application mounts on its own router, or that `heatstore serve`
//! runs on its own.
//!
//! | route | token | what |
//! |---|---|---|
//! | `GET /heatstore.js` (also `/heatstore.min.js`; `/heatstore.src.js`, `/heatstore-overlay.js`) | no | the tracker (minified; its readable source), the overlay it loads in overlay mode |
//! | `POST /collect` | no | a batch from the tracker: `{"site":…,"events":[…]}`, submitted through the store's [`IngestHandle`] |
//! | `POST /api/opt-out` | no | `{"site":…,"visitor":…}` from the tracker's `optOut()` |
//! | `GET /api/<report>` | yes | a report ([`crate::report`]); the JSON of `heatstore query <report> --json` |
//! | `GET /api/sites`, `GET /api/sites/detail` | yes | the sites, and the origins their pages are served from |
//! | `GET /api/deletions`, `POST /api/deletions` | yes | the audit records; a deletion request |
//! | `GET /` (`/dashboard.js`, `/dashboard.css`) | no (the page asks for the token; every API call it makes needs it) | the dashboard |
//!
//! Mount the router at the root of its origin (merge it into an app's
//! router, or give it a host of its own): the tracker derives
//! `/api/opt-out` and the overlay's `/api/*` from its endpoint's origin,
//! and the dashboard calls `/api/...`, so a path prefix would break them.
//!
//! Every error is a 4xx or 5xx with a JSON body `{"error": "..."}` that
//! says what was wrong. The token is compared in constant time.
//!
//! ```no_run
//! use std::sync::Arc;
//! use heatstore::server::{router, ServerConfig};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Arc::new(heatstore::Store::open("events.heatstore")?);
//! let mut config = ServerConfig::new("a-long-random-token");
//! config.add_site("shop.example.com", "https://shop.example.com")?;
//! let app = router(Arc::clone(&store), config)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! heatstore::server::serve(listener, app, std::future::pending()).await?;
//! # Ok(())
//! # }
//! ```

// Handlers return early with a ready response (`Result<_, Response>`): it is
// built once per failed request, so boxing it would buy nothing.
#![allow(clippy::result_large_err)]

mod access;
mod api;
mod assets;
mod collect;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::error::{Error, Result};
use crate::{IngestHandle, IngestOptions, Store};

/// The largest `/collect` body by default (256 KiB; the tracker sends at
/// most 60 KB, the browsers' beacon quota being 64 KB).
pub const DEFAULT_MAX_BODY: usize = 256 * 1024;
/// The most events one `/collect` batch may hold by default.
pub const DEFAULT_MAX_EVENTS: usize = 1_000;

/// How the server is set up. [`ServerConfig::new`] documents every default.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The bearer token the API and dashboard calls must carry.
    pub token: String,
    /// Sites served, each with the origins (`scheme://host[:port]`) its
    /// pages are served from: `/collect` and `/api/opt-out` accept a batch
    /// for a site only from those origins, and the API answers CORS
    /// requests from them (the overlay on the site's pages). A site of the
    /// store whose [`SiteSettings::allowed_hosts`](crate::SiteSettings) is
    /// not empty is served too, from any origin on those hosts.
    pub sites: BTreeMap<String, Vec<String>>,
    /// The header a reverse proxy puts the client's address in (e.g.
    /// `x-forwarded-for` or `x-real-ip`); its last entry is taken. `None`
    /// (the default): the connection's peer address. The address is used
    /// only for cookieless ids and never stored.
    pub proxy_header: Option<String>,
    /// The largest `/collect` body ([`DEFAULT_MAX_BODY`]).
    pub max_body: usize,
    /// The most events in one batch ([`DEFAULT_MAX_EVENTS`]).
    pub max_events: usize,
    /// How the ingest handle groups commits (default
    /// [`IngestOptions::default`]).
    pub ingest: IngestOptions,
}

impl ServerConfig {
    /// A configuration with this token, no sites yet, no proxy header and
    /// the default limits.
    pub fn new(token: &str) -> ServerConfig {
        ServerConfig {
            token: token.to_owned(),
            sites: BTreeMap::new(),
            proxy_header: None,
            max_body: DEFAULT_MAX_BODY,
            max_events: DEFAULT_MAX_EVENTS,
            ingest: IngestOptions::default(),
        }
    }

    /// Serves `site` from pages on `origin` (`https://shop.example.com`,
    /// `http://127.0.0.1:8081`). Call again for more origins.
    pub fn add_site(&mut self, site: &str, origin: &str) -> Result<()> {
        let site = crate::report::parse_site(site)
            .map_err(|e| Error::InvalidArgument(format!("site {site:?}: {e}")))?;
        let origin = access::normalize_origin(origin)?;
        let origins = self.sites.entry(site).or_default();
        if !origins.contains(&origin) {
            origins.push(origin);
        }
        Ok(())
    }

    /// Parses `NAME=ORIGIN` (the CLI's `--site`) and adds it.
    pub fn add_site_arg(&mut self, arg: &str) -> Result<()> {
        let (site, origin) = arg.split_once('=').ok_or_else(|| {
            Error::InvalidArgument(format!(
                "--site {arg:?}: expected NAME=ORIGIN, e.g. shop.example.com=https://shop.example.com"
            ))
        })?;
        self.add_site(site, origin)
    }
}

/// What every handler shares.
struct App {
    store: Arc<Store>,
    ingest: IngestHandle,
    config: ServerConfig,
    access: access::Access,
}

/// The routes of the table above on one router, with the store's ingest
/// handle started. Fails on a read-only store, an empty token or a site
/// setting that cannot be read.
pub fn router(store: Arc<Store>, config: ServerConfig) -> Result<Router> {
    if config.token.is_empty() {
        return Err(Error::InvalidArgument(
            "the API token must not be empty".into(),
        ));
    }
    let access = access::Access::new(&store, &config)?;
    let ingest = store.ingest_with(config.ingest.clone())?;
    let app = Arc::new(App {
        store,
        ingest,
        config,
        access,
    });
    Ok(Router::new()
        .route("/", get(assets::dashboard_html))
        .route("/index.html", get(assets::dashboard_html))
        .route("/dashboard.js", get(assets::dashboard_js))
        .route("/dashboard.css", get(assets::dashboard_css))
        .route("/heatstore.js", get(assets::tracker))
        .route("/heatstore.min.js", get(assets::tracker))
        .route("/heatstore.src.js", get(assets::tracker_src))
        .route("/heatstore-overlay.js", get(assets::overlay))
        .route(
            "/collect",
            post(collect::collect).options(access::preflight_collect),
        )
        .route(
            "/api/opt-out",
            post(collect::opt_out).options(access::preflight_collect),
        )
        .route("/api/sites", get(api::sites).options(access::preflight_api))
        .route(
            "/api/sites/detail",
            get(api::sites_detail).options(access::preflight_api),
        )
        .route(
            "/api/deletions",
            get(api::deletions)
                .post(api::request_deletion)
                .options(access::preflight_api),
        )
        .route(
            "/api/{report}",
            get(api::report).options(access::preflight_api),
        )
        .fallback(not_found)
        .with_state(app))
}

/// Serves `app` on `listener` until `shutdown` completes, with each
/// connection's peer address available to `/collect` (for cookieless ids).
/// Connections are kept alive (HTTP/1.1).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn not_found() -> Response {
    fail(StatusCode::NOT_FOUND, "no such route")
}

/// A JSON error response: `{"error": reason}`.
fn fail(status: StatusCode, reason: impl std::fmt::Display) -> Response {
    let body = serde_json::json!({ "error": reason.to_string() });
    json_response(status, body.to_string())
}

/// A JSON body (already serialized) with the status.
fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (axum::http::header::CONTENT_TYPE, "application/json"),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// The status an error of the store answers with.
fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::InvalidArgument(_) | Error::InvalidEvent(_) | Error::Policy(_) => {
            StatusCode::BAD_REQUEST
        }
        Error::LimitExceeded { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Error::UnknownSite { .. } => StatusCode::NOT_FOUND,
        Error::QueueFull { .. } | Error::Closed | Error::InUse { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        Error::ReadOnly => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn store_error(e: &Error) -> Response {
    let mut r = fail(status_of(e), e);
    if matches!(e, Error::QueueFull { .. }) {
        r.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        );
    }
    r
}

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> std::result::Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(store_error(&e)),
        Err(e) => Err(fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the request's work failed: {e}"),
        )),
    }
}
