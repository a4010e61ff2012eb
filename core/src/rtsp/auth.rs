//! 401 handling: Digest (MD5, SHA-256, qop=auth, `stale=true`) and Basic through the
//! `http-auth` crate. Holds the password; its `Debug` never shows it.

use super::msg::Response;
use crate::credentials::Credentials;

/// What to do after a 401.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AuthStep {
    /// Send the request again with an `Authorization` header.
    Retry,
    /// Give up: wrong or no credentials, or an unusable challenge.
    Fail,
}

pub(crate) struct Authenticator {
    creds: Option<Credentials>,
    client: Option<http_auth::PasswordClient>,
    /// A `stale=true` retry was spent since the last success.
    stale_retried: bool,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("has_credentials", &self.creds.is_some())
            .field("challenged", &self.client.is_some())
            .finish()
    }
}

impl Authenticator {
    pub(crate) fn new(creds: Option<Credentials>) -> Authenticator {
        Authenticator {
            creds,
            client: None,
            stale_retried: false,
        }
    }

    /// The `Authorization` value for a request, once challenged.
    pub(crate) fn authorization(&mut self, method: &str, uri: &str) -> Option<String> {
        let (client, creds) = (self.client.as_mut()?, self.creds.as_ref()?);
        client
            .respond(&http_auth::PasswordParams {
                username: &creds.username,
                password: &creds.password,
                uri,
                method,
                body: Some(&[]),
            })
            .ok()
    }

    /// A request went through: a later stale nonce may be retried again.
    pub(crate) fn succeeded(&mut self) {
        self.stale_retried = false;
    }

    /// Reads a 401's challenges.
    pub(crate) fn on_unauthorized(&mut self, resp: &Response) -> AuthStep {
        if self.creds.is_none() {
            return AuthStep::Fail;
        }
        let mut builder = http_auth::PasswordClient::builder();
        for v in resp.headers.get_all("WWW-Authenticate") {
            builder = builder.challenges(v);
        }
        let Ok(client) = builder.build() else {
            return AuthStep::Fail;
        };
        let stale = matches!(&client, http_auth::PasswordClient::Digest(d) if d.stale());
        let first = self.client.is_none();
        self.client = Some(client);
        if first {
            return AuthStep::Retry;
        }
        if stale && !self.stale_retried {
            self.stale_retried = true;
            return AuthStep::Retry;
        }
        AuthStep::Fail
    }
}
