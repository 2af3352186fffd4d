#pragma once

// An in-process stand-in for the Switchboard server, for SDK tests: participants join
// through FakeTransport (the client::Transport a Call drives) and their frames are routed
// with the same core::route_frame / restamp_frame rules the server uses. Everything runs
// on the SDK's event thread; tests reach the relay through EventLoop::post.

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/post.hpp>

#include "client/event_loop.hpp"
#include "client/transport.hpp"
#include "core/frame.hpp"
#include "core/roster.hpp"
#include "core/routing.hpp"

namespace switchboard::testing {

struct RelayConfig {
  std::uint32_t max_message_size = 256 * 1024;
  std::optional<std::uint32_t> rate_limit_bytes_per_second;
  std::optional<std::uint32_t> rate_limit_messages_per_second;
  // Joins of these identities are refused with this error.
  std::map<std::string, Error> refuse;
  // Joins of these identities are admitted but the data connection never comes up.
  std::vector<std::string> never_connect;
};

class FakeRelay;

// The shared state of one participant's transport: callbacks may be queued on the loop
// after the transport is gone, so they check `active` first.
struct FakeLink {
  client::Transport::Callbacks callbacks;
  bool active = true;
  core::ParticipantId id = core::kNoParticipant;
  std::string identity;
  bool receive_paused = false;
  int pause_changes = 0;
  // What buffered_amount() reports: a test holds it up to keep a leave() draining.
  std::size_t buffered = 0;
  // While set, send() fails with BUFFER_FULL (a full SCTP buffer); call `writable` after.
  bool refuse_sends = false;
};

class FakeTransport final : public client::Transport {
 public:
  FakeTransport(FakeRelay& relay, boost::asio::io_context& io, client::ServerLinkConfig config,
                Callbacks callbacks)
      : relay_(relay), io_(io), config_(std::move(config)), link_(std::make_shared<FakeLink>()) {
    link_->callbacks = std::move(callbacks);
    link_->identity = config_.token;  // the fake's token is the identity itself
  }
  ~FakeTransport() override { leave(); }

  void start() override;
  Result<void> send(core::TrafficClass cls, ByteView message) override;
  std::size_t buffered_amount() const override { return link_->buffered; }
  void set_receive_paused(bool paused) override {
    if (link_->receive_paused != paused) ++link_->pause_changes;
    link_->receive_paused = paused;
  }
  void leave() override;

 private:
  FakeRelay& relay_;
  boost::asio::io_context& io_;
  client::ServerLinkConfig config_;
  std::shared_ptr<FakeLink> link_;
};

class FakeRelay {
 public:
  explicit FakeRelay(boost::asio::io_context& io, RelayConfig config = {})
      : io_(io), config_(std::move(config)) {}

  client::TransportFactory factory() {
    return [this](boost::asio::io_context& io, client::ServerLinkConfig config,
                  client::Transport::Callbacks callbacks) {
      return std::make_unique<FakeTransport>(*this, io, std::move(config), std::move(callbacks));
    };
  }

  // Event thread.
  void admit(const std::shared_ptr<FakeLink>& link, const client::ServerLinkConfig& config);
  void relay(const FakeLink& from, ByteView batch);
  void remove(const FakeLink& link);
  // The server cuts a participant off.
  void disconnect(const std::string& identity, const std::string& reason);
  void send_error(const std::string& identity, signaling::ErrorReply error);
  std::shared_ptr<FakeLink> find(const std::string& identity) const;
  std::uint64_t frames_relayed() const { return frames_relayed_; }
  std::uint64_t rejected_frames() const { return rejected_; }

  // Runs `fn` on the loop later, unless the link went away.
  template <typename Fn>
  void deliver(const std::shared_ptr<FakeLink>& link, Fn fn);

