//! GraphQL for tenant administration: `users`, `inviteUser`, `assignRole`, `deactivateUser`,
//! `reactivateUser`, `revokeSessions`,
//! `roles`, `createRole`, `updateRole`, `deleteRole`, `apiKeys`, `createApiKey`,
//! `revokeApiKey`, `auditLog`, `verifyAuditChain`, the subscriptions `auditAppended` and
//! `emailChanged` (`live`), and the public `acceptInvite`. Only
//! administrator roles have these in their schema (`revokeSessions` also lets anyone end their
//! own sessions); the resolvers check again.

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, Type, TypeRef,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entity::features::emails::Email;
use entity::models::{api_key, role};
use entity::runtime::audit::{AuditFilter, AuditRow, Verification};
use entity::runtime::naming::{fields as f, types as t};

use crate::admin::{self, Invite, RoleInput};
use crate::error::ApiError;
use crate::schema::args::{self, arg_json};
use crate::schema::ctx;
use crate::schema::feature::{Declared, Slot, admin_only, admin_types};
use crate::schema::typed;
use crate::schema::values::{PageInfoValue, json, parent, s, sync_field, ts};

pub mod live;
pub mod role_rules;

/// A page of the audit log.
struct AuditPage {
    rows: Vec<AuditRow>,
    page_info: PageInfoValue,
    total: i64,
}

fn cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("audit:{seq}"))
}

fn decode_cursor(c: &str) -> Result<i64, ApiError> {
    let bad = || ApiError::BadRequest("invalid cursor".into());
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?).map_err(|_| bad())?;
    text.strip_prefix("audit:").and_then(|n| n.parse().ok()).ok_or_else(bad)
}

