//! Errors: the gateway's own (starting), and the API's (a status, a code and a message as JSON).

use std::convert::Infallible;

use serde::Serialize;
use warp::http::StatusCode;
use warp::reject::Rejection;
use warp::Reply;

/// Why a gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start a runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the gateway stopped while starting")]
    Aborted,
    #[error("no API token: give the gateway at least one token")]
    NoToken,
}

/// An API error: answered as `{"error": {"code", "message", …}}` with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// For a query that does not parse: the 1-based column and the character span to underline.
    pub column: Option<usize>,
    pub span: Option<(usize, usize)>,
}

impl warp::reject::Reject for ApiError {}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: status.as_u16(),
            code,
            message: message.into(),
            column: None,
            span: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required (Authorization: Bearer TOKEN)",
        )
    }

    /// A valid credential whose role or scopes do not allow the request.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_available(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_available",
            format!("{what} is not available yet: the backend does not serve it"),
        )
    }

    pub fn backend(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "backend_error", message)
    }

    pub fn timeout() -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            "the backend did not answer in time",
        )
    }

    /// A query that does not parse, with where.
    pub fn query(error: &spider_query::QueryError) -> Self {
        Self {
            column: Some(error.column),
            span: Some((error.span.start, error.span.end)),
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                error.message.clone(),
            )
        }
    }

    pub fn body(&self) -> ErrorBody<'_> {
        ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: &self.message,
                column: self.column,
                span: self.span.map(|(start, end)| [start, end]),
            },
        }
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn into_response(self) -> warp::reply::Response {
        warp::reply::with_status(warp::reply::json(&self.body()), self.status_code())
            .into_response()
    }
}

/// The JSON form of an error.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(Debug, Serialize)]
pub struct ErrorDetail<'a> {
    pub code: &'static str,
    pub message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<[usize; 2]>,
}

/// Turns every rejection into a JSON error.
pub async fn recover(rejection: Rejection) -> Result<warp::reply::Response, Infallible> {
    let error = if let Some(error) = rejection.find::<ApiError>() {
        error.clone()
    } else if rejection.is_not_found() {
        ApiError::not_found("no such endpoint")
    } else if let Some(error) = rejection.find::<warp::reject::InvalidQuery>() {
        ApiError::bad_request(format!("invalid query string: {error}"))
    } else if let Some(error) = rejection.find::<warp::reject::MissingHeader>() {
        ApiError::bad_request(error.to_string())
    } else if let Some(error) = rejection.find::<warp::reject::InvalidHeader>() {
        ApiError::bad_request(error.to_string())
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than the gateway accepts",
        )
    } else if rejection.find::<warp::reject::LengthRequired>().is_some() {
        ApiError::new(
            StatusCode::LENGTH_REQUIRED,
            "length_required",
            "a Content-Length is required",
        )
    } else if let Some(error) = rejection.find::<warp::filters::body::BodyDeserializeError>() {
        ApiError::bad_request(format!("invalid JSON body: {error}"))
    } else if rejection
        .find::<warp::reject::UnsupportedMediaType>()
        .is_some()
    {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "unsupported content type",
        )
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed on this endpoint",
        )
    } else {
        tracing::warn!(?rejection, "unhandled rejection");
        ApiError::bad_request(format!("request rejected: {rejection:?}"))
    };
    crate::metrics::count_error(error.code);
    Ok(error.into_response())
}
