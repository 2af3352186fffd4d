#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>

#include "core/clock.hpp"
#include "core/frame.hpp"
#include "switchboard/options.hpp"

namespace switchboard::core {

struct Message {
  std::uint32_t sequence_number = 0;
  Bytes data;
};

// The public ReceiverCloseReason (switchboard/options.hpp) is the core's too.
using switchboard::ReceiverCloseReason;

// Messages from one (sending participant, channel id) pair, waiting to be read.
class ReceiverChannel {
 public:
  ReceiverChannel(ParticipantId sender, Identity sender_identity, std::uint16_t channel_id,
                  std::size_t unread_limit, TimePoint now)
      : sender_(sender),
        sender_identity_(std::move(sender_identity)),
        channel_id_(channel_id),
        unread_limit_(unread_limit),
        last_activity_(now) {}

  ParticipantId sender() const { return sender_; }
  const Identity& sender_identity() const { return sender_identity_; }
  std::uint16_t channel_id() const { return channel_id_; }

  // The next unread message, if any. Messages that arrived before a close stay readable.
  std::optional<Message> read();
  std::size_t unread_bytes() const { return unread_bytes_; }
  std::size_t unread_messages() const { return queue_.size(); }
  // Unread bytes are over the bound: lossy messages are dropped and durable input pauses.
  bool over_limit() const { return unread_bytes_ >= unread_limit_; }
  // Durable data waits here past the bound: the transport must stop reading.
  bool holds_back_durable() const { return reliability_ == Reliability::Durable && over_limit(); }
  std::uint64_t dropped_messages() const { return dropped_; }

  bool closed() const { return close_reason_.has_value(); }
  std::optional<ReceiverCloseReason> close_reason() const { return close_reason_; }

  // For the endpoint.
  // False when a lossy message was dropped for lack of room.
  bool push(Message message, Reliability reliability, TimePoint now);
  void close(ReceiverCloseReason reason) { close_reason_ = reason; }
  TimePoint last_activity() const { return last_activity_; }

 private:
  ParticipantId sender_;
  Identity sender_identity_;
  std::uint16_t channel_id_;
  std::size_t unread_limit_;
  TimePoint last_activity_;
  std::deque<Message> queue_;
  std::size_t unread_bytes_ = 0;
  Reliability reliability_ = Reliability::Durable;  // of the latest message
  std::uint64_t dropped_ = 0;
  std::optional<ReceiverCloseReason> close_reason_;
};

}  // namespace switchboard::core
