#pragma once

// Where a link puts its parts when it ends: the part whose callback is running right now
// (a failure, a close inside a callback) must not be destroyed under it, so they are all
// taken out of use at once and destroyed on the next turn of the loop.
//
// Runs on the io_context's thread, like the links that own it.

#include <memory>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace switchboard::client {

class Graveyard {
 public:
  explicit Graveyard(boost::asio::io_context& io) : io_(io) {}
  ~Graveyard() { clear(); }
  Graveyard(const Graveyard&) = delete;
  Graveyard& operator=(const Graveyard&) = delete;

  // Destroyed on the next turn of the loop (or by clear(), or with the graveyard), in the
  // order given. Empty pointers are skipped; nothing to bury posts nothing.
  template <typename... Parts>
  void bury(std::unique_ptr<Parts>... parts) {
    if (!(parts || ...)) return;
    (buried_->emplace_back(std::move(parts)), ...);
    boost::asio::post(io_, [buried = std::weak_ptr<Buried>(buried_)] {
      if (auto alive = buried.lock()) destroy(*alive);
    });
  }

  // Destroys everything buried so far, now.
  void clear() { destroy(*buried_); }

 private:
  using Buried = std::vector<std::shared_ptr<void>>;

  static void destroy(Buried& buried) {
    for (auto& part : buried) part.reset();  // in order: a vector's clear() promises none
    buried.clear();
  }

  boost::asio::io_context& io_;
  std::shared_ptr<Buried> buried_ = std::make_shared<Buried>();
};

}  // namespace switchboard::client
