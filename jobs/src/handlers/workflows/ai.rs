//! Workflows' AI actions: `ai_generate` and `ai_classify` ask the tenant's model through the
//! gateway (`crate::ai`), outside any transaction, and become the database action their
//! answer stands for — `update_fields` on the record, or `send_email` with the answer as the
//! body — which then runs as every other step does (its effects, log row and progress in one
//! transaction). A classification the SELECT field does not offer fails the step.

use entity::features::workflows::{self as wf, Action};
use entity::runtime::audit::Actor;
use entity::runtime::meta::EntityDef;
use serde_json::{Map, Value};

use super::scope::TemplateScope;
use crate::ai::{self, Ask};
use crate::context::JobContext;
use crate::error::JobError;

const GENERATE: &str = "You write text for a business application. Answer with the text asked for only.";

/// What `action` stands for once the model has answered; `None` for an action that asks no model.
pub(super) async fn concrete(
    ctx: &JobContext,
    tenant_id: &str,
    entity: &EntityDef,
    scope: &TemplateScope<'_>,
    actor: &Actor,
    action: &Action,
) -> Result<Option<Action>, JobError> {
    let ask = |system: &'static str, prompt: String| async move {
        let ask = Ask { tenant_id, actor, feature: "workflow", system, prompt: &prompt, personal: &[] };
        ai::complete(&ctx.db, &ctx.webhook_allow, &ask).await.map(|a| a.text.trim().to_owned())
    };
    match action {
        Action::AiGenerate { prompt, field: Some(field), .. } => {
            let f = wf::field_of(entity, field)
                .ok_or_else(|| JobError::permanent(format!("no field `{field}`")))?;
            let text = ask(GENERATE, scope.render(prompt)).await?;
            let values = Map::from_iter([(f.graphql_name.clone(), Value::String(text))]);
            Ok(Some(Action::UpdateFields { values }))
        }
        Action::AiGenerate { prompt, to, subject, .. } => {
            let body = ask(GENERATE, scope.render(prompt)).await?;
            let (to, subject) = (to.clone().unwrap_or_default(), subject.clone().unwrap_or_default());
            Ok(Some(Action::SendEmail { to, subject, body }))
        }
        Action::AiClassify { prompt, field } => {
            let f = wf::field_of(entity, field)
                .ok_or_else(|| JobError::permanent(format!("no field `{field}`")))?;
            let system = format!(
                "You classify records of a business application. Answer with exactly one of these options \
                 and nothing else: {}",
                f.options.join(", ")
            );
            let prompt = format!("{system}\n\n{}", scope.render(prompt));
            let answer = ask("Answer with one of the options given, nothing else.", prompt).await?;
            let said = answer.trim_end_matches('.').trim();
            let option = f.options.iter().find(|o| o.eq_ignore_ascii_case(said)).ok_or_else(|| {
                JobError::permanent(format!(
                    "the model answered `{said}`, which is not an option of `{field}` ({})",
                    f.options.join(", ")
                ))
            })?;
            let values = Map::from_iter([(f.graphql_name.clone(), Value::String(option.clone()))]);
            Ok(Some(Action::UpdateFields { values }))
        }
        _ => Ok(None),
    }
}
