//! A TCP proxy in front of PostgreSQL that counts the statements and round
//! trips authd sends, by reading the frontend messages of the wire protocol.
//!
//! A simple query (`Q`) counts as one statement and one round trip; in the
//! extended protocol each `Execute` (`E`) is a statement and each `Sync`
//! (`S`) a round trip. The proxy answers libpq's TLS (and GSSAPI) request
//! with "no" itself, so it sees the messages in the clear: give authd a URL
//! with `sslmode=disable` or `prefer` through it.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The request codes of a startup-phase message that asks for encryption.
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;

/// Statements, round trips and connections seen so far.
#[derive(Default, Debug)]
pub struct Counts {
    statements: AtomicU64,
    round_trips: AtomicU64,
    connections: AtomicU64,
}

/// A reading of [`Counts`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Reading {
    /// `Q` and `E` messages.
    pub statements: u64,
    /// `Q` and `S` messages.
    pub round_trips: u64,
    /// Connections opened through the proxy.
    pub connections: u64,
}

impl Counts {
    /// The counts now.
    pub fn read(&self) -> Reading {
        Reading {
            statements: self.statements.load(Ordering::Relaxed),
            round_trips: self.round_trips.load(Ordering::Relaxed),
            connections: self.connections.load(Ordering::Relaxed),
        }
    }
}

/// Listens on a free port of 127.0.0.1 and forwards every connection to
/// `upstream`, counting; runs on its own threads until the process ends.
pub fn start_proxy(upstream: SocketAddr) -> io::Result<(SocketAddr, Arc<Counts>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let counts = Arc::new(Counts::default());
    let shared = Arc::clone(&counts);
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let counts = Arc::clone(&shared);
            std::thread::spawn(move || {
                if let Err(e) = relay(client, upstream, &counts) {
                    if e.kind() != io::ErrorKind::UnexpectedEof {
                        eprintln!("bench: proxy connection: {e}");
                    }
                }
            });
        }
    });
    Ok((addr, counts))
}

/// One connection: the server's bytes copied back as they are, the client's
/// read message by message and counted.
fn relay(mut client: TcpStream, upstream: SocketAddr, counts: &Counts) -> io::Result<()> {
    let mut server = TcpStream::connect(upstream)?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    // Startup phase: a length, a request code, the rest; no type byte.
    loop {
        let length = read_u32(&mut client)?;
        let body_length = usize::try_from(length.saturating_sub(4)).unwrap_or(0);
        let mut body = vec![0; body_length];
        client.read_exact(&mut body)?;
        let code = body
            .get(..4)
            .map_or(0, |c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
        if code == SSL_REQUEST || code == GSSENC_REQUEST {
            client.write_all(b"N")?;
            continue;
        }
        server.write_all(&length.to_be_bytes())?;
        server.write_all(&body)?;
        break;
    }
    counts.connections.fetch_add(1, Ordering::Relaxed);
    let (mut from_server, mut to_client) = (server.try_clone()?, client.try_clone()?);
    let back = std::thread::spawn(move || {
        let _ = io::copy(&mut from_server, &mut to_client);
        let _ = to_client.shutdown(Shutdown::Both);
    });
    // Typed messages: a type byte, a length that counts itself, the body.
    let result = loop {
        let mut kind = [0u8; 1];
        if let Err(e) = client.read_exact(&mut kind) {
            break Err(e);
        }
        let length = match read_u32(&mut client) {
            Ok(length) => length,
            Err(e) => break Err(e),
        };
        match kind[0] {
            b'Q' => {
                counts.statements.fetch_add(1, Ordering::Relaxed);
                counts.round_trips.fetch_add(1, Ordering::Relaxed);
            }
            b'E' => {
                counts.statements.fetch_add(1, Ordering::Relaxed);
            }
            b'S' => {
                counts.round_trips.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        let mut body = vec![0; usize::try_from(length.saturating_sub(4)).unwrap_or(0)];
        let forwarded = client
            .read_exact(&mut body)
            .and_then(|()| server.write_all(&kind))
            .and_then(|()| server.write_all(&length.to_be_bytes()))
            .and_then(|()| server.write_all(&body));
        if let Err(e) = forwarded {
            break Err(e);
        }
        if kind[0] == b'X' {
            break Ok(());
        }
    };
    let _ = server.shutdown(Shutdown::Both);
    let _ = back.join();
    result
}

fn read_u32(stream: &mut TcpStream) -> io::Result<u32> {
    let mut bytes = [0u8; 4];
    stream.read_exact(&mut bytes)?;
    Ok(u32::from_be_bytes(bytes))
}
