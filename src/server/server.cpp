#include "server/server.hpp"

#include <chrono>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include "server/http_session.hpp"
#include "server/signaling_session.hpp"
#include "server/tls_context.hpp"
#include "server/tls_handshake.hpp"
#include "server/turn_credentials.hpp"
#include "signaling/token.hpp"
#include "webrtc/negotiation.hpp"

namespace switchboard::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
using asio::ip::udp;

namespace {

// The server's rate-limit buckets hold this many seconds of the rate; the SDK's hold one.
constexpr double kRateLimitBurstSeconds = 4.0;

// Resuming: acknowledgements go at most this often per participant; a resumable client
// pings every second, so signaling silent this long means its connection is gone.
constexpr auto kAckDelay = std::chrono::milliseconds(50);
constexpr auto kResumableSilence = std::chrono::seconds(5);
constexpr auto kSweepInterval = std::chrono::milliseconds(500);
// Pairing again after `p2p_failed`: 1 s after the first failed session, doubling per
// session that failed in a row, up to 30 s; a session that held 60 s starts over.
constexpr core::Duration kP2pRetryFirst = std::chrono::seconds(1);
constexpr core::Duration kP2pRetryMax = std::chrono::seconds(30);
constexpr core::Duration kP2pRetryResetAfter = std::chrono::seconds(60);
constexpr std::size_t kMaxRevokedTokens = 10'000;

std::string random_resume_token() {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 15];
  }
  return token;
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

