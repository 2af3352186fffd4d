#include "client/call_transport.hpp"

#include <boost/asio/post.hpp>

#include "client/ice_servers.hpp"
#include "client/log.hpp"
#include "client/websocket_client.hpp"

namespace switchboard::client {
namespace {

namespace asio = boost::asio;

// Sessions remembered per peer, for RESENT frames that trail their session.
constexpr std::size_t kMaxSessionsPerPeer = 4;

// Host candidates on loopback only when the server is on loopback: the two participants
// are then on this machine, and every other interface is noise (and, in test sandboxes,
// sometimes unroutable).
std::vector<std::string> host_candidate_addresses(const ServerLinkConfig& config) {
  if (!config.local_address.empty()) return {config.local_address};
  auto url = parse_websocket_url(config.url);
  if (url && (url->host == "127.0.0.1" || url->host == "localhost")) return {"127.0.0.1"};
  if (url && url->host == "::1") return {"::1"};
  return {};
}

bool is_direct_stream(std::uint16_t stream) { return stream < kPeerControlStream; }

}  // namespace

CallTransport::CallTransport(asio::io_context& io, ServerLinkConfig config, Callbacks callbacks)
    : io_(io),
      config_(std::move(config)),
      callbacks_(std::move(callbacks)),
      retry_timer_(io),
      server_ack_timer_(io),
      heartbeat_timer_(io) {
  if (config_.reconnect_window.count() > 0) {
    config_.resumable = true;
    config_.ping_interval = kPingInterval;
    config_.silence_limit = kSilenceLimit;
  }
  link_ = make_link();
}

std::unique_ptr<ServerLink> CallTransport::make_link() {
  ServerLink::Callbacks link;
  link.joined = [this](const signaling::Joined& j) {
    if (reconnecting_) {
      on_rejoined(j);
    } else {
      on_joined(j);
    }
  };
  link.connected = [this] { on_link_connected(); };
  link.participant_joined = [this](const signaling::ParticipantInfo& p) {
    on_participant_joined(p);
  };
  link.participant_left = [this](const signaling::ParticipantLeft& p) { on_participant_left(p); };
  link.data = [this](ByteView d) { on_server_data(d); };
  link.durable_received = [this](std::size_t cls) { on_durable_received(cls); };
  link.ack = [this](const signaling::DurableCounts& c) { on_server_ack(c); };
  link.error = [this](const signaling::ErrorReply& e) {
    if (callbacks_.error) callbacks_.error(e);
  };
  link.writable = [this] { on_server_writable(); };
  link.closed = [this](const Error& e) { on_link_closed(e); };
  link.p2p = [this](const signaling::P2p& p) { on_p2p(p); };
  link.peer_signal = [this](const signaling::Message& m) { on_peer_signal(m); };
  ServerLinkConfig config = config_;
  if (resume_token_) {
    config.resume = signaling::ResumeRequest{.token = *resume_token_, .received = server_received_};
  }
  return std::make_unique<ServerLink>(io_, std::move(config), std::move(link));
}

CallTransport::~CallTransport() {
  *alive_ = false;
  heartbeat_timer_.cancel();
  retry_timer_.cancel();
  server_ack_timer_.cancel();
  graveyard_.clear();
  dead_links_.clear();
  direct_.reset();
  link_.reset();
}

void CallTransport::start() {
  link_->start();
}

// ---- Sending ----

Result<void> CallTransport::send(core::TrafficClass cls, ByteView message) {
  if (left_) return Error{ErrorCode::NotConnected, "the call was left"};
  if (send_log_) {
    const bool durable = cls.reliability == Reliability::Durable;
    if (durable && send_log_->unacked_bytes() >= kMaxUnacked) {
      blocked_on_unacked_ = true;
      return Error{ErrorCode::BufferFull, "waiting for the peer to acknowledge direct messages"};
    }
    auto sent = direct_->link->send(stream_of(cls), message);
    if (sent) {
      if (durable) send_log_->sent(cls.priority, message);
      return sent;
    }
    if (sent.error().code == ErrorCode::BufferFull) return sent;
    // The direct connection is gone; its `failed` may not have come yet. Back to the
    // server, outside this call; the message goes there once the resends are out.
    asio::post(io_, [this, alive = alive_, session = send_log_->session()] {
      if (*alive) on_direct_failed(session, Error{ErrorCode::NotConnected, "direct send failed"});
    });
    return Error{ErrorCode::BufferFull, "switching back to the server path"};
  }
  if (reconnecting_ || (ever_connected_ && !server_connected_)) {
    return Error{ErrorCode::BufferFull, "reconnecting to the server"};
  }
  if (!pending_.empty() || !replay_.empty()) {
    flush_pending();
    if (!pending_.empty() || !replay_.empty()) {
      return Error{ErrorCode::BufferFull, "resending the direct path's messages first"};
    }
  }
  return send_to_server(cls, message);
}

// Every transport message for the server goes here, except replays: on a resumable link
// durable ones are kept until the server confirms them, at most kMaxUnacked bytes.
Result<void> CallTransport::send_to_server(core::TrafficClass cls, ByteView message) {
  const bool logged = resume_token_ && cls.reliability == Reliability::Durable;
  if (logged && server_log_.unacked_bytes() >= kMaxUnacked) {
    blocked_on_server_ = true;
    return Error{ErrorCode::BufferFull, "waiting for the server to acknowledge"};
  }
  auto sent = link_->send(cls, message);
  if (sent && logged) server_log_.sent(cls.priority, message);
  return sent;
}

std::size_t CallTransport::buffered_amount() const {
  std::size_t total = link_ ? link_->buffered_amount() : 0;
  total += pending_bytes_;
  if (direct_ && direct_->link) total += direct_->link->buffered_amount();
  if (send_log_) total += send_log_->unacked_bytes();
  total += server_log_.unacked_bytes();
  return total;
}

void CallTransport::set_receive_paused(bool paused) {
  receive_paused_ = paused;
  if (link_) link_->set_receive_paused(paused);
  if (direct_ && direct_->link) direct_->link->set_receive_paused(paused);
}

void CallTransport::leave() {
  if (left_) return;
  left_ = true;
  heartbeat_timer_.cancel();
  retry_timer_.cancel();
  server_ack_timer_.cancel();
  close_direct();
  if (link_) link_->leave();
}

void CallTransport::flush_pending() {
  if (!server_connected_) return;  // `connected` flushes
  // What a resumed link owes the server comes first, as it was (still in server_log_).
  while (!replay_.empty()) {
    auto& [cls, bytes] = replay_.front();
    auto sent = link_->send(cls, bytes);
    if (!sent && sent.error().code == ErrorCode::BufferFull) return;  // `writable` resumes
    replay_.pop_front();
  }
  while (!pending_.empty()) {
    auto& [cls, bytes] = pending_.front();
    auto sent = send_to_server(cls, bytes);
    if (!sent && sent.error().code == ErrorCode::BufferFull) return;  // `writable` resumes
    // Sent, or the server link is going down (its `closed` follows): either way it is done.
    pending_bytes_ -= bytes.size();
    pending_.pop_front();
  }
}

void CallTransport::on_server_writable() {
  const bool had_pending = !pending_.empty() || !replay_.empty();
  flush_pending();
  if (had_pending && (!pending_.empty() || !replay_.empty())) return;
  if (callbacks_.writable) callbacks_.writable();
}

void CallTransport::post_writable() {
  if (writable_posted_) return;
  writable_posted_ = true;
  asio::post(io_, [this, alive = alive_] {
    if (!*alive) return;
    writable_posted_ = false;
    if (!left_ && callbacks_.writable) callbacks_.writable();
  });
}

// ---- The call's roster ----

// ---- Losing the server and coming back ----

void CallTransport::on_link_connected() {
  server_connected_ = true;
  const bool back = reconnecting_;
  reconnecting_ = false;
  ever_connected_ = true;
  backoff_ = kFirstBackoff;
  flush_pending();  // replays, then SWITCH or RESENT frames queued meanwhile
  if (callbacks_.connected) callbacks_.connected();
  if (back) post_writable();
}

void CallTransport::on_link_closed(const Error& error) {
  server_connected_ = false;
  // The link is inside its own callback: it goes on the next turn.
  if (link_) {
    dead_links_.push_back(std::move(link_));
    asio::post(io_, [this, alive = alive_] {
      if (*alive) dead_links_.clear();
    });
  }
  if (left_) return;
  const bool lost = dead_links_.back()->lost();
  const auto now = core::Clock::now();
  if (!reconnecting_) {
    if (config_.reconnect_window.count() <= 0 || !ever_connected_ || !lost) {
      close_direct();
      if (callbacks_.closed) callbacks_.closed(error);
      return;
    }
    log()->warn("lost the connection to the server ({}); reconnecting", error.message);
    reconnecting_ = true;
    reconnect_started_ = now;
    backoff_ = kFirstBackoff;
    server_ack_timer_.cancel();
    server_ack_armed_ = false;
    // The direct path goes too: what the peer did not acknowledge is resent through the
    // server once it is back (pending_).
    if (direct_) {
      leave_direct(/*peer_present=*/true);
      close_direct();
    }
    if (callbacks_.reconnecting) callbacks_.reconnecting(error);
    if (left_) return;
  } else if (!lost || now - reconnect_started_ >= config_.reconnect_window) {
    const auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(config_.reconnect_window).count();
    close_direct();
    if (callbacks_.closed) {
      callbacks_.closed(Error{
          error.code, lost ? "could not reconnect to the server within " +
                                 std::to_string(seconds) + " s: " + error.message
                           : "reconnecting failed: " + error.message});
    }
    return;
  }
  const auto left_in_window = std::chrono::duration_cast<std::chrono::milliseconds>(
      reconnect_started_ + config_.reconnect_window - now);
  retry_timer_.expires_after(std::max(std::chrono::milliseconds(0),
                                      std::min(backoff_, left_in_window)));
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
  retry_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (!ec && *alive) retry();
  });
}

