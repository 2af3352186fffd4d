#include "client/server_link.hpp"

#include <algorithm>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "client/data_connection.hpp"
#include "client/graveyard.hpp"
#include "client/websocket_client.hpp"
#include "webrtc/certificate.hpp"
#include "webrtc/ice_lite_client.hpp"
#include "webrtc/sdp.hpp"
#include "webrtc/webrtc_connection.hpp"
#include "webrtc/webrtc_server.hpp"

namespace switchboard::client {
namespace {

namespace asio = boost::asio;

constexpr auto kConnectTimeout = std::chrono::seconds(10);  // WebSocket up
constexpr auto kJoinTimeout = std::chrono::seconds(10);     // joined after the join
// From the answer to SCTP up: ICE gives up after 10 s by itself; this bounds DTLS and SCTP.
constexpr auto kDataConnectTimeout = std::chrono::seconds(30);
constexpr std::size_t kMinMaxMessageSize = 262144;
constexpr std::size_t kMaxMessageHeadroom = 65536;  // frame headers on top of a message
constexpr const char* kSignalPath = "/v1/signal";
// A cluster node that does not host the call names the one that does (docs/scaling.md);
// more hops than this is a loop between nodes that disagree.
constexpr int kMaxRedirects = 3;

}  // namespace

class ServerLink::Impl {
 public:
  Impl(asio::io_context& io, ServerLinkConfig config, Callbacks callbacks)
      : io_(io),
        config_(std::move(config)),
        callbacks_(std::move(callbacks)),
        graveyard_(io),
        ping_timer_(io),
        deadline_(io) {}

  // Not inside any callback of ours (see the header): everything goes at once, the data
  // connection before the ICE client that carries its last datagrams.
  ~Impl() {
    *alive_ = false;
    graveyard_.clear();
    connection_.reset();
    ice_.reset();
    ws_.reset();
  }

  void start() {
    if (state_ != State::Idle) return;
    state_ = State::Connecting;
    auto url = parse_websocket_url(config_.url);
    if (!url) {
      fail_later(std::move(url).error());
      return;
    }
    if (url->target.empty() || url->target == "/") url->target = kSignalPath;
    ws_ = std::make_unique<WebSocketClient>(
        io_,
        WebSocketClient::Callbacks{
            .opened = [this] { on_open(); },
            .message = [this](std::string_view text) { on_message(text); },
            .closed = [this](const Error& e) { fail(e); },
        },
        signaling::kMaxServerMessageSize);
    ws_->connect(*url, kConnectTimeout, TlsSettings{.ca_file = config_.ca_file});
  }

  Result<void> send(core::TrafficClass cls, ByteView message) {
    if (state_ != State::Connected || !connection_) {
      return Error{ErrorCode::NotConnected, state_ == State::Over
                                                ? "the call's connection to the server is closed"
                                                : "the connection to the server is not up yet"};
    }
    return connection_->send(stream_of(cls), message);
  }

  std::size_t buffered_amount() const { return connection_ ? connection_->buffered_amount() : 0; }

  void set_receive_paused(bool paused) {
    receive_paused_ = paused;
    if (connection_) connection_->set_receive_paused(paused);
  }

  void leave() {
    if (state_ == State::Over) return;
    state_ = State::Over;
    if (ws_) {
      ws_->send(signaling::serialize(signaling::Leave{}));
      ws_->close();  // after the leave is written
    }
    close_parts();  // leave() may run inside one of our parts' callbacks
  }

 private:
  enum class State : std::uint8_t { Idle, Connecting, Joining, Negotiating, Connected, Over };

  void on_open() {
    if (state_ != State::Connecting) return;
    state_ = State::Joining;
    signaling::Join join;
    join.req = "j";
    join.token = config_.token;
    join.call = config_.call;
    join.display_name = config_.display_name;
    join.p2p = config_.p2p;
    if (config_.resumable) join.resumable = true;
    join.resume = config_.resume;
    ws_->send(signaling::serialize(join));
    last_heard_ = std::chrono::steady_clock::now();
    arm_deadline(kJoinTimeout, "the server did not answer the join within 10 s");
    schedule_ping();
  }

  void on_message(std::string_view text) {
    last_heard_ = std::chrono::steady_clock::now();
    auto parsed = signaling::parse_message(text, signaling::kMaxServerMessageSize);
    if (!parsed) return;  // a message we cannot read changes nothing
    std::visit([this](auto& m) { handle(m); }, *parsed);
  }

