//! Translations and layouts through the public API: option labels of a SELECT field shown in
//! Hindi by `lang`, by `Accept-Language` and by a socket's `connection_init`; the fallback
//! chain (explicit → header → the user's locale → the tenant's default → the base label) label
//! by label; the manufacturing template in Hindi, Bengali and Telugu; dashboard and widget
//! titles translated; pipeline stages labelled like the options; a
//! socket's language resolved per operation (its `extensions.lang`, else the connection's,
//! then the user's locale as it is now); a widget layout saved by `updateDashboardLayout` and read back, and a
//! bad layout refused with `VALIDATION_FAILED` without moving anything.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;

const TICKET: &str =
    "{ entity(name: \"ticket\") { labelSingular fields { key label choices { value label } } } }";

/// The ticket entity with a translated SELECT field.
async fn ticket_tenant() -> TestTenant {
    let t = tenant().await;
    let status = field(
        "status",
        "SELECT",
        json!({"options": ["Open", "Closed"], "labels": {"hi": "स्थिति", "bn": "অবস্থা"},
               "optionLabels": {"Open": {"hi": "खुला", "bn": "খোলা"}, "Closed": {"hi": "बंद"}}}),
    );
    let labels = json!({"labels": {"hi": {"singular": "टिकट", "plural": "टिकटें"}}});
    t.define(entity("ticket", "tickets", vec![field("subject", "TEXT", json!({})), status], labels)).await;
    t
}

/// `query` sent with an `Accept-Language` header.
async fn with_language(t: &TestTenant, accept: &str, query: &str) -> Value {
    let request = t.api.http.post(t.api.url("/graphql")).header("accept-language", accept);
    let request = Api::with_auth(request.json(&json!({"query": query})), &t.auth());
    t.api.send(request).await.data()
}

/// The status field's option labels and its label, from an `entity` answer.
fn status(data: &Value) -> (Vec<String>, String) {
    let fields = data["entity"]["fields"].as_array().expect("fields");
    let f = fields.iter().find(|f| f["key"] == "status").expect("status");
    (pluck_str(&f["choices"], "label"), str_of(&f["label"]))
}

#[tokio::test]
async fn option_labels_are_shown_in_hindi_by_lang_and_by_accept_language() {
    let t = ticket_tenant().await;
    let q = "{ entity(name: \"ticket\", lang: \"hi\") { labelSingular labelPlural labels \
             fields { key label choices { value label labels } optionLabels } } }";
    let hi = t.data(q, json!({})).await;
    assert_eq!(
        (hi["entity"]["labelSingular"].clone(), hi["entity"]["labelPlural"].clone()),
        (json!("टिकट"), json!("टिकटें"))
    );
    assert_eq!(status(&hi), (strings(&["खुला", "बंद"]), "स्थिति".to_owned()));
    let f = &hi["entity"]["fields"][1];
    assert_eq!(
        f["choices"][0],
        json!({"value": "Open", "label": "खुला", "labels": {"hi": "खुला", "bn": "খোলা"}})
    );
    assert_eq!(f["optionLabels"]["Closed"], json!({"hi": "बंद"}));
    // The header: a regional tag reaches its language; q-values order the choices, and each
    // label falls back on its own (Closed has no Bengali: its base text).
    assert_eq!(status(&with_language(&t, "hi-IN,en;q=0.5", TICKET).await).0, strings(&["खुला", "बंद"]));
    let bn = with_language(&t, "te, bn-IN;q=0.8, hi;q=0.1", TICKET).await;
    assert_eq!(status(&bn), (strings(&["খোলা", "बंद"]), "অবস্থা".to_owned()), "te missing → bn, then hi");
    let bn_only = with_language(&t, "bn", TICKET).await;
    assert_eq!(status(&bn_only).0, strings(&["খোলা", "Closed"]));
    // An explicit `lang` wins over the header; English is the base text.
    let q_en = "{ entity(name: \"ticket\", lang: \"en\") { labelSingular fields { key label choices { value label } } } }";
    let en = with_language(&t, "hi", q_en).await;
    assert_eq!(
        (status(&en), en["entity"]["labelSingular"].clone()),
        ((strings(&["Open", "Closed"]), "Status".to_owned()), json!("Ticket"))
    );
    // Nothing asked: the base labels.
    assert_eq!(status(&t.data(TICKET, json!({})).await).0, strings(&["Open", "Closed"]));
}

