#pragma once

// Per source address limits: how many TCP connections an address holds open at once, and
// how fast it may attempt joins (a token bucket). No I/O; the caller passes the time.
// The table forgets an address once it holds no connection and its bucket is full again,
// so addresses that come and go do not grow it without bound.

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "core/clock.hpp"
#include "core/rate_limit.hpp"

namespace switchboard::server {

class AddressLimits {
 public:
  // 0 leaves that limit off.
  AddressLimits(std::uint32_t max_connections, std::uint32_t joins_per_second,
                std::uint32_t join_burst);

  // An open connection's hold on its address's count; destroying it gives the place back
  // (the table may be gone by then).
  class Slot {
   public:
    Slot(std::weak_ptr<AddressLimits> table, std::string address)
        : table_(std::move(table)), address_(std::move(address)) {}
    ~Slot();
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    const std::string& address() const { return address_; }

   private:
    std::weak_ptr<AddressLimits> table_;
    std::string address_;
  };

  // A slot for one more connection from `address`; null when it holds max_connections
  // already. `self` is the shared_ptr owning this table.
  static std::unique_ptr<Slot> connect(const std::shared_ptr<AddressLimits>& self,
                                       const std::string& address, core::TimePoint now);
  // Charges one join attempt to `address`; false when its bucket is empty.
  bool admit_join(const std::string& address, core::TimePoint now);

  std::size_t connections(const std::string& address) const;
  std::size_t tracked_addresses() const { return entries_.size(); }

 private:
  struct Entry {
    std::size_t connections = 0;
    core::RateLimit joins;
    core::TimePoint last_join{};
  };
  Entry& entry(const std::string& address, core::TimePoint now);
  void release(const std::string& address);
  // Drops the entries that hold nothing (no connection, bucket full again).
  void sweep(core::TimePoint now);

  std::uint32_t max_connections_;
  std::uint32_t joins_per_second_;
  std::uint32_t join_burst_;
  core::Duration refill_time_;  // an empty bucket is full again after this
  std::unordered_map<std::string, Entry> entries_;
  std::size_t sweep_at_ = 1024;  // sweep when the table grows past this
};

}  // namespace switchboard::server
