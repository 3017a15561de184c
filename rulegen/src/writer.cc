#include "stemedb/rulegen/writer.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "stemedb/base/atomic_file.h"
#include "stemedb/base/output_file.h"
#include "stemedb/base/user_file.h"

extern char** environ;

namespace stemedb::rulegen {
namespace {

namespace fs = std::filesystem;

Error Errno(const std::string& what, const std::string& path) {
  return Error::Message(what + " " + path + ": " + std::strerror(errno));
}

// nullopt when the file does not exist or cannot be read by the rule for
// user-named files (a FIFO, say): it then differs from what is generated.
std::optional<std::string> ReadFile(const std::string& path) {
  std::string text;
  if (ReadUserFile(path, kGeneratedFileKind, &text)) return std::nullopt;
  return text;
}

// Runs diff -u and returns its output.
std::optional<std::string> RunDiff(const std::string& label,
                                   const std::string& current,
                                   const std::string& generated) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return std::nullopt;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  const std::string a = label + " (committed)";
  const std::string b = label + " (generated)";
  std::vector<std::string> args = {"diff",    "-u", "--label", a,
                                   "--label", b,    current,   generated};
  std::vector<char*> argv;
  for (std::string& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc =
      posix_spawnp(&pid, "diff", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  std::string output;
  if (rc == 0) {
    char buf[4096];
    ssize_t n;
    while ((n = read(pipe_fds[0], buf, sizeof buf)) != 0) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      output.append(buf, static_cast<size_t>(n));
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  close(pipe_fds[0]);
  if (rc != 0) return std::nullopt;
  return output;
}

// Where an artifact goes; a missing directory on its own path is created.
Status PrepareTarget(const Artifact& item, OutputTarget* target) {
  if (Status err = ResolveOutput(item.path, target)) return err;
  if (target->kind != OutputTarget::Kind::kReplace ||
      target->file != item.path) {
    return std::nullopt;
  }
  const fs::path dir = fs::path(item.path).parent_path();
  std::error_code ec;
  if (!dir.empty()) fs::create_directories(dir, ec);
  if (ec) {
    return Error::Message("cannot create directory " + dir.string() + ": " +
                          ec.message());
  }
  return std::nullopt;
}

}  // namespace

Status WriteArtifacts(const std::vector<Artifact>& items) {
  std::vector<StagedOutput> staged;
  for (const Artifact& item : items) {
    OutputTarget target;
    if (Status err = PrepareTarget(item, &target)) return err;
    if (target.kind == OutputTarget::Kind::kReplace &&
        ReadFile(target.file) == item.content) {
      continue;  // unchanged: not rewritten
    }
    StagedOutput output;
    if (Status err = StagedOutput::Stage(target, item.content, &output)) {
      return err;  // the staged temp files go with `staged`
    }
    staged.push_back(std::move(output));
  }
  for (StagedOutput& output : staged) {
    if (Status err = output.Commit()) return err;
  }
  return std::nullopt;
}

Status CheckArtifacts(const std::vector<Artifact>& items, std::ostream& out,
                      int* differing) {
  *differing = 0;
  for (const Artifact& item : items) {
    const std::optional<std::string> current = ReadFile(item.path);
    if (current == item.content) continue;
    ++*differing;
    if (!current) {
      out << "missing: " << item.path << " (stemedb_rulegen would create it)\n";
      continue;
    }
    std::string temp =
        (fs::temp_directory_path() / "stemedb_rulegen.check.XXXXXX").string();
    const int fd = mkstemp(temp.data());
    if (fd < 0) return Errno("cannot create a temp file in", "/tmp");
    close(fd);
    const bool ok = !WriteFileAtomically(temp, item.content);
    std::optional<std::string> diff;
    if (ok) diff = RunDiff(item.path, item.path, temp);
    unlink(temp.c_str());
    if (!ok) return Errno("cannot write", temp);
    if (!diff) return Error::Message("cannot run diff(1) for " + item.path);
    out << *diff;
  }
  return std::nullopt;
}

}  // namespace stemedb::rulegen
