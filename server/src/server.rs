//! Starting the server: migrate, bind, serve until SIGTERM/SIGINT, finish in-flight requests.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::auth::throttle::LoginThrottle;
use crate::auth::token::TokenAuthenticator;
use crate::config::{Config, ConfigError};
use crate::state::{AppState, SharedState};
use crate::storage::BlobStore;
use crate::{db, http, services};

/// Everything a server needs, ready to accept connections.
pub struct Prepared {
    pub state: SharedState,
    pub listener: TcpListener,
    pub address: SocketAddr,
}

pub async fn prepare(config: Config) -> Result<Prepared, ConfigError> {
    config.prepare_data_dir()?;
    let secret_key = config.load_secret_key()?;
    let db = db::connect_and_migrate(&config.database).await?;
    let blobs = BlobStore::open(&config.storage, &config.data_dir)?;
    let listener = TcpListener::bind(config.listen).await.map_err(|err| {
        ConfigError::new(
            "PACKISTRY_LISTEN",
            format!("cannot listen on {}: {err}", config.listen),
        )
    })?;
    let address = listener
        .local_addr()
        .map_err(|err| ConfigError::new("PACKISTRY_LISTEN", err.to_string()))?;
    let base_url = config
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{address}"));
    let state = Arc::new(AppState {
        config,
        db,
        blobs,
        base_url,
        secret_key,
        login_throttle: LoginThrottle::default(),
        tasks: Default::default(),
        tokens: TokenAuthenticator::default(),
        metrics: http::metrics::install_recorder(),
        downloads: Default::default(),
        composer_cache: crate::cache::new_metadata_cache(),
        documents: crate::services::catalog::new_document_cache(),
        search_counts: crate::services::catalog::new_count_cache(),
        grants_cache: crate::services::access::new_grants_cache(),
        package_cache: crate::state::hot_cache(),
        manifest_cache: crate::state::hot_cache(),
        manifest_bytes: crate::state::manifest_bytes_cache(),
        manifest_answers: crate::state::answer_cache(),
        metadata_answers: crate::state::answer_cache(),
        sso_http: crate::auth::sso::http_client(),
        import_http: crate::services::providers::http_client(),
        jobs_wake: tokio::sync::Notify::new(),
        jobs_claim: tokio::sync::Mutex::new(()),
        repository_cache: moka::future::Cache::builder()
            .max_capacity(10_000)
            .time_to_live(crate::auth::token::CACHE_TTL)
            .build(),
    });
    Ok(Prepared {
        state,
        listener,
        address,
    })
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    let Prepared {
        state,
        listener,
        address,
    } = prepare(config).await?;
    tracing::info!(
        listen.address = %address,
        base_url = %state.base_url,
        database = %state.config.database.redacted(),
        storage = ?state.blobs,
        "listening on {address}; open {} in a browser",
        state.base_url
    );
    match services::users::count(&state.db).await {
        Ok(0) => tracing::warn!(
            "no users yet; create the first admin with: \
             packistry user create --email you@example.com --role admin --password-stdin \
             (then type the password and press Enter), and sign in at {}",
            state.base_url
        ),
        Ok(_) => {}
        Err(err) => tracing::warn!(error = %err, "cannot count users"),
    }
    use crate::supervisor::supervise;
    let flusher = supervise(state.tasks.clone(), "flusher", {
        let state = state.clone();
        move || {
            let state = state.clone();
            async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
                loop {
                    tick.tick().await;
                    state.tokens.flush_last_used(&state.db).await;
                    state.downloads.flush(&state.db).await;
                    // Histogram samples wait in memory until drained: without this, a
                    // server nobody scrapes would grow with every request.
                    state.metrics.run_upkeep();
                }
            }
        }
    });
    let maintenance = supervise(state.tasks.clone(), "maintenance", {
        let state = state.clone();
        move || crate::jobs::maintenance::run_forever(state.clone())
    });
    let jobs = supervise(state.tasks.clone(), "jobs", {
        let state = state.clone();
        move || crate::jobs::run_forever(state.clone())
    });
    let app = http::router(state.clone());
    serve(listener, app, shutdown_signal()).await;
    flusher.abort();
    maintenance.abort();
    jobs.abort();
    state.tokens.flush_last_used(&state.db).await;
    state.downloads.flush(&state.db).await;
    state.db.clone().close().await.ok();
    tracing::info!("stopped");
    Ok(())
}

/// Connections served at once, at most; further ones wait in the listen backlog.
const MAX_CONNECTIONS: usize = 4096;
/// A request's head must arrive within this time, and an idle kept-alive connection is
/// closed after it (slow or silent clients cannot hold connections open).
const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// How long shutdown waits for in-flight requests.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// Accept and serve HTTP/1.1 connections until `shutdown`, then finish in-flight requests.
/// Unlike `axum::serve`: request heads must arrive within [`HEADER_READ_TIMEOUT`],
/// connections are capped at [`MAX_CONNECTIONS`], and `TCP_NODELAY` is set (without it,
/// every response after the first on a kept-alive connection waits ~40 ms for delayed
/// ACKs).
async fn serve(
    listener: TcpListener,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use tower::{Service, ServiceExt};

    let mut make_service = app.into_make_service_with_connect_info::<SocketAddr>();
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait, then go on accepting.
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let Ok(service) = make_service.call(peer).await;
        let service = hyper_util::service::TowerToHyperService::new(service.map_request(
            |request: hyper::Request<hyper::body::Incoming>| request.map(axum::body::Body::new),
        ));
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown: requests still running after {SHUTDOWN_GRACE:?}; stopping");
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        tokio::signal::ctrl_c().await.ok();
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
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
