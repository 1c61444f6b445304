//! Authentication sources (admins): single sign-on through OpenID Connect, GitHub, GitLab,
//! Bitbucket and Google. The callback URL to register at the provider is shown, copyable.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{
    self, auth_sources, create_auth_source, delete_auth_source, set_auth_source_active,
    update_auth_source,
};
use crate::pages::packages::Snippet;

const PROVIDERS: &[(&str, &str)] = &[
    ("oidc", "OpenID Connect"),
    ("github", "GitHub"),
    ("gitlab", "GitLab"),
    ("bitbucket", "Bitbucket"),
    ("google", "Google"),
];

/// Words separated by commas or spaces.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn enum_word(value: impl std::fmt::Debug) -> String {
    format!("{value:?}").to_lowercase()
}

/// The form's fields, as typed.
#[derive(Clone, Default)]
struct Form {
    name: String,
    display_name: String,
    provider: String,
    client_id: String,
    client_secret: String,
    issuer_url: String,
    scopes: String,
    default_role: String,
    /// `repository:role` pairs.
    grants: String,
    domains: String,
    allow_registration: bool,
    link_existing: bool,
    active: bool,
}

impl Form {
    fn new() -> Form {
        Form {
            provider: "oidc".into(),
            default_role: "user".into(),
            allow_registration: true,
            active: true,
            ..Form::default()
        }
    }

    fn from_source(source: &auth_sources::AuthSourcesAuthSources) -> Form {
        Form {
            name: source.name.clone(),
            display_name: source.display_name.clone().unwrap_or_default(),
            provider: enum_word(&source.provider),
            client_id: source.client_id.clone(),
            client_secret: String::new(),
            issuer_url: source.issuer_url.clone().unwrap_or_default(),
            scopes: source.scopes.join(" "),
            default_role: enum_word(&source.default_role),
            grants: source
                .repository_grants
                .iter()
                .map(|g| format!("{}:{}", g.repository, enum_word(&g.role)))
                .collect::<Vec<_>>()
                .join(", "),
            domains: source.allowed_domains.join(", "),
            allow_registration: source.allow_registration,
            link_existing: source.link_existing,
            active: source.active,
        }
    }
}

/// The GraphQL input from the form, for the create and update mutations alike (each has its
/// own generated types).
macro_rules! source_input {
    ($module:ident, $form:expr) => {{
        use $module::{AuthProvider, AuthSourceGrantInput, AuthSourceInput, GlobalRole, RepositoryRole};
        let form: &Form = $form;
        // A closure, so `?` and `return` end the conversion, not the caller.
        (|| -> Result<AuthSourceInput, String> {
        let optional = |text: &str| (!text.trim().is_empty()).then(|| text.trim().to_owned());
        let mut grants = Vec::new();
        for pair in words(&form.grants) {
            let (repository, role) = pair
                .split_once(':')
                .ok_or_else(|| format!("repository grants: write \"repository:role\", not \"{pair}\""))?;
            let role = match role {
                "administrator" => RepositoryRole::ADMINISTRATOR,
                "developer" => RepositoryRole::DEVELOPER,
                "uploader" => RepositoryRole::UPLOADER,
                "reader" => RepositoryRole::READER,
                other => return Err(format!("repository grants: \"{other}\" is not a role (administrator, developer, uploader, reader)")),
            };
            grants.push(AuthSourceGrantInput { repository: repository.to_owned(), role });
        }
        Ok(AuthSourceInput {
            name: form.name.trim().to_owned(),
            display_name: optional(&form.display_name),
            provider: match form.provider.as_str() {
                "github" => AuthProvider::GITHUB,
                "gitlab" => AuthProvider::GITLAB,
                "bitbucket" => AuthProvider::BITBUCKET,
                "google" => AuthProvider::GOOGLE,
                _ => AuthProvider::OIDC,
            },
            client_id: form.client_id.trim().to_owned(),
            client_secret: optional(&form.client_secret),
            issuer_url: optional(&form.issuer_url),
            scopes: words(&form.scopes),
            default_role: match form.default_role.as_str() {
                "admin" => GlobalRole::ADMIN,
                "developer" => GlobalRole::DEVELOPER,
                _ => GlobalRole::USER,
            },
            repository_grants: grants,
            allowed_domains: words(&form.domains),
            allow_registration: form.allow_registration,
            link_existing: form.link_existing,
            active: form.active,
        })
        })()
    }};
}