  void handle(signaling::Joined& joined) {
    if (state_ != State::Joining) return;
    state_ = State::Negotiating;
    deadline_.cancel();
    if (callbacks_.joined) callbacks_.joined(joined);
    if (state_ != State::Negotiating) return;  // the callback left
    send_offer(joined);
  }

  void handle(signaling::Answer& answer) {
    if (answer.peer) {
      forward_peer_signal(answer);
      return;
    }
    if (state_ != State::Negotiating || connection_) return;
    auto parsed = webrtc::parse_sdp(answer.sdp);
    if (!parsed) {
      fail({ErrorCode::NotConnected,
            "the server's answer is not valid SDP: " + parsed.error().message});
      return;
    }
    start_data(*parsed);
  }

  void handle(signaling::ParticipantJoined& joined) {
    if (state_ == State::Idle || state_ == State::Connecting || state_ == State::Joining ||
        state_ == State::Over) {
      return;
    }
    if (callbacks_.participant_joined) callbacks_.participant_joined(joined.participant);
  }

  void handle(signaling::ParticipantLeft& left) {
    if (state_ == State::Idle || state_ == State::Connecting || state_ == State::Joining ||
        state_ == State::Over) {
      return;
    }
    if (callbacks_.participant_left) callbacks_.participant_left(left);
  }

  void handle(signaling::ErrorReply& error) {
    if (state_ == State::Joining) {
      // The join was refused; the server closes the connection next.
      refused_ = true;
      fail({error.code, error.message});
      return;
    }
    if (state_ == State::Over) return;
    if (callbacks_.error) callbacks_.error(error);
  }

  void handle(signaling::Disconnect& disconnect) {
    refused_ = true;
    fail({ErrorCode::NotConnected,
          disconnect.reason.empty() ? "the server disconnected us" : disconnect.reason});
  }

  // Before `joined`, the call lives on another node: join there instead, transparently.
  void handle(signaling::Redirect& redirect) {
    if (state_ != State::Connecting && state_ != State::Joining) return;
    if (auto url = parse_websocket_url(redirect.url); !url) {
      refused_ = true;
      fail({ErrorCode::NotConnected,
            "the server redirects to \"" + redirect.url + "\", which is not a ws:// URL"});
      return;
    }
    if (++redirects_ > kMaxRedirects) {
      refused_ = true;
      fail({ErrorCode::NotConnected,
            "more than " + std::to_string(kMaxRedirects) + " redirects; last to " + redirect.url});
      return;
    }
    deadline_.cancel();
    ping_timer_.cancel();
    if (ws_) ws_->close();
    graveyard_.bury(std::move(ws_));  // we are inside its callback
    config_.url = redirect.url;
    state_ = State::Idle;
    start();
  }

  void handle(signaling::Offer& offer) {
    if (offer.peer) forward_peer_signal(offer);
  }

  void handle(signaling::Candidate& candidate) {
    if (candidate.peer) forward_peer_signal(candidate);
  }

  void handle(signaling::Ack& ack) {
    if (joined() && callbacks_.ack) callbacks_.ack(ack.received);
  }

  void handle(signaling::P2p& p2p) {
    if (joined() && callbacks_.p2p) callbacks_.p2p(p2p);
  }

  void forward_peer_signal(const signaling::Message& message) {
    if (joined() && callbacks_.peer_signal) callbacks_.peer_signal(message);
  }

  bool joined() const { return state_ == State::Negotiating || state_ == State::Connected; }

 public:
  void signal(const signaling::Message& message) {
    if (joined() && ws_) ws_->send(signaling::serialize(message));
  }

  void send_ack(const signaling::DurableCounts& received) {
    if (joined() && ws_) ws_->send(signaling::serialize(signaling::Ack{.req = {}, .received = received}));
  }

  bool lost() const { return !refused_; }

 private:
  // Pong, and what only clients send: nothing to do.
  template <typename Other>
  void handle(Other&) {}