#[tokio::test]
async fn labels_fall_back_to_the_user_locale_then_the_tenant_default_then_the_base() {
    let t = ticket_tenant().await;
    let labels = async || status(&t.data(TICKET, json!({})).await).0;
    assert_eq!(labels().await, strings(&["Open", "Closed"]), "no language anywhere: base");
    let tenant = "mutation($l: String) { updateTenant(input: {defaultLanguage: $l}) { defaultLanguage } }";
    let set = t.data(tenant, json!({"l": "bn"})).await;
    assert_eq!(set["updateTenant"]["defaultLanguage"], json!("bn"));
    assert_eq!(labels().await, strings(&["খোলা", "Closed"]), "the tenant's default, label by label");
    let profile = "mutation($l: String) { updateProfile(input: {locale: $l}) { locale } }";
    t.data(profile, json!({"l": "hi-IN"})).await;
    assert_eq!(labels().await, strings(&["खुला", "बंद"]), "the user's locale before the tenant's default");
    assert_eq!(status(&with_language(&t, "bn", TICKET).await).0, strings(&["খোলা", "बंद"]), "the header first");
    // Another user of the tenant, without a locale, sees the tenant's default.
    let member = t.invite_auth("member").await;
    let theirs = t.api.graphql(&member, TICKET, json!({})).await.data();
    assert_eq!(status(&theirs).0, strings(&["খোলা", "Closed"]));
    t.data(profile, json!({"l": null})).await;
    t.data(tenant, json!({"l": ""})).await;
    assert_eq!(labels().await, strings(&["Open", "Closed"]), "both removed: base again");
    t.request(tenant, json!({"l": "not a language"}))
        .await
        .expect_code("VALIDATION_FAILED")
        .expect_field_errors(&["defaultLanguage"]);
}

#[tokio::test]
async fn option_labels_are_set_checked_and_follow_their_options() {
    let t = ticket_tenant().await;
    let update = "mutation($i: UpdateFieldInput!) { updateField(entity: \"ticket\", key: \"status\", input: $i) \
                  { fields { key optionLabels choices { value label labels } } } }";
    let changed = t
        .data(
            update,
            json!({"i": {"options": ["Open", "Closed", "Parked"],
                                   "optionLabels": {"Parked": {"te": "నిలిపివేయబడింది"}}}}),
        )
        .await;
    let f = &changed["updateField"]["fields"][1];
    assert_eq!(f["optionLabels"], json!({"Parked": {"te": "నిలిపివేయబడింది"}}), "replaced as given");
    let te = t
        .data(
            "{ entity(name: \"ticket\", lang: \"te\") { fields { key label choices { value label } } } }",
            json!({}),
        )
        .await;
    assert_eq!(status(&te).0, strings(&["Open", "Closed", "నిలిపివేయబడింది"]));
    // Dropping an option drops its translations.
    let pruned = t.data(update, json!({"i": {"options": ["Open", "Closed"]}})).await;
    assert_eq!(pruned["updateField"]["fields"][1]["optionLabels"], Value::Null);
    // Translations of options the field does not have, malformed ones, and a field that has
    // no options are refused, member by member.
    t.request(
        update,
        json!({"i": {"optionLabels": {"Gone": {"hi": "x"}, "Open": {"hi": ""}, "Closed": "बंद"}}}),
    )
    .await
    .expect_code("VALIDATION_FAILED")
    .expect_field_errors(&["optionLabels.Closed", "optionLabels.Gone", "optionLabels.Open"]);
    let add = "mutation($f: FieldInput!) { addField(entity: \"ticket\", field: $f) { id } }";
    let text = json!({"key": "note", "label": "Note", "type": "TEXT", "optionLabels": {"x": {"hi": "y"}}});
    t.request(add, json!({"f": text}))
        .await
        .expect_code("VALIDATION_FAILED")
        .expect_field_errors(&["optionLabels"]);
}

#[tokio::test]
async fn a_socket_takes_its_language_from_connection_init() {
    let t = ticket_tenant().await;
    let mut ws = Ws::connect(t.api.server).await;
    ws.init(json!({"authorization": format!("Bearer {}", t.access_token), "acceptLanguage": "hi"}))
        .await
        .expect_ack();
    ws.subscribe("1", TICKET, json!({})).await;
    let data = match ws.recv(Duration::from_secs(30)).await {
        WsEvent::Message(m) if m["type"] == "next" => m["payload"]["data"].clone(),
        other => panic!("expected the query's answer, got {other:?}"),
    };
    assert_eq!(status(&data).0, strings(&["खुला", "बंद"]));
}

