//! [Standard Webhooks](https://www.standardwebhooks.com/) signing and
//! verification, sans-IO.
//!
//! A delivery carries three headers: `webhook-id` (the message id),
//! `webhook-timestamp` (unix seconds) and `webhook-signature`, a
//! space-separated list of `<version>,<base64 signature>` entries, each
//! over the bytes `"{id}.{timestamp}.{body}"`:
//!
//! - `v1`: HMAC-SHA256 with a symmetric [`Secret`] (`whsec_` + base64 of
//!   24 to 64 random bytes);
//! - `v1a`: ed25519 with a [`SecretKey`] (`whsk_`) on the sending side and
//!   its [`PublicKey`] (`whpk_`) on the receiving side.
//!
//! During a secret rotation the sender signs with every key in force
//! ([`signature_header`]) and the receiver accepts any entry that one of
//! its trusted keys verifies ([`verify`], [`Verifier`]). Entries of a
//! version the receiver does not know are skipped, as the spec asks.
//!
//! Nothing here reads a clock or an entropy source: timestamps and "now"
//! are arguments and key generation takes the caller's RNG, so a simulated
//! run stays deterministic and a live driver passes real time and an
//! OS-seeded generator. Keys never print by accident: their `Debug` is
//! redacted and their serialized form is only reachable through an
//! explicit `expose()`; symmetric secret bytes are wiped on drop.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::Signer as _;
use hmac::{KeyInit as _, Mac as _};
use rand::CryptoRng;
use sha2::Sha256;
use zeroize::Zeroize as _;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Header carrying the message id (the idempotency key).
pub const HEADER_ID: &str = "webhook-id";
/// Header carrying the signing time, in whole unix seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Header carrying the space-separated `version,signature` entries.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// How far a timestamp may be from "now", either way, before a delivery is
/// refused as a replay (or as clock trouble): 5 minutes, as in the spec and
/// its reference libraries. The bound itself is accepted.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The fewest bytes a `whsec_` secret may decode to (192 bits).
pub const SECRET_MIN_LEN: usize = 24;
/// The most bytes a `whsec_` secret may decode to (512 bits).
pub const SECRET_MAX_LEN: usize = 64;
/// How many random bytes [`Secret::generate`] draws (256 bits).
pub const GENERATED_SECRET_LEN: usize = 32;

/// The length of an HMAC-SHA256 tag, the decoded length of a `v1` entry.
const V1_LEN: usize = 32;

/// A signature scheme of the spec, named by its version identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// Symmetric HMAC-SHA256 with a `whsec_` secret.
    V1,
    /// Asymmetric ed25519 with a `whsk_`/`whpk_` key pair.
    V1a,
}

impl Scheme {
    /// The version identifier written before the comma (`v1`, `v1a`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::V1 => "v1",
            Scheme::V1a => "v1a",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The three kinds of serialized key, told apart by their prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A symmetric secret, `whsec_`.
    Secret,
    /// An ed25519 secret key, `whsk_`.
    SecretKey,
    /// An ed25519 public key, `whpk_`.
    PublicKey,
}

impl KeyKind {
    /// The prefix that marks this kind of key.
    pub fn prefix(self) -> &'static str {
        match self {
            KeyKind::Secret => "whsec_",
            KeyKind::SecretKey => "whsk_",
            KeyKind::PublicKey => "whpk_",
        }
    }

    /// The kind of key whose prefix `text` starts with, if any.
    pub fn of(text: &str) -> Option<KeyKind> {
        [KeyKind::Secret, KeyKind::SecretKey, KeyKind::PublicKey]
            .into_iter()
            .find(|k| text.starts_with(k.prefix()))
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            KeyKind::Secret => "a webhook secret",
            KeyKind::SecretKey => "an ed25519 secret key",
            KeyKind::PublicKey => "an ed25519 public key",
        };
        write!(f, "{name} (`{}...`)", self.prefix())
    }
}

/// Why a serialized key was refused. The messages never quote the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text does not start with the expected prefix.
    #[error("expected {expected}: the text does not start with `{}`", .expected.prefix())]
    MissingPrefix {
        /// The kind that was expected.
        expected: KeyKind,
    },
    /// The text is another kind of key (say a `whpk_` where a `whsec_` was
    /// expected).
    #[error("expected {expected}, found {found}")]
    WrongKind {
        /// The kind that was expected.
        expected: KeyKind,
        /// The kind the prefix names.
        found: KeyKind,
    },
    /// What follows the prefix is not standard, padded base64.
    #[error("{kind} is not valid base64 after its prefix: {reason}")]
    InvalidBase64 {
        /// The kind being parsed.
        kind: KeyKind,
        /// What is wrong (a position, never the offending character).
        reason: String,
    },
    /// The key decodes to the wrong number of bytes.
    #[error("{kind} must decode to {expected} bytes; this one decodes to {len}")]
    WrongLength {
        /// The kind being parsed.
        kind: KeyKind,
        /// The decoded length.
        len: usize,
        /// The lengths allowed, in words.
        expected: &'static str,
    },
    /// The bytes are not a usable ed25519 key.
    #[error("{kind} is not a usable ed25519 key: {reason}")]
    InvalidKey {
        /// The kind being parsed.
        kind: KeyKind,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Strips `kind`'s prefix (and surrounding whitespace, such as the newline
/// a secret file ends with) and decodes the base64 that follows.
fn decode_key(text: &str, kind: KeyKind) -> Result<Vec<u8>, KeyError> {
    let text = text.trim();
    let Some(b64) = text.strip_prefix(kind.prefix()) else {
        return Err(match KeyKind::of(text) {
            Some(found) => KeyError::WrongKind {
                expected: kind,
                found,
            },
            None => KeyError::MissingPrefix { expected: kind },
        });
    };
    B64.decode(b64).map_err(|e| KeyError::InvalidBase64 {
        kind,
        reason: match e {
            base64::DecodeError::InvalidByte(at, _) => {
                format!("character {} is not in the base64 alphabet", at + 1)
            }
            base64::DecodeError::InvalidLastSymbol(at, _) => {
                format!("character {} ends the text with stray bits", at + 1)
            }
            base64::DecodeError::InvalidLength(n) => {
                format!("{n} base64 characters cannot be whole bytes (truncated?)")
            }
            base64::DecodeError::InvalidPadding => "wrong `=` padding".to_string(),
        },
    })
}

/// A key's serialized form (`prefix` + base64), obtained only through an
/// explicit `expose()`. Its `Display` writes the key; its `Debug` does not.
pub struct Exposed<'a> {
    prefix: &'static str,
    bytes: ExposedBytes<'a>,
}

enum ExposedBytes<'a> {
    Borrowed(&'a [u8]),
    Keypair([u8; ed25519_dalek::KEYPAIR_LENGTH]),
}

impl Exposed<'_> {
    fn bytes(&self) -> &[u8] {
        match &self.bytes {
            ExposedBytes::Borrowed(b) => b,
            ExposedBytes::Keypair(b) => b,
        }
    }
}

impl Drop for Exposed<'_> {
    fn drop(&mut self) {
        if let ExposedBytes::Keypair(b) = &mut self.bytes {
            b.zeroize();
        }
    }
}

