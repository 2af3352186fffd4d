#pragma once

// The server's TLS settings (--tls-cert, --tls-key): TLS 1.2 and 1.3 only, forward-secret
// AEAD cipher suites only, the certificate chain and key read and checked once at start.

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "switchboard/result.hpp"

namespace switchboard::server {

// INVALID_ARGUMENT naming the file when the certificate or key cannot be read or parsed,
// or when the key does not belong to the certificate.
Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_context(const std::string& cert_file,
                                                                    const std::string& key_file);

}  // namespace switchboard::server
