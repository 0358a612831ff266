//! The soak's HTTP traffic across the veth: a keep-alive server in namespace B, paced clients in
//! namespace A (where the Whisperer captures), each thread entering its namespace first.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

const CLIENTS: u32 = 8;
const PORT: u16 = 8080;

/// Counters of the running traffic; `stop` ends it.
#[derive(Debug)]
pub struct Traffic {
    pub stop: Arc<AtomicBool>,
    pub requests: Arc<AtomicU64>,
    pub errors: Arc<AtomicU64>,
}

/// Moves the calling thread into the network namespace `ns`.
fn enter(ns: &str) -> std::io::Result<()> {
    let file = std::fs::File::open(spider_capture::netns::named_path(ns))?;
    // SAFETY: setns on a valid namespace descriptor changes only this thread's namespace.
    let result = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if result != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl Traffic {
    pub fn start(net: &spider_capture::testnet::VethPair, rps: f64) -> anyhow::Result<Self> {
        let traffic = Self {
            stop: Arc::new(AtomicBool::new(false)),
            requests: Arc::new(AtomicU64::new(0)),
            errors: Arc::new(AtomicU64::new(0)),
        };
        let server_addr = net.addr_b(PORT);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let ns_b = net.ns_b.clone();
        std::thread::Builder::new()
            .name("soak-server".into())
            .spawn(move || {
                let listener = enter(&ns_b).and_then(|()| TcpListener::bind(server_addr));
                match listener {
                    Ok(listener) => {
                        let _ = ready_tx.send(Ok(()));
                        for stream in listener.incoming().flatten() {
                            std::thread::spawn(move || serve(stream));
                        }
                    }
                    Err(error) => {
                        let _ = ready_tx.send(Err(error));
                    }
                }
            })?;
        ready_rx
            .recv()
            .context("the server thread ended")?
            .context("the HTTP server cannot listen")?;
        let interval = Duration::from_secs_f64(f64::from(CLIENTS) / rps.max(0.001));
        for client in 0..CLIENTS {
            let ns_a = net.ns_a.clone();
            let (stop, requests, errors) = (
                traffic.stop.clone(),
                traffic.requests.clone(),
                traffic.errors.clone(),
            );
            std::thread::Builder::new()
                .name(format!("soak-client-{client}"))
                .spawn(move || {
                    if enter(&ns_a).is_err() {
                        errors.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    run_client(client, server_addr, interval, &stop, &requests, &errors);
                })?;
        }
        Ok(traffic)
    }
}

/// Answers keep-alive requests with a small body until the client closes.
fn serve(stream: TcpStream) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let body = "x".repeat(240);
    let mut line = String::new();
    loop {
        // The request head: lines until an empty one.
        let mut target = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if target.is_empty() {
                target = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
            }
            if line == "\r\n" {
                break;
            }
        }
        let status = if target.contains("missing") {
            "404 Not Found"
        } else {
            "200 OK"
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn run_client(
    client: u32,
    server: SocketAddr,
    interval: Duration,
    stop: &AtomicBool,
    requests: &AtomicU64,
    errors: &AtomicU64,
) {
    let mut due = Instant::now();
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let Ok(stream) = TcpStream::connect_timeout(&server, Duration::from_secs(5)) else {
            errors.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let Ok(mut writer) = stream.try_clone() else {
            continue;
        };
        let mut reader = BufReader::new(stream);
        // A connection serves 100 requests, then a new one is made (sessions open and close).
        for _ in 0..100 {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            due += interval;
            n += 1;
            let path = if n.is_multiple_of(50) {
                "missing"
            } else {
                "item"
            };
            let request = format!(
                "GET /soak/{path}/{client}?n={n} HTTP/1.1\r\nHost: soak.test\r\nUser-Agent: spider-soak\r\n\r\n"
            );
            if writer.write_all(request.as_bytes()).is_err() || !read_response(&mut reader) {
                errors.fetch_add(1, Ordering::Relaxed);
                break;
            }
            requests.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Reads one response (head, then Content-Length bytes); false on any error.
fn read_response(reader: &mut BufReader<TcpStream>) -> bool {
    let mut length = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
        if let Some(value) = line
            .to_ascii_lowercase()
            .strip_prefix("content-length:")
            .map(|v| v.trim().to_owned())
        {
            length = value.parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).is_ok()
}
