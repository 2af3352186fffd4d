#pragma once

// One IceAgent in a test and what it reported; its candidates and end-of-candidates
// trickle straight to `peer`.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "webrtc/ice_agent.hpp"

namespace switchboard::webrtc::testing {

struct Side {
  std::unique_ptr<IceAgent> agent;
  Side* peer = nullptr;
  std::vector<std::string> candidates;
  bool gathering_done = false;
  int connected = 0;
  std::optional<Error> failure;
  std::function<void(ByteView)> on_datagram;

  IceAgent::Callbacks callbacks() {
    return {
        .local_candidate =
            [this](const std::string& candidate) {
              candidates.push_back(candidate);
              if (peer != nullptr && peer->agent) {
                const auto added = peer->agent->add_remote_candidate(candidate);
                EXPECT_TRUE(added.ok()) << candidate << ": " << added.error().message;
              }
            },
        .gathering_done =
            [this] {
              gathering_done = true;
              if (peer != nullptr && peer->agent) peer->agent->remote_gathering_done();
            },
        .connected = [this] { ++connected; },
        .datagram =
            [this](ByteView datagram) {
              if (on_datagram) on_datagram(datagram);
            },
        .failed = [this](const Error& error) { failure = error; },
    };
  }
};

}  // namespace switchboard::webrtc::testing
