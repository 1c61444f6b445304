use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::api;
use crate::session::{use_session, Session};

#[component]
pub fn LoginPage() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let (email, set_email) = signal(String::new());
    let (password, set_password) = signal(String::new());
    let (error, set_error) = signal(None::<String>);
    let (busy, set_busy) = signal(false);
    let query = use_query_map();
    let sso_error = move || {
        query
            .with(|q| q.get("sso_error"))
            .map(|code| sso_message(&code).to_owned())
    };
    let methods =
        LocalResource::new(|| api::run::<api::SignInMethods>(api::sign_in_methods::Variables {}));

    let go_home = navigate.clone();
    Effect::new(move |_| {
        if matches!(session.get(), Session::SignedIn(_)) {
            go_home("/", Default::default());
        }
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_busy.set(true);
        set_error.set(None);
        let variables = api::login::Variables {
            email: email.get_untracked(),
            password: password.get_untracked(),
        };
        spawn_local(async move {
            match api::run::<api::Login>(variables).await {
                Ok(data) => {
                    set_password.set(String::new());
                    session.set(Session::SignedIn(data.login.user.into()));
                }
                Err(err) => set_error.set(Some(err.message)),
            }
            set_busy.set(false);
        });
    };

    view! {
        <main class="login">
            <form class="card" on:submit=on_submit>
                <h1>"Sign in to Packistry"</h1>
                <label>
                    "E-mail"
                    <input type="email" name="email" autocomplete="username" required
                        prop:value=email on:input=move |ev| set_email.set(event_target_value(&ev)) />
                </label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required
                        prop:value=password on:input=move |ev| set_password.set(event_target_value(&ev)) />
                </label>
                {move || error.get().or_else(sso_error).map(|message| view! { <p class="error" role="alert" data-testid="sign-in-error">{message}</p> })}
                <button type="submit" disabled=busy>
                    {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
                <Suspense fallback=|| ()>
                    {move || methods.get().and_then(Result::ok).filter(|data| !data.sign_in_methods.is_empty()).map(|data| view! {
                        <div class="sso" data-testid="sign-in-methods">
                            <p class="muted">"or"</p>
                            {data.sign_in_methods.into_iter().map(|method| view! {
                                // rel=external: a full page load, not a route inside the app.
                                <a class="button sso-button" rel="external" href=method.start_url data-source=method.name>
                                    "Sign in with " {method.label}
                                </a>
                            }).collect_view()}
                        </div>
                    })}
                </Suspense>
            </form>
        </main>
    }
}

/// What the sign-in page says when single sign-on sent the browser back (`?sso_error=`).
fn sso_message(code: &str) -> &'static str {
    match code {
        "cancelled" => "Sign-in was cancelled at the provider. Try again if you meant to sign in.",
        "invalid_state" => "This sign-in link is not valid or was already used. Please start again.",
        "expired" => "The sign-in took too long. Please start again.",
        "other_browser" => "This sign-in was started in another browser. Please start again here.",
        "unknown_source" => "There is no such sign-in method.",
        "inactive" => "Signing in this way is turned off. Use another way, or ask an administrator.",
        "unreachable" => "The sign-in provider could not be reached. Try again later.",
        "provider_error" => "The provider's answer could not be verified. Try again, or ask an administrator.",
        "unverified_email" => "Your account at the provider has no verified e-mail address. Verify one there, then try again.",
        "domain_not_allowed" => "Accounts with your e-mail domain may not sign in here.",
        "registration_closed" => "There is no Packistry account for your e-mail address, and this sign-in method does not create accounts. Ask an administrator.",
        "email_taken" => "A Packistry account with your e-mail address already exists and is not linked to this sign-in method. Sign in with your password, or ask an administrator to link it.",
        "deactivated" => "Your Packistry account is deactivated. Ask an administrator.",
        _ => "Sign-in failed because of a server error. Try again later.",
    }
}
