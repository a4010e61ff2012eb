//! Username and password for cameras, kept out of every log line, error and Debug output.

use std::fmt;

/// A camera login. `Debug` and `Display` never show the password, so a `Credentials` can sit
/// inside any struct that gets logged or returned in an error.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name (shown in logs; it is not secret on its own).
    pub username: String,
    /// The password (never shown).
    pub password: String,
}

impl Credentials {
    /// Builds credentials from a user name and a password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:***", self.username)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_never_formatted() {
        let c = Credentials::new("admin", "s3cret-pw");
        assert!(!format!("{c:?}").contains("s3cret-pw"));
        assert!(!format!("{c}").contains("s3cret-pw"));
        assert!(format!("{c}").contains("admin"));
    }
}
