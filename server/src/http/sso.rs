//! `/auth/sso/{source}/start` and `/auth/sso/{source}/callback`: the browser's way through an
//! authentication source. Both end in a redirect: to the provider, into the SPA with a
//! session, or back to the sign-in page with `?sso_error={code}` that the page puts in words.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use http::header::{COOKIE, SET_COOKIE};
use http::HeaderMap;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::graphql::ClientAddress;
use crate::auth::sso::{self, Configured, Refusal, FLOW_COOKIE};
use crate::auth::{sealed, session};
use crate::db::entities::auth_sources;
use crate::error::Error;
use crate::services::audit::{self, Actor, Target};
use crate::services::auth_sources as service;
use crate::state::SharedState;

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/auth/sso/{source}/start", get(start))
        .route("/auth/sso/{source}/callback", get(callback))
}

/// Why a sign-in did not end in a session.
enum Failure {
    Refused(Refusal),
    Internal(Error),
}

impl From<Refusal> for Failure {
    fn from(refusal: Refusal) -> Self {
        Failure::Refused(refusal)
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure::Internal(err)
    }
}

#[derive(Deserialize)]
pub struct StartQuery {
    return_to: Option<String>,
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn flow_cookie(value: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    // Lax: the provider's redirect back is a top-level GET, which carries Lax cookies.
    format!(
        "{FLOW_COOKIE}={value}; Path=/auth/sso; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    )
}

fn configured<'a>(
    state: &SharedState,
    source: &'a auth_sources::Model,
) -> Result<Configured<'a>, Failure> {
    let provider = service::provider_of(source).ok_or_else(|| {
        Failure::Internal(Error::internal(anyhow::anyhow!(
            "authentication source {} has an unknown provider",
            source.name
        )))
    })?;
    Ok(Configured {
        source,
        provider,
        client_secret: sealed::open(&state.secret_key, &source.client_secret_encrypted)?,
        redirect_uri: service::callback_url(&state.base_url, &source.name),
        scopes: service::effective_scopes(source, provider),
    })
}

async fn active_source(state: &SharedState, name: &str) -> Result<auth_sources::Model, Failure> {
    let source = service::find_by_name(&state.db, name)
        .await?
        .ok_or(Refusal::UnknownSource)?;
    if !source.active {
        return Err(Refusal::Inactive.into());
    }
    Ok(source)
}

async fn start(
    State(state): State<SharedState>,
    Path(name): Path<String>,
    Query(query): Query<StartQuery>,
    ClientAddress(address): ClientAddress,
) -> Response {
    let begun = async {
        let source = active_source(&state, &name).await?;
        let configured = configured(&state, &source)?;
        let started = sso::start(&state.sso_http, &configured).await?;
        let return_to = sso::safe_return_to(query.return_to.as_deref());
        service::remember_flow(&state.db, &state.secret_key, &source, &started, &return_to).await?;
        Ok::<_, Failure>(started)
    }
    .await;
    match begun {
        Ok(started) => (
            [(
                SET_COOKIE,
                flow_cookie(
                    &started.state,
                    sso::FLOW_TTL.num_seconds(),
                    state.secure_cookies(),
                ),
            )],
            Redirect::to(&started.authorize_url),
        )
            .into_response(),
        Err(failure) => refused(&state, &name, None, address, failure).await,
    }
}

async fn callback(
    State(state): State<SharedState>,
    Path(name): Path<String>,
    Query(query): Query<CallbackQuery>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
) -> Response {
    let mut email = None;
    let finished = finish(&state, &name, query, &headers, address, &mut email).await;
    match finished {
        Ok((cookies, return_to)) => {
            let mut response = Redirect::to(&return_to).into_response();
            for cookie in cookies {
                if let Ok(value) = cookie.parse() {
                    response.headers_mut().append(SET_COOKIE, value);
                }
            }
            response
        }
        Err(failure) => refused(&state, &name, email.as_deref(), address, failure).await,
    }
}

