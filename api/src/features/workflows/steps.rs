//! The typed form of a workflow's definition (`typed`): `trigger: WorkflowTriggerInput`,
//! `condition`, `previousCondition` and `actions: [WorkflowActionInput!]` on `WorkflowInput`,
//! beside the `definition` JSON, which stays accepted as it is. Each trigger and action type
//! the engine knows (`entity::features::workflows::{Trigger, Action}`) is one member of a
//! `@oneOf` input with exactly that type's members; the typed form becomes the definition
//! document (`{trigger: {type, …}, condition?, previousCondition?, actions: [{type, …}]}`),
//! which `Definition::parse` parses and checks like any other. Its error paths (`trigger.cron`,
//! `actions[1].values.x`) are already the typed form's.

use async_graphql::dynamic::{InputValue, Type, TypeRef};
use entity::FieldError;
use entity::runtime::naming::ai::types as ai_t;
use entity::runtime::naming::types as t;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::schema::typed::{self, Form, Kind, Member, Shape, Union, opt, req};

const ENTITY: Member =
    req("entity", Kind::Text, "The `nameSingular` of the entity whose records it watches.");
const RECORD_TEXT: &str = "Text; may hold templates (`{{record.name}}`, `{{record.contact.email}}`, \
     `{{previous.stage}}`, `{{tenant.name}}`, `{{payload.x}}` for webhook triggers).";
const VALUES_DOC: &str = "The values to set, as a JSON object of field name (GraphQL name or key) → value \
     as the entity's create input takes it; strings may hold templates, e.g. `{\"stage\": \"Won\", \
     \"dueAt\": \"{{record.closesAt}}\"}`.";

/// What starts a workflow.
pub const TRIGGER: Union = Union {
    name: t::WORKFLOW_TRIGGER_INPUT,
    doc: "What starts a workflow: exactly one of these members.",
    shapes: &[
        Shape {
            field: "recordCreated",
            tag: "record_created",
            input: t::WORKFLOW_ENTITY_TRIGGER_INPUT,
            doc: "A record of the entity is created.",
            members: &[ENTITY],
        },
        Shape {
            field: "recordUpdated",
            tag: "record_updated",
            input: t::WORKFLOW_RECORD_UPDATED_TRIGGER_INPUT,
            doc: "A record is updated (only an update changing one of `fields`, when given).",
            members: &[ENTITY, opt("fields", Kind::Texts, "Fire only when one of these fields changes.")],
        },
        Shape {
            field: "fieldChanged",
            tag: "field_changed",
            input: t::WORKFLOW_FIELD_CHANGED_TRIGGER_INPUT,
            doc: "An update changes `field` (to `to`, when given).",
            members: &[
                ENTITY,
                req("field", Kind::Text, "The field (GraphQL name or key)."),
                opt(
                    "to",
                    Kind::Json,
                    "Fire only when the new value equals this JSON value, e.g. `\"Won\"` or `5`.",
                ),
            ],
        },
        Shape {
            field: "transitioned",
            tag: "transitioned",
            input: t::WORKFLOW_TRANSITIONED_TRIGGER_INPUT,
            doc: "An update moves a SELECT field from one value to another (from `from`, to `to`, when given), e.g. a lifecycle's transition.",
            members: &[
                ENTITY,
                req("field", Kind::Text, "The SELECT field (GraphQL name or key)."),
                opt("from", Kind::Text, "Fire only when the value before was this option."),
                opt("to", Kind::Text, "Fire only when the new value is this option."),
            ],
        },
        Shape {
            field: "recordDeleted",
            tag: "record_deleted",
            input: t::WORKFLOW_ENTITY_TRIGGER_INPUT,
            doc: "A record is deleted.",
            members: &[ENTITY],
        },
        Shape {
            field: "manual",
            tag: "manual",
            input: t::WORKFLOW_ENTITY_TRIGGER_INPUT,
            doc: "Only `runWorkflow(id, recordId)` starts it.",
            members: &[ENTITY],
        },
        Shape {
            field: "schedule",
            tag: "schedule",
            input: t::WORKFLOW_SCHEDULE_TRIGGER_INPUT,
            doc: "A cron schedule: at each fire time, one run per record matching the condition.",
            members: &[
                ENTITY,
                req("cron", Kind::Text, "Five cron fields, e.g. `0 9 * * MON-FRI`."),
                opt("timeZone", Kind::Text, "IANA time zone of the schedule (default: the tenant's)."),
            ],
        },
        Shape {
            field: "relativeDate",
            tag: "relative_date",
            input: t::WORKFLOW_RELATIVE_DATE_TRIGGER_INPUT,
            doc: "The moment a DATE_TIME field plus `offsetMinutes` passes, once per record and date value.",
            members: &[
                ENTITY,
                req("field", Kind::Text, "The DATE_TIME field."),
                opt("offsetMinutes", Kind::Int, "Minutes after the date (negative: before), at most a year."),
            ],
        },
        Shape {
            field: "webhook",
            tag: "webhook",
            input: t::WORKFLOW_WEBHOOK_TRIGGER_INPUT,
            doc: "An HMAC-signed `POST /hooks/workflows/{id}` about the record named by `recordId` in its body.",
            members: &[
                ENTITY,
                opt(
                    "matchField",
                    Kind::Text,
                    "A unique field whose value in the body names the record instead.",
                ),
                opt(
                    "secret",
                    Kind::Text,
                    "The signing secret (at least 24 characters; generated when absent).",
                ),
            ],
        },
        Shape {
            field: "stockBelowReorder",
            tag: "stock_below_reorder",
            input: t::WORKFLOW_ENTITY_TRIGGER_INPUT,
            doc: "A stock balance of one of the entity's items falls below the item's reorder level, once per crossing; runs on the item, with `{{payload.warehouseId}}`, `{{payload.onHand}}` and `{{payload.reorderLevel}}`.",
            members: &[ENTITY],
        },
    ],
};

