#pragma once

// Runs a private GLib main context on an Asio io_context's thread, so libraries built on
// GLib (libnice) live inside the process's one event loop instead of a thread of their
// own. This is GLib's external-loop integration: prepare and query the context for the
// file descriptors and timeout it wants, wait for those with Asio, then check and
// dispatch. Docs: docs/architecture.md, "GLib on the Asio loop".
//
// Single-threaded: construct, use and destroy it on the thread that runs the
// io_context; GLib callbacks attached to context() run there, from inside io.run().

#include <memory>

#include <boost/asio/io_context.hpp>

// Forward-declared exactly as glib.h does, so users of this header need not include it.
// NOLINTNEXTLINE(modernize-use-using,bugprone-reserved-identifier)
typedef struct _GMainContext GMainContext;

namespace switchboard::webrtc {

class GlibLoopBridge {
 public:
  explicit GlibLoopBridge(boost::asio::io_context& io);
  // Stops waiting and releases the context. Sources still attached are not dispatched
  // again; their owners (a NiceAgent) must be gone first. Safe to call from inside a
  // callback the bridge is dispatching.
  ~GlibLoopBridge();
  GlibLoopBridge(const GlibLoopBridge&) = delete;
  GlibLoopBridge& operator=(const GlibLoopBridge&) = delete;

  // The context to attach sources to (pass it to nice_agent_new_full). Owned by the
  // bridge; take a reference (g_main_context_ref) to keep it longer.
  GMainContext* context() const noexcept;

 private:
  class Driver;
  std::shared_ptr<Driver> driver_;
};

}  // namespace switchboard::webrtc
