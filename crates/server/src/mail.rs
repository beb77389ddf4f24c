//! Sending mail: a small SMTP client (RFC 5321) for the notices the
//! service writes. It speaks what a mail relay needs and nothing more:
//! implicit TLS (`smtps://`) or STARTTLS (`smtp://`, required, never
//! opportunistic), AUTH PLAIN or LOGIN only over TLS, one connection for
//! all of a mail's addresses, each addressed a message of its own.
//!
//! [`AppState::send_notice_mails`] sends what the service says is owed.
//!
//! The relay is the operator's own choice (`--smtp-url`), so the outbound
//! policy for addresses organizations give (webhooks, issuers) does not
//! apply to it.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rustls::pki_types::ServerName;
use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use url::Url;
use uuid::Uuid;

/// How long any one step of a conversation (connecting, a command and
/// its reply, the TLS handshake) may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest reply line accepted; RFC 5321 asks for 512 bytes.
const MAX_REPLY_LINE: u64 = 4096;

/// The most lines one reply may have.
const MAX_REPLY_LINES: usize = 64;

/// Where and how mail is sent, from whom.
#[derive(Clone)]
pub struct Mailer {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<(String, String)>,
    /// The `From:` header as given (`notices@example.com` or
    /// `Robot Accounts <notices@example.com>`).
    from_header: String,
    /// The bare address, for `MAIL FROM`.
    from_address: String,
    tls: Arc<rustls::ClientConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// TLS from the first byte (`smtps://`, port 465).
    Implicit,
    /// Plain text upgraded with STARTTLS before anything else is said
    /// (`smtp://`, port 587); a relay that does not offer it is refused.
    StartTls,
    /// Plain text throughout (`smtp://…?tls=none`): for a relay on the
    /// same host or a trusted network; no credentials are sent this way.
    None,
}

/// Why a mail was not sent.
#[derive(Debug)]
pub enum MailError {
    /// The relay could not be reached or answered with a temporary
    /// failure: worth trying again later.
    Transient(String),
    /// The relay refused for good (every address rejected, the message
    /// refused): trying again would be refused again.
    Permanent(String),
}

impl fmt::Display for MailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transient(why) | Self::Permanent(why) => f.write_str(why),
        }
    }
}

