//! Single sign-on through GitHub, GitLab, Bitbucket and Google, against fixture providers
//! that answer as each documents; the browser is played with plain HTTP requests that keep
//! the cookies a browser would. (OpenID Connect against a real provider in a real browser:
//! tests/tests/browser.rs.)

use packistry_tests::oauth::{FixtureProvider, Kind, Person};
use packistry_tests::{client, graphql, login, BrowserSession, TestEnv, TestServer};
use serde_json::{json, Value};

const CLIENT_ID: &str = "packistry-client";
const CLIENT_SECRET: &str = "fixture-client-secret-value";

const CREATE: &str = "mutation($input: AuthSourceInput!) { createAuthSource(input: $input) { id name callbackUrl active } }";
const VIEWER: &str = "{ viewer { authenticated user { email globalRole displayName } } }";

fn cookie_from(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            let (key, value) = c.split(';').next()?.split_once('=')?;
            (key == name).then(|| value.to_owned())
        })
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no Location on {}", response.status()))
        .to_owned()
}

/// How a sign-in ended: a session, or the sign-in page's error code.
#[derive(Debug)]
enum Ended {
    SignedIn(BrowserSession, String),
    Refused(String),
}

impl Ended {
    fn session(self) -> BrowserSession {
        match self {
            Ended::SignedIn(session, _) => session,
            Ended::Refused(code) => panic!("sign-in refused: {code}"),
        }
    }

    fn refusal(self) -> String {
        match self {
            Ended::Refused(code) => code,
            Ended::SignedIn(..) => panic!("signed in, expected a refusal"),
        }
    }
}

fn refusal_code(location: &str) -> Option<String> {
    let query = location.strip_prefix("/login?")?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "sso_error")
        .map(|(_, v)| v.into_owned())
}

/// The callback URL the provider sent the browser to, and the flow cookie.
struct AtCallback {
    url: String,
    flow_cookie: Option<String>,
}

/// Start at Packistry and follow the provider's redirect back, stopping before the callback.
async fn to_callback(server: &TestServer, source: &str) -> Result<AtCallback, String> {
    let http = client();
    let start = http
        .get(server.url(&format!("/auth/sso/{source}/start?return_to=/repositories")))
        .send()
        .await
        .expect("start");
    assert_eq!(start.status(), 303, "start answers See Other");
    let to_provider = location(&start);
    if let Some(code) = refusal_code(&to_provider) {
        return Err(code);
    }
    let flow_cookie = cookie_from(&start, "packistry_sso");
    let at_provider = http.get(&to_provider).send().await.expect("authorize");
    assert!(
        at_provider.status().is_redirection(),
        "provider: {}",
        at_provider.status()
    );
    Ok(AtCallback {
        url: location(&at_provider),
        flow_cookie,
    })
}

async fn callback(server: &TestServer, at: &AtCallback, cookie: Option<&str>) -> Ended {
    assert!(at.url.starts_with(&server.url("/auth/sso/")), "{}", at.url);
    let mut request = client().get(&at.url);
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("packistry_sso={cookie}"));
    }
    let back = request.send().await.expect("callback");
    assert_eq!(back.status(), 303);
    let to = location(&back);
    if let Some(code) = refusal_code(&to) {
        return Ended::Refused(code);
    }
    let session = cookie_from(&back, "packistry_session").expect("session cookie");
    let csrf = cookie_from(&back, "packistry_csrf").expect("csrf cookie");
    Ended::SignedIn(BrowserSession { session, csrf }, to)
}

/// The whole way through, as a browser that keeps its cookies.
async fn sign_in(server: &TestServer, source: &str) -> Ended {
    match to_callback(server, source).await {
        Ok(at) => {
            let cookie = at.flow_cookie.clone();
            callback(server, &at, cookie.as_deref()).await
        }
        Err(code) => Ended::Refused(code),
    }
}

struct World {
    env: TestEnv,
    server: TestServer,
    admin: BrowserSession,
}

