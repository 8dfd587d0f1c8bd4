//! The delay proxy of the test support code: it forwards both ways, adds its delay, and
//! stops when dropped.

use std::time::{Duration, Instant};

use redpipe_dev::{DelayProxy, RedisServer};

#[tokio::test]
async fn forwards_with_the_delay_each_way_and_stops_on_drop() {
    let server = RedisServer::start();
    let upstream = format!("127.0.0.1:{}", server.port()).parse().unwrap();
    let proxy = DelayProxy::start(upstream, Duration::from_millis(20)).unwrap();
    let client = redis::Client::open(proxy.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();

    let start = Instant::now();
    let () = redis::cmd("SET")
        .arg("through")
        .arg("proxy")
        .query_async(&mut conn)
        .await
        .unwrap();
    // A round trip is one delay each way, at least.
    assert!(start.elapsed() >= Duration::from_millis(40));
    let value: String = redis::cmd("GET")
        .arg("through")
        .query_async(&mut server.multiplexed().await)
        .await
        .unwrap();
    assert_eq!(value, "proxy");

    let addr = proxy.addr();
    drop(proxy);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    let after: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut conn).await;
    assert!(
        after.is_err(),
        "the proxy's connections close when it stops"
    );
}