std::optional<std::string> request_id(const signaling::Message& message) {
  return std::visit([](const auto& m) { return m.req; }, message);
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The `call` claim of a token, read before its signature is checked (verify_token then
// checks it): a join without `call` joins the token's call.
std::optional<std::string> unverified_call_claim(std::string_view token) {
  const auto first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const auto second = token.find('.', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  auto payload = signaling::base64url_decode(token.substr(first + 1, second - first - 1));
  if (!payload) return std::nullopt;
  auto json = nlohmann::json::parse(as_string(*payload), nullptr, false);
  if (!json.is_object()) return std::nullopt;
  auto call = json.find("call");
  if (call == json.end() || !call->is_string()) return std::nullopt;
  return call->get<std::string>();
}

constexpr const char* kChannelLabels[kStreamCount] = {
    "switchboard-durable", "switchboard-durable-high", "switchboard-lossy",
    "switchboard-lossy-high"};

// The largest SCTP message we accept: a whole message of the call's maximum, or a batch
// of frames, with room for headers; at most half the SCTP receive buffer.
std::size_t local_max_message_size(const ServerConfig& config) {
  return std::min<std::size_t>(config.max_message_size + std::size_t{64} * 1024,
                               std::size_t{4} * 1024 * 1024);
}

}  // namespace

Server::Server(asio::io_context& io, ServerConfig config)
    : io_(io),
      config_(std::move(config)),
      acceptor_(io),
      webrtc_(std::make_unique<webrtc::WebRtcServer>(io)),
      calls_(config_.max_participants_per_call),
      address_limits_(std::make_shared<AddressLimits>(config_.max_connections_per_address,
                                                      config_.join_rate_per_address,
                                                      config_.join_burst_per_address)),
      relay_(io, config_, metrics_, nullptr,
             Relay::Hooks{
                 .refuse =
                     [this](Participant& p, ErrorCode code, std::uint16_t channel,
                            std::string message) { refuse(p, code, channel, std::move(message)); },
                 .slow_consumer =
                     [this](const std::shared_ptr<Participant>& p) {
                       metrics_.drop(DropReason::SlowConsumer, relay_.discard(*p));
                       spdlog::warn("call {}: {} (#{}) is too slow: durable backlog over {} bytes",
                                    p->call ? p->call->id : "-", p->identity, p->id,
                                    config_.durable_queue_bytes);
                       disconnect(p, "slow consumer");
                     },
             }),
      shutdown_timer_(io),
      accept_timer_(io),
      ack_timer_(io),
      sweep_timer_(io) {}

Server::~Server() {
  alive_.reset();
}

Result<void> Server::start() {
  auto certificate = webrtc::Certificate::generate();
  if (!certificate) return certificate.error();
  certificate_ = *certificate;
  if (!config_.tls_cert.empty()) {
    auto tls = make_tls_context(config_.tls_cert, config_.tls_key);
    if (!tls) return tls.error();
    tls_ = std::move(*tls);
  }
  if (!config_.trace_frames.empty()) {
    auto trace = FrameTrace::open(config_.trace_frames);
    if (!trace) return trace.error();
    trace_ = std::move(*trace);
    relay_.set_trace(trace_.get());
  }

  boost::system::error_code ec;
  const auto address = asio::ip::make_address(config_.bind, ec);
  if (ec) return Error{ErrorCode::InvalidArgument, "bad bind address " + config_.bind};

  auto bind_tcp = [&](std::uint16_t port) -> Result<std::uint16_t> {
    boost::system::error_code e;
    acceptor_.close(e);
    tcp::endpoint endpoint(address, port);
    acceptor_.open(endpoint.protocol(), e);
    if (!e) acceptor_.set_option(asio::socket_base::reuse_address(true), e);
    if (!e) acceptor_.bind(endpoint, e);
    if (!e) acceptor_.listen(asio::socket_base::max_listen_connections, e);
    if (e) {
      return Error{ErrorCode::Internal, "cannot listen on TCP " + config_.bind + ":" +
                                            std::to_string(port) + ": " + e.message()};
    }
    return acceptor_.local_endpoint().port();
  };

  // Port 0: take a free TCP port and try the same number on UDP, a few times.
  const int attempts = config_.port == 0 ? 32 : 1;
  Error last{ErrorCode::Internal, "no port"};
  for (int i = 0; i < attempts; ++i) {
    auto port = bind_tcp(config_.port);
    if (!port) return port.error();
    webrtc_ = std::make_unique<webrtc::WebRtcServer>(io_);
    auto udp_ok = webrtc_->listen(udp::endpoint(address, *port));
    if (udp_ok) {
      port_ = *port;
      break;
    }
    last = udp_ok.error();
  }
  if (port_ == 0) {
    acceptor_.close(ec);
    return last;
  }
  auto public_address = webrtc::SocketAddress::parse(config_.public_ip, port_);
  if (!public_address) {
    return Error{ErrorCode::InvalidArgument, "bad public IP " + config_.public_ip};
  }
  public_address_ = *public_address;
  if (!config_.redis.empty()) {
    auto redis = parse_redis_url(config_.redis);
    if (!redis) return redis.error();
    ClusterConfig cluster{.redis = *redis,
                          .node_id = config_.node_id,
                          .public_url = config_.public_url.empty() ? (tls_ ? "wss://" : "ws://") +
                                                                         public_address_.to_string()
                                                                   : config_.public_url};
    cluster_ =
        std::make_unique<ClusterNode>(io_, std::move(cluster), [this] { return cluster_state(); });
    cluster_->start();
  }
  accept();
  arm_sweep();
  return {};
}

void Server::accept() {
  acceptor_.async_accept([this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec,
                                                                     tcp::socket socket) {
    if (alive.expired() || !acceptor_.is_open()) return;
    if (!ec) {
      boost::system::error_code ignored;
      const auto remote = socket.remote_endpoint(ignored);
      auto slot =
          AddressLimits::connect(address_limits_, remote.address().to_string(), core::Clock::now());
      if (!slot) {
        // Over max_connections_per_address: closed before reading a byte.
        metrics_.refuse(RefusalReason::ConnectionsPerAddress);
        spdlog::debug("connection from {} refused: {} open already", remote.address().to_string(),
                      config_.max_connections_per_address);
        socket.close(ignored);
        accept();
        return;
      }
      socket.set_option(tcp::no_delay(true), ignored);
      serve(std::move(socket), std::move(slot));
    } else if (ec == asio::error::operation_aborted) {
      return;
    } else {
      // Out of descriptors or similar: try again shortly instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      accept_timer_.expires_after(std::chrono::milliseconds(100));
      accept_timer_.async_wait([this, alive](boost::system::error_code wait_ec) {
        if (!wait_ec && !alive.expired() && acceptor_.is_open()) accept();
      });
      return;
    }
    accept();
  });
}

void Server::serve(tcp::socket socket, std::unique_ptr<AddressLimits::Slot> slot) {
  if (!tls_) {
    auto session = std::make_shared<HttpSession>(
        signaling::Stream(beast::tcp_stream(std::move(socket))), *this, alive_);
    session->source = std::move(slot);
    session->start();
    return;
  }
  // The connection counts against its address from the start of its handshake.
  auto held = std::make_shared<std::unique_ptr<AddressLimits::Slot>>(std::move(slot));
  accept_tls(std::move(socket), tls_,
             [this, alive = std::weak_ptr<bool>(alive_), held](signaling::Stream stream) {
               if (alive.expired() || shutting_down_) return;
               auto session = std::make_shared<HttpSession>(std::move(stream), *this, alive_);
               session->source = std::move(*held);
               session->start();
             });
}

std::string Server::metrics_text() const {
  Metrics m = metrics_;
  m.stun_ignored = webrtc_->stats().stun_ignored;
  m.unknown_source_datagrams = webrtc_->stats().unknown_source;
  std::string text = to_prometheus(m, process_cpu_seconds());
  if (cluster_) text += cluster_->metrics_text(calls_.call_count(), calls_.participant_count());
  return text;
}

ClusterNode::LocalState Server::cluster_state() const {
  ClusterNode::LocalState state;
  std::unordered_set<const Call*> seen;
  calls_.for_each_participant([&](const std::shared_ptr<Participant>& p) {
    ++state.participants;
    if (p->call != nullptr && seen.insert(p->call).second) state.calls.push_back(p->call->id);
  });
  return state;
}

void Server::session_opened(const std::shared_ptr<SignalingSession>& session) {
  ++metrics_.signaling_connections;
  std::erase_if(sessions_, [](const auto& weak) { return weak.expired(); });
  sessions_.push_back(session);
  if (shutting_down_) {
    session->send(signaling::Disconnect{.req = {}, .reason = shutdown_reason_});
    session->close();
  }
}

void Server::session_closed(SignalingSession& session) {
  if (metrics_.signaling_connections > 0) --metrics_.signaling_connections;
  if (auto participant = std::move(session.participant)) {
    lose(participant, "signaling connection closed");
  }
  check_shutdown_done();
}

void Server::handle_message(const std::shared_ptr<SignalingSession>& session,
                            signaling::Message message) {
  if (session->closing()) return;
  const auto req = request_id(message);
  if (auto* join = std::get_if<signaling::Join>(&message)) {
    handle_join(session, std::move(*join));
    return;
  }
  if (std::holds_alternative<signaling::Ping>(message)) {
    session->send(signaling::Pong{.req = req});
    return;
  }
  const std::shared_ptr<Participant> participant = session->participant;
  if (!participant) {
    metrics_.refuse(RefusalReason::BadMessage);
    session->fail(ErrorCode::InvalidArgument,
                  "\"" + std::string(signaling::message_type(message)) +
                      "\" before \"join\": only join and ping are accepted before joining; closing",
                  req);
    return;
  }
  std::visit(Overloaded{
                 [&](const signaling::Offer& offer) {
                   if (offer.peer) {
                     forward_to_peer(*participant, message, *offer.peer, req);
                   } else {
                     handle_offer(session, offer);
                   }
                 },
                 [&](const signaling::Answer& answer) {
                   if (answer.peer) {
                     forward_to_peer(*participant, message, *answer.peer, req);
                   } else {
                     session->send(signaling::ErrorReply{
                         .req = req,
                         .code = ErrorCode::InvalidArgument,
                         .message = "the server makes no offers: send an offer, it answers",
                         .channel_id = {}});
                   }
                 },
                 [&](const signaling::Candidate& candidate) {
                   // The server is ICE-lite: it learns addresses from the checks themselves.
                   if (candidate.peer) forward_to_peer(*participant, message, *candidate.peer, req);
                 },
                 [&](const signaling::Leave&) {
                   leave(participant);
                   session->close();
                 },
                 [&](const signaling::P2pFailed& failed) { on_p2p_failed(*participant, failed); },
                 [&](const signaling::Ack& ack) {
                   if (!participant->resumable) return;
                   if (auto taken = participant->sent_log.acknowledged(
                           core::DirectAck{0, ack.received});
                       !taken) {
                     spdlog::warn("#{} {}: {}", participant->id, participant->identity,
                                  taken.error().message);
                     return;
                   }
                   relay_.wake(participant);  // room for more unacknowledged messages
                 },
                 [&](const auto& other) {
                   metrics_.refuse(RefusalReason::BadMessage);
                   session->fail(
                       ErrorCode::InvalidArgument,
                       "\"" + std::string(signaling::message_type(signaling::Message(other))) +
                           "\" is a server message, not one a client may send; closing",
                       req);
                 },
             },
             message);
}

void Server::forward_to_peer(Participant& from, signaling::Message message, std::uint32_t peer,
                             const std::optional<std::string>& req) {
  Participant* to = from.call ? from.call->member(peer) : nullptr;
  auto from_session = from.session.lock();
  if (to == nullptr || to == &from) {
    if (from_session) {
      from_session->send(signaling::ErrorReply{
          .req = req,
          .code = ErrorCode::InvalidArgument,
          .message = "participant " + std::to_string(peer) + " is not in the call",
          .channel_id = {}});
    }
    return;
  }
  std::visit(
      [&](auto& m) {
        if constexpr (requires { m.peer; }) m.peer = from.id;
      },
      message);
  if (auto to_session = to->session.lock()) to_session->send(message);
}

void Server::handle_join(const std::shared_ptr<SignalingSession>& session, signaling::Join join) {
  const auto& req = join.req;
  if (session->participant || placing_.contains(session.get())) {
    session->send(signaling::ErrorReply{.req = req,
                                        .code = ErrorCode::InvalidArgument,
                                        .message = "already joined; open another connection to "
                                                   "join another call",
                                        .channel_id = {}});
    return;
  }
  if (shutting_down_) {
    session->fail(ErrorCode::Internal, "the server is shutting down", req);
    return;
  }
  // Before the token's signature is checked: that is the work a flood would cost.
  if (session->source &&
      !address_limits_->admit_join(session->source->address(), core::Clock::now())) {
    metrics_.refuse(RefusalReason::JoinRate);
    session->fail(ErrorCode::TrafficLimited,
                  "too many join attempts from " + session->source->address() + " (over " +
                      std::to_string(config_.join_rate_per_address) +
                      " a second); wait a second and try again",
                  req);
    return;
  }
  std::string call_id;
  if (join.call) {
    call_id = *join.call;
  } else {
    auto claim = unverified_call_claim(join.token);
    if (!claim) {
      metrics_.refuse(RefusalReason::Unauthorized);
      session->fail(ErrorCode::Unauthorized,
                    "access token rejected: it is not a valid token; ask for a new one", req);
      return;
    }
    if (*claim == signaling::kAnyCall) {
      metrics_.refuse(RefusalReason::BadMessage);
      session->fail(ErrorCode::InvalidArgument,
                    "join needs \"call\": the access token admits any call", req);
      return;
    }
    call_id = std::move(*claim);
  }
  auto claims = signaling::verify_token(join.token, config_.secret, unix_now(), call_id);
  if (!claims) {
    spdlog::info("join to call {} refused: {}", call_id, claims.error().message);
    metrics_.refuse(claims.error().code == ErrorCode::Unauthorized ? RefusalReason::Unauthorized
                                                                   : RefusalReason::BadMessage);
    session->fail(claims.error().code, claims.error().message, req);
    return;
  }
  if (cluster_ && calls_.find(call_id) == nullptr) {
    place_then_admit(session, std::move(join), std::move(*claims), std::move(call_id));
    return;
  }
  admit(session, join, *claims, call_id);
}

void Server::place_then_admit(const std::shared_ptr<SignalingSession>& session,
                              signaling::Join join, signaling::TokenClaims claims,
                              std::string call_id) {
  placing_.insert(session.get());
  const std::string id = call_id;
  cluster_->place(id, [this, alive = std::weak_ptr<bool>(alive_), session, join = std::move(join),
                       claims = std::move(claims),
                       call_id = std::move(call_id)](Result<ClusterNode::Placement> placement) {
    if (alive.expired()) return;
    placing_.erase(session.get());
    if (session->closing() || shutting_down_) return;
    if (!placement) {
      spdlog::warn("join to call {} refused: {}", call_id, placement.error().message);
      session->fail(placement.error().code, placement.error().message, join.req);
      return;
    }
    if (!placement->here) {
      spdlog::info("call {} lives on node {}: redirecting to {}", call_id, placement->node_id,
                   placement->url);
      session->send(signaling::Redirect{.req = join.req, .url = placement->url});
      session->close();
      return;
    }
    admit(session, join, claims, call_id);
  });
}

void Server::admit(const std::shared_ptr<SignalingSession>& session, const signaling::Join& join,
                   const signaling::TokenClaims& claims_ref, const std::string& call_id) {
  const auto& req = join.req;
  const auto* claims = &claims_ref;
  std::string display_name =
      join.display_name ? *join.display_name : (claims->name.empty() ? claims->sub : claims->name);
  if (join.resume && resume(session, join, claims->sub, call_id)) return;

  // The same identity again: the newer connection wins.
  bool replaced = false;
  if (Call* existing = calls_.find(call_id)) {
    if (const auto* old = existing->roster.find(claims->sub)) {
      auto it = existing->members.find(old->id);
      if (it != existing->members.end()) {
        std::shared_ptr<Participant> previous = it->second;
        spdlog::info("call {}: {} joined again; replacing #{}", call_id, claims->sub, previous->id);
        existing->pinned = true;
        disconnect(previous, "joined from another connection", false);
        replaced = true;
      }
    }
  }

  if (calls_.find(call_id) == nullptr && calls_.call_count() >= config_.max_calls) {
    metrics_.refuse(RefusalReason::ServerFull);
    session->fail(ErrorCode::ServerFull,
                  "this server hosts its maximum of " + std::to_string(config_.max_calls) +
                      " calls; joining an existing call works, a new one cannot start now",
                  req);
    return;
  }
  if (cluster_ && calls_.find(call_id) == nullptr) cluster_->call_started();
  Call& call = calls_.find_or_create(call_id);
  call.pinned = false;
  // Four seconds of burst where the SDK allows itself one: frames the SDK accepted within
  // its limit may still arrive bunched (queued behind congestion), and an honest sender
  // must never lose them.
  const core::RateLimit limiter(config_.rate_limit_bytes_per_second,
                                config_.rate_limit_messages_per_second, kRateLimitBurstSeconds,
                                core::Clock::now());
  const RecipientQueue queue(std::chrono::milliseconds(config_.latency_target_ms),
                             config_.durable_queue_bytes);
  auto added = calls_.add(call, [&](core::ParticipantId id) {
    auto p = std::make_shared<Participant>(id, claims->sub, display_name, limiter, queue);
    p->p2p = join.p2p.value_or(true);
    p->resend_allowance = resend_allowance(config_, core::Clock::now());
    return p;
  });
  if (!added) {
    if (added.error().code == ErrorCode::CallFull) metrics_.refuse(RefusalReason::CallFull);
    session->fail(added.error().code, added.error().message, req);
    // The replaced identity's leaving may have left two behind, unpaired.
    if (replaced) pair_if_one_to_one(call);
    return;
  }
  std::shared_ptr<Participant> participant = std::move(*added);
  participant->session = session;
  session->participant = participant;
  if (join.resumable.value_or(false) && config_.resume_grace_ms > 0) {
    participant->resume_token = random_resume_token();
    participant->resumable = !participant->resume_token.empty();
    if (participant->resumable) resume_tokens_[participant->resume_token] = participant;
  }
  session->send(make_joined(*participant, call, req));

  const signaling::ParticipantJoined announcement{
      .req = {},
      .participant = {participant->id, participant->identity, participant->display_name}};
  for (const auto& [id, other] : call.members) {
    if (id == participant->id) continue;
    if (auto s = other->session.lock()) s->send(announcement);
  }
  // After the roster messages, so that both know the peer before they are paired.
  pair_if_one_to_one(call);
  update_gauges();
  spdlog::info("call {}: {} joined as #{} ({} in the call)", call.id, participant->identity,
               participant->id, call.members.size());
}

signaling::Joined Server::make_joined(const Participant& participant, const Call& call,
                                      const std::optional<std::string>& req) const {
  signaling::Joined joined;
  joined.req = req;
  joined.participant_id = participant.id;
  joined.identity = participant.identity;
  joined.display_name = participant.display_name;
  joined.call = call.id;
  for (const auto& p : call.roster.participants()) {
    if (p.id != participant.id) joined.participants.push_back({p.id, p.identity, p.display_name});
  }
  joined.ice_servers = ice_servers_for(config_, participant.identity, unix_now());
  joined.max_message_size = static_cast<std::uint32_t>(config_.max_message_size);
  if (config_.rate_limit_bytes_per_second > 0) {
    joined.rate_limit_bytes_per_second =
        static_cast<std::uint32_t>(config_.rate_limit_bytes_per_second);
  }
  if (config_.rate_limit_messages_per_second > 0) {
    joined.rate_limit_messages_per_second =
        static_cast<std::uint32_t>(config_.rate_limit_messages_per_second);
  }
  if (participant.resumable) {
    joined.resume_token = participant.resume_token;
    joined.resume_grace_ms = config_.resume_grace_ms;
  }
  return joined;
}

// ---- Resuming ----

bool Server::resume(const std::shared_ptr<SignalingSession>& session, const signaling::Join& join,
                    const std::string& identity, const std::string& call_id) {
  if (auto revoked = revoked_tokens_.find(join.resume->token); revoked != revoked_tokens_.end()) {
    session->send(signaling::Disconnect{.req = join.req, .reason = revoked->second});
    session->close();
    return true;
  }
  auto it = resume_tokens_.find(join.resume->token);
  if (it == resume_tokens_.end()) return false;
  std::shared_ptr<Participant> p = it->second.lock();
  if (!p || p->gone || p->call == nullptr || p->call->id != call_id || p->identity != identity) {
    return false;
  }
  // A connection the server has not yet noticed to be dead goes quietly: it is the same
  // client, and the others see nothing.
  if (auto old = p->session.lock()) {
    if (old->participant == p) old->participant.reset();
    old->close();
  }
  close_data_path(p);
  p->suspended_until.reset();
  p->session = session;
  session->participant = p;
  p->p2p = join.p2p.value_or(true);
  // What the client took in is done with; the rest goes again, first, as it was.
  if (auto taken = p->sent_log.acknowledged(core::DirectAck{0, join.resume->received}); !taken) {
    spdlog::warn("#{} {} resumed claiming {}", p->id, p->identity, taken.error().message);
  }
  p->replay.clear();
  for (auto& [cls, bytes] : p->sent_log.unacked_copies()) {
    p->replay.emplace_back(static_cast<StreamIndex>(core::durable_class_index(cls.priority)),
                           std::move(bytes));
  }
  p->acked = p->received;
  signaling::Joined joined = make_joined(*p, *p->call, join.req);
  joined.resumed = true;
  joined.received = p->received;
  session->send(joined);
  spdlog::info("call {}: {} (#{}) resumed; {} durable transport messages to send again",
               call_id, p->identity, p->id, p->replay.size());
  pair_if_one_to_one(*p->call);
  return true;
}

void Server::lose(const std::shared_ptr<Participant>& participant, const std::string& reason) {
  if (participant->gone) return;
  if (participant->resumable && !shutting_down_) {
    suspend(participant, reason);
  } else {
    disconnect(participant, reason);
  }
}

void Server::suspend(const std::shared_ptr<Participant>& p, const std::string& reason) {
  if (p->gone || p->suspended_until) return;
  if (auto session = p->session.lock()) {
    if (session->participant == p) session->participant.reset();
    session->close();
  }
  p->session.reset();
  close_data_path(p);
  p->suspended_until = core::Clock::now() + std::chrono::milliseconds(config_.resume_grace_ms);
  spdlog::info("call {}: {} (#{}) lost its connection ({}); kept {} ms for it to resume",
               p->call ? p->call->id : "-", p->identity, p->id, reason, config_.resume_grace_ms);
}

void Server::note_received(const std::shared_ptr<Participant>& p, StreamIndex stream) {
  ++p->received[stream];
  if (!p->ack_due) {
    p->ack_due = true;
    ack_due_.push_back(p);
  }
  if (ack_armed_) return;
  ack_armed_ = true;
  ack_timer_.expires_after(kAckDelay);
  ack_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
    if (ec || alive.expired()) return;
    ack_armed_ = false;
    send_acks();
  });
}

