//! An in-process SMTP sink: a test-double SMTP *server* on 127.0.0.1 that speaks real SMTP over
//! TCP (EHLO/HELO, AUTH PLAIN and LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no TLS) and keeps
//! every message it accepts, parsed on demand with `mail-parser`. A misbehaving client only
//! loses its own connection; it never takes the listener down.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use mail_parser::{Message, MessageParser, PartType};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::{JoinHandle, JoinSet};

/// One message accepted by the sink.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent, dot-stuffing undone, lines ending with CRLF.
    pub raw: Vec<u8>,
    /// (user, password) if the connection authenticated.
    pub auth: Option<(String, String)>,
}

#[derive(Default)]
struct Shared {
    messages: Mutex<Vec<Received>>,
    arrived: Notify,
}

/// A running sink; dropping it also stops it (in the background), `stop` waits for that.
pub struct SmtpSink {
    port: u16,
    shared: Arc<Shared>,
    shutdown: watch::Sender<()>,
    task: JoinHandle<()>,
}

impl SmtpSink {
    /// Listen on 127.0.0.1:0.
    pub async fn start() -> SmtpSink {
        Self::start_on(0).await
    }

    /// Listen on a given port (to restart on the same port after `stop()`).
    pub async fn start_on(port: u16) -> SmtpSink {
        // tokio sets SO_REUSEADDR: connections left in TIME_WAIT don't block a restart.
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let (shutdown, mut stopped) = watch::channel(());
        let sh = shared.clone();
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    // Fires on `send` and when the sender is dropped with the sink.
                    _ = stopped.changed() => break,
                    accepted = listener.accept() => {
                        if let Ok((stream, _)) = accepted {
                            let sh = sh.clone();
                            conns.spawn(async move { let _ = session(stream, &sh).await; });
                        }
                    }
                }
                while conns.try_join_next().is_some() {}
            }
            drop(listener);
            conns.shutdown().await;
        });
        SmtpSink {
            port,
            shared,
            shutdown,
            task,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `smtp://user:pass@127.0.0.1:{port}?tls=none` (any credentials are accepted).
    pub fn url(&self) -> String {
        format!("smtp://user:pass@127.0.0.1:{}?tls=none", self.port)
    }

    /// Stop listening and drop open connections; connecting then fails with ECONNREFUSED.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }

    /// Messages received so far.
    pub fn messages(&self) -> Vec<Received> {
        self.shared.messages.lock().unwrap().clone()
    }

    /// Wait until at least `n` messages arrived; panics after 30 s (a generous deadline for a
    /// background sender, not a timed assertion).
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let notified = self.shared.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable(); // registered before the check: no lost wake-up
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("SMTP sink: {} of {n} message(s) after 30 s", messages.len());
            }
        }
    }
}

type Conn = BufReader<TcpStream>;

const EHLO: &str = "250-127.0.0.1\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n\
                    250 PIPELINING\r\n";

/// One SMTP connection; any I/O error or EOF just ends it.
async fn session(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    let mut conn = BufReader::new(stream);
    let mut auth: Option<(String, String)> = None;
    let (mut from, mut to): (Option<String>, Vec<String>) = (None, Vec::new());
    reply(&mut conn, "220 127.0.0.1 ESMTP smtp-sink\r\n").await?;
    loop {
        let line = read_line(&mut conn).await?;
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end();
        let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
        let (verb, arg) = (verb.to_ascii_uppercase(), arg.trim());
        let answer = match verb.as_str() {
            "EHLO" | "HELO" | "RSET" => {
                (from, to) = (None, Vec::new());
                match verb.as_str() {
                    "EHLO" => EHLO,
                    "HELO" => "250 127.0.0.1\r\n",
                    _ => "250 2.0.0 OK\r\n",
                }
            }
            "AUTH" => match sasl(&mut conn, arg).await? {
                Ok(creds) => {
                    auth = Some(creds);
                    "235 2.7.0 Authentication successful\r\n"
                }
                Err(answer) => answer,
            },
            "MAIL" => match path_arg(arg, "FROM:") {
                Some(addr) => {
                    (from, to) = (Some(addr), Vec::new());
                    "250 2.1.0 OK\r\n"
                }
                None => "501 5.5.4 Syntax: MAIL FROM:<address>\r\n",
            },
            "RCPT" if from.is_none() => "503 5.5.1 MAIL first\r\n",
            "RCPT" => match path_arg(arg, "TO:") {
                Some(addr) => {
                    to.push(addr);
                    "250 2.1.5 OK\r\n"
                }
                None => "501 5.5.4 Syntax: RCPT TO:<address>\r\n",
            },
            "DATA" if from.is_none() || to.is_empty() => "503 5.5.1 MAIL and RCPT first\r\n",
            "DATA" => {
                reply(&mut conn, "354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                let mut raw = Vec::new();
                loop {
                    let line = read_line(&mut conn).await?;
                    if line == b".\r\n" || line == b".\n" {
                        break;
                    }
                    raw.extend_from_slice(line.strip_prefix(b".").unwrap_or(&line));
                }
                let (from, to) = (from.take().unwrap_or_default(), std::mem::take(&mut to));
                let received = Received {
                    from,
                    to,
                    raw,
                    auth: auth.clone(),
                };
                shared.messages.lock().unwrap().push(received);
                shared.arrived.notify_waiters();
                "250 2.0.0 OK: queued\r\n"
            }
            "NOOP" => "250 2.0.0 OK\r\n",
            "QUIT" => return reply(&mut conn, "221 2.0.0 Bye\r\n").await,
            _ => "502 5.5.1 Command not implemented\r\n",
        };
        reply(&mut conn, answer).await?;
    }
}

/// AUTH PLAIN or LOGIN, initial response inline or after a 334 challenge: the credentials, or
/// the error reply to send.
async fn sasl(conn: &mut Conn, arg: &str) -> io::Result<Result<(String, String), &'static str>> {
    let (mech, initial) = arg.split_once(' ').unwrap_or((arg, ""));
    let mech = mech.to_ascii_uppercase();
    if mech != "PLAIN" && mech != "LOGIN" {
        return Ok(Err("504 5.5.4 Unrecognized authentication type\r\n"));
    }
    let first = match initial {
        "" if mech == "PLAIN" => prompt(conn, "334 \r\n").await?,
        "" => prompt(conn, "334 VXNlcm5hbWU6\r\n").await?,
        _ => initial.to_string(),
    };
    let creds = if mech == "PLAIN" {
        // authzid NUL authcid NUL passwd
        b64(&first).and_then(|plain| {
            let mut it = plain.split('\0').skip(1);
            Some((it.next()?.to_string(), it.next()?.to_string()))
        })
    } else {
        let pass = prompt(conn, "334 UGFzc3dvcmQ6\r\n").await?;
        b64(&first).zip(b64(&pass))
    };
    Ok(creds.ok_or("501 5.5.2 Cannot decode response\r\n"))
}

