//! SMTP delivery (lettre). `SMTP_URL` names the relay (`smtp://host:25`, `smtp://host:587?tls=required`,
//! `smtps://user:pass@host:465`); without one, emails are kept (`held`) and logged, never
//! dropped. Each message carries a Message-ID derived from the email's id, the same on every
//! attempt: should the worker die after the relay took the message but before its `250` was
//! recorded, the email is sent again (SMTP cannot ask whether the relay kept it), and the
//! receiver can recognise the second copy.

use entity::features::emails::Email;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// What became of a delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Accepted by the relay, with the Message-ID sent.
    Sent(String),
    /// No relay configured: kept in the outbox.
    Held,
}

/// The longest one step of an SMTP exchange (connecting, a command's answer, the answer to the
/// end of the message) may take; the email lease (`EMAIL_LEASE_MS`) must exceed it, so a claim
/// is only taken back from a worker that is really gone.
pub const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The SMTP client.
#[derive(Clone)]
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(smtp_url: Option<&str>, from: &str) -> Result<Mailer, String> {
        let from: Mailbox = from.parse().map_err(|e| format!("SMTP_FROM {from:?}: {e}"))?;
        let transport = match smtp_url.filter(|u| !u.is_empty()) {
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| format!("SMTP_URL: {e}"))?
                    .timeout(Some(SEND_TIMEOUT))
                    .build(),
            ),
            None => None,
        };
        Ok(Mailer { transport, from })
    }

    /// Sends one email (or holds it when no relay is configured).
    pub async fn send(&self, e: &Email) -> Result<Delivery, String> {
        let Some(transport) = &self.transport else {
            tracing::info!(to = %e.to_address, subject = %e.subject, id = %e.id, "no SMTP_URL: email held in the outbox");
            return Ok(Delivery::Held);
        };
        let to: Mailbox =
            e.to_address.parse().map_err(|err| format!("recipient {:?}: {err}", e.to_address))?;
        let message_id = format!("<{}@alphery.local>", e.id);
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(e.subject.clone())
            .message_id(Some(message_id.clone()))
            .body(e.body.clone())
            .map_err(|err| format!("message: {err}"))?;
        transport.send(message).await.map_err(|err| format!("SMTP: {err}"))?;
        Ok(Delivery::Sent(message_id))
    }
}
