#include "webrtc/dtls_transport.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

// Design notes: docs/protocol.md, "DTLS 1.2".

namespace switchboard::webrtc {
namespace {

// What Chromium offers for WebRTC with ECDSA certificates, AES-128-GCM preferred.
constexpr const char* kCipherList =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305";
constexpr const char* kGroups = "X25519:P-256";

// Largest DTLS datagram (records and their headers, before UDP/IP): with 48 bytes of
// IPv6+UDP it still fits the 1280-byte IPv6 minimum MTU, so handshake flights never need
// path-MTU discovery.
constexpr long kDtlsMtu = 1200;

// Retransmission: 400 ms first (OpenSSL's 1 s is slow on the paths WebRTC runs over),
// doubling, capped so a flight lost late in a bad burst still gets retried in time.
constexpr unsigned kFirstRetransmitUs = 400'000;
constexpr unsigned kMaxRetransmitUs = 3'200'000;
constexpr std::chrono::seconds kHandshakeLimit{30};

std::string drain_openssl_errors() {
  std::string out;
  char line[256];
  while (unsigned long code = ERR_get_error()) {
    ERR_error_string_n(code, line, sizeof line);
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out.empty() ? std::string("no detail from OpenSSL") : out;
}

// RFC 6347 §4.1.2.7 says invalid records SHOULD be silently discarded, but OpenSSL 3.0
// aborts the association on several kinds (openssl/openssl#25389): encrypted records
// shorter than the AEAD overhead (even after the handshake), and, while handshaking,
// plaintext records of unexpected type or malformed alerts, ChangeCipherSpecs or handshake
// fragments. One spoofed datagram would end a call, so such datagrams are dropped here
// before OpenSSL sees them. A genuine peer never sends one, so dropping the whole datagram
// loses nothing. (A well-formed spoofed plaintext alert can still end a handshake: DTLS 1.2
// does not authenticate epoch 0.)
constexpr std::size_t kHandshakeHeaderLength = 12;
constexpr std::uint8_t kChangeCipherSpec = 20;
constexpr std::uint8_t kAlert = 21;
constexpr std::uint8_t kHandshake = 22;

bool read_u24(ByteReader& reader, std::uint32_t& value) {
  std::uint8_t high = 0;
  std::uint16_t low = 0;
  if (!reader.u8(high) || !reader.u16(low)) return false;
  value = (std::uint32_t{high} << 16) | low;
  return true;
}

bool handshake_fragments_fit(ByteView body) {
  ByteReader reader(body);
  while (reader.remaining() > 0) {
    std::uint8_t type = 0;
    std::uint16_t message_seq = 0;
    std::uint32_t message_length = 0, fragment_offset = 0, fragment_length = 0;
    if (!reader.u8(type) || !read_u24(reader, message_length) || !reader.u16(message_seq) ||
        !read_u24(reader, fragment_offset) || !read_u24(reader, fragment_length) ||
        fragment_offset + fragment_length > message_length || !reader.skip(fragment_length)) {
      return false;
    }
  }
  return true;
}

bool plaintext_record_is_sane(std::uint8_t type, ByteView body) {
  switch (type) {
    case kChangeCipherSpec:
      return body.size() == 1 && body[0] == 1;
    case kAlert:
      return body.size() == 2 && (body[0] == 1 || body[0] == 2);  // warning or fatal
    case kHandshake:
      return body.size() >= kHandshakeHeaderLength && handshake_fragments_fit(body);
    default:
      return false;  // application data is never sent unencrypted
  }
}

// `aead_overhead`: explicit nonce + tag of the negotiated cipher (the largest if unknown).
bool records_are_sane(ByteView datagram, std::size_t aead_overhead) {
  ByteReader reader(datagram);
  while (reader.remaining() > 0) {
    std::uint8_t type = 0;
    std::uint16_t version = 0, epoch = 0, length = 0;
    ByteView body;
    if (!reader.u8(type) || !reader.u16(version) || !reader.u16(epoch) || !reader.skip(6) ||
        !reader.u16(length) || !reader.bytes(length, body)) {
      return false;
    }
    if (epoch == 0 ? !plaintext_record_is_sane(type, body) : body.size() < aead_overhead) {
      return false;
    }
  }
  return true;
}

constexpr std::size_t kGcmOverhead = 8 + 16;  // explicit nonce + tag
constexpr std::size_t kChaChaOverhead = 16;   // tag; the nonce is implicit

std::size_t aead_overhead(const SSL_CIPHER* cipher) {
  if (cipher != nullptr && SSL_CIPHER_get_cipher_nid(cipher) == NID_chacha20_poly1305) {
    return kChaChaOverhead;
  }
  return kGcmOverhead;
}

struct ContextFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};

}  // namespace

// OpenSSL's C callbacks, given friend access so the transport's state stays private.
struct DtlsTransport::OpenSsl {
  static DtlsTransport* from_bio(BIO* bio) {
    return static_cast<DtlsTransport*>(BIO_get_data(bio));
  }

