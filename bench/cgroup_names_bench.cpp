// The cost of naming cgroups (docs/design.md §7) on the real cgroup2 hierarchy: a walk of a tree
// with 1,000 cgroups made for the purpose (beside whatever the host has), 10,000 lookups of known
// ids, 10,000 of ids known to be gone, and the classification of a path alone. Runs as root;
// removes its cgroups at the end.
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "agent/collect/cgroup_names.h"

namespace {

using Clock = std::chrono::steady_clock;

double microseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// Wall time on a shared machine mostly measures the other tenants; CPU time of this thread (user
// and system, so the kernel's cgroupfs work counts) is the cost the agent adds.
struct Times {
  double wall_us;
  double cpu_us;
};

double thread_cpu_us() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e6 + static_cast<double>(now.tv_nsec) / 1e3;
}

template <typename Work>
Times measure(Work work) {
  auto wall = Clock::now();
  double cpu = thread_cpu_us();
  work();
  return {microseconds_since(wall), thread_cpu_us() - cpu};
}

constexpr int kSlices = 10;
constexpr int kScopesPerSlice = 100;
constexpr int kLookups = 10000;
constexpr int kWalks = 21;

void fail(const std::string& what) {
  std::cerr << "cgroup_names_bench: " << what << ": " << std::strerror(errno) << '\n';
  std::exit(1);
}

std::string hex_id(int n) {
  std::ostringstream id;
  id << std::hex << std::setfill('0');
  for (int i = 0; i < 8; ++i) id << std::setw(8) << (0x9e3779b9u * static_cast<unsigned>(n + i));
  return id.str();
}

}  // namespace

int main() {
  std::ifstream file("/proc/self/mountinfo");
  std::stringstream mountinfo;
  mountinfo << file.rdbuf();
  std::optional<ipctrail::Cgroup2Mount> mount = ipctrail::cgroup2_mount_in(mountinfo.str());
  if (!mount) fail("no cgroup2 mount");
  std::string top = mount->mount_point + "/ipctrail-bench-" + std::to_string(::getpid());
  if (::mkdir(top.c_str(), 0755) != 0) fail("mkdir " + top + " (run as root)");

  std::vector<std::string> directories;
  std::vector<std::uint64_t> ids;
  for (int slice = 0; slice < kSlices; ++slice) {
    std::string slice_directory = top + "/bench-" + std::to_string(slice) + ".slice";
    if (::mkdir(slice_directory.c_str(), 0755) != 0) fail("mkdir " + slice_directory);
    directories.push_back(slice_directory);
    for (int scope = 0; scope < kScopesPerSlice - 1; ++scope) {
      std::string directory =
          slice_directory + "/docker-" + hex_id(slice * kScopesPerSlice + scope) + ".scope";
      if (::mkdir(directory.c_str(), 0755) != 0) fail("mkdir " + directory);
      directories.push_back(directory);
    }
  }
  for (const std::string& directory : directories) {
    struct stat status {};
    if (::stat(directory.c_str(), &status) != 0) fail("stat " + directory);
    ids.push_back(status.st_ino);
  }

  // Walks: each lookup of an id that does not exist walks the whole tree (no interval).
  ipctrail::CgroupNamesOptions options;
  options.min_rescan_interval = std::chrono::seconds(0);
  ipctrail::CgroupNames names(options);
  std::vector<Times> walks;
  const std::uint64_t missing = ~std::uint64_t{0};
  for (int i = 0; i < kWalks; ++i) {
    walks.push_back(measure([&] { names.resolve(missing - static_cast<std::uint64_t>(i)); }));
  }
  std::sort(walks.begin(), walks.end(),
            [](const Times& a, const Times& b) { return a.cpu_us < b.cpu_us; });
  std::size_t held = names.names_held();

  std::mt19937 random(42);
  std::vector<std::uint64_t> order(kLookups);
  for (std::uint64_t& id : order) id = ids[random() % ids.size()];
  std::size_t known = 0;
  Times known_time = measure([&] {
    for (std::uint64_t id : order) {
      known += names.resolve(id).state == ipctrail::CgroupName::State::kKnown;
    }
  });
  std::size_t gone = 0;
  Times gone_time = measure([&] {
    for (int i = 0; i < kLookups; ++i) {
      gone += names.resolve(missing - static_cast<std::uint64_t>(i % kWalks)).state ==
              ipctrail::CgroupName::State::kGone;
    }
  });
  std::vector<std::string> paths;
  for (const std::string& directory : directories) {
    paths.push_back(directory.substr(mount->mount_point.size()));
  }
  std::size_t docker = 0;
  Times classify_time = measure([&] {
    for (int i = 0; i < kLookups; ++i) {
      docker +=
          ipctrail::classify_cgroup_path(paths[static_cast<std::size_t>(i) % paths.size()]).kind ==
          ipctrail::CgroupOwnerKind::kDocker;
    }
  });

  for (auto directory = directories.rbegin(); directory != directories.rend(); ++directory) {
    if (::rmdir(directory->c_str()) != 0) fail("rmdir " + *directory);
  }
  if (::rmdir(top.c_str()) != 0) fail("rmdir " + top);

  auto each_ns = [](const Times& times) {
    return std::to_string(static_cast<long>(times.cpu_us * 1000 / kLookups)) + " ns CPU each (" +
           std::to_string(static_cast<long>(times.wall_us * 1000 / kLookups)) + " ns wall)";
  };
  const Times& median = walks[walks.size() / 2];
  std::cout << "cgroup names: " << directories.size() << " test cgroups under "
            << mount->mount_point << ", " << held << " cgroups in the whole tree\n"
            << "  walk of the tree (" << kWalks << " walks): median " << median.cpu_us / 1000
            << " ms CPU (" << median.wall_us / 1000 << " ms wall), min "
            << walks.front().cpu_us / 1000 << " ms CPU, max " << walks.back().cpu_us / 1000
            << " ms CPU\n"
            << "  " << kLookups << " lookups of known ids: " << known_time.cpu_us / 1000
            << " ms CPU, " << each_ns(known_time) << "\n"
            << "  " << kLookups << " lookups of gone ids:  " << gone_time.cpu_us / 1000
            << " ms CPU, " << each_ns(gone_time) << "\n"
            << "  " << kLookups << " classifications of a path: " << classify_time.cpu_us / 1000
            << " ms CPU, " << each_ns(classify_time) << "\n";
  if (known != static_cast<std::size_t>(kLookups) || gone != static_cast<std::size_t>(kLookups)) {
    std::cerr << "cgroup_names_bench: lookups did not resolve as expected\n";
    return 1;
  }
  return 0;
}
