#include "client/event_loop.hpp"

#include <condition_variable>
#include <mutex>

#include <boost/asio/post.hpp>

namespace switchboard::client {

EventLoop::EventLoop() : work_(boost::asio::make_work_guard(io_)) {
  thread_ = std::thread([this] { io_.run(); });
  thread_id_ = thread_.get_id();
}

EventLoop::~EventLoop() {
  work_.reset();
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

namespace {

struct SharedLoop {
  std::mutex mu;
  std::condition_variable stopped;
  EventLoop* loop = nullptr;
  std::size_t holders = 0;
  bool stopping = false;  // the last loop's thread is being joined: wait for it
};

SharedLoop& shared_loop() {
  static auto* state = new SharedLoop;  // never destroyed: CallClients may outlive statics
  return *state;
}

void release_shared(EventLoop* loop) {
  SharedLoop& state = shared_loop();
  {
    std::lock_guard lock(state.mu);
    if (--state.holders > 0) return;
    state.loop = nullptr;
    state.stopping = true;
  }
  delete loop;  // joins its thread
  std::lock_guard lock(state.mu);
  state.stopping = false;
  state.stopped.notify_all();
}

}  // namespace

std::shared_ptr<EventLoop> EventLoop::shared() {
  SharedLoop& state = shared_loop();
  std::unique_lock lock(state.mu);
  state.stopped.wait(lock, [&] { return !state.stopping; });
  if (state.loop == nullptr) state.loop = new EventLoop;
  ++state.holders;
  return std::shared_ptr<EventLoop>(state.loop, release_shared);
}

void EventLoop::post(std::function<void()> task) {
  boost::asio::post(io_, std::move(task));
}

}  // namespace switchboard::client
