//! Signing up, logging in, and a fresh tenant per test with helpers for its records.

use serde_json::{Value, json};

use super::*;

// ---------------------------------------------------------------------------------------------
// Auth operations and tenants
// ---------------------------------------------------------------------------------------------

/// Selection of an `AuthPayload`.
pub const AUTH_PAYLOAD: &str = "accessToken refreshToken \
    user { id email name role createdAt } tenant { id name slug timeZone createdAt }";

pub const PASSWORD: &str = "correct horse battery staple";

/// A slug no other test uses.
pub fn unique_slug() -> String {
    format!("it-{}", &uuid::Uuid::new_v4().simple().to_string()[..20])
}

pub async fn signup(api: &Api, name: &str, slug: &str, email: &str, password: &str) -> Response {
    let query = format!(
        "mutation($n: String!, $s: String!, $e: String!, $p: String!) {{
            signup(input: {{tenantName: $n, tenantSlug: $s, email: $e, password: $p}}) {{ {AUTH_PAYLOAD} }}
        }}"
    );
    api.graphql(&Auth::None, &query, json!({ "n": name, "s": slug, "e": email, "p": password })).await
}

pub async fn login(api: &Api, tenant: &str, email: &str, password: &str) -> Response {
    let query = format!(
        "mutation($t: String!, $e: String!, $p: String!) {{
            login(input: {{tenant: $t, email: $e, password: $p}}) {{ {AUTH_PAYLOAD} }}
        }}"
    );
    api.graphql(&Auth::None, &query, json!({ "t": tenant, "e": email, "p": password })).await
}

pub async fn refresh(api: &Api, refresh_token: &str) -> Response {
    let query = format!("mutation($t: String!) {{ refreshToken(token: $t) {{ {AUTH_PAYLOAD} }} }}");
    api.graphql(&Auth::None, &query, json!({ "t": refresh_token })).await
}

/// A freshly signed-up tenant and its owner, with a client for its API.
pub struct TestTenant {
    pub api: Api,
    pub access_token: String,
    pub refresh_token: String,
    pub slug: String,
    pub name: String,
    pub email: String,
    pub password: String,
    pub user_id: String,
    pub tenant_id: String,
}

/// Signs up a new tenant on the shared server.
pub async fn tenant() -> TestTenant {
    tenant_on(server()).await
}

/// Signs up a new tenant on the given server.
pub async fn tenant_on(server: &'static Server) -> TestTenant {
    let api = Api::new(server);
    let slug = unique_slug();
    let name = format!("Tenant {slug}");
    let email = format!("owner@{slug}.example.com");
    let data = signup(&api, &name, &slug, &email, PASSWORD).await.data();
    let payload = &data["signup"];
    TestTenant {
        api,
        access_token: str_of(&payload["accessToken"]),
        refresh_token: str_of(&payload["refreshToken"]),
        slug,
        name,
        email,
        password: PASSWORD.to_owned(),
        user_id: str_of(&payload["user"]["id"]),
        tenant_id: str_of(&payload["tenant"]["id"]),
    }
}

/// The selection of an `EntityDefinition`.
pub const ENTITY_DEFINITION: &str = "id nameSingular namePlural labelSingular labelPlural icon \
    recordNumberPrefix typeName createdAt updatedAt fields { id key graphqlName label type \
    required unique indexed options relatedEntity relationKind default validation labels position }";

impl TestTenant {
    /// The same tenant and owner, through the instance `server`.
    pub fn on(&self, server: &'static Server) -> TestTenant {
        TestTenant {
            api: Api::new(server),
            access_token: self.access_token.clone(),
            refresh_token: self.refresh_token.clone(),
            slug: self.slug.clone(),
            name: self.name.clone(),
            email: self.email.clone(),
            password: self.password.clone(),
            user_id: self.user_id.clone(),
            tenant_id: self.tenant_id.clone(),
        }
    }

    pub fn auth(&self) -> Auth {
        Auth::Bearer(self.access_token.clone())
    }

    /// The full response of an operation run as this tenant's owner.
    pub async fn request(&self, query: &str, variables: Value) -> Response {
        self.api.graphql(&self.auth(), query, variables).await
    }