  // A datagram BIO over memory: each write is one outgoing datagram, handed straight to
  // send_datagram (no copy, no queue); each read takes the whole datagram being handled.
  static int bio_write(BIO* bio, const char* data, int length) {
    BIO_clear_retry_flags(bio);
    DtlsTransport* self = from_bio(bio);
    if (self->callbacks_.send_datagram) {
      self->callbacks_.send_datagram(
          ByteView(reinterpret_cast<const std::uint8_t*>(data), static_cast<std::size_t>(length)));
    }
    return length;
  }

  static int bio_read(BIO* bio, char* out, int capacity) {
    BIO_clear_retry_flags(bio);
    DtlsTransport* self = from_bio(bio);
    if (self->input_.empty()) {
      BIO_set_retry_read(bio);
      return -1;
    }
    // Like a UDP socket, a datagram longer than the buffer is truncated (OpenSSL's buffer
    // holds any valid record, so only garbage gets cut).
    const std::size_t n = std::min(self->input_.size(), static_cast<std::size_t>(capacity));
    std::memcpy(out, self->input_.data(), n);
    self->input_ = {};
    return static_cast<int>(n);
  }

  static long bio_ctrl(BIO* /*bio*/, int command, long /*larg*/, void* /*parg*/) {
    switch (command) {
      case BIO_CTRL_FLUSH:
        return 1;  // writes are already on their way; OpenSSL stalls if flush "fails"
      case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
      case BIO_CTRL_PENDING:
      case BIO_CTRL_WPENDING:
      default:
        return 0;  // no MTU queries (SSL_OP_NO_QUERY_MTU), no buffering, no peer address
    }
  }

  static int bio_create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
  }

  static int bio_destroy(BIO* /*bio*/) { return 1; }  // owns nothing