  void send_offer(const signaling::Joined& joined) {
    auto certificate = shared_certificate();
    if (!certificate) {
      fail(certificate.error());
      return;
    }
    certificate_ = *certificate;
    ice_ = std::make_unique<webrtc::IceLiteClient>(
        io_, webrtc::IceLiteClient::Config{.local_address = config_.local_address},
        webrtc::IceLiteClient::Callbacks{
            .connected = [this] { on_ice_connected(); },
            .datagram =
                [this](ByteView d) {
                  if (connection_) connection_->handle_datagram(d);
                },
            .failed = [this](const Error& e) { fail(e); },
        });
    local_max_message_size_ = std::max<std::size_t>(
        std::size_t{joined.max_message_size} + kMaxMessageHeadroom, kMinMaxMessageSize);

    signaling::Offer message;
    message.req = "o";
    message.sdp =
        webrtc::write_sdp(local_description(ice_->local_credentials(), *certificate_,
                                            webrtc::DtlsSetup::ActPass, local_max_message_size_));
    ws_->send(signaling::serialize(message));
    arm_deadline(kDataConnectTimeout, "the data connection to the server did not come up in 30 s");
  }

  void start_data(const webrtc::SessionDescription& answer) {
    const std::vector<webrtc::SocketAddress> candidates = server_candidates(answer);
    // The Web SDK would start as the DTLS client too: an ICE-lite answerer takes `passive`.
    const webrtc::DtlsRole role = answer.setup == webrtc::DtlsSetup::Active
                                      ? webrtc::DtlsRole::Server
                                      : webrtc::DtlsRole::Client;
    webrtc::IceLiteClient* ice = ice_.get();
    connection_ = make_data_connection(
        io_, answer,
        {.certificate = certificate_,
         .role = role,
         .local_max_message_size = local_max_message_size_,
         .receive_paused = receive_paused_},
        webrtc::WebRtcConnection::Callbacks{
            .send_datagram = [ice](ByteView d) { ice->send(d); },
            .connected = [this] { on_data_connected(); },
            .channel_opened = {},
            .message =
                [this](std::uint16_t stream, ByteView data, bool) {
                  if (stream >= 4 || state_ != State::Connected) return;
                  if (stream < 2 && callbacks_.durable_received) callbacks_.durable_received(stream);
                  if (callbacks_.data) callbacks_.data(data);
                },
            .channel_closed = {},
            .buffered_amount_low =
                [this] {
                  if (state_ == State::Connected && callbacks_.writable) callbacks_.writable();
                },
            .failed =
                [this](const Error& e) {
                  fail({ErrorCode::NotConnected, "the data connection failed: " + e.message});
                }});
    if (auto opened = open_negotiated_channels(*connection_); !opened) {
      fail(opened.error());
      return;
    }
    if (auto started = ice_->start({answer.ice_ufrag, answer.ice_pwd}, candidates); !started) {
      fail_later({ErrorCode::NotConnected,
                  "cannot reach the server's data port: " + started.error().message});
    }
  }

  // The answer's UDP candidates, and where the WebSocket went on the first one's port: a
  // server that does not know its public address announces the wildcard or loopback, yet
  // its data port is on the host that answered the WebSocket.
  std::vector<webrtc::SocketAddress> server_candidates(const webrtc::SessionDescription& answer) {
    std::optional<asio::ip::address> signaling_host;
    if (ws_) signaling_host = ws_->remote_address();
    std::vector<webrtc::SocketAddress> out;
    for (const webrtc::IceCandidate& c : answer.candidates) {
      if (c.transport != "udp" || c.component != 1) continue;
      auto address = webrtc::SocketAddress::parse(c.address, c.port);
      if (!address) continue;  // an mDNS name: a server never sends one
      if (is_unspecified(*address)) {
        if (!signaling_host) continue;
        address = webrtc::to_socket_address({*signaling_host, c.port});
      }
      if (std::find(out.begin(), out.end(), *address) == out.end()) out.push_back(*address);
    }
    if (signaling_host && !out.empty()) {
      const auto fallback = webrtc::to_socket_address({*signaling_host, out.front().port()});
      if (std::find(out.begin(), out.end(), fallback) == out.end()) out.push_back(fallback);
    }
    return out;
  }

  static bool is_unspecified(const webrtc::SocketAddress& address) {
    const ByteView ip = address.ip_bytes();
    return std::all_of(ip.begin(), ip.end(), [](std::uint8_t b) { return b == 0; });
  }

