//! Access control through GraphQL and the CLI: repositories, grants, groups, tokens, audit.

use packistry_tests::{client, graphql, login, BrowserSession, TestEnv, TestServer};
use serde_json::{json, Value};

/// A GraphQL call authenticated by a token in the given `Authorization` header value.
async fn with_auth(
    server: &TestServer,
    authorization: &str,
    query: &str,
    variables: Value,
) -> (u16, Value) {
    let response = client()
        .post(server.url("/graphql"))
        .header("content-type", "application/json")
        .header("authorization", authorization)
        .body(json!({ "query": query, "variables": variables }).to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn cli_ok(env: &TestEnv, args: &[&str]) -> String {
    env.cli_ok(args)
}

const REPOSITORIES: &str = "{ repositories { name permissions myRole } }";

fn permissions_of(body: &Value, name: &str) -> Option<Vec<String>> {
    body["data"]["repositories"]
        .as_array()?
        .iter()
        .find(|r| r["name"] == name)
        .map(|r| {
            r["permissions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_owned())
                .collect()
        })
}

/// The specification's example, end to end: Alice's two tokens.
#[tokio::test]
async fn alices_tokens_narrow_her_rights() {
    let env = TestEnv::new();
    env.create_user("alice@example.com", "user", "alice-password");
    cli_ok(
        &env,
        &["repo", "create", "acme-app", "--format", "composer"],
    );
    cli_ok(&env, &["repo", "create", "acme-libs", "--format", "maven"]);
    cli_ok(
        &env,
        &[
            "grant",
            "--repository",
            "acme-app",
            "--user",
            "alice@example.com",
            "--role",
            "administrator",
        ],
    );
    cli_ok(
        &env,
        &[
            "grant",
            "--repository",
            "acme-libs",
            "--user",
            "alice@example.com",
            "--role",
            "developer",
        ],
    );
    let dev = cli_ok(
        &env,
        &[
            "token",
            "create",
            "--user",
            "alice@example.com",
            "--name",
            "dev",
            "--repository",
            "acme-libs",
            "--role",
            "reader",
        ],
    );
    let publish = cli_ok(
        &env,
        &[
            "token",
            "create",
            "--user",
            "alice@example.com",
            "--name",
            "publish",
            "--all-repositories",
            "--role",
            "uploader",
        ],
    );
    assert!(dev.starts_with("pkpat-") && publish.starts_with("pkpat-"));
    let server = env.start();

    let (status, body) =
        with_auth(&server, &format!("Bearer {dev}"), REPOSITORIES, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        permissions_of(&body, "acme-libs"),
        Some(vec!["DOWNLOAD".to_owned()])
    );
    assert_eq!(permissions_of(&body, "acme-app"), None, "{body}");

    // Basic with any username, and the raw header Cargo sends, work the same.
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("whoever:{publish}"));
    for authorization in [format!("Basic {basic}"), publish.clone()] {
        let (_, body) = with_auth(&server, &authorization, REPOSITORIES, json!({})).await;
        for repo in ["acme-app", "acme-libs"] {
            assert_eq!(
                permissions_of(&body, repo),
                Some(vec!["UPLOAD".to_owned(), "DOWNLOAD".to_owned()]),
                "{body}"
            );
        }
    }

    // In the browser Alice keeps her full roles.
    let session = login(&server, "alice@example.com", "alice-password")
        .await
        .unwrap();
    let body = graphql(&server, REPOSITORIES, json!({}), Some(&session), false)
        .await
        .body;
    assert_eq!(permissions_of(&body, "acme-app").unwrap().len(), 5);
    assert_eq!(
        permissions_of(&body, "acme-libs"),
        Some(
            vec!["UPLOAD", "DOWNLOAD", "LIST", "VIEW_GRANTS"]
                .into_iter()
                .map(String::from)
                .collect()
        )
    );
}

#[tokio::test]
async fn bad_tokens_are_refused_with_a_reason() {
    let env = TestEnv::new();
    env.create_user("bob@example.com", "user", "bob-password");
    env.create_user("root@example.com", "admin", "root-password");
    let token = cli_ok(
        &env,
        &[
            "token",
            "create",
            "--user",
            "bob@example.com",
            "--name",
            "ci",
            "--all-repositories",
            "--role",
            "reader",
        ],
    );
    let server = env.start();
    let viewer = "{ viewer { user { email } } }";

    let (status, body) = with_auth(&server, &format!("Bearer {token}"), viewer, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["viewer"]["user"]["email"], "bob@example.com");

    for (authorization, reason) in [
        ("Bearer pkpat-unknown".to_owned(), "unknown token"),
        (
            "Basic Ym9iOmJvYi1wYXNzd29yZA==".to_owned(),
            "passwords are for the web interface",
        ),
    ] {
        let (status, body) = with_auth(&server, &authorization, viewer, json!({})).await;
        assert_eq!(status, 401, "{authorization}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(reason),
            "{body}"
        );
    }

    // Deactivating the owner stops the token within the cache's 5 seconds.
    cli_ok(&env, &["user", "deactivate", "--email", "bob@example.com"]);
    tokio::time::sleep(std::time::Duration::from_millis(5500)).await;
    let (status, body) = with_auth(&server, &format!("Bearer {token}"), viewer, json!({})).await;
    assert_eq!(status, 401);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("deactivated"),
        "{body}"
    );
    cli_ok(&env, &["user", "activate", "--email", "bob@example.com"]);

    // Revoking through GraphQL takes effect at once on this replica.
    let bob = login(&server, "bob@example.com", "bob-password")
        .await
        .unwrap();
    let mine = graphql(
        &server,
        "{ myTokens { id name lastUsedAt } }",
        json!({}),
        Some(&bob),
        false,
    )
    .await;
    let id = mine.data()["myTokens"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = graphql(
        &server,
        "mutation($id: ID!) { revokeToken(id: $id) { revokedAt } }",
        json!({ "id": id }),
        Some(&bob),
        true,
    )
    .await;
    assert!(
        revoked.data()["revokeToken"]["revokedAt"].is_string(),
        "{:?}",
        revoked.body
    );
    let (status, body) = with_auth(&server, &format!("Bearer {token}"), viewer, json!({})).await;
    assert_eq!(status, 401);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("revoked"),
        "{body}"
    );
    assert!(!server.logs().contains(&token), "a token was logged");
}

const CREATE_REPOSITORY: &str = "mutation($name: String!) { createRepository(input: { name: $name, format: COMPOSER }) { name myRole permissions } }";
const GRANT: &str = "mutation($repo: String!, $email: String!, $role: RepositoryRole!) { grantRole(repository: $repo, grantee: { userEmail: $email }, role: $role) }";

async fn session_for(
    env: &TestEnv,
    server: &TestServer,
    email: &str,
    role: &str,
) -> BrowserSession {
    env.create_user(email, role, "a-long-password");
    login(server, email, "a-long-password").await.unwrap()
}

#[tokio::test]
async fn repositories_and_grants_follow_the_role_table() {
    let env = TestEnv::new();
    let server = env.start();
    let dev = session_for(&env, &server, "dev@example.com", "developer").await;
    let user = session_for(&env, &server, "user@example.com", "user").await;
    let other = session_for(&env, &server, "other@example.com", "developer").await;

    // A developer creates a repository and becomes its administrator.
    let created = graphql(
        &server,
        CREATE_REPOSITORY,
        json!({ "name": "team-lib" }),
        Some(&dev),
        true,
    )
    .await;
    assert_eq!(
        created.data()["createRepository"]["myRole"],
        "ADMINISTRATOR",
        "{:?}",
        created.body
    );
    // A plain user may not.
    let refused = graphql(
        &server,
        CREATE_REPOSITORY,
        json!({ "name": "mine" }),
        Some(&user),
        true,
    )
    .await;
    assert_eq!(refused.error_code(), Some("FORBIDDEN"));
    // Duplicate and invalid names.
    let dup = graphql(
        &server,
        CREATE_REPOSITORY,
        json!({ "name": "team-lib" }),
        Some(&dev),
        true,
    )
    .await;
    assert_eq!(dup.error_code(), Some("CONFLICT"));
    assert!(dup.error_message().unwrap().starts_with("name:"));
    let bad = graphql(
        &server,
        CREATE_REPOSITORY,
        json!({ "name": "Bad Name" }),
        Some(&dev),
        true,
    )
    .await;
    assert_eq!(bad.error_code(), Some("BAD_USER_INPUT"));
    assert!(bad.error_message().unwrap().contains("lowercase letters"));

    // A private repository the caller has nothing on is indistinguishable from none.
    let hidden = graphql(
        &server,
        "{ repository(name: \"team-lib\") { name } }",
        json!({}),
        Some(&other),
        false,
    )
    .await;
    let absent = graphql(
        &server,
        "{ repository(name: \"no-such\") { name } }",
        json!({}),
        Some(&other),
        false,
    )
    .await;
    assert_eq!(hidden.error_code(), Some("NOT_FOUND"));
    assert_eq!(
        hidden.error_message().unwrap().replace("team-lib", "X"),
        absent.error_message().unwrap().replace("no-such", "X")
    );

    // The administrator grants reader to the user; the user sees it but may not grant.
    let granted = graphql(
        &server,
        GRANT,
        json!({ "repo": "team-lib", "email": "user@example.com", "role": "READER" }),
        Some(&dev),
        true,
    )
    .await;
    assert_eq!(granted.data()["grantRole"], true, "{:?}", granted.body);
    let as_reader = graphql(
        &server,
        GRANT,
        json!({ "repo": "team-lib", "email": "other@example.com", "role": "READER" }),
        Some(&user),
        true,
    )
    .await;
    assert_eq!(as_reader.error_code(), Some("FORBIDDEN"));
    let grants = graphql(
        &server,
        "{ grants(repository: \"team-lib\") { role user { email } } }",
        json!({}),
        Some(&user),
        false,
    )
    .await;
    assert_eq!(
        grants.error_code(),
        Some("FORBIDDEN"),
        "readers may not view grants"
    );
    let grants = graphql(
        &server,
        "{ grants(repository: \"team-lib\") { role user { email } } }",
        json!({}),
        Some(&dev),
        false,
    )
    .await;
    assert_eq!(grants.data()["grants"].as_array().unwrap().len(), 2);

    // Granting again replaces the role.
    graphql(
        &server,
        GRANT,
        json!({ "repo": "team-lib", "email": "user@example.com", "role": "UPLOADER" }),
        Some(&dev),
        true,
    )
    .await;
    let body = graphql(&server, REPOSITORIES, json!({}), Some(&user), false)
        .await
        .body;
    assert_eq!(
        permissions_of(&body, "team-lib"),
        Some(vec!["UPLOAD".to_owned(), "DOWNLOAD".to_owned()])
    );

    // Deploy tokens only for repositories one administers.
    let deploy = "mutation($repo: String!) { createDeployToken(input: { name: \"ci\", repositories: [$repo], roles: [READER] }) { secret token { name } } }";
    let ok = graphql(
        &server,
        deploy,
        json!({ "repo": "team-lib" }),
        Some(&dev),
        true,
    )
    .await;
    assert!(ok.data()["createDeployToken"]["secret"]
        .as_str()
        .unwrap()
        .starts_with("pkdt-"));
    let refused = graphql(
        &server,
        deploy,
        json!({ "repo": "team-lib" }),
        Some(&user),
        true,
    )
    .await;
    assert_eq!(refused.error_code(), Some("FORBIDDEN"));

    // Revoking ends the user's access; the audit trail shows it all (admins only).
    let revoke = "mutation { revokeRole(repository: \"team-lib\", grantee: { userEmail: \"user@example.com\" }) }";
    assert_eq!(
        graphql(&server, revoke, json!({}), Some(&dev), true)
            .await
            .data()["revokeRole"],
        true
    );
    let body = graphql(&server, REPOSITORIES, json!({}), Some(&user), false)
        .await
        .body;
    assert_eq!(permissions_of(&body, "team-lib"), None);
    let audit = "{ auditEvents(first: 50) { edges { node { action actor targetName } } } }";
    assert_eq!(
        graphql(&server, audit, json!({}), Some(&dev), false)
            .await
            .error_code(),
        Some("FORBIDDEN")
    );
    let root = session_for(&env, &server, "root@example.com", "admin").await;
    let events = graphql(&server, audit, json!({}), Some(&root), false).await;
    let actions: Vec<&str> = events.data()["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap())
        .collect();
    for action in [
        "repository.created",
        "grant.given",
        "grant.revoked",
        "token.created",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
    // Pages of two follow each other by cursor, newest first, none twice, none missed.
    let mut paged: Vec<Value> = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = graphql(
            &server,
            "query($after: String) { auditEvents(first: 2, after: $after) { edges { cursor node { action createdAt } } pageInfo { hasNextPage } } }",
            json!({ "after": after }),
            Some(&root),
            false,
        )
        .await;
        let connection = &page.data()["auditEvents"];
        let edges = connection["edges"].as_array().unwrap();
        assert!(edges.len() <= 2);
        paged.extend(edges.iter().map(|e| e["node"].clone()));
        if connection["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = edges.last().unwrap()["cursor"].clone();
    }
    let all = graphql(
        &server,
        "{ auditEvents(first: 100) { edges { node { action createdAt } } } }",
        json!({}),
        Some(&root),
        false,
    )
    .await;
    let all: Vec<Value> = all.data()["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    assert!(all.len() > 4, "{all:?}");
    assert_eq!(paged, all);
    let times: Vec<&str> = all
        .iter()
        .map(|e| e["createdAt"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let bad = graphql(
        &server,
        "{ auditEvents(first: 2, after: \"bm90LWEtY3Vyc29y\") { edges { cursor } } }",
        json!({}),
        Some(&root),
        false,
    )
    .await;
    assert_eq!(bad.error_code(), Some("BAD_USER_INPUT"));
}

#[tokio::test]
async fn groups_give_their_members_roles_and_maintainers_manage_them() {
    let env = TestEnv::new();
    let server = env.start();
    let lead = session_for(&env, &server, "lead@example.com", "developer").await;
    let member = session_for(&env, &server, "member@example.com", "user").await;
    cli_ok(&env, &["repo", "create", "shared-lib", "--format", "maven"]);

    let create = graphql(&server, "mutation { createGroup(name: \"backend\") { name members { user { email } maintainer } } }", json!({}), Some(&lead), true).await;
    assert_eq!(
        create.data()["createGroup"]["members"][0]["maintainer"],
        true,
        "{:?}",
        create.body
    );
    let add = graphql(&server, "mutation { setGroupMember(name: \"backend\", email: \"member@example.com\", maintainer: false) }", json!({}), Some(&lead), true).await;
    assert_eq!(add.data()["setGroupMember"], true);
    // A plain member may not manage the group.
    let refused = graphql(
        &server,
        "mutation { renameGroup(name: \"backend\", newName: \"x\") { name } }",
        json!({}),
        Some(&member),
        true,
    )
    .await;
    assert_eq!(refused.error_code(), Some("FORBIDDEN"));

    cli_ok(
        &env,
        &[
            "grant",
            "--repository",
            "shared-lib",
            "--group",
            "backend",
            "--role",
            "developer",
        ],
    );
    let body = graphql(&server, REPOSITORIES, json!({}), Some(&member), false)
        .await
        .body;
    assert_eq!(
        permissions_of(&body, "shared-lib").map(|p| p.len()),
        Some(4),
        "{body}"
    );
}

#[tokio::test]
async fn the_last_admin_stays_admin_and_only_admins_manage_users() {
    let env = TestEnv::new();
    let server = env.start();
    let root = session_for(&env, &server, "root@example.com", "admin").await;
    let dev = session_for(&env, &server, "dev@example.com", "developer").await;
    let demote =
        "mutation($email: String!) { setGlobalRole(email: $email, role: USER) { globalRole } }";
    let last = graphql(
        &server,
        demote,
        json!({ "email": "root@example.com" }),
        Some(&root),
        true,
    )
    .await;
    assert_eq!(last.error_code(), Some("CONFLICT"));
    let refused = graphql(
        &server,
        demote,
        json!({ "email": "root@example.com" }),
        Some(&dev),
        true,
    )
    .await;
    assert_eq!(refused.error_code(), Some("FORBIDDEN"));
    let users = graphql(&server, "{ users(first: 1, search: \"example\") { edges { cursor node { email } } pageInfo { hasNextPage } } }", json!({}), Some(&root), false).await;
    assert_eq!(
        users.data()["users"]["edges"][0]["node"]["email"],
        "dev@example.com"
    );
    assert_eq!(users.data()["users"]["pageInfo"]["hasNextPage"], true);
    let cursor = users.data()["users"]["edges"][0]["cursor"].clone();
    let next = graphql(
        &server,
        "query($after: String) { users(first: 1, search: \"EXAMPLE\", after: $after) { edges { node { email } } } }",
        json!({ "after": cursor }),
        Some(&root),
        false,
    )
    .await;
    assert_eq!(
        next.data()["users"]["edges"][0]["node"]["email"],
        "root@example.com",
        "the page after dev@ (searches ignore case)"
    );
    let created = graphql(&server, "mutation { createUser(input: { email: \"new@example.com\", globalRole: DEVELOPER, password: \"short\" }) { email } }", json!({}), Some(&root), true).await;
    assert_eq!(created.error_code(), Some("BAD_USER_INPUT"));
    // Nothing was half written: the user does not exist.
    let users = graphql(
        &server,
        "{ users(search: \"new@\") { edges { node { email } } } }",
        json!({}),
        Some(&root),
        false,
    )
    .await;
    assert_eq!(users.data()["users"]["edges"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn users_edit_themselves_and_admins_edit_anyone() {
    let env = TestEnv::new();
    let server = env.start();
    let root = session_for(&env, &server, "root@example.com", "admin").await;
    let pat = session_for(&env, &server, "pat@example.com", "user").await;
    let update = "mutation($email: String!, $name: String, $newEmail: String) { updateUser(email: $email, displayName: $name, newEmail: $newEmail) { email displayName } }";
    let own = graphql(
        &server,
        update,
        json!({ "email": "pat@example.com", "name": "Pat Doe" }),
        Some(&pat),
        true,
    )
    .await;
    assert_eq!(
        own.data()["updateUser"]["displayName"],
        "Pat Doe",
        "{:?}",
        own.body
    );
    let other = graphql(
        &server,
        update,
        json!({ "email": "root@example.com", "name": "Nope" }),
        Some(&pat),
        true,
    )
    .await;
    assert_eq!(other.error_code(), Some("FORBIDDEN"));
    let taken = graphql(
        &server,
        update,
        json!({ "email": "pat@example.com", "newEmail": "ROOT@example.com" }),
        Some(&root),
        true,
    )
    .await;
    assert_eq!(taken.error_code(), Some("CONFLICT"));
    assert!(taken.error_message().unwrap().starts_with("email:"));
    let moved = graphql(
        &server,
        update,
        json!({ "email": "pat@example.com", "newEmail": "pat.doe@example.com" }),
        Some(&root),
        true,
    )
    .await;
    assert_eq!(moved.data()["updateUser"]["email"], "pat.doe@example.com");
    login(&server, "pat.doe@example.com", "a-long-password")
        .await
        .expect("signs in with the new e-mail");
}

#[tokio::test]
async fn an_expired_token_is_refused_saying_so() {
    let env = TestEnv::new();
    env.create_user("eve@example.com", "user", "eve-password");
    let expires_at = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let token = cli_ok(
        &env,
        &[
            "token",
            "create",
            "--user",
            "eve@example.com",
            "--name",
            "short",
            "--all-repositories",
            "--role",
            "reader",
            "--expires-at",
            &expires_at,
        ],
    );
    let server = env.start();
    tokio::time::sleep(std::time::Duration::from_millis(3000)).await;
    let (status, body) = with_auth(
        &server,
        &format!("Bearer {token}"),
        "{ viewer { authenticated } }",
        json!({}),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );
}
