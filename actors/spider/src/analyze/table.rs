//! The `table` format: aligned columns per record kind, for people.

use std::io::{self, Write};

use spider_model::{HttpExchange, Record};

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";

struct Table {
    title: &'static str,
    header: Vec<&'static str>,
    rows: Vec<Vec<(String, Option<&'static str>)>>,
}

impl Table {
    fn new(title: &'static str, header: Vec<&'static str>) -> Self {
        Self {
            title,
            header,
            rows: Vec::new(),
        }
    }

    fn write(&self, out: &mut impl Write, colour: bool) -> io::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.len()).collect();
        for row in &self.rows {
            for (width, (cell, _)) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let (bold, reset) = if colour { (BOLD, RESET) } else { ("", "") };
        writeln!(out, "{bold}{} ({}){reset}", self.title, self.rows.len())?;
        let header: Vec<String> = self
            .header
            .iter()
            .zip(&widths)
            .map(|(h, w)| format!("{h:<w$}"))
            .collect();
        writeln!(out, "{bold}{}{reset}", header.join("  ").trim_end())?;
        for row in &self.rows {
            let mut line = String::new();
            for (i, ((cell, style), width)) in row.iter().zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = width.saturating_sub(cell.chars().count());
                match style.filter(|_| colour) {
                    Some(code) => line.push_str(&format!("{code}{cell}{RESET}")),
                    None => line.push_str(cell),
                }
                line.extend(std::iter::repeat_n(' ', pad));
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        writeln!(out)
    }
}

fn time(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000) / 1_000;
    let day = secs.rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}.{frac:06}",
        day / 3600,
        day / 60 % 60,
        day % 60
    )
}

fn millis(nanos: Option<i64>) -> String {
    nanos.map_or_else(|| "-".to_owned(), |ns| format!("{:.1}ms", ns as f64 / 1e6))
}

fn status_style(exchange: &HttpExchange) -> &'static str {
    match exchange.status {
        None => "\x1b[35m",
        Some(200..=299) => "\x1b[32m",
        Some(300..=399) => "\x1b[36m",
        Some(400..=499) => "\x1b[33m",
        Some(_) => "\x1b[31m",
    }
}

fn plain(text: impl Into<String>) -> (String, Option<&'static str>) {
    (text.into(), None)
}

/// Writes one table per record kind present in `records`.
pub fn write(out: &mut impl Write, records: &[Record], colour: bool) -> io::Result<()> {
    let mut http = Table::new(
        "HTTP exchanges",
        vec![
            "TIME", "CLIENT", "SERVER", "METHOD", "HOST", "URI", "STATUS", "DURATION", "STATE",
        ],
    );
    let mut sessions = Table::new(
        "TCP sessions",
        vec![
            "ID", "CLIENT", "SERVER", "STATE", "PACKETS", "BYTES", "RETRANS", "LOST", "RTT",
        ],
    );
    let mut dns = Table::new("DNS", vec!["TIME", "NAME", "TYPE", "RCODE", "ANSWERS"]);
    let mut hosts = Table::new("Hosts", vec!["IP", "NAME", "SOURCE"]);
    for record in records {
        match record {
            Record::Http(x) => http.rows.push(vec![
                plain(time(x.timing.request_start)),
                plain(x.client.to_string()),
                plain(x.server.to_string()),
                plain(x.method.clone()),
                plain(x.host.clone().unwrap_or_else(|| "-".into())),
                plain(truncate(&x.uri, 80)),
                (
                    x.status.map_or_else(|| "-".into(), |s| s.to_string()),
                    Some(status_style(x)),
                ),
                plain(millis(x.duration_ns())),
                plain(format!("{:?}", x.state).to_lowercase()),
            ]),
            Record::TcpSession(s) => sessions.rows.push(vec![
                plain(s.id.to_string()),
                plain(s.client.to_string()),
                plain(s.server.to_string()),
                plain(format!("{:?}", s.state).to_lowercase()),
                plain(format!(
                    "{}/{}",
                    s.client_to_server.packets, s.server_to_client.packets
                )),
                plain(format!(
                    "{}/{}",
                    s.client_to_server.bytes, s.server_to_client.bytes
                )),
                plain(format!(
                    "{}/{}",
                    s.client_to_server.retransmissions, s.server_to_client.retransmissions
                )),
                plain(format!(
                    "{}/{}",
                    s.client_to_server.lost_bytes, s.server_to_client.lost_bytes
                )),
                plain(millis(s.handshake_rtt_ns)),
            ]),
            Record::Dns(d) => dns.rows.push(vec![
                plain(time(d.time)),
                plain(d.name.clone()),
                plain(d.query_type.clone()),
                plain(d.rcode.clone()),
                plain(
                    d.answers
                        .iter()
                        .map(|a| a.data.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
            ]),
            Record::Host(h) => hosts.rows.push(vec![
                plain(h.ip.to_string()),
                plain(h.name.clone()),
                plain(format!("{:?}", h.source).to_lowercase()),
            ]),
        }
    }
    for table in [&http, &sessions, &dns, &hosts] {
        table.write(out, colour)?;
    }
    Ok(())
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

/// The non-zero counters of a run, one per line, for stderr.
pub fn stats_text(stats: &serde_json::Value) -> String {
    let mut text = String::from("counters:");
    if let Some(map) = stats.as_object() {
        for (name, value) in map {
            if value.as_u64().is_some_and(|v| v > 0) {
                text.push_str(&format!(" {name}={value}"));
            }
        }
    }
    text.push('\n');
    text
}