async fn world() -> World {
    let env = TestEnv::new();
    env.create_user("admin@example.com", "admin", "admin-password");
    env.cli_ok(&["repo", "create", "acme-app", "--format", "composer"]);
    env.cli_ok(&["repo", "create", "acme-libs", "--format", "composer"]);
    let server = env.start();
    let admin = login(&server, "admin@example.com", "admin-password")
        .await
        .expect("admin signs in");
    World { env, server, admin }
}

impl World {
    async fn create_source(&self, provider: &FixtureProvider, kind: Kind, extra: Value) -> Value {
        let mut input = json!({
            "name": format!("{}-test", kind.graphql().to_lowercase()),
            "provider": kind.graphql(),
            "clientId": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
            "issuerUrl": provider.base_url,
            "defaultRole": "DEVELOPER",
            "repositoryGrants": [{ "repository": "acme-libs", "role": "READER" }],
        });
        for (key, value) in extra.as_object().cloned().unwrap_or_default() {
            input[key] = value;
        }
        let answer = graphql(
            &self.server,
            CREATE,
            json!({ "input": input }),
            Some(&self.admin),
            true,
        )
        .await;
        assert!(answer.body["errors"].is_null(), "{:?}", answer.body);
        answer.data()["createAuthSource"].clone()
    }

    async fn set_active(&self, id: &str, active: bool) {
        let answer = graphql(
            &self.server,
            "mutation($id: ID!, $active: Boolean!) { setAuthSourceActive(id: $id, active: $active) { active } }",
            json!({ "id": id, "active": active }),
            Some(&self.admin),
            true,
        )
        .await;
        assert_eq!(
            answer.data()["setAuthSourceActive"]["active"],
            active,
            "{:?}",
            answer.body
        );
    }

    async fn audit_actions(&self) -> Vec<(String, Value)> {
        let answer = graphql(
            &self.server,
            "{ auditEvents(first: 100) { edges { node { action actor details } } } }",
            json!({}),
            Some(&self.admin),
            false,
        )
        .await;
        answer.data()["auditEvents"]["edges"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|e| {
                (
                    e["node"]["action"].as_str().unwrap_or("").to_owned(),
                    e["node"]["details"].clone(),
                )
            })
            .collect()
    }
}

async fn viewer(server: &TestServer, session: &BrowserSession) -> Value {
    graphql(server, VIEWER, json!({}), Some(session), false)
        .await
        .data()["viewer"]
        .clone()
}

#[tokio::test]
async fn each_provider_provisions_at_first_sign_in_and_reuses_the_user_after() {
    let world = world().await;
    for (i, kind) in Kind::ALL.into_iter().enumerate() {
        let provider = FixtureProvider::start(kind, CLIENT_ID, CLIENT_SECRET).await;
        let source = world.create_source(&provider, kind, json!({})).await;
        let name = source["name"].as_str().unwrap().to_owned();
        assert_eq!(
            source["callbackUrl"],
            world.server.url(&format!("/auth/sso/{name}/callback"))
        );
        let email = format!("person{i}@example.com");
        provider.set_person(Person::new(&format!("{}", 100 + i), &email));

        let (first, went_to) = match sign_in(&world.server, &name).await {
            Ended::SignedIn(session, to) => (session, to),
            Ended::Refused(code) => panic!("{kind:?}: refused {code}"),
        };
        assert_eq!(
            went_to, "/repositories",
            "{kind:?} returns where it started"
        );
        let me = viewer(&world.server, &first).await;
        assert_eq!(me["user"]["email"], email, "{kind:?}");
        assert_eq!(
            me["user"]["globalRole"], "DEVELOPER",
            "{kind:?} default role"
        );
        assert_eq!(
            me["user"]["displayName"],
            format!("Person {}", 100 + i),
            "{kind:?}"
        );

        // The grant of the source: reader on acme-libs, nothing on acme-app.
        let grants = graphql(
            &world.server,
            "{ repository(name: \"acme-libs\") { myRole } }",
            json!({}),
            Some(&first),
            false,
        )
        .await;
        assert_eq!(
            grants.data()["repository"]["myRole"],
            "READER",
            "{kind:?}: {:?}",
            grants.body
        );

        let second = sign_in(&world.server, &name).await.session();
        assert_ne!(second.session, first.session);
        assert_eq!(viewer(&world.server, &second).await["user"]["email"], email);
        assert!(
            provider.seen().contains(&"POST token".to_owned()),
            "{kind:?}"
        );
    }
    let users = graphql(
        &world.server,
        "{ users(first: 100) { edges { node { email } } } }",
        json!({}),
        Some(&world.admin),
        false,
    )
    .await;
    assert_eq!(
        users.data()["users"]["edges"].as_array().unwrap().len(),
        5,
        "one admin and one user per provider, none twice: {:?}",
        users.body
    );
    let actions = world.audit_actions().await;
    let sso_sign_ins = actions
        .iter()
        .filter(|(a, d)| a == "session.signed_in" && d["method"] == "sso")
        .count();
    assert_eq!(sso_sign_ins, 8, "every sign-in is an audit event");
    assert!(!world.server.logs().contains(CLIENT_SECRET));
}

