#pragma once

// The cluster's Redis connection (docs/scaling.md): hiredis's blocking API on a thread of
// its own, so that no Redis round trip ever runs on the server's event loop. Jobs run in
// the order posted; each gets a RedisSession whose commands connect (or reconnect) on
// demand, with short connect and command timeouts, so a Redis that went away costs a job
// about a second, never a hang. Nothing here touches the server's state: jobs post their
// results back to the event loop themselves.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "switchboard/result.hpp"

struct redisContext;

namespace switchboard::server {

// redis://HOST[:PORT][/DB]; PORT defaults to 6379, DB to 0.
struct RedisAddress {
  std::string host;
  std::uint16_t port = 6379;
  int db = 0;

  std::string to_string() const;
};
Result<RedisAddress> parse_redis_url(std::string_view url);

// One reply, as a tree: strings, status and error replies in `text`, integers in `integer`,
// arrays in `elements`.
struct RedisValue {
  enum class Type : std::uint8_t { Nil, Integer, String, Status, Error, Array };
  Type type = Type::Nil;
  std::string text;
  long long integer = 0;
  std::vector<RedisValue> elements;

  bool is_nil() const { return type == Type::Nil; }
};

// The connection, used by one thread at a time (the worker's).
class RedisSession {
 public:
  explicit RedisSession(RedisAddress address);
  ~RedisSession();
  RedisSession(const RedisSession&) = delete;
  RedisSession& operator=(const RedisSession&) = delete;

  // One command, its arguments binary-safe. NOT_CONNECTED when Redis cannot be reached
  // (after a failed attempt, the next one waits `kRetryAfter` so that a burst of jobs
  // fails at once instead of each waiting for a connect timeout); INTERNAL for an error
  // reply (its text in the message).
  Result<RedisValue> command(const std::vector<std::string>& args);
  bool connected() const { return context_ != nullptr; }
  const RedisAddress& address() const { return address_; }

  static constexpr auto kConnectTimeout = std::chrono::milliseconds(500);
  static constexpr auto kCommandTimeout = std::chrono::milliseconds(1000);
  static constexpr auto kRetryAfter = std::chrono::milliseconds(250);

 private:
  Result<void> connect();
  void drop();

  RedisAddress address_;
  redisContext* context_ = nullptr;
  std::chrono::steady_clock::time_point next_attempt_{};
};

// The thread. Jobs posted after the destructor began are dropped; the destructor runs the
// jobs already queued (a node's goodbye), then joins.
class RedisWorker {
 public:
  using Job = std::function<void(RedisSession&)>;

  explicit RedisWorker(RedisAddress address);
  ~RedisWorker();
  RedisWorker(const RedisWorker&) = delete;
  RedisWorker& operator=(const RedisWorker&) = delete;

  void post(Job job);
  // Jobs queued and not yet started.
  std::size_t backlog() const;

 private:
  void run();

  RedisSession session_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace switchboard::server
