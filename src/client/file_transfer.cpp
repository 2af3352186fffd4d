// FileTransfer (include/switchboard/file_transfer.hpp): the file-transfer convention of
// docs/protocol.md on a Call, with one worker thread that owns every transfer's state,
// file descriptor and hash, and makes every sendMessage/readMessage call on channel 10001.
// The event thread only queues tasks for it (handle*), so file I/O never runs there.
//
// One worker turn: run queued tasks, read at most a bounded number of messages from the
// receivers (each CHUNK written before the next is read: the SDK's unread bound then
// pushes back on the sender), hash 1 MiB of a file being prepared, send queued control
// messages, then chunks while sendMessage takes them (BUFFER_FULL = try again in 1 ms),
// and report progress.

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <switchboard/file_transfer.hpp>

#include "client/file_messages.hpp"
#include "client/partial_file.hpp"
#include "client/log.hpp"

namespace switchboard {
namespace {

namespace files = client::files;
namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kReportInterval = 100ms;
// Per worker turn, so tasks, receiving and sending take turns.
constexpr int kReadBudget = 64;
constexpr int kChunkBudget = 32;
constexpr std::uint64_t kHashStep = std::uint64_t{1024} * 1024;

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// Streaming SHA-256 (OpenSSL EVP).
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { reset(); }
  void reset() { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
  void update(const void* data, std::size_t size) { EVP_DigestUpdate(ctx_.get(), data, size); }
  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx_.get(), digest, &length);
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
      out += digits[digest[i] >> 4];
      out += digits[digest[i] & 0x0f];
    }
    return out;
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

// Bytes per second over about the last two seconds.
class RateMeter {
 public:
  double update(SteadyClock::time_point now, std::uint64_t bytes) {
    if (!samples_.empty() && bytes < samples_.back().second) samples_.clear();
    samples_.emplace_back(now, bytes);
    while (samples_.size() > 2 && now - samples_.front().first > 2s) samples_.pop_front();
    const double seconds = std::chrono::duration<double>(now - samples_.front().first).count();
    if (seconds >= 0.05) rate_ = static_cast<double>(bytes - samples_.front().second) / seconds;
    return rate_;
  }

