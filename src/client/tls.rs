//! TLS: which certificates are trusted, the rustls configurations, and failures in words.
//!
//! Trust is the system store (rustls-native-certs, which honours `SSL_CERT_FILE` and
//! `SSL_CERT_DIR`) plus `--cacert`, or nothing at all with `--insecure`. The store is loaded once
//! per process and before a run's clock starts (see [`Tls::prepare`]): loading it inside the first
//! page made page 0 of every HTTPS run look tens of milliseconds slower than the rest.

use std::io;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;

/// Which HTTP versions to offer in the handshake (ALPN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpn {
    /// `h2` and `http/1.1`: the server picks.
    Both,
    Http1,
    Http2,
}

/// The trust settings of a process, and the configurations built from them on first need.
pub struct Tls {
    provider: Arc<CryptoProvider>,
    extra: Vec<CertificateDer<'static>>,
    insecure: bool,
    configs: OnceLock<[Arc<ClientConfig>; 3]>,
}

/// The certificates of PEM files given with `--cacert`.
pub fn read_pem_files(paths: &[impl AsRef<Path>]) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let mut certs = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let found = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| anyhow::anyhow!("--cacert {}: {}", path.display(), pem_error(&e)))?;
        if found.is_empty() {
            anyhow::bail!("--cacert {}: no PEM certificate in it", path.display());
        }
        certs.extend(found);
    }
    Ok(certs)
}

impl Tls {
    /// `extra`: certificates to trust besides the system store.
    pub fn new(extra: Vec<CertificateDer<'static>>, insecure: bool) -> Tls {
        Tls {
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            extra,
            insecure,
            configs: OnceLock::new(),
        }
    }

    /// Loads the trust store and builds the configurations now, if not done yet.
    pub fn prepare(&self) -> anyhow::Result<()> {
        if self.configs.get().is_some() {
            return Ok(());
        }
        let verifier = self.verifier()?;
        let config = |alpn: Alpn| -> anyhow::Result<Arc<ClientConfig>> {
            let mut c = ClientConfig::builder_with_provider(self.provider.clone())
                .with_safe_default_protocol_versions()?
                .dangerous()
                .with_custom_certificate_verifier(verifier.clone())
                .with_no_client_auth();
            c.alpn_protocols = match alpn {
                Alpn::Both => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
                Alpn::Http1 => vec![b"http/1.1".to_vec()],
                Alpn::Http2 => vec![b"h2".to_vec()],
            };
            Ok(Arc::new(c))
        };
        let built = [
            config(Alpn::Both)?,
            config(Alpn::Http1)?,
            config(Alpn::Http2)?,
        ];
        let _ = self.configs.set(built);
        Ok(())
    }

    fn verifier(&self) -> anyhow::Result<Arc<dyn ServerCertVerifier>> {
        if self.insecure {
            return Ok(Arc::new(Insecure(self.provider.clone())));
        }
        let mut roots = RootCertStore::empty();
        // Unreadable entries in the system store are skipped, as curl skips them.
        let system = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(system.certs);
        for cert in &self.extra {
            roots
                .add(cert.clone())
                .map_err(|e| anyhow::anyhow!("--cacert: a certificate was not accepted: {e}"))?;
        }
        let webpki =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| {
                    anyhow::anyhow!("no certificate to trust ({e}); give one with --cacert")
                })?;
        Ok(Arc::new(Explained(webpki)))
    }

    /// The configuration offering `alpn` (prepared on first use if [`Tls::prepare`] was not called).
    pub fn config(&self, alpn: Alpn) -> Result<Arc<ClientConfig>, String> {
        if self.configs.get().is_none() {
            self.prepare().map_err(|e| format!("{e:#}"))?;
        }
        let configs = self.configs.get().ok_or("TLS is not configured")?;
        Ok(configs[alpn as usize].clone())
    }

    pub fn insecure(&self) -> bool {
        self.insecure
    }
}

fn pem_error(e: &rustls_pki_types::pem::Error) -> String {
    match e {
        rustls_pki_types::pem::Error::Io(io) => io.to_string(),
        rustls_pki_types::pem::Error::NoItemsFound => "no PEM certificate in it".into(),
        other => format!("not a PEM file ({other:?})"),
    }
}

