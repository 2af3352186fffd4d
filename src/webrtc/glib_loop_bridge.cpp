#include "webrtc/glib_loop_bridge.hpp"

#include <chrono>
#include <unordered_map>
#include <vector>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fcntl.h>
#include <glib.h>
#include <sys/stat.h>
#include <unistd.h>

namespace switchboard::webrtc {

namespace asio = boost::asio;

namespace {

// When a descriptor cannot be watched (out of fds), GLib is polled at this period
// instead, so it degrades to slow rather than stuck.
constexpr std::chrono::milliseconds kFallbackPoll{10};

}  // namespace

class GlibLoopBridge::Driver : public std::enable_shared_from_this<Driver> {
 public:
  explicit Driver(asio::io_context& io)
      : io_(io),
        // OWNERLESS_POLLING: between iterations nobody owns the context, so GLib must
        // signal its wakeup fd whenever a source is attached, even from this thread;
        // otherwise a timer added outside dispatch would wait for an unrelated wake.
        context_(g_main_context_new_with_flags(G_MAIN_CONTEXT_FLAGS_OWNERLESS_POLLING)),
        timer_(io) {}
  ~Driver() { g_main_context_unref(context_); }
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  GMainContext* context() const noexcept { return context_; }

  void start() { schedule(); }

  void stop() {
    stopped_ = true;
    boost::system::error_code ignored;
    timer_.cancel(ignored);
    for (auto& entry : watches_) close_watch(*entry.second);
    watches_.clear();
  }

 private:
  // One descriptor GLib wants polled. Asio watches a duplicate, never GLib's own number:
  // GLib may close its fd and the number be reused (even by another Asio socket) before
  // the next iteration, and our registration must never touch someone else's file.
  struct Watch {
    explicit Watch(asio::io_context& io) : descriptor(io) {}
    asio::posix::stream_descriptor descriptor;
    dev_t device = 0;
    ino_t inode = 0;
    bool seen = false;
    bool want_read = false;
    bool want_write = false;
    bool reading = false;  // an async_wait(read) is pending
    bool writing = false;
  };

  // Coalesces every wake (fds, timer, "ready now") into one iteration.
  void schedule() {
    if (scheduled_ || stopped_) return;
    scheduled_ = true;
    asio::post(io_, [weak = weak_from_this()] {
      if (const auto self = weak.lock()) self->iterate();
    });
  }

  void iterate() {
    scheduled_ = false;
    if (stopped_) return;
    if (iterating_) {
      // A dispatched callback ran the io_context recursively; finish the outer turn first.
      schedule();
      return;
    }
    // A dispatched callback may destroy the bridge; keep this object until we return.
    const auto keep_alive = shared_from_this();
    if (!g_main_context_acquire(context_)) {
      // Another thread iterates this context: a misuse, but do not spin on it.
      arm_timer(static_cast<gint>(kFallbackPoll.count()));
      return;
    }
    iterating_ = true;
    if (polled_) {
      polled_ = false;
      // The wake says only that something is ready; GLib wants every fd's revents.
      g_poll(fds_.data(), static_cast<guint>(fds_.size()), 0);
      g_main_context_check(context_, max_priority_, fds_.data(), static_cast<gint>(fds_.size()));
      g_main_context_dispatch(context_);
      if (stopped_) {
        iterating_ = false;
        g_main_context_release(context_);
        return;
      }
    }
    const bool ready = g_main_context_prepare(context_, &max_priority_) != FALSE;
    gint timeout = -1;
    for (;;) {
      const auto capacity = static_cast<gint>(fds_.size());
      const gint wanted =
          g_main_context_query(context_, max_priority_, &timeout, fds_.data(), capacity);
      fds_.resize(static_cast<std::size_t>(wanted));
      if (wanted <= capacity) break;
    }
    polled_ = true;
    iterating_ = false;
    g_main_context_release(context_);

    const bool degraded = !watch_descriptors();
    if (ready) timeout = 0;
    if (degraded && (timeout < 0 || timeout > kFallbackPoll.count())) {
      timeout = static_cast<gint>(kFallbackPoll.count());
    }
    arm_timer(timeout);
  }

