#include "webrtc/sctp_transport.hpp"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <variant>

#include <arpa/inet.h>
#include <usrsctp.h>

#include "webrtc/dcep.hpp"

// Why upcalls + usrsctp_recvv rather than usrsctp's receive_cb: receive_cb runs in the middle
// of usrsctp_conninput, with the association half-way through a packet. Owner callbacks run
// there would re-enter usrsctp (a reply, the DCEP ACK, a close) from inside it. With upcalls,
// usrsctp only sets a flag; we read after it has returned, so every callback except
// send_packet runs with usrsctp idle, and any SctpTransport call is safe from it.

namespace switchboard::webrtc {
namespace {

constexpr std::size_t kKiB = 1024;

// usrsctp implements this read-only option (netinet/sctp.h: the bytes queued in the
// association, sent or not, until acknowledged) but its public header leaves it out.
constexpr int kSctpGetSndbufUse = 0x00001101;
struct SctpSockstat {
  sctp_assoc_t ss_assoc_id;
  std::uint32_t ss_total_sndbuf;
  std::uint32_t ss_total_recv_buf;
};

// One recvv takes a whole default-sized message, so those are delivered without a copy.
constexpr std::size_t kReadBufferSize = 256 * kKiB;
// Notifications we subscribe to are a few dozen bytes; anything longer is not ours.
constexpr std::size_t kMaxNotificationSize = 64 * kKiB;
// A stream reset the peer refuses is retried this often, then the channel counts as closed.
constexpr int kMaxResetAttempts = 3;

// RFC 9260 suggests RTO.Min 1 s; that stalls a lossy interactive channel for a second per
// tail loss. 300 ms stays above the peer's 200 ms delayed SACK, so SACKs don't look lost.
constexpr std::uint32_t kRtoInitialMs = 1000;
constexpr std::uint32_t kRtoMinMs = 300;
// Backoff capped at 3 s, not RFC 9260's 60 s: on a lossy path a lost retransmission
// (and its lost SACK) otherwise doubles the stall again and again, and real-time data
// would wait tens of seconds for a path that is in fact working.
constexpr std::uint32_t kRtoMaxMs = 3000;
// We acknowledge within 20 ms instead of the default 200 ms, so a sender recovers from
// loss faster; every second packet is still acknowledged at once.
constexpr std::uint32_t kSackDelayMs = 20;
// Consecutive retransmission timeouts before usrsctp gives up: the only path goes inactive
// after Path.Max.Retrans (and waits for a heartbeat before carrying data again), the
// association aborts after Association.Max.Retrans. RFC 9260's 5 and 10 come to a few
// seconds on a path that drops 40% at random (with RTO.Max 3 s: 5 timeouts take ~7 s)
// and stall or kill a call that is still getting most packets through. A dead peer is ICE
// consent's to find (30 s, RFC 7675), and a dead server the signaling's, so 30 here: a
// path is declared dead only after about a minute and a half of nothing but timeouts.
constexpr std::uint16_t kMaxRetransmissions = 30;

// Process-wide: usrsctp hands us its `addr` (our id) and we look the transport up here, so a
// callback for a destroyed transport finds nothing and is dropped.
struct Registry {
  std::unordered_map<std::uintptr_t, SctpTransport*> live;
  std::vector<std::uintptr_t> pending;  // signalled by an upcall since the last timer tick
  std::uintptr_t next_id = 1;
};

Registry& registry() {
  static auto* r = new Registry;  // never destroyed: usrsctp outlives static destructors
  return *r;
}

Error os_error(const char* what) {
  return Error{ErrorCode::Internal, std::string("usrsctp ") + what + ": " + std::strerror(errno)};
}

sockaddr_conn conn_address(void* addr, std::uint16_t port) {
  sockaddr_conn sconn{};
  sconn.sconn_family = AF_CONN;
  sconn.sconn_port = htons(port);
  sconn.sconn_addr = addr;
  return sconn;
}

bool would_block(int error) {
  return error == EWOULDBLOCK || error == EAGAIN;
}

DcepChannelType channel_type(const ChannelParams& p) {
  auto type = static_cast<std::uint8_t>(DcepChannelType::Reliable);
  if (p.reliability == SctpReliability::MaxRetransmits) {
    type = static_cast<std::uint8_t>(DcepChannelType::PartialReliableRexmit);
  } else if (p.reliability == SctpReliability::MaxLifetime) {
    type = static_cast<std::uint8_t>(DcepChannelType::PartialReliableTimed);
  }
  if (!p.ordered) type |= 0x80;
  return static_cast<DcepChannelType>(type);
}

ChannelParams params_from(const DataChannelOpen& open, std::uint16_t stream) {
  ChannelParams p;
  p.label = open.label;
  p.protocol = open.protocol;
  p.ordered = open.ordered();
  switch (static_cast<std::uint8_t>(open.channel_type) & 0x7f) {
    case 0x01:
      p.reliability = SctpReliability::MaxRetransmits;
      break;
    case 0x02:
      p.reliability = SctpReliability::MaxLifetime;
      break;
    default:
      p.reliability = SctpReliability::Reliable;
      break;
  }
  p.reliability_value = open.reliability_parameter;
  p.priority = open.priority;
  p.stream = stream;
  return p;
}

bool is_user_ppid(std::uint32_t ppid) {
  return ppid == ppid::kString || ppid == ppid::kBinary || ppid == ppid::kStringEmpty ||
         ppid == ppid::kBinaryEmpty;
}

// Notifications are read into byte buffers; copy the fixed part out rather than cast.
template <typename T>
bool read_struct(ByteView bytes, T& out) {
  if (bytes.size() < sizeof(T)) return false;
  std::memcpy(&out, bytes.data(), sizeof(T));
  return true;
}

}  // namespace

struct SctpTransport::Usrsctp {
  static SctpTransport* find(void* addr) {
    auto& live = registry().live;
    auto it = live.find(reinterpret_cast<std::uintptr_t>(addr));
    return it == live.end() ? nullptr : it->second;
  }

