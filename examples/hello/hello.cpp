// The smallest Switchboard participant: joins a call, says hello to everyone on a durable
// channel, and prints what the others send until it has waited long enough.
//
//   switchboard-server --dev &
//   TOKEN=$(switchboard token --dev --user alice --call demo)
//   hello ws://127.0.0.1:8480 demo "$TOKEN"
#include <chrono>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <switchboard/switchboard.hpp>

namespace {

void usage(std::ostream& out) {
  out << "usage: hello SERVER_URL CALL_ID TOKEN [SECONDS]\n"
         "  Joins CALL_ID on the Switchboard server at SERVER_URL (e.g. ws://127.0.0.1:8480)\n"
         "  with an access token (`switchboard token --dev --user alice --call CALL_ID`),\n"
         "  sends one hello to everyone and prints what arrives for SECONDS (default 10).\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    usage(std::cout);
    return 0;
  }
  if (argc < 4 || argc > 5) {
    usage(std::cerr);
    return 2;
  }
  const std::string server = argv[1];
  const std::string call_id = argv[2];
  const std::string token = argv[3];
  const int seconds = argc == 5 ? std::stoi(argv[4]) : 10;

  switchboard::CallClient client;
  auto call = client.join(server, call_id, token);
  if (!call) {
    std::cerr << "cannot join: " << switchboard::to_string(call.error().code) << ": "
              << call.error().message << "\n";
    return 1;
  }
  std::cout << "joined " << (*call)->id() << " as " << (*call)->self().identity << "\n";

  // Callbacks run on the SDK's event thread; keep the receivers alive while they read.
  std::mutex mutex;
  std::vector<std::shared_ptr<switchboard::DataChannelReceiver>> receivers;
  (*call)->dataChannel().onReceiverCreated(
      [&](const std::shared_ptr<switchboard::DataChannelReceiver>& receiver) {
        auto* r = receiver.get();
        receiver->onMessageReady([r] {
          while (auto message = r->readMessage()) {
            std::cout << "[" << r->senderIdentity() << " #" << message->sequenceNumber << "] "
                      << std::string(message->data.begin(), message->data.end()) << std::endl;
          }
        });
        const std::lock_guard lock(mutex);
        receivers.push_back(receiver);
      });

  auto sender = (*call)->dataChannel().createSender({.channelId = 10000});
  if (!sender) {
    std::cerr << "cannot create a sender: " << sender.error().message << "\n";
    return 1;
  }
  const auto sent = (*sender)->sendMessage("hello from " + (*call)->self().identity);
  if (!sent) {
    std::cerr << "cannot send: " << sent.error().message << "\n";
  } else {
    std::cout << "sent hello as #" << *sent << "\n";
  }

  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  (*call)->leave();
  return 0;
}
