//! A private `clickhouse-server` for tests: its own temporary data directory and configuration,
//! one HTTP listener on a free loopback port, no system service, killed (and its directory
//! removed) on drop.
//!
//! The server binary is `$OPENLLMETRY_CLICKHOUSE_SERVER` when set, else `clickhouse-server`
//! (Debian's package, version 18.16) or `clickhouse server` (upstream's single binary) from
//! `PATH` or `/usr/sbin`, `/usr/bin`. `scripts/setup-clickhouse.sh` installs Debian's package.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long [`ClickHouseServer::start`] waits for `GET /ping` to answer `Ok.`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// Start attempts (a new free port each) before giving up, in case another process took the
/// port between choosing it and the server binding it.
pub const START_ATTEMPTS: usize = 3;

/// Why no server could be started.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClickHouseStartError {
    /// No `clickhouse-server` / `clickhouse` binary was found (the tests then skip).
    NotInstalled,
    /// The binary exists but the server did not become ready.
    Failed(String),
}

impl std::fmt::Display for ClickHouseStartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClickHouseStartError::NotInstalled => write!(
                f,
                "clickhouse-server is not installed (run scripts/setup-clickhouse.sh or set OPENLLMETRY_CLICKHOUSE_SERVER)"
            ),
            ClickHouseStartError::Failed(m) => write!(f, "clickhouse-server did not start: {m}"),
        }
    }
}

impl std::error::Error for ClickHouseStartError {}

/// A running private ClickHouse server.
#[derive(Debug)]
pub struct ClickHouseServer {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

/// The server command: program and leading arguments.
fn find_binary() -> Option<(PathBuf, Vec<String>)> {
    if let Some(p) = std::env::var_os("OPENLLMETRY_CLICKHOUSE_SERVER").filter(|p| !p.is_empty()) {
        return Some((PathBuf::from(p), Vec::new()));
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.push("/usr/sbin".into());
    dirs.push("/usr/bin".into());
    for (name, args) in [
        ("clickhouse-server", vec![]),
        ("clickhouse", vec!["server"]),
    ] {
        for d in &dirs {
            let p = d.join(name);
            if p.is_file() {
                return Some((p, args.into_iter().map(String::from).collect()));
            }
        }
    }
    None
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn config_xml(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        r#"<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/server.err.log</errorlog><size>10M</size><count>1</count></logger>
  <http_port>{port}</http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{d}/data/</path>
  <tmp_path>{d}/data/tmp/</tmp_path>
  <user_files_path>{d}/data/user_files/</user_files_path>
  <format_schema_path>{d}/data/format_schemas/</format_schema_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>64</max_concurrent_queries>
  <mlock_executable>false</mlock_executable>
</yandex>
"#
    )
}

const USERS_XML: &str = r#"<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>1000000000</max_memory_usage></default></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default>
    <tester><password>s3cret-test</password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></tester>
  </users>
  <quotas><default></default></quotas>
</yandex>
"#;

/// The user with a password the server configures besides `default` (no password).
pub const TEST_USER: (&str, &str) = ("tester", "s3cret-test");

/// `GET /ping` answered `Ok.`.
fn ping(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = Vec::new();
    let _ = s.take(4096).read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    text.starts_with("HTTP/1.1 200") && text.ends_with("Ok.\n")
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl ClickHouseServer {
    /// Whether a server binary is installed.
    pub fn installed() -> bool {
        find_binary().is_some()
    }

    /// Starts a server and waits (at most [`READY_TIMEOUT`]) until it answers over HTTP.
    pub fn start() -> Result<Self, ClickHouseStartError> {
        let (bin, args) = find_binary().ok_or(ClickHouseStartError::NotInstalled)?;
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(&bin, &args) {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(ClickHouseStartError::Failed(last))
    }

    fn try_start(bin: &Path, args: &[String]) -> Result<Self, String> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "openllmetry-clickhouse-{}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(dir.join("data")).map_err(|e| e.to_string())?;
        let port = free_port().map_err(|e| e.to_string())?;
        let config = dir.join("config.xml");
        std::fs::write(&config, config_xml(&dir, port)).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("users.xml"), USERS_XML).map_err(|e| e.to_string())?;
        let out = std::fs::File::create(dir.join("stdout.log")).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(bin)
            .args(args)
            .arg(format!("--config-file={}", config.display()))
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        let mut server = ClickHouseServer {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            dir,
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if ping(server.addr) {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("exited with {status}: {}", server.log_tail()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "not ready within {READY_TIMEOUT:?}: {}",
            server.log_tail()
        ))
    }

    /// The last lines of the server's output and error log (for failure messages).
    pub fn log_tail(&self) -> String {
        let mut out = String::new();
        for f in ["stdout.log", "server.err.log"] {
            if let Ok(t) = std::fs::read_to_string(self.dir.join(f)) {
                let lines: Vec<&str> = t.lines().collect();
                let start = lines.len().saturating_sub(10);
                out.push_str(&lines[start..].join("\n"));
                out.push('\n');
            }
        }
        out
    }

    /// The HTTP interface's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A `clickhouse://127.0.0.1:PORT/DB` store URL for database `db` (user `default`).
    pub fn url(&self, db: &str) -> String {
        format!("clickhouse://{}/{db}", self.addr)
    }
}

impl Drop for ClickHouseServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