#[component]
pub fn AuthSourcesPage() -> impl IntoView {
    let (reload, set_reload) = signal(0u32);
    let data = LocalResource::new(move || {
        reload.track();
        api::run::<api::AuthSources>(auth_sources::Variables {})
    });
    let refresh = move || set_reload.update(|n| *n += 1);
    let (error, set_error) = signal(None::<String>);
    let form = RwSignal::new(Form::new());
    // The source being edited; `None`: a new one.
    let (editing, set_editing) = signal(None::<String>);

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_error.set(None);
        let current = form.get_untracked();
        let id = editing.get_untracked();
        spawn_local(async move {
            let result = match id {
                None => match source_input!(create_auth_source, &current) {
                    Ok(input) => {
                        api::run::<api::CreateAuthSource>(create_auth_source::Variables { input })
                            .await
                            .map(|_| ())
                            .map_err(|e| e.message)
                    }
                    Err(message) => Err(message),
                },
                Some(id) => match source_input!(update_auth_source, &current) {
                    Ok(input) => api::run::<api::UpdateAuthSource>(update_auth_source::Variables {
                        id,
                        input,
                    })
                    .await
                    .map(|_| ())
                    .map_err(|e| e.message),
                    Err(message) => Err(message),
                },
            };
            match result {
                Ok(()) => {
                    form.set(Form::new());
                    set_editing.set(None);
                    refresh();
                }
                Err(message) => set_error.set(Some(message)),
            }
        });
    };

    let set_active = move |id: String, active: bool| {
        spawn_local(async move {
            if let Err(err) =
                api::run::<api::SetAuthSourceActive>(set_auth_source_active::Variables {
                    id,
                    active,
                })
                .await
            {
                set_error.set(Some(err.message));
            }
            refresh();
        });
    };
    let delete = move |id: String, name: String| {
        let confirmed = web_sys::window()
            .and_then(|w| {
                w.confirm_with_message(&format!(
                    "Remove the authentication source {name}? Its users and their tokens stay."
                ))
                .ok()
            })
            .unwrap_or(false);
        if !confirmed {
            return;
        }
        spawn_local(async move {
            if let Err(err) =
                api::run::<api::DeleteAuthSource>(delete_auth_source::Variables { id }).await
            {
                set_error.set(Some(err.message));
            }
            refresh();
        });
    };

    let text_field = move |label: &'static str,
                           name: &'static str,
                           get: fn(&Form) -> String,
                           set: fn(&mut Form, String)| {
        view! {
            <label>{label}
                <input name=name prop:value=move || form.with(get) on:input=move |ev| form.update(|f| set(f, event_target_value(&ev))) />
            </label>
        }
    };
    let check_field = move |label: &'static str,
                            name: &'static str,
                            get: fn(&Form) -> bool,
                            set: fn(&mut Form, bool)| {
        view! {
            <label class="check">
                <input type="checkbox" name=name prop:checked=move || form.with(get) on:change=move |ev| form.update(|f| set(f, event_target_checked(&ev))) />
                {label}
            </label>
        }
    };

    view! {
        <section class="page">
            <h1>"Authentication sources"</h1>
            <p class="muted">"Single sign-on: people sign in through these providers beside the password form. Register the callback URL shown for each source at its provider."</p>
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || data.get().map(|result| match result {
                    Err(err) if err.code.as_deref() == Some("FORBIDDEN") => view! {
                        <p class="muted">"Only admins manage authentication sources."</p>
                    }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    Ok(data) => view! {
                        <table class="list" data-testid="auth-source-list">
                            <thead><tr><th>"Name"</th><th>"Provider"</th><th>"Default role"</th><th>"Status"</th><th></th></tr></thead>
                            <tbody>
                                {data.auth_sources.into_iter().map(|source| {
                                    let (id_active, id_delete, name) = (source.id.clone(), source.id.clone(), source.name.clone());
                                    let active = source.active;
                                    let edit = {
                                        let source = source.clone();
                                        move |_| {
                                            form.set(Form::from_source(&source));
                                            set_editing.set(Some(source.id.clone()));
                                        }
                                    };
                                    view! {
                                        <tr data-source=source.name.clone()>
                                            <td>
                                                <strong>{source.display_name.clone().unwrap_or_else(|| source.name.clone())}</strong>
                                                <div class="muted">{source.name.clone()}</div>
                                                <Snippet title="Callback URL" testid="callback-url" text=source.callback_url.clone() />
                                            </td>
                                            <td>{enum_word(&source.provider)}</td>
                                            <td>{enum_word(&source.default_role)}</td>
                                            <td>{if active { "active" } else { "inactive" }}</td>
                                            <td>
                                                <button type="button" on:click=edit>"Edit"</button>
                                                <button type="button" on:click=move |_| set_active(id_active.clone(), !active)>
                                                    {if active { "Deactivate" } else { "Activate" }}
                                                </button>
                                                <button type="button" class="danger" on:click=move |_| delete(id_delete.clone(), name.clone())>"Remove"</button>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Suspense>
            <form class="panel" on:submit=on_submit data-testid="auth-source-form">
                <h2>{move || if editing.get().is_some() { "Edit authentication source" } else { "New authentication source" }}</h2>
                {text_field("Name (in the callback URL)", "source-name", |f| f.name.clone(), |f, v| f.name = v)}
                {text_field("Button label", "source-display-name", |f| f.display_name.clone(), |f, v| f.display_name = v)}
                <label>"Provider"
                    <select name="source-provider" on:change=move |ev| form.update(|f| f.provider = event_target_value(&ev))>
                        {PROVIDERS.iter().map(|(value, label)| view! {
                            <option value=*value selected=move || form.with(|f| f.provider == *value)>{*label}</option>
                        }).collect_view()}
                    </select>
                </label>
                {text_field("Client ID", "source-client-id", |f| f.client_id.clone(), |f, v| f.client_id = v)}
                <label>{move || if editing.get().is_some() { "Client secret (leave empty to keep the stored one)" } else { "Client secret" }}
                    <input type="password" name="source-client-secret" autocomplete="off"
                        prop:value=move || form.with(|f| f.client_secret.clone())
                        on:input=move |ev| form.update(|f| f.client_secret = event_target_value(&ev)) />
                </label>
                {text_field("Issuer URL (OpenID Connect) or base URL (self-hosted GitLab, GitHub Enterprise)", "source-issuer-url", |f| f.issuer_url.clone(), |f, v| f.issuer_url = v)}
                {text_field("Scopes (empty: the provider's defaults)", "source-scopes", |f| f.scopes.clone(), |f, v| f.scopes = v)}
                <label>"Default global role of new users"
                    <select name="source-default-role" on:change=move |ev| form.update(|f| f.default_role = event_target_value(&ev))>
                        {["user", "developer", "admin"].into_iter().map(|r| view! {
                            <option value=r selected=move || form.with(|f| f.default_role == r)>{r}</option>
                        }).collect_view()}
                    </select>
                </label>
                {text_field("Repositories granted at first sign-in (repository:role, …)", "source-grants", |f| f.grants.clone(), |f, v| f.grants = v)}
                {text_field("Allowed e-mail domains (empty: any)", "source-domains", |f| f.domains.clone(), |f, v| f.domains = v)}
                {check_field("New people may register", "source-allow-registration", |f| f.allow_registration, |f, v| f.allow_registration = v)}
                {check_field("Link to an existing user with the same verified e-mail", "source-link-existing", |f| f.link_existing, |f, v| f.link_existing = v)}
                {check_field("Active", "source-active", |f| f.active, |f, v| f.active = v)}
                <button type="submit">{move || if editing.get().is_some() { "Save" } else { "Create source" }}</button>
                {move || editing.get().map(|_| view! {
                    <button type="button" on:click=move |_| { form.set(Form::new()); set_editing.set(None); }>"Cancel"</button>
                })}
            </form>
        </section>
    }
}
