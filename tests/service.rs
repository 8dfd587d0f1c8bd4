//! The example service (`examples/service/`) over real HTTP on a loopback port, against a
//! real redis-server: every route's answers, and the round trips (batches) each request
//! took, counted by the `Counting` backend wrapper.

#[path = "../examples/service/app.rs"]
mod app;
#[path = "../examples/service/counters.rs"]
mod counters;
#[path = "../examples/service/leaderboard.rs"]
mod leaderboard;
#[path = "../examples/service/users.rs"]
mod users;

use std::net::SocketAddr;

use redpipe_dev::{counted_server, Counting, RedisServer};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A running service: its address, the server behind it, and the batch counter.
struct Service {
    addr: SocketAddr,
    server: RedisServer,
    counting: Counting,
}

impl Service {
    /// Starts a redis-server and the app on `127.0.0.1:0`.
    async fn start() -> Self {
        let (server, registry, counting) = counted_server().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app::app(registry)).await.unwrap();
        });
        Service {
            addr,
            server,
            counting,
        }
    }

    /// Sends one request (on its own connection) and returns the status, the JSON body,
    /// and how many batches reached Redis meanwhile.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value, usize) {
        let body = body.map(|b| b.to_string());
        let before = self.counting.batches();
        let (status, reply) = http(self.addr, method, path, body.as_deref(), true).await;
        let reply = serde_json::from_str(&reply)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {reply:?}"));
        (status, reply, self.counting.batches() - before)
    }
}

/// A minimal HTTP/1.1 client: one request with `Connection: close`, read to the end.
/// Returns the status code and the body (the service always sends a `Content-Length`).
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    json_type: bool,
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let body = body.unwrap_or("");
    let content_type = if json_type {
        "Content-Type: application/json\r\n"
    } else {
        ""
    };
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{content_type}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {response:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, body.to_owned())
}

#[tokio::test]
async fn each_route_answers_in_the_documented_round_trips() {
    let service = Service::start().await;

    // Create: 201, entered on the board with 0 points; one round trip.
    let (status, body, trips) = service
        .call(
            "POST",
            "/users/ada",
            Some(json!({"name": "Ada", "bio": "counts things"})),
        )
        .await;
    assert_eq!((status, trips), (201, 1), "{body}");
    assert_eq!(
        body,
        json!({
            "created": true,
            "user": {"id": "ada", "name": "Ada", "bio": "counts things"},
            "views": 0,
            "standing": {"rank": 1, "score": 0.0},
        })
    );

    // Update: 200, the bio kept; still one round trip.
    let (status, body, trips) = service
        .call("POST", "/users/ada", Some(json!({"name": "Ada L."})))
        .await;
    assert_eq!((status, trips), (200, 1), "{body}");
    assert_eq!(body["created"], false);
    assert_eq!(
        body["user"],
        json!({"id": "ada", "name": "Ada L.", "bio": "counts things"})
    );

    let (status, _, trips) = service
        .call("POST", "/users/bob", Some(json!({"name": "Bob"})))
        .await;
    assert_eq!((status, trips), (201, 1));

    // Scores: the new score and rank, one round trip each.
    let (status, body, trips) = service
        .call("POST", "/users/ada/score", Some(json!({"points": 5})))
        .await;
    assert_eq!((status, trips), (200, 1), "{body}");
    assert_eq!(body, json!({"rank": 1, "score": 5.0}));
    let (_, body, trips) = service
        .call("POST", "/users/bob/score", Some(json!({"points": 7.5})))
        .await;
    assert_eq!((body, trips), (json!({"rank": 1, "score": 7.5}), 1));

    // A profile page: profile, view counted, standing; four commands in one round trip.
    let commands = service.counting.commands();
    let (status, body, trips) = service.call("GET", "/users/ada", None).await;
    assert_eq!((status, trips), (200, 1), "{body}");
    assert_eq!(service.counting.commands() - commands, 4);
    assert_eq!(
        body,
        json!({
            "user": {"id": "ada", "name": "Ada L.", "bio": "counts things"},
            "views": 1,
            "standing": {"rank": 2, "score": 5.0},
        })
    );
    let (_, body, trips) = service.call("GET", "/users/ada", None).await;
    assert_eq!((&body["views"], trips), (&json!(2), 1));

    // The leaderboard with names: one round trip (the names are read by a script).
    let (status, body, trips) = service.call("GET", "/leaderboard?n=10", None).await;
    assert_eq!((status, trips), (200, 1), "{body}");
    assert_eq!(
        body,
        json!({
            "players": 2,
            "top": [
                {"rank": 1, "id": "bob", "score": 7.5, "name": "Bob"},
                {"rank": 2, "id": "ada", "score": 5.0, "name": "Ada L."},
            ],
        })
    );
    let (_, body, trips) = service.call("GET", "/leaderboard?n=1", None).await;
    assert_eq!(body["top"].as_array().map(Vec::len), Some(1));
    assert_eq!((&body["top"][0]["id"], trips), (&json!("bob"), 1));
    let (_, body, trips) = service.call("GET", "/leaderboard", None).await;
    assert_eq!((body["top"].as_array().map(Vec::len), trips), (Some(2), 1));
}

