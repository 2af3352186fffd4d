#include "server/tls_context.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include <boost/asio/ssl/error.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace switchboard::server {

namespace ssl = boost::asio::ssl;

namespace {

// TLS 1.2 suites with ECDHE and an AEAD (Mozilla's "intermediate" list); TLS 1.3 keeps
// OpenSSL's default suites, which are all of that kind.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

Error invalid(std::string message) {
  return Error{ErrorCode::InvalidArgument, std::move(message)};
}

// OpenSSL's last failure, taken off its error queue.
struct OpenSslFailure {
  unsigned long code = 0;
  std::string reason;  // "no start line", "bad decrypt", else `fallback`'s message
};
OpenSslFailure last_failure(const boost::system::error_code& fallback) {
  OpenSslFailure failure{ERR_peek_last_error(), fallback.message()};
  ERR_clear_error();
  // Asio may have taken the error off the queue already, into `fallback`.
  if (failure.code == 0 && fallback.category() == boost::asio::error::get_ssl_category()) {
    failure.code = static_cast<unsigned long>(fallback.value());
  }
  if (failure.code != 0) {
    if (const char* reason = ERR_reason_error_string(failure.code)) failure.reason = reason;
  }
  return failure;
}

// A missing or unreadable file is said as such, before OpenSSL's terser words.
Result<void> check_readable(const std::string& path, const std::string& what) {
  std::ifstream file(path);
  if (!file) {
    return invalid("cannot read the TLS " + what + " " + path + ": " + std::strerror(errno));
  }
  return {};
}

}  // namespace

Result<std::shared_ptr<ssl::context>> make_tls_context(const std::string& cert_file,
                                                       const std::string& key_file) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    ERR_clear_error();
    return Error{ErrorCode::Internal, "this OpenSSL refuses TLS 1.2+ with the AEAD suites"};
  }
  SSL_CTX_set_options(
      native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);

  // An encrypted key would make OpenSSL ask for its passphrase on the terminal: refuse it.
  context->set_password_callback(
      [](std::size_t, ssl::context::password_purpose) { return std::string(); });
  if (auto r = check_readable(cert_file, "certificate"); !r) return r.error();
  if (auto r = check_readable(key_file, "key"); !r) return r.error();
  boost::system::error_code ec;
  ERR_clear_error();
  context->use_certificate_chain_file(cert_file, ec);
  if (ec) {
    return invalid("cannot use the TLS certificate " + cert_file + ": " + last_failure(ec).reason +
                   " (expected PEM: the server's certificate, then any intermediates)");
  }
  context->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) {
    const auto failure = last_failure(ec);
    if (ERR_GET_REASON(failure.code) == X509_R_KEY_VALUES_MISMATCH) {
      return invalid("the TLS key " + key_file + " does not belong to the certificate " +
                     cert_file);
    }
    return invalid("cannot use the TLS key " + key_file + ": " + failure.reason +
                   " (expected an unencrypted PEM private key)");
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    return invalid("the TLS key " + key_file + " does not belong to the certificate " + cert_file);
  }
  return context;
}

}  // namespace switchboard::server
