//! Roles and permissions through the public API (shared/API.md § Permissions): field access
//! shapes each role's schema; row rules (`where`, `scope: own`, `$currentUser`) apply to every
//! read (lists, lookups, counts, search, relations both ways, subscriptions) and every write
//! (like `WITH CHECK`); API keys act with their role and die when revoked; role changes and
//! forced logout reach open sockets; owner protections and permission validation.

use serde_json::{Value, json};

use crate::harness::*;

fn deal() -> Names {
    Names::new("deal", "deals")
}

fn contact() -> Names {
    Names::new("contact", "contacts")
}

/// A tenant with contacts and deals (three North, two South), as its owner.
struct Crm {
    t: TestTenant,
    north: Vec<String>,
    south: Vec<String>,
    /// A contact named "Nora" (linked to a North and a South deal) and one named "Sam".
    nora: String,
    sam: String,
}

async fn crm() -> Crm {
    let t = tenant().await;
    t.define(entity(
        "contact",
        "contacts",
        vec![field("full_name", "TEXT", json!({"required": true}))],
        json!({}),
    ))
    .await;
    t.define(entity(
        "deal",
        "deals",
        vec![
            field("title", "TEXT", json!({"required": true})),
            field("region", "SELECT", json!({"options": ["North", "South"]})),
            field("amount", "CURRENCY", json!({})),
            field("margin", "NUMBER", json!({})),
            field("secret_note", "TEXT", json!({})),
            field("contact", "RELATION", json!({"relatedEntity": "contact"})),
        ],
        json!({"recordNumberPrefix": "D"}),
    ))
    .await;
    let nora = str_of(&t.create(&contact(), json!({"fullName": "Nora North"}), "").await["id"]);
    let sam = str_of(&t.create(&contact(), json!({"fullName": "Sam South"}), "").await["id"]);
    let mut north = Vec::new();
    let mut south = Vec::new();
    for (i, region) in ["North", "North", "North", "South", "South"].into_iter().enumerate() {
        let who = if i == 0 || i == 3 { &nora } else { &sam };
        let input = json!({"title": format!("{region} deal {i}"), "region": region, "amount": "100.00",
                           "margin": 0.25, "secretNote": format!("codeword-{i}"), "contact": who});
        let id = str_of(&t.create(&deal(), input, "").await["id"]);
        if region == "North" { north.push(id) } else { south.push(id) }
    }
    Crm { t, north, south, nora, sam }
}

/// Creates a role with `permissions` (as the owner) and returns its id.
async fn role(t: &TestTenant, name: &str, permissions: Value) -> String {
    let data = t
        .data(
            "mutation($n: String!, $p: JSON!) { createRole(input: {name: $n, permissions: $p}) { id name } }",
            json!({ "n": name, "p": permissions }),
        )
        .await;
    str_of(&data["createRole"]["id"])
}

/// A signed-in user of `t` with role `role_name`: (auth, user id).
async fn user_with(t: &TestTenant, role_name: &str) -> (Auth, String) {
    let payload = t.invite(role_name).await;
    (Auth::Bearer(str_of(&payload["accessToken"])), str_of(&payload["user"]["id"]))
}

async fn as_user(t: &TestTenant, auth: &Auth, query: &str, variables: Value) -> Response {
    t.api.graphql(auth, query, variables).await
}

fn north_rules() -> Value {
    json!({
        "deal": {"actions": ["create", "read", "update", "delete"], "scope": "all",
                 "where": {"region": {"eq": "North"}},
                 "fields": {"margin": "none", "secret_note": "none", "amount": "read"}},
        "contact": {"actions": ["read"], "where": {"fullName": {"startsWith": "N"}}}
    })
}

/// Names of an introspected type's fields (or input fields, or enum values).
async fn members(t: &TestTenant, auth: &Auth, type_name: &str) -> Vec<String> {
    let r = as_user(
        t,
        auth,
        "query($n: String!) { __type(name: $n) { fields { name } inputFields { name } enumValues { name } } }",
        json!({ "n": type_name }),
    )
    .await
    .data();
    let ty = &r["__type"];
    for key in ["fields", "inputFields", "enumValues"] {
        if ty[key].is_array() {
            return pluck_str(&ty[key], "name");
        }
    }
    Vec::new()
}