void CallTransport::retry() {
  if (left_ || !reconnecting_ || link_) return;
  link_ = make_link();
  if (receive_paused_) link_->set_receive_paused(true);
  link_->start();
}

void CallTransport::on_rejoined(const signaling::Joined& joined) {
  Callbacks::Rejoined info;
  info.resumed = joined.resumed && joined.participant_id == self_ && joined.received.has_value();
  if (info.resumed) {
    // The server took in what it says; the rest goes again, first.
    if (auto taken = server_log_.acknowledged(core::DirectAck{0, *joined.received}); !taken) {
      log()->warn("the server's resume counts are wrong: {}", taken.error().message);
    }
    // A replay an earlier attempt began is in server_log_ still: start it over.
    replay_.clear();
    for (auto& entry : server_log_.unacked_copies()) replay_.push_back(std::move(entry));
  } else {
    // A new participant: what the old session had not confirmed is gone, and so is
    // everything addressed by the old participant ids.
    info.unconfirmed = server_log_.unacked_data_messages();
    for (const auto& [cls, bytes] : pending_) info.unconfirmed += core::durable_messages_in(bytes);
    server_log_ = core::DirectSendLog(0);
    server_received_ = {};
    pending_.clear();
    pending_bytes_ = 0;
    replay_.clear();
    receive_logs_.clear();
  }
  blocked_on_server_ = false;
  resume_token_ = joined.resume_token;
  std::set<core::ParticipantId> now_in;
  for (const auto& p : joined.participants) now_in.insert(p.participant_id);
  if (info.resumed) {
    // Who came and went while we were away; their announcements went to the dead link.
    const std::set<core::ParticipantId> before = others_;
    for (core::ParticipantId id : before) {
      if (now_in.contains(id)) continue;
      on_participant_left(signaling::ParticipantLeft{.req = {}, .participant_id = id, .identity = {}});
    }
    for (const auto& p : joined.participants) {
      if (!before.contains(p.participant_id)) on_participant_joined(p);
    }
  } else {
    self_ = joined.participant_id;
    others_ = std::move(now_in);
  }
  max_message_size_ = joined.max_message_size;
  if (callbacks_.rejoined) callbacks_.rejoined(joined, info);
}

