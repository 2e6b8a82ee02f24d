//! Whom a row rule is evaluated for, and the placeholders of a rule: `$currentUser` and
//! `$user.<key>` (`$user.id` is the user's id, any other key one of their attributes), replaced
//! in the rule's JSON before it is parsed — so SQL and in-memory evaluation see one filter.

use serde_json::Value;

use super::{Attributes, CURRENT_USER, PROBE_USER, USER_ID_KEY, USER_PREFIX};

/// Whom a row rule is evaluated for: what `$currentUser` and `$user.<key>` stand for.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub user_id: Option<&'a str>,
    pub attributes: &'a Attributes,
}

impl<'a> Subject<'a> {
    /// A user with their attributes.
    pub fn new(user_id: &'a str, attributes: &'a Attributes) -> Subject<'a> {
        Subject { user_id: Some(user_id), attributes }
    }

    /// The value a placeholder string stands for: `Some(None)` when `s` is a placeholder with
    /// no value (an attribute the user lacks), `None` when `s` is no placeholder.
    pub(super) fn resolve(&self, s: &str) -> Option<Option<Value>> {
        let user = || self.user_id.map(|u| Value::String(u.to_owned()));
        if s == CURRENT_USER {
            return Some(user());
        }
        let key = s.strip_prefix(USER_PREFIX)?;
        Some(if key == USER_ID_KEY {
            user()
        } else {
            self.attributes.get(key).filter(|v| !v.is_null()).cloned()
        })
    }
}

/// Replaces every placeholder string anywhere in a `where` document with what `resolve`
/// says it stands for (`Subject::resolve`); `None` when a placeholder has no value, so that
/// the caller denies rather than drop the condition (a null operand is no condition at all).
/// `$currentUser` without a user stays null, as it always did.
pub(super) fn substitute(v: &Value, resolve: &impl Fn(&str) -> Option<Option<Value>>) -> Option<Value> {
    Some(match v {
        Value::String(s) => match resolve(s) {
            None => v.clone(),
            Some(Some(x)) => x,
            Some(None) if s == CURRENT_USER => Value::Null,
            Some(None) => return None,
        },
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, resolve)).collect::<Option<_>>()?),
        Value::Object(m) => Value::Object(
            m.iter().map(|(k, x)| Some((k.clone(), substitute(x, resolve)?))).collect::<Option<_>>()?,
        ),
        other => other.clone(),
    })
}

/// What a placeholder stands for while a `where` is checked at definition time: a user id
/// for `$currentUser` and `$user.id`; null for an attribute, whose value is the user's to
/// have, so only its field and operator are checked then.
pub(super) fn probe_value(s: &str) -> Option<Option<Value>> {
    if s == CURRENT_USER || s.strip_prefix(USER_PREFIX) == Some(USER_ID_KEY) {
        Some(Some(Value::String(PROBE_USER.into())))
    } else if s.starts_with(USER_PREFIX) {
        Some(Some(Value::Null))
    } else {
        None
    }
}