  static int conn_output(void* addr, void* buffer, std::size_t length, std::uint8_t /*tos*/,
                         std::uint8_t /*set_df*/) {
    SctpTransport* t = find(addr);
    if (t != nullptr && t->callbacks_.send_packet) {
      t->callbacks_.send_packet(ByteView(static_cast<const std::uint8_t*>(buffer), length));
    }
    return 0;  // a packet for a gone transport is simply lost, as on a wire
  }

  // Runs inside usrsctp: only note that the socket wants attention.
  static void upcall(struct socket* /*sock*/, void* arg, int /*flags*/) {
    SctpTransport* t = find(arg);
    if (t == nullptr || t->pending_) return;
    t->pending_ = true;
    registry().pending.push_back(t->id_);
  }

  static void init() {
    static const bool initialised = [] {
      // No threads: the owner's event loop drives usrsctp through handle_timers().
      usrsctp_init_nothreads(0, &conn_output, nullptr);
      // DTLS does not carry ECN bits, and WebRTC peers (Chromium's dcsctp) implement
      // neither AUTH nor ASCONF, which exist for multi-homing we don't have.
      usrsctp_sysctl_set_sctp_ecn_enable(0);
      usrsctp_sysctl_set_sctp_asconf_enable(0);
      usrsctp_sysctl_set_sctp_auth_enable(0);
      usrsctp_sysctl_set_sctp_pr_enable(1);        // partial reliability (RFC 3758)
      usrsctp_sysctl_set_sctp_reconfig_enable(1);  // stream reset (RFC 6525) closes channels
      // The default of 512 chunks caps what is in flight far below an 8 MiB buffer (about
      // 600 KB of full chunks, or 512 small messages), and receivers drop chunks beyond it
      // while reordering after a loss.
      usrsctp_sysctl_set_sctp_max_chunks_on_queue(16384);
      return true;
    }();
    (void)initialised;
  }

  static std::uint8_t* read_buffer() {
    static auto* buffer = new std::uint8_t[kReadBufferSize];  // one thread: one buffer
    return buffer;
  }
};

SctpTransport::SctpTransport(Config config, Callbacks callbacks)
    : config_(config), callbacks_(std::move(callbacks)) {
  Usrsctp::init();
  auto& reg = registry();
  id_ = reg.next_id++;
  reg.live.emplace(id_, this);
  usrsctp_register_address(address());
  if (auto setup = setup_socket(); !setup) setup_error_ = std::move(setup).error();
}

SctpTransport::~SctpTransport() {
  // Leave the registry first: whatever usrsctp still emits for us (the ABORT below, timers
  // of the dying association) then finds no transport and is dropped.
  registry().live.erase(id_);
  if (socket_ != nullptr) usrsctp_close(socket_);  // SO_LINGER 0: abort at once
  usrsctp_deregister_address(address());
}

Result<void> SctpTransport::setup_socket() {
  socket_ = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, nullptr, nullptr, 0, nullptr);
  if (socket_ == nullptr) return os_error("socket");
  if (usrsctp_set_upcall(socket_, &Usrsctp::upcall, address()) != 0) return os_error("upcall");
  if (usrsctp_set_non_blocking(socket_, 1) != 0) return os_error("non-blocking");

