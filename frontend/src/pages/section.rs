use leptos::prelude::*;

/// A section whose screens are not part of this build yet: it says so plainly.
#[component]
pub fn Section(title: &'static str) -> impl IntoView {
    view! {
        <section class="page">
            <h1>{title}</h1>
            <p class="muted">"This section is not available in this version of Packistry yet."</p>
        </section>
    }
}
