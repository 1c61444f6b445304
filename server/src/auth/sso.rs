//! Single sign-on at an authentication source: the authorization-code flow with PKCE, with
//! `state` and `nonce` kept server-side (any replica finishes a flow another one started),
//! and the verified identity the provider vouches for.
//!
//! OpenID Connect goes through `openidconnect` (discovery, ID token signature from the JWKS,
//! issuer, audience, nonce, expiry); GitHub, GitLab, Bitbucket and Google through `oauth2`
//! and their documented user and e-mail APIs, which say whether an address is verified.

use chrono::{DateTime, Duration, Utc};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse as _, TokenUrl,
};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{IssuerUrl, Nonce, TokenResponse as _};
use serde::Deserialize;

use crate::db::entities::auth_sources;

/// How long a person has between leaving for the provider and coming back.
pub const FLOW_TTL: Duration = Duration::minutes(10);

/// The cookie that binds a flow to the browser that started it (against login CSRF).
pub const FLOW_COOKIE: &str = "packistry_sso";

/// The providers an authentication source can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Oidc,
    Github,
    Gitlab,
    Bitbucket,
    Google,
}

impl Provider {
    pub const ALL: [Provider; 5] = [
        Provider::Oidc,
        Provider::Github,
        Provider::Gitlab,
        Provider::Bitbucket,
        Provider::Google,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Oidc => "oidc",
            Provider::Github => "github",
            Provider::Gitlab => "gitlab",
            Provider::Bitbucket => "bitbucket",
            Provider::Google => "google",
        }
    }

    pub fn parse(word: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == word)
    }

    /// What people call it.
    pub fn label(self) -> &'static str {
        match self {
            Provider::Oidc => "OpenID Connect",
            Provider::Github => "GitHub",
            Provider::Gitlab => "GitLab",
            Provider::Bitbucket => "Bitbucket",
            Provider::Google => "Google",
        }
    }

    /// Scopes asked for when a source names none: enough to read who the person is and
    /// whether their e-mail address is verified, nothing more.
    pub fn default_scopes(self) -> &'static [&'static str] {
        match self {
            Provider::Oidc | Provider::Google => &["openid", "email", "profile"],
            Provider::Github => &["read:user", "user:email"],
            Provider::Gitlab => &["read_user"],
            Provider::Bitbucket => &["account", "email"],
        }
    }
}

/// Where a provider's OAuth and user APIs live. `base` is a source's base URL: the issuer
/// for OIDC, a self-hosted GitLab or GitHub Enterprise; for Bitbucket and Google, a proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub authorize: String,
    pub token: String,
    /// The user API root (GitHub, GitLab, Bitbucket) or the userinfo URL (Google).
    pub api: String,
}

pub fn endpoints(provider: Provider, base: Option<&str>) -> Option<Endpoints> {
    let base = base.map(|b| b.trim_end_matches('/'));
    let at = |base: &str, authorize: &str, token: &str, api: &str| Endpoints {
        authorize: format!("{base}{authorize}"),
        token: format!("{base}{token}"),
        api: format!("{base}{api}"),
    };
    Some(match (provider, base) {
        (Provider::Oidc, _) => return None,
        (Provider::Github, None) => Endpoints {
            authorize: "https://github.com/login/oauth/authorize".into(),
            token: "https://github.com/login/oauth/access_token".into(),
            api: "https://api.github.com".into(),
        },
        // GitHub Enterprise Server serves its REST API under /api/v3.
        (Provider::Github, Some(base)) => at(
            base,
            "/login/oauth/authorize",
            "/login/oauth/access_token",
            "/api/v3",
        ),
        (Provider::Gitlab, base) => at(
            base.unwrap_or("https://gitlab.com"),
            "/oauth/authorize",
            "/oauth/token",
            "/api/v4",
        ),
        (Provider::Bitbucket, None) => Endpoints {
            authorize: "https://bitbucket.org/site/oauth2/authorize".into(),
            token: "https://bitbucket.org/site/oauth2/access_token".into(),
            api: "https://api.bitbucket.org/2.0".into(),
        },
        // bitbucket.org also answers its API under /!api/2.0.
        (Provider::Bitbucket, Some(base)) => at(
            base,
            "/site/oauth2/authorize",
            "/site/oauth2/access_token",
            "/!api/2.0",
        ),
        (Provider::Google, None) => Endpoints {
            authorize: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token: "https://oauth2.googleapis.com/token".into(),
            api: "https://openidconnect.googleapis.com/v1/userinfo".into(),
        },
        (Provider::Google, Some(base)) => at(base, "/o/oauth2/v2/auth", "/token", "/v1/userinfo"),
    })
}

