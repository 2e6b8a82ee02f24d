//! A user's own account: their profile (`updateProfile`: name, locale, time zone, avatar) and
//! their password (`changePassword`, which ends every other session of theirs). Profile input
//! is checked before the transaction (`ProfileChanges::check`); the password's hash and its
//! verification are the API's.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use serde_json::{Map, Value, json};

use super::{UserView, accounts, roles, sessions};
use crate::models::user;
use crate::runtime::audit::{self, Actor};
use crate::runtime::i18n;
use crate::runtime::value::{URL_RULE, is_url};
use crate::runtime::{signals, time};
use crate::{Dialect, Error, FieldError, Result};

/// Longest display name.
const MAX_NAME: usize = 200;

/// The signed-in user acting on their own account.
#[derive(Debug, Clone, Copy)]
pub struct Me<'a> {
    pub tenant_id: &'a str,
    pub user_id: &'a str,
    /// The credential of the request (a session id or an API key id): it stays working.
    pub session_id: &'a str,
    pub actor: &'a Actor,
}

/// What `updateProfile` does to one member of the profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Absent from the input: as it is.
    Keep,
    /// `null` or blank: removed.
    Clear,
    /// The new value, trimmed.
    Set(String),
}

impl Change {
    fn apply(self, column: &mut sea_orm::ActiveValue<Option<String>>) {
        match self {
            Change::Keep => {}
            Change::Clear => *column = Set(None),
            Change::Set(v) => *column = Set(Some(v)),
        }
    }
}

/// An `UpdateProfileInput`, checked.
#[derive(Debug, Clone)]
pub struct ProfileChanges {
    pub name: Change,
    pub locale: Change,
    pub time_zone: Change,
    pub avatar: Change,
}

impl ProfileChanges {
    /// Reads `input` (the input object as JSON), naming every bad member in one
    /// `VALIDATION_FAILED`.
    pub fn check(input: &Map<String, Value>) -> Result<ProfileChanges> {
        let mut errors = Vec::new();
        let mut read = |key: &str, valid: &dyn Fn(&str) -> Option<String>| -> Change {
            match input.get(key) {
                None => Change::Keep,
                Some(Value::String(s)) if !s.trim().is_empty() => {
                    let s = s.trim();
                    match valid(s) {
                        None => Change::Set(s.to_owned()),
                        Some(message) => {
                            errors.push(FieldError::new(key, message));
                            Change::Keep
                        }
                    }
                }
                Some(Value::String(_) | Value::Null) => Change::Clear,
                Some(_) => {
                    errors.push(FieldError::new(key, "must be a string"));
                    Change::Keep
                }
            }
        };
        let name = read("name", &|s| {
            (s.chars().count() > MAX_NAME).then(|| format!("must be at most {MAX_NAME} characters"))
        });
        let locale = read("locale", &|s| {
            (!i18n::is_language_tag(s))
                .then(|| format!("`{s}` is not a BCP-47 language tag such as `en` or `hi-IN`"))
        });
        let time_zone = read("timeZone", &|s| {
            s.parse::<chrono_tz::Tz>().is_err().then(|| format!("`{s}` is not an IANA time zone"))
        });
        let avatar = read("avatar", &|s| (!is_url(s)).then(|| URL_RULE.to_owned()));
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        Ok(ProfileChanges { name, locale, time_zone, avatar })
    }
}

/// Appends the audit entry of a change the user made to their own account.
async fn audit_own(
    conn: &impl ConnectionTrait,
    d: Dialect,
    me: &Me<'_>,
    action: &str,
    changes: Value,
) -> Result<()> {
    let entry = audit::Entry { action, object_type: "user", object_id: Some(me.user_id), changes };
    audit::append(conn, d, me.tenant_id, me.actor, &entry).await
}

