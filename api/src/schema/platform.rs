//! Platform types and operations present in every tenant's schema (shared/API.md § Platform
//! operations): users and tenants, the session operations, the entity definition operations
//! and `tenantSchemaSdl`. The public schema (no credential) carries only `signup`, `login`
//! and `refreshToken`.

use std::sync::Arc;

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, Type, TypeRef,
};
use entity::models::tenant;
use entity::runtime::definitions::Definitions;
use entity::runtime::definitions::input::{EntityInput, FieldInput, UpdateEntityInput, UpdateFieldInput};
use entity::runtime::meta::{EntityDef, TenantMeta};
use entity::runtime::naming::{EntityNames, fields as f, mentions, types as t};
use serde::de::DeserializeOwned;

use super::access::SchemaAccess;
use super::args::{self, arg_json};
use super::ctx;
use super::definition_docs::{
    ENTITY_LABELS_DOC, FIELD_JSON_DOCS, FORMULA_DOC, PERSONAL_DOC, ROLLUP_DOC, SEARCHABLE_DOC, SHOWN_DOC,
};
use super::definition_views::{EntityDefView, FieldDefView};
use super::feature::{Declared, Slot};
use super::lifecycle;
use super::values::{parent, s, sync_field, ts};
use super::{i18n, options};
use crate::auth::service::{self, AuthPayload, UserView};
use crate::error::{ApiError, gql};
use crate::rate::{self, Action};

/// The API version reported by `apiVersion`.
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Types of the public schema (also part of every tenant schema).
pub fn public_types() -> Vec<Type> {
    let string = || TypeRef::named_nn(TypeRef::STRING);
    vec![
        Object::new(t::USER)
            .field(sync_field::<UserView>("id", TypeRef::named_nn(TypeRef::ID), |u| s(&u.id)))
            .field(sync_field::<UserView>("email", string(), |u| s(&u.email)))
            .field(sync_field::<UserView>("name", TypeRef::named(TypeRef::STRING), |u| {
                u.name.as_deref().and_then(s)
            }))
            .field(sync_field::<UserView>("role", string(), |u| s(&u.role)))
            .field(crate::features::hierarchy::user_attributes_field())
            .field(
                sync_field::<UserView>("locale", TypeRef::named(TypeRef::STRING), |u| {
                    u.locale.as_deref().and_then(s)
                })
                .description("Preferred language, a BCP-47 tag (`en`, `hi-IN`)."),
            )
            .field(
                sync_field::<UserView>("timeZone", TypeRef::named(TypeRef::STRING), |u| {
                    u.time_zone.as_deref().and_then(s)
                })
                .description("Preferred IANA time zone."),
            )
            .field(
                sync_field::<UserView>("avatar", TypeRef::named(TypeRef::STRING), |u| {
                    u.avatar.as_deref().and_then(s)
                })
                .description("Picture URL."),
            )
            .field(
                sync_field::<UserView>("active", TypeRef::named_nn(TypeRef::BOOLEAN), |u| {
                    Some(Value::from(u.active))
                })
                .description("False while deactivated, or invited and not yet accepted."),
            )
            .field(
                sync_field::<UserView>("totpEnabled", TypeRef::named_nn(TypeRef::BOOLEAN), |u| {
                    Some(Value::from(u.totp_enabled))
                })
                .description("Sign-in asks for a TOTP (or recovery) code besides the password."),
            )
            .field(sync_field::<UserView>(
                "createdAt",
                TypeRef::named_nn(t::DATE_TIME),
                |u| ts(&u.created_at),
            ))
            .into(),
        Object::new(t::TENANT)
            .field(sync_field::<tenant::Model>("id", TypeRef::named_nn(TypeRef::ID), |x| s(&x.id)))
            .field(sync_field::<tenant::Model>("name", string(), |x| s(&x.name)))
            .field(sync_field::<tenant::Model>("slug", string(), |x| s(&x.slug)))
            .field(sync_field::<tenant::Model>("timeZone", string(), |x| s(&x.time_zone)))
            .field(
                sync_field::<tenant::Model>("defaultLanguage", TypeRef::named(TypeRef::STRING), |x| {
                    x.default_language.as_deref().and_then(s)
                })
                .description(
                    "The language labels fall back to when neither a request nor its user names one.",
                ),
            )
            .field(sync_field::<tenant::Model>("createdAt", TypeRef::named_nn(t::DATE_TIME), |x| {
                ts(&x.created_at)
            }))
            .into(),
        Object::new(t::AUTH_PAYLOAD)
            .field(sync_field::<AuthPayload>("accessToken", string(), |a| s(&a.access_token)))
            .field(sync_field::<AuthPayload>("refreshToken", string(), |a| s(&a.refresh_token)))
            .field(Field::new("user", TypeRef::named_nn(t::USER), |c| {
                FieldFuture::new(async move {
                    Ok(Some(FieldValue::owned_any(parent::<AuthPayload>(&c)?.user.clone())))
                })
            }))
            .field(Field::new("tenant", TypeRef::named_nn(t::TENANT), |c| {
                FieldFuture::new(async move {
                    Ok(Some(FieldValue::owned_any(parent::<AuthPayload>(&c)?.tenant.clone())))
                })
            }))
            .into(),
        InputObject::new(t::SIGNUP_INPUT)
            .field(InputValue::new("tenantName", string()))
            .field(InputValue::new("tenantSlug", string()))
            .field(InputValue::new("email", string()))
            .field(InputValue::new("password", string()))
            .field(InputValue::new("template", TypeRef::named(TypeRef::STRING)))
            .into(),
        InputObject::new(t::LOGIN_INPUT)
            .field(InputValue::new("tenant", string()))
            .field(InputValue::new("email", string()))
            .field(InputValue::new("password", string()))
            .field(InputValue::new("totpCode", TypeRef::named(TypeRef::STRING)).description(
                "A TOTP code of your authenticator app, or a recovery code: needed when two-factor sign-in \
                 is on (refused otherwise with UNAUTHENTICATED, `extensions.reason: totp_required`).",
            ))
            .into(),
    ]
}

