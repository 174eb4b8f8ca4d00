//! Starting and stopping a server: open the store, the secrets key and the first token, bind,
//! connect the container backend, start the coordinator, serve until told to stop, shut down.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use axum::Router;
use co_backend::Backend;
use co_backend_kube::KubeBackend;
use co_store::Store;
use tokio::net::TcpListener;

use crate::app::{router, AlwaysReady, AppState, BackendProbe};
use crate::config::{BackendKind, ServerConfig};
use crate::coordinator::{Coordinator, CoordinatorConfig};
use crate::crypto::SecretBox;
use crate::error::ServerError;

/// How long open connections (log streams, slow clients) get to finish after a stop signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A server that is bound and running its coordinator, ready to serve HTTP.
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    state: AppState,
    generated_admin_token: Option<String>,
    /// Days artifacts are kept (0: forever): the hourly sweep.
    retention_days: u32,
}

impl Server {
    /// Open the store, load (or create) the secrets key, make sure an admin token exists, bind
    /// the listen address, connect the backend and start the coordinator.
    ///
    /// If the store has no admin token and none is configured, an admin token is created and
    /// printed once on stderr (also available from [`Server::generated_admin_token`]).
    pub async fn bind(config: ServerConfig) -> Result<Server, ServerError> {
        tracing::info!(
            database = %config.database,
            server_id = %config.server_id,
            "starting"
        );
        let store = Store::open(&config.database).await?;
        let listener =
            TcpListener::bind(&config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.listen.clone(),
                    source,
                })?;
        let local_addr = listener.local_addr()?;

        let secrets = match &config.secret_key {
            Some(key) => SecretBox::from_base64(key.expose())?,
            None => {
                let path = config.secret_key_file();
                let (secrets, created) = SecretBox::load_or_create(&path)?;
                if created {
                    tracing::warn!(
                        path = %path.display(),
                        "created a new key for stored secrets; back it up (secrets cannot be read \
                         without it), and give every server that shares this database the same \
                         key (secret_key)"
                    );
                }
                secrets
            }
        };

        // Runs recorded before secret inputs were sealed get them sealed, before anything runs.
        crate::unsealed::seal_old_runs(&store, &secrets).await?;

        let generated_admin_token = match &config.admin_token {
            Some(token) => {
                crate::auth::ensure_admin_token(&store, token.expose()).await?;
                None
            }
            None => crate::auth::create_admin_token_if_none(&store).await?,
        };
        if let Some(token) = &generated_admin_token {
            eprintln!(
                "\nWARNING: the store had no admin API token, so one was created. It is shown only \
                 this once: store it now.\n\n    {token}\n\nSend it as `Authorization: Bearer \
                 <token>`; create more tokens with POST /api/v1/tokens, or set admin_token in the \
                 configuration.\n"
            );
        }