void Server::send_acks() {
  for (const auto& weak : std::exchange(ack_due_, {})) {
    auto p = weak.lock();
    if (!p) continue;
    p->ack_due = false;
    if (p->gone || p->received == p->acked) continue;
    auto session = p->session.lock();
    if (!session) continue;  // suspended: its resume says what it missed
    p->acked = p->received;
    session->send(signaling::Ack{.req = {}, .received = p->received});
  }
}

void Server::arm_sweep() {
  sweep_timer_.expires_after(kSweepInterval);
  sweep_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
    if (ec || alive.expired()) return;
    sweep();
    arm_sweep();
  });
}

void Server::sweep() {
  const core::TimePoint now = core::Clock::now();
  const auto wall = std::chrono::steady_clock::now();
  std::vector<std::shared_ptr<Participant>> expired;
  std::vector<std::shared_ptr<Participant>> silent;
  calls_.for_each_participant([&](const std::shared_ptr<Participant>& p) {
    if (p->suspended_until) {
      if (now >= *p->suspended_until) expired.push_back(p);
      return;
    }
    if (!p->resumable) return;
    if (auto s = p->session.lock(); s && wall - s->last_heard() > kResumableSilence) {
      silent.push_back(p);
    }
  });
  for (const auto& p : silent) suspend(p, "its signaling was silent for 5 s");
  for (const auto& p : expired) {
    spdlog::info("call {}: {} (#{}) did not resume within {} ms", p->call ? p->call->id : "-",
                 p->identity, p->id, config_.resume_grace_ms);
    leave(p);
  }
}

