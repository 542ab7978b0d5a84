// Names for cgroups (docs/design.md §7), from text alone: the owner of recorded cgroup paths of
// systemd hosts, Docker, containerd, CRI-O, Podman and kubelet (tests/support/fixtures/cgroup);
// hostile paths never crash and come out as `other`, printable; the cgroup2 mount and a process's
// cgroup path are found in recorded /proc text.
#include "model/cgroup_owner.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "agent/collect/cgroup_names.h"

namespace ipctrail {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream file(std::string(IPCTRAIL_FIXTURES) + "/cgroup/" + name);
  EXPECT_TRUE(file) << name;
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

struct RecordedPath {
  std::string path, kind, name, container_id, pod_uid, qos;
};

std::vector<RecordedPath> recorded_paths() {
  std::vector<RecordedPath> rows;
  std::istringstream lines(fixture("paths.tsv"));
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string> fields;
    std::istringstream columns(line);
    for (std::string field; std::getline(columns, field, '\t');) {
      fields.push_back(field == "-" ? "" : field);
    }
    EXPECT_EQ(fields.size(), 6u) << line;
    if (fields.size() == 6) {
      rows.push_back({fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]});
    }
  }
  return rows;
}

TEST(CgroupOwner, RecordedPathsOfEveryRuntime) {
  std::vector<RecordedPath> rows = recorded_paths();
  ASSERT_GE(rows.size(), 40u);
  for (const RecordedPath& row : rows) {
    SCOPED_TRACE(row.path);
    CgroupOwner owner = classify_cgroup_path(row.path);
    EXPECT_EQ(to_string(owner.kind), row.kind);
    EXPECT_EQ(owner.name, row.name);
    EXPECT_EQ(owner.container_id, row.container_id);
    EXPECT_EQ(owner.pod_uid, row.pod_uid);
    EXPECT_EQ(owner.pod_qos ? std::string(to_string(*owner.pod_qos)) : "", row.qos);
  }
}

TEST(CgroupOwner, RelativeToTheMountOrAsInProc) {
  EXPECT_EQ(classify_cgroup_path("system.slice/apache2.service"),
            classify_cgroup_path("/system.slice/apache2.service"));
  EXPECT_EQ(classify_cgroup_path("/system.slice/apache2.service").name, "apache2.service");
}

TEST(CgroupOwner, HostilePathsAreOtherAndPrintable) {
  const std::string docker_id(64, 'a');
  const std::vector<std::string> hostile = {
      "",
      "/system.slice/../docker/" + docker_id,
      "/docker/" + docker_id + "/..",
      "/./system.slice/apache2.service",
      "//system.slice/apache2.service",
      "/system.slice/apache2.service/",
      "/system.slice/apache2.service\n0::/docker/" + docker_id,
      "/system.slice/apache\xff\xfe.service",
      "/docker/" + docker_id + "\x1b[31m",
      std::string("/system.slice/a\0b.service", 25),
      "/docker/" + std::string(5000, 'a'),
      "/" + std::string(4200, '/'),
  };
  for (const std::string& path : hostile) {
    SCOPED_TRACE(printable_cgroup_path(path));
    CgroupOwner owner = classify_cgroup_path(path);
    EXPECT_EQ(owner.kind, CgroupOwnerKind::kOther);
    EXPECT_TRUE(owner.container_id.empty());
    EXPECT_LE(owner.name.size(), 160u);  // `other`: the path made printable, cut
    for (char c : owner.name) EXPECT_TRUE(c >= 0x20 && c <= 0x7e) << static_cast<int>(c);
  }
}

TEST(CgroupOwner, AUnitNameIsKeptWholeUpToSystemdsLimit) {
  std::string longest = std::string(247, 'a') + ".service";  // 255, systemd's UNIT_NAME_MAX - 1
  EXPECT_EQ(classify_cgroup_path("/system.slice/" + longest).name, longest);
  CgroupOwner too_long = classify_cgroup_path("/system.slice/a" + longest);
  EXPECT_EQ(too_long.kind, CgroupOwnerKind::kOther);
  EXPECT_LE(too_long.name.size(), 160u);
}

TEST(CgroupOwner, VeryDeepPathsOfKnownShapes) {
  // Thousands of components cost one pass each way, and the outermost container still wins.
  std::string path = "/docker/" + std::string(64, 'b');
  while (path.size() < 4000) path += "/x";
  EXPECT_EQ(classify_cgroup_path(path).name, "docker:bbbbbbbbbbbb");
}