#[tokio::test]
async fn field_access_shapes_each_roles_schema() {
    let c = crm().await;
    role(&c.t, "north", north_rules()).await;
    role(&c.t, "reader", json!({"*": {"actions": ["read"]}})).await;
    let (north, _) = user_with(&c.t, "north").await;
    let (reader, _) = user_with(&c.t, "reader").await;

    let deal_fields = members(&c.t, &north, "Deal").await;
    assert!(deal_fields.contains(&"amount".to_owned()) && deal_fields.contains(&"title".to_owned()));
    for hidden in ["margin", "secretNote"] {
        assert!(!deal_fields.contains(&hidden.to_owned()), "{hidden} visible: {deal_fields:?}");
        for ty in ["DealFilter", "CreateDealInput", "UpdateDealInput"] {
            assert!(!members(&c.t, &north, ty).await.contains(&hidden.to_owned()), "{hidden} in {ty}");
        }
    }
    // `read` fields are readable but not writable.
    assert!(!members(&c.t, &north, "CreateDealInput").await.contains(&"amount".to_owned()));
    assert!(members(&c.t, &north, "DealFilter").await.contains(&"amount".to_owned()));
    assert!(!members(&c.t, &north, "DealField").await.contains(&"MARGIN".to_owned()));
    // Filtering or ordering by a hidden field is refused, so counts cannot probe it.
    as_user(&c.t, &north, "{ deals(filter: {margin: {gt: 0}}) { totalCount } }", json!({}))
        .await
        .expect_code("BAD_REQUEST");
    as_user(&c.t, &north, "{ deals(orderBy: [{field: MARGIN}]) { totalCount } }", json!({}))
        .await
        .expect_code("BAD_REQUEST");
    // Searching does not look into hidden fields either.
    let found =
        as_user(&c.t, &north, "{ deals(search: \"codeword\") { totalCount } }", json!({})).await.data();
    assert_eq!(found["deals"]["totalCount"], json!(0));
    let owner_found = c.t.data("{ deals(search: \"codeword\") { totalCount } }", json!({})).await;
    assert_eq!(owner_found["deals"]["totalCount"], json!(5));

    // A read-only role has no write operations and no administration.
    let mutations = members(&c.t, &reader, "Mutation").await;
    for op in ["createDeal", "updateDeal", "deleteDeal", "restoreDeal", "defineEntity", "createRole"] {
        assert!(!mutations.contains(&op.to_owned()), "{op} offered to a reader");
    }
    let define = "mutation { defineEntity(input: {nameSingular: \"x\", namePlural: \"xs\", labelSingular: \"X\", \
                  labelPlural: \"Xs\"}) { id } }";
    as_user(&c.t, &reader, define, json!({})).await.expect_code("FORBIDDEN");
    as_user(&c.t, &reader, "{ users { id } }", json!({})).await.expect_code("FORBIDDEN");
    as_user(&c.t, &reader, "{ auditLog { totalCount } }", json!({})).await.expect_code("FORBIDDEN");
    // The role's SDL is what it gets.
    let sdl = as_user(&c.t, &north, "{ tenantSchemaSdl }", json!({})).await.data();
    let sdl = str_of(&sdl["tenantSchemaSdl"]);
    assert!(sdl.contains("type Deal") && !sdl.contains("secretNote") && !sdl.contains("defineEntity"));
}