/// Types of the administration operations.
pub fn types() -> Vec<Type> {
    let id = || TypeRef::named_nn(TypeRef::ID);
    let string = || TypeRef::named_nn(TypeRef::STRING);
    let opt = || TypeRef::named(TypeRef::STRING);
    let time = || TypeRef::named_nn(t::DATE_TIME);
    let opt_time = || TypeRef::named(t::DATE_TIME);
    let json_in = || TypeRef::named(t::JSON);
    let mut types: Vec<Type> = vec![
        Object::new(t::ROLE)
            .field(sync_field::<role::Model>("id", id(), |r| s(&r.id)))
            .field(sync_field::<role::Model>("name", string(), |r| s(&r.name)))
            .field(sync_field::<role::Model>("description", opt(), |r| r.description.as_deref().and_then(s)))
            .field(
                sync_field::<role::Model>("permissions", TypeRef::named_nn(t::JSON), |r| {
                    json(&r.permissions)
                })
                .description(role_rules::STORED_DOC),
            )
            .field(sync_field::<role::Model>("isSystem", TypeRef::named_nn(TypeRef::BOOLEAN), |r| {
                Some(Value::from(r.is_system))
            }))
            .field(sync_field::<role::Model>("createdAt", time(), |r| ts(&r.created_at)))
            .into(),
        role_rules::input_fields()
            .into_iter()
            .fold(
                InputObject::new(t::ROLE_INPUT)
                    .field(InputValue::new("name", string()))
                    .field(InputValue::new("description", opt()))
                    .field(
                        InputValue::new("permissions", json_in()).description(role_rules::PERMISSIONS_DOC),
                    ),
                InputObject::field,
            )
            .into(),
        role_rules::input_fields()
            .into_iter()
            .fold(
                InputObject::new(t::UPDATE_ROLE_INPUT)
                    .field(InputValue::new("name", opt()))
                    .field(InputValue::new("description", opt()))
                    .field(InputValue::new("permissions", json_in()).description(format!(
                        "{} Neither: the permissions stay as they are.",
                        role_rules::PERMISSIONS_DOC
                    ))),
                InputObject::field,
            )
            .into(),
        Object::new(t::INVITE)
            .field(Field::new("user", TypeRef::named_nn(t::USER), |c| {
                FieldFuture::new(async move {
                    Ok(Some(FieldValue::owned_any(parent::<Invite>(&c)?.user.clone())))
                })
            }))
            .field(sync_field::<Invite>("token", string(), |i| s(&i.token)))
            .field(sync_field::<Invite>("expiresAt", time(), |i| ts(&i.expires_at)))
            .into(),
        Object::new(t::API_KEY)
            .field(sync_field::<api_key::Model>("id", id(), |k| s(&k.id)))
            .field(sync_field::<api_key::Model>("name", string(), |k| s(&k.name)))
            .field(sync_field::<api_key::Model>("roleId", id(), |k| s(&k.role_id)))
            .field(sync_field::<api_key::Model>("prefix", string(), |k| s(&k.key_prefix)))
            .field(sync_field::<api_key::Model>("createdAt", time(), |k| ts(&k.created_at)))
            .field(sync_field::<api_key::Model>("revokedAt", opt_time(), |k| {
                k.revoked_at.as_ref().and_then(ts)
            }))
            .into(),
        Object::new(t::API_KEY_PAYLOAD)
            .field(sync_field::<(String, api_key::Model)>("key", string(), |(k, _)| s(k)))
            .field(Field::new("apiKey", TypeRef::named_nn(t::API_KEY), |c| {
                FieldFuture::new(async move {
                    Ok(Some(FieldValue::owned_any(parent::<(String, api_key::Model)>(&c)?.1.clone())))
                })
            }))
            .into(),
        Object::new(t::EMAIL)
            .field(sync_field::<Email>("id", id(), |e| s(&e.id)))
            .field(sync_field::<Email>("to", string(), |e| s(&e.to_address)))
            .field(sync_field::<Email>("subject", string(), |e| s(&e.subject)))
            .field(sync_field::<Email>("body", string(), |e| s(&e.body)))
            .field(sync_field::<Email>("status", string(), |e| s(&e.status)))
            .field(sync_field::<Email>("attempts", TypeRef::named_nn(TypeRef::INT), |e| {
                Some(Value::from(e.attempts))
            }))
            .field(sync_field::<Email>("lastError", opt(), |e| e.last_error.as_deref().and_then(s)))
            .field(sync_field::<Email>("messageId", opt(), |e| e.message_id.as_deref().and_then(s)))
            .field(sync_field::<Email>("createdAt", time(), |e| ts(&e.created_at)))
            .field(sync_field::<Email>("sentAt", opt_time(), |e| e.sent_at.as_ref().and_then(ts)))
            .into(),
        Object::new(t::AUDIT_ENTRY)
            .field(sync_field::<AuditRow>("id", id(), |a| Some(Value::from(a.id.to_string()))))
            .field(sync_field::<AuditRow>("seq", TypeRef::named_nn(TypeRef::INT), |a| {
                Some(Value::from(a.seq))
            }))
            .field(sync_field::<AuditRow>("at", time(), |a| ts(&a.at)))
            .field(sync_field::<AuditRow>("actorUserId", TypeRef::named(TypeRef::ID), |a| {
                a.actor.user_id.as_deref().and_then(s)
            }))
            .field(sync_field::<AuditRow>("actorApiKeyId", TypeRef::named(TypeRef::ID), |a| {
                a.actor.api_key_id.as_deref().and_then(s)
            }))
            .field(sync_field::<AuditRow>("requestId", opt(), |a| a.actor.request_id.as_deref().and_then(s)))
            .field(sync_field::<AuditRow>("action", string(), |a| s(&a.action)))
            .field(sync_field::<AuditRow>("objectType", string(), |a| s(&a.object_type)))
            .field(sync_field::<AuditRow>("objectId", opt(), |a| a.object_id.as_deref().and_then(s)))
            .field(
                sync_field::<AuditRow>("changes", TypeRef::named_nn(t::JSON), |a| json(&a.changes))
                    .description(
                        "What the action changed, as a JSON object: for records, each changed field → \
                         {old, new} (e.g. `{\"stage\": {\"old\": \"Lead\", \"new\": \"Won\"}}`); \
                         other actions give their own details (e.g. `{\"name\": \"Sales\"}`).",
                    ),
            )
            .field(sync_field::<AuditRow>("prevHash", string(), |a| s(&a.prev_hash)))
            .field(sync_field::<AuditRow>("hash", string(), |a| s(&a.hash)))
            .into(),
        Object::new(t::AUDIT_EDGE)
            .field(sync_field::<AuditRow>("cursor", string(), |a| Some(Value::from(cursor(a.seq)))))
            .field(Field::new("node", TypeRef::named_nn(t::AUDIT_ENTRY), |c| {
                FieldFuture::new(
                    async move { Ok(Some(FieldValue::owned_any(parent::<AuditRow>(&c)?.clone()))) },
                )
            }))
            .into(),
        Object::new(t::AUDIT_CONNECTION)
            .field(Field::new("edges", TypeRef::named_nn_list_nn(t::AUDIT_EDGE), |c| {
                FieldFuture::new(async move {
                    let p = parent::<AuditPage>(&c)?;
                    Ok(Some(FieldValue::list(p.rows.iter().cloned().map(FieldValue::owned_any))))
                })
            }))
            .field(Field::new("nodes", TypeRef::named_nn_list_nn(t::AUDIT_ENTRY), |c| {
                FieldFuture::new(async move {
                    let p = parent::<AuditPage>(&c)?;
                    Ok(Some(FieldValue::list(p.rows.iter().cloned().map(FieldValue::owned_any))))
                })
            }))
            .field(Field::new("pageInfo", TypeRef::named_nn(t::PAGE_INFO), |c| {
                FieldFuture::new(async move {
                    Ok(Some(FieldValue::owned_any(parent::<AuditPage>(&c)?.page_info.clone())))
                })
            }))
            .field(sync_field::<AuditPage>("totalCount", TypeRef::named_nn(TypeRef::INT), |p| {
                Some(Value::from(p.total))
            }))
            .into(),
        InputObject::new(t::AUDIT_FILTER)
            .field(InputValue::new("action", opt()))
            .field(InputValue::new("objectType", opt()))
            .field(InputValue::new("objectId", opt()))
            .field(InputValue::new("actorUserId", TypeRef::named(TypeRef::ID)))
            .field(InputValue::new("from", TypeRef::named(t::DATE_TIME)))
            .field(InputValue::new("to", TypeRef::named(t::DATE_TIME)))
            .into(),
        Object::new(t::AUDIT_VERIFICATION)
            .field(sync_field::<Verification>("ok", TypeRef::named_nn(TypeRef::BOOLEAN), |v| {
                Some(Value::from(v.ok))
            }))
            .field(sync_field::<Verification>("checked", TypeRef::named_nn(TypeRef::INT), |v| {
                Some(Value::from(v.checked))
            }))
            .field(sync_field::<Verification>("firstBrokenSeq", TypeRef::named(TypeRef::INT), |v| {
                v.first_broken_seq.map(Value::from)
            }))
            .field(sync_field::<Verification>("firstBrokenId", TypeRef::named(TypeRef::ID), |v| {
                v.first_broken_id.map(|i| Value::from(i.to_string()))
            }))
            .field(sync_field::<Verification>("reason", opt(), |v| v.reason.as_deref().and_then(s)))
            .into(),
    ];
    types.extend(role_rules::types());
    types
}

