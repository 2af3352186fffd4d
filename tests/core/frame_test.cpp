#include <gtest/gtest.h>

#include "core/frame.hpp"

namespace switchboard::core {
namespace {

Bytes encode(const FrameHeader& h, std::vector<ParticipantId> to, std::string_view payload) {
  Bytes out;
  encode_frame(h, to, as_bytes(payload), out);
  return out;
}

FrameHeader data_header(std::uint16_t channel, std::uint32_t seq) {
  FrameHeader h;
  h.channel_id = channel;
  h.sequence = seq;
  return h;
}

ErrorCode decode_error(Bytes bytes) {
  ByteView in(bytes);
  auto r = decode_frame(in);
  EXPECT_FALSE(r);
  return r ? ErrorCode::Internal : r.error().code;
}

TEST(Frame, LayoutMatchesProtocolDocument) {
  FrameHeader h = data_header(0x2710, 0x01020304);
  h.reliability = Reliability::Lossy;
  h.priority = Priority::High;
  Bytes b = encode(h, {7, 9}, "hi");
  const Bytes expected{0x01, 0x01, 0x13, 0x00, 0x27, 0x10, 0x01, 0x02, 0x03, 0x04,
                       0x00, 0x00, 0x00, 0x02, 0x00, 0x02, 0x00, 0x00, 0x00, 0x07,
                       0x00, 0x00, 0x00, 0x09, 'h',  'i'};
  EXPECT_EQ(b, expected);
}

TEST(Frame, RoundTripsDataWithRecipients) {
  FrameHeader h = data_header(10000, 42);
  h.priority = Priority::High;
  Bytes b = encode(h, {3, 4, 5}, "hello");
  ByteView in(b);
  auto f = decode_frame(in);
  ASSERT_TRUE(f);
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(f->header.type, FrameType::Data);
  EXPECT_EQ(f->header.channel_id, 10000);
  EXPECT_EQ(f->header.sequence, 42u);
  EXPECT_EQ(f->header.priority, Priority::High);
  EXPECT_EQ(f->header.reliability, Reliability::Durable);
  EXPECT_FALSE(f->header.from);
  ASSERT_EQ(f->to.size(), 3u);
  EXPECT_EQ(f->to[0], 3u);
  EXPECT_EQ(f->to[2], 5u);
  EXPECT_EQ(as_string(f->payload), "hello");
}

TEST(Frame, RoundTripsFragmentWithSender) {
  FrameHeader h = data_header(65535, 0xffffffff);
  h.fragmented = true;
  h.message_size = 100000;
  h.fragment_offset = 16384;
  h.from = 77;
  Bytes b = encode(h, {}, "piece");
  ByteView in(b);
  auto f = decode_frame(in);
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->header.fragmented);
  EXPECT_EQ(f->header.message_size, 100000u);
  EXPECT_EQ(f->header.fragment_offset, 16384u);
  EXPECT_EQ(f->header.from, 77u);
  EXPECT_EQ(f->header.sequence, 0xffffffffu);
  EXPECT_TRUE(f->to.empty());
}

TEST(Frame, RoundTripsClose) {
  FrameHeader h = data_header(5, 12);
  h.type = FrameType::Close;
  Bytes b = encode(h, {2}, "");
  ByteView in(b);
  auto f = decode_frame(in);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->header.type, FrameType::Close);
  EXPECT_EQ(f->header.sequence, 12u);
  EXPECT_TRUE(f->payload.empty());
}

TEST(Frame, DecodesSeveralFramesFromOneBuffer) {
  Bytes b = encode(data_header(1, 1), {}, "a");
  Bytes second = encode(data_header(2, 2), {}, "bb");
  b.insert(b.end(), second.begin(), second.end());
  ByteView in(b);
  auto first = decode_frame(in);
  auto next = decode_frame(in);
  ASSERT_TRUE(first && next);
  EXPECT_EQ(as_string(first->payload), "a");
  EXPECT_EQ(as_string(next->payload), "bb");
  EXPECT_TRUE(in.empty());
}

TEST(Frame, RejectsEveryTruncation) {
  FrameHeader h = data_header(3, 3);
  h.fragmented = true;
  h.message_size = 10;
  h.from = 1;
  Bytes full = encode(h, {4, 5}, "abc");
  for (std::size_t len = 0; len < full.size(); ++len) {
    Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
    ByteView in(cut);
    EXPECT_FALSE(decode_frame(in)) << "prefix of " << len << " bytes decoded";
    EXPECT_EQ(in.size(), len) << "a failed decode must not consume input";
  }
}

TEST(Frame, RejectsUnknownVersionTypeFlagsAndReservedByte) {
  Bytes good = encode(data_header(1, 1), {}, "x");
  Bytes b = good;
  b[0] = 2;
  EXPECT_EQ(decode_error(b), ErrorCode::InvalidArgument);
  b = good;
  b[1] = 9;
  EXPECT_EQ(decode_error(b), ErrorCode::InvalidArgument);
  b = good;
  b[2] = 0x80;
  EXPECT_EQ(decode_error(b), ErrorCode::InvalidArgument);
  b = good;
  b[3] = 1;
  EXPECT_EQ(decode_error(b), ErrorCode::InvalidArgument);
}

