// `switchboard chat`: a line-based chat over one durable channel. Lines typed go to the
// current recipients; received messages print as `[Alice #12] hi` (the sender's display
// name). `/send PATH` shares a file with the current recipients through FileTransfer;
// files offered to us are saved under --dir.
#include <csignal>
#include <filesystem>
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
#include "transfer_display.hpp"

namespace switchboard::cli {
namespace {

struct ChatArgs {
  ParticipantArgs participant;
  std::string dir = "switchboard-downloads";
  bool no_files = false;
};

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

// "Alice" for a display name, else the identity.
std::string who(const std::string& identity, const std::string& display_name) {
  return display_name.empty() ? identity : display_name;
}

// "Alice (alice)", or "alice" when both are the same.
std::string who_in_full(const ParticipantInfo& p) {
  if (p.displayName.empty() || p.displayName == p.identity) return p.identity;
  return p.displayName + " (" + p.identity + ")";
}

void print_messages(Console& console, DataChannelReceiver& receiver) {
  while (auto m = receiver.readMessage()) {
    std::string text = "[" + who(receiver.senderIdentity(), receiver.senderDisplayName()) + " #" +
                       std::to_string(m->sequenceNumber);
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

// What chat says about a file transfer: state changes only (no bars among chat lines).
void print_transfer(Console& console, const TransferStatus& s) {
  const bool out = s.direction == TransferDirection::Outgoing;
  const std::string file = s.name + (out ? " to " : " from ") + s.peer;
  switch (s.state) {
    case TransferState::Offered:
      if (out) console.line("* offered " + file + " (" + human_bytes(s.size) + ")");
      return;
    case TransferState::Done:
      if (out) {
        console.line("* delivered " + file);
      } else {
        console.line("* saved " + file + " as " + s.path.string() + " (" + human_bytes(s.size) +
                     ", SHA-256 checked)");
      }
      return;
    case TransferState::Declined:
      console.line("* " + file + " declined" + (s.error ? ": " + s.error->message : ""));
      return;
    case TransferState::Failed:
      console.line("* " + file + " failed" +
                   (s.error ? ": " + s.error->code + ": " + s.error->message : ""));
      return;
    case TransferState::Waiting:
      console.line("* " + file + ": waiting for " + s.peer + " to be in the call");
      return;
    default:
      return;
  }
}

int run_chat(const ChatArgs& chat_args) {
  const ParticipantArgs& args = chat_args.participant;
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
  options.caFile = args.ca_file;
  auto joined = client->join(args.server, args.call, *token, options);
  if (!joined) {
    std::cerr << "switchboard chat: cannot join " << args.call << ": "
              << to_string(joined.error().code) << ": " << joined.error().message << "\n";
    return 1;
  }
  auto call = *joined;

  // Files: offers are saved under --dir (names sanitised, nothing overwritten) unless
  // --no-files.
  FileTransferOptions file_options;
  file_options.onOffer = [&](const IncomingOffer& offer) {
    const std::string what = offer.name + " (" + human_bytes(offer.size) + ") from " +
                             who(offer.from, offer.fromDisplayName);
    if (chat_args.no_files) {
      console.line("* declined " + what + " (--no-files)");
      return OfferDecision::decline();
    }
    console.line("* receiving " + what + " into " + chat_args.dir);
    return OfferDecision::acceptInto(chat_args.dir);
  };
  file_options.onProgress = [&console](const TransferStatus& s) { print_transfer(console, s); };
  auto created = FileTransfer::create(call, std::move(file_options));
  if (!created) {
    std::cerr << "switchboard chat: " << created.error().message << "\n";
    return 1;
  }
  FileTransfer& files = **created;

  call->onParticipantJoined([&](const ParticipantInfo& p) {
    files.handleParticipantJoined(p);
    console.line("* " + who_in_full(p) + " joined");
  });
  call->onParticipantLeft([&](const ParticipantInfo& p) {
    files.handleParticipantLeft(p);
    console.line("* " + who_in_full(p) + " left");
  });
  call->onDisconnected([&](const Error& error) {
    console.line("* disconnected: " + error.message);
    wakeup.signal();
  });
  call->onConnectionStateChanged([&](const ConnectionStateChangedEvent& change) {
    if (change.state == ConnectionState::Reconnecting) {
      console.line("* connection lost (" + change.reason.message + "); reconnecting");
    } else if (change.state == ConnectionState::Connected) {
      console.line(change.resumed ? std::string("* reconnected; nothing was lost")
                                  : "* reconnected as a new participant; " +
                                        std::to_string(change.unconfirmedMessageCount) +
                                        " line(s) or file messages may not have arrived");
    }
  });
  call->dataChannel().onReceiverCreated(
      [&console, &files](const std::shared_ptr<DataChannelReceiver>& receiver) {
        if (files.handleReceiver(receiver)) return;
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
  console.line("* joined " + call->id() + " as " + who_in_full(call->self()) +
               "; here: " + names(call->participants()));
  console.line("* type to send; /to bob,carol  /all  /who  /send PATH  /quit");

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
    } else if (line.starts_with("/send ") || line == "/send") {
      const auto path = line.substr(std::min<std::size_t>(line.size(), 6));
      if (path.find_first_not_of(" \t") == std::string_view::npos) {
        console.line("* /send needs a file: /send report.pdf");
        return true;
      }
      // The chat's recipients: everyone (empty) or the /to list.
      auto id = files.sendFile(std::filesystem::path(std::string(path)), (*sender)->participants());
      if (!id) {
        console.line("* cannot send " + std::string(path) + ": " +
                     std::string(to_string(id.error().code)) + ": " + id.error().message);
      }
    } else if (line.starts_with("/")) {
      console.line("* commands: /to bob,carol  /all  /who  /send PATH  /quit");
    } else {
      auto seq = (*sender)->sendMessage(line);
      if (!seq) {
        console.line("* not sent: " + std::string(to_string(seq.error().code)) + ": " +
                     seq.error().message);
      }
    }
    return true;
  });
  created->reset();
  if (ended) {
    call->leave();
    console.line("* left " + call->id());
  }
  client.reset();
  return ended ? 0 : 3;
}

}  // namespace

void add_chat_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ChatArgs>();
  auto* cmd = app.add_subcommand("chat", "Chat in a call: type lines, see everyone's");
  add_participant_options(*cmd, args->participant);
  cmd->add_option("--dir", args->dir,
                  "Where files offered to us are saved (default ./switchboard-downloads)");
  cmd->add_flag("--no-files", args->no_files, "Decline files offered to us");
  cmd->callback([args, &exit_code] { exit_code = run_chat(*args); });
}

}  // namespace switchboard::cli
