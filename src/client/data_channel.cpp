// The public DataChannel objects: thin faces over the state in client/call_impl.hpp. Every
// method goes through the call, which holds the lock that guards the DataChannel state.

#include <switchboard/data_channel.hpp>

#include "client/call_impl.hpp"

namespace switchboard {

// ---- DataChannelSender ----

DataChannelSender::DataChannelSender(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
DataChannelSender::~DataChannelSender() = default;

std::uint16_t DataChannelSender::channelId() const {
  return impl_->channel_id;
}
Reliability DataChannelSender::reliability() const {
  return impl_->reliability;
}
Priority DataChannelSender::priority() const {
  return impl_->priority;
}
std::uint32_t DataChannelSender::bitrateInKbps() const {
  return impl_->bitrate_kbps;
}
std::size_t DataChannelSender::maxMessageSizeInBytes() const {
  return impl_->max_message_size;
}

std::vector<Identity> DataChannelSender::participants() const {
  return impl_->call->participants_of(*impl_);
}

Result<void> DataChannelSender::setParticipants(std::vector<Identity> participants) {
  return impl_->call->set_participants(*impl_, std::move(participants));
}

Result<std::uint32_t> DataChannelSender::sendMessage(std::span<const std::uint8_t> data) {
  return impl_->call->send(*impl_, data);
}

Result<std::uint32_t> DataChannelSender::sendMessage(std::string_view text) {
  return impl_->call->send(*impl_, as_bytes(text));
}

void DataChannelSender::close() {
  impl_->call->close(*impl_);
}
bool DataChannelSender::closed() const {
  return impl_->call->closed(*impl_);
}
std::size_t DataChannelSender::bufferedAmount() const {
  return impl_->call->buffered_amount(*impl_);
}

void DataChannelSender::onError(std::function<void(const Error&)> callback) {
  impl_->call->set_on_error(*impl_, std::move(callback));
}

// ---- DataChannelReceiver ----

DataChannelReceiver::DataChannelReceiver(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
DataChannelReceiver::~DataChannelReceiver() = default;

std::uint16_t DataChannelReceiver::channelId() const {
  return impl_->channel_id;
}
const Identity& DataChannelReceiver::senderIdentity() const {
  return impl_->identity;
}
const std::string& DataChannelReceiver::senderDisplayName() const {
  return impl_->display_name;
}

std::optional<DataChannelMessage> DataChannelReceiver::readMessage() {
  return impl_->call->read(*impl_);
}
std::size_t DataChannelReceiver::unreadMessages() const {
  return impl_->call->unread_messages(*impl_);
}

void DataChannelReceiver::onMessageReady(std::function<void()> callback) {
  impl_->call->set_on_message_ready(*impl_, std::move(callback));
}
void DataChannelReceiver::onClose(std::function<void(ReceiverCloseReason)> callback) {
  impl_->call->set_on_close(*impl_, std::move(callback));
}
void DataChannelReceiver::onError(std::function<void(const Error&)> callback) {
  impl_->call->set_on_error(*impl_, std::move(callback));
}
bool DataChannelReceiver::closed() const {
  return impl_->call->closed(*impl_);
}
std::optional<ReceiverCloseReason> DataChannelReceiver::closeReason() const {
  return impl_->call->close_reason(*impl_);
}

// ---- DataChannelFeature ----

DataChannelFeature::DataChannelFeature(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
DataChannelFeature::~DataChannelFeature() = default;

Result<std::shared_ptr<DataChannelSender>> DataChannelFeature::createSender(
    const SenderOptions& options) {
  return impl_->call.create_sender(options);
}

void DataChannelFeature::onReceiverCreated(
    std::function<void(const std::shared_ptr<DataChannelReceiver>&)> callback) {
  impl_->call.set_on_receiver_created(std::move(callback));
}

}  // namespace switchboard
