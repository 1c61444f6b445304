//! The registry's errors in the specification's format (`{"errors":[{"code","message","detail"}]}`).

use super::*;

/// An error in the distribution specification's format.
#[derive(Debug)]
pub struct OciError {
    pub(super) status: StatusCode,
    pub(super) code: &'static str,
    pub(super) message: String,
    /// For 401: the scope to name in the challenge.
    pub(super) scope: Option<String>,
}

impl OciError {
    pub(super) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        OciError {
            status,
            code,
            message: message.into(),
            scope: None,
        }
    }
}

/// Map a service error to the specification's codes.
pub(super) fn from_error(
    err: Error,
    not_found_code: &'static str,
    scope: Option<String>,
) -> OciError {
    crate::protocols::log_internal(&err);
    let message = err.to_string();
    match err {
        Error::Unauthenticated(_) => OciError {
            status: StatusCode::UNAUTHORIZED,
            code: "UNAUTHORIZED",
            message,
            scope,
        },
        Error::Forbidden(_) => OciError::new(StatusCode::FORBIDDEN, "DENIED", message),
        Error::NotFound(_) => OciError::new(StatusCode::NOT_FOUND, not_found_code, message),
        Error::BadUserInput(_) => OciError::new(StatusCode::BAD_REQUEST, "UNSUPPORTED", message),
        Error::Conflict(_) => OciError::new(StatusCode::CONFLICT, "DENIED", message),
        Error::PayloadTooLarge(_) => {
            OciError::new(StatusCode::PAYLOAD_TOO_LARGE, "SIZE_INVALID", message)
        }
        Error::RequestTimeout(_) => {
            OciError::new(StatusCode::REQUEST_TIMEOUT, "BLOB_UPLOAD_INVALID", message)
        }
        Error::Unavailable(_) => {
            OciError::new(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", message)
        }
        Error::InsufficientStorage(_) => {
            OciError::new(StatusCode::INSUFFICIENT_STORAGE, "UNKNOWN", message)
        }
        Error::Internal(_) => OciError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN",
            "internal error",
        ),
    }
}

impl From<sea_orm::DbErr> for OciError {
    fn from(err: sea_orm::DbErr) -> Self {
        from_error(err.into(), "UNKNOWN", None)
    }
}

impl OciError {
    pub(super) fn into_response_with(self, ctx: &Ctx) -> Response {
        let body =
            json!({ "errors": [{ "code": self.code, "message": self.message, "detail": {} }] });
        let mut response = (
            self.status,
            [(CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        response.headers_mut().insert(
            "Docker-Distribution-API-Version",
            HeaderValue::from_static("registry/2.0"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            let mut challenge = format!(
                "Bearer realm=\"{}/v2/token\",service=\"{}\"",
                ctx.base,
                auth::service(&ctx.state)
            );
            if let Some(scope) = self.scope {
                challenge.push_str(&format!(",scope=\"{scope}\""));
            }
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response.headers_mut().insert(WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

pub(super) type Outcome = Result<Response, OciError>;

/// The one answer for an image that does not exist, lies in a repository the caller may not
/// see, or lies outside the caller's package limit.
pub(super) fn name_unknown(name: &str) -> OciError {
    OciError::new(
        StatusCode::NOT_FOUND,
        "NAME_UNKNOWN",
        format!("repository name not known to registry: {name}"),
    )
}

pub(super) fn unsupported_method() -> OciError {
    OciError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "UNSUPPORTED",
        "this method is not supported here",
    )
}

impl From<Error> for OciError {
    fn from(err: Error) -> Self {
        from_error(err, "UNKNOWN", None)
    }
}

pub(super) fn manifest_unknown(reference: &str) -> OciError {
    OciError::new(
        StatusCode::NOT_FOUND,
        "MANIFEST_UNKNOWN",
        format!("manifest unknown: {reference}"),
    )
}

pub(super) fn blob_unknown(digest: &str) -> OciError {
    OciError::new(
        StatusCode::NOT_FOUND,
        "BLOB_UNKNOWN",
        format!("blob unknown to registry: {digest}"),
    )
}

pub(super) fn upload_unknown(id: &str) -> OciError {
    OciError::new(
        StatusCode::NOT_FOUND,
        "BLOB_UPLOAD_UNKNOWN",
        format!("blob upload unknown to registry: {id}"),
    )
}

/// An upload whose content is not what the client named.
pub(super) fn digest_mismatch(actual: &str, named: &str) -> OciError {
    OciError::new(
        StatusCode::BAD_REQUEST,
        "DIGEST_INVALID",
        format!("the content's digest is {actual}, not {named}"),
    )
}