void CallTransport::on_durable_received(std::size_t cls) {
  if (!resume_token_ || cls >= server_received_.size()) return;
  ++server_received_[cls];
  if (server_ack_armed_) return;
  server_ack_armed_ = true;
  server_ack_timer_.expires_after(kServerAckDelay);
  server_ack_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    server_ack_armed_ = false;
    send_server_ack();
  });
}

void CallTransport::send_server_ack() {
  if (link_ && server_connected_ && resume_token_) link_->send_ack(server_received_);
}

void CallTransport::on_server_ack(const signaling::DurableCounts& received) {
  if (!resume_token_) return;
  if (auto taken = server_log_.acknowledged(core::DirectAck{0, received}); !taken) {
    log()->warn("the server acknowledged more than we sent: {}", taken.error().message);
    return;
  }
  if (blocked_on_server_ && server_log_.unacked_bytes() < kMaxUnacked) {
    blocked_on_server_ = false;
    if (callbacks_.writable) callbacks_.writable();
  }
}

void CallTransport::on_joined(const signaling::Joined& joined) {
  joined_ = true;
  resume_token_ = joined.resume_token;
  self_ = joined.participant_id;
  for (const auto& p : joined.participants) others_.insert(p.participant_id);
  max_message_size_ = joined.max_message_size;
  if (config_.p2p) {
    auto ice = to_ice_config(joined.ice_servers);
    if (ice) {
      ice_ = std::move(*ice);
    } else {
      log()->warn("peer-to-peer without STUN/TURN: {}", ice.error().message);
    }
  }
  if (callbacks_.joined) callbacks_.joined(joined);
}