/// The callback's work: `Ok` carries the cookies to set and where to go.
async fn finish(
    state: &SharedState,
    name: &str,
    query: CallbackQuery,
    headers: &HeaderMap,
    address: Option<std::net::IpAddr>,
    email: &mut Option<String>,
) -> Result<(Vec<String>, String), Failure> {
    let source = service::find_by_name(&state.db, name)
        .await?
        .ok_or(Refusal::UnknownSource)?;
    let flow = match query.state.as_deref() {
        Some(value) => service::take_flow(&state.db, &source, value).await?,
        None => None,
    };
    if let Some(error) = query.error {
        // The person declined, or the provider refused: the flow is over either way.
        let detail = match query.error_description {
            Some(description) => format!("{error}: {description}"),
            None => error,
        };
        return Err(Refusal::Cancelled(detail).into());
    }
    let (Some(flow), Some(sent_state)) = (flow, query.state) else {
        return Err(Refusal::InvalidState.into());
    };
    let cookie = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .find_map(|h| session::cookie_value(h, FLOW_COOKIE))
        .unwrap_or("");
    if !bool::from(cookie.as_bytes().ct_eq(sent_state.as_bytes())) {
        return Err(Refusal::OtherBrowser.into());
    }
    if !sso::flow_alive(flow.expires_at, chrono::Utc::now()) {
        return Err(Refusal::Expired.into());
    }
    if !source.active {
        return Err(Refusal::Inactive.into());
    }
    let code = query
        .code
        .ok_or_else(|| Refusal::ProviderError("the provider sent no authorization code".into()))?;
    let configured = configured(state, &source)?;
    let verifier = sealed::open(&state.secret_key, &flow.pkce_verifier_encrypted)?;
    let identity = sso::finish(&state.sso_http, &configured, &code, &verifier, &flow.nonce).await?;
    *email = Some(identity.email.clone());
    let (user, created) = service::sign_in(&state.db, &source, &identity).await??;
    let new_session = session::create(
        &state.db,
        user.id,
        address.map(|a| a.to_string()),
        state.config.session_ttl_hours,
    )
    .await?;
    audit::record(
        &state.db,
        &Actor {
            user_id: Some(user.id),
            token_id: None,
            name: user.email.clone(),
            address: address.map(|a| a.to_string()),
        },
        "session.signed_in",
        Target {
            kind: "user",
            id: Some(user.id.to_string()),
            name: &user.email,
        },
        json!({ "method": "sso", "source": source.name, "provider": source.provider, "provisioned": created }),
    )
    .await?;
    let mut cookies: Vec<String> =
        session::set_cookies(&new_session, state.secure_cookies()).into();
    cookies.push(flow_cookie("", 0, state.secure_cookies()));
    Ok((cookies, flow.return_to))
}

/// Back to the sign-in page with the reason; the refusal is an audit event.
async fn refused(
    state: &SharedState,
    name: &str,
    email: Option<&str>,
    address: Option<std::net::IpAddr>,
    failure: Failure,
) -> Response {
    let (code, detail) = match &failure {
        Failure::Refused(refusal) => (refusal.code(), refusal.detail().map(str::to_owned)),
        Failure::Internal(err) => {
            tracing::error!(error = ?err, source = name, "single sign-on failed");
            ("internal", None)
        }
    };
    tracing::info!(source = name, reason = code, detail = ?detail, "single sign-on refused");
    // Refusals of nobody in particular (forged or replayed callbacks) are recorded once a
    // minute per address, source and reason: a flood of them writes a handful of rows.
    if email.is_none() {
        static RECENT: std::sync::LazyLock<moka::sync::Cache<String, ()>> =
            std::sync::LazyLock::new(|| {
                moka::sync::Cache::builder()
                    .max_capacity(10_000)
                    .time_to_live(std::time::Duration::from_secs(60))
                    .build()
            });
        let ip = address.map(|a| a.to_string()).unwrap_or_default();
        let key = crate::protocols::request_key(&[ip.as_bytes(), name.as_bytes(), code.as_bytes()]);
        if RECENT.contains_key(&key) {
            return back_to_sign_in(state, name, code);
        }
        RECENT.insert(key, ());
    }
    let recorded = audit::record(
        &state.db,
        &Actor {
            user_id: None,
            token_id: None,
            name: email.unwrap_or("anonymous").to_owned(),
            address: address.map(|a| a.to_string()),
        },
        "session.sign_in_refused",
        Target {
            kind: "auth_source",
            id: None,
            name,
        },
        json!({ "reason": code, "detail": detail }),
    )
    .await;
    if let Err(err) = recorded {
        tracing::error!(error = ?err, "recording a refused sign-in failed");
    }
    back_to_sign_in(state, name, code)
}

fn back_to_sign_in(state: &SharedState, name: &str, code: &str) -> Response {
    let source: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    (
        [(SET_COOKIE, flow_cookie("", 0, state.secure_cookies()))],
        Redirect::to(&format!("/login?sso_error={code}&source={source}")),
    )
        .into_response()
}
