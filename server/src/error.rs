//! One error type for services, mapped to GraphQL (`extensions.code`) and to HTTP.

/// What went wrong, in the terms a caller can act on. Internal details are logged once where
/// they are turned into a response, never returned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadUserInput(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The client stopped sending a request body.
    #[error("{0}")]
    RequestTimeout(String),
    /// The disk (or the database's) is full: nothing was kept; 507.
    #[error("the server's storage is full; nothing was kept (ask its operator to free space)")]
    InsufficientStorage(#[source] anyhow::Error),
    /// The database cannot be reached for now (restarting, failing over, overloaded): the
    /// request may be tried again shortly (503).
    #[error("the database is unavailable; try again in a few seconds")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Error::Unauthenticated(message.into())
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::Forbidden(message.into())
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::NotFound(message.into())
    }
    pub fn bad_input(message: impl Into<String>) -> Self {
        Error::BadUserInput(message.into())
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Error::Conflict(message.into())
    }
    /// Why reading an upload's body failed: the client went quiet (408), or the stream broke.
    pub fn body(err: &(dyn std::error::Error + 'static)) -> Self {
        if body_went_idle(err) {
            Error::RequestTimeout(
                "the upload sent nothing for too long and was abandoned; nothing was kept".into(),
            )
        } else {
            Error::BadUserInput(format!("the upload was interrupted: {err}"))
        }
    }
    /// An internal failure; a full disk anywhere in its causes is told as such (507).
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        let source = source.into();
        if source.chain().any(|cause| {
            cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(is_disk_full)
        }) {
            Error::InsufficientStorage(source)
        } else {
            Error::Internal(source)
        }
    }

    /// The GraphQL `extensions.code` of DESIGN.md.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Unauthenticated(_) => "UNAUTHENTICATED",
            Error::Forbidden(_) => "FORBIDDEN",
            Error::NotFound(_) => "NOT_FOUND",
            Error::BadUserInput(_) => "BAD_USER_INPUT",
            Error::Conflict(_) => "CONFLICT",
            Error::PayloadTooLarge(_) | Error::RequestTimeout(_) => "BAD_USER_INPUT",
            Error::InsufficientStorage(_) | Error::Unavailable(_) | Error::Internal(_) => {
                "INTERNAL"
            }
        }
    }

    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::BadUserInput(_) => StatusCode::BAD_REQUEST,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// ENOSPC, EDQUOT.
pub fn is_disk_full(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::StorageFull || matches!(err.raw_os_error(), Some(28 | 122))
}

impl From<sea_orm::DbErr> for Error {
    fn from(err: sea_orm::DbErr) -> Self {
        if is_database_full(&err) {
            Error::InsufficientStorage(err.into())
        } else if is_unavailable(&err) {
            Error::Unavailable(err.into())
        } else {
            Error::Internal(err.into())
        }
    }
}

/// SQLITE_FULL (13) or PostgreSQL's disk_full (53100).
fn is_database_full(err: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(sea_orm::sqlx::Error::Database(db)))
        | DbErr::Query(RuntimeErr::SqlxError(sea_orm::sqlx::Error::Database(db))) => db
            .code()
            .is_some_and(|code| code == "13" || code == "53100"),
        DbErr::Exec(RuntimeErr::SqlxError(sea_orm::sqlx::Error::Io(io)))
        | DbErr::Query(RuntimeErr::SqlxError(sea_orm::sqlx::Error::Io(io))) => is_disk_full(io),
        _ => false,
    }
}

/// Whether a database error means the database cannot be reached for now (no connection to
/// be had, a connection lost, the server shutting down or starting), not that the request
/// was wrong.
pub fn is_unavailable(err: &sea_orm::DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::{DbErr, RuntimeErr};
    let sqlx = match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    match sqlx {
        Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed => true,
        // Class 08 (connection exception) and 57P (operator intervention: shutting down,
        // cannot connect now) on PostgreSQL; SQLITE_BUSY (5) when a write lock outlasts the
        // wait.
        Sqlx::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P") || code == "5"),
        _ => false,
    }
}

impl From<sea_orm::TransactionError<Error>> for Error {
    fn from(err: sea_orm::TransactionError<Error>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(err) => err,
        }
    }
}

/// Whether a database error is a unique-constraint violation (on SQLite and PostgreSQL).
pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Whether a body read failed because the client went quiet (the idle-upload timeout).
pub fn body_went_idle(err: &(dyn std::error::Error + 'static)) -> bool {
    caused_by::<tower_http::timeout::TimeoutError>(err)
}

/// Whether `axum::body::to_bytes` failed on its length limit.
pub fn body_too_large(err: &(dyn std::error::Error + 'static)) -> bool {
    caused_by::<http_body_util::LengthLimitError>(err)
}

/// Whether `E` is anywhere in the chain of sources of `err`.
fn caused_by<E: std::error::Error + 'static>(err: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(err), |err| err.source()).any(|err| err.is::<E>())
}