impl fmt::Display for Exposed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Encoded on the stack and wiped, so no stray heap copy is left.
        let mut buf = [0u8; 88]; // base64 of the longest key, 64 bytes
        let n = B64
            .encode_slice(self.bytes(), &mut buf)
            .expect("keys are at most 64 bytes");
        let text = std::str::from_utf8(&buf[..n]).expect("base64 is ASCII");
        let written = f.write_str(self.prefix).and_then(|()| f.write_str(text));
        buf.zeroize();
        written
    }
}

impl fmt::Debug for Exposed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Exposed({}[REDACTED])", self.prefix)
    }
}

/// A symmetric `whsec_` signing secret of 24 to 64 bytes, for `v1`.
///
/// `Debug` is redacted and there is no `Display`: the `whsec_...` text is
/// only written through [`Secret::expose`]. The bytes are wiped on drop.
#[derive(Clone)]
pub struct Secret {
    key: Box<[u8]>,
}

impl Secret {
    /// Parses `whsec_<base64>` (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<Secret, KeyError> {
        let mut bytes = decode_key(text, KeyKind::Secret)?;
        let secret = Secret::from_bytes(&bytes);
        bytes.zeroize();
        secret
    }

    /// A secret from raw bytes, which must number 24 to 64.
    pub fn from_bytes(bytes: &[u8]) -> Result<Secret, KeyError> {
        if !(SECRET_MIN_LEN..=SECRET_MAX_LEN).contains(&bytes.len()) {
            return Err(KeyError::WrongLength {
                kind: KeyKind::Secret,
                len: bytes.len(),
                expected: "24 to 64",
            });
        }
        Ok(Secret { key: bytes.into() })
    }

    /// A new secret of [`GENERATED_SECRET_LEN`] bytes drawn from `rng`. The
    /// caller picks the generator: a seeded one keeps a simulated run
    /// reproducible, an OS-seeded one makes a real secret.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Secret {
        let mut bytes = [0u8; GENERATED_SECRET_LEN];
        rng.fill_bytes(&mut bytes);
        let secret = Secret {
            key: bytes.as_slice().into(),
        };
        bytes.zeroize();
        secret
    }

    /// How many bytes the secret has (24 to 64).
    pub fn byte_len(&self) -> usize {
        self.key.len()
    }

    /// The `whsec_...` text, for the one place that must show or store it.
    pub fn expose(&self) -> Exposed<'_> {
        Exposed {
            prefix: KeyKind::Secret.prefix(),
            bytes: ExposedBytes::Borrowed(&self.key),
        }
    }

    /// The MAC state after `"{id}.{timestamp}.{body}"`.
    fn mac(&self, msg_id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        let bytes: &mut [u8] = &mut self.key;
        bytes.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(whsec_[REDACTED; {} bytes])", self.key.len())
    }
}

impl FromStr for Secret {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Secret, KeyError> {
        Secret::parse(s)
    }
}

/// An ed25519 secret key (`whsk_`), for signing `v1a`.
///
/// Serialized, as Svix does, as base64 of the 64-byte key pair (the
/// 32-byte seed, then the public key); [`SecretKey::parse`] also accepts the
/// bare 32-byte seed. `Debug` shows only the public half.
#[derive(Clone)]
pub struct SecretKey(Box<ed25519_dalek::SigningKey>);

impl SecretKey {
    /// Parses `whsk_<base64>` of a 64-byte key pair (whose public half must
    /// match the seed) or of a 32-byte seed.
    pub fn parse(text: &str) -> Result<SecretKey, KeyError> {
        let kind = KeyKind::SecretKey;
        let mut bytes = decode_key(text, kind)?;
        let key = match bytes.len() {
            ed25519_dalek::SECRET_KEY_LENGTH => {
                let mut seed = [0u8; ed25519_dalek::SECRET_KEY_LENGTH];
                seed.copy_from_slice(&bytes);
                let key = ed25519_dalek::SigningKey::from_bytes(&seed);
                seed.zeroize();
                Ok(SecretKey(Box::new(key)))
            }
            ed25519_dalek::KEYPAIR_LENGTH => {
                let mut pair = [0u8; ed25519_dalek::KEYPAIR_LENGTH];
                pair.copy_from_slice(&bytes);
                let key = ed25519_dalek::SigningKey::from_keypair_bytes(&pair);
                pair.zeroize();
                key.map(|k| SecretKey(Box::new(k)))
                    .map_err(|_| KeyError::InvalidKey {
                        kind,
                        reason: "its public half does not belong to its seed",
                    })
            }
            len => Err(KeyError::WrongLength {
                kind,
                len,
                expected: "32 (seed) or 64 (seed and public key)",
            }),
        };
        bytes.zeroize();
        key
    }

    /// A new key pair whose seed is drawn from `rng` (see
    /// [`Secret::generate`] on choosing the generator).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> SecretKey {
        let mut seed = [0u8; ed25519_dalek::SECRET_KEY_LENGTH];
        rng.fill_bytes(&mut seed);
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        seed.zeroize();
        SecretKey(Box::new(key))
    }

    /// The public key receivers verify with.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The `whsk_...` text (64-byte key pair form).
    pub fn expose(&self) -> Exposed<'_> {
        Exposed {
            prefix: KeyKind::SecretKey.prefix(),
            bytes: ExposedBytes::Keypair(self.0.to_keypair_bytes()),
        }
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SecretKey(whsk_[REDACTED], public: {})",
            self.public_key()
        )
    }
}

impl FromStr for SecretKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<SecretKey, KeyError> {
        SecretKey::parse(s)
    }
}

/// An ed25519 public key (`whpk_`), for verifying `v1a`. Public, so its
/// `Display` writes the `whpk_...` text.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    /// Parses `whpk_<base64 of 32 bytes>`, refusing points off the curve and
    /// weak (small-order) keys.
    pub fn parse(text: &str) -> Result<PublicKey, KeyError> {
        let kind = KeyKind::PublicKey;
        let bytes = decode_key(text, kind)?;
        let bytes: [u8; ed25519_dalek::PUBLIC_KEY_LENGTH] =
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| KeyError::WrongLength {
                    kind,
                    len: bytes.len(),
                    expected: "32",
                })?;
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::InvalidKey {
                kind,
                reason: "not a point on the curve",
            })?;
        if key.is_weak() {
            return Err(KeyError::InvalidKey {
                kind,
                reason: "a weak (small-order) key, which anyone can sign for",
            });
        }
        Ok(PublicKey(key))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(KeyKind::PublicKey.prefix())?;
        f.write_str(&B64.encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<PublicKey, KeyError> {
        PublicKey::parse(s)
    }
}

/// A key a sender signs with: a symmetric secret or an ed25519 secret key.
#[derive(Debug, Clone)]
pub enum SigningKey {
    /// `v1`, HMAC-SHA256.
    V1(Secret),
    /// `v1a`, ed25519.
    V1a(SecretKey),
}

impl SigningKey {
    /// Parses a `whsec_` secret or a `whsk_` secret key, by prefix (a
    /// `whpk_` public key is refused: it cannot sign).
    pub fn parse(text: &str) -> Result<SigningKey, KeyError> {
        match KeyKind::of(text.trim()) {
            Some(KeyKind::SecretKey) => SecretKey::parse(text).map(SigningKey::V1a),
            _ => Secret::parse(text).map(SigningKey::V1),
        }
    }