/// Why a sign-in through a source did not happen. The code travels to the sign-in page
/// (`/login?sso_error={code}`), which says it in words; details go to the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The person declined at the provider, or the provider answered with an error.
    Cancelled(String),
    /// No such flow: a tampered, unknown or already used `state`.
    InvalidState,
    Expired,
    /// The flow was started in another browser.
    OtherBrowser,
    UnknownSource,
    Inactive,
    Unreachable(String),
    /// The provider's answer did not verify (token exchange, ID token, user API).
    ProviderError(String),
    UnverifiedEmail,
    DomainNotAllowed(String),
    RegistrationClosed,
    /// An account with the e-mail exists and the source may not link to it.
    EmailTaken,
    Deactivated,
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Cancelled(_) => "cancelled",
            Refusal::InvalidState => "invalid_state",
            Refusal::Expired => "expired",
            Refusal::OtherBrowser => "other_browser",
            Refusal::UnknownSource => "unknown_source",
            Refusal::Inactive => "inactive",
            Refusal::Unreachable(_) => "unreachable",
            Refusal::ProviderError(_) => "provider_error",
            Refusal::UnverifiedEmail => "unverified_email",
            Refusal::DomainNotAllowed(_) => "domain_not_allowed",
            Refusal::RegistrationClosed => "registration_closed",
            Refusal::EmailTaken => "email_taken",
            Refusal::Deactivated => "deactivated",
        }
    }

    /// What the audit trail keeps beside the code.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Refusal::Cancelled(d)
            | Refusal::Unreachable(d)
            | Refusal::ProviderError(d)
            | Refusal::DomainNotAllowed(d) => Some(d),
            _ => None,
        }
    }
}

