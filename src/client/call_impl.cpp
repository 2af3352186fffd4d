#include "client/call_impl.hpp"

#include <algorithm>
#include <set>
#include <string>

#include "core/path_switch.hpp"

namespace switchboard {
namespace {

using core::Clock;
using core::TimePoint;

constexpr std::size_t kMaxTransportMessage = std::size_t{64} * 1024;
// Receivers held for an onReceiverCreated callback not registered yet (see dispatch).
constexpr std::size_t kMaxHeldReceivers = 256;
// How long leave() lets queued messages and close notices drain before it hangs up.
constexpr auto kLeaveDrainTime = std::chrono::seconds(2);
constexpr auto kDrainCheckInterval = std::chrono::milliseconds(5);
// leave() waits at most this for the event thread (the drain time and then some).
constexpr auto kLeaveWaitLimit = std::chrono::seconds(5);

Error not_connected() {
  return Error{ErrorCode::NotConnected, "the call is over: it was left or disconnected"};
}

ParticipantInfo public_info(const core::Participant& p) {
  return ParticipantInfo{p.identity, p.display_name};
}

}  // namespace

// ---- Sender and receiver state ----

DataChannelSender::Impl::Impl(std::shared_ptr<Call::Impl> call,
                              std::shared_ptr<core::SenderChannel> channel,
                              std::size_t max_message_size)
    : call(std::move(call)),
      channel(std::move(channel)),
      channel_id(this->channel->channel_id()),
      reliability(this->channel->reliability()),
      priority(this->channel->priority()),
      bitrate_kbps(this->channel->bitrate_kbps()),
      max_message_size(max_message_size) {}

DataChannelReceiver::Impl::Impl(std::shared_ptr<Call::Impl> call,
                                std::shared_ptr<core::ReceiverChannel> channel,
                                std::string display_name)
    : call(std::move(call)),
      channel(std::move(channel)),
      channel_id(this->channel->channel_id()),
      identity(this->channel->sender_identity()),
      display_name(std::move(display_name)) {}

// ---- Joining ----

Call::Impl::Impl(client::EventLoop& loop, std::string call_id)
    : loop_(loop),
      call_id_(std::move(call_id)),
      feature_(std::make_shared<DataChannelFeature::Impl>(*this)) {}

Call::Impl::~Impl() = default;

Result<std::shared_ptr<Call::Impl>> Call::Impl::join(
    client::EventLoop& loop, const client::TransportFactory& factory,
    client::ServerLinkConfig config, std::chrono::milliseconds timeout,
    std::function<void(core::EndpointConfig&)> tuning, std::optional<E2eeKeys> e2ee) {
  if (loop.in_loop_thread()) {
    return Error{ErrorCode::InvalidArgument,
                 "join() blocks, so it cannot run on the SDK's event thread (inside a callback)"};
  }
  auto call = std::make_shared<Impl>(loop, config.call);
  call->tuning_ = std::move(tuning);
  call->e2ee_keys_ = std::move(e2ee);
  loop.post([call, factory, config = std::move(config)]() mutable {
    call->start(factory, std::move(config));
  });
  std::unique_lock lock(call->mu_);
  const bool decided =
      call->state_changed_.wait_for(lock, timeout, [&] { return call->state_ != State::Joining; });
  if (decided && call->state_ == State::Connected) return call;
  Error error = call->join_error_.value_or(
      Error{ErrorCode::NotConnected,
            "no data connection to the server within " + std::to_string(timeout.count()) + " ms"});
  lock.unlock();
  call->leave();
  return error;
}

void Call::Impl::start(const client::TransportFactory& factory, client::ServerLinkConfig config) {
  {
    std::lock_guard lock(mu_);
    if (state_ != State::Joining) return;  // gave up before we got here
  }
  std::weak_ptr<Impl> weak = weak_from_this();
  client::Transport::Callbacks callbacks;
  callbacks.joined = [weak](const signaling::Joined& j) {
    if (auto self = weak.lock()) self->on_joined(j);
  };
  callbacks.connected = [weak] {
    if (auto self = weak.lock()) self->on_connected();
  };
  callbacks.participant_joined = [weak](const signaling::ParticipantInfo& p) {
    if (auto self = weak.lock()) self->on_participant_joined(p);
  };
  callbacks.participant_left = [weak](const signaling::ParticipantLeft& p) {
    if (auto self = weak.lock()) self->on_participant_left(p);
  };
  callbacks.data = [weak](ByteView data) {
    if (auto self = weak.lock()) self->on_data(data);
  };
  callbacks.peer_data = [weak](core::ParticipantId peer, ByteView data) {
    if (auto self = weak.lock()) self->on_peer_data(peer, data);
  };
  callbacks.path_changed = [weak](std::optional<core::ParticipantId> peer) {
    if (auto self = weak.lock()) self->on_path_changed(peer);
  };
  callbacks.reconnecting = [weak](const Error& e) {
    if (auto self = weak.lock()) self->on_reconnecting(e);
  };
  callbacks.rejoined = [weak](const signaling::Joined& j,
                              const client::Transport::Callbacks::Rejoined& r) {
    if (auto self = weak.lock()) self->on_rejoined(j, r);
  };
  callbacks.error = [weak](const signaling::ErrorReply& e) {
    if (auto self = weak.lock()) self->on_server_error(e);
  };
  callbacks.writable = [weak] {
    if (auto self = weak.lock()) self->flush();
  };
  callbacks.closed = [weak](const Error& e) {
    if (auto self = weak.lock()) self->on_closed(e);
  };
  timer_.emplace(loop_.io());
  drain_timer_.emplace(loop_.io());
  transport_ = factory(loop_.io(), std::move(config), std::move(callbacks));
  transport_->start();
}

void Call::Impl::on_joined(const signaling::Joined& joined) {
  std::lock_guard lock(mu_);
  if (state_ != State::Joining || endpoint_) return;
  core::EndpointConfig config;
  if (joined.max_message_size > 0) {
    config.max_message_size =
        std::min<std::size_t>(joined.max_message_size, kLargestMaxMessageSize);
  }
  if (tuning_) tuning_(config);
  const TimePoint now = Clock::now();
  endpoint_ = std::make_unique<core::DataChannelEndpoint>(joined.participant_id, config);
  endpoint_->set_events({
      [this](const auto& r) { on_endpoint_receiver_created(r); },
      [this](const auto& r) { on_endpoint_message_ready(r); },
      [this](const auto& r) { on_endpoint_receiver_closed(r); },
      [this](const auto& r, std::uint32_t, const Error& e) { on_endpoint_message_rejected(r, e); },
  });
  if (e2ee_keys_) {
    cipher_ = std::make_shared<client::E2eeCipher>(*e2ee_keys_, call_id_, joined.identity);
    endpoint_->set_payload_cipher(cipher_);
  }
  endpoint_->participant_joined({joined.participant_id, joined.identity, joined.display_name}, now);
  for (const auto& p : joined.participants) {
    endpoint_->participant_joined({p.participant_id, p.identity, p.display_name}, now);
  }
  events_.clear();  // nobody can listen yet
  self_info_ = ParticipantInfo{joined.identity, joined.display_name};
  // One second of burst: the server allows more, so what we accept is never refused there.
  rate_limit_ = core::RateLimit(joined.rate_limit_bytes_per_second.value_or(0),
                                joined.rate_limit_messages_per_second.value_or(0), 1.0, now);
}

void Call::Impl::on_connected() {
  std::optional<ConnectionStateChangedEvent> back;
  {
    std::lock_guard lock(mu_);
    if (state_ == State::Connected && reconnecting_) {
      reconnecting_ = false;
      back = reconnected_.value_or(ConnectionStateChangedEvent{});
      reconnected_.reset();
    }
  }
  if (back) {
    transport_connected_ = true;
    flush();
    notify_connection_state(*back);
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (state_ != State::Joining) return;
    if (!endpoint_) {
      join_error_ = Error{ErrorCode::Internal, "data connection up before the server admitted us"};
      state_ = State::Disconnected;  // join() leaves, which tears the transport down
      state_changed_.notify_all();
      return;
    }
    state_ = State::Connected;
    state_changed_.notify_all();
  }
  transport_connected_ = true;
  flush();
}

// ---- Reconnecting ----

void Call::Impl::notify_connection_state(const ConnectionStateChangedEvent& event) {
  std::function<void(const ConnectionStateChangedEvent&)> callback;
  {
    std::lock_guard lock(mu_);
    callback = on_connection_state_changed_;
  }
  if (callback && !quiet_) callback(event);
}

void Call::Impl::on_reconnecting(const Error& error) {
  {
    std::lock_guard lock(mu_);
    if (state_ != State::Connected) return;
    reconnecting_ = true;
  }
  // The flush waits; messages queue in their senders (BUFFER_FULL past their bound).
  transport_connected_ = false;
  notify_connection_state({ConnectionState::Reconnecting, error, false, 0});
}

void Call::Impl::on_rejoined(const signaling::Joined& joined,
                             const client::Transport::Callbacks::Rejoined& rejoined) {
  ConnectionStateChangedEvent event{ConnectionState::Connected, {}, rejoined.resumed,
                                    rejoined.unconfirmed};
  Events events;
  std::vector<ParticipantInfo> gone;
  std::vector<ParticipantInfo> arrived;
  std::function<void(const ParticipantInfo&)> left_cb;
  std::function<void(const ParticipantInfo&)> joined_cb;
  {
    std::lock_guard lock(mu_);
    if (!endpoint_ || state_ != State::Connected) return;
    if (!rejoined.resumed) {
      // A batch polled for the old connection carries its participant ids: it is dropped.
      if (blocked_) {
        if (blocked_->first.reliability == Reliability::Durable) {
          event.unconfirmedMessageCount += core::durable_messages_in(blocked_->second);
        }
        blocked_.reset();
      }
      std::set<Identity> before;
      endpoint_->roster().for_each([&](const core::Participant& p) {
        if (p.id != endpoint_->self()) before.insert(p.identity);
      });
      std::vector<core::Participant> others;
      std::set<Identity> after;
      for (const auto& p : joined.participants) {
        others.push_back({p.participant_id, p.identity, p.display_name});
        after.insert(p.identity);
        if (!before.contains(p.identity)) arrived.push_back({p.identity, p.display_name});
      }
      endpoint_->roster().for_each([&](const core::Participant& p) {
        if (p.id != endpoint_->self() && !after.contains(p.identity)) {
          gone.push_back(public_info(p));
        }
      });
      others.push_back({joined.participant_id, joined.identity, joined.display_name});
      event.unconfirmedMessageCount +=
          endpoint_->rejoin(joined.participant_id, others, Clock::now());
      events = take_events_locked();  // the old receivers closed
      transport_info_ = TransportInfo{};
      left_cb = on_participant_left_;
      joined_cb = on_participant_joined_;
    }
    reconnected_ = event;
  }
  dispatch(events);
  for (const auto& p : gone) {
    if (left_cb && !quiet_) left_cb(p);
  }
  for (const auto& p : arrived) {
    if (joined_cb && !quiet_) joined_cb(p);
  }
}

ConnectionState Call::Impl::connection_state() const {
  std::lock_guard lock(mu_);
  if (state_ == State::Connected || state_ == State::Leaving) {
    return reconnecting_ ? ConnectionState::Reconnecting : ConnectionState::Connected;
  }
  return ConnectionState::Disconnected;
}

void Call::Impl::set_on_connection_state_changed(
    std::function<void(const ConnectionStateChangedEvent&)> callback) {
  std::lock_guard lock(mu_);
  std::swap(on_connection_state_changed_, callback);
}

// ---- Roster ----

std::vector<ParticipantInfo> Call::Impl::participants() const {
  std::lock_guard lock(mu_);
  std::vector<ParticipantInfo> out;
  if (!endpoint_) return out;
  for (const core::Participant& p : endpoint_->roster().participants()) {
    if (p.id != endpoint_->self()) out.push_back(public_info(p));
  }
  return out;
}

bool Call::Impl::connected() const {
  std::lock_guard lock(mu_);
  return state_ == State::Connected && !reconnecting_;
}

void Call::Impl::on_participant_joined(const signaling::ParticipantInfo& info) {
  std::function<void(const ParticipantInfo&)> callback;
  Events events;
  {
    std::lock_guard lock(mu_);
    if (!endpoint_ || state_ == State::Left) return;
    endpoint_->participant_joined({info.participant_id, info.identity, info.display_name},
                                  Clock::now());
    events = take_events_locked();  // frames that overtook the announcement
    if (state_ == State::Connected) callback = on_participant_joined_;
  }
  if (callback && !quiet_) callback(ParticipantInfo{info.identity, info.display_name});
  dispatch(events);
  arm_timer();
}

void Call::Impl::on_participant_left(const signaling::ParticipantLeft& left) {
  std::function<void(const ParticipantInfo&)> callback;
  Events events;
  ParticipantInfo info{left.identity, {}};
  {
    std::lock_guard lock(mu_);
    if (!endpoint_ || state_ == State::Left) return;
    const core::Participant* p = endpoint_->roster().find(left.participant_id);
    if (p) info = public_info(*p);
    endpoint_->participant_left(left.participant_id);
    events = take_events_locked();
    if (state_ == State::Connected && p) callback = on_participant_left_;
  }
  dispatch(events);  // its receivers close first
  if (callback && !quiet_) callback(info);
}

void Call::Impl::set_on_participant_joined(std::function<void(const ParticipantInfo&)> callback) {
  std::lock_guard lock(mu_);
  on_participant_joined_ = std::move(callback);
}

void Call::Impl::set_on_participant_left(std::function<void(const ParticipantInfo&)> callback) {
  std::lock_guard lock(mu_);
  on_participant_left_ = std::move(callback);
}

void Call::Impl::set_on_disconnected(std::function<void(const Error&)> callback) {
  std::lock_guard lock(mu_);
  on_disconnected_ = std::move(callback);
}

TransportInfo Call::Impl::transport() const {
  std::lock_guard lock(mu_);
  return transport_info_;
}

void Call::Impl::set_on_transport_changed(std::function<void(const TransportInfo&)> callback) {
  std::lock_guard lock(mu_);
  std::swap(on_transport_changed_, callback);
}

Result<void> Call::Impl::set_e2ee_keys(E2eeKeys keys) {
  if (!keys.callId().empty() && keys.callId() != call_id_) {
    return Error{ErrorCode::InvalidArgument,
                 "the E2EE keys were derived for call " + keys.callId() + ", not " + call_id_};
  }
  std::lock_guard lock(mu_);
  if (!cipher_) {
    return Error{ErrorCode::InvalidArgument,
                 "end-to-end encryption is off in this call: join with JoinOptions::e2ee"};
  }
  cipher_->set_keys(std::move(keys));
  return {};
}

void Call::Impl::on_path_changed(std::optional<core::ParticipantId> peer) {
  std::function<void(const TransportInfo&)> callback;
  TransportInfo info;
  {
    std::lock_guard lock(mu_);
    if (!endpoint_ || state_ == State::Left) return;
    if (peer) {
      info.mode = TransportMode::PeerToPeer;
      if (const core::Participant* p = endpoint_->roster().find(*peer)) info.peer = public_info(*p);
    }
    if (info == transport_info_) return;
    transport_info_ = info;
    callback = on_transport_changed_;
  }
  if (callback && !quiet_) callback(info);
}

// ---- Senders ----

Result<std::shared_ptr<DataChannelSender>> Call::Impl::create_sender(const SenderOptions& options) {
  std::shared_ptr<DataChannelSender::Impl> replaced;
  std::shared_ptr<DataChannelSender> sender;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::Connected) return not_connected();
    if (options.channelId > kMaxChannelId) {
      return Error{ErrorCode::InvalidChannelId, "channelId " + std::to_string(options.channelId) +
                                                    " is outside 1..65535 (0 = allocate one)"};
    }
    auto channel = endpoint_->create_sender(options, Clock::now());
    if (!channel) return std::move(channel).error();
    auto impl = std::make_shared<DataChannelSender::Impl>(shared_from_this(), *channel,
                                                          endpoint_->max_message_size(**channel));
    auto [it, inserted] = senders_.try_emplace(impl->channel_id, impl);
    if (!inserted) {
      replaced = std::exchange(it->second, impl);  // its core sender was closed
      note_closing_locked(replaced->channel);
    }
    sender = std::make_shared<DataChannelSender>(impl);
    request_flush_locked();
  }
  return sender;  // `replaced` (and any callback it holds) goes here, unlocked
}

