#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include <openssl/types.h>

#include "core/bytes.hpp"
#include "core/clock.hpp"
#include "switchboard/result.hpp"
#include "webrtc/certificate.hpp"

namespace switchboard::webrtc {

// From SDP a=setup (RFC 5763): "active" is the DTLS client, "passive" the server.
enum class DtlsRole { Client, Server };

enum class DtlsState { New, Connecting, Connected, Failed, Closed };

// The largest plaintext one send() takes: a full TLS record.
inline constexpr std::size_t kMaxDtlsRecordPlaintext = 16384;

// One DTLS 1.2 association over an unreliable datagram path, with no I/O of its own
// (docs/protocol.md, "DTLS 1.2"). The owner feeds it the datagrams that looks_like_dtls() picked
// out, calls handle_timeout() at next_timeout(), and gets back datagrams to send and
// decrypted records (SCTP packets).
//
// Single-threaded: the owner serialises every call. Callbacks run synchronously inside
// start, handle_datagram, handle_timeout, send and close:
//  - send_datagram runs while OpenSSL is mid-operation: it must only hand the bytes to the
//    wire (or copy them), never call back into this transport.
//  - connected, app_data, failed and closed run between OpenSSL calls: they may call send()
//    and close(), but must not call start/handle_datagram/handle_timeout, and must not
//    destroy the transport (defer that to the event loop).
// Views passed to callbacks are valid only during the call.
class DtlsTransport {
 public:
  struct Callbacks {
    std::function<void(ByteView)> send_datagram;  // a datagram to put on the wire
    std::function<void()> connected;              // handshake done AND remote fingerprint verified
    std::function<void(ByteView)> app_data;       // one decrypted record (an SCTP packet)
    std::function<void(const Error&)> failed;     // handshake failure, fingerprint, fatal alert
    std::function<void()> closed;                 // the peer sent close_notify
  };

  DtlsTransport(std::shared_ptr<const Certificate> local, DtlsRole role,
                Fingerprint remote_fingerprint, Callbacks callbacks);
  ~DtlsTransport();
  DtlsTransport(const DtlsTransport&) = delete;
  DtlsTransport& operator=(const DtlsTransport&) = delete;

  // Client: sends the ClientHello. Server: waits for one. Starts the 30 s handshake limit.
  void start(core::TimePoint now);
  // One datagram from the peer; it may hold several records. A datagram arriving before
  // start() starts the transport.
  void handle_datagram(ByteView datagram, core::TimePoint now);
  // Encrypts `plaintext` as one record. NotConnected before the handshake completes or after
  // close/failure; MessageTooLarge above kMaxDtlsRecordPlaintext; InvalidArgument if empty.
  Result<void> send(ByteView plaintext);
  // When handle_timeout is next due: a handshake retransmission or the handshake limit.
  std::optional<core::TimePoint> next_timeout() const;
  void handle_timeout(core::TimePoint now);
  // Sends close_notify when connected; stops the handshake otherwise. Does not call
  // `closed` (that reports the peer closing).
  void close();

  DtlsState state() const { return state_; }
  // The negotiated cipher suite's OpenSSL name once connected, else empty.
  std::string_view cipher() const;

 private:
  struct OpenSsl;  // the C callbacks OpenSSL calls into; defined in the .cpp
  friend struct OpenSsl;

  void advance_handshake();
  void finish_handshake();
  void read_records();
  void fail(const Error& error);
  void refresh_timer(core::TimePoint now);
  bool matches_remote(X509* peer) const;

  struct SslFree {
    void operator()(SSL* ssl) const;
  };

  std::shared_ptr<const Certificate> local_;  // keeps the shared SSL_CTX's key alive
  DtlsRole role_;
  Fingerprint remote_fingerprint_;
  Callbacks callbacks_;
  std::shared_ptr<SSL_CTX> context_;
  std::unique_ptr<SSL, SslFree> ssl_;
  std::optional<Error> setup_error_;  // reported by start(): the constructor cannot fail

  DtlsState state_ = DtlsState::New;
  bool fingerprint_rejected_ = false;
  ByteView input_;                 // the datagram OpenSSL is reading, until its BIO read takes it
  std::size_t aead_overhead_ = 0;  // of the negotiated cipher, once connected
  std::unique_ptr<std::uint8_t[]> plaintext_;  // SSL_read's buffer, reused for every record
  core::TimePoint handshake_deadline_{};
  std::optional<core::TimePoint> retransmit_at_;
};

// RFC 7983 demultiplexing: DTLS records start with a content type in 20..63.
inline bool looks_like_dtls(ByteView datagram) noexcept {
  return !datagram.empty() && datagram[0] >= 20 && datagram[0] <= 63;
}

}  // namespace switchboard::webrtc
