#include "server/call_registry.hpp"

namespace switchboard::server {

Call* CallRegistry::find(std::string_view call_id) {
  auto it = calls_.find(std::string(call_id));
  return it == calls_.end() ? nullptr : it->second.get();
}

Call& CallRegistry::find_or_create(const std::string& call_id) {
  auto& slot = calls_[call_id];
  if (!slot) {
    slot = std::make_unique<Call>();
    slot->id = call_id;
  }
  return *slot;
}

std::shared_ptr<Participant> CallRegistry::remove(Participant& participant) {
  Call* call = participant.call;
  if (call == nullptr) return nullptr;
  std::shared_ptr<Participant> removed;
  auto it = call->members.find(participant.id);
  if (it != call->members.end()) {
    removed = std::move(it->second);
    call->members.erase(it);
    call->roster.remove(participant.id);
    --participants_;
  }
  participant.call = nullptr;
  if (call->members.empty() && !call->pinned) {
    const std::string id = call->id;  // erase must not read the key it destroys
    calls_.erase(id);
  }
  return removed;
}

}  // namespace switchboard::server
