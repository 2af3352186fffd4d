// `switchboard agent`: one participant driven by JSON lines on stdin, reporting events as
// JSON lines on stdout (../shared/agent-protocol.md, docs/agent.md).
//
// Threads: the main thread reads stdin and calls the SDK; SDK callbacks (receivers,
// participants, disconnection, sender errors) run on the CallClient's event thread. Both
// print through one EventWriter, so every event is one whole line.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <switchboard/switchboard.hpp>

#include "agent_protocol.hpp"
#include "commands.hpp"
#include "credentials.hpp"
#include "participant_args.hpp"
#include "stdin_lines.hpp"

namespace switchboard::cli {
namespace {

struct AgentArgs {
  ParticipantArgs participant;
  std::string p2p = "auto";
  std::string e2ee_key_file;
  double reconnect_timeout_s = 60;
};

// stdout: one event per line, flushed per line, lines never interleaved. Events raised
// before start() (callbacks racing the joined event) wait and follow it.
class EventWriter {
 public:
  void write(const Json& event) {
    auto line = to_line(event);
    const std::lock_guard lock(mutex_);
    if (!started_) {
      pending_ += line;
      return;
    }
    put(line);
  }

  // Prints `first`, then what waited for it.
  void start(const Json& first) {
    const auto line = to_line(first);
    const std::lock_guard lock(mutex_);
    started_ = true;
    put(line + pending_);
    pending_.clear();
  }

 private:
  static void put(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }

  std::mutex mutex_;
  bool started_ = false;
  std::string pending_;
};

Json event(std::string_view name) {
  Json e;
  e["event"] = name;
  return e;
}

Json participant_json(const ParticipantInfo& p) {
  Json j;
  j["user"] = p.identity;
  j["displayName"] = p.displayName;
  return j;
}

Json participants_json(const std::vector<ParticipantInfo>& list) {
  Json array = Json::array();
  for (const auto& p : list) array.push_back(participant_json(p));
  return array;
}

class Agent {
 public:
  Agent(EventWriter& out, std::shared_ptr<Call> call) : out_(out), call_(std::move(call)) {}

  // Registers every callback before the joined event is printed, so no receiver is
  // missed; what they print waits for joined.
  void watch(Wakeup& wakeup) {
    call_->onParticipantJoined([this](const ParticipantInfo& p) {
      auto e = event("participant_joined");
      e["user"] = p.identity;
      e["displayName"] = p.displayName;
      out_.write(e);
    });
    call_->onParticipantLeft([this](const ParticipantInfo& p) {
      auto e = event("participant_left");
      e["user"] = p.identity;
      out_.write(e);
    });
    call_->onDisconnected([this, &wakeup](const Error& error) {
      auto e = event("disconnected");
      e["reason"] = error.message;
      out_.write(e);
      disconnected_ = true;
      wakeup.signal();
    });
    call_->onConnectionStateChanged([this](const ConnectionStateChangedEvent& change) {
      if (change.state == ConnectionState::Reconnecting) {
        auto e = event("reconnecting");
        e["reason"] = change.reason.message;
        out_.write(e);
      } else if (change.state == ConnectionState::Connected) {
        auto e = event("reconnected");
        e["resumed"] = change.resumed;
        e["unconfirmedMessages"] = change.unconfirmedMessageCount;
        e["participants"] = participants_json(call_->participants());
        out_.write(e);
      }
      // Disconnected: onDisconnected prints it.
    });
    call_->onTransportChanged([this](const TransportInfo& info) { print_transport(info); });
    call_->dataChannel().onReceiverCreated(
        [this](const std::shared_ptr<DataChannelReceiver>& receiver) { on_receiver(receiver); });
    // The path may have changed between join() and the registration above.
    print_transport(call_->transport());
  }

  // Prints a transport event when the path differs from the last one printed (the call
  // starts on the server). The callback and watch() may race; the lock orders them.
  void print_transport(const TransportInfo& info) {
    std::lock_guard lock(transport_mu_);
    if (info == printed_transport_) return;
    printed_transport_ = info;
    auto e = event("transport");
    if (info.mode == TransportMode::PeerToPeer) {
      e["mode"] = "p2p";
      e["peer"] = info.peer.identity;
    } else {
      e["mode"] = "server";
    }
    out_.write(e);
  }

  void print_joined() {
    auto e = event("joined");
    e["call"] = call_->id();
    e["user"] = call_->self().identity;
    e["participants"] = participants_json(call_->participants());
    out_.start(e);
  }

  bool disconnected() const { return disconnected_; }