#[tokio::test]
async fn the_client_secret_is_never_returned_and_only_admins_see_sources() {
    let world = world().await;
    let provider = FixtureProvider::start(Kind::Gitlab, CLIENT_ID, CLIENT_SECRET).await;
    world
        .create_source(&provider, Kind::Gitlab, json!({}))
        .await;
    let listed = graphql(
        &world.server,
        "{ authSources { name clientId issuerUrl effectiveScopes callbackUrl repositoryGrants { repository role } } }",
        json!({}),
        Some(&world.admin),
        false,
    )
    .await;
    let text = listed.body.to_string();
    assert!(text.contains("gitlab-test"), "{text}");
    assert!(!text.contains(CLIENT_SECRET), "{text}");
    assert_eq!(
        listed.data()["authSources"][0]["effectiveScopes"],
        json!(["read_user"])
    );
    let introspected = graphql(
        &world.server,
        "{ __type(name: \"AuthSource\") { fields { name } } }",
        json!({}),
        None,
        false,
    )
    .await;
    assert!(!introspected.body.to_string().contains("clientSecret"));

    world
        .env
        .create_user("dev@example.com", "developer", "dev-password");
    let dev = login(&world.server, "dev@example.com", "dev-password")
        .await
        .unwrap();
    let refused = graphql(
        &world.server,
        "{ authSources { name } }",
        json!({}),
        Some(&dev),
        false,
    )
    .await;
    assert_eq!(refused.error_code(), Some("FORBIDDEN"));
    // The sign-in page's list is public and carries no configuration.
    let public = graphql(
        &world.server,
        "{ signInMethods { name label provider startUrl } }",
        json!({}),
        None,
        false,
    )
    .await;
    assert_eq!(public.data()["signInMethods"][0]["label"], "GitLab");
    assert_eq!(
        public.data()["signInMethods"][0]["startUrl"],
        world.server.url("/auth/sso/gitlab-test/start")
    );

    // Bad input: an OIDC source without issuer, a name that cannot be in a URL, an unknown
    // repository.
    for (input, field) in [
        (
            json!({ "name": "x", "provider": "OIDC", "clientId": "c", "clientSecret": "s" }),
            "issuerUrl",
        ),
        (
            json!({ "name": "Not A Name", "provider": "GITHUB", "clientId": "c", "clientSecret": "s" }),
            "name",
        ),
        (
            json!({ "name": "y", "provider": "GITHUB", "clientId": "c", "clientSecret": "s", "repositoryGrants": [{ "repository": "nope", "role": "READER" }] }),
            "repositoryGrants",
        ),
        (
            json!({ "name": "z", "provider": "GITHUB", "clientId": "c" }),
            "clientSecret",
        ),
    ] {
        let answer = graphql(
            &world.server,
            CREATE,
            json!({ "input": input }),
            Some(&world.admin),
            true,
        )
        .await;
        assert_eq!(
            answer.error_code(),
            Some("BAD_USER_INPUT"),
            "{:?}",
            answer.body
        );
        assert!(
            answer.error_message().unwrap().starts_with(field),
            "{:?}",
            answer.body
        );
    }
}