/// Deserializes argument `name` into `T` (input objects of platform operations).
fn input<T: DeserializeOwned>(c: &ResolverContext<'_>, name: &str) -> async_graphql::Result<T> {
    let json = arg_json(c, name)?.unwrap_or(serde_json::Value::Null);
    serde_json::from_value(json).map_err(|e| ApiError::BadRequest(format!("{name}: {e}")).to_graphql())
}

/// Public mutations: signup, login, refreshToken (and the features' own, such as
/// `acceptInvite`). Each attempt is charged to the client address's budget for the account it
/// names (`rate`) before any work.
fn public_mutations() -> Vec<Field> {
    let payload = || TypeRef::named_nn(t::AUTH_PAYLOAD);
    vec![
        Field::new(f::SIGNUP, payload(), |c| {
            FieldFuture::new(async move {
                let i: service::SignupInput = input(&c, "input")?;
                let (slug, email) = (rate::account(&[&i.tenant_slug]), rate::account(&[&i.email]));
                ctx::attempt(&c, Action::Signup, &[&slug, &email]).await?;
                let p = service::signup(ctx::state(&c)?, i).await?;
                Ok(Some(FieldValue::owned_any(p)))
            })
        })
        .argument(InputValue::new("input", TypeRef::named_nn(t::SIGNUP_INPUT)))
        .description("Creates a tenant and its owner user, and signs in."),
        Field::new(f::LOGIN, payload(), |c| {
            FieldFuture::new(async move {
                let i: service::LoginInput = input(&c, "input")?;
                ctx::attempt(&c, Action::Login, &[&rate::account(&[&i.tenant, &i.email])]).await?;
                let p = service::login(ctx::state(&c)?, i).await?;
                Ok(Some(FieldValue::owned_any(p)))
            })
        })
        .argument(InputValue::new("input", TypeRef::named_nn(t::LOGIN_INPUT)))
        .description("Signs in to a tenant."),
        Field::new(f::REFRESH_TOKEN, payload(), |c| {
            FieldFuture::new(async move {
                let token = args::string(&c, "token")?;
                ctx::attempt(&c, Action::RefreshToken, &[&token]).await?;
                let p = service::refresh(ctx::state(&c)?, &token).await?;
                Ok(Some(FieldValue::owned_any(p)))
            })
        })
        .argument(InputValue::new("token", TypeRef::named_nn(TypeRef::STRING)))
        .description("Exchanges a refresh token for a new pair; the old refresh token stops working."),
    ]
}

