//! Lists at 100,000 packages (× 3 versions, seeded as real uploads shape their rows):
//! `search.json`, `list.json`, `packages.json` and its 304, GraphQL pages by cursor and
//! their totals, a package-limited token's lists, and a new upload showing in every list.
//! Answers are checked against what was seeded, not against the server's own counts.

use packistry_tests::composer::{package_zip, upload};
use packistry_tests::seed::{self, package_name};
use packistry_tests::{client, report, TestEnv};
use serde_json::{json, Value};

const PACKAGES: usize = 100_000;

async fn get(
    server: &packistry_tests::TestServer,
    path: &str,
    token: &str,
) -> (u16, Value, String) {
    let response = client()
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(json!({ "raw": text })),
        etag,
    )
}

async fn gql(
    server: &packistry_tests::TestServer,
    token: &str,
    query: &str,
    variables: Value,
) -> Value {
    let response = client()
        .post(server.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert!(body["errors"].is_null(), "{body}");
    body["data"].clone()
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_at_100000_packages_cost_a_page() {
    let env = TestEnv::new();
    let admin = env.admin_token("admin@example.com");
    env.cli_ok(&["repo", "create", "big", "--format", "composer"]);
    let server = env.start();

    let zip = package_zip(
        "acme/template",
        "1.0.0",
        json!({ "description": "the template" }),
    );
    let (status, body) = upload(
        &server,
        "big",
        "acme/template",
        zip,
        Some("1.0.0"),
        Some(&admin),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let started = std::time::Instant::now();
    seed::composer_packages(&env.database_url(), "big", "acme/template", 0, PACKAGES)
        .await
        .expect("seeded");
    report(&format!(
        "scale: {PACKAGES} packages × {} versions seeded in {:.1} s",
        seed::VERSIONS.len(),
        started.elapsed().as_secs_f64()
    ));
    let mut all: Vec<String> = (0..PACKAGES).map(package_name).collect();
    all.push("acme/template".into());
    all.sort();

    // search.json: every word in the name or description, a page at a time, with the total.
    let expected: Vec<&String> = all.iter().filter(|n| n.contains("pkg12")).collect();
    let (status, found, _) = get(&server, "/composer/big/search.json?q=pkg12", &admin).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["total"], expected.len(), "{found}");
    let page: Vec<&str> = found["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        page,
        expected[..15]
            .iter()
            .map(|n| n.as_str())
            .collect::<Vec<_>>()
    );
    let next = found["next"].as_str().expect("a next page");
    let next = next
        .split_once("/composer/")
        .map(|(_, p)| format!("/composer/{p}"))
        .unwrap();
    let (status, second, _) = get(&server, &next, &admin).await;
    assert_eq!(status, 200);
    assert_eq!(
        second["results"][0]["name"],
        expected[15].as_str(),
        "{second}"
    );

    // A common phrase (one package in five): once counted, its pages walk the names
    // instead of sorting 20,000 matches; deep pages and the total stay exact.
    let dense = |i: usize| {
        let text = format!("{} {}", package_name(i), seed::description(i)).to_lowercase();
        text.contains("http") && text.contains("client")
    };
    let mut expected: Vec<String> = (0..PACKAGES)
        .filter(|&i| dense(i))
        .map(package_name)
        .collect();
    expected.sort();
    for page in [1, 2, 40] {
        let (status, found, _) = get(
            &server,
            &format!("/composer/big/search.json?q=http+client&per_page=50&page={page}"),
            &admin,
        )
        .await;
        assert_eq!(status, 200, "{found}");
        assert_eq!(found["total"], expected.len(), "{found}");
        let names: Vec<&str> = found["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        let from = (page - 1) * 50;
        assert_eq!(names, expected[from..from + 50], "page {page}");
    }

    // Two words, one of them too short for the trigram index, and a type.
    let expected = (0..PACKAGES)
        .filter(|&i| {
            let name = package_name(i);
            name.starts_with("vendor07/")
                && seed::description(i).contains("http")
                && name.contains("9")
        })
        .count();
    let (status, found, _) = get(
        &server,
        "/composer/big/search.json?q=http+vendor07+9&per_page=100",
        &admin,
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["total"], expected, "{found}");
    let projects = (0..PACKAGES)
        .filter(|&i| seed::kind(i) == "project" && package_name(i).contains("pkg99"))
        .count();
    let (_, found, _) = get(
        &server,
        "/composer/big/search.json?q=pkg99&type=project",
        &admin,
    )
    .await;
    assert_eq!(found["total"], projects, "{found}");
    // Whatever a search holds reaches the index as text, never as its query syntax.
    for odd in [
        "%22",
        "%22%22%22",
        "a%00b",
        "NEAR(pkg1",
        "pkg*",
        "%5E%3A-+OR+AND",
        "%F0%9F%93%A6",
    ] {
        let (status, found, _) = get(
            &server,
            &format!("/composer/big/search.json?q={odd}"),
            &admin,
        )
        .await;
        assert_eq!(status, 200, "{odd}: {found}");
    }
    let (status, _, _) = get(
        &server,
        &format!("/composer/big/search.json?q={}", "x".repeat(201)),
        &admin,
    )
    .await;
    assert_eq!(status, 400);

    // list.json: all names, or a vendor's by wildcard; packages.json names them all.
    let (status, list, _) = get(&server, "/composer/big/list.json", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(names(&list["packageNames"]), all);
    let (_, list, _) = get(&server, "/composer/big/list.json?filter=vendor07/*", &admin).await;
    let vendor: Vec<String> = all
        .iter()
        .filter(|n| n.starts_with("vendor07/"))
        .cloned()
        .collect();
    assert_eq!(names(&list["packageNames"]), vendor);
    let (status, root, etag) = get(&server, "/composer/big/packages.json", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(names(&root["available-packages"]).len(), PACKAGES + 1);
    let unchanged = client()
        .get(server.url("/composer/big/packages.json"))
        .bearer_auth(&admin)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status().as_u16(), 304);

    // GraphQL: pages follow cursors; the total is counted, not loaded.
    const PAGE: &str = r#"query($after: String, $search: String) {
        packages(repository: "big", first: 100, after: $after, search: $search) {
            totalCount pageInfo { hasNextPage endCursor } edges { node { name versionCount latestVersion } }
        }
    }"#;
    let mut after = Value::Null;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let data = gql(&server, &admin, PAGE, json!({ "after": after })).await;
        let packages = &data["packages"];
        assert_eq!(packages["totalCount"], PACKAGES + 1);
        assert_eq!(packages["pageInfo"]["hasNextPage"], true);
        for edge in packages["edges"].as_array().unwrap() {
            seen.push(edge["node"]["name"].as_str().unwrap().to_owned());
        }
        after = packages["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, all[..300]);
    let data = gql(&server, &admin, PAGE, json!({ "search": "pkg4242" })).await;
    let expected = all.iter().filter(|n| n.contains("pkg4242")).count();
    assert_eq!(data["packages"]["totalCount"], expected);
    let first = &data["packages"]["edges"][0]["node"];
    assert_eq!(first["versionCount"], 3);
    assert_eq!(first["latestVersion"], "2.0.0");

    // A token limited to two packages lists those two, whatever it asks.
    let limited = gql(
        &server,
        &admin,
        r#"mutation($input: CreateDeployTokenInput!) { createDeployToken(input: $input) { secret } }"#,
        json!({ "input": {
            "name": "two", "repositories": ["big"], "roles": ["DEVELOPER"],
            "packages": [package_name(12), package_name(99_999)],
        }}),
    )
    .await["createDeployToken"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut two = vec![package_name(12), package_name(99_999)];
    two.sort();
    let (status, list, _) = get(&server, "/composer/big/list.json", &limited).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(names(&list["packageNames"]), two);
    let (status, root, _) = get(&server, "/composer/big/packages.json", &limited).await;
    assert_eq!(status, 200, "{root}");
    assert_eq!(names(&root["available-packages"]), two, "{root}");
    let (_, found, _) = get(&server, "/composer/big/search.json?q=pkg", &limited).await;
    assert_eq!(found["total"], 2, "{found}");
    let data = gql(&server, &limited, PAGE, json!({})).await;
    assert_eq!(data["packages"]["totalCount"], 2);

    // A new upload shows at once in every list, under a new ETag.
    let zip = package_zip(
        "zzz/newest",
        "1.0.0",
        json!({ "description": "just uploaded" }),
    );
    let (status, body) = upload(
        &server,
        "big",
        "zzz/newest",
        zip,
        Some("1.0.0"),
        Some(&admin),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (_, root, new_etag) = get(&server, "/composer/big/packages.json", &admin).await;
    assert_ne!(new_etag, etag);
    assert_eq!(
        names(&root["available-packages"])
            .last()
            .map(String::as_str),
        Some("zzz/newest")
    );
    let (_, found, _) = get(&server, "/composer/big/search.json?q=just+uploaded", &admin).await;
    assert_eq!(found["total"], 1, "{found}");
    let data = gql(&server, &admin, PAGE, json!({})).await;
    assert_eq!(data["packages"]["totalCount"], PACKAGES + 2);

    // Memory stays bounded: the server's resident set after all of this.
    if let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", server.pid())) {
        if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:")) {
            report(&format!(
                "scale: server peak RSS after the 100,000-package lists: {}",
                line[6..].trim()
            ));
        }
    }
}