 private:
  std::deque<std::pair<SteadyClock::time_point, std::uint64_t>> samples_;
  double rate_ = 0;
};

std::string errno_text(int error) {
  return std::strerror(error);
}

bool final_state(TransferState state) {
  return state == TransferState::Done || state == TransferState::Declined ||
         state == TransferState::Failed;
}

// Reads exactly `size` bytes at `offset`; false on an error or a short file.
bool read_at(int fd, std::uint8_t* out, std::size_t size, std::uint64_t offset, int& error) {
  while (size > 0) {
    const auto n = ::pread(fd, out, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno : 0;
      return false;
    }
    out += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

bool write_at(int fd, const std::uint8_t* data, std::size_t size, std::uint64_t offset,
              int& error) {
  while (size > 0) {
    const auto n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno : ENOSPC;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

// `name`, or `stem (n).ext` for n >= 1.
// What identifies this version of the file (`info` is its fstat).
files::FileVersion file_version(const fs::path& path, const struct stat& info) {
  std::error_code ec;
  fs::path absolute = fs::weakly_canonical(path, ec);
  if (ec) absolute = fs::absolute(path, ec).lexically_normal();
  return files::FileVersion{
      .path = absolute.string(),
      .inode = static_cast<std::uint64_t>(info.st_ino),
      .size = static_cast<std::uint64_t>(info.st_size),
      .mtime_ns = static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 +
                  static_cast<std::int64_t>(info.st_mtim.tv_nsec)};
}

std::string numbered(const std::string& name, int n) {
  if (n == 0) return name;
  const fs::path path(name);
  const std::string ext = path.has_stem() ? path.extension().string() : std::string();
  const std::string stem = name.substr(0, name.size() - ext.size());
  return stem + " (" + std::to_string(n) + ")" + ext;
}

}  // namespace

class FileTransfer::Impl : public std::enable_shared_from_this<FileTransfer::Impl> {
 public:
  Impl(std::shared_ptr<Call> call, FileTransferOptions options)
      : call_(std::move(call)), options_(std::move(options)) {}

  void start() {
    worker_ = std::thread([self = shared_from_this()] { self->run(); });
  }

  void stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

  // ---------------------------------------------------------------- any thread

  void post(std::function<void()> task) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

  void wake_readable() {
    {
      std::lock_guard lock(mu_);
      readable_ = true;
    }
    cv_.notify_one();
  }

  // Runs `fn` on the worker and returns its result (directly when already there).
  template <typename Fn>
  auto on_worker(Fn fn) -> decltype(fn()) {
    if (tls_worker == this) return fn();
    auto task = std::make_shared<std::packaged_task<decltype(fn())()>>(std::move(fn));
    auto result = task->get_future();
    {
      std::lock_guard lock(mu_);
      if (stop_) return decltype(fn()){};
      tasks_.emplace_back([task] { (*task)(); });
    }
    cv_.notify_one();
    return result.get();
  }

  bool handle_receiver(const std::shared_ptr<DataChannelReceiver>& receiver) {
    if (receiver->channelId() != kFileChannel) return false;
    std::weak_ptr<Impl> weak = weak_from_this();
    receiver->onMessageReady([weak] {
      if (auto self = weak.lock()) self->wake_readable();
    });
    post([this, receiver] { receivers_.push_back(receiver); });
    return true;
  }

  void attach() {
    std::weak_ptr<Impl> weak = weak_from_this();
    call_->dataChannel().onReceiverCreated([weak](const std::shared_ptr<DataChannelReceiver>& r) {
      if (auto self = weak.lock()) self->handle_receiver(r);
    });
    call_->onParticipantJoined([weak](const ParticipantInfo& p) {
      if (auto self = weak.lock()) self->post([s = self.get(), id = p.identity] { s->joined(id); });
    });
    call_->onParticipantLeft([weak](const ParticipantInfo& p) {
      if (auto self = weak.lock()) self->post([s = self.get(), id = p.identity] { s->left(id); });
    });
  }

  Result<std::string> send_file(const fs::path& path, std::vector<Identity> to,
                                const SendFileOptions& options) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      return Error{ErrorCode::InvalidArgument,
                   "cannot open " + path.string() + ": " + errno_text(errno)};
    }
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode)) {
      return Error{ErrorCode::InvalidArgument, path.string() + " is not a regular file"};
    }
    if (static_cast<std::uint64_t>(info.st_size) > files::kMaxOffset) {
      return Error{ErrorCode::InvalidArgument, path.string() + " is larger than 2^53 bytes"};
    }
    const std::string offered = options.name.empty() ? path.filename().string() : options.name;
    const auto name = sanitizeFileName(offered);
    if (!name) {
      return Error{ErrorCode::InvalidArgument,
                   "\"" + offered + "\" is not a usable file name (give SendFileOptions::name)"};
    }
    if (to.empty()) {
      for (const auto& p : call_->participants()) to.push_back(p.identity);
      if (to.empty()) return Error{ErrorCode::NoValidParticipant, "nobody else is in the call"};
    }
    std::sort(to.begin(), to.end());
    to.erase(std::unique(to.begin(), to.end()), to.end());
    if (to.size() > kMaxRecipients) {
      return Error{ErrorCode::TooManyParticipants,
                   "at most " + std::to_string(kMaxRecipients) + " recipients per file"};
    }
    auto out = std::make_shared<Outgoing>();
    // The id comes from the file's metadata, not its bytes, so it is known without reading
    // the file (the worker hashes it afterwards) and is the same when this program sends the
    // same unchanged file again, even after a restart: a recipient holding part of it
    // resumes. The recipient checks the OFFER's size and SHA-256 before it does.
    out->id = files::derive_transfer_id(call_->self().identity, file_version(path, info), *name);
    out->path = path;
    out->name = *name;
    out->mime = options.mime;
    out->size = static_cast<std::uint64_t>(info.st_size);
    out->fd = std::move(fd);
    for (auto& identity : to) out->recipients.push_back(Recipient{.identity = std::move(identity)});
    std::string id = out->id;
    {
      std::lock_guard lock(mu_);
      if (stop_) return Error{ErrorCode::SenderClosed, "this FileTransfer is closed"};
      tasks_.emplace_back([this, out] { add_outgoing(out); });
    }
    cv_.notify_one();
    return id;
  }

  bool decide(const Identity& from, const std::string& id, const OfferDecision& decision) {
    return on_worker([&]() -> bool {
      auto it = incoming_.find(key(from, id));
      if (it == incoming_.end() || it->second->state != TransferState::Offered ||
          !it->second->undecided) {
        return false;
      }
      apply(*it->second, decision);
      return true;
    });
  }

  void cancel(const std::string& id) {
    post([this, id] { cancel_now(id); });
  }

  std::vector<TransferStatus> transfers() const {
    std::lock_guard lock(status_mu_);
    std::vector<TransferStatus> out;
    out.reserve(statuses_.size());
    for (const auto& [k, status] : statuses_) out.push_back(status);
    return out;
  }

 private:
  struct Recipient {
    Identity identity;
    TransferState state = TransferState::Preparing;
    std::uint64_t next = 0;  // the next byte to send
    std::uint64_t sent = 0;
    std::uint64_t confirmed = 0;
    std::optional<TransferError> error;
    RateMeter rate;
    double bytes_per_second = 0;
    SteadyClock::time_point reported{};
    bool dirty = false;
  };

  struct Outgoing {
    std::string id;
    fs::path path;
    std::string name;
    std::string mime;
    std::uint64_t size = 0;
    std::string sha256;
    Fd fd;
    Sha256 hash;
    std::uint64_t hashed = 0;
    bool prepared = false;
    std::vector<Recipient> recipients;
  };

  struct Incoming {
    IncomingOffer offer;
    TransferState state = TransferState::Offered;
    bool undecided = true;
    fs::path directory;
    fs::path part;
    fs::path meta;  // which offer the partial file's bytes belong to (client/partial_file.hpp)
    fs::path final_path;
    bool overwrite = false;
    Fd fd;
    Sha256 hash;
    std::uint64_t received = 0;
    std::uint64_t reported = 0;  // the last PROGRESS offset sent
    std::optional<TransferError> error;
    RateMeter rate;
    double bytes_per_second = 0;
    SteadyClock::time_point emitted{};
    bool dirty = false;
  };

