//! `GET /api/<report>`, `/api/sites`, `/api/sites/detail` and
//! `GET`/`POST /api/deletions`: every call needs the bearer token.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::access::{api_cors, check_token};
use super::{blocking, fail, json_response, App};
use crate::report::{parse_site, parse_time, Report, ReportRequest};
use crate::DeletionTarget;

/// The query string as `(name, value)` pairs, percent-decoded.
fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// Runs `f` after the token check, with the API's CORS on its answer.
async fn authorized(
    app: &App,
    headers: &HeaderMap,
    f: impl std::future::Future<Output = Response>,
) -> Response {
    let r = match check_token(app, headers) {
        Ok(()) => f.await,
        Err(r) => r,
    };
    api_cors(app, headers, r)
}

/// `GET /api/<report>?site=…&…` with the CLI's option names: the JSON of
/// `heatstore query <report> --json`.
pub(super) async fn report(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    authorized(&app, &headers, async {
        let Some(report) = Report::parse(&name) else {
            let names: Vec<_> = Report::ALL.iter().map(|r| r.as_str()).collect();
            return fail(
                StatusCode::NOT_FOUND,
                format!("no report {name:?} (expected one of: {})", names.join(", ")),
            );
        };
        let req = match ReportRequest::from_pairs(report, pairs(query.as_deref())) {
            Ok(r) => r,
            Err(e) => return fail(StatusCode::BAD_REQUEST, e),
        };
        let store = Arc::clone(&app.store);
        match blocking(move || Ok(req.run(&store.snapshot()?)?.to_json())).await {
            Ok(json) => json_response(StatusCode::OK, json),
            Err(r) => r,
        }
    })
    .await
}

/// `GET /api/sites`: the sites served and the sites of the store, by name.
pub(super) async fn sites(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    authorized(&app, &headers, async {
        let mut names: Vec<String> = app.access.sites().into_keys().collect();
        let store = Arc::clone(&app.store);
        match blocking(move || store.snapshot()?.sites()).await {
            Ok(stored) => names.extend(stored),
            Err(r) => return r,
        }
        names.sort();
        names.dedup();
        json_response(StatusCode::OK, Value::from(names).to_string())
    })
    .await
}

/// `GET /api/sites/detail`: `[{"site":…,"origins":[…]}]`.
pub(super) async fn sites_detail(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    authorized(&app, &headers, async {
        let mut sites = app.access.sites();
        let store = Arc::clone(&app.store);
        match blocking(move || store.snapshot()?.sites()).await {
            Ok(stored) => {
                for s in stored {
                    sites.entry(s).or_default();
                }
            }
            Err(r) => return r,
        }
        let list: Vec<Value> = sites
            .into_iter()
            .map(|(site, origins)| serde_json::json!({"site": site, "origins": origins}))
            .collect();
        json_response(StatusCode::OK, Value::from(list).to_string())
    })
    .await
}

/// `GET /api/deletions[?site=]`: the audit records (of one site), as
/// `heatstore requests --json` prints them.
pub(super) async fn deletions(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    authorized(&app, &headers, async {
        let mut site = None;
        for (k, v) in pairs(query.as_deref()) {
            match k.as_str() {
                "site" => match parse_site(&v) {
                    Ok(s) => site = Some(s),
                    Err(e) => return fail(StatusCode::BAD_REQUEST, format!("site: {e}")),
                },
                _ => {
                    return fail(
                        StatusCode::BAD_REQUEST,
                        format!("{k}: unknown option (expected site)"),
                    )
                }
            }
        }
        let store = Arc::clone(&app.store);
        let mut list = match blocking(move || store.deletion_requests()).await {
            Ok(l) => l,
            Err(r) => return r,
        };
        if let Some(site) = site {
            list.retain(|r| r.site == site);
        }
        match serde_json::to_string(&list) {
            Ok(json) => json_response(StatusCode::OK, json),
            Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, e),
        }
    })
    .await
}

