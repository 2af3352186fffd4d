#pragma once

// The DataChannel objects of a call: one-way senders and receivers, named after the ACS
// native SDKs (DataChannelSender, DataChannelReceiver, DataChannelMessage).
//
// Threading (docs/architecture.md, "The SDK"): every method here may be called from any
// thread. Callbacks run on the CallClient's event thread, one at a time, never while the
// SDK holds a lock, so a callback may call any method (readMessage in onMessageReady is
// the usual pattern). A callback that blocks stalls the network for every call of its
// CallClient: hand long work to another thread.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "switchboard/options.hpp"
#include "switchboard/result.hpp"

namespace switchboard {

struct DataChannelMessage {
  // The sender's number for this message: 1, 2, 3, ... per sender. A receiver sees gaps
  // when the sender changed its recipients in between (ACS semantics), not losses.
  std::uint32_t sequenceNumber = 0;
  std::vector<std::uint8_t> data;
};

class DataChannelSender {
 public:
  class Impl;
  explicit DataChannelSender(std::shared_ptr<Impl> impl);
  ~DataChannelSender();
  DataChannelSender(const DataChannelSender&) = delete;
  DataChannelSender& operator=(const DataChannelSender&) = delete;

  std::uint16_t channelId() const;
  Reliability reliability() const;
  Priority priority() const;
  std::uint32_t bitrateInKbps() const;
  // The largest message sendMessage accepts: the call's limit (256 KiB unless the server
  // says otherwise; up to 16 MiB, fragmented on the wire), less kE2eeOverhead (33 bytes)
  // with end-to-end encryption.
  std::size_t maxMessageSizeInBytes() const;
  // The recipients' identities; empty = everyone in the call.
  std::vector<Identity> participants() const;

  // Applies to the messages sent from now on. More than 64 → TOO_MANY_PARTICIPANTS.
  Result<void> setParticipants(std::vector<Identity> participants);

  // Queues one message for the current recipients and returns its sequence number.
  // Errors: SENDER_CLOSED, MESSAGE_EMPTY, MESSAGE_TOO_LARGE, NO_VALID_PARTICIPANT (none of
  // the listed recipients is in the call), TRAFFIC_LIMITED (over the call's rate limit),
  // BUFFER_FULL (durable: more than the send buffer waits; retry when bufferedAmount
  // falls), NOT_CONNECTED (the call is over). A lossy message may be dropped later
  // without an error; a durable one is delivered, or onError reports why not.
  Result<std::uint32_t> sendMessage(std::span<const std::uint8_t> data);
  Result<std::uint32_t> sendMessage(std::string_view text);

  // Stops the sender. Queued messages still go out, then its receivers close with
  // SenderClosed. Idempotent.
  void close();
  bool closed() const;

  // Bytes accepted by sendMessage and not yet handed to the network.
  std::size_t bufferedAmount() const;

  // Errors that surface after sendMessage returned: the server refused frames of this
  // sender (TRAFFIC_LIMITED, MESSAGE_TOO_LARGE) or the call ended (NOT_CONNECTED).
  void onError(std::function<void(const Error&)> callback);

 private:
  std::shared_ptr<Impl> impl_;
};

class DataChannelReceiver {
 public:
  class Impl;
  explicit DataChannelReceiver(std::shared_ptr<Impl> impl);
  ~DataChannelReceiver();
  DataChannelReceiver(const DataChannelReceiver&) = delete;
  DataChannelReceiver& operator=(const DataChannelReceiver&) = delete;

  std::uint16_t channelId() const;
  // Who sends on it, as their access token's `sub` names them.
  const Identity& senderIdentity() const;
  const std::string& senderDisplayName() const;

  // The next unread message, oldest first; nullopt when none is waiting. Messages that
  // arrived before a close stay readable after it.
  std::optional<DataChannelMessage> readMessage();
  std::size_t unreadMessages() const;

  // Called when messages are waiting, once per arrival; register it inside the
  // onReceiverCreated callback to see the first message.
  void onMessageReady(std::function<void()> callback);
  // Called once when the receiver closes.
  void onClose(std::function<void(ReceiverCloseReason)> callback);
  // A message from this sender arrived but is not readable: with end-to-end encryption,
  // one that could not be opened (DECRYPTION_FAILED: a key we lack, a wrong key, or
  // altered on the way). The message is dropped; the ones after it still arrive. Register
  // it inside onReceiverCreated to see the first message's error.
  void onError(std::function<void(const Error&)> callback);
  bool closed() const;
  std::optional<ReceiverCloseReason> closeReason() const;

 private:
  std::shared_ptr<Impl> impl_;
};

// Call::dataChannel(): where senders are created and receivers announced (ACS:
// DataChannelCallFeature).
class DataChannelFeature {
 public:
  class Impl;
  explicit DataChannelFeature(std::shared_ptr<Impl> impl);
  ~DataChannelFeature();
  DataChannelFeature(const DataChannelFeature&) = delete;
  DataChannelFeature& operator=(const DataChannelFeature&) = delete;

  // channelId 0 = allocate a free id from 1024..65535. Creating a sender on the channel
  // id of an open sender closes that one first. Errors: INVALID_CHANNEL_ID,
  // NO_AVAILABLE_CHANNEL_ID, TOO_MANY_PARTICIPANTS, INVALID_ARGUMENT, NOT_CONNECTED.
  Result<std::shared_ptr<DataChannelSender>> createSender(const SenderOptions& options = {});

  // A participant started sending to us on a channel: called before that receiver's first
  // message is readable. Receivers created before the first callback is registered (a
  // sender may start the moment join() returns) are held and announced to it, in order,
  // on the event thread; for one whose messages arrived meanwhile, the onMessageReady
  // registered in the callback is then called once.
  void onReceiverCreated(std::function<void(const std::shared_ptr<DataChannelReceiver>&)> callback);

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace switchboard
