//! The options of a SELECT / MULTI_SELECT field as definitions show them (`FieldDefinition.
//! choices: [FieldOption!]!`): each stored value with its label in the request's language
//! (`entity::runtime::i18n`) and its translations.

use std::sync::Arc;

use async_graphql::Value;
use async_graphql::dynamic::{Field, FieldFuture, FieldValue, Object, ResolverContext, TypeRef};
use entity::runtime::i18n::Languages;
use entity::runtime::meta::FieldDef;
use entity::runtime::naming::types as t;

use super::values::{s, sync_field};

/// One option, with the languages its label is shown in.
#[derive(Clone)]
struct FieldOptionView {
    value: String,
    labels: Option<serde_json::Value>,
    langs: Arc<Languages>,
}

/// `FieldOption`; `shown_doc` describes a label shown in the request's language.
pub fn option_type(shown_doc: &'static str) -> Object {
    Object::new(t::FIELD_OPTION)
        .description("One option of a SELECT / MULTI_SELECT field.")
        .field(
            sync_field::<FieldOptionView>("value", TypeRef::named_nn(TypeRef::STRING), |o| s(&o.value))
                .description("The stored value (what records hold and filters compare)."),
        )
        .field(
            sync_field::<FieldOptionView>("label", TypeRef::named_nn(TypeRef::STRING), |o| {
                s(&o.langs.label(&o.value, o.labels.as_ref()))
            })
            .description(shown_doc),
        )
        .field(
            sync_field::<FieldOptionView>("labels", TypeRef::named(t::JSON), |o| {
                o.labels.clone().and_then(|v| Value::from_json(v).ok())
            })
            .description("Its translations: language code → label."),
        )
}

/// The field of this view of a definition.
type FieldOf = fn(&ResolverContext<'_>) -> async_graphql::Result<(FieldDef, Arc<Languages>)>;

/// `choices` of a definition whose field and languages `of` reads from the parent.
pub fn choices(of: FieldOf) -> Field {
    Field::new("choices", TypeRef::named_nn_list_nn(t::FIELD_OPTION), move |c| {
        FieldFuture::new(async move {
            let (def, langs) = of(&c)?;
            let labels = def.option_labels.as_ref();
            let views = def.options.iter().map(|o| FieldOptionView {
                value: o.clone(),
                labels: labels.and_then(|l| l.get(o)).cloned(),
                langs: langs.clone(),
            });
            Ok(Some(FieldValue::list(views.map(FieldValue::owned_any).collect::<Vec<_>>())))
        })
    })
    .description("SELECT / MULTI_SELECT: the options with their labels in the request's language.")
}