/// One step of a workflow.
pub const ACTION: Union = Union {
    name: t::WORKFLOW_ACTION_INPUT,
    doc: "One step of a workflow: exactly one of these members.",
    shapes: &[
        Shape {
            field: "sendEmail",
            tag: "send_email",
            input: t::WORKFLOW_SEND_EMAIL_INPUT,
            doc: "Sends an email.",
            members: &[
                req("to", Kind::Text, RECORD_TEXT),
                req("subject", Kind::Text, RECORD_TEXT),
                req("body", Kind::Text, RECORD_TEXT),
            ],
        },
        Shape {
            field: "updateFields",
            tag: "update_fields",
            input: t::WORKFLOW_UPDATE_FIELDS_INPUT,
            doc: "Sets fields of the triggering record.",
            members: &[req("values", Kind::Json, VALUES_DOC)],
        },
        Shape {
            field: "createRecord",
            tag: "create_record",
            input: t::WORKFLOW_CREATE_RECORD_INPUT,
            doc: "Creates a record (e.g. a follow-up task).",
            members: &[
                req("entity", Kind::Text, "The `nameSingular` of the entity to create a record of."),
                req("values", Kind::Json, VALUES_DOC),
            ],
        },
        Shape {
            field: "notify",
            tag: "notify",
            input: t::WORKFLOW_NOTIFY_INPUT,
            doc: "Notifies users and/or everyone holding a role.",
            members: &[
                opt("users", Kind::Texts, "User ids or templates (`{{record.owner}}`)."),
                opt("role", Kind::Text, "A role's name: everyone holding it."),
                req("title", Kind::Text, RECORD_TEXT),
                opt("body", Kind::Text, RECORD_TEXT),
            ],
        },
        Shape {
            field: "assignOwner",
            tag: "assign_owner",
            input: t::WORKFLOW_ASSIGN_OWNER_INPUT,
            doc: "Makes a user the record's owner.",
            members: &[req("user", Kind::Text, "A user id or a template.")],
        },
        Shape {
            field: "callWebhook",
            tag: "call_webhook",
            input: t::WORKFLOW_CALL_WEBHOOK_INPUT,
            doc: "POSTs signed JSON to a URL; a non-2xx answer fails the step.",
            members: &[
                req("url", Kind::Text, "The URL (internal addresses are refused unless allowed)."),
                opt(
                    "body",
                    Kind::Json,
                    "Any JSON value to send (strings may hold templates), e.g. `{\"deal\": \"{{record.id}}\"}`; \
                     default: the workflow, run and record.",
                ),
            ],
        },
        Shape {
            field: "wait",
            tag: "wait",
            input: t::WORKFLOW_WAIT_INPUT,
            doc: "Pauses the run; the remaining actions run afterwards on the record as it is then.",
            members: &[req("seconds", Kind::Int, "How long, 1 second to 30 days.")],
        },
        Shape {
            field: "aiGenerate",
            tag: "ai_generate",
            input: ai_t::WORKFLOW_AI_GENERATE_INPUT,
            doc: "Asks the tenant's AI provider and writes the answer into a text field, or emails it \
                  (`to` and `subject`, without `field`).",
            members: &[
                req("prompt", Kind::Text, RECORD_TEXT),
                opt(
                    "field",
                    Kind::Text,
                    "The TEXT or TEXTAREA field (GraphQL name or key) the answer goes to.",
                ),
                opt("to", Kind::Text, RECORD_TEXT),
                opt("subject", Kind::Text, RECORD_TEXT),
            ],
        },
        Shape {
            field: "aiClassify",
            tag: "ai_classify",
            input: ai_t::WORKFLOW_AI_CLASSIFY_INPUT,
            doc: "Asks the tenant's AI provider to choose one option of a SELECT field and sets it; an \
                  answer that is not an option fails the step.",
            members: &[
                req("prompt", Kind::Text, RECORD_TEXT),
                req("field", Kind::Text, "The SELECT field (GraphQL name or key)."),
            ],
        },
    ],
};

