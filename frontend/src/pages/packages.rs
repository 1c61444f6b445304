//! Packages: a repository's client setup, upload form and package list; a package's page
//! with versions, requirements, readme and downloads.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_params_map};
use wasm_bindgen::JsCast;

use crate::api::{
    self, delete_image_tag, delete_package, delete_package_version, package, packages, server_info,
};

/// The server's public URL, for snippets.
fn base_url() -> LocalResource<String> {
    LocalResource::new(|| async {
        api::run::<api::ServerInfo>(server_info::Variables {})
            .await
            .map(|data| data.server_info.base_url)
            .unwrap_or_default()
    })
}

fn host_of(base: &str) -> String {
    base.split("://")
        .nth(1)
        .unwrap_or(base)
        .trim_end_matches('/')
        .to_owned()
}

/// `532 B`, `4.2 KiB`, `64.0 MiB`.
fn human_size(bytes: i64) -> String {
    let bytes = bytes as f64;
    if bytes < 1024.0 {
        format!("{bytes} B")
    } else if bytes < 1024.0 * 1024.0 {
        format!("{:.1} KiB", bytes / 1024.0)
    } else if bytes < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} MiB", bytes / 1024.0 / 1024.0)
    } else {
        format!("{:.1} GiB", bytes / 1024.0 / 1024.0 / 1024.0)
    }
}

/// A copyable block of text.
#[component]
pub fn Snippet(title: &'static str, testid: &'static str, text: String) -> impl IntoView {
    let copy = {
        let text = text.clone();
        move |_| {
            if let Some(window) = web_sys::window() {
                let _ = window.navigator().clipboard().write_text(&text);
            }
        }
    };
    view! {
        <div class="snippet">
            <div class="snippet-head"><span>{title}</span><button type="button" on:click=copy>"Copy"</button></div>
            <pre data-testid=testid>{text}</pre>
        </div>
    }
}

/// How to use a Composer repository from this server: composer.json, auth.json, upload.
#[component]
pub fn ComposerSetup(repository: String) -> impl IntoView {
    let base = base_url();
    view! {
        <Suspense fallback=|| ()>
            {move || base.get().map(|base| {
                let url = format!("{base}/composer/{repository}");
                let secure = base.starts_with("https://");
                let mut entry = serde_json::json!({
                    "repositories": [{ "type": "composer", "url": url }],
                });
                if !secure {
                    entry["config"] = serde_json::json!({ "secure-http": false });
                }
                let composer_json = serde_json::to_string_pretty(&entry).unwrap_or_default();
                let auth_json = serde_json::to_string_pretty(&serde_json::json!({
                    "http-basic": { host_of(&base): { "username": "token", "password": "pkpat-…" } }
                }))
                .unwrap_or_default();
                let upload = format!(
                    "curl -H \"Authorization: Bearer pkpat-…\" \\\n  -F file=@package.zip -F version=1.0.0 \\\n  {url}/vendor/name"
                );
                view! {
                    <h2>"Use it with Composer"</h2>
                    <Snippet title="composer.json" testid="composer-json" text=composer_json />
                    <Snippet title="auth.json (a personal or deploy token)" testid="auth-json" text=auth_json />
                    <Snippet title="Upload a package" testid="upload-command" text=upload />
                }
            })}
        </Suspense>
    }
}

/// How to use a Maven repository from this server: settings.xml, the repository and
/// distributionManagement entries of a pom.xml.
#[component]
pub fn MavenSetup(repository: String) -> impl IntoView {
    let base = base_url();
    view! {
        <Suspense fallback=|| ()>
            {move || base.get().map(|base| {
                let url = format!("{base}/maven/{repository}");
                let id = format!("packistry-{repository}");
                let settings = format!(
                    "<settings>\n  <servers>\n    <server>\n      <id>{id}</id>\n      <username>token</username>\n      <password>pkpat-…</password>\n    </server>\n  </servers>\n</settings>"
                );
                let repositories = format!(
                    "<repositories>\n  <repository>\n    <id>{id}</id>\n    <url>{url}</url>\n    <snapshots><enabled>true</enabled></snapshots>\n  </repository>\n</repositories>"
                );
                let distribution = format!(
                    "<distributionManagement>\n  <repository>\n    <id>{id}</id>\n    <url>{url}</url>\n  </repository>\n  <snapshotRepository>\n    <id>{id}</id>\n    <url>{url}</url>\n  </snapshotRepository>\n</distributionManagement>"
                );
                view! {
                    <h2>"Use it with Maven"</h2>
                    <Snippet title="~/.m2/settings.xml (a personal or deploy token)" testid="maven-settings" text=settings />
                    <Snippet title="pom.xml: resolve from it" testid="maven-repository" text=repositories />
                    <Snippet title="pom.xml: deploy to it (mvn deploy)" testid="maven-distribution" text=distribution />
                }
            })}
        </Suspense>
    }
}

