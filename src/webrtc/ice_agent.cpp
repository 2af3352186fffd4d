#include "webrtc/ice_agent.hpp"

#include <charconv>
#include <cstring>
#include <deque>
#include <utility>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <glib-object.h>
#include <glib.h>
#include <netinet/in.h>
#include <nice/agent.h>
#include <sys/socket.h>

#include "webrtc/glib_loop_bridge.hpp"
#include "webrtc/socket_address.hpp"
#include "webrtc/udp_batch.hpp"

namespace switchboard::webrtc {

namespace asio = boost::asio;

namespace {

// One data stream, one component: DataChannels use a single bundled, rtcp-muxed UDP flow.
constexpr guint kComponent = 1;
constexpr std::uint16_t kDefaultStunPort = 3478;
// libnice's default too; bounds the pairs checked when both sides have many candidates.
constexpr guint kMaxConnectivityChecks = 100;
// Socket buffers of the selected pair's socket. The default (~208 KiB) overflows under a
// burst of SCTP packets, and every loss halves SCTP's congestion window. The kernel caps
// these at net.core.[rw]mem_max.
constexpr int kSocketBufferBytes = 4 * 1024 * 1024;

// Frees a g_malloc'd string on scope exit.
struct GCharDeleter {
  void operator()(gchar* p) const noexcept { g_free(p); }
};
using GCharPtr = std::unique_ptr<gchar, GCharDeleter>;

const char* type_name(NiceCandidateType type) {
  switch (type) {
    case NICE_CANDIDATE_TYPE_HOST:
      return "host";
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
      return "srflx";
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
      return "prflx";
    case NICE_CANDIDATE_TYPE_RELAYED:
      return "relay";
  }
  return "unknown";
}

std::string address_string(const NiceAddress& address) {
  char text[NICE_ADDRESS_STRING_LEN] = {};
  nice_address_to_string(&address, text);
  const std::string ip(text);
  const std::string port = std::to_string(nice_address_get_port(&address));
  if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + port;
  return ip + ":" + port;
}

// The address of a candidate as a plain value; nullopt for IPv6 link-local (a scope id we
// would lose) and anything that is not IP.
std::optional<SocketAddress> socket_address_of(const NiceAddress& address) {
  sockaddr_storage storage{};
  nice_address_copy_to_sockaddr(&address, reinterpret_cast<sockaddr*>(&storage));
  if (storage.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&storage);
    std::array<std::uint8_t, 4> ip{};
    std::memcpy(ip.data(), &sin->sin_addr, ip.size());
    return SocketAddress::v4(ip, ntohs(sin->sin_port));
  }
  if (storage.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    std::array<std::uint8_t, 16> ip{};
    std::memcpy(ip.data(), &sin6->sin6_addr, ip.size());
    if (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80) return std::nullopt;
    return SocketAddress::v6(ip, ntohs(sin6->sin6_port));
  }
  return std::nullopt;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

struct HostPort {
  std::string host;
  std::uint16_t port = kDefaultStunPort;
};

// "host", "host:port", "[v6]" or "[v6]:port", optionally prefixed "stun:".
std::optional<HostPort> parse_host_port(std::string_view text) {
  text = trim(text);
  if (text.starts_with("stun:")) text.remove_prefix(5);
  HostPort out;
  std::string_view port;
  if (text.starts_with("[")) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(text.substr(1, close - 1));
    const auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(":")) return std::nullopt;
      port = rest.substr(1);
    }
  } else {
    const auto colon = text.find(':');
    if (colon != text.rfind(':')) {
      out.host = std::string(text);  // a bare IPv6 literal
    } else {
      out.host = std::string(text.substr(0, colon));
      if (colon != std::string_view::npos) port = text.substr(colon + 1);
    }
  }
  if (!port.empty()) {
    unsigned value = 0;
    const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (error != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
      return std::nullopt;
    }
    out.port = static_cast<std::uint16_t>(value);
  }
  if (out.host.empty()) return std::nullopt;
  return out;
}

}  // namespace

