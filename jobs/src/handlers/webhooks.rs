//! Delivering webhooks: each POST carries `X-Alphery-Event-Id`, `X-Alphery-Timestamp` and
//! `X-Alphery-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "id.t.body">` — one `v1` per active
//! secret, so receivers keep verifying while a secret rotates. A 2xx answer delivers; anything
//! else retries with backoff, then the delivery is `dead`. Requests never go to loopback,
//! private, link-local or otherwise internal addresses unless the operator allows the host in
//! `WEBHOOK_ALLOW_HOSTS` (SSRF); the address checked is the address connected to.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use entity::features::webhooks::{self, Delivery, Webhook};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::context::JobContext;
use crate::error::JobError;
use crate::queue::Job;

/// How long a receiver may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// `true` for addresses a webhook must not reach by default.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10 (carrier-grade NAT)
                || o[0] == 0
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link local
                || v6.to_ipv4_mapped().is_some_and(|v4| is_internal(IpAddr::V4(v4)))
        }
    }
}

/// Whether `host` / `ip` is on the operator's allow-list (host names, addresses, CIDRs).
fn allowed(allow: &[String], host: &str, ip: IpAddr) -> bool {
    allow.iter().any(|entry| {
        if entry.eq_ignore_ascii_case(host) {
            return true;
        }
        match entry.split_once('/') {
            Some((net, bits)) => match (net.parse::<IpAddr>(), bits.parse::<u32>()) {
                (Ok(IpAddr::V4(n)), Ok(b)) if b <= 32 => match ip {
                    IpAddr::V4(a) => {
                        let mask = if b == 0 { 0 } else { u32::MAX << (32 - b) };
                        u32::from(a) & mask == u32::from(n) & mask
                    }
                    IpAddr::V6(_) => false,
                },
                (Ok(IpAddr::V6(n)), Ok(b)) if b <= 128 => match ip {
                    IpAddr::V6(a) => {
                        let mask = if b == 0 { 0 } else { u128::MAX << (128 - b) };
                        u128::from(a) & mask == u128::from(n) & mask
                    }
                    IpAddr::V4(_) => false,
                },
                _ => false,
            },
            None => entry.parse::<IpAddr>().is_ok_and(|e| e == ip),
        }
    })
}

/// Checks a webhook URL and resolves the address to connect to; refuses internal addresses
/// that are not allowed.
pub async fn resolve(url: &str, allow: &[String]) -> Result<(reqwest::Url, String, SocketAddr), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("only http and https URLs".into());
    }
    let host = parsed.host_str().ok_or("the URL has no host")?.trim_matches(['[', ']']).to_owned();
    let port = parsed.port_or_known_default().ok_or("the URL has no port")?;
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let first = *addrs.first().ok_or_else(|| format!("{host} has no address"))?;
    for a in &addrs {
        if is_internal(a.ip()) && !allowed(allow, &host, a.ip()) {
            return Err(format!(
                "{host} resolves to {} (a private or internal address; allow it with WEBHOOK_ALLOW_HOSTS)",
                a.ip()
            ));
        }
    }
    Ok((parsed, host, first))
}

/// The signature header value for `body` sent as event `id` at `t`.
pub fn signature(secrets: &[webhooks::Secret], id: &str, t: i64, body: &str) -> String {
    let mut parts = vec![format!("t={t}")];
    for s in secrets {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(s.secret.as_bytes()) else { continue };
        mac.update(format!("{id}.{t}.{body}").as_bytes());
        let hex = entity::hex::encode(&mac.finalize().into_bytes());
        parts.push(format!("v1={hex}"));
    }
    parts.join(",")
}

/// How far an inbound signature's timestamp may be from now (replay window), seconds.
pub const INBOUND_TOLERANCE_SECS: i64 = 300;

/// Checks an inbound `X-Alphery-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
/// "t.body">` header against `secret`, in constant time, refusing timestamps outside the replay
/// window.
pub fn verify_inbound(secret: &str, header: &str, body: &[u8], now: i64) -> Result<(), &'static str> {
    let t: i64 = header
        .split(',')
        .find_map(|p| p.trim().strip_prefix("t="))
        .and_then(|t| t.parse().ok())
        .ok_or("the signature has no timestamp")?;
    if (now - t).abs() > INBOUND_TOLERANCE_SECS {
        return Err("the signature's timestamp is outside the 5-minute window");
    }
    let decode = |hex: &str| -> Option<Vec<u8>> {
        hex.len()
            .is_multiple_of(2)
            .then(|| {
                (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
            })
            .flatten()
    };
    let valid =
        header.split(',').filter_map(|p| p.trim().strip_prefix("v1=")).filter_map(decode).any(|sig| {
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).is_ok_and(|mut mac| {
                mac.update(format!("{t}.").as_bytes());
                mac.update(body);
                mac.verify_slice(&sig).is_ok()
            })
        });
    if valid { Ok(()) } else { Err("the signature does not match") }
}

/// A client for `url` (checked by `resolve` first) that reaches only the address the check
/// approved, follows no redirect and gives up after `timeout`; with the parsed URL. Webhooks
/// and the AI gateway (`crate::ai`) call out through it.
pub async fn pinned_client(
    url: &str,
    allow: &[String],
    timeout: Duration,
) -> Result<(reqwest::Client, reqwest::Url), String> {
    let (url, host, addr) = resolve(url, allow).await?;
    // Pin the checked address: a second DNS answer cannot redirect the request inward.
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .resolve(&host, addr)
        .build()
        .map_err(|e| format!("http client: {e}"))?;
    Ok((client, url))
}