Result<std::uint32_t> Call::Impl::send(DataChannelSender::Impl& sender, ByteView data) {
  std::lock_guard lock(mu_);
  if (state_ != State::Connected) return not_connected();
  core::SenderChannel& channel = *sender.channel;
  // The sender's own checks come first (closed, empty, too large); the rate limit is only
  // charged for a message that would otherwise be accepted.
  const bool checkable =
      !channel.closed() && !data.empty() && data.size() <= sender.max_message_size;
  // What the server counts: the sealed size with E2EE.
  const std::size_t wire_size = data.size() + (cipher_ ? cipher_->overhead() : 0);
  // The limit is the server's: messages that go straight to the peer do not count.
  const bool direct = transport_info_.mode == TransportMode::PeerToPeer;
  if (checkable && !direct && !rate_limit_.allows(wire_size, Clock::now())) {
    return Error{ErrorCode::TrafficLimited,
                 "over the call's rate limit; the message was not sent, retry later"};
  }
  auto sequence = endpoint_->send(channel, data);
  if (sequence) {
    if (!direct) rate_limit_.take(wire_size);
    request_flush_locked();
  }
  return sequence;
}

Result<void> Call::Impl::set_participants(DataChannelSender::Impl& sender,
                                          std::vector<Identity> participants) {
  std::lock_guard lock(mu_);
  if (!endpoint_) return not_connected();
  return endpoint_->set_participants(*sender.channel, std::move(participants));
}

