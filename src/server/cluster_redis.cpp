#include "server/cluster_redis.hpp"

#include <charconv>

#include <hiredis/hiredis.h>

namespace switchboard::server {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<decltype(tv.tv_sec)>(ms.count() / 1000);
  tv.tv_usec = static_cast<decltype(tv.tv_usec)>((ms.count() % 1000) * 1000);
  return tv;
}

RedisValue convert(const redisReply& reply) {
  RedisValue value;
  switch (reply.type) {
    case REDIS_REPLY_STRING:
      value.type = RedisValue::Type::String;
      value.text.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_STATUS:
      value.type = RedisValue::Type::Status;
      value.text.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_ERROR:
      value.type = RedisValue::Type::Error;
      value.text.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_INTEGER:
      value.type = RedisValue::Type::Integer;
      value.integer = reply.integer;
      break;
    case REDIS_REPLY_ARRAY:
      value.type = RedisValue::Type::Array;
      value.elements.reserve(reply.elements);
      for (std::size_t i = 0; i < reply.elements; ++i) {
        value.elements.push_back(convert(*reply.element[i]));
      }
      break;
    default:
      break;  // NIL
  }
  return value;
}

}  // namespace

std::string RedisAddress::to_string() const {
  return "redis://" + host + ":" + std::to_string(port) + (db != 0 ? "/" + std::to_string(db) : "");
}

Result<RedisAddress> parse_redis_url(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  auto bad = [&](const std::string& why) {
    return Error{ErrorCode::InvalidArgument, "bad Redis URL \"" + std::string(url) + "\": " + why +
                                                 " (expected redis://HOST:PORT[/DB])"};
  };
  if (!url.starts_with(kScheme)) return bad("it must start with redis://");
  std::string_view rest = url.substr(kScheme.size());
  RedisAddress address;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    const std::string_view db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (!db.empty()) {
      auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), address.db);
      if (ec != std::errc{} || end != db.data() + db.size() || address.db < 0) {
        return bad("the database is not a number");
      }
    }
  }
  if (rest.find('@') != std::string_view::npos) return bad("credentials are not supported");
  if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    const std::string_view port = rest.substr(colon + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
      return bad("the port is not 1..65535");
    }
    address.port = static_cast<std::uint16_t>(value);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return bad("the host is missing");
  address.host = std::string(rest);
  return address;
}

RedisSession::RedisSession(RedisAddress address) : address_(std::move(address)) {}

RedisSession::~RedisSession() {
  drop();
}

void RedisSession::drop() {
  if (context_ != nullptr) redisFree(context_);
  context_ = nullptr;
}

Result<void> RedisSession::connect() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_attempt_) {
    return Error{ErrorCode::NotConnected, "Redis at " + address_.to_string() + " is unreachable"};
  }
  next_attempt_ = now + kRetryAfter;
  redisContext* c =
      redisConnectWithTimeout(address_.host.c_str(), address_.port, to_timeval(kConnectTimeout));
  if (c == nullptr || c->err != 0) {
    std::string why = c != nullptr ? c->errstr : "out of memory";
    if (c != nullptr) redisFree(c);
    return Error{ErrorCode::NotConnected,
                 "Redis at " + address_.to_string() + " is unreachable: " + why};
  }
  redisSetTimeout(c, to_timeval(kCommandTimeout));
  context_ = c;
  if (address_.db != 0) {
    auto selected = command({"SELECT", std::to_string(address_.db)});
    if (!selected) return selected.error();
  }
  return {};
}

Result<RedisValue> RedisSession::command(const std::vector<std::string>& args) {
  if (context_ == nullptr) {
    if (auto connected = connect(); !connected) return connected.error();
  }
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data()));
  if (reply == nullptr) {
    std::string why = context_->errstr;
    drop();  // a context with an error cannot be used again
    return Error{ErrorCode::NotConnected,
                 "Redis at " + address_.to_string() + " stopped answering: " + why};
  }
  RedisValue value = convert(*reply);
  freeReplyObject(reply);
  if (value.type == RedisValue::Type::Error) {
    return Error{ErrorCode::Internal, "Redis: " + value.text};
  }
  return value;
}

RedisWorker::RedisWorker(RedisAddress address)
    : session_(std::move(address)), thread_([this] { run(); }) {}

RedisWorker::~RedisWorker() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void RedisWorker::post(Job job) {
  {
    const std::lock_guard lock(mutex_);
    if (stopping_) return;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

std::size_t RedisWorker::backlog() const {
  const std::lock_guard lock(mutex_);
  return jobs_.size();
}

void RedisWorker::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and nothing left
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job(session_);
  }
}

}  // namespace switchboard::server
