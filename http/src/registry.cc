#include "registry.h"

namespace stemedb::exporter::detail {

std::shared_ptr<Connection> Registry::TakeOldest(State state) {
  auto& list = lists_[Index(state)];
  for (auto it = list.begin(); it != list.end(); ++it) {
    auto c = it->connection.lock();
    if (!c) continue;  // being destroyed; it leaves on its own
    auto& closing = lists_[Index(State::kClosing)];
    closing.splice(closing.end(), list, it);
    it->state = State::kClosing;
    return c;
  }
  return nullptr;
}

std::shared_ptr<Connection> Registry::Victim(size_t limit, size_t extra) {
  std::lock_guard<std::mutex> lock(mu_);
  if (count_ + extra <= limit) return nullptr;
  for (State s : kVictimOrder) {
    if (auto c = TakeOldest(s)) return c;
  }
  return nullptr;
}

std::shared_ptr<Connection> Registry::HandshakeVictim(size_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  if (lists_[Index(State::kHandshaking)].size() <= limit) return nullptr;
  return TakeOldest(State::kHandshaking);
}

}  // namespace stemedb::exporter::detail