/// A signed JSON POST to `url` (checked by `resolve` first): the request integrator webhooks
/// and workflows' `call_webhook` both send. `id` names the delivery (stable across retries, so
/// receivers can deduplicate) and is signed with `body` and the current time by every secret.
pub async fn signed_post(
    url: &str,
    allow: &[String],
    secrets: &[webhooks::Secret],
    id: &str,
    body: &serde_json::Value,
) -> Result<reqwest::RequestBuilder, String> {
    let (client, url) = pinned_client(url, allow, TIMEOUT).await?;
    let body = body.to_string();
    let t = chrono::Utc::now().timestamp();
    Ok(client
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", "Alphery-Webhooks/1")
        .header("x-alphery-event-id", id)
        .header("x-alphery-timestamp", t.to_string())
        .header("x-alphery-signature", signature(secrets, id, t, &body))
        .body(body))
}

/// One attempt; `Ok(status)` for a 2xx answer.
async fn post(w: &Webhook, del: &Delivery, allow: &[String]) -> Result<u16, (Option<u16>, String)> {
    let request =
        signed_post(&w.url, allow, &w.secrets, &del.event_key, &del.payload).await.map_err(|e| (None, e))?;
    let response = request
        .header("x-alphery-event-type", &del.event_type)
        .send()
        .await
        .map_err(|e| (None, format!("request failed: {e}")))?;
    let status = response.status().as_u16();
    if response.status().is_success() {
        Ok(status)
    } else {
        Err((Some(status), format!("the receiver answered {status}")))
    }
}

/// Delivers one webhook delivery (a job), retrying later on failure.
pub async fn deliver(ctx: &JobContext, tenant_id: &str, delivery_id: &str) -> Result<(), JobError> {
    let txn = ctx.db.begin_tenant_read(tenant_id).await?;
    let del = webhooks::get_delivery(&txn, tenant_id, delivery_id).await?;
    let hook = match &del {
        Some(del) => webhooks::get(&txn, tenant_id, &del.webhook_id).await?,
        None => None,
    };
    txn.commit().await?;
    let (Some(del), Some(hook)) = (del, hook) else { return Ok(()) };
    let txn = ctx.db.begin_tenant_write(tenant_id).await?;
    let claimed = webhooks::claim_delivery(&txn, &del).await?;
    txn.commit().await?;
    if !claimed {
        return Ok(());
    }
    let outcome = post(&hook, &del, &ctx.webhook_allow).await;
    let txn = ctx.db.begin_tenant_write(tenant_id).await?;
    let retry = match &outcome {
        Ok(status) => {
            webhooks::record_attempt(&txn, &del, "delivered", Some(i32::from(*status)), None).await?;
            None
        }
        // Anything but a 2xx answer is retried (a refused address and a 4xx included): the
        // delivery is `dead` only once its attempts are spent, as this module promises.
        Err((status, e)) => {
            let e = JobError::transient(e.as_str());
            let attempt = del.attempts + 1;
            let retry = ctx.retry_delay(&e, attempt);
            let state = if retry.is_some() { "retrying" } else { "dead" };
            tracing::info!(delivery = %del.id, error = %e, attempt, state, "webhook delivery failed");
            webhooks::record_attempt(&txn, &del, state, status.map(i32::from), Some(&e.message)).await?;
            retry
        }
    };
    txn.commit().await?;
    if let Some(delay) = retry {
        let job =
            Job::DeliverWebhook { tenant_id: tenant_id.to_owned(), delivery_id: delivery_id.to_owned() };
        ctx.queue.push(job, Some(delay)).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.5",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(!is_internal(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn allow_list_matches_hosts_addresses_and_cidrs() {
        let allow = vec!["hooks.internal".to_owned(), "10.0.0.0/8".to_owned(), "::1".to_owned()];
        assert!(allowed(&allow, "hooks.internal", "192.168.1.1".parse().expect("ip")));
        assert!(allowed(&allow, "x", "10.9.8.7".parse().expect("ip")));
        assert!(allowed(&allow, "x", "::1".parse().expect("ip")));
        assert!(!allowed(&allow, "x", "11.0.0.1".parse().expect("ip")));
        assert!(!allowed(&allow, "x", "127.0.0.1".parse().expect("ip")));
    }

    #[test]
    fn inbound_signatures_are_checked_with_a_replay_window() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret").expect("key");
        mac.update(b"1700000000.{\"a\":1}");
        let hex = entity::hex::encode(&mac.finalize().into_bytes());
        let header = format!("t=1700000000,v1={hex}");
        assert_eq!(verify_inbound("secret", &header, b"{\"a\":1}", 1_700_000_100), Ok(()));
        assert!(verify_inbound("other", &header, b"{\"a\":1}", 1_700_000_100).is_err());
        assert!(verify_inbound("secret", &header, b"{\"a\":2}", 1_700_000_100).is_err());
        assert!(verify_inbound("secret", &header, b"{\"a\":1}", 1_700_001_000).is_err());
        assert!(verify_inbound("secret", "v1=zz", b"{}", 1_700_000_000).is_err());
    }

    #[test]
    fn signatures_cover_every_active_secret() {
        let secrets = vec![
            webhooks::Secret { id: "new".into(), secret: "s2".into() },
            webhooks::Secret { id: "old".into(), secret: "s1".into() },
        ];
        let header = signature(&secrets, "event:1", 1_700_000_000, "{}");
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(header.matches("v1=").count(), 2);
    }
}