/// `updateProfile`: applies `changes` to the caller's profile.
pub async fn update(
    conn: &impl ConnectionTrait,
    d: Dialect,
    me: &Me<'_>,
    changes: ProfileChanges,
) -> Result<UserView> {
    let before = accounts::find(conn, me.tenant_id, me.user_id).await?;
    let mut am: user::ActiveModel = before.clone().into();
    changes.name.apply(&mut am.name);
    changes.locale.apply(&mut am.locale);
    changes.time_zone.apply(&mut am.time_zone);
    changes.avatar.apply(&mut am.avatar);
    am.updated_at = Set(time::now());
    let after = am.update(conn).await?;
    let pairs = [
        ("name", &before.name, &after.name),
        ("locale", &before.locale, &after.locale),
        ("timeZone", &before.time_zone, &after.time_zone),
        ("avatar", &before.avatar, &after.avatar),
    ];
    let diff: Map<String, Value> = pairs
        .into_iter()
        .filter(|(_, old, new)| old != new)
        .map(|(k, old, new)| (k.to_owned(), json!({"old": old, "new": new})))
        .collect();
    audit_own(conn, d, me, "user.update_profile", Value::Object(diff)).await?;
    if before.time_zone != after.time_zone {
        // Credentials are cached with their user's time zone (what their day is in): the
        // tenant's cached ones are re-read. No user nor role is named, so no socket closes (a
        // running subscription keeps the zone it started with).
        signals::access_changed(conn, d, me.tenant_id, None, None).await?;
    }
    let role = roles::name_of(conn, &after.role_id).await?;
    Ok(UserView::of(&after, role))
}

/// The caller's password hash, to verify their current password against.
pub async fn password_hash(conn: &impl ConnectionTrait, me: &Me<'_>) -> Result<Option<String>> {
    Ok(user::Entity::find_by_id(me.user_id.to_owned())
        .select_only()
        .column(user::Column::PasswordHash)
        .filter(user::Column::TenantId.eq(me.tenant_id))
        .into_tuple()
        .one(conn)
        .await?)
}

/// `changePassword`: stores the new password's hash and ends every other session of the
/// caller (a thief who knew the old password is out); the caller's own stays. Returns how
/// many sessions ended.
pub async fn change_password(
    conn: &impl ConnectionTrait,
    d: Dialect,
    me: &Me<'_>,
    new_hash: String,
) -> Result<u64> {
    let mut am: user::ActiveModel = accounts::find(conn, me.tenant_id, me.user_id).await?.into();
    am.password_hash = Set(new_hash);
    am.updated_at = Set(time::now());
    am.update(conn).await?;
    let ended = sessions::revoke_live(conn, d, me.tenant_id, me.user_id, Some(me.session_id)).await?;
    audit_own(conn, d, me, "user.change_password", json!({"sessionsRevoked": ended})).await?;
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(input: Value) -> Vec<String> {
        let input = input.as_object().cloned().unwrap_or_default();
        match ProfileChanges::check(&input) {
            Err(Error::Validation(fields)) => fields.into_iter().map(|f| f.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn good_members_are_kept_trimmed_and_blank_ones_cleared() {
        let input =
            json!({"name": " Asha ", "locale": "zh-Hant-TW", "timeZone": "Asia/Kolkata", "avatar": ""});
        let c = ProfileChanges::check(input.as_object().expect("an object")).expect("a valid profile");
        assert_eq!(c.name, Change::Set("Asha".into()));
        assert_eq!(c.locale, Change::Set("zh-Hant-TW".into()));
        assert_eq!(c.time_zone, Change::Set("Asia/Kolkata".into()));
        assert_eq!(c.avatar, Change::Clear);
        let none = ProfileChanges::check(&Map::new()).expect("nothing to change");
        assert_eq!(none.name, Change::Keep);
    }

    #[test]
    fn every_bad_member_is_named() {
        let bad = json!({"name": "x".repeat(201), "locale": "not a locale", "timeZone": "Mars/Olympus_Mons", "avatar": "ftp://a"});
        assert_eq!(errors(bad), ["name", "locale", "timeZone", "avatar"]);
        for locale in ["english", "e", "en_US", "hi-"] {
            assert_eq!(errors(json!({"locale": locale})), ["locale"], "{locale}");
        }
    }
}
