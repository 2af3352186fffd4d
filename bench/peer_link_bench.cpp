// Direct-path benchmark: two client::PeerLinks on loopback, one process each (usrsctp is
// process-wide), signaling over a pipe. Prints durable throughput with 64 KiB messages
// (median of several rounds on one connection) next to a raw UDP ceiling measured in the
// same run: 1200-byte datagrams, one sendmsg each, counted by the receiving process.
// Figures, never pass/fail.
//
//   peer_link_bench [--seconds N] [--rounds N] [--no-raw]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <boost/asio.hpp>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/peer_link.hpp"
#include "signaling/messages.hpp"

using namespace switchboard;
namespace asio = boost::asio;
using asio::ip::udp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kBulkMessage = 64 * 1024;
constexpr std::size_t kDatagram = 1200;
constexpr std::uint16_t kBulkStream = 0;  // durable, ordered, reliable

// CPU time this process has used, in seconds: on a shared machine the wall clock
// varies with neighbours, CPU per megabyte much less.
double cpu_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void write_line(int fd, const std::string& line) {
  const std::string l = line + "\n";
  std::size_t done = 0;
  while (done < l.size()) {
    const ssize_t n = ::write(fd, l.data() + done, l.size() - done);
    if (n <= 0) std::abort();
    done += static_cast<std::size_t>(n);
  }
}