/// Why a certificate was refused, in words, carried through rustls inside `CertificateError::Other`.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The standard verifier, whose refusals are turned into sentences that say what to do.
#[derive(Debug)]
struct Explained(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for Explained {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            .map_err(|e| {
                let why = explain(&e, end_entity, server_name);
                rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(
                    Arc::new(Refused(why)),
                )))
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

fn explain(e: &rustls::Error, cert: &CertificateDer<'_>, name: &ServerName<'_>) -> String {
    let host = name.to_str();
    match e {
        rustls::Error::InvalidCertificate(ce) => certificate_words(ce, self_signed(cert), &host),
        other => tls_words(other),
    }
}

/// The words for a self-signed certificate nothing trusts, as curl says it.
const SELF_SIGNED: &str = "self-signed certificate (not trusted; --cacert FILE trusts it)";

/// A refused certificate in words. `self_signed`: it names itself as its issuer, so a failed
/// signature check means a trusted CA of the same name was taken for its issuer (a name clash,
/// as with Debian's `CN=localhost` snakeoil CA): curl says "self-signed certificate" then too.
#[allow(deprecated)] // The unit variants are still what webpki's older errors become.
fn certificate_words(ce: &CertificateError, self_signed: bool, host: &str) -> String {
    use CertificateError as C;
    match ce {
        C::UnknownIssuer if self_signed => SELF_SIGNED.into(),
        C::UnknownIssuer => {
            "certificate not trusted (unknown issuer; --cacert FILE trusts a private CA)".into()
        }
        C::BadSignature
        | C::UnsupportedSignatureAlgorithm
        | C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. }
            if self_signed =>
        {
            SELF_SIGNED.into()
        }
        C::NotValidForName => format!("certificate is for other names than {host}"),
        C::NotValidForNameContext { presented, .. } => {
            let names: Vec<&str> = presented.iter().map(|n| bare_name(n)).collect();
            format!(
                "certificate is for other names than {host} (it names {})",
                names.join(", ")
            )
        }
        C::Expired => "certificate expired".into(),
        C::ExpiredContext { not_after, .. } => {
            format!("certificate expired (valid until {})", date(*not_after))
        }
        C::NotValidYet => "certificate not valid yet".into(),
        C::NotValidYetContext { not_before, .. } => {
            format!(
                "certificate not valid yet (valid from {})",
                date(*not_before)
            )
        }
        C::Revoked => "certificate revoked".into(),
        C::UnknownRevocationStatus => "certificate revocation status unknown".into(),
        C::ExpiredRevocationList | C::ExpiredRevocationListContext { .. } => {
            "certificate revocation list expired".into()
        }
        C::BadSignature => "certificate has a bad signature".into(),
        C::UnsupportedSignatureAlgorithm | C::UnsupportedSignatureAlgorithmContext { .. } => {
            "certificate signed with an unsupported algorithm".into()
        }
        C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "certificate signature does not fit its issuer's key type".into()
        }
        C::BadEncoding => "certificate is malformed".into(),
        C::UnhandledCriticalExtension => {
            "certificate has a critical extension that is not understood".into()
        }
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "certificate is not for TLS servers".into()
        }
        C::InvalidOcspResponse => "certificate has an invalid OCSP response".into(),
        C::ApplicationVerificationFailure => "certificate not accepted".into(),
        C::Other(other) => match other.0.downcast_ref::<webpki::Error>() {
            Some(w) => webpki_words(w, self_signed),
            None => match other.0.downcast_ref::<Refused>() {
                Some(Refused(why)) => why.clone(),
                None => "certificate not accepted".into(),
            },
        },
        _ => "certificate not accepted".into(),
    }
}

