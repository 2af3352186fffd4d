#include "server/address_limits.hpp"

namespace switchboard::server {

AddressLimits::AddressLimits(std::uint32_t max_connections, std::uint32_t joins_per_second,
                             std::uint32_t join_burst)
    : max_connections_(max_connections),
      joins_per_second_(joins_per_second),
      join_burst_(join_burst),
      refill_time_(joins_per_second == 0
                       ? core::Duration::zero()
                       : std::chrono::duration_cast<core::Duration>(std::chrono::duration<double>(
                             static_cast<double>(join_burst) / joins_per_second))) {}

AddressLimits::Slot::~Slot() {
  if (auto table = table_.lock()) table->release(address_);
}

AddressLimits::Entry& AddressLimits::entry(const std::string& address, core::TimePoint now) {
  auto it = entries_.find(address);
  if (it != entries_.end()) return it->second;
  if (entries_.size() >= sweep_at_) {
    sweep(now);
    // Sweep again once the table has doubled from what stayed.
    sweep_at_ = std::max<std::size_t>(1024, entries_.size() * 2);
  }
  Entry fresh;
  if (joins_per_second_ > 0) {
    // The bucket holds `join_burst` attempts: burst_seconds = burst / rate.
    fresh.joins = core::RateLimit(0, joins_per_second_,
                                  static_cast<double>(join_burst_) / joins_per_second_, now);
  }
  return entries_.emplace(address, std::move(fresh)).first->second;
}

std::unique_ptr<AddressLimits::Slot> AddressLimits::connect(
    const std::shared_ptr<AddressLimits>& self, const std::string& address, core::TimePoint now) {
  Entry& e = self->entry(address, now);
  if (self->max_connections_ != 0 && e.connections >= self->max_connections_) return nullptr;
  ++e.connections;
  return std::make_unique<Slot>(self, address);
}

bool AddressLimits::admit_join(const std::string& address, core::TimePoint now) {
  if (joins_per_second_ == 0) return true;
  Entry& e = entry(address, now);
  e.last_join = now;
  return e.joins.admit(0, now);
}

std::size_t AddressLimits::connections(const std::string& address) const {
  auto it = entries_.find(address);
  return it == entries_.end() ? 0 : it->second.connections;
}

void AddressLimits::release(const std::string& address) {
  auto it = entries_.find(address);
  if (it != entries_.end() && it->second.connections > 0) --it->second.connections;
}

void AddressLimits::sweep(core::TimePoint now) {
  std::erase_if(entries_, [&](const auto& item) {
    const Entry& e = item.second;
    return e.connections == 0 && now - e.last_join >= refill_time_;
  });
}

}  // namespace switchboard::server