#[tokio::test]
async fn a_tampered_replayed_or_foreign_state_is_refused_and_creates_nobody() {
    let world = world().await;
    let provider = FixtureProvider::start(Kind::Github, CLIENT_ID, CLIENT_SECRET).await;
    world
        .create_source(&provider, Kind::Github, json!({}))
        .await;
    provider.set_person(Person::new("7", "mallory@example.com"));

    // Tampered state.
    let at = to_callback(&world.server, "github-test").await.unwrap();
    let tampered = AtCallback {
        url: at.url.replace("state=", "state=x"),
        flow_cookie: at.flow_cookie.clone(),
    };
    assert_eq!(
        callback(&world.server, &tampered, at.flow_cookie.as_deref())
            .await
            .refusal(),
        "invalid_state"
    );

    // Finished from another browser (no flow cookie): refused, and the flow is spent.
    let at = to_callback(&world.server, "github-test").await.unwrap();
    assert_eq!(
        callback(&world.server, &at, None).await.refusal(),
        "other_browser"
    );
    assert_eq!(
        callback(&world.server, &at, at.flow_cookie.as_deref())
            .await
            .refusal(),
        "invalid_state"
    );

    // Replayed: the first use signs in, the second is refused.
    let at = to_callback(&world.server, "github-test").await.unwrap();
    callback(&world.server, &at, at.flow_cookie.as_deref())
        .await
        .session();
    assert_eq!(
        callback(&world.server, &at, at.flow_cookie.as_deref())
            .await
            .refusal(),
        "invalid_state"
    );

    // Expired: the person took longer than the flow lives.
    let at = to_callback(&world.server, "github-test").await.unwrap();
    world
        .env
        .execute_sql("UPDATE sso_flows SET expires_at = '2020-01-01 00:00:00+00:00'")
        .await;
    assert_eq!(
        callback(&world.server, &at, at.flow_cookie.as_deref())
            .await
            .refusal(),
        "expired"
    );

    // The person declines at the provider.
    provider.set_person(Person {
        declines: true,
        ..Person::new("8", "decliner@example.com")
    });
    assert_eq!(
        sign_in(&world.server, "github-test").await.refusal(),
        "cancelled"
    );

    // An unknown source.
    assert_eq!(
        sign_in(&world.server, "nope").await.refusal(),
        "unknown_source"
    );

    let actions = world.audit_actions().await;
    let refused: Vec<&str> = actions
        .iter()
        .filter(|(a, _)| a == "session.sign_in_refused")
        .filter_map(|(_, d)| d["reason"].as_str())
        .collect();
    for reason in [
        "invalid_state",
        "other_browser",
        "cancelled",
        "unknown_source",
    ] {
        assert!(refused.contains(&reason), "{reason} audited: {refused:?}");
    }
    let users = graphql(
        &world.server,
        "{ users(first: 100) { edges { node { email } } } }",
        json!({}),
        Some(&world.admin),
        false,
    )
    .await
    .body
    .to_string();
    assert!(!users.contains("decliner@example.com"));
}

