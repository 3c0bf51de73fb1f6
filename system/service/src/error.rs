//! What a request can fail with, and how each protocol says it.
//!
//! The split matters to a tester: a definite failure (`Invalid`, `NotFound`, `Unavailable`,
//! `Overloaded`) did not happen; an `Indeterminate` one may have (a commit whose answer was lost, a deadline passed after
//! the request left), and Jepsen records it as `:info`, never as `:fail`.

use axum::http::StatusCode;

/// Why a request did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is malformed or out of bounds: nothing was attempted.
    #[error("{0}")]
    Invalid(String),
    /// It names a key or account that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// It conflicts with what exists (an account opened twice).
    #[error("{0}")]
    Conflict(String),
    /// A store could not be reached before anything was sent: nothing happened.
    #[error("{0}")]
    Unavailable(String),
    /// The instance's rate limit (a live setting) refused it before anything was attempted.
    #[error("{0}")]
    Overloaded(String),
    /// The store may or may not have applied it.
    #[error("{0}")]
    Indeterminate(String),
}

impl ServiceError {
    /// The HTTP status of the REST reply: 4xx for the caller's mistakes, 503 when nothing
    /// happened, 504 when it may have.
    pub fn status(&self) -> StatusCode {
        match self {
            ServiceError::Invalid(_) => StatusCode::BAD_REQUEST,
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::Conflict(_) => StatusCode::CONFLICT,
            ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::Overloaded(_) => StatusCode::TOO_MANY_REQUESTS,
            ServiceError::Indeterminate(_) => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The short name of its kind, for metrics labels and JSON bodies.
    pub fn kind(&self) -> &'static str {
        match self {
            ServiceError::Invalid(_) => "invalid",
            ServiceError::NotFound(_) => "not-found",
            ServiceError::Conflict(_) => "conflict",
            ServiceError::Unavailable(_) => "unavailable",
            ServiceError::Overloaded(_) => "overloaded",
            ServiceError::Indeterminate(_) => "indeterminate",
        }
    }
}

impl From<ServiceError> for tonic::Status {
    fn from(e: ServiceError) -> tonic::Status {
        let message = e.to_string();
        let kind = e.kind();
        let mut status = match e {
            ServiceError::Invalid(_) => tonic::Status::invalid_argument(message),
            ServiceError::NotFound(_) => tonic::Status::not_found(message),
            ServiceError::Conflict(_) => tonic::Status::already_exists(message),
            ServiceError::Unavailable(_) => tonic::Status::unavailable(message),
            ServiceError::Overloaded(_) => tonic::Status::resource_exhausted(message),
            // DEADLINE_EXCEEDED is gRPC's own word for "may have happened".
            ServiceError::Indeterminate(_) => tonic::Status::deadline_exceeded(message),
        };
        // Says the status is the api's own verdict, not the transport's: a client may then trust
        // that UNAVAILABLE means nothing happened.
        status.metadata_mut().insert(
            "lab-error",
            tonic::metadata::MetadataValue::from_static(kind),
        );
        status
    }
}
