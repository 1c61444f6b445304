//! Routes and the signed-in shell.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{Outlet, ParentRoute, Route, Router, Routes, A};
use leptos_router::hooks::use_navigate;
use leptos_router::path;

use crate::api;
use crate::pages::audit::AuditPage;
use crate::pages::auth_sources::AuthSourcesPage;
use crate::pages::groups::GroupsPage;
use crate::pages::packages::PackagePage;
use crate::pages::repositories::{RepositoriesPage, RepositoryPage};
use crate::pages::sources::SourcesPage;
use crate::pages::{
    home::HomePage, login::LoginPage, section::Section, tokens::TokensPage, users::UsersPage,
};
use crate::session::{self, use_session, Session};

/// The sections of the app, in navigation order: (path, label, admins only).
pub const SECTIONS: &[(&str, &str, bool)] = &[
    ("/repositories", "Repositories", false),
    ("/packages", "Packages", false),
    ("/users", "Users", true),
    ("/groups", "Groups", false),
    ("/tokens", "Tokens", false),
    ("/sources", "Sources", true),
    ("/auth-sources", "Authentication sources", true),
    ("/audit", "Audit", true),
];

/// The sections a user with this global role may use: the engine refuses the admin
/// sections to everyone else, so they are not offered.
pub fn sections_for(global_role: &str) -> impl Iterator<Item = (&'static str, &'static str)> {
    let admin = global_role == "admin";
    SECTIONS
        .iter()
        .filter(move |(_, _, admins_only)| admin || !admins_only)
        .map(|(href, label, _)| (*href, *label))
}

#[component]
pub fn App() -> impl IntoView {
    let session = RwSignal::new(Session::Loading);
    provide_context(session);
    spawn_local(session::refresh(session));

    view! {
        <Router>
            <Routes fallback=|| view! { <p class="page-missing">"There is no such page."</p> }>
                <Route path=path!("/login") view=LoginPage />
                <ParentRoute path=path!("") view=Shell>
                    <Route path=path!("") view=HomePage />
                    <Route path=path!("repositories") view=RepositoriesPage />
                    <Route path=path!("repositories/:name") view=RepositoryPage />
                    <Route path=path!("repositories/:name/packages/*package") view=PackagePage />
                    <Route path=path!("packages") view=|| view! { <Section title="Packages" /> } />
                    <Route path=path!("users") view=UsersPage />
                    <Route path=path!("groups") view=GroupsPage />
                    <Route path=path!("tokens") view=TokensPage />
                    <Route path=path!("sources") view=SourcesPage />
                    <Route path=path!("auth-sources") view=AuthSourcesPage />
                    <Route path=path!("audit") view=AuditPage />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// The frame around every signed-in page: who is signed in, sign-out, navigation.
#[component]
fn Shell() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if session.get() == Session::Anonymous {
            navigate("/login", Default::default());
        }
    });
    let (menu_open, set_menu_open) = signal(false);

    let sign_out = move |_| {
        spawn_local(async move {
            // Whatever the server says, this browser no longer treats itself as signed in.
            let _ = api::run::<api::Logout>(api::logout::Variables {}).await;
            session.set(Session::Anonymous);
        });
    };

    move || {
        match session.get() {
        Session::Loading => view! { <p class="status">"Loading…"</p> }.into_any(),
        Session::Anonymous => view! { <p class="status">"Redirecting to sign in…"</p> }.into_any(),
        Session::Unreachable(message) => view! {
            <div class="status error" role="alert">
                <p>"Packistry cannot be reached: " {message}</p>
                <button on:click=move |_| { session.set(Session::Loading); spawn_local(session::refresh(session)); }>"Try again"</button>
            </div>
        }
        .into_any(),
        Session::SignedIn(user) => view! {
            <div class="shell" class:menu-open=menu_open>
                <header class="topbar">
                    <button class="menu-toggle" aria-label="Menu" on:click=move |_| set_menu_open.update(|open| *open = !*open)>"☰"</button>
                    <a class="brand" href="/">"Packistry"</a>
                    <span class="who" data-testid="signed-in-as" title=user.global_role.clone()>
                        {user.display_name.clone()} " · " {user.email.clone()}
                    </span>
                    <button class="sign-out" on:click=sign_out>"Sign out"</button>
                </header>
                <nav class="sidebar" aria-label="Sections" on:click=move |_| set_menu_open.set(false)>
                    {sections_for(&user.global_role)
                        .map(|(href, label)| view! { <A href=href>{label}</A> })
                        .collect_view()}
                </nav>
                <main class="content">
                    <Outlet />
                </main>
            </div>
        }
        .into_any(),
    }
    }
}