  void on_ice_connected() {
    // DTLS goes only after the check: the server drops datagrams from unchecked addresses.
    if (connection_ && state_ == State::Negotiating) connection_->start();
  }

  void on_data_connected() {
    if (state_ != State::Negotiating) return;
    state_ = State::Connected;
    deadline_.cancel();
    if (ice_) ice_->set_data_connected();
    if (callbacks_.connected) callbacks_.connected();
  }

  void schedule_ping() {
    const auto due = std::chrono::steady_clock::now() + config_.ping_interval;
    ping_timer_.expires_at(due);
    ping_timer_.async_wait([this, due, alive = alive_](boost::system::error_code ec) {
      if (ec || !*alive || state_ == State::Over || !ws_) return;
      const auto now = std::chrono::steady_clock::now();
      const auto silent = now - last_heard_;
      // A timer this late means our own thread was stalled (a blocking callback): what
      // the server sent meanwhile is still unread, so the silence is not its.
      const bool stalled = now - due > config_.ping_interval;
      if (config_.silence_limit.count() > 0 && silent > config_.silence_limit && !stalled) {
        fail({ErrorCode::NotConnected,
              "no word from the server for " +
                  std::to_string(
                      std::chrono::duration_cast<std::chrono::milliseconds>(silent).count()) +
                  " ms"});
        return;
      }
      ws_->send(signaling::serialize(signaling::Ping{}));
      schedule_ping();
    });
  }

  void arm_deadline(std::chrono::steady_clock::duration after, std::string why) {
    deadline_.expires_after(after);
    deadline_.async_wait(
        [this, alive = alive_, why = std::move(why)](boost::system::error_code ec) {
          if (ec || !*alive) return;
          fail({ErrorCode::NotConnected, why});
        });
  }

  // The link is over: report once, then take everything down. Runs from a callback of
  // one of our parts, which must not be destroyed under it: they are only closed here
  // and destroyed on the next turn of the loop.
  void fail(const Error& error) {
    if (state_ == State::Over) return;
    state_ = State::Over;
    close_parts();
    if (callbacks_.closed) callbacks_.closed(error);
  }

  // For failures found inside a call into the link: the callback must not run in it.
  void fail_later(Error error) {
    asio::post(io_, [this, alive = alive_, error = std::move(error)] {
      if (*alive) fail(error);
    });
  }

  void close_parts() {
    ping_timer_.cancel();
    deadline_.cancel();
    if (ws_) ws_->close();
    if (ice_) ice_->close();
    // Bottom up: the connection first, its last datagrams go through the ICE client.
    graveyard_.bury(std::move(connection_), std::move(ice_), std::move(ws_));
  }

  asio::io_context& io_;
  ServerLinkConfig config_;
  Callbacks callbacks_;
  State state_ = State::Idle;
  std::unique_ptr<WebSocketClient> ws_;
  std::unique_ptr<webrtc::IceLiteClient> ice_;
  std::unique_ptr<webrtc::WebRtcConnection> connection_;
  std::shared_ptr<const webrtc::Certificate> certificate_;
  Graveyard graveyard_;
  asio::steady_timer ping_timer_;
  asio::steady_timer deadline_;
  std::size_t local_max_message_size_ = kMinMaxMessageSize;
  bool receive_paused_ = false;
  int redirects_ = 0;
  bool refused_ = false;  // the server refused the join or sent us away
  std::chrono::steady_clock::time_point last_heard_{};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

ServerLink::ServerLink(asio::io_context& io, ServerLinkConfig config, Callbacks callbacks)
    : impl_(std::make_unique<Impl>(io, std::move(config), std::move(callbacks))) {}

ServerLink::~ServerLink() = default;

void ServerLink::start() {
  impl_->start();
}

Result<void> ServerLink::send(core::TrafficClass cls, ByteView message) {
  return impl_->send(cls, message);
}

std::size_t ServerLink::buffered_amount() const {
  return impl_->buffered_amount();
}

void ServerLink::set_receive_paused(bool paused) {
  impl_->set_receive_paused(paused);
}

void ServerLink::signal(const signaling::Message& message) {
  impl_->signal(message);
}

void ServerLink::send_ack(const signaling::DurableCounts& received) {
  impl_->send_ack(received);
}

bool ServerLink::lost() const {
  return impl_->lost();
}

void ServerLink::leave() {
  impl_->leave();
}

}  // namespace switchboard::client
