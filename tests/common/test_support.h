// Small helpers shared by the engine, collector and HTTP tests: a plain
// HTTP/1.0 GET over loopback, the shared temporary directory, running a
// command, writing files.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/filesystem.hpp>
#include <cstdio>
#include <fstream>
#include <string>

#include "temp_dir.h"

namespace stemedb::testing {

struct HttpResponse {
  int status = 0;
  std::string headers;
  std::string body;
};

// GET http://127.0.0.1:port/path; status 0 when the connection failed.
// `extra_headers`: complete header lines ("Name: value\r\n").
inline HttpResponse HttpGet(int port, const std::string& path,
                            const std::string& extra_headers = "") {
  HttpResponse r;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return r;
  }
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n" +
                    extra_headers + "\r\n";
  (void)!::write(fd, req.data(), req.size());
  std::string raw;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) raw.append(buf, n);
  ::close(fd);
  auto end = raw.find("\r\n\r\n");
  if (end == std::string::npos || raw.size() < 12) return r;
  r.status = std::stoi(raw.substr(9, 3));
  r.headers = raw.substr(0, end);
  r.body = raw.substr(end + 4);
  return r;
}

using TempDir = testutil::TempDir;

inline void WriteFile(const std::string& path, const std::string& content) {
  boost::filesystem::create_directories(
      boost::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

// Runs a shell command, feeding `input` on stdin; returns the exit status
// and puts stdout+stderr in *output.
inline int RunCommand(const std::string& command, const std::string& input,
                      std::string* output) {
  TempDir dir;
  std::string in = dir / "stdin";
  WriteFile(in, input);
  std::string full = command + " < '" + in + "' 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  output->clear();
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output->append(buf, n);
  int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace stemedb::testing
