#include "webrtc/ice_lite_client.hpp"

#include <algorithm>
#include <cstring>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <openssl/rand.h>

#include "webrtc/webrtc_server.hpp"

namespace switchboard::webrtc {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;

constexpr std::size_t kMaxDatagram = 65536;
// Checks we still match answers to; older ones are forgotten (their answers are late).
constexpr std::size_t kMaxPendingChecks = 64;
// PRIORITY of the peer-reflexive candidate our check would create (RFC 8445 §7.1.1):
// type preference 110, local preference 65535, component 1.
constexpr std::uint32_t kCheckPriority = (110u << 24) | (65535u << 8) | (256u - 1u);

template <typename T>
T random_value() {
  T value{};
  RAND_bytes(reinterpret_cast<unsigned char*>(&value), sizeof(value));
  return value;
}

}  // namespace

IceLiteClient::IceLiteClient(asio::io_context& io, Config config, Callbacks callbacks)
    : io_(io),
      config_(std::move(config)),
      callbacks_(std::move(callbacks)),
      local_(random_ice_credentials()),
      tie_breaker_(random_value<std::uint64_t>()),
      socket_(io),
      timer_(io),
      buffer_(new std::uint8_t[kMaxDatagram]) {}

IceLiteClient::~IceLiteClient() {
  *alive_ = false;
  boost::system::error_code ec;
  socket_.close(ec);
}

Result<void> IceLiteClient::start(IceCredentials remote,
                                  const std::vector<SocketAddress>& candidates) {
  if (started_) return Error{ErrorCode::Internal, "ICE checks already started"};
  started_ = true;
  remote_ = std::move(remote);

  std::optional<asio::ip::address> bind_ip;
  if (!config_.local_address.empty()) {
    boost::system::error_code ec;
    bind_ip = asio::ip::make_address(config_.local_address, ec);
    if (ec) {
      return Error{ErrorCode::InvalidArgument,
                   "the local address '" + config_.local_address + "' is not an IP address"};
    }
  }
  // One socket, one family: the bind address's, else the first candidate's.
  std::optional<SocketAddress::Family> family;
  if (bind_ip) family = bind_ip->is_v4() ? SocketAddress::Family::V4 : SocketAddress::Family::V6;
  for (const SocketAddress& c : candidates) {
    if (c.port() == 0) continue;
    if (!family) family = c.family();
    if (c.family() == *family) candidates_.push_back(c);
  }
  if (candidates_.empty()) {
    return Error{ErrorCode::InvalidArgument, "the server offered no reachable UDP candidate"};
  }
  if (!bind_ip) {
    bind_ip = *family == SocketAddress::Family::V4 ? asio::ip::address(asio::ip::address_v4::any())
                                                   : asio::ip::address(asio::ip::address_v6::any());
  }

  const udp::endpoint bind{*bind_ip, 0};
  boost::system::error_code ec;
  socket_.open(bind.protocol(), ec);
  // Room for a burst of the server's GSO runs between two loop turns.
  if (!ec) socket_.set_option(asio::socket_base::receive_buffer_size(8 * 1024 * 1024), ec);
  if (!ec) socket_.set_option(asio::socket_base::send_buffer_size(8 * 1024 * 1024), ec);
  if (!ec) socket_.bind(bind, ec);
  if (!ec) socket_.non_blocking(true, ec);
  if (ec) {
    return Error{ErrorCode::Internal,
                 "cannot open a UDP socket on " + bind_ip->to_string() + ": " + ec.message()};
  }
  enable_receive_coalescing(socket_.native_handle());

  started_at_ = core::Clock::now();
  wait_readable();
  send_checks();
  schedule(config_.check_interval);
  return {};
}

void IceLiteClient::set_data_connected() {
  if (data_connected_ || done_) return;
  data_connected_ = true;
  schedule(config_.consent_interval);
}

void IceLiteClient::send(ByteView datagram) {
  if (done_ || !started_) return;
  outgoing_.add(candidates_[selected_.value_or(0)], datagram);
  ++stats_.datagrams_out;
  // A GSO write's worth goes at once: held to the end of a long turn, SCTP's SACKs in
  // the queue would stall the peers' windows.
  if (outgoing_.size() >= kFlushEarly) {
    flush();
    return;
  }
  if (flush_posted_) return;
  flush_posted_ = true;
  asio::post(io_, [this, alive = alive_] {
    if (*alive) flush();
  });
}

void IceLiteClient::close() {
  if (done_) return;
  done_ = true;
  timer_.cancel();
  if (!outgoing_.empty()) flush();
  boost::system::error_code ec;
  socket_.close(ec);
}

std::optional<SocketAddress> IceLiteClient::selected() const {
  if (!selected_) return std::nullopt;
  return candidates_[*selected_];
}

