//! Browser sign-in through GraphQL: cookies, CSRF, throttling, sign-out, and the CLI's
//! user commands that affect sessions.

use packistry_tests::{graphql, login, TestEnv};
use serde_json::json;

const VIEWER: &str = "{ viewer { authenticated user { email globalRole active } } }";

#[tokio::test]
async fn login_sets_http_only_cookies_and_viewer_follows_the_session() {
    let env = TestEnv::new();
    env.create_user("Alice@Example.com", "developer", "alice-password");
    let server = env.start();

    let anonymous = graphql(&server, VIEWER, json!({}), None, false).await;
    assert_eq!(anonymous.data()["viewer"]["authenticated"], false);
    assert!(anonymous.data()["viewer"]["user"].is_null());

    let answer = graphql(
        &server,
        packistry_tests::LOGIN,
        json!({ "email": "alice@example.com", "password": "alice-password" }),
        None,
        false,
    )
    .await;
    assert_eq!(answer.data()["login"]["user"]["email"], "alice@example.com");
    assert_eq!(answer.data()["login"]["user"]["globalRole"], "DEVELOPER");
    let session_cookie = answer
        .set_cookies
        .iter()
        .find(|c| c.starts_with("packistry_session="))
        .expect("session cookie");
    assert!(session_cookie.contains("HttpOnly"), "{session_cookie}");
    assert!(session_cookie.contains("SameSite=Lax"), "{session_cookie}");
    assert!(
        !session_cookie.contains("Secure"),
        "plain http base URL: {session_cookie}"
    );

    let session = login(&server, "alice@example.com", "alice-password")
        .await
        .unwrap();
    let viewer = graphql(&server, VIEWER, json!({}), Some(&session), false).await;
    assert_eq!(viewer.data()["viewer"]["authenticated"], true);
    assert_eq!(
        viewer.data()["viewer"]["user"]["email"],
        "alice@example.com"
    );
    assert!(
        !server.logs().contains(&session.session),
        "the session secret was logged"
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let env = TestEnv::new();
    env.create_user("bob@example.com", "user", "bob-password");
    let server = env.start();
    let wrong = login(&server, "bob@example.com", "nope-nope")
        .await
        .unwrap_err();
    let unknown = login(&server, "nobody@example.com", "nope-nope")
        .await
        .unwrap_err();
    assert_eq!(wrong.error_code(), Some("UNAUTHENTICATED"));
    assert_eq!(wrong.error_message(), Some("wrong e-mail or password"));
    assert_eq!(wrong.body["errors"], unknown.body["errors"]);
    assert!(wrong.cookie("packistry_session").is_none());
}

#[tokio::test]
async fn repeated_failures_lock_the_account_for_a_while() {
    let env = TestEnv::new();
    env.create_user("carol@example.com", "user", "carol-password");
    let server = env.start();
    for _ in 0..5 {
        let answer = login(&server, "carol@example.com", "wrong-password")
            .await
            .unwrap_err();
        assert_eq!(answer.error_message(), Some("wrong e-mail or password"));
    }
    let locked = login(&server, "carol@example.com", "carol-password")
        .await
        .unwrap_err();
    assert_eq!(locked.error_code(), Some("UNAUTHENTICATED"));
    assert!(
        locked
            .error_message()
            .unwrap()
            .contains("too many failed sign-in attempts"),
        "{:?}",
        locked.body
    );
}

#[tokio::test]
async fn cookie_mutations_need_the_csrf_token() {
    let env = TestEnv::new();
    env.create_user("dave@example.com", "user", "dave-password");
    let server = env.start();
    let session = login(&server, "dave@example.com", "dave-password")
        .await
        .unwrap();

    let refused = graphql(
        &server,
        "mutation { logout }",
        json!({}),
        Some(&session),
        false,
    )
    .await;
    assert_eq!(refused.error_code(), Some("FORBIDDEN"));
    assert!(refused.error_message().unwrap().contains("X-CSRF-Token"));
    // The session survived the refused sign-out.
    let viewer = graphql(&server, VIEWER, json!({}), Some(&session), false).await;
    assert_eq!(viewer.data()["viewer"]["authenticated"], true);

    let forged = packistry_tests::BrowserSession {
        session: session.session.clone(),
        csrf: "forged".into(),
    };
    let refused = graphql(
        &server,
        "mutation { logout }",
        json!({}),
        Some(&forged),
        true,
    )
    .await;
    assert_eq!(refused.error_code(), Some("FORBIDDEN"));

    let accepted = graphql(
        &server,
        "mutation { logout }",
        json!({}),
        Some(&session),
        true,
    )
    .await;
    assert_eq!(accepted.data()["logout"], true);
    assert!(accepted
        .set_cookies
        .iter()
        .any(|c| c.starts_with("packistry_session=;") && c.contains("Max-Age=0")));
    let viewer = graphql(&server, VIEWER, json!({}), Some(&session), false).await;
    assert_eq!(
        viewer.data()["viewer"]["authenticated"],
        false,
        "the session ended"
    );
}

#[tokio::test]
async fn form_posts_are_refused() {
    let env = TestEnv::new();
    let server = env.start();
    let response = packistry_tests::client()
        .post(server.url("/graphql"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("query=mutation%20%7B%20logout%20%7D")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test]
async fn malformed_and_oversized_requests_get_clear_errors() {
    let env = TestEnv::new();
    let server = env.start();
    let bad = graphql(&server, "{ viewer { nope } }", json!({}), None, false).await;
    assert_eq!(bad.error_code(), Some("BAD_USER_INPUT"));
    assert!(bad.error_message().unwrap().contains("nope"));

    let huge = "x".repeat(2 * 1024 * 1024);
    let response = packistry_tests::client()
        .post(server.url("/graphql"))
        .header("content-type", "application/json")
        .body(json!({ "query": huge }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn cli_user_commands_manage_accounts_and_end_sessions() {
    let env = TestEnv::new();
    env.create_user("erin@example.com", "admin", "erin-password");
    let server = env.start();

    let dup = env.cli(
        &[
            "user",
            "create",
            "--email",
            "ERIN@example.com",
            "--role",
            "user",
            "--password-stdin",
        ],
        Some("another-password\n"),
    );
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));

    let bad_role = env.cli(
        &[
            "user",
            "create",
            "--email",
            "x@example.com",
            "--role",
            "owner",
        ],
        None,
    );
    assert!(!bad_role.status.success());
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("admin developer user"));

    // Without --password-stdin a password is generated and printed alone on stdout.
    let generated = env.cli(
        &[
            "user",
            "create",
            "--email",
            "frank@example.com",
            "--role",
            "user",
        ],
        None,
    );
    assert!(generated.status.success());
    let password = String::from_utf8_lossy(&generated.stdout).trim().to_owned();
    assert!(password.len() >= 16, "{password}");
    login(&server, "frank@example.com", &password)
        .await
        .expect("generated password works");

    let session = login(&server, "erin@example.com", "erin-password")
        .await
        .unwrap();
    let reset = env.cli(
        &[
            "user",
            "reset-password",
            "--email",
            "erin@example.com",
            "--password-stdin",
        ],
        Some("new-erin-password\n"),
    );
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    let viewer = graphql(&server, VIEWER, json!({}), Some(&session), false).await;
    assert_eq!(
        viewer.data()["viewer"]["authenticated"],
        false,
        "reset ends sessions"
    );
    assert!(login(&server, "erin@example.com", "erin-password")
        .await
        .is_err());
    login(&server, "erin@example.com", "new-erin-password")
        .await
        .expect("new password");

    // The last admin cannot be deactivated; another user can, and their session ends.
    let last = env.cli(&["user", "deactivate", "--email", "erin@example.com"], None);
    assert!(!last.status.success());
    assert!(String::from_utf8_lossy(&last.stderr).contains("last active admin"));
    let frank = login(&server, "frank@example.com", &password)
        .await
        .unwrap();
    assert!(env
        .cli(
            &["user", "deactivate", "--email", "frank@example.com"],
            None
        )
        .status
        .success());
    let viewer = graphql(&server, VIEWER, json!({}), Some(&frank), false).await;
    assert_eq!(viewer.data()["viewer"]["authenticated"], false);
    assert!(login(&server, "frank@example.com", &password)
        .await
        .is_err());
    assert!(env
        .cli(&["user", "activate", "--email", "frank@example.com"], None)
        .status
        .success());
    login(&server, "frank@example.com", &password)
        .await
        .expect("reactivated");

    let help = env.cli(&["user", "create", "--help"], None);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--password-stdin"));
}
