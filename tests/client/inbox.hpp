#pragma once

// What one participant's SDK callbacks saw, in order, with bounded waits for the tests.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <switchboard/switchboard.hpp>

namespace switchboard::testing {

inline constexpr std::chrono::seconds kWait{5};

struct Received {
  std::string from;
  std::uint16_t channel = 0;
  std::uint32_t sequence = 0;
  std::string text;
};

// Everything one participant's callbacks saw, in order.
class Inbox {
 public:
  // Holds the call so that it can leave it before the inbox goes: no callback can then
  // reach a destroyed inbox.
  explicit Inbox(std::shared_ptr<Call> call_ptr, bool auto_read = true)
      : call_(std::move(call_ptr)), auto_read_(auto_read) {
    Call& call = *call_;
    call.dataChannel().onReceiverCreated(
        [this](const std::shared_ptr<DataChannelReceiver>& r) { on_created(r); });
    call.onParticipantJoined([this](const ParticipantInfo& p) { record("joined " + p.identity); });
    call.onParticipantLeft([this](const ParticipantInfo& p) { record("left " + p.identity); });
    call.onTransportChanged([this](const TransportInfo& t) {
      record(t.mode == TransportMode::PeerToPeer ? "transport p2p " + t.peer.identity
                                                 : std::string("transport server"));
    });
    call.onDisconnected([this](const Error& e) {
      record("disconnected " + std::string(to_string(e.code)) + " " + e.message);
    });
  }

  ~Inbox() { call_->leave(); }
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  template <typename Pred>
  bool wait(Pred pred) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return pred(*this); });
  }
  bool wait_messages(std::size_t n) {
    return wait([n](const Inbox& in) { return in.messages.size() >= n; });
  }
  bool wait_log(const std::string& line) {
    return wait([&](const Inbox& in) {
      return std::find(in.log.begin(), in.log.end(), line) != in.log.end();
    });
  }
  std::vector<std::string> texts() {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& m : messages) out.push_back(m.text);
    return out;
  }
  std::vector<std::uint32_t> sequences() {
    std::lock_guard lock(mu_);
    std::vector<std::uint32_t> out;
    for (const auto& m : messages) out.push_back(m.sequence);
    return out;
  }
  std::vector<Received> messages_copy() {
    std::lock_guard lock(mu_);
    return messages;
  }
  std::vector<std::string> log_copy() {
    std::lock_guard lock(mu_);
    return log;
  }
  std::shared_ptr<DataChannelReceiver> receiver(std::size_t i) {
    std::lock_guard lock(mu_);
    return i < receivers.size() ? receivers[i] : nullptr;
  }

  // Read under mu_ (inside wait predicates) or after the call is left.
  std::vector<std::string> log;
  std::vector<Received> messages;
  std::vector<std::shared_ptr<DataChannelReceiver>> receivers;

 private:
  void on_created(const std::shared_ptr<DataChannelReceiver>& r) {
    {
      std::lock_guard lock(mu_);
      receivers.push_back(r);
    }
    record("created " + std::to_string(r->channelId()) + " from " + r->senderIdentity());
    DataChannelReceiver* raw = r.get();
    r->onMessageReady([this, raw] {
      if (auto_read_) drain(*raw);
    });
    r->onClose([this, raw](ReceiverCloseReason reason) {
      record("closed " + std::to_string(raw->channelId()) + " from " + raw->senderIdentity() + " " +
             std::string(to_string(reason)));
    });
    r->onError([this, raw](const Error& e) {
      record("error " + std::to_string(raw->channelId()) + " from " + raw->senderIdentity() + " " +
             std::string(to_string(e.code)));
    });
  }

 public:
  void drain(DataChannelReceiver& r) {
    while (auto m = r.readMessage()) {
      std::lock_guard lock(mu_);
      log.push_back("message " + std::to_string(r.channelId()) + " from " + r.senderIdentity());
      messages.push_back({r.senderIdentity(), r.channelId(), m->sequenceNumber,
                          std::string(m->data.begin(), m->data.end())});
      cv_.notify_all();
    }
  }

 private:
  void record(std::string line) {
    std::lock_guard lock(mu_);
    log.push_back(std::move(line));
    cv_.notify_all();
  }

  std::shared_ptr<Call> call_;
  bool auto_read_;
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace switchboard::testing