  // Brings the Asio waits in line with fds_; false when some fd could not be watched.
  bool watch_descriptors() {
    bool complete = true;
    for (auto& entry : watches_) {
      entry.second->seen = false;
      entry.second->want_read = false;
      entry.second->want_write = false;
    }
    for (const GPollFD& poll_fd : fds_) {
      struct stat status {};
      const auto existing = watches_.find(poll_fd.fd);
      if (::fstat(poll_fd.fd, &status) != 0) {
        // GLib polls a closed fd: g_poll reports G_IO_NVAL for it, so GLib must look now.
        if (existing != watches_.end()) {
          close_watch(*existing->second);
          watches_.erase(existing);
        }
        schedule();
        continue;
      }
      std::shared_ptr<Watch> watch;
      if (existing != watches_.end()) {
        if (existing->second->device == status.st_dev && existing->second->inode == status.st_ino) {
          watch = existing->second;
        } else {
          // The number now names a different file: the old one was closed.
          close_watch(*existing->second);
          watches_.erase(existing);
        }
      }
      if (!watch) {
        watch = open_watch(poll_fd.fd, status);
        if (!watch) {
          complete = false;
          continue;
        }
        watches_.emplace(poll_fd.fd, watch);
      }
      watch->seen = true;
      if ((poll_fd.events & (G_IO_IN | G_IO_PRI)) != 0) watch->want_read = true;
      if ((poll_fd.events & G_IO_OUT) != 0) watch->want_write = true;
    }
    for (auto it = watches_.begin(); it != watches_.end();) {
      if (it->second->seen) {
        arm_waits(it->second);
        ++it;
      } else {
        close_watch(*it->second);
        it = watches_.erase(it);
      }
    }
    return complete;
  }

  std::shared_ptr<Watch> open_watch(int fd, const struct stat& status) {
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) return nullptr;
    auto watch = std::make_shared<Watch>(io_);
    boost::system::error_code error;
    watch->descriptor.assign(copy, error);
    if (error) {
      ::close(copy);
      return nullptr;
    }
    watch->device = status.st_dev;
    watch->inode = status.st_ino;
    return watch;
  }

  static void close_watch(Watch& watch) {
    boost::system::error_code ignored;
    watch.descriptor.cancel(ignored);
    watch.descriptor.close(ignored);  // our duplicate, never GLib's fd
  }

  // A wait left pending from an earlier iteration is still valid: it completes when the
  // fd becomes ready (asio re-arms epoll on async_wait, so readiness is never missed).
  // An unwanted one left pending only costs a spurious iteration.
  void arm_waits(const std::shared_ptr<Watch>& watch) {
    if (watch->want_read && !watch->reading) {
      watch->reading = true;
      watch->descriptor.async_wait(
          asio::posix::descriptor_base::wait_read,
          [weak = weak_from_this(), watch](const boost::system::error_code& error) {
            watch->reading = false;
            if (error == asio::error::operation_aborted) return;
            if (const auto self = weak.lock()) self->schedule();
          });
    }
    if (watch->want_write && !watch->writing) {
      watch->writing = true;
      watch->descriptor.async_wait(
          asio::posix::descriptor_base::wait_write,
          [weak = weak_from_this(), watch](const boost::system::error_code& error) {
            watch->writing = false;
            if (error == asio::error::operation_aborted) return;
            if (const auto self = weak.lock()) self->schedule();
          });
    }
  }

  void arm_timer(gint timeout_ms) {
    if (timeout_ms < 0) return;  // no deadline; a pending earlier one only wakes us early
    if (timeout_ms == 0) {
      schedule();
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    // Re-arming costs a timerfd syscall; a pending wait that fires no later is as good.
    if (timer_armed_ && timer_.expiry() <= deadline) return;
    timer_armed_ = true;
    timer_.expires_at(deadline);
    timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& error) {
      if (error == asio::error::operation_aborted) return;
      if (const auto self = weak.lock()) {
        self->timer_armed_ = false;
        self->schedule();
      }
    });
  }

  asio::io_context& io_;
  GMainContext* context_;
  asio::steady_timer timer_;
  bool timer_armed_ = false;
  std::vector<GPollFD> fds_;
  gint max_priority_ = 0;
  bool polled_ = false;  // fds_ holds the query that the next check() must be given
  bool scheduled_ = false;
  bool iterating_ = false;
  bool stopped_ = false;
  std::unordered_map<int, std::shared_ptr<Watch>> watches_;  // keyed by GLib's fd
};

GlibLoopBridge::GlibLoopBridge(asio::io_context& io) : driver_(std::make_shared<Driver>(io)) {
  driver_->start();
}

GlibLoopBridge::~GlibLoopBridge() {
  driver_->stop();
}

GMainContext* GlibLoopBridge::context() const noexcept {
  return driver_->context();
}

}  // namespace switchboard::webrtc
