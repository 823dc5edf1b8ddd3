//! Serves the application over HTTP/1.1 with hyper directly, in place of `axum::serve`, for
//! two things `axum::serve` does not allow: setting the limits of a request head, and
//! answering a head that breaks them with the JSON error body every other refusal has.
//!
//! hyper parses the head before any of our code runs. When it is too large (more than
//! `limits::HTTP_HEADERS_MAX` header fields, more than `limits::HTTP_HEAD_MAX_BYTES` in all,
//! or a request target over 64 KiB) or not HTTP at all, hyper writes a response itself: the
//! status line, `connection: close`, `content-length: 0` and `date`, nothing else, and
//! closes. hyper has no hook for that answer, so [`JsonHeadErrors`] sits between hyper and the
//! socket and replaces exactly that shape of response (status 400, 414 or 431, those three
//! headers only; every response of the application also carries the security headers, so
//! none can match) with the same status and a JSON body. The connection closes right after,
//! as before, so nothing that follows depends on the new length.
//!
//! Shorter request targets that are still over `limits::HTTP_URI_MAX_BYTES` reach the
//! router, whose first layer answers 414 with the exact sizes (`super::head_limits`).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;

use super::ErrorCode;
use tower::ServiceExt;
use tracing::debug;

use crate::limits::{HTTP_HEAD_MAX_BYTES, HTTP_HEADERS_MAX, HTTP_URI_MAX_BYTES};

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets open
/// connections finish their current request (graceful shutdown) and returns once all are
/// closed. Each request carries `ConnectInfo<SocketAddr>` as with `axum::serve`. Errors of
/// `accept` are handled by the [`axum::serve::Listener`] (it logs them and retries).
pub async fn serve<L>(
    mut listener: L,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send,
) where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    // Dropping `stop_tx` tells every connection to shut down gracefully; each holds a clone
    // of `done_rx` until it is closed, so `done_tx.closed()` waits for the last one.
    let (stop_tx, stop_rx) = watch::channel(());
    let (done_tx, done_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, addr) = tokio::select! {
            conn = listener.accept() => conn,
            _ = &mut shutdown => break,
        };
        let svc = app
            .clone()
            .map_request(move |req: http::Request<Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut().insert(ConnectInfo(addr));
                req
            });
        let mut stop_rx = stop_rx.clone();
        let done_rx = done_rx.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .max_buf_size(HTTP_HEAD_MAX_BYTES)
                .max_headers(HTTP_HEADERS_MAX);
            let io = TokioIo::new(JsonHeadErrors::new(io));
            let conn = builder
                .serve_connection(io, TowerToHyperService::new(svc))
                .with_upgrades();
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        debug!(%addr, "connection: {e}");
                    }
                }
                _ = stop_rx.changed() => {
                    conn.as_mut().graceful_shutdown();
                    if let Err(e) = conn.await {
                        debug!(%addr, "connection: {e}");
                    }
                }
            }
            drop(done_rx);
        });
    }
    drop(stop_tx);
    drop(done_rx);
    done_tx.closed().await;
}