/// Runs an admin resolver body with the checks every one of them needs.
macro_rules! admin_op {
    ($c:ident, |$state:ident, $p:ident, $actor:ident| $body:expr) => {
        FieldFuture::new(async move {
            ctx::require_admin(&$c)?;
            let $state = ctx::state(&$c)?;
            let $p = ctx::principal(&$c)?;
            let $actor = ctx::actor(&$c)?;
            let _ = &$actor;
            $body
        })
    };
}

/// Administration queries (administrators only).
pub fn queries() -> Vec<Field> {
    vec![
        Field::new(f::USERS, TypeRef::named_nn_list_nn(t::USER), |c| {
            admin_op!(c, |state, p, actor| {
                let users = admin::users(state, p).await?;
                Ok(Some(FieldValue::list(users.into_iter().map(FieldValue::owned_any))))
            })
        })
        .description("The tenant's users, invited ones included."),
        Field::new(f::ROLES, TypeRef::named_nn_list_nn(t::ROLE), |c| {
            admin_op!(c, |state, p, actor| {
                let roles = admin::roles(state, p).await?;
                Ok(Some(FieldValue::list(roles.into_iter().map(FieldValue::owned_any))))
            })
        }),
        Field::new(f::API_KEYS, TypeRef::named_nn_list_nn(t::API_KEY), |c| {
            admin_op!(c, |state, p, actor| {
                let keys = admin::api_keys(state, p).await?;
                Ok(Some(FieldValue::list(keys.into_iter().map(FieldValue::owned_any))))
            })
        }),
        Field::new(f::AUDIT_LOG, TypeRef::named_nn(t::AUDIT_CONNECTION), |c| {
            admin_op!(c, |state, p, actor| {
                let filter: AuditFilter = match arg_json(&c, "filter")? {
                    Some(j) => {
                        serde_json::from_value(j).map_err(|e| ApiError::BadRequest(format!("filter: {e}")))?
                    }
                    None => AuditFilter::default(),
                };
                let max = state.config.max_page_size;
                let first = match c.args.get("first") {
                    Some(v) if !v.is_null() => u64::try_from(v.i64()?).ok().filter(|n| *n <= max),
                    _ => Some(state.config.default_page_size),
                }
                .ok_or_else(|| ApiError::BadRequest(format!("`first` must be between 0 and {max}")))?;
                let after = args::opt_string(&c, "after")?.map(|a| decode_cursor(&a)).transpose()?;
                let (rows, more, total) = admin::audit_log(state, p, &filter, first, after).await?;
                let page_info = PageInfoValue {
                    has_next: more,
                    has_previous: after.is_some(),
                    start: rows.first().map(|r| cursor(r.seq)),
                    end: rows.last().map(|r| cursor(r.seq)),
                };
                Ok(Some(FieldValue::owned_any(AuditPage { rows, page_info, total })))
            })
        })
        .argument(InputValue::new("filter", TypeRef::named(t::AUDIT_FILTER)))
        .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)))
        .argument(InputValue::new("after", TypeRef::named(TypeRef::STRING)))
        .description("The audit trail, newest first."),
        Field::new(f::EMAILS, TypeRef::named_nn_list_nn(t::EMAIL), |c| {
            admin_op!(c, |state, p, actor| {
                let status = args::opt_string(&c, "status")?;
                let first = args::log_page_size(&c, state.config.max_page_size)?;
                let list = admin::emails(state, p, status.as_deref(), first).await?;
                Ok(Some(FieldValue::list(list.into_iter().map(FieldValue::owned_any))))
            })
        })
        .argument(InputValue::new("status", TypeRef::named(TypeRef::STRING)))
        .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)))
        .description("Outgoing emails, newest first (status: queued, sending, retrying, sent, held, dead). Delivery is at least once: `messageId` is sent with every attempt, so the rare second copy (a worker that died after the relay took the whole message) can be recognised."),
        Field::new(f::VERIFY_AUDIT_CHAIN, TypeRef::named_nn(t::AUDIT_VERIFICATION), |c| {
            admin_op!(c, |state, p, actor| Ok(Some(FieldValue::owned_any(
                admin::verify_audit_chain(state, p).await?
            ))))
        })
        .description("Recomputes the audit hash chain and reports the first entry that does not fit."),
    ]
}

