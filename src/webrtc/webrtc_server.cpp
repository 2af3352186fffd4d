#include "webrtc/webrtc_server.hpp"

#include <string>

#include <boost/asio/ip/address.hpp>
#include <openssl/rand.h>

#include "webrtc/stun.hpp"

namespace switchboard::webrtc {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;

constexpr std::size_t kMaxDatagram = 65536;
constexpr auto kConsentCheckInterval = std::chrono::seconds(1);

std::string random_ice_string(std::size_t length) {
  static constexpr char kIceChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out(length, 'a');
  std::vector<unsigned char> random(length);
  RAND_bytes(random.data(), static_cast<int>(random.size()));
  for (std::size_t i = 0; i < length; ++i) out[i] = kIceChars[random[i] % 64];
  return out;
}

}  // namespace

SocketAddress to_socket_address(const udp::endpoint& endpoint) {
  const auto address = endpoint.address();
  if (address.is_v4()) return SocketAddress::v4(address.to_v4().to_bytes(), endpoint.port());
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) {
    return SocketAddress::v4(asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes(),
                             endpoint.port());
  }
  return SocketAddress::v6(v6.to_bytes(), endpoint.port());
}

udp::endpoint to_endpoint(const SocketAddress& address) {
  const ByteView ip = address.ip_bytes();
  if (address.is_v4()) {
    asio::ip::address_v4::bytes_type b{};
    std::copy(ip.begin(), ip.end(), b.begin());
    return {asio::ip::address_v4(b), address.port()};
  }
  asio::ip::address_v6::bytes_type b{};
  std::copy(ip.begin(), ip.end(), b.begin());
  return {asio::ip::address_v6(b), address.port()};
}

IceCredentials random_ice_credentials() {
  return {random_ice_string(8), random_ice_string(24)};
}

WebRtcServer::WebRtcServer(asio::io_context& io)
    : socket_(io), consent_timer_(io), buffer_(new std::uint8_t[kMaxDatagram]) {}

WebRtcServer::~WebRtcServer() {
  *alive_ = false;
}

Result<void> WebRtcServer::listen(const udp::endpoint& bind) {
  boost::system::error_code ec;
  socket_.open(bind.protocol(), ec);
  if (!ec) socket_.set_option(asio::socket_base::reuse_address(true), ec);
  // Large kernel buffers absorb bursts from many participants between loop turns.
  if (!ec) socket_.set_option(asio::socket_base::receive_buffer_size(8 * 1024 * 1024), ec);
  if (!ec) socket_.set_option(asio::socket_base::send_buffer_size(8 * 1024 * 1024), ec);
  if (!ec) socket_.bind(bind, ec);
  if (!ec) socket_.non_blocking(true, ec);
  if (!ec) enable_receive_coalescing(socket_.native_handle());
  if (ec) {
    return Error{ErrorCode::Internal, "cannot listen on UDP " + bind.address().to_string() + ":" +
                                          std::to_string(bind.port()) + ": " + ec.message()};
  }
  wait_readable();
  schedule_consent_check();
  return {};
}

std::uint16_t WebRtcServer::port() const {
  boost::system::error_code ec;
  return socket_.local_endpoint(ec).port();
}

WebRtcServer::SessionId WebRtcServer::add_session(IceCredentials local, std::string remote_ufrag,
                                                  SessionHandlers handlers) {
  const SessionId id = next_session_++;
  ice_.add_session(id, std::move(local), std::move(remote_ufrag));
  sessions_.emplace(id, std::move(handlers));
  return id;
}

void WebRtcServer::remove_session(SessionId id) {
  ice_.remove_session(id);
  sessions_.erase(id);
}

bool WebRtcServer::send(SessionId id, ByteView datagram) {
  auto to = ice_.selected_address(id);
  if (!to) return false;
  queue(*to, datagram);
  return true;
}

void WebRtcServer::queue(const SocketAddress& to, ByteView datagram) {
  outgoing_.add(to, datagram);
  ++stats_.datagrams_out;
  // A GSO write's worth goes at once: held to the end of a long turn, SCTP's SACKs in
  // the queue would stall the peers' windows.
  if (outgoing_.size() >= kFlushEarly) {
    flush();
    return;
  }
  if (flush_posted_) return;
  flush_posted_ = true;
  asio::post(socket_.get_executor(), [this, alive = alive_] {
    if (*alive) flush();
  });
}

void WebRtcServer::flush() {
  flush_posted_ = false;
  // Non-blocking: a full kernel buffer drops datagrams, as the network would; SCTP
  // retransmits what matters.
  stats_.send_errors += outgoing_.flush(socket_.native_handle());
}

void WebRtcServer::wait_readable() {
  socket_.async_wait(udp::socket::wait_read, [this, alive = alive_](boost::system::error_code ec) {
    if (!*alive || ec) return;
    drain();
    wait_readable();
  });
}

void WebRtcServer::drain() {
  // Everything the kernel holds, then back to the loop: one wake-up serves a burst, and
  // what the burst makes us send leaves together.
  stats_.datagrams_in += receive_datagrams(
      socket_.native_handle(), std::span(buffer_.get(), kMaxDatagram), 256,
      [this](ByteView datagram, const SocketAddress& from) { handle(datagram, from); });
  if (!outgoing_.empty()) flush();
}

void WebRtcServer::handle(ByteView datagram, const SocketAddress& source) {
  if (looks_like_stun(datagram)) {
    ++stats_.stun_requests;
    auto outcome = ice_.handle_stun(datagram, source, core::Clock::now());
    if (!outcome.session && outcome.response.empty()) ++stats_.stun_ignored;
    if (!outcome.response.empty()) queue(source, outcome.response);
    return;
  }
  auto session = ice_.session_for(source);
  if (!session) {
    ++stats_.unknown_source;
    return;
  }
  auto it = sessions_.find(*session);
  if (it != sessions_.end() && it->second.datagram) it->second.datagram(datagram);
}

void WebRtcServer::schedule_consent_check() {
  consent_timer_.expires_after(kConsentCheckInterval);
  consent_timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (!*alive || ec) return;
    for (SessionId id : ice_.expire(core::Clock::now())) {
      auto it = sessions_.find(id);
      if (it != sessions_.end() && it->second.consent_lost) it->second.consent_lost();
    }
    schedule_consent_check();
  });
}

}  // namespace switchboard::webrtc
