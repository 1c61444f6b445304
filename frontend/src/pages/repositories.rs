//! Repositories: the list, creating one, and a repository's grants editor.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;

use crate::api::update_repository;
use crate::api::{
    self, create_repository as create, grant_role, repositories as list, repository_grants,
    revoke_role,
};
use crate::pages::deploy_tokens::DeployTokens;
use crate::pages::packages::{
    ComposerSetup, ContainerSetup, MavenSetup, PackageList, UploadPackage,
};
use crate::session::{use_session, Session};

fn word(value: impl std::fmt::Debug) -> String {
    format!("{value:?}").to_lowercase().replace('_', " ")
}

fn may_create(session: &Session) -> bool {
    matches!(session, Session::SignedIn(user) if user.global_role == "admin" || user.global_role == "developer")
}

fn format_input(value: &str) -> create::Format {
    match value {
        "maven" => create::Format::MAVEN,
        "container" => create::Format::CONTAINER,
        "npm" => create::Format::NPM,
        "cargo" => create::Format::CARGO,
        "pypi" => create::Format::PYPI,
        _ => create::Format::COMPOSER,
    }
}

#[component]
pub fn RepositoriesPage() -> impl IntoView {
    let session = use_session();
    let (reload, set_reload) = signal(0u32);
    let data = LocalResource::new(move || {
        reload.track();
        api::run::<api::Repositories>(list::Variables {})
    });
    let (name, set_name) = signal(String::new());
    let (format, set_format) = signal(String::from("composer"));
    let (public, set_public) = signal(false);
    let (error, set_error) = signal(None::<String>);

    let on_create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_error.set(None);
        let input = create::CreateRepositoryInput {
            name: name.get_untracked(),
            format: format_input(&format.get_untracked()),
            visibility: Some(if public.get_untracked() {
                create::Visibility::PUBLIC
            } else {
                create::Visibility::PRIVATE
            }),
            description: None,
        };
        spawn_local(async move {
            match api::run::<api::CreateRepository>(create::Variables { input }).await {
                Ok(_) => {
                    set_name.set(String::new());
                    set_reload.update(|n| *n += 1);
                }
                Err(err) => set_error.set(Some(err.message)),
            }
        });
    };

    view! {
        <section class="page">
            <h1>"Repositories"</h1>
            <Show when=move || may_create(&session.get())>
                <form class="panel" on:submit=on_create>
                    <h2>"New repository"</h2>
                    <label>"Name"
                        <input name="repository-name" required placeholder="acme-libs" prop:value=name on:input=move |ev| set_name.set(event_target_value(&ev)) />
                    </label>
                    <label>"Format"
                        <select name="repository-format" on:change=move |ev| set_format.set(event_target_value(&ev))>
                            {["composer", "maven", "container", "npm", "cargo", "pypi"].into_iter().map(|f| view! { <option value=f>{f}</option> }).collect_view()}
                        </select>
                    </label>
                    <label class="inline"><input type="checkbox" name="repository-public" on:change=move |ev| set_public.set(event_target_checked(&ev)) />"Public: anyone may download and list"</label>
                    {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
                    <button type="submit">"Create repository"</button>
                </form>
            </Show>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || data.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    Ok(data) if data.repositories.is_empty() => view! { <p class="muted">"No repositories you can see yet."</p> }.into_any(),
                    Ok(data) => view! {
                        <table class="list" data-testid="repository-list">
                            <thead><tr><th>"Name"</th><th>"Format"</th><th>"Visibility"</th><th>"Your role"</th><th>"You may"</th></tr></thead>
                            <tbody>
                                {data.repositories.into_iter().map(|repo| view! {
                                    <tr data-repository=repo.name.clone()>
                                        <td><a href=format!("/repositories/{}", repo.name)>{repo.name.clone()}</a></td>
                                        <td>{word(&repo.format)}</td>
                                        <td>{word(&repo.visibility)}</td>
                                        <td>{repo.my_role.as_ref().map(word).unwrap_or_else(|| "—".into())}</td>
                                        <td>{repo.permissions.iter().map(word).collect::<Vec<_>>().join(", ")}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

fn role_input(value: &str) -> grant_role::RepositoryRole {
    match value {
        "administrator" => grant_role::RepositoryRole::ADMINISTRATOR,
        "developer" => grant_role::RepositoryRole::DEVELOPER,
        "uploader" => grant_role::RepositoryRole::UPLOADER,
        _ => grant_role::RepositoryRole::READER,
    }
}

/// One repository: what the caller may do, and (for those who may) its grants.
#[component]
pub fn RepositoryPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let (reload, set_reload) = signal(0u32);
    let (packages_reload, set_packages_reload) = signal(0u32);
    let repository = LocalResource::new(move || {
        let name = name();
        async move {
            let data = api::run::<api::Repositories>(list::Variables {}).await?;
            data.repositories
                .into_iter()
                .find(|r| r.name == name)
                .ok_or(api::ApiError {
                    message: format!("no repository named {name}"),
                    code: Some("NOT_FOUND".into()),
                })
        }
    });
    let grants = LocalResource::new(move || {
        reload.track();
        let repository = name();
        api::run::<api::RepositoryGrants>(repository_grants::Variables { repository })
    });
    let (kind, set_kind) = signal(String::from("user"));
    let (grantee, set_grantee) = signal(String::new());
    let (role, set_role) = signal(String::from("reader"));
    let (error, set_error) = signal(None::<String>);

    let on_grant = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_error.set(None);
        let who = grantee.get_untracked();
        let grantee_input = if kind.get_untracked() == "group" {
            grant_role::GranteeInput {
                user_email: None,
                group_name: Some(who),
            }
        } else {
            grant_role::GranteeInput {
                user_email: Some(who),
                group_name: None,
            }
        };
        let variables = grant_role::Variables {
            repository: name(),
            grantee: grantee_input,
            role: role_input(&role.get_untracked()),
        };
        spawn_local(async move {
            match api::run::<api::GrantRole>(variables).await {
                Ok(_) => {
                    set_grantee.set(String::new());
                    set_reload.update(|n| *n += 1);
                }
                Err(err) => set_error.set(Some(err.message)),
            }
        });
    };

    let revoke = move |user_email: Option<String>, group_name: Option<String>| {
        let variables = revoke_role::Variables {
            repository: name(),
            grantee: revoke_role::GranteeInput {
                user_email,
                group_name,
            },
        };
        spawn_local(async move {
            match api::run::<api::RevokeRole>(variables).await {
                Ok(_) => set_reload.update(|n| *n += 1),
                Err(err) => set_error.set(Some(err.message)),
            }
        });
    };

    view! {
        <section class="page">
            <p><a href="/repositories">"← Repositories"</a></p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || repository.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    Ok(repo) => {
                        let administer = repo.permissions.contains(&list::Permission::ADMINISTER);
                        let view_grants = repo.permissions.contains(&list::Permission::VIEW_GRANTS);
                        let may_list = repo.permissions.contains(&list::Permission::LIST);
                        let may_upload = repo.permissions.contains(&list::Permission::UPLOAD);
                        let composer = repo.format == list::Format::COMPOSER;
                        let maven = repo.format == list::Format::MAVEN;
                        let maven_name = repo.name.clone();
                        let container = repo.format == list::Format::CONTAINER;
                        let container_name = repo.name.clone();
                        let retention_name = repo.name.clone();
                        let retention = repo.snapshot_retention;
                        let repo_name = repo.name.clone();
                        let upload_name = repo.name.clone();
                        let list_name = repo.name.clone();
                        view! {
                            <h1>{repo.name.clone()}</h1>
                            <p class="muted">{word(&repo.format)} " · " {word(&repo.visibility)} " · you may " {repo.permissions.iter().map(word).collect::<Vec<_>>().join(", ")}</p>
                            <Show when=move || composer>
                                <ComposerSetup repository=repo_name.clone() />
                            </Show>
                            <Show when=move || maven>
                                <MavenSetup repository=maven_name.clone() />
                            </Show>
                            <Show when=move || container>
                                <ContainerSetup repository=container_name.clone() />
                            </Show>
                            <Show when=move || maven && administer>
                                <SnapshotRetention repository=retention_name.clone() current=retention />
                            </Show>
                            <Show when=move || composer && may_upload>
                                <UploadPackage repository=upload_name.clone() on_done=Callback::new(move |()| set_packages_reload.update(|n| *n += 1)) />
                            </Show>
                            <Show when=move || may_list>
                                <PackageList repository=list_name.clone() reload=packages_reload />
                            </Show>
                            <Show when=move || view_grants>
                                <h2>"Grants"</h2>
                                <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                                    {move || grants.get().map(|result| match result {
                                        Err(err) => view! { <p class="error">{err.message}</p> }.into_any(),
                                        Ok(data) => view! {
                                            <table class="list" data-testid="grant-list">
                                                <thead><tr><th>"Who"</th><th>"Role"</th><th></th></tr></thead>
                                                <tbody>
                                                    {data.grants.into_iter().map(|grant| {
                                                        let email = grant.user.as_ref().map(|u| u.email.clone());
                                                        let group = grant.group.as_ref().map(|g| g.name.clone());
                                                        let label = match (&email, &group) {
                                                            (Some(e), _) => e.clone(),
                                                            (None, Some(g)) => format!("group {g}"),
                                                            _ => "—".into(),
                                                        };
                                                        view! {
                                                            <tr data-grantee=label.clone()>
                                                                <td>{label.clone()}</td>
                                                                <td>{word(&grant.role)}</td>
                                                                <td>
                                                                    <Show when=move || administer>
                                                                        {
                                                                            let (email, group) = (email.clone(), group.clone());
                                                                            view! { <button type="button" on:click=move |_| revoke(email.clone(), group.clone())>"Revoke"</button> }
                                                                        }
                                                                    </Show>
                                                                </td>
                                                            </tr>
                                                        }
                                                    }).collect_view()}
                                                </tbody>
                                            </table>
                                        }.into_any(),
                                    })}
                                </Suspense>
                            </Show>
                            <Show when=move || administer>
                                <form class="panel" on:submit=on_grant>
                                    <h2>"Grant a role"</h2>
                                    <label>"To"
                                        <select name="grantee-kind" on:change=move |ev| set_kind.set(event_target_value(&ev))>
                                            <option value="user">"a user (e-mail)"</option>
                                            <option value="group">"a group (name)"</option>
                                        </select>
                                    </label>
                                    <input name="grantee" required placeholder="someone@example.com" prop:value=grantee on:input=move |ev| set_grantee.set(event_target_value(&ev)) />
                                    <label>"Role"
                                        <select name="grant-role" on:change=move |ev| set_role.set(event_target_value(&ev))>
                                            <option value="reader">"reader: download"</option>
                                            <option value="uploader">"uploader: also upload"</option>
                                            <option value="developer">"developer: also list and view grants"</option>
                                            <option value="administrator">"administrator: everything"</option>
                                        </select>
                                    </label>
                                    {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
                                    <button type="submit">"Grant"</button>
                                </form>
                                <DeployTokens repository=repo.name.clone() />
                            </Show>
                        }.into_any()
                    }
                })}
            </Suspense>
        </section>
    }
}

/// A Maven repository's SNAPSHOT retention (administrators).
#[component]
fn SnapshotRetention(repository: String, current: Option<i64>) -> impl IntoView {
    let (keep, set_keep) = signal(current.map(|n| n.to_string()).unwrap_or_default());
    let (message, set_message) = signal(None::<Result<String, String>>);
    let on_save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = keep.get_untracked();
        let value = text.trim();
        let retention = if value.is_empty() {
            None
        } else {
            match value.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    set_message.set(Some(Err(
                        "give a number of builds, or leave it empty to keep all".into(),
                    )));
                    return;
                }
            }
        };
        let variables = update_repository::Variables {
            input: update_repository::UpdateRepositoryInput {
                name: repository.clone(),
                description: None,
                visibility: None,
                snapshot_retention: retention,
                allow_deletes: None,
            },
        };
        spawn_local(async move {
            match api::run::<api::UpdateRepository>(variables).await {
                Ok(data) => {
                    set_message.set(Some(Ok(match data.update_repository.snapshot_retention {
                        Some(n) => format!("keeping the last {n} builds of each SNAPSHOT"),
                        None => "keeping every SNAPSHOT build".into(),
                    })))
                }
                Err(err) => set_message.set(Some(Err(err.message))),
            }
        });
    };
    view! {
        <form class="panel" on:submit=on_save>
            <h2>"SNAPSHOT retention"</h2>
            <label>"Builds to keep per SNAPSHOT version (empty: all)"
                <input name="snapshot-retention" inputmode="numeric" prop:value=keep on:input=move |ev| set_keep.set(event_target_value(&ev)) />
            </label>
            {move || message.get().map(|m| match m {
                Ok(text) => view! { <p class="ok" role="status">{text}</p> }.into_any(),
                Err(text) => view! { <p class="error" role="alert">{text}</p> }.into_any(),
            })}
            <button type="submit">"Save"</button>
        </form>
    }
}