    /// The full response body.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.request(query, variables).await.body
    }

    /// `data`, asserting there is no error.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        self.request(query, variables).await.data()
    }

    /// The first error's code, asserting there is an error.
    pub async fn error_code(&self, query: &str, variables: Value) -> String {
        self.request(query, variables).await.code()
    }

    /// Logs in again (a new session) and returns the access token.
    pub async fn new_session(&self) -> (String, String) {
        let data = login(&self.api, &self.slug, &self.email, &self.password).await.data();
        (str_of(&data["login"]["accessToken"]), str_of(&data["login"]["refreshToken"]))
    }

    /// The id of this tenant's role called `name` (`owner`, `admin`, `member`).
    pub async fn role_id(&self, name: &str) -> String {
        let data = self.data("{ roles { id name } }", json!({})).await;
        let role = data["roles"].as_array().expect("roles").iter().find(|r| r["name"] == name).cloned();
        str_of(&role.unwrap_or_else(|| panic!("no role {name:?} in {data}"))["id"])
    }

    /// Invites a new user with role `role` and accepts the invite; returns the accepted
    /// `AuthPayload` (the new user's tokens, user and tenant).
    pub async fn invite(&self, role: &str) -> Value {
        let email =
            format!("{role}-{}@{}.example.com", &uuid::Uuid::new_v4().simple().to_string()[..8], self.slug);
        let invite = self.invite_user(&email, role, "token user { email role }").await;
        assert_eq!(invite["user"]["email"], json!(email));
        let query = format!(
            "mutation($t: String!, $p: String!) {{ acceptInvite(token: $t, password: $p) {{ {AUTH_PAYLOAD} }} }}"
        );
        let accepted = self
            .api
            .graphql(&Auth::None, &query, json!({ "t": invite["token"], "p": PASSWORD }))
            .await
            .data();
        accepted["acceptInvite"].clone()
    }

    /// A new user with role `role` (`invite`), as its bearer credentials.
    pub async fn invite_auth(&self, role: &str) -> Auth {
        Auth::Bearer(str_of(&self.invite(role).await["accessToken"]))
    }

    /// Invites `email` with role `role`, asserting success; the `inviteUser` payload with
    /// `selection` (`token`, `expiresAt`, `user { … }`).
    pub async fn invite_user(&self, email: &str, role: &str, selection: &str) -> Value {
        let query = format!(
            "mutation($e: String!, $r: ID!) {{ inviteUser(email: $e, roleId: $r) {{ {selection} }} }}"
        );
        self.data(&query, json!({ "e": email, "r": self.role_id(role).await })).await["inviteUser"].clone()
    }

    /// Creates a role `name` with `permissions` (as `createRole` takes them); its id.
    pub async fn create_role(&self, name: &str, permissions: Value) -> String {
        let query =
            "mutation($n: String!, $p: JSON!) { createRole(input: {name: $n, permissions: $p}) { id } }";
        str_of(&self.data(query, json!({"n": name, "p": permissions})).await["createRole"]["id"])
    }

    /// Submits `record` under approval policy `policy` as the owner, asserting success; the
    /// `submitForApproval` request with `selection`.
    pub async fn submit_for_approval(&self, policy: &str, record: &str, selection: &str) -> Value {
        let query = format!(
            "mutation($p: ID!, $r: ID!) {{ submitForApproval(policyId: $p, recordId: $r) {{ {selection} }} }}"
        );
        self.data(&query, json!({"p": policy, "r": record})).await["submitForApproval"].clone()
    }

    /// An API key with role `role`.
    pub async fn api_key(&self, role: &str) -> Auth {
        let data = self
            .data(
                "mutation($r: ID!) { createApiKey(name: \"test key\", roleId: $r) { key } }",
                json!({ "r": self.role_id(role).await }),
            )
            .await;
        Auth::ApiKey(str_of(&data["createApiKey"]["key"]))
    }

    pub async fn define_raw(&self, input: Value) -> Response {
        let query = format!(
            "mutation($input: EntityInput!) {{ defineEntity(input: $input) {{ {ENTITY_DEFINITION} }} }}"
        );
        self.request(&query, json!({ "input": input })).await
    }

    /// Defines an entity, asserting success; returns the `EntityDefinition`.
    pub async fn define(&self, input: Value) -> Value {
        self.define_raw(input).await.data()["defineEntity"].clone()
    }

    /// Defines an entity with `fields` and no other options, asserting success; its names.
    pub async fn define_entity(&self, singular: &str, plural: &str, fields: Vec<Value>) -> Names {
        self.define(entity(singular, plural, fields, json!({}))).await;
        Names::new(singular, plural)
    }

    /// Creates a workflow from its JSON `definition`, asserting success and that it starts
    /// active; its id.
    pub async fn create_workflow(&self, name: &str, definition: Value) -> String {
        let data = self
            .data(
                "mutation($i: WorkflowInput!) { createWorkflow(input: $i) { id active } }",
                json!({"i": {"name": name, "definition": definition}}),
            )
            .await;
        assert_eq!(data["createWorkflow"]["active"], json!(true), "a new workflow is active");
        str_of(&data["createWorkflow"]["id"])
    }

    pub async fn add_field_raw(&self, entity: &str, field: Value) -> Response {
        let query = format!(
            "mutation($e: String!, $f: FieldInput!) {{ addField(entity: $e, field: $f) {{ {ENTITY_DEFINITION} }} }}"
        );
        self.request(&query, json!({ "e": entity, "f": field })).await
    }

    pub async fn add_field(&self, entity: &str, field: Value) -> Value {
        self.add_field_raw(entity, field).await.data()["addField"].clone()
    }

    /// `entities { nameSingular }`, sorted.
    pub async fn entity_names(&self) -> Vec<String> {
        let data = self.data("{ entities { nameSingular } }", json!({})).await;
        let mut names = pluck_str(&data["entities"], "nameSingular");
        names.sort();
        names
    }

    /// Field names of a type per introspection, `None` when the type does not exist.
    pub async fn type_fields(&self, type_name: &str) -> Option<Vec<String>> {
        let data = self
            .data(
                "query($n: String!) { __type(name: $n) { fields { name } inputFields { name } } }",
                json!({ "n": type_name }),
            )
            .await;
        let ty = &data["__type"];
        if ty.is_null() {
            return None;
        }
        let list = if ty["fields"].is_array() { &ty["fields"] } else { &ty["inputFields"] };
        Some(pluck_str(list, "name"))
    }

    pub async fn create_raw(&self, entity: &Names, input: Value, selection: &str) -> Response {
        let query = format!(
            "mutation($input: Create{t}Input!) {{ create{t}(input: $input) {{ id {selection} }} }}",
            t = entity.type_name
        );
        self.request(&query, json!({ "input": input })).await
    }

    /// Creates a record, asserting success; returns it with `id` and `selection`.
    pub async fn create(&self, entity: &Names, input: Value, selection: &str) -> Value {
        let data = self.create_raw(entity, input, selection).await.data();
        data[format!("create{}", entity.type_name)].clone()
    }

    pub async fn update_raw(&self, entity: &Names, id: &str, input: Value, selection: &str) -> Response {
        let query = format!(
            "mutation($id: ID!, $input: Update{t}Input!) {{ update{t}(id: $id, input: $input) {{ id {selection} }} }}",
            t = entity.type_name
        );
        self.request(&query, json!({ "id": id, "input": input })).await
    }

    pub async fn update(&self, entity: &Names, id: &str, input: Value, selection: &str) -> Value {
        let data = self.update_raw(entity, id, input, selection).await.data();
        data[format!("update{}", entity.type_name)].clone()
    }

    /// `delete<T>` / `restore<T>` (`op` is `"delete"` or `"restore"`).
    pub async fn lifecycle_raw(&self, op: &str, entity: &Names, id: &str) -> Response {
        let query = format!("mutation($id: ID!) {{ {op}{t}(id: $id) {{ id }} }}", t = entity.type_name);
        self.request(&query, json!({ "id": id })).await
    }

    pub async fn delete(&self, entity: &Names, id: &str) {
        let data = self.lifecycle_raw("delete", entity, id).await.data();
        assert_eq!(data[format!("delete{}", entity.type_name)]["id"], json!(id));
    }

    pub async fn restore(&self, entity: &Names, id: &str) {
        let data = self.lifecycle_raw("restore", entity, id).await.data();
        assert_eq!(data[format!("restore{}", entity.type_name)]["id"], json!(id));
    }

    pub async fn get_raw(&self, entity: &Names, id: &str, selection: &str) -> Response {
        let query = format!("query($id: ID!) {{ {s}(id: $id) {{ id {selection} }} }}", s = entity.singular);
        self.request(&query, json!({ "id": id })).await
    }

    /// The record by id (`Value::Null` when it does not exist), asserting no error.
    pub async fn get(&self, entity: &Names, id: &str, selection: &str) -> Value {
        self.get_raw(entity, id, selection).await.data()[&entity.singular].clone()
    }

    pub async fn list_raw(&self, entity: &Names, args: &str, vars: Value, selection: &str) -> Response {
        let query = format!(
            "query{args} {{ {p}{call} {{ totalCount nodes {{ id {selection} }} }} }}",
            args = var_decls(&vars, entity),
            p = entity.plural,
            call = if args.is_empty() { String::new() } else { format!("({args})") },
        );
        self.request(&query, vars).await
    }

    /// `<plural>(args) { totalCount nodes { id selection } }`. `vars` may hold `filter`,
    /// `orderBy`, `first`, `after`, `last`, `before`, `search`; `args` passes them on,
    /// e.g. `"filter: $filter, first: 500"`.
    pub async fn list(&self, entity: &Names, args: &str, vars: Value, selection: &str) -> Value {
        let data = self.list_raw(entity, args, vars, selection).await.data();
        data[&entity.plural].clone()
    }

    /// `<plural>(…) { body }` where every standard variable present in `vars` is passed as the
    /// argument of the same name; asserts success and returns the connection.
    pub async fn connection(&self, entity: &Names, vars: Value, body: &str) -> Value {
        let args: Vec<String> =
            list_vars(&vars, entity).iter().map(|(name, _)| format!("{name}: ${name}")).collect();
        let call = if args.is_empty() { String::new() } else { format!("({})", args.join(", ")) };
        let query = format!("query{} {{ {}{call} {{ {body} }} }}", var_decls(&vars, entity), entity.plural);
        self.data(&query, vars).await[&entity.plural].clone()
    }

    /// Opens `/graphql/ws` and completes `connection_init` with this owner's token.
    pub async fn ws(&self) -> Ws {
        let mut ws = Ws::connect(self.api.server).await;
        ws.init(json!({ "authorization": format!("Bearer {}", self.access_token) })).await.expect_ack();
        ws
    }

    /// A socket with one subscription (id `"1"`) registered and settled.
    pub async fn subscribe(&self, query: &str, variables: Value) -> Ws {
        let mut ws = self.ws().await;
        ws.subscribe("1", query, variables).await;
        ws.settle().await;
        ws
    }

    /// A socket of `auth`'s user (a bearer token) with `query` subscribed as `"1"` and settled.
    pub async fn subscribe_as(&self, auth: &Auth, query: &str, variables: Value) -> Ws {
        let Auth::Bearer(token) = auth else { panic!("a bearer token") };
        let mut ws = Ws::connect(self.api.server).await;
        ws.init(json!({"authorization": format!("Bearer {token}")})).await.expect_ack();
        ws.subscribe("1", query, variables).await;
        ws.settle().await;
        ws
    }
}