#[tokio::test]
async fn row_rules_apply_to_every_read() {
    let c = crm().await;
    role(&c.t, "north", north_rules()).await;
    let (north, _) = user_with(&c.t, "north").await;

    let list = as_user(&c.t, &north, "{ deals(first: 50) { totalCount nodes { id region } } }", json!({}))
        .await
        .data();
    assert_eq!(list["deals"]["totalCount"], json!(3));
    assert_eq!(sorted(pluck_str(&list["deals"]["nodes"], "id")), sorted(c.north.clone()));
    // An out-of-scope id behaves as if it did not exist.
    let get = "query($id: ID!) { deal(id: $id) { id } }";
    let hidden = as_user(&c.t, &north, get, json!({"id": c.south[0]})).await.data();
    assert_eq!(hidden["deal"], Value::Null);
    let visible = as_user(&c.t, &north, get, json!({"id": c.north[0]})).await.data();
    assert_eq!(visible["deal"]["id"], json!(c.north[0]));
    // Filters cannot widen the rule; an `or` with a South condition finds nothing more.
    let widened = as_user(
        &c.t,
        &north,
        "{ deals(filter: {or: [{region: {eq: \"South\"}}, {region: {eq: \"North\"}}]}) { totalCount } }",
        json!({}),
    )
    .await
    .data();
    assert_eq!(widened["deals"]["totalCount"], json!(3));
    // Relations both ways: Nora's deals count only North ones; Sam (outside the contact
    // rule) is invisible as a related record too.
    let rel = as_user(
        &c.t,
        &north,
        "query($id: ID!) { contact(id: $id) { deals { totalCount nodes { id } } } }",
        json!({"id": c.nora}),
    )
    .await
    .data();
    assert_eq!(rel["contact"]["deals"]["totalCount"], json!(1));
    assert_eq!(pluck_str(&rel["contact"]["deals"]["nodes"], "id"), vec![c.north[0].clone()]);
    let sam = as_user(&c.t, &north, "query($id: ID!) { contact(id: $id) { id } }", json!({"id": c.sam}))
        .await
        .data();
    assert_eq!(sam["contact"], Value::Null);
    let to_one = as_user(
        &c.t,
        &north,
        "query($id: ID!) { deal(id: $id) { contact { fullName } } }",
        json!({"id": c.north[1]}),
    )
    .await
    .data();
    assert_eq!(to_one["deal"]["contact"], Value::Null, "a related record outside the rule reads as null");
    let contacts = as_user(&c.t, &north, "{ contacts { totalCount } }", json!({})).await.data();
    assert_eq!(contacts["contacts"]["totalCount"], json!(1));
}

#[tokio::test]
async fn row_rules_apply_to_every_write() {
    let c = crm().await;
    role(&c.t, "north", north_rules()).await;
    let (north, _) = user_with(&c.t, "north").await;
    let update = "mutation($id: ID!, $i: UpdateDealInput!) { updateDeal(id: $id, input: $i) { id region } }";
    as_user(&c.t, &north, update, json!({"id": c.south[0], "i": {"title": "mine now"}}))
        .await
        .expect_code("NOT_FOUND");
    as_user(&c.t, &north, "mutation($id: ID!) { deleteDeal(id: $id) { id } }", json!({"id": c.south[0]}))
        .await
        .expect_code("NOT_FOUND");
    c.t.delete(&deal(), &c.south[1]).await;
    as_user(&c.t, &north, "mutation($id: ID!) { restoreDeal(id: $id) { id } }", json!({"id": c.south[1]}))
        .await
        .expect_code("NOT_FOUND");
    // A write whose result would leave the rule is refused (WITH CHECK) and changes nothing.
    as_user(&c.t, &north, update, json!({"id": c.north[0], "i": {"region": "South"}}))
        .await
        .expect_code("FORBIDDEN");
    let still = c.t.get(&deal(), &c.north[0], "region").await;
    assert_eq!(still["region"], json!("North"));
    let create = "mutation($i: CreateDealInput!) { createDeal(input: $i) { id region } }";
    as_user(&c.t, &north, create, json!({"i": {"title": "sneaky", "region": "South"}}))
        .await
        .expect_code("FORBIDDEN");
    let owner_count = c.t.data("{ deals { totalCount } }", json!({})).await;
    assert_eq!(owner_count["deals"]["totalCount"], json!(4), "nothing was written");
    let made = as_user(&c.t, &north, create, json!({"i": {"title": "fine", "region": "North"}})).await.data();
    assert_eq!(made["createDeal"]["region"], json!("North"));
    // Writing a `read` field is not even expressible.
    as_user(&c.t, &north, update, json!({"id": c.north[0], "i": {"amount": "1.00"}}))
        .await
        .expect_code("BAD_REQUEST");
}

