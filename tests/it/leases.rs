//! The states of emails and webhook deliveries in the data layer, on a database of the test's
//! own (no server and no worker to race with): a claim is taken once; a claim whose worker
//! went silent is taken back by the sweep after the lease, counted as an attempt and announced
//! again; dead work is listed by the dead-letter view with its summary and sent back by a
//! retry. Two job relays on one database (two processes' on one SQLite file) push each
//! outbox event once. On PostgreSQL the tenant's statements run as the application role
//! (row-level security), the sweep's cross-tenant reads on the owner's connection, as in the
//! server.

use std::time::Duration;

use entity::Db;
use entity::features::dead_jobs::{self, Kind};
use entity::features::emails::{self, NewEmail};
use entity::features::webhooks::{self, Webhook};
use entity::models::{outbox, tenant};
use entity::runtime::time;
use migration::MigratorTrait;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::processes::Scratch;

/// The system and tenant connections of a migrated database of this test alone (in
/// `Scratch`), with one tenant.
async fn database_with_a_tenant() -> (Db, Db, String, Scratch) {
    let scratch = Scratch::new("leases").await;
    let url = &scratch.url;
    let system = Db::connect(url).await.expect("connect (system)");
    migration::Migrator::up(&system.conn, None).await.expect("migrate");
    let db = match scratch.pg_name {
        Some(_) => Db::connect_as(url, Some(migration::APP_ROLE)).await.expect("connect (app)"),
        None => system.clone(),
    };
    let id = uuid::Uuid::new_v4().to_string();
    let now = time::now();
    let row = tenant::ActiveModel {
        id: Set(id.clone()),
        name: Set("Leases".into()),
        slug: Set(format!("leases-{}", &id[..8])),
        time_zone: Set("UTC".into()),
        metadata_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    tenant::Entity::insert(row).exec_without_returning(&system.conn).await.expect("a tenant");
    (system, db, id, scratch)
}

/// How many events of `topic` the outbox holds.
async fn events(system: &Db, topic: &str) -> u64 {
    outbox::Entity::find().filter(outbox::Column::Topic.eq(topic)).count(&system.conn).await.expect("count")
}

/// One pass of the sweeps with a lease of zero: every claim made before it is stale.
async fn sweep(system: &Db, db: &Db) {
    // A claim is stamped to the millisecond: let the cutoff pass it.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let scanner = jobs::sweeper::TimeScanner::new(system.clone(), db.clone(), Duration::from_secs(1))
        .with_email_lease(Duration::ZERO);
    scanner.pass().await.expect("sweep");
}

#[tokio::test]
async fn abandoned_claims_come_back_after_the_lease_and_dead_work_is_listed_and_retried() {
    let (system, db, t, scratch) = database_with_a_tenant().await;

    // An email, queued twice under one key: one email, one event.
    let email =
        NewEmail { idempotency_key: "k1", to: "ann@example.com", subject: "Hello", body: "Hi", about: None };
    let txn = db.begin_tenant_write(&t).await.expect("begin");
    let id = emails::queue(&txn, &t, &email).await.expect("queue");
    assert_eq!(emails::queue(&txn, &t, &email).await.expect("queue again"), id);
    txn.commit().await.expect("commit");
    assert_eq!(events(&system, "email.queued").await, 1);

    // Claimed once; the second claim (a duplicate job) gets nothing.
    let txn = db.begin_tenant_write(&t).await.expect("begin");
    let e = emails::get(&txn, &t, &id).await.expect("get").expect("the email");
    assert_eq!((e.status.as_str(), e.attempts, e.to_address.as_str()), ("queued", 0, "ann@example.com"));
    assert!(emails::claim(&txn, &e).await.expect("claim"));
    assert!(!emails::claim(&txn, &e).await.expect("claim again"));
    txn.commit().await.expect("commit");

    // A webhook and a delivery, recorded once per event.
    let hook = Webhook {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: t.clone(),
        url: "https://example.com/hook".into(),
        description: None,
        events: vec!["deal.*".into()],
        secrets: vec![webhooks::new_secret()],
        active: true,
        created_at: time::now(),
    };
    let txn = db.begin_tenant_write(&t).await.expect("begin");
    webhooks::save(&txn, &hook, true).await.expect("save");
    let mut rotated = webhooks::get(&txn, &t, &hook.id).await.expect("get").expect("the webhook");
    assert_eq!(rotated, hook);
    webhooks::rotate(&mut rotated.secrets);
    rotated.description = Some("rotated".into());
    webhooks::save(&txn, &rotated, false).await.expect("update");
    txn.commit().await.expect("commit");
    let all = webhooks::list(&system.conn, None, true).await.expect("list");
    assert_eq!(all, vec![rotated.clone()]);
    let payload = json!({"id": "event:1", "type": "deal.created"});
    let delivery = webhooks::enqueue(&system.conn, &rotated, "event:1", "deal.created", &payload)
        .await
        .expect("enqueue")
        .expect("a new delivery");
    let again = webhooks::enqueue(&system.conn, &rotated, "event:1", "deal.created", &payload).await;
    assert_eq!(again.expect("enqueue again"), None, "one delivery per webhook and event");
    let txn = db.begin_tenant_write(&t).await.expect("begin");
    let del = webhooks::get_delivery(&txn, &t, &delivery).await.expect("get").expect("the delivery");
    assert_eq!((del.status.as_str(), del.attempts, &del.payload), ("pending", 0, &payload));
    assert!(webhooks::claim_delivery(&txn, &del).await.expect("claim"));
    assert!(!webhooks::claim_delivery(&txn, &del).await.expect("claim again"));
    txn.commit().await.expect("commit");

    // Both workers went silent: the sweep takes the claims back, counting the lost attempts.
    sweep(&system, &db).await;
    let txn = db.begin_tenant_read(&t).await.expect("begin");
    let e = emails::get(&txn, &t, &id).await.expect("get").expect("the email");
    let del = webhooks::get_delivery(&txn, &t, &delivery).await.expect("get").expect("the delivery");
    txn.commit().await.expect("commit");
    let stopped = Some("the worker stopped during delivery".to_owned());
    assert_eq!((e.status.as_str(), e.attempts, &e.last_error), ("retrying", 1, &stopped));
    assert_eq!((del.status.as_str(), del.attempts, &del.last_error), ("retrying", 1, &stopped));
    assert_eq!(events(&system, "email.queued").await, 2, "the email is handed to the workers again");
    assert_eq!(events(&system, "webhook.retry").await, 1, "the delivery is handed to the workers again");
    assert!(emails::stale_claims(&system.conn, time::now()).await.expect("stale").is_empty());
    assert!(webhooks::stale_deliveries(&system.conn, time::now()).await.expect("stale").is_empty());

    // The next attempts fail for good: both are dead, and listed as such.
    let txn = db.begin_tenant_write(&t).await.expect("begin");
    assert!(emails::claim(&txn, &e).await.expect("claim"));
    emails::record_attempt(&txn, &e, "dead", Some("550 no such user"), None).await.expect("record");
    assert!(webhooks::claim_delivery(&txn, &del).await.expect("claim"));
    webhooks::record_attempt(&txn, &del, "dead", Some(500), Some("the receiver answered 500"))
        .await
        .expect("record");
    txn.commit().await.expect("commit");
    let txn = db.begin_tenant_read(&t).await.expect("begin");
    let dead = dead_jobs::list(&txn, &t, 10).await.expect("dead jobs");
    let deliveries = webhooks::deliveries(&txn, &t, &rotated.id, 10).await.expect("deliveries");
    txn.commit().await.expect("commit");
    let summaries: Vec<_> =
        dead.iter().map(|j| (j.kind, j.id.as_str(), j.summary.as_str(), j.attempts)).collect();
    assert_eq!(summaries.len(), 2, "{dead:?}");
    assert!(summaries.contains(&(Kind::Email, id.as_str(), "ann@example.com: Hello", 2)), "{dead:?}");
    assert!(
        summaries.contains(&(
            Kind::WebhookDelivery,
            delivery.as_str(),
            "deal.created → https://example.com/hook",
            2
        )),
        "{dead:?}"
    );
    assert_eq!(deliveries.len(), 1);
    assert_eq!((deliveries[0].response_status, deliveries[0].delivered_at), (Some(500), None));

    // A retry sends each back to the queue with its event; nothing else is dead.
    let txn = db.begin_tenant_write(&t).await.expect("begin");
    assert_eq!(dead_jobs::retry(&txn, &t, &id).await.expect("retry"), Some(Kind::Email));
    assert_eq!(dead_jobs::retry(&txn, &t, &delivery).await.expect("retry"), Some(Kind::WebhookDelivery));
    assert_eq!(dead_jobs::retry(&txn, &t, &id).await.expect("retry again"), None);
    let e = emails::get(&txn, &t, &id).await.expect("get").expect("the email");
    assert_eq!((e.status.as_str(), e.last_error.as_deref()), ("queued", None));
    assert!(dead_jobs::list(&txn, &t, 10).await.expect("dead jobs").is_empty());
    // Sent at last: the message id is kept by a later record that names none.
    assert!(emails::claim(&txn, &e).await.expect("claim"));
    emails::record_attempt(&txn, &e, "sent", None, Some("<m@x>")).await.expect("record");
    let sent = emails::get(&txn, &t, &id).await.expect("get").expect("the email");
    assert_eq!((sent.status.as_str(), sent.attempts, sent.message_id.as_deref()), ("sent", 3, Some("<m@x>")));
    assert!(sent.sent_at.is_some());
    assert_eq!(emails::list(&txn, &t, Some("sent"), 10).await.expect("list"), vec![sent]);
    // Deleting the webhook takes its deliveries with it.
    assert!(webhooks::delete(&txn, &t, &rotated.id).await.expect("delete"));
    assert!(!webhooks::delete(&txn, &t, &rotated.id).await.expect("delete again"));
    assert_eq!(webhooks::get_delivery(&txn, &t, &delivery).await.expect("get"), None);
    txn.commit().await.expect("commit");
    assert_eq!(events(&system, "email.queued").await, 3);
    assert_eq!(events(&system, "webhook.retry").await, 2);

    drop((db, system));
    scratch.remove().await;
}

#[tokio::test]
async fn two_relays_on_one_database_push_each_event_once() {
    let (system, db, t, scratch) = database_with_a_tenant().await;
    // Three relay batches of events that need work.
    let txn = db.begin_tenant_write(&t).await.expect("begin");
    for i in 0..300 {
        let key = format!("k{i}");
        let email = NewEmail {
            idempotency_key: &key,
            to: "ann@example.com",
            subject: "Hello",
            body: "Hi",
            about: None,
        };
        emails::queue(&txn, &t, &email).await.expect("queue");
    }
    txn.commit().await.expect("commit");
    // Each relay with its own connections and queue handle, as in two processes (a `serve`
    // and a `worker`), both passing at once until neither finds more.
    let queue_name = format!("relays-{}", uuid::Uuid::new_v4().simple());
    let mut relays = Vec::new();
    for _ in 0..2 {
        let own = Db::connect(&scratch.url).await.expect("connect (relay)");
        let queue = jobs::queue::Queue::connect(&scratch.url, &queue_name).await.expect("queue");
        relays.push(jobs::relay::Relay::new(own, queue, Duration::from_secs(1), jobs::peers::Peers::local()));
    }
    loop {
        let (a, b) = tokio::join!(relays[0].pass(), relays[1].pass());
        if a.expect("relay a") + b.expect("relay b") == 0 {
            break;
        }
    }
    let depth = jobs::queue::depth(&system, &queue_name).await.expect("queue depth");
    let pushed: i64 = depth.iter().map(|(_, _, n)| n).sum();
    assert_eq!(pushed, 300, "one job per event: {depth:?}");
    drop(relays);
    scratch.remove().await;
}