/// How to log in, push and pull with podman, docker and skopeo.
#[component]
pub fn ContainerSetup(repository: String) -> impl IntoView {
    let base = base_url();
    view! {
        <Suspense fallback=|| ()>
            {move || base.get().map(|base| {
                let host = host_of(&base);
                let insecure = !base.starts_with("https://");
                let tls = if insecure { " --tls-verify=false" } else { "" };
                let skopeo_tls = if insecure { " --dest-tls-verify=false" } else { "" };
                let image = format!("{host}/{repository}/app:1.0");
                let podman = format!(
                    "podman login{tls} {host} -u token -p pkpat-…\npodman push{tls} {image}\npodman pull{tls} {image}"
                );
                let docker = format!(
                    "docker login {host} -u token -p pkpat-…\ndocker push {image}\ndocker pull {image}"
                );
                let skopeo = format!(
                    "skopeo copy{skopeo_tls} --dest-creds token:pkpat-… oci:layout:1.0 docker://{image}"
                );
                view! {
                    <h2>"Use it with podman, docker or skopeo"</h2>
                    <p class="muted">"Image names start with the repository; the rest is yours, nested names included."</p>
                    <Snippet title="podman" testid="podman-commands" text=podman />
                    <Snippet title="docker" testid="docker-commands" text=docker />
                    <Snippet title="skopeo" testid="skopeo-commands" text=skopeo />
                }
            })}
        </Suspense>
    }
}

/// Upload a Composer zip from the browser.
#[component]
pub fn UploadPackage(repository: String, on_done: Callback<()>) -> impl IntoView {
    let (version, set_version) = signal(String::new());
    let (message, set_message) = signal(None::<Result<String, String>>);
    let (busy, set_busy) = signal(false);
    let input = NodeRef::<leptos::html::Input>::new();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(file) = input
            .get()
            .and_then(|el| el.dyn_into::<web_sys::HtmlInputElement>().ok())
            .and_then(|el| el.files())
            .and_then(|files| files.get(0))
        else {
            set_message.set(Some(Err("choose a zip file first".into())));
            return;
        };
        let version = Some(version.get_untracked()).filter(|v| !v.trim().is_empty());
        let repository = repository.clone();
        set_busy.set(true);
        set_message.set(None);
        spawn_local(async move {
            let result = api::upload_composer_package(&repository, file, version).await;
            set_busy.set(false);
            match result {
                Ok(published) => {
                    set_message.set(Some(Ok(format!("published {published}"))));
                    on_done.run(());
                }
                Err(err) => set_message.set(Some(Err(err.message))),
            }
        });
    };
    view! {
        <form class="panel" on:submit=on_submit>
            <h2>"Upload a package"</h2>
            <label>"Zip with composer.json"
                <input type="file" name="package-file" accept=".zip,application/zip" node_ref=input required />
            </label>
            <label>"Version (else composer.json's)"
                <input name="package-version" placeholder="1.0.0" prop:value=version on:input=move |ev| set_version.set(event_target_value(&ev)) />
            </label>
            {move || message.get().map(|m| match m {
                Ok(text) => view! { <p class="ok" role="status">{text}</p> }.into_any(),
                Err(text) => view! { <p class="error" role="alert">{text}</p> }.into_any(),
            })}
            <button type="submit" disabled=busy>{move || if busy.get() { "Uploading…" } else { "Upload" }}</button>
        </form>
    }
}

/// Packages per page of the list.
const PACKAGE_PAGE: i64 = 50;

