#include "tests/support/ipc_namespace.h"

#include <sched.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace ipctrail::testing {

bool privileged_tests_required() {
  const char* value = std::getenv("IPCTRAIL_REQUIRE_PRIVILEGED");
  return value != nullptr && std::string(value) == "1";
}

void IpcNamespaceTest::SetUp() {
  bool entered = ::unshare(CLONE_NEWIPC) == 0;
  IPCTRAIL_REQUIRE_PRIVILEGE(entered, std::string("unshare(CLONE_NEWIPC) failed: ") +
                                          std::strerror(errno) + " (these tests need root)");
}

void IpcNamespaceTest::set_kernel_value(const std::string& name, const std::string& value) {
  std::ofstream file("/proc/sys/kernel/" + name);
  file << value << '\n';
  file.flush();
  ASSERT_TRUE(file.good()) << "cannot write /proc/sys/kernel/" << name;
}

std::string IpcNamespaceTest::kernel_value(const std::string& name) {
  std::ifstream file("/proc/sys/kernel/" + name);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

int IpcNamespaceTest::create_semaphore_array(int nsems) {
  int id = ::semget(IPC_PRIVATE, nsems, IPC_CREAT | 0600);
  EXPECT_GE(id, 0) << "semget: " << std::strerror(errno);
  return id;
}

int IpcNamespaceTest::create_queue() {
  int id = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  EXPECT_GE(id, 0) << "msgget: " << std::strerror(errno);
  return id;
}

void IpcNamespaceTest::send_message(int msqid, std::size_t payload_bytes) {
  std::vector<char> buffer(sizeof(long) + payload_bytes, 'x');
  long type = 1;
  std::memcpy(buffer.data(), &type, sizeof type);
  ASSERT_EQ(::msgsnd(msqid, buffer.data(), payload_bytes, IPC_NOWAIT), 0)
      << "msgsnd: " << std::strerror(errno);
}

int IpcNamespaceTest::create_segment(std::size_t bytes) {
  int id = ::shmget(IPC_PRIVATE, bytes, IPC_CREAT | 0600);
  EXPECT_GE(id, 0) << "shmget: " << std::strerror(errno);
  return id;
}

void IpcNamespaceTest::remove_semaphore_array(int semid) {
  ASSERT_EQ(::semctl(semid, 0, IPC_RMID), 0) << std::strerror(errno);
}

void IpcNamespaceTest::remove_queue(int msqid) {
  ASSERT_EQ(::msgctl(msqid, IPC_RMID, nullptr), 0) << std::strerror(errno);
}

void IpcNamespaceTest::remove_segment(int shmid) {
  ASSERT_EQ(::shmctl(shmid, IPC_RMID, nullptr), 0) << std::strerror(errno);
}

}  // namespace ipctrail::testing
