#include "signaling/messages.hpp"

#include <string>

#include <gtest/gtest.h>

namespace switchboard::signaling {
namespace {

void expect_round_trip(const Message& message) {
  const auto text = serialize(message);
  auto parsed = parse_message(text);
  ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.error().message;
  EXPECT_EQ(*parsed, message) << text;
}

void expect_invalid(std::string_view text, std::string_view field) {
  auto parsed = parse_message(text);
  ASSERT_FALSE(parsed.ok()) << text;
  EXPECT_EQ(parsed.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(parsed.error().message.find(field), std::string::npos) << parsed.error().message;
}

TEST(SignalingMessage, EveryTypeRoundTrips) {
  expect_round_trip(Join{"r1", "tok.en.sig", "Alice", true, std::nullopt, std::nullopt, std::nullopt});
  expect_round_trip(Join{std::nullopt, "t", std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt});
  expect_round_trip(Leave{"r2"});
  expect_round_trip(Leave{});
  expect_round_trip(Ping{"r3"});
  expect_round_trip(Pong{"r3"});
  expect_round_trip(Offer{"r4", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n", 7, std::nullopt});
  expect_round_trip(Offer{std::nullopt, "v=0\r\n", std::nullopt, std::nullopt});
  expect_round_trip(Answer{"r5", "v=0\r\n", std::nullopt, std::nullopt});
  expect_round_trip(Answer{std::nullopt, "v=0\r\n", 4294967295U, std::nullopt});
  expect_round_trip(Candidate{"r6", "candidate:1 1 udp 2130706431 192.0.2.1 3478 typ host", 2, std::nullopt});
  expect_round_trip(Candidate{std::nullopt, "", std::nullopt, std::nullopt});
  expect_round_trip(Joined{
      "r1",
      3,
      "alice",
      "Alice",
      "call-1",
      {{1, "bob", "Bob"}, {2, "carol", ""}},
      {{{"stun:stun.example.org:3478"}, std::nullopt, std::nullopt},
       {{"turn:t.example.org:3478?transport=udp", "turns:t.example.org:5349"}, "user", "pass"}},
      262144,
      std::nullopt,
      std::nullopt, std::nullopt, std::nullopt, false, std::nullopt});
  expect_round_trip(Joined{std::nullopt, 0, "a", "", "*", {}, {}, 0, std::nullopt, std::nullopt, std::nullopt, std::nullopt, false, std::nullopt});
  expect_round_trip(ParticipantJoined{std::nullopt, {9, "dave", "Dave"}});
  expect_round_trip(ParticipantLeft{std::nullopt, 9, "dave"});
  expect_round_trip(ErrorReply{"r1", ErrorCode::Unauthorized, "access token rejected: expired", std::nullopt});
  expect_round_trip(ErrorReply{std::nullopt, ErrorCode::CallFull, "", std::nullopt});
  expect_round_trip(ErrorReply{std::nullopt, ErrorCode::ServerFull, "", std::nullopt});
  expect_round_trip(Redirect{std::nullopt, "wss://eu.example.org/v1/signal"});
  expect_round_trip(Join{"r1", "t", std::nullopt, std::nullopt, "call-1", std::nullopt, std::nullopt});
  expect_round_trip(Joined{"r1", 1, "a", "", "c", {}, {}, 1024, 1000000, 5000, std::nullopt, std::nullopt, false, std::nullopt});
  expect_round_trip(ErrorReply{std::nullopt, ErrorCode::TrafficLimited, "slow down", 10000});
  expect_round_trip(Disconnect{std::nullopt, "slow consumer"});
}

TEST(SignalingMessage, SerializesTheAdditionsForTheServer) {
  EXPECT_EQ(serialize(Join{"r1", "tok", std::nullopt, std::nullopt, "c1", std::nullopt, std::nullopt}),
            R"({"type":"join","req":"r1","token":"tok","call":"c1"})");
  EXPECT_EQ(serialize(ErrorReply{std::nullopt, ErrorCode::TrafficLimited, "slow", 7}),
            R"({"type":"error","code":"TRAFFIC_LIMITED","message":"slow","channelId":7})");
  EXPECT_EQ(serialize(Disconnect{std::nullopt, "slow consumer"}),
            R"({"type":"disconnect","reason":"slow consumer"})");
  expect_invalid(R"({"type":"join","token":"t","call":""})", "\"call\"");
  expect_invalid(R"({"type":"disconnect"})", "\"reason\" is missing");
}

TEST(SignalingMessage, PeerToPeerMessagesCarryTheDirectSession) {
  expect_round_trip(P2p{std::nullopt, 7, 3, true});
  expect_round_trip(P2p{"r1", 4294967295U, 0, false});
  expect_round_trip(Offer{std::nullopt, "v=0\r\n", 7, 3});
  expect_round_trip(Answer{std::nullopt, "v=0\r\n", 7, 3});
  expect_round_trip(Candidate{std::nullopt, "", 7, 3});
  EXPECT_EQ(serialize(P2p{std::nullopt, 7, 3, true}),
            R"({"type":"p2p","peer":7,"session":3,"offer":true})");
  EXPECT_EQ(serialize(Candidate{std::nullopt, "", 2, 5}),
            R"({"type":"candidate","candidate":"","peer":2,"session":5})");
  auto implicit = parse_message(R"({"type":"p2p","peer":7,"session":1})");
  ASSERT_TRUE(implicit.ok());
  EXPECT_FALSE(std::get<P2p>(*implicit).offer);
  expect_invalid(R"({"type":"p2p","peer":0,"session":1})", "\"peer\"");
  expect_invalid(R"({"type":"p2p","peer":7})", "\"session\" is missing");
  expect_invalid(R"({"type":"p2p","peer":7,"session":1,"offer":"yes"})", "\"offer\"");
  expect_invalid(R"({"type":"offer","sdp":"v=0","session":-1})", "\"session\"");
}

TEST(SignalingMessage, P2pFailedNamesThePeerAndTheSessionThatFailed) {
  expect_round_trip(P2pFailed{std::nullopt, 7, 3});
  expect_round_trip(P2pFailed{"r1", 4294967295U, 4294967295U});
  EXPECT_EQ(serialize(P2pFailed{std::nullopt, 7, 3}),
            R"({"type":"p2p_failed","peer":7,"session":3})");
  expect_invalid(R"({"type":"p2p_failed","peer":0,"session":1})", "\"peer\"");
  expect_invalid(R"({"type":"p2p_failed","session":1})", "\"peer\" is missing");
  expect_invalid(R"({"type":"p2p_failed","peer":7})", "\"session\" is missing");
  expect_invalid(R"({"type":"p2p_failed","peer":7,"session":4294967296})", "\"session\"");
}

TEST(SignalingMessage, ClientsMayReadServerMessagesLargerThanTheClientLimit) {
  std::string big = R"({"type":"disconnect","reason":")" + std::string(70 * 1024, 'x') + "\"}";
  EXPECT_FALSE(parse_message(big).ok());
  // The reason itself is bounded at 4 KiB, but the size check comes first and must pass.
  auto parsed = parse_message(big, kMaxServerMessageSize);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("\"reason\""), std::string::npos);
}

TEST(SignalingMessage, SerializesTheDocumentedWireNames) {
  EXPECT_EQ(serialize(Join{"r1", "tok", "Alice", false, std::nullopt, std::nullopt, std::nullopt}),
            R"({"type":"join","req":"r1","token":"tok","displayName":"Alice","p2p":false})");
  EXPECT_EQ(serialize(ParticipantLeft{std::nullopt, 9, "dave"}),
            R"({"type":"participant_left","participantId":9,"identity":"dave"})");
  EXPECT_EQ(serialize(ErrorReply{"x", ErrorCode::Unauthorized, "no", std::nullopt}),
            R"({"type":"error","req":"x","code":"UNAUTHORIZED","message":"no"})");
  EXPECT_EQ(serialize(Pong{}), R"({"type":"pong"})");
}

TEST(SignalingMessage, UnknownExtraFieldsAreIgnored) {
  auto parsed = parse_message(R"({"type":"ping","req":"a","future":{"x":[1,2]}})");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, Message{Ping{"a"}});
}

TEST(SignalingMessage, NotJsonIsRejected) {
  expect_invalid("", "not valid JSON");
  expect_invalid("{\"type\":", "not valid JSON");
  expect_invalid("ping", "not valid JSON");
}

TEST(SignalingMessage, NonObjectIsRejected) {
  expect_invalid("[]", "not a JSON object");
  expect_invalid("\"ping\"", "not a JSON object");
  expect_invalid("42", "not a JSON object");
}

TEST(SignalingMessage, UnknownOrMissingTypeIsRejected) {
  expect_invalid(R"({"type":"dance"})", "\"type\" is not a known message type");
  expect_invalid(R"({"req":"1"})", "\"type\" is missing");
  expect_invalid(R"({"type":7})", "\"type\"");
}

TEST(SignalingMessage, MissingRequiredFieldIsRejectedByName) {
  expect_invalid(R"({"type":"join"})", "\"token\" is missing");
  expect_invalid(R"({"type":"offer"})", "\"sdp\" is missing");
  expect_invalid(R"({"type":"candidate","peer":1})", "\"candidate\" is missing");
  expect_invalid(R"({"type":"redirect"})", "\"url\" is missing");
  expect_invalid(R"({"type":"error","code":"INTERNAL"})", "\"message\" is missing");
  expect_invalid(R"({"type":"joined","participantId":1,"identity":"a","displayName":"","call":"c",)"
                 R"("participants":[],"maxMessageSize":1})",
                 "\"iceServers\" is missing");
  expect_invalid(R"({"type":"participant_left","identity":"a"})", "\"participantId\" is missing");
}

TEST(SignalingMessage, WrongJsonTypeIsRejectedByName) {
  expect_invalid(R"({"type":"join","token":5})", "\"token\"");
  expect_invalid(R"({"type":"join","token":"t","p2p":"yes"})", "\"p2p\"");
  expect_invalid(R"({"type":"ping","req":1})", "\"req\"");
  expect_invalid(R"({"type":"offer","sdp":"v=0","peer":-1})", "\"peer\"");
  expect_invalid(R"({"type":"offer","sdp":"v=0","peer":1.5})", "\"peer\"");
  expect_invalid(R"({"type":"offer","sdp":"v=0","peer":4294967296})", "\"peer\"");
  expect_invalid(R"({"type":"error","code":"NOPE","message":""})", "\"code\"");
  expect_invalid(
      R"({"type":"joined","participantId":1,"identity":"a","displayName":"","call":"c",)"
      R"("participants":[{"participantId":2,"identity":"b"}],"iceServers":[],"maxMessageSize":1})",
      "\"displayName\" is missing");
  expect_invalid(R"({"type":"joined","participantId":1,"identity":"a","displayName":"","call":"c",)"
                 R"("participants":[],"iceServers":[{"urls":"stun:x"}],"maxMessageSize":1})",
                 "\"urls\"");
}

TEST(SignalingMessage, OversizeTextIsRejected) {
  std::string text = R"({"type":"ping","pad":")";
  text += std::string(kMaxSignalingMessageSize, 'x');
  text += "\"}";
  expect_invalid(text, "longer than 65536");
}

TEST(SignalingMessage, TooLongStringsAreRejected) {
  const std::string sdp(kMaxSdpSize + 1, 's');
  expect_invalid(R"({"type":"offer","sdp":")" + sdp + "\"}", "\"sdp\"");
  const std::string ok_sdp(kMaxSdpSize, 's');
  EXPECT_TRUE(parse_message(R"({"type":"answer","sdp":")" + ok_sdp + "\"}").ok());
  const std::string candidate(kMaxCandidateSize + 1, 'c');
  expect_invalid(R"({"type":"candidate","candidate":")" + candidate + "\"}", "\"candidate\"");
  const std::string identity(129, 'i');
  expect_invalid(R"({"type":"participant_left","participantId":1,"identity":")" + identity + "\"}",
                 "\"identity\"");
  expect_invalid(R"({"type":"participant_left","participantId":1,"identity":""})", "\"identity\"");
}

}  // namespace
}  // namespace switchboard::signaling