/// The packages of a repository the caller may list, a page at a time, searched as one
/// types (300 ms after the last key).
#[component]
pub fn PackageList(repository: String, reload: ReadSignal<u32>) -> impl IntoView {
    let (typed, set_typed) = signal(String::new());
    let (search, set_search) = signal(String::new());
    // The cursors of the pages before the one shown: empty on the first page.
    let (cursors, set_cursors) = signal(Vec::<String>::new());
    let data = {
        let repository = repository.clone();
        LocalResource::new(move || {
            reload.track();
            let variables = packages::Variables {
                repository: repository.clone(),
                search: Some(search.get()).filter(|s| !s.is_empty()),
                first: Some(PACKAGE_PAGE),
                after: cursors.get().last().cloned(),
            };
            api::run::<api::Packages>(variables)
        })
    };
    let on_input = move |ev| {
        let value = event_target_value(&ev);
        set_typed.set(value.clone());
        set_timeout(
            move || {
                if typed.get_untracked() == value && search.get_untracked() != value {
                    set_cursors.set(Vec::new());
                    set_search.set(value);
                }
            },
            std::time::Duration::from_millis(300),
        );
    };
    view! {
        <h2>"Packages"</h2>
        <input class="search" name="package-search" placeholder="Search packages" prop:value=typed on:input=on_input />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let repository = repository.clone();
                data.get().map(move |result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    Ok(data) if data.packages.edges.is_empty() && cursors.get_untracked().is_empty() => {
                        let empty = if search.get_untracked().is_empty() { "No packages yet." } else { "No packages match." };
                        view! { <p class="muted" data-testid="package-total">{empty}</p> }.into_any()
                    }
                    Ok(data) => {
                        let start = cursors.get_untracked().len() as i64 * PACKAGE_PAGE;
                        let shown = data.packages.edges.len() as i64;
                        let total = data.packages.total_count;
                        let next = data.packages.page_info.end_cursor.clone().filter(|_| data.packages.page_info.has_next_page);
                        let first_page = cursors.get_untracked().is_empty();
                        view! {
                            <p class="muted" data-testid="package-total">
                                {format!("{}–{} of {} package{}", start + 1, start + shown, total, if total == 1 { "" } else { "s" })}
                            </p>
                            <table class="list" data-testid="package-list">
                                <thead><tr><th>"Package"</th><th>"Latest"</th><th>"Versions"</th><th>"Downloads"</th><th>"Description"</th></tr></thead>
                                <tbody>
                                    {data.packages.edges.into_iter().map(|edge| {
                                        let p = edge.node;
                                        view! {
                                            <tr data-package=p.name.clone()>
                                                <td><a href=format!("/repositories/{}/packages/{}", repository, p.name)>{p.name.clone()}</a></td>
                                                <td>{p.latest_version.clone().unwrap_or_else(|| "—".into())}</td>
                                                <td>{p.version_count}</td>
                                                <td>{p.total_downloads}</td>
                                                <td class="muted">{p.description.clone()}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <div class="pager">
                                <button type="button" data-testid="previous-page" disabled=first_page
                                    on:click=move |_| set_cursors.update(|c| { c.pop(); })>"Previous"</button>
                                <button type="button" data-testid="next-page" disabled=next.is_none()
                                    on:click=move |_| if let Some(cursor) = next.clone() { set_cursors.update(|c| c.push(cursor)) }>"Next"</button>
                            </div>
                        }.into_any()
                    }
                })
            }}
        </Suspense>
    }
}

/// Downloads per day as bars.
#[component]
fn DownloadsChart(days: Vec<package::PackagePackageDownloads>) -> impl IntoView {
    let max = days.iter().map(|d| d.count).max().unwrap_or(0).max(1);
    let width = 600.0;
    let height = 120.0;
    let slot = width / days.len().max(1) as f64;
    let first = days.first().map(|d| d.day.clone()).unwrap_or_default();
    let last = days.last().map(|d| d.day.clone()).unwrap_or_default();
    view! {
        <figure class="chart" data-testid="downloads-chart">
            <svg viewBox=format!("0 0 {width} {height}") width="100%" height="120" preserveAspectRatio="none" role="img" aria-label="downloads per day">
                <line x1="0" y1=height x2=width y2=height class="baseline" />
                {days.iter().enumerate().map(|(i, d)| {
                    let h = (d.count as f64 / max as f64) * (height - 10.0);
                    view! {
                        <rect x=format!("{:.1}", i as f64 * slot + 1.0) y=format!("{:.1}", height - h) width=format!("{:.1}", (slot - 2.0).max(1.0)) height=format!("{h:.1}") data-day=d.day.clone() data-count=d.count>
                            <title>{format!("{}: {}", d.day, d.count)}</title>
                        </rect>
                    }
                }).collect_view()}
            </svg>
            <figcaption class="muted">{format!("Downloads per day, {first} to {last}")}</figcaption>
        </figure>
    }
}

/// One package: versions, the chosen version's requirements and readme, downloads.
#[component]
pub fn PackagePage() -> impl IntoView {
    let params = use_params_map();
    let repository = move || params.read().get("name").unwrap_or_default();
    // The rest of the path: `vendor/name` (Composer), `group:artifact` (Maven), or an image
    // name with any number of segments.
    let name = move || params.read().get("package").unwrap_or_default();
    let (reload, set_reload) = signal(0u32);
    let (selected, set_selected) = signal(None::<String>);
    let (error, set_error) = signal(None::<String>);
    let data = LocalResource::new(move || {
        reload.track();
        api::run::<api::Package>(package::Variables {
            repository: repository(),
            name: name(),
        })
    });
    let navigate = use_navigate();

    let delete_version = move |version: String| {
        let variables = delete_package_version::Variables {
            repository: repository(),
            package: name(),
            version,
        };
        spawn_local(async move {
            match api::run::<api::DeletePackageVersion>(variables).await {
                Ok(_) => {
                    set_selected.set(None);
                    set_reload.update(|n| *n += 1);
                }
                Err(err) => set_error.set(Some(err.message)),
            }
        });
    };
    let delete_tag = move |tag: String| {
        let variables = delete_image_tag::Variables {
            repository: repository(),
            image: name(),
            tag,
        };
        spawn_local(async move {
            match api::run::<api::DeleteImageTag>(variables).await {
                Ok(_) => set_reload.update(|n| *n += 1),
                Err(err) => set_error.set(Some(err.message)),
            }
        });
    };
    let delete_whole = move |_| {
        let variables = delete_package::Variables {
            repository: repository(),
            package: name(),
        };
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::run::<api::DeletePackage>(variables).await {
                Ok(_) => navigate(
                    &format!("/repositories/{}", repository()),
                    Default::default(),
                ),
                Err(err) => set_error.set(Some(err.message)),
            }
        });
    };

    view! {
        <section class="page">
            <p><a href=move || format!("/repositories/{}", repository())>{move || format!("← {}", repository())}</a></p>
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || data.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    Ok(data) => {
                        let administer = data.repository.permissions.contains(&package::Permission::ADMINISTER);
                        let p = data.package;
                        // A container image has tags, not versions; its downloads are pulls.
                        let is_image = !p.tags.is_empty() && p.versions.is_empty();
                        let (one, many) = if is_image { ("pull", "pulls") } else { ("download", "downloads") };
                        let versions = p.versions.clone();
                        let current = {
                            let versions = versions.clone();
                            move || {
                                let wanted = selected.get();
                                versions
                                    .iter()
                                    .find(|v| Some(&v.version) == wanted.as_ref())
                                    .or_else(|| versions.iter().find(|v| v.stability == "stable"))
                                    .or_else(|| versions.first())
                                    .cloned()
                            }
                        };
                        let delete_whole = delete_whole.clone();
                        view! {
                            <h1 data-testid="package-name">{p.name.clone()}</h1>
                            <p class="muted">{p.description.clone()}</p>
                            <p data-testid="download-total">{if p.total_downloads == 1 { format!("1 {one} in all") } else { format!("{} {many} in all", p.total_downloads) }}</p>
                            <DownloadsChart days=p.downloads.clone() />
                            <Show when={let has = !p.tags.is_empty(); move || has}>
                                <h2>"Tags"</h2>
                                <table class="list" data-testid="tag-list">
                                    <thead><tr><th>"Tag"</th><th>"Digest"</th><th>"Size"</th><th>"Platforms"</th><th>"Created"</th><th>"Pull"</th><th></th></tr></thead>
                                    <tbody>
                                        {p.tags.clone().into_iter().map(|t| {
                                            let remove = t.name.clone();
                                            view! {
                                                <tr data-tag=t.name.clone()>
                                                    <td>{t.name.clone()}</td>
                                                    <td><code class="digest" title=t.digest.clone()>{t.digest.chars().take(19).collect::<String>()}"…"</code></td>
                                                    <td>{human_size(t.size)}</td>
                                                    <td>{t.platforms.join(", ")}</td>
                                                    <td>{t.created.chars().take(10).collect::<String>()}</td>
                                                    <td><code>{t.pull_command.clone()}</code></td>
                                                    <td>
                                                        <Show when=move || administer>
                                                            {
                                                                let remove = remove.clone();
                                                                view! { <button type="button" class="danger" on:click=move |_| delete_tag(remove.clone())>"Delete tag"</button> }
                                                            }
                                                        </Show>
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </Show>
                            <h2 class:hidden=is_image>"Versions"</h2>
                            <table class="list" class:hidden=is_image data-testid="version-list">
                                <thead><tr><th>"Version"</th><th>"Stability"</th><th>"Published"</th><th>"Downloads"</th><th>"Size"</th><th></th></tr></thead>
                                <tbody>
                                    {versions.into_iter().map(|v| {
                                        let pick = v.version.clone();
                                        let remove = v.version.clone();
                                        let size: i64 = v.files.iter().map(|f| f.size).sum();
                                        view! {
                                            <tr data-version=v.version.clone()>
                                                <td><a href="#" on:click=move |ev| { ev.prevent_default(); set_selected.set(Some(pick.clone())); }>{v.version.clone()}</a></td>
                                                <td>{v.stability.clone()}</td>
                                                <td>{v.created_at.chars().take(10).collect::<String>()}</td>
                                                <td>{v.downloads}</td>
                                                <td>{human_size(size)}</td>
                                                <td>
                                                    <Show when=move || administer>
                                                        {
                                                            let remove = remove.clone();
                                                            view! { <button type="button" class="danger" on:click=move |_| delete_version(remove.clone())>"Delete"</button> }
                                                        }
                                                    </Show>
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            {move || current().map(|v| view! {
                                <h2 data-testid="selected-version">{format!("{} {}", p.name, v.version)}</h2>
                                <div class="columns" class:hidden=v.requires.is_empty() && v.dev_requires.is_empty()>
                                    <div>
                                        <h3>"Requires"</h3>
                                        <ul data-testid="requires">
                                            {v.requires.iter().map(|l| view! { <li><code>{l.name.clone()}</code>" "{l.constraint.clone()}</li> }).collect_view()}
                                        </ul>
                                    </div>
                                    <div>
                                        <h3>"Requires (dev)"</h3>
                                        <ul>
                                            {v.dev_requires.iter().map(|l| view! { <li><code>{l.name.clone()}</code>" "{l.constraint.clone()}</li> }).collect_view()}
                                        </ul>
                                    </div>
                                </div>
                                <h3>"Files"</h3>
                                <table class="list" data-testid="file-list">
                                    <thead><tr><th>"File"</th><th>"Size"</th><th>"SHA-256"</th></tr></thead>
                                    <tbody>
                                        {v.files.iter().map(|f| {
                                            let label = if f.name == "dist.zip" { "Download zip".to_owned() } else { f.name.clone() };
                                            view! {
                                                <tr data-file=f.name.clone()>
                                                    <td>{match f.url.clone() {
                                                        Some(url) => view! { <a href=url rel="external" download="">{label}</a> }.into_any(),
                                                        None => view! { <span>{label}</span> }.into_any(),
                                                    }}</td>
                                                    <td>{human_size(f.size)}</td>
                                                    <td><code class="digest">{f.sha256.chars().take(16).collect::<String>()}"…"</code></td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                                {v.readme_html.clone().map(|html| view! { <article class="readme" data-testid="readme" inner_html=html></article> })}
                            })}
                            <Show when=move || administer>
                                {
                                    let delete_whole = delete_whole.clone();
                                    view! { <p><button type="button" class="danger" on:click=delete_whole>"Delete this package"</button></p> }
                                }
                            </Show>
                        }.into_any()
                    }
                })}
            </Suspense>
        </section>
    }
}