/// Reads one line including its terminator; EOF is an error (ends the session).
async fn read_line(conn: &mut Conn) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    if conn.read_until(b'\n', &mut line).await? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(line)
}

async fn reply(conn: &mut Conn, text: &str) -> io::Result<()> {
    conn.get_mut().write_all(text.as_bytes()).await
}

/// Sends a 334 challenge and returns the client's (trimmed) answer.
async fn prompt(conn: &mut Conn, challenge: &str) -> io::Result<String> {
    reply(conn, challenge).await?;
    let line = read_line(conn).await?;
    Ok(String::from_utf8_lossy(&line).trim().to_string())
}

/// Decodes a base64 SASL response (`=` is the empty response); None on bad input or `*` (cancel).
fn b64(s: &str) -> Option<String> {
    let s = if s == "=" { "" } else { s };
    String::from_utf8(B64.decode(s).ok()?).ok()
}

/// `FROM:<a@b> BODY=8BITMIME` -> `a@b` (also without the angle brackets; `<>` gives "").
fn path_arg(arg: &str, keyword: &str) -> Option<String> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    match rest.strip_prefix('<') {
        Some(inner) => Some(inner.split_once('>')?.0.to_string()),
        None => rest.split_whitespace().next().map(str::to_string),
    }
}

impl Received {
    fn parsed(&self) -> Message<'_> {
        MessageParser::default()
            .parse(&self.raw)
            .expect("SMTP sink: unparsable message")
    }

    /// The decoded Subject ("" if there is none).
    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_string()
    }

    /// The decoded text/plain body part; panics if the message has none.
    pub fn text(&self) -> String {
        let msg = self.body(false);
        msg.unwrap_or_else(|| panic!("SMTP sink: no text/plain part in:\n{}", self.raw_str()))
    }

    /// The decoded text/html body part, if the message has one.
    pub fn html(&self) -> Option<String> {
        self.body(true)
    }

    /// The first inline body part of that type (mail-parser would convert the other one).
    fn body(&self, html: bool) -> Option<String> {
        let msg = self.parsed();
        let ids = if html { &msg.html_body } else { &msg.text_body };
        let mut bodies = ids
            .iter()
            .filter_map(|&id| Some(&msg.parts.get(id as usize)?.body));
        bodies.find_map(|body| match (body, html) {
            (PartType::Text(t), false) | (PartType::Html(t), true) => Some(t.to_string()),
            _ => None,
        })
    }

    /// A top-level header's value as sent (unfolded, trimmed, not decoded), e.g. `Message-ID`.
    pub fn header(&self, name: &str) -> Option<String> {
        let msg = self.parsed();
        let raw = msg.header_raw(name)?;
        Some(raw.replace("\r\n", "").replace('\n', "").trim().to_string())
    }

    /// The first URL in the text part that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> Option<String> {
        let text = self.text();
        let start = text.find(prefix)?;
        let url = text[start..]
            .split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\''))
            .next()?
            .trim_end_matches(['.', ',', ';', ':', '!', '?', ')']);
        Some(url.to_string())
    }

    /// The raw message as (lossy) UTF-8, for failure messages.
    pub fn raw_str(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }
}
