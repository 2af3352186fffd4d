// `switchboard demo`: three participants in one in-process call, showing broadcast,
// directed messages, a recipient change with its sequence-number gap, and a close.
#include <iostream>
#include <string>

#include "commands.hpp"
#include "core/local_call.hpp"

namespace switchboard::cli {
namespace {

using core::Clock;
using core::DataChannelEndpoint;

void watch(DataChannelEndpoint& endpoint, const std::string& name) {
  DataChannelEndpoint::Events events;
  events.receiver_created = [name](const DataChannelEndpoint::ReceiverPtr& r) {
    std::cout << "  " << name << ": receiver created for channel " << r->channel_id() << " from "
              << r->sender_identity() << "\n";
  };
  events.message_ready = [name](const DataChannelEndpoint::ReceiverPtr& r) {
    while (auto m = r->read()) {
      std::cout << "  " << name << ": [" << r->sender_identity() << " #" << m->sequence_number
                << "] ";
      if (m->data.size() <= 80) {
        std::cout << as_string(m->data) << "\n";
      } else {
        std::cout << "(" << m->data.size() << " bytes, reassembled from fragments)\n";
      }
    }
  };
  events.receiver_closed = [name](const DataChannelEndpoint::ReceiverPtr& r) {
    std::cout << "  " << name << ": receiver for channel " << r->channel_id() << " from "
              << r->sender_identity() << " closed (" << to_string(*r->close_reason()) << ")\n";
  };
  endpoint.set_events(std::move(events));
}

int run_demo() {
  core::LocalCall call;
  const auto now = Clock::now();
  auto& alice = call.join("alice", now);
  auto& bob = call.join("bob", now);
  auto& carol = call.join("carol", now);
  watch(alice, "alice");
  watch(bob, "bob");
  watch(carol, "carol");

  auto send = [&](DataChannelEndpoint& from, core::SenderChannel& sender, const std::string& text) {
    auto seq = from.send(sender, as_bytes(text));
    if (!seq) {
      std::cout << "  send failed: " << to_string(seq.error().code) << ": " << seq.error().message
                << "\n";
      return;
    }
    call.pump(now);
  };

  std::cout << "alice, bob and carol are in one call.\n\n"
            << "1. alice creates a sender on channel 10000 for everyone and says hello:\n";
  auto chat = alice.create_sender({.channelId = 10000}, now);
  send(alice, **chat, "hello, everyone");

  std::cout
      << "\n2. bob sends a high-priority message to carol alone (channel picked by the SDK):\n";
  auto direct = bob.create_sender({.priority = Priority::High, .participants = {"carol"}}, now);
  std::cout << "  bob's sender got channel " << (*direct)->channel_id() << "\n";
  send(bob, **direct, "psst, carol");

  std::cout << "\n3. alice changes recipients between messages: {bob,carol}, {carol}, {bob}:\n";
  (void)alice.set_participants(**chat, {"bob", "carol"});
  send(alice, **chat, "to bob and carol");
  (void)alice.set_participants(**chat, {"carol"});
  send(alice, **chat, "to carol");
  (void)alice.set_participants(**chat, {"bob"});
  send(alice, **chat, "to bob (note the gap in bob's sequence numbers)");

  std::cout << "\n4. a 100 KiB message is fragmented and reassembled:\n";
  std::string big(100 * 1024, 'x');
  (void)alice.set_participants(**chat, {});
  auto seq = alice.send(**chat, as_bytes(big));
  std::cout << "  alice sent " << big.size() << " bytes as #" << *seq << "\n";
  call.pump(now);

  std::cout << "\n5. alice closes her sender; the close reaches its receivers:\n";
  alice.close(**chat);
  call.pump(now);
  auto after = alice.send(**chat, as_bytes("too late"));
  std::cout << "  alice sends after close: " << to_string(after.error().code) << "\n";

  std::cout << "\n6. bob leaves; carol's receiver from bob closes:\n";
  call.leave(bob);
  call.pump(now);
  std::cout << "\ndone.\n";
  return 0;
}

}  // namespace

void add_demo_command(CLI::App& app, int& exit_code) {
  auto* demo = app.add_subcommand("demo", "Run an in-process call demo of the DataChannel rules");
  demo->callback([&exit_code] { exit_code = run_demo(); });
}

}  // namespace switchboard::cli