    /// The scheme this key signs with.
    pub fn scheme(&self) -> Scheme {
        match self {
            SigningKey::V1(_) => Scheme::V1,
            SigningKey::V1a(_) => Scheme::V1a,
        }
    }

    /// One `version,signature` entry for this message.
    pub fn sign(&self, msg_id: &str, timestamp_secs: u64, body: &[u8]) -> String {
        match self {
            SigningKey::V1(s) => sign(s, msg_id, timestamp_secs, body),
            SigningKey::V1a(k) => sign_v1a(k, msg_id, timestamp_secs, body),
        }
    }
}

impl From<Secret> for SigningKey {
    fn from(s: Secret) -> SigningKey {
        SigningKey::V1(s)
    }
}

impl From<SecretKey> for SigningKey {
    fn from(k: SecretKey) -> SigningKey {
        SigningKey::V1a(k)
    }
}

impl FromStr for SigningKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<SigningKey, KeyError> {
        SigningKey::parse(s)
    }
}

/// The `v1` signature of a message: `v1,<base64 HMAC-SHA256 of
/// "{msg_id}.{timestamp_secs}.{body}">`.
///
/// The id must not contain `.` (the spec's warning: a dot would let one
/// signed message pass for another); [`verify`] refuses such ids.
pub fn sign(secret: &Secret, msg_id: &str, timestamp_secs: u64, body: &[u8]) -> String {
    let tag = secret
        .mac(msg_id, &timestamp_secs.to_string(), body)
        .finalize()
        .into_bytes();
    format!("{},{}", Scheme::V1, B64.encode(tag))
}

/// The `v1a` signature of a message: `v1a,<base64 ed25519 signature of
/// "{msg_id}.{timestamp_secs}.{body}">`.
pub fn sign_v1a(key: &SecretKey, msg_id: &str, timestamp_secs: u64, body: &[u8]) -> String {
    let message = signed_content(msg_id, &timestamp_secs.to_string(), body);
    let signature = key.0.sign(&message);
    format!("{},{}", Scheme::V1a, B64.encode(signature.to_bytes()))
}

/// The bytes both schemes sign: `"{id}.{timestamp}.{body}"`.
fn signed_content(msg_id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(msg_id.len() + timestamp.len() + body.len() + 2);
    m.extend_from_slice(msg_id.as_bytes());
    m.push(b'.');
    m.extend_from_slice(timestamp.as_bytes());
    m.push(b'.');
    m.extend_from_slice(body);
    m
}

/// The `webhook-signature` value for a message signed with every key in
/// `keys`, space-separated in their order (during a rotation: the keys in
/// force). Empty when `keys` is, which receivers refuse.
pub fn signature_header(
    keys: &[SigningKey],
    msg_id: &str,
    timestamp_secs: u64,
    body: &[u8],
) -> String {
    let entries: Vec<String> = keys
        .iter()
        .map(|k| k.sign(msg_id, timestamp_secs, body))
        .collect();
    entries.join(" ")
}

/// The three header values a sender attaches to one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`.
    pub timestamp: String,
    /// `webhook-signature`.
    pub signature: String,
}

impl SignedHeaders {
    /// Signs a message with every key in `keys` (see [`signature_header`]).
    pub fn new(
        keys: &[SigningKey],
        msg_id: &str,
        timestamp_secs: u64,
        body: &[u8],
    ) -> SignedHeaders {
        SignedHeaders {
            id: msg_id.to_string(),
            timestamp: timestamp_secs.to_string(),
            signature: signature_header(keys, msg_id, timestamp_secs, body),
        }
    }

    /// `(name, value)` pairs, ready for an HTTP request.
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            (HEADER_ID, &self.id),
            (HEADER_TIMESTAMP, &self.timestamp),
            (HEADER_SIGNATURE, &self.signature),
        ]
    }

    /// The same values as a receiver sees them.
    pub fn as_received(&self) -> WebhookHeaders<'_> {
        WebhookHeaders {
            id: Some(&self.id),
            timestamp: Some(&self.timestamp),
            signature: Some(&self.signature),
        }
    }
}

/// One of the three signing headers, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// `webhook-id`.
    Id,
    /// `webhook-timestamp`.
    Timestamp,
    /// `webhook-signature`.
    Signature,
}

impl Header {
    /// The header's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Header::Id => HEADER_ID,
            Header::Timestamp => HEADER_TIMESTAMP,
            Header::Signature => HEADER_SIGNATURE,
        }
    }
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The signing headers of a received delivery, as found (absent ones are
/// `None`). An HTTP layer that meets a value that is not text passes
/// [`VerifyError::MalformedHeader`] on itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookHeaders<'a> {
    /// `webhook-id`.
    pub id: Option<&'a str>,
    /// `webhook-timestamp`.
    pub timestamp: Option<&'a str>,
    /// `webhook-signature`.
    pub signature: Option<&'a str>,
}

impl<'a> WebhookHeaders<'a> {
    /// Picks the three headers out of a request's `(name, value)` pairs
    /// (names compared case-insensitively, others ignored). A signing header
    /// that appears twice is refused rather than guessed at.
    pub fn from_pairs<I>(pairs: I) -> Result<WebhookHeaders<'a>, VerifyError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut h = WebhookHeaders::default();
        for (name, value) in pairs {
            let (slot, which) = if name.eq_ignore_ascii_case(HEADER_ID) {
                (&mut h.id, Header::Id)
            } else if name.eq_ignore_ascii_case(HEADER_TIMESTAMP) {
                (&mut h.timestamp, Header::Timestamp)
            } else if name.eq_ignore_ascii_case(HEADER_SIGNATURE) {
                (&mut h.signature, Header::Signature)
            } else {
                continue;
            };
            if slot.replace(value).is_some() {
                return Err(VerifyError::DuplicateHeader(which));
            }
        }
        Ok(h)
    }
}

/// Why a delivery failed verification. Apart from [`VerifyError::NoKeys`]
/// (a configuration mistake), each means "do not process this delivery".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The verifier holds no key at all.
    #[error("no trusted key to verify signatures with")]
    NoKeys,
    /// A signing header is absent.
    #[error("missing header `{0}`")]
    MissingHeader(Header),
    /// A signing header appears more than once.
    #[error("header `{0}` appears more than once")]
    DuplicateHeader(Header),
    /// A signing header's value cannot be used.
    #[error("malformed header `{header}`: {reason}")]
    MalformedHeader {
        /// Which header.
        header: Header,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The timestamp is further in the past than the tolerance.
    #[error("timestamp {timestamp} is more than {tolerance_secs}s before now ({now})")]
    TimestampTooOld {
        /// The delivery's timestamp, unix seconds.
        timestamp: u64,
        /// The verifier's now, unix seconds.
        now: u64,
        /// The tolerance, seconds.
        tolerance_secs: u64,
    },
    /// The timestamp is further in the future than the tolerance.
    #[error("timestamp {timestamp} is more than {tolerance_secs}s after now ({now})")]
    TimestampTooNew {
        /// The delivery's timestamp, unix seconds.
        timestamp: u64,
        /// The verifier's now, unix seconds.
        now: u64,
        /// The tolerance, seconds.
        tolerance_secs: u64,
    },
    /// No entry has a version this verifier has keys for (`v1` needs a
    /// secret, `v1a` a public key); unknown versions are skipped.
    #[error("no signature of a version this receiver can check (v1 with a secret, v1a with a public key)")]
    NoUsableSignature,
    /// Entries of a usable version exist, but none verifies with a trusted
    /// key: a wrong secret, or a tampered id, timestamp or body.
    #[error("no signature matches a trusted key")]
    NoMatchingSignature,
}

