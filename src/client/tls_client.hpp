#pragma once

// The SDK's side of wss://: TLS 1.2+ with the server's certificate verified, its chain
// against the system's trust store or a given CA file (JoinOptions::caFile, --ca-file),
// and its name against the host of the URL (RFC 6125: DNS names, or an IP address for an
// IP literal). A certificate that does not verify ends the handshake;
// tls_failure() then says why as TLS_VERIFICATION_FAILED.

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/error.hpp>

#include "signaling/stream.hpp"
#include "switchboard/result.hpp"

namespace switchboard::client {

// Trusts the authorities in `ca_file` (PEM) only, or the system's when it is empty.
// INVALID_ARGUMENT when the file cannot be read or holds no certificate.
Result<std::unique_ptr<boost::asio::ssl::context>> client_tls_context(const std::string& ca_file);

// Sets SNI (for names) and the name or address the certificate must be for.
Result<void> expect_server_name(signaling::Stream::Tls& tls, const std::string& host);

// The error for a failed client handshake with `server` ("host:port"):
// TLS_VERIFICATION_FAILED when the certificate did not verify, NOT_CONNECTED otherwise.
Error tls_failure(signaling::Stream::Tls& tls, const std::string& server,
                  const boost::beast::error_code& ec);

}  // namespace switchboard::client
