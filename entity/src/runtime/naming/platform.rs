//! The platform's own GraphQL names: its type names (`types`) and root fields (`fields`), and
//! the sets of both that a tenant's generated names may not take.

use std::collections::BTreeSet;

/// Platform object, input, enum and scalar names: no entity may generate one of these.
pub mod types {
    pub const QUERY: &str = "Query";
    pub const MUTATION: &str = "Mutation";
    pub const SUBSCRIPTION: &str = "Subscription";
    pub const USER: &str = "User";
    pub const TENANT: &str = "Tenant";
    pub const AUTH_PAYLOAD: &str = "AuthPayload";
    pub const ENTITY_DEFINITION: &str = "EntityDefinition";
    pub const FIELD_DEFINITION: &str = "FieldDefinition";
    pub const ENTITY_INPUT: &str = "EntityInput";
    pub const UPDATE_ENTITY_INPUT: &str = "UpdateEntityInput";
    pub const FIELD_INPUT: &str = "FieldInput";
    pub const UPDATE_FIELD_INPUT: &str = "UpdateFieldInput";
    pub const FIELD_LIFECYCLE: &str = "FieldLifecycle";
    pub const FIELD_TRANSITION: &str = "FieldTransition";
    pub const FIELD_LIFECYCLE_INPUT: &str = "FieldLifecycleInput";
    pub const FIELD_TRANSITION_INPUT: &str = "FieldTransitionInput";
    pub const SIGNUP_INPUT: &str = "SignupInput";
    pub const LOGIN_INPUT: &str = "LoginInput";
    pub const FIELD_TYPE: &str = "FieldType";
    pub const RELATION_KIND: &str = "RelationKind";
    pub const CHANGE_KIND: &str = "ChangeKind";
    pub const ORDER_DIRECTION: &str = "OrderDirection";
    pub const DATE_BUCKET: &str = "DateBucket";
    pub const PAGE_INFO: &str = "PageInfo";
    pub const FILE: &str = "File";
    pub const FILE_INPUT: &str = "FileInput";
    pub const JSON: &str = "JSON";
    pub const DATE_TIME: &str = "DateTime";
    pub const DATE: &str = "Date";
    pub const DECIMAL: &str = "Decimal";
    pub const STRING_FILTER: &str = "StringFilter";
    pub const FLOAT_FILTER: &str = "FloatFilter";
    pub const DECIMAL_FILTER: &str = "DecimalFilter";
    pub const DATE_FILTER: &str = "DateFilter";
    pub const DATE_TIME_FILTER: &str = "DateTimeFilter";
    pub const BOOLEAN_FILTER: &str = "BooleanFilter";
    pub const SELECT_FILTER: &str = "SelectFilter";
    pub const MULTI_SELECT_FILTER: &str = "MultiSelectFilter";
    pub const ID_FILTER: &str = "IdFilter";
    pub const ROLE: &str = "Role";
    pub const ROLE_INPUT: &str = "RoleInput";
    pub const UPDATE_ROLE_INPUT: &str = "UpdateRoleInput";
    pub const INVITE: &str = "Invite";
    pub const API_KEY: &str = "ApiKey";
    pub const API_KEY_PAYLOAD: &str = "ApiKeyPayload";
    pub const AUDIT_ENTRY: &str = "AuditEntry";
    pub const AUDIT_CONNECTION: &str = "AuditConnection";
    pub const AUDIT_EDGE: &str = "AuditEdge";
    pub const AUDIT_FILTER: &str = "AuditFilter";
    pub const AUDIT_VERIFICATION: &str = "AuditVerification";
    pub const NOTIFICATION: &str = "Notification";
    pub const SEND_NOTIFICATION_INPUT: &str = "SendNotificationInput";
    pub const EMAIL: &str = "Email";
    pub const WORKFLOW: &str = "Workflow";
    pub const WORKFLOW_INPUT: &str = "WorkflowInput";
    pub const WORKFLOW_RUN: &str = "WorkflowRun";
    pub const WORKFLOW_STEP: &str = "WorkflowStep";
    pub const WEBHOOK: &str = "Webhook";
    pub const WEBHOOK_INPUT: &str = "WebhookInput";
    pub const WEBHOOK_PAYLOAD: &str = "WebhookPayload";
    pub const WEBHOOK_DELIVERY: &str = "WebhookDelivery";
    pub const APPROVAL_STATE: &str = "ApprovalState";
    pub const APPROVAL_ACTION: &str = "ApprovalAction";
    pub const APPROVAL_STAGE: &str = "ApprovalStage";
    pub const APPROVAL_STAGE_INPUT: &str = "ApprovalStageInput";
    pub const APPROVAL_POLICY: &str = "ApprovalPolicy";
    pub const APPROVAL_POLICY_INPUT: &str = "ApprovalPolicyInput";
    pub const APPROVAL_REQUEST: &str = "ApprovalRequest";
    pub const APPROVAL_DECISION: &str = "ApprovalDecision";
    pub const DEAD_JOB: &str = "DeadJob";
    pub const DEAD_JOB_KIND: &str = "DeadJobKind";
    pub const TEMPLATE: &str = "Template";
    pub const TEMPLATE_APPLICATION: &str = "TemplateApplication";
    pub const DASHBOARD: &str = "Dashboard";
    pub const DASHBOARD_WIDGET: &str = "DashboardWidget";
    pub const DASHBOARD_INPUT: &str = "DashboardInput";
    pub const UPDATE_TENANT_INPUT: &str = "UpdateTenantInput";
    pub const PERMISSION_RULE_INPUT: &str = "PermissionRuleInput";
    pub const FIELD_PERMISSION_INPUT: &str = "FieldPermissionInput";
    pub const PERMISSION_ACTION: &str = "PermissionAction";
    pub const PERMISSION_SCOPE: &str = "PermissionScope";
    pub const FIELD_ACCESS: &str = "FieldAccess";
    pub const WORKFLOW_TRIGGER_INPUT: &str = "WorkflowTriggerInput";
    pub const WORKFLOW_ENTITY_TRIGGER_INPUT: &str = "WorkflowEntityTriggerInput";
    pub const WORKFLOW_RECORD_UPDATED_TRIGGER_INPUT: &str = "WorkflowRecordUpdatedTriggerInput";
    pub const WORKFLOW_FIELD_CHANGED_TRIGGER_INPUT: &str = "WorkflowFieldChangedTriggerInput";
    pub const WORKFLOW_TRANSITIONED_TRIGGER_INPUT: &str = "WorkflowTransitionedTriggerInput";
    pub const WORKFLOW_SCHEDULE_TRIGGER_INPUT: &str = "WorkflowScheduleTriggerInput";
    pub const WORKFLOW_RELATIVE_DATE_TRIGGER_INPUT: &str = "WorkflowRelativeDateTriggerInput";
    pub const WORKFLOW_WEBHOOK_TRIGGER_INPUT: &str = "WorkflowWebhookTriggerInput";
    pub const WORKFLOW_ACTION_INPUT: &str = "WorkflowActionInput";
    pub const WORKFLOW_SEND_EMAIL_INPUT: &str = "WorkflowSendEmailInput";
    pub const WORKFLOW_UPDATE_FIELDS_INPUT: &str = "WorkflowUpdateFieldsInput";
    pub const WORKFLOW_CREATE_RECORD_INPUT: &str = "WorkflowCreateRecordInput";
    pub const WORKFLOW_NOTIFY_INPUT: &str = "WorkflowNotifyInput";
    pub const WORKFLOW_ASSIGN_OWNER_INPUT: &str = "WorkflowAssignOwnerInput";
    pub const WORKFLOW_CALL_WEBHOOK_INPUT: &str = "WorkflowCallWebhookInput";
    pub const WORKFLOW_WAIT_INPUT: &str = "WorkflowWaitInput";
    pub const DASHBOARD_WIDGET_INPUT: &str = "DashboardWidgetInput";
    pub const METRIC_WIDGET_INPUT: &str = "MetricWidgetInput";
    pub const CHART_WIDGET_INPUT: &str = "ChartWidgetInput";
    pub const RECENT_WIDGET_INPUT: &str = "RecentWidgetInput";
    pub const RECENT_WIDGET_ORDER_INPUT: &str = "RecentWidgetOrderInput";
    pub const PIPELINE_WIDGET_INPUT: &str = "PipelineWidgetInput";
    pub const WIDGET_FUNCTION: &str = "WidgetFunction";
    pub const WIDGET_PERIOD: &str = "WidgetPeriod";
    pub const WIDGET_POSITION: &str = "WidgetPosition";
    pub const WIDGET_POSITION_INPUT: &str = "WidgetPositionInput";
    pub const WIDGET_CHART_TYPE: &str = "WidgetChartType";
    pub const WIDGET_LAYOUT_INPUT: &str = "WidgetLayoutInput";
    pub const FIELD_OPTION: &str = "FieldOption";
    pub const LEAD_CONVERSION: &str = "LeadConversion";
    pub const TEMPLATE_UPGRADE: &str = "TemplateUpgrade";
    pub const TEMPLATE_CHANGE: &str = "TemplateChange";
    pub const UPDATE_PROFILE_INPUT: &str = "UpdateProfileInput";
    pub const MODULE: &str = "Module";
    pub const MODULE_INPUT: &str = "ModuleInput";
    pub const TOTP_ENROLLMENT: &str = "TotpEnrollment";
    pub const EXPORT_JOB: &str = "ExportJob";
    pub const EXPORT_FORMAT: &str = "ExportFormat";
    pub const OIDC_PROVIDER: &str = "OidcProvider";
    pub const CONFIGURE_OIDC_PROVIDER_INPUT: &str = "ConfigureOidcProviderInput";
    pub const OIDC_LOGIN_START: &str = "OidcLoginStart";
    pub const ATTACHMENT: &str = "Attachment";
    /// The GraphQL multipart request spec's scalar (`api::schema::upload`).
    pub const UPLOAD: &str = "Upload";
    pub const UPDATE_MODULE_INPUT: &str = "UpdateModuleInput";
    pub const PERSONAL_DATA_SUBJECT: &str = "PersonalDataSubject";
    pub const PERSONAL_DATA_ERASURE: &str = "PersonalDataErasure";
    pub const TENANT_DELETION: &str = "TenantDeletion";
    pub const SEARCH_HIT: &str = "SearchHit";
    pub const IMPORT: &str = "Import";
    pub const IMPORT_STATUS: &str = "ImportStatus";
    pub const IMPORT_COLUMN: &str = "ImportColumn";
    pub const IMPORT_COLUMN_INPUT: &str = "ImportColumnInput";
    pub const IMPORT_ERROR: &str = "ImportError";
    pub const IMPORT_ERROR_EDGE: &str = "ImportErrorEdge";
    pub const IMPORT_ERROR_CONNECTION: &str = "ImportErrorConnection";
    pub const IMPORT_EDGE: &str = "ImportEdge";
    pub const IMPORT_CONNECTION: &str = "ImportConnection";
    /// Names the later platform modules (roles, audit, workflows, dashboards…) will use: kept
    /// reserved now so no tenant entity can take them first.
    pub const RESERVED_FUTURE: &[&str] = &["TemplateInput", "Aggregate"];
    /// GraphQL's own scalars and introspection types.
    pub const BUILTIN: &[&str] = &["String", "Int", "Float", "Boolean", "ID"];
}