impl VerifyError {
    /// A stable snake_case name for the error's kind (`missing_header`,
    /// `timestamp_too_old`, ...), for reports and the published vectors.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::NoKeys => "no_keys",
            VerifyError::MissingHeader(_) => "missing_header",
            VerifyError::DuplicateHeader(_) => "duplicate_header",
            VerifyError::MalformedHeader { .. } => "malformed_header",
            VerifyError::TimestampTooOld { .. } => "timestamp_too_old",
            VerifyError::TimestampTooNew { .. } => "timestamp_too_new",
            VerifyError::NoUsableSignature => "no_usable_signature",
            VerifyError::NoMatchingSignature => "no_matching_signature",
        }
    }
}

/// What a successful verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The scheme of the entry that matched.
    pub scheme: Scheme,
    /// Which trusted key matched: an index into the secrets for `v1`, into
    /// the public keys for `v1a` (during a rotation: old or new).
    pub key_index: usize,
    /// The delivery's timestamp, unix seconds.
    pub timestamp_secs: u64,
}

/// Verifies a delivery's `v1` signatures against `secrets` (any may match,
/// as during a rotation), at `now_secs` with `tolerance` either way.
///
/// Checks, in order: a key is given; the three headers are present and well
/// formed (a non-empty id without `.`, a timestamp of ASCII digits); the
/// timestamp is within the tolerance; some `v1` entry matches, compared in
/// constant time.
pub fn verify(
    secrets: &[Secret],
    headers: &WebhookHeaders<'_>,
    body: &[u8],
    now_secs: u64,
    tolerance: Duration,
) -> Result<Verified, VerifyError> {
    verify_with(secrets, &[], headers, body, now_secs, tolerance)
}

/// A receiver's trust list: secrets for `v1`, public keys for `v1a`, and
/// the timestamp tolerance.
#[derive(Debug, Clone)]
pub struct Verifier {
    secrets: Vec<Secret>,
    public_keys: Vec<PublicKey>,
    tolerance: Duration,
}

impl Default for Verifier {
    fn default() -> Verifier {
        Verifier::new()
    }
}

impl Verifier {
    /// A verifier with no keys yet and the default tolerance.
    pub fn new() -> Verifier {
        Verifier {
            secrets: Vec::new(),
            public_keys: Vec::new(),
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// A verifier trusting what `keys` sign: their secrets, and the public
    /// halves of their ed25519 keys.
    pub fn trusting(keys: &[SigningKey]) -> Verifier {
        keys.iter().fold(Verifier::new(), |v, k| match k {
            SigningKey::V1(s) => v.with_secret(s.clone()),
            SigningKey::V1a(k) => v.with_public_key(k.public_key()),
        })
    }

    /// Also trusts `secret` for `v1`.
    pub fn with_secret(mut self, secret: Secret) -> Verifier {
        self.secrets.push(secret);
        self
    }

    /// Also trusts `key` for `v1a`.
    pub fn with_public_key(mut self, key: PublicKey) -> Verifier {
        self.public_keys.push(key);
        self
    }

    /// Sets the timestamp tolerance (whole seconds count).
    pub fn with_tolerance(mut self, tolerance: Duration) -> Verifier {
        self.tolerance = tolerance;
        self
    }

    /// The trusted secrets, in the order [`Verified::key_index`] counts.
    pub fn secrets(&self) -> &[Secret] {
        &self.secrets
    }

    /// The trusted public keys, in the order [`Verified::key_index`] counts.
    pub fn public_keys(&self) -> &[PublicKey] {
        &self.public_keys
    }

    /// Verifies a delivery at `now_secs` (see [`verify`] for the checks).
    pub fn verify(
        &self,
        headers: &WebhookHeaders<'_>,
        body: &[u8],
        now_secs: u64,
    ) -> Result<Verified, VerifyError> {
        verify_with(
            &self.secrets,
            &self.public_keys,
            headers,
            body,
            now_secs,
            self.tolerance,
        )
    }
}

fn malformed(header: Header, reason: &'static str) -> VerifyError {
    VerifyError::MalformedHeader { header, reason }
}

fn verify_with(
    secrets: &[Secret],
    public_keys: &[PublicKey],
    headers: &WebhookHeaders<'_>,
    body: &[u8],
    now_secs: u64,
    tolerance: Duration,
) -> Result<Verified, VerifyError> {
    if secrets.is_empty() && public_keys.is_empty() {
        return Err(VerifyError::NoKeys);
    }
    let id = headers.id.ok_or(VerifyError::MissingHeader(Header::Id))?;
    let ts_text = headers
        .timestamp
        .ok_or(VerifyError::MissingHeader(Header::Timestamp))?;
    let sig = headers
        .signature
        .ok_or(VerifyError::MissingHeader(Header::Signature))?;

    if id.is_empty() {
        return Err(malformed(Header::Id, "empty"));
    }
    if id.contains('.') {
        return Err(malformed(
            Header::Id,
            "contains `.`, which the signed content uses as its separator",
        ));
    }
    if ts_text.is_empty() || !ts_text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(
            Header::Timestamp,
            "not a whole number of unix seconds",
        ));
    }
    let timestamp: u64 = ts_text
        .parse()
        .map_err(|_| malformed(Header::Timestamp, "too large"))?;

    let tolerance_secs = tolerance.as_secs();
    if now_secs > timestamp.saturating_add(tolerance_secs) {
        return Err(VerifyError::TimestampTooOld {
            timestamp,
            now: now_secs,
            tolerance_secs,
        });
    }
    if timestamp > now_secs.saturating_add(tolerance_secs) {
        return Err(VerifyError::TimestampTooNew {
            timestamp,
            now: now_secs,
            tolerance_secs,
        });
    }