/// The target of a deletion request body: exactly one of `visitor`,
/// `session`, `from` with `to`, `all: true`.
fn target(body: &Value) -> Result<(String, DeletionTarget), String> {
    let obj = body.as_object().ok_or("the body must be a JSON object")?;
    let text = |k: &str| -> Result<Option<String>, String> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(_) => Err(format!("{k}: expected a non-empty string")),
        }
    };
    let time = |k: &str| -> Result<Option<i64>, String> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => parse_time(&n.to_string())
                .map(Some)
                .map_err(|e| format!("{k}: {e}")),
            Some(Value::String(s)) => parse_time(s).map(Some).map_err(|e| format!("{k}: {e}")),
            Some(_) => Err(format!(
                "{k}: expected ms since the epoch, an RFC 3339 time or a date (YYYY-MM-DD)"
            )),
        }
    };
    let site = text("site")?.ok_or("site: required")?;
    let site = parse_site(&site).map_err(|e| format!("site: {e}"))?;
    let all = match obj.get("all") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(_) => return Err("all: expected true or false".into()),
    };
    let mut found = Vec::new();
    if let Some(v) = text("visitor")? {
        found.push(DeletionTarget::Visitor(v));
    }
    if let Some(s) = text("session")? {
        found.push(DeletionTarget::Session(s));
    }
    match (time("from")?, time("to")?) {
        (Some(from), Some(to)) => found.push(DeletionTarget::TimeRange { from, to }),
        (None, None) => {}
        _ => return Err("from and to: give both (a range [from, to))".into()),
    }
    if all {
        found.push(DeletionTarget::Site);
    }
    match found.len() {
        1 => Ok((site, found.remove(0))),
        0 => Err("give one of visitor, session, from and to, or all: true".into()),
        _ => Err("give only one of visitor, session, from and to, or all: true".into()),
    }
}

/// `POST /api/deletions`: records the request; answers its audit record.
pub(super) async fn request_deletion(State(app): State<Arc<App>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    authorized(&app, &headers, async {
        let bytes = match axum::body::to_bytes(body, 16 * 1024).await {
            Ok(b) => b,
            Err(_) => {
                return fail(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the body is over 16 KiB or could not be read",
                )
            }
        };
        let value: Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                return fail(
                    StatusCode::BAD_REQUEST,
                    format!("the body is not JSON: {e}"),
                )
            }
        };
        let (site, target) = match target(&value) {
            Ok(t) => t,
            Err(e) => return fail(StatusCode::BAD_REQUEST, e),
        };
        let store = Arc::clone(&app.store);
        let done = blocking(move || {
            let id = store.request_deletion(&site, target)?;
            let record = store.deletion_requests()?.into_iter().find(|r| r.id == id);
            Ok(record)
        })
        .await;
        match done {
            Ok(Some(record)) => match serde_json::to_string(&record) {
                Ok(json) => json_response(StatusCode::OK, json),
                Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, e),
            },
            Ok(None) => fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the request was recorded but its record was not found",
            ),
            Err(r) => r,
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletion_bodies_need_one_target() {
        let t = |s: &str| target(&serde_json::from_str(s).unwrap());
        assert!(matches!(
            t(r#"{"site":"a.com","visitor":"v"}"#),
            Ok((_, DeletionTarget::Visitor(_)))
        ));
        assert!(matches!(
            t(r#"{"site":"a.com","from":0,"to":"1970-01-02T00:00:00Z"}"#),
            Ok((
                _,
                DeletionTarget::TimeRange {
                    from: 0,
                    to: 86_400_000
                }
            ))
        ));
        assert!(t(r#"{"site":"a.com"}"#)
            .unwrap_err()
            .starts_with("give one"));
        assert!(t(r#"{"site":"a.com","all":true,"visitor":"v"}"#)
            .unwrap_err()
            .starts_with("give only"));
        assert!(t(r#"{"site":"a.com","from":1}"#).is_err());
        assert!(t(r#"{"visitor":"v"}"#).unwrap_err().starts_with("site"));
        assert!(t(r#"{"site":5,"all":true}"#)
            .unwrap_err()
            .starts_with("site"));
        assert!(t("[]").is_err());
    }
}