std::vector<Identity> Call::Impl::participants_of(const DataChannelSender::Impl& sender) const {
  std::lock_guard lock(mu_);
  return sender.channel->participants();
}

void Call::Impl::close(DataChannelSender::Impl& sender) {
  std::shared_ptr<DataChannelSender::Impl> removed;
  std::lock_guard lock(mu_);
  if (sender.channel->closed() || !endpoint_) return;
  endpoint_->close(*sender.channel);
  note_closing_locked(sender.channel);
  if (auto it = senders_.find(sender.channel_id);
      it != senders_.end() && it->second.get() == &sender) {
    removed = std::move(it->second);  // the caller holds `sender`, so this is not the last ref
    senders_.erase(it);
  }
  if (state_ == State::Connected || state_ == State::Leaving) request_flush_locked();
}

void Call::Impl::note_closing_locked(std::shared_ptr<core::SenderChannel> channel) {
  std::erase_if(closing_, [](const auto& c) { return c->finished(); });
  closing_.push_back(std::move(channel));
}

bool Call::Impl::closed(const DataChannelSender::Impl& sender) const {
  std::lock_guard lock(mu_);
  return sender.channel->closed();
}

std::size_t Call::Impl::buffered_amount(const DataChannelSender::Impl& sender) const {
  std::lock_guard lock(mu_);
  return sender.channel->buffered_amount();
}