/// The typed members of a workflow input.
const TYPED: &[&str] = &["trigger", "condition", "previousCondition", "actions"];

/// `WorkflowInput.definition`.
pub const DEFINITION_DOC: &str = "The definition as JSON: `{trigger: {type, entity, …}, condition?, \
     previousCondition?, actions: [{type, …}]}` (docs/workflows.md), e.g. `{\"trigger\": {\"type\": \
     \"record_created\", \"entity\": \"deal\"}, \"actions\": [{\"type\": \"assign_owner\", \"user\": \
     \"{{record.createdBy}}\"}]}`. Give this or the typed `trigger`, `condition`, `previousCondition` and \
     `actions`, not both.";
/// `Workflow.definition`.
pub const STORED_DOC: &str = "The definition as JSON: `{trigger: {type, entity, …}, condition?, \
     previousCondition?, actions: [{type, …}]}` (docs/workflows.md).";

fn condition_doc(of: &str) -> String {
    format!(
        "A filter {of} must match, as JSON in the entity's filter language (as its `…Filter` input), e.g. \
         `{{\"stage\": {{\"eq\": \"Won\"}}, \"amount\": {{\"gte\": \"1000\"}}}}`. Typed form, with `trigger` \
         and `actions`."
    )
}

/// The input types of the typed form.
pub fn types() -> Vec<Type> {
    TRIGGER.types().into_iter().chain(ACTION.types()).collect()
}

/// The members of `WorkflowInput` holding the definition, JSON and typed, documented.
pub fn input_fields() -> [InputValue; 5] {
    [
        InputValue::new("definition", TypeRef::named(t::JSON)).description(DEFINITION_DOC),
        InputValue::new("trigger", TypeRef::named(t::WORKFLOW_TRIGGER_INPUT))
            .description("What starts the workflow (typed form, with `actions`)."),
        InputValue::new("condition", TypeRef::named(t::JSON))
            .description(condition_doc("the record (after the change)")),
        InputValue::new("previousCondition", TypeRef::named(t::JSON))
            .description(condition_doc("the values before an update")),
        InputValue::new("actions", TypeRef::named_nn_list(t::WORKFLOW_ACTION_INPUT))
            .description("The steps, in order (typed form, with `trigger`)."),
    ]
}

/// The definition JSON of `input` (a workflow input as JSON) — `definition` as given, or the
/// document its typed members describe — with the renames of its error paths.
pub fn definition(input: &Map<String, Value>) -> Result<(Value, typed::Renames), ApiError> {
    if typed::form(input, "definition", TYPED, true)? == Form::Json {
        return Ok((input.get("definition").cloned().unwrap_or_default(), Vec::new()));
    }
    let given = |k: &str| input.get(k).filter(|v| !v.is_null());
    let (mut doc, mut errors) = (Map::new(), Vec::new());
    match given("trigger") {
        Some(v) => match TRIGGER.to_json(v, "trigger") {
            Ok(trigger) => {
                doc.insert("trigger".into(), trigger);
            }
            Err(e) => errors.push(e),
        },
        None => errors.push(FieldError::new("trigger", "is required with the typed form")),
    }
    for key in ["condition", "previousCondition"] {
        if let Some(v) = given(key) {
            doc.insert(key.into(), v.clone());
        }
    }
    match given("actions").and_then(Value::as_array) {
        Some(items) => {
            doc.insert("actions".into(), ACTION.list_to_json(items, "actions", &mut errors));
        }
        None => errors.push(FieldError::new("actions", "is required with the typed form")),
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    // What the definition parser cannot read is reported on `definition`. Of the typed form,
    // only an action's open or unsigned members can fail there (`values` not an object, a
    // negative `seconds`): name the actions.
    Ok((Value::Object(doc), vec![("definition".into(), "actions".into())]))
}