/// Values of `ChangeKind` beyond a stored change's own (`record::ChangeKind::as_str`): what an
/// update means to one subscriber's list.
pub mod change_kinds {
    /// The record no longer matches the subscriber's filter or row rule (it may leave the list).
    pub const LEFT: &str = "LEFT";
    /// The record matches the subscriber's filter and row rule now, and did not before.
    pub const ENTERED: &str = "ENTERED";
}

/// Platform root fields: no entity may generate a root field with one of these names.
pub mod fields {
    pub const API_VERSION: &str = "apiVersion";
    pub const SIGNUP: &str = "signup";
    pub const LOGIN: &str = "login";
    pub const REFRESH_TOKEN: &str = "refreshToken";
    pub const ACCEPT_INVITE: &str = "acceptInvite";
    pub const ME: &str = "me";
    pub const TENANT: &str = "tenant";
    pub const LOGOUT: &str = "logout";
    pub const REVOKE_SESSIONS: &str = "revokeSessions";
    pub const ENTITIES: &str = "entities";
    pub const ENTITY: &str = "entity";
    pub const DEFINE_ENTITY: &str = "defineEntity";
    pub const UPDATE_ENTITY: &str = "updateEntity";
    pub const ADD_FIELD: &str = "addField";
    pub const UPDATE_FIELD: &str = "updateField";
    pub const REMOVE_FIELD: &str = "removeField";
    pub const DELETE_ENTITY: &str = "deleteEntity";
    pub const TENANT_SCHEMA_SDL: &str = "tenantSchemaSdl";
    pub const USERS: &str = "users";
    pub const INVITE_USER: &str = "inviteUser";
    pub const ASSIGN_ROLE: &str = "assignRole";
    pub const ROLES: &str = "roles";
    pub const CREATE_ROLE: &str = "createRole";
    pub const UPDATE_ROLE: &str = "updateRole";
    pub const DELETE_ROLE: &str = "deleteRole";
    pub const API_KEYS: &str = "apiKeys";
    pub const CREATE_API_KEY: &str = "createApiKey";
    pub const REVOKE_API_KEY: &str = "revokeApiKey";
    pub const AUDIT_LOG: &str = "auditLog";
    pub const VERIFY_AUDIT_CHAIN: &str = "verifyAuditChain";
    pub const NOTIFICATIONS: &str = "notifications";
    pub const UNREAD_NOTIFICATION_COUNT: &str = "unreadNotificationCount";
    pub const MARK_NOTIFICATIONS_READ: &str = "markNotificationsRead";
    pub const SEND_NOTIFICATION: &str = "sendNotification";
    pub const NOTIFICATION_RECEIVED: &str = "notificationReceived";
    pub const EMAILS: &str = "emails";
    pub const RETRY_EMAIL: &str = "retryEmail";
    pub const WORKFLOWS: &str = "workflows";
    pub const WORKFLOW_RUNS: &str = "workflowRuns";
    pub const WORKFLOW_RUN_CHANGED: &str = "workflowRunChanged";
    pub const AUDIT_APPENDED: &str = "auditAppended";
    pub const EMAIL_CHANGED: &str = "emailChanged";
    pub const WEBHOOK_DELIVERY_CHANGED: &str = "webhookDeliveryChanged";
    pub const DEAD_JOB_ADDED: &str = "deadJobAdded";
    pub const DASHBOARD_CHANGED: &str = "dashboardChanged";
    pub const CREATE_WORKFLOW: &str = "createWorkflow";
    pub const UPDATE_WORKFLOW: &str = "updateWorkflow";
    pub const SET_WORKFLOW_ACTIVE: &str = "setWorkflowActive";
    pub const DELETE_WORKFLOW: &str = "deleteWorkflow";
    pub const RUN_WORKFLOW: &str = "runWorkflow";
    pub const WEBHOOKS: &str = "webhooks";
    pub const WEBHOOK_DELIVERIES: &str = "webhookDeliveries";
    pub const CREATE_WEBHOOK: &str = "createWebhook";
    pub const DELETE_WEBHOOK: &str = "deleteWebhook";
    pub const ROTATE_WEBHOOK_SECRET: &str = "rotateWebhookSecret";
    pub const ROTATE_WORKFLOW_SECRET: &str = "rotateWorkflowSecret";
    pub const APPROVAL_POLICIES: &str = "approvalPolicies";
    pub const APPROVAL_REQUESTS: &str = "approvalRequests";
    pub const APPROVAL_REQUEST_CHANGED: &str = "approvalRequestChanged";
    pub const APPROVAL_REQUEST: &str = "approvalRequest";
    pub const CREATE_APPROVAL_POLICY: &str = "createApprovalPolicy";
    pub const UPDATE_APPROVAL_POLICY: &str = "updateApprovalPolicy";
    pub const DELETE_APPROVAL_POLICY: &str = "deleteApprovalPolicy";
    pub const SUBMIT_FOR_APPROVAL: &str = "submitForApproval";
    pub const DECIDE_APPROVAL: &str = "decideApproval";
    pub const DEAD_JOBS: &str = "deadJobs";
    pub const RETRY_DEAD_JOB: &str = "retryDeadJob";
    pub const TEMPLATES: &str = "templates";
    pub const APPLY_TEMPLATE: &str = "applyTemplate";
    pub const DASHBOARDS: &str = "dashboards";
    pub const DASHBOARD: &str = "dashboard";
    pub const CREATE_DASHBOARD: &str = "createDashboard";
    pub const UPDATE_DASHBOARD: &str = "updateDashboard";
    pub const UPDATE_DASHBOARD_LAYOUT: &str = "updateDashboardLayout";
    pub const DELETE_DASHBOARD: &str = "deleteDashboard";
    pub const UPDATE_TENANT: &str = "updateTenant";
    pub const MOVE_DEAL: &str = "moveDeal";
    pub const CONVERT_LEAD: &str = "convertLead";
    pub const UPGRADE_TEMPLATE: &str = "upgradeTemplate";
    pub const UPDATE_PROFILE: &str = "updateProfile";
    pub const CHANGE_PASSWORD: &str = "changePassword";
    pub const DEACTIVATE_USER: &str = "deactivateUser";
    pub const REACTIVATE_USER: &str = "reactivateUser";
    pub const MODULES: &str = "modules";
    pub const DEFINE_MODULE: &str = "defineModule";
    pub const ENABLE_MODULE: &str = "enableModule";
    pub const DISABLE_MODULE: &str = "disableModule";
    pub const REQUEST_PASSWORD_RESET: &str = "requestPasswordReset";
    pub const RESET_PASSWORD: &str = "resetPassword";
    pub const ENROLL_TOTP: &str = "enrollTotp";
    pub const CONFIRM_TOTP: &str = "confirmTotp";
    pub const DISABLE_TOTP: &str = "disableTotp";
    pub const RESET_USER_TOTP: &str = "resetUserTotp";
    pub const OIDC_PROVIDERS: &str = "oidcProviders";
    pub const CONFIGURE_OIDC_PROVIDER: &str = "configureOidcProvider";
    pub const DELETE_OIDC_PROVIDER: &str = "deleteOidcProvider";
    pub const START_OIDC_LOGIN: &str = "startOidcLogin";
    pub const COMPLETE_OIDC_LOGIN: &str = "completeOidcLogin";
    pub const EXPORT_RECORDS: &str = "exportRecords";
    pub const EXPORT_JOB: &str = "exportJob";
    pub const EXPORT_CHANGED: &str = "exportChanged";
    pub const UPLOAD_FILE: &str = "uploadFile";
    pub const ATTACHMENTS: &str = "attachments";
    pub const ATTACH_FILE: &str = "attachFile";
    pub const DELETE_ATTACHMENT: &str = "deleteAttachment";
    pub const REGENERATE_RECOVERY_CODES: &str = "regenerateRecoveryCodes";
    pub const UNLOCK_USER_TOTP: &str = "unlockUserTotp";
    pub const UPDATE_MODULE: &str = "updateModule";
    pub const DELETE_MODULE: &str = "deleteModule";
    pub const EXPORT_PERSONAL_DATA: &str = "exportPersonalData";
    pub const ERASE_PERSONAL_DATA: &str = "erasePersonalData";
    pub const EXPORT_TENANT: &str = "exportTenant";
    pub const DELETE_TENANT: &str = "deleteTenant";
    pub const CANCEL_TENANT_DELETION: &str = "cancelTenantDeletion";
    pub const TENANT_DELETION: &str = "tenantDeletion";
    pub const GLOBAL_SEARCH: &str = "globalSearch";
    pub const START_IMPORT: &str = "startImport";
    pub const IMPORT: &str = "import";
    pub const IMPORTS: &str = "imports";
    pub const CANCEL_IMPORT: &str = "cancelImport";
    pub const IMPORT_CHANGED: &str = "importChanged";
    /// Root fields of later platform modules, reserved now.
    pub const RESERVED_FUTURE: &[&str] = &[
        "role",
        "templates",
        "applyTemplate",
        "upgradeTemplate",
        "workflow",
        "updateWebhook",
        "dashboards",
        "dashboard",
        "createDashboard",
        "updateDashboard",
        "deleteDashboard",
        "moveDeal",
        "convertLead",
        "deadJobs",
        "retryJob",
    ];
}

