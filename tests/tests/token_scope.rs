//! The holes of issue #15, each with the test that shows it closed: a narrowed token acting
//! on its owner's account, readers and image tags, tag deletes and the repository's delete
//! policy, existence leaks, package limits naming packages not yet published, and the
//! browser pages' security headers.

use packistry_tests::composer::{package_zip, upload};
use packistry_tests::{client, graphql, login, BrowserSession, TestEnv, TestServer};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A GraphQL call with a token as Bearer: (HTTP status, error code, data).
async fn as_token(server: &TestServer, token: &str, query: &str, variables: Value) -> Value {
    client()
        .post(server.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

fn cli_token(env: &TestEnv, args: &[&str]) -> String {
    env.cli_ok(&[&["token", "create"][..], args].concat())
}

async fn session_gql(
    server: &TestServer,
    session: &BrowserSession,
    query: &str,
    variables: Value,
) -> Value {
    graphql(server, query, variables, Some(session), true)
        .await
        .body
}

const MY_TOKENS: &str = "{ myTokens { id name revokedAt } }";

#[tokio::test]
async fn a_narrowed_token_cannot_act_on_its_owners_account() {
    let env = TestEnv::new();
    env.create_user("alice@example.com", "developer", "alice-password-1");
    env.create_user("bob@example.com", "user", "bob-password-1");
    env.cli_ok(&["repo", "create", "acme-app", "--format", "composer"]);
    env.cli_ok(&[
        "grant",
        "--repository",
        "acme-app",
        "--user",
        "alice@example.com",
        "--role",
        "administrator",
    ]);
    env.cli_ok(&["group", "create", "team"]);
    env.cli_ok(&[
        "group",
        "add-member",
        "team",
        "--user",
        "alice@example.com",
        "--maintainer",
    ]);
    let narrow = cli_token(
        &env,
        &[
            "--user",
            "alice@example.com",
            "--name",
            "ci",
            "--repository",
            "acme-app",
            "--role",
            "reader",
        ],
    );
    let other = cli_token(
        &env,
        &[
            "--user",
            "alice@example.com",
            "--name",
            "laptop",
            "--all-repositories",
            "--role",
            "developer",
        ],
    );
    assert!(other.starts_with("pkpat-"));
    let server = env.start();
    let session = login(&server, "alice@example.com", "alice-password-1")
        .await
        .unwrap();
    let tokens_before = session_gql(&server, &session, MY_TOKENS, json!({})).await;
    let laptop_id = tokens_before["data"]["myTokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "laptop")
        .unwrap()["id"]
        .clone();

    // Everything that acts on the account is refused to the narrowed token.
    let refused: [(&str, Value); 9] = [
        (
            "mutation { createPersonalToken(input: { name: \"root\", roles: [ADMINISTRATOR] }) { secret } }",
            json!({}),
        ),
        (
            "mutation { createDeployToken(input: { name: \"d\", repositories: [\"acme-app\"], roles: [READER] }) { secret } }",
            json!({}),
        ),
        (
            "mutation { updateUser(email: \"alice@example.com\", newEmail: \"mallory@example.com\") { email } }",
            json!({}),
        ),
        (
            "mutation { setGroupMember(name: \"team\", email: \"bob@example.com\", maintainer: true) }",
            json!({}),
        ),
        ("mutation($id: ID!) { revokeToken(id: $id) { revokedAt } }", json!({ "id": laptop_id })),
        ("mutation { createRepository(input: { name: \"sneaky\", format: COMPOSER }) { name } }", json!({})),
        ("mutation { createGroup(name: \"sneaky\") { name } }", json!({})),
        ("{ groups { name members { user { email } } } }", json!({})),
        (MY_TOKENS, json!({})),
    ];
    for (query, variables) in refused {
        let body = as_token(&server, &narrow, query, variables).await;
        assert_eq!(code(&body), Some("FORBIDDEN"), "{query}: {body}");
    }
    // Nothing changed: the same tokens, e-mail, group members and repositories.
    let tokens_after = session_gql(&server, &session, MY_TOKENS, json!({})).await;
    assert_eq!(tokens_before, tokens_after);
    let me = session_gql(
        &server,
        &session,
        "{ viewer { user { email } } }",
        json!({}),
    )
    .await;
    assert_eq!(me["data"]["viewer"]["user"]["email"], "alice@example.com");
    let groups = session_gql(
        &server,
        &session,
        "{ groups { name members { user { email } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        groups["data"]["groups"][0]["members"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{groups}"
    );
    let repos = session_gql(&server, &session, "{ repositories { name } }", json!({})).await;
    assert_eq!(repos["data"]["repositories"].as_array().unwrap().len(), 1);

    // A token may give itself up.
    let mine = as_token(&server, &narrow, "{ viewer { authenticated } }", json!({})).await;
    assert_eq!(mine["data"]["viewer"]["authenticated"], true);
    let ci_id = tokens_after["data"]["myTokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci")
        .unwrap()["id"]
        .clone();
    let revoked = as_token(
        &server,
        &narrow,
        "mutation($id: ID!) { revokeToken(id: $id) { revokedAt } }",
        json!({ "id": ci_id }),
    )
    .await;
    assert!(
        revoked["data"]["revokeToken"]["revokedAt"].is_string(),
        "{revoked}"
    );
}

#[tokio::test]
async fn an_unrestricted_token_mints_only_within_its_own_scope() {
    let env = TestEnv::new();
    env.create_user("alice@example.com", "developer", "alice-password-1");
    let expires = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let full = cli_token(
        &env,
        &[
            "--user",
            "alice@example.com",
            "--name",
            "automation",
            "--all-repositories",
            "--role",
            "administrator",
            "--expires-at",
            &expires,
        ],
    );
    let server = env.start();
    const CREATE: &str = "mutation($at: DateTime) { createPersonalToken(input: { name: \"child\", roles: [READER], expiresAt: $at }) { secret token { expiresAt } } }";
    // Without an expiry, or expiring later, the child would outlive its parent.
    for at in [
        Value::Null,
        json!((chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339()),
    ] {
        let body = as_token(&server, &full, CREATE, json!({ "at": at })).await;
        assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
    }
    let at = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let body = as_token(&server, &full, CREATE, json!({ "at": at })).await;
    assert!(
        body["data"]["createPersonalToken"]["secret"]
            .as_str()
            .unwrap()
            .starts_with("pkpat-"),
        "{body}"
    );
}

#[tokio::test]
async fn changing_ones_email_or_password_needs_the_current_password() {
    let env = TestEnv::new();
    env.create_user("carol@example.com", "user", "carol-password-1");
    env.create_user("root@example.com", "admin", "root-password-1");
    let server = env.start();
    let carol = login(&server, "carol@example.com", "carol-password-1")
        .await
        .unwrap();
    const UPDATE: &str = "mutation($pw: String) { updateUser(email: \"carol@example.com\", newEmail: \"carol2@example.com\", currentPassword: $pw) { email } }";
    let missing = session_gql(&server, &carol, UPDATE, json!({ "pw": null })).await;
    assert_eq!(code(&missing), Some("BAD_USER_INPUT"), "{missing}");
    let wrong = session_gql(&server, &carol, UPDATE, json!({ "pw": "not-the-password" })).await;
    assert_eq!(code(&wrong), Some("FORBIDDEN"), "{wrong}");
    let right = session_gql(&server, &carol, UPDATE, json!({ "pw": "carol-password-1" })).await;
    assert_eq!(
        right["data"]["updateUser"]["email"], "carol2@example.com",
        "{right}"
    );
    // The display name alone needs no password.
    let renamed = session_gql(
        &server,
        &carol,
        "mutation { updateUser(email: \"carol2@example.com\", displayName: \"Carol\") { email } }",
        json!({}),
    )
    .await;
    assert!(renamed["errors"].is_null(), "{renamed}");

    const CHANGE: &str = "mutation($old: String!, $new: String!) { changePassword(currentPassword: $old, newPassword: $new) { email } }";
    let wrong = session_gql(
        &server,
        &carol,
        CHANGE,
        json!({ "old": "nope-nope-nope", "new": "carol-password-2" }),
    )
    .await;
    assert_eq!(code(&wrong), Some("FORBIDDEN"), "{wrong}");
    let changed = session_gql(
        &server,
        &carol,
        CHANGE,
        json!({ "old": "carol-password-1", "new": "carol-password-2" }),
    )
    .await;
    assert!(changed["errors"].is_null(), "{changed}");
    // This session stays; the new password signs in, the old one no longer does.
    let still = session_gql(&server, &carol, "{ viewer { user { email } } }", json!({})).await;
    assert_eq!(
        still["data"]["viewer"]["user"]["email"],
        "carol2@example.com"
    );
    assert!(login(&server, "carol2@example.com", "carol-password-1")
        .await
        .is_err());
    assert!(login(&server, "carol2@example.com", "carol-password-2")
        .await
        .is_ok());

    // Admins change others' e-mail without a password.
    let root = login(&server, "root@example.com", "root-password-1")
        .await
        .unwrap();
    let by_admin = session_gql(
        &server,
        &root,
        "mutation { updateUser(email: \"carol2@example.com\", newEmail: \"carol3@example.com\") { email } }",
        json!({}),
    )
    .await;
    assert_eq!(
        by_admin["data"]["updateUser"]["email"], "carol3@example.com",
        "{by_admin}"
    );
}

fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// Push a one-layer image `{repository}/{image}:{tag}` over plain HTTP.
async fn push_image(server: &TestServer, token: &str, repository: &str, image: &str, tag: &str) {
    let name = format!("{repository}/{image}");
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let layer = b"layer bytes".to_vec();
    for bytes in [&config, &layer] {
        let started = client()
            .post(server.url(&format!("/v2/{name}/blobs/uploads/")))
            .basic_auth("token", Some(token))
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), 202);
        let location = started.headers()["location"].to_str().unwrap().to_owned();
        let url = if location.starts_with("http") {
            location
        } else {
            server.url(&location)
        };
        let put = client()
            .put(url)
            .basic_auth("token", Some(token))
            .query(&[("digest", sha256_digest(bytes))])
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 201);
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256_digest(&config), "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256_digest(&layer), "size": layer.len() }],
    });
    let put = client()
        .put(server.url(&format!("/v2/{name}/manifests/{tag}")))
        .basic_auth("token", Some(token))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
}

