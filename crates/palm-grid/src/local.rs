//! A nats-server with JetStream on loopback, in a temporary folder, stopped on drop: how one
//! machine runs the grid for its test suites and benchmarks (Debian's `nats-server` package).

use crate::GridError;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct LocalNats {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl LocalNats {
    /// Starts `nats-server` on a free loopback port and waits until it listens.
    pub fn start() -> Result<LocalNats, GridError> {
        let failed = |why: String| GridError::Nats(format!("nats-server: {why}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| failed(e.to_string()))?
            .port();
        let dir = tempfile::tempdir().map_err(|e| failed(e.to_string()))?;
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                failed(format!(
                    "cannot start it ({e}); install Debian's nats-server"
                ))
            })?;
        let server = LocalNats {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(failed("did not listen within 10 s".into()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for LocalNats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
