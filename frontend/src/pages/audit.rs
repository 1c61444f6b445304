//! The audit trail (admins): newest first, filtered by action, 50 at a time.

use leptos::prelude::*;

use crate::api::{self, audit_events};

#[component]
pub fn AuditPage() -> impl IntoView {
    let (action, set_action) = signal(String::new());
    let (after, set_after) = signal(None::<String>);
    let data = LocalResource::new(move || {
        let action = action.get();
        let after = after.get();
        api::run::<api::AuditEvents>(audit_events::Variables {
            action: (!action.is_empty()).then_some(action),
            after,
        })
    });

    view! {
        <section class="page">
            <h1>"Audit"</h1>
            <input class="search" type="search" placeholder="Filter by action, e.g. grant.given" aria-label="Action"
                on:change=move |ev| { set_after.set(None); set_action.set(event_target_value(&ev)); } />
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || data.get().map(|result| match result {
                    Err(err) if err.code.as_deref() == Some("FORBIDDEN") => view! {
                        <p class="muted">"Only admins read the audit trail."</p>
                    }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    Ok(data) => {
                        let next = data.audit_events.edges.last().map(|e| e.cursor.clone());
                        let has_next = data.audit_events.page_info.has_next_page;
                        view! {
                            <table class="list" data-testid="audit-list">
                                <thead><tr><th>"When"</th><th>"Who"</th><th>"Action"</th><th>"On"</th><th>"Details"</th><th>"From"</th></tr></thead>
                                <tbody>
                                    {data.audit_events.edges.into_iter().map(|edge| {
                                        let event = edge.node;
                                        let action = event.action.clone();
                                        view! {
                                            <tr data-action=action>
                                                <td>{event.created_at.get(..19).unwrap_or(&event.created_at).replace('T', " ")}</td>
                                                <td>{event.actor}</td>
                                                <td>{event.action}</td>
                                                <td>{event.target_type} " " {event.target_name}</td>
                                                <td><code>{event.details.to_string()}</code></td>
                                                <td>{event.address.unwrap_or_default()}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <Show when=move || has_next>
                                {
                                    let next = next.clone();
                                    view! { <button type="button" on:click=move |_| set_after.set(next.clone())>"Older events"</button> }
                                }
                            </Show>
                        }.into_any()
                    }
                })}
            </Suspense>
        </section>
    }
}
