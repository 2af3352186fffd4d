// CallClient: the event thread and the calls joined through it.

#include <mutex>

#include <switchboard/call_client.hpp>

#include "client/call_impl.hpp"
#include "client/event_loop.hpp"
#include "client/transport.hpp"

namespace switchboard {

class CallClient::Impl {
 public:
  ~Impl() {
    std::vector<std::weak_ptr<Call::Impl>> joined;
    {
      std::lock_guard lock(mu);
      joined.swap(calls);
    }
    for (const auto& weak : joined) {
      if (auto call = weak.lock()) call->leave();
    }
  }

  // Declared first, destroyed last: the calls are left while the loop still runs. Shared
  // by every CallClient of the process (client/event_loop.hpp says why).
  std::shared_ptr<client::EventLoop> loop = client::EventLoop::shared();
  std::mutex mu;
  std::vector<std::weak_ptr<Call::Impl>> calls;  // mu
};

CallClient::CallClient() : impl_(std::make_unique<Impl>()) {}
CallClient::~CallClient() = default;

Result<std::shared_ptr<Call>> CallClient::join(std::string_view server, std::string_view callId,
                                               std::string_view token, const JoinOptions& options) {
  if (callId.empty()) return Error{ErrorCode::InvalidArgument, "the call id is empty"};
  if (options.e2ee && !options.e2ee->callId().empty() && options.e2ee->callId() != callId) {
    return Error{ErrorCode::InvalidArgument,
                 "the E2EE keys were derived from a passphrase for call " + options.e2ee->callId() +
                     ", not " + std::string(callId)};
  }
  client::ServerLinkConfig config;
  config.url = std::string(server);
  config.call = std::string(callId);
  config.token = std::string(token);
  if (!options.displayName.empty()) config.display_name = options.displayName;
  config.p2p = options.p2p;
  config.reconnect_window = options.reconnectTimeout;
  config.ca_file = options.caFile;
  auto call = Call::Impl::join(*impl_->loop, client::call_transport(), std::move(config),
                               options.timeout, {}, options.e2ee);
  if (!call) return std::move(call).error();
  {
    std::lock_guard lock(impl_->mu);
    std::erase_if(impl_->calls, [](const auto& weak) { return weak.expired(); });
    impl_->calls.push_back(*call);
  }
  return std::make_shared<Call>(std::move(*call));
}

}  // namespace switchboard