namespace switchboard::signaling {
namespace {

TEST(SignalingMessage, ResumingRoundTripsWithItsDocumentedNames) {
  Join join{"j", "tok", std::nullopt, true, "c1", true, ResumeRequest{"abc", {1042, 3}}};
  expect_round_trip(join);
  EXPECT_EQ(serialize(join),
            R"({"type":"join","req":"j","token":"tok","p2p":true,"call":"c1","resumable":true,)"
            R"("resume":{"token":"abc","received":[1042,3]}})");
  const Joined joined{"j",          3,     "alice",  "Alice",        "c1", {}, {}, 262144,
                      std::nullopt, std::nullopt, "abc", 30000U, true, DurableCounts{977, 3}};
  expect_round_trip(joined);
  EXPECT_NE(serialize(joined).find(R"("resumeToken":"abc","resumeGraceMs":30000,"resumed":true,"received":[977,3])"),
            std::string::npos)
      << serialize(joined);
  expect_round_trip(Ack{std::nullopt, {0, 4294967295U}});
  EXPECT_EQ(serialize(Ack{std::nullopt, {5, 6}}), R"({"type":"ack","received":[5,6]})");
}

TEST(SignalingMessage, MalformedResumeFieldsAreRejectedByName) {
  expect_invalid(R"({"type":"ack"})", "\"received\" is missing");
  expect_invalid(R"({"type":"ack","received":[1]})", "\"received\"");
  expect_invalid(R"({"type":"ack","received":[1,-2]})", "\"received\"");
  expect_invalid(R"({"type":"ack","received":[1,4294967296]})", "\"received\"");
  expect_invalid(R"({"type":"join","token":"t","resume":{"received":[1,2]}})", "\"token\"");
  expect_invalid(R"({"type":"join","token":"t","resume":"x"})", "\"resume\"");
  expect_invalid(R"({"type":"join","token":"t","resumable":1})", "\"resumable\"");
  expect_invalid(
      R"({"type":"joined","participantId":1,"identity":"a","displayName":"","call":"c",)"
      R"("participants":[],"iceServers":[],"maxMessageSize":1,"resumed":true})",
      "\"received\" is missing");
}

}  // namespace
}  // namespace switchboard::signaling
