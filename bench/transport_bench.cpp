// WebRTC transport benchmark: loopback, one process per peer (the echo peer is forked).
// Prints, for 100-byte ping-pong round trips and bulk throughput, our SCTP-over-DTLS data
// channels against a raw UDP echo and a raw DTLS echo measured in the same run, plus the
// small-message rate of DataChannel frames coalesced by the core. Figures, never pass/fail.
//
//   transport_bench [--seconds N]
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <boost/asio.hpp>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/endpoint.hpp"
#include "webrtc/dtls_transport.hpp"
#include "webrtc/packet_redundancy.hpp"
#include "webrtc/sdp.hpp"
#include "webrtc/stun.hpp"
#include "webrtc/udp_batch.hpp"
#include "webrtc/webrtc_connection.hpp"
#include "webrtc/webrtc_server.hpp"

using namespace switchboard;
using namespace switchboard::webrtc;
namespace asio = boost::asio;
using asio::ip::udp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kPingSize = 100;
constexpr int kPings = 20000;
constexpr std::size_t kDatagram = 1200;
constexpr std::size_t kWindow = 64;  // datagrams in flight for the raw throughput ceilings
constexpr std::size_t kBulkMessage = 64 * 1024;
constexpr std::size_t kSmallMessage = 100;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Percentiles {
  double p50_us;
  double p99_us;
};

Percentiles percentiles(std::vector<double>& rtts) {
  std::sort(rtts.begin(), rtts.end());
  return {rtts[rtts.size() / 2] * 1e6, rtts[rtts.size() * 99 / 100] * 1e6};
}

// One line of "key=value" pairs over a pipe: how the two processes introduce themselves.
void write_line(int fd, const std::string& line) {
  std::string l = line + "\n";
  if (::write(fd, l.data(), l.size()) != static_cast<ssize_t>(l.size())) std::abort();
}

