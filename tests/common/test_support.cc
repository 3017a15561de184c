#include "test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace stemedb::testutil {
namespace {

std::string Errno(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// Everything `pipe` writes until it closes.
std::string ReadAll(FILE* pipe) {
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  return out;
}

}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ =
      std::string(base && *base ? base : "/tmp") + "/stemedb-test-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    throw std::runtime_error(Errno("mkdtemp"));
  }
  chmod(templ.c_str(), 0755);
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(
           path_, std::filesystem::directory_options::skip_permission_denied,
           ec);
       !ec && it != std::filesystem::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) {
      chmod(it->path().c_str(), 0755);
    }
  }
  std::filesystem::remove_all(path_, ec);
}

void WriteFile(const std::string& path, const std::string& content) {
  const std::filesystem::path parent =
      std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

void WriteFile(const std::string& path, size_t size) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(Errno("open " + path));
  std::string chunk(64 * 1024, 'x');
  size_t left = size;
  while (left > 0) {
    size_t n = left < chunk.size() ? left : chunk.size();
    ssize_t w = write(fd, chunk.data(), n);
    if (w <= 0) {
      close(fd);
      throw std::runtime_error(Errno("write " + path));
    }
    left -= static_cast<size_t>(w);
  }
  close(fd);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0755) != 0) {
    throw std::runtime_error(Errno("mkdir " + path));
  }
  chmod(path.c_str(), 0755);  // regardless of umask
}

uint64_t ApparentSize(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) throw std::runtime_error(Errno(path));
  return static_cast<uint64_t>(st.st_size);
}

uint64_t AllocatedSize(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) throw std::runtime_error(Errno(path));
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

std::string Run(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error(Errno("popen " + command));
  std::string out = ReadAll(pipe);
  pclose(pipe);
  return out;
}

int RunCommand(const std::string& command, const std::string& input,
               std::string* output) {
  TempDir dir;
  const std::string in = dir / "stdin";
  WriteFile(in, input);
  const std::string full = command + " < '" + in + "' 2>&1";
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) return -1;
  *output = ReadAll(pipe);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

uint64_t Du(const std::string& path, bool apparent, bool one_filesystem) {
  std::string cmd = std::string("du -s ") + (one_filesystem ? "-x " : "") +
                    (apparent ? "-b " : "--block-size=1 ") + "'" + path +
                    "' 2>/dev/null";
  std::string out = Run(cmd);
  char* end = nullptr;
  unsigned long long value = std::strtoull(out.c_str(), &end, 10);
  if (end == out.c_str()) throw std::runtime_error("no number from: " + cmd);
  return value;
}

HttpResponse HttpGet(int port, const std::string& path,
                     const std::string& extra_headers) {
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

}  // namespace stemedb::testutil
