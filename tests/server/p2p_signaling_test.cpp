// Pairing for direct connections: the server's `p2p` message in 1:1 calls, and the relay of
// offers, answers and candidates between the two, over real sockets on 127.0.0.1.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "server_harness.hpp"

namespace switchboard::server::testing {
namespace {

// The next message is `p2p` naming `peer`, with `session` and `offer`.
void expect_p2p(SignalClient& client, std::uint32_t peer, std::uint32_t session, bool offer) {
  auto m = client.receive();
  ASSERT_TRUE(m);
  ASSERT_EQ((*m)["type"], "p2p") << m->dump();
  EXPECT_EQ((*m)["peer"], peer);
  EXPECT_EQ((*m)["session"], session);
  EXPECT_EQ((*m)["offer"], offer);
}

// The next message of each is `p2p` naming the other, in the same session; the lower id
// offers.
void expect_paired(SignalClient& lower, std::uint32_t lower_id, SignalClient& higher,
                   std::uint32_t higher_id, std::uint32_t session) {
  expect_p2p(lower, higher_id, session, true);
  expect_p2p(higher, lower_id, session, false);
}

// `from` (participant `from_id`) sends `message` to its peer, who gets it unchanged but
// for `peer`, which names `from_id`.
void expect_relayed(SignalClient& from, std::uint32_t from_id, SignalClient& to, json message) {
  from.send(message);
  auto got = to.receive();
  ASSERT_TRUE(got);
  message["peer"] = from_id;
  EXPECT_EQ(*got, message);
}

// alice and bob join c1 (as participants 1 and 2) and are paired in its first session.
void join_paired(SignalClient& alice, SignalClient& bob) {
  ASSERT_EQ(alice.join("alice", "c1")["participantId"], 1);
  ASSERT_EQ(bob.join("bob", "c1")["participantId"], 2);
  expect_next(alice, "participant_joined", 2);
  expect_paired(alice, 1, bob, 2, 1);
}

TEST(ServerP2p, TwoParticipantsArePairedInOneSessionAndTheLowerIdOffers) {
  ServerThread server;
  SignalClient alice(server.port());
  ASSERT_EQ(alice.join("alice", "c1")["participantId"], 1);
  SignalClient bob(server.port());
  ASSERT_EQ(bob.join("bob", "c1", "j", true)["participantId"], 2);
  // The roster first, then the pairing.
  expect_next(alice, "participant_joined", 2);
  expect_paired(alice, 1, bob, 2, 1);
  EXPECT_EQ(alice.next_type_before_pong(), "");
  EXPECT_EQ(bob.next_type_before_pong(), "");
}

TEST(ServerP2p, AThirdParticipantBringsNoP2pAndItsLeavingPairsTheTwoInANewSession) {
  ServerThread server;
  SignalClient alice(server.port());
  SignalClient bob(server.port());
  ASSERT_NO_FATAL_FAILURE(join_paired(alice, bob));

  SignalClient carol(server.port());
  ASSERT_EQ(carol.join("carol", "c1")["participantId"], 3);
  expect_next(alice, "participant_joined", 3);
  expect_next(bob, "participant_joined", 3);
  EXPECT_EQ(alice.next_type_before_pong(), "");
  EXPECT_EQ(bob.next_type_before_pong(), "");
  EXPECT_EQ(carol.next_type_before_pong(), "");

  EXPECT_TRUE(carol.leave());
  expect_next(alice, "participant_left", 3);
  expect_next(bob, "participant_left", 3);
  expect_paired(alice, 1, bob, 2, 2);
}

TEST(ServerP2p, ADroppedConnectionAmongThreePairsTheOtherTwo) {
  ServerThread server;
  SignalClient alice(server.port());
  ASSERT_EQ(alice.join("alice", "c1")["type"], "joined");
  SignalClient carol(server.port());
  {
    SignalClient bob(server.port());
    ASSERT_EQ(bob.join("bob", "c1")["participantId"], 2);
    ASSERT_EQ(carol.join("carol", "c1")["participantId"], 3);
    expect_next(alice, "participant_joined", 2);
    expect_p2p(alice, 2, 1, true);
    expect_next(alice, "participant_joined", 3);
    EXPECT_EQ(carol.next_type_before_pong(), "");
  }  // bob's socket closes without leave
  expect_next(alice, "participant_left", 2);
  expect_next(carol, "participant_left", 2);
  expect_paired(alice, 1, carol, 3, 2);
}

TEST(ServerP2p, NoPairingWhenEitherJoinedWithP2pFalse) {
  for (const bool first_refuses : {true, false}) {
    SCOPED_TRACE(first_refuses ? "first refuses" : "second refuses");
    ServerThread server;
    SignalClient alice(server.port());
    ASSERT_EQ(alice.join("alice", "c1", "j", first_refuses ? false : true)["type"], "joined");
    SignalClient bob(server.port());
    ASSERT_EQ(
        bob.join("bob", "c1", "j", first_refuses ? std::nullopt : std::optional(false))["type"],
        "joined");
    expect_next(alice, "participant_joined", 2);
    EXPECT_EQ(alice.next_type_before_pong(), "");
    EXPECT_EQ(bob.next_type_before_pong(), "");
    // Nor when a third comes and goes.
    SignalClient carol(server.port());
    ASSERT_EQ(carol.join("carol", "c1")["type"], "joined");
    EXPECT_TRUE(carol.leave());
    expect_next(alice, "participant_joined", 3);
    expect_next(alice, "participant_left", 3);
    EXPECT_EQ(alice.next_type_before_pong(), "");
    expect_next(bob, "participant_joined", 3);
    expect_next(bob, "participant_left", 3);
    EXPECT_EQ(bob.next_type_before_pong(), "");
  }
}

TEST(ServerP2p, ARejoinThatReplacesAConnectionPairsTheNewOneInANewSession) {
  ServerThread server;
  SignalClient bob(server.port());
  ASSERT_EQ(bob.join("bob", "c1")["participantId"], 1);
  SignalClient alice(server.port());
  ASSERT_EQ(alice.join("alice", "c1")["participantId"], 2);
  expect_next(bob, "participant_joined", 2);
  expect_paired(bob, 1, alice, 2, 1);

  SignalClient alice2(server.port());
  ASSERT_EQ(alice2.join("alice", "c1")["participantId"], 3);
  expect_next(bob, "participant_left", 2);
  expect_next(bob, "participant_joined", 3);
  expect_paired(bob, 1, alice2, 3, 2);
  EXPECT_EQ(bob.next_type_before_pong(), "");
}

TEST(ServerP2p, ARejoinAmongThreeDoesNotPairTheOtherTwoInBetween) {
  ServerThread server;
  SignalClient alice(server.port());
  SignalClient bob(server.port());
  ASSERT_NO_FATAL_FAILURE(join_paired(alice, bob));
  SignalClient carol(server.port());
  ASSERT_EQ(carol.join("carol", "c1")["participantId"], 3);
  expect_next(alice, "participant_joined", 3);

  SignalClient carol2(server.port());
  ASSERT_EQ(carol2.join("carol", "c1")["participantId"], 4);
  expect_next(alice, "participant_left", 3);
  expect_next(alice, "participant_joined", 4);
  EXPECT_EQ(alice.next_type_before_pong(), "");
  EXPECT_EQ(carol2.next_type_before_pong(), "");
  // When the new carol leaves, alice and bob are paired in the call's next session.
  EXPECT_TRUE(carol2.leave());
  expect_next(alice, "participant_left", 4);
  expect_p2p(alice, 2, 2, true);
}

TEST(ServerP2p, ARefusedThirdJoinDoesNotPairTheTwoAgain) {
  auto config = test_config();
  config.max_participants_per_call = 2;
  ServerThread server(config);
  SignalClient alice(server.port());
  SignalClient bob(server.port());
  ASSERT_NO_FATAL_FAILURE(join_paired(alice, bob));
  SignalClient carol(server.port());
  EXPECT_EQ(carol.join("carol", "c1")["code"], "CALL_FULL");
  EXPECT_EQ(alice.next_type_before_pong(), "");
}

TEST(ServerP2p, OfferAnswerAndCandidatesReachThePeerFromTheSenderWithTheirSession) {
  ServerThread server;
  SignalClient alice(server.port());
  SignalClient bob(server.port());
  ASSERT_NO_FATAL_FAILURE(join_paired(alice, bob));

  const std::string sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";
  expect_relayed(alice, 1, bob, json{{"type", "offer"}, {"sdp", sdp}, {"peer", 2}, {"session", 7}});
  expect_relayed(bob, 2, alice,
                 json{{"type", "answer"}, {"sdp", sdp}, {"peer", 1}, {"session", 7}});
  const std::string host = "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host";
  for (const std::string& c : {host, std::string()}) {  // a candidate, then end-of-candidates
    expect_relayed(bob, 2, alice,
                   json{{"type", "candidate"}, {"candidate", c}, {"peer", 1}, {"session", 7}});
  }

  // To someone not in the call: refused, nothing forwarded.
  alice.send(json{{"type", "offer"}, {"req", "o9"}, {"sdp", sdp}, {"peer", 9}, {"session", 7}});
  auto refused = alice.receive();
  ASSERT_TRUE(refused);
  EXPECT_EQ((*refused)["type"], "error");
  EXPECT_EQ((*refused)["req"], "o9");
  EXPECT_EQ(bob.next_type_before_pong(), "");
}

json p2p_failed(std::uint32_t peer, std::uint32_t session) {
  return json{{"type", "p2p_failed"}, {"peer", peer}, {"session", session}};
}

// Milliseconds from `since` until both get `p2p` in `session`.
long long ms_until_paired(SignalClient& lower, SignalClient& higher, std::uint32_t session,
                          std::chrono::steady_clock::time_point since) {
  expect_paired(lower, 1, higher, 2, session);
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               since)
      .count();
}

TEST(ServerP2p, AFailedSessionIsPairedAgainAfterABackoffThatDoublesPerFailure) {
  ServerThread server;
  SignalClient alice(server.port());
  SignalClient bob(server.port());
  ASSERT_NO_FATAL_FAILURE(join_paired(alice, bob));

  // Both report session 1; one try follows, 1 s later.
  auto reported = std::chrono::steady_clock::now();
  alice.send(p2p_failed(2, 1));
  bob.send(p2p_failed(1, 1));
  EXPECT_EQ(alice.next_type_before_pong(), "");
  EXPECT_EQ(bob.next_type_before_pong(), "");
  const long long first = ms_until_paired(alice, bob, 2, reported);
  EXPECT_GE(first, 900);
  EXPECT_LT(first, 1900);

  // Session 2 fails too: the next try waits 2 s. A late report of session 1 changes nothing.
  reported = std::chrono::steady_clock::now();
  bob.send(p2p_failed(1, 2));
  alice.send(p2p_failed(2, 1));
  const long long second = ms_until_paired(alice, bob, 3, reported);
  EXPECT_GE(second, 1900);
  EXPECT_LT(second, 2900);
  EXPECT_EQ(alice.next_type_before_pong(), "");
  EXPECT_EQ(bob.next_type_before_pong(), "");
}

TEST(ServerP2p, AMembershipChangeStartsTheBackoffOverAndOutdatesPendingTries) {
  ServerThread server;
  SignalClient alice(server.port());
  SignalClient bob(server.port());
  ASSERT_NO_FATAL_FAILURE(join_paired(alice, bob));
  alice.send(p2p_failed(2, 1));
  EXPECT_EQ(alice.next_type_before_pong(), "");
  // carol joins and leaves before the try is due: her leaving pairs the two in session 2,
  // and the try that session 1's failure scheduled does not come.
  {
    SignalClient carol(server.port());
    ASSERT_EQ(carol.join("carol", "c1")["participantId"], 3);
    // A report from while three were in the call is ignored.
    bob.send(p2p_failed(1, 1));
    EXPECT_TRUE(carol.leave());
  }
  expect_next(alice, "participant_joined", 3);
  expect_next(alice, "participant_left", 3);
  expect_next(bob, "participant_joined", 3);
  expect_next(bob, "participant_left", 3);
  expect_paired(alice, 1, bob, 2, 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(alice.next_type_before_pong(), "");
  EXPECT_EQ(bob.next_type_before_pong(), "");
  // Session 2 is a first failure again: 1 s, not 2.
  const auto reported = std::chrono::steady_clock::now();
  alice.send(p2p_failed(2, 2));
  const long long wait = ms_until_paired(alice, bob, 3, reported);
  EXPECT_GE(wait, 900);
  EXPECT_LT(wait, 1900);
}

TEST(ServerP2p, FailureReportsNamingNoPeerOrAnotherSessionAreIgnored) {
  ServerThread server;
  SignalClient alice(server.port());
  SignalClient bob(server.port());
  ASSERT_NO_FATAL_FAILURE(join_paired(alice, bob));
  alice.send(p2p_failed(1, 1));  // herself
  alice.send(p2p_failed(9, 1));  // nobody in the call
  alice.send(p2p_failed(2, 5));  // a session never handed out
  bob.send(p2p_failed(1, 0));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(alice.next_type_before_pong(), "");
  EXPECT_EQ(bob.next_type_before_pong(), "");
  // Malformed: refused like any bad message.
  bob.send(json{{"type", "p2p_failed"}, {"peer", 1}});
  auto refused = bob.receive();
  ASSERT_TRUE(refused);
  EXPECT_EQ((*refused)["type"], "error");
}

}  // namespace
}  // namespace switchboard::server::testing