std::string read_line(int fd) {
  std::string line;
  char c = 0;
  while (::read(fd, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

std::string field(const std::string& line, const std::string& key) {
  std::istringstream in(line);
  std::string kv;
  while (in >> kv) {
    if (kv.rfind(key + "=", 0) == 0) return kv.substr(key.size() + 1);
  }
  return {};
}

// A receive that gives up after `timeout_ms`: asio's blocking receive ignores SO_RCVTIMEO.
// Returns the datagram size, or 0 on timeout.
std::size_t receive_within(udp::socket& socket, std::span<std::uint8_t> buffer, int timeout_ms) {
  pollfd p{socket.native_handle(), POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return 0;
  const ssize_t n = ::recv(socket.native_handle(), buffer.data(), buffer.size(), 0);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

// Runs the loop until `done`; `between` runs after every turn of it.
void run_until(asio::io_context& io, const std::function<bool()>& done, double limit_s = 60,
               const std::function<void()>& between = {}) {
  const auto start = Clock::now();
  while (!done() && seconds_since(start) < limit_s) {
    io.run_for(std::chrono::milliseconds(1));
    if (between) between();
  }
  if (!done()) {
    std::fprintf(stderr, "transport_bench: timed out\n");
    std::exit(1);
  }
}

// ---------------------------------------------------------------------------------------
// The echo peer (child process).

class EchoPeer {
 public:
  EchoPeer(asio::io_context& io, std::shared_ptr<const Certificate> cert)
      : io_(io),
        cert_(std::move(cert)),
        udp_(io, {asio::ip::make_address("127.0.0.1"), 0}),
        dtls_socket_(io, {asio::ip::make_address("127.0.0.1"), 0}),
        server_(io) {
    (void)server_.listen({asio::ip::make_address("127.0.0.1"), 0});
    ice_ = random_ice_credentials();
    echo_udp();
  }

  std::string introduce() const {
    return "udp=" + std::to_string(udp_.local_endpoint().port()) +
           " dtls=" + std::to_string(dtls_socket_.local_endpoint().port()) +
           " webrtc=" + std::to_string(server_.port()) + " ufrag=" + ice_.ufrag +
           " pwd=" + ice_.pwd + " fp=" + cert_->fingerprint_string();
  }

  void meet(const std::string& line) {
    auto fp = parse_fingerprint(field(line, "fp"));
    remote_fp_ = *fp;
    dtls_ = std::make_unique<DtlsTransport>(
        cert_, DtlsRole::Server, remote_fp_,
        DtlsTransport::Callbacks{
            .send_datagram =
                [this](ByteView d) {
                  boost::system::error_code ec;
                  dtls_socket_.send_to(asio::buffer(d.data(), d.size()), dtls_peer_, 0, ec);
                },
            .connected = {},
            .app_data = [this](ByteView d) { echo_back_.assign(d.begin(), d.end()); },
            .failed = {},
            .closed = {}});
    dtls_->start(Clock::now());
    echo_dtls();

    session_ = server_.add_session(
        ice_, field(line, "ufrag"),
        {.datagram = [this](ByteView d) { conn_->handle_datagram(d); }, .consent_lost = {}});
    endpoint_.participant_joined({1, "driver", ""}, Clock::now());
    endpoint_.participant_joined({2, "echo", ""}, Clock::now());
    core::DataChannelEndpoint::Events events;
    events.message_ready = [this](const core::DataChannelEndpoint::ReceiverPtr& r) {
      while (r->read()) ++frames_delivered_;
    };
    endpoint_.set_events(events);
    conn_ = std::make_unique<WebRtcConnection>(
        io_,
        WebRtcConnection::Config{
            .certificate = cert_, .dtls_role = DtlsRole::Server, .remote_fingerprint = remote_fp_},
        WebRtcConnection::Callbacks{
            .send_datagram = [this](ByteView d) { server_.send(session_, d); },
            .connected = {},
            .channel_opened = [this](std::uint16_t s,
                                     const ChannelParams& p) { labels_[s] = p.label; },
            .message = [this](std::uint16_t s, ByteView d, bool) { on_message(s, d); },
            .channel_closed = {},
            .buffered_amount_low = {},
            .failed = {}});
    conn_->start();
  }

 private:
  void on_message(std::uint16_t stream, ByteView d) {
    const std::string& label = labels_[stream];
    if (label == "echo") {
      (void)conn_->send(stream, d);
    } else if (label == "bulk") {
      if (d.size() == 1) (void)conn_->send(stream, d);  // the end marker: answer it
    } else if (label == "frames") {
      if (d.size() == 1) {
        Bytes count;
        put_u32(count, static_cast<std::uint32_t>(frames_delivered_));
        (void)conn_->send(stream, count);
      } else {
        auto r = endpoint_.ingest_from(1, d, Clock::now());
        if (!r) std::fprintf(stderr, "ingest: %s\n", r.error().message.c_str());
      }
    }
  }

  void echo_udp() {
    udp_.async_receive_from(asio::buffer(buf_), from_, [this](auto ec, std::size_t n) {
      if (ec) return;
      boost::system::error_code e;
      udp_.send_to(asio::buffer(buf_.data(), n), from_, 0, e);
      echo_udp();
    });
  }

  void echo_dtls() {
    dtls_socket_.async_receive_from(
        asio::buffer(dbuf_), dtls_peer_, [this](auto ec, std::size_t n) {
          if (ec) return;
          dtls_->handle_datagram(ByteView(dbuf_.data(), n), Clock::now());
          if (!echo_back_.empty()) {
            (void)dtls_->send(echo_back_);
            echo_back_.clear();
          }
          echo_dtls();
        });
  }

  asio::io_context& io_;
  std::shared_ptr<const Certificate> cert_;
  udp::socket udp_;
  udp::socket dtls_socket_;
  udp::endpoint from_;
  udp::endpoint dtls_peer_;
  std::array<std::uint8_t, 65536> buf_{};
  std::array<std::uint8_t, 65536> dbuf_{};
  Bytes echo_back_;
  Fingerprint remote_fp_{};
  std::unique_ptr<DtlsTransport> dtls_;
  WebRtcServer server_;
  IceCredentials ice_;
  WebRtcServer::SessionId session_ = 0;
  std::unique_ptr<WebRtcConnection> conn_;
  std::map<std::uint16_t, std::string> labels_;
  core::DataChannelEndpoint endpoint_{2, core::EndpointConfig{}};
  std::size_t frames_delivered_ = 0;
};

// ---------------------------------------------------------------------------------------
// The driver (parent process).

void progress(const char* phase) {
  std::fprintf(stderr, "transport_bench: %s...\n", phase);
}

struct Figures {
  Percentiles udp_rtt, dtls_rtt, sctp_rtt;
  double udp_mbps = 0, dtls_mbps = 0, sctp_mbps = 0, frames_per_s = 0;
};

class Driver {
 public:
  Driver(asio::io_context& io, std::shared_ptr<const Certificate> cert, double seconds)
      : io_(io), cert_(std::move(cert)), seconds_(seconds), socket_(io) {
    socket_.open(udp::v4());
    socket_.set_option(asio::socket_base::receive_buffer_size(8 << 20));
    socket_.bind({asio::ip::make_address("127.0.0.1"), 0});
    ice_ = random_ice_credentials();
  }

  std::string introduce() const {
    return "ufrag=" + ice_.ufrag + " fp=" + cert_->fingerprint_string();
  }

  Figures run(const std::string& peer) {
    const auto loopback = asio::ip::make_address("127.0.0.1");
    udp::endpoint udp_peer{loopback, static_cast<std::uint16_t>(std::stoi(field(peer, "udp")))};
    udp::endpoint dtls_peer{loopback, static_cast<std::uint16_t>(std::stoi(field(peer, "dtls")))};
    webrtc_peer_ = {loopback, static_cast<std::uint16_t>(std::stoi(field(peer, "webrtc")))};
    remote_fp_ = *parse_fingerprint(field(peer, "fp"));
    peer_ice_ = {field(peer, "ufrag"), field(peer, "pwd")};

    Figures f;
    progress("raw UDP");
    f.udp_rtt = raw_rtt(udp_peer, nullptr);
    f.udp_mbps = raw_throughput(udp_peer, nullptr);
    progress("raw DTLS");
    auto dtls = connect_dtls(dtls_peer);
    f.dtls_rtt = raw_rtt(dtls_peer, dtls.get());
    f.dtls_mbps = raw_throughput(dtls_peer, dtls.get());
    progress("data channel round trips");
    connect_webrtc();
    f.sctp_rtt = sctp_rtt();
    progress("data channel bulk");
    f.sctp_mbps = sctp_bulk();
    progress("small messages");
    f.frames_per_s = frame_rate();
    return f;
  }

 private:
  // Sends one datagram (through DTLS when given) and returns what came back.
  void send_raw(const udp::endpoint& to, DtlsTransport* dtls, ByteView payload) {
    if (dtls) {
      (void)dtls->send(payload);
    } else {
      socket_.send_to(asio::buffer(payload.data(), payload.size()), to);
    }
  }

  // Blocks until one datagram arrives; feeds DTLS when given; returns the payload size.
  std::size_t receive_raw(DtlsTransport* dtls) {
    while (true) {
      const std::size_t n = receive_within(socket_, buf_, 5000);
      if (n == 0) {
        std::fprintf(stderr, "transport_bench: the echo peer stopped answering\n");
        std::exit(1);
      }
      if (!dtls) return n;
      got_ = 0;
      dtls->handle_datagram(ByteView(buf_.data(), n), Clock::now());
      if (got_ > 0) return got_;
    }
  }

  Percentiles raw_rtt(const udp::endpoint& to, DtlsTransport* dtls) {
    Bytes ping(kPingSize, 7);
    std::vector<double> rtts;
    rtts.reserve(kPings);
    for (int i = 0; i < kPings; ++i) {
      const auto t = Clock::now();
      send_raw(to, dtls, ping);
      receive_raw(dtls);
      rtts.push_back(seconds_since(t));
    }
    return percentiles(rtts);
  }

  // Keeps kWindow datagrams in flight through the echo and counts payload bytes that
  // complete the round trip: a ceiling with the same shape as a windowed transport.
  double raw_throughput(const udp::endpoint& to, DtlsTransport* dtls) {
    Bytes payload(kDatagram, 9);
    for (std::size_t i = 0; i < kWindow; ++i) send_raw(to, dtls, payload);
    std::size_t bytes = 0;
    const auto start = Clock::now();
    while (seconds_since(start) < seconds_) {
      const std::size_t n = receive_within(socket_, buf_, 100);
      if (n == 0) {  // datagrams were lost: refill the window
        for (std::size_t i = 0; i < kWindow / 4; ++i) send_raw(to, dtls, payload);
        continue;
      }
      if (dtls) {
        got_ = 0;
        dtls->handle_datagram(ByteView(buf_.data(), n), Clock::now());
        if (got_ == 0) continue;
      }
      bytes += kDatagram;
      send_raw(to, dtls, payload);
    }
    const double mbps = static_cast<double>(bytes) / seconds_since(start) / 1e6;
    // Drain what is still in flight so the next measurement starts clean.
    while (receive_within(socket_, buf_, 50) > 0) {
    }
    return mbps;
  }

  std::unique_ptr<DtlsTransport> connect_dtls(const udp::endpoint& to) {
    bool connected = false;
    auto dtls = std::make_unique<DtlsTransport>(
        cert_, DtlsRole::Client, remote_fp_,
        DtlsTransport::Callbacks{
            .send_datagram =
                [this, to](ByteView d) { socket_.send_to(asio::buffer(d.data(), d.size()), to); },
            .connected = [&connected] { connected = true; },
            .app_data = [this](ByteView d) { got_ = d.size(); },
            .failed =
                [](const Error& e) {
                  std::fprintf(stderr, "dtls: %s\n", e.message.c_str());
                  std::exit(1);
                },
            .closed = {}});
    dtls->start(Clock::now());
    while (!connected) {
      const std::size_t n = receive_within(socket_, buf_, 100);
      if (n > 0) {
        dtls->handle_datagram(ByteView(buf_.data(), n), Clock::now());
      } else {
        dtls->handle_timeout(Clock::now());
      }
    }
    return dtls;
  }

  void connect_webrtc() {
    wsock_ =
        std::make_unique<udp::socket>(io_, udp::endpoint{asio::ip::make_address("127.0.0.1"), 0});
    wsock_->set_option(asio::socket_base::receive_buffer_size(8 << 20));
    wsock_->set_option(asio::socket_base::send_buffer_size(8 << 20));
    wsock_->non_blocking(true);
    enable_receive_coalescing(wsock_->native_handle());
    conn_ = std::make_unique<WebRtcConnection>(
        io_,
        WebRtcConnection::Config{
            .certificate = cert_, .dtls_role = DtlsRole::Client, .remote_fingerprint = remote_fp_},
        WebRtcConnection::Callbacks{
            .send_datagram =
                [this](ByteView d) {
                  batch_.add(to_socket_address(webrtc_peer_), d);
                  if (flush_posted_) return;
                  flush_posted_ = true;
                  asio::post(io_, [this] {
                    flush_posted_ = false;
                    batch_.flush(wsock_->native_handle());
                  });
                },
            .connected = [this] { connected_ = true; },
            .channel_opened = {},
            .message = [this](std::uint16_t, ByteView d, bool) { on_message(d); },
            .channel_closed = {},
            .buffered_amount_low =
                [this] {
                  if (on_low_) on_low_();
                },
            .failed =
                [](const Error& e) {
                  std::fprintf(stderr, "webrtc: %s\n", e.message.c_str());
                  std::exit(1);
                }});
    StunTransactionId txid{};
    Bytes check = StunWriter(kStunBindingMethod, StunClass::Request, txid)
                      .add_username(peer_ice_.ufrag + ":" + ice_.ufrag)
                      .add_priority(0x6e7f1eff)
                      .add_ice_controlling(1)
                      .add_use_candidate()
                      .finish(peer_ice_.pwd, true);
    wsock_->send_to(asio::buffer(check), webrtc_peer_);
    receive_webrtc();
    conn_->start();
    run_until(io_, [this] { return connected_; });
  }

  void receive_webrtc() {
    wsock_->async_wait(udp::socket::wait_read, [this](auto ec) {
      if (ec) return;
      receive_datagrams(wsock_->native_handle(), wbuf_, 256,
                        [this](ByteView d, const SocketAddress&) {
                          if (!looks_like_stun(d)) conn_->handle_datagram(d);
                        });
      if (!batch_.empty()) {
        flush_posted_ = false;
        batch_.flush(wsock_->native_handle());
      }
      receive_webrtc();
    });
  }

  void on_message(ByteView d) {
    ++replies_;
    last_reply_.assign(d.begin(), d.end());
  }

  std::uint16_t open(const std::string& label) {
    auto stream = conn_->open_channel({.label = label});
    // Let the peer see the channel before data flows on it.
    io_.run_for(std::chrono::milliseconds(50));
    return *stream;
  }

  Percentiles sctp_rtt() {
    const std::uint16_t stream = open("echo");
    Bytes ping(kPingSize, 7);
    std::vector<double> rtts;
    for (int i = 0; i < kPings; ++i) {
      const std::size_t before = replies_;
      const auto t = Clock::now();
      (void)conn_->send(stream, ping);
      while (replies_ == before) io_.run_one();
      rtts.push_back(seconds_since(t));
    }
    return percentiles(rtts);
  }

  // Sends `next` until the transport says BUFFER_FULL, resuming on the low-water mark.
  void pump_until(const std::function<bool()>& send_one, const std::function<bool()>& done) {
    conn_->set_buffered_amount_low_threshold(2 << 20);
    on_low_ = [&] {
      while (!done() && send_one()) {
      }
    };
    on_low_();
    // The low-water callback refills at once; the loop's turns retry anything refused.
    run_until(io_, done, seconds_ * 20 + 30, [this] { on_low_(); });
    on_low_ = nullptr;
  }

  double sctp_bulk() {
    const std::uint16_t stream = open("bulk");
    Bytes message(kBulkMessage, 5);
    std::size_t sent = 0;
    const auto start = Clock::now();
    const std::size_t before = replies_;
    bool finished = false;
    pump_until(
        [&] {
          if (seconds_since(start) >= seconds_) {
            if (!finished) finished = conn_->send(stream, Bytes(1, 0)).ok();
            return false;
          }
          if (!conn_->send(stream, message)) return false;
          ++sent;
          return true;
        },
        [&] { return replies_ > before; });
    return static_cast<double>(sent * kBulkMessage) / seconds_since(start) / 1e6;
  }

  // DataChannel frames of 100 bytes, coalesced by the core into transport messages.
  double frame_rate() {
    const std::uint16_t stream = open("frames");
    core::DataChannelEndpoint me(1, core::EndpointConfig{});
    me.participant_joined({1, "driver", ""}, Clock::now());
    me.participant_joined({2, "echo", ""}, Clock::now());
    auto sender = *me.create_sender({}, Clock::now());
    Bytes payload(kSmallMessage, 3);
    Bytes batch;
    std::size_t sent = 0;
    const auto start = Clock::now();
    const std::size_t before = replies_;
    bool finished = false;
    pump_until(
        [&] {
          if (batch.empty()) {
            while (sender->buffered_amount() < 256 * 1024 && seconds_since(start) < seconds_) {
              (void)me.send(*sender, payload);
              ++sent;
            }
            if (!me.poll(Clock::now(), batch, 64 * 1024)) {
              if (!finished) finished = conn_->send(stream, Bytes(1, 0)).ok();
              return false;
            }
          }
          if (!conn_->send(stream, batch)) return false;
          batch.clear();
          return true;
        },
        [&] { return replies_ > before; });
    const double elapsed = seconds_since(start);
    const std::uint32_t delivered = load_u32(last_reply_.data());
    if (delivered != sent) {
      std::fprintf(stderr, "frames: sent %zu, delivered %u\n", sent, delivered);
    }
    return static_cast<double>(delivered) / elapsed;
  }

  asio::io_context& io_;
  std::shared_ptr<const Certificate> cert_;
  double seconds_;
  udp::socket socket_;
  std::array<std::uint8_t, 65536> buf_{};
  std::size_t got_ = 0;
  IceCredentials ice_;
  IceCredentials peer_ice_;
  Fingerprint remote_fp_{};
  udp::endpoint webrtc_peer_;
  std::unique_ptr<udp::socket> wsock_;
  udp::endpoint wfrom_;
  std::array<std::uint8_t, 65536> wbuf_{};
  std::unique_ptr<WebRtcConnection> conn_;
  DatagramBatch batch_;
  bool flush_posted_ = false;
  bool connected_ = false;
  std::size_t replies_ = 0;
  Bytes last_reply_;
  std::function<void()> on_low_;
};

// What packet redundancy's bookkeeping costs per packet on a lossless path (one copy):
// on_send over a full packet of one DATA chunk and over one of 16 small chunks, and
// on_receive of the same, in ns per packet (median of 9 runs of 200,000 packets).
struct RedundancyCost {
  double send_one_chunk_ns = 0;
  double send_16_chunks_ns = 0;
  double receive_16_chunks_ns = 0;
};

Bytes sctp_packet(std::uint32_t first_tsn, std::size_t chunks, std::size_t payload) {
  Bytes out(12, 0);
  for (std::size_t c = 0; c < chunks; ++c) {
    const std::size_t length = 16 + payload;
    out.push_back(0);
    out.push_back(3);
    out.push_back(static_cast<std::uint8_t>(length >> 8));
    out.push_back(static_cast<std::uint8_t>(length));
    const std::uint32_t tsn = first_tsn + static_cast<std::uint32_t>(c);
    for (int k = 3; k >= 0; --k) out.push_back(static_cast<std::uint8_t>(tsn >> (8 * k)));
    out.insert(out.end(), 8 + payload, 0);
    while (out.size() % 4 != 0) out.push_back(0);
  }
  return out;
}

double ns_per_packet(std::size_t chunks, std::size_t payload, bool send) {
  constexpr int kPackets = 200'000;
  std::vector<double> runs;
  for (int run = 0; run < 9; ++run) {
    PacketRedundancy r(Clock::now());
    Bytes packet = sctp_packet(1, chunks, payload);
    std::uint32_t tsn = 1;
    int copies = 0;
    const auto start = Clock::now();
    for (int i = 0; i < kPackets; ++i) {
      for (std::size_t c = 0; c < chunks; ++c) {  // renumber in place, as the next packet
        const std::size_t at = 12 + c * ((16 + payload + 3) & ~std::size_t{3}) + 4;
        const std::uint32_t t = tsn + static_cast<std::uint32_t>(c);
        packet[at] = static_cast<std::uint8_t>(t >> 24);
        packet[at + 1] = static_cast<std::uint8_t>(t >> 16);
        packet[at + 2] = static_cast<std::uint8_t>(t >> 8);
        packet[at + 3] = static_cast<std::uint8_t>(t);
      }
      tsn += static_cast<std::uint32_t>(chunks);
      if (send) {
        copies += r.on_send(packet, Clock::now());
      } else {
        r.on_receive(packet, Clock::now());
      }
    }
    const double ns = seconds_since(start) * 1e9 / kPackets;
    if (send && copies != kPackets) std::printf("(copies on a lossless path: %d)\n", copies);
    runs.push_back(ns);
  }
  std::sort(runs.begin(), runs.end());
  return runs[runs.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
  }
  int to_child[2];
  int to_parent[2];
  if (pipe(to_child) != 0 || pipe(to_parent) != 0) return 1;
  const pid_t child = fork();
  if (child == 0) {
    close(to_child[1]);  // else the child would never see the parent's end-of-file
    close(to_parent[0]);
    asio::io_context io;
    auto cert = *Certificate::generate();
    EchoPeer peer(io, cert);
    write_line(to_parent[1], peer.introduce());
    peer.meet(read_line(to_child[0]));
    // Runs until the parent closes its end of the pipe.
    asio::posix::stream_descriptor quit(io, to_child[0]);
    char c = 0;
    quit.async_read_some(asio::buffer(&c, 1), [&](auto, std::size_t) { io.stop(); });
    io.run();
    _exit(0);
  }
  close(to_child[0]);
  close(to_parent[1]);
  asio::io_context io;
  auto cert = *Certificate::generate();
  Driver driver(io, cert, seconds);
  const std::string peer = read_line(to_parent[0]);
  write_line(to_child[1], driver.introduce());
  const Figures f = driver.run(peer);
  close(to_child[1]);
  waitpid(child, nullptr, 0);

  std::printf("Switchboard WebRTC transport, loopback, one process per peer\n\n");
  std::printf(
      "round trip, %zu-byte ping-pong (%d rounds)        p50 µs   p99 µs   p50 vs raw UDP\n",
      kPingSize, kPings);
  std::printf("  raw UDP echo                                %8.1f %8.1f   1.00\n",
              f.udp_rtt.p50_us, f.udp_rtt.p99_us);
  std::printf("  raw DTLS echo                               %8.1f %8.1f   %.2f\n",
              f.dtls_rtt.p50_us, f.dtls_rtt.p99_us, f.dtls_rtt.p50_us / f.udp_rtt.p50_us);
  std::printf("  SCTP data channel (durable)                 %8.1f %8.1f   %.2f\n",
              f.sctp_rtt.p50_us, f.sctp_rtt.p99_us, f.sctp_rtt.p50_us / f.udp_rtt.p50_us);
  std::printf("\nthroughput                                      MB/s     vs raw DTLS\n");
  std::printf("  raw UDP echo, %zu-byte datagrams, window %zu  %8.1f   %.2f\n", kDatagram, kWindow,
              f.udp_mbps, f.udp_mbps / f.dtls_mbps);
  std::printf("  raw DTLS echo, same                         %8.1f   1.00\n", f.dtls_mbps);
  std::printf("  durable data channel, 64 KiB messages       %8.1f   %.2f\n", f.sctp_mbps,
              f.sctp_mbps / f.dtls_mbps);
  std::printf("\nsmall messages\n");
  std::printf("  100-byte DataChannel messages (coalesced)  %9.0f msg/s\n", f.frames_per_s);

  // The same run's raw DTLS echo gives what one full record costs to send and receive.
  const double dtls_ns = static_cast<double>(kDatagram) / (f.dtls_mbps * 1e6) * 1e9;
  RedundancyCost cost;
  cost.send_one_chunk_ns = ns_per_packet(1, 1100, true);
  cost.send_16_chunks_ns = ns_per_packet(16, 52, true);
  cost.receive_16_chunks_ns = ns_per_packet(16, 52, false);
  std::printf("\npacket redundancy bookkeeping, lossless (one copy)   ns/packet  vs a DTLS record\n");
  std::printf("  on_send, 1 DATA chunk                              %8.1f   %.3f\n",
              cost.send_one_chunk_ns, cost.send_one_chunk_ns / dtls_ns);
  std::printf("  on_send, 16 DATA chunks                            %8.1f   %.3f\n",
              cost.send_16_chunks_ns, cost.send_16_chunks_ns / dtls_ns);
  std::printf("  on_receive, 16 DATA chunks                         %8.1f   %.3f\n",
              cost.receive_16_chunks_ns, cost.receive_16_chunks_ns / dtls_ns);
  return 0;
}