        let mut policy = config.policy.clone();
        let (backend, probe): (Arc<dyn Backend>, Arc<dyn BackendProbe>) = match config.backend {
            BackendKind::Docker => {
                let options = co_backend_docker::DockerOptions {
                    stop_grace: config.stop_grace,
                    ..co_backend_docker::DockerOptions::default()
                };
                let candidates = co_backend_docker::discovery::candidates_from_env();
                let docker = co_backend_docker::DockerBackend::connect_with(&candidates, options)
                    .await
                    .map_err(|e| ServerError::Backend(e.to_string()))?;
                tracing::info!(engine = %docker.info(), "container engine");
                let docker = Arc::new(docker);
                (docker.clone(), docker)
            }
            BackendKind::Swarm => {
                let options = co_backend_swarm::SwarmOptions {
                    stop_grace: config.stop_grace,
                    ..co_backend_swarm::SwarmOptions::default()
                };
                let swarm = co_backend_swarm::SwarmBackend::connect(options)
                    .await
                    .map_err(|e| ServerError::Backend(format!("Swarm: {e}")))?;
                tracing::info!(engine = %swarm.engine().info(), node = swarm.node_id(), "Docker Swarm backend");
                // /readyz: the manager's engine answers.
                let probe = Arc::new(swarm.engine().clone());
                (Arc::new(swarm), probe)
            }
            BackendKind::Kubernetes => {
                let kube = KubeBackend::connect(config.kubernetes.clone())
                    .await
                    .map_err(|e| ServerError::Backend(format!("Kubernetes: {e}")))?;
                tracing::info!(
                    namespace = kube.namespace(),
                    context = kube.options().context.as_deref().unwrap_or("(current)"),
                    workspace = ?kube.options().workspace,
                    service_account = kube.service_account().unwrap_or("(not a service account)"),
                    "Kubernetes backend"
                );
                // No step may run as the server itself.
                policy.own_service_account = kube.service_account().map(str::to_string);
                // /readyz: `connect` has just checked that the API server answers and accepts
                // our credentials. The probe makes no further call on purpose: the API server is
                // shared by every replica, so failing readiness when it blips would take them all
                // out of the Service at once, while they can still serve the API, history and
                // logs (and readiness would not stop a replica's coordinator from claiming
                // runs anyway). Steps that cannot reach it fail with a reason instead.
                (Arc::new(kube), Arc::new(AlwaysReady))
            }
            BackendKind::Noop => (
                Arc::new(co_runner::fake::NoopBackend),
                Arc::new(AlwaysReady),
            ),
        };
        let policy = Arc::new(policy);
        // Checked at every launch too: a run queued before the policy changed is held to it.
        let backend: Arc<dyn Backend> =
            Arc::new(crate::policy::PolicyBackend::new(backend, policy.clone()));
        let coordinator = Coordinator::start(
            store.clone(),
            backend,
            CoordinatorConfig {
                server_id: config.server_id.clone(),
                max_runs: config.max_runs,
                lease: config.lease,
                limits: config.limits,
                policy,
                statuses: config.statuses.clone(),
                artifacts: Some(
                    co_runner::ArtifactStore::open(config.data_dir.join("artifacts")).map_err(
                        |e| ServerError::Io(std::io::Error::other(format!("artifact store: {e}"))),
                    )?,
                ),
            },
            Arc::new(secrets.clone()),
        );
        tracing::info!(ui = %config.ui.describe(), "web UI");
        let state = AppState::new(store, coordinator, secrets, probe, config.max_body_bytes)
            .with_web(config.session_ttl, config.ui.clone());
        Ok(Server {
            listener,
            local_addr,
            router: router(state.clone()),
            state,
            generated_admin_token,
            retention_days: config.artifact_retention_days,
        })
    }

    /// The address the server listens on (the real port when the configuration said `:0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The admin token this start created (the store had no admin token and none was
    /// configured).
    pub fn generated_admin_token(&self) -> Option<&str> {
        self.generated_admin_token.as_deref()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serve until `shutdown` completes; then stop accepting, end the log streams, give open
    /// requests `SHUTDOWN_GRACE`, shut the coordinator down and close the store.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let Server {
            listener,
            local_addr,
            router,
            state,
            retention_days,
            ..
        } = self;
        tracing::info!(
            addr = %local_addr,
            ui = %format!("http://{local_addr}/ui/"),
            "listening"
        );
        let upkeep = tokio::spawn(async {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                if let Some(handle) = crate::metrics::install() {
                    handle.run_upkeep();
                }
            }
        });
        let sweeper = (retention_days > 0).then(|| {
            let state = state.clone();
            tokio::spawn(async move {
                loop {
                    if let Some(blobs) = state.coordinator().artifact_store() {
                        let now = time::OffsetDateTime::now_utc();
                        match crate::retention::sweep(state.store(), blobs, retention_days, now)
                            .await
                        {
                            Ok(s) if s.unreferenced > 0 => tracing::info!(
                                expired_blobs = s.unreferenced,
                                removed = s.removed,
                                days = retention_days,
                                "artifact retention swept"
                            ),
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "artifact retention sweep failed"),
                        }
                    }
                    tokio::time::sleep(crate::retention::SWEEP_EVERY).await;
                }
            })
        });
        let stopping = state.shutdown_token();
        let signal = {
            let stopping = stopping.clone();
            async move {
                shutdown.await;
                tracing::info!("stopping");
                stopping.cancel();
            }
        };
        // TCP_NODELAY: a response written in pieces (headers, then body; every SSE event) must
        // not wait for the client's delayed ACK (~40 ms on Linux) on a kept-alive connection.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY on a connection");
            }
        });
        let serving = axum::serve(listener, router).with_graceful_shutdown(signal);
        let result = tokio::select! {
            result = serving => result,
            _ = async {
                stopping.cancelled().await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => {
                tracing::warn!("connections still open {SHUTDOWN_GRACE:?} after the stop signal; closing them");
                Ok(())
            }
        };
        upkeep.abort();
        if let Some(sweeper) = sweeper {
            sweeper.abort();
        }
        state.coordinator().shutdown().await;
        state.store().close().await;
        tracing::info!("stopped");
        result.map_err(ServerError::Io)
    }
}

/// Run `containerops server`: bind, serve until SIGINT or SIGTERM, shut down.
pub async fn serve(config: ServerConfig) -> Result<(), ServerError> {
    let server = Server::bind(config).await?;
    server.run(shutdown_signal()).await
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}