  struct Outbound {
    std::vector<Identity> to;
    std::vector<std::uint8_t> bytes;
  };

  enum class SendOutcome { Sent, Blocked, Gone, Failed };

  static std::string key(const Identity& from, const std::string& id) { return from + " " + id; }

  // ---------------------------------------------------------------- worker thread

  void run() {
    tls_worker = this;
    std::vector<std::uint8_t> buffer(files::kChunkHeaderSize + files::kMaxChunkSize);
    bool busy = false;
    for (;;) {
      std::deque<std::function<void()>> tasks;
      {
        std::unique_lock lock(mu_);
        const auto now = SteadyClock::now();
        auto wait = busy ? 0ms : 200ms;
        if (!busy && blocked_) wait = 1ms;
        if (retry_at_ > now) {
          wait = std::max<std::chrono::milliseconds>(
              wait, std::chrono::duration_cast<std::chrono::milliseconds>(retry_at_ - now));
        }
        if (wait > 0ms) {
          cv_.wait_for(lock, wait, [&] { return stop_ || !tasks_.empty() || readable_; });
        }
        if (stop_) break;
        tasks.swap(tasks_);
        readable_ = false;
      }
      for (auto& task : tasks) task();
      busy = read_receivers();
      busy = prepare_step(buffer) || busy;
      blocked_ = false;
      if (SteadyClock::now() >= retry_at_) {
        if (flush_outbox()) busy = pump(buffer) || busy;
      }
      report(SteadyClock::now());
    }
    // Whatever waits in the queue (on_worker callers) runs, answering "nothing there".
    std::deque<std::function<void()>> rest;
    {
      std::lock_guard lock(mu_);
      rest.swap(tasks_);
    }
    for (auto& task : rest) task();
  }

  bool present(const Identity& identity) const {
    const auto list = call_->participants();
    return std::any_of(list.begin(), list.end(),
                       [&](const ParticipantInfo& p) { return p.identity == identity; });
  }

  // Sends one message now. Blocked: BUFFER_FULL or TRAFFIC_LIMITED (try again later).
  SendOutcome send_now(const std::vector<Identity>& to, std::span<const std::uint8_t> bytes,
                       Error* error = nullptr) {
    if (!sender_ || sender_->closed()) {
      auto created = call_->dataChannel().createSender(
          {.channelId = kFileChannel, .reliability = Reliability::Durable, .participants = to});
      if (!created) {
        if (error != nullptr) *error = created.error();
        return SendOutcome::Failed;
      }
      sender_ = *created;
      sender_to_ = to;
    } else if (sender_to_ != to) {
      if (auto set = sender_->setParticipants(to); !set) {
        if (error != nullptr) *error = set.error();
        return SendOutcome::Failed;
      }
      sender_to_ = to;
    }
    auto sent = sender_->sendMessage(bytes);
    if (sent) return SendOutcome::Sent;
    switch (sent.error().code) {
      case ErrorCode::BufferFull:
        blocked_ = true;
        return SendOutcome::Blocked;
      case ErrorCode::TrafficLimited:
        retry_at_ = SteadyClock::now() + 50ms;
        return SendOutcome::Blocked;
      case ErrorCode::NoValidParticipant:
        return SendOutcome::Gone;
      default:
        if (error != nullptr) *error = sent.error();
        return SendOutcome::Failed;
    }
  }

  void queue(Identity to, const files::Message& message) {
    outbox_.push_back(Outbound{{std::move(to)}, files::encode(message)});
  }

  // Control messages first; false while some still wait.
  bool flush_outbox() {
    while (!outbox_.empty()) {
      auto& front = outbox_.front();
      Error error;
      const auto outcome = send_now(front.to, front.bytes, &error);
      if (outcome == SendOutcome::Blocked) return false;
      if (outcome == SendOutcome::Failed) {
        client::log()->warn("file transfer: a message to {} was not sent: {}", front.to.front(),
                            error.message);
      }
      // Gone: the peer left; it is offered (or answers) again when it is back.
      outbox_.pop_front();
    }
    return true;
  }

  // ------------------------------------------------------------ receiving messages

  bool read_receivers() {
    bool more = false;
    for (auto it = receivers_.begin(); it != receivers_.end();) {
      auto& receiver = *it;
      for (int n = 0; n < kReadBudget; ++n) {
        auto message = receiver->readMessage();
        if (!message) break;
        dispatch(receiver->senderIdentity(), receiver->senderDisplayName(), message->data);
      }
      if (receiver->unreadMessages() > 0) {
        more = true;
      } else if (receiver->closed()) {
        it = receivers_.erase(it);
        continue;
      }
      ++it;
    }
    return more;
  }

