#include "webrtc/glib_loop_bridge.hpp"

#include <chrono>
#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <glib-unix.h>
#include <glib.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

namespace switchboard::webrtc {
namespace {

using namespace std::chrono_literals;

// Runs the io_context (and nothing else) until `done` or a generous deadline.
bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
               std::chrono::steady_clock::duration limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(10ms);
    if (io.stopped()) io.restart();
  }
  return done();
}

// Attaches `source` to `context` with a callback that bumps `*count` and returns `result`.
guint attach_counting(GSource* source, GMainContext* context, int* count,
                      gboolean result = G_SOURCE_REMOVE) {
  static gboolean (*const keep)(gpointer) = +[](gpointer data) -> gboolean {
    ++*static_cast<int*>(data);
    return G_SOURCE_CONTINUE;
  };
  static gboolean (*const once)(gpointer) = +[](gpointer data) -> gboolean {
    ++*static_cast<int*>(data);
    return G_SOURCE_REMOVE;
  };
  g_source_set_callback(source, result == G_SOURCE_CONTINUE ? keep : once, count, nullptr);
  const guint id = g_source_attach(source, context);
  g_source_unref(source);
  return id;
}

TEST(GlibLoopBridge, DispatchesTimeoutAndIdleSourcesFromTheAsioLoop) {
  boost::asio::io_context io;
  GlibLoopBridge bridge(io);
  int timeouts = 0;
  int idles = 0;
  attach_counting(g_timeout_source_new(20), bridge.context(), &timeouts);
  attach_counting(g_idle_source_new(), bridge.context(), &idles);

  ASSERT_TRUE(run_until(io, [&] { return timeouts == 1 && idles == 1; }))
      << "timeouts=" << timeouts << " idles=" << idles;
  // Both were one-shot: running on dispatches them no more.
  io.run_for(50ms);
  EXPECT_EQ(timeouts, 1);
  EXPECT_EQ(idles, 1);
}

TEST(GlibLoopBridge, RepeatingTimeoutKeepsFiring) {
  boost::asio::io_context io;
  GlibLoopBridge bridge(io);
  int ticks = 0;
  attach_counting(g_timeout_source_new(5), bridge.context(), &ticks, G_SOURCE_CONTINUE);
  EXPECT_TRUE(run_until(io, [&] { return ticks >= 5; })) << "ticks=" << ticks;
}

TEST(GlibLoopBridge, DispatchesAFdSourceWhenItsSocketBecomesReadable) {
  boost::asio::io_context io;
  GlibLoopBridge bridge(io);
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, fds), 0);
  struct Reader {
    int fd = -1;
    int reads = 0;
  } reader{fds[0]};
  GSource* source = g_unix_fd_source_new(fds[0], G_IO_IN);
  g_source_set_callback(
      source, reinterpret_cast<GSourceFunc>(+[](gint fd, GIOCondition, gpointer data) -> gboolean {
        char byte = 0;
        while (::read(fd, &byte, 1) == 1) ++static_cast<Reader*>(data)->reads;
        return G_SOURCE_CONTINUE;
      }),
      &reader, nullptr);
  g_source_attach(source, bridge.context());

  // Let the bridge settle into waiting, then write from an Asio handler.
  io.run_for(20ms);
  EXPECT_EQ(reader.reads, 0);
  boost::asio::post(io, [&] { ASSERT_EQ(::write(fds[1], "x", 1), 1); });
  EXPECT_TRUE(run_until(io, [&] { return reader.reads == 1; }));
  ASSERT_EQ(::write(fds[1], "y", 1), 1);
  EXPECT_TRUE(run_until(io, [&] { return reader.reads == 2; }));

  g_source_destroy(source);
  g_source_unref(source);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(GlibLoopBridge, SourceAttachedWhileIdleWakesTheLoop) {
  // Nothing else would wake the bridge: only GLib's wakeup fd can tell it about a source
  // attached from an Asio handler while it waits with no timeout.
  boost::asio::io_context io;
  GlibLoopBridge bridge(io);
  int fired = 0;
  io.run_for(20ms);
  boost::asio::steady_timer later(io, 10ms);
  later.async_wait([&](const boost::system::error_code&) {
    attach_counting(g_timeout_source_new(1), bridge.context(), &fired);
  });
  EXPECT_TRUE(run_until(io, [&] { return fired == 1; }));
}