const BOARD: &str = "id name names widgets { id title titles position { x y w h } chartType icon color }";

#[tokio::test]
async fn dashboard_titles_translate_and_widget_layouts_are_saved() {
    let t = ticket_tenant().await;
    let widgets = json!([
        {"type": "metric", "title": {"en": "Open tickets", "hi": "खुले टिकट", "te": "తెరిచిన టికెట్లు"}, "entity": "ticket",
         "function": "count", "id": "open", "position": {"x": 0, "y": 0, "w": 4, "h": 2}, "chartType": "number",
         "icon": "ticket", "color": "#1e88e5"},
        {"type": "chart", "title": {"en": "By status", "hi": "स्थितिवार"}, "entity": "ticket", "groupBy": "status"}
    ]);
    let create = format!("mutation($i: DashboardInput!) {{ createDashboard(input: $i) {{ {BOARD} }} }}");
    let input = json!({"key": "support", "name": {"en": "Support", "hi": "सहायता", "te": "సహాయం"}, "widgets": widgets});
    let made = t.data(&create, json!({"i": input})).await["createDashboard"].clone();
    let id = str_of(&made["id"]);
    assert_eq!(made["name"], json!("Support"));
    assert_eq!(made["names"]["te"], json!("సహాయం"));
    assert_eq!(
        made["widgets"][0],
        json!({"id": "open", "title": "Open tickets", "titles": {"en": "Open tickets", "hi": "खुले टिकट", "te": "తెరిచిన టికెట్లు"},
               "position": {"x": 0, "y": 0, "w": 4, "h": 2}, "chartType": "NUMBER", "icon": "ticket", "color": "#1e88e5"})
    );
    assert_eq!(made["widgets"][1]["id"], json!("w2"), "an id by place when none was given");
    // In Telugu by `lang`; a title without Telugu falls back to English. In Hindi by header,
    // and a field's own `lang` wins over its query's.
    let te = t.data(&format!("{{ dashboard(id: \"{id}\", lang: \"te\") {{ {BOARD} }} }}"), json!({})).await;
    assert_eq!(
        (te["dashboard"]["name"].clone(), pluck_str(&te["dashboard"]["widgets"], "title")),
        (json!("సహాయం"), strings(&["తెరిచిన టికెట్లు", "By status"]))
    );
    let q = "{ dashboards { name widgets { title english: title(lang: \"en\") } } }";
    let hi = with_language(&t, "hi-IN", q).await;
    assert_eq!(hi["dashboards"][0]["name"], json!("सहायता"));
    assert_eq!(hi["dashboards"][0]["widgets"][1], json!({"title": "स्थितिवार", "english": "By status"}));

    // A drag-and-drop result saved in one mutation and read back.
    let layout = format!(
        "mutation($id: ID!, $w: [WidgetLayoutInput!]!) {{ updateDashboardLayout(id: $id, widgets: $w) {{ {BOARD} }} }}"
    );
    let moves = json!([{"id": "w2", "position": {"x": 4, "y": 0, "w": 8, "h": 4}, "chartType": "PIE", "color": "teal"},
                       {"id": "open", "position": {"x": 0, "y": 4, "w": 4, "h": 2}}]);
    let moved = t.data(&layout, json!({"id": id, "w": moves})).await["updateDashboardLayout"].clone();
    let read =
        t.data(&format!("{{ dashboard(id: \"{id}\") {{ {BOARD} }} }}"), json!({})).await["dashboard"].clone();
    assert_eq!(moved, read);
    assert_eq!(read["widgets"][1]["position"], json!({"x": 4, "y": 0, "w": 8, "h": 4}));
    assert_eq!(
        (read["widgets"][1]["chartType"].clone(), read["widgets"][1]["color"].clone()),
        (json!("PIE"), json!("teal"))
    );
    assert_eq!(read["widgets"][0]["position"], json!({"x": 0, "y": 4, "w": 4, "h": 2}));
    assert_eq!(read["widgets"][0]["color"], json!("#1e88e5"), "members not given stay");

    // A bad layout is refused member by member, and nothing moves (one transaction).
    let bad = json!([{"id": "open", "position": {"x": 9, "y": 9, "w": 1, "h": 1}},
                     {"id": "w2", "position": {"x": -1, "y": 0, "w": 0, "h": 2}, "color": "#12345"},
                     {"id": "nope", "position": {"x": 0, "y": 0, "w": 1, "h": 1}}]);
    t.request(&layout, json!({"id": id, "w": bad}))
        .await
        .expect_code("VALIDATION_FAILED")
        .expect_field_errors(&[
            "widgets[1].color",
            "widgets[1].position.w",
            "widgets[1].position.x",
            "widgets[2].id",
        ]);
    let after =
        t.data(&format!("{{ dashboard(id: \"{id}\") {{ {BOARD} }} }}"), json!({})).await["dashboard"].clone();
    assert_eq!(after, read, "nothing half-written");
    // The same rules when a dashboard is saved whole, as JSON or typed.
    let bad_widgets = json!([{"type": "metric", "title": {"en": "x"}, "entity": "ticket", "function": "count",
                              "chartType": "radar", "position": {"x": 0, "y": 0, "w": 1, "h": 0}, "icon": ""},
                             {"type": "metric", "title": {"en": "y"}, "entity": "ticket", "function": "count", "id": "w1"}]);
    t.request(&create, json!({"i": {"key": "bad", "name": {"en": "Bad"}, "widgets": bad_widgets}}))
        .await
        .expect_code("VALIDATION_FAILED")
        .expect_field_errors(&[
            "widgets[0].chartType",
            "widgets[0].icon",
            "widgets[0].position.h",
            "widgets[1].id",
        ]);
    let typed = json!({"key": "typed", "name": {"en": "Typed"}, "widgetList": [{"chart": {"title": {"en": "T"},
        "entity": "ticket", "groupBy": "status", "id": "c", "position": {"x": 1, "y": 2, "w": 3, "h": 4}, "chartType": "DONUT"}}]});
    let typed = t.data(&create, json!({"i": typed})).await["createDashboard"]["widgets"][0].clone();
    assert_eq!(
        (typed["id"].clone(), typed["position"].clone(), typed["chartType"].clone()),
        (json!("c"), json!({"x": 1, "y": 2, "w": 3, "h": 4}), json!("DONUT"))
    );
    let typed_bad = json!({"key": "typed_bad", "name": {"en": "T"}, "widgetList": [{"metric": {"title": {"en": "T"},
        "entity": "ticket", "function": "COUNT", "position": {"x": 0, "y": -2, "w": 1, "h": 1}}}]});
    t.request(&create, json!({"i": typed_bad}))
        .await
        .expect_code("VALIDATION_FAILED")
        .expect_field_errors(&["widgetList[0].position.y"]);
}

