// `switchboard send` and `switchboard receive`: files between participants of a call through
// the SDK's FileTransfer (the convention of docs/protocol.md, "File transfer").
//
// Threads: the main thread joins, starts the transfers and waits; FileTransfer's worker
// thread runs the progress and offer callbacks, which print through one TransferDisplay.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <switchboard/switchboard.hpp>

#include "commands.hpp"
#include "credentials.hpp"
#include "participant_args.hpp"
#include "stdin_lines.hpp"
#include "transfer_display.hpp"

namespace switchboard::cli {
namespace {

std::atomic<bool> g_interrupted{false};
Wakeup* g_wakeup = nullptr;

extern "C" void on_interrupt(int) {
  g_interrupted = true;
  if (g_wakeup != nullptr) g_wakeup->signal();
}

std::vector<Identity> split_list(const std::vector<std::string>& items) {
  std::vector<Identity> out;
  for (const auto& item : items) {
    std::istringstream in(item);
    for (std::string part; std::getline(in, part, ',');) {
      const auto first = part.find_first_not_of(" \t");
      if (first == std::string::npos) continue;
      out.push_back(part.substr(first, part.find_last_not_of(" \t") - first + 1));
    }
  }
  return out;
}

struct CommonArgs {
  ParticipantArgs participant;
  std::string p2p = "auto";
};

void add_common_options(CLI::App& cmd, CommonArgs& args) {
  add_participant_options(cmd, args.participant);
  cmd.add_option("--p2p", args.p2p,
                 "auto: go peer-to-peer in a call of two; off: always through the server")
      ->check(CLI::IsMember({"auto", "off"}));
}

// Joins, or prints why not (exit status 1) and returns null.
std::shared_ptr<Call> join(CallClient& client, const CommonArgs& args, std::string_view command) {
  const auto& p = args.participant;
  const auto token = join_token(p.token, p.dev, p.user, p.call, p.display_name);
  if (!token) {
    std::cerr << "switchboard " << command << ": " << token.error().message << "\n";
    return nullptr;
  }
  JoinOptions options;
  options.displayName = p.display_name;
  options.caFile = p.ca_file;
  options.p2p = args.p2p == "auto";
  auto joined = client.join(p.server, p.call, *token, options);
  if (!joined) {
    std::cerr << "switchboard " << command << ": cannot join " << p.call << ": "
              << to_string(joined.error().code) << ": " << joined.error().message << "\n";
    return nullptr;
  }
  return *joined;
}

// What the main thread waits for, fed by the callbacks.
struct Progress {
  std::mutex mutex;
  std::condition_variable changed;
  std::map<std::string, TransferStatus> latest;  // by direction, id and peer
  bool disconnected = false;
  std::string disconnect_reason;