/// Whether an e-mail address may sign in through a source limited to `domains` (empty: any).
pub fn domain_allowed(email: &str, domains: &[String]) -> bool {
    if domains.is_empty() {
        return true;
    }
    let Some((_, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let domain = domain.to_ascii_lowercase();
    domains.iter().any(|allowed| {
        allowed
            .trim_start_matches('@')
            .eq_ignore_ascii_case(&domain)
    })
}

/// Whether a flow that expires at `expires_at` may still be finished at `now`.
pub fn flow_alive(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now < expires_at
}

/// Where to go after signing in: a path of this site only (never `//host` or a URL).
pub fn safe_return_to(requested: Option<&str>) -> String {
    match requested {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.starts_with("/auth/")
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// A source ready to talk to its provider.
pub struct Configured<'a> {
    pub source: &'a auth_sources::Model,
    pub provider: Provider,
    pub client_secret: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
}

impl Configured<'_> {
    fn base(&self) -> Option<&str> {
        self.source
            .issuer_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
    }
}

/// Where to send the browser, and what to keep until it comes back.
pub struct Started {
    pub authorize_url: String,
    pub state: String,
    pub pkce_verifier: String,
    pub nonce: String,
}

/// Who the provider says signed in, with a verified e-mail address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    pub email: String,
    pub name: Option<String>,
}

/// The HTTP client for providers: no redirects followed (the OAuth and OIDC specs forbid
/// them on these calls; following them would also let a provider point us anywhere).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(15))
        .connect_timeout(std::time::Duration::from_secs(5))
        .user_agent(concat!("Packistry/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

fn unreachable_or(err: &(dyn std::error::Error + 'static), what: &str) -> Refusal {
    // A connection that never happened is "unreachable"; anything the provider said is an
    // error of the provider's answer.
    let mut source = Some(err);
    while let Some(current) = source {
        // oauth2 keeps the reqwest error boxed.
        let request = current.downcast_ref::<reqwest::Error>().or_else(|| {
            current
                .downcast_ref::<Box<reqwest::Error>>()
                .map(|boxed| &**boxed)
        });
        if let Some(request) = request {
            if request.is_connect() || request.is_timeout() {
                return Refusal::Unreachable(format!("{what}: {request}"));
            }
        }
        source = current.source();
    }
    Refusal::ProviderError(format!("{what}: {}", error_chain(err)))
}

fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(current) = source {
        text.push_str(": ");
        text.push_str(&current.to_string());
        source = current.source();
    }
    text
}

/// An issuer's discovery document, fetched at most once per [`DISCOVERY_TTL`] (not on
/// every sign-in a caller starts); failures are not kept.
async fn discover(http: &reqwest::Client, issuer: &str) -> Result<CoreProviderMetadata, Refusal> {
    static DISCOVERED: std::sync::LazyLock<moka::future::Cache<String, CoreProviderMetadata>> =
        std::sync::LazyLock::new(|| {
            moka::future::Cache::builder()
                .max_capacity(256)
                .time_to_live(DISCOVERY_TTL)
                .build()
        });
    if let Some(metadata) = DISCOVERED.get(issuer).await {
        return Ok(metadata);
    }
    let url = IssuerUrl::new(issuer.to_owned())
        .map_err(|err| Refusal::ProviderError(format!("issuer URL: {err}")))?;
    let metadata = CoreProviderMetadata::discover_async(url, http)
        .await
        .map_err(|err| unreachable_or(&err, "OpenID Connect discovery"))?;
    DISCOVERED.insert(issuer.to_owned(), metadata.clone()).await;
    Ok(metadata)
}

/// How long an issuer's discovery document (and its key set) is used before it is read
/// again.
const DISCOVERY_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// An OpenID Connect client as discovery describes the issuer.
type OidcClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// Discover the source's issuer and make its client, for both ends of a flow.
async fn oidc_client(
    http: &reqwest::Client,
    configured: &Configured<'_>,
) -> Result<OidcClient, Refusal> {
    let issuer = configured
        .base()
        .ok_or_else(|| Refusal::ProviderError("the source has no issuer URL".into()))?;
    let metadata = discover(http, issuer).await?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        openidconnect::ClientId::new(configured.source.client_id.clone()),
        Some(openidconnect::ClientSecret::new(
            configured.client_secret.clone(),
        )),
    )
    .set_redirect_uri(redirect_url(configured)?))
}

fn redirect_url(configured: &Configured<'_>) -> Result<RedirectUrl, Refusal> {
    RedirectUrl::new(configured.redirect_uri.clone())
        .map_err(|err| Refusal::ProviderError(format!("callback URL: {err}")))
}

fn oauth_client(
    configured: &Configured<'_>,
    endpoints: &Endpoints,
) -> Result<
    BasicClient<
        oauth2::EndpointSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
    >,
    Refusal,
> {
    let bad = |err: url::ParseError| Refusal::ProviderError(format!("provider URL: {err}"));
    Ok(
        BasicClient::new(ClientId::new(configured.source.client_id.clone()))
            .set_client_secret(ClientSecret::new(configured.client_secret.clone()))
            .set_auth_uri(AuthUrl::new(endpoints.authorize.clone()).map_err(bad)?)
            .set_token_uri(TokenUrl::new(endpoints.token.clone()).map_err(bad)?)
            .set_redirect_uri(redirect_url(configured)?)
            // As each documents: Bitbucket authenticates clients with HTTP Basic; GitHub,
            // GitLab and Google take the credentials in the request body.
            .set_auth_type(if configured.provider == Provider::Bitbucket {
                AuthType::BasicAuth
            } else {
                AuthType::RequestBody
            }),
    )
}

/// The URL that sends the browser to the provider, and the flow's secrets.
pub async fn start(
    http: &reqwest::Client,
    configured: &Configured<'_>,
) -> Result<Started, Refusal> {
    let state = super::random_secret();
    let nonce = super::random_secret();
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let scopes = configured.scopes.iter().map(|s| Scope::new(s.clone()));
    let authorize_url = match endpoints(configured.provider, configured.base()) {
        None => {
            let client = oidc_client(http, configured).await?;
            let (url, _, _) = client
                .authorize_url(
                    CoreAuthenticationFlow::AuthorizationCode,
                    {
                        let state = state.clone();
                        move || CsrfToken::new(state)
                    },
                    {
                        let nonce = nonce.clone();
                        move || Nonce::new(nonce)
                    },
                )
                // `openid` is always sent by the library.
                .add_scopes(scopes.filter(|s| s.as_str() != "openid"))
                .set_pkce_challenge(challenge)
                .url();
            url
        }
        Some(endpoints) => {
            let client = oauth_client(configured, &endpoints)?;
            let state = state.clone();
            let (url, _) = client
                .authorize_url(move || CsrfToken::new(state))
                .add_scopes(scopes)
                .set_pkce_challenge(challenge)
                .url();
            url
        }
    };
    Ok(Started {
        authorize_url: authorize_url.to_string(),
        state,
        pkce_verifier: verifier.secret().clone(),
        nonce,
    })
}

/// Exchange the code the provider sent back and learn, with proof, who signed in.
pub async fn finish(
    http: &reqwest::Client,
    configured: &Configured<'_>,
    code: &str,
    pkce_verifier: &str,
    nonce: &str,
) -> Result<Identity, Refusal> {
    let code = AuthorizationCode::new(code.to_owned());
    let verifier = PkceCodeVerifier::new(pkce_verifier.to_owned());
    let Some(endpoints) = endpoints(configured.provider, configured.base()) else {
        return finish_oidc(http, configured, code, verifier, nonce).await;
    };
    let client = oauth_client(configured, &endpoints)?;
    let token = client
        .exchange_code(code)
        .set_pkce_verifier(verifier)
        .request_async(http)
        .await
        .map_err(|err| unreachable_or(&err, "token exchange"))?;
    let access_token = token.access_token().secret().as_str();
    match configured.provider {
        Provider::Github => github_identity(http, &endpoints.api, access_token).await,
        Provider::Gitlab => gitlab_identity(http, &endpoints.api, access_token).await,
        Provider::Bitbucket => bitbucket_identity(http, &endpoints.api, access_token).await,
        Provider::Google => google_identity(http, &endpoints.api, access_token).await,
        Provider::Oidc => Err(Refusal::ProviderError(
            "OpenID Connect has no fixed endpoints".into(),
        )),
    }
}

async fn finish_oidc(
    http: &reqwest::Client,
    configured: &Configured<'_>,
    code: AuthorizationCode,
    verifier: PkceCodeVerifier,
    nonce: &str,
) -> Result<Identity, Refusal> {
    let client = oidc_client(http, configured).await?;
    let token = client
        .exchange_code(code)
        .map_err(|err| Refusal::ProviderError(format!("token endpoint: {err}")))?
        .set_pkce_verifier(verifier)
        .request_async(http)
        .await
        .map_err(|err| unreachable_or(&err, "token exchange"))?;
    let id_token = token
        .id_token()
        .ok_or_else(|| Refusal::ProviderError("the provider sent no ID token".into()))?;
    // Signature (JWKS), issuer, audience, expiry and nonce.
    let claims = id_token
        .claims(&client.id_token_verifier(), &Nonce::new(nonce.to_owned()))
        .map_err(|err| Refusal::ProviderError(format!("ID token: {}", error_chain(&err))))?;
    let subject = claims.subject().to_string();
    let mut email = claims.email().map(|e| e.to_string());
    let mut verified = claims.email_verified();
    let mut name = claims
        .name()
        .and_then(|n| n.get(None))
        .map(|n| n.to_string());
    if email.is_none() || verified.is_none() {
        // Many providers put the e-mail claims only in the userinfo answer.
        let request = client
            .user_info(token.access_token().clone(), Some(claims.subject().clone()))
            .map_err(|err| Refusal::ProviderError(format!("userinfo: {err}")))?;
        let info: CoreUserInfoClaims = request
            .request_async(http)
            .await
            .map_err(|err| unreachable_or(&err, "userinfo"))?;
        email = email.or_else(|| info.email().map(|e| e.to_string()));
        verified = verified.or(info.email_verified());
        name = name.or_else(|| info.name().and_then(|n| n.get(None)).map(|n| n.to_string()));
    }
    let email = email.ok_or(Refusal::UnverifiedEmail)?;
    if verified != Some(true) {
        return Err(Refusal::UnverifiedEmail);
    }
    Ok(Identity {
        subject,
        email,
        name,
    })
}

/// GET a provider API with the person's access token.
async fn api_get<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    access_token: &str,
    what: &str,
) -> Result<T, Refusal> {
    let response = http
        .get(url)
        .bearer_auth(access_token)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|err| unreachable_or(&err, what))?;
    let status = response.status();
    if !status.is_success() {
        return Err(Refusal::ProviderError(format!("{what}: {status}")));
    }
    response
        .json()
        .await
        .map_err(|err| Refusal::ProviderError(format!("{what}: {}", error_chain(&err))))
}

