//! Which service account the backend's own credentials are: a service account token is a JWT
//! whose `sub` claim is `system:serviceaccount:NAMESPACE:NAME`. The server uses the name to make
//! sure no step runs as the server itself (`allowed_service_accounts`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use secrecy::ExposeSecret;

/// The service account `(namespace, name)` a bearer token authenticates as, if it is a service
/// account token (a JWT with `sub: system:serviceaccount:NS:NAME`). The signature is not
/// checked: the token is the backend's own.
pub fn token_service_account(token: &str) -> Option<(String, String)> {
    let payload = token.trim().split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let subject = claims.get("sub")?.as_str()?;
    let rest = subject.strip_prefix("system:serviceaccount:")?;
    let (namespace, name) = rest.split_once(':')?;
    (!namespace.is_empty() && !name.is_empty() && !name.contains(':'))
        .then(|| (namespace.to_string(), name.to_string()))
}

/// The service account name of the credentials in `config` (a token, or a token file such as the
/// in-cluster one), if they are a service account's.
pub(crate) fn config_service_account(config: &kube::Config) -> Option<String> {
    let auth = &config.auth_info;
    let token = match (&auth.token, &auth.token_file) {
        (Some(token), _) => token.expose_secret().to_string(),
        (None, Some(file)) => std::fs::read_to_string(file).ok()?,
        (None, None) => return None,
    };
    token_service_account(&token).map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        format!(
            "{}.{}.signature",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    #[test]
    fn service_account_tokens_name_their_account() {
        let token = jwt(r#"{"iss":"k","sub":"system:serviceaccount:containerops:containerops"}"#);
        assert_eq!(
            token_service_account(&format!("{token}\n")),
            Some(("containerops".into(), "containerops".into()))
        );
        for other in [
            jwt(r#"{"sub":"alice"}"#),
            jwt(r#"{"sub":"system:serviceaccount:ns"}"#),
            jwt(r#"{"nosub":1}"#),
            "not-a-jwt".to_string(),
            "a.!!!.c".to_string(),
        ] {
            assert_eq!(token_service_account(&other), None, "{other}");
        }
    }
}
