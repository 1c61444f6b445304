//! Typed GraphQL over `fetch`. Queries live in `frontend/queries/` and are checked against
//! `schema.graphql` when the SPA compiles.

use graphql_client::{GraphQLQuery, Response};
use wasm_bindgen::JsCast;

/// The scalar `DateTime` arrives as an RFC 3339 string.
#[allow(dead_code)]
pub type DateTime = String;

/// The scalar `JSON` arrives as any JSON value.
#[allow(dead_code, clippy::upper_case_acronyms)]
pub type JSON = serde_json::Value;

/// The scalar `NaiveDate` arrives as `YYYY-MM-DD`.
#[allow(dead_code)]
pub type NaiveDate = String;

/// The scalar `ID` arrives as a string.
#[allow(dead_code, clippy::upper_case_acronyms)]
pub type ID = String;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/viewer.graphql",
    response_derives = "Debug, Clone, PartialEq"
)]
pub struct Viewer;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/sign_in_methods.graphql",
    response_derives = "Debug, Clone, PartialEq"
)]
pub struct SignInMethods;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/auth_sources.graphql",
    response_derives = "Debug, Clone, PartialEq"
)]
pub struct AuthSources;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/create_auth_source.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct CreateAuthSource;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/update_auth_source.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct UpdateAuthSource;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/set_auth_source_active.graphql",
    response_derives = "Debug, Clone, PartialEq"
)]
pub struct SetAuthSourceActive;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/delete_auth_source.graphql",
    response_derives = "Debug, Clone, PartialEq"
)]
pub struct DeleteAuthSource;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/sources.graphql",
    response_derives = "Debug, Clone, PartialEq"
)]
pub struct Sources;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/create_source.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct CreateSource;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/add_source_package.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct AddSourcePackage;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/imported_packages.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct ImportedPackages;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/rebuild_package.graphql",
    response_derives = "Debug, Clone, PartialEq"
)]
pub struct RebuildPackage;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/test_source.graphql",
    response_derives = "Debug, Clone, PartialEq"
)]
pub struct TestSource;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/source_projects.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct SourceProjects;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/login.graphql",
    response_derives = "Debug, Clone, PartialEq"
)]
pub struct Login;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/logout.graphql",
    response_derives = "Debug, Clone, PartialEq"
)]
pub struct Logout;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/my_tokens.graphql",
    response_derives = "Debug, Clone, PartialEq"
)]
pub struct MyTokens;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/create_personal_token.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct CreatePersonalToken;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/revoke_token.graphql",
    response_derives = "Debug, Clone, PartialEq"
)]
pub struct RevokeToken;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/repositories.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct Repositories;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/create_repository.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct CreateRepository;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/repository_grants.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct RepositoryGrants;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/grant_role.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct GrantRole;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/revoke_role.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct RevokeRole;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/users.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct Users;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/create_user.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct CreateUser;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/set_global_role.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct SetGlobalRole;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/set_user_active.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct SetUserActive;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/groups.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct Groups;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/create_group.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct CreateGroup;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/set_group_member.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct SetGroupMember;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/remove_group_member.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct RemoveGroupMember;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/audit_events.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct AuditEvents;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/deploy_tokens.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct DeployTokens;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/create_deploy_token.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct CreateDeployToken;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/packages.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct Packages;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/package.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct Package;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/server_info.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct ServerInfo;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/delete_package_version.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct DeletePackageVersion;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/delete_package.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct DeletePackage;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/update_repository.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct UpdateRepository;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "queries/delete_image_tag.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct DeleteImageTag;

/// An error a person can read: the server's message, or what failed on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub message: String,
    pub code: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

const CSRF_COOKIE: &str = "packistry_csrf";

fn csrf_token() -> Option<String> {
    let document = web_sys::window()?.document()?;
    let cookies = document
        .dyn_into::<web_sys::HtmlDocument>()
        .ok()?
        .cookie()
        .ok()?;
    cookies.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == CSRF_COOKIE && !value.is_empty()).then(|| value.to_owned())
    })
}

pub async fn run<Q: GraphQLQuery>(variables: Q::Variables) -> Result<Q::ResponseData, ApiError> {
    let body = Q::build_query(variables);
    let mut request =
        gloo_net::http::Request::post("/graphql").header("Content-Type", "application/json");
    if let Some(token) = csrf_token() {
        request = request.header("X-CSRF-Token", &token);
    }
    let network = |err: gloo_net::Error| ApiError {
        message: format!("cannot reach the server: {err}"),
        code: None,
    };
    let response = request
        .json(&body)
        .map_err(network)?
        .send()
        .await
        .map_err(network)?;
    let parsed: Response<Q::ResponseData> = response.json().await.map_err(|err| ApiError {
        message: format!(
            "unexpected answer from the server ({}): {err}",
            response.status()
        ),
        code: None,
    })?;
    if let Some(error) = parsed.errors.and_then(|errors| errors.into_iter().next()) {
        let code = error
            .extensions
            .as_ref()
            .and_then(|ext| ext.get("code"))
            .and_then(|code| code.as_str())
            .map(str::to_owned);
        return Err(ApiError {
            message: error.message,
            code,
        });
    }
    parsed.data.ok_or_else(|| ApiError {
        message: "the server answered without data".into(),
        code: None,
    })
}

/// Upload a Composer package zip through GraphQL's multipart request; answers
/// "vendor/name version".
pub async fn upload_composer_package(
    repository: &str,
    file: web_sys::File,
    version: Option<String>,
) -> Result<String, ApiError> {
    let failed = |what: &str| ApiError {
        message: format!("cannot prepare the upload: {what}"),
        code: None,
    };
    let operations = serde_json::json!({
        "query": "mutation($repository: String!, $file: Upload!, $version: String) { uploadComposerPackage(repository: $repository, file: $file, version: $version) { package version } }",
        "variables": { "repository": repository, "file": null, "version": version },
    });
    let form = web_sys::FormData::new().map_err(|_| failed("no FormData"))?;
    form.append_with_str("operations", &operations.to_string())
        .map_err(|_| failed("operations"))?;
    form.append_with_str("map", r#"{"0":["variables.file"]}"#)
        .map_err(|_| failed("map"))?;
    form.append_with_blob_and_filename("0", &file, &file.name())
        .map_err(|_| failed("file"))?;
    let mut request = gloo_net::http::Request::post("/graphql");
    if let Some(token) = csrf_token() {
        request = request.header("X-CSRF-Token", &token);
    }
    let network = |err: gloo_net::Error| ApiError {
        message: format!("cannot reach the server: {err}"),
        code: None,
    };
    let response = request
        .body(form)
        .map_err(network)?
        .send()
        .await
        .map_err(network)?;
    let parsed: Response<serde_json::Value> = response.json().await.map_err(|err| ApiError {
        message: format!(
            "unexpected answer from the server ({}): {err}",
            response.status()
        ),
        code: None,
    })?;
    if let Some(error) = parsed.errors.and_then(|errors| errors.into_iter().next()) {
        return Err(ApiError {
            message: error.message,
            code: None,
        });
    }
    let published = parsed
        .data
        .as_ref()
        .map(|data| &data["uploadComposerPackage"])
        .ok_or_else(|| failed("no answer"))?;
    Ok(format!(
        "{} {}",
        published["package"].as_str().unwrap_or(""),
        published["version"].as_str().unwrap_or("")
    ))
}