#[tokio::test]
async fn own_scope_and_current_user() {
    let c = crm().await;
    role(
        &c.t,
        "own",
        json!({"deal": {"actions": ["create", "read", "update"], "scope": "own"},
                              "contact": {"actions": ["read"]}}),
    )
    .await;
    role(&c.t, "mine", json!({"deal": {"actions": ["read"], "where": {"owner": {"eq": "$currentUser"}}}}))
        .await;
    let (alice, alice_id) = user_with(&c.t, "own").await;
    let (bob, bob_id) = user_with(&c.t, "own").await;
    let (carol, carol_id) = user_with(&c.t, "mine").await;
    let create = "mutation($i: CreateDealInput!) { createDeal(input: $i) { id owner { id } } }";
    let made = as_user(&c.t, &alice, create, json!({"i": {"title": "Alice's"}})).await.data();
    let alice_deal = str_of(&made["createDeal"]["id"]);
    assert_eq!(made["createDeal"]["owner"]["id"], json!(alice_id));
    for (who, expected) in [(&alice, 1), (&bob, 0)] {
        let n = as_user(&c.t, who, "{ deals { totalCount } }", json!({})).await.data();
        assert_eq!(n["deals"]["totalCount"], json!(expected));
    }
    as_user(
        &c.t,
        &bob,
        "mutation($id: ID!) { updateDeal(id: $id, input: {title: \"x\"}) { id } }",
        json!({"id": alice_deal}),
    )
    .await
    .expect_code("NOT_FOUND");
    // Giving a record away is a write that leaves the scope.
    as_user(&c.t, &alice, create, json!({"i": {"title": "for Bob", "owner": bob_id}}))
        .await
        .expect_code("FORBIDDEN");
    // `$currentUser` in `where`: the owner hands two deals to Carol.
    for id in &c.north[..2] {
        c.t.update(&deal(), id, json!({"owner": carol_id}), "").await;
    }
    let mine = as_user(&c.t, &carol, "{ deals { totalCount nodes { id } } }", json!({})).await.data();
    assert_eq!(mine["deals"]["totalCount"], json!(2));
    assert_eq!(sorted(pluck_str(&mine["deals"]["nodes"], "id")), sorted(c.north[..2].to_vec()));
}

#[tokio::test]
async fn subscriptions_respect_row_rules_and_field_access() {
    let c = crm().await;
    role(&c.t, "north", north_rules()).await;
    let (north, _) = user_with(&c.t, "north").await;
    let Auth::Bearer(token) = &north else { unreachable!() };
    let mut ws = Ws::connect(c.t.api.server).await;
    ws.init(json!({"authorization": format!("Bearer {token}")})).await.expect_ack();
    ws.subscribe("1", "subscription { dealChanged { kind changedFields record { id region } } }", json!({}))
        .await;
    ws.settle().await;
    c.t.create(&deal(), json!({"title": "south", "region": "South", "margin": 1.0}), "").await;
    ws.expect_silence(SILENCE).await;
    let id = str_of(
        &c.t.create(
            &deal(),
            json!({"title": "north", "region": "North", "margin": 1.0,
                                                "secretNote": "x"}),
            "",
        )
        .await["id"],
    );
    let event = ws.next_data("1").await;
    assert_eq!(event["dealChanged"]["record"]["id"], json!(id));
    let changed = pluck_strings(&event["dealChanged"]["changedFields"]);
    assert!(changed.contains(&"title".to_owned()));
    assert!(
        !changed.contains(&"margin".to_owned()) && !changed.contains(&"secretNote".to_owned()),
        "{changed:?}"
    );
    // A change that moves a record out of the rule is not delivered either.
    c.t.update(&deal(), &c.south[0], json!({"title": "still south"}), "").await;
    ws.expect_silence(SILENCE).await;
}

