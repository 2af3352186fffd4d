#include "client/data_connection.hpp"

#include <mutex>

#include <openssl/rand.h>

namespace switchboard::client {

using webrtc::ChannelParams;
using webrtc::SctpReliability;

Result<std::shared_ptr<const webrtc::Certificate>> shared_certificate() {
  static std::mutex mutex;
  static std::weak_ptr<const webrtc::Certificate> cached;
  std::lock_guard lock(mutex);
  if (auto certificate = cached.lock()) return certificate;
  auto generated = webrtc::Certificate::generate();
  if (!generated) return generated.error();
  cached = *generated;
  return *generated;
}

std::array<ChannelParams, 4> negotiated_channels() {
  auto channel = [](const char* label, std::uint16_t stream, bool lossy, std::uint16_t priority) {
    ChannelParams p;
    p.label = label;
    p.ordered = !lossy;
    p.reliability = lossy ? SctpReliability::MaxRetransmits : SctpReliability::Reliable;
    p.reliability_value = 0;
    p.priority = priority;
    p.negotiated = true;
    p.stream = stream;
    return p;
  };
  return {channel("switchboard-durable", 0, false, 256),
          channel("switchboard-durable-high", 1, false, 512),
          channel("switchboard-lossy", 2, true, 256),
          channel("switchboard-lossy-high", 3, true, 512)};
}

std::uint64_t random_session_id() {
  std::uint64_t id = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&id), sizeof(id));
  return id >> 2;
}

}  // namespace switchboard::client