TEST(PrintableCgroupPath, EscapesWhatATerminalOrALogWouldInterpret) {
  EXPECT_EQ(printable_cgroup_path("/system.slice/apache2.service"),
            "/system.slice/apache2.service");
  EXPECT_EQ(printable_cgroup_path("/a\nb"), "/a\\x0ab");
  EXPECT_EQ(printable_cgroup_path("/caf\xc3\xa9"), "/caf\\xc3\\xa9");
  EXPECT_EQ(printable_cgroup_path("/a\\x0ab"), "/a\\x5cx0ab");  // unambiguous: \ is escaped too
  EXPECT_EQ(printable_cgroup_path(std::string("/a\0b", 4)), "/a\\x00b");
}

TEST(PrintableCgroupPath, CutsLongPathsWithoutSplittingAnEscape) {
  EXPECT_EQ(printable_cgroup_path(std::string(200, 'a'), 10), "aaaaaaa...");
  EXPECT_EQ(printable_cgroup_path(std::string(10, 'a'), 10), std::string(10, 'a'));
  // Seven characters of room: "ab" and one whole escape fit, a second escape would not.
  EXPECT_EQ(printable_cgroup_path("ab\n\n\n\n", 10), "ab\\x0a...");
  EXPECT_EQ(printable_cgroup_path(std::string(100, '\xff'), 2), "...");
}

TEST(Cgroup2Mount, RecordedHybridHost) {
  EXPECT_EQ(cgroup2_mount_in(fixture("hybrid-mountinfo.txt")),
            (Cgroup2Mount{"/sys/fs/cgroup/unified", "/"}));
}

TEST(Cgroup2Mount, UnifiedHostEscapedNamesNamespacesAndNone) {
  const std::string unified =
      "22 1 0:21 / / rw - ext4 /dev/sda1 rw\n"
      "35 25 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
      "rw,nsdelegate,memory_recursiveprot\n";
  EXPECT_EQ(cgroup2_mount_in(unified), (Cgroup2Mount{"/sys/fs/cgroup", "/"}));

  // A mount of part of the tree (as a container sees it) is taken only if nothing shows all.
  const std::string partial_then_whole =
      "40 31 0:38 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
      "41 31 0:38 / /host\\040cgroup rw - cgroup2 cgroup2 rw\n";
  EXPECT_EQ(cgroup2_mount_in(partial_then_whole), (Cgroup2Mount{"/host cgroup", "/"}));
  EXPECT_EQ(cgroup2_mount_in(partial_then_whole.substr(0, partial_then_whole.find('\n') + 1)),
            (Cgroup2Mount{"/sys/fs/cgroup", "/docker/abc"}));

  EXPECT_EQ(cgroup2_mount_in("31 23 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"),
            std::nullopt);
  EXPECT_EQ(cgroup2_mount_in(""), std::nullopt);
  EXPECT_EQ(cgroup2_mount_in("41 31 0:38 / /x rw cgroup2 cgroup2\n- cgroup2\n"), std::nullopt);
}

TEST(CgroupPathOfProcessText, RecordedHosts) {
  EXPECT_EQ(cgroup_path_in(fixture("proc-cgroup-unified-podman.txt")),
            "/user.slice/user-0.slice/user@0.service/machine.slice/"
            "libpod-cf21d19260ace8544fe8b769fc2638bf2c0873dfbfff0b6253f0569b26a1d5eb.scope/"
            "container");
  // Hybrid: the v2 line names only the shim's service, name=systemd the container.
  EXPECT_EQ(cgroup_path_in(fixture("proc-cgroup-hybrid-docker.txt")),
            "/docker/2403ccfe427f1dc7b6120dccb9ac58c2f8456950380d587a9f33ea7f00dd303d");
  EXPECT_EQ(cgroup_path_in(fixture("proc-cgroup-hybrid-root.txt")), "/");
  EXPECT_EQ(cgroup_path_in(fixture("proc-cgroup-legacy-session.txt")),
            "/user.slice/user-52321.slice/session-128207.scope");
  EXPECT_EQ(cgroup_path_in("0::/a:b\n"), "/a:b");  // a colon in a cgroup name
  EXPECT_EQ(cgroup_path_in("4:memory:/x\n"), std::nullopt);
  EXPECT_EQ(cgroup_path_in(""), std::nullopt);
}

TEST(CgroupPathOfProcessText, OwnProcess) {
  std::optional<std::string> path = cgroup_path_of_process(::getpid());
  ASSERT_TRUE(path.has_value());
  EXPECT_EQ(path->front(), '/');
  EXPECT_EQ(cgroup_path_of_process(-1), std::nullopt);
}

}  // namespace
}  // namespace ipctrail
