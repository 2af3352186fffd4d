#pragma once

// The data path inside the server: every transport message a participant sends is split
// into frames, each checked (malformed, forged sender, too large, rate limit), routed,
// stamped with its sender, and appended to each recipient's batch of its traffic class.
// Batches go into the recipients' SCTP at the end of the loop turn while their send
// buffer is below the high-water mark; the rest waits in each recipient's queue.
// Rules: docs/protocol.md and the server section of the data-path contract.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/frame.hpp"
#include "core/rate_limit.hpp"
#include "server/call_registry.hpp"
#include "server/config.hpp"
#include "server/frame_trace.hpp"
#include "server/metrics.hpp"

namespace switchboard::server {

// Largest transport message the server builds from several frames (one frame alone may
// be larger).
inline constexpr std::size_t kMaxBatchSize = std::size_t{64} * 1024;
// Stop handing a recipient's SCTP more data above this; resume on buffered_amount_low.
inline constexpr std::size_t kSctpHighWater = std::size_t{1024} * 1024;
inline constexpr std::size_t kSctpLowWater = std::size_t{256} * 1024;

// Flow control: a recipient "lags" while more than this much durable data waits for it at
// the server (min(1 MiB, bound / 4)) and until it is back under half of it (the resume
// mark); it is "young" during the first kSlowConsumerGrace of a lag. A sender is paused
// after a durable transport message when every recipient of it lags, or when one of them
// lags and is young; it is resumed once none of the recipients that held it back is young
// and over the resume mark, and either one of them is under the resume mark or some other
// recipient was keeping up (or they all left). So equally fast recipients pace the sender
// to the slower one (and neither falls behind to the bound), while one stalled recipient
// among fast ones holds the sender for its grace period and is then cut at the bound.
std::size_t pause_mark(std::size_t durable_bound);

// The stream of a frame's traffic class. CLOSE, SWITCH and RESENT always travel durable.
StreamIndex stream_for(const core::FrameHeader& header);

// RESENT frames carry what a sender had sent its peer directly and sends again through
// the server when the direct path ends: at most what was in flight, so a generous burst,
// then the call's byte rate (or kUnlimitedResendRate when the call has none), so that
// RESENT cannot carry an unlimited stream past the rate limit.
inline constexpr std::size_t kResendBurstBytes = std::size_t{16} * 1024 * 1024;
inline constexpr std::uint64_t kUnlimitedResendRate = std::uint64_t{1024} * 1024;
core::RateLimit resend_allowance(const ServerConfig& config, core::TimePoint now);

class Relay {
 public:
  struct Hooks {
    // Tell the sender its frames on `channel` were refused (already limited to 1/s).
    std::function<void(Participant&, ErrorCode, std::uint16_t channel, std::string message)> refuse;
    // The recipient's durable backlog passed the bound: disconnect it. Called from the
    // flush, never while a frame is being routed.
    std::function<void(const std::shared_ptr<Participant>&)> slow_consumer;
  };

  Relay(boost::asio::io_context& io, const ServerConfig& config, Metrics& metrics,
        FrameTrace* trace, Hooks hooks);
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // One SCTP message from `sender` (1+ frames).
  void on_transport_message(Participant& sender, ByteView data);
  // Try to send what waits for `recipient` at the end of this turn (its data channels just
  // opened, or its SCTP buffer drained).
  void wake(const std::shared_ptr<Participant>& recipient);
  // The participant left: what waited for it is discarded (returns the DATA messages), and
  // the senders its backlog held back resume.
  std::uint64_t discard(Participant& participant);
  // The participant's connection is going away: forget that it was paused as a sender.
  void forget_sender(Participant& sender);
  void set_trace(FrameTrace* trace) { trace_ = trace; }

 private:
  bool admit(Participant& sender, const core::FrameHeader& header, core::TimePoint now,
             bool& first_frame_of_message);
  void refuse(Participant& sender, ErrorCode code, std::uint16_t channel, std::string message,
              core::TimePoint now);
  void append(const std::shared_ptr<Participant>& recipient, StreamIndex stream, ByteView frame,
              std::uint32_t messages, std::size_t payload, core::TimePoint now);
  void mark_dirty(const std::shared_ptr<Participant>& recipient);
  void flush();
  void drain(const std::shared_ptr<Participant>& recipient, core::TimePoint now);
  Bytes take_buffer(Participant& recipient);
  void hold_back_if_lagging(Participant& sender, core::TimePoint now);
  void note_lag(Participant& recipient, core::TimePoint now) const;
  bool young(const Participant& recipient, core::TimePoint now) const;
  void release_senders(Participant& recipient, core::TimePoint now, bool leaving);
  void maybe_resume(Participant& sender, core::TimePoint now);
  void resume(Participant& sender);
  // Re-check the paused senders at `at` (the end of a young blocker's grace period).
  void check_paused_at(core::TimePoint at);
  void on_grace_timer();
  void trace(const Participant& sender, const Participant& recipient,
             const core::DecodedFrame& frame);

  boost::asio::io_context& io_;
  const ServerConfig& config_;
  Metrics& metrics_;
  FrameTrace* trace_;
  Hooks hooks_;
  std::vector<std::shared_ptr<Participant>> dirty_;
  std::vector<std::shared_ptr<Participant>> flushing_;
  std::vector<core::ParticipantId> recipients_;
  // Distinct recipients of the durable frames of the transport message being relayed.
  std::vector<Participant*> durable_recipients_;
  std::uint64_t message_mark_ = 0;
  std::size_t pause_mark_;
  std::size_t resume_mark_;
  Bytes frame_;
  // Paused senders, re-checked when a young blocker's grace period ends.
  std::vector<std::weak_ptr<Participant>> paused_;
  boost::asio::steady_timer grace_timer_;
  std::optional<core::TimePoint> grace_timer_at_;
  bool flush_posted_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace switchboard::server
