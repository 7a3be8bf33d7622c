//! The GitLab personal access token, wrapped so that it cannot leak by accident.
//!
//! The only way to read the secret is [`Token::expose`], which is crate-private: the client uses it
//! to build the `PRIVATE-TOKEN` header and nothing else. `Debug` and `Display` print a fixed
//! placeholder, so a token inside any struct, error or log line shows up as `Token(<redacted>)`.

use std::fmt;

/// A GitLab access token. Prints as `Token(<redacted>)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token. Surrounding whitespace is dropped because tokens read from files and secrets
    /// usually carry a trailing newline, which GitLab would reject as an unknown token.
    pub fn new(token: impl Into<String>) -> Token {
        let token: String = token.into();
        let trimmed = token.trim();
        if trimmed.len() == token.len() {
            Token(token)
        } else {
            Token(trimmed.to_string())
        }
    }

    /// The secret itself: for the `PRIVATE-TOKEN` header and for comparing two tokens (rotation).
    /// Never format it into a message.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when no token was given at all (an empty secret or variable).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAKE: &str = "glpat-fake-test-token-0000";

    #[test]
    fn debug_and_display_redact_the_secret() {
        let token = Token::new(FAKE);
        let debug = format!("{token:?}");
        let display = format!("{token}");
        let pretty = format!("{:#?}", Some(&token));
        for shown in [&debug, &display, &pretty] {
            assert!(!shown.contains(FAKE), "token leaked in {shown}");
            assert!(!shown.contains("glpat"), "token prefix leaked in {shown}");
        }
        assert_eq!(debug, "Token(<redacted>)");
        assert_eq!(display, "Token(<redacted>)");
    }

    #[test]
    fn expose_returns_the_trimmed_secret() {
        assert_eq!(Token::new(format!("  {FAKE}\n")).expose(), FAKE);
        assert_eq!(Token::new(FAKE).expose(), FAKE);
        assert!(Token::new(" \n").is_empty());
    }
}