  // Runs one stdin line; false once the agent should leave.
  bool handle_line(std::string_view line) {
    auto parsed = parse_agent_line(line);
    if (!parsed.command) {
      out_.write(error_event(parsed.req, parsed.command.error()));
      return true;
    }
    return run(*parsed.command, parsed.req);
  }

  // Leaves the call and prints `left`, echoing the leave command's req.
  void leave() {
    call_->leave();
    auto e = event("left");
    if (leave_req_) e["req"] = *leave_req_;
    out_.write(e);
  }

 private:
  struct Watched {
    std::shared_ptr<DataChannelReceiver> receiver;
    bool close_reported = false;
  };

  bool run(const AgentCommand& command, const std::optional<Json>& req) {
    const auto answer = [&](std::string_view name) {
      auto e = event(name);
      if (req) e["req"] = *req;
      return e;
    };
    const auto fail = [&](const Error& error) {
      out_.write(error_event(req, error));
      return true;
    };

    switch (command.op) {
      case AgentOp::CreateSender: {
        auto sender = call_->dataChannel().createSender(command.sender);
        if (!sender) return fail(sender.error());
        const auto id = (*sender)->channelId();
        (*sender)->onError([this, id](const Error& error) {
          auto e = error_event(std::nullopt, error);
          e["channelId"] = id;
          out_.write(e);
        });
        senders_[id] = *sender;
        auto e = answer("sender_created");
        e["channelId"] = id;
        e["maxMessageSize"] = (*sender)->maxMessageSizeInBytes();
        out_.write(e);
        return true;
      }
      case AgentOp::SetParticipants: {
        auto* sender = find(command.channel_id, req);
        if (sender == nullptr) return true;
        if (auto r = sender->setParticipants(command.participants); !r) return fail(r.error());
        auto e = answer("participants_set");
        e["channelId"] = command.channel_id;
        out_.write(e);
        return true;
      }
      case AgentOp::Send: {
        auto* sender = find(command.channel_id, req);
        if (sender == nullptr) return true;
        auto seq = sender->sendMessage(std::span<const std::uint8_t>(command.payload));
        if (!seq) return fail(seq.error());
        auto e = answer("sent");
        e["channelId"] = command.channel_id;
        e["sequenceNumber"] = *seq;
        out_.write(e);
        return true;
      }
      case AgentOp::Close: {
        auto* sender = find(command.channel_id, req);
        if (sender == nullptr) return true;
        sender->close();
        auto e = answer("sender_closed");
        e["channelId"] = command.channel_id;
        out_.write(e);
        return true;
      }
      case AgentOp::Participants: {
        auto e = answer("participants");
        e["participants"] = participants_json(call_->participants());
        out_.write(e);
        return true;
      }
      case AgentOp::Leave:
        leave_req_ = req;
        return false;
    }
    return true;
  }

  // The sender this agent created on `channel_id` (closed ones stay, so a send after
  // close answers SENDER_CLOSED); prints INVALID_CHANNEL_ID when there is none.
  DataChannelSender* find(std::uint16_t channel_id, const std::optional<Json>& req) {
    const auto it = senders_.find(channel_id);
    if (it != senders_.end()) return it->second.get();
    out_.write(error_event(req, Error{ErrorCode::InvalidChannelId, "no sender on channel " +
                                                                       std::to_string(channel_id) +
                                                                       ": create_sender first"}));
    return nullptr;
  }

  // Event thread.
  void on_receiver(const std::shared_ptr<DataChannelReceiver>& receiver) {
    auto e = event("receiver_created");
    e["channelId"] = receiver->channelId();
    e["from"] = receiver->senderIdentity();
    out_.write(e);

    auto watched = std::make_shared<Watched>(Watched{receiver});
    {
      const std::lock_guard lock(receivers_mutex_);
      receivers_.push_back(watched);
    }
    std::weak_ptr<Watched> weak = watched;
    receiver->onMessageReady([this, weak] {
      if (auto w = weak.lock()) drain(*w->receiver);
    });
    receiver->onClose([this, weak](ReceiverCloseReason reason) {
      if (auto w = weak.lock()) report_close(*w, reason);
    });
    // E2EE: a message that could not be opened is reported instead of delivered.
    receiver->onError([this, channel = receiver->channelId(),
                       from = receiver->senderIdentity()](const Error& error) {
      auto e = error_event(std::nullopt, error);
      e["channelId"] = channel;
      e["from"] = from;
      out_.write(e);
    });
    drain(*receiver);
    if (const auto reason = receiver->closeReason()) report_close(*watched, *reason);
  }