std::optional<SocketAddress> IceLiteClient::local_address() const {
  boost::system::error_code ec;
  auto endpoint = socket_.local_endpoint(ec);
  if (ec) return std::nullopt;
  return to_socket_address(endpoint);
}

void IceLiteClient::flush() {
  flush_posted_ = false;
  if (done_ && !socket_.is_open()) return;
  // Non-blocking: a full kernel buffer drops datagrams, as the network would.
  stats_.send_errors += outgoing_.flush(socket_.native_handle());
}

void IceLiteClient::wait_readable() {
  socket_.async_wait(udp::socket::wait_read, [this, alive = alive_](boost::system::error_code ec) {
    if (!*alive || ec || done_) return;
    drain();
    if (!done_) wait_readable();
  });
}

void IceLiteClient::drain() {
  receive_datagrams(
      socket_.native_handle(), std::span(buffer_.get(), kMaxDatagram), 256,
      [this](ByteView datagram, const SocketAddress& from) {
        if (done_) return;
        // Only the server's candidates speak to us.
        if (std::find(candidates_.begin(), candidates_.end(), from) == candidates_.end()) {
          return;
        }
        if (looks_like_stun(datagram)) {
          handle_stun(datagram, from);
          return;
        }
        ++stats_.datagrams_in;
        if (callbacks_.datagram) callbacks_.datagram(datagram);
      });
  // What the burst made us send leaves together.
  if (!done_ && !outgoing_.empty()) flush();
}

void IceLiteClient::handle_stun(ByteView datagram, const SocketAddress& from) {
  auto message = parse_stun(datagram);
  if (!message || message->cls != StunClass::SuccessResponse ||
      message->method != kStunBindingMethod) {
    return;  // a lite server sends no requests; its error responses only mean "not yet"
  }
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [&](const Pending& p) { return p.id == message->transaction_id; });
  if (it == pending_.end()) return;
  // The answer must come from where the check went (RFC 8445 §7.2.5.2.1) and prove it
  // knows the server's password.
  if (candidates_[it->candidate] != from || !verify_integrity(datagram, *message, remote_.pwd)) {
    return;
  }
  if (message->has_fingerprint() && !verify_fingerprint(datagram, *message)) return;
  const std::size_t candidate = it->candidate;
  pending_.erase(it);
  ++stats_.responses;
  last_response_ = core::Clock::now();
  if (connected_) return;
  connected_ = true;
  selected_ = candidate;
  if (callbacks_.connected) callbacks_.connected();
}

void IceLiteClient::send_checks() {
  // Once a candidate answered, only it is checked: it carries the data.
  const std::size_t first = selected_.value_or(0);
  const std::size_t last = selected_ ? first + 1 : candidates_.size();
  for (std::size_t i = first; i < last; ++i) {
    Pending check{random_value<StunTransactionId>(), i};
    Bytes request = StunWriter(kStunBindingMethod, StunClass::Request, check.id)
                        .add_username(remote_.ufrag + ":" + local_.ufrag)
                        .add_priority(kCheckPriority)
                        .add_ice_controlling(tie_breaker_)
                        .add_use_candidate()
                        .finish(remote_.pwd, true);
    pending_.push_back(check);
    if (pending_.size() > kMaxPendingChecks) pending_.pop_front();
    outgoing_.add(candidates_[i], request);
    ++stats_.checks_sent;
  }
  last_check_ = core::Clock::now();
  flush();
}

void IceLiteClient::schedule(core::Duration after) {
  timer_.expires_after(after);
  timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (!*alive || ec || done_) return;
    on_timer();
  });
}

void IceLiteClient::on_timer() {
  const auto now = core::Clock::now();
  if (!connected_ && now - started_at_ >= config_.connect_timeout) {
    fail({ErrorCode::NotConnected,
          "the server did not answer ICE connectivity checks within " +
              std::to_string(
                  std::chrono::duration_cast<std::chrono::seconds>(config_.connect_timeout)
                      .count()) +
              " s: is its UDP port reachable?"});
    return;
  }
  if (connected_ && now - last_response_ >= config_.consent_timeout) {
    fail({ErrorCode::NotConnected,
          "ICE consent lost: the server stopped answering connectivity checks"});
    return;
  }
  if (data_connected_ && last_response_ >= last_check_sent_ &&
      now - last_check_sent_ < config_.consent_interval) {
    schedule(config_.consent_interval - (now - last_check_sent_));  // answered: wait
    return;
  }
  send_checks();
  last_check_sent_ = now;
  schedule(data_connected_ ? std::min(config_.consent_retransmit, config_.consent_interval)
                          : config_.check_interval);
}

void IceLiteClient::fail(const Error& error) {
  if (done_) return;
  close();
  if (callbacks_.failed) callbacks_.failed(error);
}

}  // namespace switchboard::webrtc
