#include "agent/collect/sysvipc_parse.h"

#include <gtest/gtest.h>

#include <fstream>
#include <limits>
#include <sstream>

namespace ipctrail {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream file(std::string(IPCTRAIL_FIXTURES) + "/" + name);
  EXPECT_TRUE(file.good()) << "missing fixture " << name;
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

TEST(ParseMsgTable, ReadsEveryQueueWithKeyAndOwner) {
  std::vector<MessageQueue> queues;
  ParseOutcome outcome = parse_msg_table(fixture("procfs-basic/sysvipc/msg"), queues);
  ASSERT_TRUE(outcome.header_ok);
  EXPECT_EQ(outcome.skipped_lines, 0u);
  ASSERT_EQ(queues.size(), 3u);
  EXPECT_EQ(queues[0].msqid, 0);
  EXPECT_EQ(queues[0].key, 5678);
  EXPECT_EQ(queues[0].uid, 1000u);
  EXPECT_EQ(queues[0].messages, 3u);
  EXPECT_EQ(queues[0].bytes, 300u);
  EXPECT_EQ(queues[0].changed_at, 1699999999);
  EXPECT_EQ(queues[0].capacity_bytes, std::nullopt);  // not in procfs
  EXPECT_EQ(queues[1].msqid, 65538);
  EXPECT_EQ(queues[1].key, -1412567295);
  EXPECT_EQ(queues[1].messages, 0u);
  EXPECT_EQ(queues[2].msqid, 32769);
  EXPECT_EQ(queues[2].uid, 33u);
  EXPECT_EQ(queues[2].messages, 128u);
  EXPECT_EQ(queues[2].bytes, 16384u);
}

TEST(ParseMsgTable, HeaderOnlyMeansNoQueues) {
  std::vector<MessageQueue> queues;
  ParseOutcome outcome = parse_msg_table(fixture("sysvipc/msg-header-only"), queues);
  EXPECT_TRUE(outcome.header_ok);
  EXPECT_EQ(outcome.skipped_lines, 0u);
  EXPECT_TRUE(queues.empty());
}

TEST(ParseMsgTable, SkipsAndCountsMalformedRows) {
  std::vector<MessageQueue> queues;
  ParseOutcome outcome = parse_msg_table(fixture("sysvipc/msg-malformed"), queues);
  ASSERT_TRUE(outcome.header_ok);
  // "abc" for cbytes, a short row and a row with an extra field; the blank line is not a row.
  EXPECT_EQ(outcome.skipped_lines, 3u);
  ASSERT_EQ(queues.size(), 2u);
  EXPECT_EQ(queues[0].msqid, 0);
  EXPECT_EQ(queues[1].msqid, 4);
  EXPECT_EQ(queues[1].bytes, 50u);
}

TEST(ParseMsgTable, FileEndingMidLineDropsOnlyTheCutRow) {
  std::vector<MessageQueue> queues;
  ParseOutcome outcome = parse_msg_table(fixture("sysvipc/msg-truncated"), queues);
  ASSERT_TRUE(outcome.header_ok);
  EXPECT_EQ(outcome.skipped_lines, 1u);
  ASSERT_EQ(queues.size(), 1u);
  EXPECT_EQ(queues[0].msqid, 0);
}

TEST(ParseMsgTable, FindsColumnsByHeaderName) {
  std::vector<MessageQueue> queues;
  ParseOutcome outcome = parse_msg_table(fixture("sysvipc/msg-reordered-columns"), queues);
  ASSERT_TRUE(outcome.header_ok);
  ASSERT_EQ(queues.size(), 1u);
  EXPECT_EQ(queues[0].msqid, 7);
  EXPECT_EQ(queues[0].key, 42);
  EXPECT_EQ(queues[0].messages, 5u);
  EXPECT_EQ(queues[0].bytes, 500u);
  EXPECT_EQ(queues[0].uid, 1001u);
}

TEST(ParseMsgTable, RejectsTextWithoutTheHeader) {
  std::vector<MessageQueue> queues;
  EXPECT_FALSE(parse_msg_table(fixture("sysvipc/not-a-table"), queues).header_ok);
  EXPECT_FALSE(parse_msg_table("", queues).header_ok);
  EXPECT_FALSE(parse_msg_table("key msqid perms", queues).header_ok);  // no newline at all
  EXPECT_TRUE(queues.empty());
}

TEST(ParseShmTable, SumsSizesAndPages) {
  SharedMemoryTotals totals;
  ParseOutcome outcome = parse_shm_table(fixture("procfs-basic/sysvipc/shm"), 4096, totals);
  ASSERT_TRUE(outcome.header_ok);
  EXPECT_EQ(outcome.skipped_lines, 0u);
  EXPECT_EQ(totals.segments, 2u);
  EXPECT_EQ(totals.bytes, 4096u + 1048577u);
  EXPECT_EQ(totals.pages, 1u + 257u);
}

TEST(ParseShmTable, HugeSizesSaturateInsteadOfWrapping) {
  SharedMemoryTotals totals;
  ParseOutcome outcome = parse_shm_table(fixture("sysvipc/shm-huge"), 4096, totals);
  ASSERT_TRUE(outcome.header_ok);
  EXPECT_EQ(outcome.skipped_lines, 0u);
  EXPECT_EQ(totals.segments, 2u);
  EXPECT_EQ(totals.bytes, std::numeric_limits<std::uint64_t>::max());
}

TEST(ParseShmTable, SizeBeyond64BitsIsMalformed) {
  SharedMemoryTotals totals;
  ParseOutcome outcome = parse_shm_table(fixture("sysvipc/shm-overflow"), 4096, totals);
  EXPECT_EQ(outcome.skipped_lines, 1u);
  EXPECT_EQ(totals.segments, 0u);
}

TEST(ParseShmTable, HeaderOnlyMeansNoSegments) {
  SharedMemoryTotals totals;
  ParseOutcome outcome = parse_shm_table(fixture("sysvipc/shm-header-only"), 4096, totals);
  EXPECT_TRUE(outcome.header_ok);
  EXPECT_EQ(totals.segments, 0u);
  EXPECT_EQ(totals.bytes, 0u);
}

TEST(ParseSemTable, CountsArraysAndSemaphores) {
  SemaphoreTotals totals;
  ParseOutcome outcome = parse_sem_table(fixture("procfs-basic/sysvipc/sem"), totals);
  ASSERT_TRUE(outcome.header_ok);
  EXPECT_EQ(totals.arrays, 3u);
  EXPECT_EQ(totals.semaphores, 276u);
}

// The table's parser and the inventory's totals (semaphore_totals, what a namespace collector
// counts instead of semctl(SEM_INFO)) count an array alike, saturating rather than wrapping.
TEST(SemaphoreTotals, TheInventoryCountsArraysAsTheTableDoes) {
  const std::string table =
      "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n"
      "         0          0   600          1     0     0     0     0          0 1700000000\n"
      "         0          1   600 18446744073709551615 0 0     0     0          0 1700000000\n"
      "         0          2   600          7     0     0     0     0          0 1700000000\n";
  SemaphoreTotals from_table;
  ASSERT_TRUE(parse_sem_table(table, from_table).header_ok);
  std::vector<IpcObject> arrays;
  ASSERT_TRUE(parse_object_table(IpcKind::kSemaphore, table, arrays).header_ok);
  SemaphoreTotals from_inventory = semaphore_totals(arrays);

  EXPECT_EQ(from_table.arrays, 3u);
  EXPECT_EQ(from_table.semaphores, std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(from_inventory.arrays, from_table.arrays);
  EXPECT_EQ(from_inventory.semaphores, from_table.semaphores);

  arrays.resize(1);
  EXPECT_EQ(semaphore_totals(arrays).arrays, 1u);
  EXPECT_EQ(semaphore_totals(arrays).semaphores, 1u);
  EXPECT_EQ(semaphore_totals({}).arrays, 0u);
}

TEST(ParseLimits, SemaphoreLimitsAreFourNumbers) {
  auto limits = parse_sem_limits("250\t256000\t32\t128\n");
  ASSERT_TRUE(limits);
  EXPECT_EQ(limits->semmsl, 250u);
  EXPECT_EQ(limits->semmns, 256000u);
  EXPECT_EQ(limits->semopm, 32u);
  EXPECT_EQ(limits->semmni, 128u);
  EXPECT_FALSE(parse_sem_limits("250 256000 32\n"));
  EXPECT_FALSE(parse_sem_limits("250 256000 32 128"));  // cut before its newline
  EXPECT_FALSE(parse_sem_limits("250 x 32 128\n"));
}

TEST(ParseLimits, SingleNumber) {
  EXPECT_EQ(parse_single_number("32000\n"), 32000u);
  EXPECT_EQ(parse_single_number("18446744073692774399\n"), 18446744073692774399ull);
  EXPECT_FALSE(parse_single_number("18446744073709551616\n"));
  EXPECT_FALSE(parse_single_number("-1\n"));
  EXPECT_FALSE(parse_single_number("12"));
  EXPECT_FALSE(parse_single_number("\n"));
  EXPECT_FALSE(parse_single_number("1 2\n"));
}

}  // namespace
}  // namespace ipctrail

