//! The backend's side of the inference service: one connection per backend, one request at a
//! time, a wait that wakes every few milliseconds so that the caller can check for interrupts.

use super::{parse_frame, write_frame, Request, Response};
use std::io::{ErrorKind, Read};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// How often a waiting caller gets control back (its `between` callback).
pub const POLL: Duration = Duration::from_millis(5);

/// Why a call got no answer.
#[derive(Debug)]
pub enum CallError {
    /// The connection broke (the service exited or restarted): the request may be retried.
    Gone(std::io::Error),
    /// The service sent something that is not a response.
    Protocol(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Gone(e) => write!(f, "connection lost: {e}"),
            CallError::Protocol(m) => write!(f, "protocol error: {m}"),
        }
    }
}

/// A connection to the service.
pub struct Client {
    stream: UnixStream,
    buf: Vec<u8>,
}

impl Client {
    /// Connect to the socket at `path` (relative paths are relative to the working directory,
    /// which for a backend is the data directory: no 108-byte socket path limit).
    pub fn connect(path: &Path) -> std::io::Result<Self> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(POLL))?;
        Ok(Client { stream, buf: Vec::new() })
    }

    /// Send `req` (+ payload) and wait for the response, calling `between` about every
    /// [`POLL`] while waiting (a caller that is cancelled unwinds out of it and drops the client:
    /// the closed connection tells the service to drop the request's work).
    pub fn call(&mut self, req: &Request, payload: &[u8], between: &mut dyn FnMut()) -> Result<(Response, Vec<u8>), CallError> {
        self.buf.clear();
        write_frame(&mut self.stream, req, payload).map_err(CallError::Gone)?;
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match parse_frame(&self.buf) {
                Ok(Some((h, p, used))) => {
                    let resp: Response = serde_json::from_slice(h).map_err(|e| CallError::Protocol(e.to_string()))?;
                    let payload = p.to_vec();
                    self.buf.drain(..used);
                    return Ok((resp, payload));
                }
                Ok(None) => {}
                Err(e) => return Err(CallError::Protocol(e.to_string())),
            }
            between();
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(CallError::Gone(std::io::Error::new(ErrorKind::UnexpectedEof, "the service closed the connection"))),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
                Err(e) => return Err(CallError::Gone(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{read_frame, Op};
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn waits_with_callbacks_and_reports_a_lost_service() {
        let dir = std::env::temp_dir().join(format!("songmatch-client-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("s.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        // how many times the caller got control while waiting (the server answers once it has
        // five times, or after 10 s: then the count below fails; no timing to be flaky about)
        let got = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = got.clone();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            // first request: answer once the caller has waited five times
            let (h, _) = read_frame(&mut s).unwrap().unwrap();
            let req: Request = serde_json::from_slice(&h).unwrap();
            let until = std::time::Instant::now() + Duration::from_secs(10);
            while seen.load(std::sync::atomic::Ordering::SeqCst) < 5 && std::time::Instant::now() < until {
                std::thread::sleep(Duration::from_millis(2));
            }
            let mut r = Response::matrix(1, 2);
            r.ids = vec![req.texts.len() as i64];
            write_frame(&mut s, &r, &super::super::f32_bytes(&[vec![0.5, 1.5]])).unwrap();
            // second request: hang up without answering
            let _ = read_frame(&mut s).unwrap();
        });
        let mut c = Client::connect(&path).unwrap();
        let mut req = Request::new(Op::Embed);
        req.texts = vec!["x".into(), "y".into()];
        let mut ticks = 0;
        let (resp, payload) = c
            .call(&req, &[], &mut || {
                ticks += 1;
                got.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            })
            .unwrap();
        assert!(resp.ok);
        assert_eq!(resp.ids, vec![2]);
        assert_eq!(super::super::f32_rows(&payload, 1, 2).unwrap(), vec![vec![0.5, 1.5]]);
        assert!(ticks >= 5, "the caller got control while waiting ({ticks} times)");
        let err = c.call(&req, &[], &mut || {}).unwrap_err();
        assert!(matches!(err, CallError::Gone(_)), "{err}");
        server.join().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
