use leptos::prelude::*;

use crate::app::sections_for;
use crate::session::{use_session, Session};

#[component]
pub fn HomePage() -> impl IntoView {
    let session = use_session();
    let user = move || match session.get() {
        Session::SignedIn(user) => Some(user),
        _ => None,
    };
    view! {
        <section class="page">
            <h1>"Welcome"</h1>
            {move || user().map(|user| view! {
                <p>"You are signed in as " <strong>{user.email}</strong> " with the global role " <strong>{user.global_role}</strong> "."</p>
            })}
            <ul class="section-list">
                {move || user().map(|user| {
                    sections_for(&user.global_role)
                        .map(|(href, label)| view! { <li><a href=href>{label}</a></li> })
                        .collect_view()
                })}
            </ul>
        </section>
    }
}
