//! `POST /collect` (a tracker batch) and `POST /api/opt-out`.
//!
//! A batch is `{"site": NAME, "events": [EVENT, ...]}` where each event is
//! an Event NDJSON v1 object without `site` (the batch names it), `ua` and
//! `ip` (taken from the request: the `User-Agent` header on pageviews and
//! on cookieless events, the client's address on cookieless events only,
//! and never stored). The body may be sent as `text/plain` (the tracker's
//! beacons, a CORS "simple" request) or `application/json`.
//!
//! Answers: `200 {"accepted":N,"dropped":N,"rejected":[]}` once the
//! events are durable; `400` with the same fields and `error` when some
//! events were rejected (the others are stored); `400`/`403`/`413` with
//! `error` and nothing stored when the batch itself is wrong; `503` when
//! the ingest queue is full (try again).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::access::{allow_origin, client_ip, origin};
use super::{blocking, fail, json_response, store_error, App};
use crate::event::MAX_UA_LEN;
use crate::{Event, EventKind};

#[derive(Deserialize)]
struct Batch<'a> {
    #[serde(borrow)]
    site: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct OptOut {
    site: String,
    #[serde(default)]
    visitor: Option<String>,
}

/// How long a client may take to send a body.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads the body up to `limit` bytes: 413 beyond, 400 when it is cut.
async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<axum::body::Bytes, Response> {
    let too_large = || {
        fail(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over the limit of {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    // A client that trickles its body holds a connection and a buffer:
    // it gets a bounded time to send it all.
    let read = tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, limit));
    let Ok(read) = read.await else {
        return Err(fail(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the body was not received within {} s",
                BODY_TIMEOUT.as_secs()
            ),
        ));
    };
    match read {
        Ok(b) => Ok(b),
        Err(e) => {
            let over = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if over {
                Err(too_large())
            } else {
                Err(fail(
                    StatusCode::BAD_REQUEST,
                    format!("the body could not be read: {e}"),
                ))
            }
        }
    }
}

fn bad_json(what: &str, e: &serde_json::Error) -> Response {
    fail(
        StatusCode::BAD_REQUEST,
        format!(
            "{what} is not a valid batch: {e} (expected {{\"site\":\"NAME\",\"events\":[...]}})"
        ),
    )
}

/// Checks the site and the page's origin; the origin, if any, for CORS.
fn check_site<'h>(
    app: &App,
    site: &str,
    headers: &'h HeaderMap,
) -> Result<Option<&'h str>, Response> {
    if !app.access.knows(site) {
        return Err(fail(
            StatusCode::FORBIDDEN,
            format!(
                "site {site:?} is not served here (start the server with --site {site}=ORIGIN)"
            ),
        ));
    }
    let o = origin(headers);
    match o {
        // A request without Origin is not from a browser's page (curl, a
        // server-side sender): nothing to check it against.
        None => Ok(None),
        Some(o) if app.access.allows(site, o) => Ok(Some(o)),
        Some(o) => Err(fail(
            StatusCode::FORBIDDEN,
            format!("origin {o:?} is not one of the origins of site {site:?}"),
        )),
    }
}

/// `POST /collect`.
pub(super) async fn collect(State(app): State<Arc<App>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let body = match read_body(body, headers, app.config.max_body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let batch: Batch<'_> = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return bad_json("the body", &e),
    };
    if let Err(e) = crate::report::parse_site(&batch.site) {
        return fail(StatusCode::BAD_REQUEST, format!("site: {e}"));
    }
    let cors = match check_site(&app, &batch.site, headers) {
        Ok(o) => o,
        Err(r) => return r,
    };
    if batch.events.len() > app.config.max_events {
        let r = fail(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{} events in one batch: at most {} (send them in several)",
                batch.events.len(),
                app.config.max_events
            ),
        );
        return allow_origin(r, cors);
    }
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| truncate(v, MAX_UA_LEN));
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>();
    let ip = client_ip(&app.config, headers, peer);
    let n = batch.events.len();
    let mut events = Vec::with_capacity(n);
    // Index in the batch of each event passed on, and the rejections found here.
    let mut index = Vec::with_capacity(n);
    let mut rejected: Vec<(usize, String, String)> = Vec::new();
    // What the server adds to every event before decoding it (so that a
    // cookieless event, with neither id, passes the rules), taken off
    // again after where the format does not want it.
    let mut added = String::new();
    push_field(&mut added, "site", &batch.site);
    if let Some(ua) = &ua {
        push_field(&mut added, "ua", ua);
    }
    if let Some(ip) = &ip {
        push_field(&mut added, "ip", ip);
    }
    let mut line = String::new();
    for (i, raw) in batch.events.iter().enumerate() {
        match decode_event(&added, raw.get(), &mut line) {
            Ok(mut e) => {
                let cookieless = e.session.is_none() && e.visitor.is_none();
                if !cookieless {
                    e.ip = None;
                    if e.kind != EventKind::Pageview {
                        e.ua = None;
                    }
                }
                events.push(e);
                index.push(i);
            }
            Err((field, reason)) => rejected.push((i, field, reason)),
        }
    }
    let mut stored = 0;
    let mut dropped = 0;
    if !events.is_empty() {
        let ticket = match app.ingest.try_submit(events) {
            Ok(t) => t,
            Err(e) => return allow_origin(store_error(&e), cors),
        };
        // Awaited: no thread waits for the group commit.
        let receipt = match ticket.await {
            Ok(r) => r,
            Err(e) => return allow_origin(store_error(&e), cors),
        };
        stored = receipt.stored;
        dropped = receipt.dropped.len();
        for (j, e) in receipt.rejected {
            let i = index.get(j).copied().unwrap_or(j);
            rejected.push((i, e.field.into_owned(), e.reason));
        }
        rejected.sort_by_key(|r| r.0);
    }
    let list: Vec<_> = rejected
        .iter()
        .map(|(i, field, reason)| serde_json::json!({"index": i, "field": field, "reason": reason}))
        .collect();
    let mut body = serde_json::json!({ "accepted": stored, "dropped": dropped, "rejected": list });
    let status = if rejected.is_empty() {
        StatusCode::OK
    } else {
        let (i, field, reason) = &rejected[0];
        body["error"] = serde_json::Value::String(format!(
            "{} of {n} events rejected (the others were kept); event {i}: {field}: {reason}",
            rejected.len()
        ));
        StatusCode::BAD_REQUEST
    };
    allow_origin(json_response(status, body.to_string()), cors)
}