  const char* failed_option = nullptr;
  auto set = [&](int level, int name, const auto& value, const char* what) {
    if (failed_option == nullptr &&
        usrsctp_setsockopt(socket_, level, name, &value, sizeof(value)) != 0) {
      failed_option = what;
    }
  };

  const linger abort_on_close{1, 0};
  set(SOL_SOCKET, SO_LINGER, abort_on_close, "SO_LINGER");
  const int send_buffer = static_cast<int>(config_.send_buffer);
  const int receive_buffer = static_cast<int>(config_.receive_buffer);
  set(SOL_SOCKET, SO_SNDBUF, send_buffer, "SO_SNDBUF");
  set(SOL_SOCKET, SO_RCVBUF, receive_buffer, "SO_RCVBUF");

  // Partial delivery hands out the head of a message before its tail has arrived. usrsctp
  // 0.9.5 mishandles it when PR-SCTP then abandons the tail on an ordered stream (the stream
  // stalls), and messages we accept fit in the buffer anyway: only a message larger than
  // half the receive buffer is delivered in parts.
  const auto delivery_point = static_cast<std::uint32_t>(config_.receive_buffer);
  set(IPPROTO_SCTP, SCTP_PARTIAL_DELIVERY_POINT, delivery_point, "SCTP_PARTIAL_DELIVERY_POINT");

  const int on = 1;
  set(IPPROTO_SCTP, SCTP_NODELAY, on, "SCTP_NODELAY");          // messages are latency-sensitive
  set(IPPROTO_SCTP, SCTP_RECVRCVINFO, on, "SCTP_RECVRCVINFO");  // stream and PPID per read

  const sctp_assoc_value reset{SCTP_FUTURE_ASSOC, SCTP_ENABLE_RESET_STREAM_REQ};
  set(IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, reset, "SCTP_ENABLE_STREAM_RESET");

  for (int type : {SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT, SCTP_PARTIAL_DELIVERY_EVENT}) {
    sctp_event event{};
    event.se_assoc_id = SCTP_FUTURE_ASSOC;
    event.se_type = static_cast<std::uint16_t>(type);
    event.se_on = 1;
    set(IPPROTO_SCTP, SCTP_EVENT, event, "SCTP_EVENT");
  }

  sctp_initmsg init{};
  init.sinit_num_ostreams = kSctpMaxStreams;
  init.sinit_max_instreams = kSctpMaxStreams;
  init.sinit_max_init_timeo = static_cast<std::uint16_t>(kRtoMaxMs);
  set(IPPROTO_SCTP, SCTP_INITMSG, init, "SCTP_INITMSG");

  sctp_rtoinfo rto{};
  rto.srto_assoc_id = SCTP_FUTURE_ASSOC;
  rto.srto_initial = kRtoInitialMs;
  rto.srto_max = kRtoMaxMs;
  rto.srto_min = kRtoMinMs;
  set(IPPROTO_SCTP, SCTP_RTOINFO, rto, "SCTP_RTOINFO");

  sctp_sack_info sack{};
  sack.sack_assoc_id = SCTP_FUTURE_ASSOC;
  sack.sack_delay = kSackDelayMs;
  sack.sack_freq = 2;
  set(IPPROTO_SCTP, SCTP_DELAYED_SACK, sack, "SCTP_DELAYED_SACK");

  // Path MTU discovery cannot see through DTLS and ICE; use the size every path takes.
  // For AF_CONN usrsctp's path MTU excludes the 12-byte common header (measured).
  sctp_paddrparams path{};
  path.spp_assoc_id = SCTP_FUTURE_ASSOC;
  path.spp_flags = SPP_PMTUD_DISABLE;
  path.spp_pathmtu = static_cast<std::uint32_t>(kSctpMaxPacketSize - sizeof(sctp_common_header));
  path.spp_pathmaxrxt = kMaxRetransmissions;
  set(IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, path, "SCTP_PEER_ADDR_PARAMS");

  sctp_assocparams association{};
  association.sasoc_assoc_id = SCTP_FUTURE_ASSOC;
  association.sasoc_asocmaxrxt = kMaxRetransmissions;
  set(IPPROTO_SCTP, SCTP_ASSOCINFO, association, "SCTP_ASSOCINFO");

  // Strict priority between streams; per-stream values are set as channels open.
  const sctp_assoc_value scheduler{SCTP_FUTURE_ASSOC, SCTP_SS_PRIORITY};
  set(IPPROTO_SCTP, SCTP_PLUGGABLE_SS, scheduler, "SCTP_PLUGGABLE_SS");