void CallTransport::on_participant_joined(const signaling::ParticipantInfo& info) {
  others_.insert(info.participant_id);
  // A third participant: everyone goes through the server again.
  if (direct_ && others_.size() > 1) {
    leave_direct(/*peer_present=*/true);
    close_direct();
  }
  if (callbacks_.participant_joined) callbacks_.participant_joined(info);
}

void CallTransport::on_participant_left(const signaling::ParticipantLeft& left) {
  others_.erase(left.participant_id);
  if (direct_ && direct_->peer == left.participant_id) {
    leave_direct(/*peer_present=*/false);
    close_direct();
  }
  std::erase_if(receive_logs_, [&](const auto& entry) {
    return entry.first.first == left.participant_id;
  });
  if (callbacks_.participant_left) callbacks_.participant_left(left);
}

// ---- Setting up the direct path ----

void CallTransport::on_p2p(const signaling::P2p& p2p) {
  if (!config_.p2p || left_ || p2p.peer == self_) return;
  if (direct_) {  // a new session replaces the old one
    log()->info("direct connection to participant {} replaced by session {}; using the server "
                "until it is up",
                direct_->peer, p2p.session);
    leave_direct(/*peer_present=*/others_.contains(p2p.peer));
    close_direct();
  }
  PeerLinkConfig config;
  config.peer = p2p.peer;
  config.session = p2p.session;
  config.offerer = p2p.offer;
  config.ice = ice_;
  config.local_addresses = host_candidate_addresses(config_);
  if (max_message_size_ > 0) {
    config.max_message_size = std::max<std::size_t>(config.max_message_size,
                                                    std::size_t{max_message_size_} + 65536);
  }
  const std::uint32_t session = p2p.session;
  PeerLink::Callbacks callbacks;
  callbacks.signal = [this](signaling::Message m) {
    if (link_) link_->signal(m);
  };
  callbacks.connected = [this, session] { on_direct_up(session); };
  callbacks.message = [this, session](std::uint16_t stream, ByteView m) {
    on_direct_message(session, stream, m);
  };
  callbacks.writable = [this, session] {
    if (send_log_ && send_log_->session() == session && callbacks_.writable) callbacks_.writable();
  };
  callbacks.failed = [this, session](const Error& e) { on_direct_failed(session, e); };
  direct_.emplace(Direct{.peer = p2p.peer,
                         .session = session,
                         .link = std::make_unique<PeerLink>(io_, std::move(config),
                                                            std::move(callbacks)),
                         .up = false});
  if (receive_paused_) direct_->link->set_receive_paused(true);
  receive_log(p2p.peer, session);  // so that its SWITCH finds it
  direct_->link->start();
}

void CallTransport::on_peer_signal(const signaling::Message& message) {
  if (!direct_ || !direct_->link) return;
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, signaling::Offer> || std::is_same_v<T, signaling::Answer> ||
                      std::is_same_v<T, signaling::Candidate>) {
          if (m.peer != direct_->peer || m.session != direct_->session) return;
          direct_->link->handle(m);
        }
      },
      message);
}

void CallTransport::on_direct_up(std::uint32_t session) {
  if (!direct_ || direct_->session != session) return;
  direct_->up = true;
  last_control_ = core::Clock::now();
  arm_heartbeat();
  if (auto pair = direct_->link->selected_pair()) {
    log()->info("direct connection to participant {} is up: {}", direct_->peer, *pair);
  }
  if (direct_allowed()) enter_direct();
}

void CallTransport::on_direct_failed(std::uint32_t session, const Error& error) {
  if (!direct_ || direct_->session != session) return;
  const core::ParticipantId peer = direct_->peer;
  log()->info("direct connection to participant {} failed ({}); using the server", peer,
              error.message);
  leave_direct(/*peer_present=*/others_.contains(peer));
  close_direct();
  // The server pairs us again later, with backoff; a peer that left needs no new try.
  if (link_ && others_.contains(peer)) {
    link_->signal(signaling::P2pFailed{.req = {}, .peer = peer, .session = session});
  }
}

