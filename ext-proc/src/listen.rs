//! Where the sidecar listens: a Unix domain socket (`unix:/path`, the default:
//! Envoy and the sidecar on one host) or TCP (`host:port`, for a sidecar on
//! another host). One spelling for both sides: `datagate serve --listen` and the
//! `sidecars` of `datagate envoy-config` parse the same [`Listen`].
//!
//! Over a Unix socket a request skips the loopback TCP stack (no Nagle, no
//! checksums, no port exhaustion under churn) and the socket file's permissions
//! decide who may call the sidecar.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The socket the shipped configs use: the sidecar's default `--listen` and the
/// default `sidecars` entry of `datagate envoy-config` (they must agree).
pub const DEFAULT_SOCKET: &str = "/tmp/datagate.sock";

/// `sun_path` holds 108 bytes on Linux, including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// A listen address, as written: `unix:/path/to.sock` or `IP:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// A Unix domain socket at this path.
    Unix(PathBuf),
    /// A TCP address.
    Tcp(SocketAddr),
}

impl Default for Listen {
    fn default() -> Self {
        Listen::Unix(PathBuf::from(DEFAULT_SOCKET))
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Unix(path) => write!(f, "unix:{}", path.display()),
            Listen::Tcp(addr) => write!(f, "{addr}"),
        }
    }
}

impl std::str::FromStr for Listen {
    type Err = String;

    /// Parses `unix:PATH` (absolute or relative, at most 107 bytes) or `IP:PORT`.
    fn from_str(text: &str) -> Result<Listen, String> {
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(format!("'{text}' names no socket file: write unix:/path/to/datagate.sock"));
            }
            if path.len() > MAX_SOCKET_PATH {
                return Err(format!(
                    "'{text}': a Unix socket path holds at most {MAX_SOCKET_PATH} bytes, this one has {}; \
                     use a shorter directory",
                    path.len()
                ));
            }
            if path.chars().any(|c| c.is_control()) {
                return Err(format!("'{text}': the socket path must not contain control characters"));
            }
            return Ok(Listen::Unix(PathBuf::from(path)));
        }
        text.parse::<SocketAddr>()
            .map(Listen::Tcp)
            .map_err(|_| format!("'{text}' is neither unix:/path/to.sock nor an address like 127.0.0.1:50051"))
    }
}

/// A bound listener, ready for the gRPC server.
#[derive(Debug)]
pub enum Listener {
    /// A Unix socket; the guard removes its file when the server stops.
    Unix(tokio::net::UnixListener, SocketFile),
    /// A TCP socket.
    Tcp(tokio::net::TcpListener),
}

impl From<tokio::net::TcpListener> for Listener {
    fn from(l: tokio::net::TcpListener) -> Self {
        Listener::Tcp(l)
    }
}

impl Listener {
    /// Binds `listen`. A socket file left behind by a sidecar that died without
    /// cleaning up is replaced; one a live process still accepts on is not.
    pub async fn bind(listen: &Listen) -> std::io::Result<Listener> {
        match listen {
            Listen::Tcp(addr) => Ok(Listener::Tcp(tokio::net::TcpListener::bind(addr).await?)),
            Listen::Unix(path) => {
                remove_stale(path)?;
                let listener = tokio::net::UnixListener::bind(path).map_err(|e| {
                    std::io::Error::new(e.kind(), format!("cannot listen on unix:{}: {e}", path.display()))
                })?;
                Ok(Listener::Unix(listener, SocketFile::new(path.clone())))
            }
        }
    }

    /// What the listener is bound to, for the log.
    pub fn describe(&self) -> String {
        match self {
            Listener::Unix(_, file) => format!("unix:{}", file.0.display()),
            Listener::Tcp(l) => {
                l.local_addr().map_or_else(|e| format!("tcp (unknown address: {e})"), |a| a.to_string())
            }
        }
    }
}

/// The socket file of a bound Unix listener: removed on drop, so a stopped
/// sidecar leaves no file behind for Envoy to keep connecting to. Only its
/// own file: if the path was replaced meanwhile (removed by hand and bound by
/// a newer sidecar while this one drained), the newer one's file stays.
#[derive(Debug)]
pub struct SocketFile(PathBuf, Option<(u64, u64)>);

impl SocketFile {
    fn new(path: PathBuf) -> SocketFile {
        let id = file_id(&path);
        SocketFile(path, id)
    }
}

/// The (device, inode) of the file at `path`, if there is one.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if self.1.is_some() && file_id(&self.0) == self.1 {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// Removes `path` if it is a socket nobody accepts on. Anything else there (a
/// live sidecar, a regular file) is left alone and reported.
fn remove_stale(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let in_use = || {
        std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!("unix:{} is in use by another process (another sidecar running?)", path.display()),
        )
    };
    if !meta.file_type().is_socket() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("unix:{}: the path exists and is not a socket; remove it or choose another", path.display()),
        ));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(in_use()),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => std::fs::remove_file(path),
        Err(e) => Err(std::io::Error::new(e.kind(), format!("unix:{}: {e}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_spellings() {
        assert_eq!("unix:/run/dg.sock".parse(), Ok(Listen::Unix("/run/dg.sock".into())));
        assert_eq!("unix:rel/dg.sock".parse(), Ok(Listen::Unix("rel/dg.sock".into())));
        assert_eq!("127.0.0.1:50051".parse(), Ok(Listen::Tcp("127.0.0.1:50051".parse().unwrap())));
        assert_eq!("[::1]:7".parse::<Listen>().unwrap().to_string(), "[::1]:7");
        assert_eq!(Listen::default().to_string(), format!("unix:{DEFAULT_SOCKET}"));
    }

    #[test]
    fn refuses_what_cannot_be_bound() {
        for bad in ["unix:", "localhost:50051", "50051", &format!("unix:/{}", "a".repeat(200)), "unix:/a\nb"] {
            assert!(bad.parse::<Listen>().is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_stale_socket_is_replaced_a_live_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let listen = Listen::Unix(path.clone());
        // A sidecar that died: its file stays, nobody accepts.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let live = Listener::bind(&listen).await.unwrap();
        let err = Listener::bind(&listen).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
        drop(live);
        assert!(!path.exists(), "the guard removes the file");
        std::fs::write(&path, b"not a socket").unwrap();
        assert!(Listener::bind(&listen).await.is_err(), "a regular file is never removed");
        assert!(path.exists());
    }

    #[tokio::test]
    async fn a_draining_sidecar_leaves_a_newer_ones_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let listen = Listen::Unix(path.clone());
        let old = Listener::bind(&listen).await.unwrap();
        // Removed by hand while the old one drains; a new sidecar binds the path.
        std::fs::remove_file(&path).unwrap();
        let new = Listener::bind(&listen).await.unwrap();
        drop(old);
        assert!(path.exists(), "the new sidecar's file stays");
        drop(new);
        assert!(!path.exists());
    }
}
