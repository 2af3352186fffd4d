#pragma once

// What a Call needs from its connection to the call: the server link, and in 1:1 calls
// the direct path beside it (client::CallTransport), behind an interface so that tests
// can run calls against an in-process relay.

#include <functional>
#include <memory>
#include <optional>

#include <boost/asio/io_context.hpp>

#include "client/server_link.hpp"
#include "core/participant.hpp"

namespace switchboard::client {

// The same contract as ServerLink: constructed, called and destroyed on the io_context's
// thread; callbacks run from inside io.run(), never from inside a call into the transport.
class Transport {
 public:
  struct Callbacks {
    std::function<void(const signaling::Joined&)> joined;
    std::function<void()> connected;
    std::function<void(const signaling::ParticipantInfo&)> participant_joined;
    std::function<void(const signaling::ParticipantLeft&)> participant_left;
    // A transport message relayed by the server: frames stamped with their senders.
    std::function<void(ByteView)> data;
    std::function<void(const signaling::ErrorReply&)> error;
    std::function<void()> writable;
    std::function<void(const Error&)> closed;
    // A transport message straight from `peer` (the direct path): its frames are unstamped
    // and all come from that participant.
    std::function<void(core::ParticipantId peer, ByteView)> peer_data;
    // Our frames now travel directly to `peer`, or (nullopt) through the server.
    std::function<void(std::optional<core::ParticipantId> peer)> path_changed;
    // The connection to the server was lost after the call was up; the transport tries
    // again (send() answers BUFFER_FULL meanwhile). `closed` follows if it gives up.
    std::function<void(const Error&)> reconnecting;
    // Admitted again after `reconnecting`; `connected` follows once the data connection
    // is up. Resumed: the same participant, nothing lost either way (roster changes of
    // the gap were reported as participant_joined/left before this). Not resumed: a new
    // participant (joined.participant_id) in the call as `joined` lists it; what we had
    // sent and the server had not confirmed is gone: `unconfirmed` DATA messages.
    struct Rejoined {
      bool resumed = false;
      std::uint64_t unconfirmed = 0;
    };
    std::function<void(const signaling::Joined&, const Rejoined&)> rejoined;
  };

  virtual ~Transport() = default;
  virtual void start() = 0;
  // NOT_CONNECTED before `connected` or after `closed`; BUFFER_FULL: wait for `writable`.
  virtual Result<void> send(core::TrafficClass cls, ByteView message) = 0;
  // Everything sent and not yet known to be delivered.
  virtual std::size_t buffered_amount() const = 0;
  virtual void set_receive_paused(bool paused) = 0;
  // No callback runs after it.
  virtual void leave() = 0;
};

using TransportFactory = std::function<std::unique_ptr<Transport>(
    boost::asio::io_context& io, ServerLinkConfig config, Transport::Callbacks callbacks)>;

// The real one: a client::CallTransport.
TransportFactory call_transport();

}  // namespace switchboard::client