/// `apiVersion`, the one query of the public schema (and of every tenant's).
pub fn api_version() -> Field {
    Field::new(f::API_VERSION, TypeRef::named_nn(TypeRef::STRING), |_| {
        FieldFuture::from_value(Some(Value::from(API_VERSION)))
    })
}

/// Definition types (`EntityDefinition`, `FieldDefinition`) and their inputs.
fn tenant_types() -> Vec<Type> {
    let string = || TypeRef::named_nn(TypeRef::STRING);
    let opt = || TypeRef::named(TypeRef::STRING);
    let boolean = || TypeRef::named_nn(TypeRef::BOOLEAN);
    let json = |v: &Option<serde_json::Value>| v.clone().and_then(|v| Value::from_json(v).ok());
    let entity = Object::new(t::ENTITY_DEFINITION)
        .field(sync_field::<EntityDefView>("id", TypeRef::named_nn(TypeRef::ID), |e| s(&e.def.id)))
        .field(sync_field::<EntityDefView>("nameSingular", string(), |e| s(&e.def.name_singular)))
        .field(sync_field::<EntityDefView>("namePlural", string(), |e| s(&e.def.name_plural)))
        .field(
            sync_field::<EntityDefView>("labelSingular", string(), |e| {
                s(&e.langs.member(&e.def.label_singular, e.def.labels.as_ref(), "singular"))
            })
            .description(SHOWN_DOC),
        )
        .field(
            sync_field::<EntityDefView>("labelPlural", string(), |e| {
                s(&e.langs.member(&e.def.label_plural, e.def.labels.as_ref(), "plural"))
            })
            .description(SHOWN_DOC),
        )
        .field(
            sync_field::<EntityDefView>("labels", TypeRef::named(t::JSON), |e| {
                e.def.labels.clone().and_then(|v| Value::from_json(v).ok())
            })
            .description(ENTITY_LABELS_DOC),
        )
        .field(sync_field::<EntityDefView>("icon", opt(), |e| e.def.icon.as_deref().and_then(s)))
        .field(sync_field::<EntityDefView>("recordNumberPrefix", opt(), |e| {
            e.def.record_number_prefix.as_deref().and_then(s)
        }))
        .field(sync_field::<EntityDefView>("typeName", string(), |e| {
            s(&EntityNames::new(&e.def.name_singular, &e.def.name_plural).type_name)
        }))
        .field(Field::new("fields", TypeRef::named_nn_list_nn(t::FIELD_DEFINITION), |c| {
            FieldFuture::new(async move {
                let e = parent::<EntityDefView>(&c)?;
                let views = e.def.fields.iter().map(|fd| FieldDefView {
                    def: fd.clone(),
                    related_entity: fd
                        .related_entity_id
                        .as_deref()
                        .and_then(|id| e.meta.entity_by_id(id))
                        .map(|t| t.name_singular.clone()),
                    langs: e.langs.clone(),
                    rollup: fd.rollup.as_ref().map(|r| r.public(&e.meta)),
                });
                Ok(Some(FieldValue::list(views.map(FieldValue::owned_any))))
            })
        }))
        .field(sync_field::<EntityDefView>("createdAt", TypeRef::named_nn(t::DATE_TIME), |e| {
            ts(&e.def.created_at)
        }))
        .field(sync_field::<EntityDefView>("updatedAt", TypeRef::named_nn(t::DATE_TIME), |e| {
            ts(&e.def.updated_at)
        }));
    let field = Object::new(t::FIELD_DEFINITION)
        .field(sync_field::<FieldDefView>("id", TypeRef::named_nn(TypeRef::ID), |x| s(&x.def.id)))
        .field(sync_field::<FieldDefView>("key", string(), |x| s(x.def.key.as_str())))
        .field(sync_field::<FieldDefView>("graphqlName", string(), |x| s(&x.def.graphql_name)))
        .field(
            sync_field::<FieldDefView>("label", string(), |x| {
                s(&x.langs.label(&x.def.label, x.def.labels.as_ref()))
            })
            .description(SHOWN_DOC),
        )
        .field(sync_field::<FieldDefView>("type", TypeRef::named_nn(t::FIELD_TYPE), |x| {
            Some(Value::Enum(async_graphql::Name::new(x.def.type_name())))
        }))
        .field(
            sync_field::<FieldDefView>("formula", TypeRef::named(t::JSON), |x| {
                let f = x.def.formula.as_ref()?;
                let source = serde_json::json!({"expression": f.expression, "resultType": x.def.ty.as_str()});
                Value::from_json(source).ok()
            })
            .description(FORMULA_DOC),
        )
        .field(sync_field::<FieldDefView>("required", boolean(), |x| Some(Value::from(x.def.required))))
        .field(sync_field::<FieldDefView>("unique", boolean(), |x| Some(Value::from(x.def.unique))))
        .field(sync_field::<FieldDefView>("indexed", boolean(), |x| Some(Value::from(x.def.indexed))))
        .field(
            sync_field::<FieldDefView>("personal", boolean(), |x| Some(Value::from(x.def.personal)))
                .description(PERSONAL_DOC),
        )
        .field(crate::features::hierarchy::definition_field())
        .field(
            sync_field::<FieldDefView>("searchable", boolean(), |x| Some(Value::from(x.def.searchable)))
                .description(SEARCHABLE_DOC),
        )
        .field(
            sync_field::<FieldDefView>(mentions::FLAG, boolean(), |x| Some(Value::from(x.def.mentions)))
                .description(mentions::FLAG_DOC),
        )
        .field(sync_field::<FieldDefView>("options", TypeRef::named_nn_list(TypeRef::STRING), |x| {
            (!x.def.options.is_empty())
                .then(|| Value::List(x.def.options.iter().cloned().map(Value::from).collect()))
        }))
        .field(options::choices(|c| {
            let x = parent::<FieldDefView>(c)?;
            Ok((x.def.clone(), x.langs.clone()))
        }))
        .field(
            Field::new("optionLabels", TypeRef::named(t::JSON), move |c| {
                FieldFuture::new(async move {
                    Ok(json(&parent::<FieldDefView>(&c)?.def.option_labels).map(FieldValue::value))
                })
            })
            .description(FIELD_JSON_DOCS[3].1),
        )
        .field(sync_field::<FieldDefView>("relatedEntity", opt(), |x| {
            x.related_entity.as_deref().and_then(s)
        }))
        .field(sync_field::<FieldDefView>("relationKind", TypeRef::named(t::RELATION_KIND), |x| {
            x.def.relation_kind.map(|k| Value::Enum(async_graphql::Name::new(k.as_str())))
        }))
        .field(
            Field::new("default", TypeRef::named(t::JSON), move |c| {
                FieldFuture::new(async move {
                    Ok(json(&parent::<FieldDefView>(&c)?.def.default).map(FieldValue::value))
                })
            })
            .description(FIELD_JSON_DOCS[0].1),
        )
        .field(
            Field::new("validation", TypeRef::named(t::JSON), |c| {
                FieldFuture::new(async move {
                    let v = serde_json::to_value(&parent::<FieldDefView>(&c)?.def.validation)?;
                    let empty = v.as_object().is_none_or(|o| o.is_empty());
                    Ok(if empty { None } else { Value::from_json(v).ok().map(FieldValue::value) })
                })
            })
            .description(FIELD_JSON_DOCS[1].1),
        )
        .field(
            Field::new("labels", TypeRef::named(t::JSON), move |c| {
                FieldFuture::new(async move {
                    Ok(json(&parent::<FieldDefView>(&c)?.def.labels).map(FieldValue::value))
                })
            })
            .description(FIELD_JSON_DOCS[2].1),
        )
        .field(lifecycle::definition_field())
        .field(
            Field::new("rollup", TypeRef::named(t::JSON), move |c| {
                FieldFuture::new(async move {
                    Ok(json(&parent::<FieldDefView>(&c)?.rollup).map(FieldValue::value))
                })
            })
            .description(ROLLUP_DOC),
        )
        .field(sync_field::<FieldDefView>("position", TypeRef::named_nn(TypeRef::INT), |x| {
            Some(Value::from(x.def.position))
        }));
    let field_input = |name: &str, create: bool| {
        let mut o = InputObject::new(name);
        if create {
            o = o
                .field(InputValue::new("key", string()))
                .field(InputValue::new("label", string()))
                .field(InputValue::new("type", TypeRef::named_nn(t::FIELD_TYPE)));
        } else {
            o = o.field(InputValue::new("label", opt()));
        }
        for b in ["required", "unique", "indexed"] {
            o = o.field(InputValue::new(b, TypeRef::named(TypeRef::BOOLEAN)));
        }
        o = o.field(InputValue::new("personal", TypeRef::named(TypeRef::BOOLEAN)).description(PERSONAL_DOC));
        o = o.field(crate::features::hierarchy::link_input());
        o = o.field(
            InputValue::new("searchable", TypeRef::named(TypeRef::BOOLEAN)).description(SEARCHABLE_DOC),
        );
        o = o.field(
            InputValue::new(mentions::FLAG, TypeRef::named(TypeRef::BOOLEAN)).description(mentions::FLAG_DOC),
        );
        o = o.field(InputValue::new("options", TypeRef::named_nn_list(TypeRef::STRING)));
        if create {
            o = o
                .field(InputValue::new("relatedEntity", opt()))
                .field(InputValue::new("relationKind", TypeRef::named(t::RELATION_KIND)));
        }
        // On `UpdateFieldInput` they change a FORMULA's expression or a ROLLUP's definition.
        o = o.field(InputValue::new("formula", TypeRef::named(t::JSON)).description(FORMULA_DOC));
        for (name, doc) in FIELD_JSON_DOCS {
            o = o.field(InputValue::new(name, TypeRef::named(t::JSON)).description(doc));
        }
        o = o.field(InputValue::new("rollup", TypeRef::named(t::JSON)).description(ROLLUP_DOC));
        o.field(lifecycle::input_member())
    };
    vec![
        entity.into(),
        field.into(),
        options::option_type(SHOWN_DOC).into(),
        InputObject::new(t::ENTITY_INPUT)
            .field(InputValue::new("nameSingular", string()))
            .field(InputValue::new("namePlural", string()))
            .field(InputValue::new("labelSingular", string()))
            .field(InputValue::new("labelPlural", string()))
            .field(InputValue::new("icon", opt()))
            .field(InputValue::new("recordNumberPrefix", opt()))
            .field(InputValue::new("labels", TypeRef::named(t::JSON)).description(ENTITY_LABELS_DOC))
            .field(InputValue::new("fields", TypeRef::named_nn_list(t::FIELD_INPUT)))
            .into(),
        InputObject::new(t::UPDATE_ENTITY_INPUT)
            .field(InputValue::new("labelSingular", opt()))
            .field(InputValue::new("labelPlural", opt()))
            .field(InputValue::new("icon", opt()))
            .field(InputValue::new("recordNumberPrefix", opt()))
            .field(InputValue::new("labels", TypeRef::named(t::JSON)).description(ENTITY_LABELS_DOC))
            .into(),
        field_input(t::FIELD_INPUT, true).into(),
        field_input(t::UPDATE_FIELD_INPUT, false).into(),
    ]
}