async fn github_identity(
    http: &reqwest::Client,
    api: &str,
    access_token: &str,
) -> Result<Identity, Refusal> {
    #[derive(Deserialize)]
    struct User {
        id: u64,
        login: String,
        name: Option<String>,
    }
    #[derive(Deserialize)]
    struct Email {
        email: String,
        primary: bool,
        verified: bool,
    }
    let user: User = api_get(http, &format!("{api}/user"), access_token, "GitHub user").await?;
    // GET /user shows only a public e-mail; /user/emails says which is primary and verified.
    let emails: Vec<Email> = api_get(
        http,
        &format!("{api}/user/emails"),
        access_token,
        "GitHub e-mails",
    )
    .await?;
    let email = emails
        .into_iter()
        .find(|e| e.primary && e.verified)
        .ok_or(Refusal::UnverifiedEmail)?;
    Ok(Identity {
        subject: user.id.to_string(),
        email: email.email,
        name: user.name.or(Some(user.login)),
    })
}

async fn gitlab_identity(
    http: &reqwest::Client,
    api: &str,
    access_token: &str,
) -> Result<Identity, Refusal> {
    #[derive(Deserialize)]
    struct User {
        id: u64,
        name: Option<String>,
        email: Option<String>,
        confirmed_at: Option<String>,
    }
    let user: User = api_get(http, &format!("{api}/user"), access_token, "GitLab user").await?;
    match (user.email, user.confirmed_at) {
        (Some(email), Some(_)) if !email.is_empty() => Ok(Identity {
            subject: user.id.to_string(),
            email,
            name: user.name,
        }),
        _ => Err(Refusal::UnverifiedEmail),
    }
}