fn pluck_strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

#[tokio::test]
async fn api_keys_act_with_their_role_and_die_when_revoked() {
    let c = crm().await;
    role(&c.t, "north", north_rules()).await;
    let key = c.t.api_key("north").await;
    let seen = c.t.api.graphql(&key, "{ deals { totalCount } me { id } }", json!({})).await.data();
    assert_eq!(seen["deals"]["totalCount"], json!(3));
    assert_eq!(seen["me"]["id"], json!(c.t.user_id), "a key acts for the user who created it");
    let keys = c.t.data("{ apiKeys { id name revokedAt } }", json!({})).await;
    let id = str_of(&keys["apiKeys"][0]["id"]);
    assert_eq!(keys["apiKeys"][0]["revokedAt"], Value::Null);
    c.t.data("mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }", json!({"id": id})).await;
    let refused = c.t.api.graphql(&key, "{ deals { totalCount } }", json!({})).await;
    assert_eq!(refused.status, 401);
    refused.expect_code("UNAUTHENTICATED");
    let garbage = c.t.api.graphql(&Auth::ApiKey("ak_nonsense".into()), "{ me { id } }", json!({})).await;
    assert_eq!(garbage.status, 401);
}

#[tokio::test]
async fn role_changes_reach_open_sockets_and_the_next_request() {
    let c = crm().await;
    role(&c.t, "reader", json!({"*": {"actions": ["read"]}})).await;
    let member = c.t.invite("member").await;
    let token = str_of(&member["accessToken"]);
    let member_id = str_of(&member["user"]["id"]);
    let auth = Auth::Bearer(token.clone());
    assert!(members(&c.t, &auth, "Mutation").await.contains(&"createDeal".to_owned()));
    let mut ws = Ws::connect(c.t.api.server).await;
    ws.init(json!({"authorization": format!("Bearer {token}")})).await.expect_ack();
    ws.subscribe("1", "subscription { dealChanged { kind } }", json!({})).await;
    ws.settle().await;
    let reader_id = c.t.role_id("reader").await;
    let assigned =
        c.t.data(
            "mutation($u: ID!, $r: ID!) { assignRole(userId: $u, roleId: $r) { role } }",
            json!({"u": member_id, "r": reader_id}),
        )
        .await;
    assert_eq!(assigned["assignRole"]["role"], json!("reader"));
    assert_eq!(ws.expect_close(TIMEOUT).await, Some(4205));
    assert!(!members(&c.t, &auth, "Mutation").await.contains(&"createDeal".to_owned()));
    // Changing the role's permissions is seen on the next request as well.
    c.t.data(
        "mutation($id: ID!, $p: JSON!) { updateRole(id: $id, input: {permissions: $p}) { id } }",
        json!({"id": reader_id, "p": {"contact": {"actions": ["read"]}}}),
    )
    .await;
    let query = members(&c.t, &auth, "Query").await;
    assert!(query.contains(&"contacts".to_owned()) && !query.contains(&"deals".to_owned()), "{query:?}");
}

#[tokio::test]
async fn revoke_sessions_forces_logout_everywhere() {
    let c = crm().await;
    let member = c.t.invite("member").await;
    let token = str_of(&member["accessToken"]);
    let member_id = str_of(&member["user"]["id"]);
    let mut ws = Ws::connect(c.t.api.server).await;
    ws.init(json!({"authorization": format!("Bearer {token}")})).await.expect_ack();
    let n = c.t.data("mutation($u: ID!) { revokeSessions(userId: $u) }", json!({"u": member_id})).await;
    assert_eq!(n["revokeSessions"], json!(1));
    assert_eq!(ws.expect_close(TIMEOUT).await, Some(4401));
    let refused = c.t.api.graphql(&Auth::Bearer(token), "{ me { id } }", json!({})).await;
    assert_eq!(refused.status, 401);
    // A member may end their own sessions, not someone else's.
    let other = c.t.invite("member").await;
    let other_auth = Auth::Bearer(str_of(&other["accessToken"]));
    c.t.api
        .graphql(&other_auth, "mutation($u: ID!) { revokeSessions(userId: $u) }", json!({"u": c.t.user_id}))
        .await
        .expect_code("FORBIDDEN");
    let own =
        c.t.api
            .graphql(
                &other_auth,
                "mutation($u: ID!) { revokeSessions(userId: $u) }",
                json!({"u": other["user"]["id"]}),
            )
            .await
            .data();
    assert_eq!(own["revokeSessions"], json!(1));
}

