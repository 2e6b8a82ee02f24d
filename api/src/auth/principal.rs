//! Who is calling: what a credential resolves to, once authenticated (`auth::authenticate`,
//! `auth::authenticate_key`). Plain data, below everything that reads it (resolvers, the rate
//! limiter, the credential cache).

use std::sync::Arc;

use entity::runtime::audit::Actor;
use entity::runtime::policy::{Attributes, Permissions, Subject};

/// The authenticated caller of a request or socket.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant_id: String,
    /// The user (for an API key: the user who created it, on whose behalf it acts).
    pub user_id: String,
    /// The session (user tokens) or the API key id (integrations): revoking it ends access.
    pub session_id: String,
    /// Set when the caller is an API key.
    pub api_key_id: Option<String>,
    pub role_id: String,
    /// Role name (`owner`, `admin`, `member`, …).
    pub role: String,
    /// The role's parsed permissions.
    pub permissions: Arc<Permissions>,
    /// The tenant's metadata version when the request started (selects the schema).
    pub metadata_version: i64,
    /// The tenant is scheduled for deletion: it answers no mutation but the few
    /// `features::gdpr::ALLOWED_WHILE_DELETING` (read-only during the grace period).
    pub tenant_deleting: bool,
    /// When the credential expires (unix seconds): sockets close then.
    pub token_exp: u64,
    /// The user's attributes, read with the credential: what `$user.<key>` stands for.
    pub attributes: Arc<Attributes>,
    /// The user's own time zone, read with the credential (`None`: the tenant's applies).
    pub time_zone: Option<chrono_tz::Tz>,
}

impl Principal {
    /// Whom the caller's row rules are evaluated for.
    pub fn subject(&self) -> Subject<'_> {
        Subject::new(&self.user_id, &self.attributes)
    }

    /// Who the audit trail names for a request of this caller.
    pub fn actor(&self, request_id: Option<String>) -> Actor {
        Actor {
            user_id: Some(self.user_id.clone()),
            api_key_id: self.api_key_id.clone(),
            request_id,
            role: Some(self.role.clone()),
            ..Actor::default()
        }
    }
}
