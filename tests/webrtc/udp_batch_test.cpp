#include "webrtc/udp_batch.hpp"

#include <chrono>
#include <thread>

#include <boost/asio.hpp>
#include <gtest/gtest.h>

#include "webrtc/webrtc_server.hpp"

namespace switchboard::webrtc {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;

struct Loopback {
  Loopback()
      : tx(io, {asio::ip::make_address("127.0.0.1"), 0}),
        rx(io, {asio::ip::make_address("127.0.0.1"), 0}) {
    rx.non_blocking(true);
  }
  SocketAddress rx_address() const { return to_socket_address(rx.local_endpoint()); }

  // Everything that arrives within a short while, one entry per datagram.
  std::vector<Bytes> receive_all(std::size_t expected) {
    std::vector<Bytes> got;
    std::array<std::uint8_t, 65536> buffer{};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (got.size() < expected && std::chrono::steady_clock::now() < deadline) {
      receive_datagrams(rx.native_handle(), buffer, 64, [&](ByteView d, const SocketAddress& from) {
        EXPECT_EQ(from, to_socket_address(tx.local_endpoint()));
        got.emplace_back(d.begin(), d.end());
      });
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return got;
  }

  asio::io_context io;
  udp::socket tx;
  udp::socket rx;
};

Bytes datagram(std::size_t size, std::uint8_t tag) {
  Bytes b(size, tag);
  b[0] = tag;
  return b;
}

TEST(UdpBatch, DeliversEveryDatagramIntactAndInOrderWithoutCoalescing) {
  Loopback net;
  DatagramBatch batch;
  std::vector<Bytes> sent;
  for (std::uint8_t i = 0; i < 40; ++i) {
    sent.push_back(datagram(i % 10 == 9 ? 300 : 1200, i));  // runs of equal size, then a short one
    batch.add(net.rx_address(), sent.back());
  }
  EXPECT_EQ(batch.flush(net.tx.native_handle()), 0u);
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(net.receive_all(sent.size()), sent);
}

TEST(UdpBatch, CoalescedReceiveSplitsRunsBackIntoDatagrams) {
  Loopback net;
  ASSERT_TRUE(enable_receive_coalescing(net.rx.native_handle()));
  DatagramBatch batch;
  std::vector<Bytes> sent;
  for (std::uint8_t i = 0; i < 100; ++i) {
    sent.push_back(datagram(i == 99 ? 77 : 1225, i));
    batch.add(net.rx_address(), sent.back());
  }
  EXPECT_EQ(batch.flush(net.tx.native_handle()), 0u);
  EXPECT_EQ(net.receive_all(sent.size()), sent);
}

TEST(UdpBatch, KeepsDestinationsApart) {
  Loopback net;
  udp::socket other(net.io, {asio::ip::make_address("127.0.0.1"), 0});
  other.non_blocking(true);
  DatagramBatch batch;
  batch.add(net.rx_address(), datagram(100, 1));
  batch.add(to_socket_address(other.local_endpoint()), datagram(100, 2));
  batch.add(net.rx_address(), datagram(100, 3));
  EXPECT_EQ(batch.flush(net.tx.native_handle()), 0u);
  auto got = net.receive_all(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0][0], 1);
  EXPECT_EQ(got[1][0], 3);
  std::array<std::uint8_t, 2048> buffer{};
  std::vector<Bytes> at_other;
  for (int i = 0; i < 100 && at_other.empty(); ++i) {
    receive_datagrams(other.native_handle(), buffer, 4, [&](ByteView d, const SocketAddress&) {
      at_other.emplace_back(d.begin(), d.end());
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(at_other.size(), 1u);
  EXPECT_EQ(at_other[0][0], 2);
}

}  // namespace
}  // namespace switchboard::webrtc