  void update(const TransferStatus& s) {
    {
      const std::lock_guard lock(mutex);
      latest[std::string(s.direction == TransferDirection::Outgoing ? "o " : "i ") + s.id + " " +
             s.peer] = s;
    }
    changed.notify_all();
  }
};

bool is_final(TransferState state) {
  return state == TransferState::Done || state == TransferState::Declined ||
         state == TransferState::Failed;
}

// ------------------------------------------------------------------------------- send

struct SendArgs {
  CommonArgs common;
  std::vector<std::string> files;
  std::vector<std::string> to;
  bool all = false;
  double timeout = 0;
};

int run_send(const SendArgs& args) {
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  const auto recipients = split_list(args.to);
  if (!args.all && recipients.empty()) {
    std::cerr << "switchboard send: say who gets the files: --to bob[,carol] or --all\n";
    return 2;
  }
  const auto deadline =
      args.timeout > 0
          ? std::chrono::steady_clock::now() +
                std::chrono::milliseconds(static_cast<std::int64_t>(args.timeout * 1000))
          : std::chrono::steady_clock::time_point::max();

  TransferDisplay display(::isatty(STDOUT_FILENO) == 1);
  Progress progress;
  auto client = std::make_unique<CallClient>();
  auto call = join(*client, args.common, "send");
  if (!call) return 1;
  auto created =
      FileTransfer::create(call, {.onOffer = {}, .onProgress = [&](const TransferStatus& s) {
                                    display.update(s);
                                    progress.update(s);
                                  }});
  if (!created) {
    std::cerr << "switchboard send: " << created.error().message << "\n";
    return 1;
  }
  auto& files = **created;
  call->onParticipantJoined([&](const ParticipantInfo& p) {
    files.handleParticipantJoined(p);
    progress.changed.notify_all();
  });
  call->onParticipantLeft([&](const ParticipantInfo& p) { files.handleParticipantLeft(p); });
  call->dataChannel().onReceiverCreated(
      [&](const std::shared_ptr<DataChannelReceiver>& r) { files.handleReceiver(r); });
  call->onDisconnected([&](const Error& error) {
    {
      const std::lock_guard lock(progress.mutex);
      progress.disconnected = true;
      progress.disconnect_reason = error.message;
    }
    progress.changed.notify_all();
  });

  const auto stop_waiting = [&] {
    return g_interrupted || progress.disconnected || std::chrono::steady_clock::now() >= deadline;
  };
  // --all: everyone here now; with nobody here yet, whoever comes first (and whoever is
  // here by then).
  if (args.all && call->participants().empty()) {
    display.line("waiting for someone to join " + call->id() + "...");
    std::unique_lock lock(progress.mutex);
    while (call->participants().empty() && !stop_waiting()) {
      progress.changed.wait_for(lock, std::chrono::milliseconds(100));
    }
  }
  // A call of two goes peer-to-peer within a moment: wait for that (at most 3 s) rather
  // than push the first megabytes through the server.
  if (args.common.p2p == "auto" && call->participants().size() == 1) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    std::unique_lock lock(progress.mutex);
    while (call->transport().mode != TransportMode::PeerToPeer && !stop_waiting() &&
           std::chrono::steady_clock::now() < until && call->participants().size() == 1) {
      progress.changed.wait_for(lock, std::chrono::milliseconds(20));
    }
  }
  std::vector<std::string> ids;
  int status = 0;
  if (!stop_waiting()) {
    for (const auto& file : args.files) {
      auto id = files.sendFile(file, recipients);
      if (!id) {
        display.line("cannot send " + file + ": " + std::string(to_string(id.error().code)) + ": " +
                     id.error().message);
        status = 2;
        continue;
      }
      // The same file named twice is one transfer (its id comes from the file).
      if (std::find(ids.begin(), ids.end(), *id) == ids.end()) ids.push_back(*id);
    }
  }
  // Until every file reached every recipient (or was refused), or we are told to stop.
  const auto all_final = [&] {
    std::set<std::string> seen;
    for (const auto& [key, s] : progress.latest) {
      if (s.direction != TransferDirection::Outgoing) continue;
      if (!is_final(s.state)) return false;
      seen.insert(s.id);
    }
    return seen.size() == ids.size();
  };
  {
    std::unique_lock lock(progress.mutex);
    while (!ids.empty() && !all_final() && !stop_waiting()) {
      progress.changed.wait_for(lock, std::chrono::milliseconds(100));
    }
  }
  const auto statuses = files.transfers();
  created->reset();
  display.close();
  std::size_t delivered = 0;
  std::size_t failed = 0;
  std::size_t unfinished = 0;
  for (const auto& s : statuses) {
    if (s.direction != TransferDirection::Outgoing) continue;
    if (s.state == TransferState::Done) {
      ++delivered;
      continue;
    }
    if (is_final(s.state)) {
      ++failed;
      std::cerr << "switchboard send: " << s.name << " to " << s.peer << ": " << to_string(s.state);
      if (s.error) std::cerr << ": " << s.error->code << ": " << s.error->message;
      std::cerr << "\n";
    } else {
      ++unfinished;
      std::cerr << "switchboard send: " << s.name << " to " << s.peer << ": not finished ("
                << to_string(s.state) << ", " << s.bytes << " of " << s.size
                << " bytes confirmed)\n";
    }
  }
  std::cout << "sent " << ids.size() << (ids.size() == 1 ? " file" : " files") << ": " << delivered
            << " delivered, " << failed << " failed or declined, " << unfinished << " unfinished"
            << std::endl;
  if (progress.disconnected) {
    std::cerr << "switchboard send: disconnected: " << progress.disconnect_reason << "\n";
  } else {
    call->leave();
  }
  client.reset();
  if (status != 0) return status;
  if (progress.disconnected) return 3;
  if (failed > 0) return 1;
  if (unfinished > 0) {
    if (!g_interrupted) std::cerr << "switchboard send: timed out\n";
    return g_interrupted ? 130 : 4;
  }
  return 0;
}

// ---------------------------------------------------------------------------- receive

struct ReceiveArgs {
  CommonArgs common;
  std::string dir;
  std::vector<std::string> from;
  bool accept_all = false;
  bool overwrite = false;
  int count = 0;
};

int run_receive(const ReceiveArgs& args) {
  std::signal(SIGPIPE, SIG_IGN);
  Wakeup wakeup;
  g_wakeup = &wakeup;
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  const auto senders = split_list(args.from);
  const std::set<Identity> allowed(senders.begin(), senders.end());
  const bool interactive = !args.accept_all && ::isatty(STDIN_FILENO) == 1;

  TransferDisplay display(::isatty(STDOUT_FILENO) == 1);
  Progress progress;
  std::mutex pending_mutex;
  std::deque<IncomingOffer> pending;  // asked on the terminal, oldest first
  std::atomic<int> finished{0};
  std::atomic<int> failures{0};

  auto client = std::make_unique<CallClient>();
  auto call = join(*client, args.common, "receive");
  if (!call) {
    g_wakeup = nullptr;
    return 1;
  }
  FileTransferOptions options;
  options.onOffer = [&](const IncomingOffer& offer) {
    const std::string what = offer.name + " (" + human_bytes(offer.size) + ") from " +
                             offer.fromDisplayName + " (" + offer.from + ")";
    if (!allowed.empty() && allowed.count(offer.from) == 0) {
      display.line("declined " + what + ": not from " + args.from.front());
      return OfferDecision::decline();
    }
    if (args.accept_all) {
      display.line("accepted " + what + " into " + args.dir);
      return OfferDecision::acceptInto(args.dir, args.overwrite);
    }
    if (!interactive) {
      display.line("declined " + what + ": run with --accept-all to take files");
      return OfferDecision::decline();
    }
    {
      const std::lock_guard lock(pending_mutex);
      pending.push_back(offer);
    }
    display.line("accept " + what + "? [y/N]");
    return OfferDecision::later();
  };
  options.onProgress = [&](const TransferStatus& s) {
    display.update(s);
    progress.update(s);
    if (s.direction != TransferDirection::Incoming) return;
    if (s.state == TransferState::Done) {
      display.line("received " + s.name + " from " + s.peer + " -> " + s.path.string() + " (" +
                   std::to_string(s.size) + " bytes, SHA-256 checked)");
    } else if (s.state == TransferState::Failed) {
      ++failures;
      display.line("failed " + s.name + " from " + s.peer + ": " +
                   (s.error ? s.error->code + ": " + s.error->message : std::string("?")));
    } else if (s.state == TransferState::Declined && s.error && s.error->message != "declined") {
      display.line("refused an offer from " + s.peer + " (name \"" + s.name +
                   "\"): " + s.error->message);
    } else {
      return;
    }
    if (s.state == TransferState::Done || s.state == TransferState::Failed) {
      if (args.count > 0 && ++finished >= args.count) wakeup.signal();
    }
  };
  auto created = FileTransfer::create(call, std::move(options));
  if (!created) {
    std::cerr << "switchboard receive: " << created.error().message << "\n";
    g_wakeup = nullptr;
    return 1;
  }
  auto& files = **created;
  std::atomic<bool> disconnected{false};
  call->onParticipantJoined([&](const ParticipantInfo& p) {
    files.handleParticipantJoined(p);
    display.line("* " + p.displayName + " (" + p.identity + ") joined");
  });
  call->onParticipantLeft([&](const ParticipantInfo& p) {
    files.handleParticipantLeft(p);
    display.line("* " + p.displayName + " (" + p.identity + ") left");
  });
  call->dataChannel().onReceiverCreated(
      [&](const std::shared_ptr<DataChannelReceiver>& r) { files.handleReceiver(r); });
  call->onDisconnected([&](const Error& error) {
    display.line("disconnected: " + error.message);
    disconnected = true;
    wakeup.signal();
  });
  display.line("receiving into " + args.dir + " as " + call->self().identity + " in " + call->id() +
               (args.count > 0 ? " (" + std::to_string(args.count) + " files)" : "") +
               "; EOF or Ctrl-C stops");

  read_lines(wakeup, [&](std::string_view line) {
    std::optional<IncomingOffer> offer;
    {
      const std::lock_guard lock(pending_mutex);
      if (!pending.empty()) {
        offer = pending.front();
        pending.pop_front();
      }
    }
    if (!offer) return true;
    const bool yes = line == "y" || line == "Y" || line == "yes";
    if (yes) {
      files.acceptOffer(offer->from, offer->id,
                        OfferDecision::acceptInto(args.dir, args.overwrite));
    } else {
      files.declineOffer(offer->from, offer->id);
    }
    display.line(std::string(yes ? "accepted " : "declined ") + offer->name + " from " +
                 offer->from);
    return true;
  });
  g_wakeup = nullptr;

  const auto statuses = files.transfers();
  created->reset();
  display.close();
  std::size_t received = 0;
  std::size_t unfinished = 0;
  for (const auto& s : statuses) {
    if (s.direction != TransferDirection::Incoming) continue;
    if (s.state == TransferState::Done) ++received;
    if (s.state == TransferState::Transferring || s.state == TransferState::Waiting) ++unfinished;
  }
  std::cout << "received " << received << (received == 1 ? " file" : " files") << ", "
            << failures.load() << " failed, " << unfinished
            << " unfinished (their partial files stay for a resume)" << std::endl;
  if (!disconnected) call->leave();
  client.reset();
  if (disconnected) return 3;
  return failures > 0 ? 1 : 0;
}

}  // namespace

