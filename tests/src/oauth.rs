//! Fixture OAuth 2.0 servers for the providers that cannot be reached from here (GitHub,
//! GitLab, Bitbucket, Google), answering as their documentation says: the authorize
//! redirect (`code` and `state`, or `error=access_denied`), the token endpoint with the
//! client authentication each documents (request body; HTTP Basic for Bitbucket) and PKCE,
//! and the user and e-mail APIs with their field names.
//!
//! The authorize endpoint answers at once, as if the person had consented (or declined,
//! when the fixture is told so), so a test plays the browser with plain HTTP requests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Github,
    Gitlab,
    Bitbucket,
    Google,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Github, Kind::Gitlab, Kind::Bitbucket, Kind::Google];

    /// The provider's word in the GraphQL enum.
    pub fn graphql(self) -> &'static str {
        match self {
            Kind::Github => "GITHUB",
            Kind::Gitlab => "GITLAB",
            Kind::Bitbucket => "BITBUCKET",
            Kind::Google => "GOOGLE",
        }
    }
}

/// The person at the provider.
#[derive(Debug, Clone)]
pub struct Person {
    /// The provider's stable id.
    pub id: String,
    pub email: String,
    pub verified: bool,
    pub name: String,
    /// Decline at the consent screen.
    pub declines: bool,
}

impl Person {
    pub fn new(id: &str, email: &str) -> Person {
        Person {
            id: id.into(),
            email: email.into(),
            verified: true,
            name: format!("Person {id}"),
            declines: false,
        }
    }
}

struct Grant {
    redirect_uri: String,
    challenge: Option<String>,
    person: Person,
}

struct Inner {
    kind: Kind,
    client_id: String,
    client_secret: String,
    person: Mutex<Person>,
    codes: Mutex<HashMap<String, Grant>>,
    tokens: Mutex<HashMap<String, Person>>,
    /// Requests seen, as "METHOD path", for assertions.
    seen: Mutex<Vec<String>>,
}

/// A running fixture provider.
pub struct FixtureProvider {
    inner: Arc<Inner>,
    pub base_url: String,
}

impl FixtureProvider {
    pub async fn start(kind: Kind, client_id: &str, client_secret: &str) -> FixtureProvider {
        let inner = Arc::new(Inner {
            kind,
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            person: Mutex::new(Person::new("1", "nobody@example.com")),
            codes: Mutex::default(),
            tokens: Mutex::default(),
            seen: Mutex::default(),
        });
        let router = match kind {
            Kind::Github => Router::new()
                .route("/login/oauth/authorize", get(authorize))
                .route("/login/oauth/access_token", post(token))
                .route("/api/v3/user", get(github_user))
                .route("/api/v3/user/emails", get(github_emails)),
            Kind::Gitlab => Router::new()
                .route("/oauth/authorize", get(authorize))
                .route("/oauth/token", post(token))
                .route("/api/v4/user", get(gitlab_user)),
            Kind::Bitbucket => Router::new()
                .route("/site/oauth2/authorize", get(authorize))
                .route("/site/oauth2/access_token", post(token))
                .route("/!api/2.0/user", get(bitbucket_user))
                .route("/!api/2.0/user/emails", get(bitbucket_emails)),
            Kind::Google => Router::new()
                .route("/o/oauth2/v2/auth", get(authorize))
                .route("/token", post(token))
                .route("/v1/userinfo", get(google_userinfo)),
        }
        .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fixture provider");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("fixture provider");
        });
        FixtureProvider { inner, base_url }
    }

    /// Who signs in next.
    pub fn set_person(&self, person: Person) {
        *self.inner.person.lock().expect("person") = person;
    }

    pub fn seen(&self) -> Vec<String> {
        self.inner.seen.lock().expect("seen").clone()
    }
}

type Shared = State<Arc<Inner>>;

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

async fn authorize(State(inner): Shared, Query(query): Query<HashMap<String, String>>) -> Response {
    inner
        .seen
        .lock()
        .expect("seen")
        .push("GET authorize".into());
    let param = |name: &str| query.get(name).cloned().unwrap_or_default();
    if param("client_id") != inner.client_id || param("response_type") != "code" {
        return (StatusCode::BAD_REQUEST, "unknown client or response type").into_response();
    }
    let redirect_uri = param("redirect_uri");
    let state = param("state");
    let person = inner.person.lock().expect("person").clone();
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    if person.declines {
        return Redirect::to(&format!(
            "{redirect_uri}{separator}error=access_denied&error_description=The+user+has+denied+your+application+access.&state={state}"
        ))
        .into_response();
    }
    if query.contains_key("code_challenge") && param("code_challenge_method") != "S256" {
        return (
            StatusCode::BAD_REQUEST,
            "code_challenge_method must be S256",
        )
            .into_response();
    }
    let code = format!("code-{}", rand_hex());
    inner.codes.lock().expect("codes").insert(
        code.clone(),
        Grant {
            redirect_uri: redirect_uri.clone(),
            challenge: query.get("code_challenge").cloned(),
            person,
        },
    );
    Redirect::to(&format!(
        "{redirect_uri}{separator}code={code}&state={state}"
    ))
    .into_response()
}

