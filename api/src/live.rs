//! Live changes, fanned out once per group of alike subscribers. The event bus carries every
//! committed change of every tenant; a subscription reading it directly woke on each event of
//! the process and matched it itself (10,000 subscriptions at 100 writes/s: a million wake-ups
//! and matches a second, nearly all to discard another tenant's change), and so did every
//! socket, for its control messages. Here one task reads the bus:
//! - a record change goes to the groups of its (tenant, entity) only. A group is the
//!   subscriptions with one filter, one row rule and one set of visible fields: the change is
//!   matched and shaped once per group and handed to its members as one shared value. An
//!   update is matched before and after (the event carries the previous values), so a record
//!   moving out of a group's filter or row rule is `LEFT`, one moving in `ENTERED`;
//! - a module's news (workflow runs, approval requests, audit entries — one with every write —,
//!   emails, webhook deliveries: `BusEvent::news_of`) goes to the channel of its tenant only,
//!   which that tenant's module subscriptions read (`schema::news`);
//! - everything else (sessions revoked, definitions or access changed, notifications: rare)
//!   goes to the control channel, which sockets and notification subscriptions read.
//!
//! A group (and a tenant's news channel) holds `LIVE_BUFFER` events for its slowest member. A
//! member that falls further behind has missed events: it gets `Delivery::Missed` (its socket
//! then closes with `CLOSE_TOO_SLOW`, so the client knows to catch up by a query) rather than
//! a silent gap.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use entity::runtime::audit::AuditAppended;
use entity::runtime::filter::Filter;
use entity::runtime::outbox::Event;
use entity::runtime::record::{ChangeEvent, Record};
use jobs::{BusEvent, EventBus};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::schema::access::EntityAccess;
use crate::schema::values::{ChangeValue, LiveKind};

/// What a subscription receives: a record change (`T`, the default) or a module's news
/// (`BusEvent`).
#[derive(Clone)]
pub enum Delivery<T = Arc<ChangeValue>> {
    /// A change it matches, shaped for its visible fields (record changes), or a piece of its
    /// tenant's news.
    Change(T),
    /// Changes were lost before reaching it (the fan-out itself fell behind the bus).
    Missed(u64),
}

/// The subscriptions of one (tenant, entity) with one filter, row rule and view.
struct Group {
    /// Identifies the filter, the row rule and the visible fields.
    key: String,
    filter: Option<Filter>,
    row: Option<Filter>,
    entity: Arc<EntityAccess>,
    tx: broadcast::Sender<Delivery>,
}

impl Group {
    /// Whether the members see `r` (their filter and row rule match it).
    fn sees(&self, r: &Record) -> bool {
        [&self.filter, &self.row].into_iter().flatten().all(|f| f.matches(r))
    }

    /// The change as this group's members see it, when they see it at all. `before` is the
    /// record before an update (`ChangeEvent::before`): an update that moves the record out of
    /// what they see is `LEFT`, one that moves it in is `ENTERED`. A `LEFT` carries the record
    /// as they last saw it, before the update: they may no longer see its new values (a row
    /// rule that stopped matching), and the schema's required fields still have theirs.
    fn shape(&self, ev: &ChangeEvent, before: Option<&Record>) -> Option<ChangeValue> {
        let (kind, record) = match (before.filter(|b| self.sees(b)), self.sees(&ev.record)) {
            (Some(_), true) => (LiveKind::Change(ev.kind), &ev.record),
            (None, true) if before.is_some() => (LiveKind::Entered, &ev.record),
            (None, true) => (LiveKind::Change(ev.kind), &ev.record),
            (Some(seen), false) => (LiveKind::Left, seen),
            (None, false) => return None,
        };
        let record = record.clone();
        let visible = |name: &String| name == "owner" || self.entity.view.field_by_graphql(name).is_some();
        Some(ChangeValue {
            kind,
            record,
            changed_fields: ev.changed_fields.iter().filter(|f| visible(f)).cloned().collect(),
        })
    }
}

/// (tenant id, entity id)
type Topic = (String, String);

/// The fan-out.
pub struct Live {
    control: broadcast::Sender<BusEvent>,
    groups: Mutex<HashMap<Topic, Vec<Arc<Group>>>>,
    /// Each tenant's module news, for as long as one of its subscriptions listens.
    news: Mutex<HashMap<String, broadcast::Sender<Delivery<BusEvent>>>>,
    /// Changes a group holds for its slowest member.
    buffer: usize,
}

impl Live {
    /// Starts the fan-out of `bus` (a task that ends when the bus closes).
    pub fn start(bus: &EventBus, buffer: usize) -> Arc<Live> {
        let (control, _) = broadcast::channel(1024);
        let live = Arc::new(Live {
            control,
            groups: Mutex::new(HashMap::new()),
            news: Mutex::new(HashMap::new()),
            buffer: buffer.max(1),
        });
        let rx = bus.subscribe();
        // The task holds the fan-out only weakly: dropping the state stops it.
        let weak = Arc::downgrade(&live);
        tokio::spawn(route(weak, rx));
        live
    }

