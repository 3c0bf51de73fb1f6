//! Readiness probes that need no client library: a TCP connect and a
//! plain HTTP/1.0 request.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Whether something accepts connections at `addr` within `timeout`.
pub fn accepts(addr: SocketAddr, timeout: Duration) -> bool {
    TcpStream::connect_timeout(&addr, timeout).is_ok()
}

/// The body of `GET path` at `addr` if the answer is 200 OK (`method`
/// POST sends `body` as JSON, for APIs such as etcd's gateway).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    timeout: Duration,
) -> Option<String> {
    http_response(addr, method, path, body, timeout)
        .filter(|(status, _)| *status == 200)
        .map(|(_, body)| body)
}

/// [`http`]'s request, answered with its status and body whatever the status (an API's 400
/// says what was wrong in its body); `None` if nothing answered in `timeout`.
pub fn http_response(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    timeout: Duration,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head
        .lines()
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((status, body.to_string()))
}
