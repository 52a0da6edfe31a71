//! The files the server serves, built into the binary: the tracker (its
//! minified build at `/heatstore.js`, the readable source at
//! `/heatstore.src.js`), the overlay and the dashboard.

use axum::http::header;
use axum::response::{IntoResponse, Response};

const TRACKER_SRC: &str = include_str!("../../tracker/heatstore.js");
const TRACKER_MIN: &str = include_str!("../../tracker/dist/heatstore.min.js");
const OVERLAY_MIN: &str = include_str!("../../tracker/dist/overlay.min.js");
const DASHBOARD_HTML: &str = include_str!("../../dashboard/index.html");
const DASHBOARD_JS: &str = include_str!("../../dashboard/dashboard.js");
const DASHBOARD_CSS: &str = include_str!("../../dashboard/dashboard.css");

fn file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // Short: a new release's tracker reaches the pages within minutes.
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body,
    )
        .into_response()
}

const JS: &str = "text/javascript; charset=utf-8";

pub(super) async fn tracker() -> Response {
    file(JS, TRACKER_MIN)
}
pub(super) async fn tracker_src() -> Response {
    file(JS, TRACKER_SRC)
}
pub(super) async fn overlay() -> Response {
    file(JS, OVERLAY_MIN)
}
pub(super) async fn dashboard_html() -> Response {
    file("text/html; charset=utf-8", DASHBOARD_HTML)
}
pub(super) async fn dashboard_js() -> Response {
    file(JS, DASHBOARD_JS)
}
pub(super) async fn dashboard_css() -> Response {
    file("text/css; charset=utf-8", DASHBOARD_CSS)
}
