use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

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
                {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
                <button type="submit" disabled=busy>
                    {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </main>
    }
}
