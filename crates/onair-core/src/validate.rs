//! What a creator may type: usernames, stream titles, pay-per-view prices. The studio checks
//! before sending and the backend checks again with the same functions, so both refuse the
//! same input with the same words.

use serde::Serialize;

/// One field that failed, with a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;
pub const TITLE_MAX: usize = 100;
pub const CHAT_MESSAGE_MAX: usize = 500;
/// The highest pay-per-view price, in cents (999.99).
pub const PRICE_MAX_CENTS: u32 = 99_999;

/// A username: ASCII letters, digits, `_` and `-`, 3–32 characters. ASCII only, so two
/// creators cannot look alike through lookalike letters from other scripts.
pub fn username(input: &str) -> Result<&str, FieldError> {
    let field = "username";
    if let Some(bad) = input
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(FieldError::new(
            field,
            format!("{bad:?} is not allowed: use letters, digits, _ and -"),
        ));
    }
    let len = input.len();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) {
        return Err(FieldError::new(
            field,
            format!("must be {USERNAME_MIN}–{USERNAME_MAX} characters, not {len}"),
        ));
    }
    Ok(input)
}

/// A stream title: surrounding whitespace trimmed, then 1–100 characters with no control
/// characters (no newlines, tabs, escape sequences). Returns the trimmed title.
pub fn title(input: &str) -> Result<String, FieldError> {
    one_line_text("title", input, TITLE_MAX)
}

/// A chat message: the same rule as a title (trimmed, no control characters, so a message is
/// one line that cannot move a terminal's cursor or forge a second message), at most 500
/// characters. Returns the trimmed text; pages render it as text, never as HTML.
pub fn chat_message(input: &str) -> Result<String, FieldError> {
    one_line_text("text", input, CHAT_MESSAGE_MAX)
}

/// A chatter's display name: the username rules (ASCII, so nobody looks like someone else
/// through lookalike letters), and never the creator's own name in any letter case.
pub fn chat_name<'a>(input: &'a str, creator: &str) -> Result<&'a str, FieldError> {
    let field = "name";
    let name = username(input).map_err(|e| FieldError::new(field, e.message))?;
    if name.eq_ignore_ascii_case(creator) {
        return Err(FieldError::new(
            field,
            format!("{name:?} is the creator's name: pick another"),
        ));
    }
    Ok(name)
}

fn one_line_text(field: &'static str, input: &str, max: usize) -> Result<String, FieldError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters such as newlines or tabs",
        ));
    }
    let len = trimmed.chars().count();
    if len > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters, not {len}"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// A pay-per-view price written as a decimal (`"4.99"`, `"5"`, `"0.5"`): 0–999.99 with at
