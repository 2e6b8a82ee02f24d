//! The values a workflow action's templates read (`{{record.title}}`, `{{previous.stage}}`,
//! `{{record.contact.name}}`, `{{tenant.name}}`, `{{payload.…}}`) and the rendering of an
//! action's strings, field values and JSON bodies with them.

use std::collections::HashMap;

use entity::features::workflows::{self as wf, Action};
use entity::runtime::meta::{EntityDef, FieldType};
use entity::runtime::record::Record;
use serde_json::{Map, Value};

/// Values templates can use: `record.*`, `previous.*`, `tenant.name`, and one relation hop.
pub(super) struct TemplateScope<'a> {
    pub(super) entity: &'a EntityDef,
    pub(super) record: &'a Record,
    pub(super) previous: Option<&'a Map<String, Value>>,
    pub(super) tenant_name: String,
    /// Related records by relation field name, loaded for the paths the templates use.
    pub(super) related: HashMap<String, (EntityDef, Record)>,
    /// The body of an inbound webhook.
    pub(super) payload: Option<&'a Value>,
}

impl TemplateScope<'_> {
    fn lookup(&self, path: &str) -> Option<String> {
        let parts: Vec<&str> = path.split('.').collect();
        match parts.as_slice() {
            ["tenant", "name"] => Some(self.tenant_name.clone()),
            ["record", field] => wf::field_text(self.entity, self.record, field),
            ["previous", field] => {
                let prev = Record { data: self.previous?.clone().into(), ..self.record.clone() };
                wf::field_text(self.entity, &prev, field)
            }
            ["record", relation, field] => {
                let (e, r) = self.related.get(*relation)?;
                wf::field_text(e, r, field)
            }
            ["payload", rest @ ..] => {
                let v = rest.iter().try_fold(self.payload?, |v, k| match v {
                    Value::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get(i)),
                    _ => v.get(*k),
                })?;
                Some(wf::text_of(v))
            }
            _ => None,
        }
    }

    pub(super) fn render(&self, template: &str) -> String {
        wf::render(template, |p| self.lookup(p))
    }

    /// Renders the string values of a map (other values pass through).
    pub(super) fn render_values(&self, values: &Map<String, Value>) -> Map<String, Value> {
        values
            .iter()
            .map(|(k, v)| {
                (k.clone(), v.as_str().map(|s| Value::String(self.render(s))).unwrap_or_else(|| v.clone()))
            })
            .collect()
    }
}

/// The strings of an action that may hold templates.
pub(super) fn templates(a: &Action) -> Vec<String> {
    let values =
        |m: &Map<String, Value>| m.values().filter_map(Value::as_str).map(str::to_owned).collect::<Vec<_>>();
    match a {
        Action::SendEmail { to, subject, body } => vec![to.clone(), subject.clone(), body.clone()],
        Action::UpdateFields { values: v } | Action::CreateRecord { values: v, .. } => values(v),
        Action::Notify { users, title, body, .. } => {
            users.iter().cloned().chain([title.clone()]).chain(body.clone()).collect()
        }
        Action::AssignOwner { user } => vec![user.clone()],
        Action::CallWebhook { url, .. } => vec![url.clone()],
        Action::Wait { .. } | Action::SubmitForApproval { .. } => Vec::new(),
        Action::AiGenerate { prompt, to, subject, .. } => {
            [prompt.clone()].into_iter().chain(to.clone()).chain(subject.clone()).collect()
        }
        Action::AiClassify { prompt, .. } => vec![prompt.clone()],
    }
}

/// Rendered templates are text: a NUMBER or BOOLEAN field gets the number or boolean the text
/// spells (`"{{record.quantity}}"` → `40`), so a template can copy such a value across.
pub(super) fn typed(e: &EntityDef, mut values: Map<String, Value>) -> Map<String, Value> {
    for (k, v) in values.iter_mut() {
        let (Some(f), Value::String(text)) = (e.field_by_graphql(k), &*v) else { continue };
        let t = text.trim();
        let parsed = match f.ty {
            FieldType::Number => t.parse::<f64>().ok().map(Value::from),
            FieldType::Boolean => match t {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => None,
            },
            _ => None,
        };
        if let Some(p) = parsed {
            *v = p;
        } else if t.is_empty() && f.ty != FieldType::Text {
            // An empty rendering (a value the record lacks) clears the field.
            *v = Value::Null;
        }
    }
    values
}

/// Renders the string leaves of a JSON body.
pub(super) fn render_json(scope: &TemplateScope<'_>, v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(scope.render(s)),
        Value::Array(a) => Value::Array(a.iter().map(|x| render_json(scope, x)).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| (k.clone(), render_json(scope, x))).collect())
        }
        other => other.clone(),
    }
}
