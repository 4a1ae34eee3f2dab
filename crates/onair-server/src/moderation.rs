//! Who may say something in a stream's chat, and what a moderator may ask for. Pure (no I/O,
//! times passed in), so every rule is unit-tested; the chat service drives it.
//!
//! The order of refusals is the order a chatter can do something about them: a ban is final,
//! a timeout and "too new" end by themselves, a blocked term needs other words, slow mode only
//! a moment. A refused message is never stored and never reaches anyone.

use std::net::IpAddr;

use onair_core::FieldError;

/// The shortest and longest timeout a moderator may give (1 s – 14 days).
pub const TIMEOUT_MIN_SECS: u64 = 1;
pub const TIMEOUT_MAX_SECS: u64 = 14 * 24 * 60 * 60;
/// Slow mode's longest interval between one chatter's messages (1 hour); 0 is off.
pub const SLOW_MODE_MAX_SECS: u32 = 60 * 60;
/// "Established chatters only" at most asks for a day of watching; 0 is off.
pub const ESTABLISHED_MAX_MINUTES: u32 = 24 * 60;
/// Blocked terms a streamer may keep, and the longest one.
pub const BLOCKED_TERMS_MAX: usize = 500;
pub const BLOCKED_TERM_MAX_CHARS: usize = 64;

/// A stream's chat settings, chosen by its creator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatRules {
    /// One message per this many seconds per chatter; 0 is off.
    pub slow_mode_secs: u32,
    /// A device must have been watching this long before it may chat; 0 is off.
    pub established_minutes: u32,
    pub blocked: BlockedTerms,
}

/// What the backend knows about one chatter (a device) when a message arrives. Times are
/// Unix milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chatter {
    /// The device, or the address it comes from, is banned from this creator's chat.
    pub banned: bool,
    pub timed_out_until_ms: Option<i64>,
    /// When this device first received a viewer token for this creator.
    pub first_watched_ms: Option<i64>,
    pub last_message_ms: Option<i64>,
}

/// Why a message is refused. Every wait says how long, for `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("you are banned from this chat")]
    Banned,
    #[error("you were timed out: you can chat again in {retry_after_secs} s")]
    TimedOut { retry_after_secs: u64 },
    #[error(
        "this chat is for viewers who have watched a while: you can chat in {retry_after_secs} s"
    )]
    TooNew { retry_after_secs: u64 },
    #[error("this message contains a term the creator has blocked")]
    BlockedTerm,
    #[error("slow mode: you can send another message in {retry_after_secs} s")]
    SlowMode { retry_after_secs: u64 },
}

/// Decides whether `chatter` may post `text` (already validated) at `now_ms`.
pub fn may_post(
    rules: &ChatRules,
    chatter: &Chatter,
    text: &str,
    now_ms: i64,
) -> Result<(), Refusal> {
    if chatter.banned {
        return Err(Refusal::Banned);
    }
    if let Some(until) = chatter.timed_out_until_ms.filter(|&until| until > now_ms) {
        return Err(Refusal::TimedOut {
            retry_after_secs: secs_until(until, now_ms),
        });
    }
    if rules.established_minutes > 0 {
        let needed = i64::from(rules.established_minutes) * 60_000;
        // A device never seen watching has watched for no time at all.
        let since = chatter.first_watched_ms.unwrap_or(now_ms);
        if now_ms - since < needed {
            return Err(Refusal::TooNew {
                retry_after_secs: secs_until(since + needed, now_ms),
            });
        }
    }
    if rules.blocked.find_in(text).is_some() {
        return Err(Refusal::BlockedTerm);
    }
    if rules.slow_mode_secs > 0 {
        if let Some(last) = chatter.last_message_ms {
            let next = last + i64::from(rules.slow_mode_secs) * 1000;
            if next > now_ms {
                return Err(Refusal::SlowMode {
                    retry_after_secs: secs_until(next, now_ms),
                });
            }
        }
    }
    Ok(())
}

/// Whole seconds until `until`, rounded up so that a client waiting that long is let in, and
/// at least 1 (a `Retry-After: 0` invites a busy loop).
fn secs_until(until_ms: i64, now_ms: i64) -> u64 {
    let ms = (until_ms - now_ms).max(0) as u64;
    ms.div_ceil(1000).max(1)
}

/// A timeout's length as a moderator asked for it.
pub fn timeout_secs(secs: u64) -> Result<u64, FieldError> {
    if (TIMEOUT_MIN_SECS..=TIMEOUT_MAX_SECS).contains(&secs) {
        Ok(secs)
    } else {
        Err(FieldError {
            field: "seconds",
            message: format!(
                "a timeout lasts {TIMEOUT_MIN_SECS} s to 14 days ({TIMEOUT_MAX_SECS} s), not {secs} s"
            ),
        })
    }
}

