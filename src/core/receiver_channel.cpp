#include "core/receiver_channel.hpp"

namespace switchboard {

std::string_view to_string(ReceiverCloseReason reason) noexcept {
  switch (reason) {
    case ReceiverCloseReason::SenderClosed: return "sender_closed";
    case ReceiverCloseReason::ParticipantLeft: return "participant_left";
    case ReceiverCloseReason::Idle: return "idle";
  }
  return "idle";
}

}  // namespace switchboard

namespace switchboard::core {

std::optional<Message> ReceiverChannel::read() {
  if (queue_.empty()) return std::nullopt;
  Message m = std::move(queue_.front());
  queue_.pop_front();
  unread_bytes_ -= m.data.size();
  return m;
}

bool ReceiverChannel::push(Message message, Reliability reliability, TimePoint now) {
  last_activity_ = now;
  reliability_ = reliability;
  if (reliability == Reliability::Lossy && unread_bytes_ + message.data.size() > unread_limit_) {
    ++dropped_;
    return false;
  }
  unread_bytes_ += message.data.size();
  queue_.push_back(std::move(message));
  return true;
}

}  // namespace switchboard::core
