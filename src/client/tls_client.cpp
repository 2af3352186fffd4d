#include "client/tls_client.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include <boost/asio/ip/address.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

namespace switchboard::client {

namespace ssl = boost::asio::ssl;

Result<std::unique_ptr<ssl::context>> client_tls_context(const std::string& ca_file) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = context->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    return Error{ErrorCode::Internal, "this OpenSSL refuses TLS 1.2 and later"};
  }
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  context->set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  if (ca_file.empty()) {
    context->set_default_verify_paths(ec);
    if (ec) {
      return Error{ErrorCode::Internal,
                   "cannot load the system's trusted certificates: " + ec.message()};
    }
    return context;
  }
  if (std::ifstream file(ca_file); !file) {
    return Error{ErrorCode::InvalidArgument,
                 "cannot read the CA file " + ca_file + ": " + std::strerror(errno)};
  }
  context->load_verify_file(ca_file, ec);
  if (ec) {
    ERR_clear_error();
    return Error{ErrorCode::InvalidArgument,
                 "the CA file " + ca_file + " holds no PEM certificate (" + ec.message() + ")"};
  }
  return context;
}

Result<void> expect_server_name(signaling::Stream::Tls& tls, const std::string& host) {
  SSL* native = tls.native_handle();
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  const bool ip_literal = !ec;
  bool ok = false;
  if (ip_literal) {
    // No SNI for an address (RFC 6066); the certificate must name it as an IP SAN.
    ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), host.c_str()) == 1;
  } else {
    SSL_set_hostflags(native, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    ok = SSL_set_tlsext_host_name(native, host.c_str()) == 1 &&
         SSL_set1_host(native, host.c_str()) == 1;
  }
  if (!ok) {
    ERR_clear_error();
    return Error{ErrorCode::InvalidArgument, "cannot check a certificate against host " + host};
  }
  return {};
}

Error tls_failure(signaling::Stream::Tls& tls, const std::string& server,
                  const boost::beast::error_code& ec) {
  const long verify = SSL_get_verify_result(tls.native_handle());
  ERR_clear_error();
  if (verify != X509_V_OK) {
    return Error{ErrorCode::TlsVerificationFailed,
                 "the certificate of " + server +
                     " did not verify: " + X509_verify_cert_error_string(verify) +
                     "; trust the CA that signed it with --ca-file (JoinOptions::caFile), or "
                     "connect with the host name the certificate is for"};
  }
  return Error{ErrorCode::NotConnected, "TLS handshake with " + server + " failed: " +
                                            ec.message() + " (is it a wss:// server?)"};
}

}  // namespace switchboard::client