void Server::handle_offer(const std::shared_ptr<SignalingSession>& session,
                          const signaling::Offer& offer) {
  const std::shared_ptr<Participant> participant = session->participant;
  auto sdp = webrtc::parse_sdp(offer.sdp);
  if (!sdp) {
    metrics_.refuse(RefusalReason::BadOffer);
    session->send(signaling::ErrorReply{.req = offer.req,
                                        .code = ErrorCode::InvalidArgument,
                                        .message = sdp.error().message,
                                        .channel_id = {}});
    return;
  }
  close_data_path(participant);  // a new offer replaces the previous connection

  const webrtc::IceCredentials ice = webrtc::random_ice_credentials();
  const std::size_t local_max = local_max_message_size(config_);
  const webrtc::SessionDescription answer =
      webrtc::make_lite_answer(*sdp, ice, *certificate_, public_address_, local_max);

  Participant* raw = participant.get();
  const std::weak_ptr<Participant> weak = participant;
  const auto ice_session = webrtc_->add_session(
      ice, sdp->ice_ufrag,
      webrtc::WebRtcServer::SessionHandlers{
          .datagram =
              [raw](ByteView datagram) {
                if (!raw->gone && raw->connection) raw->connection->handle_datagram(datagram);
              },
          .consent_lost =
              [this, weak] { post_disconnect(weak, "connection lost: no ICE consent for 30 s"); },
      });
  participant->ice_session = ice_session;
  // Callbacks of a connection that a newer offer replaced (its destruction is posted) must
  // not touch the participant: each checks that its ICE session is still the current one.
  auto current = [weak, ice_session]() -> std::shared_ptr<Participant> {
    auto p = weak.lock();
    return p && !p->gone && p->ice_session == ice_session ? p : nullptr;
  };

  webrtc::WebRtcConnection::Config connection_config{
      .certificate = certificate_,
      .dtls_role = webrtc::answerer_dtls_role(sdp->setup),
      .remote_fingerprint = sdp->fingerprint,
      .local_sctp_port = 5000,
      .remote_sctp_port = sdp->sctp_port,
      .remote_max_message_size = sdp->max_message_size,
      .local_max_message_size = local_max,
  };
  webrtc::WebRtcConnection::Callbacks callbacks{
      .send_datagram =
          [this, ice_session, alive = std::weak_ptr<bool>(alive_)](ByteView d) {
            if (!alive.expired()) webrtc_->send(ice_session, d);
          },
      .connected =
          [this, current] {
            auto p = current();
            if (!p) return;
            p->channels_open = true;
            relay_.wake(p);
          },
      .channel_opened = {},
      .message =
          [this, raw, current](std::uint16_t stream, ByteView data, bool) {
            if (stream >= kStreamCount || raw->gone) return;
            if (raw->resumable && !is_lossy_stream(static_cast<StreamIndex>(stream))) {
              if (auto p = current()) note_received(p, static_cast<StreamIndex>(stream));
            }
            relay_.on_transport_message(*raw, data);
          },
      .channel_closed = {},
      .buffered_amount_low =
          [this, current] {
            if (auto p = current()) relay_.wake(p);
          },
      .failed =
          [this, current](const Error& error) {
            if (auto p = current()) post_disconnect(p, "data connection failed: " + error.message);
          },
  };
  participant->connection = std::make_unique<webrtc::WebRtcConnection>(
      io_, std::move(connection_config), std::move(callbacks));
  participant->connection->set_buffered_amount_low_threshold(kSctpLowWater);
  // Before the association is up, so that data the client sends at once finds its channel.
  open_channels(*participant);
  participant->connection->start();
  start_data_connect_timer(participant, ice_session);
  session->send(signaling::Answer{.req = offer.req, .sdp = webrtc::write_sdp(answer), .peer = {}});
}

