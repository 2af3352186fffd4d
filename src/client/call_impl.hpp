#pragma once

// The machinery behind the public Call and DataChannel objects (include/switchboard/).
//
// A Call::Impl drives one participant's core::DataChannelEndpoint over a Transport (the
// ServerLink, or a test relay). Threads: the endpoint and every other field marked "mu_"
// are guarded by mu_, so the public methods work from any thread; the transport, the
// timers and the outgoing batch belong to the event thread alone. User callbacks run on
// the event thread, never with mu_ held.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include <switchboard/call_client.hpp>
#include <switchboard/data_channel.hpp>

#include "client/e2ee_cipher.hpp"
#include "client/event_loop.hpp"
#include "client/transport.hpp"
#include "core/endpoint.hpp"
#include "core/rate_limit.hpp"

namespace switchboard {

class DataChannelSender::Impl {
 public:
  // `max_message_size`: what the user may send (the channel's limit less E2EE overhead).
  Impl(std::shared_ptr<Call::Impl> call, std::shared_ptr<core::SenderChannel> channel,
       std::size_t max_message_size);

  const std::shared_ptr<Call::Impl> call;
  const std::shared_ptr<core::SenderChannel> channel;  // mu_
  const std::uint16_t channel_id;
  const Reliability reliability;
  const Priority priority;
  const std::uint32_t bitrate_kbps;
  const std::size_t max_message_size;
  std::function<void(const Error&)> on_error;  // mu_
};

class DataChannelReceiver::Impl {
 public:
  Impl(std::shared_ptr<Call::Impl> call, std::shared_ptr<core::ReceiverChannel> channel,
       std::string display_name);

  const std::shared_ptr<Call::Impl> call;
  const std::shared_ptr<core::ReceiverChannel> channel;  // mu_
  const std::uint16_t channel_id;
  const Identity identity;
  const std::string display_name;
  std::function<void()> on_message_ready;             // mu_
  std::function<void(ReceiverCloseReason)> on_close;  // mu_
  std::function<void(const Error&)> on_error;         // mu_
};

class DataChannelFeature::Impl {
 public:
  explicit Impl(Call::Impl& call) : call(call) {}
  Call::Impl& call;  // owns this
};

class Call::Impl : public std::enable_shared_from_this<Call::Impl> {
 public:
  // Joins through a transport made by `factory` on `loop`, and waits until the data
  // connection is up, the join failed, or `timeout` passed (NOT_CONNECTED). Must not be
  // called on the event thread (INVALID_ARGUMENT).
  // `tuning` adjusts the endpoint's settings (tests shorten the receiver idle timeout).
  // `e2ee`: seal and open every message with these keys (client/e2ee_cipher.hpp).
  static Result<std::shared_ptr<Impl>> join(client::EventLoop& loop,
                                            const client::TransportFactory& factory,
                                            client::ServerLinkConfig config,
                                            std::chrono::milliseconds timeout,
                                            std::function<void(core::EndpointConfig&)> tuning = {},
                                            std::optional<E2eeKeys> e2ee = std::nullopt);

  Impl(client::EventLoop& loop, std::string call_id);
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // Call.
  const std::string& id() const { return call_id_; }
  const ParticipantInfo& self() const { return self_info_; }  // fixed once joined
  std::vector<ParticipantInfo> participants() const;
  bool connected() const;
  DataChannelFeature& data_channel() { return feature_; }
  void set_on_participant_joined(std::function<void(const ParticipantInfo&)> callback);
  void set_on_participant_left(std::function<void(const ParticipantInfo&)> callback);
  void set_on_disconnected(std::function<void(const Error&)> callback);
  ConnectionState connection_state() const;
  void set_on_connection_state_changed(
      std::function<void(const ConnectionStateChangedEvent&)> callback);
  TransportInfo transport() const;
  void set_on_transport_changed(std::function<void(const TransportInfo&)> callback);
  Result<void> set_e2ee_keys(E2eeKeys keys);
  // Blocks until left (bounded), except on the event thread, where it only starts leaving.
  void leave();

  // DataChannelFeature.
  Result<std::shared_ptr<DataChannelSender>> create_sender(const SenderOptions& options);
  void set_on_receiver_created(
      std::function<void(const std::shared_ptr<DataChannelReceiver>&)> callback);

  // DataChannelSender.
  Result<std::uint32_t> send(DataChannelSender::Impl& sender, ByteView data);
  Result<void> set_participants(DataChannelSender::Impl& sender,
                                std::vector<Identity> participants);
  std::vector<Identity> participants_of(const DataChannelSender::Impl& sender) const;
  void close(DataChannelSender::Impl& sender);
  bool closed(const DataChannelSender::Impl& sender) const;
  std::size_t buffered_amount(const DataChannelSender::Impl& sender) const;
  void set_on_error(DataChannelSender::Impl& sender, std::function<void(const Error&)> callback);

  // DataChannelReceiver.
  std::optional<DataChannelMessage> read(DataChannelReceiver::Impl& receiver);
  std::size_t unread_messages(const DataChannelReceiver::Impl& receiver) const;
  bool closed(const DataChannelReceiver::Impl& receiver) const;
  std::optional<ReceiverCloseReason> close_reason(const DataChannelReceiver::Impl& receiver) const;
  void set_on_message_ready(DataChannelReceiver::Impl& receiver, std::function<void()> callback);
  void set_on_close(DataChannelReceiver::Impl& receiver,
                    std::function<void(ReceiverCloseReason)> callback);
  void set_on_error(DataChannelReceiver::Impl& receiver,
                    std::function<void(const Error&)> callback);

 private:
  enum class State { Joining, Connected, Disconnected, Leaving, Left };

