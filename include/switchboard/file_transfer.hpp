#pragma once

// Files between the participants of a call, by the convention of docs/protocol.md
// ("Applications on DataChannels: chat and file transfer"), the same one the Web SDK's
// FileTransfer speaks (web/src/files/): OFFER to the chosen recipients, 64 KiB CHUNKs to
// each who ACCEPTs (from the offset it already holds, so an interrupted transfer resumes),
// DONE, and the recipient's PROGRESS with the full size once the SHA-256 matched.
//
//   auto files = switchboard::FileTransfer::create(call, {
//       .onOffer = [](const switchboard::IncomingOffer&) {
//         return switchboard::OfferDecision::acceptInto("downloads");
//       },
//       .onProgress = [](const switchboard::TransferStatus& s) { ... }});
//   call->dataChannel().onReceiverCreated([&](const auto& r) { (*files)->handleReceiver(r); });
//   call->onParticipantJoined([&](const auto& p) { (*files)->handleParticipantJoined(p); });
//   call->onParticipantLeft([&](const auto& p) { (*files)->handleParticipantLeft(p); });
//   (*files)->sendFile("report.pdf", {"bob"});
//
// A Call holds one callback per event, so FileTransfer registers none: the application
// forwards the three events from its own callbacks (or calls attach() when it has none).
//
// Threading: each FileTransfer runs one worker thread that does all of its file I/O
// (reading, hashing, writing, renaming) and all of its sendMessage/readMessage calls, in
// bounded steps (one 64 KiB chunk at a time). The SDK's event thread only hands it
// events (a receiver has messages, someone joined), so a slow disk never stalls the
// network. FileTransfer's own callbacks (onOffer, onProgress) run on that worker thread,
// one at a time, with no lock held: they may call any method of the FileTransfer, but
// must not destroy it, and a callback that blocks stalls every transfer of it (not the
// call). Every method may be called from any thread.
//
// Memory stays flat whatever the file size: a chunk is read only when sendMessage takes
// it (BUFFER_FULL = wait), and a received chunk is written before the next one is read.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchboard/call_client.hpp"
#include "switchboard/data_channel.hpp"
#include "switchboard/options.hpp"
#include "switchboard/result.hpp"

namespace switchboard {

// The channels of the chat and file-transfer conventions.
inline constexpr std::uint16_t kChatChannel = 10000;
inline constexpr std::uint16_t kFileChannel = 10001;

// What a receiver keeps of an offered file name: its last path component (after the last
// '/' or '\'), without control characters (U+0000–U+001F, U+007F–U+009F) and leading
// dots, cut to at most 200 bytes (at a UTF-8 boundary); nullopt when nothing is left.
// "../../etc/passwd" → "passwd", ".hidden" → "hidden", "a/b\\c.txt" → "c.txt", ".." →
// nullopt.
std::optional<std::string> sanitizeFileName(std::string_view name);

// Why a transfer stopped. `code` is a CANCEL code of the protocol ("DECLINED",
// "HASH_MISMATCH", "CANCELLED", "IO_ERROR") or an SDK error code ("NOT_CONNECTED", ...).
struct TransferError {
  std::string code;
  std::string message;
};

enum class TransferDirection : std::uint8_t { Outgoing, Incoming };

enum class TransferState : std::uint8_t {
  Preparing,     // outgoing: hashing the file before the offer
  Waiting,       // outgoing: the recipient is not in the call (yet, or any more): offered
                 // when it (re)joins; incoming: the sender left, resumed when it offers again
  Offered,       // offer sent, no answer yet / offer received, not decided yet
  Transferring,  // chunks flowing
  Sent,          // outgoing: DONE sent, waiting for the recipient's confirmation
  Done,          // outgoing: the recipient confirmed the whole file; incoming: written,
                 // SHA-256 checked, renamed to `path`
  Declined,
  Failed,  // `error` says why
};

std::string_view to_string(TransferState state) noexcept;

// One file to or from one participant.
struct TransferStatus {
  std::string id;  // the transfer id: 32 lowercase hex digits
  TransferDirection direction = TransferDirection::Outgoing;
  Identity peer;     // the recipient (outgoing) or the sender (incoming)
  std::string name;  // as offered (outgoing) or sanitised (incoming)
  std::uint64_t size = 0;
  // Outgoing: bytes the recipient reported written (PROGRESS, at least every MiB);
  // incoming: bytes written to disk.
  std::uint64_t bytes = 0;
  // Outgoing: bytes handed to sendMessage (at most a send buffer ahead of `bytes`).
  std::uint64_t sent = 0;
  // Of `bytes`, over about the last two seconds.
  double bytesPerSecond = 0;
  TransferState state = TransferState::Preparing;
  std::optional<TransferError> error;  // Failed, Declined
  // Incoming: where the file is (Done) or is being written (the partial file).
  std::filesystem::path path;
};

struct IncomingOffer {
  std::string id;
  Identity from;
  std::string fromDisplayName;
  std::string offeredName;  // as the sender wrote it
  std::string name;         // sanitised: what the file will be called
  std::uint64_t size = 0;
  std::string sha256;  // 64 lowercase hex digits
  std::string mime;    // may be empty
};

struct OfferDecision {
  enum class Kind : std::uint8_t { Accept, Decline, Later };
  Kind kind = Kind::Decline;
  // Accept: the directory the file goes to (created if missing). The partial file is
  // `.<name>.<id>.part` there, beside `.<name>.<id>.meta` (the sender, size and SHA-256 of
  // the offer its bytes belong to); when the transfer completes it is renamed to `<name>`,
  // or `<stem> (1)<ext>`, `(2)`, ... when that exists, unless `overwrite`, and the .meta
  // file is removed.
  std::filesystem::path directory;
  bool overwrite = false;

