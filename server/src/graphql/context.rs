//! What resolvers take from the request: state, caller, access, audit actor.

use async_graphql::Context;

use super::RequestContext;
use crate::error::Error;
use crate::services::access::Access;
use crate::services::audit::Actor;
use crate::state::SharedState;

pub struct Call<'a> {
    pub state: &'a SharedState,
    pub request: &'a RequestContext,
}

impl<'a> Call<'a> {
    pub fn of(ctx: &Context<'a>) -> async_graphql::Result<Call<'a>> {
        Ok(Call {
            state: ctx.data::<SharedState>()?,
            request: ctx.data::<RequestContext>()?,
        })
    }

    pub fn actor(&self) -> Actor {
        Actor::from_principal(&self.request.principal, self.request.address_string())
    }

    pub async fn access(&self) -> Result<Access, Error> {
        Access::load(&self.state.db, self.request.principal.clone()).await
    }

    /// The caller must be signed in (session or token).
    pub fn require_signed_in(&self) -> Result<(), Error> {
        if matches!(self.request.principal, crate::auth::Principal::Anonymous) {
            Err(Error::unauthenticated("sign in first"))
        } else {
            Ok(())
        }
    }

    /// The caller must be a user acting for their whole account: a browser session, or a
    /// personal token that nothing narrows ([`crate::auth::Principal::acts_for_account`]).
    pub fn require_account(&self) -> Result<&crate::auth::principal::UserPrincipal, Error> {
        self.require_signed_in()?;
        match self.request.principal.user() {
            Some(user) if self.request.principal.acts_for_account() => Ok(user),
            _ => Err(Error::forbidden(
                "this acts on a whole account: sign in, or use a personal token that covers \
                 all repositories with administrator permitted",
            )),
        }
    }

    pub fn require_admin(&self) -> Result<(), Error> {
        self.require_signed_in()?;
        if self.request.principal.is_admin() {
            Ok(())
        } else {
            Err(Error::forbidden("only admins may do this"))
        }
    }
}