/// The `input` of createRole (`create`) or updateRole, with its permissions in their JSON
/// form whichever form was given, and the renames of error paths back to the typed form.
fn role_input(c: &ResolverContext<'_>, create: bool) -> async_graphql::Result<(RoleInput, typed::Renames)> {
    let json = arg_json(c, "input")?.unwrap_or_default();
    let (permissions, renames) =
        role_rules::permissions(json.as_object().unwrap_or(&Default::default()), create)?;
    let input: RoleInput =
        serde_json::from_value(json).map_err(|e| ApiError::BadRequest(format!("input: {e}")))?;
    Ok((RoleInput { permissions, ..input }, renames))
}

/// Administration mutations (administrators only).
pub fn mutations() -> Vec<Field> {
    let id_arg = |n: &str| InputValue::new(n, TypeRef::named_nn(TypeRef::ID));
    let string_arg = |n: &str| InputValue::new(n, TypeRef::named_nn(TypeRef::STRING));
    vec![
        Field::new(f::INVITE_USER, TypeRef::named_nn(t::INVITE), |c| {
            admin_op!(c, |state, p, actor| {
                let invite = admin::invite_user(
                    state,
                    p,
                    &actor,
                    &args::string(&c, "email")?,
                    &args::string(&c, "roleId")?,
                )
                .await?;
                Ok(Some(FieldValue::owned_any(invite)))
            })
        })
        .argument(string_arg("email"))
        .argument(id_arg("roleId"))
        .description("Invites a user; hand them the token (shown once) to accept with `acceptInvite`."),
        Field::new(f::ASSIGN_ROLE, TypeRef::named_nn(t::USER), |c| {
            admin_op!(c, |state, p, actor| {
                let u = admin::assign_role(
                    state,
                    p,
                    &actor,
                    &args::string(&c, "userId")?,
                    &args::string(&c, "roleId")?,
                )
                .await?;
                Ok(Some(FieldValue::owned_any(u)))
            })
        })
        .argument(id_arg("userId"))
        .argument(id_arg("roleId")),
        Field::new(f::DEACTIVATE_USER, TypeRef::named_nn(t::USER), |c| {
            admin_op!(c, |state, p, actor| Ok(Some(FieldValue::owned_any(
                admin::set_user_active(state, p, &actor, &args::string(&c, "userId")?, false).await?
            ))))
        })
        .argument(id_arg("userId"))
        .description(
            "Deactivates a user: sign-in is refused, their sessions and the API keys they created end at once \
             (open sockets close). A tenant keeps at least one active owner; nobody deactivates themselves.",
        ),
        Field::new(f::REACTIVATE_USER, TypeRef::named_nn(t::USER), |c| {
            admin_op!(c, |state, p, actor| Ok(Some(FieldValue::owned_any(
                admin::set_user_active(state, p, &actor, &args::string(&c, "userId")?, true).await?
            ))))
        })
        .argument(id_arg("userId"))
        .description("Lets a deactivated user sign in again (their revoked API keys stay revoked)."),
        Field::new(f::CREATE_ROLE, TypeRef::named_nn(t::ROLE), |c| {
            admin_op!(c, |state, p, actor| {
                let (input, renames) = role_input(&c, true)?;
                let role = admin::create_role(state, p, &actor, input)
                    .await
                    .map_err(|e| typed::rename_paths(e, &renames))?;
                Ok(Some(FieldValue::owned_any(role)))
            })
        })
        .argument(InputValue::new("input", TypeRef::named_nn(t::ROLE_INPUT))),
        Field::new(f::UPDATE_ROLE, TypeRef::named_nn(t::ROLE), |c| {
            admin_op!(c, |state, p, actor| {
                let (input, renames) = role_input(&c, false)?;
                let role = admin::update_role(state, p, &actor, &args::string(&c, "id")?, input)
                    .await
                    .map_err(|e| typed::rename_paths(e, &renames))?;
                Ok(Some(FieldValue::owned_any(role)))
            })
        })
        .argument(id_arg("id"))
        .argument(InputValue::new("input", TypeRef::named_nn(t::UPDATE_ROLE_INPUT))),
        Field::new(f::DELETE_ROLE, TypeRef::named_nn(TypeRef::BOOLEAN), |c| {
            admin_op!(c, |state, p, actor| {
                admin::delete_role(state, p, &actor, &args::string(&c, "id")?).await?;
                Ok(Some(Value::from(true)))
            })
        })
        .argument(id_arg("id")),
        Field::new(f::CREATE_API_KEY, TypeRef::named_nn(t::API_KEY_PAYLOAD), |c| {
            admin_op!(c, |state, p, actor| Ok(Some(FieldValue::owned_any(
                admin::create_api_key(
                    state,
                    p,
                    &actor,
                    &args::string(&c, "name")?,
                    &args::string(&c, "roleId")?
                )
                .await?
            ))))
        })
        .argument(string_arg("name"))
        .argument(id_arg("roleId"))
        .description("Creates an API key for `X-Api-Key`; the key is shown only in this response."),
        Field::new(f::RETRY_EMAIL, TypeRef::named_nn(t::EMAIL), |c| {
            admin_op!(c, |state, p, actor| Ok(Some(FieldValue::owned_any(
                admin::retry_email(state, p, &actor, &args::string(&c, "id")?).await?
            ))))
        })
        .argument(id_arg("id"))
        .description("Sends a dead or held email again."),
        Field::new(f::REVOKE_API_KEY, TypeRef::named_nn(t::API_KEY), |c| {
            admin_op!(c, |state, p, actor| Ok(Some(FieldValue::owned_any(
                admin::revoke_api_key(state, p, &actor, &args::string(&c, "id")?).await?
            ))))
        })
        .argument(id_arg("id")),
    ]
}

