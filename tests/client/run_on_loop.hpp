#pragma once

// Running test code on the SDK's event thread, where the calls and the server live.

#include <future>

#include <gtest/gtest.h>

#include "client/event_loop.hpp"
#include "inbox.hpp"

namespace switchboard::testing {

// Runs `fn` on `loop`'s thread and waits for it (kWait at the most).
template <typename Fn>
void run_on_loop(client::EventLoop& loop, Fn fn) {
  std::promise<void> done;
  loop.post([&] {
    fn();
    done.set_value();
  });
  ASSERT_EQ(done.get_future().wait_for(kWait), std::future_status::ready);
}

}  // namespace switchboard::testing
