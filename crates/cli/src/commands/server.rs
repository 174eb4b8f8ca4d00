//! `containerops server`: the API server, scheduler and webhooks (the `co-server` crate).

use clap::Args;

use crate::exit;

#[derive(Args)]
pub struct ServerArgs {
    #[command(flatten)]
    pub options: co_server::ServerOptions,
}

/// Serve until SIGINT or SIGTERM; exit 2 for a configuration mistake, 1 if the server cannot
/// start or fails.
pub async fn server(args: ServerArgs) -> u8 {
    let config = match co_server::ServerConfig::load(args.options) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    match co_server::serve(config).await {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {e}");
            exit::FAILED
        }
    }
}