/// `revokeSessions(userId)`: administrators for anyone, everyone for themselves.
pub fn revoke_sessions() -> Field {
    Field::new(f::REVOKE_SESSIONS, TypeRef::named_nn(TypeRef::INT), |c| {
        FieldFuture::new(async move {
            let state = ctx::state(&c)?;
            let p = ctx::principal(&c)?;
            let user_id = args::string(&c, "userId")?;
            if user_id != p.user_id {
                ctx::require_admin(&c)?;
            }
            let n = admin::revoke_sessions(state, p, &ctx::actor(&c)?, &user_id).await?;
            Ok(Some(Value::from(n)))
        })
    })
    .argument(InputValue::new("userId", TypeRef::named_nn(TypeRef::ID)))
    .description("Ends every session of a user now (force logout); returns how many.")
}

/// The public `acceptInvite(token, password)`.
pub fn accept_invite() -> Field {
    Field::new(f::ACCEPT_INVITE, TypeRef::named_nn(t::AUTH_PAYLOAD), |c| {
        FieldFuture::new(async move {
            let token = args::string(&c, "token")?;
            ctx::attempt(&c, crate::rate::Action::AcceptInvite, &[&token]).await?;
            let payload =
                admin::accept_invite(ctx::state(&c)?, &token, &args::string(&c, "password")?).await?;
            Ok(Some(FieldValue::owned_any(payload)))
        })
    })
    .argument(InputValue::new("token", TypeRef::named_nn(TypeRef::STRING)))
    .argument(InputValue::new("password", TypeRef::named_nn(TypeRef::STRING)))
    .description("Accepts an invitation: sets the password and signs in.")
}

/// Users, roles, API keys, invitations, sessions and the audit log (administrators), with
/// `revokeSessions` for everyone's own and the public `acceptInvite`.
pub static FEATURE: Declared = Declared {
    public_mutations: || vec![accept_invite()],
    public_types: Vec::new,
    queries: &[(Slot::Admin, |_| queries())],
    mutations: &[(Slot::Lead, |_| vec![revoke_sessions()]), (Slot::Admin, |_| mutations())],
    subscriptions: |a| admin_only(a, || vec![live::audit_appended(), live::email_changed()]),
    types: |a| admin_types(a, types),
    ..Declared::EMPTY
};