fn rand_hex() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Client authentication as each provider documents it: Bitbucket takes HTTP Basic; GitHub,
/// GitLab and Google the `client_id` and `client_secret` form fields.
fn client_authenticated(
    inner: &Inner,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> bool {
    match inner.kind {
        Kind::Bitbucket => {
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", inner.client_id, inner.client_secret))
            );
            headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v == expected)
        }
        _ => {
            form.get("client_id") == Some(&inner.client_id)
                && form.get("client_secret") == Some(&inner.client_secret)
        }
    }
}

async fn token(
    State(inner): Shared,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    inner.seen.lock().expect("seen").push("POST token".into());
    if !client_authenticated(&inner, &headers, &form) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "");
    }
    let code = form.get("code").cloned().unwrap_or_default();
    let Some(grant) = inner.codes.lock().expect("codes").remove(&code) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The provided authorization grant is invalid, expired or revoked",
        );
    };
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri mismatch",
        );
    }
    if let Some(challenge) = grant.challenge {
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()));
        if computed != challenge {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "PKCE verification failed",
            );
        }
    }
    let access_token = format!("at-{}", rand_hex());
    inner
        .tokens
        .lock()
        .expect("tokens")
        .insert(access_token.clone(), grant.person);
    let body = match inner.kind {
        Kind::Github => {
            json!({ "access_token": access_token, "scope": "read:user,user:email", "token_type": "bearer" })
        }
        Kind::Gitlab => {
            json!({ "access_token": access_token, "token_type": "Bearer", "expires_in": 7200, "refresh_token": "rt", "created_at": 1_700_000_000 })
        }
        Kind::Bitbucket => {
            json!({ "access_token": access_token, "scopes": "account email", "expires_in": 7200, "refresh_token": "rt", "token_type": "bearer" })
        }
        Kind::Google => {
            json!({ "access_token": access_token, "expires_in": 3599, "token_type": "Bearer", "scope": "openid email profile", "id_token": "not-read-by-packistry" })
        }
    };
    Json(body).into_response()
}

fn person_of(inner: &Inner, headers: &HeaderMap) -> Option<Person> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("token "))?;
    inner.tokens.lock().expect("tokens").get(token).cloned()
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "message": "Bad credentials" })),
    )
        .into_response()
}

async fn github_user(State(inner): Shared, headers: HeaderMap) -> Response {
    let Some(person) = person_of(&inner, &headers) else {
        return unauthorized();
    };
    let id: u64 = person.id.parse().unwrap_or(1);
    // A private e-mail is null here; /user/emails has it.
    Json(json!({ "login": format!("user{id}"), "id": id, "name": person.name, "email": Value::Null, "type": "User" }))
        .into_response()
}

async fn github_emails(State(inner): Shared, headers: HeaderMap) -> Response {
    let Some(person) = person_of(&inner, &headers) else {
        return unauthorized();
    };
    Json(json!([
        { "email": format!("{}@users.noreply.github.com", person.id), "primary": false, "verified": true, "visibility": Value::Null },
        { "email": person.email, "primary": true, "verified": person.verified, "visibility": "private" }
    ]))
    .into_response()
}

async fn gitlab_user(State(inner): Shared, headers: HeaderMap) -> Response {
    let Some(person) = person_of(&inner, &headers) else {
        return unauthorized();
    };
    let id: u64 = person.id.parse().unwrap_or(1);
    let confirmed_at = if person.verified {
        json!("2024-05-23T09:05:22.000Z")
    } else {
        Value::Null
    };
    Json(json!({
        "id": id, "username": format!("user{id}"), "name": person.name, "state": "active",
        "email": person.email, "confirmed_at": confirmed_at
    }))
    .into_response()
}

async fn bitbucket_user(State(inner): Shared, headers: HeaderMap) -> Response {
    let Some(person) = person_of(&inner, &headers) else {
        return unauthorized();
    };
    Json(json!({
        "type": "user", "uuid": format!("{{{}}}", person.id), "display_name": person.name,
        "account_id": format!("5f{}", person.id), "nickname": format!("user{}", person.id)
    }))
    .into_response()
}

async fn bitbucket_emails(State(inner): Shared, headers: HeaderMap) -> Response {
    let Some(person) = person_of(&inner, &headers) else {
        return unauthorized();
    };
    Json(json!({
        "pagelen": 10, "page": 1, "size": 2,
        "values": [
            { "type": "email", "email": format!("old-{}", person.email), "is_primary": false, "is_confirmed": true },
            { "type": "email", "email": person.email, "is_primary": true, "is_confirmed": person.verified }
        ]
    }))
    .into_response()
}

async fn google_userinfo(State(inner): Shared, headers: HeaderMap) -> Response {
    let Some(person) = person_of(&inner, &headers) else {
        return unauthorized();
    };
    Json(json!({
        "sub": person.id, "name": person.name, "email": person.email,
        "email_verified": person.verified, "picture": "https://example.com/p.png"
    }))
    .into_response()
}
