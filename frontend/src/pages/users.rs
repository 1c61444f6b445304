//! Users (admins): search, create, change global role, deactivate and reactivate.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, create_user, set_global_role, set_user_active, users};

fn role_word(role: &users::GlobalRole) -> String {
    format!("{role:?}").to_lowercase()
}

fn role_for_create(word: &str) -> create_user::GlobalRole {
    match word {
        "admin" => create_user::GlobalRole::ADMIN,
        "developer" => create_user::GlobalRole::DEVELOPER,
        _ => create_user::GlobalRole::USER,
    }
}

fn role_for_change(word: &str) -> set_global_role::GlobalRole {
    match word {
        "admin" => set_global_role::GlobalRole::ADMIN,
        "developer" => set_global_role::GlobalRole::DEVELOPER,
        _ => set_global_role::GlobalRole::USER,
    }
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let (search, set_search) = signal(String::new());
    let (reload, set_reload) = signal(0u32);
    let data = LocalResource::new(move || {
        reload.track();
        let search = search.get();
        api::run::<api::Users>(users::Variables {
            search: (!search.is_empty()).then_some(search),
        })
    });
    let refresh = move || set_reload.update(|n| *n += 1);
    let (error, set_error) = signal(None::<String>);
    let (email, set_email) = signal(String::new());
    let (display_name, set_display_name) = signal(String::new());
    let (role, set_role) = signal(String::from("user"));
    let (password, set_password) = signal(String::new());

    let on_create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_error.set(None);
        let name = display_name.get_untracked();
        let input = create_user::CreateUserInput {
            email: email.get_untracked(),
            display_name: (!name.trim().is_empty()).then_some(name),
            global_role: role_for_create(&role.get_untracked()),
            password: Some(password.get_untracked()),
        };
        spawn_local(async move {
            match api::run::<api::CreateUser>(create_user::Variables { input }).await {
                Ok(_) => {
                    set_email.set(String::new());
                    set_display_name.set(String::new());
                    set_password.set(String::new());
                    refresh();
                }
                Err(err) => set_error.set(Some(err.message)),
            }
        });
    };

    let change_role = move |email: String, word: String| {
        let variables = set_global_role::Variables {
            email,
            role: role_for_change(&word),
        };
        spawn_local(async move {
            if let Err(err) = api::run::<api::SetGlobalRole>(variables).await {
                set_error.set(Some(err.message));
            }
            refresh();
        });
    };

    let set_active = move |email: String, active: bool| {
        spawn_local(async move {
            if let Err(err) =
                api::run::<api::SetUserActive>(set_user_active::Variables { email, active }).await
            {
                set_error.set(Some(err.message));
            }
            refresh();
        });
    };

    view! {
        <section class="page">
            <h1>"Users"</h1>
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || data.get().map(|result| match result {
                    Err(err) if err.code.as_deref() == Some("FORBIDDEN") => view! {
                        <p class="muted">"Only admins manage users."</p>
                    }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    Ok(data) => view! {
                        <input class="search" type="search" placeholder="Search e-mail or name" aria-label="Search users"
                            prop:value=search on:change=move |ev| set_search.set(event_target_value(&ev)) />
                        <table class="list" data-testid="user-list">
                            <thead><tr><th>"E-mail"</th><th>"Name"</th><th>"Global role"</th><th>"Status"</th><th></th></tr></thead>
                            <tbody>
                                {data.users.edges.into_iter().map(|edge| {
                                    let user = edge.node;
                                    let current = role_word(&user.global_role);
                                    let (for_role, for_active) = (user.email.clone(), user.email.clone());
                                    let active = user.active;
                                    view! {
                                        <tr data-user=user.email.clone()>
                                            <td>{user.email.clone()}</td>
                                            <td>{user.display_name.clone()}</td>
                                            <td>
                                                <select aria-label="Global role" on:change=move |ev| change_role(for_role.clone(), event_target_value(&ev))>
                                                    {["admin", "developer", "user"].into_iter().map(|r| view! {
                                                        <option value=r selected=current == r>{r}</option>
                                                    }).collect_view()}
                                                </select>
                                            </td>
                                            <td>{if active { "active" } else { "deactivated" }}</td>
                                            <td>
                                                <button type="button" on:click=move |_| set_active(for_active.clone(), !active)>
                                                    {if active { "Deactivate" } else { "Reactivate" }}
                                                </button>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        <form class="panel" on:submit=on_create>
                            <h2>"New user"</h2>
                            <label>"E-mail"<input type="email" name="new-user-email" required prop:value=email on:input=move |ev| set_email.set(event_target_value(&ev)) /></label>
                            <label>"Display name"<input name="new-user-name" prop:value=display_name on:input=move |ev| set_display_name.set(event_target_value(&ev)) /></label>
                            <label>"Global role"
                                <select name="new-user-role" on:change=move |ev| set_role.set(event_target_value(&ev))>
                                    <option value="user" selected>"user: only what grants give"</option>
                                    <option value="developer">"developer: may create repositories and groups"</option>
                                    <option value="admin">"admin: everything"</option>
                                </select>
                            </label>
                            <label>"Password"<input type="password" name="new-user-password" autocomplete="new-password" required minlength="8" prop:value=password on:input=move |ev| set_password.set(event_target_value(&ev)) /></label>
                            <button type="submit">"Create user"</button>
                        </form>
                    }.into_any(),
                })}
            </Suspense>
        </section>
    }
}