class IceAgent::Impl {
 public:
  Impl(asio::io_context& io, bool controlling, IceServerConfig servers, Callbacks callbacks,
       const std::vector<std::string>& local_addresses)
      : io_(io),
        bridge_(std::make_unique<GlibLoopBridge>(io)),
        callbacks_(std::make_shared<const Callbacks>(std::move(callbacks))),
        servers_(std::move(servers)),
        resolver_(io) {
    // Regular nomination: the controlling agent checks pairs, then nominates ONE with a
    // second check carrying USE-CANDIDATE. Aggressive nomination would flag every check,
    // and an ICE-lite peer follows the latest flagged address while libnice keeps the
    // best-priority one, so the two could pick different paths. See docs/protocol.md, "ICE
    // on the client".
    //
    // No RFC 7675 consent freshness from libnice (NICE_AGENT_OPTION_CONSENT_FRESHNESS):
    // libnice 0.1.21 sends one Binding request every 4-6 s on the selected pair, never
    // again, and fails the pair when none was answered for 10 s. On a path that drops 40%
    // of packets a request and its answer both arrive 36% of the time, so that kills a
    // working path about every other 10 s. The direct path's liveness is its user's
    // instead: client::CallTransport hears a DTLS-authenticated acknowledgement from the
    // peer every second and stops sending 5 s after the last one, sooner than consent's
    // 30 s. libnice still answers the peer's checks (browsers run consent) and sends its
    // keepalives.
    agent_ = nice_agent_new_full(bridge_->context(), NICE_COMPATIBILITY_RFC5245,
                                 static_cast<NiceAgentOption>(NICE_AGENT_OPTION_REGULAR_NOMINATION |
                                                              NICE_AGENT_OPTION_ICE_TRICKLE));
    g_object_set(agent_, "controlling-mode", controlling ? TRUE : FALSE, "ice-tcp", FALSE,
                 "ice-udp", TRUE, "upnp", FALSE, "max-connectivity-checks", kMaxConnectivityChecks,
                 "force-relay", servers_.force_relay ? TRUE : FALSE, nullptr);
    for (const std::string& ip : local_addresses) {
      NiceAddress address;
      nice_address_init(&address);
      if (nice_address_set_from_string(&address, ip.c_str()) != FALSE) {
        nice_agent_add_local_address(agent_, &address);
      } else {
        bad_local_address_ = ip;
      }
    }
    stream_id_ = nice_agent_add_stream(agent_, kComponent);
    g_signal_connect(agent_, "new-candidate-full", G_CALLBACK(&Impl::on_new_candidate), this);
    g_signal_connect(agent_, "candidate-gathering-done", G_CALLBACK(&Impl::on_gathering_done),
                     this);
    g_signal_connect(agent_, "new-selected-pair-full", G_CALLBACK(&Impl::on_selected_pair), this);
    g_signal_connect(agent_, "component-state-changed", G_CALLBACK(&Impl::on_state_changed), this);
    nice_agent_attach_recv(agent_, stream_id_, kComponent, bridge_->context(), &Impl::on_receive,
                           this);
  }