#[tokio::test]
async fn readers_list_tags_and_tag_deletes_follow_the_delete_policy() {
    let env = TestEnv::new();
    env.create_user("root@example.com", "admin", "root-password-1");
    env.create_user("rita@example.com", "user", "rita-password-1");
    env.cli_ok(&["repo", "create", "images", "--format", "container"]);
    env.cli_ok(&[
        "grant",
        "--repository",
        "images",
        "--user",
        "rita@example.com",
        "--role",
        "reader",
    ]);
    let admin = cli_token(
        &env,
        &[
            "--user",
            "root@example.com",
            "--name",
            "a",
            "--all-repositories",
            "--role",
            "administrator",
        ],
    );
    let reader = cli_token(
        &env,
        &[
            "--user",
            "rita@example.com",
            "--name",
            "r",
            "--all-repositories",
            "--role",
            "reader",
        ],
    );
    let server = env.start();
    push_image(&server, &admin, "images", "app", "v1").await;

    // Reading the tags of a named image is a download, which readers have.
    let tags = client()
        .get(server.url("/v2/images/app/tags/list"))
        .basic_auth("token", Some(&reader))
        .send()
        .await
        .unwrap();
    assert_eq!(tags.status(), 200);
    assert_eq!(tags.json::<Value>().await.unwrap()["tags"], json!(["v1"]));

    // With deletes forbidden on the repository, GraphQL refuses a tag delete too.
    let root = login(&server, "root@example.com", "root-password-1")
        .await
        .unwrap();
    let off = session_gql(
        &server,
        &root,
        "mutation { updateRepository(input: { name: \"images\", allowDeletes: false }) { allowDeletes } }",
        json!({}),
    )
    .await;
    assert_eq!(
        off["data"]["updateRepository"]["allowDeletes"], false,
        "{off}"
    );
    const DELETE_TAG: &str =
        "mutation { deleteImageTag(repository: \"images\", image: \"app\", tag: \"v1\") }";
    let refused = session_gql(&server, &root, DELETE_TAG, json!({})).await;
    assert_eq!(code(&refused), Some("FORBIDDEN"), "{refused}");
    let still = client()
        .get(server.url("/v2/images/app/manifests/v1"))
        .basic_auth("token", Some(&reader))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), 200);
    let deleted_package = session_gql(
        &server,
        &root,
        "mutation { deletePackage(repository: \"images\", package: \"app\") }",
        json!({}),
    )
    .await;
    assert_eq!(
        code(&deleted_package),
        Some("FORBIDDEN"),
        "{deleted_package}"
    );
}