  if (failed_option != nullptr) return os_error(failed_option);

  sockaddr_conn local = conn_address(address(), config_.local_port);
  if (usrsctp_bind(socket_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    return os_error("bind");
  }
  return {};
}

Result<void> SctpTransport::start() {
  if (setup_error_) {
    state_ = SctpState::Failed;
    return *setup_error_;
  }
  if (state_ != SctpState::New) return {};
  sockaddr_conn remote = conn_address(address(), config_.remote_port);
  if (usrsctp_connect(socket_, reinterpret_cast<sockaddr*>(&remote), sizeof(remote)) != 0 &&
      errno != EINPROGRESS) {
    state_ = SctpState::Failed;
    return os_error("connect");
  }
  state_ = SctpState::Connecting;
  return {};
}

void SctpTransport::handle_packet(ByteView packet) {
  if (state_ == SctpState::New) (void)start();
  if (state_ == SctpState::Failed || packet.empty()) return;
  usrsctp_conninput(address(), packet.data(), packet.size(), 0);
  service();
}

void SctpTransport::handle_timers(std::uint32_t elapsed_ms) {
  Usrsctp::init();
  usrsctp_handle_timers(elapsed_ms);
  // One round: what a service signals again waits for the next tick, so this always ends.
  auto& reg = registry();
  std::vector<std::uintptr_t> ids;
  ids.swap(reg.pending);
  for (std::uintptr_t id : ids) {
    auto it = reg.live.find(id);  // a callback may have destroyed another transport
    if (it != reg.live.end() && it->second->pending_) it->second->service();
  }
}

void SctpTransport::service() {
  if (servicing_) {
    service_again_ = true;
    return;
  }
  servicing_ = true;
  do {
    service_again_ = false;
    pending_ = false;
    read_socket();
    request_resets();
    flush_control();
    check_buffered_low();
  } while (service_again_);
  servicing_ = false;
}

void SctpTransport::set_receive_paused(bool paused) {
  const bool resumed = receive_paused_ && !paused;
  receive_paused_ = paused;
  if (!resumed || socket_ == nullptr || pending_) return;
  // Not serviced here: that would run callbacks inside the caller's call.
  pending_ = true;
  registry().pending.push_back(id_);
}

void SctpTransport::read_socket() {
  if (socket_ == nullptr || receive_paused_) return;
  static int depth = 0;  // the shared buffer is in use while a callback holds a view into it
  Bytes nested;
  std::uint8_t* buffer = Usrsctp::read_buffer();
  if (depth > 0) {
    nested.resize(kReadBufferSize);
    buffer = nested.data();
  }
  ++depth;
  // A callback may pause reading: stop at once, what is left waits in the association.
  while (!receive_paused_) {
    sockaddr_conn from{};
    socklen_t from_size = sizeof(from);
    sctp_rcvinfo info{};
    socklen_t info_size = sizeof(info);
    unsigned int info_type = SCTP_RECVV_NOINFO;
    int flags = 0;
    const ssize_t n =
        usrsctp_recvv(socket_, buffer, kReadBufferSize, reinterpret_cast<sockaddr*>(&from),
                      &from_size, &info, &info_size, &info_type, &flags);
    if (n <= 0) break;  // nothing more (EWOULDBLOCK), or the association is gone
    const ByteView piece(buffer, static_cast<std::size_t>(n));
    const bool end = (flags & MSG_EOR) != 0;
    if ((flags & MSG_NOTIFICATION) != 0) {
      if (end && notification_.empty()) {
        handle_notification(piece);
        continue;
      }
      if (notification_.size() + piece.size() <= kMaxNotificationSize) {
        put_bytes(notification_, piece);
      }
      if (end) {
        handle_notification(notification_);
        notification_.clear();
      }
      continue;
    }
    if (info_type != SCTP_RECVV_RCVINFO) continue;  // SCTP_RECVRCVINFO is on: never happens
    handle_data(info.rcv_sid, ntohl(info.rcv_ppid), piece, end);
  }
  --depth;
}

void SctpTransport::handle_notification(ByteView notification) {
  decltype(sctp_notification::sn_header) header{};
  if (!read_struct(notification, header)) return;
  switch (header.sn_type) {
    case SCTP_ASSOC_CHANGE:
      handle_assoc_change(notification);
      break;
    case SCTP_STREAM_RESET_EVENT:
      handle_stream_reset(notification);
      break;
    case SCTP_PARTIAL_DELIVERY_EVENT: {
      // The rest of a partly delivered message will never come (PR-SCTP abandoned it).
      // usrsctp's public header says the stream is 32 bits; the library writes 16 (then a
      // 16-bit sequence number), at the same offset. Read just those 16 bits.
      sctp_pdapi_event event{};
      std::uint16_t stream = 0;
      constexpr std::size_t kStreamAt = offsetof(sctp_pdapi_event, pdapi_stream);
      if (read_struct(notification, event) && notification.size() >= kStreamAt + 2 &&
          event.pdapi_indication == SCTP_PARTIAL_DELIVERY_ABORTED) {
        std::memcpy(&stream, notification.data() + kStreamAt, sizeof(stream));
        partials_.erase(stream);
      }
      break;
    }
    default:
      break;
  }
}

void SctpTransport::handle_assoc_change(ByteView notification) {
  sctp_assoc_change change{};
  if (!read_struct(notification, change)) return;
  switch (change.sac_state) {
    case SCTP_COMM_UP:
      on_connected(change.sac_outbound_streams, change.sac_inbound_streams);
      break;
    case SCTP_COMM_LOST:
      fail({ErrorCode::NotConnected,
            "SCTP association lost: the peer aborted or stopped "
            "answering"});
      break;
    case SCTP_SHUTDOWN_COMP:
      fail({ErrorCode::NotConnected, "SCTP association shut down by the peer"});
      break;
    case SCTP_CANT_STR_ASSOC:
      fail({ErrorCode::NotConnected, "SCTP association could not be established"});
      break;
    default:  // SCTP_RESTART: the peer restarted; the association carries on
      break;
  }
}

void SctpTransport::on_connected(std::uint16_t outbound_streams, std::uint16_t inbound_streams) {
  if (state_ != SctpState::Connecting) return;
  state_ = SctpState::Connected;
  stream_limit_ = std::min({outbound_streams, inbound_streams, kSctpMaxStreams});

  // Channels opened before the association beyond what the peer allows cannot exist.
  std::vector<std::uint16_t> dropped;
  for (auto it = channels_.begin(); it != channels_.end();) {
    if (it->first >= stream_limit_) {
      dropped.push_back(it->first);
      it = channels_.erase(it);
    } else {
      set_stream_priority(it->first, it->second.params.priority);
      ++it;
    }
  }
  std::erase_if(control_, [&](const Control& c) { return c.stream >= stream_limit_; });
  flush_control();

  if (callbacks_.connected) callbacks_.connected();
  for (std::uint16_t stream : dropped) {
    if (callbacks_.channel_closed) callbacks_.channel_closed(stream);
  }
}

void SctpTransport::fail(const Error& error) {
  if (state_ == SctpState::Failed) return;
  state_ = SctpState::Failed;
  control_.clear();
  resets_.clear();
  partials_.clear();
  if (callbacks_.failed) callbacks_.failed(error);
}

void SctpTransport::handle_stream_reset(ByteView notification) {
  sctp_stream_reset_event event{};
  if (!read_struct(notification, event)) return;
  const std::size_t length = std::min<std::size_t>(event.strreset_length, notification.size());
  if (length < sizeof(event)) return;
  std::vector<std::uint16_t> streams((length - sizeof(event)) / sizeof(std::uint16_t));
  std::memcpy(streams.data(), notification.data() + sizeof(event),
              streams.size() * sizeof(std::uint16_t));
  const std::uint16_t flags = event.strreset_flags;

  if ((flags & (SCTP_STREAM_RESET_DENIED | SCTP_STREAM_RESET_FAILED)) != 0) {
    if ((flags & SCTP_STREAM_RESET_OUTGOING_SSN) == 0) return;
    for (std::uint16_t stream : streams) {
      auto it = channels_.find(stream);
      if (it == channels_.end()) continue;
      if (++it->second.reset_attempts < kMaxResetAttempts) {
        resets_.push_back(stream);
      } else {
        it->second.outgoing_reset = true;  // the peer won't: stop waiting for it
        finish_close(stream);
      }
    }
    return;
  }
  if ((flags & SCTP_STREAM_RESET_INCOMING_SSN) != 0) {
    // The peer closed its side: close ours too (RFC 8831 §6.7).
    for (std::uint16_t stream : streams) {
      partials_.erase(stream);
      auto it = channels_.find(stream);
      if (it == channels_.end()) continue;
      it->second.incoming_reset = true;
      if (!it->second.closing) {
        it->second.closing = true;
        resets_.push_back(stream);
      }
      finish_close(stream);
    }
  }
  if ((flags & SCTP_STREAM_RESET_OUTGOING_SSN) != 0) {
    for (std::uint16_t stream : streams) {
      auto it = channels_.find(stream);
      if (it == channels_.end()) continue;
      it->second.outgoing_reset = true;
      finish_close(stream);
    }
  }
}

void SctpTransport::finish_close(std::uint16_t stream) {
  auto it = channels_.find(stream);
  if (it == channels_.end() || !it->second.outgoing_reset || !it->second.incoming_reset) return;
  channels_.erase(it);
  if (callbacks_.channel_closed) callbacks_.channel_closed(stream);
}

void SctpTransport::handle_data(std::uint16_t stream, std::uint32_t ppid, ByteView data, bool end) {
  const std::size_t limit = config_.max_receive_message_size;
  auto it = partials_.find(stream);
  if (it == partials_.end()) {
    if (end && data.size() <= limit) {
      handle_message(stream, ppid, data);  // the common case: whole, in place
      return;
    }
    it = partials_.emplace(stream, Partial{}).first;
  }
  Partial& partial = it->second;
  if (!partial.oversized && partial.data.size() + data.size() > limit) {
    partial.oversized = true;
    Bytes().swap(partial.data);  // don't grow past the limit: drop what we have
  }
  if (!partial.oversized) put_bytes(partial.data, data);
  if (!end) return;

  Partial whole = std::move(partial);
  partials_.erase(it);
  if (whole.oversized) {
    // The peer ignored our a=max-message-size; the channel can't be trusted to make sense.
    close_channel(stream);
    return;
  }
  handle_message(stream, ppid, whole.data);
}

void SctpTransport::handle_message(std::uint16_t stream, std::uint32_t ppid, ByteView data) {
  if (ppid == ppid::kDcep) {
    handle_dcep(stream, data);
    return;
  }
  if (!is_user_ppid(ppid)) return;  // e.g. the deprecated partial PPIDs 52/54
  auto it = channels_.find(stream);
  if (it == channels_.end() || it->second.incoming_reset) return;
  if (it->second.awaiting_ack) {
    // Data from the peer means it has seen our OPEN (RFC 8832 §6).
    acknowledge(stream, it->second);
    if (state_ == SctpState::Failed) return;
  }
  deliver(stream, ppid, data);
}

void SctpTransport::handle_dcep(std::uint16_t stream, ByteView data) {
  auto parsed = parse_dcep(data);
  if (!parsed) return;  // malformed: nothing sensible to answer
  if (const auto* open = std::get_if<DataChannelOpen>(&*parsed)) {
    if (stream >= stream_limit_ || channels_.contains(stream)) return;  // a confused peer
    Channel channel;
    channel.params = params_from(*open, stream);
    const ChannelParams params = channel.params;
    channels_.emplace(stream, std::move(channel));
    set_stream_priority(stream, params.priority);
    control_.push_back({stream, encode_dcep(DataChannelAck{})});
    flush_control();
    if (callbacks_.channel_opened) callbacks_.channel_opened(stream, params);
    return;
  }
  auto it = channels_.find(stream);
  if (it != channels_.end() && it->second.awaiting_ack) acknowledge(stream, it->second);
}

void SctpTransport::acknowledge(std::uint16_t stream, Channel& channel) {
  channel.awaiting_ack = false;
  const ChannelParams params = channel.params;  // the callback may add channels (rehash)
  if (callbacks_.channel_opened) callbacks_.channel_opened(stream, params);
}

void SctpTransport::deliver(std::uint16_t stream, std::uint32_t ppid, ByteView data) {
  const bool binary = ppid == ppid::kBinary || ppid == ppid::kBinaryEmpty;
  const bool empty = ppid == ppid::kStringEmpty || ppid == ppid::kBinaryEmpty;
  if (callbacks_.message) callbacks_.message(stream, empty ? ByteView{} : data, binary);
}

Result<std::uint16_t> SctpTransport::open_channel(const ChannelParams& params) {
  if (params.label.size() > kMaxDcepStringSize || params.protocol.size() > kMaxDcepStringSize) {
    return Error{ErrorCode::InvalidArgument, "channel label and protocol are at most 65535 bytes"};
  }
  std::uint16_t stream = 0;
  if (params.stream) {
    stream = *params.stream;
    if (stream >= stream_limit_) {
      return Error{ErrorCode::InvalidChannelId, "stream " + std::to_string(stream) +
                                                    " is beyond the association's " +
                                                    std::to_string(stream_limit_) + " streams"};
    }
    if (channels_.contains(stream)) {
      return Error{ErrorCode::InvalidChannelId,
                   "stream " + std::to_string(stream) + " is already in use"};
    }
  } else if (params.negotiated) {
    return Error{ErrorCode::InvalidChannelId, "a negotiated channel needs its stream id"};
  } else {
    // RFC 8832 §6: the DTLS client takes even ids, the server odd ones, so the two sides
    // never pick the same id at the same time.
    std::uint32_t id = config_.dtls_client ? 0 : 1;
    while (id < stream_limit_ && channels_.contains(static_cast<std::uint16_t>(id))) id += 2;
    if (id >= stream_limit_) {
      return Error{ErrorCode::NoAvailableChannelId, "all " + std::to_string(stream_limit_ / 2) +
                                                        " stream ids are in use; close "
                                                        "a channel first"};
    }
    stream = static_cast<std::uint16_t>(id);
  }
  if (state_ == SctpState::Failed) {
    return Error{ErrorCode::NotConnected, "the SCTP association has failed"};
  }

  Channel channel;
  channel.params = params;
  channel.params.stream = stream;
  if (!params.negotiated) {
    DataChannelOpen open;
    open.channel_type = channel_type(params);
    open.priority = params.priority;
    open.reliability_parameter =
        params.reliability == SctpReliability::Reliable ? 0 : params.reliability_value;
    open.label = params.label;
    open.protocol = params.protocol;
    channel.open_sent = false;
    channel.awaiting_ack = true;
    control_.push_back({stream, encode_dcep(open)});
  }
  channels_.emplace(stream, std::move(channel));
  if (state_ == SctpState::Connected) {
    set_stream_priority(stream, params.priority);
    flush_control();
  }
  return stream;
}

Result<void> SctpTransport::send(std::uint16_t stream, ByteView data, bool binary) {
  if (data.size() > config_.max_message_size) {
    return Error{ErrorCode::MessageTooLarge,
                 std::to_string(data.size()) + " bytes exceed the peer's maximum message size of " +
                     std::to_string(config_.max_message_size)};
  }
  if (state_ != SctpState::Connected) {
    return Error{ErrorCode::NotConnected, state_ == SctpState::Failed
                                              ? "the SCTP association has failed"
                                              : "the SCTP association is not up yet"};
  }
  auto it = channels_.find(stream);
  if (it == channels_.end()) {
    return Error{ErrorCode::InvalidChannelId, "no channel on stream " + std::to_string(stream)};
  }
  const Channel& channel = it->second;
  if (channel.closing) {
    return Error{ErrorCode::SenderClosed,
                 "the channel on stream " + std::to_string(stream) + " is closing"};
  }
  if (!channel.open_sent) {
    // Data must follow the OPEN, which itself waits for send buffer space.
    return Error{ErrorCode::BufferFull, "the send buffer is full; wait for buffered_amount_low"};
  }

  static constexpr std::uint8_t kEmptyPayload[1] = {0};  // SCTP cannot send zero bytes
  std::uint32_t ppid = binary ? ppid::kBinary : ppid::kString;
  if (data.empty()) {
    ppid = binary ? ppid::kBinaryEmpty : ppid::kStringEmpty;
    data = ByteView(kEmptyPayload);
  }
  const bool unordered = !channel.params.ordered && !channel.awaiting_ack;
  auto sent = send_raw(stream, ppid, data, unordered, channel.params.reliability,
                       channel.params.reliability_value);
  if (sent && !low_armed_ && buffered_amount() > low_threshold_) low_armed_ = true;
  return sent;
}

Result<void> SctpTransport::send_raw(std::uint16_t stream, std::uint32_t ppid, ByteView data,
                                     bool unordered, SctpReliability reliability,
                                     std::uint32_t reliability_value) {
  sctp_sendv_spa spa{};
  spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
  spa.sendv_sndinfo.snd_sid = stream;
  spa.sendv_sndinfo.snd_ppid = htonl(ppid);
  spa.sendv_sndinfo.snd_flags = static_cast<std::uint16_t>(unordered ? SCTP_UNORDERED : 0);
  if (reliability != SctpReliability::Reliable) {
    spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
    spa.sendv_prinfo.pr_policy =
        reliability == SctpReliability::MaxRetransmits ? SCTP_PR_SCTP_RTX : SCTP_PR_SCTP_TTL;
    spa.sendv_prinfo.pr_value = reliability_value;
  }
  if (usrsctp_sendv(socket_, data.data(), data.size(), nullptr, 0, &spa, sizeof(spa),
                    SCTP_SENDV_SPA, 0) >= 0) {
    return {};
  }
  const int error = errno;
  if (would_block(error)) {
    return Error{ErrorCode::BufferFull, "the send buffer is full; wait for buffered_amount_low"};
  }
  if (error == EMSGSIZE) {
    return Error{ErrorCode::MessageTooLarge, "the message is larger than the send buffer"};
  }
  if (error == ENOTCONN || error == EPIPE || error == ECONNRESET || error == ESHUTDOWN) {
    return Error{ErrorCode::NotConnected, "the SCTP association is closed"};
  }
  errno = error;
  return os_error("sendv");
}

void SctpTransport::close_channel(std::uint16_t stream) {
  auto it = channels_.find(stream);
  if (it == channels_.end() || it->second.closing) return;
  std::erase_if(control_, [&](const Control& c) { return c.stream == stream; });
  if (state_ != SctpState::Connected) {
    channels_.erase(it);  // the peer never heard of it
    return;
  }
  it->second.closing = true;
  resets_.push_back(stream);
  request_resets();
}

void SctpTransport::request_resets() {
  if (resets_.empty() || state_ != SctpState::Connected) return;
  std::sort(resets_.begin(), resets_.end());
  resets_.erase(std::unique(resets_.begin(), resets_.end()), resets_.end());

  Bytes request(sizeof(sctp_reset_streams) + resets_.size() * sizeof(std::uint16_t));
  sctp_reset_streams header{};
  header.srs_assoc_id = SCTP_CURRENT_ASSOC;
  header.srs_flags = SCTP_STREAM_RESET_OUTGOING;
  header.srs_number_streams = static_cast<std::uint16_t>(resets_.size());
  std::memcpy(request.data(), &header, sizeof(header));
  std::memcpy(request.data() + sizeof(header), resets_.data(),
              resets_.size() * sizeof(std::uint16_t));
  // usrsctp sends the request once each stream's queued data is out (RFC 8831 §6.7).
  if (usrsctp_setsockopt(socket_, IPPROTO_SCTP, SCTP_RESET_STREAMS, request.data(),
                         static_cast<socklen_t>(request.size())) == 0) {
    resets_.clear();
    return;
  }
  if (errno == EALREADY || errno == EBUSY || would_block(errno)) return;  // one in flight
  // Refused outright: nothing to wait for, so count our side as reset. The channel closes
  // when the peer's side is reset too; from close_channel() that is never already the case,
  // so no callback runs outside service().
  std::vector<std::uint16_t> streams;
  streams.swap(resets_);
  for (std::uint16_t stream : streams) {
    auto it = channels_.find(stream);
    if (it == channels_.end()) continue;
    it->second.outgoing_reset = true;
    if (servicing_) finish_close(stream);
  }
}

void SctpTransport::flush_control() {
  while (!control_.empty() && state_ == SctpState::Connected) {
    Control& next = control_.front();
    auto it = channels_.find(next.stream);
    if (it == channels_.end()) {
      control_.pop_front();
      continue;
    }
    auto sent = send_raw(next.stream, ppid::kDcep, next.dcep, false, SctpReliability::Reliable, 0);
    if (!sent && sent.error().code == ErrorCode::BufferFull) return;  // retried next service
    it->second.open_sent = true;
    control_.pop_front();
  }
}

void SctpTransport::set_stream_priority(std::uint16_t stream, std::uint16_t priority) {
  // usrsctp's priority scheduler serves the lowest value first; DCEP's highest goes first.
  sctp_stream_value value{};
  value.assoc_id = SCTP_CURRENT_ASSOC;
  value.stream_id = stream;
  value.stream_value = static_cast<std::uint16_t>(0xffff - priority);
  (void)usrsctp_setsockopt(socket_, IPPROTO_SCTP, SCTP_SS_VALUE, &value, sizeof(value));
}

std::size_t SctpTransport::buffered_amount() const {
  if (socket_ == nullptr || state_ != SctpState::Connected) return 0;
  SctpSockstat stat{};
  socklen_t size = sizeof(stat);
  if (usrsctp_getsockopt(socket_, IPPROTO_SCTP, kSctpGetSndbufUse, &stat, &size) != 0) return 0;
  return stat.ss_total_sndbuf;
}

void SctpTransport::set_buffered_amount_low_threshold(std::size_t bytes) {
  low_threshold_ = bytes;
}

void SctpTransport::check_buffered_low() {
  if (!low_armed_ || state_ != SctpState::Connected) return;
  if (buffered_amount() > low_threshold_) return;
  low_armed_ = false;
  if (callbacks_.buffered_amount_low) callbacks_.buffered_amount_low();
}

}  // namespace switchboard::webrtc