  ~Impl() {
    alive_.reset();
    resolver_.cancel();
    // Nothing may reach us from here on, even if libnice outlives this object briefly
    // (a signal emission in progress holds its own reference).
    g_signal_handlers_disconnect_by_data(agent_, this);
    nice_agent_attach_recv(agent_, stream_id_, kComponent, bridge_->context(), nullptr, nullptr);
    g_object_unref(agent_);
    for (NiceCandidate* candidate : waiting_candidates_) nice_candidate_free(candidate);
    // bridge_ goes last: disposing the agent detaches its sources from the context.
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  std::string local_ufrag() const { return local_credentials().first; }
  std::string local_pwd() const { return local_credentials().second; }

  void set_remote_credentials(const std::string& ufrag, const std::string& pwd) {
    const ApiCall call(*this);
    nice_agent_set_remote_credentials(agent_, stream_id_, ufrag.c_str(), pwd.c_str());
    have_remote_credentials_ = true;
    // libnice would check candidates with an empty username; they waited for this.
    if (!waiting_candidates_.empty()) {
      GSList* list = nullptr;
      for (auto it = waiting_candidates_.rbegin(); it != waiting_candidates_.rend(); ++it) {
        list = g_slist_prepend(list, *it);
      }
      nice_agent_set_remote_candidates(agent_, stream_id_, kComponent, list);
      g_slist_free(list);
      for (NiceCandidate* candidate : waiting_candidates_) nice_candidate_free(candidate);
      waiting_candidates_.clear();
    }
    if (remote_gathering_done_) {
      nice_agent_peer_candidate_gathering_done(agent_, stream_id_);
    }
  }

  Result<void> add_remote_candidate(std::string_view text) {
    const ApiCall call(*this);
    text = trim(text);
    std::string sdp(text.starts_with("a=") ? "" : "a=");
    sdp.append(text);
    NiceCandidate* candidate =
        nice_agent_parse_remote_candidate_sdp(agent_, stream_id_, sdp.c_str());
    if (candidate == nullptr) {
      return Error{ErrorCode::InvalidArgument,
                   "not an ICE candidate (or a hostname/mDNS one, which is not supported): '" +
                       std::string(text) + "'"};
    }
    if (candidate->transport != NICE_CANDIDATE_TRANSPORT_UDP) {
      nice_candidate_free(candidate);  // ice-tcp is off: nothing to pair it with
      return {};
    }
    if (const guint component = candidate->component_id; component != kComponent) {
      nice_candidate_free(candidate);
      return Error{ErrorCode::InvalidArgument,
                   "candidate for component " + std::to_string(component) +
                       "; DataChannels use component 1 only: '" + std::string(text) + "'"};
    }
    if (!have_remote_credentials_) {
      waiting_candidates_.push_back(candidate);
      return {};
    }
    GSList list{candidate, nullptr};
    const int added = nice_agent_set_remote_candidates(agent_, stream_id_, kComponent, &list);
    nice_candidate_free(candidate);
    if (added < 0) {
      return Error{ErrorCode::Internal,
                   "libnice refused the candidate: '" + std::string(text) + "'"};
    }
    return {};
  }

  void remote_gathering_done() {
    const ApiCall call(*this);
    remote_gathering_done_ = true;
    if (have_remote_credentials_) nice_agent_peer_candidate_gathering_done(agent_, stream_id_);
  }

  void gather() {
    const ApiCall call(*this);
    if (gather_started_) return;
    gather_started_ = true;
    if (!bad_local_address_.empty()) {
      fail(Error{ErrorCode::InvalidArgument,
                 "local address '" + bad_local_address_ + "' is not an IP literal"});
      return;
    }
    for (const std::string& server : servers_.stun_servers) {
      if (auto parsed = parse_host_port(server)) stun_.push_back(std::move(*parsed));
    }
    for (const IceServerConfig::Turn& turn : servers_.turn_servers) {
      turn_.push_back(HostPort{turn.host, turn.port});
    }
    // Resolve names first: libnice takes only IP literals for STUN and TURN servers.
    for (std::size_t i = 0; i < stun_.size() + turn_.size(); ++i) {
      HostPort& server = i < stun_.size() ? stun_[i] : turn_[i - stun_.size()];
      boost::system::error_code error;
      asio::ip::make_address(server.host, error);
      if (!error) continue;
      ++resolving_;
      resolver_.async_resolve(server.host, std::to_string(server.port),
                              [this, i, alive = std::weak_ptr<bool>(alive_)](
                                  const boost::system::error_code& resolve_error,
                                  const asio::ip::udp::resolver::results_type& results) {
                                if (alive.expired()) return;
                                const ApiCall call(*this);
                                HostPort& target =
                                    i < stun_.size() ? stun_[i] : turn_[i - stun_.size()];
                                target.host = pick_address(resolve_error, results);
                                if (--resolving_ == 0) start_gathering();
                              });
    }
    if (resolving_ == 0) start_gathering();
  }

  Result<void> send(ByteView datagram) {
    if (!connected_) {
      return Error{ErrorCode::NotConnected,
                   failed_ ? "ICE failed; create a new connection"
                           : "ICE has not selected a candidate pair yet; wait for connected"};
    }
    if (direct_to_) {
      // Queued for one write at the end of this turn of the loop (see flush_direct), or
      // sooner when a GSO write's worth is waiting: a turn that takes in a long backlog
      // would otherwise hold its acknowledgements (SCTP SACKs) until the backlog is done,
      // and the peer's window would stall meanwhile.
      batch_.add(*direct_to_, datagram);
      if (batch_.size() >= kFlushEarly) {
        flush_direct();
        return {};
      }
      if (!flush_posted_) {
        flush_posted_ = true;
        asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_)] {
          if (!alive.expired()) flush_direct();
        });
      }
      return {};
    }
    const ApiCall call(*this);
    GOutputVector buffer{datagram.data(), datagram.size()};
    NiceOutputMessage message{&buffer, 1};
    GError* error = nullptr;
    const gint sent = nice_agent_send_messages_nonblocking(agent_, stream_id_, kComponent, &message,
                                                           1, nullptr, &error);
    if (sent == 1) return {};
    if (sent == 0) {
      return Error{ErrorCode::BufferFull, "UDP send buffer full; datagram dropped, retry later"};
    }
    Error result{ErrorCode::Internal, "ICE send failed"};
    if (error != nullptr) {
      if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) != FALSE) {
        result =
            Error{ErrorCode::BufferFull, "UDP send buffer full; datagram dropped, retry later"};
      } else if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE) != FALSE) {
        result = Error{ErrorCode::NotConnected, std::string("ICE send failed: ") + error->message};
      } else {
        result.message += std::string(": ") + error->message;
      }
      g_error_free(error);
    }
    return result;
  }

  std::optional<std::string> selected_pair() const {
    NiceCandidate* local = nullptr;
    NiceCandidate* remote = nullptr;
    if (nice_agent_get_selected_pair(agent_, stream_id_, kComponent, &local, &remote) == FALSE ||
        local == nullptr || remote == nullptr) {
      return std::nullopt;
    }
    std::string types = type_name(local->type);
    if (local->type != remote->type) types += std::string("/") + type_name(remote->type);
    return address_string(local->addr) + " -> " + address_string(remote->addr) + " (" + types + ")";
  }

 private:
  // Marks a call into libnice from outside GLib dispatch: events it raises synchronously
  // are queued and delivered after the call, so a user callback never runs inside one of
  // our methods (where it might destroy us mid-call).
  class ApiCall {
   public:
    explicit ApiCall(Impl& impl) : impl_(impl) { ++impl_.api_depth_; }
    ~ApiCall() { --impl_.api_depth_; }
    ApiCall(const ApiCall&) = delete;
    ApiCall& operator=(const ApiCall&) = delete;

   private:
    Impl& impl_;
  };

  using Event = std::function<void(const Callbacks&)>;

  // Runs `event` now when that is safe and in order, else after what is queued.
  void deliver(Event event) {
    if (api_depth_ == 0 && queued_.empty()) {
      const auto callbacks = callbacks_;  // survives the callback destroying us
      event(*callbacks);
      return;
    }
    queued_.push_back(std::move(event));
    if (queued_.size() == 1) {
      asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_)] {
        if (!alive.expired()) drain();
      });
    }
  }

  void drain() {
    const std::weak_ptr<bool> alive = alive_;
    const auto callbacks = callbacks_;
    while (!queued_.empty() && api_depth_ == 0) {
      Event event = std::move(queued_.front());
      queued_.pop_front();
      event(*callbacks);
      if (alive.expired()) return;
    }
    if (!queued_.empty()) {
      asio::post(io_, [this, alive] {
        if (!alive.expired()) drain();
      });
    }
  }

  void fail(Error error) {
    if (failed_) return;
    failed_ = true;
    connected_ = false;
    direct_to_.reset();
    deliver([error = std::move(error)](const Callbacks& c) {
      if (c.failed) c.failed(error);
    });
  }

  std::pair<std::string, std::string> local_credentials() const {
    gchar* ufrag = nullptr;
    gchar* pwd = nullptr;
    nice_agent_get_local_credentials(agent_, stream_id_, &ufrag, &pwd);
    const GCharPtr ufrag_owner(ufrag);
    const GCharPtr pwd_owner(pwd);
    return {ufrag != nullptr ? ufrag : "", pwd != nullptr ? pwd : ""};
  }

  // An IPv4 result when there is one: host candidates are usually IPv4. Empty when the
  // name did not resolve; that server is then skipped.
  static std::string pick_address(const boost::system::error_code& error,
                                  const asio::ip::udp::resolver::results_type& results) {
    if (error) return {};
    std::string fallback;
    for (const auto& entry : results) {
      const auto address = entry.endpoint().address();
      if (address.is_v4()) return address.to_string();
      if (fallback.empty()) fallback = address.to_string();
    }
    return fallback;
  }

  void start_gathering() {
    for (const HostPort& stun : stun_) {
      if (stun.host.empty()) continue;
      g_object_set(agent_, "stun-server", stun.host.c_str(), "stun-server-port",
                   static_cast<guint>(stun.port), nullptr);
      break;  // libnice queries a single STUN server
    }
    for (std::size_t i = 0; i < turn_.size(); ++i) {
      if (turn_[i].host.empty()) continue;
      const IceServerConfig::Turn& turn = servers_.turn_servers[i];
      nice_agent_set_relay_info(agent_, stream_id_, kComponent, turn_[i].host.c_str(),
                                turn_[i].port, turn.username.c_str(), turn.password.c_str(),
                                NICE_RELAY_TYPE_TURN_UDP);
    }
    if (nice_agent_gather_candidates(agent_, stream_id_) == FALSE) {
      fail(Error{ErrorCode::Internal,
                 "could not open a UDP socket on any local address; check local_addresses"});
    }
  }

  // Datagrams to a directly reachable peer (our side of the pair is a host socket, not a
  // TURN allocation) skip libnice: everything one turn of the loop produced goes out in as
  // few writes as UDP GSO allows, on the selected pair's own socket, so the peer sees the
  // same address as its checks. libnice sends one datagram per system call, which caps
  // SCTP's throughput. A full socket buffer drops what did not fit, as the network would;
  // DTLS and SCTP resend. Relayed pairs keep libnice's path (TURN framing).
  void flush_direct() {
    flush_posted_ = false;
    if (batch_.empty()) return;
    GSocket* socket = nice_agent_get_selected_socket(agent_, stream_id_, kComponent);
    batch_.flush(socket != nullptr ? g_socket_get_fd(socket) : -1);
    if (socket != nullptr) g_object_unref(socket);
  }

  // The selected pair (again): where the direct path sends, and its socket's buffers.
  void use_selected_pair(const NiceCandidate* local, const NiceCandidate* remote) {
    if (local == nullptr || remote == nullptr || local->type == NICE_CANDIDATE_TYPE_RELAYED ||
        local->transport != NICE_CANDIDATE_TRANSPORT_UDP) {
      direct_to_.reset();
    } else {
      direct_to_ = socket_address_of(remote->addr);
    }
    size_selected_socket();
  }

  void size_selected_socket() {
    GSocket* socket = nice_agent_get_selected_socket(agent_, stream_id_, kComponent);
    if (socket == nullptr) return;
    const int fd = g_socket_get_fd(socket);
    for (const int option : {SO_RCVBUF, SO_SNDBUF}) {
      (void)::setsockopt(fd, SOL_SOCKET, option, &kSocketBufferBytes, sizeof(kSocketBufferBytes));
    }
    g_object_unref(socket);
  }

  // libnice signal handlers. They run inside GLib dispatch, on the io_context's thread,
  // and touch nothing after delivering: the callback may have destroyed us.

  static void on_new_candidate(NiceAgent* agent, NiceCandidate* candidate, gpointer data) {
    auto* self = static_cast<Impl*>(data);
    const GCharPtr sdp(nice_agent_generate_local_candidate_sdp(agent, candidate));
    if (!sdp) return;
    std::string_view text(sdp.get());
    if (text.starts_with("a=")) text.remove_prefix(2);
    self->deliver([line = std::string(text)](const Callbacks& c) {
      if (c.local_candidate) c.local_candidate(line);
    });
  }

  static void on_gathering_done(NiceAgent* /*agent*/, guint /*stream_id*/, gpointer data) {
    static_cast<Impl*>(data)->deliver([](const Callbacks& c) {
      if (c.gathering_done) c.gathering_done();
    });
  }

  static void on_selected_pair(NiceAgent* /*agent*/, guint /*stream_id*/, guint /*component*/,
                               NiceCandidate* local, NiceCandidate* remote, gpointer data) {
    auto* self = static_cast<Impl*>(data);
    if (!self->failed_) self->use_selected_pair(local, remote);
    if (self->connected_ || self->failed_) return;  // a later pair: same connection
    self->connected_ = true;
    self->deliver([](const Callbacks& c) {
      if (c.connected) c.connected();
    });
  }

  static void on_state_changed(NiceAgent* /*agent*/, guint /*stream_id*/, guint /*component*/,
                               guint state, gpointer data) {
    if (state != NICE_COMPONENT_STATE_FAILED) return;
    auto* self = static_cast<Impl*>(data);
    self->fail(Error{ErrorCode::NotConnected,
                     self->connected_ ? "ICE connection lost: the peer stopped answering checks"
                                      : "ICE failed: no candidate pair worked"});
  }

  static void on_receive(NiceAgent* /*agent*/, guint /*stream_id*/, guint /*component*/,
                         guint length, gchar* buffer, gpointer data) {
    auto* self = static_cast<Impl*>(data);
    const ByteView datagram(reinterpret_cast<const std::uint8_t*>(buffer), length);
    if (self->api_depth_ == 0 && self->queued_.empty()) {
      // The hot path: libnice's buffer goes straight to the callback, no copy.
      const auto callbacks = self->callbacks_;
      if (callbacks->datagram) callbacks->datagram(datagram);
      return;
    }
    self->deliver([copy = Bytes(datagram.begin(), datagram.end())](const Callbacks& c) {
      if (c.datagram) c.datagram(copy);
    });
  }

  asio::io_context& io_;
  std::unique_ptr<GlibLoopBridge> bridge_;
  std::shared_ptr<const Callbacks> callbacks_;
  IceServerConfig servers_;
  asio::ip::udp::resolver resolver_;
  NiceAgent* agent_ = nullptr;
  guint stream_id_ = 0;
  std::string bad_local_address_;

  std::vector<HostPort> stun_;
  std::vector<HostPort> turn_;  // resolved addresses of servers_.turn_servers, same order
  int resolving_ = 0;
  bool gather_started_ = false;

  bool have_remote_credentials_ = false;
  bool remote_gathering_done_ = false;
  std::vector<NiceCandidate*> waiting_candidates_;

  bool connected_ = false;
  bool failed_ = false;

  // The direct path (flush_direct): set while the selected pair's local side is a host
  // socket.
  std::optional<SocketAddress> direct_to_;
  DatagramBatch batch_;
  bool flush_posted_ = false;

  int api_depth_ = 0;
  std::deque<Event> queued_;
  // Expires when we are destroyed: posted work checks it before touching `this`.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

IceAgent::IceAgent(asio::io_context& io, bool controlling, IceServerConfig servers,
                   Callbacks callbacks, const std::vector<std::string>& local_addresses)
    : impl_(std::make_unique<Impl>(io, controlling, std::move(servers), std::move(callbacks),
                                   local_addresses)) {}

IceAgent::~IceAgent() = default;

std::string IceAgent::local_ufrag() const {
  return impl_->local_ufrag();
}
std::string IceAgent::local_pwd() const {
  return impl_->local_pwd();
}

void IceAgent::set_remote_credentials(const std::string& ufrag, const std::string& pwd) {
  impl_->set_remote_credentials(ufrag, pwd);
}

Result<void> IceAgent::add_remote_candidate(std::string_view candidate) {
  return impl_->add_remote_candidate(candidate);
}

void IceAgent::remote_gathering_done() {
  impl_->remote_gathering_done();
}

void IceAgent::gather() {
  impl_->gather();
}

Result<void> IceAgent::send(ByteView datagram) {
  return impl_->send(datagram);
}

std::optional<std::string> IceAgent::selected_pair() const {
  return impl_->selected_pair();
}

}  // namespace switchboard::webrtc
