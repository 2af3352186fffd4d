#pragma once

// What a Call needs from its connection to the server: the ServerLink's face, behind an
// interface so that tests can run calls against an in-process relay.

#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>

#include "client/server_link.hpp"

namespace switchboard::client {

// The same contract as ServerLink: constructed, called and destroyed on the io_context's
// thread; callbacks run from inside io.run(), never from inside a call into the transport.
class Transport {
 public:
  using Callbacks = ServerLink::Callbacks;

  virtual ~Transport() = default;
  virtual void start() = 0;
  virtual Result<void> send(core::TrafficClass cls, ByteView message) = 0;
  virtual std::size_t buffered_amount() const = 0;
  virtual void set_receive_paused(bool paused) = 0;
  // No callback runs after it.
  virtual void leave() = 0;
};

using TransportFactory = std::function<std::unique_ptr<Transport>(
    boost::asio::io_context& io, ServerLinkConfig config, Transport::Callbacks callbacks)>;

// The real one: a ServerLink.
TransportFactory server_link_transport();

}  // namespace switchboard::client
