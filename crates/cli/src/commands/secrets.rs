//! `containerops secrets set|list|delete`: the secrets stored (encrypted) on a server (needs
//! `--server`). A value never comes from the command line: it is read from stdin (a hidden
//! prompt on a terminal) or from a file, and nothing ever prints one.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::Value;

use super::run::OutputFormat;
use crate::client::{Client, Server};
use crate::exit;

/// The largest secret value read (from stdin or a file): 1 MiB. The server may allow less (its
/// request body limit).
pub const MAX_SECRET_BYTES: u64 = 1024 * 1024;

#[derive(Subcommand)]
pub enum SecretsCommand {
    /// Store a secret on the server (encrypted), replacing one of the same name. The value is
    /// read from stdin, or from --from-file; never from the command line.
    #[command(after_help = "\
On a terminal the value is asked for without echo; from a pipe, everything up to the end of input
is the value, without one trailing newline (so `echo TOKEN | …` stores TOKEN). --from-file stores
the file's bytes exactly (UTF-8 text, at most 1 MiB). Workflows use it as ${{ secrets.NAME }}.

Examples:
  containerops --server http://127.0.0.1:8080 secrets set REGISTRY_TOKEN          # prompts
  printf %s \"$TOKEN\" | containerops --server $URL secrets set REGISTRY_TOKEN
  containerops --server $URL secrets set DEPLOY_KEY --from-file ~/.ssh/deploy_key")]
    Set(SetArgs),
    /// List the names of the secrets stored on the server (never their values).
    #[command(after_help = "\
Examples:
  containerops --server http://127.0.0.1:8080 secrets list
  containerops --server $URL secrets list --output json")]
    List(ListArgs),
    /// Delete a secret from the server.
    #[command(after_help = "\
Example:
  containerops --server http://127.0.0.1:8080 secrets delete REGISTRY_TOKEN")]
    Delete(DeleteArgs),
}

#[derive(Args)]
pub struct SetArgs {
    /// The secret's name ([A-Za-z_][A-Za-z0-9_-]*).
    pub name: String,
    /// Read the value from this file (its exact contents) instead of stdin.
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
}

#[derive(Args)]
pub struct ListArgs {
    /// Output format (`json`: an array of names).
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Args)]
pub struct DeleteArgs {
    /// The secret's name.
    pub name: String,
}

pub async fn secrets(command: SecretsCommand, server: Option<Server>) -> u8 {
    let Some(server) = server else {
        eprintln!(
            "error: secrets are stored on a server: pass --server URL (or set \
             CONTAINEROPS_SERVER)\nhint: for a local run, pass secrets with containerops run FILE \
             --secret NAME (the value from the environment variable NAME)"
        );
        return exit::INVALID;
    };
    let client = match Client::new(&server) {
        Ok(c) => c,
        Err(e) => return e.report(),
    };
    match command {
        SecretsCommand::Set(args) => set(&client, args).await,
        SecretsCommand::List(args) => list(&client, args).await,
        SecretsCommand::Delete(args) => match client.delete(&["secrets", &args.name]).await {
            Ok(_) => {
                println!("secret {} deleted", args.name);
                exit::OK
            }
            Err(e) => e.report(),
        },
    }
}

async fn set(client: &Client, args: SetArgs) -> u8 {
    let value = match read_value(&args) {
        Ok(v) => v,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::INVALID;
        }
    };
    let body = serde_json::json!({ "value": value });
    match client.put(&["secrets", &args.name], &body).await {
        Ok(_) => {
            println!("secret {} set", args.name);
            exit::OK
        }
        Err(e) => e.report(),
    }
}

/// The value: the file's contents, a hidden line typed at a terminal, or all of stdin without
/// one trailing newline. Never empty, never more than [`MAX_SECRET_BYTES`].
fn read_value(args: &SetArgs) -> Result<String, String> {
    let (bytes, from) = match &args.from_file {
        Some(path) => {
            let file = std::fs::File::open(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let shown = path.display().to_string();
            (read_capped(file, &shown)?, shown)
        }
        None if std::io::stdin().is_terminal() => {
            let term = console::Term::stderr();
            term.write_str(&format!("value of secret {} (not shown): ", args.name))
                .map_err(|e| format!("cannot prompt on the terminal: {e}"))?;
            let line = term
                .read_secure_line()
                .map_err(|e| format!("cannot read the value from the terminal: {e}"))?;
            (line.into_bytes(), "the terminal".to_string())
        }
        None => {
            let mut bytes = read_capped(std::io::stdin().lock(), "stdin")?;
            if bytes.ends_with(b"\n") {
                bytes.pop();
                if bytes.ends_with(b"\r") {
                    bytes.pop();
                }
            }
            (bytes, "stdin".to_string())
        }
    };
    if bytes.is_empty() {
        return Err(format!(
            "the value of secret {} from {from} is empty; nothing was stored",
            args.name
        ));
    }
    String::from_utf8(bytes).map_err(|_| {
        format!(
            "the value of secret {} from {from} is not UTF-8 text (store binary data \
             base64-encoded)",
            args.name
        )
    })
}

/// Everything `reader` gives, refusing more than [`MAX_SECRET_BYTES`] (without reading it all).
fn read_capped(reader: impl Read, from: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_SECRET_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {from}: {e}"))?;
    if bytes.len() as u64 > MAX_SECRET_BYTES {
        return Err(format!(
            "the secret value from {from} is larger than {} KiB",
            MAX_SECRET_BYTES / 1024
        ));
    }
    Ok(bytes)
}

async fn list(client: &Client, args: ListArgs) -> u8 {
    let answer = match client.get(&["secrets"], &[]).await {
        Ok(a) => a,
        Err(e) => return e.report(),
    };
    // Only names are taken from the answer, whatever else it holds.
    let names: Vec<String> = answer
        .get("secrets")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if args.output == OutputFormat::Json {
        println!("{}", Value::from(names));
    } else if names.is_empty() {
        eprintln!(
            "no secrets on {} yet (containerops secrets set NAME)",
            client.shown_url()
        );
    } else {
        for name in names {
            println!("{name}");
        }
    }
    exit::OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_capped_while_reading() {
        let big = vec![b'x'; usize::try_from(MAX_SECRET_BYTES).unwrap() + 10];
        let err = read_capped(&big[..], "stdin").unwrap_err();
        assert!(err.contains("larger than 1024 KiB"), "{err}");
        let ok = read_capped(&b"abc"[..], "stdin").unwrap();
        assert_eq!(ok, b"abc");
    }
}