  static OfferDecision acceptInto(std::filesystem::path directory, bool overwrite = false) {
    return {Kind::Accept, std::move(directory), overwrite};
  }
  static OfferDecision decline() { return {}; }
  // Decide afterwards with acceptOffer()/declineOffer().
  static OfferDecision later() { return {Kind::Later, {}, false}; }
};

struct FileTransferOptions {
  // Someone offers us a file. Absent: every offer is declined. An offer of a transfer id
  // whose partial file is in the chosen directory resumes from the partial file's size
  // when its .meta file names the same sender, size and SHA-256; otherwise the partial
  // file starts again from byte 0. An offer of an id already being received (the sender
  // was restarted) resumes the same way without asking again, when size and SHA-256 match.
  std::function<OfferDecision(const IncomingOffer&)> onOffer;
  // A transfer changed: called on every state change and, while bytes flow, at most every
  // 100 ms per transfer.
  std::function<void(const TransferStatus&)> onProgress;
};

struct SendFileOptions {
  // The name offered; default: the path's file name.
  std::string name;
  std::string mime;
};

class FileTransfer {
 public:
  class Impl;
  // Starts the worker thread. The call must stay joined while files move.
  static Result<std::unique_ptr<FileTransfer>> create(std::shared_ptr<Call> call,
                                                      FileTransferOptions options);
  // Stops the worker and the channel-10001 sender; unfinished transfers stop where they
  // are (partial files stay, so a later offer of the same id resumes). Must not run in
  // one of this FileTransfer's callbacks.
  ~FileTransfer();
  FileTransfer(const FileTransfer&) = delete;
  FileTransfer& operator=(const FileTransfer&) = delete;

  // The events FileTransfer needs, forwarded from the call's callbacks. handleReceiver
  // returns true for a receiver on kFileChannel (FileTransfer reads it from now on) and
  // false for any other (left to the caller).
  bool handleReceiver(const std::shared_ptr<DataChannelReceiver>& receiver);
  void handleParticipantJoined(const ParticipantInfo& participant);
  void handleParticipantLeft(const ParticipantInfo& participant);
  // Registers the three as the call's onReceiverCreated, onParticipantJoined and
  // onParticipantLeft (replacing what was there), for programs with no callbacks of
  // their own.
  void attach();

  // Offers the file at `path` to `to` (identities; empty = everyone in the call now) and
  // sends it to each who accepts; a recipient not in the call yet gets the offer when it
  // joins, one who leaves gets it again (same id, so it resumes) when it comes back.
  // Returns at once: the worker hashes the file (SHA-256, for the OFFER) before it offers.
  // The transfer id is derived from this participant's identity, the offered name and the
  // file's absolute path, inode, size and modification time (docs/protocol.md), not from
  // its bytes: the same unchanged file sent again, even by a restarted program, has the
  // same id, so a recipient holding part of it resumes (after checking that the size and
  // SHA-256 are those of its partial file). Sending it again while this FileTransfer knows
  // it adds the new recipients to that transfer and offers it again to those that declined
  // or failed; one it reached stays done. A file changed in between gets a new id.
  // Returns the transfer id. Errors: INVALID_ARGUMENT (not a readable regular file, or a
  // name that is empty once sanitised), NO_VALID_PARTICIPANT (`to` empty and nobody else
  // in the call), TOO_MANY_PARTICIPANTS, SENDER_CLOSED (the FileTransfer is closing).
  Result<std::string> sendFile(const std::filesystem::path& path, std::vector<Identity> to,
                               const SendFileOptions& options = {});

  // For offers answered with OfferDecision::later(). False when `id` from `from` is not
  // an undecided offer.
  bool acceptOffer(const Identity& from, const std::string& id, const OfferDecision& decision);
  bool declineOffer(const Identity& from, const std::string& id);

  // Stops a transfer in either direction (all its recipients) and tells the other side
  // (CANCEL "CANCELLED"). An incoming transfer's partial file is deleted.
  void cancel(const std::string& id);

  // Every transfer so far, one entry per file and peer.
  std::vector<TransferStatus> transfers() const;

 private:
  explicit FileTransfer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace switchboard