/// `"name":"value",` (JSON-escaped) onto `out`.
fn push_field(out: &mut String, name: &str, value: &str) {
    out.push('"');
    out.push_str(name);
    out.push_str("\":");
    // Serializing a string cannot fail.
    out.push_str(&serde_json::to_string(value).unwrap_or_default());
    out.push(',');
}

/// One event of a batch: its JSON with the server's fields (`added`:
/// `"site":…,"ua":…,"ip":…,`) put in, decoded by the Event NDJSON v1
/// rules. `Err((field, reason))`.
fn decode_event(added: &str, raw: &str, line: &mut String) -> Result<Event, (String, String)> {
    let Some(rest) = raw.strip_prefix('{') else {
        return Err(("event".into(), "an event must be a JSON object".into()));
    };
    line.clear();
    line.push('{');
    line.push_str(added);
    if rest.trim_start().starts_with('}') {
        line.pop(); // the last added field's comma
    }
    line.push_str(rest);
    // The body is UTF-8 already (checked once for the whole batch).
    crate::event::with_json_str(line, |e| e.to_event()).map_err(|e| {
        for field in ["site", "ua", "ip"] {
            if e.reason.contains(&format!("duplicate field `{field}`")) {
                return (
                    field.to_owned(),
                    format!(
                        "an event of a batch has no {field} of its own (the server sets it: {})",
                        match field {
                            "site" => "the batch names the site",
                            "ua" => "the User-Agent header",
                            _ => "the client's address, for cookieless ids only",
                        }
                    ),
                );
            }
        }
        (e.field.into_owned(), e.reason)
    })
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// `POST /api/opt-out`: `{"site":…,"visitor":…}` from the tracker.
pub(super) async fn opt_out(State(app): State<Arc<App>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let body = match read_body(body, headers, 16 * 1024).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let o: OptOut = match serde_json::from_slice(&body) {
        Ok(o) => o,
        Err(e) => {
            return fail(
                StatusCode::BAD_REQUEST,
                format!("the body is not a valid opt-out: {e} (expected {{\"site\":\"NAME\",\"visitor\":\"ID\"}})"),
            )
        }
    };
    let cors = match check_site(&app, &o.site, headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(visitor) = o.visitor.filter(|v| !v.is_empty()) else {
        // Cookieless: the tracker remembers the choice and sends nothing
        // more; there is no id to file a request for.
        let body = serde_json::json!({"filed": false, "reason": "no visitor id (cookieless): nothing to file"});
        return allow_origin(json_response(StatusCode::OK, body.to_string()), cors);
    };
    let store = Arc::clone(&app.store);
    let site = o.site.clone();
    let r = match blocking(move || store.opt_out(&site, &visitor)).await {
        Ok(id) => json_response(
            StatusCode::OK,
            serde_json::json!({"filed": true, "request": id}).to_string(),
        ),
        Err(r) => r,
    };
    allow_origin(r, cors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_get_the_batch_site() {
        let mut line = String::new();
        let e = decode_event(
            r#""site":"a.com","#,
            r#"{"ts":1,"type":"leave","session":"s","url":"/","duration_ms":5}"#,
            &mut line,
        )
        .unwrap();
        assert_eq!(e.site, "a.com");
        let err = decode_event(r#""site":"a.com","#, "{}", &mut line).unwrap_err();
        assert_eq!(err.0, "ts");
        let err = decode_event(r#""site":"a.com","#, "[1]", &mut line).unwrap_err();
        assert_eq!(err.0, "event");
        let err = decode_event(
            r#""site":"a.com","#,
            r#"{"site":"b.com","ts":1,"type":"leave","session":"s","url":"/","duration_ms":5}"#,
            &mut line,
        )
        .unwrap_err();
        assert_eq!(err.0, "site");
        assert_eq!(truncate("héllo", 2), "h");
    }
}