/// webpki's reasons that rustls passes on as `CertificateError::Other`.
fn webpki_words(e: &webpki::Error, self_signed: bool) -> String {
    use webpki::Error as W;
    match e {
        // A trusted self-signed CA certificate used by a server as its own.
        W::CaUsedAsEndEntity => "self-signed certificate: the server presents a CA certificate as \
                                 its own (make a leaf certificate signed by that CA)"
            .into(),
        W::EndEntityUsedAsCa => {
            "certificate not accepted: its chain uses a server certificate as a CA".into()
        }
        W::InvalidSignatureForPublicKey if self_signed => SELF_SIGNED.into(),
        W::InvalidSignatureForPublicKey => "certificate has a bad signature".into(),
        W::NameConstraintViolation => "certificate violates its CA's name constraints".into(),
        W::PathLenConstraintViolated => "certificate chain is longer than its CA allows".into(),
        W::MaximumPathDepthExceeded
        | W::MaximumSignatureChecksExceeded
        | W::MaximumPathBuildCallsExceeded
        | W::MaximumNameConstraintComparisonsExceeded => {
            "certificate chain too long or too complex to verify".into()
        }
        W::UnsupportedCertVersion => "certificate version not supported".into(),
        W::UnsupportedCriticalExtension => {
            "certificate has a critical extension that is not understood".into()
        }
        W::UnsupportedNameType => "certificate names no host in a form that is supported".into(),
        W::ExtensionValueInvalid
        | W::MalformedExtensions
        | W::BadDer
        | W::BadDerTime
        | W::TrailingData(_) => "certificate is malformed".into(),
        W::InvalidCertValidity => "certificate validity period is invalid".into(),
        _ => "certificate not accepted".into(),
    }
}

/// `DnsName("a.test")` (how webpki presents a name) -> `a.test`.
fn bare_name(presented: &str) -> &str {
    match (presented.find('('), presented.strip_suffix(')')) {
        (Some(open), Some(inner)) if open < inner.len() => inner[open + 1..].trim_matches('"'),
        _ => presented,
    }
}

fn date(t: UnixTime) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.as_secs());
    humantime::format_rfc3339_seconds(at).to_string()
}

/// `--insecure`: any certificate is accepted; the handshake's own signatures are still checked.
#[derive(Debug)]
struct Insecure(Arc<CryptoProvider>);

impl ServerCertVerifier for Insecure {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A failed handshake in words: never Rust debug text, never the URL.
pub fn describe(err: &io::Error) -> String {
    let Some(tls) = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    else {
        return match err.kind() {
            io::ErrorKind::UnexpectedEof => {
                "TLS handshake failed: the server closed the connection".into()
            }
            io::ErrorKind::ConnectionReset => {
                "TLS handshake failed: the server reset the connection".into()
            }
            _ => format!("TLS handshake failed: {err}"),
        };
    };
    tls_words(tls)
}

/// A rustls error in words: every variant, never its debug text.
fn tls_words(tls: &rustls::Error) -> String {
    use rustls::Error as E;
    let failed = |why: &str| format!("TLS handshake failed: {why}");
    match tls {
        E::InvalidCertificate(ce) => certificate_words(ce, false, "this host"),
        E::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
            "plain HTTP answer to a TLS handshake (is the URL https:// by mistake?)".into()
        }
        E::InvalidMessage(_) => failed("the server sent a malformed TLS message"),
        E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => {
            failed("the server sent an unexpected TLS message")
        }
        E::InvalidEncryptedClientHello(_) => failed("encrypted client hello refused"),
        E::NoCertificatesPresented => failed("the server presented no certificate"),
        E::UnsupportedNameType => failed("the server name is of a type not supported"),
        E::DecryptError => failed("a TLS record could not be decrypted"),
        E::EncryptError => failed("a TLS record could not be encrypted"),
        E::AlertReceived(alert) => failed(&format!(
            "the server sent the alert {}",
            words(&format!("{alert:?}"))
        )),
        E::NoApplicationProtocol => failed("the server speaks none of the HTTP versions asked for"),
        E::PeerIncompatible(p) => failed(&format!(
            "no TLS version or cipher in common ({})",
            words(&format!("{p:?}"))
        )),
        E::PeerMisbehaved(_) => failed("the server broke the TLS protocol"),
        E::InvalidCertRevocationList(_) => "certificate revocation list not accepted".into(),
        E::General(why) => failed(why),
        E::FailedToGetCurrentTime => failed("the system clock could not be read"),
        E::FailedToGetRandomBytes => failed("no random numbers could be had"),
        E::HandshakeNotComplete => failed("the handshake did not complete"),
        E::PeerSentOversizedRecord => failed("the server sent an oversized TLS record"),
        E::BadMaxFragmentSize => failed("bad maximum fragment size"),
        E::InconsistentKeys(_) => failed("a certificate and its key do not match"),
        _ => "TLS handshake failed".into(),
    }
}

