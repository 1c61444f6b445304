//! A repository's deploy tokens (its administrators): create, see the secret once, revoke.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, create_deploy_token as create, deploy_tokens};

fn role_input(word: &str) -> create::RepositoryRole {
    match word {
        "administrator" => create::RepositoryRole::ADMINISTRATOR,
        "developer" => create::RepositoryRole::DEVELOPER,
        "uploader" => create::RepositoryRole::UPLOADER,
        _ => create::RepositoryRole::READER,
    }
}

#[component]
pub fn DeployTokens(repository: String) -> impl IntoView {
    let (reload, set_reload) = signal(0u32);
    let repo_for_list = repository.clone();
    let data = LocalResource::new(move || {
        reload.track();
        let repository = repo_for_list.clone();
        api::run::<api::DeployTokens>(deploy_tokens::Variables { repository })
    });
    let refresh = move || set_reload.update(|n| *n += 1);
    let (name, set_name) = signal(String::new());
    let (role, set_role) = signal(String::from("reader"));
    let (packages, set_packages) = signal(String::new());
    let (error, set_error) = signal(None::<String>);
    let (secret, set_secret) = signal(None::<String>);

    let on_create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_error.set(None);
        let input = create::CreateDeployTokenInput {
            name: name.get_untracked(),
            repositories: vec![repository.clone()],
            packages: packages
                .get_untracked()
                .split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
            roles: vec![role_input(&role.get_untracked())],
            expires_at: None,
        };
        spawn_local(async move {
            match api::run::<api::CreateDeployToken>(create::Variables { input }).await {
                Ok(data) => {
                    set_secret.set(Some(data.create_deploy_token.secret));
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

    view! {
        <h2>"Deploy tokens"</h2>
        <p class="muted">"Deploy tokens belong to this repository, not to a person: they keep working when their creator leaves."</p>
        {move || secret.get().map(|value| view! {
            <div class="secret-panel" role="status">
                <p>"Copy the deploy token now: it is shown only this once."</p>
                <div class="secret-row"><input readonly data-testid="new-deploy-secret" prop:value=value /></div>
                <button type="button" on:click=move |_| set_secret.set(None)>"Done"</button>
            </div>
        })}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || data.get().map(|result| match result {
                Err(err) => view! { <p class="error">{err.message}</p> }.into_any(),
                Ok(data) => view! {
                    <table class="list" data-testid="deploy-token-list">
                        <thead><tr><th>"Name"</th><th>"Roles"</th><th>"Last used"</th><th></th></tr></thead>
                        <tbody>
                            {data.deploy_tokens.into_iter().map(|token| {
                                let id = token.id.clone();
                                let revoked = token.revoked_at.is_some();
                                view! {
                                    <tr data-deploy-token=token.name.clone()>
                                        <td>{token.name.clone()}</td>
                                        <td>{token.roles.iter().map(|r| format!("{r:?}").to_lowercase()).collect::<Vec<_>>().join(", ")}</td>
                                        <td>{token.last_used_at.clone().unwrap_or_else(|| "—".into())}</td>
                                        <td>{if revoked {
                                            view! { <span class="muted">"revoked"</span> }.into_any()
                                        } else {
                                            view! { <button type="button" on:click=move |_| revoke(id.clone())>"Revoke"</button> }.into_any()
                                        }}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            })}
        </Suspense>
        <form class="panel" on:submit=on_create>
            <h2>"New deploy token"</h2>
            <label>"Name"<input name="deploy-token-name" required prop:value=name on:input=move |ev| set_name.set(event_target_value(&ev)) /></label>
            <label>"Role"
                <select name="deploy-token-role" on:change=move |ev| set_role.set(event_target_value(&ev))>
                    <option value="reader">"reader"</option>
                    <option value="uploader">"uploader"</option>
                    <option value="developer">"developer"</option>
                    <option value="administrator">"administrator"</option>
                </select>
            </label>
            <label>"Only these packages (comma-separated, optional)"<input name="deploy-token-packages" prop:value=packages on:input=move |ev| set_packages.set(event_target_value(&ev)) /></label>
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <button type="submit">"Create deploy token"</button>
        </form>
    }
}