    let mut entries = sig.split(' ').filter(|e| !e.is_empty()).peekable();
    if entries.peek().is_none() {
        return Err(malformed(Header::Signature, "no signatures"));
    }
    // Computed on the first entry that needs them, once per message.
    let mut macs: Option<Vec<HmacSha256>> = None;
    let mut content: Option<Vec<u8>> = None;
    let mut usable = false;
    for entry in entries {
        let Some((version, value)) = entry.split_once(',') else {
            continue;
        };
        if version == Scheme::V1.as_str() && !secrets.is_empty() {
            usable = true;
            // An undecodable or short entry is one that matches nothing;
            // the decoding is of public data, so its timing reveals nothing.
            let Ok(tag) = B64.decode(value) else { continue };
            if tag.len() != V1_LEN {
                continue;
            }
            let macs = macs
                .get_or_insert_with(|| secrets.iter().map(|s| s.mac(id, ts_text, body)).collect());
            for (key_index, mac) in macs.iter().enumerate() {
                // hmac's verify compares in constant time.
                if mac.clone().verify_slice(&tag).is_ok() {
                    return Ok(Verified {
                        scheme: Scheme::V1,
                        key_index,
                        timestamp_secs: timestamp,
                    });
                }
            }
        } else if version == Scheme::V1a.as_str() && !public_keys.is_empty() {
            usable = true;
            let Ok(bytes) = B64.decode(value) else {
                continue;
            };
            let Ok(signature) = ed25519_dalek::Signature::from_slice(&bytes) else {
                continue;
            };
            let content = content.get_or_insert_with(|| signed_content(id, ts_text, body));
            for (key_index, key) in public_keys.iter().enumerate() {
                if key.0.verify_strict(content, &signature).is_ok() {
                    return Ok(Verified {
                        scheme: Scheme::V1a,
                        key_index,
                        timestamp_secs: timestamp,
                    });
                }
            }
        }
    }
    Err(if usable {
        VerifyError::NoMatchingSignature
    } else {
        VerifyError::NoUsableSignature
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::Config;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    const NOW: u64 = 1_700_000_000;

    fn headers<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> WebhookHeaders<'a> {
        WebhookHeaders {
            id: Some(id),
            timestamp: Some(ts),
            signature: Some(sig),
        }
    }

    fn secret(seed: u64) -> Secret {
        Secret::generate(&mut ChaCha8Rng::seed_from_u64(seed))
    }

    // ---- Reference vectors -------------------------------------------
    //
    // The spec has no shared cross-language suite; these are the fixed
    // vectors in the reference libraries' own tests, at commit b2fa7b8 of
    // github.com/standard-webhooks/standard-webhooks, and in the Svix
    // server (the spec's authors' implementation), commit 4fc0cfb8 of
    // github.com/svix/svix-webhooks.

    /// libraries/rust/src/lib.rs, `test_sign`.
    #[test]
    fn reference_rust_library_vector() {
        let s = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        let sig = sign(&s, "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1649367553, body);
        assert_eq!(sig, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
        let h = headers("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", "1649367553", &sig);
        let v = verify(&[s], &h, body, 1649367553, DEFAULT_TOLERANCE).unwrap();
        assert_eq!(
            (v.scheme, v.key_index, v.timestamp_secs),
            (Scheme::V1, 0, 1649367553)
        );
    }

    /// The same vector in libraries/javascript/src/webhook.test.ts ("sign
    /// function works"), libraries/go/webhook_test.go (`TestSign`),
    /// libraries/php/tests/WebhookTest.php (`testSignFunctionWorks`),
    /// libraries/csharp/StandardWebhooks.Tests/WebhookTest.cs and
    /// libraries/java/.../TestScenario.java; also Svix's
    /// server/svix-server/src/worker.rs
    /// (`test_generate_msg_headers_with_signing_key`).
    #[test]
    fn reference_javascript_go_php_vector() {
        let s = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let (id, ts, body) = (
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        let sig = sign(&s, id, ts, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(verify(
            std::slice::from_ref(&s),
            &headers(id, "1614265330", &sig),
            body,
            ts,
            DEFAULT_TOLERANCE
        )
        .is_ok());
        // Their "invalid signature" cases (python: one changed character;
        // go/js: unrelated signatures; js/go: "v1," with nothing after it).
        for bad in [
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=",
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            "v1,dawfeoifkpqwoekfpqoekf",
            "v1,",
            &sig[..8],
        ] {
            let e = verify(
                std::slice::from_ref(&s),
                &headers(id, "1614265330", bad),
                body,
                ts,
                DEFAULT_TOLERANCE,
            );
            assert_eq!(e, Err(VerifyError::NoMatchingSignature), "{bad}");
        }
    }

    /// libraries/rust/src/lib.rs, `test_verify_with_multiple_signatures`
    /// and `test_no_verify_with_multiple_signatures`; go/webhook_test.go's
    /// "valid multi sig is valid" adds a `v2` entry, which is skipped.
    #[test]
    fn reference_multiple_signatures() {
        let s = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let id = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        let good = sign(&s, id, NOW, body);
        let others = [
            "v1,tFtCZ5RDCPxzWQRWXWPgrCgE2frDBe9gjpbWQxnVfsQ=",
            "v1,Mm7xgUVICxZfQ3bgf0h0Dof65L/IFx+PnZvnDWPCX6Q=",
            "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            "v1,9DfC1c3eeOrXB6w/5dIDydLNQaEyww5KalE5jLBZucE=",
        ];
        let with = format!(
            "{} {} {} {good} {}",
            others[0], others[1], others[2], others[3]
        );
        let ts = NOW.to_string();
        assert!(verify(
            std::slice::from_ref(&s),
            &headers(id, &ts, &with),
            body,
            NOW,
            DEFAULT_TOLERANCE
        )
        .is_ok());
        let without = others.join(" ");
        assert_eq!(
            verify(
                &[s],
                &headers(id, &ts, &without),
                body,
                NOW,
                DEFAULT_TOLERANCE
            ),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    /// Svix server/svix-server/src/worker.rs, `test_asymmetric_key_signing`
    /// (the same `v1a` value is the spec's example header), with the public
    /// key from tests/it/e2e_endpoint.rs (`test_custom_endpoint_secret`).
    #[test]
    fn reference_svix_ed25519_vector() {
        let sk = SecretKey::parse(
            "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg==",
        )
        .unwrap();
        let pk = PublicKey::parse("whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=").unwrap();
        assert_eq!(sk.public_key(), pk);
        let (id, ts, body) = (
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        let sig = sign_v1a(&sk, id, ts, body);
        assert_eq!(
            sig,
            "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg=="
        );
        let v = Verifier::new().with_public_key(pk);
        let r = v
            .verify(&headers(id, "1614265330", &sig), body, ts)
            .unwrap();
        assert_eq!((r.scheme, r.key_index), (Scheme::V1a, 0));
        // The round trip writes the same text back.
        assert_eq!(
            sk.expose().to_string(),
            "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg=="
        );
    }

    /// Svix server/svix-server/src/core/types/mod.rs,
    /// `test_endpoint_secret_deserialization` and the "bad SK" case beside
    /// it: which texts are keys and which are not.
    #[test]
    fn reference_svix_key_parsing() {
        for bad in [
            "w",
            "whsec_%",
            "whsec_wronglength",
            "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=",
            "hwsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            // 81 bytes: too long.
            "whsec_V09IYXZUaFJoSnFobnpJQkpPMXdpdGFNWnJsRzAxdXZCeTVndVpwRmxSSXFsc0oyYzBTRWRUekJhYnlaZ0JSRGNPQ3BGZG1xYjFVVmRGQ3UK",
        ] {
            assert!(SigningKey::parse(bad).is_err(), "{bad}");
        }
        // Truncated key pair, and one whose public half was altered.
        for bad in [
            "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kv",
            "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlaaaaaaaaaaAJ6p9lMicMFs6Kvg==",
        ] {
            assert!(SecretKey::parse(bad).is_err(), "{bad}");
        }
        let long = "TUdfVE5UMnZlci1TeWxOYXQtX1ZlTW1kLTRtMFdhYmEwanIxdHJvenRCbmlTQ2hFdzBnbHhFbWdFaTJLdzQwSA==";
        let s = Secret::parse(&format!("whsec_{long}")).unwrap();
        assert_eq!(s.byte_len(), 64);
        assert_eq!(s.expose().to_string(), format!("whsec_{long}"));
        assert!(matches!(
            SigningKey::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"),
            Ok(SigningKey::V1(_))
        ));
    }

    // ---- syncsim's published vectors ---------------------------------

    fn trusted(text: &str) -> Verifier {
        let v = Verifier::new();
        match KeyKind::of(text) {
            Some(KeyKind::PublicKey) => v.with_public_key(PublicKey::parse(text).unwrap()),
            _ => Verifier::trusting(&[SigningKey::parse(text).unwrap()]),
        }
    }

    fn verifier_for(list: &serde_json::Value) -> Verifier {
        let mut v = Verifier::new();
        for k in list.as_array().unwrap() {
            let t = trusted(k.as_str().unwrap());
            for s in t.secrets() {
                v = v.with_secret(s.clone());
            }
            for p in t.public_keys() {
                v = v.with_public_key(*p);
            }
        }
        v
    }

    /// docs/webhook-signing-vectors.json, whose expected values were
    /// computed outside this crate: the library signs and verifies exactly
    /// as the file says.
    #[test]
    fn published_vectors_hold() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../docs/webhook-signing-vectors.json")).unwrap();
        let tolerance = Duration::from_secs(doc["tolerance_secs"].as_u64().unwrap());
        let accepted = doc["accepted"].as_array().unwrap();
        let rejected = doc["rejected"].as_array().unwrap();
        assert!(accepted.len() >= 10 && rejected.len() >= 15);
        for c in accepted {
            let name = c["name"].as_str().unwrap();
            let keys: Vec<SigningKey> = c["signing_keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| SigningKey::parse(k.as_str().unwrap()).unwrap())
                .collect();
            let (id, ts) = (
                c["msg_id"].as_str().unwrap(),
                c["timestamp"].as_u64().unwrap(),
            );
            let body = c["body"].as_str().unwrap().as_bytes();
            let sig = c["signature"].as_str().unwrap();
            if !sig.contains("v2,") {
                assert_eq!(signature_header(&keys, id, ts, body), sig, "{name}");
            }
            let v = match c.get("trusted_keys") {
                Some(list) => verifier_for(list),
                None => Verifier::trusting(&keys),
            }
            .with_tolerance(tolerance);
            let ts_text = ts.to_string();
            let now = c["now"].as_u64().unwrap();
            let r = v.verify(&headers(id, &ts_text, sig), body, now);
            assert!(r.is_ok(), "{name}: {r:?}");
        }
        for c in rejected {
            let name = c["name"].as_str().unwrap();
            let v = verifier_for(&c["trusted_keys"]).with_tolerance(tolerance);
            let pairs: Vec<(&str, &str)> = c["headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, x)| (k.as_str(), x.as_str().unwrap()))
                .collect();
            let h = WebhookHeaders::from_pairs(pairs).unwrap();
            let body = c["body"].as_str().unwrap().as_bytes();
            let e = v.verify(&h, body, c["now"].as_u64().unwrap()).unwrap_err();
            assert_eq!(e.code(), c["error"].as_str().unwrap(), "{name}: {e}");
        }
    }

    // ---- Keys -----------------------------------------------------------

    #[test]
    fn secret_errors_are_typed_and_never_quote_the_key() {
        use KeyError::*;
        let e = Secret::parse("C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap_err();
        assert_eq!(
            e,
            MissingPrefix {
                expected: KeyKind::Secret
            }
        );
        let e = Secret::parse("whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=").unwrap_err();
        assert_eq!(
            e,
            WrongKind {
                expected: KeyKind::Secret,
                found: KeyKind::PublicKey
            }
        );
        let e = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYsp$ob7o").unwrap_err();
        assert!(
            matches!(
                e,
                InvalidBase64 {
                    kind: KeyKind::Secret,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(!e.to_string().contains('$'), "{e}");
        assert!(e.to_string().contains("character 28"), "{e}");
        let e = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7o").unwrap_err();
        assert!(matches!(e, InvalidBase64 { .. }), "{e:?}");
        // 23 and 65 bytes are one too few and one too many.
        for (len, ok) in [(0, false), (23, false), (24, true), (64, true), (65, false)] {
            let text = format!("whsec_{}", B64.encode(vec![7u8; len]));
            match Secret::parse(&text) {
                Ok(s) => assert!(ok && s.byte_len() == len),
                Err(e) => {
                    assert!(!ok, "{len}");
                    assert_eq!(
                        e,
                        WrongLength {
                            kind: KeyKind::Secret,
                            len,
                            expected: "24 to 64"
                        }
                    );
                    assert!(e.to_string().contains(&format!("decodes to {len}")), "{e}");
                }
            }
        }
        // The newline a secret file ends with is not part of the secret.
        let s = Secret::parse(" whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD\n").unwrap();
        assert_eq!(
            s.expose().to_string(),
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
        );
        assert!("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
            .parse::<Secret>()
            .is_ok());
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let text = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
        let s = Secret::parse(text).unwrap();
        let sk = SecretKey::generate(&mut ChaCha8Rng::seed_from_u64(1));
        let sk_text = sk.expose().to_string();
        let shown = format!(
            "{s:?} {:?} {:?} {sk:?} {:?} {:#?}",
            s.expose(),
            sk.expose(),
            SigningKey::from(sk.clone()),
            Verifier::trusting(&[s.clone().into()])
        );
        assert!(!shown.contains("C2FVsBQIhrsc"), "{shown}");
        assert!(!shown.contains(&sk_text[5..20]), "{shown}");
        assert!(shown.contains("REDACTED"), "{shown}");
        // The public half is public.
        assert!(shown.contains(&sk.public_key().to_string()), "{shown}");
    }

    #[test]
    fn generation_is_the_callers_rng() {
        let a = secret(42).expose().to_string();
        assert_eq!(a, secret(42).expose().to_string());
        assert_ne!(a, secret(43).expose().to_string());
        assert_eq!(secret(42).byte_len(), GENERATED_SECRET_LEN);
        assert_eq!(Secret::parse(&a).unwrap().expose().to_string(), a);
        let k = SecretKey::generate(&mut ChaCha8Rng::seed_from_u64(5));
        let text = k.expose().to_string();
        assert_eq!(
            text,
            SecretKey::generate(&mut ChaCha8Rng::seed_from_u64(5))
                .expose()
                .to_string()
        );
        assert_eq!(
            SecretKey::parse(&text).unwrap().public_key(),
            k.public_key()
        );
        // The bare 32-byte seed is the same key.
        let seed = &B64.decode(&text["whsk_".len()..]).unwrap()[..32];
        let from_seed = SecretKey::parse(&format!("whsk_{}", B64.encode(seed))).unwrap();
        assert_eq!(from_seed.expose().to_string(), text);
        let pk = k.public_key().to_string();
        assert_eq!(PublicKey::parse(&pk).unwrap(), k.public_key());
    }

    #[test]
    fn public_key_parsing_refuses_bad_points() {
        // The identity point: small order, so anyone can "sign" for it.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let e = PublicKey::parse(&format!("whpk_{}", B64.encode(identity))).unwrap_err();
        assert!(
            matches!(
                e,
                KeyError::InvalidKey {
                    kind: KeyKind::PublicKey,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = PublicKey::parse(&format!("whpk_{}", B64.encode([1u8; 31]))).unwrap_err();
        assert!(matches!(e, KeyError::WrongLength { len: 31, .. }), "{e:?}");
        assert_eq!(
            SigningKey::parse("whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=").unwrap_err(),
            KeyError::WrongKind {
                expected: KeyKind::Secret,
                found: KeyKind::PublicKey
            }
        );
    }

    // ---- Verification -------------------------------------------------------

    #[test]
    fn tolerance_bounds_are_inclusive() {
        let s = secret(1);
        let body = b"{}";
        let sig = sign(&s, "msg_1", NOW, body);
        let ts = NOW.to_string();
        let at = |now: u64, tol: u64| {
            verify(
                std::slice::from_ref(&s),
                &headers("msg_1", &ts, &sig),
                body,
                now,
                Duration::from_secs(tol),
            )
        };
        assert!(at(NOW + 300, 300).is_ok());
        assert!(at(NOW - 300, 300).is_ok());
        assert_eq!(
            at(NOW + 301, 300),
            Err(VerifyError::TimestampTooOld {
                timestamp: NOW,
                now: NOW + 301,
                tolerance_secs: 300
            })
        );
        assert_eq!(
            at(NOW - 301, 300),
            Err(VerifyError::TimestampTooNew {
                timestamp: NOW,
                now: NOW - 301,
                tolerance_secs: 300
            })
        );
        assert!(at(NOW, 0).is_ok());
        assert!(at(NOW + 1, 0).is_err() && at(NOW - 1, 0).is_err());
        // Sub-second tolerances count whole seconds; huge ones do not overflow.
        let sub = |now: u64| {
            verify(
                std::slice::from_ref(&s),
                &headers("msg_1", &ts, &sig),
                body,
                now,
                Duration::from_millis(1999),
            )
        };
        assert!(sub(NOW + 1).is_ok() && sub(NOW + 2).is_err());
        assert!(at(0, u64::MAX).is_ok() && at(u64::MAX, u64::MAX).is_ok());
        assert_eq!(DEFAULT_TOLERANCE.as_secs(), 300);
    }

    #[test]
    fn the_timestamp_is_checked_before_the_signature() {
        // A stale replay is refused as stale even with a valid signature, and
        // a bad signature within the window as a bad signature.
        let s = secret(1);
        let sig = sign(&s, "msg_1", NOW - 3600, b"x");
        let ts = (NOW - 3600).to_string();
        let e = verify(
            std::slice::from_ref(&s),
            &headers("msg_1", &ts, &sig),
            b"x",
            NOW,
            DEFAULT_TOLERANCE,
        );
        assert_eq!(e.unwrap_err().code(), "timestamp_too_old");
    }

    #[test]
    fn malformed_and_missing_headers() {
        let s = [secret(1)];
        let sig = sign(&s[0], "msg_1", NOW, b"x");
        let ts = NOW.to_string();
        let check =
            |h: WebhookHeaders<'_>| verify(&s, &h, b"x", NOW, DEFAULT_TOLERANCE).unwrap_err();
        let full = headers("msg_1", &ts, &sig);
        assert_eq!(
            check(WebhookHeaders { id: None, ..full }),
            VerifyError::MissingHeader(Header::Id)
        );
        assert_eq!(
            check(WebhookHeaders {
                timestamp: None,
                ..full
            }),
            VerifyError::MissingHeader(Header::Timestamp)
        );
        assert_eq!(
            check(WebhookHeaders {
                signature: None,
                ..full
            }),
            VerifyError::MissingHeader(Header::Signature)
        );
        for bad_ts in [
            "",
            "hello",
            "+1700000000",
            "-1",
            "1700000000.0",
            " 1700000000",
            "99999999999999999999999",
        ] {
            let e = check(headers("msg_1", bad_ts, &sig));
            assert!(
                matches!(
                    e,
                    VerifyError::MalformedHeader {
                        header: Header::Timestamp,
                        ..
                    }
                ),
                "{bad_ts:?}: {e:?}"
            );
        }
        for bad_id in ["", "msg.1"] {
            let e = check(headers(bad_id, &ts, &sig));
            assert!(
                matches!(
                    e,
                    VerifyError::MalformedHeader {
                        header: Header::Id,
                        ..
                    }
                ),
                "{e:?}"
            );
        }
        for bad_sig in ["", " ", "   "] {
            let e = check(headers("msg_1", &ts, bad_sig));
            assert!(
                matches!(
                    e,
                    VerifyError::MalformedHeader {
                        header: Header::Signature,
                        ..
                    }
                ),
                "{e:?}"
            );
        }
        // Unknown versions and entries without a comma are skipped.
        assert_eq!(
            check(headers("msg_1", &ts, "v2,abc v0,xyz nocomma")),
            VerifyError::NoUsableSignature
        );
        assert!(verify(
            &s,
            &headers("msg_1", &ts, &format!("nocomma  v9,x {sig}")),
            b"x",
            NOW,
            DEFAULT_TOLERANCE
        )
        .is_ok());
        // Versions are case-sensitive, as the spec writes them.
        assert_eq!(
            check(headers("msg_1", &ts, &sig.replacen("v1", "V1", 1))),
            VerifyError::NoUsableSignature
        );
        // No keys is a configuration error, reported before anything else.
        assert_eq!(
            verify(&[], &full, b"x", NOW, DEFAULT_TOLERANCE),
            Err(VerifyError::NoKeys)
        );
        assert_eq!(
            Verifier::new().verify(&WebhookHeaders::default(), b"", 0),
            Err(VerifyError::NoKeys)
        );
    }

    #[test]
    fn headers_from_pairs() {
        let pairs = [
            ("Content-Type", "application/json"),
            ("Webhook-Id", "msg_1"),
            ("WEBHOOK-TIMESTAMP", "1700000000"),
            ("webhook-signature", "v1,x"),
        ];
        let h = WebhookHeaders::from_pairs(pairs).unwrap();
        assert_eq!(h, headers("msg_1", "1700000000", "v1,x"));
        let twice = [
            ("webhook-id", "a"),
            ("webhook-signature", "v1,x"),
            ("Webhook-Signature", "v1,y"),
        ];
        assert_eq!(
            WebhookHeaders::from_pairs(twice),
            Err(VerifyError::DuplicateHeader(Header::Signature))
        );
        let signed = SignedHeaders::new(&[secret(3).into()], "msg_9", NOW, b"b");
        let h = WebhookHeaders::from_pairs(signed.pairs()).unwrap();
        assert_eq!(h, signed.as_received());
        assert_eq!(signed.pairs()[0], ("webhook-id", "msg_9"));
    }

    #[test]
    fn rotation_signs_with_every_key_and_either_verifies() {
        let (old, new) = (secret(10), secret(11));
        let keys = [SigningKey::from(old.clone()), SigningKey::from(new.clone())];
        let h = SignedHeaders::new(&keys, "msg_r", NOW, b"body");
        let entries: Vec<&str> = h.signature.split(' ').collect();
        assert_eq!(
            entries,
            [
                sign(&old, "msg_r", NOW, b"body"),
                sign(&new, "msg_r", NOW, b"body")
            ]
        );
        let at =
            |secrets: &[Secret]| verify(secrets, &h.as_received(), b"body", NOW, DEFAULT_TOLERANCE);
        assert_eq!(at(std::slice::from_ref(&old)).unwrap().key_index, 0);
        assert_eq!(at(std::slice::from_ref(&new)).unwrap().key_index, 0);
        assert_eq!(at(&[secret(12), new.clone()]).unwrap().key_index, 1);
        assert_eq!(at(&[secret(12)]), Err(VerifyError::NoMatchingSignature));
        // After the overlap, only the new signature is sent: the old secret
        // alone no longer verifies.
        let after = SignedHeaders::new(&keys[1..], "msg_r", NOW, b"body");
        assert!(verify(
            &[old],
            &after.as_received(),
            b"body",
            NOW,
            DEFAULT_TOLERANCE
        )
        .is_err());
        assert_eq!(signature_header(&[], "msg_r", NOW, b"body"), "");
    }

    #[test]
    fn v1a_alongside_v1() {
        let (s, k) = (
            secret(20),
            SecretKey::generate(&mut ChaCha8Rng::seed_from_u64(21)),
        );
        let keys = [SigningKey::from(s.clone()), SigningKey::from(k.clone())];
        assert_eq!(keys[1].scheme(), Scheme::V1a);
        let h = SignedHeaders::new(&keys, "msg_a", NOW, b"hello");
        assert!(h.signature.starts_with("v1,") && h.signature.contains(" v1a,"));
        let pk_only = Verifier::new().with_public_key(k.public_key());
        let r = pk_only.verify(&h.as_received(), b"hello", NOW).unwrap();
        assert_eq!(r.scheme, Scheme::V1a);
        let both = Verifier::trusting(&keys);
        assert_eq!(
            both.verify(&h.as_received(), b"hello", NOW).unwrap().scheme,
            Scheme::V1
        );
        assert_eq!(
            pk_only.verify(&h.as_received(), b"hellO", NOW),
            Err(VerifyError::NoMatchingSignature)
        );
        let other = SecretKey::generate(&mut ChaCha8Rng::seed_from_u64(22)).public_key();
        let wrong = Verifier::new().with_public_key(other);
        assert_eq!(
            wrong.verify(&h.as_received(), b"hello", NOW),
            Err(VerifyError::NoMatchingSignature)
        );
        // A v1 signature's bytes relabelled v1a do not pass, nor the reverse.
        let v1 = sign(&s, "msg_a", NOW, b"hello");
        let ts = NOW.to_string();
        let relabelled = v1.replacen("v1,", "v1a,", 1);
        assert!(pk_only
            .verify(&headers("msg_a", &ts, &relabelled), b"hello", NOW)
            .is_err());
    }

    // ---- Properties -----------------------------------------------------

    fn msg_id() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_-]{1,40}"
    }

    proptest! {
        #![proptest_config(Config {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
            failure_persistence: None,
            ..Config::default()
        })]

        #[test]
        fn signed_messages_verify_and_tampered_ones_do_not(
            key in proptest::collection::vec(any::<u8>(), SECRET_MIN_LEN..=SECRET_MAX_LEN),
            id in msg_id(),
            ts in 0u64..4_000_000_000,
            skew in -300i64..=300,
            body in proptest::collection::vec(any::<u8>(), 0..300),
            flip in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let s = Secret::from_bytes(&key).unwrap();
            let now = ts.saturating_add_signed(skew);
            let sig = sign(&s, &id, ts, &body);
            let ts_text = ts.to_string();
            let h = headers(&id, &ts_text, &sig);
            let ok = verify(std::slice::from_ref(&s), &h, &body, now, DEFAULT_TOLERANCE);
            prop_assert_eq!(ok.map(|v| v.timestamp_secs), Ok(ts));

            // Any changed bit of the body.
            if !body.is_empty() {
                let mut b = body.clone();
                let i = flip.index(b.len());
                b[i] ^= 1 << bit;
                let e = verify(std::slice::from_ref(&s), &h, &b, now, DEFAULT_TOLERANCE);
                prop_assert_eq!(e, Err(VerifyError::NoMatchingSignature));
            }
            // A changed id.
            let other_id = format!("{id}x");
            let e = verify(std::slice::from_ref(&s), &headers(&other_id, &ts_text, &sig), &body, now, DEFAULT_TOLERANCE);
            prop_assert_eq!(e, Err(VerifyError::NoMatchingSignature));
            // A changed timestamp, still within the tolerance.
            let other_ts = if ts > 0 { ts - 1 } else { 1 }.to_string();
            let e = verify(std::slice::from_ref(&s), &headers(&id, &other_ts, &sig), &body, ts, DEFAULT_TOLERANCE);
            prop_assert_eq!(e, Err(VerifyError::NoMatchingSignature));
            // Another secret.
            let mut k2 = key.clone();
            let i = flip.index(k2.len());
            k2[i] ^= 1 << bit;
            let e = verify(&[Secret::from_bytes(&k2).unwrap()], &h, &body, now, DEFAULT_TOLERANCE);
            prop_assert_eq!(e, Err(VerifyError::NoMatchingSignature));
            // A changed bit of the signature itself.
            let mut tag = B64.decode(&sig[3..]).unwrap();
            let i = flip.index(tag.len());
            tag[i] ^= 1 << bit;
            let forged = format!("v1,{}", B64.encode(&tag));
            let e = verify(std::slice::from_ref(&s), &headers(&id, &ts_text, &forged), &body, now, DEFAULT_TOLERANCE);
            prop_assert_eq!(e, Err(VerifyError::NoMatchingSignature));
        }

        #[test]
        fn keys_round_trip_through_their_text(
            key in proptest::collection::vec(any::<u8>(), SECRET_MIN_LEN..=SECRET_MAX_LEN),
            seed in any::<u64>(),
        ) {
            let text = Secret::from_bytes(&key).unwrap().expose().to_string();
            prop_assert_eq!(Secret::parse(&text).unwrap().expose().to_string(), text);
            let sk = SecretKey::generate(&mut ChaCha8Rng::seed_from_u64(seed));
            let text = sk.expose().to_string();
            prop_assert_eq!(SecretKey::parse(&text).unwrap().expose().to_string(), text);
            let pk = sk.public_key().to_string();
            prop_assert_eq!(PublicKey::parse(&pk).unwrap(), sk.public_key());
        }

        #[test]
        fn v1a_round_trips(
            seed in any::<u64>(),
            id in msg_id(),
            ts in 0u64..4_000_000_000,
            body in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let k = SecretKey::generate(&mut ChaCha8Rng::seed_from_u64(seed));
            let sig = sign_v1a(&k, &id, ts, &body);
            let ts_text = ts.to_string();
            let v = Verifier::new().with_public_key(k.public_key());
            prop_assert!(v.verify(&headers(&id, &ts_text, &sig), &body, ts).is_ok());
            let mut b = body.clone();
            b.push(b'!');
            prop_assert_eq!(v.verify(&headers(&id, &ts_text, &sig), &b, ts), Err(VerifyError::NoMatchingSignature));
        }

        #[test]
        fn arbitrary_headers_never_panic(
            id in ".{0,20}",
            ts in ".{0,24}",
            sig in "((v1a?|v2|x),[A-Za-z0-9+/=]{0,90} ?){0,4}",
            now in any::<u64>(),
        ) {
            let v = Verifier::trusting(&[secret(1).into(), SecretKey::generate(&mut ChaCha8Rng::seed_from_u64(1)).into()]);
            let _ = v.verify(&headers(&id, &ts, &sig), b"body", now);
        }
    }
}
