//! One module per CLI command.

pub mod artifacts;
pub mod component;
pub mod component_catalog;
pub mod component_new;
pub mod component_publish;
pub mod component_test;
pub mod run;
pub mod runs;
pub mod secrets;
pub mod server;
pub mod validate;
pub mod workflows;

use co_spec::Diagnostics;

use crate::exit;

/// Print diagnostics as `FILE:LINE:COL: error: MESSAGE`, one per line, and return exit code 2.
pub fn report_diagnostics(diagnostics: &Diagnostics) -> u8 {
    for d in &diagnostics.0 {
        eprintln!("{d}");
    }
    exit::INVALID
}

/// Parse `K=V` arguments.
pub fn parse_pairs(flag: &str, pairs: &[String]) -> Result<Vec<(String, String)>, String> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("{flag} {pair:?}: expected KEY=VALUE")),
        })
        .collect()
}

/// Parse `--secret K=V` or `--secret K` (value from the environment variable K).
pub fn parse_secrets(pairs: &[String]) -> Result<Vec<(String, String)>, String> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            Some(_) => Err(format!("--secret {pair:?}: expected KEY=VALUE or KEY")),
            None => std::env::var(pair).map(|v| (pair.clone(), v)).map_err(|_| {
                format!(
                    "--secret {pair}: no value given and environment variable {pair} is not set"
                )
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_split_at_the_first_equals_sign() {
        assert_eq!(
            parse_pairs("--input", &["q=a=b".into(), "e=".into()]).unwrap(),
            [
                ("q".to_string(), "a=b".to_string()),
                ("e".into(), "".into())
            ]
        );
        assert!(parse_pairs("--input", &["novalue".into()]).is_err());
        assert!(parse_pairs("--input", &["=v".into()]).is_err());
    }

    #[test]
    fn a_secret_without_a_value_comes_from_the_environment() {
        std::env::set_var("CO_TEST_SECRET_FROM_ENV", "s3");
        assert_eq!(
            parse_secrets(&["CO_TEST_SECRET_FROM_ENV".into()]).unwrap(),
            [("CO_TEST_SECRET_FROM_ENV".to_string(), "s3".to_string())]
        );
        let err = parse_secrets(&["CO_TEST_SECRET_SURELY_UNSET".into()]).unwrap_err();
        assert!(err.contains("is not set"), "{err}");
    }
}