void Server::start_data_connect_timer(const std::shared_ptr<Participant>& participant,
                                      webrtc::WebRtcServer::SessionId ice_session) {
  auto timer = std::make_shared<asio::steady_timer>(io_);
  timer->expires_after(std::chrono::seconds(config_.data_connect_timeout_s));
  timer->async_wait([this, timer, alive = std::weak_ptr<bool>(alive_),
                     weak = std::weak_ptr<Participant>(participant),
                     ice_session](boost::system::error_code ec) {
    if (ec || alive.expired()) return;
    auto p = weak.lock();
    // Up in time, gone, or replaced by a newer offer (which has its own timer).
    if (!p || p->gone || p->ice_session != ice_session || p->channels_open) return;
    metrics_.refuse(RefusalReason::DataConnectTimeout);
    disconnect(p, "data connection not established within " +
                      std::to_string(config_.data_connect_timeout_s) +
                      " s (ICE, DTLS or SCTP did not complete)");
  });
}

void Server::open_channels(Participant& participant) {
  for (StreamIndex s = 0; s < kStreamCount; ++s) {
    webrtc::ChannelParams params;
    params.label = kChannelLabels[s];
    params.ordered = !is_lossy_stream(s);
    params.reliability = is_lossy_stream(s) ? webrtc::SctpReliability::MaxRetransmits
                                            : webrtc::SctpReliability::Reliable;
    params.reliability_value = 0;
    params.priority = is_high_stream(s) ? 512 : 256;
    params.negotiated = true;
    params.stream = s;
    auto opened = participant.connection->open_channel(params);
    if (!opened) {
      spdlog::warn("#{}: cannot open data channel {}: {}", participant.id, s,
                   opened.error().message);
    }
  }
}