/// Tenant queries: `me`, `tenant`, `entities`, `entity`, `tenantSchemaSdl`. `entities` shows
/// administrators every definition and others what their role may read.
fn tenant_queries() -> Vec<Field> {
    vec![
        Field::new(f::ME, TypeRef::named_nn(t::USER), |c| {
            FieldFuture::new(async move {
                let p = ctx::principal(&c)?;
                let db = &ctx::state(&c)?.db;
                let users = service::users_by_id(db, &p.tenant_id, std::slice::from_ref(&p.user_id)).await?;
                let u = users
                    .into_iter()
                    .next()
                    .ok_or_else(|| ApiError::Unauthenticated("user no longer exists".into()))?;
                Ok(Some(FieldValue::owned_any(u)))
            })
        })
        .description("The signed-in user (for an API key: the user who created it)."),
        Field::new(f::TENANT, TypeRef::named_nn(t::TENANT), |c| {
            FieldFuture::new(async move {
                use sea_orm::EntityTrait;
                let p = ctx::principal(&c)?;
                let t = tenant::Entity::find_by_id(p.tenant_id.clone())
                    .one(&ctx::state(&c)?.db.conn)
                    .await
                    .map_err(ApiError::from)?
                    .ok_or_else(|| ApiError::NotFound("tenant".into()))?;
                Ok(Some(FieldValue::owned_any(t)))
            })
        })
        .description("The caller's tenant."),
        Field::new(f::ENTITIES, TypeRef::named_nn_list_nn(t::ENTITY_DEFINITION), |c| {
            FieldFuture::new(async move {
                let access = ctx::access(&c)?;
                let langs = i18n::languages(&c).await?;
                let views = shown_definitions(access).map(|def| EntityDefView {
                    def,
                    meta: access.meta.clone(),
                    langs: langs.clone(),
                });
                Ok(Some(FieldValue::list(views.map(FieldValue::owned_any).collect::<Vec<_>>())))
            })
        })
        .argument(i18n::lang_arg())
        .description("The tenant's entity definitions (as far as your role may read them)."),
        Field::new(f::ENTITY, TypeRef::named(t::ENTITY_DEFINITION), |c| {
            FieldFuture::new(async move {
                let name = args::string(&c, "name")?;
                let access = ctx::access(&c)?;
                let def = shown_definitions(access).find(|e| e.name_singular == name);
                let Some(def) = def else { return Ok(None) };
                let langs = i18n::languages(&c).await?;
                Ok(Some(FieldValue::owned_any(EntityDefView { def, meta: access.meta.clone(), langs })))
            })
        })
        .argument(InputValue::new("name", TypeRef::named_nn(TypeRef::STRING)))
        .argument(i18n::lang_arg())
        .description("One entity definition by `nameSingular`."),
        Field::new(f::TENANT_SCHEMA_SDL, TypeRef::named_nn(TypeRef::STRING), |c| {
            FieldFuture::new(async move { Ok(Some(Value::from(ctx::own_schema(&c)?.sdl()))) })
        })
        .description("Your schema (this tenant, your role) as SDL, for code generators."),
    ]
}