/// most two decimals. Returns cents. Parsed from text, never through a float, so `4.99` is
/// 499 cents exactly.
pub fn price_cents(input: &str) -> Result<u32, FieldError> {
    let field = "ppv_price";
    let text = input.trim();
    let invalid = || {
        FieldError::new(
            field,
            format!("{text:?} is not a price: write it like 4.99 (0 to 999.99)"),
        )
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    if text.contains('.') && fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    if fraction.len() > 2 {
        return Err(FieldError::new(field, "at most two decimals (cents)"));
    }
    let whole = whole.trim_start_matches('0');
    if whole.len() > 3 {
        return Err(FieldError::new(field, "must be at most 999.99"));
    }
    let whole: u32 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| invalid())?
    };
    let cents: u32 = format!("{fraction:0<2}").parse().map_err(|_| invalid())?;
    let total = whole * 100 + cents;
    if total > PRICE_MAX_CENTS {
        return Err(FieldError::new(field, "must be at most 999.99"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_of_letters_digits_underscores_and_dashes_are_accepted() {
        for ok in ["abc", "Creator_42", "a-b", &"x".repeat(32)] {
            assert_eq!(username(ok), Ok(ok));
        }
    }

    #[test]
    fn usernames_with_other_characters_name_the_character() {
        for (bad, shown) in [
            ("bad name", "' '"),
            ("al/ice", "'/'"),
            ("ａbc", "'ａ'"),
            ("é-x", "'é'"),
        ] {
            let err = username(bad).unwrap_err();
            assert_eq!(err.field, "username");
            assert!(err.message.contains(shown), "{bad}: {}", err.message);
        }
    }

    #[test]
    fn usernames_outside_three_to_thirty_two_characters_are_refused() {
        assert!(username("ab").is_err());
        assert!(username("").is_err());
        assert!(username(&"x".repeat(33))
            .unwrap_err()
            .message
            .contains("33"));
    }

    #[test]
    fn titles_are_trimmed() {
        assert_eq!(title("  Friday jam \n").unwrap(), "Friday jam");
    }

    #[test]
    fn blank_titles_are_refused() {
        assert_eq!(title(" \t ").unwrap_err().message, "must not be empty");
    }

    #[test]
    fn titles_with_control_characters_inside_are_refused() {
        for bad in ["two\nlines", "tab\there", "esc\u{1b}[31m", "nul\0"] {
            assert_eq!(title(bad).unwrap_err().field, "title", "{bad:?}");
        }
    }

    #[test]
    fn titles_count_characters_not_bytes() {
        assert!(title(&"é".repeat(100)).is_ok());
        assert!(title(&"é".repeat(101)).is_err());
    }

    #[test]
    fn prices_become_exact_cents() {
        for (text, cents) in [
            ("0", 0),
            ("4.99", 499),
            ("5", 500),
            ("0.5", 50),
            ("999.99", 99_999),
            ("007.10", 710),
        ] {
            assert_eq!(price_cents(text), Ok(cents), "{text}");
        }
    }

    #[test]
    fn prices_above_the_maximum_or_with_more_than_two_decimals_are_refused() {
        assert!(price_cents("1000").unwrap_err().message.contains("999.99"));
        assert!(price_cents("4.999")
            .unwrap_err()
            .message
            .contains("two decimals"));
        assert!(price_cents("99999999999999999999").is_err());
    }

    #[test]
    fn things_that_are_not_prices_are_refused() {
        for bad in ["", "-1", "1e3", "4.", ".5", "4,99", "NaN", "+3", "1.2.3"] {
            assert_eq!(price_cents(bad).unwrap_err().field, "ppv_price", "{bad:?}");
        }
    }

    #[test]
    fn chat_messages_are_trimmed_and_at_most_five_hundred_characters() {
        assert_eq!(chat_message("  hello there \n").unwrap(), "hello there");
        assert!(chat_message(&"é".repeat(500)).is_ok());
        let err = chat_message(&"x".repeat(501)).unwrap_err();
        assert_eq!(err.field, "text");
        assert!(err.message.contains("501"), "{}", err.message);
    }

    #[test]
    fn empty_chat_messages_and_ones_with_control_characters_are_refused() {
        for bad in ["", "   ", "two\nlines", "bell\u{7}", "esc\u{1b}[2J"] {
            assert_eq!(chat_message(bad).unwrap_err().field, "text", "{bad:?}");
        }
    }

    #[test]
    fn chat_messages_keep_markup_as_plain_text() {
        assert_eq!(
            chat_message("<script>alert(1)</script>").unwrap(),
            "<script>alert(1)</script>"
        );
    }

    #[test]
    fn chat_names_follow_the_username_rules_under_their_own_field() {
        assert_eq!(chat_name("night_owl", "alice"), Ok("night_owl"));
        let err = chat_name("night owl", "alice").unwrap_err();
        assert_eq!(err.field, "name");
        assert!(err.message.contains("' '"), "{}", err.message);
        assert_eq!(chat_name("ab", "alice").unwrap_err().field, "name");
    }

    #[test]
    fn a_chatter_cannot_take_the_creators_name_in_any_case() {
        for taken in ["alice", "ALICE", "Alice"] {
            let err = chat_name(taken, "alice").unwrap_err();
            assert!(err.message.contains("creator"), "{taken}: {}", err.message);
        }
    }
}
