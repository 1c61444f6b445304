//! Groups: create (admins and developers), members and maintainers (admins and maintainers).

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, create_group, groups, remove_group_member, set_group_member};
use crate::session::{use_session, Session};

#[component]
pub fn GroupsPage() -> impl IntoView {
    let session = use_session();
    // What the SPA offers follows the engine's rules (shared::permissions).
    let viewer = move || match session.get() {
        Session::SignedIn(user) => Some((user.email, user.global_role)),
        _ => None,
    };
    let may_create = move || {
        viewer().is_some_and(|(_, role)| {
            role.parse()
                .is_ok_and(packistry_shared::permissions::may_create_group)
        })
    };
    let (reload, set_reload) = signal(0u32);
    let data = LocalResource::new(move || {
        reload.track();
        api::run::<api::Groups>(groups::Variables {})
    });
    let refresh = move || set_reload.update(|n| *n += 1);
    let (error, set_error) = signal(None::<String>);
    let (new_name, set_new_name) = signal(String::new());

    let report = move |result: Result<(), api::ApiError>| {
        match result {
            Ok(()) => set_error.set(None),
            Err(err) => set_error.set(Some(err.message)),
        }
        refresh();
    };

    let on_create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let name = new_name.get_untracked();
        spawn_local(async move {
            let result = api::run::<api::CreateGroup>(create_group::Variables { name })
                .await
                .map(|_| ());
            if result.is_ok() {
                set_new_name.set(String::new());
            }
            report(result);
        });
    };
    let set_member = move |name: String, email: String, maintainer: bool| {
        spawn_local(async move {
            let variables = set_group_member::Variables {
                name,
                email,
                maintainer,
            };
            report(api::run::<api::SetGroupMember>(variables).await.map(|_| ()));
        });
    };
    let remove_member = move |name: String, email: String| {
        spawn_local(async move {
            let variables = remove_group_member::Variables { name, email };
            report(
                api::run::<api::RemoveGroupMember>(variables)
                    .await
                    .map(|_| ()),
            );
        });
    };

    view! {
        <section class="page">
            <h1>"Groups"</h1>
            <p class="muted">"Roles granted to a group on a repository apply to all its members. Maintainers manage their group; admins every group."</p>
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <Show when=may_create>
                <form class="panel" on:submit=on_create>
                    <h2>"New group"</h2>
                    <label>"Name"<input name="group-name" required prop:value=new_name on:input=move |ev| set_new_name.set(event_target_value(&ev)) /></label>
                    <button type="submit">"Create group"</button>
                </form>
            </Show>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || data.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    Ok(data) if data.groups.is_empty() => view! { <p class="muted">"No groups yet."</p> }.into_any(),
                    Ok(data) => data.groups.into_iter().map(|group| {
                        let (email, set_email) = signal(String::new());
                        let (maintainer, set_maintainer) = signal(false);
                        let group_name = group.name.clone();
                        let manages = viewer().is_some_and(|(email, role)| {
                            let is_maintainer = group.members.iter().any(|m| m.user.email == email && m.maintainer);
                            role.parse().is_ok_and(|role| packistry_shared::permissions::may_manage_group(role, is_maintainer))
                        });
                        let on_add = {
                            let group_name = group_name.clone();
                            move |ev: leptos::ev::SubmitEvent| {
                                ev.prevent_default();
                                set_member(group_name.clone(), email.get_untracked(), maintainer.get_untracked());
                            }
                        };
                        view! {
                            <div class="panel" data-group=group.name.clone()>
                                <h2>{group.name.clone()}</h2>
                                <table class="list">
                                    <thead><tr><th>"Member"</th><th>"Maintainer"</th><th></th></tr></thead>
                                    <tbody>
                                        {group.members.into_iter().map(|member| {
                                            let member_email = member.user.email.clone();
                                            let (g1, e1, g2, e2) = (group_name.clone(), member_email.clone(), group_name.clone(), member_email.clone());
                                            let is_maintainer = member.maintainer;
                                            view! {
                                                <tr data-member=member_email.clone()>
                                                    <td>{member_email.clone()}</td>
                                                    <td>{if is_maintainer { "yes" } else { "no" }}</td>
                                                    <td class:hidden=!manages>
                                                        <button type="button" on:click=move |_| set_member(g1.clone(), e1.clone(), !is_maintainer)>
                                                            {if is_maintainer { "Unmake maintainer" } else { "Make maintainer" }}
                                                        </button>
                                                        " "
                                                        <button type="button" on:click=move |_| remove_member(g2.clone(), e2.clone())>"Remove"</button>
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                                <form class="add-member" class:hidden=!manages on:submit=on_add>
                                    <input type="email" name="member-email" required placeholder="someone@example.com" aria-label="Member e-mail"
                                        on:input=move |ev| set_email.set(event_target_value(&ev)) />
                                    <label class="inline"><input type="checkbox" on:change=move |ev| set_maintainer.set(event_target_checked(&ev)) />"maintainer"</label>
                                    <button type="submit">"Add member"</button>
                                </form>
                            </div>
                        }
                    }).collect_view().into_any(),
                })}
            </Suspense>
        </section>
    }
}
