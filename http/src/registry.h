// The server's table of open connections by state, which picks the one to
// close when a limit is reached (see server.h: Limits).
//
// Thread safety: Registry's methods may be called from any thread; its
// lists are guarded by its mutex. A Connection's own handlers run on its
// io_context only.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>

#include "stemedb/http/server.h"

namespace stemedb::exporter::detail {

// One client connection. Its handlers all run on its io_context, which one
// thread runs, so its members need no lock; the registry entry is the only
// state other threads touch, through Registry's mutex.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  virtual ~Connection() = default;
  virtual void Register() = 0;
  virtual void Start() = 0;
  // Closes from any thread (posted onto its io_context).
  virtual void Close() = 0;
};

// Every open connection, by state, oldest first within a state (the one
// longest without progress: a connection moves to the back of its state's
// list on each change, and a writer on each send that made progress). The
// victim when the limit is reached is the front of the first non-empty list
// of kVictimOrder.
class Registry {
 public:
  enum class State {
    kIdle,         // between requests, or a TLS client yet to say hello
    kHandshaking,  // a TLS handshake in OpenSSL (its buffers taken)
    kReading,      // a request's header or body is arriving
    kBusy,         // waiting for bcrypt
    kWriting,      // a reply is being sent
    kClosing,      // chosen as a victim
  };
  static constexpr size_t kStates = 6;
  // Idle connections first; a peer that has stopped reading its replies
  // (a writer with no progress) is no better than one that never sends.
  static constexpr std::array<State, 4> kVictimOrder = {
      State::kIdle, State::kHandshaking, State::kReading, State::kWriting};

  struct Entry {
    std::weak_ptr<Connection> connection;
    State state = State::kIdle;
  };
  using List = std::list<Entry>;

  // Adds a new connection (idle); returns its handle.
  List::iterator Add(std::weak_ptr<Connection> c) {
    List::iterator it;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++count_;
      it = lists_[0].insert(lists_[0].end(), Entry{std::move(c)});
    }
    changed_.notify_all();  // free unless a test waits
    return it;
  }
  void Remove(List::iterator it) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --count_;
      lists_[Index(it->state)].erase(it);
    }
    changed_.notify_all();
  }
  // Waits until `done(Counts())` holds (each change wakes it); false if
  // `timeout` passed first.
  template <class Predicate>
  bool WaitUntil(Predicate done, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, timeout,
                             [&] { return done(CountsLocked()); });
  }
  // Moves to the back of `state`'s list (the newest there), unless it is
  // in that state already and `progress` is false.
  void Set(List::iterator it, State state, bool progress = false) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (it->state == State::kClosing) return;  // chosen as a victim already
      // Idle since accept stays idle since accept: its first wait for a
      // request must not make it look newer than connections accepted after
      // it.
      if (it->state == state && !progress) return;
      auto& from = lists_[Index(it->state)];
      auto& to = lists_[Index(state)];
      to.splice(to.end(), from, it);
      it->state = state;
    }
    changed_.notify_all();
  }
  ConnectionCounts Counts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return CountsLocked();
  }
  size_t Count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }
  // When more than `limit` are open (`extra` counted as open too), picks the
  // first connection in kVictimOrder, marks it closing and returns it; null
  // when none is open beyond the limit or every one is busy.
  std::shared_ptr<Connection> Victim(size_t limit, size_t extra);
  // When more than `limit` TLS handshakes are in OpenSSL, the oldest of
  // them, marked closing; else null.
  std::shared_ptr<Connection> HandshakeVictim(size_t limit);

 private:
  static size_t Index(State s) { return static_cast<size_t>(s); }
  // Marks the first live connection of `state`'s list closing; null if none.
  std::shared_ptr<Connection> TakeOldest(State state);  // REQUIRES: mu_
  ConnectionCounts CountsLocked() const {
    ConnectionCounts c;
    c.open = count_;
    c.handshaking = lists_[Index(State::kHandshaking)].size();
    c.writing = lists_[Index(State::kWriting)].size();
    return c;
  }
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;  // a connection went or moved
  std::array<List, kStates> lists_;          // GUARDED_BY(mu_), by State
  size_t count_ = 0;                         // GUARDED_BY(mu_)
};

}  // namespace stemedb::exporter::detail
