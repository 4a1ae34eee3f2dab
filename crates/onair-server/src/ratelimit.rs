//! Per-client-IP rate limiting for the token endpoints: governor's keyed GCRA limiter, the
//! `X-RateLimit-*` headers on every answer, `429` + `Retry-After` past the limit.
//!
//! The client IP is the socket's peer, unless that peer is a configured trusted proxy: then it
//! is the right-most address in `X-Forwarded-For` that is not itself a trusted proxy (the
//! left part of that header is whatever the client chose to send). Keys whose bucket has
//! refilled are indistinguishable from new ones, so a periodic [`IpLimiter::evict_idle`]
//! drops them and memory stays bounded under many distinct addresses.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::{NoOpMiddleware, StateInformationMiddleware};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::ApiError;

type Keyed<C> = RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, C, StateInformationMiddleware>;

/// What one check decided, with the figures for the response headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the allowance is whole again.
    pub reset_s: u64,
    /// Seconds to wait before the next request can pass (0 when allowed).
    pub retry_after_s: u64,
}

/// A requests-per-minute limit per client IP.
pub struct IpLimiter<C: Clock = DefaultClock> {
    limiter: Keyed<C>,
    per_minute: NonZeroU32,
    trusted_proxies: Vec<IpAddr>,
}

impl IpLimiter<DefaultClock> {
    pub fn new(per_minute: NonZeroU32, trusted_proxies: Vec<IpAddr>) -> Self {
        Self::with_clock(per_minute, trusted_proxies, DefaultClock::default())
    }
}

impl<C: Clock> IpLimiter<C> {
    pub fn with_clock(per_minute: NonZeroU32, trusted_proxies: Vec<IpAddr>, clock: C) -> Self {
        let limiter = RateLimiter::<_, _, C, NoOpMiddleware<C::Instant>>::new(
            Quota::per_minute(per_minute),
            DefaultKeyedStateStore::default(),
            clock,
        )
        .with_middleware::<StateInformationMiddleware>();
        Self {
            limiter,
            per_minute,
            trusted_proxies,
        }
    }

    /// Counts one request from `ip`.
    pub fn check(&self, ip: IpAddr) -> Decision {
        let limit = self.per_minute.get();
        let interval = Duration::from_secs(60) / limit;
        match self.limiter.check_key(&ip) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                Decision {
                    allowed: true,
                    limit,
                    remaining,
                    reset_s: ceil_secs(interval * (limit - remaining)),
                    retry_after_s: 0,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                Decision {
                    allowed: false,
                    limit,
                    remaining: 0,
                    reset_s: ceil_secs(interval * limit),
                    retry_after_s: ceil_secs(wait).max(1),
                }
            }
        }
    }

    /// Forgets clients whose allowance has refilled; returns how many are still remembered.
    pub fn evict_idle(&self) -> usize {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
        self.limiter.len()
    }

    /// Clients currently remembered.
    pub fn tracked(&self) -> usize {
        self.limiter.len()
    }

    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        client_ip(peer, &forwarded, &self.trusted_proxies)
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000) as u64
}

/// The client's address: the peer, or through trusted proxies the right-most untrusted hop of
/// `X-Forwarded-For`.
pub fn client_ip(peer: IpAddr, forwarded_for: &str, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_for.rsplit(',').map(str::trim) {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            // A malformed hop cannot be trusted further; stop at the last good one.
            break;
        };
        client = ip;
        if !trusted.contains(&ip) {
            break;
        }
    }
    client
}

/// Axum middleware: limits the routes it wraps with `limiter`.
pub async fn limit(
    State(limiter): State<Arc<IpLimiter>>,
    request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let ip = limiter.client_ip(peer, request.headers());
    let decision = limiter.check(ip);
    let mut response = if decision.allowed {
        next.run(request).await
    } else {
        tracing::info!(%ip, retry_after_s = decision.retry_after_s, "rate limited");
        let mut response = ApiError::RateLimited {
            retry_after_s: decision.retry_after_s,
        }
        .into_response();
        insert(&mut response, "retry-after", decision.retry_after_s);
        response
    };
    insert(&mut response, "x-ratelimit-limit", decision.limit as u64);
    insert(
        &mut response,
        "x-ratelimit-remaining",
        decision.remaining as u64,
    );
    insert(&mut response, "x-ratelimit-reset", decision.reset_s);
    response
}

fn insert(response: &mut Response, name: &'static str, value: u64) {
    response
        .headers_mut()
        .insert(HeaderName::from_static(name), HeaderValue::from(value));
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn limiter(clock: &FakeRelativeClock) -> IpLimiter<FakeRelativeClock> {
        IpLimiter::with_clock(NonZeroU32::new(10).unwrap(), vec![], clock.clone())
    }

    #[test]
    fn the_eleventh_request_in_a_minute_is_refused_with_a_retry_time() {
        let clock = FakeRelativeClock::default();
        let l = limiter(&clock);
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        for n in 1..=10 {
            let d = l.check(ip);
            assert!(d.allowed, "request {n}");
            assert_eq!(d.remaining, 10 - n);
        }
        let refused = l.check(ip);
        assert!(!refused.allowed);
        assert_eq!((refused.remaining, refused.retry_after_s), (0, 6));
        assert!(l.check("203.0.113.8".parse().unwrap()).allowed);
        clock.advance(Duration::from_secs(6));
        assert!(l.check(ip).allowed, "one request's worth refills every 6 s");
    }

    #[test]
    fn the_reset_header_says_when_the_allowance_is_whole_again() {
        let clock = FakeRelativeClock::default();
        let l = limiter(&clock);
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(l.check(ip).reset_s, 6);
        assert_eq!(l.check(ip).reset_s, 12);
    }

    #[test]
    fn clients_that_went_quiet_are_forgotten() {
        let clock = FakeRelativeClock::default();
        let l = limiter(&clock);
        for n in 0..10_000u32 {
            l.check(IpAddr::from(n.to_be_bytes()));
        }
        assert_eq!(l.tracked(), 10_000);
        clock.advance(Duration::from_secs(61));
        assert_eq!(l.evict_idle(), 0);
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let client: IpAddr = "198.51.100.4".parse().unwrap();
        let stranger: IpAddr = "198.51.100.9".parse().unwrap();
        assert_eq!(client_ip(stranger, "1.2.3.4", &[proxy]), stranger);
        assert_eq!(client_ip(proxy, "6.6.6.6, 198.51.100.4", &[proxy]), client);
        assert_eq!(client_ip(proxy, "", &[proxy]), proxy);
        let inner: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            client_ip(proxy, "198.51.100.4, 10.0.0.2", &[proxy, inner]),
            client
        );
        assert_eq!(client_ip(proxy, "garbage", &[proxy]), proxy);
    }
}