/// Every translation the manufacturing template ships, by language: entities (singular and
/// plural), fields, options, dashboards and widgets.
#[tokio::test]
async fn the_manufacturing_template_speaks_hindi_bengali_and_telugu() {
    let t = tenant().await;
    t.data("mutation { applyTemplate(slug: \"manufacturing\") { slug } }", json!({})).await;
    let q = "query($l: String) { entities(lang: $l) { nameSingular labelSingular labelPlural labels \
             fields { key label labels options choices { value label labels } } } \
             dashboards(lang: $l) { key name names widgets { title titles } } }";
    let base = t.data(q, json!({})).await;
    for (lang, purchase_order, pending) in [
        ("hi", "क्रय आदेश", "लंबित मांग-पत्र"),
        ("bn", "ক্রয় আদেশ", "মুলতুবি চাহিদাপত্র"),
        ("te", "కొనుగోలు ఆర్డర్", "పెండింగ్ అభ్యర్థనలు"),
    ] {
        let shown = t.data(q, json!({"l": lang})).await;
        let entities = shown["entities"].as_array().expect("entities");
        assert!(entities.len() >= 10, "{lang}: {}", entities.len());
        for (e, b) in entities.iter().zip(base["entities"].as_array().expect("base")) {
            let name = str_of(&e["nameSingular"]);
            assert_eq!(e["labelSingular"], e["labels"][lang]["singular"], "{lang} {name}");
            assert_eq!(e["labelPlural"], e["labels"][lang]["plural"], "{lang} {name}");
            assert_ne!(e["labelSingular"], b["labelSingular"], "{lang} {name}");
            for f in e["fields"].as_array().expect("fields") {
                let key = str_of(&f["key"]);
                assert!(f["labels"][lang].is_string(), "{lang} {name}.{key} has no label");
                assert_eq!(f["label"], f["labels"][lang], "{lang} {name}.{key}");
                for o in f["choices"].as_array().expect("choices") {
                    assert!(o["labels"][lang].is_string(), "{lang} {name}.{key} option {}", o["value"]);
                    assert_eq!(o["label"], o["labels"][lang]);
                }
            }
        }
        let po = entities.iter().find(|e| e["nameSingular"] == "purchase_order").expect("purchase_order");
        assert_eq!(po["labelSingular"], json!(purchase_order), "{lang}");
        for d in shown["dashboards"].as_array().expect("dashboards") {
            assert_eq!(d["name"], d["names"][lang], "{lang} {}", d["key"]);
            for w in d["widgets"].as_array().expect("widgets") {
                assert_eq!(w["title"], w["titles"][lang], "{lang} {}", d["key"]);
            }
        }
        let purchase = shown["dashboards"]
            .as_array()
            .expect("dashboards")
            .iter()
            .find(|d| d["key"] == "purchase")
            .cloned();
        assert_eq!(purchase.expect("purchase dashboard")["widgets"][0]["title"], json!(pending), "{lang}");
    }
    // The same through the header, regional tag and all.
    let te = with_language(&t, "te-IN", "{ entity(name: \"purchase_order\") { labelSingular } }").await;
    assert_eq!(te["entity"]["labelSingular"], json!("కొనుగోలు ఆర్డర్"));
}