void Call::Impl::set_on_error(DataChannelSender::Impl& sender,
                              std::function<void(const Error&)> callback) {
  std::lock_guard lock(mu_);
  std::swap(sender.on_error, callback);
}

void Call::Impl::on_server_error(const signaling::ErrorReply& error) {
  if (!error.channel_id) return;
  std::function<void(const Error&)> callback;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::Connected) return;
    auto it = senders_.find(static_cast<std::uint16_t>(*error.channel_id));
    if (it == senders_.end() || *error.channel_id > kMaxChannelId) return;
    callback = it->second->on_error;
  }
  if (callback && !quiet_) callback(Error{error.code, error.message});
}

// ---- Receivers ----

void Call::Impl::on_endpoint_receiver_created(const core::DataChannelEndpoint::ReceiverPtr& r) {
  const core::Participant* p = endpoint_->roster().find(r->sender());
  auto impl = std::make_shared<DataChannelReceiver::Impl>(shared_from_this(), r,
                                                          p ? p->display_name : std::string{});
  auto receiver = std::make_shared<DataChannelReceiver>(impl);
  receivers_[r.get()] = {receiver, impl};
  events_.push_back({Event::Kind::ReceiverCreated, receiver, impl, {}});
}

void Call::Impl::on_endpoint_message_ready(const core::DataChannelEndpoint::ReceiverPtr& r) {
  auto it = receivers_.find(r.get());
  if (it == receivers_.end()) return;
  events_.push_back({Event::Kind::MessageReady, it->second.first, it->second.second, {}});
}

