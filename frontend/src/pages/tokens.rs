//! My personal tokens: create (coverage, roles, expiry), see the secret once, revoke.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, create_personal_token as create, my_tokens};

const ROLES: [(&str, &str); 4] = [
    ("administrator", "Administrator"),
    ("developer", "Developer"),
    ("uploader", "Uploader"),
    ("reader", "Reader"),
];

fn role_input(word: &str) -> create::RepositoryRole {
    match word {
        "administrator" => create::RepositoryRole::ADMINISTRATOR,
        "developer" => create::RepositoryRole::DEVELOPER,
        "uploader" => create::RepositoryRole::UPLOADER,
        _ => create::RepositoryRole::READER,
    }
}

fn role_word(role: &my_tokens::RepositoryRole) -> String {
    format!("{role:?}").to_lowercase()
}

/// RFC 3339 time `days` from now, from the browser's clock.
fn days_from_now(days: f64) -> String {
    let now = js_sys::Date::now();
    String::from(js_sys::Date::new(&(now + days * 86_400_000.0).into()).to_iso_string())
}

fn short_time(value: &Option<String>) -> String {
    value
        .as_deref()
        .map(|t| t.get(..16).unwrap_or(t).replace('T', " "))
        .unwrap_or_else(|| "—".into())
}

#[component]
pub fn TokensPage() -> impl IntoView {
    let (reload, set_reload) = signal(0u32);
    let data = LocalResource::new(move || {
        reload.track();
        api::run::<api::MyTokens>(my_tokens::Variables {})
    });
    let refresh = move || set_reload.update(|n| *n += 1);

    let (name, set_name) = signal(String::new());
    let (all_repositories, set_all_repositories) = signal(true);
    let (chosen_repositories, set_chosen_repositories) = signal(Vec::<String>::new());
    let (chosen_roles, set_chosen_roles) = signal(vec!["reader".to_owned()]);
    let (expiry_days, set_expiry_days) = signal(String::from("90"));
    let (error, set_error) = signal(None::<String>);
    let (new_secret, set_new_secret) = signal(None::<(String, String)>);
    let (copied, set_copied) = signal(false);

    let toggle = |list: WriteSignal<Vec<String>>, value: String| {
        list.update(|items| {
            if let Some(i) = items.iter().position(|v| *v == value) {
                items.remove(i);
            } else {
                items.push(value);
            }
        })
    };

    let on_create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_error.set(None);
        let expires_at = expiry_days
            .get_untracked()
            .parse::<f64>()
            .ok()
            .map(days_from_now);
        let input = create::CreatePersonalTokenInput {
            name: name.get_untracked(),
            repositories: (!all_repositories.get_untracked())
                .then(|| chosen_repositories.get_untracked()),
            roles: chosen_roles
                .get_untracked()
                .iter()
                .map(|r| role_input(r))
                .collect(),
            expires_at,
        };
        spawn_local(async move {
            match api::run::<api::CreatePersonalToken>(create::Variables { input }).await {
                Ok(data) => {
                    let created = data.create_personal_token;
                    set_copied.set(false);
                    set_new_secret.set(Some((created.token.name, created.secret)));
                    set_name.set(String::new());
                    refresh();
                }
                Err(err) => set_error.set(Some(err.message)),
            }
        });
    };

    let revoke = move |id: String| {
        spawn_local(async move {
            match api::run::<api::RevokeToken>(api::revoke_token::Variables { id }).await {
                Ok(_) => refresh(),
                Err(err) => set_error.set(Some(err.message)),
            }
        });
    };

    let copy = move |secret: String| {
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(&secret);
            set_copied.set(true);
        }
    };

    view! {
        <section class="page">
            <h1>"Tokens"</h1>
            <p class="muted">"Personal tokens let package managers and scripts act for you. A token's scope only narrows what you may do."</p>

            {move || new_secret.get().map(|(token_name, secret)| {
                let for_copy = secret.clone();
                view! {
                    <div class="secret-panel" role="status">
                        <p><strong>"Token " {token_name} " created."</strong> " Copy its secret now: it is shown only this once and cannot be shown again."</p>
                        <div class="secret-row">
                            <input readonly data-testid="new-token-secret" prop:value=secret.clone() />
                            <button type="button" on:click=move |_| copy(for_copy.clone())>
                                {move || if copied.get() { "Copied" } else { "Copy" }}
                            </button>
                        </div>
                        <button type="button" on:click=move |_| set_new_secret.set(None)>"Done"</button>
                    </div>
                }
            })}

            <form class="panel token-form" on:submit=on_create>
                <h2>"New token"</h2>
                <label>"Name"
                    <input name="token-name" required prop:value=name on:input=move |ev| set_name.set(event_target_value(&ev)) />
                </label>
                <fieldset>
                    <legend>"Repositories"</legend>
                    <label class="inline"><input type="radio" name="coverage" checked=move || all_repositories.get() on:change=move |_| set_all_repositories.set(true) />"All repositories"</label>
                    <label class="inline"><input type="radio" name="coverage" checked=move || !all_repositories.get() on:change=move |_| set_all_repositories.set(false) />"Only these:"</label>
                    <div class="choices">
                        <Suspense fallback=|| view! { <span class="muted">"Loading…"</span> }>
                            {move || data.get().map(|result| match result {
                                Ok(data) => data.repositories.into_iter().map(|repo| {
                                    let value = repo.name.clone();
                                    view! {
                                        <label class="inline">
                                            <input type="checkbox" disabled=move || all_repositories.get()
                                                on:change=move |_| toggle(set_chosen_repositories, value.clone()) />
                                            {repo.name}
                                        </label>
                                    }
                                }).collect_view().into_any(),
                                Err(_) => view! { <span></span> }.into_any(),
                            })}
                        </Suspense>
                    </div>
                </fieldset>
                <fieldset>
                    <legend>"Permitted roles"</legend>
                    {ROLES.iter().map(|(word, label)| {
                        let word = word.to_string();
                        let checked_word = word.clone();
                        view! {
                            <label class="inline">
                                <input type="checkbox" name=format!("role-{word}")
                                    prop:checked=move || chosen_roles.get().contains(&checked_word)
                                    on:change=move |_| toggle(set_chosen_roles, word.clone()) />
                                {*label}
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
                <label>"Expires"
                    <select on:change=move |ev| set_expiry_days.set(event_target_value(&ev))>
                        <option value="30">"in 30 days"</option>
                        <option value="90" selected>"in 90 days"</option>
                        <option value="365">"in a year"</option>
                        <option value="never">"never"</option>
                    </select>
                </label>
                {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
                <button type="submit">"Create token"</button>
            </form>

            <h2>"Your tokens"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || data.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    Ok(data) if data.my_tokens.is_empty() => view! { <p class="muted">"You have no tokens yet."</p> }.into_any(),
                    Ok(data) => view! {
                        <table class="list" data-testid="token-list">
                            <thead><tr><th>"Name"</th><th>"Repositories"</th><th>"Roles"</th><th>"Expires"</th><th>"Last used"</th><th></th></tr></thead>
                            <tbody>
                                {data.my_tokens.into_iter().map(|token| {
                                    let id = token.id.clone();
                                    let coverage = if token.all_repositories { "all".to_owned() } else { token.repositories.join(", ") };
                                    let roles = token.roles.iter().map(role_word).collect::<Vec<_>>().join(", ");
                                    let revoked = token.revoked_at.is_some();
                                    view! {
                                        <tr data-token=token.name.clone()>
                                            <td>{token.name.clone()}</td>
                                            <td>{coverage}</td>
                                            <td>{roles}</td>
                                            <td>{short_time(&token.expires_at)}</td>
                                            <td>{short_time(&token.last_used_at)}</td>
                                            <td>
                                                {if revoked {
                                                    view! { <span class="muted">"revoked"</span> }.into_any()
                                                } else {
                                                    view! { <button type="button" on:click=move |_| revoke(id.clone())>"Revoke"</button> }.into_any()
                                                }}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Suspense>
        </section>
    }
}