/// The JSON answer replacing hyper's own bodiless answer to a head it cannot parse, or
/// `None` when `buf` is anything else. See the module documentation for the shape matched.
fn json_for_parse_error(buf: &[u8]) -> Option<Vec<u8>> {
    let head = buf.strip_suffix(b"\r\n\r\n")?;
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status = status_line.strip_prefix("HTTP/1.1 ")?.get(..3)?;
    let (mut close, mut empty, mut date) = (false, false, None);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "connection" => close = value.eq_ignore_ascii_case("close"),
            "content-length" => empty = value == "0",
            "date" => date = Some(value),
            _ => return None,
        }
    }
    if !(close && empty) {
        return None;
    }
    let (code, message) = match status {
        "431" => (
            ErrorCode::HeadersTooLarge,
            format!(
                "the request head is too large: at most {HTTP_HEADERS_MAX} header fields and {HTTP_HEAD_MAX_BYTES} bytes for the request line and header fields together are accepted"
            ),
        ),
        "414" => (
            ErrorCode::UriTooLong,
            format!(
                "the request target is too long: at most {HTTP_URI_MAX_BYTES} bytes are accepted"
            ),
        ),
        "400" => (
            ErrorCode::BadRequest,
            "the request is not valid HTTP/1.1".to_owned(),
        ),
        _ => return None,
    };
    let body = serde_json::json!({"error": {"code": code, "message": message}}).to_string();
    let date = date.map(|d| format!("date: {d}\r\n")).unwrap_or_default();
    Some(
        format!(
            "{status_line}\r\ncontent-type: application/json\r\nx-content-type-options: nosniff\r\nconnection: close\r\ncontent-length: {}\r\n{date}\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// A connection's socket that turns hyper's bodiless parse-error answers into JSON ones
/// ([`json_for_parse_error`]); everything else passes through unchanged.
pub struct JsonHeadErrors<T> {
    inner: T,
    /// A replacement being written: its bytes, how many are written, and the length of the
    /// buffer it replaces (reported to hyper as written once the replacement is).
    pending: Option<(Vec<u8>, usize, usize)>,
}

impl<T> JsonHeadErrors<T> {
    pub fn new(inner: T) -> Self {
        JsonHeadErrors {
            inner,
            pending: None,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonHeadErrors<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonHeadErrors<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pending.is_none()
            && let Some(json) = json_for_parse_error(buf)
        {
            this.pending = Some((json, 0, buf.len()));
        }
        let Some((bytes, written, replaced)) = &mut this.pending else {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        while *written < bytes.len() {
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        let replaced = *replaced;
        this.pending = None;
        Poll::Ready(Ok(replaced))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let first = bufs.iter().find(|b| !b.is_empty());
        match first {
            Some(b) if self.pending.is_some() || json_for_parse_error(b).is_some() => {
                self.poll_write(cx, b)
            }
            _ => Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYPER_431: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 09:53:19 GMT\r\n\r\n";

    fn split(resp: &[u8]) -> (String, serde_json::Value) {
        let at = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        (
            String::from_utf8(resp[..at].to_vec()).unwrap(),
            serde_json::from_slice(&resp[at + 4..]).unwrap(),
        )
    }

    #[test]
    fn hyper_answers_become_json() {
        let (head, body) = split(&json_for_parse_error(HYPER_431).unwrap());
        assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(head.contains("connection: close"), "{head}");
        assert!(head.contains("date: Thu, 03 Dec 2026"), "{head}");
        assert_eq!(body["error"]["code"], "headers_too_large");
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(len, body.to_string().len());
        let r = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(
            split(&json_for_parse_error(r).unwrap()).1["error"]["code"],
            "uri_too_long"
        );
        let r = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(
            split(&json_for_parse_error(r).unwrap()).1["error"]["code"],
            "bad_request"
        );
    }

    #[test]
    fn everything_else_passes() {
        for other in [
            // an application response (more headers)
            &b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\nx-content-type-options: nosniff\r\n\r\n"[..],
            // keep-alive, or with a body
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{}",
            // another status
            b"HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            // body bytes, websocket frames, partial heads
            b"{\"error\":1}",
            b"\x81\x05hello",
            b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\n",
            b"",
        ] {
            assert!(
                json_for_parse_error(other).is_none(),
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[tokio::test]
    async fn replacement_survives_short_writes() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // a pipe that accepts at most 7 bytes per write
        let (a, mut b) = tokio::io::duplex(7);
        let mut w = JsonHeadErrors::new(a);
        let writer = tokio::spawn(async move {
            let n = w.write(HYPER_431).await.unwrap();
            assert_eq!(n, HYPER_431.len());
            w.write_all(b"").await.unwrap();
            w.shutdown().await.unwrap();
        });
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        assert_eq!(got, json_for_parse_error(HYPER_431).unwrap());
    }
}