/// The standard connection variables that `vars` contains, with their GraphQL types.
fn list_vars(vars: &Value, entity: &Names) -> Vec<(&'static str, String)> {
    let types = [
        ("filter", format!("{}Filter", entity.type_name)),
        ("orderBy", format!("[{}OrderBy!]", entity.type_name)),
        ("first", "Int".to_owned()),
        ("last", "Int".to_owned()),
        ("after", "String".to_owned()),
        ("before", "String".to_owned()),
        ("search", "String".to_owned()),
    ];
    types.into_iter().filter(|(name, _)| vars.get(*name).is_some()).collect()
}

/// Declares the standard list variables that `vars` contains, e.g. `($filter: DealFilter)`.
fn var_decls(vars: &Value, entity: &Names) -> String {
    let decls: Vec<String> =
        list_vars(vars, entity).iter().map(|(name, ty)| format!("${name}: {ty}")).collect();
    if decls.is_empty() { String::new() } else { format!("({})", decls.join(", ")) }
}

impl TestTenant {
    /// Sends bursts of 25 creates of `entity` (each with `title`, in one request) until one
    /// outruns the subscriber `slow` — on a server whose live buffer holds one event
    /// (`tiny_buffer_server`), the first almost always does; the close code its socket got.
    pub async fn burst_until_closed(&self, entity: &Names, slow: &mut Ws) -> Option<u16> {
        let create = format!("create{}", entity.type_name);
        let creates: Vec<String> =
            (0..25).map(|i| format!("b{i}: {create}(input: {{title: \"Burst {i}\"}}) {{ id }}")).collect();
        let burst = format!("mutation {{ {} }}", creates.join(" "));
        eventually("a subscriber to fall behind", Duration::from_secs(90), async || {
            self.data(&burst, json!({})).await;
            slow.closed_within(Duration::from_secs(1)).await
        })
        .await
    }
}