  void dispatch(const Identity& from, const std::string& display_name,
                std::span<const std::uint8_t> data) {
    auto decoded = files::decode(data);
    if (!decoded) {
      client::log()->warn("file transfer: ignored a message from {}: {}", from,
                          decoded.error().message);
      return;
    }
    auto& message = *decoded;
    if (auto* offer = std::get_if<files::Offer>(&message)) {
      offered(from, display_name, *offer);
      return;
    }
    // ACCEPT, PROGRESS and a recipient's CANCEL are about our files; CHUNK, DONE and a
    // sender's CANCEL about theirs. Ids are unique per sender and file, so the id says which.
    const std::string& id =
        std::visit([](const auto& m) -> const std::string& { return m.id; }, message);
    const bool about_ours = std::holds_alternative<files::Accept>(message) ||
                            std::holds_alternative<files::Progress>(message) ||
                            std::holds_alternative<files::Cancel>(message);
    if (about_ours) {
      if (auto it = outgoing_.find(id); it != outgoing_.end()) {
        for (auto& r : it->second->recipients) {
          if (r.identity == from) outgoing_message(*it->second, r, message);
        }
        return;
      }
    }
    if (auto it = incoming_.find(key(from, id)); it != incoming_.end()) {
      incoming_message(*it->second, message);
    }
  }

  // ------------------------------------------------------------------ incoming

  void offered(const Identity& from, const std::string& display_name, const files::Offer& offer) {
    if (auto it = incoming_.find(key(from, offer.id)); it != incoming_.end()) {
      auto& in = *it->second;
      // The same id is the same file only with the same size and SHA-256: a sender's id may
      // come from its file's metadata, which can stay while the bytes change.
      const bool same_file = in.offer.size == offer.size && in.offer.sha256 == offer.sha256;
      switch (in.state) {
        case TransferState::Waiting:
        case TransferState::Transferring:
          if (!same_file) break;
          client::log()->info("file transfer: resuming {} from {} at byte {}", in.offer.name, from,
                              in.received);
          set_state(in, TransferState::Transferring);
          queue(from, files::Accept{offer.id, in.received});
          return;
        case TransferState::Done:
          if (!same_file) break;
          queue(from, files::Progress{offer.id, in.offer.size});
          return;
        case TransferState::Offered:
          return;  // not decided yet
        default:
          break;  // declined or failed before: a new offer (a sender sending it again)
      }
      // Another file under that id, or an offer we ended: decided anew, from byte 0.
      if (!final_state(in.state)) {
        client::log()->info("file transfer: {} from {} changed (size or SHA-256): starting again",
                            in.offer.name, from);
        drop_partial(in);
      }
      incoming_.erase(it);
    }
    auto in = std::make_shared<Incoming>();
    in->offer = IncomingOffer{.id = offer.id,
                              .from = from,
                              .fromDisplayName = display_name,
                              .offeredName = offer.name,
                              .name = {},
                              .size = offer.size,
                              .sha256 = offer.sha256,
                              .mime = offer.mime};
    incoming_[key(from, offer.id)] = in;
    const auto name = sanitizeFileName(offer.name);
    if (!name) {
      const std::string why = "the file name is empty once sanitised";
      queue(from, files::Cancel{offer.id, "DECLINED", why});
      in->offer.name = offer.name;
      in->undecided = false;
      in->error = TransferError{"DECLINED", why};
      set_state(*in, TransferState::Declined);
      return;
    }
    in->offer.name = *name;
    emit(*in);
    const auto decision = options_.onOffer ? options_.onOffer(in->offer) : OfferDecision::decline();
    if (in->state == TransferState::Offered && in->undecided) apply(*in, decision);
  }