  static BIO_METHOD* bio_method() {
    static BIO_METHOD* const method = [] {
      BIO_METHOD* m =
          BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "switchboard DTLS datagrams");
      if (m != nullptr) {
        BIO_meth_set_write(m, bio_write);
        BIO_meth_set_read(m, bio_read);
        BIO_meth_set_ctrl(m, bio_ctrl);
        BIO_meth_set_create(m, bio_create);
        BIO_meth_set_destroy(m, bio_destroy);
      }
      return m;
    }();
    return method;
  }

  // Replaces X.509 path validation: WebRTC certificates are self-signed and trusted only
  // through the SDP fingerprint. Rejecting here (rather than after the handshake) makes
  // OpenSSL abort with a bad_certificate alert, so the peer fails too and not one
  // application record is ever decrypted.
  static int verify_certificate(X509_STORE_CTX* store, void* /*arg*/) {
    auto* ssl =
        static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    auto* self = ssl == nullptr ? nullptr : static_cast<DtlsTransport*>(SSL_get_app_data(ssl));
    if (self != nullptr && self->matches_remote(X509_STORE_CTX_get0_cert(store))) {
      X509_STORE_CTX_set_error(store, X509_V_OK);
      return 1;
    }
    if (self != nullptr) self->fingerprint_rejected_ = true;
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return 0;
  }

  static unsigned int retransmit_timeout(SSL* /*ssl*/, unsigned int previous_us) {
    if (previous_us == 0) return kFirstRetransmitUs;
    return std::min(previous_us * 2, kMaxRetransmitUs);
  }

  static Result<std::shared_ptr<SSL_CTX>> make_context(const Certificate& certificate) {
    std::unique_ptr<SSL_CTX, ContextFree> ctx(SSL_CTX_new(DTLS_method()));
    if (!ctx) return Error{ErrorCode::Internal, "SSL_CTX_new failed: " + drain_openssl_errors()};
    SSL_CTX* c = ctx.get();
    const bool ok =
        SSL_CTX_set_min_proto_version(c, DTLS1_2_VERSION) == 1 &&
        SSL_CTX_set_max_proto_version(c, DTLS1_2_VERSION) == 1 &&
        SSL_CTX_set_cipher_list(c, kCipherList) == 1 && SSL_CTX_set1_groups_list(c, kGroups) == 1 &&
        SSL_CTX_use_certificate(c, certificate.x509()) == 1 &&
        SSL_CTX_use_PrivateKey(c, certificate.key()) == 1 && SSL_CTX_check_private_key(c) == 1;
    if (!ok) {
      return Error{ErrorCode::Internal,
                   "could not configure DTLS 1.2 (OpenSSL too old or restricted?): " +
                       drain_openssl_errors()};
    }
    // No resumption or renegotiation: each WebRTC connection does one full handshake, and
    // renegotiation would only be a DoS surface. NO_QUERY_MTU: the BIO has no socket to ask.
    SSL_CTX_set_options(c, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    // Both roles demand a certificate: the server sends CertificateRequest.
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    SSL_CTX_set_cert_verify_callback(c, verify_certificate, nullptr);
    return std::shared_ptr<SSL_CTX>(ctx.release(), ContextFree{});
  }

  // One SSL_CTX per certificate, shared by all its transports: building one costs ~120 us
  // (cipher and provider lookups), a noticeable share of a server's handshake CPU, and
  // nothing in it differs between transports (role, fingerprint and timer are per SSL).
  // Keyed by address: a live context implies a live transport holding the certificate, so
  // the address cannot be reused while its entry can still be locked.
  static Result<std::shared_ptr<SSL_CTX>> shared_context(const Certificate& certificate) {
    static std::mutex mutex;
    static std::map<const Certificate*, std::weak_ptr<SSL_CTX>> contexts;
    std::lock_guard lock(mutex);
    if (auto it = contexts.find(&certificate); it != contexts.end()) {
      if (auto ctx = it->second.lock()) return ctx;
    }
    std::erase_if(contexts, [](const auto& entry) { return entry.second.expired(); });
    auto ctx = make_context(certificate);
    if (ctx) contexts[&certificate] = *ctx;
    return ctx;
  }
};

void DtlsTransport::SslFree::operator()(SSL* ssl) const {
  SSL_free(ssl);
}

DtlsTransport::DtlsTransport(std::shared_ptr<const Certificate> local, DtlsRole role,
                             Fingerprint remote_fingerprint, Callbacks callbacks)
    : local_(std::move(local)),
      role_(role),
      remote_fingerprint_(remote_fingerprint),
      callbacks_(std::move(callbacks)),
      plaintext_(new std::uint8_t[kMaxDtlsRecordPlaintext]) {
  if (!local_) {
    setup_error_ = Error{ErrorCode::InvalidArgument, "DtlsTransport needs a local certificate"};
    return;
  }
  ERR_clear_error();
  auto context = OpenSsl::shared_context(*local_);
  if (!context) {
    setup_error_ = std::move(context).error();
    return;
  }
  context_ = std::move(*context);
  ssl_.reset(SSL_new(context_.get()));
  BIO* bio = OpenSsl::bio_method() == nullptr ? nullptr : BIO_new(OpenSsl::bio_method());
  if (!ssl_ || bio == nullptr) {
    BIO_free(bio);
    ssl_.reset();
    setup_error_ =
        Error{ErrorCode::Internal, "could not create the DTLS session: " + drain_openssl_errors()};
    return;
  }
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_.get(), bio, bio);  // one BIO both ways; SSL takes the single reference
  SSL_set_app_data(ssl_.get(), this);
  SSL_set_mtu(ssl_.get(), kDtlsMtu);
  DTLS_set_timer_cb(ssl_.get(), OpenSsl::retransmit_timeout);
  if (role_ == DtlsRole::Client) {
    SSL_set_connect_state(ssl_.get());
  } else {
    SSL_set_accept_state(ssl_.get());
  }
}

