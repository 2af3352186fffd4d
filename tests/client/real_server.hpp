#pragma once

// A switchboard server in-process, for SDK tests against the real thing: the whole path
// (WebSocket signaling, ICE-lite, DTLS, SCTP, relay) on 127.0.0.1.

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <switchboard/switchboard.hpp>

#include "client/event_loop.hpp"
#include "inbox.hpp"
#include "run_on_loop.hpp"
#include "server/server.hpp"
#include "signaling/token.hpp"

namespace switchboard::testing {

using namespace std::chrono_literals;

// usrsctp is process-wide and single-threaded: the server runs on the SDK's shared event
// thread, beside the calls (client/event_loop.hpp).
class RealServer : public ::testing::Test {
 protected:
  RealServer() : RealServer([](server::ServerConfig&) {}) {}
  template <typename Tune>
  explicit RealServer(Tune tune) {
    spdlog::set_level(spdlog::level::warn);
    server::ServerConfig config;
    config.port = 0;
    config.dev = true;
    tune(config);
    EXPECT_TRUE(server::validate(config));
    on_loop([&] {
      server_ = std::make_unique<server::Server>(loop_->io(), config);
      auto started = server_->start();
      EXPECT_TRUE(started) << (started ? "" : started.error().message);
      url_ = "ws://127.0.0.1:" + std::to_string(server_->port());
    });
  }
  ~RealServer() override {
    clients_.clear();  // leaves every call first
    shutdown();
    on_loop([&] { server_.reset(); });
  }

  template <typename Fn>
  void on_loop(Fn fn) {
    run_on_loop(*loop_, std::move(fn));
  }

  void shutdown() {
    if (stopped_) return;
    stopped_ = true;
    auto done = std::make_shared<std::promise<void>>();
    loop_->post(
        [this, done] { server_->shutdown("server shutting down", [done] { done->set_value(); }); });
    done->get_future().wait_for(10s);
  }

  static std::string token(const std::string& user, const std::string& call, int ttl = 3600) {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    return signaling::mint_token(
        {.sub = user, .call = call, .name = user + " D", .exp = now + ttl, .iat = now},
        signaling::kDevelopmentSecret);
  }

  CallClient& client() {
    clients_.push_back(std::make_unique<CallClient>());
    return *clients_.back();
  }

  std::shared_ptr<client::EventLoop> loop_ = client::EventLoop::shared();
  std::unique_ptr<server::Server> server_;
  std::string url_;
  bool stopped_ = false;
  std::vector<std::unique_ptr<CallClient>> clients_;
};

}  // namespace switchboard::testing