void Call::Impl::on_endpoint_receiver_closed(const core::DataChannelEndpoint::ReceiverPtr& r) {
  auto it = receivers_.find(r.get());
  if (it == receivers_.end()) return;
  events_.push_back({Event::Kind::ReceiverClosed, it->second.first, it->second.second, {}});
  receivers_.erase(it);
}

void Call::Impl::on_endpoint_message_rejected(const core::DataChannelEndpoint::ReceiverPtr& r,
                                              const Error& error) {
  auto it = receivers_.find(r.get());
  if (it == receivers_.end()) return;
  events_.push_back({Event::Kind::MessageRejected, it->second.first, it->second.second, error});
}

void Call::Impl::set_on_receiver_created(
    std::function<void(const std::shared_ptr<DataChannelReceiver>&)> callback) {
  std::lock_guard lock(mu_);
  std::swap(on_receiver_created_, callback);
  if (!on_receiver_created_) return;
  receiver_callback_registered_ = true;
  if (!unannounced_receivers_.empty()) {
    post_locked([self = shared_from_this()] { self->announce_held_receivers(); });
  }
}

// Event thread: the receivers created before any callback was registered, to the callback;
// then, for one whose messages arrived meanwhile, its onMessageReady (registered in the
// callback) once, as if they arrived now.
void Call::Impl::announce_held_receivers() {
  std::vector<HeldReceiver> held;
  std::function<void(const std::shared_ptr<DataChannelReceiver>&)> callback;
  {
    std::lock_guard lock(mu_);
    callback = on_receiver_created_;
    if (callback) held.swap(unannounced_receivers_);
  }
  for (const auto& [receiver, impl] : held) {
    if (quiet_) return;
    callback(receiver);
    std::function<void()> ready;
    {
      std::lock_guard lock(mu_);
      if (impl->channel->unread_messages() > 0) ready = impl->on_message_ready;
    }
    if (ready && !quiet_) ready();
  }
}