bool CallTransport::direct_allowed() const {
  return direct_ && direct_->up && !left_ && others_.size() == 1 &&
         others_.contains(direct_->peer);
}

// ---- Switching ----

void CallTransport::enter_direct() {
  if (send_log_) return;
  const core::ParticipantId peer = direct_->peer;
  send_log_.emplace(direct_->session);
  for (std::size_t i = 0; i < core::kDurableClasses; ++i) {
    const core::TrafficClass cls = core::durable_class(i);
    Bytes frame;
    core::encode_switch_frame(direct_->session, cls.priority, peer, frame);
    pending_bytes_ += frame.size();
    pending_.emplace_back(cls, std::move(frame));
  }
  flush_pending();
  if (callbacks_.path_changed) callbacks_.path_changed(peer);
  if (callbacks_.writable) callbacks_.writable();  // what waited for the server may go now
}

void CallTransport::leave_direct(bool peer_present) {
  if (!send_log_) return;
  if (peer_present) {
    for (auto& [cls, frame] : send_log_->take_resends(direct_->peer)) {
      pending_bytes_ += frame.size();
      pending_.emplace_back(cls, std::move(frame));
    }
  }
  send_log_.reset();
  blocked_on_unacked_ = false;
  flush_pending();
  if (callbacks_.path_changed) callbacks_.path_changed(std::nullopt);
  post_writable();
}

void CallTransport::close_direct() {
  send_log_.reset();  // leave_direct took what had to go again
  if (!direct_) return;
  if (direct_->link) {
    direct_->link->close();
    graveyard_.push_back(std::move(direct_->link));
    asio::post(io_, [this, alive = alive_] {
      if (*alive) graveyard_.clear();
    });
  }
  direct_.reset();
}

// ---- Receiving ----

core::DirectReceiveLog& CallTransport::receive_log(core::ParticipantId peer,
                                                   std::uint32_t session) {
  auto [it, inserted] = receive_logs_.try_emplace({peer, session}, session);
  if (!inserted) return it->second;
  // A few sessions per peer: its oldest goes first (never the one just made), so no
  // participant can push out the logs of another.
  auto first = receive_logs_.lower_bound({peer, 0});
  std::size_t count = 0;
  for (auto i = first; i != receive_logs_.end() && i->first.first == peer; ++i) ++count;
  if (count > kMaxSessionsPerPeer) receive_logs_.erase(first != it ? first : std::next(first));
  return it->second;
}

void CallTransport::deliver_direct(core::ParticipantId peer, ByteView message) {
  if (callbacks_.peer_data) callbacks_.peer_data(peer, message);
}

void CallTransport::on_server_data(ByteView data) {
  if (!config_.p2p) {  // nobody goes direct with us, so no path control comes
    if (callbacks_.data) callbacks_.data(data);
    return;
  }
  // Path-control frames are taken out; the runs of frames between them go on in order.
  const std::uint8_t* run = data.data();
  const std::uint8_t* const end = data.data() + data.size();
  ByteView rest = data;
  while (!rest.empty()) {
    const std::uint8_t* const at = rest.data();
    auto frame = core::decode_frame(rest);
    if (!frame) break;  // the endpoint counts what cannot be framed
    if (!core::is_path_control(frame->header.type)) continue;
    if (at > run && callbacks_.data) callbacks_.data(ByteView(run, at));
    run = rest.data();
    on_control_frame(*frame);
    if (left_) return;
  }
  if (run < end && callbacks_.data) callbacks_.data(ByteView(run, end));
}

void CallTransport::on_control_frame(const core::DecodedFrame& frame) {
  const core::FrameHeader& h = frame.header;
  if (!h.from) return;
  const core::ParticipantId peer = *h.from;
  core::DirectReceiveLog& history = receive_log(peer, h.sequence);
  if (h.type == core::FrameType::Switch) {
    std::vector<Bytes> released;
    history.on_switch(h.priority, released);
    for (const Bytes& message : released) deliver_direct(peer, message);
    if (!released.empty()) post_ack();
    return;
  }
  const core::ResentPayload resent = core::split_resent_payload(frame.payload);
  if (history.on_resent(h.priority, resent.index) == core::DirectReceiveLog::Verdict::Deliver) {
    deliver_direct(peer, resent.message);
  }
}