/// Checks the settings a creator sends; blocked terms are checked by [`BlockedTerms::new`].
pub fn settings(slow_mode_secs: u32, established_minutes: u32) -> Result<(), FieldError> {
    if slow_mode_secs > SLOW_MODE_MAX_SECS {
        return Err(FieldError {
            field: "slow_mode_secs",
            message: format!("at most {SLOW_MODE_MAX_SECS} s (one hour); 0 turns it off"),
        });
    }
    if established_minutes > ESTABLISHED_MAX_MINUTES {
        return Err(FieldError {
            field: "established_minutes",
            message: format!("at most {ESTABLISHED_MAX_MINUTES} minutes (a day); 0 turns it off"),
        });
    }
    Ok(())
}

/// Whether a ban may take in the address a chatter comes from. Never loopback (every viewer of
/// a local or tunnelled backend shares it) nor a trusted proxy's own address (every viewer
/// behind it would be banned, Owncast's "one ban banned everyone"): then the device alone is
/// banned.
pub fn address_bannable(address: IpAddr, trusted_proxies: &[IpAddr]) -> bool {
    let address = match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    };
    !address.is_loopback() && !address.is_unspecified() && !trusted_proxies.contains(&address)
}

/// A creator's blocked terms, matched without regard to letter case, as whole words (or whole
/// runs of words): blocking "ass" does not refuse "class". Kept lower-cased and de-duplicated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockedTerms(Vec<String>);

impl BlockedTerms {
    pub fn new<S: AsRef<str>>(terms: impl IntoIterator<Item = S>) -> Result<Self, FieldError> {
        let field = "blocked_terms";
        let mut kept: Vec<String> = Vec::new();
        for term in terms {
            let term = term.as_ref().trim();
            if term.is_empty() {
                continue;
            }
            if term.chars().any(char::is_control) {
                return Err(FieldError {
                    field,
                    message: format!("{term:?} contains a control character"),
                });
            }
            let len = term.chars().count();
            if len > BLOCKED_TERM_MAX_CHARS {
                return Err(FieldError {
                    field,
                    message: format!(
                        "a term is at most {BLOCKED_TERM_MAX_CHARS} characters, not {len}"
                    ),
                });
            }
            let term = term.to_lowercase();
            if !kept.contains(&term) {
                kept.push(term);
            }
        }
        if kept.len() > BLOCKED_TERMS_MAX {
            return Err(FieldError {
                field,
                message: format!("at most {BLOCKED_TERMS_MAX} terms, not {}", kept.len()),
            });
        }
        Ok(Self(kept))
    }

    pub fn terms(&self) -> &[String] {
        &self.0
    }

    /// The first blocked term `text` contains, if any.
    pub fn find_in(&self, text: &str) -> Option<&str> {
        if self.0.is_empty() {
            return None;
        }
        let text = text.to_lowercase();
        self.0
            .iter()
            .find(|term| contains_word(&text, term))
            .map(String::as_str)
    }
}

