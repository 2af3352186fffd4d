#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/endpoint.hpp"

namespace switchboard::core {

// A whole call in one process: endpoints joined to it exchange frames through the same
// routing rules the server applies (recipient lists, sender stamping), with no network.
// For the demo and for tests of the rules end to end.
class LocalCall {
 public:
  explicit LocalCall(EndpointConfig config = {}) : config_(config) {}

  DataChannelEndpoint& join(const Identity& identity, TimePoint now);
  void leave(DataChannelEndpoint& endpoint);
  // Moves frames until no endpoint has anything left to send at `now`. Returns frames moved.
  std::size_t pump(TimePoint now);
  // Routes one transport message as if `from` had sent it, as the server does.
  void relay(DataChannelEndpoint& from, ByteView batch, TimePoint now);
  // Frames the router refused (malformed, or claiming another sender).
  std::uint64_t rejected_frames() const { return rejected_; }

 private:
  DataChannelEndpoint* find(ParticipantId id);

  EndpointConfig config_;
  Roster roster_;
  std::vector<std::unique_ptr<DataChannelEndpoint>> endpoints_;
  ParticipantId next_id_ = 1;
  std::uint64_t rejected_ = 0;
};

}  // namespace switchboard::core