#[tokio::test]
async fn owner_protections() {
    let t = tenant().await;
    let admin = t.invite("admin").await;
    let admin_auth = Auth::Bearer(str_of(&admin["accessToken"]));
    let owner_role = t.role_id("owner").await;
    let invite = "mutation($e: String!, $r: ID!) { inviteUser(email: $e, roleId: $r) { token } }";
    t.api
        .graphql(&admin_auth, invite, json!({"e": format!("x@{}.example.com", t.slug), "r": owner_role}))
        .await
        .expect_code("FORBIDDEN");
    let assign = "mutation($u: ID!, $r: ID!) { assignRole(userId: $u, roleId: $r) { role } }";
    let member_role = t.role_id("member").await;
    t.request(assign, json!({"u": t.user_id, "r": member_role})).await.expect_code("CONFLICT");
    t.request(
        "mutation($id: ID!) { updateRole(id: $id, input: {permissions: {}}) { id } }",
        json!({"id": owner_role}),
    )
    .await
    .expect_code("VALIDATION_FAILED");
    t.request("mutation($id: ID!) { deleteRole(id: $id) }", json!({"id": member_role}))
        .await
        .expect_code("CONFLICT");
    let custom = role(&t, "temp", json!({"*": {"actions": ["read"]}})).await;
    let holder = t.invite("temp").await;
    t.request("mutation($id: ID!) { deleteRole(id: $id) }", json!({"id": custom}))
        .await
        .expect_code("CONFLICT");
    t.data(assign, json!({"u": holder["user"]["id"], "r": member_role})).await;
    let deleted = t.data("mutation($id: ID!) { deleteRole(id: $id) }", json!({"id": custom})).await;
    assert_eq!(deleted["deleteRole"], json!(true));
}

#[tokio::test]
async fn failing_role_permissions_are_validated() {
    let c = crm().await;
    let cases = [
        (json!({"nope": {"actions": ["read"]}}), "permissions.nope"),
        (json!({"deal": {"actions": ["fly"]}}), "permissions.deal.actions"),
        (json!({"deal": {"actions": ["update"]}}), "permissions.deal.actions"),
        (json!({"deal": {"actions": ["read"], "scope": "mine"}}), "permissions.deal.scope"),
        (json!({"deal": {"actions": ["read"], "where": {"nope": {"eq": 1}}}}), "permissions.deal.where"),
        (json!({"deal": {"actions": ["read"], "fields": {"nope": "none"}}}), "permissions.deal.fields.nope"),
        (
            json!({"deal": {"actions": ["read"], "fields": {"title": "hidden"}}}),
            "permissions.deal.fields.title",
        ),
        (json!({"*": {"actions": ["read"], "fields": {"title": "none"}}}), "permissions.*.fields"),
        (json!({"$admin": "yes"}), "permissions.$admin"),
    ];
    for (permissions, path) in cases {
        let r =
            c.t.request(
                "mutation($p: JSON!) { createRole(input: {name: \"bad\", permissions: $p}) { id } }",
                json!({"p": permissions}),
            )
            .await;
        let fields = r.field_errors();
        assert!(
            fields.iter().any(|f| f.starts_with(path)),
            "{permissions}: expected an error at {path}, got {fields:?}"
        );
    }
    let roles = c.t.data("{ roles { name } }", json!({})).await;
    assert!(!pluck_str(&roles["roles"], "name").contains(&"bad".to_owned()), "nothing was created");
}