void Server::close_data_path(const std::shared_ptr<Participant>& participant) {
  participant->channels_open = false;
  relay_.forget_sender(*participant);  // a new connection starts unpaused
  if (participant->ice_session != 0) {
    webrtc_->remove_session(participant->ice_session);
    participant->ice_session = 0;
  }
  if (participant->connection) {
    // The connection may be inside one of its own callbacks: destroy it from the loop.
    asio::post(io_, [connection = std::move(participant->connection), keep = participant] {});
  }
}

void Server::refuse(Participant& participant, ErrorCode code, std::uint16_t channel,
                    std::string message) {
  if (auto s = participant.session.lock()) {
    s->send(signaling::ErrorReply{
        .req = {}, .code = code, .message = std::move(message), .channel_id = channel});
  }
}

void Server::pair_if_one_to_one(Call& call, bool retry) {
  if (!retry) call.p2p_failures = 0;
  if (shutting_down_ || call.members.size() != 2) return;
  const auto& first = call.members.begin()->second;
  const auto& second = std::next(call.members.begin())->second;
  if (!first->p2p || !second->p2p) return;
  // A suspended participant cannot connect; its resume pairs them again.
  if (first->suspended_until || second->suspended_until) return;
  const std::uint32_t session = ++call.p2p_sessions;
  call.p2p_paired_at = core::Clock::now();
  call.p2p_retry_scheduled = false;
  for (const auto& [me, peer] : {std::pair{first, second}, std::pair{second, first}}) {
    if (auto s = me->session.lock()) {
      s->send(signaling::P2p{
          .req = {}, .peer = peer->id, .session = session, .offer = me->id < peer->id});
    }
  }
  spdlog::info("call {}: #{} and #{} may connect directly (session {})", call.id, first->id,
               second->id, session);
}