  void apply(Incoming& in, const OfferDecision& decision) {
    if (decision.kind == OfferDecision::Kind::Later) return;
    in.undecided = false;
    const auto& offer = in.offer;
    if (decision.kind == OfferDecision::Kind::Decline) {
      queue(offer.from, files::Cancel{offer.id, "DECLINED", "declined"});
      in.error = TransferError{"DECLINED", "declined"};
      set_state(in, TransferState::Declined);
      return;
    }
    in.directory = decision.directory.empty() ? fs::path(".") : decision.directory;
    in.overwrite = decision.overwrite;
    std::error_code ec;
    fs::create_directories(in.directory, ec);
    in.part = in.directory / ("." + offer.name + "." + offer.id + ".part");
    in.meta = files::partial_meta_path(in.part);
    in.fd = Fd(::open(in.part.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!in.fd) {
      abort_incoming(in, "IO_ERROR", "cannot write " + in.part.string() + ": " + errno_text(errno),
                     false);
      return;
    }
    struct stat info {};
    if (::fstat(in.fd.get(), &info) != 0 || !S_ISREG(info.st_mode)) {
      abort_incoming(in, "IO_ERROR", in.part.string() + " is not a regular file", false);
      return;
    }
    // A partial file of this transfer from before (this program's, or one that was stopped):
    // continue after its bytes, which the SHA-256 covers too, when its metadata says they
    // are of this very file. Else start again: truncate first, then record the new offer,
    // so the metadata never names bytes that are not this file's.
    const files::PartialOffer mine{offer.from, offer.id, offer.size, offer.sha256};
    std::uint64_t have = static_cast<std::uint64_t>(info.st_size);
    if (have > 0 && (have > offer.size || files::read_partial_offer(in.meta) != mine)) {
      client::log()->info(
          "file transfer: {} from {}: the partial file is not of this offer, starting again",
          offer.name, offer.from);
      if (::ftruncate(in.fd.get(), 0) != 0) {
        abort_incoming(in, "IO_ERROR", "cannot truncate " + in.part.string(), true);
        return;
      }
      have = 0;
    }
    if (std::string error; !files::write_partial_offer(in.meta, mine, error)) {
      abort_incoming(in, "IO_ERROR", error, true);
      return;
    }
    std::vector<std::uint8_t> buffer(files::kMaxChunkSize);
    for (std::uint64_t at = 0; at < have;) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), have - at));
      int error = 0;
      if (!read_at(in.fd.get(), buffer.data(), n, at, error)) {
        abort_incoming(in, "IO_ERROR", "cannot read " + in.part.string() + ": " + errno_text(error),
                       true);
        return;
      }
      in.hash.update(buffer.data(), n);
      at += n;
    }
    in.received = have;
    in.reported = have;
    if (have > 0) {
      client::log()->info("file transfer: resuming {} from {} at byte {}", offer.name, offer.from,
                          have);
    }
    set_state(in, TransferState::Transferring);
    queue(offer.from, files::Accept{offer.id, have});
  }

  void incoming_message(Incoming& in, const files::Message& message) {
    const auto& offer = in.offer;
    const bool flowing =
        (in.state == TransferState::Transferring || in.state == TransferState::Waiting) && in.fd;
    if (const auto* cancel = std::get_if<files::Cancel>(&message)) {
      if (flowing || in.state == TransferState::Offered) {
        in.error = TransferError{
            cancel->code, cancel->message.empty() ? offer.from + " cancelled" : cancel->message};
        drop_partial(in);
        set_state(in, TransferState::Failed);
      }
      return;
    }
    if (!flowing) return;
    if (const auto* chunk = std::get_if<files::Chunk>(&message)) {
      const std::uint64_t end = chunk->offset + chunk->data.size();
      if (chunk->offset > in.received || end > offer.size) {
        abort_incoming(in, "CANCELLED",
                       "a chunk at byte " + std::to_string(chunk->offset) + " of " +
                           std::to_string(chunk->data.size()) + " bytes, expected byte " +
                           std::to_string(in.received) + " of " + std::to_string(offer.size),
                       true);
        return;
      }
      // Bytes we hold already: a chunk queued before an interruption that still arrived
      // ahead of the resumed stream. The same file's bytes, so skipped.
      if (end <= in.received) return;
      const auto fresh = chunk->data.subspan(in.received - chunk->offset);
      int error = 0;
      if (!write_at(in.fd.get(), fresh.data(), fresh.size(), in.received, error)) {
        abort_incoming(in, "IO_ERROR",
                       "cannot write " + in.part.string() + ": " + errno_text(error), true);
        return;
      }
      in.hash.update(fresh.data(), fresh.size());
      in.received += fresh.size();
      in.dirty = true;
      if (in.received - in.reported >= files::kProgressInterval && in.received < offer.size) {
        in.reported = in.received;
        queue(offer.from, files::Progress{offer.id, in.received});
      }
      return;
    }
    if (std::holds_alternative<files::Done>(message)) {
      if (in.received != offer.size) {
        abort_incoming(in, "CANCELLED",
                       "DONE after " + std::to_string(in.received) + " of " +
                           std::to_string(offer.size) + " bytes",
                       true);
        return;
      }
      const std::string digest = in.hash.hex();
      if (digest != offer.sha256) {
        abort_incoming(in, "HASH_MISMATCH",
                       "the file's SHA-256 is " + digest + ", the offer said " + offer.sha256,
                       true);
        return;
      }
      in.fd.reset();
      std::string error;
      if (!finish(in, error)) {
        abort_incoming(in, "IO_ERROR", error, true);
        return;
      }
      in.dirty = true;
      set_state(in, TransferState::Done);
      queue(offer.from, files::Progress{offer.id, offer.size});
    }
  }

  // Renames the partial file to its final name, never over an existing file unless told.
  bool finish(Incoming& in, std::string& error) {
    for (int n = 0; n < 1000; ++n) {
      const fs::path target = in.directory / numbered(in.offer.name, n);
      int rc = 0;
      if (in.overwrite) {
        rc = ::rename(in.part.c_str(), target.c_str());
      } else {
        rc = ::renameat2(AT_FDCWD, in.part.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE);
        if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {
          // A file system without RENAME_NOREPLACE: link() refuses an existing name too.
          rc = ::link(in.part.c_str(), target.c_str());
          if (rc == 0) ::unlink(in.part.c_str());
        }
      }
      if (rc == 0) {
        in.final_path = target;
        ::unlink(in.meta.c_str());
        return true;
      }
      if (errno != EEXIST || in.overwrite) {
        error = "cannot rename " + in.part.string() + " to " + target.string() + ": " +
                errno_text(errno);
        return false;
      }
    }
    error = "no free name for " + in.offer.name + " in " + in.directory.string();
    return false;
  }

  // Tells the sender and fails the transfer; `delete_partial`: the partial file goes too
  // (false when it could not even be opened: it may be someone else's file).
  void abort_incoming(Incoming& in, const std::string& code, const std::string& message,
                      bool delete_partial) {
    queue(in.offer.from, files::Cancel{in.offer.id, code, message});
    in.error = TransferError{code, message};
    if (delete_partial) drop_partial(in);
    in.fd.reset();
    set_state(in, TransferState::Failed);
  }

  void drop_partial(Incoming& in) {
    in.fd.reset();
    if (!in.part.empty()) ::unlink(in.part.c_str());
    if (!in.meta.empty()) ::unlink(in.meta.c_str());
  }

  // ------------------------------------------------------------------ outgoing

  void add_outgoing(const std::shared_ptr<Outgoing>& out) {
    // The same unchanged file sent again (same id): its recipients join that transfer; one
    // it already reached stays done, one that declined or failed is offered it again.
    // A transfer whose file could not be read is replaced: this one reads it again.
    auto it = outgoing_.find(out->id);
    if (it != outgoing_.end() && it->second->prepared && it->second->sha256.empty()) {
      outgoing_.erase(it);
      it = outgoing_.end();
    }
    if (it != outgoing_.end()) {
      auto& existing = *it->second;
      for (auto& r : out->recipients) {
        auto known = std::find_if(existing.recipients.begin(), existing.recipients.end(),
                                  [&](const Recipient& e) { return e.identity == r.identity; });
        if (known != existing.recipients.end()) {
          if (known->state != TransferState::Declined && known->state != TransferState::Failed) {
            continue;
          }
          *known = Recipient{.identity = known->identity};
        } else {
          existing.recipients.push_back(std::move(r));
          known = std::prev(existing.recipients.end());
        }
        set_state(existing, *known, TransferState::Preparing);
        if (!existing.prepared) continue;  // offered once hashed
        if (present(known->identity)) {
          offer(existing, *known);
        } else {
          set_state(existing, *known, TransferState::Waiting);
        }
      }
      return;
    }
    outgoing_[out->id] = out;
    for (auto& r : out->recipients) set_state(*out, r, TransferState::Preparing);
  }

  // Hashes up to 1 MiB of the first file not yet prepared; true while work is left.
  bool prepare_step(std::vector<std::uint8_t>& buffer) {
    for (auto& [id, out] : outgoing_) {
      if (out->prepared) continue;
      const std::uint64_t stop = std::min(out->size, out->hashed + kHashStep);
      while (out->hashed < stop) {
        const auto n =
            static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), stop - out->hashed));
        int error = 0;
        if (!read_at(out->fd.get(), buffer.data(), n, out->hashed, error)) {
          for (auto& r : out->recipients) {
            r.error = TransferError{
                "IO_ERROR", "cannot read " + out->path.string() + ": " +
                                (error != 0 ? errno_text(error) : std::string("it got shorter"))};
            set_state(*out, r, TransferState::Failed);
          }
          out->prepared = true;
          return true;
        }
        out->hash.update(buffer.data(), n);
        out->hashed += n;
      }
      if (out->hashed < out->size) return true;
      out->sha256 = out->hash.hex();
      out->prepared = true;
      for (auto& r : out->recipients) {
        if (r.state != TransferState::Preparing) continue;
        if (present(r.identity)) {
          offer(*out, r);
        } else {
          set_state(*out, r, TransferState::Waiting);
        }
      }
      return true;
    }
    return false;
  }

  void offer(Outgoing& out, Recipient& r) {
    queue(r.identity, files::Offer{out.id, out.name, out.size, out.sha256, out.mime});
    set_state(out, r, TransferState::Offered);
  }

  void outgoing_message(Outgoing& out, Recipient& r, const files::Message& message) {
    if (final_state(r.state)) return;
    if (const auto* accept = std::get_if<files::Accept>(&message)) {
      if (!out.prepared || r.state == TransferState::Preparing) return;
      if (accept->offset > out.size) {
        queue(r.identity,
              files::Cancel{out.id, "CANCELLED",
                            "offset " + std::to_string(accept->offset) + " is past the end"});
        r.error = TransferError{"CANCELLED", r.identity + " asked for offset " +
                                                 std::to_string(accept->offset) + ", past the end"};
        set_state(out, r, TransferState::Failed);
        return;
      }
      r.next = accept->offset;
      r.sent = accept->offset;
      r.confirmed = accept->offset;
      set_state(out, r, TransferState::Transferring);
      return;
    }
    if (const auto* progress = std::get_if<files::Progress>(&message)) {
      r.confirmed = std::min(progress->offset, out.size);
      r.dirty = true;
      if (progress->offset >= out.size &&
          (r.state == TransferState::Sent || r.state == TransferState::Offered)) {
        r.confirmed = out.size;
        set_state(out, r, TransferState::Done);
      }
      return;
    }
    if (const auto* cancel = std::get_if<files::Cancel>(&message)) {
      if (cancel->code == "DECLINED") {
        r.error = TransferError{"DECLINED", cancel->message.empty() ? "declined" : cancel->message};
        set_state(out, r, TransferState::Declined);
      } else {
        r.error = TransferError{
            cancel->code, cancel->message.empty() ? r.identity + " cancelled" : cancel->message};
        set_state(out, r, TransferState::Failed);
      }
    }
  }

  // Sends chunks (and DONE) to the recipients being served, those at the same offset of
  // one file in one message. True while more could go right away.
  bool pump(std::vector<std::uint8_t>& buffer) {
    int budget = kChunkBudget;
    bool progressed = true;
    while (budget > 0 && progressed && !blocked_ && SteadyClock::now() >= retry_at_) {
      progressed = false;
      for (auto& [id, out] : outgoing_) {
        std::map<std::uint64_t, std::vector<Recipient*>> groups;
        for (auto& r : out->recipients) {
          if (r.state == TransferState::Transferring) groups[r.next].push_back(&r);
        }
        for (auto& [offset, group] : groups) {
          if (blocked_) return false;
          if (budget <= 0) return true;
          std::vector<Identity> to;
          for (auto* r : group) to.push_back(r->identity);
          if (offset >= out->size) {
            Error error;
            const auto outcome = send_now(to, files::encode(files::Done{out->id}), &error);
            if (outcome == SendOutcome::Blocked) return false;
            for (auto* r : group) after_send(*out, *r, outcome, error, true);
            progressed = true;
            continue;
          }
          const auto n = static_cast<std::size_t>(
              std::min<std::uint64_t>(files::kMaxChunkSize, out->size - offset));
          int read_error = 0;
          if (!read_at(out->fd.get(), buffer.data() + files::kChunkHeaderSize, n, offset,
                       read_error)) {
            const std::string why =
                "cannot read " + out->path.string() + ": " +
                (read_error != 0 ? errno_text(read_error) : std::string("it got shorter"));
            for (auto* r : group) {
              queue(r->identity, files::Cancel{out->id, "IO_ERROR", why});
              r->error = TransferError{"IO_ERROR", why};
              set_state(*out, *r, TransferState::Failed);
            }
            continue;
          }
          files::encode_chunk_header(out->id, offset,
                                     std::span<std::uint8_t, files::kChunkHeaderSize>(
                                         buffer.data(), files::kChunkHeaderSize));
          Error error;
          const auto outcome = send_now(
              to, std::span<const std::uint8_t>(buffer.data(), files::kChunkHeaderSize + n),
              &error);
          if (outcome == SendOutcome::Blocked) return false;
          for (auto* r : group) {
            if (outcome == SendOutcome::Sent) {
              r->next = offset + n;
              r->sent = r->next;
              r->dirty = true;
            } else {
              after_send(*out, *r, outcome, error, false);
            }
          }
          --budget;
          progressed = true;
        }
      }
    }
    return budget <= 0;
  }

  void after_send(Outgoing& out, Recipient& r, SendOutcome outcome, const Error& error,
                  bool done_message) {
    switch (outcome) {
      case SendOutcome::Sent:
        if (done_message) set_state(out, r, TransferState::Sent);
        return;
      case SendOutcome::Gone:
        if (!present(r.identity)) set_state(out, r, TransferState::Waiting);
        return;
      case SendOutcome::Failed:
        r.error = TransferError{std::string(to_string(error.code)), error.message};
        set_state(out, r, TransferState::Failed);
        return;
      case SendOutcome::Blocked:
        return;
    }
  }

  // ------------------------------------------------------------------ presence

  void joined(const Identity& identity) {
    for (auto& [id, out] : outgoing_) {
      if (!out->prepared) continue;
      for (auto& r : out->recipients) {
        if (r.identity == identity && r.state == TransferState::Waiting) offer(*out, r);
      }
    }
  }

  void left(const Identity& identity) {
    for (auto& [id, out] : outgoing_) {
      for (auto& r : out->recipients) {
        if (r.identity != identity) continue;
        if (r.state == TransferState::Offered || r.state == TransferState::Transferring ||
            r.state == TransferState::Sent) {
          set_state(*out, r, TransferState::Waiting);
        }
      }
    }
    for (auto& [k, in] : incoming_) {
      if (in->offer.from == identity && in->state == TransferState::Transferring) {
        set_state(*in, TransferState::Waiting);
      }
    }
    // Messages for the one who left wait no more: it gets them again when it is back.
    std::erase_if(outbox_,
                  [&](const Outbound& m) { return m.to.size() == 1 && m.to[0] == identity; });
  }

  void cancel_now(const std::string& id) {
    if (auto it = outgoing_.find(id); it != outgoing_.end()) {
      for (auto& r : it->second->recipients) {
        if (final_state(r.state)) continue;
        if (r.state != TransferState::Preparing && r.state != TransferState::Waiting) {
          queue(r.identity, files::Cancel{id, "CANCELLED", "the sender cancelled"});
        }
        r.error = TransferError{"CANCELLED", "cancelled"};
        set_state(*it->second, r, TransferState::Failed);
      }
    }
    for (auto& [k, in] : incoming_) {
      if (in->offer.id != id || final_state(in->state)) continue;
      queue(in->offer.from, files::Cancel{id, "CANCELLED", "the receiver cancelled"});
      in->error = TransferError{"CANCELLED", "cancelled"};
      drop_partial(*in);
      set_state(*in, TransferState::Failed);
    }
  }

  // ------------------------------------------------------------------ progress

  void set_state(Outgoing& out, Recipient& r, TransferState state) {
    r.state = state;
    emit(out, r, SteadyClock::now());
  }
  void set_state(Incoming& in, TransferState state) {
    in.state = state;
    emit(in, SteadyClock::now());
  }

  void report(SteadyClock::time_point now) {
    for (auto& [id, out] : outgoing_) {
      for (auto& r : out->recipients) {
        if (r.dirty && now - r.reported >= kReportInterval) emit(*out, r, now);
      }
    }
    for (auto& [k, in] : incoming_) {
      if (in->dirty && now - in->emitted >= kReportInterval) emit(*in, now);
    }
  }

  void emit(Outgoing& out, Recipient& r, SteadyClock::time_point now) {
    r.dirty = false;
    r.reported = now;
    r.bytes_per_second = r.rate.update(now, r.confirmed);
    TransferStatus status{.id = out.id,
                          .direction = TransferDirection::Outgoing,
                          .peer = r.identity,
                          .name = out.name,
                          .size = out.size,
                          .bytes = r.confirmed,
                          .sent = r.sent,
                          .bytesPerSecond = r.bytes_per_second,
                          .state = r.state,
                          .error = r.error,
                          .path = out.path};
    publish("o " + out.id + " " + r.identity, status);
  }

  void emit(Incoming& in, SteadyClock::time_point now = SteadyClock::now()) {
    in.dirty = false;
    in.emitted = now;
    in.bytes_per_second = in.rate.update(now, in.received);
    TransferStatus status{.id = in.offer.id,
                          .direction = TransferDirection::Incoming,
                          .peer = in.offer.from,
                          .name = in.offer.name,
                          .size = in.offer.size,
                          .bytes = in.received,
                          .sent = in.received,
                          .bytesPerSecond = in.bytes_per_second,
                          .state = in.state,
                          .error = in.error,
                          .path = in.state == TransferState::Done ? in.final_path : in.part};
    publish("i " + key(in.offer.from, in.offer.id), status);
  }

  void publish(const std::string& k, const TransferStatus& status) {
    {
      std::lock_guard lock(status_mu_);
      statuses_[k] = status;
    }
    if (options_.onProgress) options_.onProgress(status);
  }

  const std::shared_ptr<Call> call_;
  const FileTransferOptions options_;
  std::thread worker_;
  // The Impl whose worker runs on this thread (nullptr elsewhere).
  static thread_local const Impl* tls_worker;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // mu_
  bool readable_ = false;                    // mu_
  bool stop_ = false;                        // mu_

  mutable std::mutex status_mu_;
  std::map<std::string, TransferStatus> statuses_;  // status_mu_

  // Worker thread only.
  std::shared_ptr<DataChannelSender> sender_;
  std::vector<Identity> sender_to_;
  std::vector<std::shared_ptr<DataChannelReceiver>> receivers_;
  std::map<std::string, std::shared_ptr<Outgoing>> outgoing_;
  std::map<std::string, std::shared_ptr<Incoming>> incoming_;
  std::deque<Outbound> outbox_;
  bool blocked_ = false;
  SteadyClock::time_point retry_at_{};

  friend class FileTransfer;
};

