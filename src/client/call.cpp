// The public Call: a thin face over Call::Impl (client/call_impl.hpp).

#include "client/call_impl.hpp"

namespace switchboard {

Call::Call(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

// A Call nobody holds can never be left: dropping it leaves.
Call::~Call() {
  if (impl_) impl_->leave();
}

const std::string& Call::id() const {
  return impl_->id();
}
const ParticipantInfo& Call::self() const {
  return impl_->self();
}
std::vector<ParticipantInfo> Call::participants() const {
  return impl_->participants();
}
bool Call::connected() const {
  return impl_->connected();
}
DataChannelFeature& Call::dataChannel() {
  return impl_->data_channel();
}

void Call::onParticipantJoined(std::function<void(const ParticipantInfo&)> callback) {
  impl_->set_on_participant_joined(std::move(callback));
}
void Call::onParticipantLeft(std::function<void(const ParticipantInfo&)> callback) {
  impl_->set_on_participant_left(std::move(callback));
}
void Call::onDisconnected(std::function<void(const Error&)> callback) {
  impl_->set_on_disconnected(std::move(callback));
}
ConnectionState Call::connectionState() const {
  return impl_->connection_state();
}
void Call::onConnectionStateChanged(
    std::function<void(const ConnectionStateChangedEvent&)> callback) {
  impl_->set_on_connection_state_changed(std::move(callback));
}
TransportInfo Call::transport() const {
  return impl_->transport();
}
void Call::onTransportChanged(std::function<void(const TransportInfo&)> callback) {
  impl_->set_on_transport_changed(std::move(callback));
}
Result<void> Call::setE2eeKeys(E2eeKeys keys) {
  return impl_->set_e2ee_keys(std::move(keys));
}

void Call::leave() {
  impl_->leave();
}

}  // namespace switchboard
