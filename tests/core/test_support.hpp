#pragma once

#include <string>
#include <vector>

#include "core/local_call.hpp"

namespace switchboard::core::testing {

// Records what one endpoint's receivers report, in order.
struct Inbox {
  struct Received {
    Identity from;
    std::uint16_t channel;
    std::uint32_t sequence;
    Bytes data;
  };
  std::vector<std::string> events;  // "created 10000 alice", "message 10000 alice 1", "closed ..."
  std::vector<Received> messages;
  std::vector<DataChannelEndpoint::ReceiverPtr> receivers;
  bool auto_read = true;

  void attach(DataChannelEndpoint& endpoint) {
    DataChannelEndpoint::Events e;
    e.receiver_created = [this](const DataChannelEndpoint::ReceiverPtr& r) {
      receivers.push_back(r);
      events.push_back("created " + std::to_string(r->channel_id()) + " " + r->sender_identity() +
                       " readable=" + std::to_string(r->unread_messages()));
    };
    e.message_ready = [this](const DataChannelEndpoint::ReceiverPtr& r) {
      if (!auto_read) return;
      while (auto m = r->read()) {
        events.push_back("message " + std::to_string(r->channel_id()) + " " +
                         r->sender_identity() + " " + std::to_string(m->sequence_number));
        messages.push_back({r->sender_identity(), r->channel_id(), m->sequence_number,
                            std::move(m->data)});
      }
    };
    e.receiver_closed = [this](const DataChannelEndpoint::ReceiverPtr& r) {
      events.push_back("closed " + std::to_string(r->channel_id()) + " " + r->sender_identity() +
                       " " + std::string(to_string(*r->close_reason())));
    };
    endpoint.set_events(std::move(e));
  }

  std::vector<std::uint32_t> sequences() const {
    std::vector<std::uint32_t> s;
    for (const auto& m : messages) s.push_back(m.sequence);
    return s;
  }
};

inline Bytes pattern(std::size_t size, std::uint32_t seed) {
  Bytes b(size);
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& byte : b) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    byte = static_cast<std::uint8_t>(x);
  }
  return b;
}

}  // namespace switchboard::core::testing
