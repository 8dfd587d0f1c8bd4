//! An example service: a small HTTP API (axum on tokio) whose handlers compose pipelined
//! functions from three modules, user profiles ([`users`]: a `#[derive(Struct)]` record),
//! page view counters ([`counters`]) and a leaderboard ([`leaderboard`]: a sorted set), so
//! each request takes one round trip to Redis.
//!
//! ```text
//! GET  /users/{id}          profile + view counted + rank and score       1 round trip
//! POST /users/{id}          {"name", "bio"?}: create (201) or update (200) 1 round trip
//! POST /users/{id}/score    {"points"}: add points, new score and rank    1 round trip
//! GET  /leaderboard?n=10    top n with points and names                   1 round trip
//! ```
//!
//! `cargo run --example service` serves on 127.0.0.1:3000 (or `PORT`), against
//! `REDIS_URL`, or a throwaway redis-server it starts and stops. Then:
//!
//! ```text
//! curl -d '{"name":"Ada"}' -H 'content-type: application/json' localhost:3000/users/ada
//! curl -d '{"points":5}' -H 'content-type: application/json' localhost:3000/users/ada/score
//! curl localhost:3000/users/ada
//! curl 'localhost:3000/leaderboard?n=3'
//! ```
//!
//! `tests/service.rs` runs it on a loopback port and checks each route's answers and
//! round trips.

mod app;
mod counters;
mod leaderboard;
mod users;

use redpipe::Registry;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_server, connection) = redpipe_dev::example_connection().await;
    let registry = Registry::new();
    registry.connect(connection)?;
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse().map_err(|e| format!("PORT={port}: {e}"))?,
        Err(_) => 3000,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    // Stop on Ctrl-C or SIGTERM, so the throwaway redis-server (`_server`) is stopped too.
    axum::serve(listener, app::app(registry))
        .with_graceful_shutdown(shutdown())
        .await?;
    println!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C, or on SIGTERM on Unix.
async fn shutdown() {
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = term => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