#[tokio::test]
async fn pipeline_stages_show_option_labels() {
    let t = ticket_tenant().await;
    let tickets = Names::new("ticket", "tickets");
    t.create(&tickets, json!({"subject": "a", "status": "Open"}), "").await;
    t.create(&tickets, json!({"subject": "b", "status": "Closed"}), "").await;
    let widgets =
        json!([{"type": "pipeline", "title": {"en": "Flow"}, "entity": "ticket", "stageField": "status"}]);
    let input = json!({"key": "flow", "name": {"en": "Flow"}, "widgets": widgets});
    let id = str_of(
        &t.data("mutation($i: DashboardInput!) { createDashboard(input: $i) { id } }", json!({"i": input}))
            .await["createDashboard"]["id"],
    );
    let stages = |data: &Value, key: &str| pluck_str(&data["dashboard"]["widgets"][0]["data"]["stages"], key);
    let q = |lang: &str| format!("{{ dashboard(id: \"{id}\"{lang}) {{ widgets {{ data }} }} }}");
    // The stage values stay the option values; the labels follow the request's language.
    let hi = t.data(&q(", lang: \"hi\""), json!({})).await;
    assert_eq!(stages(&hi, "stage"), strings(&["Open", "Closed"]));
    assert_eq!(stages(&hi, "label"), strings(&["खुला", "बंद"]));
    // By header, each label falling back on its own (no Bengali for Closed).
    let bn = with_language(&t, "bn-IN", &q("")).await;
    assert_eq!(stages(&bn, "label"), strings(&["খোলা", "Closed"]));
    // No language anywhere: the base text.
    assert_eq!(stages(&t.data(&q(""), json!({})).await, "label"), strings(&["Open", "Closed"]));
}

/// The status labels of `TICKET` answered to operation `id` on `ws` (the `complete` messages
/// of earlier operations passed over).
async fn socket_labels(ws: &mut Ws, id: &str) -> Vec<String> {
    loop {
        match ws.recv(Duration::from_secs(30)).await {
            WsEvent::Message(m) if m["type"] == "complete" => continue,
            WsEvent::Message(m) if m["type"] == "next" && m["id"] == id => {
                return status(&m["payload"]["data"]).0;
            }
            other => panic!("expected the answer to {id}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_socket_resolves_the_language_of_each_operation() {
    let t = ticket_tenant().await;
    let mut ws = Ws::connect(t.api.server).await;
    ws.init(json!({"authorization": format!("Bearer {}", t.access_token)})).await.expect_ack();
    // No language on the socket and no locale: the base labels.
    ws.subscribe("1", TICKET, json!({})).await;
    assert_eq!(socket_labels(&mut ws, "1").await, strings(&["Open", "Closed"]));
    // One operation names its own language in `extensions`; the next does not.
    let own =
        json!({"id": "2", "type": "subscribe", "payload": {"query": TICKET, "extensions": {"lang": "bn"}}});
    ws.send(own).await;
    assert_eq!(socket_labels(&mut ws, "2").await, strings(&["খোলা", "Closed"]));
    // The user's locale changes while the socket is open: the next operation shows it (the
    // locale is read per operation, not once at connect).
    let profile = "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { locale } }";
    t.data(profile, json!({"i": {"locale": "hi"}})).await;
    ws.subscribe("3", TICKET, json!({})).await;
    assert_eq!(socket_labels(&mut ws, "3").await, strings(&["खुला", "बंद"]));
}
