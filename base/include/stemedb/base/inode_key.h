// A file's identity on the machine: its device and inode numbers, usable as
// a key of unordered containers.
//
// Thread safety: plain values.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>

namespace stemedb {

struct InodeKey {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const InodeKey&) const = default;
};

struct InodeKeyHash {
  size_t operator()(const InodeKey& k) const {
    return std::hash<uint64_t>()(static_cast<uint64_t>(k.ino) *
                                     0x9e3779b97f4a7c15ULL ^
                                 static_cast<uint64_t>(k.dev));
  }
};

}  // namespace stemedb
