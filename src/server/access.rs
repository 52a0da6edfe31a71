//! Who may call what: the sites and their origins, CORS, the bearer token
//! (compared in constant time) and the client's address.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::{fail, App, ServerConfig};
use crate::error::{Error, Result};
use crate::Store;

/// The sites served and where their pages may be.
pub(super) struct Access {
    /// Exact origins per site (`--site`, [`ServerConfig::sites`]).
    origins: BTreeMap<String, Vec<String>>,
    /// Hosts per site from the store's site settings (any scheme or port).
    hosts: BTreeMap<String, Vec<String>>,
    /// Every exact origin of every site (CORS for the API).
    all_origins: BTreeSet<String>,
}

impl Access {
    pub(super) fn new(store: &Store, config: &ServerConfig) -> Result<Access> {
        let mut hosts = BTreeMap::new();
        for site in store.snapshot()?.sites()? {
            let allowed = store.site_settings(&site)?.allowed_hosts;
            if !allowed.is_empty() {
                hosts.insert(site, allowed);
            }
        }
        Ok(Access {
            all_origins: config.sites.values().flatten().cloned().collect(),
            origins: config.sites.clone(),
            hosts,
        })
    }

    /// Whether the site is served here.
    pub(super) fn knows(&self, site: &str) -> bool {
        self.origins.contains_key(site) || self.hosts.contains_key(site)
    }

    /// Whether a page on `origin` may send for `site`.
    pub(super) fn allows(&self, site: &str, origin: &str) -> bool {
        if self
            .origins
            .get(site)
            .is_some_and(|o| o.iter().any(|x| x == origin))
        {
            return true;
        }
        let host = origin_host(origin);
        self.hosts.get(site).is_some_and(|h| {
            host.is_some_and(|host| h.iter().any(|x| x.eq_ignore_ascii_case(host)))
        })
    }

    /// Whether `origin` is a page origin of any site (API CORS).
    fn any_site_allows(&self, origin: &str) -> bool {
        self.all_origins.contains(origin) || self.hosts.keys().any(|site| self.allows(site, origin))
    }

    /// The sites served, with their origins (those of the store's settings
    /// as `https://host`).
    pub(super) fn sites(&self) -> BTreeMap<String, Vec<String>> {
        let mut out = self.origins.clone();
        for (site, hosts) in &self.hosts {
            let o = out.entry(site.clone()).or_default();
            for h in hosts {
                let origin = format!("https://{h}");
                if !o.contains(&origin) {
                    o.push(origin);
                }
            }
        }
        out
    }
}

/// `scheme://host[:port]` checked and lower-cased, without a path.
pub(super) fn normalize_origin(origin: &str) -> Result<String> {
    let bad = |why: &str| {
        Error::InvalidArgument(format!(
            "origin {origin:?}: {why} (expected scheme://host[:port], e.g. https://shop.example.com)"
        ))
    };
    let url = url::Url::parse(origin).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad("an origin has no path, query or fragment"));
    }
    match url.origin() {
        url::Origin::Tuple(..) => Ok(url.origin().ascii_serialization()),
        url::Origin::Opaque(_) => Err(bad("no host")),
    }
}

fn origin_host(origin: &str) -> Option<&str> {
    let rest = origin.split_once("://")?.1;
    let host = match rest.strip_prefix('[') {
        Some(v6) => v6.split_once(']')?.0,
        None => rest.split(':').next()?,
    };
    Some(host)
}

/// The request's `Origin`, if any.
pub(super) fn origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN)?.to_str().ok()
}

/// Adds the CORS headers that let `origin` read the response.
pub(super) fn allow_origin(mut r: Response, origin: Option<&str>) -> Response {
    if let Some(v) = origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    r
}

fn preflight(origin: Option<&str>, allowed: bool) -> Response {
    let Some(origin) = origin.filter(|_| allowed) else {
        return fail(
            StatusCode::FORBIDDEN,
            "this origin is not one of the origins of a site served here",
        );
    };
    let mut r = allow_origin(StatusCode::NO_CONTENT.into_response(), Some(origin));
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, Content-Type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    r
}

/// `OPTIONS /collect` and `/api/opt-out`: the batch names the site, so a
/// preflight is allowed for an origin of any site (the tracker's requests
/// are "simple" and need none).
pub(super) async fn preflight_collect(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let o = origin(&headers);
    preflight(o, o.is_some_and(|o| app.access.any_site_allows(o)))
}

/// `OPTIONS /api/...`: the overlay on a site's pages calls the API.
pub(super) async fn preflight_api(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let o = origin(&headers);
    preflight(o, o.is_some_and(|o| app.access.any_site_allows(o)))
}

/// The API's CORS for a response: a site origin may read it.
pub(super) fn api_cors(app: &App, headers: &HeaderMap, r: Response) -> Response {
    match origin(headers) {
        Some(o) if app.access.any_site_allows(o) => allow_origin(r, Some(o)),
        _ => r,
    }
}

/// Checks `Authorization: Bearer TOKEN` in constant time.
pub(super) fn check_token(app: &App, headers: &HeaderMap) -> std::result::Result<(), Response> {
    let unauthorized = |why: &str| {
        let mut r = fail(StatusCode::UNAUTHORIZED, why);
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"heatstore\""),
        );
        Err(r)
    };
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return unauthorized("missing token: send the header `Authorization: Bearer TOKEN`");
    };
    let given = value.as_bytes();
    let Some(token) = given
        .strip_prefix(b"Bearer ")
        .or_else(|| given.strip_prefix(b"bearer "))
    else {
        return unauthorized("the Authorization header must be `Bearer TOKEN`");
    };
    if bool::from(token.ct_eq(app.config.token.as_bytes())) {
        Ok(())
    } else {
        unauthorized("wrong token")
    }
}

/// The client's address: the last entry of the configured proxy header,
/// else the connection's peer. Used only for cookieless ids.
pub(super) fn client_ip(
    config: &ServerConfig,
    headers: &HeaderMap,
    peer: Option<&ConnectInfo<SocketAddr>>,
) -> Option<String> {
    if let Some(name) = &config.proxy_header {
        let last = headers
            .get_all(name.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|v| !v.is_empty());
        return last.map(str::to_owned);
    }
    peer.map(|p| p.0.ip().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalized_and_checked() {
        assert_eq!(
            normalize_origin("HTTPS://Shop.Example.com").unwrap(),
            "https://shop.example.com"
        );
        assert_eq!(
            normalize_origin("http://127.0.0.1:8081/").unwrap(),
            "http://127.0.0.1:8081"
        );
        assert!(normalize_origin("https://a.com/path").is_err());
        assert!(normalize_origin("ftp://a.com").is_err());
        assert!(normalize_origin("a.com").is_err());
        assert_eq!(origin_host("http://127.0.0.1:8081"), Some("127.0.0.1"));
        assert_eq!(origin_host("https://[::1]:9"), Some("::1"));
    }
}