void Server::on_p2p_failed(Participant& participant, const signaling::P2pFailed& failed) {
  Call* call = participant.call;
  // Only the call's current session, while the two are still its only members: anything
  // else is a report that crossed a change, which paired (or unpaired) them already.
  if (call == nullptr || failed.session != call->p2p_sessions || call->p2p_retry_scheduled ||
      call->members.size() != 2 || call->member(failed.peer) == nullptr ||
      failed.peer == participant.id) {
    return;
  }
  const core::TimePoint now = core::Clock::now();
  // A session that held for a while was a working path that broke, not a path that
  // does not work: the backoff starts over.
  if (now - call->p2p_paired_at >= kP2pRetryResetAfter) call->p2p_failures = 0;
  const core::Duration delay = std::min<core::Duration>(
      kP2pRetryFirst * (1 << std::min(call->p2p_failures, 5U)), kP2pRetryMax);
  ++call->p2p_failures;
  call->p2p_retry_scheduled = true;
  spdlog::info("call {}: #{} says direct session {} failed; pairing again in {} ms", call->id,
               participant.id, failed.session,
               std::chrono::duration_cast<std::chrono::milliseconds>(delay).count());
  auto timer = std::make_shared<asio::steady_timer>(io_, delay);
  timer->async_wait([this, alive = std::weak_ptr<bool>(alive_), timer, call_id = call->id,
                     session = failed.session](boost::system::error_code ec) {
    if (ec || alive.expired()) return;
    Call* call = calls_.find(call_id);
    // A membership change meanwhile paired them (or not) on its own.
    if (call == nullptr || call->p2p_sessions != session) return;
    pair_if_one_to_one(*call, /*retry=*/true);
  });
}

