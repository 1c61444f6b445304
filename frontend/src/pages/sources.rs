//! Sources (admins): Git hosts Composer packages are imported from, importing a project into
//! a repository, and the import view: each imported package's latest job with a progress bar
//! that follows it while it runs, the result of every tag and branch, and a rebuild button.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{
    self, add_source_package, create_source, imported_packages, rebuild_package, source_projects,
    sources, test_source,
};
use crate::pages::packages::Snippet;

const PROVIDERS: &[(&str, &str)] = &[
    ("git", "Any Git URL"),
    ("github", "GitHub"),
    ("gitlab", "GitLab"),
    ("gitea", "Gitea"),
    ("bitbucket", "Bitbucket"),
];

fn provider_input(word: &str) -> create_source::SourceProvider {
    match word {
        "github" => create_source::SourceProvider::GITHUB,
        "gitlab" => create_source::SourceProvider::GITLAB,
        "gitea" => create_source::SourceProvider::GITEA,
        "bitbucket" => create_source::SourceProvider::BITBUCKET,
        _ => create_source::SourceProvider::GIT,
    }
}

fn word(value: impl std::fmt::Debug) -> String {
    format!("{value:?}").to_lowercase()
}

fn optional(text: String) -> Option<String> {
    let text = text.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

#[component]
pub fn SourcesPage() -> impl IntoView {
    let (reload, set_reload) = signal(0u32);
    let data = LocalResource::new(move || {
        reload.track();
        api::run::<api::Sources>(sources::Variables {})
    });
    let (error, set_error) = signal(None::<String>);

    let (name, set_name) = signal(String::new());
    let (provider, set_provider) = signal(String::from("git"));
    let (base_url, set_base_url) = signal(String::new());
    let (token, set_token) = signal(String::new());
    let on_create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_error.set(None);
        let input = create_source::CreateSourceInput {
            name: name.get_untracked().trim().to_owned(),
            provider: provider_input(&provider.get_untracked()),
            base_url: optional(base_url.get_untracked()),
            token: optional(token.get_untracked()),
        };
        spawn_local(async move {
            match api::run::<api::CreateSource>(create_source::Variables { input }).await {
                Ok(_) => {
                    set_name.set(String::new());
                    set_token.set(String::new());
                    set_reload.update(|n| *n += 1);
                }
                Err(err) => set_error.set(Some(err.message)),
            }
        });
    };

    // "Test connection": the answer per source.
    let (tested, set_tested) = signal(Vec::<(String, bool, String)>::new());
    let test = move |name: String| {
        spawn_local(async move {
            let answer = api::run::<api::TestSource>(test_source::Variables { name: name.clone() })
                .await
                .map(|d| (d.test_source.ok, d.test_source.message))
                .unwrap_or_else(|err| (false, err.message));
            set_tested.update(|all| {
                all.retain(|(n, _, _)| *n != name);
                all.push((name, answer.0, answer.1));
            });
        });
    };

    // Browsing a source's projects: the pages read so far, the next cursor, the selection.
    let (browsing, set_browsing) = signal(None::<String>);
    let (search, set_search) = signal(String::new());
    let (found, set_found) =
        signal(Vec::<source_projects::SourceProjectsSourceProjectsProjects>::new());
    let (next, set_next) = signal(None::<String>);
    let (selected, set_selected) = signal(Vec::<String>::new());
    let load_projects = move |name: String, after: Option<String>| {
        let search = optional(search.get_untracked());
        spawn_local(async move {
            match api::run::<api::SourceProjects>(source_projects::Variables {
                name,
                search,
                after: after.clone(),
            })
            .await
            {
                Ok(data) => {
                    let page = data.source_projects;
                    set_found.update(|all| {
                        if after.is_none() {
                            all.clear();
                        }
                        all.extend(page.projects);
                    });
                    set_next.set(page.next);
                }
                Err(err) => set_error.set(Some(err.message)),
            }
        });
    };
    let browse = move |name: String| {
        set_browsing.set(Some(name.clone()));
        set_selected.set(Vec::new());
        load_projects(name, None);
    };

    // The import view follows one repository.
    let (repository, set_repository) = signal(String::new());
    let (poll, set_poll) = signal(0u32);
    let imported = LocalResource::new(move || {
        poll.track();
        let repository = repository.get();
        async move {
            if repository.is_empty() {
                return Ok(None);
            }
            api::run::<api::ImportedPackages>(imported_packages::Variables { repository })
                .await
                .map(Some)
        }
    });
    // While a job is queued or running, ask again every second.
    let busy = move || {
        imported.get().is_some_and(|result| {
            result.ok().flatten().is_some_and(|data| {
                data.imported_packages.iter().any(|p| {
                    p.jobs.first().is_some_and(|j| {
                        matches!(
                            j.status,
                            imported_packages::JobStatus::QUEUED
                                | imported_packages::JobStatus::RUNNING
                        )
                    })
                })
            })
        })
    };
    Effect::new(move |_| {
        if busy() {
            set_timeout(
                move || set_poll.update(|n| *n += 1),
                std::time::Duration::from_secs(1),
            );
        }
    });

    let (source, set_source) = signal(String::new());
    let (project, set_project) = signal(String::new());
    let (subdirectory, set_subdirectory) = signal(String::new());
    // What became of the webhook of the project added last.
    let (note, set_note) = signal(None::<String>);
    let on_import = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_error.set(None);
        let input = add_source_package::AddSourcePackageInput {
            source: source.get_untracked(),
            repository: repository.get_untracked().trim().to_owned(),
            project: project.get_untracked().trim().to_owned(),
            subdirectory: optional(subdirectory.get_untracked()),
        };
        spawn_local(async move {
            match api::run::<api::AddSourcePackage>(add_source_package::Variables { input }).await {
                Ok(data) => {
                    set_project.set(String::new());
                    set_subdirectory.set(String::new());
                    set_note.set(Some(data.add_source_package.webhook));
                    set_poll.update(|n| *n += 1);
                }
                Err(err) => set_error.set(Some(err.message)),
            }
        });
    };
    let add_selected = move |_| {
        let Some(source) = browsing.get_untracked() else {
            return;
        };
        let repository = repository.get_untracked().trim().to_owned();
        if repository.is_empty() {
            set_error.set(Some(
                "Name the repository to import into first (under Imports).".into(),
            ));
            return;
        }
        let projects = selected.get_untracked();
        // The import form's subdirectory applies to every selected project (monorepos).
        let subdirectory = optional(subdirectory.get_untracked());
        spawn_local(async move {
            let mut notes = Vec::new();
            for project in projects {
                let input = add_source_package::AddSourcePackageInput {
                    source: source.clone(),
                    repository: repository.clone(),
                    project: project.clone(),
                    subdirectory: subdirectory.clone(),
                };
                match api::run::<api::AddSourcePackage>(add_source_package::Variables { input })
                    .await
                {
                    Ok(data) => {
                        notes.push(format!("{project}: {}", data.add_source_package.webhook))
                    }
                    Err(err) => notes.push(format!("{project}: {}", err.message)),
                }
            }
            set_selected.set(Vec::new());
            set_note.set(Some(notes.join("; ")));
            set_poll.update(|n| *n += 1);
        });
    };
    let rebuild = move |package: String| {
        let repository = repository.get_untracked();
        spawn_local(async move {
            match api::run::<api::RebuildPackage>(rebuild_package::Variables {
                repository,
                package,
            })
            .await
            {
                Ok(_) => set_poll.update(|n| *n += 1),
                Err(err) => set_error.set(Some(err.message)),
            }
        });
    };

    view! {
        <section class="page">
            <h1>"Sources"</h1>
            <p class="muted">"Git hosts Composer packages are imported from: every tag that is a version, and every branch (dev-…). A webhook keeps them current."</p>
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || data.get().map(|result| match result {
                    Err(err) if err.code.as_deref() == Some("FORBIDDEN") => view! {
                        <p class="muted">"Only admins manage sources."</p>
                    }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    Ok(data) => {
                        if source.get_untracked().is_empty() {
                            if let Some(first) = data.sources.first() {
                                set_source.set(first.name.clone());
                            }
                        }
                        view! {
                            <table class="list" data-testid="source-list">
                                <thead><tr><th>"Name"</th><th>"Provider"</th><th>"Webhook"</th></tr></thead>
                                <tbody>
                                    {data.sources.into_iter().map(|s| view! {
                                        <tr data-source=s.name.clone()>
                                            <td><strong>{s.name.clone()}</strong>
                                                <div class="muted">{s.base_url.clone().unwrap_or_default()}</div>
                                                <div class="muted">{if s.has_token { "access token stored" } else { "no access token" }}</div>
                                            </td>
                                            <td>{word(&s.provider)}
                                                <div class="row-actions">
                                                    <button type="button" on:click={ let n = s.name.clone(); move |_| test(n.clone()) }>"Test connection"</button>
                                                    {(word(&s.provider) != "git").then(|| {
                                                        let n = s.name.clone();
                                                        view! { <button type="button" on:click=move |_| browse(n.clone())>"Browse projects"</button> }
                                                    })}
                                                </div>
                                                {
                                                    let n = s.name.clone();
                                                    move || tested.get().into_iter().find(|(name, _, _)| *name == n).map(|(_, ok, message)| view! {
                                                        <p class=if ok { "muted" } else { "error" } data-testid="connection">{message}</p>
                                                    })
                                                }
                                            </td>
                                            <td>
                                                <Snippet title="Webhook URL" testid="webhook-url" text=s.webhook_url.clone() />
                                                <Snippet title="Webhook secret" testid="webhook-secret" text=s.webhook_secret.clone() />
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }
                })}
            </Suspense>
            <form class="panel" on:submit=on_create data-testid="source-form">
                <h2>"New source"</h2>
                <label>"Name (in the webhook URL)"<input name="source-name" required prop:value=name on:input=move |ev| set_name.set(event_target_value(&ev)) /></label>
                <label>"Provider"
                    <select name="source-provider" on:change=move |ev| set_provider.set(event_target_value(&ev))>
                        {PROVIDERS.iter().map(|(value, label)| view! { <option value=*value>{*label}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Base URL (self-hosted GitLab, Gitea, GitHub Enterprise)"<input name="source-base-url" prop:value=base_url on:input=move |ev| set_base_url.set(event_target_value(&ev)) /></label>
                <label>"Access token (stored encrypted, never shown again)"<input type="password" name="source-token" autocomplete="off" prop:value=token on:input=move |ev| set_token.set(event_target_value(&ev)) /></label>
                <button type="submit">"Create source"</button>
            </form>

            {move || browsing.get().map(|name| view! {
                <div class="panel" data-testid="projects">
                    <h2>"Projects at " {name.clone()}</h2>
                    <div class="row-actions">
                        <input class="search" type="search" placeholder="Search by name" aria-label="Search projects"
                            prop:value=search on:input=move |ev| set_search.set(event_target_value(&ev)) />
                        <button type="button" on:click={ let n = name.clone(); move |_| load_projects(n.clone(), None) }>"Search"</button>
                    </div>
                    <ul class="projects">
                        {move || found.get().into_iter().map(|p| {
                            let path = p.path.clone();
                            let checked = { let path = path.clone(); move || selected.get().contains(&path) };
                            let toggle = { let path = path.clone(); move |ev| {
                                let on = event_target_checked(&ev);
                                set_selected.update(|all| { all.retain(|x| *x != path); if on { all.push(path.clone()); } });
                            } };
                            view! {
                                <li data-project=path.clone()>
                                    <label class="check"><input type="checkbox" prop:checked=checked on:change=toggle />
                                        {path.clone()} {p.archived.then_some(" (archived)")} {p.private.then_some(" · private")}</label>
                                    <span class="muted">{p.description.clone()}</span>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                    {move || next.get().map(|cursor| {
                        let n = name.clone();
                        view! { <button type="button" on:click=move |_| load_projects(n.clone(), Some(cursor.clone()))>"More"</button> }
                    })}
                    <button type="button" on:click=add_selected disabled=move || selected.get().is_empty()>
                        {move || format!("Add {} selected to the repository", selected.get().len())}
                    </button>
                </div>
            })}

            <h2>"Imports"</h2>
            <form class="panel" on:submit=on_import data-testid="import-form">
                <label>"Repository (Composer)"<input name="import-repository" required prop:value=repository on:change=move |ev| set_repository.set(event_target_value(&ev)) /></label>
                <label>"Source"<input name="import-source" required prop:value=source on:input=move |ev| set_source.set(event_target_value(&ev)) /></label>
                <label>"Project (clone URL for \"Any Git URL\", else owner/name)"<input name="import-project" required prop:value=project on:input=move |ev| set_project.set(event_target_value(&ev)) /></label>
                <label>"Subdirectory holding composer.json (monorepos)"<input name="import-subdirectory" prop:value=subdirectory on:input=move |ev| set_subdirectory.set(event_target_value(&ev)) /></label>
                <button type="submit">"Import"</button>
                {move || note.get().map(|n| view! { <p class="muted" data-testid="webhook-note">{n}</p> })}
            </form>
            <Suspense fallback=|| ()>
                {move || imported.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    Ok(None) => view! { <p class="muted">"Name a repository to see its imports."</p> }.into_any(),
                    Ok(Some(data)) => view! {
                        <div data-testid="imports">
                            {data.imported_packages.into_iter().map(|p| {
                                let job = p.jobs.first().cloned();
                                let package = p.package_name.clone();
                                let title = package.clone().unwrap_or_else(|| p.project.clone());
                                view! {
                                    <div class="panel import" data-project=p.project.clone() data-subdirectory=p.subdirectory.clone()>
                                        <h3>{title}</h3>
                                        <p class="muted">{p.source.clone()} " · " {p.project.clone()}
                                            {(!p.subdirectory.is_empty()).then(|| format!(" · {}", p.subdirectory))}</p>
                                        {job.map(|job| {
                                            let status = word(&job.status);
                                            view! {
                                                <p>
                                                    <progress max="100" value=job.progress data-testid="import-progress"></progress>
                                                    " " <span data-testid="import-status">{status}</span> " · " {job.progress} "%"
                                                </p>
                                                {job.error.clone().map(|e| view! { <p class="error">{e}</p> })}
                                                <table class="list">
                                                    <thead><tr><th>"Ref"</th><th>"Result"</th><th>"Version"</th><th>"Why"</th></tr></thead>
                                                    <tbody>
                                                        {job.refs.into_iter().map(|r| view! {
                                                            <tr data-ref=r.ref_.clone()>
                                                                <td>{r.ref_.clone()}</td><td>{r.status.clone()}</td>
                                                                <td>{r.version.clone().unwrap_or_default()}</td>
                                                                <td>{r.reason.clone().unwrap_or_default()}</td>
                                                            </tr>
                                                        }).collect_view()}
                                                    </tbody>
                                                </table>
                                            }
                                        })}
                                        {package.map(|package| view! {
                                            <button type="button" on:click=move |_| rebuild(package.clone())>"Rebuild"</button>
                                        })}
                                    </div>
                                }
                            }).collect_view()}
                        </div>
                    }.into_any(),
                })}
            </Suspense>
        </section>
    }
}