namespace ipctrail {
namespace {

TEST(ParseObjectTable, ReadsEverySemaphoreColumn) {
  std::vector<IpcObject> arrays;
  ParseOutcome outcome =
      parse_object_table(IpcKind::kSemaphore, fixture("procfs-basic/sysvipc/sem"), arrays);
  ASSERT_TRUE(outcome.header_ok);
  EXPECT_EQ(outcome.skipped_lines, 0u);
  ASSERT_EQ(arrays.size(), 3u);
  EXPECT_EQ(arrays[1].kind, IpcKind::kSemaphore);
  EXPECT_EQ(arrays[1].id, 1);
  EXPECT_EQ(arrays[1].key, 12345);
  EXPECT_EQ(arrays[1].mode, 0600u);
  EXPECT_EQ(arrays[1].size, 25u);
  EXPECT_EQ(arrays[1].uid, 1000u);
  EXPECT_EQ(arrays[1].cgid, 1000u);
  EXPECT_EQ(arrays[1].otime, 1700000001);
  EXPECT_EQ(arrays[1].ctime, 1700000000);
  EXPECT_EQ(arrays[2].mode, 0666u);
}

TEST(ParseObjectTable, ReadsEveryQueueColumn) {
  std::vector<IpcObject> queues;
  ParseOutcome outcome =
      parse_object_table(IpcKind::kQueue, fixture("procfs-basic/sysvipc/msg"), queues);
  ASSERT_TRUE(outcome.header_ok);
  ASSERT_EQ(queues.size(), 3u);
  const IpcObject& first = queues[0];
  EXPECT_EQ(first.kind, IpcKind::kQueue);
  EXPECT_EQ(first.id, 0);
  EXPECT_EQ(first.key, 5678);
  EXPECT_EQ(first.cbytes, 300u);
  EXPECT_EQ(first.qnum, 3u);
  EXPECT_EQ(first.lspid, 1234);
  EXPECT_EQ(first.lrpid, 1235);
  EXPECT_EQ(first.stime, 1700000000);
  EXPECT_EQ(first.rtime, 1700000001);
  EXPECT_EQ(first.ctime, 1699999999);
  EXPECT_EQ(queues[1].key, -1412567295);
  EXPECT_EQ(queues[1].mode, 0666u);
}

TEST(ParseObjectTable, ReadsEverySegmentColumn) {
  std::vector<IpcObject> segments;
  ParseOutcome outcome =
      parse_object_table(IpcKind::kSharedMemory, fixture("procfs-basic/sysvipc/shm"), segments);
  ASSERT_TRUE(outcome.header_ok);
  ASSERT_EQ(segments.size(), 2u);
  const IpcObject& first = segments[0];
  EXPECT_EQ(first.mode, 01600u);  // SHM_DEST: marked for removal, still attached
  EXPECT_EQ(first.size, 4096u);
  EXPECT_EQ(first.cpid, 1000);
  EXPECT_EQ(first.lpid, 1001);
  EXPECT_EQ(first.nattch, 2u);
  EXPECT_EQ(first.atime, 1700000000);
  EXPECT_EQ(first.rss, 4096u);
  EXPECT_EQ(segments[1].key, 123456);
  EXPECT_EQ(segments[1].size, 1048577u);
  SharedMemoryTotals totals = shared_memory_totals(segments, 4096);
  EXPECT_EQ(totals.segments, 2u);
  EXPECT_EQ(totals.bytes, 4096u + 1048577u);
  EXPECT_EQ(totals.pages, 1u + 257u);
}

TEST(ParseObjectTable, ColumnsAreFoundByName) {
  std::vector<IpcObject> queues;
  ParseOutcome outcome =
      parse_object_table(IpcKind::kQueue, fixture("sysvipc/msg-reordered-columns"), queues);
  ASSERT_TRUE(outcome.header_ok);
  std::vector<MessageQueue> expected;
  parse_msg_table(fixture("sysvipc/msg-reordered-columns"), expected);
  std::vector<MessageQueue> derived;
  append_queues(queues, derived);
  ASSERT_EQ(derived.size(), expected.size());
  for (std::size_t i = 0; i < derived.size(); ++i) {
    EXPECT_EQ(derived[i].msqid, expected[i].msqid);
    EXPECT_EQ(derived[i].key, expected[i].key);
    EXPECT_EQ(derived[i].messages, expected[i].messages);
    EXPECT_EQ(derived[i].bytes, expected[i].bytes);
  }
}

TEST(ParseObjectTable, SkipsMalformedRowsAndRefusesOtherTables) {
  std::vector<IpcObject> queues;
  ParseOutcome outcome =
      parse_object_table(IpcKind::kQueue, fixture("sysvipc/msg-malformed"), queues);
  ASSERT_TRUE(outcome.header_ok);
  EXPECT_EQ(outcome.skipped_lines, 3u);
  EXPECT_EQ(queues.size(), 2u);
  std::vector<IpcObject> none;
  EXPECT_FALSE(
      parse_object_table(IpcKind::kSemaphore, fixture("procfs-basic/sysvipc/msg"), none).header_ok);
  EXPECT_TRUE(none.empty());
}

// The parser fills one object per table and copies it out for each good row: a row that fails
// after some of its fields were stored must leave nothing of itself in the rows after it, and a
// kind's object keeps the other kinds' fields at zero.
TEST(ParseObjectTable, ARowFailingPartWayLeavesNothingInTheNext) {
  std::string table =
      "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid"
      "      stime      rtime      ctime\n"
      "        11          1   600         300          3  1234  1235  1000  1000  1000  1000"
      " 1700000000 1700000001 1699999999\n"
      "        22          2   644         999          9  4321  5321  2000  2000  2000  2000"
      " 1800000000 1800000001 bad\n"
      "        33          3   640           0          0     0     0     7     8     9    10"
      "          0          0 1600000000\n";
  std::vector<IpcObject> queues;
  ParseOutcome outcome = parse_object_table(IpcKind::kQueue, table, queues);
  ASSERT_TRUE(outcome.header_ok);
  EXPECT_EQ(outcome.skipped_lines, 1u);
  ASSERT_EQ(queues.size(), 2u);
  IpcObject expected;
  expected.kind = IpcKind::kQueue;
  expected.id = 3;
  expected.key = 33;
  expected.mode = 0640;
  expected.uid = 7;
  expected.gid = 8;
  expected.cuid = 9;
  expected.cgid = 10;
  expected.ctime = 1600000000;
  EXPECT_EQ(queues[1], expected);
  EXPECT_EQ(queues[0].cbytes, 300u);
  EXPECT_EQ(queues[0].lrpid, 1235);
  EXPECT_EQ(queues[0].size, 0u);  // a queue has no size column: left as constructed
  EXPECT_EQ(queues[0].nattch, 0u);
  EXPECT_EQ(queues[0].otime, 0);
  EXPECT_FALSE(queues[0].qbytes);
}

}  // namespace
}  // namespace ipctrail