  void drain(DataChannelReceiver& receiver) {
    while (auto message = receiver.readMessage()) {
      out_.write(message_event(receiver.channelId(), receiver.senderIdentity(),
                               message->sequenceNumber, message->data));
    }
  }

  void report_close(Watched& watched, ReceiverCloseReason reason) {
    if (watched.close_reported) return;
    watched.close_reported = true;
    drain(*watched.receiver);
    auto e = event("receiver_closed");
    e["channelId"] = watched.receiver->channelId();
    e["from"] = watched.receiver->senderIdentity();
    e["reason"] = to_string(reason);
    out_.write(e);
    const std::lock_guard lock(receivers_mutex_);
    std::erase_if(receivers_, [&](const auto& w) { return w.get() == &watched; });
  }

  EventWriter& out_;
  std::shared_ptr<Call> call_;
  std::atomic<bool> disconnected_{false};
  std::mutex transport_mu_;
  TransportInfo printed_transport_;  // transport_mu_; what the last transport event said
  std::map<std::uint16_t, std::shared_ptr<DataChannelSender>> senders_;  // main thread
  std::optional<Json> leave_req_;                                        // main thread
  std::mutex receivers_mutex_;
  std::vector<std::shared_ptr<Watched>> receivers_;
};

int run_agent(const AgentArgs& args) {
  std::signal(SIGPIPE, SIG_IGN);
  EventWriter out;
  const auto& p = args.participant;
  if (args.p2p != "auto" && args.p2p != "off") {
    out.start(
        error_event(std::nullopt, Error{ErrorCode::InvalidArgument, "--p2p must be auto or off"}));
    return 2;
  }
  std::optional<E2eeKeys> e2ee;
  if (!args.e2ee_key_file.empty()) {
    auto keys = E2eeKeys::fromFile(args.e2ee_key_file, p.call);
    if (!keys) {
      out.start(error_event(std::nullopt,
                            Error{keys.error().code, "--e2ee-key-file: " + keys.error().message}));
      return 2;
    }
    e2ee = std::move(*keys);
  }
  const auto token = join_token(p.token, p.dev, p.user, p.call, p.display_name);
  if (!token) {
    out.start(error_event(std::nullopt, token.error()));
    return 2;
  }

  // Callbacks use `wakeup` and the agent: both outlive the client's event thread, which
  // stops when `client` is reset below.
  Wakeup wakeup;
  auto client = std::make_unique<CallClient>();
  JoinOptions options;
  options.displayName = p.display_name;
  options.caFile = p.ca_file;
  options.p2p = args.p2p == "auto";
  options.e2ee = std::move(e2ee);
  options.reconnectTimeout =
      std::chrono::milliseconds(static_cast<std::int64_t>(args.reconnect_timeout_s * 1000));
  auto call = client->join(p.server, p.call, *token, options);
  if (!call) {
    out.start(error_event(std::nullopt, call.error()));
    return 1;
  }
  std::cerr << "switchboard agent: joined " << p.call << " as " << (*call)->self().identity << "\n";

  Agent agent(out, *call);
  agent.watch(wakeup);
  agent.print_joined();
  const bool left =
      read_lines(wakeup, [&](std::string_view line) { return agent.handle_line(line); });
  const bool disconnected = !left || agent.disconnected();
  if (!disconnected) agent.leave();
  client.reset();
  return disconnected ? 3 : 0;
}

}  // namespace

void add_agent_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<AgentArgs>();
  auto* cmd = app.add_subcommand(
      "agent", "Join a call driven by JSON lines on stdin; events as JSON lines on stdout");
  add_participant_options(*cmd, args->participant);
  cmd->add_option("--p2p", args->p2p,
                  "auto: 1:1 calls may go peer-to-peer; off: always via the server")
      ->check(CLI::IsMember({"auto", "off"}))
      ->capture_default_str();
  cmd->add_option("--e2ee-key-file", args->e2ee_key_file,
                  "Seal and open every message with the keys in FILE (lines KEYID:BASE64 or "
                  "KEYID:passphrase:TEXT; docs/protocol.md, \"End-to-end encryption\")");
  cmd->add_option("--reconnect-timeout", args->reconnect_timeout_s,
                  "Seconds to keep trying to rejoin after the connection to the server is lost "
                  "(reconnecting/reconnected events); 0: give up at once (disconnected)")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  cmd->callback([args, &exit_code] { exit_code = run_agent(*args); });
}

}  // namespace switchboard::cli
