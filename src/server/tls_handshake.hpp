#pragma once

// The start of every connection to a TLS port (--tls-cert): a TLS client gets the server
// handshake, bounded by kTlsHandshakeTimeout so a silent client cannot hold a socket; a
// plain-text client (http:// or ws:// to an https port) gets a plain 400 saying to use
// https:// or wss://, and the close. Only a completed handshake reaches `ready`.

#include <chrono>
#include <functional>
#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "signaling/stream.hpp"

namespace switchboard::server {

inline constexpr auto kTlsHandshakeTimeout = std::chrono::seconds(10);

void accept_tls(boost::asio::ip::tcp::socket socket,
                std::shared_ptr<boost::asio::ssl::context> context,
                std::function<void(signaling::Stream)> ready);

}  // namespace switchboard::server