  // What the endpoint reported while mu_ was held, for the callbacks after it is released.
  struct Event {
    enum class Kind { ReceiverCreated, MessageReady, ReceiverClosed, MessageRejected } kind;
    std::shared_ptr<DataChannelReceiver> receiver;
    std::shared_ptr<DataChannelReceiver::Impl> impl;
    Error error;  // MessageRejected
  };
  using Events = std::vector<Event>;

  // Event thread.
  void start(const client::TransportFactory& factory, client::ServerLinkConfig config);
  void on_joined(const signaling::Joined& joined);
  void on_connected();
  void on_reconnecting(const Error& error);
  void on_rejoined(const signaling::Joined& joined,
                   const client::Transport::Callbacks::Rejoined& rejoined);
  void notify_connection_state(const ConnectionStateChangedEvent& event);
  void on_participant_joined(const signaling::ParticipantInfo& info);
  void on_participant_left(const signaling::ParticipantLeft& left);
  void on_data(ByteView data);
  void on_peer_data(core::ParticipantId peer, ByteView data);
  void on_path_changed(std::optional<core::ParticipantId> peer);
  void after_ingest(Events events, bool pause);
  void on_server_error(const signaling::ErrorReply& error);
  void on_closed(const Error& error);
  void on_timer();
  void on_resume();
  void flush();
  void arm_timer();
  void begin_leave();
  void check_drained();
  void finish_leave();
  void teardown_transport();
  void dispatch(const Events& events);
  bool state_is(State state) const;

  // Any thread, mu_ held.
  void post_locked(std::function<void()> task);
  void request_flush_locked();
  Events take_events_locked() { return std::exchange(events_, {}); }
  void on_endpoint_receiver_created(const core::DataChannelEndpoint::ReceiverPtr& receiver);
  void on_endpoint_message_ready(const core::DataChannelEndpoint::ReceiverPtr& receiver);
  void on_endpoint_receiver_closed(const core::DataChannelEndpoint::ReceiverPtr& receiver);
  void on_endpoint_message_rejected(const core::DataChannelEndpoint::ReceiverPtr& receiver,
                                    const Error& error);

  client::EventLoop& loop_;
  const std::string call_id_;
  std::function<void(core::EndpointConfig&)> tuning_;  // set before start, then read-only
  std::optional<E2eeKeys> e2ee_keys_;                  // set before start, then read-only
  ParticipantInfo self_info_;
  DataChannelFeature feature_;

  mutable std::mutex mu_;
  std::condition_variable state_changed_;
  State state_ = State::Joining;                         // mu_
  std::optional<Error> join_error_;                      // mu_
  std::unique_ptr<core::DataChannelEndpoint> endpoint_;  // mu_
  std::shared_ptr<client::E2eeCipher> cipher_;           // mu_; the endpoint's, when E2EE is on
  core::RateLimit rate_limit_;                           // mu_
  std::map<std::uint16_t, std::shared_ptr<DataChannelSender::Impl>> senders_;  // mu_, open ones
  std::unordered_map<const core::ReceiverChannel*,
                     std::pair<std::shared_ptr<DataChannelReceiver>,
                               std::shared_ptr<DataChannelReceiver::Impl>>>
      receivers_;                                                      // mu_, open ones
  Events events_;                                                      // mu_
  bool receive_paused_ = false;                                        // mu_
  bool resume_posted_ = false;                                         // mu_
  std::function<void(const ParticipantInfo&)> on_participant_joined_;  // mu_
  std::function<void(const ParticipantInfo&)> on_participant_left_;    // mu_
  std::function<void(const Error&)> on_disconnected_;                  // mu_
  std::function<void(const TransportInfo&)> on_transport_changed_;     // mu_
  std::function<void(const ConnectionStateChangedEvent&)> on_connection_state_changed_;  // mu_
  // Connected, but the transport is joining again (Transport::Callbacks::reconnecting).
  bool reconnecting_ = false;  // mu_
  TransportInfo transport_info_;                                       // mu_
  std::function<void(const std::shared_ptr<DataChannelReceiver>&)> on_receiver_created_;  // mu_
  // Receivers created before the first onReceiverCreated callback was registered (a sender
  // may start the moment join() returns): announced to that callback, in order.
  using HeldReceiver =
      std::pair<std::shared_ptr<DataChannelReceiver>, std::shared_ptr<DataChannelReceiver::Impl>>;
  std::vector<HeldReceiver> unannounced_receivers_;  // mu_
  bool receiver_callback_registered_ = false;                                // mu_
  void announce_held_receivers();
  // Closed senders whose queued messages and close notice may not have gone out yet:
  // leave() lets them finish.
  std::vector<std::shared_ptr<core::SenderChannel>> closing_;  // mu_
  void note_closing_locked(std::shared_ptr<core::SenderChannel> channel);

  // Set as soon as leave() is called: no user callback runs from then on.
  std::atomic<bool> quiet_{false};
  // A flush is posted and has not started yet: a burst of sends posts one.
  std::atomic<bool> flush_posted_{false};

  // Event thread only.
  std::unique_ptr<client::Transport> transport_;
  bool transport_connected_ = false;
  // What `connected` reports after a rejoin.
  std::optional<ConnectionStateChangedEvent> reconnected_;
  std::optional<std::pair<core::TrafficClass, Bytes>> blocked_;  // refused with BUFFER_FULL
  Bytes batch_;
  std::optional<boost::asio::steady_timer> timer_;
  std::optional<core::TimePoint> timer_at_;
  std::optional<boost::asio::steady_timer> drain_timer_;
  core::TimePoint drain_deadline_{};
};

}  // namespace switchboard
