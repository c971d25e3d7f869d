//! Several sidecar replicas behind one gateway, started, killed and drained by
//! the fleet tests.

use super::render::with_body_limit;
use super::{datagate_bin, free_port, pg_admin, terminate, wait_for, Gateway, Sidecar, Store};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Several sidecar replicas on one store behind one Envoy (round robin over
/// the shipped cluster, with its health checks and outlier detection).
pub struct Fleet {
    pub gw: Gateway,
    ports: Vec<u16>,
    sidecars: Vec<Option<Child>>,
}

impl Fleet {
    pub fn start(store: Store, replicas: usize) -> Fleet {
        Fleet::start_gateway(Gateway::new(store), replicas)
    }

    /// Starts `replicas` sidecars of `gw` on TCP (as on separate hosts), then its Envoy.
    fn start_gateway(mut gw: Gateway, replicas: usize) -> Fleet {
        let ports: Vec<u16> = (0..replicas).map(|_| free_port()).collect();
        gw.sidecar_at = Sidecar::Tcp(ports[0]);
        let list: Vec<String> = ports.iter().map(u16::to_string).collect();
        gw.render_env.push(("DATAGATE_SIDECAR_PORT".to_owned(), list.join(",")));
        let mut fleet = Fleet { gw, ports, sidecars: (0..replicas).map(|_| None).collect() };
        for i in 0..replicas {
            fleet.start_replica(i);
        }
        fleet.gw.start_envoy();
        fleet
    }

    /// Starts replica `i` (its log is `sidecar-<i>.log`) and waits until it listens.
    pub fn start_replica(&mut self, i: usize) {
        let log_path = self.gw.dir.path().join(format!("sidecar-{i}.log"));
        let log = std::fs::File::options().create(true).append(true).open(log_path).unwrap();
        let port = self.ports[i];
        let mut cmd = Command::new(datagate_bin());
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--store", &self.gw.store_url]);
        cmd.args(["--admin-listen", "off"]).envs(self.gw.sidecar_env.iter().map(|(k, v)| (k, v)));
        let path = self.gw.dir.path().join("sidecar.json");
        std::fs::write(&path, with_body_limit(self.gw.sidecar_config.as_deref())).unwrap();
        cmd.arg("--config").arg(path);
        let child = cmd.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap();
        self.sidecars[i] = Some(child);
        wait_for("sidecar", Duration::from_secs(20), || TcpStream::connect(("127.0.0.1", port)).is_ok());
    }

    /// SIGKILLs replica `i`.
    pub fn kill_replica(&mut self, i: usize) {
        if let Some(mut c) = self.sidecars[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERMs replica `i` and waits (bounded) for it to exit; returns its exit status.
    pub fn terminate_replica(&mut self, i: usize, timeout: Duration) -> std::process::ExitStatus {
        terminate(self.sidecars[i].take().expect("replica is running"), timeout, &format!("replica {i}"))
    }

    /// Drops the fleet's PostgreSQL database under the running replicas: their store becomes unreachable.
    pub fn drop_database(&mut self) {
        let db = self.gw.pg_db.take().expect("a PostgreSQL fleet");
        pg_admin(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
    }

    /// Envoy's health flags for replica `i` (`healthy`, `/failed_active_hc`, `/failed_outlier_check`, ...).
    pub fn health_flags(&self, i: usize) -> String {
        let clusters = self.gw.http.get(format!("{}/clusters", self.gw.admin)).send().unwrap().text().unwrap();
        let key = format!("datagate_ext_proc::127.0.0.1:{}::health_flags::", self.ports[i]);
        clusters.lines().find_map(|l| l.strip_prefix(&key)).unwrap_or("").to_owned()
    }

    /// Waits (bounded) until `in_rotation(health_flags(i))` holds; returns how long it took.
    pub fn wait_for_flags(&self, i: usize, timeout: Duration, want: impl Fn(&str) -> bool) -> Duration {
        let start = Instant::now();
        wait_for("health flags", timeout, || want(&self.health_flags(i)));
        start.elapsed()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for child in self.sidecars.iter_mut().filter_map(Option::take) {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            for i in 0..self.ports.len() {
                let text =
                    std::fs::read_to_string(self.gw.dir.path().join(format!("sidecar-{i}.log"))).unwrap_or_default();
                eprintln!("===== sidecar-{i}.log =====\n{text}");
            }
        }
    }
}

impl Fleet {
    /// [`Fleet::start`] whose replicas read `json` as their configuration.
    pub fn start_with_sidecar_config(store: Store, replicas: usize, json: &str) -> Fleet {
        let mut gw = Gateway::new(store);
        gw.sidecar_config = Some(json.to_owned());
        Fleet::start_gateway(gw, replicas)
    }
}
