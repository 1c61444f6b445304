//! Background jobs are supervised (issue #16): a job whose worker died while running it
//! again and again (a panic, an OOM kill) is not claimed forever, taking down one replica's
//! worker after another: after MAX_ATTEMPTS it fails, visibly, with the reason.

use std::time::Duration;

use packistry_server::jobs;
use packistry_tests::TestEnv;
use sea_orm::{ConnectionTrait, Database};
use serde_json::json;

#[tokio::test]
async fn a_job_whose_workers_keep_dying_fails_for_good() {
    let env = TestEnv::new();
    env.cli_ok(&["repo", "create", "php", "--format", "composer"]);
    let db = Database::connect(env.database_url()).await.unwrap();
    // A job last claimed long ago by a worker that never came back, MAX_ATTEMPTS times.
    let job = jobs::enqueue_in(&db, jobs::import::KIND, None, json!({}))
        .await
        .unwrap();
    db.execute_unprepared(&format!(
        "UPDATE jobs SET status = 'running', attempts = {}, locked_by = 'a dead worker', \
         locked_at = '2000-01-01 00:00:00+00:00'",
        jobs::MAX_ATTEMPTS
    ))
    .await
    .unwrap();
    let _server = env.start();
    let mut found = None;
    for _ in 0..40 {
        let row = jobs::get(&db, job.id).await.unwrap().unwrap();
        if row.status != "running" {
            found = Some(row);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let row = found.expect("the job was settled");
    assert_eq!(row.status, "failed");
    assert!(
        row.error
            .as_deref()
            .unwrap_or("")
            .contains("stopped while running it"),
        "{:?}",
        row.error
    );
    assert_eq!(row.attempts, jobs::MAX_ATTEMPTS, "not claimed again");
}