void Server::leave(const std::shared_ptr<Participant>& participant, bool pair_remaining) {
  if (participant->gone) return;
  participant->gone = true;
  if (!participant->resume_token.empty()) resume_tokens_.erase(participant->resume_token);
  participant->suspended_until.reset();
  close_data_path(participant);
  relay_.discard(*participant);
  if (auto s = participant->session.lock()) {
    if (s->participant == participant) s->participant.reset();
  }
  Call* call = participant->call;
  if (call == nullptr) return;
  const std::string call_id = call->id;
  std::vector<std::shared_ptr<Participant>> others;
  for (const auto& [id, p] : call->members) {
    if (p != participant) others.push_back(p);
  }
  calls_.remove(*participant);
  // The call ended here: another node may host it next time.
  if (cluster_ && calls_.find(call_id) == nullptr) cluster_->release(call_id);
  const signaling::ParticipantLeft left{
      .req = {}, .participant_id = participant->id, .identity = participant->identity};
  for (const auto& other : others) {
    if (auto s = other->session.lock()) s->send(left);
  }
  // The call still exists while others remain.
  if (pair_remaining && !others.empty()) pair_if_one_to_one(*others.front()->call);
  update_gauges();
  spdlog::info("call {}: {} (#{}) left ({} remain)", call_id, participant->identity,
               participant->id, others.size());
}

void Server::disconnect(const std::shared_ptr<Participant>& participant, const std::string& reason,
                        bool pair_remaining) {
  if (participant->resumable && !participant->gone) {
    if (revoked_tokens_.emplace(participant->resume_token, reason).second) {
      revoked_order_.push_back(participant->resume_token);
    }
    if (revoked_order_.size() > kMaxRevokedTokens) {
      revoked_tokens_.erase(revoked_order_.front());
      revoked_order_.pop_front();
    }
  }
  auto session = participant->session.lock();
  if (session) session->send(signaling::Disconnect{.req = {}, .reason = reason});
  leave(participant, pair_remaining);
  if (session) session->close();
}

void Server::post_disconnect(const std::weak_ptr<Participant>& participant, std::string reason) {
  asio::post(io_,
             [this, alive = std::weak_ptr<bool>(alive_), participant, reason = std::move(reason)] {
               if (alive.expired()) return;
               auto p = participant.lock();
               if (!p || p->gone) return;
               spdlog::info("#{} {}: {}", p->id, p->identity, reason);
               lose(p, reason);
             });
}

void Server::update_gauges() {
  metrics_.calls = calls_.call_count();
  metrics_.participants = calls_.participant_count();
}

void Server::shutdown(std::string reason, std::function<void()> done) {
  if (shutting_down_) return;
  shutting_down_ = true;
  shutdown_reason_ = std::move(reason);
  shutdown_done_ = std::move(done);
  boost::system::error_code ec;
  acceptor_.close(ec);
  accept_timer_.cancel();
  if (cluster_) cluster_->stop();
  std::vector<std::shared_ptr<Participant>> participants;
  calls_.for_each_participant(
      [&](const std::shared_ptr<Participant>& p) { participants.push_back(p); });
  for (const auto& p : participants) disconnect(p, shutdown_reason_);
  for (const auto& weak : sessions_) {
    if (auto s = weak.lock()) s->close();
  }
  shutdown_timer_.expires_after(std::chrono::seconds(3));
  shutdown_timer_.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code) {
        if (alive.expired()) return;
        finish_shutdown();
      });
  check_shutdown_done();
}

void Server::check_shutdown_done() {
  if (shutting_down_ && metrics_.signaling_connections == 0) finish_shutdown();
}

void Server::finish_shutdown() {
  if (!shutdown_done_) return;
  shutdown_timer_.cancel();
  auto done = std::move(shutdown_done_);
  shutdown_done_ = nullptr;
  asio::post(io_, std::move(done));
}

}  // namespace switchboard::server
