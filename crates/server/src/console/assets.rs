//! The console's static files (stylesheet, script, icon). Each is served
//! under a name that carries a hash of its content, `console.1a2b3c4d5e.css`,
//! with a year-long immutable cache: a changed file gets a new name, so a
//! browser never keeps a stale copy and never asks again for a current one.
//! Pages name them through [`css`], [`js`] and [`icon`].

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use robots_core::SecretHash;

use crate::state::AppState;

struct Asset {
    /// `/static/<stem>.<hash>.<extension>`.
    path: String,
    content_type: &'static str,
    body: &'static str,
}

impl Asset {
    fn new(stem: &str, extension: &str, content_type: &'static str, body: &'static str) -> Self {
        let digest = SecretHash::of(body.as_bytes());
        let hash = robots_core::secret::hex(&digest.as_bytes()[..5]);
        Self {
            path: format!("/static/{stem}.{hash}.{extension}"),
            content_type,
            body,
        }
    }
}

static ASSETS: LazyLock<[Asset; 3]> = LazyLock::new(|| {
    [
        Asset::new(
            "console",
            "css",
            "text/css; charset=utf-8",
            include_str!("../../static/console.css"),
        ),
        Asset::new(
            "console",
            "js",
            "text/javascript; charset=utf-8",
            include_str!("../../static/console.js"),
        ),
        Asset::new(
            "favicon",
            "svg",
            "image/svg+xml",
            include_str!("../../static/favicon.svg"),
        ),
    ]
});

/// Where pages find the stylesheet.
pub fn css() -> &'static str {
    &ASSETS[0].path
}

/// Where pages find the script.
pub fn js() -> &'static str {
    &ASSETS[1].path
}

/// Where pages find the icon.
pub fn icon() -> &'static str {
    &ASSETS[2].path
}

pub fn router() -> Router<AppState> {
    Router::new().route("/static/{name}", get(serve))
}

async fn serve(Path(name): Path<String>) -> Response {
    let Some(asset) = ASSETS
        .iter()
        .find(|asset| asset.path.strip_prefix("/static/") == Some(name.as_str()))
    else {
        // An old name (a page cached across an upgrade) or a mistyped one.
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        asset.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_a_hash_of_the_content() {
        let css = css();
        assert!(css.starts_with("/static/console.") && css.ends_with(".css"), "{css}");
        let hash = &css["/static/console.".len()..css.len() - ".css".len()];
        assert_eq!(hash.len(), 10);
        let expected = SecretHash::of(include_str!("../../static/console.css").as_bytes());
        assert_eq!(hash, robots_core::secret::hex(&expected.as_bytes()[..5]));
        assert_ne!(css, js());
    }
}
