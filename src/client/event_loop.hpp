#pragma once

// The SDK's one event thread: an io_context run by a thread of its own. Every network
// operation and every user callback of a CallClient runs here (docs/architecture.md,
// "The SDK").
//
// usrsctp keeps process-wide state and runs without threads of its own, so every SCTP
// association of a process must be driven from one thread: all CallClients of a process
// share one loop (shared()), and a test that runs a server in-process runs it there too.

#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace switchboard::client {

class EventLoop {
 public:
  // The process's loop, started by the first caller and stopped when the last holder lets
  // go. Never let go of the last reference on the loop's own thread.
  static std::shared_ptr<EventLoop> shared();

  // Starts the thread. Only for loops that never touch usrsctp (tests); else shared().
  EventLoop();
  // Stops the thread; handlers still queued are destroyed without running.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  boost::asio::io_context& io() { return io_; }
  // Runs `task` on the event thread, later.
  void post(std::function<void()> task);
  // True on the event thread itself.
  bool in_loop_thread() const { return std::this_thread::get_id() == thread_id_; }

 private:
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::thread::id thread_id_;
};

}  // namespace switchboard::client
