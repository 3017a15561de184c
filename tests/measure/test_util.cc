#include "test_util.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace stemedb::testutil {
namespace {

std::string Errno(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

bool WriteText(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok =
      write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

}  // namespace

std::map<std::string, std::string> RunInChild(
    const std::function<std::map<std::string, std::string>()>& body) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return {{"child_failed", Errno("pipe")}};
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) return {{"child_failed", Errno("fork")}};
  if (pid == 0) {
    close(fds[0]);
    std::map<std::string, std::string> result;
    try {
      result = body();
    } catch (const std::exception& e) {
      result["error"] = std::string("exception: ") + e.what();
    }
    std::ostringstream text;
    for (const auto& [key, value] : result) text << key << ' ' << value << '\n';
    const std::string s = text.str();
    size_t done = 0;
    while (done < s.size()) {
      ssize_t w = write(fds[1], s.data() + done, s.size() - done);
      if (w <= 0) _exit(3);
      done += static_cast<size_t>(w);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    text.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  std::map<std::string, std::string> result;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    size_t space = line.find(' ');
    if (space == std::string::npos) continue;
    result[line.substr(0, space)] = line.substr(space + 1);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    result["child_failed"] = "status " + std::to_string(status);
  }
  return result;
}

std::string EnterPrivateMountNamespace() {
  if (geteuid() == 0) {
    if (unshare(CLONE_NEWNS) != 0) return Errno("unshare(CLONE_NEWNS)");
  } else {
    const uid_t uid = geteuid();
    const gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
      return Errno("unshare(CLONE_NEWUSER|CLONE_NEWNS)");
    }
    if (!WriteText("/proc/self/setgroups", "deny") ||
        !WriteText("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") ||
        !WriteText("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1")) {
      return Errno("writing the user namespace's id maps");
    }
  }
  // Without this, mounts made here would propagate to the host's namespace.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return Errno("making / private");
  }
  return "";
}

std::string DropToNobody() {
  if (geteuid() != 0) return "";  // already unable to bypass permissions
  if (setgroups(0, nullptr) != 0) return Errno("setgroups");
  if (setgid(65534) != 0) return Errno("setgid");
  if (setuid(65534) != 0) return Errno("setuid");
  return "";
}

std::string Num(uint64_t v) { return std::to_string(v); }

uint64_t U64(const std::map<std::string, std::string>& m,
             const std::string& k) {
  auto it = m.find(k);
  if (it == m.end()) {
    ADD_FAILURE() << "child did not report " << k;
    return 0;
  }
  return std::stoull(it->second);
}

}  // namespace stemedb::testutil