void CallTransport::on_direct_message(std::uint32_t session, std::uint16_t stream,
                                      ByteView message) {
  if (!direct_ || direct_->session != session || left_) return;
  const core::ParticipantId peer = direct_->peer;
  if (stream == kPeerControlStream) {
    last_control_ = core::Clock::now();
    auto ack = core::decode_direct_ack(message);
    if (!ack) {
      log()->warn("participant {} sent a bad direct-path control message: {}", peer,
                   ack.error().message);
      return;
    }
    if (!send_log_) return;
    if (auto taken = send_log_->acknowledged(*ack); !taken) {
      log()->warn("participant {}: {}; back to the server path", peer, taken.error().message);
      leave_direct(/*peer_present=*/true);
      close_direct();
      return;
    }
    if (blocked_on_unacked_ && send_log_->unacked_bytes() < kMaxUnacked) {
      blocked_on_unacked_ = false;
      if (callbacks_.writable) callbacks_.writable();
    }
    return;
  }
  if (!is_direct_stream(stream)) return;
  const core::TrafficClass cls{stream >= 2 ? Reliability::Lossy : Reliability::Durable,
                               (stream % 2) == 1 ? Priority::High : Priority::Normal};
  if (cls.reliability == Reliability::Lossy) {
    deliver_direct(peer, message);
    return;
  }
  core::DirectReceiveLog& history = receive_log(peer, session);
  switch (history.on_direct(cls.priority, message)) {
    case core::DirectReceiveLog::Verdict::Deliver:
      deliver_direct(peer, message);
      post_ack();
      break;
    case core::DirectReceiveLog::Verdict::Hold:
      if (history.held_bytes() > kMaxHeld) {
        log()->warn("participant {} sent {} bytes directly before its switch; closing the "
                     "direct path",
                     peer, history.held_bytes());
        leave_direct(/*peer_present=*/true);
        close_direct();
        return;
      }
      break;
    case core::DirectReceiveLog::Verdict::Drop:
      break;
  }
}

// One acknowledgement per turn of the loop, whatever it took in.
void CallTransport::post_ack() {
  if (ack_posted_) return;
  ack_posted_ = true;
  asio::post(io_, [this, alive = alive_] {
    if (!*alive) return;
    ack_posted_ = false;
    send_ack();
  });
}

void CallTransport::send_ack() {
  if (!direct_ || !direct_->up || left_) return;
  auto it = receive_logs_.find({direct_->peer, direct_->session});
  if (it == receive_logs_.end()) return;
  auto ack = it->second.ack_due();
  if (!ack) return;
  last_ack_sent_ = core::Clock::now();
  const Bytes bytes = core::encode_direct_ack(*ack);
  if (!direct_->link->send(kPeerControlStream, bytes)) {
    // A full buffer: the next message taken in acknowledges again, with the newer counts.
    post_ack();
  }
}

// Every kAckInterval while the direct connection is up: an acknowledgement if none went
// out meanwhile (the peer's proof that this side and the path are alive), and the check
// that the peer's have come.
void CallTransport::arm_heartbeat() {
  heartbeat_timer_.expires_after(kAckInterval);
  heartbeat_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (!ec && *alive) on_heartbeat();
  });
}

void CallTransport::on_heartbeat() {
  if (!direct_ || !direct_->up || left_) return;
  const core::TimePoint now = core::Clock::now();
  // The peer acknowledges every kAckInterval while its side is up, whether or not either
  // of us sends direct: its silence is the direct path's death (the ICE agent runs no
  // consent checks of its own; webrtc::IceAgent says why).
  if (now - last_control_ > kDirectSilence) {
    on_direct_failed(direct_->session,
                     Error{ErrorCode::NotConnected, "no acknowledgement from the peer for " +
                                                        std::to_string(kDirectSilence.count()) +
                                                        " ms"});
    return;
  }
  if (now - last_ack_sent_ >= kAckInterval) {
    auto it = receive_logs_.find({direct_->peer, direct_->session});
    if (it != receive_logs_.end()) {
      (void)direct_->link->send(kPeerControlStream, core::encode_direct_ack(it->second.current_ack()));
      last_ack_sent_ = now;
    }
  }
  arm_heartbeat();
}

TransportFactory call_transport() {
  return [](asio::io_context& io, ServerLinkConfig config, Transport::Callbacks callbacks) {
    return std::make_unique<CallTransport>(io, std::move(config), std::move(callbacks));
  };
}

}  // namespace switchboard::client