/// Every platform type name (taken names for collision checks).
pub fn platform_type_names() -> BTreeSet<&'static str> {
    use types::*;
    let mut s: BTreeSet<&'static str> = [
        QUERY,
        MUTATION,
        SUBSCRIPTION,
        USER,
        TENANT,
        AUTH_PAYLOAD,
        ENTITY_DEFINITION,
        FIELD_DEFINITION,
        ENTITY_INPUT,
        UPDATE_ENTITY_INPUT,
        FIELD_INPUT,
        UPDATE_FIELD_INPUT,
        FIELD_LIFECYCLE,
        FIELD_TRANSITION,
        FIELD_LIFECYCLE_INPUT,
        FIELD_TRANSITION_INPUT,
        SIGNUP_INPUT,
        LOGIN_INPUT,
        FIELD_TYPE,
        RELATION_KIND,
        CHANGE_KIND,
        ORDER_DIRECTION,
        DATE_BUCKET,
        PAGE_INFO,
        FILE,
        FILE_INPUT,
        JSON,
        DATE_TIME,
        DATE,
        DECIMAL,
        STRING_FILTER,
        FLOAT_FILTER,
        DECIMAL_FILTER,
        DATE_FILTER,
        DATE_TIME_FILTER,
        BOOLEAN_FILTER,
        SELECT_FILTER,
        MULTI_SELECT_FILTER,
        ID_FILTER,
        ROLE,
        ROLE_INPUT,
        UPDATE_ROLE_INPUT,
        INVITE,
        API_KEY,
        API_KEY_PAYLOAD,
        AUDIT_ENTRY,
        AUDIT_CONNECTION,
        AUDIT_EDGE,
        AUDIT_FILTER,
        AUDIT_VERIFICATION,
        NOTIFICATION,
        SEND_NOTIFICATION_INPUT,
        EMAIL,
        WORKFLOW,
        WORKFLOW_INPUT,
        WORKFLOW_RUN,
        WORKFLOW_STEP,
        WEBHOOK,
        WEBHOOK_INPUT,
        WEBHOOK_PAYLOAD,
        WEBHOOK_DELIVERY,
        APPROVAL_STATE,
        APPROVAL_ACTION,
        APPROVAL_STAGE,
        APPROVAL_STAGE_INPUT,
        APPROVAL_POLICY,
        APPROVAL_POLICY_INPUT,
        APPROVAL_REQUEST,
        APPROVAL_DECISION,
        DEAD_JOB,
        DEAD_JOB_KIND,
        TEMPLATE,
        TEMPLATE_APPLICATION,
        DASHBOARD,
        DASHBOARD_WIDGET,
        DASHBOARD_INPUT,
        UPDATE_TENANT_INPUT,
        PERMISSION_RULE_INPUT,
        FIELD_PERMISSION_INPUT,
        PERMISSION_ACTION,
        PERMISSION_SCOPE,
        FIELD_ACCESS,
        WORKFLOW_TRIGGER_INPUT,
        WORKFLOW_ENTITY_TRIGGER_INPUT,
        WORKFLOW_RECORD_UPDATED_TRIGGER_INPUT,
        WORKFLOW_FIELD_CHANGED_TRIGGER_INPUT,
        WORKFLOW_TRANSITIONED_TRIGGER_INPUT,
        WORKFLOW_SCHEDULE_TRIGGER_INPUT,
        WORKFLOW_RELATIVE_DATE_TRIGGER_INPUT,
        WORKFLOW_WEBHOOK_TRIGGER_INPUT,
        WORKFLOW_ACTION_INPUT,
        WORKFLOW_SEND_EMAIL_INPUT,
        WORKFLOW_UPDATE_FIELDS_INPUT,
        WORKFLOW_CREATE_RECORD_INPUT,
        WORKFLOW_NOTIFY_INPUT,
        WORKFLOW_ASSIGN_OWNER_INPUT,
        WORKFLOW_CALL_WEBHOOK_INPUT,
        WORKFLOW_WAIT_INPUT,
        DASHBOARD_WIDGET_INPUT,
        METRIC_WIDGET_INPUT,
        CHART_WIDGET_INPUT,
        RECENT_WIDGET_INPUT,
        RECENT_WIDGET_ORDER_INPUT,
        PIPELINE_WIDGET_INPUT,
        WIDGET_FUNCTION,
        WIDGET_PERIOD,
        WIDGET_POSITION,
        WIDGET_POSITION_INPUT,
        WIDGET_CHART_TYPE,
        WIDGET_LAYOUT_INPUT,
        FIELD_OPTION,
        LEAD_CONVERSION,
        TEMPLATE_UPGRADE,
        TEMPLATE_CHANGE,
        UPDATE_PROFILE_INPUT,
        MODULE,
        MODULE_INPUT,
        TOTP_ENROLLMENT,
        OIDC_PROVIDER,
        CONFIGURE_OIDC_PROVIDER_INPUT,
        OIDC_LOGIN_START,
        EXPORT_JOB,
        EXPORT_FORMAT,
        ATTACHMENT,
        UPLOAD,
        UPDATE_MODULE_INPUT,
        PERSONAL_DATA_SUBJECT,
        PERSONAL_DATA_ERASURE,
        TENANT_DELETION,
        SEARCH_HIT,
        IMPORT,
        IMPORT_STATUS,
        IMPORT_COLUMN,
        IMPORT_COLUMN_INPUT,
        IMPORT_ERROR,
        IMPORT_ERROR_EDGE,
        IMPORT_ERROR_CONNECTION,
        IMPORT_EDGE,
        IMPORT_CONNECTION,
    ]
    .into_iter()
    .collect();
    s.extend(RESERVED_FUTURE.iter().chain(super::ai::types::ALL).copied());
    s.extend(super::uids::types::ALL.iter().copied());
    s.extend(BUILTIN.iter().copied());
    s.extend(super::hierarchy::TYPES.iter().copied());
    s.extend(super::stock::TYPES);
    s
}