DtlsTransport::~DtlsTransport() = default;

void DtlsTransport::start(core::TimePoint now) {
  if (state_ != DtlsState::New) return;
  if (setup_error_) {
    fail(*setup_error_);
    return;
  }
  state_ = DtlsState::Connecting;
  handshake_deadline_ = now + kHandshakeLimit;
  if (role_ == DtlsRole::Client) advance_handshake();
  refresh_timer(now);
}

void DtlsTransport::handle_datagram(ByteView datagram, core::TimePoint now) {
  if (state_ == DtlsState::New) start(now);
  if (state_ == DtlsState::Connecting && now >= handshake_deadline_) {
    handle_timeout(now);
    return;
  }
  if (state_ != DtlsState::Connecting && state_ != DtlsState::Connected) return;
  const std::size_t overhead = state_ == DtlsState::Connected
                                   ? aead_overhead_
                                   : aead_overhead(SSL_get_pending_cipher(ssl_.get()));
  if (!records_are_sane(datagram, overhead)) return;
  input_ = datagram;
  if (state_ == DtlsState::Connecting) advance_handshake();
  // Also right after the handshake: records behind the Finished in the same datagram are
  // already in OpenSSL's buffer.
  if (state_ == DtlsState::Connected) read_records();
  input_ = {};
  refresh_timer(now);
}

Result<void> DtlsTransport::send(ByteView plaintext) {
  if (state_ != DtlsState::Connected) {
    return Error{ErrorCode::NotConnected, "DTLS is not connected; wait for the connected event"};
  }
  if (plaintext.empty()) return Error{ErrorCode::InvalidArgument, "a DTLS record cannot be empty"};
  if (plaintext.size() > kMaxDtlsRecordPlaintext) {
    return Error{ErrorCode::MessageTooLarge, "a DTLS record carries at most 16384 bytes"};
  }
  ERR_clear_error();
  const int written = SSL_write(ssl_.get(), plaintext.data(), static_cast<int>(plaintext.size()));
  if (written == static_cast<int>(plaintext.size())) return {};
  // The BIO never pushes back, so a short or failed write is OpenSSL giving up for good.
  Error error{ErrorCode::NotConnected, "DTLS write failed: " + drain_openssl_errors()};
  fail(error);
  return error;
}

std::optional<core::TimePoint> DtlsTransport::next_timeout() const {
  if (state_ == DtlsState::Connecting) {
    return retransmit_at_ ? std::min(*retransmit_at_, handshake_deadline_) : handshake_deadline_;
  }
  if (state_ == DtlsState::Connected) return retransmit_at_;
  return std::nullopt;
}

void DtlsTransport::handle_timeout(core::TimePoint now) {
  if (state_ == DtlsState::Connecting && now >= handshake_deadline_) {
    fail(Error{ErrorCode::NotConnected,
               "DTLS handshake did not complete within 30 s; check that the peer is reachable "
               "and uses the opposite DTLS role"});
    return;
  }
  if (state_ != DtlsState::Connecting && state_ != DtlsState::Connected) return;
  // OpenSSL keeps its own (real-clock) timer and retransmits only once it has run out.
  ERR_clear_error();
  if (DTLSv1_handle_timeout(ssl_.get()) < 0) {
    fail(Error{ErrorCode::NotConnected,
               "DTLS handshake gave up retransmitting: " + drain_openssl_errors()});
    return;
  }
  refresh_timer(now);
}