/// The definitions `entities` shows: every one to administrators, else the role's views.
fn shown_definitions(access: &SchemaAccess) -> Box<dyn Iterator<Item = Arc<EntityDef>> + '_> {
    if access.permissions.admin {
        Box::new(access.meta.entities.iter().cloned())
    } else {
        Box::new(access.entities.iter().map(|a| a.view.clone()))
    }
}

/// The definition of `name` after a change, from freshly loaded metadata.
async fn reloaded(c: &ResolverContext<'_>, name: &str) -> async_graphql::Result<Option<FieldValue<'static>>> {
    let state = ctx::state(c)?;
    let p = ctx::principal(c)?;
    let meta = Arc::new(TenantMeta::load_for(&state.db, &p.tenant_id).await.map_err(gql)?);
    let def =
        meta.entity_by_name(name).cloned().ok_or_else(|| ApiError::NotFound(format!("entity `{name}`")))?;
    let langs = i18n::languages(c).await?;
    Ok(Some(FieldValue::owned_any(EntityDefView { def, meta, langs })))
}

fn definitions<'a>(c: &'a ResolverContext<'_>) -> async_graphql::Result<Definitions<'a>> {
    ctx::require_admin(c)?;
    Ok(Definitions::new(&ctx::state(c)?.db, &ctx::principal(c)?.tenant_id).by(ctx::actor(c)?))
}

/// `logout`.
fn logout() -> Field {
    Field::new(f::LOGOUT, TypeRef::named_nn(TypeRef::BOOLEAN), |c| {
        FieldFuture::new(async move {
            service::logout(ctx::state(&c)?, ctx::principal(&c)?).await?;
            Ok(Some(Value::from(true)))
        })
    })
    .description("Revokes this session now: its access token stops working at once.")
}

/// The platform's part of every schema: sessions, users and tenants, and the entity definition
/// operations; first in every slot, ahead of the features.
pub static PLATFORM: Declared = Declared {
    public_mutations,
    queries: &[(Slot::Lead, |_| std::iter::once(api_version()).chain(tenant_queries()).collect())],
    mutations: &[(Slot::Lead, |_| vec![logout()]), (Slot::Admin, |_| definition_mutations())],
    types: |_| public_types().into_iter().chain(tenant_types()).chain(lifecycle::types()).collect(),
    ..Declared::EMPTY
};

/// `defineEntity`, `updateEntity`, `addField`, `updateField`, `removeField`, `deleteEntity`.
fn definition_mutations() -> Vec<Field> {
    let def_result = || TypeRef::named_nn(t::ENTITY_DEFINITION);
    let name_arg = |n: &str| InputValue::new(n, TypeRef::named_nn(TypeRef::STRING));
    vec![
        Field::new(f::DEFINE_ENTITY, def_result(), |c| {
            FieldFuture::new(async move {
                let i: EntityInput = input(&c, "input")?;
                definitions(&c)?.define_entity(&i).await.map_err(gql)?;
                reloaded(&c, &i.name_singular).await
            })
        })
        .argument(InputValue::new("input", TypeRef::named_nn(t::ENTITY_INPUT)))
        .description("Defines a new entity; its API exists from the next request on."),
        Field::new(f::UPDATE_ENTITY, def_result(), |c| {
            FieldFuture::new(async move {
                let name = args::string(&c, "name")?;
                let i: UpdateEntityInput = input(&c, "input")?;
                definitions(&c)?.update_entity(&name, &i).await.map_err(gql)?;
                reloaded(&c, &name).await
            })
        })
        .argument(name_arg("name"))
        .argument(InputValue::new("input", TypeRef::named_nn(t::UPDATE_ENTITY_INPUT))),
        Field::new(f::ADD_FIELD, def_result(), |c| {
            FieldFuture::new(async move {
                let entity = args::string(&c, "entity")?;
                let i: FieldInput = input(&c, "field")?;
                definitions(&c)?.add_field(&entity, &i).await.map_err(gql)?;
                reloaded(&c, &entity).await
            })
        })
        .argument(name_arg("entity"))
        .argument(InputValue::new("field", TypeRef::named_nn(t::FIELD_INPUT))),
        Field::new(f::UPDATE_FIELD, def_result(), |c| {
            FieldFuture::new(async move {
                let entity = args::string(&c, "entity")?;
                let key = args::string(&c, "key")?;
                let i: UpdateFieldInput = input(&c, "input")?;
                definitions(&c)?.update_field(&entity, &key, &i).await.map_err(gql)?;
                reloaded(&c, &entity).await
            })
        })
        .argument(name_arg("entity"))
        .argument(name_arg("key"))
        .argument(InputValue::new("input", TypeRef::named_nn(t::UPDATE_FIELD_INPUT))),
        Field::new(f::REMOVE_FIELD, def_result(), |c| {
            FieldFuture::new(async move {
                let entity = args::string(&c, "entity")?;
                let key = args::string(&c, "key")?;
                definitions(&c)?.remove_field(&entity, &key).await.map_err(gql)?;
                reloaded(&c, &entity).await
            })
        })
        .argument(name_arg("entity"))
        .argument(name_arg("key")),
        Field::new(f::DELETE_ENTITY, TypeRef::named_nn(TypeRef::BOOLEAN), |c| {
            FieldFuture::new(async move {
                let name = args::string(&c, "name")?;
                definitions(&c)?.delete_entity(&name).await.map_err(gql)?;
                Ok(Some(Value::from(true)))
            })
        })
        .argument(name_arg("name"))
        .description("Deletes an entity and all its records."),
    ]
}