/// Every platform root field name (taken names for collision checks).
pub fn platform_root_fields() -> BTreeSet<&'static str> {
    use fields::*;
    let mut s: BTreeSet<&'static str> = [
        API_VERSION,
        SIGNUP,
        LOGIN,
        REFRESH_TOKEN,
        ACCEPT_INVITE,
        ME,
        TENANT,
        LOGOUT,
        REVOKE_SESSIONS,
        ENTITIES,
        ENTITY,
        DEFINE_ENTITY,
        UPDATE_ENTITY,
        ADD_FIELD,
        UPDATE_FIELD,
        REMOVE_FIELD,
        DELETE_ENTITY,
        TENANT_SCHEMA_SDL,
        USERS,
        INVITE_USER,
        ASSIGN_ROLE,
        ROLES,
        CREATE_ROLE,
        UPDATE_ROLE,
        DELETE_ROLE,
        API_KEYS,
        CREATE_API_KEY,
        REVOKE_API_KEY,
        AUDIT_LOG,
        VERIFY_AUDIT_CHAIN,
        NOTIFICATIONS,
        UNREAD_NOTIFICATION_COUNT,
        MARK_NOTIFICATIONS_READ,
        SEND_NOTIFICATION,
        NOTIFICATION_RECEIVED,
        EMAILS,
        RETRY_EMAIL,
        WORKFLOWS,
        WORKFLOW_RUNS,
        WORKFLOW_RUN_CHANGED,
        AUDIT_APPENDED,
        EMAIL_CHANGED,
        WEBHOOK_DELIVERY_CHANGED,
        DEAD_JOB_ADDED,
        DASHBOARD_CHANGED,
        CREATE_WORKFLOW,
        UPDATE_WORKFLOW,
        SET_WORKFLOW_ACTIVE,
        DELETE_WORKFLOW,
        RUN_WORKFLOW,
        WEBHOOKS,
        WEBHOOK_DELIVERIES,
        CREATE_WEBHOOK,
        DELETE_WEBHOOK,
        ROTATE_WEBHOOK_SECRET,
        ROTATE_WORKFLOW_SECRET,
        APPROVAL_POLICIES,
        APPROVAL_REQUESTS,
        APPROVAL_REQUEST_CHANGED,
        APPROVAL_REQUEST,
        CREATE_APPROVAL_POLICY,
        UPDATE_APPROVAL_POLICY,
        DELETE_APPROVAL_POLICY,
        SUBMIT_FOR_APPROVAL,
        DECIDE_APPROVAL,
        DEAD_JOBS,
        RETRY_DEAD_JOB,
        TEMPLATES,
        APPLY_TEMPLATE,
        DASHBOARDS,
        DASHBOARD,
        CREATE_DASHBOARD,
        UPDATE_DASHBOARD,
        UPDATE_DASHBOARD_LAYOUT,
        DELETE_DASHBOARD,
        UPDATE_TENANT,
        MOVE_DEAL,
        CONVERT_LEAD,
        UPGRADE_TEMPLATE,
        UPDATE_PROFILE,
        CHANGE_PASSWORD,
        DEACTIVATE_USER,
        REACTIVATE_USER,
        MODULES,
        DEFINE_MODULE,
        ENABLE_MODULE,
        DISABLE_MODULE,
        REQUEST_PASSWORD_RESET,
        RESET_PASSWORD,
        ENROLL_TOTP,
        CONFIRM_TOTP,
        DISABLE_TOTP,
        RESET_USER_TOTP,
        OIDC_PROVIDERS,
        CONFIGURE_OIDC_PROVIDER,
        DELETE_OIDC_PROVIDER,
        START_OIDC_LOGIN,
        COMPLETE_OIDC_LOGIN,
        EXPORT_RECORDS,
        EXPORT_JOB,
        EXPORT_CHANGED,
        UPLOAD_FILE,
        ATTACHMENTS,
        ATTACH_FILE,
        DELETE_ATTACHMENT,
        REGENERATE_RECOVERY_CODES,
        UNLOCK_USER_TOTP,
        UPDATE_MODULE,
        DELETE_MODULE,
        EXPORT_PERSONAL_DATA,
        ERASE_PERSONAL_DATA,
        EXPORT_TENANT,
        DELETE_TENANT,
        CANCEL_TENANT_DELETION,
        TENANT_DELETION,
        GLOBAL_SEARCH,
        START_IMPORT,
        IMPORT,
        IMPORTS,
        CANCEL_IMPORT,
        IMPORT_CHANGED,
    ]
    .into_iter()
    .collect();
    s.extend(super::tenant_export::ROOT_FIELDS.iter().copied());
    s.extend(RESERVED_FUTURE.iter().chain(super::ai::fields::ALL).copied());
    s.extend(super::hierarchy::ROOT_FIELDS.iter().copied());
    s.extend(super::uids::fields::ALL.iter().copied());
    s.extend(super::stock::ROOT_FIELDS);
    s
}