thread_local const FileTransfer::Impl* FileTransfer::Impl::tls_worker = nullptr;

Result<std::unique_ptr<FileTransfer>> FileTransfer::create(std::shared_ptr<Call> call,
                                                           FileTransferOptions options) {
  if (!call) return Error{ErrorCode::InvalidArgument, "FileTransfer needs a call"};
  if (!call->connected()) return Error{ErrorCode::NotConnected, "the call is not joined"};
  auto impl = std::make_shared<Impl>(std::move(call), std::move(options));
  impl->start();
  return std::unique_ptr<FileTransfer>(new FileTransfer(std::move(impl)));
}

FileTransfer::FileTransfer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

FileTransfer::~FileTransfer() {
  impl_->stop();
  if (impl_->sender_) impl_->sender_->close();
}

bool FileTransfer::handleReceiver(const std::shared_ptr<DataChannelReceiver>& receiver) {
  return impl_->handle_receiver(receiver);
}
void FileTransfer::handleParticipantJoined(const ParticipantInfo& participant) {
  impl_->post([impl = impl_.get(), id = participant.identity] { impl->joined(id); });
}
void FileTransfer::handleParticipantLeft(const ParticipantInfo& participant) {
  impl_->post([impl = impl_.get(), id = participant.identity] { impl->left(id); });
}
void FileTransfer::attach() {
  impl_->attach();
}
Result<std::string> FileTransfer::sendFile(const std::filesystem::path& path,
                                           std::vector<Identity> to,
                                           const SendFileOptions& options) {
  return impl_->send_file(path, std::move(to), options);
}
bool FileTransfer::acceptOffer(const Identity& from, const std::string& id,
                               const OfferDecision& decision) {
  if (decision.kind != OfferDecision::Kind::Accept) return false;
  return impl_->decide(from, id, decision);
}
bool FileTransfer::declineOffer(const Identity& from, const std::string& id) {
  return impl_->decide(from, id, OfferDecision::decline());
}
void FileTransfer::cancel(const std::string& id) {
  impl_->cancel(id);
}
std::vector<TransferStatus> FileTransfer::transfers() const {
  return impl_->transfers();
}

}  // namespace switchboard
