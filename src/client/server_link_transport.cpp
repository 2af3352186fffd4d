#include "client/server_link.hpp"
#include "client/transport.hpp"

namespace switchboard::client {
namespace {

class ServerLinkTransport final : public Transport {
 public:
  ServerLinkTransport(boost::asio::io_context& io, ServerLinkConfig config, Callbacks callbacks)
      : link_(io, std::move(config), std::move(callbacks)) {}

  void start() override { link_.start(); }
  Result<void> send(core::TrafficClass cls, ByteView message) override {
    return link_.send(cls, message);
  }
  std::size_t buffered_amount() const override { return link_.buffered_amount(); }
  void set_receive_paused(bool paused) override { link_.set_receive_paused(paused); }
  void leave() override { link_.leave(); }

 private:
  ServerLink link_;
};

}  // namespace

TransportFactory server_link_transport() {
  return [](boost::asio::io_context& io, ServerLinkConfig config, Transport::Callbacks callbacks) {
    return std::make_unique<ServerLinkTransport>(io, std::move(config), std::move(callbacks));
  };
}

}  // namespace switchboard::client