#[tokio::test]
async fn invitations() {
    let t = tenant().await;
    let accept =
        "mutation($t: String!, $p: String!) { acceptInvite(token: $t, password: $p) { accessToken } }";
    let api = Api::shared();
    api.graphql(&Auth::None, accept, json!({"t": "garbage", "p": PASSWORD}))
        .await
        .expect_code("UNAUTHENTICATED");
    let email = format!("New.Person@{}.example.com", t.slug);
    let invite = t.invite_user(&email, "member", "token expiresAt user { id email role }").await;
    let token = str_of(&invite["token"]);
    assert_eq!(invite["user"]["email"], json!(format!("new.person@{}.example.com", t.slug)));
    // Not usable before acceptance.
    login(&api, &t.slug, &format!("new.person@{}.example.com", t.slug), PASSWORD)
        .await
        .expect_code("UNAUTHENTICATED");
    api.graphql(&Auth::None, accept, json!({"t": token, "p": "short"}))
        .await
        .expect_code("VALIDATION_FAILED");
    api.graphql(&Auth::None, accept, json!({"t": token, "p": PASSWORD})).await.data();
    api.graphql(&Auth::None, accept, json!({"t": token, "p": PASSWORD})).await.expect_code("UNAUTHENTICATED");
    login(&api, &t.slug, &format!("new.person@{}.example.com", t.slug), PASSWORD).await.data();
    let users = t.data("{ users { email role } }", json!({})).await;
    assert!(pluck_str(&users["users"], "email").contains(&format!("new.person@{}.example.com", t.slug)));
    t.request(
        "mutation($e: String!, $r: ID!) { inviteUser(email: $e, roleId: $r) { token } }",
        json!({"e": format!("new.person@{}.example.com", t.slug), "r": t.role_id("member").await}),
    )
    .await
    .expect_code("CONFLICT");
}

#[tokio::test]
async fn administration_is_tenant_scoped() {
    let a = tenant().await;
    let b = tenant().await;
    let a_member = a.invite("member").await;
    let a_role = a.role_id("member").await;
    b.request(
        "mutation($u: ID!, $r: ID!) { assignRole(userId: $u, roleId: $r) { id } }",
        json!({"u": a_member["user"]["id"], "r": b.role_id("admin").await}),
    )
    .await
    .expect_code("NOT_FOUND");
    b.request(
        "mutation($u: ID!, $r: ID!) { assignRole(userId: $u, roleId: $r) { id } }",
        json!({"u": b.user_id, "r": a_role}),
    )
    .await
    .expect_code("NOT_FOUND");
    let Auth::ApiKey(_) = a.api_key("member").await else { unreachable!() };
    let a_keys = a.data("{ apiKeys { id } }", json!({})).await;
    b.request(
        "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
        json!({"id": a_keys["apiKeys"][0]["id"]}),
    )
    .await
    .expect_code("NOT_FOUND");
    let b_users = b.data("{ users { id } }", json!({})).await;
    assert_eq!(pluck_str(&b_users["users"], "id"), vec![b.user_id.clone()]);
    let b_roles = b.data("{ roles { id } }", json!({})).await;
    assert!(!pluck_str(&b_roles["roles"], "id").contains(&a_role));
}

#[tokio::test]
async fn roles_with_equal_permissions_see_the_same_schema() {
    let c = crm().await;
    role(&c.t, "one", json!({"contact": {"actions": ["read"]}, "deal": {"actions": ["read", "create"]}}))
        .await;
    role(&c.t, "two", json!({"deal": {"actions": ["create", "read"]}, "contact": {"actions": ["read"]}}))
        .await;
    let (one, _) = user_with(&c.t, "one").await;
    let (two, _) = user_with(&c.t, "two").await;
    let sdl = |r: Response| str_of(&r.data()["tenantSchemaSdl"]);
    let a = sdl(as_user(&c.t, &one, "{ tenantSchemaSdl }", json!({})).await);
    let b = sdl(as_user(&c.t, &two, "{ tenantSchemaSdl }", json!({})).await);
    assert_eq!(a, b);
    assert!(a.contains("createDeal") && !a.contains("updateDeal"));
}