#[tokio::test]
async fn domains_registration_linking_and_verification_are_enforced() {
    let world = world().await;
    let provider = FixtureProvider::start(Kind::Google, CLIENT_ID, CLIENT_SECRET).await;
    world
        .create_source(
            &provider,
            Kind::Google,
            json!({ "allowedDomains": ["example.com"], "allowRegistration": false }),
        )
        .await;

    provider.set_person(Person::new("1", "someone@elsewhere.org"));
    assert_eq!(
        sign_in(&world.server, "google-test").await.refusal(),
        "domain_not_allowed"
    );
    provider.set_person(Person::new("2", "newcomer@example.com"));
    assert_eq!(
        sign_in(&world.server, "google-test").await.refusal(),
        "registration_closed"
    );
    provider.set_person(Person {
        verified: false,
        ..Person::new("3", "unverified@example.com")
    });
    assert_eq!(
        sign_in(&world.server, "google-test").await.refusal(),
        "unverified_email"
    );

    // An existing user with the same e-mail: refused until the source may link.
    world
        .env
        .create_user("carol@example.com", "user", "carol-password");
    provider.set_person(Person::new("4", "Carol@Example.com"));
    assert_eq!(
        sign_in(&world.server, "google-test").await.refusal(),
        "email_taken"
    );
    let id = graphql(
        &world.server,
        "{ authSources { id } }",
        json!({}),
        Some(&world.admin),
        false,
    )
    .await
    .data()["authSources"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let updated = graphql(
        &world.server,
        "mutation($id: ID!, $input: AuthSourceInput!) { updateAuthSource(id: $id, input: $input) { linkExisting } }",
        json!({ "id": id, "input": {
            "name": "google-test", "provider": "GOOGLE", "clientId": CLIENT_ID,
            "issuerUrl": provider.base_url, "allowedDomains": ["example.com"],
            "allowRegistration": false, "linkExisting": true
        } }),
        Some(&world.admin),
        true,
    )
    .await;
    assert_eq!(
        updated.data()["updateAuthSource"]["linkExisting"],
        true,
        "{:?}",
        updated.body
    );
    // The secret was kept (left out of the update): the token exchange still works.
    let carol = sign_in(&world.server, "google-test").await.session();
    let me = viewer(&world.server, &carol).await;
    assert_eq!(me["user"]["email"], "carol@example.com");
    assert_eq!(
        me["user"]["globalRole"], "USER",
        "linking keeps the existing role"
    );

    // A deactivated user cannot sign in through a source either.
    world
        .env
        .cli_ok(&["user", "deactivate", "--email", "carol@example.com"]);
    assert_eq!(
        sign_in(&world.server, "google-test").await.refusal(),
        "deactivated"
    );
}

#[tokio::test]
async fn an_inactive_source_refuses_sign_in_while_its_users_tokens_keep_working() {
    let world = world().await;
    let provider = FixtureProvider::start(Kind::Bitbucket, CLIENT_ID, CLIENT_SECRET).await;
    let source = world
        .create_source(
            &provider,
            Kind::Bitbucket,
            json!({ "repositoryGrants": [{ "repository": "acme-libs", "role": "UPLOADER" }] }),
        )
        .await;
    provider.set_person(Person::new("5", "dana@example.com"));
    let dana = sign_in(&world.server, "bitbucket-test").await.session();
    assert_eq!(
        viewer(&world.server, &dana).await["user"]["email"],
        "dana@example.com"
    );

    let token = world.env.cli_ok(&[
        "token",
        "create",
        "--user",
        "dana@example.com",
        "--name",
        "ci",
        "--repository",
        "acme-libs",
        "--role",
        "reader",
    ]);
    let packages = "/composer/acme-libs/packages.json";
    let with_token = client()
        .get(world.server.url(packages))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), 200);

    world
        .set_active(source["id"].as_str().unwrap(), false)
        .await;
    assert_eq!(
        sign_in(&world.server, "bitbucket-test").await.refusal(),
        "inactive"
    );
    let public = graphql(
        &world.server,
        "{ signInMethods { name } }",
        json!({}),
        None,
        false,
    )
    .await;
    assert_eq!(public.data()["signInMethods"], json!([]));
    let still = client()
        .get(world.server.url(packages))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(
        still.status(),
        200,
        "tokens of the source's users keep working"
    );
}

#[tokio::test]
async fn an_unreachable_provider_or_a_wrong_secret_ends_on_the_sign_in_page() {
    let world = world().await;
    let provider = FixtureProvider::start(Kind::Gitlab, CLIENT_ID, "another-secret").await;
    world
        .create_source(&provider, Kind::Gitlab, json!({}))
        .await;
    provider.set_person(Person::new("9", "erin@example.com"));
    assert_eq!(
        sign_in(&world.server, "gitlab-test").await.refusal(),
        "provider_error",
        "the provider refused our client secret"
    );

    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let answer = graphql(
        &world.server,
        CREATE,
        json!({ "input": { "name": "dead-oidc", "provider": "OIDC", "clientId": "c", "clientSecret": "s", "issuerUrl": dead } }),
        Some(&world.admin),
        true,
    )
    .await;
    assert!(answer.body["errors"].is_null(), "{:?}", answer.body);
    assert_eq!(
        sign_in(&world.server, "dead-oidc").await.refusal(),
        "unreachable"
    );
    let _ = &world.env;
}