async fn bitbucket_identity(
    http: &reqwest::Client,
    api: &str,
    access_token: &str,
) -> Result<Identity, Refusal> {
    #[derive(Deserialize)]
    struct User {
        uuid: String,
        display_name: Option<String>,
    }
    #[derive(Deserialize)]
    struct Email {
        email: String,
        is_primary: bool,
        is_confirmed: bool,
    }
    #[derive(Deserialize)]
    struct Page {
        values: Vec<Email>,
        next: Option<String>,
    }
    let user: User = api_get(http, &format!("{api}/user"), access_token, "Bitbucket user").await?;
    let mut next = Some(format!("{api}/user/emails"));
    // Paginated; a person has few addresses, but follow `next` a little way.
    for _ in 0..10 {
        let Some(url) = next.take() else { break };
        let page: Page = api_get(http, &url, access_token, "Bitbucket e-mails").await?;
        if let Some(email) = page
            .values
            .into_iter()
            .find(|e| e.is_primary && e.is_confirmed)
        {
            return Ok(Identity {
                subject: user.uuid,
                email: email.email,
                name: user.display_name,
            });
        }
        next = page.next;
    }
    Err(Refusal::UnverifiedEmail)
}

async fn google_identity(
    http: &reqwest::Client,
    userinfo: &str,
    access_token: &str,
) -> Result<Identity, Refusal> {
    #[derive(Deserialize)]
    struct UserInfo {
        sub: String,
        email: Option<String>,
        #[serde(default)]
        email_verified: bool,
        name: Option<String>,
    }
    let info: UserInfo = api_get(http, userinfo, access_token, "Google userinfo").await?;
    match info.email {
        Some(email) if info.email_verified => Ok(Identity {
            subject: info.sub,
            email,
            name: info.name,
        }),
        _ => Err(Refusal::UnverifiedEmail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_round_trip_their_names() {
        for provider in Provider::ALL {
            assert_eq!(Provider::parse(provider.as_str()), Some(provider));
        }
        assert_eq!(Provider::parse("saml"), None);
    }

    #[test]
    fn endpoints_default_to_the_public_services_and_follow_a_base_url() {
        let github = endpoints(Provider::Github, None).unwrap();
        assert_eq!(github.api, "https://api.github.com");
        let enterprise = endpoints(Provider::Github, Some("https://ghe.example.com/")).unwrap();
        assert_eq!(
            enterprise.authorize,
            "https://ghe.example.com/login/oauth/authorize"
        );
        assert_eq!(enterprise.api, "https://ghe.example.com/api/v3");
        let gitlab = endpoints(Provider::Gitlab, Some("https://git.example.com")).unwrap();
        assert_eq!(gitlab.token, "https://git.example.com/oauth/token");
        assert_eq!(gitlab.api, "https://git.example.com/api/v4");
        assert_eq!(
            endpoints(Provider::Bitbucket, None).unwrap().token,
            "https://bitbucket.org/site/oauth2/access_token"
        );
        assert_eq!(
            endpoints(Provider::Google, None).unwrap().api,
            "https://openidconnect.googleapis.com/v1/userinfo"
        );
        assert_eq!(
            endpoints(Provider::Oidc, Some("https://id.example.com")),
            None
        );
    }

    #[test]
    fn allowed_domains_match_the_whole_domain_only() {
        let domains = vec!["example.com".to_owned(), "@corp.example".to_owned()];
        assert!(domain_allowed("a@example.com", &domains));
        assert!(domain_allowed("a@EXAMPLE.com", &domains));
        assert!(domain_allowed("b@corp.example", &domains));
        assert!(!domain_allowed("a@evil-example.com", &domains));
        assert!(!domain_allowed("a@example.com.evil", &domains));
        assert!(!domain_allowed("no-at-sign", &domains));
        assert!(domain_allowed("anyone@anywhere.org", &[]));
    }

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(
            safe_return_to(Some("/repositories/acme")),
            "/repositories/acme"
        );
        assert_eq!(safe_return_to(Some("//evil.example")), "/");
        assert_eq!(safe_return_to(Some("/\\evil.example")), "/");
        assert_eq!(safe_return_to(Some("https://evil.example")), "/");
        assert_eq!(safe_return_to(Some("/auth/sso/x/start")), "/");
        assert_eq!(safe_return_to(None), "/");
    }

    #[test]
    fn a_flow_expires() {
        let now = Utc::now();
        assert!(flow_alive(now + FLOW_TTL, now));
        assert!(!flow_alive(now, now));
        assert!(!flow_alive(now - Duration::seconds(1), now));
    }
}
