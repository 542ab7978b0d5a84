// The collector reads each queue's msg_qbytes from the real kernel, and only when needed.
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/collect/collector.h"
#include "tests/support/ipc_namespace.h"

namespace ipctrail {
namespace {

using QueueCapacity = testing::IpcNamespaceTest;

std::optional<std::uint64_t> capacity_of(const Sample& sample, int msqid) {
  for (const MessageQueue& queue : *sample.queues) {
    if (queue.msqid == msqid) return queue.capacity_bytes;
  }
  ADD_FAILURE() << "queue " << msqid << " not collected";
  return std::nullopt;
}

void set_capacity(int msqid, std::uint64_t bytes) {
  msqid_ds settings{};
  ASSERT_EQ(::msgctl(msqid, IPC_STAT, &settings), 0) << std::strerror(errno);
  settings.msg_qbytes = bytes;
  ASSERT_EQ(::msgctl(msqid, IPC_SET, &settings), 0) << std::strerror(errno);
}

TEST_F(QueueCapacity, EachQueueHasItsOwnMsgQbytes) {
  set_kernel_value("msgmnb", "4000");
  int first = create_queue();
  set_kernel_value("msgmnb", "9000");
  int second = create_queue();
  set_capacity(second, 1234);
  Sample sample = Collector({}).collect();
  EXPECT_EQ(capacity_of(sample, first), 4000u);
  EXPECT_EQ(capacity_of(sample, second), 1234u);
}

TEST_F(QueueCapacity, FollowsIpcSetAndNewQueues) {
  Collector collector({});
  int msqid = create_queue();
  Sample sample;
  collector.collect(sample);
  std::uint64_t msgmnb = std::stoull(kernel_value("msgmnb"));
  EXPECT_EQ(capacity_of(sample, msqid), msgmnb);
  set_capacity(msqid, 500);
  collector.collect(sample);
  EXPECT_EQ(capacity_of(sample, msqid), 500u);
  collector.collect(sample);  // from the cache now: still the same answer
  EXPECT_EQ(capacity_of(sample, msqid), 500u);
  remove_queue(msqid);
  int next = create_queue();
  collector.collect(sample);
  EXPECT_EQ(sample.queues->size(), 1u);
  EXPECT_EQ(capacity_of(sample, next), msgmnb);
}

TEST_F(QueueCapacity, OffWhenNotAskedFor) {
  create_queue();
  CollectorOptions options;
  options.queue_capacity = false;
  Sample sample = Collector(options).collect();
  ASSERT_EQ(sample.queues->size(), 1u);
  EXPECT_EQ(sample.queues->front().capacity_bytes, std::nullopt);
}

// The agent's inventory carries every queue's capacity, whether or not the queue alert asked for
// it, and follows IPC_SET.
TEST_F(QueueCapacity, IsPartOfTheInventoryWhateverTheAlertSays) {
  set_kernel_value("msgmnb", "7000");
  int msqid = create_queue();
  CollectorOptions options;
  options.queue_capacity = false;  // message_queue_bytes_used switched off
  options.inventory = true;
  Collector collector(options);
  Sample sample;
  collector.collect(sample);
  ASSERT_TRUE(sample.objects.queues);
  ASSERT_EQ(sample.objects.queues->size(), 1u);
  EXPECT_EQ(sample.objects.queues->front().qbytes, 7000u);
  set_capacity(msqid, 2500);
  collector.collect(sample);
  EXPECT_EQ(sample.objects.queues->front().qbytes, 2500u);
}

// Becomes user nobody with exactly the capabilities packaging/ipctrail.service grants (CAP_BPF
// CAP_PERFMON CAP_DAC_READ_SEARCH, none of which lets a process read a queue); false on failure.
bool become_service_user() {
  const passwd* nobody = ::getpwnam("nobody");
  if (nobody == nullptr || ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 ||
      ::setgroups(0, nullptr) != 0 ||
      ::setresgid(nobody->pw_gid, nobody->pw_gid, nobody->pw_gid) != 0 ||
      ::setresuid(nobody->pw_uid, nobody->pw_uid, nobody->pw_uid) != 0) {
    return false;
  }
  constexpr int kCapPerfmon = 38;  // not in every linux/capability.h yet
  constexpr int kCapBpf = 39;
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int capability : {CAP_DAC_READ_SEARCH, kCapPerfmon, kCapBpf}) {
    data[capability / 32].effective |= 1u << (capability % 32);
    data[capability / 32].permitted |= 1u << (capability % 32);
  }
  return ::syscall(SYS_capset, &header, data) == 0 && ::geteuid() == nobody->pw_uid;
}

// The packaged service runs as its own user: a root-owned 0600 queue's msg_qbytes must still be
// read (msgctl(IPC_STAT) is refused there; MSG_STAT_ANY is not).
TEST_F(QueueCapacity, IsReadAsTheServiceUserForAnotherUsersPrivateQueue) {
  set_kernel_value("msgmnb", "4321");
  int msqid = create_queue();  // owned by root, mode 0600
  int result[2];
  ASSERT_EQ(::pipe(result), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::uint64_t capacity = 0;
    if (!become_service_user()) ::_exit(2);
    errno = 0;
    msqid_ds status{};
    if (::msgctl(msqid, IPC_STAT, &status) == 0 || errno != EACCES) ::_exit(3);
    Sample sample = Collector({}).collect();
    for (const MessageQueue& queue : *sample.queues) {
      if (queue.msqid == msqid) capacity = queue.capacity_bytes.value_or(0);
    }
    bool written = ::write(result[1], &capacity, sizeof capacity) == sizeof capacity;
    ::_exit(written ? 0 : 4);
  }
  ::close(result[1]);
  std::uint64_t capacity = 0;
  ssize_t got = ::read(result[0], &capacity, sizeof capacity);
  ::close(result[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "child exit " << WEXITSTATUS(status)
      << " (2: cannot become nobody with the unit's capabilities; 3: IPC_STAT was not refused)";
  ASSERT_EQ(got, static_cast<ssize_t>(sizeof capacity));
  EXPECT_EQ(capacity, 4321u);
}

}  // namespace
}  // namespace ipctrail