TEST(GlibLoopBridge, FdClosedAndNumberReusedByANewSourceIsStillWatched) {
  boost::asio::io_context io;
  GlibLoopBridge bridge(io);
  int first[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, first), 0);
  int reads = 0;
  auto on_readable = +[](gint fd, GIOCondition, gpointer data) -> gboolean {
    char byte = 0;
    while (::read(fd, &byte, 1) == 1) ++*static_cast<int*>(data);
    return G_SOURCE_CONTINUE;
  };
  GSource* old_source = g_unix_fd_source_new(first[0], G_IO_IN);
  g_source_set_callback(old_source, reinterpret_cast<GSourceFunc>(on_readable), &reads, nullptr);
  g_source_attach(old_source, bridge.context());
  io.run_for(20ms);

  // Swap the source for one on a new socket that gets the same fd number, all between
  // two iterations, as libnice could when it replaces a socket.
  const int reused_number = first[0];
  g_source_destroy(old_source);
  g_source_unref(old_source);
  ::close(first[0]);
  ::close(first[1]);
  int second[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, second), 0);
  ASSERT_EQ(second[0], reused_number) << "test premise: the kernel reuses the lowest fd";
  GSource* new_source = g_unix_fd_source_new(second[0], G_IO_IN);
  g_source_set_callback(new_source, reinterpret_cast<GSourceFunc>(on_readable), &reads, nullptr);
  g_source_attach(new_source, bridge.context());
  io.run_for(20ms);

  ASSERT_EQ(::write(second[1], "z", 1), 1);
  EXPECT_TRUE(run_until(io, [&] { return reads == 1; }));

  g_source_destroy(new_source);
  g_source_unref(new_source);
  ::close(second[0]);
  ::close(second[1]);
}

TEST(GlibLoopBridge, DestroyingTheBridgeFromItsOwnCallbackIsSafe) {
  boost::asio::io_context io;
  struct State {
    std::unique_ptr<GlibLoopBridge> bridge;
    int calls = 0;
  } state{std::make_unique<GlibLoopBridge>(io)};
  GSource* source = g_timeout_source_new(1);
  g_source_set_callback(
      source,
      +[](gpointer data) -> gboolean {
        auto* s = static_cast<State*>(data);
        ++s->calls;
        s->bridge.reset();
        return G_SOURCE_CONTINUE;
      },
      &state, nullptr);
  g_source_attach(source, state.bridge->context());
  ASSERT_TRUE(run_until(io, [&] { return state.bridge == nullptr; }));
  // The source is still attached to the (now unreferenced by the bridge) context and
  // wanted to run again; nothing dispatches it any more.
  io.run_for(30ms);
  EXPECT_EQ(state.calls, 1);
  g_source_destroy(source);
  g_source_unref(source);
}

TEST(GlibLoopBridge, DestroyedBridgeLeavesNoWorkInTheIoContext) {
  boost::asio::io_context io;
  int fired = 0;
  {
    GlibLoopBridge bridge(io);
    attach_counting(g_timeout_source_new(10'000), bridge.context(), &fired);
    io.run_for(20ms);
  }
  // Every pending wait was cancelled, so the io_context runs out of work instead of
  // waiting for the 10 s timeout.
  io.restart();
  io.run_for(5s);
  EXPECT_TRUE(io.stopped());
  EXPECT_EQ(fired, 0);
}

}  // namespace
}  // namespace switchboard::webrtc