    /// The control events (everything but record changes).
    pub fn control(&self) -> broadcast::Receiver<BusEvent> {
        self.control.subscribe()
    }

    /// The module news of `tenant_id` (`BusEvent::news_of`).
    pub fn news(&self, tenant_id: &str) -> broadcast::Receiver<Delivery<BusEvent>> {
        let Ok(mut news) = self.news.lock() else { return broadcast::channel(1).1 };
        news.entry(tenant_id.to_owned()).or_insert_with(|| broadcast::channel(self.buffer).0).subscribe()
    }

    /// Hands `event` to the news subscribers of `tenant_id`, if any.
    fn tell(&self, tenant_id: &str, event: BusEvent) {
        let Ok(mut news) = self.news.lock() else { return };
        if let Some(tx) = news.get(tenant_id) {
            if tx.receiver_count() == 0 {
                news.remove(tenant_id);
            } else {
                let _ = tx.send(Delivery::Change(event));
            }
        }
    }

    /// Joins (or opens) the group of changes to `entity` of `tenant_id` matching `filter` and
    /// the row rule `row`.
    pub fn changes(
        &self,
        tenant_id: &str,
        entity: &Arc<EntityAccess>,
        filter: Option<Filter>,
        row: Option<Filter>,
    ) -> broadcast::Receiver<Delivery> {
        let fields: Vec<&str> = entity.view.fields.iter().map(|f| f.graphql_name.as_str()).collect();
        let key = format!("{filter:?}|{row:?}|{}", fields.join(","));
        let Ok(mut groups) = self.groups.lock() else {
            // A poisoned lock: a receiver of a channel nobody sends on, which ends at once.
            return broadcast::channel(1).1;
        };
        let topic = (tenant_id.to_owned(), entity.full.id.clone());
        let list = groups.entry(topic).or_default();
        list.retain(|g| g.tx.receiver_count() > 0);
        if let Some(g) = list.iter().find(|g| g.key == key) {
            return g.tx.subscribe();
        }
        let (tx, rx) = broadcast::channel(self.buffer);
        list.push(Arc::new(Group { key, filter, row, entity: entity.clone(), tx }));
        rx
    }

    /// How many groups and subscriptions are open (`/metrics`).
    pub fn usage(&self) -> (usize, usize) {
        let Ok(groups) = self.groups.lock() else { return (0, 0) };
        let all = groups.values().flatten();
        all.fold((0, 0), |(g, s), group| (g + 1, s + group.tx.receiver_count()))
    }

    /// Whether any subscription listens to changes of `entity_id` of `tenant_id`, or (for
    /// `AuditAppended::TOPIC`) to the tenant's news (the outbox tailer parses and publishes
    /// only those).
    pub fn wants(&self, tenant_id: &str, entity_id: &str) -> bool {
        if entity_id == AuditAppended::TOPIC {
            return self
                .news
                .lock()
                .is_ok_and(|n| n.get(tenant_id).is_some_and(|tx| tx.receiver_count() > 0));
        }
        self.groups.lock().is_ok_and(|g| g.contains_key(&(tenant_id.to_owned(), entity_id.to_owned())))
    }

    fn deliver(&self, ev: &ChangeEvent) {
        let topic = (ev.tenant_id.clone(), ev.entity_id.clone());
        // Matching runs outside the lock: subscribing never waits for a delivery.
        let groups = match self.groups.lock() {
            Ok(mut groups) => match groups.get_mut(&topic) {
                Some(list) => {
                    list.retain(|g| g.tx.receiver_count() > 0);
                    if list.is_empty() {
                        groups.remove(&topic);
                        return;
                    }
                    list.clone()
                }
                None => return,
            },
            Err(_) => return,
        };
        let before = ev.before();
        for g in groups {
            if let Some(change) = g.shape(ev, before.as_ref()) {
                let _ = g.tx.send(Delivery::Change(Arc::new(change)));
            }
        }
    }

    /// Tells every subscription it missed `n` events: the fan-out fell behind the bus, and
    /// what it lost could have been anyone's.
    fn missed(&self, n: u64) {
        if let Ok(groups) = self.groups.lock() {
            for g in groups.values().flatten() {
                let _ = g.tx.send(Delivery::Missed(n));
            }
        }
        if let Ok(news) = self.news.lock() {
            for tx in news.values() {
                let _ = tx.send(Delivery::Missed(n));
            }
        }
    }
}

async fn route(live: std::sync::Weak<Live>, mut rx: broadcast::Receiver<BusEvent>) {
    loop {
        let event = rx.recv().await;
        let Some(live) = live.upgrade() else { return };
        match event {
            Ok(BusEvent::Record(ev)) => live.deliver(&ev),
            Ok(other) => match other.news_of().map(str::to_owned) {
                Some(tenant_id) => live.tell(&tenant_id, other),
                None => {
                    let _ = live.control.send(other);
                }
            },
            Err(RecvError::Lagged(n)) => {
                tracing::error!(missed = n, "the live fan-out fell behind the event bus");
                live.missed(n);
            }
            Err(RecvError::Closed) => return,
        }
    }
}
