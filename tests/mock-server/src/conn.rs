//! One accepted connection, plain or TLS, behind one Read + Write type, so that the
//! request loop reads and writes the same way over both. A TLS stream cannot be split
//! like a TcpStream, so its handles share it; the loop never reads and writes at once.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::rc::Rc;
use std::sync::Arc;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

type TlsStream = StreamOwned<ServerConnection, TcpStream>;

/// The first byte of every TLS connection (a handshake record).
const TLS_HANDSHAKE: u8 = 0x16;

pub(crate) struct Conn {
    tcp: TcpStream,
    tls: Option<Rc<RefCell<TlsStream>>>,
}

impl Conn {
    /// TLS when the server has a certificate and the client opens with a TLS handshake;
    /// plain HTTP otherwise, so that the control API stays reachable without the CA.
    pub fn accept(tcp: TcpStream, tls: Option<&Arc<ServerConfig>>) -> io::Result<Conn> {
        let Some(config) = tls else {
            return Ok(Conn { tcp, tls: None });
        };
        let mut first = [0u8; 1];
        if tcp.peek(&mut first)? == 0 || first[0] != TLS_HANDSHAKE {
            return Ok(Conn { tcp, tls: None });
        }
        let session = ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
        let stream = StreamOwned::new(session, tcp.try_clone()?);
        Ok(Conn { tcp, tls: Some(Rc::new(RefCell::new(stream))) })
    }

    /// Another handle on the same connection (the writer beside the buffered reader).
    pub fn try_clone(&self) -> io::Result<Conn> {
        Ok(Conn { tcp: self.tcp.try_clone()?, tls: self.tls.clone() })
    }

    /// Shuts the socket down; over TLS, says close_notify first so that the client
    /// sees a clean end of the stream rather than a truncation attack.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        if let (Some(tls), true) = (&self.tls, how != Shutdown::Read) {
            if let Ok(mut tls) = tls.try_borrow_mut() {
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        }
        self.tcp.shutdown(how)
    }

    /// The socket underneath, to drain it before closing.
    pub fn into_tcp(self) -> TcpStream {
        self.tcp
    }
}

/// The shared TLS stream; the request loop never holds two borrows, so this only fails
/// on a bug, and then as an I/O error that closes the connection.
fn busy(tls: &RefCell<TlsStream>) -> io::Result<std::cell::RefMut<'_, TlsStream>> {
    tls.try_borrow_mut()
        .map_err(|_| io::Error::other("TLS stream already in use"))
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &self.tls {
            Some(tls) => busy(tls)?.read(buf),
            None => self.tcp.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &self.tls {
            Some(tls) => busy(tls)?.write(buf),
            None => self.tcp.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &self.tls {
            Some(tls) => busy(tls)?.flush(),
            None => self.tcp.flush(),
        }
    }
}