std::string read_line(int fd) {
  std::string line;
  char c = 0;
  while (::read(fd, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

// ---------------------------------------------------------------------------------------
// The raw UDP ceiling: the sender blasts for `seconds`, the receiver counts what arrives
// between its first and last datagram.

void raw_receiver(int in, int out) {
  asio::io_context io;
  udp::socket socket(io, {asio::ip::make_address("127.0.0.1"), 0});
  socket.set_option(asio::socket_base::receive_buffer_size(8 << 20));
  write_line(out, "port=" + std::to_string(socket.local_endpoint().port()));
  std::vector<std::uint8_t> buffer(65536);
  std::size_t bytes = 0;
  Clock::time_point first{};
  Clock::time_point last{};
  pollfd fds[2] = {{socket.native_handle(), POLLIN, 0}, {in, POLLIN, 0}};
  bool done = false;
  while (true) {
    if (::poll(fds, 2, done ? 100 : 1000) <= 0 && done) break;
    if ((fds[1].revents & POLLIN) != 0) {
      (void)read_line(in);
      done = true;
      fds[1].fd = -1;
    }
    if ((fds[0].revents & POLLIN) == 0) continue;
    while (true) {
      const ssize_t n = ::recv(socket.native_handle(), buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (n <= 0) break;
      if (bytes == 0) first = Clock::now();
      last = Clock::now();
      bytes += static_cast<std::size_t>(n);
    }
  }
  const double s = std::chrono::duration<double>(last - first).count();
  write_line(out, std::to_string(s > 0 ? static_cast<double>(bytes) / s / 1e6 : 0.0));
}

double raw_sender(int in, int out, double seconds) {
  const std::string line = read_line(in);
  const auto port = static_cast<std::uint16_t>(std::stoi(line.substr(line.find('=') + 1)));
  asio::io_context io;
  udp::socket socket(io, udp::v4());
  socket.set_option(asio::socket_base::send_buffer_size(8 << 20));
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  std::vector<std::uint8_t> datagram(kDatagram, 7);
  const auto start = Clock::now();
  while (seconds_since(start) < seconds) {
    for (int i = 0; i < 64; ++i)
      (void)::send(socket.native_handle(), datagram.data(), kDatagram, 0);
  }
  write_line(out, "done");
  return std::stod(read_line(in));
}

// ---------------------------------------------------------------------------------------
// The PeerLinks.

// Reads signaling lines from the other process and hands them to the link.
class SignalPipe {
 public:
  SignalPipe(asio::io_context& io, int in, int out) : in_(io, in), out_(out) {}

  void send(const signaling::Message& message) { write_line(out_, signaling::serialize(message)); }

  void start(client::PeerLink& link) {
    link_ = &link;
    read();
  }

 private:
  void read() {
    asio::async_read_until(in_, buffer_, '\n', [this](boost::system::error_code ec, std::size_t n) {
      if (ec) return;
      std::string line(asio::buffers_begin(buffer_.data()),
                       asio::buffers_begin(buffer_.data()) + static_cast<std::ptrdiff_t>(n - 1));
      buffer_.consume(n);
      auto parsed = signaling::parse_message(line, signaling::kMaxServerMessageSize);
      if (parsed) {
        std::visit(
            [this](auto& m) {
              using M = std::decay_t<decltype(m)>;
              if constexpr (std::is_same_v<M, signaling::Offer> ||
                            std::is_same_v<M, signaling::Answer> ||
                            std::is_same_v<M, signaling::Candidate>) {
                link_->handle(m);
              }
            },
            *parsed);
      }
      read();
    });
  }

  asio::posix::stream_descriptor in_;
  int out_;
  asio::streambuf buffer_;
  client::PeerLink* link_ = nullptr;
};

client::PeerLinkConfig link_config(bool offerer) {
  client::PeerLinkConfig config;
  config.peer = offerer ? 2 : 1;
  config.session = 1;
  config.offerer = offerer;
  config.local_addresses = {"127.0.0.1"};
  return config;
}

[[noreturn]] void die(const char* who, const Error& e) {
  std::fprintf(stderr, "peer_link_bench (%s): %s\n", who, e.message.c_str());
  std::exit(1);
}

// The child: answers, counts bulk bytes, and on the 1-byte end marker replies on the
// control stream with how many bytes it took in since the last marker.
void receiver(int in, int out) {
  asio::io_context io;
  SignalPipe pipe(io, in, out);
  std::size_t bytes = 0;
  double cpu_at = cpu_seconds();
  client::PeerLink* self = nullptr;
  client::PeerLink link(io, link_config(false),
                        client::PeerLink::Callbacks{
                            .signal = [&](signaling::Message m) { pipe.send(m); },
                            .connected = {},
                            .message =
                                [&](std::uint16_t stream, ByteView data) {
                                  if (stream != kBulkStream) return;
                                  if (data.size() != 1) {
                                    bytes += data.size();
                                    return;
                                  }
                                  Bytes reply;
                                  put_u32(reply, static_cast<std::uint32_t>(bytes >> 10));  // KiB
                                  const double cpu = cpu_seconds();
                                  put_u32(reply,
                                          static_cast<std::uint32_t>((cpu - cpu_at) * 1e6));  // µs
                                  cpu_at = cpu;
                                  bytes = 0;
                                  (void)self->send(client::kPeerControlStream, reply);
                                },
                            .writable = {},
                            .failed =
                                [&](const Error& e) {
                                  io.stop();
                                  (void)e;
                                },
                        });
  self = &link;
  pipe.start(link);
  link.start();
  io.run();
}

class Sender {
 public:
  Sender(asio::io_context& io, int in, int out)
      : io_(io),
        pipe_(io, in, out),
        link_(io, link_config(true),
              client::PeerLink::Callbacks{
                  .signal = [this](signaling::Message m) { pipe_.send(m); },
                  .connected = [this] { connected_ = true; },
                  .message =
                      [this](std::uint16_t stream, ByteView data) {
                        if (stream == client::kPeerControlStream && data.size() == 8) {
                          acked_kib_ = load_u32(data.data());
                          receiver_cpu_ = load_u32(data.data() + 4) / 1e6;
                          replied_ = true;
                        }
                      },
                  .writable = [this] { pump(); },
                  .failed = [](const Error& e) { die("sender", e); },
              }) {
    pipe_.start(link_);
    link_.start();
  }

  void wait_connected() {
    run_until([this] { return connected_; }, 20);
  }

  std::string pair() const { return link_.selected_pair().value_or("?"); }

  struct Round {
    double mbps;
    double sender_cpu_ms_per_100mb;
    double receiver_cpu_ms_per_100mb;
  };

  // 64 KiB durable messages for `seconds`, until the receiver has them all.
  Round round(double seconds) {
    const double cpu_at = cpu_seconds();
    replied_ = false;
    finished_ = false;
    sent_ = 0;
    seconds_ = seconds;
    start_ = Clock::now();
    pump();
    run_until([this] { return replied_; }, seconds * 20 + 30, [this] { pump(); });
    const double elapsed = seconds_since(start_);
    if (acked_kib_ != sent_ * kBulkMessage / 1024) {
      std::fprintf(stderr, "peer_link_bench: sent %zu KiB, the receiver counted %u KiB\n",
                   sent_ * kBulkMessage / 1024, acked_kib_);
    }
    const double mb = static_cast<double>(sent_ * kBulkMessage) / 1e6;
    return {mb / elapsed, (cpu_seconds() - cpu_at) * 1e3 * 100 / mb,
            receiver_cpu_ * 1e3 * 100 / mb};
  }

 private:
  void pump() {
    if (finished_) return;
    while (true) {
      if (seconds_since(start_) >= seconds_) {
        finished_ = link_.send(kBulkStream, Bytes(1, 0)).ok();
        return;
      }
      if (!link_.send(kBulkStream, message_)) return;
      ++sent_;
    }
  }

  void run_until(const std::function<bool()>& done, double limit_s,
                 const std::function<void()>& between = {}) {
    const auto start = Clock::now();
    while (!done() && seconds_since(start) < limit_s) {
      io_.run_for(std::chrono::milliseconds(1));
      if (io_.stopped()) io_.restart();
      if (between) between();
    }
    if (!done()) {
      std::fprintf(stderr, "peer_link_bench: timed out\n");
      std::exit(1);
    }
  }

  asio::io_context& io_;
  SignalPipe pipe_;
  client::PeerLink link_;
  Bytes message_ = Bytes(kBulkMessage, 5);
  bool connected_ = false;
  bool replied_ = false;
  bool finished_ = true;
  std::uint32_t acked_kib_ = 0;
  double receiver_cpu_ = 0;
  std::size_t sent_ = 0;
  double seconds_ = 0;
  Clock::time_point start_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2;
  int rounds = 5;
  bool raw_baseline = true;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-raw") == 0) raw_baseline = false;
    if (i + 1 == argc) break;
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::max(1, std::atoi(argv[i + 1]));
  }
  int to_child[2];
  int to_parent[2];
  if (::pipe(to_child) != 0 || ::pipe(to_parent) != 0) return 1;
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(to_child[1]);
    ::close(to_parent[0]);
    if (raw_baseline) raw_receiver(to_child[0], to_parent[1]);
    receiver(to_child[0], to_parent[1]);  // until the parent is gone
    ::_exit(0);
  }
  ::close(to_child[0]);
  ::close(to_parent[1]);

  double raw = 0;
  if (raw_baseline) {
    std::fprintf(stderr, "peer_link_bench: raw UDP...\n");
    raw = raw_sender(to_parent[0], to_child[1], std::min(seconds, 2.0));
  }

  asio::io_context io;
  Sender sender(io, to_parent[0], to_child[1]);
  sender.wait_connected();
  std::fprintf(stderr, "peer_link_bench: connected on %s\n", sender.pair().c_str());
  std::vector<double> figures;
  std::vector<double> sender_cpu;
  std::vector<double> receiver_cpu;
  for (int r = 0; r < rounds; ++r) {
    const auto result = sender.round(seconds);
    figures.push_back(result.mbps);
    sender_cpu.push_back(result.sender_cpu_ms_per_100mb);
    receiver_cpu.push_back(result.receiver_cpu_ms_per_100mb);
    std::fprintf(stderr,
                 "peer_link_bench: round %d: %.1f MB/s, CPU ms per 100 MB: sender %.0f, "
                 "receiver %.0f\n",
                 r + 1, result.mbps, result.sender_cpu_ms_per_100mb,
                 result.receiver_cpu_ms_per_100mb);
  }
  ::close(to_child[1]);
  ::kill(child, SIGTERM);
  ::waitpid(child, nullptr, 0);

  std::printf("Switchboard direct path (PeerLink), loopback, one process per peer\n");
  std::printf("selected pair: %s\n\n", sender.pair().c_str());
  std::printf("throughput                                          MB/s   vs raw UDP\n");
  if (raw > 0) {
    std::printf("  raw UDP one way, %zu-byte datagrams, 1 per send %8.1f   1.00\n", kDatagram, raw);
  }
  std::printf("  durable, 64 KiB messages (median of %d x %.0f s)    %8.1f   %.2f\n", rounds,
              seconds, median(figures), raw > 0 ? median(figures) / raw : 0.0);
  std::printf("  CPU ms per 100 MB (median): sender %.0f, receiver %.0f\n", median(sender_cpu),
              median(receiver_cpu));
  std::printf("  rounds:");
  for (double f : figures) std::printf(" %.1f", f);
  std::printf("\n");
  return 0;
}
