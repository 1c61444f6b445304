//! Schema-wide rules applied around every resolver:
//! - cookie-authenticated mutations must carry the session's CSRF token;
//! - every error gets its `extensions.code`, and internal details are logged, not returned.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextRequest, NextResolve, ResolveInfo,
};
use async_graphql::{ErrorExtensionValues, Response, ServerError, ServerResult, Value};

use super::RequestContext;
use crate::error::Error;

/// Mutations that need no session, and so no CSRF token.
const EXEMPT: &[&str] = &["login"];

pub struct ApiRules;

impl ExtensionFactory for ApiRules {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ApiRulesExtension)
    }
}

struct ApiRulesExtension;

fn with_code(mut error: ServerError, code: &str) -> ServerError {
    let extensions = error
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default);
    extensions.set("code", code);
    error
}

fn has_code(error: &ServerError) -> bool {
    error
        .extensions
        .as_ref()
        .is_some_and(|ext| ext.get("code").is_some())
}

#[async_trait::async_trait]
impl Extension for ApiRulesExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        for error in std::mem::take(&mut response.errors) {
            let error = if has_code(&error) {
                error
            } else if let Some(api) = error.source::<Error>() {
                crate::protocols::log_internal(api);
                let code = api.code();
                with_code(error, code)
            } else if error.path.is_empty()
                || error.message.starts_with("Invalid value")
                || error.message.starts_with("Failed to parse")
            {
                // Parse, validation and argument-coercion errors: the request itself is wrong.
                with_code(error, "BAD_USER_INPUT")
            } else {
                tracing::error!(error = %error.message, "unclassified resolver error");
                let mut error = with_code(error, "INTERNAL");
                error.message = "internal error".into();
                error
            };
            response.errors.push(error);
        }
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.parent_type == "Mutation" && !EXEMPT.contains(&info.name) {
            if let Ok(request) = ctx.data::<RequestContext>() {
                if request.cookie_authenticated && !request.csrf_verified {
                    let mut error = ServerError::new(
                        "missing or invalid X-CSRF-Token header: reload the page and try again",
                        None,
                    );
                    error.path = vec![async_graphql::PathSegment::Field(info.name.to_owned())];
                    return Err(with_code(error, "FORBIDDEN"));
                }
            }
        }
        next.run(ctx, info).await
    }
}
