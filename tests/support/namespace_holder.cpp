#include "tests/support/namespace_holder.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ipctrail::testing {

namespace {

// In the child: writes `text` to a file, false on failure.
bool write_file(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return written;
}

// In the child: reports `what` and errno to the parent through `report_fd`, and exits.
[[noreturn]] void child_fails(int report_fd, const std::string& what) {
  std::string message = what + ": " + std::strerror(errno);
  [[maybe_unused]] ssize_t ignored = ::write(report_fd, message.data(), message.size());
  ::_exit(1);
}

void fill(const NamespaceContents& contents, int report_fd) {
  for (const auto& [name, value] : contents.kernel_values) {
    if (!write_file("/proc/sys/kernel/" + name, value + "\n")) {
      child_fails(report_fd, "write /proc/sys/kernel/" + name);
    }
  }
  for (int nsems : contents.semaphore_arrays) {
    if (::semget(IPC_PRIVATE, nsems, IPC_CREAT | 0600) < 0) child_fails(report_fd, "semget");
  }
  for (const std::vector<std::size_t>& messages : contents.queues) {
    int msqid = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (msqid < 0) child_fails(report_fd, "msgget");
    for (std::size_t bytes : messages) {
      std::vector<char> buffer(sizeof(long) + bytes, 'x');
      long type = 1;
      std::memcpy(buffer.data(), &type, sizeof type);
      if (::msgsnd(msqid, buffer.data(), bytes, IPC_NOWAIT) != 0) child_fails(report_fd, "msgsnd");
    }
  }
  for (std::size_t bytes : contents.segments) {
    if (::shmget(IPC_PRIVATE, bytes, IPC_CREAT | 0600) < 0) child_fails(report_fd, "shmget");
  }
}

}  // namespace

std::uint64_t ipc_namespace_inode(const std::string& pid) {
  struct stat status {};
  if (::stat(("/proc/" + pid + "/ns/ipc").c_str(), &status) != 0) return 0;
  return status.st_ino;
}

NamespaceHolder::NamespaceHolder(const NamespaceContents& contents, const std::string& cgroup_dir) {
  start(&contents, cgroup_dir, 0);
}

NamespaceHolder NamespaceHolder::joining(pid_t pid) {
  NamespaceHolder holder;
  holder.start(nullptr, "", pid);
  return holder;
}

NamespaceHolder::NamespaceHolder(NamespaceHolder&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), inode_(std::exchange(other.inode_, 0)) {}

void NamespaceHolder::start(const NamespaceContents* contents, const std::string& cgroup_dir,
                            pid_t join_pid) {
  int report[2];
  ASSERT_EQ(::pipe2(report, O_CLOEXEC), 0) << std::strerror(errno);
  pid_t parent = ::getpid();
  pid_ = ::fork();
  ASSERT_GE(pid_, 0) << std::strerror(errno);
  if (pid_ == 0) {
    ::close(report[0]);
    // Dies with the test, however the test ends.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    if (!cgroup_dir.empty() && !write_file(cgroup_dir + "/cgroup.procs", "0")) {
      child_fails(report[1], "write " + cgroup_dir + "/cgroup.procs");
    }
    if (join_pid != 0) {
      std::string path = "/proc/" + std::to_string(join_pid) + "/ns/ipc";
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::setns(fd, CLONE_NEWIPC) != 0) child_fails(report[1], "setns " + path);
      ::close(fd);
    } else {
      if (::unshare(CLONE_NEWIPC) != 0) child_fails(report[1], "unshare(CLONE_NEWIPC)");
      fill(*contents, report[1]);
    }
    ::close(report[1]);  // end of file without a message: ready
    for (;;) ::pause();
  }
  ::close(report[1]);
  std::string message;
  char buffer[256];
  for (;;) {
    ssize_t got = ::read(report[0], buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    message.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(report[0]);
  ASSERT_TRUE(message.empty()) << "namespace holder: " << message;
  inode_ = ipc_namespace_inode(std::to_string(pid_));
  ASSERT_NE(inode_, 0u) << "cannot read /proc/" << pid_ << "/ns/ipc";
}

NamespaceHolder::~NamespaceHolder() {
  exit();
}

void NamespaceHolder::exit() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

}  // namespace ipctrail::testing