void DtlsTransport::close() {
  if (state_ == DtlsState::Connected) {
    ERR_clear_error();
    SSL_shutdown(ssl_.get());  // one close_notify; not waiting for the peer's
    ERR_clear_error();
  }
  if (state_ != DtlsState::Failed) state_ = DtlsState::Closed;
  retransmit_at_.reset();
}

std::string_view DtlsTransport::cipher() const {
  if (state_ != DtlsState::Connected) return {};
  const SSL_CIPHER* current = SSL_get_current_cipher(ssl_.get());
  return current == nullptr ? std::string_view() : SSL_CIPHER_get_name(current);
}

void DtlsTransport::advance_handshake() {
  ERR_clear_error();
  const int result = SSL_do_handshake(ssl_.get());
  if (result == 1) {
    finish_handshake();
    return;
  }
  const int error = SSL_get_error(ssl_.get(), result);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return;
  if (fingerprint_rejected_) {
    ERR_clear_error();
    fail(Error{ErrorCode::Unauthorized,
               "remote DTLS certificate fingerprint does not match the SDP fingerprint"});
    return;
  }
  fail(Error{ErrorCode::NotConnected, "DTLS handshake failed: " + drain_openssl_errors()});
}

void DtlsTransport::finish_handshake() {
  // The verify callback already checked; this second look guards against any path on which
  // OpenSSL would skip it (resumption is off, but the check is cheap and runs once).
  if (!matches_remote(SSL_get0_peer_certificate(ssl_.get()))) {
    fail(Error{ErrorCode::Unauthorized,
               "remote DTLS certificate fingerprint does not match the SDP fingerprint"});
    return;
  }
  aead_overhead_ = aead_overhead(SSL_get_current_cipher(ssl_.get()));
  state_ = DtlsState::Connected;
  if (callbacks_.connected) callbacks_.connected();
}

void DtlsTransport::read_records() {
  while (state_ == DtlsState::Connected) {
    ERR_clear_error();
    const int n = SSL_read(ssl_.get(), plaintext_.get(), static_cast<int>(kMaxDtlsRecordPlaintext));
    if (n > 0) {
      if (callbacks_.app_data) {
        callbacks_.app_data(ByteView(plaintext_.get(), static_cast<std::size_t>(n)));
      }
      continue;
    }
    const int error = SSL_get_error(ssl_.get(), n);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return;
    if (error == SSL_ERROR_ZERO_RETURN) {
      SSL_shutdown(ssl_.get());  // answer with our close_notify, as TLS expects
      ERR_clear_error();
      state_ = DtlsState::Closed;
      retransmit_at_.reset();
      if (callbacks_.closed) callbacks_.closed();
      return;
    }
    fail(Error{ErrorCode::NotConnected, "DTLS connection failed: " + drain_openssl_errors()});
    return;
  }
}

void DtlsTransport::fail(const Error& error) {
  if (state_ == DtlsState::Failed || state_ == DtlsState::Closed) return;
  state_ = DtlsState::Failed;
  retransmit_at_.reset();
  if (callbacks_.failed) callbacks_.failed(error);
}

void DtlsTransport::refresh_timer(core::TimePoint now) {
  timeval remaining{};
  if ((state_ == DtlsState::Connecting || state_ == DtlsState::Connected) &&
      DTLSv1_get_timeout(ssl_.get(), &remaining) == 1) {
    retransmit_at_ =
        now + std::chrono::seconds(remaining.tv_sec) + std::chrono::microseconds(remaining.tv_usec);
  } else {
    retransmit_at_.reset();
  }
}

bool DtlsTransport::matches_remote(X509* peer) const {
  if (peer == nullptr) return false;
  const Fingerprint actual = fingerprint_of(peer);
  return actual != Fingerprint{} &&
         CRYPTO_memcmp(actual.data(), remote_fingerprint_.data(), actual.size()) == 0;
}

}  // namespace switchboard::webrtc