TEST(Frame, RejectsChannelZeroWithInvalidChannelId) {
  EXPECT_EQ(decode_error(encode(data_header(0, 1), {}, "x")), ErrorCode::InvalidChannelId);
}

TEST(Frame, RejectsEmptyDataWithMessageEmpty) {
  EXPECT_EQ(decode_error(encode(data_header(1, 1), {}, "")), ErrorCode::MessageEmpty);
}

TEST(Frame, RejectsMoreThan64RecipientsWithTooManyParticipants) {
  std::vector<ParticipantId> to(65);
  for (std::size_t i = 0; i < to.size(); ++i) to[i] = static_cast<ParticipantId>(i + 1);
  EXPECT_EQ(decode_error(encode(data_header(1, 1), to, "x")), ErrorCode::TooManyParticipants);
  to.resize(64);
  Bytes ok = encode(data_header(1, 1), to, "x");
  ByteView in(ok);
  EXPECT_TRUE(decode_frame(in));
}

TEST(Frame, RejectsFragmentReachingPastItsMessage) {
  FrameHeader h = data_header(1, 1);
  h.fragmented = true;
  h.message_size = 4;
  h.fragment_offset = 2;
  EXPECT_EQ(decode_error(encode(h, {}, "abc")), ErrorCode::InvalidArgument);
}

TEST(Frame, RejectsMessagesOver16MiB) {
  FrameHeader h = data_header(1, 1);
  h.fragmented = true;
  h.message_size = 16 * 1024 * 1024 + 1;
  EXPECT_EQ(decode_error(encode(h, {}, "abc")), ErrorCode::MessageTooLarge);
}

TEST(Frame, RejectsCloseWithPayloadAndSenderZero) {
  FrameHeader h = data_header(1, 1);
  h.type = FrameType::Close;
  EXPECT_EQ(decode_error(encode(h, {}, "x")), ErrorCode::InvalidArgument);
  FrameHeader z = data_header(1, 1);
  z.from = 0;
  EXPECT_EQ(decode_error(encode(z, {}, "x")), ErrorCode::InvalidArgument);
}

TEST(Frame, RejectsLengthFieldClaimingMoreThanTheBuffer) {
  Bytes b = encode(data_header(1, 1), {}, "x");
  b[13] = 0xff;  // payload length low byte
  EXPECT_EQ(decode_error(b), ErrorCode::InvalidArgument);
}

FrameHeader control_header(FrameType type, std::uint32_t session) {
  FrameHeader h;
  h.type = type;
  h.channel_id = 0;
  h.sequence = session;
  return h;
}

TEST(Frame, RoundTripsPathControlFramesOnChannelZero) {
  FrameHeader sw = control_header(FrameType::Switch, 3);
  sw.priority = Priority::High;
  Bytes b = encode(sw, {7}, "");
  const Bytes expected{0x01, 0x03, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
                       0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x07};
  EXPECT_EQ(b, expected);
  ByteView in(b);
  auto decoded = decode_frame(in);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->header.type, FrameType::Switch);
  EXPECT_EQ(decoded->header.sequence, 3U);
  EXPECT_EQ(decoded->header.priority, Priority::High);

  Bytes resent = encode(control_header(FrameType::Resent, 3), {}, std::string_view("\0\0\0\x05msg", 7));
  in = ByteView(resent);
  decoded = decode_frame(in);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->header.type, FrameType::Resent);
  EXPECT_EQ(decoded->payload.size(), 7U);
}

TEST(Frame, RejectsPathControlFramesThatBreakTheirRules) {
  EXPECT_EQ(decode_error(encode(control_header(FrameType::Switch, 1), {}, "x")),
            ErrorCode::InvalidArgument);  // a switch has no payload
  EXPECT_EQ(decode_error(encode(control_header(FrameType::Resent, 1), {}, "abcd")),
            ErrorCode::InvalidArgument);  // an index and nothing after it
  FrameHeader on_channel = control_header(FrameType::Switch, 1);
  on_channel.channel_id = 5;
  EXPECT_EQ(decode_error(encode(on_channel, {}, "")), ErrorCode::InvalidArgument);
  FrameHeader lossy = control_header(FrameType::Resent, 1);
  lossy.reliability = Reliability::Lossy;
  EXPECT_EQ(decode_error(encode(lossy, {}, "abcde")), ErrorCode::InvalidArgument);
  Bytes b = encode(control_header(FrameType::Switch, 1), {}, "");
  b[1] = 5;  // no type after RESENT
  EXPECT_EQ(decode_error(b), ErrorCode::InvalidArgument);
}

}  // namespace
}  // namespace switchboard::core