/// Status, challenge and body of a request, with `name` written as `{repo}` in the body.
async fn answer(
    method: Method,
    url: String,
    token: Option<&str>,
    name: &str,
) -> (u16, Option<String>, String) {
    let mut request = client().request(method, url);
    if let Some(token) = token {
        request = request.basic_auth("token", Some(token));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().replace(name, "{repo}"));
    (
        status,
        challenge,
        response.text().await.unwrap().replace(name, "{repo}"),
    )
}

#[tokio::test]
async fn a_private_repository_answers_exactly_as_a_missing_one() {
    let env = TestEnv::new();
    env.create_user("eve@example.com", "user", "eve-password-1");
    env.create_user("root@example.com", "admin", "root-password-1");
    for (name, format) in [
        ("secret-php", "composer"),
        ("secret-java", "maven"),
        ("secret-img", "container"),
    ] {
        env.cli_ok(&["repo", "create", name, "--format", format]);
    }
    let eve = cli_token(
        &env,
        &[
            "--user",
            "eve@example.com",
            "--name",
            "e",
            "--all-repositories",
            "--role",
            "administrator",
        ],
    );
    let admin = cli_token(
        &env,
        &[
            "--user",
            "root@example.com",
            "--name",
            "a",
            "--all-repositories",
            "--role",
            "administrator",
        ],
    );
    let deploy = env.cli_ok(&[
        "token",
        "create-deploy",
        "--name",
        "d",
        "--repository",
        "secret-php",
        "--role",
        "reader",
    ]);
    let server = env.start();
    push_image(&server, &admin, "secret-img", "app", "v1").await;
    let (status, _) = upload(
        &server,
        "secret-php",
        "acme/util",
        package_zip("acme/util", "1.0.0", json!({})),
        Some("1.0.0"),
        Some(&admin),
    )
    .await;
    assert_eq!(status, 201);

    let paths = |repo: &str, image_repo: &str| {
        vec![
            (Method::GET, format!("/composer/{repo}/p2/acme/util.json")),
            (Method::GET, format!("/composer/{repo}/packages.json")),
            (
                Method::GET,
                format!("/maven/{repo}/com/acme/lib/1.0/lib-1.0.jar"),
            ),
            (Method::GET, format!("/v2/{image_repo}/app/manifests/v1")),
            (Method::GET, format!("/v2/{image_repo}/app/tags/list")),
        ]
    };
    let hidden = paths("secret-php", "secret-img");
    let missing = paths("absent-php", "absent-img");
    for (caller, token) in [
        ("anonymous", None),
        ("a user without grants", Some(eve.as_str())),
    ] {
        for ((method, private), (_, absent)) in hidden.iter().zip(&missing) {
            let name_of = |path: &str| path.split('/').nth(2).unwrap().to_owned();
            let seen = answer(
                method.clone(),
                server.url(private),
                token,
                &name_of(private),
            )
            .await;
            let unseen = answer(method.clone(), server.url(absent), token, &name_of(absent)).await;
            assert_eq!(seen, unseen, "{caller}: {private} vs {absent}");
            let expected = if token.is_none() { 401 } else { 404 };
            assert_eq!(seen.0, expected, "{caller}: {private}: {seen:?}");
            if token.is_none() {
                assert!(seen.1.is_some(), "{caller}: {private} has no challenge");
            }
        }
    }

    // Naming a private repository in a new token answers as naming none.
    let session = login(&server, "eve@example.com", "eve-password-1")
        .await
        .unwrap();
    const CREATE: &str = "mutation($r: [String!]) { createPersonalToken(input: { name: \"x\", repositories: $r, roles: [READER] }) { secret } }";
    let hidden = session_gql(&server, &session, CREATE, json!({ "r": ["secret-php"] })).await;
    let absent = session_gql(&server, &session, CREATE, json!({ "r": ["absent-php"] })).await;
    assert_eq!(code(&hidden), Some("NOT_FOUND"), "{hidden}");
    assert_eq!(
        hidden["errors"][0]["message"]
            .as_str()
            .unwrap()
            .replace("secret-php", "{repo}"),
        absent["errors"][0]["message"]
            .as_str()
            .unwrap()
            .replace("absent-php", "{repo}")
    );

    // Webhooks do not tell which sources exist.
    let webhook = client()
        .post(server.url("/incoming/github/no-such-source"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(webhook.status(), 401);

    // Deploy tokens see no groups or members.
    let groups = as_token(&server, &deploy, "{ groups { name } }", json!({})).await;
    assert_eq!(code(&groups), Some("FORBIDDEN"), "{groups}");
}

#[tokio::test]
async fn a_deploy_tokens_package_limit_names_packages_published_or_not() {
    let env = TestEnv::new();
    env.create_user("root@example.com", "admin", "root-password-1");
    env.cli_ok(&["repo", "create", "php", "--format", "composer"]);
    let admin = cli_token(
        &env,
        &[
            "--user",
            "root@example.com",
            "--name",
            "a",
            "--all-repositories",
            "--role",
            "administrator",
        ],
    );
    // acme/first is not published yet: a CI token for its first upload.
    let ci = env.cli_ok(&[
        "token",
        "create-deploy",
        "--name",
        "ci",
        "--repository",
        "php",
        "--package",
        "acme/first",
        "--role",
        "uploader",
    ]);
    assert!(ci.starts_with("pkdt-"));
    let server = env.start();
    let zip = |name: &str| package_zip(name, "1.0.0", json!({}));
    let (status, body) = upload(
        &server,
        "php",
        "acme/first",
        zip("acme/first"),
        Some("1.0.0"),
        Some(&ci),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = upload(
        &server,
        "php",
        "acme/other",
        zip("acme/other"),
        Some("1.0.0"),
        Some(&ci),
    )
    .await;
    assert_eq!(status, 404, "outside the limit, as if absent");

    // Deleting the package does not lift the limit.
    let root = login(&server, "root@example.com", "root-password-1")
        .await
        .unwrap();
    let deleted = session_gql(
        &server,
        &root,
        "mutation { deletePackage(repository: \"php\", package: \"acme/first\") }",
        json!({}),
    )
    .await;
    assert_eq!(deleted["data"]["deletePackage"], true, "{deleted}");
    let (status, _) = upload(
        &server,
        "php",
        "acme/other",
        zip("acme/other"),
        Some("1.0.0"),
        Some(&ci),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = upload(
        &server,
        "php",
        "acme/other",
        zip("acme/other"),
        Some("1.0.0"),
        Some(&admin),
    )
    .await;
    assert_eq!(status, 201);
    let listed = client()
        .get(server.url("/composer/php/p2/acme/other.json"))
        .basic_auth("token", Some(&ci))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 404);
    let tokens = session_gql(
        &server,
        &root,
        "{ deployTokens(repository: \"php\") { name packages } }",
        json!({}),
    )
    .await;
    assert_eq!(
        tokens["data"]["deployTokens"][0]["packages"],
        json!(["acme/first"]),
        "{tokens}"
    );
}

#[tokio::test]
async fn browser_pages_carry_security_headers() {
    let env = TestEnv::new();
    let server = env.start();
    for path in ["/", "/repositories/acme", "/graphql"] {
        let response = client()
            .get(server.url(path))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        let headers = response.headers();
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(policy.contains("default-src"), "{path}: {policy}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert!(headers.contains_key("referrer-policy"), "{path}");
    }
}
