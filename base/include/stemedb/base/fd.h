// An owned file descriptor, closed when the owner goes.
//
// Thread safety: a plain value; one owner at a time.
#pragma once

namespace stemedb {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept;
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Closes the descriptor held, if any.
  void Reset();
  // Gives up ownership: returns the descriptor (the caller closes it) and
  // holds none.
  int Release();

 private:
  int fd_ = -1;
};

}  // namespace stemedb