/// `HandshakeFailure` -> `handshake failure`.
fn words(camel: &str) -> String {
    let mut out = String::new();
    let mut after_lower = false;
    for c in camel.chars() {
        if c.is_ascii_uppercase() && after_lower {
            out.push(' ');
        }
        after_lower = c.is_ascii_lowercase();
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// One DER element: its contents, the whole element, and what follows it.
struct Tlv<'a> {
    content: &'a [u8],
    whole: &'a [u8],
    rest: &'a [u8],
}

fn tlv(b: &[u8]) -> Option<Tlv<'_>> {
    let rest = b.get(1..)?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        n if n < 0x80 => (n as usize, rest),
        n => {
            let octets = (n & 0x7f) as usize;
            if octets > 4 || rest.len() < octets {
                return None;
            }
            let len = rest[..octets]
                .iter()
                .fold(0usize, |a, &d| a << 8 | d as usize);
            (len, &rest[octets..])
        }
    };
    let header = b.len() - rest.len();
    (rest.len() >= len).then(|| Tlv {
        content: &rest[..len],
        whole: &b[..header + len],
        rest: &rest[len..],
    })
}

/// Whether a DER certificate names itself as its issuer.
fn self_signed(cert: &[u8]) -> bool {
    let parse = || {
        let tbs = tlv(tlv(cert)?.content)?.content;
        let mut rest = tbs;
        if rest.first() == Some(&0xa0) {
            rest = tlv(rest)?.rest; // [0] version
        }
        let rest = tlv(rest)?.rest; // serial number
        let rest = tlv(rest)?.rest; // signature algorithm
        let issuer = tlv(rest)?;
        let validity = tlv(issuer.rest)?;
        let subject = tlv(validity.rest)?;
        Some(issuer.whole == subject.whole)
    };
    parse().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_is_told_from_issued() {
        let ca = crate::server::tls::Authority::new("test CA").unwrap();
        assert!(self_signed(&ca.der()));
        let leaf = ca.localhost().unwrap();
        assert!(!self_signed(&leaf.chain[0]));
        let alone = crate::server::tls::Identity::self_signed(&["localhost"]).unwrap();
        assert!(self_signed(&alone.chain[0]));
        assert!(!self_signed(b"not a certificate"));
    }

    #[test]
    fn presented_names_lose_their_wrappers() {
        assert_eq!(bare_name("DnsName(\"other.test\")"), "other.test");
        assert_eq!(bare_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(bare_name("plain.test"), "plain.test");
    }

    #[test]
    fn certificate_errors_are_words_never_debug_text() {
        use rustls::OtherError;
        let other = |e: webpki::Error| CertificateError::Other(OtherError(Arc::new(e)));
        let cases = [
            CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext {
                signature_algorithm_id: vec![6, 8, 42],
                public_key_algorithm_id: vec![6, 9, 42],
            },
            CertificateError::UnhandledCriticalExtension,
            CertificateError::InvalidOcspResponse,
            other(webpki::Error::CaUsedAsEndEntity),
            other(webpki::Error::NameConstraintViolation),
            other(webpki::Error::MaximumPathDepthExceeded),
            other(webpki::Error::UnsupportedCertVersion),
        ];
        for ce in &cases {
            for self_signed in [false, true] {
                let text = certificate_words(ce, self_signed, "a.test");
                assert!(
                    !text.contains(['{', '[', '('])
                        || text.contains("(not trusted;")
                        || text.contains("(make a leaf"),
                    "{ce:?}: {text}"
                );
            }
        }
        assert!(certificate_words(&cases[3], false, "a.test").contains("presents a CA"));
        let e =
            rustls::Error::PeerMisbehaved(rustls::PeerMisbehaved::IllegalMiddleboxChangeCipherSpec);
        assert_eq!(
            tls_words(&e),
            "TLS handshake failed: the server broke the TLS protocol"
        );
    }

    #[test]
    fn alert_names_become_words() {
        assert_eq!(words("HandshakeFailure"), "handshake failure");
        assert_eq!(words("UnknownCA"), "unknown ca");
    }

    #[test]
    fn a_cacert_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "nothing here\n").unwrap();
        let err = read_pem_files(&[&empty]).unwrap_err().to_string();
        assert!(
            err.contains("empty.pem") && err.contains("no PEM certificate"),
            "{err}"
        );
        let missing = dir.path().join("missing.pem");
        let err = read_pem_files(&[&missing]).unwrap_err().to_string();
        assert!(err.contains("missing.pem"), "{err}");
    }
}