#[tokio::test]
async fn unknown_users_are_404_in_one_round_trip() {
    let service = Service::start().await;
    let (status, body, trips) = service.call("GET", "/users/nobody", None).await;
    assert_eq!((status, trips), (404, 1));
    assert_eq!(body, json!({"error": "no user `nobody`"}));

    // Scoring someone who is not on the board writes nothing (`ZADD XX`).
    let (status, body, trips) = service
        .call("POST", "/users/nobody/score", Some(json!({"points": 3})))
        .await;
    assert_eq!((status, trips), (404, 1));
    assert_eq!(
        body,
        json!({"error": "no user `nobody` on the leaderboard"})
    );
    let members: i64 = redis::cmd("ZCARD")
        .arg("Leaderboard{global}")
        .query(&mut service.server.sync())
        .unwrap();
    assert_eq!(members, 0);

    // An empty board: one round trip.
    let (status, body, trips) = service.call("GET", "/leaderboard", None).await;
    assert_eq!((status, trips), (200, 1));
    assert_eq!(body, json!({"players": 0, "top": []}));
}

#[tokio::test]
async fn bad_input_is_400_and_sends_nothing() {
    let service = Service::start().await;
    let cases = [
        ("POST", "/users/ada", Some(json!({"name": "  "})), "name"),
        (
            "POST",
            "/users/ada",
            Some(json!({"bio": "no name"})),
            "name",
        ),
        ("POST", "/users/a.b", Some(json!({"name": "Ada"})), "id"),
        ("GET", "/users/a.b", None, "id"),
        (
            "POST",
            "/users/ada/score",
            Some(json!({"points": "x"})),
            "points",
        ),
        ("GET", "/leaderboard?n=0", None, "n"),
        ("GET", "/leaderboard?n=101", None, "n"),
        ("GET", "/leaderboard?n=ten", None, "n"),
    ];
    for (method, path, body, mentions) in cases {
        let (status, reply, trips) = service.call(method, path, body.clone()).await;
        assert!(
            status == 400 || status == 422,
            "{method} {path} {body:?}: {status} {reply}"
        );
        let message = reply["error"].as_str().unwrap_or_default();
        assert!(message.contains(mentions), "{method} {path}: {message}");
        assert_eq!(trips, 0, "{method} {path}");
    }

    // Not JSON at all, or without a JSON content type.
    let (status, _) = http(service.addr, "POST", "/users/ada", Some("{"), true).await;
    assert_eq!(status, 400);
    let body = r#"{"name": "Ada"}"#;
    let (status, _) = http(service.addr, "POST", "/users/ada", Some(body), false).await;
    assert_eq!(status, 415);
    let (status, body, trips) = service.call("GET", "/nowhere", None).await;
    assert_eq!(
        (status, body, trips),
        (404, json!({"error": "no such route"}), 0)
    );
    let (status, body, _) = service.call("DELETE", "/users/ada", None).await;
    assert_eq!(
        (status, body),
        (405, json!({"error": "method not allowed on this route"}))
    );
    assert_eq!(service.counting.batches(), 0);
}

#[tokio::test]
async fn concurrent_requests_take_at_most_one_round_trip_each() {
    let service = Service::start().await;
    let (status, _, _) = service
        .call("POST", "/users/ada", Some(json!({"name": "Ada"})))
        .await;
    assert_eq!(status, 201);
    let before = service.counting.batches();
    // Twenty profile pages at once, each on its own task and HTTP connection.
    let mut pages = tokio::task::JoinSet::new();
    for _ in 0..20 {
        pages.spawn(http(service.addr, "GET", "/users/ada", None, true));
    }
    let mut views = Vec::new();
    while let Some(page) = pages.join_next().await {
        let (status, body) = page.unwrap();
        assert_eq!(status, 200, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        views.push(body["views"].as_i64().unwrap());
    }
    views.sort_unstable();
    assert_eq!(views, (1..=20).collect::<Vec<_>>());
    // Executes that overlap on the connection may be coalesced into fewer batches.
    let trips = service.counting.batches() - before;
    assert!((1..=20).contains(&trips), "{trips} batches for 20 requests");
}

#[tokio::test]
async fn redis_out_of_reach_is_503() {
    let mut service = Service::start().await;
    service.server.stop();
    let (status, body, _) = service.call("GET", "/users/ada", None).await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"]
        .as_str()
        .is_some_and(|e| e.contains("connection")));
}