/// Whether `needle` occurs in `haystack` with no letter or digit directly before or after it.
fn contains_word(haystack: &str, needle: &str) -> bool {
    haystack.match_indices(needle).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + needle.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000_000;

    fn rules() -> ChatRules {
        ChatRules::default()
    }

    fn regular() -> Chatter {
        Chatter {
            first_watched_ms: Some(NOW - 3_600_000),
            ..Chatter::default()
        }
    }

    #[test]
    fn a_chatter_nobody_restricted_may_post_in_an_open_chat() {
        assert_eq!(may_post(&rules(), &regular(), "hi", NOW), Ok(()));
    }

    #[test]
    fn a_banned_chatter_is_refused_before_anything_else() {
        let chatter = Chatter {
            banned: true,
            timed_out_until_ms: Some(NOW + 5_000),
            ..regular()
        };
        assert_eq!(
            may_post(&rules(), &chatter, "hi", NOW),
            Err(Refusal::Banned)
        );
    }

    #[test]
    fn a_timeout_refuses_until_it_ends_and_says_how_long_rounded_up() {
        let chatter = Chatter {
            timed_out_until_ms: Some(NOW + 4_200),
            ..regular()
        };
        assert_eq!(
            may_post(&rules(), &chatter, "hi", NOW),
            Err(Refusal::TimedOut {
                retry_after_secs: 5
            })
        );
        assert_eq!(may_post(&rules(), &chatter, "hi", NOW + 4_200), Ok(()));
    }

    #[test]
    fn established_only_refuses_a_device_that_has_not_watched_long_enough() {
        let rules = ChatRules {
            established_minutes: 10,
            ..rules()
        };
        let newcomer = Chatter {
            first_watched_ms: Some(NOW - 9 * 60_000),
            ..Chatter::default()
        };
        assert_eq!(
            may_post(&rules, &newcomer, "hi", NOW),
            Err(Refusal::TooNew {
                retry_after_secs: 60
            })
        );
        assert_eq!(may_post(&rules, &newcomer, "hi", NOW + 60_000), Ok(()));
    }

    #[test]
    fn established_only_refuses_a_device_never_seen_watching_for_the_whole_period() {
        let rules = ChatRules {
            established_minutes: 5,
            ..rules()
        };
        assert_eq!(
            may_post(&rules, &Chatter::default(), "hi", NOW),
            Err(Refusal::TooNew {
                retry_after_secs: 300
            })
        );
    }

    #[test]
    fn slow_mode_allows_one_message_per_interval() {
        let rules = ChatRules {
            slow_mode_secs: 3,
            ..rules()
        };
        let chatter = Chatter {
            last_message_ms: Some(NOW - 1_000),
            ..regular()
        };
        assert_eq!(
            may_post(&rules, &chatter, "hi", NOW),
            Err(Refusal::SlowMode {
                retry_after_secs: 2
            })
        );
        assert_eq!(may_post(&rules, &chatter, "hi", NOW + 2_000), Ok(()));
        assert_eq!(may_post(&rules, &regular(), "first", NOW), Ok(()));
    }

    #[test]
    fn a_blocked_term_refuses_the_message_whatever_its_letter_case() {
        let rules = ChatRules {
            blocked: BlockedTerms::new(["Spam Link"]).unwrap(),
            ..rules()
        };
        assert_eq!(
            may_post(&rules, &regular(), "click this SPAM link now", NOW),
            Err(Refusal::BlockedTerm)
        );
    }

    #[test]
    fn blocked_terms_match_whole_words_only() {
        let blocked = BlockedTerms::new(["ass"]).unwrap();
        assert_eq!(blocked.find_in("a first-class stream"), None);
        assert_eq!(blocked.find_in("what an ass!"), Some("ass"));
        assert_eq!(blocked.find_in("ASS"), Some("ass"));
        assert_eq!(blocked.find_in("class, ass"), Some("ass"));
    }

    #[test]
    fn blocked_terms_are_trimmed_lower_cased_and_kept_once() {
        let blocked = BlockedTerms::new([" Foo ", "foo", "", "BAR"]).unwrap();
        assert_eq!(blocked.terms(), ["foo", "bar"]);
    }

    #[test]
    fn blocked_terms_that_are_too_long_or_too_many_are_refused() {
        let long = "x".repeat(BLOCKED_TERM_MAX_CHARS + 1);
        assert_eq!(
            BlockedTerms::new([long]).unwrap_err().field,
            "blocked_terms"
        );
        let many: Vec<String> = (0..=BLOCKED_TERMS_MAX).map(|i| format!("t{i}")).collect();
        assert!(BlockedTerms::new(many)
            .unwrap_err()
            .message
            .contains(&BLOCKED_TERMS_MAX.to_string()));
        assert!(BlockedTerms::new(["tab\there"]).is_err());
    }

    #[test]
    fn timeouts_last_one_second_to_fourteen_days() {
        assert_eq!(timeout_secs(1), Ok(1));
        assert_eq!(timeout_secs(TIMEOUT_MAX_SECS), Ok(TIMEOUT_MAX_SECS));
        for bad in [0, TIMEOUT_MAX_SECS + 1] {
            assert_eq!(timeout_secs(bad).unwrap_err().field, "seconds", "{bad}");
        }
    }

    #[test]
    fn settings_beyond_their_limits_name_the_field() {
        assert_eq!(settings(0, 0), Ok(()));
        assert_eq!(
            settings(SLOW_MODE_MAX_SECS + 1, 0).unwrap_err().field,
            "slow_mode_secs"
        );
        assert_eq!(
            settings(0, ESTABLISHED_MAX_MINUTES + 1).unwrap_err().field,
            "established_minutes"
        );
    }

    #[test]
    fn loopback_and_trusted_proxies_are_never_address_banned() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        for shared in [
            "127.0.0.1",
            "::1",
            "::ffff:127.0.0.1",
            "10.0.0.5",
            "0.0.0.0",
        ] {
            let ip: IpAddr = shared.parse().unwrap();
            assert!(!address_bannable(ip, &[proxy]), "{shared}");
        }
        for own in ["203.0.113.7", "2001:db8::1", "::ffff:203.0.113.7"] {
            let ip: IpAddr = own.parse().unwrap();
            assert!(address_bannable(ip, &[proxy]), "{own}");
        }
    }
}