std::optional<DataChannelMessage> Call::Impl::read(DataChannelReceiver::Impl& receiver) {
  std::lock_guard lock(mu_);
  auto message = receiver.channel->read();
  if (receive_paused_ && !resume_posted_ && endpoint_ && !endpoint_->durable_input_paused()) {
    resume_posted_ = true;
    post_locked([self = shared_from_this()] { self->on_resume(); });
  }
  if (!message) return std::nullopt;
  return DataChannelMessage{message->sequence_number, std::move(message->data)};
}

std::size_t Call::Impl::unread_messages(const DataChannelReceiver::Impl& receiver) const {
  std::lock_guard lock(mu_);
  return receiver.channel->unread_messages();
}

bool Call::Impl::closed(const DataChannelReceiver::Impl& receiver) const {
  std::lock_guard lock(mu_);
  return receiver.channel->closed();
}

std::optional<ReceiverCloseReason> Call::Impl::close_reason(
    const DataChannelReceiver::Impl& receiver) const {
  std::lock_guard lock(mu_);
  return receiver.channel->close_reason();
}

void Call::Impl::set_on_message_ready(DataChannelReceiver::Impl& receiver,
                                      std::function<void()> callback) {
  std::lock_guard lock(mu_);
  std::swap(receiver.on_message_ready, callback);
}

void Call::Impl::set_on_close(DataChannelReceiver::Impl& receiver,
                              std::function<void(ReceiverCloseReason)> callback) {
  std::lock_guard lock(mu_);
  std::swap(receiver.on_close, callback);
}

void Call::Impl::set_on_error(DataChannelReceiver::Impl& receiver,
                              std::function<void(const Error&)> callback) {
  std::lock_guard lock(mu_);
  std::swap(receiver.on_error, callback);
}

void Call::Impl::dispatch(const Events& events) {
  for (const Event& e : events) {
    if (quiet_) return;
    switch (e.kind) {
      case Event::Kind::ReceiverCreated: {
        std::function<void(const std::shared_ptr<DataChannelReceiver>&)> callback;
        {
          std::lock_guard lock(mu_);
          callback = on_receiver_created_;
          // Not registered yet (join() just returned): held for the first callback, which
          // then reads what arrived meanwhile. Only before the first registration, and at
          // most kMaxHeldReceivers (the newest), for a program that never registers one.
          if (!callback && !receiver_callback_registered_) {
            if (unannounced_receivers_.size() >= kMaxHeldReceivers) {
              unannounced_receivers_.erase(unannounced_receivers_.begin());
            }
            unannounced_receivers_.push_back({e.receiver, e.impl});
          }
        }
        if (callback) callback(e.receiver);
        break;
      }
      case Event::Kind::MessageReady: {
        std::function<void()> callback;
        {
          std::lock_guard lock(mu_);
          callback = e.impl->on_message_ready;
        }
        if (callback) callback();
        break;
      }
      case Event::Kind::ReceiverClosed: {
        std::function<void(ReceiverCloseReason)> callback;
        ReceiverCloseReason reason = ReceiverCloseReason::SenderClosed;
        {
          std::lock_guard lock(mu_);
          callback = e.impl->on_close;
          reason = e.impl->channel->close_reason().value_or(reason);
        }
        if (callback) callback(reason);
        break;
      }
      case Event::Kind::MessageRejected: {
        std::function<void(const Error&)> callback;
        {
          std::lock_guard lock(mu_);
          callback = e.impl->on_error;
        }
        if (callback) callback(e.error);
        break;
      }
    }
  }
}

// ---- The event thread's data path ----

void Call::Impl::post_locked(std::function<void()> task) {
  // Once left, the event loop may be gone: nothing is posted any more.
  if (state_ == State::Left) return;
  loop_.post(std::move(task));
}

void Call::Impl::request_flush_locked() {
  if (flush_posted_.exchange(true)) return;
  post_locked([self = shared_from_this()] { self->flush(); });
}