 private:
  boost::asio::io_context& io_;
  RelayConfig config_;
  core::Roster roster_;
  std::map<core::ParticipantId, std::shared_ptr<FakeLink>> links_;
  core::ParticipantId next_id_ = 1;
  std::uint64_t frames_relayed_ = 0;
  std::uint64_t rejected_ = 0;
};

// ---- inline definitions (the test CMake builds only *_test.cpp files) ----

template <typename Fn>
void FakeRelay::deliver(const std::shared_ptr<FakeLink>& link, Fn fn) {
  boost::asio::post(io_, [link, fn = std::move(fn)]() mutable {
    if (link->active) fn(*link);
  });
}

inline void FakeTransport::start() {
  boost::asio::post(io_, [relay = &relay_, link = link_, config = config_] {
    if (link->active) relay->admit(link, config);
  });
}

inline Result<void> FakeTransport::send(core::TrafficClass, ByteView message) {
  if (!link_->active || link_->id == core::kNoParticipant) {
    return Error{ErrorCode::NotConnected, "fake transport not connected"};
  }
  if (link_->refuse_sends) return Error{ErrorCode::BufferFull, "fake send buffer full"};
  relay_.relay(*link_, message);
  return {};
}

inline void FakeTransport::leave() {
  if (!link_->active) return;
  link_->active = false;
  if (link_->id != core::kNoParticipant) relay_.remove(*link_);
}

inline void FakeRelay::admit(const std::shared_ptr<FakeLink>& link,
                             const client::ServerLinkConfig& config) {
  if (auto refused = config_.refuse.find(link->identity); refused != config_.refuse.end()) {
    deliver(link, [error = refused->second](FakeLink& l) {
      l.active = false;
      l.callbacks.closed(error);
    });
    return;
  }
  if (const core::Participant* old = roster_.find(link->identity)) {
    disconnect(link->identity, "joined from another connection");
    (void)old;
  }
  const core::ParticipantId id = next_id_++;
  signaling::Joined joined;
  joined.participant_id = id;
  joined.identity = link->identity;
  joined.display_name = config.display_name.value_or(link->identity + " (display)");
  joined.call = config.call;
  for (const core::Participant& p : roster_.participants()) {
    joined.participants.push_back({p.id, p.identity, p.display_name});
  }
  joined.max_message_size = config_.max_message_size;
  joined.rate_limit_bytes_per_second = config_.rate_limit_bytes_per_second;
  joined.rate_limit_messages_per_second = config_.rate_limit_messages_per_second;

  link->id = id;
  const signaling::ParticipantInfo info{id, joined.identity, joined.display_name};
  for (const auto& [other_id, other] : links_) {
    deliver(other, [info](FakeLink& l) { l.callbacks.participant_joined(info); });
  }
  roster_.add({id, joined.identity, joined.display_name});
  links_[id] = link;
  deliver(link, [joined](FakeLink& l) { l.callbacks.joined(joined); });
  const bool connect = std::find(config_.never_connect.begin(), config_.never_connect.end(),
                                 link->identity) == config_.never_connect.end();
  if (connect) deliver(link, [](FakeLink& l) { l.callbacks.connected(); });
}

inline void FakeRelay::relay(const FakeLink& from, ByteView batch) {
  std::map<core::ParticipantId, Bytes> out;
  std::vector<core::ParticipantId> recipients;
  Bytes stamped;
  while (!batch.empty()) {
    auto frame = core::decode_frame(batch);
    if (!frame || (frame->header.from && *frame->header.from != from.id)) {
      ++rejected_;
      return;
    }
    recipients.clear();
    core::route_frame(roster_, from.id, frame->to, recipients);
    stamped.clear();
    core::restamp_frame(*frame, from.id, stamped);
    for (core::ParticipantId id : recipients) {
      Bytes& b = out[id];
      b.insert(b.end(), stamped.begin(), stamped.end());
      ++frames_relayed_;
    }
  }
  for (auto& [id, bytes] : out) {
    auto it = links_.find(id);
    if (it == links_.end()) continue;
    deliver(it->second, [bytes = std::move(bytes)](FakeLink& l) { l.callbacks.data(bytes); });
  }
}

inline void FakeRelay::remove(const FakeLink& link) {
  if (!links_.erase(link.id)) return;
  roster_.remove(link.id);
  const signaling::ParticipantLeft left{std::nullopt, link.id, link.identity};
  for (const auto& [id, other] : links_) {
    deliver(other, [left](FakeLink& l) { l.callbacks.participant_left(left); });
  }
}

inline void FakeRelay::disconnect(const std::string& identity, const std::string& reason) {
  auto link = find(identity);
  if (!link) return;
  remove(*link);
  deliver(link, [reason](FakeLink& l) {
    l.active = false;
    l.callbacks.closed(Error{ErrorCode::NotConnected, reason});
  });
}

inline void FakeRelay::send_error(const std::string& identity, signaling::ErrorReply error) {
  if (auto link = find(identity)) {
    deliver(link, [error = std::move(error)](FakeLink& l) { l.callbacks.error(error); });
  }
}

inline std::shared_ptr<FakeLink> FakeRelay::find(const std::string& identity) const {
  for (const auto& [id, link] : links_) {
    if (link->identity == identity) return link;
  }
  return nullptr;
}

}  // namespace switchboard::testing
