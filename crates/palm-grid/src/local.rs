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
    /// Starts `nats-server` on a free loopback port and waits until it answers as NATS. The
    /// port is free when picked but may be taken before the server binds it (tests run side
    /// by side), so a server that exits is started again on another port, and readiness is
    /// NATS's own greeting, not just something listening there.
    pub fn start() -> Result<LocalNats, GridError> {
        for _ in 0..5 {
            if let Some(server) = LocalNats::start_once()? {
                return Ok(server);
            }
        }
        Err(GridError::Nats(
            "nats-server: exited at start five times (its ports were taken?)".into(),
        ))
    }

    /// One try: the server, or `None` when it exited before it was ready.
    fn start_once() -> Result<Option<LocalNats>, GridError> {
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
        let mut server = LocalNats {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !greets(port) {
            if let Ok(Some(_)) = server.child.try_wait() {
                return Ok(None);
            }
            if Instant::now() > deadline {
                return Err(failed("did not listen within 10 s".into()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Some(server))
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

/// Whether a NATS server answers on `port`: it greets every new connection with `INFO {...}`.
fn greets(port: u16) -> bool {
    use std::io::Read;
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut greeting = [0u8; 5];
    stream.read_exact(&mut greeting).is_ok() && &greeting == b"INFO "
}