void Call::Impl::flush() {
  flush_posted_ = false;  // sends from here on post another flush
  if (!transport_ || !transport_connected_) return;
  while (true) {
    if (blocked_) {
      auto sent = transport_->send(blocked_->first, blocked_->second);
      if (!sent) {
        if (sent.error().code == ErrorCode::BufferFull) break;  // `writable` resumes
        blocked_.reset();  // the link is going down; `closed` follows
        break;
      }
      blocked_.reset();
    }
    batch_.clear();
    std::optional<core::TrafficClass> cls;
    {
      std::lock_guard lock(mu_);
      if (!endpoint_) break;
      cls = endpoint_->poll(Clock::now(), batch_, kMaxTransportMessage);
    }
    if (!cls) break;
    blocked_.emplace(*cls, std::move(batch_));
    batch_ = Bytes{};
  }
  arm_timer();
}

void Call::Impl::arm_timer() {
  if (!timer_ || !transport_) return;
  std::optional<TimePoint> next;
  const TimePoint now = Clock::now();
  {
    std::lock_guard lock(mu_);
    if (endpoint_) next = endpoint_->next_wakeup(now);
  }
  if (!next) {
    if (timer_at_) {
      timer_at_.reset();
      timer_->cancel();
    }
    return;
  }
  // A sender ready now means the transport refused more (BUFFER_FULL): `writable` wakes
  // us, so the timer need not spin.
  const auto min_delay = blocked_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(1);
  *next = std::max(*next, now + std::chrono::duration_cast<core::Duration>(min_delay));
  if (timer_at_ && *timer_at_ <= *next && *timer_at_ > now) return;  // an earlier wake is set
  timer_at_ = *next;
  timer_->expires_at(*next);
  timer_->async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->on_timer();
  });
}

void Call::Impl::on_timer() {
  timer_at_.reset();
  Events events;
  {
    std::lock_guard lock(mu_);
    if (!endpoint_ || state_ == State::Left) return;
    endpoint_->on_timer(Clock::now());
    events = take_events_locked();
  }
  dispatch(events);
  flush();  // paced senders may go now; re-arms the timer
}

void Call::Impl::on_data(ByteView data) {
  Events events;
  bool pause = false;
  {
    std::lock_guard lock(mu_);
    if (!endpoint_ || state_ == State::Left) return;
    (void)endpoint_->ingest(data, Clock::now());  // a malformed batch is the server's bug
    events = take_events_locked();
    if (!receive_paused_ && endpoint_->durable_input_paused()) {
      receive_paused_ = true;
      pause = true;
    }
  }
  after_ingest(std::move(events), pause);
}

void Call::Impl::on_peer_data(core::ParticipantId peer, ByteView data) {
  Events events;
  bool pause = false;
  {
    std::lock_guard lock(mu_);
    if (!endpoint_ || state_ == State::Left) return;
    // What a broken peer sends is dropped; the endpoint counts it.
    (void)endpoint_->ingest_from(peer, data, Clock::now());
    events = take_events_locked();
    if (!receive_paused_ && endpoint_->durable_input_paused()) {
      receive_paused_ = true;
      pause = true;
    }
  }
  after_ingest(std::move(events), pause);
}

void Call::Impl::after_ingest(Events events, bool pause) {
  if (pause && transport_) transport_->set_receive_paused(true);
  dispatch(events);
  arm_timer();
}

void Call::Impl::on_resume() {
  bool resume = false;
  {
    std::lock_guard lock(mu_);
    resume_posted_ = false;
    if (receive_paused_ && endpoint_ && !endpoint_->durable_input_paused()) {
      receive_paused_ = false;
      resume = true;
    }
  }
  if (resume && transport_) transport_->set_receive_paused(false);
}

// ---- Disconnection and leaving ----

void Call::Impl::on_closed(const Error& error) {
  bool was_connected = false;
  std::vector<std::function<void(const Error&)>> sender_callbacks;
  std::function<void(const Error&)> callback;
  {
    std::lock_guard lock(mu_);
    switch (state_) {
      case State::Joining:
        join_error_ = error;
        state_ = State::Disconnected;
        state_changed_.notify_all();
        break;
      case State::Connected:
        was_connected = true;
        state_ = State::Disconnected;
        reconnecting_ = false;
        state_changed_.notify_all();
        for (const auto& [id, sender] : senders_) {
          if (sender->on_error) sender_callbacks.push_back(sender->on_error);
        }
        callback = on_disconnected_;
        break;
      case State::Leaving:
        drain_deadline_ = Clock::now();  // nothing more will drain
        break;
      case State::Disconnected:
      case State::Left:
        return;
    }
  }
  transport_connected_ = false;
  // Inside the transport's own callback: it is destroyed from a fresh handler.
  loop_.post([self = shared_from_this()] { self->teardown_transport(); });
  for (const auto& cb : sender_callbacks) {
    if (quiet_) break;
    cb(Error{ErrorCode::NotConnected, "the call was disconnected: " + error.message});
  }
  if (callback && !quiet_) callback(error);
  if (was_connected) notify_connection_state({ConnectionState::Disconnected, error, false, 0});
}