void add_send_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<SendArgs>();
  auto* cmd = app.add_subcommand("send", "Send files to participants of a call");
  add_common_options(*cmd, args->common);
  cmd->add_option("files", args->files, "Files to send")->required()->check(CLI::ExistingFile);
  auto* to = cmd->add_option("--to", args->to, "Recipients: bob or bob,carol");
  cmd->add_flag("--all", args->all, "Everyone in the call (waits for someone when alone)")
      ->excludes(to);
  cmd->add_option("--timeout", args->timeout,
                  "Give up after this many seconds (default: wait for every recipient)");
  cmd->callback([args, &exit_code] { exit_code = run_send(*args); });
}

void add_receive_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ReceiveArgs>();
  auto* cmd = app.add_subcommand("receive", "Receive files offered in a call");
  add_common_options(*cmd, args->common);
  cmd->add_option("--dir", args->dir, "Where received files go (created if missing)")->required();
  cmd->add_option("--from", args->from, "Take offers only from these participants: bob,carol");
  cmd->add_flag("--accept-all", args->accept_all,
                "Accept every offer (else ask on a terminal, decline otherwise)");
  cmd->add_flag("--overwrite", args->overwrite,
                "Replace a file of the same name (default: name (1).ext)");
  cmd->add_option("--count", args->count, "Stop after N files were received (or failed)")
      ->check(CLI::PositiveNumber);
  cmd->callback([args, &exit_code] { exit_code = run_receive(*args); });
}

}  // namespace switchboard::cli
