// `switchboard chat`: a line-based chat over one durable channel. Lines typed go to the
// current recipients; received messages print as `[alice #12] hi`.
#include <csignal>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <switchboard/switchboard.hpp>

#include "agent_protocol.hpp"
#include "commands.hpp"
#include "credentials.hpp"
#include "participant_args.hpp"
#include "stdin_lines.hpp"

namespace switchboard::cli {
namespace {

constexpr std::uint16_t kChatChannel = 10000;

// stdout is shared by the stdin thread and the SDK's event thread.
class Console {
 public:
  void line(const std::string& text) {
    const std::lock_guard lock(mutex_);
    std::cout << text << std::endl;
  }

 private:
  std::mutex mutex_;
};

std::string names(const std::vector<ParticipantInfo>& list) {
  if (list.empty()) return "nobody else";
  std::string out;
  for (const auto& p : list) {
    if (!out.empty()) out += ", ";
    out += p.identity;
    if (!p.displayName.empty() && p.displayName != p.identity) out += " (" + p.displayName + ")";
  }
  return out;
}

std::vector<Identity> split_identities(std::string_view text) {
  std::vector<Identity> out;
  std::string item;
  std::istringstream in{std::string(text)};
  while (std::getline(in, item, ',')) {
    const auto first = item.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    const auto last = item.find_last_not_of(" \t");
    out.push_back(item.substr(first, last - first + 1));
  }
  return out;
}

void print_messages(Console& console, DataChannelReceiver& receiver) {
  while (auto m = receiver.readMessage()) {
    std::string text = "[" + receiver.senderIdentity() + " #" + std::to_string(m->sequenceNumber);
    if (receiver.channelId() != kChatChannel) {
      text += " on channel " + std::to_string(receiver.channelId());
    }
    text += "] ";
    if (is_valid_utf8(m->data)) {
      text += as_string(m->data);
    } else {
      text += "(" + std::to_string(m->data.size()) + " bytes of binary data)";
    }
    console.line(text);
  }
}

int run_chat(const ParticipantArgs& args) {
  std::signal(SIGPIPE, SIG_IGN);
  const auto token = join_token(args.token, args.dev, args.user, args.call, args.display_name);
  if (!token) {
    std::cerr << "switchboard chat: " << token.error().message << "\n";
    return 2;
  }
  // Callbacks print to `console` and signal `wakeup`: both outlive the client's event
  // thread, which stops when `client` is reset at the end.
  Console console;
  Wakeup wakeup;
  auto client = std::make_unique<CallClient>();
  JoinOptions options;
  options.displayName = args.display_name;
  auto joined = client->join(args.server, args.call, *token, options);
  if (!joined) {
    std::cerr << "switchboard chat: cannot join " << args.call << ": "
              << to_string(joined.error().code) << ": " << joined.error().message << "\n";
    return 1;
  }
  auto call = *joined;

  call->onParticipantJoined(
      [&console](const ParticipantInfo& p) { console.line("* " + p.identity + " joined"); });
  call->onParticipantLeft(
      [&console](const ParticipantInfo& p) { console.line("* " + p.identity + " left"); });
  call->onDisconnected([&](const Error& error) {
    console.line("* disconnected: " + error.message);
    wakeup.signal();
  });
  call->dataChannel().onReceiverCreated(
      [&console](const std::shared_ptr<DataChannelReceiver>& receiver) {
        DataChannelReceiver* r = receiver.get();
        receiver->onMessageReady([&console, r] { print_messages(console, *r); });
        print_messages(console, *receiver);
      });

  auto sender = call->dataChannel().createSender({.channelId = kChatChannel});
  if (!sender) {
    std::cerr << "switchboard chat: " << sender.error().message << "\n";
    return 1;
  }
  (*sender)->onError([&console](const Error& error) {
    console.line("* not delivered: " + std::string(to_string(error.code)) + ": " + error.message);
  });
  console.line("* joined " + call->id() + " as " + call->self().identity +
               "; here: " + names(call->participants()));
  console.line("* type to send; /to bob,carol  /all  /who  /quit");

  const bool ended = read_lines(wakeup, [&](std::string_view line) {
    if (line == "/quit") return false;
    if (line == "/who") {
      console.line("* here: " + names(call->participants()));
    } else if (line == "/all") {
      if (auto r = (*sender)->setParticipants({}); r) console.line("* sending to everyone");
    } else if (line.starts_with("/to ") || line == "/to") {
      auto to = split_identities(line.substr(std::min<std::size_t>(line.size(), 4)));
      if (to.empty()) {
        console.line("* /to needs names: /to bob,carol");
        return true;
      }
      auto r = (*sender)->setParticipants(to);
      if (!r) {
        console.line("* " + std::string(to_string(r.error().code)) + ": " + r.error().message);
      } else {
        std::string list;
        for (const auto& id : to) list += (list.empty() ? "" : ", ") + id;
        console.line("* sending to " + list);
      }
    } else if (line.starts_with("/")) {
      console.line("* commands: /to bob,carol  /all  /who  /quit");
    } else {
      auto seq = (*sender)->sendMessage(line);
      if (!seq) {
        console.line("* not sent: " + std::string(to_string(seq.error().code)) + ": " +
                     seq.error().message);
      }
    }
    return true;
  });
  if (ended) {
    call->leave();
    console.line("* left " + call->id());
  }
  client.reset();
  return ended ? 0 : 3;
}

}  // namespace

void add_chat_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ParticipantArgs>();
  auto* cmd = app.add_subcommand("chat", "Chat in a call: type lines, see everyone's");
  add_participant_options(*cmd, *args);
  cmd->callback([args, &exit_code] { exit_code = run_chat(*args); });
}

}  // namespace switchboard::cli
