//! Backend reachability: one HTTP request, its latency, and whether it went over TLS.

use std::time::{Duration, Instant};
use vigil_core::facts::BackendFacts;

/// Sends one GET to `url` (any HTTP answer means reachable) with a 5 s timeout.
pub fn probe_backend(url: &str) -> BackendFacts {
    let mut facts = BackendFacts { url: url.to_owned(), ..Default::default() };
    let parsed = match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        Ok(u) => {
            facts.error = Some(format!("unsupported scheme `{}`: use http:// or https://", u.scheme()));
            return facts;
        }
        Err(e) => {
            facts.error = Some(format!("not a URL: {e}"));
            return facts;
        }
    };
    facts.loopback = vigil_core::is_loopback(&parsed);
    let client = match reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("vigil/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            facts.error = Some(e.to_string());
            return facts;
        }
    };
    let start = Instant::now();
    match client.get(parsed.clone()).send() {
        Ok(resp) => {
            facts.latency_ms = Some(start.elapsed().as_secs_f64() * 1000.0);
            facts.status = Some(resp.status().as_u16());
            facts.reachable = true;
            facts.tls = parsed.scheme() == "https";
        }
        Err(e) => facts.error = Some(vigil_core::error_chain(&e)),
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    #[test]
    fn reachable_loopback_server() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            s.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
        });
        let f = probe_backend(&format!("http://127.0.0.1:{port}/"));
        server.join().unwrap();
        assert!(f.reachable, "{:?}", f.error);
        assert_eq!(f.status, Some(204));
        assert!(f.loopback && !f.tls);
        assert!(f.latency_ms.unwrap() > 0.0);
    }

    #[test]
    fn closed_port_and_bad_urls() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let f = probe_backend(&format!("http://127.0.0.1:{port}/"));
        assert!(!f.reachable);
        assert!(f.error.as_deref().unwrap_or("").to_lowercase().contains("connect"), "{:?}", f.error);
        assert!(probe_backend("ftp://example.org").error.unwrap().contains("scheme"));
        assert!(probe_backend("not a url").error.unwrap().contains("not a URL"));
    }
}