/// The password is never printed.
impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.credentials.as_ref().map(|(user, _)| user))
            .field("from", &self.from_header)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer for `--smtp-url` (`smtps://[USER:PASSWORD@]HOST[:PORT]`,
    /// `smtp://…` for STARTTLS, `smtp://HOST:PORT?tls=none` for plain text)
    /// sending as `--smtp-from`. Relays' certificates are checked against
    /// the system's roots, or only against `ca_file`'s when given.
    pub fn new(url: &str, from: &str, ca_file: Option<&Path>) -> Result<Self, String> {
        let parsed = Url::parse(url).map_err(|error| format!("--smtp-url: {error}"))?;
        let mut security = match parsed.scheme() {
            "smtps" => Security::Implicit,
            "smtp" => Security::StartTls,
            other => {
                return Err(format!(
                    "--smtp-url: unknown scheme {other:?}; use smtp:// (STARTTLS) or smtps://"
                ));
            }
        };
        for (key, value) in parsed.query_pairs() {
            match (&*key, &*value, security) {
                ("tls", "none", Security::StartTls) => security = Security::None,
                ("tls", "starttls", Security::StartTls) => {}
                _ => {
                    return Err(format!(
                        "--smtp-url: unknown option {key}={value}; the one option is tls=none (plain text, smtp:// only)"
                    ));
                }
            }
        }
        let host = match parsed.host() {
            Some(url::Host::Domain(name)) => name.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err("--smtp-url: no host".to_owned()),
        };
        let port = parsed.port().unwrap_or(match security {
            Security::Implicit => 465,
            Security::StartTls | Security::None => 587,
        });
        let credentials = if parsed.username().is_empty() {
            None
        } else {
            let decode = |raw: &str| percent_decode(raw).ok_or("--smtp-url: the user or password is not valid UTF-8");
            let user = decode(parsed.username())?;
            let password = decode(parsed.password().unwrap_or_default())?;
            Some((user, password))
        };
        if credentials.is_some() && security == Security::None {
            return Err(
                "--smtp-url: credentials are only sent over TLS; drop tls=none, or the user and password".into(),
            );
        }
        let (from_header, from_address) = parse_from(from)?;
        Ok(Self {
            host,
            port,
            security,
            credentials,
            from_header,
            from_address,
            tls: Arc::new(tls_config(ca_file)?),
        })
    }

    /// `HOST:PORT` of the relay, for logs.
    pub fn relay(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Sends `subject` and `body` to each of `to`, a message each, over
    /// one connection. Answers how many were accepted; an address the
    /// relay refuses for good is skipped (and logged), but if none was
    /// accepted the whole mail failed.
    pub async fn send(&self, to: &[String], subject: &str, body: &str) -> Result<usize, MailError> {
        let tcp = step("connect", TcpStream::connect((self.host.as_str(), self.port))).await?;
        let hello = match tcp.local_addr().map(|address| address.ip()) {
            Ok(IpAddr::V4(ip)) => format!("[{ip}]"),
            Ok(IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
            Err(_) => "[127.0.0.1]".to_owned(),
        };
        match self.security {
            Security::Implicit => {
                let tls = self.handshake(tcp).await?;
                let mut relay = Relay::new(tls);
                relay.reply(220).await?;
                self.converse(relay, &hello, to, subject, body).await
            }
            Security::StartTls => {
                let mut relay = Relay::new(tcp);
                relay.reply(220).await?;
                let offered = relay.ehlo(&hello).await?;
                if !offered
                    .iter()
                    .any(|extension| extension.eq_ignore_ascii_case("STARTTLS"))
                {
                    return Err(MailError::Permanent(format!(
                        "{}:{} does not offer STARTTLS (use smtps://, or tls=none for a relay that needs no TLS)",
                        self.host, self.port
                    )));
                }
                relay.command("STARTTLS", 220).await?;
                let tcp = relay.into_inner()?;
                let tls = self.handshake(tcp).await?;
                self.converse(Relay::new(tls), &hello, to, subject, body).await
            }
            Security::None => {
                let mut relay = Relay::new(tcp);
                relay.reply(220).await?;
                self.converse(relay, &hello, to, subject, body).await
            }
        }
    }

    async fn handshake(&self, tcp: TcpStream) -> Result<tokio_rustls::client::TlsStream<TcpStream>, MailError> {
        let name = ServerName::try_from(self.host.clone())
            .map_err(|error| MailError::Permanent(format!("{}: {error}", self.host)))?;
        step("TLS handshake", TlsConnector::from(self.tls.clone()).connect(name, tcp)).await
    }

    /// From `EHLO` (again, after STARTTLS) to `QUIT`.
    async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut relay: Relay<S>,
        hello: &str,
        to: &[String],
        subject: &str,
        body: &str,
    ) -> Result<usize, MailError> {
        let offered = relay.ehlo(hello).await?;
        let offers = |name: &str| {
            offered.iter().any(|extension| {
                let mut words = extension.split_ascii_whitespace();
                words.next().is_some_and(|word| word.eq_ignore_ascii_case(name))
            })
        };
        if let Some((user, password)) = &self.credentials {
            let methods: Vec<String> = offered
                .iter()
                .filter_map(|extension| extension.strip_prefix("AUTH ").or(extension.strip_prefix("AUTH=")))
                .flat_map(|methods| methods.split_ascii_whitespace().map(str::to_ascii_uppercase))
                .collect();
            if methods.iter().any(|method| method == "PLAIN") {
                let token = BASE64.encode(format!("\0{user}\0{password}"));
                relay.secret_command(&format!("AUTH PLAIN {token}"), 235).await?;
            } else if methods.iter().any(|method| method == "LOGIN") {
                relay.command("AUTH LOGIN", 334).await?;
                relay.secret_command(&BASE64.encode(user), 334).await?;
                relay.secret_command(&BASE64.encode(password), 235).await?;
            } else {
                return Err(MailError::Permanent(format!(
                    "{} offers neither AUTH PLAIN nor AUTH LOGIN",
                    self.host
                )));
            }
        }
        let utf8 = offers("SMTPUTF8");
        let mut accepted = 0;
        let mut refusals = Vec::new();
        for address in to {
            if !deliverable(address, utf8) {
                refusals.push(format!("{address:?} cannot be written in an SMTP envelope"));
                continue;
            }
            let from = if !self.from_address.is_ascii() || !address.is_ascii() {
                format!("MAIL FROM:<{}> SMTPUTF8", self.from_address)
            } else {
                format!("MAIL FROM:<{}>", self.from_address)
            };
            relay.command(&from, 250).await?;
            match relay.command(&format!("RCPT TO:<{address}>"), 250).await {
                Ok(_) => {}
                Err(MailError::Permanent(why)) => {
                    refusals.push(format!("{address}: {why}"));
                    relay.command("RSET", 250).await?;
                    continue;
                }
                Err(transient) => return Err(transient),
            }
            relay.command("DATA", 354).await?;
            let message = self.message(address, subject, body, OffsetDateTime::now_utc());
            relay.data(&message).await?;
            accepted += 1;
        }
        // A relay that hangs up without answering QUIT has the mail already.
        let _ = relay.command("QUIT", 221).await;
        for refusal in &refusals {
            tracing::warn!(refusal = %refusal, "a notice mail was not sent to one address");
        }
        if accepted == 0 && !refusals.is_empty() {
            return Err(MailError::Permanent(refusals.join("; ")));
        }
        Ok(accepted)
    }

    /// The message as sent after `DATA`: headers, a blank line, the body,
    /// every line ending CRLF and dot-stuffed, then the lone dot.
    fn message(&self, to: &str, subject: &str, body: &str, now: OffsetDateTime) -> String {
        let domain = self
            .from_address
            .rsplit_once('@')
            .map_or("localhost", |(_, domain)| domain);
        let headers = [
            format!("From: {}", self.from_header),
            format!("To: <{to}>"),
            format!("Subject: {}", encode_header(subject)),
            format!("Date: {}", rfc5322_date(now)),
            format!("Message-ID: <{}@{domain}>", Uuid::now_v7()),
            "MIME-Version: 1.0".to_owned(),
            "Content-Type: text/plain; charset=utf-8".to_owned(),
            "Content-Transfer-Encoding: 8bit".to_owned(),
            "Auto-Submitted: auto-generated".to_owned(),
        ];
        let mut message = String::with_capacity(body.len() + 512);
        for line in headers.iter().map(String::as_str).chain([""]).chain(body.lines()) {
            if line.starts_with('.') {
                message.push('.');
            }
            message.push_str(line);
            message.push_str("\r\n");
        }
        message.push_str(".\r\n");
        message
    }
}

impl crate::AppState {
    /// Sends the notice mails due now (see
    /// [`robots_service::Service::due_notice_mails`]); answers how many
    /// went out. A mail that fails for a passing reason is tried again on a
    /// later call; one the relay refuses for good is not.
    pub async fn send_notice_mails(&self) -> usize {
        let Some(mailer) = &self.config().mailer else {
            return 0;
        };
        let mut sent = 0;
        for mail in self.service().due_notice_mails(&self.config().public_url).await {
            match mailer.send(&mail.to, &mail.subject, &mail.body).await {
                Ok(_) => {
                    sent += 1;
                    self.service().notice_mail_sent(&mail).await;
                }
                Err(MailError::Permanent(why)) => {
                    tracing::warn!(%why, subject = %mail.subject, "the mail relay refused a notice mail");
                    self.service().notice_mail_sent(&mail).await;
                }
                Err(MailError::Transient(why)) => {
                    tracing::warn!(%why, subject = %mail.subject, "could not send a notice mail; trying again later");
                    self.service().notice_mail_failed(&mail).await;
                }
            }
        }
        sent
    }
}

/// One conversation with a relay over `S` (TCP, or TLS over TCP).
struct Relay<S> {
    stream: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Relay<S> {
    fn new(stream: S) -> Self {
        Self {
            stream: BufReader::new(stream),
        }
    }

    /// The stream, to start TLS on: nothing may be waiting in the buffer
    /// (a relay that speaks before the handshake is attempting injection).
    fn into_inner(self) -> Result<S, MailError> {
        if !self.stream.buffer().is_empty() {
            return Err(MailError::Permanent(
                "the relay sent data before the TLS handshake".into(),
            ));
        }
        Ok(self.stream.into_inner())
    }

    async fn ehlo(&mut self, hello: &str) -> Result<Vec<String>, MailError> {
        let lines = self.command(&format!("EHLO {hello}"), 250).await?;
        Ok(lines.into_iter().skip(1).collect())
    }

    /// Sends `line` and reads the reply, which must be `expected`.
    async fn command(&mut self, line: &str, expected: u16) -> Result<Vec<String>, MailError> {
        self.write(line).await?;
        self.reply(expected).await.map_err(|error| in_answer_to(error, line))
    }

    /// As [`Self::command`], for a line carrying credentials: an error
    /// names the step, never the line.
    async fn secret_command(&mut self, line: &str, expected: u16) -> Result<Vec<String>, MailError> {
        self.write(line).await?;
        self.reply(expected).await.map_err(|error| in_answer_to(error, "AUTH"))
    }

    async fn data(&mut self, message: &str) -> Result<(), MailError> {
        step("send", self.stream.get_mut().write_all(message.as_bytes())).await?;
        step("send", self.stream.get_mut().flush()).await?;
        self.reply(250)
            .await
            .map_err(|error| in_answer_to(error, "the message"))?;
        Ok(())
    }

    async fn write(&mut self, line: &str) -> Result<(), MailError> {
        let stream = self.stream.get_mut();
        step("send", stream.write_all(format!("{line}\r\n").as_bytes())).await?;
        step("send", stream.flush()).await
    }

    /// Reads one reply (`250-…` lines, then `250 …`); answers its lines'
    /// texts if its code is `expected`.
    async fn reply(&mut self, expected: u16) -> Result<Vec<String>, MailError> {
        let mut lines = Vec::new();
        loop {
            let mut raw = Vec::new();
            let read = step(
                "read the reply",
                (&mut self.stream).take(MAX_REPLY_LINE).read_until(b'\n', &mut raw),
            )
            .await?;
            if read == 0 {
                return Err(MailError::Transient("the relay closed the connection".into()));
            }
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim_end_matches(['\r', '\n']);
            let code = line.get(..3).and_then(|code| code.parse::<u16>().ok());
            let (Some(code), separator) = (code, line.as_bytes().get(3).copied()) else {
                return Err(MailError::Permanent(format!("not an SMTP reply: {:?}", shorten(line))));
            };
            lines.push(line.get(4..).unwrap_or_default().to_owned());
            if separator == Some(b'-') && lines.len() < MAX_REPLY_LINES {
                continue;
            }
            if code == expected {
                return Ok(lines);
            }
            let text = format!("{code} {}", shorten(&lines.join(" ")));
            return Err(if (400..500).contains(&code) {
                MailError::Transient(text)
            } else {
                MailError::Permanent(text)
            });
        }
    }
}

fn in_answer_to(error: MailError, what: &str) -> MailError {
    let what = what.split_ascii_whitespace().next().unwrap_or(what);
    match error {
        MailError::Transient(why) => MailError::Transient(format!("{what}: {why}")),
        MailError::Permanent(why) => MailError::Permanent(format!("{what}: {why}")),
    }
}

/// Runs one step under [`STEP_TIMEOUT`]; I/O errors are transient.
async fn step<T>(what: &str, future: impl Future<Output = std::io::Result<T>>) -> Result<T, MailError> {
    match tokio::time::timeout(STEP_TIMEOUT, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(MailError::Transient(format!("{what}: {error}"))),
        Err(_) => Err(MailError::Transient(format!(
            "{what}: no answer in {}s",
            STEP_TIMEOUT.as_secs()
        ))),
    }
}

fn shorten(text: &str) -> String {
    text.chars().take(200).collect()
}

/// Whether `address` can go in `RCPT TO:<…>`: no characters that would
/// end the path or the line, and ASCII unless the relay takes UTF-8.
fn deliverable(address: &str, utf8: bool) -> bool {
    address.contains('@')
        && !address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
        && (utf8 || address.is_ascii())
}

/// `--smtp-from`: `ADDRESS` or `NAME <ADDRESS>`; answers the header as
/// written and the address.
fn parse_from(from: &str) -> Result<(String, String), String> {
    let from = from.trim();
    if from.chars().any(char::is_control) {
        return Err("--smtp-from: control characters are not allowed".into());
    }
    let (name, address) = match from.rsplit_once('<') {
        Some((name, rest)) => {
            let address = rest
                .strip_suffix('>')
                .ok_or("--smtp-from: NAME <ADDRESS> must end with '>'")?;
            if name.contains(['<', '>', '"', '\\']) {
                return Err("--smtp-from: the name may not contain <, >, quotes or backslashes".into());
            }
            (Some(name.trim()).filter(|name| !name.is_empty()), address)
        }
        None => (None, from),
    };
    if !deliverable(address, true) || address.starts_with('@') || address.ends_with('@') {
        return Err(format!(
            "--smtp-from: {address:?} is not an e-mail address (e.g. robots@example.com or \"Robot Accounts <robots@example.com>\")"
        ));
    }
    let header = match name {
        Some(name) if name.is_ascii() => format!("\"{name}\" <{address}>"),
        Some(name) => format!("{} <{address}>", encode_header(name)),
        None => format!("<{address}>"),
    };
    Ok((header, address.to_owned()))
}

/// A header value as written when ASCII, else as an RFC 2047 encoded word.
fn encode_header(value: &str) -> String {
    if value.is_ascii() {
        value.to_owned()
    } else {
        format!("=?utf-8?b?{}?=", BASE64.encode(value))
    }
}

fn rfc5322_date(at: OffsetDateTime) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{}, {} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[usize::from(at.weekday().number_days_from_monday())],
        at.day(),
        MONTHS[usize::from(u8::from(at.month()) - 1)],
        at.year(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = raw.get(at + 1..at + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS: {error}"))?;
    let Some(ca_file) = ca_file else {
        use rustls_platform_verifier::BuilderVerifierExt;
        return Ok(builder
            .with_platform_verifier()
            .map_err(|error| format!("the system's certificate roots: {error}"))?
            .with_no_client_auth());
    };
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let certificates = CertificateDer::pem_file_iter(ca_file)
        .map_err(|error| format!("--smtp-ca-file {}: {error}", ca_file.display()))?;
    for certificate in certificates {
        let certificate = certificate.map_err(|error| format!("--smtp-ca-file {}: {error}", ca_file.display()))?;
        roots
            .add(certificate)
            .map_err(|error| format!("--smtp-ca-file {}: {error}", ca_file.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("--smtp-ca-file {}: no certificate in it", ca_file.display()));
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_say_how_to_reach_the_relay() {
        let mailer = Mailer::new("smtps://notices:p%40ss@mail.example.com", "robots@example.com", None).unwrap();
        assert_eq!((mailer.host.as_str(), mailer.port), ("mail.example.com", 465));
        assert_eq!(mailer.security, Security::Implicit);
        assert_eq!(mailer.credentials, Some(("notices".to_owned(), "p@ss".to_owned())));
        let debug = format!("{mailer:?}");
        assert!(!debug.contains("p@ss") && debug.contains("notices"), "{debug}");

        let mailer = Mailer::new("smtp://mail.example.com", "robots@example.com", None).unwrap();
        assert_eq!((mailer.port, mailer.security), (587, Security::StartTls));
        let mailer = Mailer::new("smtp://127.0.0.1:2525?tls=none", "robots@example.com", None).unwrap();
        assert_eq!((mailer.port, mailer.security), (2525, Security::None));

        for (url, error) in [
            ("http://mail.example.com", "unknown scheme"),
            ("smtp://mail.example.com?tls=maybe", "unknown option tls=maybe"),
            ("smtps://mail.example.com?tls=none", "unknown option"),
            ("smtp://user:pw@127.0.0.1?tls=none", "only sent over TLS"),
            ("smtp://", "no host"),
        ] {
            let refused = Mailer::new(url, "robots@example.com", None).unwrap_err();
            assert!(refused.contains(error), "{url}: {refused}");
        }
    }

    #[test]
    fn the_sender_is_an_address_or_a_name_and_an_address() {
        assert_eq!(
            parse_from("robots@example.com").unwrap(),
            ("<robots@example.com>".to_owned(), "robots@example.com".to_owned())
        );
        assert_eq!(
            parse_from("Robot Accounts, Inc. <robots@example.com>").unwrap(),
            (
                "\"Robot Accounts, Inc.\" <robots@example.com>".to_owned(),
                "robots@example.com".to_owned()
            )
        );
        assert_eq!(
            parse_from("Röbots <robots@example.com>").unwrap().0,
            format!("=?utf-8?b?{}?= <robots@example.com>", BASE64.encode("Röbots"))
        );
        for bad in ["robots", "Robots <robots@example.com", "a@b\r\nBcc: x@y", "<a b@c>"] {
            assert!(parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn messages_are_dot_stuffed_and_end_with_a_lone_dot() {
        let mailer = Mailer::new("smtp://127.0.0.1?tls=none", "Robots <robots@example.com>", None).unwrap();
        let at = time::macros::datetime!(2030-01-10 08:00:05 UTC);
        let message = mailer.message("alice@example.com", "acme: tokens", "first\n.hidden\nlast", at);
        assert!(message.starts_with("From: \"Robots\" <robots@example.com>\r\nTo: <alice@example.com>\r\n"));
        assert!(
            message.contains("\r\nDate: Thu, 10 Jan 2030 08:00:05 +0000\r\n"),
            "{message}"
        );
        assert!(message.contains("@example.com>\r\n"), "{message}");
        assert!(
            message.ends_with("\r\n\r\nfirst\r\n..hidden\r\nlast\r\n.\r\n"),
            "{message}"
        );
    }

    #[test]
    fn envelope_addresses_cannot_smuggle_commands() {
        assert!(deliverable("alice@example.com", false));
        assert!(!deliverable("alice@example.com>\r\nRCPT TO:<eve@example.com", true));
        assert!(!deliverable("al ice@example.com", true));
        assert!(!deliverable("jörg@example.com", false));
        assert!(deliverable("jörg@example.com", true));
    }
}
