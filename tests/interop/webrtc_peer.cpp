// A native WebRTC endpoint for interop tests, driven by JSON lines on stdin/stdout:
// it answers an offer as the server does (ICE-lite on one UDP port, DTLS passive), then
// checks the pattern messages it receives and sends pattern messages on request.
//
//   stdout  {"event":"ready"}
//   stdin   {"op":"offer","sdp":"..."}            → {"event":"answer","sdp":"..."}
//           (events) {"event":"connected"} {"event":"channel","label":"b2n","stream":1}
//                    {"event":"received","label":"b2n","count":N,"bytes":B,"ok":true}
//                    {"event":"failed","message":"..."}
//   stdin   {"op":"expect","label":"b2n","count":1000}  report "received" after N messages
//   stdin   {"op":"send","label":"n2b","count":1000}     open a channel, send, → "sent"
#include <iostream>
#include <map>
#include <string>
#include <thread>

#include <boost/asio.hpp>
#include <nlohmann/json.hpp>

#include "test_pattern.hpp"
#include "webrtc/negotiation.hpp"
#include "webrtc/webrtc_connection.hpp"
#include "webrtc/webrtc_server.hpp"

using namespace switchboard;
using namespace switchboard::webrtc;
using json = nlohmann::json;
namespace asio = boost::asio;

namespace {

void emit(const json& event) {
  std::cout << event.dump() << std::endl;
}

struct Expectation {
  std::uint32_t count = 0;
  std::uint32_t received = 0;
  std::uint64_t bytes = 0;
  bool ok = true;
  bool reported = false;
};

class Peer {
 public:
  Peer(asio::io_context& io, std::string bind) : io_(io), server_(io), bind_(std::move(bind)) {}

  bool init() {
    auto cert = Certificate::generate();
    if (!cert) return fail(cert.error().message);
    certificate_ = *cert;
    auto listening = server_.listen({asio::ip::make_address(bind_), 0});
    if (!listening) return fail(listening.error().message);
    emit({{"event", "ready"}, {"port", server_.port()}});
    return true;
  }

  void command(const json& cmd) {
    const std::string op = cmd.value("op", "");
    if (op == "offer") return offer(cmd.at("sdp").get<std::string>());
    if (op == "expect") return expect(cmd.at("label"), cmd.at("count"));
    if (op == "send") return send(cmd.at("label"), cmd.at("count"));
    fail("unknown op " + op);
  }

 private:
  bool fail(const std::string& message) {
    emit({{"event", "failed"}, {"message", message}});
    return false;
  }

  void offer(const std::string& sdp) {
    auto offer = parse_sdp(sdp);
    if (!offer) {
      fail(offer.error().message);
      return;
    }
    const IceCredentials ice = random_ice_credentials();
    auto address = SocketAddress::parse(bind_, server_.port());
    SessionDescription answer = make_lite_answer(*offer, ice, *certificate_, *address, 262144);
    WebRtcConnection::Config config{
        .certificate = certificate_,
        .dtls_role = answerer_dtls_role(offer->setup),
        .remote_fingerprint = offer->fingerprint,
        .remote_sctp_port = offer->sctp_port,
        .remote_max_message_size = offer->max_message_size,
        .local_max_message_size = 262144,
    };
    session_ =
        server_.add_session(ice, offer->ice_ufrag,
                            {.datagram = [this](ByteView d) { connection_->handle_datagram(d); },
                             .consent_lost = [this] { fail("ICE consent lost"); }});
    connection_ = std::make_unique<WebRtcConnection>(
        io_, config,
        WebRtcConnection::Callbacks{
            .send_datagram = [this](ByteView d) { server_.send(session_, d); },
            .connected =
                [] {
                  emit({{"event", "connected"}});
                },
            .channel_opened =
                [this](std::uint16_t stream, const ChannelParams& p) {
                  labels_[stream] = p.label;
                  streams_[p.label] = stream;
                  emit({{"event", "channel"}, {"label", p.label}, {"stream", stream}});
                },
            .message = [this](std::uint16_t stream, ByteView data,
                              bool) { on_message(labels_[stream], data); },
            .channel_closed =
                [this](std::uint16_t stream) {
                  emit({{"event", "channel_closed"}, {"label", labels_[stream]}});
                },
            .buffered_amount_low = [this] { pump(); },
            .failed = [this](const Error& e) { fail(e.message); },
        });
    connection_->start();
    emit({{"event", "answer"}, {"sdp", write_sdp(answer)}});
  }

  void on_message(const std::string& label, ByteView data) {
    Expectation& e = expectations_[label];
    if (!interop::matches_pattern(e.received, data)) e.ok = false;
    ++e.received;
    e.bytes += data.size();
    report(label);
  }

  void expect(const std::string& label, std::uint32_t count) {
    expectations_[label].count = count;
    report(label);
  }

  void report(const std::string& label) {
    Expectation& e = expectations_[label];
    if (e.reported || e.count == 0 || e.received < e.count) return;
    e.reported = true;
    emit({{"event", "received"},
          {"label", label},
          {"count", e.received},
          {"bytes", e.bytes},
          {"ok", e.ok && e.received == e.count}});
  }

  void send(const std::string& label, std::uint32_t count) {
    if (!connection_) {
      fail("send before offer");
      return;
    }
    auto stream = connection_->open_channel({.label = label});
    if (!stream) {
      fail(stream.error().message);
      return;
    }
    sending_ = {*stream, label, count, 0};
    connection_->set_buffered_amount_low_threshold(1024 * 1024);
    pump();
  }

  // Sends until SCTP's buffer is full, then waits for the low-water callback.
  void pump() {
    if (!sending_ || sending_->next >= sending_->count) return;
    while (sending_->next < sending_->count) {
      Bytes m = interop::pattern_message(sending_->next);
      auto r = connection_->send(sending_->stream, m);
      if (!r) {
        if (r.error().code != ErrorCode::BufferFull) fail(r.error().message);
        return;
      }
      ++sending_->next;
    }
    emit({{"event", "sent"}, {"label", sending_->label}, {"count", sending_->count}});
  }

  struct Sending {
    std::uint16_t stream;
    std::string label;
    std::uint32_t count;
    std::uint32_t next;
  };

  asio::io_context& io_;
  WebRtcServer server_;
  std::string bind_;
  std::shared_ptr<const Certificate> certificate_;
  WebRtcServer::SessionId session_ = 0;
  std::unique_ptr<WebRtcConnection> connection_;
  std::map<std::uint16_t, std::string> labels_;
  std::map<std::string, std::uint16_t> streams_;
  std::map<std::string, Expectation> expectations_;
  std::optional<Sending> sending_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string bind = argc > 1 ? argv[1] : "127.0.0.1";
  asio::io_context io;
  Peer peer(io, bind);
  if (!peer.init()) return 1;
  // stdin is read on its own thread; commands run on the loop.
  auto work = asio::make_work_guard(io);
  std::thread reader([&] {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.empty()) continue;
      json cmd = json::parse(line, nullptr, false);
      if (cmd.is_discarded()) continue;
      asio::post(io, [&peer, cmd] { peer.command(cmd); });
    }
    asio::post(io, [&] { io.stop(); });
  });
  io.run();
  reader.join();
  return 0;
}
