//! TLS against a local `redis-server` started with `--tls-port` and certificates made here
//! with openssl: a connection trusting the right CA works, one trusting another CA fails
//! with a certificate error. Runs with `cargo test --features tls --test tls`
//! (`scripts/test.sh` does).
#![cfg(feature = "tls")]

use std::path::Path;
use std::process::Command;

use redpipe::{Connection, Deferred, Registry};
use redpipe_dev::RedisServer;

/// Makes a CA and, when `server` is set, a certificate for 127.0.0.1 signed by it.
fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl must be installed (apt-get install openssl)");
    assert!(status.success(), "openssl {args:?}");
}

fn make_ca(dir: &Path, name: &str) {
    let key = format!("{name}.key");
    let crt = format!("{name}.crt");
    openssl(dir, &["genrsa", "-out", &key, "2048"]);
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-nodes",
            "-sha256",
            "-days",
            "2",
            "-key",
            &key,
            "-out",
            &crt,
            "-subj",
            "/CN=redpipe test CA",
        ],
    );
}

fn make_server_cert(dir: &Path) {
    openssl(dir, &["genrsa", "-out", "server.key", "2048"]);
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-sha256",
            "-extfile",
            "san.ext",
        ],
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn client(port: u16, ca: &[u8]) -> redis::Client {
    redis::Client::build_with_tls(
        format!("rediss://127.0.0.1:{port}"),
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(ca.to_vec()),
        },
    )
    .unwrap()
}

#[tokio::test]
async fn tls_works_with_the_right_ca_and_fails_with_another() {
    let certs = tempfile::tempdir().unwrap();
    let dir = certs.path();
    make_ca(dir, "ca");
    make_ca(dir, "other");
    make_server_cert(dir);
    let tls_port = free_port();
    let file = |name: &str| dir.join(name).display().to_string();
    let server = RedisServer::start_with(&[
        "--tls-port",
        &tls_port.to_string(),
        "--tls-cert-file",
        &file("server.crt"),
        "--tls-key-file",
        &file("server.key"),
        "--tls-ca-cert-file",
        &file("ca.crt"),
        "--tls-auth-clients",
        "no",
    ]);

    let ca = std::fs::read(dir.join("ca.crt")).unwrap();
    let connection = Connection::from_client(client(tls_port, &ca))
        .await
        .unwrap();
    assert!(format!("{connection:?}").contains(&format!("rediss://127.0.0.1:{tls_port}")));
    let registry = Registry::new();
    registry.connect(connection).unwrap();
    let pipe = registry.pipeline();
    let n: Deferred<i64> = pipe.incr("over-tls", 1);
    pipe.execute().await.unwrap();
    assert_eq!(n, 1);
    assert_eq!(server.calls("incrby"), 1);

    let other = std::fs::read(dir.join("other.crt")).unwrap();
    let error = Connection::from_client(client(tls_port, &other))
        .await
        .unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(
        text.contains("TLS handshake failed") && text.contains("certificate"),
        "{text}"
    );
}
