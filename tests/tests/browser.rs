//! A real browser signs in through the SPA.

use packistry_tests::{browser, TestEnv};

#[tokio::test]
async fn signs_in_through_the_spa_and_sees_the_shell() {
    if !browser::available() {
        return;
    }
    let env = TestEnv::new();
    env.create_user("admin@example.com", "admin", "browser-password");
    let server = env.start();
    let base = server.base_url.clone();
    let (ok, output) = tokio::task::spawn_blocking(move || {
        browser::run_script(
            "signin.mjs",
            &[
                ("BASE_URL", base.as_str()),
                ("EMAIL", "admin@example.com"),
                ("PASSWORD", "browser-password"),
            ],
        )
    })
    .await
    .unwrap();
    assert!(
        ok,
        "browser test failed:\n{output}\nserver log:\n{}",
        server.logs()
    );
    assert!(browser::artifacts_dir().join("shell-laptop.png").exists());
}