void Call::Impl::teardown_transport() {
  std::unique_ptr<client::Transport> transport = std::move(transport_);
  transport_connected_ = false;
  blocked_.reset();
  if (timer_) timer_->cancel();
  timer_at_.reset();
  // Already closed (or never started): leave() sends nothing and silences it.
  if (transport) transport->leave();
}

void Call::Impl::leave() {
  quiet_ = true;
  {
    std::lock_guard lock(mu_);
    if (state_ == State::Left) return;
    loop_.post([self = shared_from_this()] { self->begin_leave(); });
  }
  if (loop_.in_loop_thread()) return;  // from a callback: leaving goes on without us
  std::unique_lock lock(mu_);
  state_changed_.wait_for(lock, kLeaveWaitLimit, [&] { return state_ == State::Left; });
}

// Leaving lets what the senders queued go out first, but sends no close notices: the
// server's participant_left closes the others' receivers (ParticipantLeft).
void Call::Impl::begin_leave() {
  bool drain = false;
  {
    std::lock_guard lock(mu_);
    if (state_ == State::Left || state_ == State::Leaving) return;
    if (state_ == State::Connected && transport_connected_) {
      state_ = State::Leaving;
      drain = true;
    }
  }
  if (!drain) {
    finish_leave();  // never connected, or disconnected: nothing to drain
    return;
  }
  drain_deadline_ = Clock::now() + kLeaveDrainTime;
  flush();
  check_drained();
}

void Call::Impl::check_drained() {
  bool drained = !blocked_;
  if (transport_ && transport_connected_ && transport_->buffered_amount() > 0) drained = false;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, sender] : senders_) {
      if (sender->channel->buffered_amount() > 0) drained = false;
    }
    std::erase_if(closing_, [](const auto& c) { return c->finished(); });
    if (!closing_.empty()) drained = false;
  }
  if (!transport_ || !transport_connected_) drained = true;  // nothing more can go out
  if (drained || Clock::now() >= drain_deadline_) {
    finish_leave();
    return;
  }
  drain_timer_->expires_after(kDrainCheckInterval);
  drain_timer_->async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    self->flush();
    self->check_drained();
  });
}

void Call::Impl::finish_leave() {
  // Everything that may hold user callbacks is destroyed after mu_ is released: a callback
  // may own the Call, whose destructor calls leave().
  std::map<std::uint16_t, std::shared_ptr<DataChannelSender::Impl>> senders;
  decltype(receivers_) receivers;
  std::function<void(const ParticipantInfo&)> joined_cb;
  std::function<void(const ParticipantInfo&)> left_cb;
  std::function<void(const Error&)> disconnected_cb;
  std::function<void(const TransportInfo&)> transport_cb;
  std::function<void(const std::shared_ptr<DataChannelReceiver>&)> receiver_cb;
  std::vector<std::function<void(const Error&)>> sender_cbs;
  std::vector<std::function<void()>> ready_cbs;
  std::vector<std::function<void(ReceiverCloseReason)>> close_cbs;
  std::vector<std::function<void(const Error&)>> error_cbs;
  Events events;
  {
    std::lock_guard lock(mu_);
    if (state_ == State::Left) return;
    senders.swap(senders_);
    receivers.swap(receivers_);
    for (auto& [id, s] : senders) {
      sender_cbs.push_back(std::move(s->on_error));
      if (endpoint_) endpoint_->close(*s->channel);  // closed() says so; nothing is sent now
    }
    for (auto& [key, r] : receivers) {
      ready_cbs.push_back(std::move(r.second->on_message_ready));
      close_cbs.push_back(std::move(r.second->on_close));
      error_cbs.push_back(std::move(r.second->on_error));
    }
    joined_cb = std::move(on_participant_joined_);
    left_cb = std::move(on_participant_left_);
    disconnected_cb = std::move(on_disconnected_);
    transport_cb = std::move(on_transport_changed_);
    receiver_cb = std::move(on_receiver_created_);
    unannounced_receivers_.clear();
    events = take_events_locked();
    closing_.clear();
  }
  teardown_transport();
  // The timers go now, on the event thread: the Impl may outlive the event loop.
  timer_.reset();
  drain_timer_.reset();
  std::lock_guard lock(mu_);
  state_ = State::Left;
  state_changed_.notify_all();
}

bool Call::Impl::state_is(State state) const {
  std::lock_guard lock(mu_);
  return state_ == state;
}

}  // namespace switchboard
