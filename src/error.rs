//! The internal error: logged with its cause, shown to the caller as an opaque 500.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct InternalError(#[from] anyhow::Error);

impl From<sqlx::Error> for InternalError {
    fn from(e: sqlx::Error) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for InternalError {
    fn into_response(self) -> Response {
        tracing::error!(error = format!("{:#}", self.0), "internal error");
        (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
    }
}
