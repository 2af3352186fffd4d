#include "client/peer_link.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "client/data_connection.hpp"
#include "client/graveyard.hpp"
#include "webrtc/certificate.hpp"
#include "webrtc/sdp.hpp"
#include "webrtc/webrtc_connection.hpp"

namespace switchboard::client {
namespace {

namespace asio = boost::asio;
using webrtc::ChannelParams;

// Stream 4: the receiver's acknowledgements of durable direct messages. Reliable and
// ordered, and scheduled ahead of the bulk streams so they do not wait behind them.
ChannelParams control_channel() {
  ChannelParams p;
  p.label = "switchboard-control";
  p.ordered = true;
  p.reliability = webrtc::SctpReliability::Reliable;
  p.reliability_value = 0;
  p.priority = 512;
  p.negotiated = true;
  p.stream = kPeerControlStream;
  return p;
}

}  // namespace

class PeerLink::Impl {
 public:
  Impl(asio::io_context& io, PeerLinkConfig config, Callbacks callbacks)
      : io_(io),
        config_(std::move(config)),
        callbacks_(std::move(callbacks)),
        graveyard_(io),
        deadline_(io) {}

  // Not inside any callback of ours (see the header): the connection goes before the ICE
  // agent that carries its last datagrams.
  ~Impl() {
    *alive_ = false;
    graveyard_.clear();
    connection_.reset();
    ice_.reset();
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void start() {
    if (state_ != State::Idle) return;
    state_ = State::Negotiating;
    arm_deadline();
    auto certificate = shared_certificate();
    if (!certificate) {
      fail_later(std::move(certificate).error());
      return;
    }
    certificate_ = *certificate;
    ice_ = std::make_unique<webrtc::IceAgent>(
        io_, config_.offerer, config_.ice,
        webrtc::IceAgent::Callbacks{
            .local_candidate = [this](std::string c) { on_local_candidate(std::move(c)); },
            .gathering_done = [this] { on_local_candidate({}); },
            .connected = [this] { on_ice_connected(); },
            .datagram =
                [this](ByteView d) {
                  if (connection_) connection_->handle_datagram(d);
                },
            .failed =
                [this](const Error& e) {
                  fail({e.code, "the direct connection to participant " +
                                    std::to_string(config_.peer) + " failed: " + e.message});
                },
        },
        config_.local_addresses);
    if (!config_.offerer) return;  // gathers once the offer is in
    signaling::Offer offer;
    offer.sdp = webrtc::write_sdp(local_description(webrtc::DtlsSetup::ActPass));
    offer.peer = config_.peer;
    offer.session = config_.session;
    signal_later(std::move(offer));
    ice_->gather();  // its candidates are delivered after the offer, on later turns
  }

  void handle(const signaling::Offer& offer) {
    if (config_.offerer || state_ != State::Negotiating || connection_ || !ice_) return;
    auto remote = parse_remote(offer.sdp, "offer");
    if (!remote) return;
    // actpass or passive leaves us the DTLS client (we answer active); an active offerer
    // is the client itself.
    const bool client = remote->setup != webrtc::DtlsSetup::Active;
    if (!start_connection(*remote, client ? webrtc::DtlsRole::Client : webrtc::DtlsRole::Server)) {
      return;
    }
    signaling::Answer answer;
    answer.sdp = webrtc::write_sdp(
        local_description(client ? webrtc::DtlsSetup::Active : webrtc::DtlsSetup::Passive));
    answer.peer = config_.peer;
    answer.session = config_.session;
    signal_later(std::move(answer));
    ice_->gather();  // candidates follow the answer
  }

  void handle(const signaling::Answer& answer) {
    if (!config_.offerer || state_ != State::Negotiating || connection_ || !ice_) return;
    auto remote = parse_remote(answer.sdp, "answer");
    if (!remote) return;
    if (remote->setup == webrtc::DtlsSetup::ActPass) {
      fail_later({ErrorCode::NotConnected, "participant " + std::to_string(config_.peer) +
                                               "'s answer says a=setup:actpass, which only an "
                                               "offer may"});
      return;
    }
    start_connection(*remote, remote->setup == webrtc::DtlsSetup::Active
                                  ? webrtc::DtlsRole::Server
                                  : webrtc::DtlsRole::Client);
  }

  void handle(const signaling::Candidate& candidate) {
    if ((state_ != State::Negotiating && state_ != State::Connected) || !ice_) return;
    if (candidate.candidate.empty()) {
      ice_->remote_gathering_done();
      return;
    }
    // One the agent cannot use (TCP, mDNS, malformed) changes nothing: others may work.
    (void)ice_->add_remote_candidate(candidate.candidate);
  }

  Result<void> send(std::uint16_t stream, ByteView message) {
    if (stream >= kPeerStreamCount) {
      return Error{ErrorCode::InvalidArgument, "the direct connection has streams 0.." +
                                                   std::to_string(kPeerStreamCount - 1) + ", not " +
                                                   std::to_string(stream)};
    }
    if (state_ != State::Connected || !connection_) {
      return Error{ErrorCode::NotConnected,
                   state_ == State::Over ? "the direct connection to participant " +
                                               std::to_string(config_.peer) + " is closed"
                                         : "the direct connection to participant " +
                                               std::to_string(config_.peer) + " is not up yet"};
    }
    return connection_->send(stream, message);
  }

  std::size_t buffered_amount() const { return connection_ ? connection_->buffered_amount() : 0; }

  void set_receive_paused(bool paused) {
    receive_paused_ = paused;
    if (connection_) connection_->set_receive_paused(paused);
  }

  std::optional<std::string> selected_pair() const {
    if (!ice_) return std::nullopt;
    return ice_->selected_pair();
  }

  void close() {
    if (state_ == State::Over) return;
    state_ = State::Over;
    close_parts();  // close() may run inside one of our parts' callbacks
  }

 private:
  enum class State : std::uint8_t { Idle, Negotiating, Connected, Over };

  webrtc::SessionDescription local_description(webrtc::DtlsSetup setup) const {
    webrtc::SessionDescription d = client::local_description(
        {ice_->local_ufrag(), ice_->local_pwd()}, *certificate_, setup, config_.max_message_size);
    d.trickle = true;
    return d;
  }

  // The peer's description, or nullopt after failing the link (later: we are inside a call).
  std::optional<webrtc::SessionDescription> parse_remote(const std::string& sdp, const char* what) {
    auto parsed = webrtc::parse_sdp(sdp);
    if (!parsed) {
      fail_later({ErrorCode::NotConnected, "participant " + std::to_string(config_.peer) + "'s " +
                                               what +
                                               " is not valid SDP: " + parsed.error().message});
      return std::nullopt;
    }
    return std::move(*parsed);
  }

  // ICE learns the peer's credentials and candidates; the data connection is built with
  // its five channels. False after failing the link.
  bool start_connection(const webrtc::SessionDescription& remote, webrtc::DtlsRole role) {
    connection_ = make_data_connection(
        io_, remote,
        {.certificate = certificate_,
         .role = role,
         .local_max_message_size = config_.max_message_size,
         .receive_paused = receive_paused_},
        webrtc::WebRtcConnection::Callbacks{
            .send_datagram =
                [ice = ice_.get()](ByteView d) {
                  // A full socket buffer drops it, as the network would; DTLS and SCTP resend.
                  (void)ice->send(d);
                },
            .connected = [this] { on_data_connected(); },
            .channel_opened = {},
            .message =
                [this](std::uint16_t stream, ByteView data, bool) {
                  if (stream < kPeerStreamCount && state_ == State::Connected &&
                      callbacks_.message) {
                    callbacks_.message(stream, data);
                  }
                },
            .channel_closed = {},
            .buffered_amount_low =
                [this] {
                  if (state_ == State::Connected && callbacks_.writable) callbacks_.writable();
                },
            .failed =
                [this](const Error& e) {
                  fail({ErrorCode::NotConnected, "the direct connection to participant " +
                                                     std::to_string(config_.peer) +
                                                     " failed: " + e.message});
                }});
    const ChannelParams control = control_channel();
    if (auto opened = open_negotiated_channels(*connection_, {&control, 1}); !opened) {
      fail_later(std::move(opened).error());
      return false;
    }

    ice_->set_remote_credentials(remote.ice_ufrag, remote.ice_pwd);
    for (const webrtc::IceCandidate& c : remote.candidates) {
      (void)ice_->add_remote_candidate(webrtc::write_candidate(c));
    }
    if (remote.end_of_candidates) ice_->remote_gathering_done();
    // The DTLS server waits for the ClientHello; the client sends it once ICE is up.
    if (role == webrtc::DtlsRole::Server || ice_connected_) connection_->start();
    return true;
  }

  void on_local_candidate(std::string candidate) {
    if (state_ == State::Over) return;
    signaling::Candidate message;
    message.candidate = std::move(candidate);
    message.peer = config_.peer;
    message.session = config_.session;
    signal(std::move(message));
  }

  void on_ice_connected() {
    if (state_ == State::Over || ice_connected_) return;
    ice_connected_ = true;
    if (connection_ && state_ == State::Negotiating) connection_->start();
  }

  void on_data_connected() {
    if (state_ != State::Negotiating) return;
    state_ = State::Connected;
    deadline_.cancel();
    if (callbacks_.connected) callbacks_.connected();
  }

  void signal(signaling::Message message) {
    if (state_ != State::Over && callbacks_.signal) callbacks_.signal(std::move(message));
  }

  // For signaling produced inside a call into the link.
  void signal_later(signaling::Message message) {
    asio::post(io_, [this, alive = alive_, message = std::move(message)]() mutable {
      if (*alive) signal(std::move(message));
    });
  }

  void arm_deadline() {
    deadline_.expires_after(config_.connect_timeout);
    deadline_.async_wait([this, alive = alive_](boost::system::error_code ec) {
      if (ec || !*alive || state_ != State::Negotiating) return;
      fail({ErrorCode::NotConnected, "the direct connection to participant " +
                                         std::to_string(config_.peer) + " did not come up within " +
                                         std::to_string(config_.connect_timeout.count()) + " ms"});
    });
  }

  // The link is over: report once, then take everything down. Runs from a callback of
  // one of our parts, which must not be destroyed under it: they are closed here and
  // destroyed on the next turn of the loop.
  void fail(const Error& error) {
    if (state_ == State::Over) return;
    state_ = State::Over;
    close_parts();
    if (callbacks_.failed) callbacks_.failed(error);
  }

  // For failures found inside a call into the link: the callback must not run in it.
  void fail_later(Error error) {
    asio::post(io_, [this, alive = alive_, error = std::move(error)] {
      if (*alive) fail(error);
    });
  }

  void close_parts() {
    deadline_.cancel();
    // Bottom up: the connection first, its last datagrams go through ICE.
    graveyard_.bury(std::move(connection_), std::move(ice_));
  }

  asio::io_context& io_;
  PeerLinkConfig config_;
  Callbacks callbacks_;
  State state_ = State::Idle;
  std::unique_ptr<webrtc::IceAgent> ice_;
  std::unique_ptr<webrtc::WebRtcConnection> connection_;
  std::shared_ptr<const webrtc::Certificate> certificate_;
  Graveyard graveyard_;
  asio::steady_timer deadline_;
  bool ice_connected_ = false;
  bool receive_paused_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

PeerLink::PeerLink(asio::io_context& io, PeerLinkConfig config, Callbacks callbacks)
    : impl_(std::make_unique<Impl>(io, std::move(config), std::move(callbacks))) {}

PeerLink::~PeerLink() = default;

void PeerLink::start() {
  impl_->start();
}

void PeerLink::handle(const signaling::Offer& offer) {
  impl_->handle(offer);
}

void PeerLink::handle(const signaling::Answer& answer) {
  impl_->handle(answer);
}

void PeerLink::handle(const signaling::Candidate& candidate) {
  impl_->handle(candidate);
}

Result<void> PeerLink::send(std::uint16_t stream, ByteView message) {
  return impl_->send(stream, message);
}

std::size_t PeerLink::buffered_amount() const {
  return impl_->buffered_amount();
}

void PeerLink::set_receive_paused(bool paused) {
  impl_->set_receive_paused(paused);
}

std::optional<std::string> PeerLink::selected_pair() const {
  return impl_->selected_pair();
}

void PeerLink::close() {
  impl_->close();
}

}  // namespace switchboard::client
