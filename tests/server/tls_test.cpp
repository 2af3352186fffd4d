// TLS on the server's TCP port (--tls-cert, --tls-key): https for /metrics and the Web
// SDK, wss for signaling; a plain-text client is refused without harm to the others, a
// silent one is cut after the handshake timeout, and unusable files stop the start.
#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include "server/tls_handshake.hpp"
#include "server_harness.hpp"
#include "test_pki.hpp"

namespace switchboard::server {
namespace {

using switchboard::testing::TestPki;
using testing::ServerThread;
namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using nlohmann::json;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

ServerConfig tls_config(const TestPki& pki) {
  ServerConfig c;
  c.port = 0;
  c.dev = true;
  c.tls_cert = pki.server_cert();
  c.tls_key = pki.server_key();
  EXPECT_TRUE(validate(c));
  return c;
}

// A client context that trusts only the test CA and checks the name `host`.
struct TlsClient {
  TlsClient(std::uint16_t port, const std::string& ca_file, const std::string& host = "localhost")
      : context(ssl::context::tls_client), stream(io, context) {
    context.set_verify_mode(ssl::verify_peer);
    context.load_verify_file(ca_file);
    SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
    SSL_set1_host(stream.native_handle(), host.c_str());
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(stream).connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  // Every exchange runs on `io` for at most a few seconds, so a server that never answers
  // fails the test instead of hanging it (Beast's timeouts bound async operations only).
  beast::error_code handshake() {
    beast::error_code result = asio::error::timed_out;
    stream.async_handshake(ssl::stream_base::client, [&](beast::error_code ec) { result = ec; });
    run();
    return result;
  }
  void run() {
    io.restart();
    io.run_for(std::chrono::seconds(15));
  }

  asio::io_context io;
  ssl::context context;
  TlsStream stream;
};

struct Reply {
  unsigned status = 0;
  std::string body;
  std::string content_type;
};

Reply https_get(std::uint16_t port, const std::string& ca_file, const std::string& target) {
  TlsClient client(port, ca_file);
  const auto ec = client.handshake();
  EXPECT_FALSE(ec) << ec.message();
  if (ec) return {};
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, "localhost");
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  beast::error_code failure = asio::error::timed_out;
  http::async_write(client.stream, request, [&](beast::error_code write_ec, std::size_t) {
    if (write_ec) {
      failure = write_ec;
      return;
    }
    http::async_read(client.stream, buffer, response,
                     [&](beast::error_code read_ec, std::size_t) { failure = read_ec; });
  });
  client.run();
  EXPECT_FALSE(failure) << "GET " << target << ": " << failure.message();
  return {response.result_int(), response.body(), std::string(response[http::field::content_type])};
}

// What a plain-TCP client sending `request` gets back before the server closes (at most
// 15 s of it).
std::string plain_exchange(std::uint16_t port, const std::string& request) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::write(socket, asio::buffer(request));
  std::string received;
  std::array<char, 4096> chunk{};
  std::function<void()> read = [&] {
    socket.async_read_some(asio::buffer(chunk), [&](beast::error_code ec, std::size_t n) {
      received.append(chunk.data(), n);
      if (!ec) read();
    });
  };
  read();
  io.run_for(std::chrono::seconds(15));
  return received;
}

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

TEST(TlsConfig, CertificateAndKeyAreReadFromTomlAndJson) {
  ServerConfig toml;
  ASSERT_TRUE(apply_config_text("tls_cert = \"/etc/c.pem\"\ntls_key = \"/etc/k.pem\"\n",
                                ConfigFormat::Toml, toml));
  EXPECT_EQ(toml.tls_cert, "/etc/c.pem");
  EXPECT_EQ(toml.tls_key, "/etc/k.pem");
  ServerConfig json_config;
  ASSERT_TRUE(apply_config_text(R"({"tls_cert": "c.pem", "tls_key": "k.pem"})", ConfigFormat::Json,
                                json_config));
  EXPECT_EQ(json_config.tls_cert, "c.pem");
  EXPECT_EQ(json_config.tls_key, "k.pem");
}

TEST(TlsConfig, ACertificateWithoutItsKeyIsRefused) {
  ServerConfig c;
  c.dev = true;
  c.tls_cert = "/etc/c.pem";
  auto r = validate(c);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(r.error().message.find("--tls-key"), std::string::npos) << r.error().message;
  c.tls_cert.clear();
  c.tls_key = "/etc/k.pem";
  EXPECT_FALSE(validate(c));
}

Result<void> start_with(ServerConfig config) {
  asio::io_context io;
  Server server(io, std::move(config));
  return server.start();
}

TEST(TlsStart, AMissingCertificateFileIsNamed) {
  TestPki pki;
  auto c = tls_config(pki);
  c.tls_cert = (pki.dir() / "absent.pem").string();
  auto r = start_with(c);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(r.error().message.find("absent.pem"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("No such file"), std::string::npos) << r.error().message;
}

TEST(TlsStart, AFileThatIsNoCertificateIsRefused) {
  TestPki pki;
  auto c = tls_config(pki);
  c.tls_cert = (pki.dir() / "garbage.pem").string();
  write_file(c.tls_cert, "not a certificate\n");
  auto r = start_with(c);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(r.error().message.find("cannot use the TLS certificate"), std::string::npos)
      << r.error().message;
}

TEST(TlsStart, AKeyOfAnotherCertificateIsRefused) {
  TestPki pki;
  auto c = tls_config(pki);
  c.tls_key = pki.other_key();
  auto r = start_with(c);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(r.error().message.find("does not belong"), std::string::npos) << r.error().message;
}

TEST(TlsServer, MetricsAndTheSdkAreServedOverHttps) {
  TestPki pki;
  auto c = tls_config(pki);
  c.web_root = (pki.dir() / "web").string();
  write_file(pki.dir() / "web" / "switchboard.js", "export const sdk = 1;\n");
  ServerThread server(c);
  auto metrics = https_get(server.port(), pki.ca_cert(), "/metrics");
  EXPECT_EQ(metrics.status, 200u);
  EXPECT_NE(metrics.body.find("switchboard_signaling_connections"), std::string::npos)
      << metrics.body;
  auto sdk = https_get(server.port(), pki.ca_cert(), "/sdk/switchboard.js");
  EXPECT_EQ(sdk.status, 200u);
  EXPECT_EQ(sdk.body, "export const sdk = 1;\n");
  EXPECT_NE(sdk.content_type.find("javascript"), std::string::npos) << sdk.content_type;
}

TEST(TlsServer, SignalingRunsOverWss) {
  TestPki pki;
  ServerThread server(tls_config(pki));
  TlsClient client(server.port(), pki.ca_cert());
  ASSERT_FALSE(client.handshake());
  websocket::stream<TlsStream&> ws(client.stream);
  ws.handshake("localhost", "/v1/signal");
  ws.text(true);
  ws.write(asio::buffer(json{
      {"type", "join"},
      {"req", "j"},
      {"token", testing::dev_token("alice", "tls-call")},
      {"call", "tls-call"}}.dump()));
  beast::flat_buffer buffer;
  ws.read(buffer);
  const auto joined = json::parse(beast::buffers_to_string(buffer.data()));
  EXPECT_EQ(joined["type"], "joined") << joined.dump();
  EXPECT_EQ(joined["identity"], "alice");
}

TEST(TlsServer, APlainTextClientGetsA400AndTheServerKeepsServing) {
  TestPki pki;
  ServerThread server(tls_config(pki));
  const std::string reply = plain_exchange(
      server.port(), "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply;
  EXPECT_NE(reply.find("use https:// or wss://"), std::string::npos) << reply;
  EXPECT_EQ(reply.find("switchboard_"), std::string::npos) << "metrics leaked over plain TCP";
  // A plain WebSocket upgrade is refused the same way.
  const std::string upgrade = plain_exchange(
      server.port(),
      "GET /v1/signal HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: "
      "Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: "
      "13\r\n\r\n");
  EXPECT_TRUE(upgrade.starts_with("HTTP/1.1 400")) << upgrade;
  // Still serving TLS.
  EXPECT_EQ(https_get(server.port(), pki.ca_cert(), "/healthz").body, "ok");
}

TEST(TlsServer, ASilentClientIsCutAfterTheHandshakeTimeout) {
  TestPki pki;
  ServerThread server(tls_config(pki));
  asio::io_context io;
  tcp::socket silent(io);
  silent.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
  const auto start = std::chrono::steady_clock::now();
  // Wait (bounded) until the server ends the connection: readable, then EOF or a reset.
  pollfd watch{silent.native_handle(), POLLIN, 0};
  const auto bound = std::chrono::duration_cast<std::chrono::milliseconds>(
      kTlsHandshakeTimeout + std::chrono::seconds(10));
  const int ready = ::poll(&watch, 1, static_cast<int>(bound.count()));
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(ready, 1) << "the server still holds a silent connection after "
                      << std::chrono::duration_cast<std::chrono::seconds>(waited).count() << " s";
  char byte = 0;
  const auto n = ::recv(silent.native_handle(), &byte, 1, MSG_DONTWAIT);
  EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET)) << "got " << n << " bytes instead of EOF";
  EXPECT_GE(waited, kTlsHandshakeTimeout - std::chrono::seconds(1));
  // Others are served meanwhile and after.
  EXPECT_EQ(https_get(server.port(), pki.ca_cert(), "/healthz").body, "ok");
}

}  // namespace
}  // namespace switchboard::server
